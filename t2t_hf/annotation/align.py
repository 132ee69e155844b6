"""Clock alignment between a screen recording and a traffic capture.

The recorder and the capture run on different clocks. An :class:`Alignment`
holds one number, ``offset`` (seconds), with::

    capture_time = video_time + offset

where ``video_time`` is seconds since the first frame of the recording and
``capture_time`` is the capture's clock (Unix epoch seconds for pcap/pcapng).

Three ways to get it:

* :func:`align_metadata`: the recording's ``creation_time`` tag (or a start
  time the user gives) plus a manual correction in seconds.
* :func:`align_auto`: correlates on-screen change (differences between
  consecutive frames) with traffic volume (bytes per time bin) over all
  candidate offsets and reports the best offset with a confidence.
* :func:`align_marker`: a marker the user recorded: the timecode page of
  :mod:`~t2t_hf.annotation.marker` (the phone's clock, machine-readable, on
  screen), a full-white flash frame shown at a known capture-clock time, or
  pairs ``(video time, clock time)`` read off a clock visible in the recording.
"""

from __future__ import annotations

import datetime as _dt
import math
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..errors import T2TInputError, T2TInputWarning
from .video import VideoInfo, change_signal, iter_all_frames


@dataclass
class Alignment:
    """``capture_time = video_time + offset`` (seconds).

    Attributes:
        offset: seconds to add to a video time to get the capture-clock time.
        method: "metadata", "auto" or "marker".
        confidence: 0..1 for methods that can measure it (``auto``: how much the best
            offset stands out from the next best, see :func:`align_auto`); ``None`` when
            the method cannot measure its own error (metadata, a user-given time).
        details: method-specific numbers (correlation, residuals, marker frame time...).
    """

    offset: float
    method: str
    confidence: float | None = None
    details: dict = field(default_factory=dict)

    def to_capture(self, video_time):
        """Video seconds -> capture-clock seconds."""
        return np.asarray(video_time, np.float64) + self.offset

    def to_video(self, capture_time):
        """Capture-clock seconds -> video seconds."""
        return np.asarray(capture_time, np.float64) - self.offset

    def to_dict(self) -> dict:
        return {"offset": self.offset, "method": self.method, "confidence": self.confidence,
                "details": self.details}


def parse_time(value) -> float:
    """A clock time given by a user: Unix epoch seconds (number or numeric string) or ISO 8601
    ("2026-12-03T16:00:05.25Z"; no zone means UTC) -> epoch seconds."""
    if isinstance(value, (int, float, np.floating, np.integer)):
        return float(value)
    s = str(value).strip()
    try:
        return float(s)
    except ValueError:
        pass
    try:
        t = _dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise T2TInputError(f"cannot read the time {value!r}: give Unix epoch seconds (1764777605.25) or "
                            "ISO 8601 (2026-12-03T16:00:05.25Z)") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    return t.timestamp()


# -- 1. metadata + manual offset ------------------------------------------------------------

def align_metadata(info: VideoInfo, *, correction: float = 0.0, video_start=None,
                   anchor: str = "start") -> Alignment:
    """Alignment from the recording's own time stamp.

    Args:
        info: the recording.
        correction: seconds added to the result (the recorder clock's lag behind the capture
            clock, when known: a recorder 2.5 s slow needs ``correction=2.5``).
        video_start: capture-clock time of the first frame (epoch seconds or ISO 8601) when the
            user knows it; overrides the file's tag.
        anchor: what the file's ``creation_time`` marks: ``"start"`` (first frame; most encoders)
            or ``"end"`` (some phone recorders stamp the file when recording stops).

    Raises:
        T2TInputError: no ``video_start`` and the file carries no ``creation_time``.
    """
    if anchor not in ("start", "end"):
        raise T2TInputError(f"metadata anchor must be 'start' or 'end', got {anchor!r}")
    if video_start is not None:
        base, source = parse_time(video_start), "video_start"
    elif info.creation_time is not None:
        base = info.creation_time - (info.duration if anchor == "end" else 0.0)
        source = f"creation_time ({anchor})"
    else:
        raise T2TInputError(
            "the recording has no creation_time tag, so its clock cannot be read from the file; give the "
            "capture-clock time of its first frame with --video-start, or use --align auto (correlate screen "
            "changes with traffic) or --align marker", path=info.path)
    return Alignment(offset=base + float(correction), method="metadata", confidence=None,
                     details={"source": source, "base": base, "correction": float(correction)})


# -- 2. automatic: screen change vs traffic bursts --------------------------------------------

def traffic_signal(timestamps: np.ndarray, sizes: np.ndarray, *, bin_s: float, start: float | None = None,
                   end: float | None = None) -> tuple[float, np.ndarray]:
    """Bytes per time bin.

    Args:
        timestamps: float64 [N] capture seconds (NaN ignored).
        sizes: [N] bytes per packet (IP length).
        bin_s: bin width, seconds.
    Returns:
        ``(t0, bytes)``: start of bin 0 (capture seconds) and float64 [B] bytes in each bin.
    """
    ts = np.asarray(timestamps, np.float64)
    ok = np.isfinite(ts)
    ts, sz = ts[ok], np.asarray(sizes, np.float64)[ok]
    if ts.size == 0:
        raise T2TInputError("the capture has no timestamped IP packets; automatic alignment needs traffic")
    t0 = float(ts.min()) if start is None else float(start)
    t1 = float(ts.max()) if end is None else float(end)
    nb = max(1, int(math.ceil((t1 - t0) / bin_s)) + 1)
    idx = np.floor((ts - t0) / bin_s).astype(np.int64)
    keep = (idx >= 0) & (idx < nb)
    return t0, np.bincount(idx[keep], weights=sz[keep], minlength=nb)


def change_to_bins(times: np.ndarray, change: np.ndarray, *, bin_s: float, duration: float) -> np.ndarray:
    """On-screen change (from :func:`~t2t_hf.annotation.video.change_signal`) summed per bin of
    ``bin_s`` seconds from video time 0 -> float64 [ceil(duration/bin_s)]."""
    nb = max(1, int(math.ceil(duration / bin_s)))
    idx = np.clip(np.floor(np.asarray(times) / bin_s).astype(np.int64), 0, nb - 1)
    return np.bincount(idx, weights=np.asarray(change, np.float64), minlength=nb)


def _smooth(x: np.ndarray, sigma_bins: float) -> np.ndarray:
    if sigma_bins <= 0:
        return x
    r = int(math.ceil(3 * sigma_bins))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma_bins) ** 2)
    return np.convolve(x, k / k.sum(), mode="same")


def _cap(x: np.ndarray, q: float = 0.9) -> np.ndarray:
    """Scale by the ``q`` quantile of the non-zero values and cap at 1, so that a few huge events (a
    white flash, one big download) cannot outweigh all the others."""
    nz = x[x > 0]
    scale = float(np.quantile(nz, q)) if nz.size else 1.0
    return np.minimum(x / (scale or 1.0), 1.0)


def lagged_pearson(v: np.ndarray, c: np.ndarray, *, min_overlap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pearson correlation of ``v[i]`` with ``c[i + L]`` over their overlap, for every lag ``L``.

    Args:
        v: float64 [M] (video signal), c: float64 [N] (capture signal).
        min_overlap: lags with fewer overlapping bins get NaN.
    Returns:
        ``(lags, r, n)``: int64 [M+N-1] lags from ``-(M-1)`` to ``N-1``; float64 correlation
        (NaN where undefined); int64 overlap size. Computed with FFTs in O((M+N) log(M+N)).
    """
    from scipy.signal import correlate, correlation_lags

    M, N = len(v), len(c)
    lags = correlation_lags(N, M, mode="full")  # correlate(c, v)[k] = sum_i c[i + lags[k]] * v[i]
    svc = correlate(c, v, mode="full", method="fft")
    lo = np.maximum(0, -lags)
    hi = np.minimum(M, N - lags)
    n = np.maximum(hi - lo, 0)
    pv, pvv = np.concatenate([[0], np.cumsum(v)]), np.concatenate([[0], np.cumsum(v * v)])
    pc, pcc = np.concatenate([[0], np.cumsum(c)]), np.concatenate([[0], np.cumsum(c * c)])
    sv, svv = pv[hi] - pv[lo], pvv[hi] - pvv[lo]
    jlo, jhi = np.clip(lo + lags, 0, N), np.clip(hi + lags, 0, N)
    sc, scc = pc[jhi] - pc[jlo], pcc[jhi] - pcc[jlo]
    with np.errstate(invalid="ignore", divide="ignore"):
        nn = np.maximum(n, 1)
        cov = svc - sv * sc / nn
        var = (svv - sv * sv / nn) * (scc - sc * sc / nn)
        r = cov / np.sqrt(var)
    bad = (n < min_overlap) | ~(var > 1e-12 * np.maximum(1.0, (svv * scc)))
    r[bad] = np.nan
    return lags, r, n


def align_auto(info: VideoInfo, timestamps: np.ndarray, sizes: np.ndarray, *, bin_s: float = 0.1,
               smooth_s: float = 0.3, prior: float | None = None, search: float | None = None,
               min_overlap: float = 0.5, change: tuple[np.ndarray, np.ndarray] | None = None) -> Alignment:
    """Estimate the offset by correlating on-screen change with traffic volume.

    Both signals are binned at ``bin_s`` seconds. The screen signal is the summed frame difference
    per bin; the traffic signal is the *onset* of traffic, the increase in bytes from one bin to
    the next (so that a burst counts at its start, as a screen change does, whatever its length).
    Each is divided by the 90th percentile of its non-zero values and capped at 1 (so a few huge
    events cannot outweigh the rest), smoothed with a Gaussian of ``smooth_s`` seconds, and the
    two are correlated (Pearson, over the overlap) at every
    offset at which the recording overlaps the capture by at least ``min_overlap`` of the
    shorter of the two. The best offset is refined to sub-bin precision by a parabola.

    Args:
        info: the recording.
        timestamps: float64 [N] capture seconds of the packets (of the phone, ideally).
        sizes: [N] IP length of each packet, bytes.
        prior, search: when both are given, only offsets within ``prior +- search`` s are tried
            (e.g. the metadata offset +- 120 s).
        change: a precomputed ``(times, change)`` from :func:`change_signal` (else decoded here).

    What it measures is when traffic bursts start relative to screen changes: on real phones
    content arrives shortly before it is drawn and taps come shortly before their requests, so
    expect a bias of the order of the network and rendering delay (typically under 0.5 s).

    Returns:
        An :class:`Alignment` with ``confidence = (r1 - max(r2, 0)) / r1`` clipped to 0..1, where
        ``r1`` is the best correlation and ``r2`` the best one farther than ``max(2 s, 4 smooth_s)``
        from it: 1 means one clear peak, near 0 means several offsets fit as well (the screen
        and the traffic do not tell; use a marker). ``details`` has ``correlation`` (r1),
        ``runner_up`` (r2), ``runner_up_offset`` and ``overlap_s``.

    Raises:
        T2TInputError: no offset lets the recording overlap the capture, or a signal is flat.
    """
    times, values = change if change is not None else change_signal(info)
    if len(values) == 0 or not np.any(values > 0):
        raise T2TInputError("the recording never changes on screen, so it cannot be aligned automatically; "
                            "use --align metadata or --align marker", path=info.path)
    v = change_to_bins(times, values, bin_s=bin_s, duration=max(info.duration, float(times.max()) + bin_s))
    c0, c = traffic_signal(timestamps, sizes, bin_s=bin_s)
    sig = smooth_s / bin_s
    v = _smooth(_cap(v), sig)
    c = _smooth(_cap(np.maximum(0.0, np.diff(c, prepend=c[:1]))), sig)
    need = max(3, int(min_overlap * min(len(v), len(c))))
    lags, r, n = lagged_pearson(v, c, min_overlap=need)
    offsets = c0 + lags * bin_s
    if prior is not None and search is not None:
        r = np.where(np.abs(offsets - prior) <= search, r, np.nan)
    if not np.any(np.isfinite(r)):
        span = f"capture {c0:.3f}..{c0 + len(c) * bin_s:.3f} s, recording {info.duration:.1f} s long"
        raise T2TInputError(
            f"no offset lets the recording overlap the capture by {min_overlap:.0%} ({span}"
            + (f", searched {prior:.3f} +- {search} s around the metadata time; --search 0 searches the whole "
               "capture" if prior is not None and search is not None else "")
            + "); check that the recording and the capture were made at the same time, or align with "
              "--align metadata / --align marker", path=info.path)
    k = int(np.nanargmax(r))
    r1 = float(r[k])
    frac = 0.0
    if 0 < k < len(r) - 1 and np.isfinite(r[k - 1]) and np.isfinite(r[k + 1]):
        den = r[k - 1] - 2 * r[k] + r[k + 1]
        if den < 0:
            frac = float(np.clip(0.5 * (r[k - 1] - r[k + 1]) / den, -0.5, 0.5))
    offset = float(offsets[k] + frac * bin_s)
    guard = max(2.0, 4 * smooth_s)
    far = np.abs(offsets - offsets[k]) > guard
    rr = np.where(far, r, np.nan)
    if np.any(np.isfinite(rr)):
        k2 = int(np.nanargmax(rr))
        r2, off2 = float(rr[k2]), float(offsets[k2])
    else:
        r2, off2 = 0.0, None
    confidence = float(np.clip((r1 - max(r2, 0.0)) / r1, 0.0, 1.0)) if r1 > 0 else 0.0
    return Alignment(offset=offset, method="auto", confidence=confidence,
                     details={"correlation": r1, "runner_up": r2, "runner_up_offset": off2,
                              "overlap_s": float(n[k] * bin_s), "bin_s": bin_s, "smooth_s": smooth_s})


# -- 3. a recorded marker ----------------------------------------------------------------------

def find_flash_frames(info: VideoInfo, *, min_level: float = 235.0, max_spread: float = 12.0,
                      size: int = 32) -> list[tuple[float, float]]:
    """Where a full-white marker appears: ``[(frame_time, previous_frame_time), ...]`` (video seconds)
    for each frame that is near-uniform white (mean gray >= ``min_level``, std <= ``max_spread``)
    while the frame before it was not (one entry per flash, at its first frame)."""
    out, prev_t, prev_flash = [], None, False
    for t, px in iter_all_frames(info, max_side=size, gray=True):
        flash = bool(px.mean() >= min_level and px.std() <= max_spread)
        if flash and not prev_flash:
            out.append((t, prev_t if prev_t is not None else t))
        prev_flash, prev_t = flash, t
    return out


def align_marker(info: VideoInfo, *, marker_time=None, clock_pairs: Sequence[tuple[float, object]] | None = None,
                 max_disagreement: float = 1.0, scan_seconds: float | None = None) -> Alignment:
    """Alignment from a marker the user recorded.

    Three forms:

    * neither argument: the **timecode marker**. The user showed the marker page
      (:func:`t2t_hf.annotation.marker.write_marker_page`) on the phone while recording; every
      frame that shows it carries the phone's clock in milliseconds. ``offset`` is the median of
      ``clock - video time`` over the decoded frames; ``confidence`` is the fraction of them within
      0.1 s of it; ``details`` has the count and spread. ``scan_seconds`` limits the search to the
      start of the recording.
    * ``marker_time``: the capture-clock time (epoch seconds or ISO 8601) at which a full-white
      screen was shown (e.g. a white image opened full screen while noting the time on the
      capture host). The first flash in the recording is found (:func:`find_flash_frames`);
      ``offset = marker_time - flash_video_time``. ``details["uncertainty_s"]`` is the gap to the
      frame before the flash (the flash began somewhere in it).
    * ``clock_pairs``: ``[(video_seconds, clock_time), ...]`` read by a person off a clock with
      seconds that is visible in the recording (a clock app or web page, on a clock synchronised
      with the capture host by NTP). ``offset`` is the median of ``clock_time - video_seconds``;
      pairs that disagree by more than ``max_disagreement`` s are an error (a misread clock or a
      paused recording).

    Raises:
        T2TInputError: both forms given, no marker found, or pairs that disagree.
    """
    if marker_time is not None and clock_pairs:
        raise T2TInputError("give either --marker-time (a recorded white flash) or --clock-pair (clock readings), "
                            "not both")
    if marker_time is None and not clock_pairs:
        from .marker import find_timecodes

        codes = find_timecodes(info, scan_seconds=scan_seconds)
        if not codes:
            raise T2TInputError(
                "no timecode marker found in the recording; record the marker page (python -m "
                "t2t_hf.annotation.marker page.html, opened on the phone) for a few seconds, or give "
                "--marker-time (capture time of a recorded white flash) or --clock-pair VIDEO_S=TIME", path=info.path)
        offs = np.array([ms / 1000.0 - t for t, ms in codes])
        off = float(np.median(offs))
        agree = float(np.mean(np.abs(offs - off) <= 0.1))
        return Alignment(offset=off, method="marker", confidence=agree,
                         details={"source": "timecode", "frames": len(codes), "first_video_time": codes[0][0],
                                  "last_video_time": codes[-1][0],
                                  "spread_s": float(np.median(np.abs(offs - off)))})
    if clock_pairs:
        vs = np.array([float(a) for a, _ in clock_pairs])
        ts = np.array([parse_time(b) for _, b in clock_pairs])
        if np.any(vs < 0) or np.any(vs > info.duration + 1.0):
            raise T2TInputError(f"clock pair video times must lie within the recording (0..{info.duration:.1f} s)")
        offs = ts - vs
        off = float(np.median(offs))
        spread = float(np.max(np.abs(offs - off)))
        if spread > max_disagreement:
            raise T2TInputError(
                f"the clock pairs disagree by up to {spread:.2f} s (offsets {np.round(offs, 3).tolist()}); re-read "
                "the clock at those video times, and check that the recording was not paused between them")
        return Alignment(offset=off, method="marker", confidence=None,
                         details={"source": "clock_pairs", "pairs": len(vs), "max_residual_s": spread})
    flashes = find_flash_frames(info)
    if not flashes:
        raise T2TInputError("no full-white marker frame found in the recording; record a white screen (a white "
                            "image shown full screen) at the time given with --marker-time, or use "
                            "--clock-pair / --align auto", path=info.path)
    if len(flashes) > 1:
        warnings.warn(f"{len(flashes)} white flashes found in the recording (at "
                      f"{[round(f[0], 2) for f in flashes[:5]]} s); using the first", T2TInputWarning, stacklevel=2)
    t, t_prev = flashes[0]
    mt = parse_time(marker_time)
    return Alignment(offset=mt - t, method="marker", confidence=None,
                     details={"source": "flash", "flash_video_time": t, "uncertainty_s": t - t_prev,
                              "marker_time": mt, "flashes": len(flashes)})


__all__ = ["Alignment", "align_metadata", "align_auto", "align_marker", "find_flash_frames", "traffic_signal",
           "change_to_bins", "lagged_pearson", "parse_time"]
