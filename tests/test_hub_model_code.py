"""The published model folder's remote code is the package's code (nothing drifts apart)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "hub" / "models" / "t2t-small"


@pytest.mark.parametrize("name", ["configuration_t2t.py", "modeling_t2t.py", "feature_extraction_t2t.py",
                                  "processing_t2t.py"])
def test_remote_code_matches_package(name):
    if not MODEL.exists():
        pytest.skip("no trained model folder")
    shipped = MODEL / name
    assert shipped.exists(), f"{shipped} is missing: save the model with save_pretrained to copy the code"
    assert shipped.read_text() == (REPO / "t2t_hf" / name).read_text(), (
        f"hub/models/t2t-small/{name} differs from t2t_hf/{name}: re-save the model (training/train.py does) "
        "or copy the file if the change keeps the weights compatible")
