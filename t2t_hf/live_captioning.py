"""Captions of live traffic: windows from :func:`t2t_hf.traffic.live.live_windows` (or any window stream) through
the ``traffic-captioning`` pipeline, one caption per device as each window closes.

    >>> from t2t_hf.report import load_captioner
    >>> from t2t_hf.live_captioning import caption_stream
    >>> from t2t_hf.traffic.live import live_windows
    >>> for seg in caption_stream(load_captioner(), live_windows("eth0", window=10.0)):
    ...     print(seg["device"], seg["caption"])
"""

from __future__ import annotations

from typing import Iterable, Iterator

from .errors import T2TInputError


def caption_stream(captioner, windows: Iterable, *, skip_idle: bool = False, **generate_kwargs) -> Iterator[dict]:
    """Caption windows as they arrive.

    Args:
        captioner: a ``traffic-captioning`` pipeline.
        windows: an iterable of :class:`~t2t_hf.traffic.Window` (e.g. ``live_windows(...)``, ``iter_windows(...)``);
            it may block between windows.
        skip_idle: drop windows without packets instead of captioning them (idle is an activity: the model has
            captions for it, so the default keeps them).
        generate_kwargs: generation options passed to the pipeline (``num_beams``, ...).

    Yields the pipeline's dict for each window (start/end in capture-clock seconds, device, caption, app_type,
    score, app_type_scores) plus ``num_packets`` (int, the window's packets) right after the window closes,
    in arrival order.
    """
    for w in windows:
        if skip_idle and getattr(w, "is_idle", False):
            continue
        out = captioner([w], **generate_kwargs)
        if not out:
            raise T2TInputError("the captioner returned nothing for a window")  # pragma: no cover - pipeline bug
        for seg in out:
            seg["num_packets"] = int(getattr(w, "num_packets", 0))
            yield seg


def live_captions(captioner, interface: str, bpf: str | None = None, *, window: float = 10.0,
                  device=None, duration: float | None = None, poll: float = 1.0, skip_idle: bool = False,
                  **generate_kwargs) -> Iterator[dict]:
    """Captions of the traffic on ``interface`` (tcpdump pipe into the file reader, idle ticks every ``poll`` s),
    per device, as each ``window``-second window closes; stops after ``duration`` seconds (None: until
    interrupted or the capture program ends). See :func:`caption_stream` for the dicts."""
    from .traffic.live import live_windows

    wins = live_windows(interface, bpf, window=window, device=device, duration=duration, poll=poll)
    yield from caption_stream(captioner, wins, skip_idle=skip_idle, **generate_kwargs)


__all__ = ["caption_stream", "live_captions"]
