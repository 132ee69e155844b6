"""The ``traffic-captioning`` pipeline: a capture (or packets, or windows, or features) in, time-stamped captions out.

    >>> import t2t_hf                      # registers the task
    >>> from transformers import pipeline
    >>> captioner = pipeline("traffic-captioning", model="hub/models/t2t-small")
    >>> captioner("capture.pcap", window_length=10.0, batch_size=32, num_beams=3)
    [{"start": 1700000000.0, "end": 1700000010.0, "device": "10.0.0.2", "caption": "...", "app_type": "video",
      "score": 0.81, "app_type_scores": {"video": 0.9, ...}}, ...]
"""

from __future__ import annotations

import io
import math
import os
from typing import Any

import numpy as np
import torch
from transformers import Pipeline

from t2t_hf.errors import T2TInputError

_PREPROCESS_KEYS = ("window_length", "stride", "devices", "decapsulate")


class _Traffic:
    """Wraps the user's input so the base Pipeline never mistakes a list of windows for a list of inputs."""

    def __init__(self, value):
        self.value = value


class TrafficCaptioningPipeline(Pipeline):
    """Captions every window of a capture, for every device in it.

    Inputs (one per call, or a list of capture paths / bytes for several captures):
      - a pcap/pcapng path (str or ``os.PathLike``) or the file's bytes: read with ``t2t_hf.traffic.read_capture``;
      - a ``t2t_hf.traffic.PacketTable``;
      - a ``Window``, a list of windows, a corpus example dict or a list of them;
      - ready features: a dict / ``BatchFeature`` with ``input_features`` (and ``attention_mask``,
        ``time_bin_features``, ``window_stats``) as the feature extractor makes them.

    Call options:
      window_length (float s, default the feature extractor's, 10.0), stride (float s, default = window_length),
      devices (address or list of addresses: only these devices; default all), decapsulate (bool, tunnels),
      batch_size (windows per forward pass, default 64), and any ``generate`` option (``num_beams``,
      ``do_sample``, ``top_k``, ``top_p``, ``temperature``, ``max_new_tokens``, ...) or ``generate_kwargs={...}``.

    Output: a list with one dict per window, ordered by (device, start):
      ``start``/``end`` (float s, capture clock; None for ready features), ``device`` (str; None when unknown),
      ``caption`` (str), ``app_type`` (str, or None when the model has no app-type head), ``score`` (float in
      (0, 1]: the geometric mean of the caption's token probabilities under the model), ``app_type_scores``
      (dict app type -> probability; empty without the head). For a list of captures: a list of such lists.
    """

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = True
    _load_tokenizer = True

    def __call__(self, inputs, **kwargs):
        batch_size = kwargs.pop("batch_size", None)
        if batch_size is None:
            batch_size = self._batch_size if self._batch_size is not None else 64
        kwargs.pop("num_workers", None)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise T2TInputError(f"batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(inputs, (list, tuple)) and inputs and all(isinstance(x, (str, os.PathLike, bytes, bytearray))
                                                                for x in inputs):
            return [self(x, batch_size=batch_size, **kwargs) for x in inputs]
        kwargs["_window_batch_size"] = batch_size
        return super().__call__(_Traffic(inputs), **kwargs)

    def _sanitize_parameters(self, _window_batch_size=None, generate_kwargs=None, **kwargs):
        preprocess = {k: kwargs.pop(k) for k in _PREPROCESS_KEYS if k in kwargs}
        if "window_length" in preprocess:
            wl = preprocess["window_length"]
            if not isinstance(wl, (int, float)) or not math.isfinite(wl) or wl <= 0:
                raise T2TInputError(f"window_length must be a positive number of seconds, got {wl!r}")
        forward: dict[str, Any] = {}
        if _window_batch_size is not None:
            forward["batch_size"] = _window_batch_size
        gen = dict(generate_kwargs or {})
        gen.update(kwargs)  # everything else is a generation option
        if gen:
            forward["generate_kwargs"] = gen
        return preprocess, forward, {}

    # -- preprocess: anything -> windows (with metadata) or ready features ---------------------------------------
    def preprocess(self, inputs: _Traffic, window_length: float | None = None, stride: float | None = None,
                   devices=None, decapsulate: bool = False):
        value = inputs.value if isinstance(inputs, _Traffic) else inputs
        if value is None:
            raise T2TInputError("no input: give a capture path, its bytes, a PacketTable, windows or features")
        if isinstance(value, (dict,)) and "input_features" in value or _is_batch_feature(value):
            n = int(np.asarray(value["input_features"]).shape[0]) if not torch.is_tensor(value["input_features"]) \
                else int(value["input_features"].shape[0])
            return {"features": value, "meta": [(None, None, None)] * n}
        if isinstance(value, (str, os.PathLike, bytes, bytearray)):
            value = self._read(value, decapsulate)
        if _is_packet_table(value):
            value = self._windows(value, window_length, stride, devices)
        items = value if isinstance(value, (list, tuple)) else [value]
        if not items:
            raise T2TInputError("no window to caption: the input list is empty")
        meta = []
        for item in items:
            if isinstance(item, dict):
                start = item.get("window_start")
                length = item.get("window_length")
                end = float(start) + float(length) if start is not None and length is not None else None
                meta.append((_float(start), end, item.get("device")))
            else:
                meta.append((_float(getattr(item, "start", None)), _float(getattr(item, "end", None)),
                             getattr(item, "device", None)))
        return {"windows": list(items), "meta": meta}

    def _read(self, source, decapsulate: bool):
        try:
            from t2t_hf.traffic import read_capture
        except ImportError as e:  # pragma: no cover - t2t_hf.traffic is part of the package
            raise T2TInputError(f"reading captures needs t2t_hf.traffic: {e}") from None
        if isinstance(source, (bytes, bytearray)):
            if not source:
                raise T2TInputError("the capture bytes are empty")
            return read_capture(io.BytesIO(bytes(source)), decapsulate=decapsulate)
        if not os.path.exists(source):
            raise T2TInputError(f"no such capture file: {os.fspath(source)}")
        return read_capture(source, decapsulate=decapsulate)

    def _windows(self, table, window_length, stride, devices):
        try:
            from t2t_hf.traffic import make_windows
        except ImportError as e:
            raise T2TInputError(f"windowing packet tables needs t2t_hf.traffic.make_windows: {e}") from None
        wl = float(window_length or self.feature_extractor.window_length)
        windows = make_windows(table, window=wl, stride=stride, device=devices)
        if not windows:
            raise T2TInputError("the capture holds no IP packet of any device, so there is nothing to caption")
        return windows

    # -- forward: batches of windows -> generated ids, scores, app-type probabilities -----------------------------
    def _forward(self, model_inputs, batch_size: int = 64, generate_kwargs: dict | None = None):
        gen = dict(generate_kwargs or {})
        for k in ("return_dict_in_generate", "output_logits", "output_scores"):  # the pipeline sets these itself
            gen.pop(k, None)
        results = []
        if "features" in model_inputs:
            feats = model_inputs["features"]
            n = len(model_inputs["meta"])
            chunks = [{k: _slice(v, i, i + batch_size) for k, v in feats.items()} for i in range(0, n, batch_size)]
        else:
            windows = model_inputs["windows"]
            chunks = (self.feature_extractor(windows[i: i + batch_size], return_tensors="pt")
                      for i in range(0, len(windows), batch_size))
        encoder = self.model.get_encoder()
        config = gen.get("generation_config") or self.model.generation_config
        beams = gen.get("num_beams") or getattr(config, "num_beams", 1) or 1
        single_path = int(beams) == 1
        for chunk in chunks:
            chunk = {k: (torch.as_tensor(np.asarray(v)) if not torch.is_tensor(v) else v).to(self.device)
                     for k, v in chunk.items() if k in ("input_features", "attention_mask", "time_bin_features",
                                                          "window_stats")}
            for k in ("input_features", "time_bin_features", "window_stats"):
                if k in chunk:
                    chunk[k] = chunk[k].to(self.model.dtype)
            enc = encoder(**chunk)
            # reuse this encoder pass inside generate (a shallow copy: generate expands it in place for beams)
            logp = None
            if single_path:  # greedy or sampling: the scores come from generate's own logits, no second pass
                out = self.model.generate(**chunk, encoder_outputs=type(enc)(**enc), output_logits=True,
                                          return_dict_in_generate=True, **gen)
                sequences = out.sequences
                logp = _mean_token_logp(sequences, out.logits, self.model.config)
            else:
                sequences = self.model.generate(**chunk, encoder_outputs=type(enc)(**enc), **gen)
            num_seq = sequences.shape[0] // enc.pooled_output.shape[0]
            if num_seq > 1:  # num_return_sequences > 1: repeat the encoder output to match
                enc = type(enc)(**{k: v.repeat_interleave(num_seq, 0) if torch.is_tensor(v) else v
                                   for k, v in enc.items()})
            if logp is None:  # beam search: beams are reordered, so score the final captions in one decoder pass
                logp = self.model.score_captions(sequences, enc)
            head = getattr(self.model, "app_type_head", None)
            probs = torch.softmax(head(enc.pooled_output).float(), -1) if head is not None else None
            results.append({"sequences": sequences.cpu(), "logp": logp.cpu(),
                            "app_type_probs": probs.cpu() if probs is not None else None, "num_seq": num_seq})
        return {"results": results, "meta": model_inputs["meta"]}

    # -- postprocess: ids -> dicts ------------------------------------------------------------------------------
    def postprocess(self, model_outputs):
        labels = list(getattr(self.model.config, "app_types", []))
        out = []
        for r in model_outputs["results"]:
            captions = self.tokenizer.batch_decode(r["sequences"], skip_special_tokens=True)
            for j, caption in enumerate(captions):
                entry = {"caption": caption.strip(), "score": float(math.exp(float(r["logp"][j])))}
                if r["app_type_probs"] is not None:
                    p = r["app_type_probs"][j].tolist()
                    entry["app_type"] = labels[int(np.argmax(p))]
                    entry["app_type_scores"] = {name: float(v) for name, v in zip(labels, p)}
                else:
                    entry["app_type"], entry["app_type_scores"] = None, {}
                out.append(entry)
        meta = model_outputs["meta"]
        per = len(out) // max(1, len(meta))
        final = []
        for i, entry in enumerate(out):
            start, end, device = meta[i // per]
            final.append({"start": start, "end": end, "device": device, **entry})
        return final


def _float(v):
    return None if v is None else float(v)


def _slice(v, a, b):
    return v[a:b]


def _is_packet_table(x) -> bool:
    return hasattr(x, "timestamp") and hasattr(x, "src_addr") and hasattr(x, "ip_len")


def _is_batch_feature(x) -> bool:
    return hasattr(x, "keys") and hasattr(x, "__getitem__") and "input_features" in x.keys()



def _mean_token_logp(sequences: torch.Tensor, logits: tuple, config) -> torch.Tensor | None:
    """Mean log-probability per caption of ``sequences`` [B, L] (decoder start token first) from generate's raw
    per-step ``logits`` (L - 1 tensors [B, V]), counting tokens up to and including the first ``</s>`` -> [B];
    the same value as ``score_captions`` without a second decoder pass. None if the shapes do not line up (e.g.
    beam search, whose logits are per beam): the caller then scores the captions in a decoder pass."""
    from t2t_hf.modeling_t2t import mean_caption_logp

    targets = sequences[:, 1:]
    if not logits or len(logits) != targets.shape[1] or logits[0].shape[0] != sequences.shape[0]:
        return None
    logp = torch.log_softmax(torch.stack(logits, 1).float(), dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return mean_caption_logp(logp, targets, config.eos_token_id, config.pad_token_id)


__all__ = ["TrafficCaptioningPipeline"]
