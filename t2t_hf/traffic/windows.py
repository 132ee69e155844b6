"""Cutting each device's traffic into fixed-length windows, for files and live streams alike.

Windows lie on one grid for the whole capture: the k-th window of every device
covers ``[origin + k*stride, origin + k*stride + window)`` seconds, ``origin``
being the first packet's time unless ``start`` is given. Windows with no packet
of the device are kept (idle is an activity too). The last window may extend
past the last packet.

:class:`Windower` is the streaming core: push packet tables in time order and it
returns windows as they close. :func:`make_windows` (files) and
:func:`iter_windows` (streams, live capture) both go through it.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from ..errors import T2TInputError
from .devices import DeviceTracker, normalize_devices
from .flows import DEFAULT_ACTIVE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, FlowTracker
from .table import PacketTable, format_address
from .window import Window


def _check_lengths(window, stride):
    for name, v in (("window", window), ("stride", stride)):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v) or v <= 0:
            raise T2TInputError(f"{name} must be a positive number of seconds, not {v!r}")
    if stride > window:
        raise T2TInputError(f"stride ({stride} s) longer than the window ({window} s) would skip traffic; "
                            "use a stride <= window")


class Windower:
    """Streaming windows.

    Args:
        window: window length, seconds (default 10).
        stride: seconds between window starts (default = window: no overlap).
        device: None to detect devices (see :mod:`.devices`), or an address / list of addresses.
        start: grid origin in seconds (default: the first packet's time).
        reorder_slack: seconds to wait past a window's end before closing it, for slightly
            out-of-order packets (default 1.0).
        idle_timeout, active_timeout: flow timeouts, seconds.
        max_devices: keep at most this many detected devices (default 16).
    """

    def __init__(self, window: float = 10.0, stride: float | None = None, device=None, start: float | None = None,
                 reorder_slack: float = 1.0, idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
                 active_timeout: float = DEFAULT_ACTIVE_TIMEOUT, max_devices: int = 16):
        stride = window if stride is None else stride
        _check_lengths(window, stride)
        self.window = float(window)
        self.stride = float(stride)
        self.fixed_devices = normalize_devices(device)
        self.origin = None if start is None else float(start)
        self.next_k = 0  # index of the next window to close
        self.slack = float(reorder_slack)
        self.max_devices = max_devices
        self.flows = FlowTracker(idle_timeout, active_timeout)
        self.device_stats = DeviceTracker()
        self.watermark = -np.inf  # latest packet time seen
        self._buf: list[dict] = []  # pending packets (column dicts)
        self.dropped_untimed = 0

    # -- state ----------------------------------------------------------------------
    def devices(self) -> list[bytes]:
        if self.fixed_devices is not None:
            return self.fixed_devices
        from .table import encode_addresses

        found = self.device_stats.devices()[: self.max_devices]
        return [bytes(a) for a in encode_addresses(found)] if found else []

    def _window_bounds(self, k: int) -> tuple[float, float]:
        s = self.origin + k * self.stride
        return s, s + self.window

    # -- feeding ----------------------------------------------------------------------
    def push(self, table: PacketTable) -> list[Window]:
        """Add packets (any order within the table) and return the windows that closed."""
        if len(table):
            ok = ~np.isnan(table.timestamp)
            self.dropped_untimed += int((~ok).sum())
            if not ok.all():
                table = table[ok]
        if len(table):
            table = table.sort_by_time()
            fid, first, client = self.flows.assign(table)
            self.device_stats.update(table, first, client)
            if self.origin is None:
                self.origin = float(table.timestamp[0])
            self._buf.append({"t": table.timestamp, "src": table.src_addr, "dst": table.dst_addr,
                              "len": table.ip_len, "proto": table.protocol, "flags": table.tcp_flags,
                              "fid": fid, "first": first})
            self.watermark = max(self.watermark, float(table.timestamp[-1]))
        return self._close_until(self.watermark - self.slack)

    def advance(self, now: float) -> list[Window]:
        """Close windows that end before ``now`` (capture-clock seconds) even without new packets
        (used by live capture during quiet periods)."""
        if self.origin is None:
            return []
        return self._close_until(now - self.slack)

    def flush(self) -> list[Window]:
        """Close every window up to and including the one holding the last packet."""
        if self.origin is None:
            return []
        out = []
        while True:
            s, e = self._window_bounds(self.next_k)
            if s > self.watermark:
                break
            out.extend(self._emit(self.next_k))
            self.next_k += 1
        self._buf = []
        return out

    # -- internals ----------------------------------------------------------------------
    def _close_until(self, t: float) -> list[Window]:
        out = []
        if self.origin is None:
            return out
        while True:
            s, e = self._window_bounds(self.next_k)
            if e > t:
                break
            out.extend(self._emit(self.next_k))
            self.next_k += 1
        self._trim()
        return out

    def _pending(self) -> dict:
        if len(self._buf) > 1:
            self._buf = [{k: np.concatenate([b[k] for b in self._buf]) for k in self._buf[0]}]
            order = np.argsort(self._buf[0]["t"], kind="stable")
            self._buf = [{k: v[order] for k, v in self._buf[0].items()}]
        return self._buf[0] if self._buf else {}

    def _trim(self) -> None:
        p = self._pending()
        if not p:
            return
        s, _ = self._window_bounds(self.next_k)
        cut = int(np.searchsorted(p["t"], s, side="left"))
        if cut:
            self._buf = [{k: v[cut:] for k, v in p.items()}]

    def _emit(self, k: int) -> list[Window]:
        s, e = self._window_bounds(k)
        p = self._pending()
        devices = self.devices()
        if p:
            lo = int(np.searchsorted(p["t"], s, side="left"))
            hi = int(np.searchsorted(p["t"], e, side="left"))
        else:
            lo = hi = 0
        out = []
        for dev in devices:
            if hi > lo:
                src = p["src"][lo:hi]
                dst = p["dst"][lo:hi]
                up = src == dev
                mine = up | (dst == dev)
                idx = np.flatnonzero(mine) + lo
            else:
                idx = np.zeros(0, np.int64)
                up = np.zeros(0, bool)
                mine = up
            out.append(_make_window(format_address(dev), s, e, p, idx, up[mine] if idx.size else up))
        return out


def _make_window(device: str, s: float, e: float, p: dict, idx: np.ndarray, up: np.ndarray) -> Window:
    if idx.size == 0:
        return Window(device=device, start=s, end=e)
    fid = p["fid"][idx]
    uniq, first_pos, inv = np.unique(fid, return_index=True, return_inverse=True)
    rank = np.empty(uniq.size, np.int64)
    rank[np.argsort(first_pos, kind="stable")] = np.arange(uniq.size)
    size = p["len"][idx].astype(np.int64)
    return Window(device=device, start=s, end=e, time=p["t"][idx] - s,
                  size=np.where(up, size, -size).astype(np.int32), protocol=p["proto"][idx],
                  flow=rank[inv.ravel()].astype(np.int32), new_flow=p["first"][idx],
                  tcp_flags=p["flags"][idx])


def make_windows(table: PacketTable, window: float = 10.0, stride: float | None = None, device=None,
                 start: float | None = None, end: float | None = None,
                 idle_timeout: float = DEFAULT_IDLE_TIMEOUT, active_timeout: float = DEFAULT_ACTIVE_TIMEOUT,
                 max_devices: int = 16) -> list[Window]:
    """Cut a capture into per-device windows.

    Args:
        table: packets (any order).
        window: window length, seconds. stride: seconds between window starts (default = window).
        device: None (detect devices over the whole capture), an address, or a list of addresses.
        start: grid origin in seconds (default: first packet). end: last second to cover
            (default: the last packet; windows extend to cover it).
        idle_timeout, active_timeout: flow timeouts, seconds.
        max_devices: at most this many detected devices.

    Returns:
        list[Window] ordered by (device rank, start). Each device gets every window of
        the grid, idle ones included.

    Raises:
        T2TInputError: bad lengths, a device that is not an address, or a device never seen.
    """
    if device is None:
        from .devices import detect_devices

        timed = table if not np.isnan(table.timestamp).any() else table[~np.isnan(table.timestamp)]
        device = detect_devices(timed)[:max_devices] if len(timed) else []
        if not device:
            return []
    else:
        wanted = normalize_devices(device)
        seen = set(table.src_addr.tolist()) | set(table.dst_addr.tolist())
        missing = [format_address(d) for d in wanted if d not in seen]
        if missing:
            from .devices import detect_devices

            raise T2TInputError(f"device(s) {', '.join(missing)} do not appear in the capture; devices detected: "
                                f"{', '.join(detect_devices(table)) or 'none'}")
    w = Windower(window, stride, device, start, reorder_slack=0.0, idle_timeout=idle_timeout,
                 active_timeout=active_timeout, max_devices=max_devices)
    wins = w.push(table) + w.flush()
    if end is not None:
        while w.origin is not None and w._window_bounds(w.next_k)[0] < end:
            wins.extend(w._emit(w.next_k))
            w.next_k += 1
        wins = [x for x in wins if x.start < end]
    order = {format_address(d): i for i, d in enumerate(w.devices())}
    wins.sort(key=lambda x: (order.get(x.device, len(order)), x.start))
    return wins


def iter_windows(tables: Iterable[PacketTable], window: float = 10.0, stride: float | None = None, device=None,
                 start: float | None = None, reorder_slack: float = 1.0, **kwargs) -> Iterator[Window]:
    """Windows from a stream of packet tables (e.g. ``iter_capture`` on a pipe), yielded as they close.

    Devices are detected on the traffic seen so far unless ``device`` is given. At the end
    of the stream the remaining windows are flushed. Items of ``tables`` may also be
    floats: the current capture-clock time (s) during quiet periods, to close idle windows.
    """
    w = Windower(window, stride, device, start, reorder_slack=reorder_slack, **kwargs)
    for item in tables:
        if isinstance(item, (int, float)):
            yield from w.advance(float(item))
        else:
            yield from w.push(item)
    yield from w.flush()
