"""Live captioning: the window stream through the pipeline, and ``t2t live`` on a veth pair inside a network
namespace made by the test, fed by ``tcpreplay`` with a T2T-Sim capture (no traffic leaves the namespace).

The model is a tiny untrained one (random weights): the tests check windows, devices, packets and formats."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from t2t_hf.live_captioning import caption_stream
from t2t_hf.report import load_captioner
from t2t_hf.traffic import iter_capture, iter_windows, make_windows, read_capture
from t2t_hf.traffic.devices import direction, normalize_devices

REPO = Path(__file__).resolve().parents[2]
def _sigint_default() -> None:
    """In the child before exec: SIGINT back to its default, as in a terminal. A test run started in the background
    by a non-interactive shell (``pytest &``, ``nohup``) ignores SIGINT, and an ignored SIGINT is inherited, so
    Ctrl-C would not reach ``t2t live`` at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


#: ``python -m t2t_hf.cli`` that also dumps every thread's stack to stderr on SIGUSR1 (for a hang's report)
_WITH_STACK_DUMPS = ("import faulthandler, signal, sys; faulthandler.register(signal.SIGUSR1, all_threads=True); "
                     "from t2t_hf.cli import main; sys.exit(main(sys.argv[1:]))")


@pytest.fixture(scope="module")
def captioner(tiny_model):
    return load_captioner(str(tiny_model))


def test_stream_captions_equal_offline_captions(captioner, sim_capture):
    """Windows streamed from small chunks of the file get the same captions as the offline pipeline's."""
    path, session = sim_capture
    chunks = iter_capture(path, chunk_bytes=1 << 14)
    live = list(caption_stream(captioner, iter_windows(chunks, window=10.0, reorder_slack=0.0)))
    offline_windows = make_windows(read_capture(path), window=10.0)
    offline = captioner(offline_windows)
    assert len(live) == len(offline) == len(offline_windows) >= 3
    for a, b, w in zip(live, offline, offline_windows):
        assert a["device"] == b["device"] == session.device
        assert a["start"] == pytest.approx(b["start"]) and a["end"] == pytest.approx(b["end"])
        assert a["caption"] == b["caption"] and a["app_type"] == b["app_type"]
        assert a["score"] == pytest.approx(b["score"], rel=1e-4)
        assert a["num_packets"] == w.num_packets
    live_idle = list(caption_stream(captioner, iter_windows(iter_capture(path), window=10.0), skip_idle=True))
    assert all(s["num_packets"] > 0 for s in live_idle)


# -- t2t live on a veth pair in a private network namespace ----------------------------------------------------
def _sh(*cmd, check=True, timeout=30):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, check=check)


@pytest.fixture
def veth_namespace():
    """A fresh network namespace holding both ends of a veth pair (IPv6 off, so the link itself stays silent);
    yields (namespace, sender end, listener end); deleted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root: run the live test as root (or in a container with CAP_NET_ADMIN)")
    for tool in ("ip", "tcpreplay", "tcpdump"):
        if shutil.which(tool) is None:
            pytest.skip(f"`{tool}` is not installed: the live test needs iproute2, tcpreplay and tcpdump")
    ns = f"t2t-live-{os.getpid()}"
    a, b = f"t2t{os.getpid() % 100000}s", f"t2t{os.getpid() % 100000}r"
    made = _sh("ip", "netns", "add", ns, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot create a network namespace here ({made.stderr.strip() or made.returncode}): "
                    "namespaces are not permitted in this container")
    try:
        _sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", check=False)
        _sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1", check=False)
        _sh("ip", "-n", ns, "link", "add", a, "type", "veth", "peer", "name", b)
        for dev in (a, b, "lo"):
            _sh("ip", "-n", ns, "link", "set", dev, "up")
        yield ns, a, b
    finally:
        _sh("ip", "netns", "del", ns, check=False)


def _start_live(ns, listener, window, model, stdout, err, err_path):
    """`t2t live` in the namespace, JSON lines on ``stdout``; returns once it says it is capturing."""
    live = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-c", _WITH_STACK_DUMPS, "live", "--interface", listener,
         "--window", str(window), "--duration", "300", "--poll", "0.5", "--format", "json", "--model", str(model)],
        stdout=stdout, stderr=err, text=True, cwd=REPO, preexec_fn=_sigint_default)
    t0 = time.monotonic()
    while "capturing on" not in err_path.read_text():
        if live.poll() is not None or time.monotonic() - t0 > 180:
            live.kill()
            live.wait(timeout=30)
            pytest.fail(f"t2t live did not start (exit {live.returncode}): {err_path.read_text()}")
        time.sleep(0.2)
    return live


def test_t2t_live_on_veth_with_tcpreplay(veth_namespace, sim_capture, tiny_model, tmp_path):
    """Replay a 30 s T2T-Sim session at 6x on one end while `t2t live` listens on the other; every packet of the
    phone must come out in its 1 s windows, captioned, and Ctrl-C must end the command cleanly."""
    ns, sender, listener = veth_namespace
    path, session = sim_capture
    table = read_capture(path)
    phone_packets = int(np.count_nonzero(direction(table, normalize_devices(session.device)[0])))
    err_path = tmp_path / "live.stderr"
    window = 1.0
    segs: list[dict] = []

    def collect(stream):
        for line in stream:
            segs.append(json.loads(line))

    with open(err_path, "w") as err:
        live = _start_live(ns, listener, window, tiny_model, subprocess.PIPE, err, err_path)
        reader = threading.Thread(target=collect, args=(live.stdout,), daemon=True)
        reader.start()
        try:
            time.sleep(2.5)  # tcpdump opens the interface
            replay = _sh("ip", "netns", "exec", ns, "tcpreplay", "-q", "-i", sender, "--multiplier=6", str(path),
                         timeout=180)
            assert replay.returncode == 0, replay.stderr
            t1 = time.monotonic()  # the last window closes on an idle tick; wait for its caption
            while sum(s["num_packets"] for s in list(segs) if s["device"] == session.device) < phone_packets:
                if time.monotonic() - t1 > 90:
                    break
                time.sleep(0.3)
            time.sleep(1.5)  # a few idle windows after the replay
        finally:
            if live.poll() is None:
                live.send_signal(signal.SIGINT)  # Ctrl-C
            try:
                live.wait(timeout=60)
            except subprocess.TimeoutExpired:  # say where it hangs (every thread's stack), then end it
                live.send_signal(signal.SIGUSR1)
                time.sleep(3)
                live.kill()
                live.wait(timeout=30)
                pytest.fail(f"t2t live did not end within 60 s of Ctrl-C ({len(segs)} windows captioned); its "
                            f"stderr and thread stacks:\n{err_path.read_text()}")
            reader.join(timeout=10)
    stderr = err_path.read_text()
    assert live.returncode == 130 and "interrupted" in stderr, stderr
    assert "Traceback" not in stderr
    phone = [s for s in segs if s["device"] == session.device]
    assert phone, f"no window of the phone {session.device}: {segs[:3]} {stderr}"
    # every replayed packet of the phone is in exactly one of its windows
    assert sum(s["num_packets"] for s in phone) == phone_packets
    busy = [s for s in phone if s["num_packets"]]
    assert len(busy) >= 4  # 30 s of traffic at 6x, or slower: at least 5 s of 1 s windows
    assert phone[-1]["num_packets"] == 0  # idle ticks closed the windows after the replay
    for s in phone:
        assert s["end"] - s["start"] == pytest.approx(window)
        assert isinstance(s["caption"], str) and 0 < s["score"] <= 1 and s["app_type"]
    starts = [s["start"] for s in phone]
    assert all(b - a == pytest.approx(window, abs=1e-6) for a, b in zip(starts, starts[1:]))  # contiguous grid
    assert abs(busy[0]["start"] - time.time()) < 600  # the wall clock of the replay: a live capture's clock


def test_t2t_live_stops_cleanly_on_sigterm(veth_namespace, tiny_model, tmp_path):
    """`kill`, systemd and `timeout` send SIGTERM: `t2t live` exits 143 with one line, and its capture program
    (tcpdump) goes with it; none is left running in the namespace, even on a quiet interface."""
    ns, _, listener = veth_namespace
    err_path = tmp_path / "live.stderr"
    with open(err_path, "w") as err:
        live = _start_live(ns, listener, 1, tiny_model, subprocess.DEVNULL, err, err_path)
        try:
            time.sleep(2.0)  # tcpdump is running
            assert len(_sh("ip", "netns", "pids", ns).stdout.split()) >= 2  # t2t and its tcpdump
            live.terminate()
            live.wait(timeout=60)
        finally:
            if live.poll() is None:
                live.kill()
                live.wait(timeout=30)
    stderr = err_path.read_text()
    assert live.returncode == 143 and "t2t: terminated" in stderr, stderr
    assert "Traceback" not in stderr
    time.sleep(0.5)
    assert _sh("ip", "netns", "pids", ns).stdout.split() == []  # no tcpdump left behind
