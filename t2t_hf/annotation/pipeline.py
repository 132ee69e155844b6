"""Screen recording + capture in, time-aligned captions out (one JSONL record per traffic window).

Steps: probe the recording; read the capture; align the clocks
(:mod:`~t2t_hf.annotation.align`); cut the capture's time line into windows of
``window`` seconds starting at its first packet (the same grid as
``t2t_hf.traffic.make_windows``); for each window the recording covers, take a few
frames, ask the backend for a caption, append the record.

The output is resumable. Records are appended one per line, flushed and fsynced;
on restart the file is read back, a torn last line (a run killed mid-write) is cut
off, and windows already written are skipped, so a killed run loses nothing and
duplicates nothing. Captions finished but not yet written when a run dies are in
the cache and cost nothing the second time.

Record (JSON, one per line)::

    {"start": 1764777600.0, "end": 1764777610.0, "caption": "The user is ...",
     "model": "qwen-vl-max", "prompt_version": "t2t-annotate-v1",
     "frame_times": [1.67, 5.0, 8.33], "app": "TikTok"}

``start``/``end``: absolute capture-clock seconds (floats); ``frame_times``: video
seconds of the frames shown to the model; ``app``/``app_type``/``activity`` only
when given. The corpus's ``pcap`` config reads this file when it lies beside the
capture with the same stem (``capture.pcap`` + ``capture.jsonl``).
"""

from __future__ import annotations

import collections
import json
import logging
import math
import os
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import T2TInputError, T2TInputWarning
from ..fileio import atomic_write
from . import align as _align
from .backends import BackendError, make_backend
from .cache import CaptionCache, cache_key, default_cache_dir
from .prompt import PROMPT_VERSION, SYSTEM_PROMPT, build_user_prompt, clean_caption
from .video import DEFAULT_MAX_SIDE, VideoInfo, frame_hash, iter_frames_at, probe_video

log = logging.getLogger("t2t_hf.annotation")

ALIGN_METHODS = ("metadata", "auto", "marker")
APP_TYPES = ("video", "social", "messaging", "browsing", "music_games", "unknown")


@dataclass
class AnnotationResult:
    """What a run did. ``written``: records appended now; ``already_done``: windows found in the file;
    ``failed``: windows left out (empty captions; a rerun retries them); ``cached``: answers from the
    cache; ``tokens``: prompt + completion tokens reported by the backend for new requests."""

    out: str
    alignment: _align.Alignment
    windows: int = 0
    written: int = 0
    already_done: int = 0
    failed: int = 0
    cached: int = 0
    tokens: int = 0
    elapsed_s: float = 0.0
    failed_starts: list = field(default_factory=list)


@dataclass
class WindowJob:
    """One window to caption: capture-clock ``start``/``end`` (s), the video times to sample (s) and
    ``covered``, the seconds of the window the recording covers."""

    start: float
    end: float
    sample_times: list
    covered: float


# -- windows ------------------------------------------------------------------------------------------

def plan_windows(capture_start: float, capture_end: float, alignment: _align.Alignment, video: VideoInfo, *,
                 window: float, frames_per_window: int, min_coverage: float) -> list[WindowJob]:
    """Windows ``[capture_start + k*window, +window)`` that the recording covers for at least
    ``min_coverage * window`` seconds, with ``frames_per_window`` video times evenly spread over
    the covered part (the centres of equal sub-intervals).

    Raises:
        T2TInputError: the recording, placed on the capture clock, covers no window.
    """
    v0 = alignment.offset
    v1 = alignment.offset + video.duration
    jobs = []
    n = int(math.floor((capture_end - capture_start) / window)) + 1
    k0 = max(0, int(math.floor((v0 - capture_start) / window)))
    k1 = min(n - 1, int(math.floor((v1 - capture_start) / window)))
    for k in range(k0, k1 + 1):
        ws = capture_start + k * window
        we = ws + window
        lo, hi = max(ws, v0), min(we, v1)
        if hi - lo < min_coverage * window - 1e-9:
            continue
        a, b = lo - alignment.offset, hi - alignment.offset
        step = (b - a) / frames_per_window
        jobs.append(WindowJob(ws, we, [a + (i + 0.5) * step for i in range(frames_per_window)], hi - lo))
    if not jobs:
        raise T2TInputError(
            f"the recording does not overlap the capture in time: on the capture clock the recording spans "
            f"{_fmt(v0)} .. {_fmt(v1)} ({video.duration:.1f} s, alignment {alignment.method}, offset "
            f"{alignment.offset:.3f} s) and the capture {_fmt(capture_start)} .. {_fmt(capture_end)}; give the "
            "recording and capture made at the same time, or fix the alignment (--offset SECONDS, --video-start, "
            "--align auto or --align marker)", path=video.path)
    return jobs


def _fmt(t: float) -> str:
    if t > 1e8:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d} UTC"
    return f"{t:.3f} s"


# -- resumable output ---------------------------------------------------------------------------------

def read_done(out: Path, *, window: float, capture_start: float, model_name: str) -> set[int]:
    """Window indices already in ``out``; cuts off a torn last line.

    Raises:
        T2TInputError: the file holds other content (bad JSON before the last line), or records made
            with another window length, capture or model (a rerun must use the same settings).
    """
    if not out.exists():
        return set()
    with open(out, "rb") as f:
        data = f.read()
    done: set[int] = set()
    good_end = 0
    lines = data.split(b"\n")
    for i, raw in enumerate(lines):
        last = i == len(lines) - 1
        if not raw.strip():
            if not last:
                good_end += len(raw) + 1
            continue
        try:
            rec = json.loads(raw)
            if not isinstance(rec, dict):
                raise ValueError
            start, end = float(rec["start"]), float(rec["end"])
        except (ValueError, KeyError, TypeError):
            if last:  # torn by a killed run: cut it off
                break
            raise T2TInputError(f"line {i + 1} is not an annotation record; choose another --out or delete the "
                                "file to start over", path=str(out)) from None
        if last:  # a complete record but no newline: the write was cut before "\n"
            break
        if abs((end - start) - window) > 1e-6:
            raise T2TInputError(f"line {i + 1} covers {end - start:g} s but --window is {window:g}; rerun with "
                                f"--window {end - start:g} or write to another --out", path=str(out))
        k = (start - capture_start) / window
        if abs(k - round(k)) > 1e-6:
            raise T2TInputError(f"line {i + 1} (start {start}) is not on this capture's window grid; the file "
                                "was made for another capture; write to another --out", path=str(out))
        if rec.get("model") not in (None, model_name):
            raise T2TInputError(f"line {i + 1} was written by model {rec.get('model')!r}, this run uses "
                                f"{model_name!r}; use the same model to resume, or another --out", path=str(out))
        if rec.get("prompt_version") not in (None, PROMPT_VERSION):
            raise T2TInputError(f"line {i + 1} was written with prompt {rec.get('prompt_version')!r}, this version "
                                f"uses {PROMPT_VERSION!r}; write to another --out", path=str(out))
        done.add(int(round(k)))
        good_end += len(raw) + 1
    if good_end < len(data):
        warnings.warn(f"{out}: cut off an incomplete last record ({len(data) - good_end} bytes) left by an "
                      "interrupted run; that window is captioned again", T2TInputWarning, stacklevel=3)
        with open(out, "r+b") as f:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())
    return done


def _append(f, record: dict) -> None:
    f.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
    f.flush()
    os.fsync(f.fileno())


# -- alignment from arguments -------------------------------------------------------------------------

def compute_alignment(info: VideoInfo, timestamps: np.ndarray, sizes: np.ndarray, *, align: str,
                      offset: float | None, video_start=None, metadata_anchor: str = "start", marker_time=None,
                      clock_pairs=None, search: float | None = 300.0,
                      marker_scan: float | None = None) -> _align.Alignment:
    """Dispatch to :mod:`~t2t_hf.annotation.align`. ``offset`` is a manual correction in seconds, added to
    the metadata time (``metadata``) or to the centre of the search (``auto``)."""
    if align not in ALIGN_METHODS:
        raise T2TInputError(f"unknown alignment {align!r}; use one of {', '.join(ALIGN_METHODS)}")
    correction = float(offset or 0.0)
    if align == "metadata":
        return _align.align_metadata(info, correction=correction, video_start=video_start, anchor=metadata_anchor)
    if align == "marker":
        if offset:
            raise T2TInputError("--offset applies to --align metadata/auto; with a marker the marker sets the time")
        return _align.align_marker(info, marker_time=marker_time, clock_pairs=clock_pairs, scan_seconds=marker_scan)
    prior = None
    if video_start is not None or info.creation_time is not None:
        prior = _align.align_metadata(info, correction=correction, video_start=video_start,
                                      anchor=metadata_anchor).offset
    return _align.align_auto(info, timestamps, sizes, prior=prior, search=search if prior is not None and search else None)


def _device_mask(table, device: str | None) -> np.ndarray:
    """Packets to or from ``device`` (an address string); None = the most active client device."""
    if device is None:
        from ..traffic import detect_devices

        devices = detect_devices(table)
        if not devices:  # no client stands out (e.g. one long flow): the capture's traffic is the phone's
            log.info("no client device detected; correlating with all traffic in the capture")
            return np.ones(len(table), bool)
        device = devices[0]
    from ..traffic.table import encode_addresses

    try:
        addr = encode_addresses([device])[0]
    except ValueError:
        raise T2TInputError(f"--device {device!r} is not an IP address") from None
    mask = (table.src_addr == addr) | (table.dst_addr == addr)
    if not mask.any():
        raise T2TInputError(f"no packets to or from --device {device} in the capture; give the phone's address")
    return mask


# -- the pipeline --------------------------------------------------------------------------------------

def annotate(video, pcap, out=None, *, window: float = 10.0, backend="openai", backend_options: dict | None = None,
             offset: float | None = None, align: str = "metadata", video_start=None, metadata_anchor: str = "start",
             marker_time=None, clock_pairs: Sequence | None = None, marker_scan: float | None = None,
             search: float | None = 300.0,
             device: str | None = None, frames_per_window: int = 3, min_coverage: float = 0.5,
             max_side: int | None = DEFAULT_MAX_SIDE, app: str | None = None, app_type: str | None = None,
             activity: str | None = None, cache_dir=None, progress: bool = True,
             limit: int | None = None) -> AnnotationResult:
    """Caption every traffic window a screen recording covers; append the records to a JSONL file.

    Args:
        video: the screen recording (any format FFmpeg reads).
        pcap: the capture made at the same time (pcap/pcapng).
        out: the JSONL file (default: the capture's path with suffix ``.jsonl``, where the corpus
            ``pcap`` config looks for it). Appended to; an existing file is resumed.
        window: window length in seconds (must match the corpus config's ``window``).
        backend: "openai", "local" or a backend object (see :mod:`~t2t_hf.annotation.backends`).
        backend_options: keyword arguments for the backend ("openai": base_url, model, api_key,
            concurrency, rate_limit, max_retries, ...; "local": model_dir, device, dtype, ...).
        offset: manual clock correction, seconds (capture = video + metadata time + offset).
        align: "metadata", "auto" or "marker" (see :mod:`~t2t_hf.annotation.align`).
        video_start: capture-clock time of the first frame (epoch s or ISO 8601), overriding the tag.
        metadata_anchor: "start" or "end": what the file's creation_time marks.
        marker_time, clock_pairs: for ``align="marker"`` (neither: read the timecode marker page).
        marker_scan: for the timecode marker: look only at the first this many seconds of video.
        search: for ``align="auto"`` with a metadata time: search +- this many seconds around it
            (None or 0: the whole capture, e.g. when the recorder's clock or time zone is wrong).
        device: the phone's address (for ``auto``; None = most active device).
        frames_per_window: frames shown to the model per window (identical frames are sent once).
        min_coverage: skip windows the recording covers for less than this fraction.
        max_side: frames are downscaled to at most this many pixels on the longer side.
        app, app_type, activity: labels copied into every record (app_type one of the corpus types).
        cache_dir: caption cache folder (None = :func:`~t2t_hf.annotation.cache.default_cache_dir`,
            False = no cache).
        progress: show a tqdm bar (count, ETA, tokens).
        limit: caption at most this many new windows (then stop; rerun to continue).

    Returns:
        An :class:`AnnotationResult`.

    Raises:
        T2TInputError: unreadable video or capture, no time overlap, bad options, missing API key.
        BackendError: the endpoint kept failing (records written so far are kept; rerun to resume).
    """
    t_begin = time.monotonic()
    if not (isinstance(window, (int, float)) and math.isfinite(window) and window > 0):
        raise T2TInputError(f"--window must be a positive number of seconds, got {window!r}")
    if frames_per_window < 1:
        raise T2TInputError(f"--frames must be at least 1, got {frames_per_window}")
    if not 0 < min_coverage <= 1:
        raise T2TInputError(f"--min-coverage must be in (0, 1], got {min_coverage}")
    if app_type is not None and app_type not in APP_TYPES:
        raise T2TInputError(f"--app-type must be one of {', '.join(APP_TYPES)}, got {app_type!r}")
    pcap = Path(pcap)
    out = Path(out) if out is not None else pcap.with_suffix(".jsonl")
    info = probe_video(video)
    if backend == "openai":  # cheap to build: a missing key fails before any slow work
        backend = make_backend(backend, **(backend_options or {}))

    from ..traffic import read_capture

    table = read_capture(pcap)
    ts = np.asarray(table.timestamp, np.float64)
    if len(table) == 0 or not np.any(np.isfinite(ts)):
        raise T2TInputError("the capture holds no timestamped IP packets; give the capture recorded with the video",
                            path=str(pcap))
    capture_start, capture_end = float(np.nanmin(ts)), float(np.nanmax(ts))
    mask = _device_mask(table, device) if align == "auto" else None
    alignment = compute_alignment(
        info, ts[mask] if mask is not None else ts, table.ip_len[mask] if mask is not None else table.ip_len,
        align=align, offset=offset, video_start=video_start, metadata_anchor=metadata_anchor,
        marker_time=marker_time, clock_pairs=clock_pairs, search=search, marker_scan=marker_scan)
    log.info("alignment %s: offset %.3f s (video 0 s = %s), confidence %s", alignment.method, alignment.offset,
             _fmt(alignment.offset), "n/a" if alignment.confidence is None else f"{alignment.confidence:.2f}")
    if alignment.method == "auto" and alignment.confidence is not None and alignment.confidence < 0.2:
        warnings.warn(f"automatic alignment is uncertain (confidence {alignment.confidence:.2f}: another offset, "
                      f"{alignment.details.get('runner_up_offset')}, fits almost as well); check a few captions "
                      "or use --align marker", T2TInputWarning, stacklevel=2)
    jobs = plan_windows(capture_start, capture_end, alignment, info, window=float(window),
                        frames_per_window=int(frames_per_window), min_coverage=float(min_coverage))

    if isinstance(backend, str):  # a local model loads only once the windows are known
        backend = make_backend(backend, **(backend_options or {}))
    model_name = backend.model_name
    cache = None if cache_dir is False else CaptionCache(cache_dir or default_cache_dir())
    result = AnnotationResult(out=str(out), alignment=alignment, windows=len(jobs))

    out.parent.mkdir(parents=True, exist_ok=True)
    done = read_done(out, window=float(window), capture_start=capture_start, model_name=model_name)
    todo = [j for j in jobs if int(round((j.start - capture_start) / window)) not in done]
    result.already_done = len(jobs) - len(todo)
    if limit is not None:
        todo = todo[: max(0, int(limit))]
    _write_alignment(out, alignment, info, pcap)
    if not todo:
        result.elapsed_s = time.monotonic() - t_begin
        return result

    labels = {k: v for k, v in (("app", app), ("app_type", app_type), ("activity", activity)) if v}
    bar = _progress(len(todo), progress)
    frames = iter_frames_at(info, [t for j in todo for t in j.sample_times], max_side=max_side)
    pending: collections.deque = collections.deque()
    pool = ThreadPoolExecutor(max_workers=max(1, int(getattr(backend, "concurrency", 1))),
                              thread_name_prefix="t2t-annotate")
    depth = 2 * pool._max_workers
    try:
        with open(out, "ab") as f:
            for job in todo:
                shots = [next(frames) for _ in job.sample_times]
                images, times, hashes = [], [], []
                for t, im in shots:
                    h = frame_hash(im)
                    if h not in hashes:
                        images.append(im), times.append(round(t, 6)), hashes.append(h)
                prompt = build_user_prompt(len(images), job.covered, app)
                key = cache_key(model_name, hashes, prompt, SYSTEM_PROMPT)
                hit = cache.get(key) if cache else None
                if hit is not None:
                    fut: Future = Future()
                    fut.set_result(("cache", hit))
                else:
                    fut = pool.submit(_ask, backend, images, prompt, cache, key)
                pending.append((job, times, fut))
                while len(pending) >= depth or (pending and pending[0][2].done()):
                    _finish(pending.popleft(), f, result, model_name, labels, bar)
            while pending:
                _finish(pending.popleft(), f, result, model_name, labels, bar)
    finally:
        frames.close()
        for _, _, fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    result.elapsed_s = time.monotonic() - t_begin
    if result.failed:
        warnings.warn(f"{result.failed} window(s) got an empty caption and were not written; rerun to retry them",
                      T2TInputWarning, stacklevel=2)
    return result


def _ask(backend, images, prompt, cache, key):
    res = backend.caption(images, prompt, SYSTEM_PROMPT)
    caption = clean_caption(res.text)
    entry = {"caption": caption, "raw": res.text, "model": backend.model_name, "prompt_version": PROMPT_VERSION,
             "prompt_tokens": res.prompt_tokens, "completion_tokens": res.completion_tokens}
    if cache is not None and caption:
        cache.put(key, entry)
    return "new", entry


def _finish(item, f, result: AnnotationResult, model_name: str, labels: dict, bar) -> None:
    job, times, fut = item
    source, entry = fut.result()  # re-raises T2TInputError / BackendError from the worker
    if source == "cache":
        result.cached += 1
    else:
        result.tokens += int(entry.get("prompt_tokens", 0)) + int(entry.get("completion_tokens", 0))
    if entry["caption"]:
        _append(f, {"start": job.start, "end": job.end, "caption": entry["caption"], "model": model_name,
                    "prompt_version": PROMPT_VERSION, "frame_times": times, **labels})
        result.written += 1
    else:
        result.failed += 1
        result.failed_starts.append(job.start)
        log.warning("empty caption for the window at %s (model answered %r); not written", _fmt(job.start),
                    entry.get("raw", "")[:80])
    if bar is not None:
        bar.set_postfix(tokens=result.tokens, cached=result.cached, refresh=False)
        bar.update(1)


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="window", desc="annotate", dynamic_ncols=True)


def _write_alignment(out: Path, alignment: _align.Alignment, info: VideoInfo, pcap: Path) -> None:
    """``<out>.alignment.json``: how the clocks were aligned (atomic write), for the record."""
    side = out.with_name(out.name + ".alignment.json")
    doc = {"video": os.path.basename(info.path), "capture": pcap.name, "video_duration_s": info.duration,
           "prompt_version": PROMPT_VERSION, **alignment.to_dict()}
    atomic_write(side, json.dumps(doc, indent=1, default=float))


__all__ = ["annotate", "AnnotationResult", "plan_windows", "read_done", "compute_alignment", "ALIGN_METHODS",
           "BackendError"]
