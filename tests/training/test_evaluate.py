"""training/evaluate.py reports bad input as one line (exit status 1), not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("args, message", [
    (["--model", "/nonexistent/model"], "/nonexistent/model"),
    (["--model", str(ROOT / "hub" / "models" / "t2t-small"), "--corpus", "knocking", "--data_dir", "/nonexistent"],
     "/nonexistent"),
])
def test_bad_input_is_one_line(args, message, tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "training" / "evaluate.py"), *args], capture_output=True,
                       text=True, timeout=300, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1",
                                                               "T2T_TRAINING_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 1, r.stdout + r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]  # (transformers may show
    assert "Traceback" not in r.stderr and len(errors) == 1 and message in errors[0], r.stderr  # a loading bar)
