"""Caption metrics: BLEU-1..4, METEOR, ROUGE-L and CIDEr-D (pycocoevalcap, PTB-tokenised, times 100).

Plain Python API: :func:`compute_caption_metrics` and :func:`compute_caption_metrics_by_group`.
The same metrics as an ``evaluate`` module: ``evaluate.load(CAPTION_METRICS_PATH)`` (works offline).
"""

from __future__ import annotations

from pathlib import Path

from t2t_hf.metrics.coco import (
    METRIC_NAMES,
    CaptionMetricsError,
    compute_caption_metrics,
    compute_caption_metrics_by_group,
    ptb_tokenize,
    validate_caption_inputs,
)

#: Folder of the ``evaluate`` module: ``evaluate.load(str(CAPTION_METRICS_PATH))``.
CAPTION_METRICS_PATH: Path = Path(__file__).resolve().parent / "caption_metrics"

__all__ = [
    "CAPTION_METRICS_PATH",
    "METRIC_NAMES",
    "CaptionMetricsError",
    "compute_caption_metrics",
    "compute_caption_metrics_by_group",
    "ptb_tokenize",
    "validate_caption_inputs",
]
