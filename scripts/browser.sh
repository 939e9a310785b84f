#!/usr/bin/env bash
# Make sure Debian's chromium (driven by Playwright through executable_path: no browser download)
# and a CJK font (legible Chinese in screenshots) are installed, for the dashboard's browser tests.
# Installs them with apt-get when run as root; otherwise says what to install and carries on.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
fc-list 2>/dev/null | grep -qi "noto sans cjk" || need+=(fonts-noto-cjk)
[ ${#need[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${need[*]} with apt-get (for the browser tests)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; }
else
    echo "setup: the browser tests need: ${need[*]} (sudo apt-get install ${need[*]}); they are skipped without chromium" >&2
fi
