"""RTP-like UDP media for voice and video calls (WebRTC-style, one bundled flow).

A call opens with STUN binding requests/responses (ICE connectivity checks), then
both sides send audio every 20 ms (50 packets/s each way; 60 ms, about 17/s, for
WhatsApp and Telegram), Opus payloads whose size follows who is talking and, for video calls, video frames at 15-30 frames/s cut
into packets of at most ~1,150 bytes, with a key frame every few seconds. RTCP
reports go each way about once a second. Downlink packets carry network jitter.
The traffic is steady and nearly symmetric by design.
"""

from __future__ import annotations

import struct

import numpy as np

from .environments import NetPath
from .packets import K_RTCP, K_RTP, TrafficBuilder

RTP_OVERHEAD = 12 + 10  # RTP header + SRTP auth tag


def stun_binding(rng, response: bool, txid: bytes) -> bytes:
    """A STUN Binding request (RFC 5389) or success response with XOR-MAPPED-ADDRESS."""
    attrs = b""
    if response:
        port = int(rng.integers(1024, 65535)) ^ 0x2112
        addr = b"\x00\x00\x00\x00"  # zero filler: no real address is written
        attrs += struct.pack("!HHBBH", 0x0020, 8, 0, 1, port) + addr
    else:
        attrs += struct.pack("!HH", 0x0024, 4) + struct.pack("!I", int(rng.integers(1, 2**31)))  # PRIORITY
    mtype = 0x0101 if response else 0x0001
    return struct.pack("!HHI", mtype, len(attrs), 0x2112A442) + txid + attrs


def _turns(rng, t0: float, t1: float, mean_turn: float) -> tuple[np.ndarray, np.ndarray]:
    """A conversation: alternating turns (exponential, mean ``mean_turn`` s) with short pauses.

    Returns (edges, speaker): turn ``k`` runs from ``edges[k]`` to ``edges[k+1]``; speaker 0 is the
    phone's user, 1 the other party, 2 nobody (a pause).
    """
    n = int((t1 - t0) / max(mean_turn, 0.5)) * 2 + 8
    dur = rng.exponential(mean_turn, n) + 0.3
    first = int(rng.integers(0, 2))
    speaker = np.where(np.arange(n) % 2 == 0, first, 1 - first)
    pause = rng.random(n) < 0.25
    speaker = np.where(pause, 2, speaker)
    dur = np.where(pause, dur * 0.3, dur)
    edges = np.concatenate([[t0], t0 + np.cumsum(dur)])
    return edges, speaker


def _talking(edges: np.ndarray, speaker: np.ndarray, t: np.ndarray, who: int) -> np.ndarray:
    k = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(speaker) - 1)
    return speaker[k] == who


def rtp_call(b: TrafficBuilder, path: NetPath, t0: float, t1: float, server: str, app: str,
             video: bool = False, video_kbps: float = 800.0, audio_kbps: float = 32.0, ptime: float = 0.02,
             dtx: bool = False) -> int:
    """Add a call between ``t0`` and ``t1`` (s) through a relay at ``server``. Returns the flow index.

    Audio: one packet every ``ptime`` s (20 ms for WebRTC apps, 60 ms for WhatsApp/Telegram) each way;
    payload bytes = ``audio_kbps`` * ``ptime`` / 8 while that side talks, a third of it in silence;
    with ``dtx`` (discontinuous transmission, as WhatsApp and Telegram do) a silent side sends only a
    comfort-noise packet every 0.4-1.2 s. The two sides take turns, so over a call the traffic is
    symmetric. Video (if ``video``): frames at a frame rate negotiated for both sides (15-30 fps), sized
    from ``video_kbps`` (+-15 % per side; log-normal, key frames 6x), split into packets of at most 1,150 payload bytes.
    """
    rng = b.rng
    f = b.new_flow(17, server, int(rng.choice([3478, 3480, int(rng.integers(40000, 60000))])), "", app)
    if t1 - t0 < 0.5:
        return f
    # ICE checks
    for k in range(int(rng.integers(2, 5))):
        tx = bytes(rng.integers(0, 256, 12, dtype=np.uint8))
        tq = t0 + k * 0.05
        b.add_raw(tq, f, True, stun_binding(rng, False, tx))
        b.add_raw(tq + path.rtt, f, False, stun_binding(rng, True, tx))
    ts = t0 + 0.3
    audio_bytes = audio_kbps * 1000 * ptime / 8
    edges, speaker = _turns(rng, ts, t1, float(rng.uniform(2.0, 6.0)))
    cn = float(rng.uniform(0.4, 1.2))  # comfort-noise interval in silence (DTX)
    fps = float(rng.choice([15.0, 24.0, 30.0]))  # negotiated for both sides
    for up in (True, False):
        t = np.arange(ts + rng.uniform(0, ptime), t1, ptime)
        talk = _talking(edges, speaker, t, 0 if up else 1)
        if dtx:
            comfort = (np.floor((t - ts) / cn) != np.floor((t - ts - ptime) / cn))
            keep = talk | comfort
            t, talk = t[keep], talk[keep]
        if not up:
            t = t + path.rtt / 2 + np.abs(rng.normal(0, path.jitter, len(t)))
        size = np.where(talk, rng.normal(audio_bytes, audio_bytes * 0.15, len(t)),
                        rng.normal(audio_bytes / 3, 4, len(t)))
        size = np.clip(size, 8, 400).astype(np.int32) + RTP_OVERHEAD
        b.add(t, f, up, size, 0, K_RTP, -2, 0)
        if video:
            ft = np.arange(ts + rng.uniform(0, 0.05), t1, 1.0 / fps)
            mean_frame = video_kbps * 1000 / 8 / fps * rng.uniform(0.85, 1.15)
            fs = rng.lognormal(np.log(mean_frame), 0.35, len(ft))
            key = (np.arange(len(ft)) % int(fps * rng.uniform(2, 5))) == 0
            fs = np.where(key, fs * 6, fs).astype(np.int64)
            npk = np.maximum((fs + 1149) // 1150, 1)
            rep = np.repeat(np.arange(len(ft)), npk)
            first = np.concatenate([[0], np.cumsum(npk)[:-1]])
            i = np.arange(int(npk.sum())) - first[rep]
            per = fs[rep] // npk[rep]
            pt = ft[rep] + i * 0.0008
            if not up:
                pt = pt + path.rtt / 2 + np.abs(rng.normal(0, path.jitter, len(pt)))
            b.add(pt, f, up, np.clip(per, 60, 1150).astype(np.int32) + RTP_OVERHEAD, 0, K_RTP, -2, 1)
        # RTCP about once a second
        rt = np.arange(ts + rng.uniform(0, 1), t1, 1.0)
        rt = rt + rng.uniform(-0.1, 0.1, len(rt))
        b.add(rt, f, up, rng.integers(60, 110, len(rt)), 0, K_RTCP)
    return f


__all__ = ["rtp_call", "stun_binding"]
