"""`python -m spooler run|submit|status|list|cancel`: the daemon and the shell's way into the spool."""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path

from engine.backends import check_options
from engine.errors import InvalidOptions
from engine.option_flags import add_option_flags, options_from_flags
from engine.options import USER

from . import protocol
from .config import Layout, allowed_roots, layout_for, resolve_root
from .daemon import Daemon, DaemonOptions, detect_device
from .logs import setup_logging
from .names import BadJobId, check_job_id, fit_file_name, printable
from .records import JobState, JobStatus, new_job_id
from .workers import WorkersError, apply_thread_limits, plan_workers, supervise, visible_gpus

EPILOG = "The root folder is --root-path, else $LIPSPOOL_ROOT, else the repository folder."


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="python -m spooler", description="LipSpool job spool.", epilog=EPILOG)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=EPILOG)
        p.add_argument("--root-path", help="folder holding spool/, results/ and logs/")
        return p

    run = add("run", "run the daemon: claim queued jobs and render them, one item at a time")
    run.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    run.add_argument("--no-watch", action="store_true", help="do not use watchdog; only rescan")
    run.add_argument("--rescan", type=float, default=2.0, metavar="S", help="rescan interval (default 2 s)")
    run.add_argument("--stale-after", type=float, default=30.0, metavar="S",
                     help="take back a job whose owner's heartbeat is this old (default 30 s)")
    run.add_argument("--allow-root", action="append", default=[], metavar="DIR", help="also accept inputs under DIR")
    run.add_argument("--once", action="store_true", help="exit when no job is left")
    run.add_argument("--workers", default="1", metavar="N|auto",
                     help="worker processes on this machine (default 1; auto: one per GPU on CUDA, one "
                          "single-threaded worker per core on the CPU, as memory allows)")
    run.add_argument("--log-file", default=None, metavar="PATH",
                     help="log here instead of <root>/logs/lipspool.log (on a spool shared by several "
                          "machines, give each machine its own file: appends from two hosts can interleave)")
    run.add_argument("-v", "--verbose", action="store_true")

    submit = add("submit", "queue one audio for one or more presenter videos; prints the job id last")
    submit.add_argument("--audio", required=True)
    submit.add_argument("--video", required=True, nargs="+")
    submit.add_argument("--name", default="")
    add_option_flags(submit, (USER,))  # --backend, --crf, each backend's own options, --option KEY=VALUE
    submit.add_argument("--copy", action="store_true", help="copy inputs into results/<job>/inputs/ first")
    submit.add_argument("--allow-root", action="append", default=[], metavar="DIR")

    status = add("status", "show one job's status, or a summary of all")
    status.add_argument("job", nargs="?")
    status.add_argument("--json", action="store_true")

    add("list", "list jobs, newest first")

    cancel = add("cancel", "cancel a queued or running job")
    cancel.add_argument("job")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "job", None) is not None:
            check_job_id(args.job)  # before it is joined into any path
        layout = layout_for(args.root_path)
        return COMMANDS[args.command](args, layout)
    except (protocol.SpoolError, BadJobId, WorkersError, ValueError, OSError) as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return 1


def cmd_run(args: argparse.Namespace, layout: Layout) -> int:
    log_file = Path(args.log_file).expanduser().resolve() if args.log_file else layout.log_file
    setup_logging(log_file, logging.DEBUG if args.verbose else logging.INFO)
    device = detect_device(args.device)
    plans = plan_workers(args.workers, device, visible_gpus() if device == "cuda" else 0)
    if len(plans) > 1 or args.workers == "auto" and plans[0].env.get("CUDA_VISIBLE_DEVICES"):
        logging.getLogger("spooler").info("starting %d workers (%s threads each)", len(plans),
                                          plans[0].env["OMP_NUM_THREADS"])
        return supervise(plans, _worker_argv(args, device))
    apply_thread_limits()
    options = DaemonOptions(
        device=device,
        watch=not args.no_watch,
        rescan_s=args.rescan,
        stale_after_s=args.stale_after,
        allow_roots=args.allow_root,
        once=args.once,
    )
    return Daemon(layout, options).run()


def _worker_argv(args: argparse.Namespace, device: str) -> list[str]:
    """The `run` arguments every worker process of a supervisor gets."""
    argv = ["--device", device, "--rescan", str(args.rescan), "--stale-after", str(args.stale_after)]
    argv += ["--root-path", str(resolve_root(args.root_path))]
    for root in args.allow_root:
        argv += ["--allow-root", root]
    if args.log_file:
        argv += ["--log-file", str(Path(args.log_file).expanduser().resolve())]
    for flag, on in (("--no-watch", args.no_watch), ("--once", args.once), ("--verbose", args.verbose)):
        if on:
            argv.append(flag)
    return argv


def cmd_submit(args: argparse.Namespace, layout: Layout) -> int:
    job_id = new_job_id()
    sources = [Path(args.audio), *(Path(v) for v in args.video)]
    for src in sources:
        if not src.is_file():
            raise protocol.InvalidJob(f"input file not found: {src}")
    try:
        options = options_from_flags(args)
        check_options(options)  # light: catches a bad value before anything is written
    except InvalidOptions as exc:
        raise protocol.InvalidJob(f"bad options: {exc}") from None
    copied = layout.results / job_id / "inputs" if args.copy else None
    try:
        if copied is not None:
            sources = copy_inputs(layout, job_id, sources)
        allowed = allowed_roots(layout.root, args.allow_root)
        audio, *videos = [str(protocol.resolve_input(str(s), Path.cwd(), allowed, layout.root)) for s in sources]
        job = protocol.make_job(audio, videos, name=args.name, options=options)
        job.id = job_id
        protocol.submit(layout, job)
    except BaseException:
        if copied is not None:  # a failed submit leaves no orphan copies
            shutil.rmtree(copied.parent, ignore_errors=True)
        raise
    print(f"queued {len(videos)} item(s); follow with: python -m spooler status {job_id}", file=sys.stderr)
    print(job_id)
    return 0


def copy_inputs(layout: Layout, job_id: str, sources: list[Path]) -> list[Path]:
    """Copy input files into results/<job_id>/inputs/ (each via a temporary name); return the copies."""
    folder = layout.results / job_id / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    copies: list[Path] = []
    for src in sources:
        dest = folder / fit_file_name(src.stem, src.suffix, reserve=8)
        n = 1
        while dest.exists():  # the same file given twice, or two files of one name
            n += 1
            dest = folder / fit_file_name(src.stem, f"-{n}{src.suffix}", reserve=8)
        part = dest.with_name(f".{dest.name}.part")
        shutil.copyfile(src, part)
        part.rename(dest)
        copies.append(dest)
    return copies


def _line(s: JobStatus) -> str:
    eta = f" eta {s.eta_s:.0f}s" if s.eta_s and s.state == JobState.RUNNING else ""
    current = f" [{s.current_item}]" if s.current_item else ""
    name = f" {s.name}" if s.name else ""
    counts = f"{s.done}/{s.total} done, {s.failed} failed"
    line = f"{s.job_id}  {s.state.value:<18} {counts}  {s.progress:4.0%}{eta}{current}{name}"
    return printable(line)


def _worker_line(w: protocol.WorkerHealth) -> str:
    """One live worker: host, id, device, what it is doing and how old its heartbeat is."""
    item = f" item {w.info.item_number}" if w.info.item_number else ""
    doing = f"job {w.info.current_job}{item}" if w.info.current_job else "waiting"
    return printable(f"{w.info.host}  {w.info.worker_id}  {w.info.device}  {w.info.state.value}: {doing}"
                     f"  (heartbeat {max(0.0, w.age_s):.0f}s ago)")


def cmd_status(args: argparse.Namespace, layout: Layout) -> int:
    if not args.job:
        jobs = protocol.all_jobs(layout)
        if args.json:
            print(json.dumps([s.to_dict() for s in jobs], ensure_ascii=False, indent=1))
        else:
            workers = protocol.list_workers(layout, stale_after_s=30.0)
            alive = [w for w in workers if w.alive]
            print(f"workers alive: {len(alive)}" + "".join(f"\n  {_worker_line(w)}" for w in alive))
            for s in jobs:
                print(_line(s))
        return 0
    status = protocol.job_status(layout, args.job)
    if args.json:
        print(json.dumps(status.to_dict(), ensure_ascii=False, indent=1))
        return 0
    print(_line(status))
    if status.message:
        print(f"  {printable(status.message)}")
    for item in status.items:
        detail = item.error or item.output or item.stage
        worker = f" [{item.worker.worker_id}]" if item.worker is not None and item.worker.worker_id else ""
        state = f"{item.state.value:<9} {item.progress:4.0%}"
        print(printable(f"  {item.index + 1:>3}. {state} {item.name}{worker}  {detail}"))
    return 0


def cmd_list(args: argparse.Namespace, layout: Layout) -> int:
    for s in protocol.all_jobs(layout):
        print(_line(s))
    return 0


def cmd_cancel(args: argparse.Namespace, layout: Layout) -> int:
    outcome = protocol.request_cancel(layout, args.job)
    messages = {
        "cancelled": f"job {args.job} cancelled before it started",
        "requested": f"cancel requested; the worker stops job {args.job} within a frame",
    }
    print(messages.get(outcome, f"job {args.job} already finished ({outcome})"))
    return 0


COMMANDS = {"run": cmd_run, "submit": cmd_submit, "status": cmd_status, "list": cmd_list, "cancel": cmd_cancel}
