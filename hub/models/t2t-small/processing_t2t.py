"""The T2T processor: the feature extractor and the caption tokenizer, joined (and nothing else).

This file is also shipped as remote code: it imports nothing from ``t2t_hf`` at module level.
"""

from __future__ import annotations

import numpy as np
from transformers import BatchFeature, ProcessorMixin

try:  # inside the t2t_hf package: the project's one input-error type
    from t2t_hf.errors import T2TInputError
except ImportError:  # loaded as remote code without t2t_hf installed

    class T2TInputError(ValueError):
        """Bad input (stand-in for ``t2t_hf.errors.T2TInputError`` when t2t_hf is not installed)."""


class T2TProcessor(ProcessorMixin):
    r"""Joins a :class:`T2TFeatureExtractor` and a caption tokenizer (``PreTrainedTokenizerFast``).

    ``processor(traffic=..., text=..., app_type=...)`` returns the feature extractor's ``BatchFeature``
    (``input_features``, ``attention_mask``, ``time_bin_features``, ``window_stats``) plus ``labels`` [B, L]
    (int64 caption token ids ending with ``</s>``, padding replaced by -100) when ``text`` is given, and
    ``app_type_labels`` [B] (index in ``feature_extractor.app_types``, -100 for unknown) when ``app_type`` is given.
    ``batch_decode`` / ``decode`` turn generated ids into captions.
    """

    def __init__(self, feature_extractor, tokenizer):
        super().__init__(feature_extractor, tokenizer)

    def __call__(self, traffic=None, text=None, app_type=None, return_tensors: str | None = None,
                 **kwargs) -> BatchFeature:
        """Args:
            traffic: anything ``T2TFeatureExtractor`` accepts (window(s), corpus example(s), packet table).
            text: a caption or a list of captions (one per window).
            app_type: an app-type name or a list of them ("unknown" or None -> -100).
            return_tensors: None/"np" or "pt".
            kwargs: passed to the feature extractor (``padding``, ``normalize``).
        """
        if traffic is None and text is None:
            raise T2TInputError("give traffic=..., text=... or both")
        out = BatchFeature()
        if traffic is not None:
            out = self.feature_extractor(traffic, return_tensors=return_tensors, **kwargs)
        if text is not None:
            texts = [text] if isinstance(text, str) else list(text)
            if not all(isinstance(t, str) for t in texts):
                raise T2TInputError("text must be a caption string or a list of caption strings")
            if traffic is not None and len(texts) != out["input_features"].shape[0]:
                raise T2TInputError(f"got {len(texts)} captions for {out['input_features'].shape[0]} windows; give "
                                    "one caption per window")
            ids = np.asarray(self.tokenizer(texts, padding=True, truncation=True, return_tensors="np")["input_ids"],
                             dtype=np.int64)
            out["labels"] = np.where(ids == self.tokenizer.pad_token_id, -100, ids)
        if app_type is not None:
            names = [app_type] if isinstance(app_type, str) else list(app_type)
            index = {name: i for i, name in enumerate(self.feature_extractor.app_types)}
            unknown = [n for n in names if n not in index and n not in (None, "", "unknown")]
            if unknown:
                raise T2TInputError(f"unknown app type(s) {sorted(set(unknown))}; expected one of "
                                    f"{self.feature_extractor.app_types} or 'unknown'")
            labels = [index.get(n, -100) for n in names]
            out["app_type_labels"] = np.asarray(labels, dtype=np.int64)
        return BatchFeature(data=dict(out), tensor_type=return_tensors)

    def batch_decode(self, *args, **kwargs):
        """Generated ids [B, L] -> list of captions (special tokens skipped unless told otherwise)."""
        kwargs.setdefault("skip_special_tokens", True)
        return self.tokenizer.batch_decode(*args, **kwargs)

    def decode(self, *args, **kwargs):
        kwargs.setdefault("skip_special_tokens", True)
        return self.tokenizer.decode(*args, **kwargs)

    @property
    def model_input_names(self):
        return list(self.feature_extractor.model_input_names)


T2TProcessor.register_for_auto_class("AutoProcessor")

__all__ = ["T2TProcessor"]
