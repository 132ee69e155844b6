"""The corpus schema: one example = one traffic window and its caption.

Every data source (``sim``, ``knocking``, ``pcap``) yields examples of this one
shape. :data:`COLUMNS` documents each column with its unit; :func:`features`
returns the typed :class:`datasets.Features`; :func:`validate_example` checks
one example (types, lengths, allowed values, and that no string carries an IP
or MAC address).

Columns (N = packets in the window, may be 0 for an idle window):

=================  ===================  ==============================================================
column             type                 meaning, unit
=================  ===================  ==============================================================
id                 string               unique, deterministic example id
time               list[float32] [N]    seconds since the window start; NaN when unknown (knocking)
size               list[int32] [N]      IP packet length in bytes, signed: + uplink, - downlink
protocol           list[uint8] [N]      IP protocol number (6 TCP, 17 UDP); 0 when unknown
flow               list[int32] [N]      index of the packet's flow within the window, 0..F-1
caption            string               the reference caption used for training
references         list[string]         all reference captions of the window, ``caption`` first
app                string               app name ("YouTube"), "unknown" when not known
app_type           string               video | social | messaging | browsing | music_games | unknown
activity           string               what the user does ("watch_video"), "unknown" when not known
user               string               user id, "unknown" when not known
environment        string               wifi | cellular | unknown
source             string               sim | knocking | pcap
session            string               the session (or capture, or action instance) the window is from
window_start       float64              window start in seconds (session clock); 0.0 when unknown
window_length      float32              window length in seconds; NaN when unknown
=================  ===================  ==============================================================
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any, Mapping

from ..errors import T2TInputError

APP_TYPES: tuple[str, ...] = ("video", "social", "messaging", "browsing", "music_games", "unknown")
ENVIRONMENTS: tuple[str, ...] = ("wifi", "cellular", "unknown")
SOURCES: tuple[str, ...] = ("sim", "knocking", "pcap")

#: column -> (datasets dtype, unit / meaning). Lists are written ``list[dtype]``.
COLUMNS: dict[str, tuple[str, str]] = {
    "id": ("string", "unique, deterministic example id"),
    "time": ("list[float32]", "seconds since the window start, per packet; NaN when unknown"),
    "size": ("list[int32]", "IP packet length in bytes, per packet, signed: + uplink (sent by the phone), - downlink"),
    "protocol": ("list[uint8]", "IP protocol number per packet (6 TCP, 17 UDP); 0 when unknown"),
    "flow": ("list[int32]", "index of the packet's flow within the window, 0..F-1 by first appearance"),
    "caption": ("string", "the reference caption used for training"),
    "references": ("list[string]", "all reference captions of the window, caption first"),
    "app": ("string", "app name, e.g. YouTube; 'unknown' when not known"),
    "app_type": ("string", "one of " + ", ".join(APP_TYPES)),
    "activity": ("string", "activity label, e.g. watch_video; 'unknown' when not known"),
    "user": ("string", "user id; 'unknown' when not known"),
    "environment": ("string", "one of " + ", ".join(ENVIRONMENTS)),
    "source": ("string", "one of " + ", ".join(SOURCES)),
    "session": ("string", "session, capture or action instance the window comes from"),
    "window_start": ("float64", "window start, seconds on the session clock; 0.0 when unknown"),
    "window_length": ("float32", "window length, seconds; NaN when unknown"),
}

_PACKET_COLUMNS = ("time", "size", "protocol", "flow")
_STRING_COLUMNS = ("id", "caption", "app", "app_type", "activity", "user", "environment", "source", "session")

_features = None


def features():
    """The typed :class:`datasets.Features` of the corpus (built once, imported lazily)."""
    global _features
    if _features is None:
        from datasets import Features, List, Value

        spec = {}
        for name, (dtype, _) in COLUMNS.items():
            if dtype.startswith("list["):
                spec[name] = List(Value(dtype[5:-1]))
            else:
                spec[name] = Value(dtype)
        _features = Features(spec)
    return _features


# -- addresses ---------------------------------------------------------------

_IPV4 = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d])")
_MAC = re.compile(r"(?<![0-9A-Fa-f:-])[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?![0-9A-Fa-f])")
_V6_CANDIDATE = re.compile(r"[0-9A-Fa-f:.%]*:[0-9A-Fa-f:.%]*:[0-9A-Fa-f:.%]*")


def _address_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _IPV4.finditer(text):
        if all(int(g) <= 255 for g in m.groups()):
            spans.append(m.span())
    for m in _MAC.finditer(text):
        spans.append(m.span())
    for m in _V6_CANDIDATE.finditer(text):
        token = m.group(0).strip(".")
        if not re.search(r"[0-9A-Fa-f]", token):
            continue
        try:
            ipaddress.IPv6Address(token.split("%")[0])
        except ValueError:
            continue
        spans.append(m.span())
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def find_addresses(text: str) -> list[str]:
    """IP (v4, v6) and MAC address-like substrings of ``text``, in order."""
    return [text[a:b] for a, b in _address_spans(text)]


def scrub_addresses(text: str, replacement: str = "<address>") -> str:
    """``text`` with every IP or MAC address-like substring replaced by ``replacement``."""
    spans = _address_spans(text)
    if not spans:
        return text
    out, last = [], 0
    for a, b in spans:
        out.append(text[last:a])
        out.append(replacement)
        last = b
    out.append(text[last:])
    return "".join(out)


# -- validation --------------------------------------------------------------

def validate_example(example: Mapping[str, Any]) -> dict:
    """Check one example against the schema and return it as a plain dict.

    Checks: every column present and no others; strings are strings and carry
    no IP/MAC address; the four packet lists have one equal length N; sizes are
    non-zero integers in [-65535, 65535]; protocols in 0..255; flow indices in
    0..F-1 with every index used; times finite and non-negative or NaN;
    ``references`` non-empty with ``caption`` first; ``app_type``,
    ``environment`` and ``source`` from their allowed sets.

    Raises :class:`~t2t_hf.errors.T2TInputError` naming the example id and the
    offending column.
    """
    ex_id = example.get("id", "<no id>") if isinstance(example, Mapping) else "<not a mapping>"
    if not isinstance(example, Mapping):
        raise T2TInputError(f"example must be a mapping of column -> value, got {type(example).__name__}")

    def bad(msg: str) -> T2TInputError:
        return T2TInputError(f"example {ex_id!r}: {msg}")

    missing = [c for c in COLUMNS if c not in example]
    extra = [c for c in example if c not in COLUMNS]
    if missing or extra:
        raise bad(f"columns do not match the corpus schema (missing {missing}, unexpected {extra}); "
                  "see t2t_hf.data.schema.COLUMNS")
    for c in _STRING_COLUMNS:
        if not isinstance(example[c], str):
            raise bad(f"{c} must be a string, got {type(example[c]).__name__}")
        if c in ("id", "caption") and not example[c].strip():
            raise bad(f"{c} is empty")
    refs = example["references"]
    if not isinstance(refs, (list, tuple)) or not refs or not all(isinstance(r, str) and r.strip() for r in refs):
        raise bad("references must be a non-empty list of non-empty strings")
    if refs[0] != example["caption"]:
        raise bad("references[0] must equal caption")
    for c in _STRING_COLUMNS + ("references",):
        values = refs if c == "references" else [example[c]]
        for v in values:
            found = find_addresses(v)
            if found:
                raise bad(f"{c} contains an IP/MAC address-like string {found[0]!r}; datasets must carry no "
                          "addresses (use t2t_hf.data.schema.scrub_addresses)")
    if example["app_type"] not in APP_TYPES:
        raise bad(f"app_type {example['app_type']!r} is not one of {APP_TYPES}")
    if example["environment"] not in ENVIRONMENTS:
        raise bad(f"environment {example['environment']!r} is not one of {ENVIRONMENTS}")
    if example["source"] not in SOURCES:
        raise bad(f"source {example['source']!r} is not one of {SOURCES}")

    import numpy as np

    arrays = {}
    for c in _PACKET_COLUMNS:
        try:
            arrays[c] = np.asarray(example[c], dtype=np.float64)
        except (TypeError, ValueError):
            raise bad(f"{c} must be a list of numbers") from None
        if arrays[c].ndim != 1:
            raise bad(f"{c} must be a flat list, got shape {arrays[c].shape}")
    lengths = {c: len(a) for c, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise bad(f"packet columns differ in length: {lengths}")
    size, proto, flow, time = arrays["size"], arrays["protocol"], arrays["flow"], arrays["time"]
    if len(size):
        if not np.all(np.isfinite(size)) or np.any(size != np.round(size)) or np.any(size == 0) \
                or np.any(np.abs(size) > 65535):
            raise bad("size must hold non-zero integers in [-65535, 65535] (signed IP lengths in bytes)")
        if np.any(proto < 0) or np.any(proto > 255) or np.any(proto != np.round(proto)):
            raise bad("protocol must hold integers in 0..255")
        if np.any(flow < 0) or np.any(flow != np.round(flow)):
            raise bad("flow must hold non-negative integers")
        used = np.unique(flow.astype(np.int64))
        if used[-1] != len(used) - 1:
            raise bad(f"flow indices must run 0..F-1 with none skipped, got max {int(used[-1])} for "
                      f"{len(used)} flows")
        known = time[~np.isnan(time)]
        if np.any(~np.isfinite(known)) or np.any(known < 0):
            raise bad("time must hold non-negative seconds since the window start, or NaN when unknown")
    for c in ("window_start", "window_length"):
        v = example[c]
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)):
            raise bad(f"{c} must be a number of seconds, got {type(v).__name__}")
    wl = float(example["window_length"])
    if not math.isnan(wl) and wl <= 0:
        raise bad(f"window_length must be positive seconds or NaN, got {wl}")
    if not math.isnan(wl) and len(time) and np.nanmax(np.append(time, 0.0)) > wl + 1e-3:
        raise bad(f"time runs past the window: max {np.nanmax(time):.3f} s > window_length {wl} s")
    if not math.isfinite(float(example["window_start"])):
        raise bad("window_start must be finite seconds (0.0 when unknown)")
    return dict(example)
