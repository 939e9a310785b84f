"""LipSpool dashboard (placeholder until the dashboard issue): queue overview from the spool.

Run with `streamlit run dashboard.py -- --root-path DIR`. It reads the spool only through
spooler.protocol and never imports the engine.
"""
from __future__ import annotations

import argparse
import sys

import streamlit as st

from spooler import protocol
from spooler.config import layout_for

TEXT = {
    "zh": {
        "title": "LipSpool 批量口型同步",
        "no_worker": "后台工作进程未运行 — 请用 `python -m spooler run` 启动",
        "workers": "工作进程",
        "jobs": "任务",
        "empty": "还没有任务。用 `python -m spooler submit --audio A --video V` 提交。",
        "soon": "单个处理、批量处理、历史记录和日志页面即将推出。",
    },
    "en": {
        "title": "LipSpool batch lip-sync",
        "no_worker": "The worker is not running — start it with `python -m spooler run`",
        "workers": "Workers",
        "jobs": "Jobs",
        "empty": "No jobs yet. Submit one with `python -m spooler submit --audio A --video V`.",
        "soon": "Single mode, batch mode, history and logs pages are coming.",
    },
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The dashboard's own arguments (after `--` on the streamlit command line)."""
    parser = argparse.ArgumentParser(prog="dashboard.py")
    parser.add_argument("--root-path", default=None)
    return parser.parse_known_args(argv)[0]


def main() -> None:
    """Draw the page."""
    st.set_page_config(page_title="LipSpool", layout="wide")
    layout = layout_for(parse_args(sys.argv[1:]).root_path)
    lang = st.sidebar.radio("语言 / Language", ["zh", "en"], format_func=lambda c: {"zh": "中文", "en": "English"}[c])
    t = TEXT[lang]
    st.title(t["title"])
    st.caption(t["soon"])

    @st.fragment(run_every=2)
    def live() -> None:
        alive = [w for w in protocol.list_workers(layout, stale_after_s=30.0) if w.alive]
        if not alive:
            st.warning(t["no_worker"])
        else:
            st.caption(f"{t['workers']}: " + ", ".join(f"{w.info.worker_id} ({w.info.state})" for w in alive))
        rows = [
            {"id": s.job_id, "name": s.name, "state": s.state.value, "done": f"{s.done}/{s.total}",
             "failed": s.failed, "progress": s.progress, "current": s.current_item, "created": s.created}
            for s in protocol.iter_statuses(layout)
        ]
        st.subheader(t["jobs"])
        if rows:
            st.dataframe(rows, hide_index=True, column_config={"progress": st.column_config.ProgressColumn()})
        else:
            st.info(t["empty"])

    live()


main()
