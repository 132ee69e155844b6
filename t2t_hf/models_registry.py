"""Registration of the T2T classes with the transformers Auto* factories and the ``traffic-captioning`` pipeline.

``import t2t_hf`` calls :func:`register`; calling it again does nothing.
"""

from __future__ import annotations

_registered = False


def register() -> None:
    """Register ``T2TConfig`` (model type "t2t") with AutoConfig, ``T2TModel`` with AutoModel,
    ``T2TForTrafficCaptioning`` with AutoModelForSeq2SeqLM, ``T2TFeatureExtractor`` with AutoFeatureExtractor,
    ``T2TProcessor`` with AutoProcessor, and the "traffic-captioning" pipeline task. Idempotent."""
    global _registered
    if _registered:
        return
    from transformers import (AutoConfig, AutoFeatureExtractor, AutoModel, AutoModelForSeq2SeqLM, AutoProcessor,
                              AutoTokenizer, PreTrainedTokenizerFast)
    from transformers.pipelines import PIPELINE_REGISTRY

    from .configuration_t2t import T2TConfig
    from .feature_extraction_t2t import T2TFeatureExtractor
    from .modeling_t2t import T2TForTrafficCaptioning, T2TModel
    from .pipeline_t2t import TrafficCaptioningPipeline
    from .processing_t2t import T2TProcessor

    AutoConfig.register("t2t", T2TConfig, exist_ok=True)
    AutoModel.register(T2TConfig, T2TModel, exist_ok=True)
    AutoModelForSeq2SeqLM.register(T2TConfig, T2TForTrafficCaptioning, exist_ok=True)
    AutoFeatureExtractor.register(T2TConfig, T2TFeatureExtractor, exist_ok=True)
    AutoProcessor.register(T2TConfig, T2TProcessor, exist_ok=True)
    try:
        AutoTokenizer.register(T2TConfig, fast_tokenizer_class=PreTrainedTokenizerFast, exist_ok=True)
    except (TypeError, ValueError):  # the tokenizer mapping may already name it
        pass
    if "traffic-captioning" not in PIPELINE_REGISTRY.get_supported_tasks():
        PIPELINE_REGISTRY.register_pipeline("traffic-captioning", pipeline_class=TrafficCaptioningPipeline,
                                            pt_model=AutoModelForSeq2SeqLM, type="multimodal")
    _registered = True


__all__ = ["register"]
