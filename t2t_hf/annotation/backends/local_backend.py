"""A local transformers image-text-to-text model (e.g. a downloaded Qwen2-VL checkpoint).

Loads ``AutoProcessor`` and ``AutoModelForImageTextToText`` from a directory
(never from the network: ``local_files_only=True``), builds the chat with the
processor's chat template (images first, then the prompt), and greedy-decodes.
Runs on CUDA when present, else on the CPU.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Sequence

from ...errors import T2TInputError
from . import CaptionResult

log = logging.getLogger("t2t_hf.annotation")


class LocalBackend:
    """Captions frames with a local vision-language model.

    Args:
        model_dir: a folder with ``config.json``, weights and the processor files
            (``save_pretrained`` output, or a Hub snapshot such as Qwen/Qwen2-VL-2B-Instruct).
        device: "cuda", "cpu", ... (None = CUDA when available).
        dtype: torch dtype name ("bfloat16", "float16", "float32"; None = bfloat16 on CUDA, float32 on CPU).
        max_new_tokens: cap on the caption length in tokens.
        model_name: name written into the records (None = the folder name).
    """

    concurrency = 1  # one model, one device: requests are serialised

    def __init__(self, *, model_dir: str | os.PathLike | None = None, device: str | None = None,
                 dtype: str | None = None, max_new_tokens: int = 60, model_name: str | None = None,
                 trust_remote_code: bool = False) -> None:
        model_dir = model_dir or os.environ.get("T2T_VLM_MODEL_DIR")
        if not model_dir:
            raise T2TInputError("the local backend needs --model-dir, a folder holding a transformers "
                                "image-text-to-text model (e.g. a downloaded Qwen2-VL-2B-Instruct)")
        path = Path(model_dir)
        if not (path / "config.json").is_file():
            raise T2TInputError("not a transformers model folder (no config.json); download one first, e.g. "
                                "`hf download Qwen/Qwen2-VL-2B-Instruct --local-dir qwen2-vl`", path=str(path))
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if dtype is None:
            dt = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        else:
            dt = getattr(torch, dtype, None)
            if not isinstance(dt, torch.dtype):
                raise T2TInputError(f"unknown dtype {dtype!r}; use bfloat16, float16 or float32")
        try:
            self.processor = AutoProcessor.from_pretrained(path, local_files_only=True,
                                                           trust_remote_code=trust_remote_code)
        except Exception as exc:
            hint = (" Qwen2-VL's processor needs torchvision: `pip install torchvision`."
                    if "VideoProcessor" in str(exc) or "torchvision" in str(exc).lower() else "")
            raise T2TInputError(f"cannot load the processor ({type(exc).__name__}: {exc}).{hint}",
                                path=str(path)) from None
        try:
            self.model = AutoModelForImageTextToText.from_pretrained(path, dtype=dt, local_files_only=True,
                                                                     trust_remote_code=trust_remote_code)
        except Exception as exc:
            raise T2TInputError(f"cannot load an image-text-to-text model ({type(exc).__name__}: {exc}); the "
                                "folder must hold a vision-language model such as Qwen2-VL or LLaVA",
                                path=str(path)) from None
        self.model.to(self.device).eval()
        self.max_new_tokens = int(max_new_tokens)
        self.model_name = model_name or path.resolve().name
        self._lock = threading.Lock()
        log.info("local VLM %s on %s (%s)", self.model_name, self.device, dt)

    def caption(self, images: Sequence, prompt: str, system: str | None = None) -> CaptionResult:
        """Greedy-decode a caption for ``images`` (PIL, RGB) and ``prompt``."""
        import torch

        content = [{"type": "image", "image": im} for im in images] + [{"type": "text", "text": prompt}]
        messages = ([{"role": "system", "content": [{"type": "text", "text": system}]}] if system else [])
        messages.append({"role": "user", "content": content})
        with self._lock:
            inputs = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                        return_dict=True, return_tensors="pt")
            inputs = inputs.to(self.device)
            if "pixel_values" in inputs and inputs["pixel_values"].is_floating_point():
                inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
            with torch.inference_mode():
                out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        n_in = inputs["input_ids"].shape[1]
        new = out[0, n_in:]
        text = self.processor.batch_decode(new[None], skip_special_tokens=True)[0]
        return CaptionResult(text=text, prompt_tokens=int(n_in), completion_tokens=int(new.shape[0]))


__all__ = ["LocalBackend"]
