"""Loading a saved T2T folder with trust_remote_code=True in a fresh interpreter where t2t_hf cannot be imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["t2t_hf"] = None  # importing t2t_hf now raises ImportError, even if it is installed
    try:
        import t2t_hf  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("t2t_hf is importable: the test would prove nothing")
    import json
    import numpy as np
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM, AutoProcessor, AutoFeatureExtractor

    path = sys.argv[1]
    config = AutoConfig.from_pretrained(path, trust_remote_code=True)
    model = AutoModelForSeq2SeqLM.from_pretrained(path, trust_remote_code=True).eval()
    base = AutoModel.from_pretrained(path, trust_remote_code=True)
    fe = AutoFeatureExtractor.from_pretrained(path, trust_remote_code=True)
    processor = AutoProcessor.from_pretrained(path, trust_remote_code=True)

    class W:  # a duck-typed window: the feature extractor needs no t2t_hf class
        start, end, new_flow = 0.0, 10.0, None
        def __init__(self, n):
            rng = np.random.default_rng(n)
            self.time = np.sort(rng.uniform(0, 10, n)); self.size = rng.integers(-1500, 1500, n)
            self.protocol = np.full(n, 6); self.flow = rng.integers(0, 3, n)

    batch = processor(traffic=[W(30), W(0), W(7)], return_tensors="pt")
    ids = model.generate(**batch, max_new_tokens=6, do_sample=False)
    try:
        model(input_features=torch.zeros(1, 5, 3), time_bin_features=batch["time_bin_features"][:1],
              window_stats=batch["window_stats"][:1])
        bad = "no error"
    except ValueError as e:
        bad = type(e).__name__
    print(json.dumps({
        "config": type(config).__name__, "model": type(model).__name__, "base": type(base).__name__,
        "fe": type(fe).__name__, "processor": type(processor).__name__,
        "model_module": type(model).__module__, "fe_fitted": fe.is_fitted,
        "ids": ids.tolist(), "captions": processor.batch_decode(ids), "bad_input_error": bad,
    }))
    """
)


def test_remote_code_loads_without_t2t_hf(tiny_model_dir, tmp_path):
    import numpy as np
    import torch

    from t2t_hf.modeling_t2t import T2TForTrafficCaptioning
    from t2t_hf.processing_t2t import T2TProcessor

    for name in ("configuration_t2t.py", "modeling_t2t.py", "feature_extraction_t2t.py", "processing_t2t.py"):
        assert (tiny_model_dir / name).is_file(), name
    auto_map = json.loads((tiny_model_dir / "config.json").read_text())["auto_map"]
    assert auto_map["AutoModel"] == "modeling_t2t.T2TModel"
    assert auto_map["AutoModelForSeq2SeqLM"] == "modeling_t2t.T2TForTrafficCaptioning"

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"), TRANSFORMERS_VERBOSITY="error")
    script = tmp_path / "load_remote.py"
    script.write_text(SCRIPT)
    run = subprocess.run([sys.executable, "-I", str(script), str(tiny_model_dir)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["config"] == "T2TConfig" and out["model"] == "T2TForTrafficCaptioning"
    assert out["base"] == "T2TModel" and out["fe"] == "T2TFeatureExtractor" and out["processor"] == "T2TProcessor"
    assert out["model_module"].startswith("transformers_modules"), out["model_module"]
    assert out["fe_fitted"] is True
    assert out["bad_input_error"] == "T2TInputError"

    # the remote copy computes exactly what the package computes
    model = T2TForTrafficCaptioning.from_pretrained(tiny_model_dir).eval()
    processor = T2TProcessor.from_pretrained(tiny_model_dir)

    class W:
        start, end, new_flow = 0.0, 10.0, None

        def __init__(self, n):
            rng = np.random.default_rng(n)
            self.time = np.sort(rng.uniform(0, 10, n))
            self.size = rng.integers(-1500, 1500, n)
            self.protocol = np.full(n, 6)
            self.flow = rng.integers(0, 3, n)

    batch = processor(traffic=[W(30), W(0), W(7)], return_tensors="pt")
    with torch.no_grad():
        ids = model.generate(**batch, max_new_tokens=6, do_sample=False)
    assert ids.tolist() == out["ids"]
    assert processor.batch_decode(ids) == out["captions"]


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
