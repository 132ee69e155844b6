"""Live capture from a network interface, through the same reader and windower as files.

The default path runs ``tcpdump -i IFACE -U -w -`` (or ``tshark -i IFACE -w -``
when tcpdump is missing) and feeds its pcap stream into :func:`iter_capture`, so
a live packet goes through exactly the code a file's packet does. During quiet
periods the stream yields the wall-clock time, which closes idle windows.

``backend="pyshark"`` uses ``pyshark.LiveCapture`` instead (it needs the main
thread of a process without a running event loop).
"""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
import time
from typing import Iterator

from ..errors import T2TInputError
from .reader import iter_capture
from .table import PacketTable
from .window import Window
from .windows import iter_windows

_END = object()


def capture_command(interface: str, bpf: str | None = None, snaplen: int = 256) -> list[str]:
    """The capture command line for ``interface`` (tcpdump, else tshark). Snap length in bytes:
    only headers are needed, never payload."""
    if not interface or not isinstance(interface, str):
        raise T2TInputError("an interface name is required, e.g. --interface eth0 (list them with `ip link`)")
    filt = [bpf] if bpf else []
    if shutil.which("tcpdump"):
        return ["tcpdump", "-i", interface, "-U", "-n", "-s", str(int(snaplen)), "-w", "-", *filt]
    if shutil.which("tshark"):
        return ["tshark", "-i", interface, "-s", str(int(snaplen)), "-F", "pcap", "-w", "-", *(["-f", bpf] if bpf else [])]
    raise T2TInputError("live capture needs tcpdump or tshark; install one (apt-get install tcpdump)")


def live_tables(interface: str, bpf: str | None = None, *, poll: float = 1.0, snaplen: int = 256,
                duration: float | None = None, command: list[str] | None = None) -> Iterator[PacketTable | float]:
    """Packet tables from a live interface as they arrive, and the current time (float, s) when
    nothing arrived for ``poll`` seconds.

    Args:
        interface: interface name (e.g. "eth0", "wlan0").
        bpf: optional capture filter ("host 192.168.1.20").
        poll: seconds between idle ticks.
        snaplen: bytes captured per packet (headers only).
        duration: stop after this many seconds (None: until interrupted or the capture ends).
        command: override the capture command (must write pcap to stdout).

    Raises:
        T2TInputError: the capture program is missing, lacks permission, or the interface is unknown.
    """
    cmd = command or capture_command(interface, bpf, snaplen)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    except OSError as e:
        raise T2TInputError(f"cannot start {cmd[0]}: {e.strerror}") from None
    q: queue.Queue = queue.Queue(maxsize=64)

    def pump() -> None:
        try:
            for table in iter_capture(proc.stdout, live=True, on_error="warn", chunk_bytes=1 << 16):
                q.put(table)
        except T2TInputError as e:
            q.put(e)
        except Exception as e:  # pragma: no cover - reported to the consumer
            q.put(T2TInputError(f"live capture failed: {e}"))
        q.put(_END)

    t = threading.Thread(target=pump, name="t2t-live-reader", daemon=True)
    t.start()
    t0 = time.monotonic()
    try:
        while True:
            if duration is not None and time.monotonic() - t0 > duration:
                break
            try:
                item = q.get(timeout=poll)
            except queue.Empty:
                if proc.poll() is not None and not t.is_alive():
                    break
                yield time.time()
                continue
            if item is _END:
                break
            if isinstance(item, T2TInputError):
                err = _stderr_of(proc)
                if "not a pcap" in str(item) or "empty" in str(item):
                    raise T2TInputError(f"{cmd[0]} produced no capture on {interface!r}: {err or item}") from None
                raise item
            yield item
        rc = proc.poll()
        if rc not in (None, 0):
            err = _stderr_of(proc)
            raise T2TInputError(f"{cmd[0]} exited with status {rc} on {interface!r}: {err}. Capturing usually needs "
                                "root or CAP_NET_RAW, and an existing interface (`ip link`).")
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def _stderr_of(proc: subprocess.Popen) -> str:
    try:
        if proc.poll() is None:
            return ""
        data = proc.stderr.read() if proc.stderr else b""
    except Exception:
        return ""
    lines = [ln for ln in data.decode(errors="replace").splitlines()
             if ln.strip() and "listening on" not in ln and "Running as user" not in ln]
    return " ".join(lines[-3:])


def pyshark_live_tables(interface: str, bpf: str | None = None, batch: int = 64,
                        duration: float | None = None) -> Iterator[PacketTable]:
    """Packet tables from ``pyshark.LiveCapture`` in batches of ``batch`` packets (main thread only)."""
    from .pyshark_backend import live_capture_tables

    yield from live_capture_tables(interface, bpf=bpf, batch=batch, duration=duration)


def live_windows(interface: str, bpf: str | None = None, *, window: float = 10.0, stride: float | None = None,
                 device=None, backend: str = "tcpdump", duration: float | None = None,
                 poll: float = 1.0) -> Iterator[Window]:
    """Per-device windows of live traffic, yielded as each closes (see :func:`iter_windows`)."""
    if backend == "tcpdump":
        tables = live_tables(interface, bpf, poll=poll, duration=duration)
    elif backend == "pyshark":
        tables = pyshark_live_tables(interface, bpf, duration=duration)
    else:
        raise T2TInputError(f"backend must be 'tcpdump' or 'pyshark', not {backend!r}")
    yield from iter_windows(tables, window=window, stride=stride, device=device)
