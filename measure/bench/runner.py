"""Run one benchmark job in a fresh interpreter (measure.bench.child) and read back its JSON result."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from engine.errors import EngineError


def run_in_child(job: dict[str, Any], timeout: float = 3600) -> dict[str, Any]:
    """Run `job` in a new interpreter; EngineError with the child's last line if it fails."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.run([sys.executable, "-m", "measure.bench.child", json.dumps(job)], capture_output=True,
                          text=True, timeout=timeout, env=env)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise EngineError(f"benchmark {job['kind']} of '{Path(job['video']).name}' failed: {err}")
    return json.loads(lines[-1])
