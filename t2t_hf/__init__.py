"""t2t-hf: captions of smartphone activity from encrypted traffic, Hugging Face-native.

    import t2t_hf                      # registers the T2T classes and the "traffic-captioning" task
    from transformers import pipeline
    captioner = pipeline("traffic-captioning", model="hub/models/t2t-small")
    captioner("capture.pcap")

The traffic layer (``read_capture``, ``make_windows``, ...) needs no torch. The
model classes load on first use; transformers registration happens as soon as
transformers is imported (see ``t2t_hf._autoregister``).
"""

from __future__ import annotations

import importlib

from . import _autoregister
from .errors import T2TInputError, T2TInputWarning
from .traffic import (PacketTable, Window, detect_devices, iter_capture, iter_windows, make_windows,
                      read_capture)

__version__ = "0.1.0"

_LAZY = {
    "T2TConfig": "configuration_t2t",
    "T2TFeatureExtractor": "feature_extraction_t2t",
    "T2TProcessor": "processing_t2t",
    "T2TModel": "modeling_t2t",
    "T2TForTrafficCaptioning": "modeling_t2t",
    "T2TPreTrainedModel": "modeling_t2t",
    "TrafficCaptioningPipeline": "pipeline_t2t",
    "train_caption_tokenizer": "tokenization_t2t",
    "register": "models_registry",
    "compute_caption_metrics": "metrics",
    "compute_caption_metrics_by_group": "metrics",
}

__all__ = ["T2TInputError", "T2TInputWarning", "PacketTable", "Window", "read_capture", "iter_capture",
           "make_windows", "iter_windows", "detect_devices", *_LAZY]


def __getattr__(name: str):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 't2t_hf' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


_autoregister.install()
