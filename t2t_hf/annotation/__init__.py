"""Cross-modal annotation: a screen recording and a traffic capture in, time-aligned VLM captions out.

>>> from t2t_hf.annotation import annotate
>>> annotate("screen.mp4", "capture.pcap", "capture.jsonl", window=10.0, align="auto")  # doctest: +SKIP

See :mod:`~t2t_hf.annotation.pipeline` (records, resuming), :mod:`~t2t_hf.annotation.align`
(clock alignment), :mod:`~t2t_hf.annotation.prompt` (the versioned prompt) and
:mod:`~t2t_hf.annotation.backends` (OpenAI-compatible endpoints, local transformers models).
"""

from .align import Alignment, align_auto, align_marker, align_metadata
from .backends import BackendError, CaptionResult, make_backend
from .pipeline import AnnotationResult, annotate
from .prompt import PROMPT_VERSION
from .video import VideoInfo, probe_video

__all__ = ["annotate", "AnnotationResult", "Alignment", "align_auto", "align_marker", "align_metadata",
           "make_backend", "BackendError", "CaptionResult", "PROMPT_VERSION", "VideoInfo", "probe_video"]
