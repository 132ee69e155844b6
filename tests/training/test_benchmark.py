"""training/benchmark.py end to end on its --quick slice: the baselines' path from corpus to tables (T2T's own
training path is covered by test_train.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_writes_tables_and_results(tmp_path):
    env = dict(os.environ, T2T_TRAINING_CACHE=str(tmp_path / "cache"), HF_HUB_OFFLINE="1")
    runs = tmp_path / "runs"
    r = subprocess.run([sys.executable, str(ROOT / "training" / "benchmark.py"), "--quick", "--only",
                        "sim:oracle,sim:retrieval,sim:classifier_template", "--runs_dir", str(runs)],
                       env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    results = json.loads((runs / "results.json").read_text())
    assert set(results["sim"]) == {"oracle", "retrieval", "classifier_template"}
    for model, row in results["sim"].items():
        assert {"BLEU-4", "METEOR", "ROUGE-L", "CIDEr"} <= set(row), model
        assert 0 < row["CIDEr"] < 1000 and 0 < row["METEOR"] <= 100
    assert results["sim"]["oracle"]["class_accuracy"] == 100.0  # it is told the class
    assert "app_type_accuracy" not in results["sim"]["oracle"]
    md = (runs / "RESULTS.md").read_text()
    assert md.startswith("# T2T results (--quick: a small slice, NOT the reported numbers)")
    assert "| oracle |" in md and "| classifier_template |" in md
    assert "## Not measured" in md  # the rest of the plan was not run, and the tables say so
    # the item results are stored one by one, so a second run reuses them instead of recomputing
    again = subprocess.run([sys.executable, str(ROOT / "training" / "benchmark.py"), "--quick", "--only",
                            "sim:oracle", "--runs_dir", str(runs)], env=env, cwd=ROOT, capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0 and "=== sim / oracle" not in again.stdout
