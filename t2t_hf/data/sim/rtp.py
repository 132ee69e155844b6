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


def _talk_mask(rng, t: np.ndarray, t0: float, t1: float, mean_talk: float) -> np.ndarray:
    """True where a party is talking: alternating exponential talk/silence spells."""
    n = int((t1 - t0) / max(mean_talk, 0.5)) * 2 + 4
    spells = rng.exponential(mean_talk, n)
    edges = t0 + np.cumsum(spells)
    state = np.searchsorted(edges, t) % 2 == int(rng.integers(0, 2))
    return state


def rtp_call(b: TrafficBuilder, path: NetPath, t0: float, t1: float, server: str, app: str,
             video: bool = False, video_kbps: float = 800.0, audio_kbps: float = 32.0, ptime: float = 0.02) -> int:
    """Add a call between ``t0`` and ``t1`` (s) through a relay at ``server``. Returns the flow index.

    Audio: one packet every ``ptime`` s (20 ms for WebRTC apps, 60 ms for WhatsApp/Telegram) each way;
    payload bytes = ``audio_kbps`` * ``ptime`` / 8 while talking, a third of it in silence. Video (if ``video``): frames at 15-30 fps sized from ``video_kbps``
    (log-normal, key frames 6x), split into packets of at most 1,150 payload bytes.
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
    for up in (True, False):
        t = np.arange(ts + rng.uniform(0, ptime), t1, ptime)
        if not up:
            t = t + path.rtt / 2 + np.abs(rng.normal(0, path.jitter, len(t)))
        talk = _talk_mask(rng, t, ts, t1, rng.uniform(2.0, 6.0))
        size = np.where(talk, rng.normal(audio_bytes, audio_bytes * 0.15, len(t)),
                        rng.normal(audio_bytes / 3, 4, len(t)))
        size = np.clip(size, 8, 400).astype(np.int32) + RTP_OVERHEAD
        b.add(t, f, up, size, 0, K_RTP, -2, 0)
        if video:
            fps = float(rng.choice([15.0, 24.0, 30.0]))
            ft = np.arange(ts + rng.uniform(0, 0.05), t1, 1.0 / fps)
            mean_frame = video_kbps * 1000 / 8 / fps * rng.uniform(0.7, 1.3)
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
