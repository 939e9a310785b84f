#!/usr/bin/env bash
# Make sure sshfs and OpenSSH's server are installed, for the network-file-system test (the spool
# mounted through sshfs over a local sshd, one daemon per mount). Installs them with apt-get when
# run as root; otherwise says what to install and carries on (that test is then skipped).
set -euo pipefail
need=()
command -v sshfs >/dev/null 2>&1 || need+=(sshfs)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
[ ${#need[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${need[*]} with apt-get (for the network-file-system test)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
else
    echo "setup: the network-file-system test needs: ${need[*]} (sudo apt-get install ${need[*]}); it is skipped without them" >&2
fi
