"""Presenting captions: upload checks, the caption report of one capture, timeline and probability tables,
throughput series and the throughput plot with caption segments shaded.

The Gradio Space (``space/app.py``) and the ``t2t`` command are thin shells over this module; everything here
works without Gradio (matplotlib is imported only by :func:`plot_report`).

    >>> from t2t_hf.report import load_captioner, caption_report
    >>> captioner = load_captioner()                 # hub/models/t2t-small or $T2T_MODEL
    >>> rep = caption_report(captioner, "capture.pcap", window=10.0)
    >>> rep.timeline_rows()[0]
    [0.0, 10.0, '192.168.1.20', 'The user is watching ...', 'video', 0.81]
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import T2TInputError

REPO_ROOT = Path(__file__).resolve().parents[1]
#: the model loaded when neither an argument nor ``$T2T_MODEL`` names one
DEFAULT_MODEL_DIR = REPO_ROOT / "hub" / "models" / "t2t-small"
#: default upload limit of the Space, bytes (overridable with ``$T2T_MAX_UPLOAD_MB``)
DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: first four bytes of the capture formats the reader accepts
_MAGICS = {
    b"\xd4\xc3\xb2\xa1": "pcap", b"\xa1\xb2\xc3\xd4": "pcap", b"\x4d\x3c\xb2\xa1": "pcap (ns)",
    b"\xa1\xb2\x3c\x4d": "pcap (ns)", b"\x0a\x0d\x0d\x0a": "pcapng",
}
TIMELINE_HEADERS = ["start (s)", "end (s)", "device", "caption", "app type", "confidence"]
#: colours of the app types in the plot (matplotlib tab10 entries)
APP_TYPE_COLORS = {"video": "#d62728", "social": "#9467bd", "messaging": "#2ca02c", "browsing": "#1f77b4",
                   "music_games": "#ff7f0e", "unknown": "#7f7f7f", None: "#7f7f7f"}


# -- models ----------------------------------------------------------------------------------------------------
def default_model() -> str:
    """The model to load: ``$T2T_MODEL`` if set, else ``hub/models/t2t-small`` in this checkout."""
    return os.environ.get("T2T_MODEL") or str(DEFAULT_MODEL_DIR)


def resolve_model(model: str | os.PathLike | None = None) -> str:
    """The model to load (``model``, else :func:`default_model`), checked without loading it.

    Raises:
        T2TInputError: a folder without a trained model (config.json missing), or a name that is neither a folder
            nor a Hub id ("namespace/name").
    """
    name = str(model) if model is not None else default_model()
    path = Path(name)
    if path.exists():
        if not (path / "config.json").exists():
            raise T2TInputError(f"no trained model in {name} (config.json missing): train one with training/ or "
                                "pass another model folder / Hub id (--model, or $T2T_MODEL)")
    elif path == DEFAULT_MODEL_DIR:
        raise T2TInputError(f"no trained model at {name} yet: train it (accelerate launch training/train.py --config "
                            "training/configs/t2t-small.yaml), or pass --model / set $T2T_MODEL to a model folder or "
                            "Hub id")
    elif name.count("/") != 1 or name.startswith((".", "/")):
        raise T2TInputError(f"model {name!r} not found: pass a model folder or a Hub id such as 'user/t2t-small' "
                            "(--model, or $T2T_MODEL)")
    return name


def load_captioner(model: str | os.PathLike | None = None, device: str | int | None = None):
    """The ``traffic-captioning`` pipeline for ``model`` (a folder or Hub id; default :func:`default_model`),
    on CUDA when available unless ``device`` says otherwise.

    Raises:
        T2TInputError: see :func:`resolve_model`; or the model cannot be loaded.
    """
    import torch

    from . import models_registry

    name = resolve_model(model)
    models_registry.register()
    from transformers import pipeline

    if device is None:
        device = 0 if torch.cuda.is_available() else -1
    try:
        return pipeline("traffic-captioning", model=name, device=device)
    except OSError as e:
        raise T2TInputError(f"cannot load model {name!r}: {str(e).splitlines()[0]}") from None


# -- uploads ---------------------------------------------------------------------------------------------------
def max_upload_bytes() -> int:
    """The upload limit in bytes: ``$T2T_MAX_UPLOAD_MB`` (MiB, may be fractional) or 50 MiB."""
    v = os.environ.get("T2T_MAX_UPLOAD_MB")
    if v:
        try:
            return max(1, int(float(v) * 1024 * 1024))
        except ValueError:
            raise T2TInputError(f"T2T_MAX_UPLOAD_MB must be a number of MiB, got {v!r}") from None
    return DEFAULT_MAX_UPLOAD_BYTES


def check_capture_file(path: str | os.PathLike | None, max_bytes: int | None = None) -> str:
    """Check an uploaded file before reading it: present, not empty, at most ``max_bytes`` bytes, and a pcap,
    pcapng or gzip-compressed capture by its first bytes (the name's extension is not trusted).

    Returns the format name ("pcap", "pcapng", "gzip"). Raises T2TInputError with a one-line reason.
    """
    if path is None or str(path) == "":
        raise T2TInputError("no capture uploaded: choose a .pcap or .pcapng file")
    p = Path(path)
    if not p.is_file():
        raise T2TInputError(f"the upload {p.name!r} is not a readable file; upload it again")
    size = p.stat().st_size
    limit = max_upload_bytes() if max_bytes is None else int(max_bytes)
    if size == 0:
        raise T2TInputError(f"the upload {p.name!r} is empty (0 bytes): upload a .pcap or .pcapng capture")
    if size > limit:
        raise T2TInputError(f"the upload {p.name!r} is {size / 2**20:.1f} MiB, over the {limit / 2**20:.1f} MiB "
                            "limit: cut it (e.g. `editcap -A/-B` or `tcpdump -r in -w out -c N`) or run "
                            "`t2t caption` locally")
    with open(p, "rb") as f:
        head = f.read(4)
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    kind = _MAGICS.get(head)
    if kind is None:
        raise T2TInputError(f"the upload {p.name!r} is not a pcap or pcapng capture (it does not start with a "
                            "capture file header): save captures with tcpdump -w, Wireshark or tshark")
    return kind


# -- the report of one capture ----------------------------------------------------------------------------------
@dataclass
class CaptionReport:
    """Captions of one capture and what the UI draws from them.

    Attributes:
        segments: the pipeline's dicts, one per window (start/end in capture-clock seconds, device, caption,
            app_type, score, app_type_scores).
        t0: capture clock of the first packet, seconds (times in tables and plots are seconds since ``t0``).
        devices: client devices detected in the capture, most active first.
        device: the device the report is about (None: all detected devices).
        series: throughput of ``device`` (or of all devices) per bin, see :func:`throughput_series`.
        num_packets: IP packets in the capture.
    """

    segments: list[dict]
    t0: float
    devices: list[str]
    device: str | None
    series: dict = field(default_factory=dict)
    num_packets: int = 0

    def timeline_rows(self) -> list[list]:
        """Rows [start s, end s, device, caption, app type, confidence] (times since ``t0``, 0.1 s)."""
        return timeline_rows(self.segments, self.t0)

    def probability_rows(self) -> tuple[list[str], list[list]]:
        """(headers, rows) of the per-window app-type probabilities, see :func:`probability_rows`."""
        return probability_rows(self.segments, self.t0)

    def summary(self) -> str:
        """One line: windows, devices, most frequent app type."""
        types = [s.get("app_type") for s in self.segments if s.get("app_type")]
        top = max(set(types), key=types.count) if types else None
        who = self.device or ", ".join(self.devices) or "no device"
        return (f"{len(self.segments)} windows of {who} from {self.num_packets:,} IP packets"
                + (f"; mostly {top}" if top else ""))


def capture_devices(source) -> list[str]:
    """Client devices of a capture (path, bytes or PacketTable), most active first (may be empty)."""
    from .traffic import detect_devices, read_capture

    table = source if hasattr(source, "src_addr") else read_capture(source)
    return detect_devices(table) if len(table) else []


def caption_report(captioner, source, *, device: str | None = None, window: float = 10.0, bin_s: float | None = None,
                   max_windows: int | None = None, **generate_kwargs) -> CaptionReport:
    """Read ``source`` once (a capture path, bytes or PacketTable), caption every window of ``device`` (default:
    the most active client device; ``"all"`` for every detected device) and compute its throughput series.

    Args:
        captioner: a ``traffic-captioning`` pipeline (see :func:`load_captioner`).
        window: window length, seconds (> 0).
        bin_s: throughput bin, seconds (default: window / 10, at least 0.1 s).
        max_windows: refuse captures with more windows than this (None: no limit).
        generate_kwargs: passed to the pipeline (``num_beams``, ``batch_size``, ...).

    Raises:
        T2TInputError: unreadable capture, no IP packet or device, an unknown device, a bad window length or too
            many windows.
    """
    from .traffic import detect_devices, read_capture

    try:
        window = float(window)
    except (TypeError, ValueError):
        raise T2TInputError(f"window length must be a number of seconds, got {window!r}") from None
    if not np.isfinite(window) or window <= 0:
        raise T2TInputError(f"window length must be a positive number of seconds, got {window!r}")
    table = source if hasattr(source, "src_addr") else read_capture(source)
    ts = np.asarray(table.timestamp, np.float64)
    ts = ts[np.isfinite(ts)]
    if not ts.size:
        raise T2TInputError("the capture holds no timestamped IP packet, so there is nothing to caption")
    devices = detect_devices(table)
    if device in (None, "", "auto"):
        if not devices:
            raise T2TInputError("no client device found in the capture (no private address that opens "
                                "connections); pick a device address explicitly")
        device = devices[0]
    wanted = None if device == "all" else device
    t0, t1 = float(ts.min()), float(ts.max())
    if max_windows is not None:
        n = int(np.ceil((t1 - t0 + 1e-9) / window)) * (len(devices) if wanted is None else 1)
        if n > max_windows:
            raise T2TInputError(f"the capture spans {t1 - t0:.0f} s, {n} windows of {window:g} s, over the limit "
                                f"of {max_windows}: use a longer window or a shorter capture")
    segments = captioner(table, window_length=window, devices=wanted, **generate_kwargs)
    bin_s = float(bin_s) if bin_s else max(0.1, window / 10.0)
    series = throughput_series(table, wanted, bin_s=bin_s, t0=t0)
    return CaptionReport(segments=segments, t0=t0, devices=devices, device=wanted, series=series,
                         num_packets=len(table))


# -- tables ------------------------------------------------------------------------------------------------------
def _rel(t, t0) -> float | None:
    return None if t is None else round(float(t) - float(t0), 3)


def timeline_rows(segments: Sequence[dict], t0: float = 0.0) -> list[list]:
    """One row per window: [start s, end s, device, caption, app type, confidence], times in seconds since
    ``t0``, confidence the caption's score (geometric mean token probability, 0-1, 3 decimals)."""
    return [[_rel(s.get("start"), t0), _rel(s.get("end"), t0), s.get("device") or "", s.get("caption", ""),
             s.get("app_type") or "", round(float(s.get("score", 0.0)), 3)] for s in segments]


def probability_rows(segments: Sequence[dict], t0: float = 0.0) -> tuple[list[str], list[list]]:
    """(headers, rows): per window [start s, device, p(type 1), p(type 2), ...] over the app types the model
    knows (probabilities 0-1, 3 decimals; empty when the model has no app-type head)."""
    labels: list[str] = []
    for s in segments:
        for k in s.get("app_type_scores") or {}:
            if k not in labels:
                labels.append(k)
    rows = [[_rel(s.get("start"), t0), s.get("device") or ""]
            + [round(float((s.get("app_type_scores") or {}).get(k, 0.0)), 3) for k in labels] for s in segments]
    return ["start (s)", "device", *labels], rows


def merge_segments(segments: Sequence[dict], key: str = "app_type") -> list[dict]:
    """Runs of consecutive windows of one device with the same ``key`` merged into one span:
    dicts with start, end (capture clock, s), device, ``key`` value under "label", and "windows" (count)."""
    out: list[dict] = []
    for s in segments:
        if s.get("start") is None or s.get("end") is None:
            continue
        label = s.get(key)
        last = out[-1] if out else None
        if last and last["device"] == s.get("device") and last["label"] == label and abs(last["end"] - s["start"]) < 1e-6:
            last["end"] = float(s["end"])
            last["windows"] += 1
        else:
            out.append({"start": float(s["start"]), "end": float(s["end"]), "device": s.get("device"),
                        "label": label, "windows": 1})
    return out


# -- throughput ----------------------------------------------------------------------------------------------------
def throughput_series(table, device: str | Sequence[str] | None = None, bin_s: float = 1.0,
                      t0: float | None = None) -> dict[str, Any]:
    """Uplink and downlink throughput of ``device`` (None: traffic of every detected client device) per bin.

    Args:
        table: a PacketTable. device: address(es). bin_s: bin width, seconds (> 0). t0: origin, seconds
            (default: first packet).

    Returns dict with ``time`` float64 [B] (bin start, s since ``t0``), ``uplink`` and ``downlink`` float64 [B]
    (bits per second: IP bytes * 8 / bin_s), ``bin_s`` and ``t0``. Packets without a timestamp are ignored.
    """
    from .traffic import detect_devices
    from .traffic.devices import normalize_devices

    if not bin_s or bin_s <= 0:
        raise T2TInputError(f"bin width must be positive seconds, got {bin_s!r}")
    ts = np.asarray(table.timestamp, np.float64)
    ok = np.isfinite(ts)
    if t0 is None:
        t0 = float(ts[ok].min()) if ok.any() else 0.0
    if device is None:
        device = detect_devices(table) if len(table) else []
    addrs = normalize_devices(device) if device else []
    up = np.zeros(len(table), bool)
    down = np.zeros(len(table), bool)
    for a in addrs:
        up |= table.src_addr == a
        down |= table.dst_addr == a
    span = float(ts[ok].max() - t0) if ok.any() else 0.0
    nbins = max(1, int(np.floor(span / bin_s)) + 1)
    idx = np.clip(((ts - t0) // bin_s), 0, nbins - 1)
    size = np.asarray(table.ip_len, np.float64)
    series = {}
    for name, mask in (("uplink", up & ok), ("downlink", down & ok)):
        series[name] = np.bincount(idx[mask].astype(np.int64), weights=size[mask], minlength=nbins) * 8.0 / bin_s
    return {"time": np.arange(nbins) * float(bin_s), **series, "bin_s": float(bin_s), "t0": float(t0)}


def plot_report(report: CaptionReport, *, title: str | None = None, max_labels: int = 12):
    """A matplotlib Figure: uplink (up) and downlink (down, mirrored) throughput in kbit/s over time, with the
    caption windows shaded by app type (consecutive windows of one type merged; the first ``max_labels``
    spans carry their app type as text). Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    s = report.series
    fig, ax = plt.subplots(figsize=(10, 3.6), dpi=100)
    t = np.asarray(s.get("time", []))
    if t.size:
        ax.step(t, np.asarray(s["uplink"]) / 1e3, where="post", color="#1f77b4", lw=1.0, label="uplink")
        ax.step(t, -np.asarray(s["downlink"]) / 1e3, where="post", color="#d62728", lw=1.0, label="downlink")
    ax.axhline(0, color="black", lw=0.5)
    spans = merge_segments(report.segments)
    seen = {}
    one_device = len({sp["device"] for sp in spans}) <= 1
    for i, sp in enumerate(spans):
        if not one_device and sp["device"] != spans[0]["device"]:
            continue  # several devices: shade the first one's spans only (the plot shows their sum)
        color = APP_TYPE_COLORS.get(sp["label"], "#7f7f7f")
        a, b = sp["start"] - report.t0, sp["end"] - report.t0
        ax.axvspan(a, b, color=color, alpha=0.15, lw=0)
        ax.axvline(a, color=color, alpha=0.5, lw=0.5)
        seen.setdefault(sp["label"], color)
        if i < max_labels and sp["label"]:
            ax.text((a + b) / 2, 1.0, str(sp["label"]), transform=ax.get_xaxis_transform(), ha="center",
                    va="bottom", fontsize=7, color=color, clip_on=False)
    ax.set_xlabel("time since first packet (s)")
    ax.set_ylabel("kbit/s (down < 0 < up)")
    ax.set_title(title or f"Throughput of {report.device or 'all devices'} with caption segments", fontsize=10,
                 pad=14)
    handles = ax.get_legend_handles_labels()[0] + [Patch(color=c, alpha=0.3, label=str(k)) for k, c in seen.items()]
    ax.legend(handles=handles, loc="best", fontsize=7, ncol=min(4, len(handles)) or 1)
    ax.margins(x=0)
    fig.tight_layout()
    return fig


__all__ = ["DEFAULT_MODEL_DIR", "DEFAULT_MAX_UPLOAD_BYTES", "TIMELINE_HEADERS", "CaptionReport", "default_model",
           "resolve_model", "load_captioner", "max_upload_bytes", "check_capture_file", "capture_devices", "caption_report",
           "timeline_rows", "probability_rows", "merge_segments", "throughput_series", "plot_report"]
