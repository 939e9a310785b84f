"""A network file system on one machine, for tests: a local sshd, and "hosts" that each mount the
root through sshfs.

Each host is a private mount and UTS namespace (`unshare`) with its own host name, in which the
root folder is mounted over itself through sshfs: every daemon sees the root at the same path (as
machines sharing an NFS export would), but through the network file system, and the spool sees
two host names, so a worker's liveness is judged by heartbeat file times, not by its process id.
The test process itself reads the real folder, like the file server.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from spool_helpers import REPO

SSHD = "/usr/sbin/sshd"

# The mount options the README recommends for sshfs: no directory or attribute cache, so a file
# renamed or rewritten on one host is seen at once on the others.
SSHFS_OPTIONS = "dir_cache=no,attr_timeout=0,entry_timeout=0,negative_timeout=0,reconnect,ServerAliveInterval=5"

_HOST_SCRIPT = r"""
set -e
host=$1 root=$2 port=$3 key=$4 options=$5; shift 5
hostname "$host"
sshfs -f -o "port=$port,IdentityFile=$key,StrictHostKeyChecking=no,\
UserKnownHostsFile=/dev/null,LogLevel=ERROR,$options" \
    "root@127.0.0.1:$root" "$root" &
i=0
until mountpoint -q "$root"; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "sshfs did not mount $root" >&2; exit 1; }
    sleep 0.1
done
exec "$@"
"""


def missing_tools() -> list[str]:
    """What this machine lacks for the network-file-system test (empty when it can run)."""
    missing = [tool for tool in ("sshfs", "unshare", "mountpoint", "hostname", "ssh-keygen") if not shutil.which(tool)]
    if not os.path.exists(SSHD):
        missing.append("openssh-server")
    if os.geteuid() != 0:
        missing.append("root (mount namespaces)")
    if not os.path.exists("/dev/fuse"):
        missing.append("/dev/fuse")
    return missing


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackSshd:
    """An OpenSSH server on 127.0.0.1 that lets in one generated key, serving SFTP for sshfs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.client_key = folder / "client_key"
        for key in (folder / "host_key", self.client_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        authorized = folder / "authorized_keys"
        authorized.write_text((folder / "client_key.pub").read_text())
        authorized.chmod(0o600)
        self.port = _free_port()
        config = folder / "sshd_config"
        config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {folder / 'host_key'}",
            f"AuthorizedKeysFile {authorized}", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no", f"PidFile {folder / 'sshd.pid'}",
            "Subsystem sftp internal-sftp", "",
        ]))
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege-separation folder
        self.log = folder / "sshd.log"
        self.proc = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(self.log)])
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"sshd did not start: {self.log.read_text(errors='replace')}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class NetworkHost:
    """One 'machine': its own host name and mount namespace, the root mounted through sshfs, and a
    `python -m spooler run` daemon in it (its pid is the daemon's: the shell execs it)."""

    def __init__(self, sshd: LoopbackSshd, root: Path, host: str, *daemon_args: str) -> None:
        self.host = host
        self.log_file = root / "logs" / f"lipspool-{host}.log"  # one log per machine (README)
        self.stderr_path = sshd.folder / f"{host}-{time.monotonic_ns()}.stderr"
        daemon = [sys.executable, "-m", "spooler", "run", "--root-path", str(root), "--device", "cpu",
                  "--log-file", str(self.log_file), *daemon_args]
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                ["unshare", "--mount", "--uts", "--propagation", "private", "--", "sh", "-c", _HOST_SCRIPT, "sh",
                 host, str(root), str(sshd.port), str(sshd.client_key), SSHFS_OPTIONS, *daemon],
                cwd=REPO, stdout=err, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def kill_daemon(self) -> None:
        """kill -9 of the daemon alone (the host's mount stays, as on a real machine)."""
        os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM the daemon and wait; then take the host down (its sshfs process with it)."""
        code = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        else:
            code = self.proc.returncode
        self.close()
        return code

    def close(self) -> None:
        try:
            os.killpg(self.pid, signal.SIGKILL)  # the daemon (if still there) and the sshfs of this host
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
