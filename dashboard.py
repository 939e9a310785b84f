"""LipSpool dashboard: single and batch lip-sync, live progress, history with export, logs.

Run with `streamlit run dashboard.py -- [--root-path DIR]` (scripts/start.sh does). It reaches the
daemon only through the spool (spooler.protocol) and never imports the engine's heavy parts; the
logic lives in `webui/` so it can be tested without a browser. Nothing is kept in the page that
is not on disk: a refresh or a restart loses nothing that was submitted.
"""
from __future__ import annotations

import argparse
import hmac
import math
import os
import sys
import time
from pathlib import Path

import streamlit as st

from spooler import protocol
from spooler.config import Layout, layout_for
from spooler.records import JobStatus
from spooler.states import FINISHED_STATES, ItemState, JobState, WorkerState
from webui import background, export, history, jobs, share, template_check, throttle, upload_guard
from webui.choices import FALLBACK_BACKENDS, FRONT_ENDS, NARRATION_MODELS
from webui.i18n import LANGUAGE_NAMES, LANGUAGES, preferred_language, state_name, text
from webui.jobs import Upload
from webui.plain import code, md, visible

PASSWORD_ENV = "LIPSPOOL_PASSWORD"
REFRESH_S = 1.0
STALE_WORKER_S = 30.0
UPLOAD_SWEEP_S = 2.0  # files uploaded by a session not past the password gate live at most this long
SHARE_PRUNE_S = 5.0  # a share whose source was deleted stops serving within this
LOG_LINES = 200
AUDIO_TYPES = ["wav", "mp3", "m4a", "aac", "flac", "ogg", "opus"]
VIDEO_TYPES = ["mp4", "mov", "avi", "mkv", "webm", "m4v", "png", "jpg", "jpeg"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The dashboard's own arguments (after `--` on the streamlit command line)."""
    parser = argparse.ArgumentParser(prog="dashboard.py")
    parser.add_argument("--root-path", default=None)
    return parser.parse_known_args(argv)[0]


def expected_password() -> str:
    """The shared LAN password: $LIPSPOOL_PASSWORD, else `password` in secrets.toml, else none."""
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    try:
        return str(st.secrets.get("password", "") or "")
    except Exception:  # noqa: BLE001 - no secrets.toml at all
        return ""


def client_address() -> object:
    """The address Streamlit reports for this session's connection (None on loopback or outside a browser)."""
    try:
        return st.context.ip_address
    except Exception:  # noqa: BLE001 - no request context (tests)
        return None


def password_gate(lang: str) -> bool:
    """True when no password is set or this session entered it (compared in constant time).

    Wrong passwords cost time (webui.throttle): while a client is locked out its attempts are
    refused without being compared, and the page says how long to wait.
    """
    wanted = expected_password()
    if not wanted or st.session_state.get("authed"):
        upload_guard.allow(upload_guard.current_session_id())
        return True
    client = throttle.client_key(client_address())
    with st.form("login"):
        given = st.text_input(text(lang, "password"), type="password")
        submitted = st.form_submit_button(text(lang, "login"))
    if submitted and throttle.LOGIN.attempt(client) == 0:
        if hmac.compare_digest(given.encode("utf-8"), wanted.encode("utf-8")):
            throttle.LOGIN.success(client)
            st.session_state["authed"] = True
            upload_guard.allow(upload_guard.current_session_id())
            st.rerun()
        st.error(text(lang, "wrong_password"))
    wait = throttle.LOGIN.wait_left(client)
    if wait > 0:
        st.warning(text(lang, "login_wait", s=math.ceil(wait)))
    return False


def from_workers(layout: Layout, attribute: str) -> list[str]:
    """The union, in order, of one list field (backends, checkpoints) of every live worker's heartbeat."""
    names: list[str] = []
    for w in protocol.list_workers(layout, stale_after_s=STALE_WORKER_S):
        if w.alive and w.info is not None:
            names += [n for n in getattr(w.info, attribute, []) if n not in names]
    return names


def usable_backends(layout: Layout) -> list[str]:
    """Backends the running workers say they can run (the default first); a fixed list when none runs."""
    names = from_workers(layout, "backends") or list(FALLBACK_BACKENDS)
    return sorted(names, key=lambda b: (b != "rewrite", b))


def options_form(layout: Layout, lang: str, key: str) -> dict:
    """Backend and output quality, with one-line help each."""
    with st.expander(text(lang, "options")):
        backend = st.selectbox(text(lang, "backend"), usable_backends(layout), key=f"{key}-backend",
                               help=text(lang, "backend_help"))
        crf = st.slider(text(lang, "quality"), 14, 30, 20, key=f"{key}-crf", help=text(lang, "quality_help"))
        options = {"backend": backend, "crf": int(crf)}
        if backend == "rewrite":
            spoken = st.selectbox(text(lang, "narration"), list(NARRATION_MODELS), key=f"{key}-narration",
                                  index=list(NARRATION_MODELS).index(lang) if lang in NARRATION_MODELS else 0,
                                  format_func=LANGUAGE_NAMES.get, help=text(lang, "narration_help"))
            front = st.selectbox(text(lang, "front_end"), FRONT_ENDS, key=f"{key}-front", help=text(lang, "front_end_help"))
            if front != FRONT_ENDS[0]:
                options["front_end"] = front
            else:
                options["mouth_model"] = NARRATION_MODELS[spoken]
        elif backend == "wav2lip":
            options.update(wav2lip_options(layout, lang, key))
    return options


def wav2lip_options(layout: Layout, lang: str, key: str) -> dict:
    """The wav2lip backend's own settings: which checkpoint, batch size, half precision."""
    options: dict = {}
    names = from_workers(layout, "checkpoints")  # files the daemons found in <root>/models
    if names:
        options["checkpoint"] = st.selectbox(text(lang, "checkpoint"), names, key=f"{key}-ckpt",
                                             format_func=visible, help=text(lang, "checkpoint_help"))
    batch = st.number_input(text(lang, "batch_size"), 0, 512, 0, key=f"{key}-batch", help=text(lang, "batch_help"))
    if batch:
        options["batch_size"] = int(batch)
    half = st.selectbox(text(lang, "fp16"), ("auto", "true", "false"), key=f"{key}-fp16", help=text(lang, "fp16_help"))
    if half != "auto":
        options["fp16"] = half
    return options


def worker_banner(layout: Layout, lang: str) -> None:
    """A warning when no daemon heartbeat is fresh; else the live workers, one line each."""
    alive = [w for w in protocol.list_workers(layout, stale_after_s=STALE_WORKER_S) if w.alive]
    if not alive:
        st.warning(text(lang, "no_worker"))
        return
    with st.expander(text(lang, "workers_live", n=len(alive))):
        for w in alive:
            item = f" #{w.info.item_number}" if w.info.item_number else ""
            doing = f" · {code(w.info.current_job)}{item}" if w.info.current_job else ""
            st.caption(f"{md(w.info.host)} · {md(w.info.worker_id)} · {md(w.info.device)} · "
                       f"{state_name(lang, 'running') if w.info.state == WorkerState.BUSY else md(w.info.state.value)}{doing}")


def submit_page(layout: Layout, lang: str, batch: bool) -> None:
    """Single mode (one video) or batch mode (many videos): upload, check, submit."""
    key = "batch" if batch else "single"
    nonce = st.session_state.setdefault(f"{key}-nonce", 0)  # a new uploader (cleared) after each submit
    audio = st.file_uploader(text(lang, "audio"), type=AUDIO_TYPES, key=f"{key}-audio-{nonce}")
    if batch:
        videos = st.file_uploader(text(lang, "videos"), type=VIDEO_TYPES, accept_multiple_files=True,
                                  key=f"{key}-videos-{nonce}") or []
        removed = st.session_state.setdefault(f"{key}-removed-{nonce}", set())
        kept = [v for v in videos if v.file_id not in removed]
        if kept:
            st.caption(f"{text(lang, 'queued_videos')}: {len(kept)}")
            for v in kept:
                left, right = st.columns([6, 1])
                left.markdown(f"{md(v.name)} ({v.size / 1e6:.1f} MB)")
                if right.button(text(lang, "remove"), key=f"rm-{v.file_id}"):
                    removed.add(v.file_id)
                    st.rerun()
        videos = kept
    else:
        one = st.file_uploader(text(lang, "video"), type=VIDEO_TYPES, key=f"{key}-video-{nonce}")
        videos = [one] if one is not None else []
        if one is not None:  # shown once the server holds the whole file (the chip above shows at once)
            st.caption(f"{text(lang, 'received')}: {md(one.name)} ({one.size / 1e6:.1f} MB)")
    template_checks(layout, lang, videos)
    name = st.text_input(text(lang, "job_name"), key=f"{key}-name-{nonce}")
    options = options_form(layout, lang, key)
    if st.button(text(lang, "generate_all" if batch else "generate"), type="primary", key=f"{key}-go"):
        if audio is None:
            st.error(text(lang, "need_audio"))
            return
        if not videos:
            st.error(text(lang, "need_video"))
            return
        with st.spinner(text(lang, "copying", n=len(videos) + 1)):
            result = jobs.submit_uploads(layout, Upload(audio.name, audio), [Upload(v.name, v) for v in videos],
                                         options, name)
        notes = [("error", text(lang, "bad_file", name=md(n), reason=md(r))) for n, r in result.problems]
        if result.job_id:
            notes.append(("success", text(lang, "submitted", job=md(result.job_id), n=result.videos)))
            st.session_state[f"{key}-nonce"] = nonce + 1  # fresh, empty uploaders: Streamlit drops the files
            st.session_state[f"{key}-last"] = result.job_id
        st.session_state[f"{key}-notes"] = notes
        if result.job_id:
            st.rerun()
    for kind, note in st.session_state.get(f"{key}-notes", []):
        (st.success if kind == "success" else st.error)(note)
    last = st.session_state.get(f"{key}-last")
    if last:
        job_progress(layout, lang, last, key=f"{key}-progress")


def template_checks(layout: Layout, lang: str, files: list) -> None:
    """Each uploaded presenter's template check: started once per file in the background, shown when done."""
    checks = st.session_state.setdefault("template-checks", {})
    for f in files:
        if f.file_id not in checks:
            checks[f.file_id] = template_check.start(layout, f.name, f)
    if not files:
        return
    pending = any(not checks[f.file_id].done() for f in files)

    @st.fragment(run_every=REFRESH_S if pending else None)
    def live() -> None:
        waiting = False
        for f in files:
            future = checks[f.file_id]
            if not future.done():
                st.caption(text(lang, "tc_checking", name=md(f.name)))
                waiting = True
                continue
            kind, headline, advice = template_check.lines_for(future.result(), lang)
            box = {"success": st.success, "warning": st.warning, "error": st.error}.get(kind, st.info)
            box(f"**{md(f.name)}** · {text(lang, 'tc_title')}: {md(headline)}"
                + "".join(f"\n- {md(a)}" for a in advice))
        if pending and not waiting:
            st.rerun()  # every check is done: draw the page once more, without polling

    live()


def page_base() -> str:
    """The page's own address (scheme://host[:port]/path/), or "" outside a browser session."""
    try:
        url = st.context.url or ""
    except Exception:  # noqa: BLE001 - no request context (tests)
        return ""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}{parts.path.rsplit('/', 1)[0]}/"


def player(path: str) -> None:
    """A video player at a comfortable size, streaming the file from disk (see webui.share)."""
    left, _ = st.columns([3, 2])
    url = share.share(path)
    left.video(page_base() + url if url and page_base() else path)


def download(path: str, label: str, key: str, mime: str = "video/mp4") -> None:
    """A download of a result from disk (a link); files too big for static serving use a button."""
    name = Path(path).name
    url = share.share(path)
    if url:
        st.markdown(share.download_link(url, label, name), unsafe_allow_html=True)
    else:
        st.download_button(md(label), lambda: open(path, "rb"), file_name=name, mime=mime, key=key)


def _eta(seconds: float | None) -> str:
    if not seconds:
        return ""
    return time.strftime("%H:%M:%S" if seconds >= 3600 else "%M:%S", time.gmtime(seconds))


def job_card(layout: Layout, lang: str, status: JobStatus, position: int | None, key: str) -> None:
    """One job: overall bar, N / M, the current item, per-item bars, failures, cancel, results."""
    title = status.name or status.job_id
    st.markdown(f"**{md(title)}** · {code(status.job_id)} · {state_name(lang, status.state.value)}")
    finished = status.done + status.failed
    label = f"{finished} / {status.total}"
    if status.state == JobState.QUEUED and position:
        label += " · " + text(lang, "queue_pos", pos=position)
    if status.current_item:
        label += f" · {text(lang, 'current')}: {md(status.current_item)}"
    if status.eta_s:
        label += " · " + text(lang, "eta", eta=_eta(status.eta_s))
    st.progress(min(1.0, max(0.0, status.progress)), text=label)
    for item in status.items:
        if item.state.value == "running":
            where = f" · {md(item.worker.worker_id)}" if item.worker is not None and item.worker.worker_id else ""
            st.progress(min(1.0, item.progress), text=f"{md(item.name)}{where}: {md(item.stage)} {item.progress:.0%}")
        elif item.state.value == "failed":
            st.error(f"{md(item.name)}: {md(item.error)}")
        elif item.state.value == "done" and item.output and Path(item.output).is_file():
            st.caption(f"✓ {md(item.name)}")
    if status.state not in FINISHED_STATES:
        if st.button(text(lang, "cancel"), key=f"cancel-{key}-{status.job_id}"):
            jobs.cancel(layout, status.job_id)
            st.info(text(lang, "cancel_sent", job=md(status.job_id)))


def job_progress(layout: Layout, lang: str, job_id: str, key: str) -> None:
    """Live progress of one job, refreshing by itself; the result plays when done."""

    @st.fragment(run_every=REFRESH_S)
    def live() -> None:
        status = protocol.read_status(layout, job_id)
        if status is None:
            return
        job_card(layout, lang, status, None, key)
        if status.state in FINISHED_STATES:
            for item in status.items:
                if item.output and Path(item.output).is_file():
                    player(item.output)
                    download(item.output, f"{text(lang, 'download')} {Path(item.output).name}",
                             key=f"{key}-dl-{status.job_id}-{item.index}")

    live()


def jobs_page(layout: Layout, lang: str) -> None:
    """Every running and queued job, refreshing by itself."""

    @st.fragment(run_every=REFRESH_S)
    def live() -> None:
        statuses = [s for s in protocol.iter_statuses(layout) if s.state not in FINISHED_STATES]
        statuses.sort(key=lambda s: (s.state != JobState.RUNNING, s.created))
        if not statuses:
            st.info(text(lang, "no_jobs"))
        queued = [s.job_id for s in statuses if s.state == JobState.QUEUED]
        for s in statuses:
            position = queued.index(s.job_id) + 1 if s.job_id in queued else None
            with st.container(border=True):
                job_card(layout, lang, s, position, "jobs")

    live()


def history_page(layout: Layout, lang: str) -> None:
    """Every item ever run: filter, page, play, download one, ZIP many, delete a job."""
    import pandas as pd

    rows = history.history(layout)
    states = sorted({r.state for r in rows})
    left, right = st.columns(2)
    picked = left.multiselect(text(lang, "filter_state"), states, key="hist-states",
                              format_func=lambda v: state_name(lang, v), placeholder=text(lang, "all"))
    query = right.text_input(text(lang, "filter_text"), key="hist-query")
    shown = history.filter_rows(rows, picked, query)
    if not shown:
        st.info(text(lang, "no_results"))
        return
    pages = history.page_of(shown, 1)[1]
    page = st.number_input(f"{text(lang, 'page')} (1–{pages})", 1, pages, 1, key="hist-page")
    rows_page, _ = history.page_of(shown, int(page))
    unfinished = any(r.state in (ItemState.QUEUED.value, ItemState.RUNNING.value)
                     for r in rows_page)

    first = [rows_page]  # the first draw shows the rows just read; each redraw reads them again

    @st.fragment(run_every=REFRESH_S if unfinished else None)
    def table() -> None:  # redrawn by itself while items of the page are still being rendered
        fresh = first.pop() if first else history.page_of(history.filter_rows(history.history(layout), picked,
                                                                                query), int(page))[0]
        frame = pd.DataFrame([{
            text(lang, "thumbnail"): history.thumbnail_uri(r.thumbnail),
            text(lang, "name"): visible(r.job_name or r.job_id), text(lang, "presenter"): visible(r.presenter),
            text(lang, "audio"): visible(r.audio), text(lang, "duration"): round(r.duration_s, 1),
            text(lang, "state"): state_name(lang, r.state), text(lang, "created"): r.created[:19].replace("T", " "),
        } for r in fresh])
        st.dataframe(frame, hide_index=True, use_container_width=True,
                     column_config={text(lang, "thumbnail"): st.column_config.ImageColumn()})

    table()
    playable = [r for r in rows_page if r.output]
    if playable:
        labels = [visible(f"{r.job_name or r.job_id} · {r.presenter}") for r in playable]
        choice = st.selectbox(text(lang, "result"), range(len(playable)), format_func=lambda i: labels[i],
                              key="hist-pick")
        row = playable[choice]
        player(row.output)
        download(row.output, text(lang, "download"), key="hist-dl")
    job_ids = list(dict.fromkeys(r.job_id for r in shown))
    job_id = st.selectbox(text(lang, "select_job"), job_ids, key="hist-job", format_func=visible)
    job_rows = [r for r in rows if r.job_id == job_id and r.output]
    picked_rows = st.multiselect(text(lang, "pick_items"), job_rows, default=job_rows, key=f"hist-items-{job_id}",
                                 format_func=lambda r: visible(r.presenter), placeholder=text(lang, "pick_items"))
    cols = st.columns(2)
    if picked_rows and cols[0].button(text(lang, "zip"), key="hist-zip"):
        files = [(Path(r.output), Path(r.output).name) for r in picked_rows]
        st.session_state["hist-zip-path"] = str(zip_on_disk(layout, job_id, files))
    zipped = st.session_state.get("hist-zip-path")
    if zipped and Path(zipped).is_file() and Path(zipped).stem == job_id:
        with cols[0]:
            download(zipped, f"{text(lang, 'zip_ready')} {Path(zipped).name}", key="hist-zip-dl",
                     mime="application/zip")
    status = protocol.read_status(layout, job_id)
    if status is not None and status.state in FINISHED_STATES:
        confirm = cols[1].checkbox(text(lang, "confirm_delete"), key=f"hist-confirm-{job_id}")
        if cols[1].button(text(lang, "delete"), disabled=not confirm, key="hist-delete"):
            jobs.delete(layout, job_id)
            st.success(text(lang, "deleted", job=md(job_id)))
            st.rerun()


def zip_on_disk(layout: Layout, job_id: str, files: list[tuple[Path, str]]) -> Path:
    """Write the chosen results into <root>/exports/<job>.zip (file by file, on disk) when asked."""
    folder = export.export_folder(layout.root)
    export.prune(folder)
    return export.write_zip(files, folder / f"{job_id}.zip")


def log_files(layout: Layout) -> list[Path]:
    """The daemons' log files: the default one first, then any other machine's (`run --log-file`)."""
    others = sorted(p for p in layout.logs.glob("*.log") if p != layout.log_file and p.is_file())
    return [layout.log_file, *others]


def logs_page(layout: Layout, lang: str) -> None:
    """The tail of a daemon log, refreshing by itself; control characters in it shown as escapes."""
    files = log_files(layout)
    path = files[0]
    if len(files) > 1:
        path = st.selectbox(text(lang, "log_choose"), files, format_func=lambda p: visible(p.name), key="log-file")
    st.caption(f"{text(lang, 'log_path')} {code(path)} ({code(f'tail -F {path}')})")

    @st.fragment(run_every=2.0)
    def live() -> None:
        st.code(tail(path, LOG_LINES) or "(empty)", language=None)

    live()


def tail(path: Path, lines: int) -> str:
    """The last `lines` lines of a text file (reads at most 256 kB from its end), each made `visible`.

    Lines end at a newline only (a CR, form feed or other control character inside a line is
    shown as an escape, never obeyed by the page)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            data = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    rows = data.split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    return "\n".join(visible(row.removesuffix("\r")) for row in rows[-lines:])


def choose_language() -> str:
    """The sidebar language switch; the browser's preference (Chinese unless it asks for English) first."""
    if "lang" not in st.session_state:
        # the page's own language (navigator.language) first: some browsers send their default
        # Accept-Language on the websocket the headers come from, whatever the page was set to
        header = ""
        try:
            header = st.context.locale or st.context.headers.get("Accept-Language", "") or ""
        except Exception:  # noqa: BLE001 - no request context (tests)
            header = ""
        st.session_state["lang"] = preferred_language(header)
    return st.sidebar.radio("语言 / Language", LANGUAGES, key="lang", format_func=LANGUAGE_NAMES.get)


PAGES = ("page_single", "page_batch", "page_jobs", "page_history", "page_logs")


def main() -> None:
    """Draw the app."""
    st.set_page_config(page_title="LipSpool", layout="wide")
    share.lift_static_limit()  # results of several GB stream from disk too
    background.every("upload-sweep", UPLOAD_SWEEP_S, upload_guard.sweep_runtime)
    background.every("share-prune", SHARE_PRUNE_S, share.prune)
    layout = layout_for(parse_args(sys.argv[1:]).root_path)
    lang = choose_language()
    st.title(text(lang, "title"))
    if not password_gate(lang):
        return
    page = st.sidebar.radio(" ", PAGES, key="page", format_func=lambda p: text(lang, p), label_visibility="collapsed")
    worker_banner(layout, lang)
    if page == "page_single":
        submit_page(layout, lang, batch=False)
    elif page == "page_batch":
        submit_page(layout, lang, batch=True)
    elif page == "page_jobs":
        jobs_page(layout, lang)
    elif page == "page_history":
        history_page(layout, lang)
    else:
        logs_page(layout, lang)


main()
