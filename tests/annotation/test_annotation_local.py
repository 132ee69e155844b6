"""The local backend with a tiny randomly initialised vision-language model built offline.

Qwen2-VL's processor cannot be built here: in transformers 5 it requires a video
processor, which needs torchvision (not a dependency of this project). LLaVA
(CLIP vision tower + Llama text model) loads through the same
``AutoProcessor`` / ``AutoModelForImageTextToText`` path with a PIL image
processor, so the tiny model is a LLaVA. Its captions are gibberish; the test
proves the code path: chat template with images, generate, decode, records.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from t2t_hf.annotation import annotate
from t2t_hf.errors import T2TInputError


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory):
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration,
                              LlavaProcessor, PreTrainedTokenizerFast)

    d = tmp_path_factory.mktemp("tiny-llava")
    specials = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["The user is watching a short video on TikTok and swipes to the next one.",
                             "The user is typing and sending a message in WhatsApp.",
                             "The user is scrolling through the home feed on Instagram."], trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>")
    template = ("{% for m in messages %}<|{{ m['role'] }}|>{% if m['content'] is string %}{{ m['content'] }}"
                "{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>{% elif c['type'] == 'text' %}"
                "{{ c['text'] }}{% endif %}{% endfor %}{% endif %}</s>{% endfor %}"
                "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    image_processor_cls = getattr(transformers, "CLIPImageProcessorPil", None) or transformers.CLIPImageProcessor
    image_processor = image_processor_cls(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=fast, chat_template=template, patch_size=14,
                               vision_feature_select_strategy="default", num_additional_image_tokens=1)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                       num_attention_heads=2, image_size=28, patch_size=14),
        text_config=LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024),
        image_token_id=fast.convert_tokens_to_ids("<image>"), vision_feature_select_strategy="default",
        vision_feature_layer=-1)
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config)
    model.generation_config.eos_token_id = fast.eos_token_id
    model.generation_config.pad_token_id = fast.pad_token_id
    model.save_pretrained(d)
    processor.save_pretrained(d)
    return d


def test_local_backend_caption(tiny_vlm):
    from t2t_hf.annotation.backends.local_backend import LocalBackend

    be = LocalBackend(model_dir=tiny_vlm, max_new_tokens=6)
    assert be.device in ("cpu", "cuda") and be.model_name == tiny_vlm.name
    imgs = [Image.fromarray(np.full((120, 160, 3), v, np.uint8)) for v in (10, 200)]
    r1 = be.caption(imgs, "What is the user doing?", "You label screens.")
    r2 = be.caption(imgs, "What is the user doing?", "You label screens.")
    assert isinstance(r1.text, str) and r1.completion_tokens >= 1
    assert r1.prompt_tokens > 2 * 4  # two images of 4 patch tokens each, plus text
    assert r1.text == r2.text  # greedy decoding is deterministic


def test_pipeline_with_local_backend(tiny_vlm, media_dir, tmp_path):
    out = tmp_path / "local.jsonl"
    res = annotate(media_dir / "screen.mp4", media_dir / "capture.pcap", out, window=20.0, backend="local",
                   backend_options={"model_dir": str(tiny_vlm), "max_new_tokens": 8}, frames_per_window=2,
                   cache_dir=tmp_path / "cache", progress=False)
    recs = [json.loads(line) for line in open(out)]
    assert res.written + res.failed == res.windows >= 2 and res.written >= 1
    assert len(recs) == res.written
    for r in recs:
        assert r["model"] == tiny_vlm.name and r["caption"] and r["end"] - r["start"] == 20.0
        assert len(r["frame_times"]) == 2


def test_local_backend_bad_folder(tmp_path):
    from t2t_hf.annotation.backends.local_backend import LocalBackend

    with pytest.raises(T2TInputError, match="config.json"):
        LocalBackend(model_dir=tmp_path)
    with pytest.raises(T2TInputError, match="--model-dir"):
        LocalBackend()
