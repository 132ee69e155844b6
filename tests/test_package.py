"""The package imports light, and registers the T2T classes with transformers in either import order."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHECK = """
from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, AutoModelForSeq2SeqLM, AutoProcessor
from transformers.pipelines import PIPELINE_REGISTRY
cfg = AutoConfig.for_model("t2t")
assert type(cfg).__name__ == "T2TConfig"
assert "traffic-captioning" in PIPELINE_REGISTRY.get_supported_tasks()
from transformers.models.auto.modeling_auto import MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING
assert MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING[type(cfg)].__name__ == "T2TForTrafficCaptioning"
print("registered")
"""


def _run(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_import_is_light_and_registers_when_transformers_arrives():
    out = _run(textwrap.dedent("""
        import sys
        import t2t_hf
        assert "transformers" not in sys.modules and "torch" not in sys.modules, "heavy imports at import t2t_hf"
        t = t2t_hf.read_capture  # the traffic layer is there without torch
        """) + CHECK)
    assert "registered" in out


def test_registers_when_transformers_was_imported_first():
    assert "registered" in _run("import transformers\nimport t2t_hf\n" + CHECK)


def test_lazy_model_names():
    out = _run("import t2t_hf\nprint(t2t_hf.T2TConfig.model_type, t2t_hf.T2TForTrafficCaptioning.__name__)")
    assert out.split() == ["t2t", "T2TForTrafficCaptioning"]


def test_registers_when_a_model_module_pulls_in_transformers():
    out = _run("from t2t_hf.configuration_t2t import T2TConfig\n" + CHECK)
    assert "registered" in out
