"""Network environments of T2T-Sim: Wi-Fi and cellular.

Each environment fixes the path properties the traffic models use: round-trip
time (s), its jitter, bottleneck bandwidths (bit/s), packet loss probability,
the TCP maximum segment size and the largest IP packet (bytes), the QUIC
datagram size, and how the phone's private address and DNS resolver look.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Environment:
    """Path properties of one access network.

    Attributes:
        name: "wifi" or "cellular".
        rtt: (low, high) range of the base round-trip time to servers, seconds; a session draws one.
        rtt_jitter: standard deviation of per-packet delay variation, seconds.
        down_bw: (low, high) downlink bottleneck bandwidth, bit/s; a session draws one (log-uniform).
        up_bw: (low, high) uplink bottleneck bandwidth, bit/s.
        loss: per-segment loss probability (a lost segment reaches the phone one RTO later).
        mss: TCP maximum segment size, bytes of TCP payload (with the 12-byte timestamp option in use).
        max_ip: largest IPv4 packet on the path, bytes (the MTU).
        quic_payload: largest QUIC UDP payload, bytes.
        subnet: the phone's private address prefix ("192.168." or "10.").
    """

    name: str
    rtt: tuple[float, float]
    rtt_jitter: float
    down_bw: tuple[float, float]
    up_bw: tuple[float, float]
    loss: float
    mss: int
    max_ip: int
    quic_payload: int
    subnet: str


WIFI = Environment(name="wifi", rtt=(0.012, 0.045), rtt_jitter=0.002, down_bw=(20e6, 120e6), up_bw=(8e6, 40e6),
                   loss=0.002, mss=1448, max_ip=1500, quic_payload=1350, subnet="192.168.")
CELLULAR = Environment(name="cellular", rtt=(0.040, 0.110), rtt_jitter=0.008, down_bw=(4e6, 40e6),
                       up_bw=(1e6, 10e6), loss=0.008, mss=1388, max_ip=1440, quic_payload=1280, subnet="10.")

#: name -> Environment
ENVIRONMENTS: dict[str, Environment] = {"wifi": WIFI, "cellular": CELLULAR}

__all__ = ["Environment", "ENVIRONMENTS", "WIFI", "CELLULAR"]


@dataclass(frozen=True)
class NetPath:
    """The path of one session, drawn from an :class:`Environment`.

    Attributes: ``rtt`` seconds, ``jitter`` seconds, ``down_bw``/``up_bw`` bit/s, ``loss`` probability,
    ``mss`` TCP payload bytes, ``quic_payload`` UDP payload bytes of a full QUIC packet, ``env`` the name.
    """

    env: str
    rtt: float
    jitter: float
    down_bw: float
    up_bw: float
    loss: float
    mss: int
    quic_payload: int


def draw_path(env: Environment, rng) -> NetPath:
    """Draw one session's path: RTT uniform in ``env.rtt``, bandwidths log-uniform in their ranges."""
    lo, hi = env.rtt
    rtt = float(rng.uniform(lo, hi))
    down = float(np.exp(rng.uniform(np.log(env.down_bw[0]), np.log(env.down_bw[1]))))
    up = float(np.exp(rng.uniform(np.log(env.up_bw[0]), np.log(env.up_bw[1]))))
    return NetPath(env=env.name, rtt=rtt, jitter=env.rtt_jitter, down_bw=down, up_bw=up,
                   loss=float(env.loss * rng.uniform(0.5, 1.5)), mss=env.mss, quic_payload=env.quic_payload)


__all__ += ["NetPath", "draw_path"]
