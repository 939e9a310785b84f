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

import pandas as pd
import streamlit as st

from engine.backends import option_specs
from engine.options import USER, OptionSpec
from spooler import protocol
from spooler.config import Layout, layout_for
from spooler.records import JobStatus
from spooler.states import FINISHED_STATES, ItemState, JobState
from webui import background, export, history, jobs, share, tables, template_check, throttle, upload_guard
from webui.i18n import LANGUAGE_NAMES, LANGUAGES, preferred_language, state_name, text
from webui.jobs import Upload
from webui.plain import code, md, visible

FALLBACK_BACKENDS = ("rewrite", "none")  # offered when no worker has published its list yet
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
    """The render options, one widget per declared option (engine.options): the engine's, then the
    chosen backend's; advanced ones behind a switch. Only values that differ from the default are kept."""
    specs = option_specs()
    with st.expander(text(lang, "options")):
        backend_spec = specs["engine"][0]
        backend = st.selectbox(backend_spec.label(lang), usable_backends(layout), key=f"{key}-backend",
                               help=backend_spec.help(lang))
        shown = [s for s in specs["engine"][1:] + specs.get(backend, []) if s.meta.set_by == USER]
        extra = [s for s in shown if s.meta.advanced]
        drawn = [s for s in shown if not s.meta.advanced]
        options: dict = {"backend": backend}
        for spec in drawn:
            options[spec.name] = option_widget(layout, spec, lang, f"{key}-{spec.name}")
        if extra and st.toggle(text(lang, "advanced"), key=f"{key}-advanced"):
            for spec in extra:
                options[spec.name] = option_widget(layout, spec, lang, f"{key}-{spec.name}")
        defaults = {s.name: s.default for s in shown}
        return {k: v for k, v in options.items() if k == "backend" or (v is not None and v != defaults[k])}


def option_widget(layout: Layout, spec: OptionSpec, lang: str, key: str) -> object:
    """The widget for one declared option, and its value (None: nothing to choose here)."""
    label, tip = spec.label(lang), spec.help(lang)
    if spec.meta.in_models:  # a file in <root>/models: offer what the daemons found there
        names = from_workers(layout, "checkpoints")
        return st.selectbox(label, names, key=key, format_func=visible, help=tip) if names else None
    choices = list(spec.meta.choices or spec.meta.names)
    if choices:
        pick = spec.suggested(lang)
        return st.selectbox(label, choices, index=choices.index(pick) if pick in choices else 0, key=key,
                            format_func=lambda v: spec.value_label(v, lang), help=tip)
    if spec.kind is bool:
        return st.checkbox(label, value=bool(spec.default), key=key, help=tip)
    if spec.kind in (int, float) and spec.meta.low is not None and spec.meta.high is not None:
        low, high = spec.kind(spec.meta.low), spec.kind(spec.meta.high)
        if spec.kind is int and high - low <= 60:
            return int(st.slider(label, low, high, spec.kind(spec.default), key=key, help=tip))
        step = 1 if spec.kind is int else 0.05
        return spec.kind(st.number_input(label, low, high, spec.kind(spec.default), step=step, key=key, help=tip))
    typed = st.text_input(label, value=str(spec.default or ""), key=key, help=tip).strip()
    return spec.convert(typed) if typed else None


def worker_banner(layout: Layout, lang: str) -> None:
    """A warning when no daemon heartbeat is fresh; else the live workers, in a table."""
    alive = [w for w in protocol.list_workers(layout, stale_after_s=STALE_WORKER_S) if w.alive]
    if not alive:
        st.warning(text(lang, "no_worker"))
        return
    with st.expander(text(lang, "workers_live", n=len(alive))):
        st.dataframe(tables.workers_table(tables.workers_frame(alive), lang), hide_index=True, placeholder="",
                     column_config=column_config(lang, item=st.column_config.NumberColumn(format="%d"),
                                                 heartbeat_age=st.column_config.NumberColumn(format="%.1f s")))


def column_config(lang: str, **configs: object) -> dict:
    """Streamlit column configurations by column name (webui.tables), keyed by the headers shown in `lang`."""
    return {tables.label(lang, name): config for name, config in configs.items()}


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
        # Streamlit reads the file it is handed when the button is clicked
        st.download_button(md(label), lambda: open(path, "rb"), file_name=name, mime=mime, key=key)  # noqa: SIM115


def _eta(seconds: float | None) -> str:
    if not seconds:
        return ""
    return time.strftime("%H:%M:%S" if seconds >= 3600 else "%M:%S", time.gmtime(seconds))


def job_card(layout: Layout, lang: str, status: JobStatus, position: int | None, key: str,
             link_of: tables.LinkOf | None = None) -> None:
    """One job: overall bar, N / M, the current item, a table of its items, failures, cancel."""
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
    if status.items:
        items_table(lang, status, link_of)
    for item in status.items:
        if item.state == ItemState.FAILED:
            st.error(f"{md(item.name)}: {md(item.error)}")
    if status.state not in FINISHED_STATES and st.button(text(lang, "cancel"), key=f"cancel-{key}-{status.job_id}"):
        jobs.cancel(layout, status.job_id)
        st.info(text(lang, "cancel_sent", job=md(status.job_id)))


def items_table(lang: str, status: JobStatus, link_of: tables.LinkOf | None) -> None:
    """A job's items: state, stage, a progress bar and the worker of each (a link to each result with `link_of`)."""
    cc = st.column_config
    st.dataframe(tables.progress_table(tables.progress_frame(status), lang, link_of), hide_index=True, placeholder="",
                 column_config=column_config(lang, item=cc.NumberColumn(format="%d", width="small"),
                                             progress=cc.ProgressColumn(format="percent", min_value=0.0, max_value=1.0),
                                             output=cc.LinkColumn(display_text=text(lang, "open"))))


def result_link(path: str) -> str | None:
    """A URL that serves the result file `path` from disk (None when it cannot be served)."""
    url = share.share(path)
    return page_base() + url if url else None


def job_progress(layout: Layout, lang: str, job_id: str, key: str) -> None:
    """Live progress of one job, refreshing by itself; the result plays when done."""

    @st.fragment(run_every=REFRESH_S)
    def live() -> None:
        status = protocol.read_status(layout, job_id)
        if status is None:
            return
        finished = status.state in FINISHED_STATES  # its results are shared for the players below anyway
        job_card(layout, lang, status, None, key, result_link if finished else None)
        if finished:
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
    frame = tables.history_frame(history.history(layout))  # read once per page load, then filtered
    left, right = st.columns(2)
    picked = left.multiselect(text(lang, "filter_state"), sorted(frame["state"].unique().tolist()),
                              key="hist-states", format_func=lambda v: state_name(lang, v),
                              placeholder=text(lang, "all"))
    query = right.text_input(text(lang, "filter_text"), key="hist-query")
    shown = tables.filter_history(frame, picked, query)
    if shown.empty:
        st.info(text(lang, "no_results"))
        return
    pages = tables.page_count(len(shown))
    page = int(st.number_input(f"{text(lang, 'page')} (1–{pages})", 1, pages, 1, key="hist-page"))
    rows_page = tables.page_of(shown, page)[0]
    history_grid(layout, lang, rows_page, picked, query, page)
    history_player(lang, rows_page)
    job_id = st.selectbox(text(lang, "select_job"), shown["job_id"].unique().tolist(), key="hist-job",
                          format_func=visible)
    job_rows = frame[(frame["job_id"] == job_id) & (frame["output"] != "")]
    presenters = dict(zip(job_rows["output"], job_rows["presenter"]))
    picked_rows = st.multiselect(text(lang, "pick_items"), list(presenters), default=list(presenters),
                                 key=f"hist-items-{job_id}", format_func=lambda o: visible(presenters[o]),
                                 placeholder=text(lang, "pick_items"))
    cols = st.columns(2)
    if picked_rows and cols[0].button(text(lang, "zip"), key="hist-zip"):
        files = [(Path(output), Path(output).name) for output in picked_rows]
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


def history_grid(layout: Layout, lang: str, rows: pd.DataFrame, states: list[str], query: str,
                 page: int) -> None:
    """The page's rows as a table, redrawn by itself while any of them is still queued or running."""
    first = [rows]  # the first draw shows the rows just read; each redraw reads them again

    @st.fragment(run_every=REFRESH_S if tables.has_unfinished(rows) else None)
    def table() -> None:
        fresh = first.pop() if first else tables.page_of(
            tables.filter_history(tables.history_frame(history.history(layout)), states, query), page)[0]
        cc = st.column_config
        st.dataframe(tables.history_table(fresh, lang), hide_index=True, placeholder="",
                     column_config=column_config(lang, thumbnail=cc.ImageColumn(width="small"),
                                                 duration=cc.NumberColumn(format="%.1f s"),
                                                 created=cc.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")))

    table()


def history_player(lang: str, rows: pd.DataFrame) -> None:
    """Pick one result of the page's rows to play and download."""
    playable = rows[rows["output"] != ""]
    if playable.empty:
        return
    outputs = playable["output"].tolist()
    labels = [visible(f"{name or job} · {presenter}") for name, job, presenter
              in zip(playable["job_name"], playable["job_id"], playable["presenter"])]
    choice = st.selectbox(text(lang, "result"), range(len(outputs)), format_func=lambda i: labels[i], key="hist-pick")
    player(outputs[choice])
    download(outputs[choice], text(lang, "download"), key="hist-dl")


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
