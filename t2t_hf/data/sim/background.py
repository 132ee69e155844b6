"""Background traffic every phone makes, and the address book of simulated servers.

- DNS over UDP port 53: an A (and often AAAA) query before a new connection to a
  host name, answered by the resolver (the Wi-Fi router or the carrier's resolver).
- Push notifications: a long-lived TLS connection to a push service (port 5228)
  with heartbeats and occasional notifications.
- Analytics beacons: small periodic POSTs from the app in the foreground.
- Other apps syncing in the background: rare bursts on fresh connections.

Server addresses are derived from the host name (stable across sessions, varied
per CDN edge), always in public unicast space; no real capture's addresses are
used.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from .environments import NetPath
from .packets import TrafficBuilder
from .tls_tcp import close_tcp, open_tcp, tcp_data, tcp_exchanges, tls_len

_FIRST_OCTETS = (23, 31, 34, 35, 52, 54, 69, 104, 142, 151, 157, 162, 185, 199)

OTHER_APP_HOSTS = ("play.googleapis.com", "android.clients.google.com", "graph.facebook.com", "api.weather.com",
                   "mail.google.com", "outlook.office365.com", "sync.dropbox.com", "photos.googleapis.com",
                   "clients4.google.com", "news.google.com", "api.linkedin.com", "gateway.icloud.com")
PUSH_HOST = "mtalk.google.com"
TELEMETRY_HOSTS = ("app-measurement.com", "firebaselogging-pa.googleapis.com", "settings.crashlytics.com")


def server_ip(host: str, edge: int = 0) -> str:
    """A public IPv4 address for ``host`` (deterministic; ``edge`` picks one of its CDN edges)."""
    h = zlib.crc32(f"{host}#{edge % 4}".encode())
    a = _FIRST_OCTETS[h % len(_FIRST_OCTETS)]
    return f"{a}.{(h >> 8) & 0xFF}.{(h >> 16) & 0xFF}.{max(1, (h >> 24) & 0xFE)}"


def dns_query(host: str, txid: int, qtype: int = 1) -> bytes:
    """A DNS query message (RFC 1035) for ``host`` (qtype 1 = A, 28 = AAAA)."""
    q = b"".join(bytes([len(p)]) + p.encode() for p in host.split(".")) + b"\x00"
    return struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", qtype, 1)


def dns_response(host: str, txid: int, qtype: int, answers: list[bytes], ttl: int = 60) -> bytes:
    """A DNS response echoing the question with ``answers`` (4-byte A or 16-byte AAAA rdata)."""
    q = b"".join(bytes([len(p)]) + p.encode() for p in host.split(".")) + b"\x00"
    body = q + struct.pack("!HH", qtype, 1)
    for rd in answers:
        body += struct.pack("!HHHIH", 0xC00C, qtype, 1, ttl, len(rd)) + rd
    return struct.pack("!HHHHHH", txid, 0x8180, 1, len(answers), 0, 0) + body


class Resolver:
    """The phone's DNS resolver for one session: caches names it has looked up (s)."""

    def __init__(self, b: TrafficBuilder, path: NetPath, address: str) -> None:
        self.b = b
        self.path = path
        self.address = address
        self.cache: dict[str, tuple[float, float]] = {}

    def lookup(self, t: float, host: str, edge: int = 0) -> tuple[float, str]:
        """Resolve ``host`` at ``t`` (s): returns (time the answer is in, server address).

        A cached name (looked up less than its TTL, 20-300 s, ago) costs nothing.
        """
        b, rng = self.b, self.b.rng
        addr = server_ip(host, edge)
        if host in self.cache:
            t_prev, ttl = self.cache[host]
            if t_prev <= t < t_prev + ttl:
                return t, addr
        ttl = float(rng.choice([20.0, 30.0, 60.0, 120.0, 300.0]))
        self.cache[host] = (t, ttl)
        f = b.new_flow(17, self.address, 53, host, "dns")
        txid = int(rng.integers(0, 65536))
        rt = self.path.rtt * rng.uniform(0.3, 1.5) + rng.uniform(0.001, 0.02)
        b.add_raw(t, f, True, dns_query(host, txid, 1))
        ans = [bytes(int(x) for x in addr.split("."))]
        if rng.random() < 0.4:
            ans.append(bytes(int(x) for x in server_ip(host, edge + 1).split(".")))
        b.add_raw(t + rt, f, False, dns_response(host, txid, 1, ans, int(ttl)))
        done = t + rt
        if rng.random() < 0.5:  # AAAA in parallel, no IPv6 answer on this network
            f2 = b.new_flow(17, self.address, 53, host, "dns")
            tx2 = int(rng.integers(0, 65536))
            b.add_raw(t + 2e-4, f2, True, dns_query(host, tx2, 28))
            b.add_raw(t + 2e-4 + rt * rng.uniform(0.9, 1.3), f2, False, dns_response(host, tx2, 28, []))
        return done + 1e-4, addr


def push_channel(b: TrafficBuilder, path: NetPath, dns: Resolver, t0: float, t1: float) -> None:
    """The push-notification connection: open (or already open), heartbeats, notifications."""
    rng = b.rng
    if rng.random() < 0.3:
        t, addr = dns.lookup(t0 + rng.uniform(0, 5), PUSH_HOST)
        f, t = open_tcp(b, path, t, addr, 5228, PUSH_HOST, "push")
    else:  # long-lived connection opened before the capture started
        f = b.new_flow(6, server_ip(PUSH_HOST), 5228, PUSH_HOST, "push")
        t = t0
    hb = np.arange(t + rng.uniform(5, 120), t1, rng.uniform(90, 280))
    if len(hb):
        tcp_exchanges(b, path, f, hb, rng.integers(20, 40, len(hb)), rng.integers(20, 40, len(hb)))
    n = rng.poisson((t1 - t0) / 90.0)
    if n:
        tn = np.sort(rng.uniform(t, t1, n))
        ends = tcp_data(b, path, f, False, tn, tls_len(rng.integers(150, 900, n)))
        tcp_data(b, path, f, True, ends + rng.uniform(0.01, 0.05, n), tls_len(rng.integers(20, 60, n)))


def analytics(b: TrafficBuilder, path: NetPath, dns: Resolver, t0: float, t1: float, app: str,
              period: float = 30.0) -> None:
    """Telemetry POSTs from the foreground app every ~``period`` s on a fresh or reused connection."""
    rng = b.rng
    if t1 - t0 < 2:
        return
    times = np.cumsum(rng.exponential(period, int((t1 - t0) / period) + 3)) + t0 + rng.uniform(1, period)
    times = times[times < t1 - 0.5]
    if not len(times):
        return
    host = TELEMETRY_HOSTS[int(rng.integers(0, len(TELEMETRY_HOSTS)))]
    t, addr = dns.lookup(float(times[0]), host)
    f, t = open_tcp(b, path, t, addr, 443, host, app, resumed=bool(rng.random() < 0.6))
    times[0] = t
    tcp_exchanges(b, path, f, times, rng.integers(400, 3500, len(times)), rng.integers(60, 400, len(times)))


def other_apps(b: TrafficBuilder, path: NetPath, dns: Resolver, t0: float, t1: float, rate: float = 1 / 45.0) -> None:
    """Other apps and services in the background: Poisson bursts (``rate`` per s) of 1-3 small exchanges,
    each on a fresh connection (phones open 20-40 flows a minute in the real captures)."""
    rng = b.rng
    n = rng.poisson((t1 - t0) * rate)
    for t in np.sort(rng.uniform(t0, t1, n)):
        host = OTHER_APP_HOSTS[int(rng.integers(0, len(OTHER_APP_HOSTS)))]
        ta, addr = dns.lookup(float(t), host)
        f, tr = open_tcp(b, path, ta, addr, 443, host, "background", resumed=bool(rng.random() < 0.5))
        k = int(rng.integers(1, 4))
        req = tr + np.cumsum(rng.exponential(0.3, k))
        ends = tcp_exchanges(b, path, f, req, rng.integers(200, 1200, k),
                             rng.lognormal(np.log(1500), 1.0, k).astype(np.int64) + 100)
        if rng.random() < 0.6:
            close_tcp(b, path, f, float(ends[-1]) + rng.uniform(0.05, 2.0))


__all__ = ["server_ip", "dns_query", "dns_response", "Resolver", "push_channel", "analytics", "other_apps",
           "OTHER_APP_HOSTS", "PUSH_HOST", "TELEMETRY_HOSTS"]
