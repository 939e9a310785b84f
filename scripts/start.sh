#!/usr/bin/env bash
# Set up (first time) and start LipSpool: the spooler daemon in the background, the HTTP API
# beside it on port 7861 and the dashboard on port 7860 (all interfaces). Ctrl-C stops them all;
# jobs in flight resume next start. LIPSPOOL_API=0 leaves the API off; LIPSPOOL_API_PORT moves it.
# Usage: scripts/start.sh [--root-path DIR] [--port N] [--api-port N]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${LIPSPOOL_ROOT:-$PWD}"
PORT=7860
API_PORT="${LIPSPOOL_API_PORT:-7861}"
while [ $# -gt 0 ]; do
    case "$1" in
        --root-path) ROOT="$2"; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        --api-port) API_PORT="$2"; shift 2 ;;
        *) echo "unknown argument: $1 (use --root-path DIR, --port N, --api-port N)" >&2; exit 2 ;;
    esac
done
mkdir -p "$ROOT/logs"
ROOT="$(cd "$ROOT" && pwd)"

# PyTorch is only for the wav2lip backend: install it where it can be used (see the README).
reqs=requirements.txt
why="the default rewrite engine needs no PyTorch; LIPSPOOL_WAV2LIP=1 adds it"
case "${LIPSPOOL_WAV2LIP:-auto}" in
    1|yes|true) reqs=requirements-wav2lip.txt; why="LIPSPOOL_WAV2LIP=1" ;;
    0|no|false) why="LIPSPOOL_WAV2LIP=0" ;;
    *)
        if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
            reqs=requirements-wav2lip.txt; why="an NVIDIA GPU is present: PyTorch with CUDA for wav2lip"
        elif compgen -G "$ROOT/models/*.pth" >/dev/null; then
            reqs=requirements-wav2lip.txt; why="a checkpoint lies in $ROOT/models"
        fi ;;
esac
echo "start: installing $reqs ($why)" >&2
scripts/setup.sh "$reqs"
export LIPSPOOL_ROOT="$ROOT"

pidfile="$ROOT/logs/daemon.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "start: daemon already running (pid $(cat "$pidfile"))" >&2
    daemon_pid=""
else
    nohup .venv/bin/python -m spooler run --root-path "$ROOT" --workers "${LIPSPOOL_WORKERS:-auto}" \
        >>"$ROOT/logs/daemon.out" 2>&1 &
    daemon_pid=$!
    echo "$daemon_pid" > "$pidfile"
    echo "start: daemon pid $daemon_pid, log: tail -F $ROOT/logs/lipspool.log" >&2
fi
api_pid=""
case "${LIPSPOOL_API:-1}" in
    0|no|false) echo "start: HTTP API off (LIPSPOOL_API=0)" >&2 ;;
    *)
        .venv/bin/python -m api serve --root-path "$ROOT" --host "${LIPSPOOL_API_HOST:-0.0.0.0}" --port "$API_PORT" \
            >>"$ROOT/logs/api.out" 2>&1 &
        api_pid=$!
        echo "start: HTTP API on port $API_PORT (pid $api_pid, log: $ROOT/logs/api.log); make a token with:" \
            ".venv/bin/python -m api token create --name NAME --root-path $ROOT" >&2 ;;
esac
stop_daemon() {
    if [ -n "$api_pid" ] && kill -0 "$api_pid" 2>/dev/null; then
        kill -TERM "$api_pid" && wait "$api_pid" 2>/dev/null || true
    fi
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid" && wait "$daemon_pid" 2>/dev/null || true
        rm -f "$pidfile"
    fi
}
trap stop_daemon EXIT INT TERM
echo "start: dashboard on http://$(hostname -I 2>/dev/null | awk '{print $1}' || echo localhost):$PORT" >&2
.venv/bin/python -m streamlit run dashboard.py --server.port "$PORT" --server.address 0.0.0.0 \
    --server.headless true --browser.gatherUsageStats false -- --root-path "$ROOT"
