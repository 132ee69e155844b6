"""Time-stamped caption files: the annotation JSONL and SRT-style subtitles.

A caption track says what was on the phone's screen from ``start`` to ``end``
seconds. Two file forms are read and written:

- **JSONL** (``.jsonl``), what the annotation pipeline writes: one JSON object a
  line, ``{"start": 12.0, "end": 22.0, "caption": "The user is ..."}`` plus
  optional ``model``, ``prompt_version``, ``frame_times`` (list of seconds),
  ``app``, ``app_type``, ``activity``, ``user``, ``environment``. Blank lines
  and lines starting with ``#`` are skipped.
- **SRT** (``.srt``): numbered cues ``HH:MM:SS,mmm --> HH:MM:SS,mmm`` followed by
  the caption text (one or more lines), cues separated by blank lines. A ``.``
  instead of ``,`` before the milliseconds is accepted (WebVTT style).

Times are seconds. In JSONL they are either relative to the start of the
capture (the usual case, and always the case in SRT) or absolute Unix
timestamps on the capture clock; :func:`caption_times_on_capture_clock` maps
them onto the capture clock (see its docstring for the rule).

Bad files raise :class:`~t2t_hf.errors.T2TInputError` with the file and line number.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import T2TInputError
from ..fileio import atomic_write

CAPTION_SUFFIXES: tuple[str, ...] = (".jsonl", ".srt")

#: timestamps above this (seconds) are taken as absolute Unix time (1973-03-03 onwards)
ABSOLUTE_TIME_THRESHOLD = 1e8

_OPTIONAL_STR = ("model", "prompt_version", "app", "app_type", "activity", "user", "environment")


@dataclass
class CaptionRecord:
    """One caption over a time span.

    Attributes:
        start, end: seconds (relative to the capture start, or absolute Unix time); ``end > start``.
        caption: the caption text (non-empty).
        model, prompt_version: what wrote the caption (annotation pipeline), optional.
        frame_times: seconds (on the screen recording's clock) of the frames the caption was made from, optional.
        app, app_type, activity, user, environment: labels, optional.
    """

    start: float
    end: float
    caption: str
    model: str | None = None
    prompt_version: str | None = None
    frame_times: list[float] | None = None
    app: str | None = None
    app_type: str | None = None
    activity: str | None = None
    user: str | None = None
    environment: str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """A JSON-ready dict with the optional fields that are set."""
        d = {k: v for k, v in asdict(self).items() if v is not None and k != "extra"}
        d.update(self.extra)
        return d

    def overlap(self, start: float, end: float) -> float:
        """Seconds of overlap between this record and ``[start, end)``."""
        return max(0.0, min(self.end, end) - max(self.start, start))


# -- JSONL -------------------------------------------------------------------

def read_jsonl(path: str | os.PathLike) -> list[CaptionRecord]:
    """Read an annotation JSONL file. Returns records sorted by start time.

    Raises T2TInputError (with the line number) on invalid JSON, a missing or
    wrongly typed field, ``end <= start``, or a file with no records.
    """
    path = Path(path)
    text = _read_text(path)
    records = []
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as e:
            raise T2TInputError(f"line {lineno}: not valid JSON ({e.msg} at column {e.colno}); each line must be "
                                'one object like {"start": 0.0, "end": 10.0, "caption": "..."}', path=str(path)) from None
        records.append(_record_from_obj(obj, path, lineno))
    if not records:
        raise T2TInputError("no caption records found; expected one JSON object per line with start, end, caption",
                            path=str(path))
    return sorted(records, key=lambda r: (r.start, r.end))


def _record_from_obj(obj, path: Path, lineno: int) -> CaptionRecord:
    where = f"line {lineno}"
    if not isinstance(obj, dict):
        raise T2TInputError(f"{where}: expected a JSON object, got {type(obj).__name__}", path=str(path))
    for k in ("start", "end", "caption"):
        if k not in obj:
            raise T2TInputError(f"{where}: missing field {k!r} (each record needs start, end in seconds and caption)",
                                path=str(path))
    start, end = obj["start"], obj["end"]
    for k, v in (("start", start), ("end", end)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise T2TInputError(f"{where}: {k} must be a non-negative number of seconds, got {v!r}", path=str(path))
    if end <= start:
        raise T2TInputError(f"{where}: end ({end}) must be after start ({start})", path=str(path))
    caption = obj["caption"]
    if not isinstance(caption, str) or not caption.strip():
        raise T2TInputError(f"{where}: caption must be a non-empty string", path=str(path))
    kwargs = {}
    for k in _OPTIONAL_STR:
        v = obj.get(k)
        if v is not None and not isinstance(v, str):
            raise T2TInputError(f"{where}: {k} must be a string, got {type(v).__name__}", path=str(path))
        kwargs[k] = v
    ft = obj.get("frame_times")
    if ft is not None:
        if not isinstance(ft, list) or not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in ft):
            raise T2TInputError(f"{where}: frame_times must be a list of seconds", path=str(path))
        ft = [float(t) for t in ft]
    known = set(_OPTIONAL_STR) | {"start", "end", "caption", "frame_times"}
    extra = {k: v for k, v in obj.items() if k not in known}
    return CaptionRecord(start=float(start), end=float(end), caption=caption.strip(), frame_times=ft, extra=extra,
                         **kwargs)


def write_jsonl(records: Iterable[CaptionRecord], path: str | os.PathLike) -> Path:
    """Write records as JSONL, atomically (temp file + rename). Returns the path."""
    lines = [json.dumps(r.to_json(), ensure_ascii=False) for r in records]
    return atomic_write(path, "\n".join(lines) + ("\n" if lines else ""), make_parents=True)


# -- SRT ---------------------------------------------------------------------

_SRT_TIME = re.compile(r"^\s*(\d+):(\d{1,2}):(\d{1,2})[,.](\d{1,3})\s*-->\s*(\d+):(\d{1,2}):(\d{1,2})[,.](\d{1,3})"
                       r"(?:\s+.*)?$")


def _srt_seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000.0


def read_srt(path: str | os.PathLike) -> list[CaptionRecord]:
    """Read SRT-style captions (times relative to the capture start). Returns records sorted by start.

    Raises T2TInputError with the line number on a cue without a valid
    ``HH:MM:SS,mmm --> HH:MM:SS,mmm`` line, a cue without text, ``end <= start``,
    or a file with no cues.
    """
    path = Path(path)
    text = _read_text(path)
    lines = text.splitlines()
    records = []
    i = 0
    n = len(lines)
    while i < n:
        if not lines[i].strip() or (i == 0 and lines[i].strip().upper().startswith("WEBVTT")):
            i += 1
            continue
        block_start = i
        # optional cue number
        if not _SRT_TIME.match(lines[i]):
            if lines[i].strip().isdigit() and i + 1 < n:
                i += 1
            m = _SRT_TIME.match(lines[i]) if i < n else None
            if m is None:
                raise T2TInputError(f"line {i + 1}: expected a time line like '00:00:01,000 --> 00:00:05,000', "
                                    f"got {lines[i].strip()[:60]!r}", path=str(path))
        m = _SRT_TIME.match(lines[i])
        g = m.groups()
        start, end = _srt_seconds(*g[:4]), _srt_seconds(*g[4:])
        time_line = i + 1
        i += 1
        body = []
        while i < n and lines[i].strip():
            body.append(lines[i].strip())
            i += 1
        caption = " ".join(body).strip()
        if not caption:
            raise T2TInputError(f"line {time_line}: cue starting at line {block_start + 1} has no caption text",
                                path=str(path))
        if end <= start:
            raise T2TInputError(f"line {time_line}: end ({end:.3f} s) must be after start ({start:.3f} s)",
                                path=str(path))
        records.append(CaptionRecord(start=start, end=end, caption=caption))
    if not records:
        raise T2TInputError("no caption cues found; expected SRT cues like "
                            "'1\\n00:00:00,000 --> 00:00:10,000\\nThe user is ...'", path=str(path))
    return sorted(records, key=lambda r: (r.start, r.end))


def _srt_time(t: float) -> str:
    ms = int(round(t * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def write_srt(records: Iterable[CaptionRecord], path: str | os.PathLike) -> Path:
    """Write records as SRT (times in seconds relative to the capture start), atomically."""
    blocks = []
    for k, r in enumerate(records, 1):
        blocks.append(f"{k}\n{_srt_time(r.start)} --> {_srt_time(r.end)}\n{r.caption}\n")
    return atomic_write(path, "\n".join(blocks), make_parents=True)


# -- dispatch ----------------------------------------------------------------

def read_caption_file(path: str | os.PathLike) -> list[CaptionRecord]:
    """Read a caption file by suffix: ``.jsonl`` (annotation JSONL) or ``.srt``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return read_jsonl(path)
    if suffix in (".srt", ".vtt"):
        return read_srt(path)
    raise T2TInputError(f"unknown caption file type {suffix!r}; use .jsonl (annotation pipeline) or .srt",
                        path=str(path))


def write_caption_file(records: Iterable[CaptionRecord], path: str | os.PathLike) -> Path:
    """Write records as ``.jsonl`` or ``.srt`` (by suffix), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return write_jsonl(records, path)
    if suffix == ".srt":
        return write_srt(records, path)
    raise T2TInputError(f"unknown caption file type {suffix!r}; use .jsonl or .srt", path=str(path))


CAPTURE_SUFFIXES: tuple[str, ...] = (".pcap", ".pcapng", ".cap")


def capture_stem(capture: str | os.PathLike) -> str:
    """A capture's name without its capture suffix and any ``.gz``: ``x.pcap.gz`` -> ``x``, ``x.pcapng`` -> ``x``."""
    name = Path(capture).name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    for suffix in CAPTURE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def find_caption_file(capture: str | os.PathLike) -> Path | None:
    """The caption file beside a capture: ``x.pcap`` (or ``x.pcap.gz``, ``x.pcapng``) -> ``x.jsonl`` or
    ``x.srt`` (JSONL preferred); None if there is none."""
    capture = Path(capture)
    stem = capture_stem(capture)
    for suffix in CAPTION_SUFFIXES:
        cand = capture.with_name(stem + suffix)
        if cand.exists():
            return cand
    return None


def caption_times_on_capture_clock(records: Sequence[CaptionRecord], capture_start: float,
                                   time_base: str = "auto") -> list[CaptionRecord]:
    """Map record times onto the capture clock (seconds, usually Unix time).

    Args:
        records: caption records.
        capture_start: timestamp of the capture's first packet, seconds.
        time_base: ``"relative"`` (times are seconds since the capture start),
            ``"absolute"`` (times are already on the capture clock), or
            ``"auto"``: absolute when every start is above 1e8 s (after
            March 1973), else relative.

    Returns new records with ``start``/``end`` on the capture clock (``frame_times``, which are
    seconds of the screen recording, are kept as they are).
    """
    if time_base not in ("auto", "relative", "absolute"):
        raise T2TInputError(f"time_base must be 'auto', 'relative' or 'absolute', got {time_base!r}")
    absolute = time_base == "absolute" or (
        time_base == "auto" and records and all(r.start > ABSOLUTE_TIME_THRESHOLD for r in records))
    offset = 0.0 if absolute else float(capture_start)
    out = []
    for r in records:
        d = dict(r.__dict__)
        d["start"], d["end"] = r.start + offset, r.end + offset
        out.append(CaptionRecord(**d))
    return out


def best_caption(records: Sequence[CaptionRecord], start: float, end: float,
                 min_overlap: float = 0.0) -> CaptionRecord | None:
    """The record overlapping ``[start, end)`` most (ties: the earlier one), or None when the
    best overlap is not above ``min_overlap`` seconds."""
    best, best_ov = None, min_overlap
    for r in records:
        ov = r.overlap(start, end)
        if ov > best_ov:
            best, best_ov = r, ov
    return best


# -- helpers -----------------------------------------------------------------

def _read_text(path: Path) -> str:
    if not path.exists():
        raise T2TInputError("caption file not found", path=str(path))
    if not path.is_file():
        raise T2TInputError("caption path is not a file", path=str(path))
    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise T2TInputError("caption file looks binary, not text (is it a capture?)", path=str(path))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise T2TInputError(f"line {line}: not UTF-8 text; save the caption file as UTF-8", path=str(path)) from None
