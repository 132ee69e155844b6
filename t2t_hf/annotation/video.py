"""Screen recordings: probe, sample frames at given times, measure on-screen change.

Times here are *video seconds*: 0.0 is the presentation time of the first frame
of the video stream. :mod:`t2t_hf.annotation.align` maps them to the capture clock
(``capture_time = video_time + offset``).

Decoding uses PyAV (FFmpeg). Screen recorders often write variable-frame-rate
video (a frame only when the screen changes); nothing here assumes a constant
frame rate: the frame shown at time ``t`` is the last frame whose presentation
time is ``<= t``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

from ..errors import T2TInputError

#: Frames are downscaled so that their longer side is at most this many pixels
#: before being hashed, cached and sent to a model (phones record 1080x2400).
DEFAULT_MAX_SIDE = 768


@dataclass(frozen=True)
class VideoInfo:
    """What we know about a recording.

    Attributes:
        path: the file.
        duration: seconds from the first to past the last frame (video seconds).
        fps: average frame rate (frames/s) as reported by the container; screen
            recordings are often variable-rate, so treat it as a hint.
        width, height: frame size in pixels.
        frames: number of frames if the container says, else 0.
        creation_time: Unix epoch seconds of the ``creation_time`` tag (container or
            stream, ISO 8601, UTC), or ``None`` when the file has none.
        first_pts: presentation time of the first frame in the stream's own time
            base, seconds (subtracted so that video time starts at 0).
    """

    path: str
    duration: float
    fps: float
    width: int
    height: int
    frames: int
    creation_time: float | None
    first_pts: float


def _open(path):
    import av

    p = os.fspath(path)
    if not os.path.exists(p):
        raise T2TInputError("video file does not exist; check the --video path", path=p)
    try:
        container = av.open(p)
    except Exception as exc:  # av.error.InvalidDataError and friends
        raise T2TInputError(
            f"cannot decode the video ({type(exc).__name__}: {exc}); give a screen recording in a "
            "format FFmpeg reads (mp4, mkv, webm, mov), e.g. re-encode with "
            "`ffmpeg -i in -c:v libx264 out.mp4`", path=p) from None
    if not container.streams.video:
        container.close()
        raise T2TInputError("the file has no video stream; give the screen recording (mp4, mkv, webm, mov)",
                            path=p)
    return container


def parse_creation_time(value: str | None) -> float | None:
    """An ISO 8601 ``creation_time`` tag ("2026-12-03T16:00:00.000000Z") -> Unix epoch seconds (UTC if no zone)."""
    if not value:
        return None
    s = value.strip().replace("Z", "+00:00")
    try:
        t = _dt.datetime.fromisoformat(s)
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    epoch = t.timestamp()
    # MP4 writes 1904-01-01 (or 1970-01-01) when the recorder set no time: treat as missing.
    return epoch if epoch > 86400 * 365 else None


def probe_video(path) -> VideoInfo:
    """Open a recording and read its duration, size, frame rate and creation time.

    Decodes the first frame to make sure the stream is readable.

    Raises:
        T2TInputError: the file is missing, is not a video, or cannot be decoded.
    """
    container = _open(path)
    try:
        stream = container.streams.video[0]
        tb = float(stream.time_base) if stream.time_base else 1e-6
        first = None
        try:
            for frame in container.decode(stream):
                first = frame
                break
        except Exception as exc:
            raise T2TInputError(f"cannot decode the first video frame ({type(exc).__name__}: {exc}); "
                                "the file may be damaged; re-encode it with ffmpeg", path=str(path)) from None
        if first is None:
            raise T2TInputError("the video stream has no frames; record the screen again", path=str(path))
        first_pts = float(first.pts * tb) if first.pts is not None else 0.0
        if stream.duration is not None:
            duration = float(stream.duration * tb)
            if stream.start_time is not None:
                duration -= first_pts - float(stream.start_time * tb)
        elif container.duration is not None:
            duration = float(container.duration) / 1e6 - first_pts
        else:
            duration = 0.0
        fps = float(stream.average_rate) if stream.average_rate else 0.0
        tags = {**{k.lower(): v for k, v in (container.metadata or {}).items()},
                **{k.lower(): v for k, v in (stream.metadata or {}).items()}}
        info = VideoInfo(path=os.fspath(path), duration=max(duration, 0.0), fps=fps, width=first.width,
                         height=first.height, frames=int(stream.frames or 0),
                         creation_time=parse_creation_time(tags.get("creation_time")), first_pts=first_pts)
    finally:
        container.close()
    if info.duration <= 0:
        info = _measure_duration(info)
    return info


def _measure_duration(info: VideoInfo) -> VideoInfo:
    """Decode the whole stream to find its duration (containers without one, e.g. some webm)."""
    last, step = 0.0, 0.0
    for t, _ in iter_all_frames(info, max_side=32, gray=True):
        step = t - last if t > last else step
        last = t
    return VideoInfo(**{**info.__dict__, "duration": last + (step or (1 / info.fps if info.fps else 0.0))})


def _scale(frame, max_side: int | None, fmt: str = "rgb24"):
    w, h = frame.width, frame.height
    if max_side and max(w, h) > max_side:
        s = max_side / max(w, h)
        w, h = max(2, int(round(w * s))), max(2, int(round(h * s)))
        return frame.reformat(width=w, height=h, format=fmt)
    return frame.reformat(format=fmt)


def iter_all_frames(info: VideoInfo, *, max_side: int | None = 64, gray: bool = True
                    ) -> Iterator[tuple[float, np.ndarray]]:
    """Every frame of the stream, in order: ``(video_time_s, pixels)``.

    ``pixels`` is ``uint8 [H, W]`` (gray) or ``[H, W, 3]`` (RGB), downscaled so the
    longer side is at most ``max_side``. Used for change detection and marker search.
    """
    container = _open(info.path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = float(stream.time_base)
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            t = float(frame.pts * tb) - info.first_pts
            f = _scale(frame, max_side, "gray" if gray else "rgb24")
            yield t, f.to_ndarray()
    except T2TInputError:
        raise
    except Exception as exc:
        raise T2TInputError(f"video decoding failed ({type(exc).__name__}: {exc}); the file may be damaged; "
                            "re-encode it with ffmpeg", path=info.path) from None
    finally:
        container.close()


def read_frames_at(info: VideoInfo, times: Sequence[float], *, max_side: int | None = DEFAULT_MAX_SIDE,
                   seek_gap: float = 8.0) -> list[tuple[float, "PIL.Image.Image"]]:  # noqa: F821
    """The frames on screen at the given video times.

    Args:
        info: from :func:`probe_video`.
        times: video seconds, ascending (need not be unique).
        max_side: downscale so the longer side is at most this (pixels); ``None`` keeps full size.
        seek_gap: when the next wanted time is more than this many seconds past the
            decoder's position, seek (to the preceding keyframe) instead of decoding through.

    Returns:
        One ``(frame_time_s, PIL.Image RGB)`` per requested time, in order, where
        ``frame_time_s`` is the presentation time of the frame shown at that time
        (the last frame at or before it; the first frame for times before it).
    """
    return list(iter_frames_at(info, times, max_side=max_side, seek_gap=seek_gap))


def iter_frames_at(info: VideoInfo, times: Iterable[float], *, max_side: int | None = DEFAULT_MAX_SIDE,
                   seek_gap: float = 8.0) -> Iterator[tuple[float, "PIL.Image.Image"]]:  # noqa: F821
    """Streaming form of :func:`read_frames_at` (``times`` ascending)."""
    times = [float(t) for t in times]
    if any(b < a for a, b in zip(times, times[1:])):
        raise T2TInputError("frame times must be ascending")
    if not times:
        return
    container = _open(info.path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = float(stream.time_base)
        state = {"decoder": None, "prev": None, "pending": None}

        def restart(at: float) -> None:
            target = int((at + info.first_pts) / tb)
            container.seek(max(target, 0), stream=stream, backward=True, any_frame=False)
            state.update(decoder=container.decode(stream), prev=None, pending=None)

        def pull():
            for frame in state["decoder"]:
                if frame.pts is not None:
                    return float(frame.pts * tb) - info.first_pts, frame
            return None

        restart(times[0])
        for want in times:
            prev = state["prev"]
            if prev is not None and want - prev[0] > seek_gap:
                restart(want)
            while True:
                if state["pending"] is None:
                    state["pending"] = pull()
                    if state["pending"] is None:
                        break  # end of stream: the last frame stays on screen
                if state["pending"][0] <= want + 1e-9:
                    state["prev"], state["pending"] = state["pending"], None
                    continue
                break
            chosen = state["prev"] or state["pending"]
            if chosen is None:  # seek landed past the end (damaged index): decode from the start
                restart(0.0)
                chosen = state["pending"] = pull()
                if chosen is None:
                    raise T2TInputError("no frame could be decoded", path=info.path)
            yield chosen[0], _scale(chosen[1], max_side).to_image()
    except T2TInputError:
        raise
    except Exception as exc:
        raise T2TInputError(f"video decoding failed ({type(exc).__name__}: {exc}); the file may be damaged; "
                            "re-encode it with ffmpeg", path=info.path) from None
    finally:
        container.close()


def change_signal(info: VideoInfo, *, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """On-screen change over time: mean absolute difference between consecutive frames.

    Returns:
        ``(times, change)``: float64 [F] video seconds of each frame (from the second
        frame on), float64 [F] mean absolute gray-level difference to the previous
        frame on a ``size``-pixel thumbnail (0..255).
    """
    times, values, prev = [], [], None
    for t, px in iter_all_frames(info, max_side=size, gray=True):
        px = px.astype(np.int16)
        if prev is not None and prev.shape == px.shape:
            times.append(t)
            values.append(float(np.abs(px - prev).mean()))
        prev = px
    return np.asarray(times, np.float64), np.asarray(values, np.float64)


def frame_hash(image) -> str:
    """SHA-256 (hex) of an RGB image's size and pixels: the cache key part for one frame."""
    h = hashlib.sha256()
    h.update(f"{image.mode}:{image.size[0]}x{image.size[1]}:".encode())
    h.update(image.tobytes())
    return h.hexdigest()


__all__ = ["VideoInfo", "probe_video", "read_frames_at", "iter_frames_at", "iter_all_frames", "change_signal",
           "frame_hash", "parse_creation_time", "DEFAULT_MAX_SIDE"]
