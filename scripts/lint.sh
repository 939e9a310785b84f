#!/usr/bin/env bash
# Lint (ruff) and type-check (mypy) with the settings in pyproject.toml. CI runs it before the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh requirements-dev.txt
.venv/bin/ruff check --no-cache .
.venv/bin/mypy
