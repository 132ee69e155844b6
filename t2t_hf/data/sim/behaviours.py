"""Traffic models of user activities, built from the transport models.

Each model has the signature ``model(ctx, t0, t1, **params)`` and adds the
traffic of one activity spell from ``t0`` to ``t1`` (seconds since the session
start) to ``ctx.b``. Sizes are application bytes; times are seconds. The user's
``pace`` divides think/dwell times; the path's bandwidth sets video bitrates.

Models: ``abr_video`` (adaptive-bitrate segment fetches, periodic bursts),
``short_video`` (swipe-driven clip fetches), ``feed`` (scroll-driven image and
API fetches), ``chat`` (sparse small messages, typing indicators, keep-alives),
``media_send`` (photo / voice note / file / video uploads), ``call`` (RTP voice
or video), ``web_page`` (page loads on many connections, then reading),
``search`` (per-keystroke suggestions, then results), ``navigation`` (steady
location updates and tile fetches), ``map_explore`` (tile bursts while panning),
``audio_stream`` (chunked audio with long gaps), ``game_realtime`` (steady small
UDP updates), ``game_casual`` (sparse level events), ``ad_video`` (a video ad),
``live_stream`` (short live segments + chat), ``upload_video`` (bulk upload).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .background import Resolver, analytics, server_ip
from .environments import NetPath
from .packets import K_OPAQUE, TrafficBuilder
from .quic import open_quic, quic_data, quic_exchanges
from .rtp import rtp_call
from .tls_tcp import close_tcp, open_tcp, tcp_data, tcp_exchanges, tls_len
from .users import User


@dataclass
class Conn:
    flow: int
    transport: str  # "tcp" or "quic"
    busy_up: float = 0.0  # time (s) the uplink byte stream is free again (TCP streams are in order)
    busy_down: float = 0.0
    idle_timeout: float = 60.0  # s without use after which the app closes the connection

    @property
    def busy(self) -> float:
        return max(self.busy_up, self.busy_down)

    def mark(self, t: float, up: bool | None = None) -> None:
        """Record that a stream is used until ``t`` (both directions when ``up`` is None)."""
        if up is None or up:
            self.busy_up = max(self.busy_up, t)
        if up is None or not up:
            self.busy_down = max(self.busy_down, t)


_FALLBACK = {"audio": "media", "cdn2": "cdn", "ads": "api", "upload": "api", "chat": "api", "media": "cdn"}


@dataclass
class AppContext:
    """What a traffic model needs: the builder, the session path, resolver, user and app."""

    b: TrafficBuilder
    path: NetPath
    dns: Resolver
    user: User
    app: object  # AppSpec
    conns: dict = field(default_factory=dict)

    @property
    def rng(self) -> np.random.Generator:
        return self.b.rng

    def conn(self, role: str, t: float, fresh: bool = False) -> tuple[Conn, float]:
        """The app's connection for ``role`` ("api", "cdn", "media", "chat", "upload", ...).

        Reuses an open one unless ``fresh``; otherwise resolves the host and opens a new one.
        Returns ``(conn, time it is usable)``.
        """
        c = self.conns.get(role)
        if c is not None and c.transport != "udp" and t - c.busy > c.idle_timeout:
            if c.transport == "tcp":  # the idle connection was closed; a new one is opened below
                close_tcp(self.b, self.path, c.flow, c.busy + c.idle_timeout, by_phone=bool(self.rng.random() < 0.5))
            fresh = True
        if c is not None and not fresh:
            return c, t
        host = self.app.hosts.get(role) or self.app.hosts.get(_FALLBACK.get(role, "api")) or self.app.hosts["api"]
        transport = self.app.transports.get(role, "tcp")
        edge = int(self.rng.integers(0, 4))
        t, addr = self.dns.lookup(t, host, edge)
        if transport == "quic":
            flow, t = open_quic(self.b, self.path, t, addr, host, self.app.name)
        else:
            port = self.app.ports.get(role, 443)
            flow, t = open_tcp(self.b, self.path, t, addr, port, host, self.app.name,
                               resumed=role in self.conns or bool(self.rng.random() < 0.3))
        c = Conn(flow, transport, t, t, float(self.rng.uniform(15.0, 90.0)))
        self.conns[role] = c
        return c, t

    def exchange(self, role: str, t_req, req, resp, think=(0.005, 0.06), rate=None) -> np.ndarray:
        """Request/response exchanges on the role's connection; returns response end times (s)."""
        t_req = np.atleast_1d(np.asarray(t_req, dtype=np.float64))
        if not len(t_req):
            return np.zeros(0)
        c, t = self.conn(role, float(t_req[0]))
        if c.transport == "quic":
            ends = quic_exchanges(self.b, self.path, c.flow, np.maximum(t_req, t), req, resp, think, rate)
        else:
            ends = tcp_exchanges(self.b, self.path, c.flow, np.maximum(t_req, max(t, c.busy + 1e-3)), req, resp,
                                 think, rate)
        c.mark(float(ends.max()))
        return ends

    def send(self, role: str, up: bool, times, sizes) -> np.ndarray:
        """One-way messages (application bytes) at sorted ``times`` on the role's connection."""
        times = np.atleast_1d(np.asarray(times, dtype=np.float64))
        if not len(times):
            return np.zeros(0)
        c, t = self.conn(role, float(times[0]))
        if c.transport == "quic":
            return quic_data(self.b, self.path, c.flow, up, np.maximum(times, t), sizes)
        times = np.maximum(times, max(t, (c.busy_up if up else c.busy_down) + 1e-3))
        ends = tcp_data(self.b, self.path, c.flow, up, times, tls_len(sizes))
        c.mark(float(ends.max()), up)
        return ends


def _gaps(rng, mean: float, t0: float, t1: float, sigma: float = 0.6) -> np.ndarray:
    """Event times in [t0, t1) with log-normal gaps of the given mean (s)."""
    n = int((t1 - t0) / max(mean, 0.05) * 2) + 4
    g = rng.lognormal(np.log(mean) - sigma ** 2 / 2, sigma, n)
    t = t0 + np.cumsum(g)
    return t[t < t1]


def _lognormal_bytes(rng, median: float, sigma: float, n: int, lo: int = 40) -> np.ndarray:
    return np.maximum(rng.lognormal(np.log(median), sigma, n), lo).astype(np.int64)


# ---------------------------------------------------------------------------------------------
def abr_video(ctx: AppContext, t0, t1, seg_dur=(4.0, 6.0), ladder_kbps=(400, 750, 1500, 2500, 4500),
              startup_s=20.0, audio_kbps=128):
    """Adaptive-bitrate playback: a startup burst filling ``startup_s`` of buffer, then one video
    (and audio) segment every segment duration: periodic downlink bursts every 2-10 s."""
    rng, path = ctx.rng, ctx.path
    dur = float(rng.uniform(*seg_dur))
    budget = 0.5 * path.down_bw / 1000 * ctx.user.video_quality
    ladder = np.asarray(ladder_kbps, dtype=float)
    kbps = ladder[max(0, int(np.searchsorted(ladder, budget)) - 1)]
    ctx.exchange("api", [t0 + 0.05], [int(rng.integers(700, 1500))], [int(rng.integers(8000, 60000))])
    n_start = int(np.ceil(startup_s / dur))
    steady = np.arange(t0 + 0.4 + n_start * dur * 0.15, t1, dur)
    times = np.concatenate([t0 + 0.4 + np.arange(n_start) * 0.02, steady + rng.normal(0, 0.3, len(steady))])
    times = np.sort(times[times < t1])
    vbytes = (kbps * 1000 / 8 * dur * rng.uniform(0.7, 1.3, len(times))).astype(np.int64)
    ctx.exchange("media", times, rng.integers(400, 1100, len(times)), vbytes, think=(0.002, 0.03))
    at = times[::2] + 0.01
    ctx.exchange("audio", at, rng.integers(400, 900, len(at)),
                 (audio_kbps * 1000 / 8 * dur * 2 * rng.uniform(0.9, 1.1, len(at))).astype(np.int64))
    beacons = _gaps(rng, 10.0, t0 + 1, t1)
    ctx.exchange("api", beacons, rng.integers(500, 2000, len(beacons)), rng.integers(50, 300, len(beacons)))


def short_video(ctx: AppContext, t0, t1, clip_kb=(600, 2500), watch_s=12.0, thumbs=True):
    """Swipe-driven short videos: each swipe fetches the next clip quickly (and prefetches the
    start of the one after); a feed page of metadata every few clips; likes as small requests."""
    rng = ctx.rng
    swipes = np.concatenate([[t0 + 0.1], _gaps(rng, watch_s / ctx.user.pace, t0 + 0.1, t1, 0.7)])
    n = len(swipes)
    clips = (rng.uniform(*clip_kb, n) * 1000).astype(np.int64)
    tt = np.concatenate([swipes, swipes + 1.5])
    sz = np.concatenate([clips // 2, clips - clips // 2])
    o = np.argsort(tt, kind="stable")
    ctx.exchange("media", tt[o], rng.integers(400, 900, 2 * n), sz[o], think=(0.002, 0.02))
    pages = swipes[::5]
    ctx.exchange("api", pages, rng.integers(800, 2500, len(pages)), _lognormal_bytes(rng, 25000, 0.5, len(pages)))
    likes = swipes[rng.random(n) < 0.2] + rng.uniform(1, 4)
    ctx.exchange("api", likes[likes < t1], 600, 300)


def feed(ctx: AppContext, t0, t1, image_kb=120, per_scroll=(2, 6), scroll_s=4.0, video_prob=0.15,
         api_kb=20):
    """Scrolling a feed: each scroll loads images (in parallel on two CDN connections), a page
    of posts from the API every third scroll, sometimes an autoplaying video; pauses in between."""
    rng = ctx.rng
    scrolls = np.concatenate([[t0 + 0.1], _gaps(rng, scroll_s / ctx.user.pace, t0 + 0.1, t1, 0.8)])
    n = len(scrolls)
    k = rng.integers(per_scroll[0], per_scroll[1] + 1, n)
    t_img = np.repeat(scrolls, k) + rng.uniform(0.02, 0.4, int(k.sum()))
    t_img.sort()
    sizes = _lognormal_bytes(rng, image_kb * 1000, 0.7, len(t_img), 2000)
    half = rng.random(len(t_img)) < 0.5
    ctx.exchange("cdn", t_img[half], rng.integers(300, 700, int(half.sum())), sizes[half], think=(0.002, 0.02))
    ctx.exchange("cdn2", t_img[~half], rng.integers(300, 700, int((~half).sum())), sizes[~half],
                 think=(0.002, 0.02))
    pages = scrolls[::3]
    ctx.exchange("api", pages, rng.integers(700, 2500, len(pages)),
                 _lognormal_bytes(rng, api_kb * 1000, 0.5, len(pages)))
    vids = scrolls[rng.random(n) < video_prob] + 0.3
    if len(vids):
        ctx.exchange("media", vids, rng.integers(400, 900, len(vids)),
                     (rng.uniform(300, 1500, len(vids)) * 1000).astype(np.int64), think=(0.002, 0.02))


def chat(ctx: AppContext, t0, t1, typing=True, incoming_rate=1 / 20.0, keepalive_s=25.0, msg_chars=(8, 90)):
    """Messaging: the user composes (typing indicators), sends short encrypted messages and gets
    delivery/read receipts; other people's messages arrive; the client pings the server."""
    rng, user = ctx.rng, ctx.user
    ups_t, ups_s, downs_t, downs_s = [], [], [], []
    t = t0 + rng.uniform(0.2, 3.0)
    while t < t1:
        if typing:
            chars = int(rng.integers(*msg_chars))
            compose = chars / user.typing_speed * rng.uniform(0.8, 1.6)
            ups_t.append(t)
            ups_s.append(int(rng.integers(30, 70)))  # "typing..."
            t_send = t + compose
            if t_send >= t1:
                break
            ups_t.append(t_send)
            ups_s.append(int(chars * 1.2 + rng.integers(60, 160)))
            downs_t += [t_send + ctx.path.rtt * 1.2, t_send + rng.uniform(0.5, 8)]  # server ack, read receipt
            downs_s += [int(rng.integers(30, 60)), int(rng.integers(40, 90))]
            t = t_send + rng.lognormal(np.log(4.0 / user.pace), 0.8)  # reading the reply
        else:
            t = t1
    n_in = rng.poisson((t1 - t0) * incoming_rate)
    tin = np.sort(rng.uniform(t0, t1, n_in))
    downs_t += tin.tolist()
    downs_s += (rng.integers(60, 200, n_in) + rng.integers(0, 300, n_in)).tolist()
    ups_t += (tin + rng.uniform(0.05, 0.4, n_in)).tolist()  # delivery receipt
    ups_s += rng.integers(30, 70, n_in).tolist()
    ka = np.arange(t0 + rng.uniform(0, keepalive_s), t1, keepalive_s * rng.uniform(0.8, 1.2))
    ups_t += ka.tolist()
    ups_s += rng.integers(20, 40, len(ka)).tolist()
    downs_t += (ka + ctx.path.rtt * 1.1).tolist()
    downs_s += rng.integers(20, 40, len(ka)).tolist()
    ou, od = np.argsort(ups_t), np.argsort(downs_t)
    ctx.send("chat", True, np.asarray(ups_t)[ou], np.asarray(ups_s, dtype=np.int64)[ou])
    ctx.send("chat", False, np.asarray(downs_t)[od], np.asarray(downs_s, dtype=np.int64)[od])
    # pictures in received messages: thumbnails
    pics = tin[rng.random(n_in) < 0.15]
    if len(pics):
        ctx.exchange("cdn", pics + 0.2, 400, _lognormal_bytes(rng, 30000, 0.6, len(pics)))


def media_send(ctx: AppContext, t0, t1, size_kb=(80, 2500), prepare_s=(4, 15), kind="photo"):
    """Sending media: choose/record (``prepare_s``), upload ``size_kb`` on the upload connection,
    a small confirmation on the chat connection; repeated while time remains."""
    rng, path = ctx.rng, ctx.path
    t = t0
    chat(ctx, t0, t1, typing=False, incoming_rate=1 / 40.0)
    while True:
        t = t + rng.uniform(*prepare_s) / ctx.user.pace
        if t >= t1:
            break
        size = int(rng.uniform(*size_kb) * 1000)
        c, tu = ctx.conn("upload", t)
        tu = max(tu, c.busy + 1e-3)
        ends = tcp_data(ctx.b, path, c.flow, True, [tu], tls_len([size])) if c.transport == "tcp" else \
            quic_data(ctx.b, path, c.flow, True, [tu], [size])
        end = float(ends[-1]) + path.rtt
        c.mark(end, True)
        ctx.send("upload", False, [end], [int(rng.integers(200, 600))])
        ctx.send("chat", True, [end + 0.05], [int(rng.integers(200, 400))])
        t = end + rng.uniform(1, 6)


def call(ctx: AppContext, t0, t1, video=False, video_kbps=(400, 1500), audio_kbps=(24, 48), ptime=0.02, dtx=False):
    """A voice or video call: signalling on the chat connection, then RTP media until ``t1``."""
    rng = ctx.rng
    ctx.send("chat", True, [t0 + 0.05], [int(rng.integers(300, 700))])
    ctx.send("chat", False, [t0 + 0.2], [int(rng.integers(300, 900))])
    relay = server_ip(ctx.app.hosts.get("relay", ctx.app.hosts["api"]), int(rng.integers(0, 4)))
    rtp_call(ctx.b, ctx.path, t0 + 0.5, t1, relay, ctx.app.name, video=video,
             video_kbps=float(rng.uniform(*video_kbps)) * min(1.0, ctx.path.up_bw / 2e6),
             audio_kbps=float(rng.uniform(*audio_kbps)), ptime=float(ptime), dtx=bool(dtx))
    ka = np.arange(t0 + 5, t1, 15.0)
    ctx.send("chat", True, ka, rng.integers(30, 60, len(ka)))


def web_page(ctx: AppContext, t0, t1, page_kb=1200, objects=(15, 60), read_s=20.0, hosts=(3, 10)):
    """Web pages: each load resolves several hosts, opens connections (browser-sized hellos) and
    fetches many objects; then the user reads (lazy-loaded images, ad beacons)."""
    rng, b, path = ctx.rng, ctx.b, ctx.path
    loads = np.concatenate([[t0 + 0.1], _gaps(rng, read_s / ctx.user.pace, t0 + 0.1, t1, 0.6)])
    for tl in loads:
        tl = float(tl)
        doc = ctx.exchange("api", [tl], [int(rng.integers(500, 1200))], [int(rng.integers(15000, 120000))])[0]
        nh = int(rng.integers(*hosts))
        nobj = int(rng.integers(*objects))
        total = page_kb * 1000 * rng.uniform(0.4, 1.6)
        w = rng.dirichlet(np.full(nobj, 0.7))
        sizes = np.maximum((w * total).astype(np.int64), 200)
        which = rng.integers(0, nh, nobj)
        for h in range(nh):
            sel = which == h
            if not sel.any():
                continue
            host = f"cdn{h}.{ctx.app.hosts['api'].split('.', 1)[-1]}" if h else ctx.app.hosts.get("cdn", "")
            ta, addr = ctx.dns.lookup(doc + rng.uniform(0.005, 0.1), host or ctx.app.hosts["api"])
            f, tr = open_tcp(b, path, ta, addr, 443, host, ctx.app.name, resumed=bool(rng.random() < 0.4),
                             chrome_hello=True)
            k = int(sel.sum())
            tcp_exchanges(b, path, f, tr + np.cumsum(rng.exponential(0.03, k)), rng.integers(300, 900, k),
                          sizes[sel], think=(0.003, 0.05))
        lazy = _gaps(rng, 5.0, doc + 2, min(t1, doc + read_s))
        ctx.exchange("cdn", lazy, rng.integers(300, 700, len(lazy)), _lognormal_bytes(rng, 40000, 0.8, len(lazy)))


def search(ctx: AppContext, t0, t1, suggest_kb=3, results_kb=60, thumbs=(4, 12), image_kb=25):
    """Searching: a suggestion request per keystroke burst, then a results page with thumbnails;
    the user looks at the results and searches again."""
    rng, user = ctx.rng, ctx.user
    t = t0 + 0.3
    while t < t1:
        chars = int(rng.integers(4, 25))
        keys = t + np.cumsum(rng.exponential(1.0 / user.typing_speed, chars))
        keys = keys[::2]
        ctx.exchange("api", keys, rng.integers(300, 700, len(keys)),
                     _lognormal_bytes(rng, suggest_kb * 1000, 0.4, len(keys)))
        tr = float(keys[-1]) + rng.uniform(0.3, 1.5)
        if tr >= t1:
            break
        end = ctx.exchange("api", [tr], [int(rng.integers(500, 1200))],
                           [int(rng.uniform(0.5, 1.5) * results_kb * 1000)])[0]
        k = int(rng.integers(*thumbs))
        ctx.exchange("cdn", end + rng.uniform(0.01, 0.3, k).cumsum(), rng.integers(300, 600, k),
                     _lognormal_bytes(rng, image_kb * 1000, 0.6, k))
        t = end + rng.lognormal(np.log(10.0 / user.pace), 0.5)


def navigation(ctx: AppContext, t0, t1, update_s=2.0, tiles_s=30.0, tile_kb=60):
    """Turn-by-turn navigation: steady small location/route updates, periodic tile and traffic fetches."""
    rng = ctx.rng
    upd = _gaps(rng, update_s, t0, t1, 0.3)
    ctx.exchange("api", upd, rng.integers(200, 700, len(upd)), _lognormal_bytes(rng, 700, 0.6, len(upd)))
    tiles = _gaps(rng, tiles_s, t0, t1, 0.5)
    k = rng.integers(2, 8, len(tiles))
    tt = np.sort(np.repeat(tiles, k) + rng.uniform(0, 0.5, int(k.sum())))
    ctx.exchange("cdn", tt, rng.integers(300, 600, len(tt)), _lognormal_bytes(rng, tile_kb * 1000 / 4, 0.8, len(tt)))


def map_explore(ctx: AppContext, t0, t1, pan_s=5.0, tiles=(4, 16), tile_kb=15):
    """Panning and zooming a map: bursts of tile fetches, place details now and then."""
    rng = ctx.rng
    pans = _gaps(rng, pan_s / ctx.user.pace, t0, t1, 0.6)
    k = rng.integers(tiles[0], tiles[1] + 1, len(pans))
    tt = np.sort(np.repeat(pans, k) + rng.uniform(0, 0.6, int(k.sum())))
    ctx.exchange("cdn", tt, rng.integers(300, 600, len(tt)), _lognormal_bytes(rng, tile_kb * 1000, 0.8, len(tt)))
    det = pans[rng.random(len(pans)) < 0.3]
    ctx.exchange("api", det, rng.integers(500, 1200, len(det)), _lognormal_bytes(rng, 20000, 0.6, len(det)))


def audio_stream(ctx: AppContext, t0, t1, kbps=160, chunk_s=(8, 30), cover_kb=80):
    """Music or podcast streaming: a startup fetch, then an audio chunk every ``chunk_s``
    (long quiet gaps), cover art, playback reports."""
    rng = ctx.rng
    ck = float(rng.uniform(*chunk_s))
    rate = kbps * (0.6 if ctx.path.env == "cellular" else 1.0)
    times = np.concatenate([[t0 + 0.2, t0 + 0.5], np.arange(t0 + 0.5 + ck, t1, ck) + rng.normal(0, 0.5, 1)])
    times = np.sort(times[times < t1])
    ctx.exchange("media", times, rng.integers(400, 900, len(times)),
                 (rate * 1000 / 8 * ck * rng.uniform(0.85, 1.15, len(times))).astype(np.int64))
    ctx.exchange("cdn", [t0 + 0.3], [500], [int(cover_kb * 1000 * rng.uniform(0.5, 1.5))])
    rep = _gaps(rng, 30.0, t0 + 2, t1)
    ctx.exchange("api", rep, rng.integers(300, 1500, len(rep)), rng.integers(100, 500, len(rep)))


def game_realtime(ctx: AppContext, t0, t1, up_hz=20.0, down_hz=30.0, up_bytes=(40, 160), down_bytes=(60, 420)):
    """A real-time match: steady small UDP datagrams both ways (tick rate), TCP for lobby chat."""
    rng, b, path = ctx.rng, ctx.b, ctx.path
    c = ctx.conns.get("game")
    if c is None:
        addr = server_ip(ctx.app.hosts.get("game", ctx.app.hosts["api"]), int(rng.integers(0, 4)))
        c = Conn(b.new_flow(17, addr, int(rng.integers(10000, 20000)), "", ctx.app.name), "udp")
        ctx.conns["game"] = c
    tu = np.arange(t0 + rng.uniform(0, 0.05), t1, 1.0 / up_hz) + rng.normal(0, 0.002, 1)
    td = np.arange(t0 + path.rtt / 2, t1, 1.0 / down_hz)
    td = td + np.abs(rng.normal(0, path.jitter, len(td)))
    b.add(tu, c.flow, True, rng.integers(*up_bytes, len(tu)), 0, K_OPAQUE)
    b.add(td, c.flow, False, np.clip(rng.lognormal(np.log(np.mean(down_bytes)), 0.4, len(td)), down_bytes[0],
                                     1200).astype(np.int32), 0, K_OPAQUE)
    ev = _gaps(rng, 20.0, t0, t1)
    ctx.exchange("api", ev, rng.integers(200, 800, len(ev)), rng.integers(200, 1500, len(ev)))


def game_casual(ctx: AppContext, t0, t1, level_s=60.0, asset_kb=200):
    """A casual game: a level start/end exchange now and then, assets at start, telemetry."""
    rng = ctx.rng
    ctx.exchange("cdn", [t0 + 0.2], [500], [int(asset_kb * 1000 * rng.uniform(0.3, 1.5))])
    lv = _gaps(rng, level_s / ctx.user.pace, t0, t1, 0.5)
    ctx.exchange("api", lv, rng.integers(300, 1500, len(lv)), rng.integers(300, 3000, len(lv)))
    analytics(ctx.b, ctx.path, ctx.dns, t0, t1, ctx.app.name, period=15.0)


def ad_video(ctx: AppContext, t0, t1, ad_kb=(800, 3000)):
    """Watching a rewarded video ad: the ad file, tracking pixels at quartiles."""
    rng = ctx.rng
    t = t0 + 0.2
    while t < t1:
        end = ctx.exchange("ads", [t], [int(rng.integers(800, 2000))], [int(rng.uniform(*ad_kb) * 1000)])[0]
        q = t + np.arange(1, 5) * 7.5
        ctx.exchange("ads", q[q < t1], 900, 200)
        t = max(end, t + 30.0) + rng.uniform(2, 10)


def live_stream(ctx: AppContext, t0, t1, seg_s=2.0, kbps=(1200, 3500), chat_hz=1.0):
    """Live streaming: a short video segment every ``seg_s`` (steadier than VOD) plus a busy chat."""
    rng = ctx.rng
    rate = min(float(rng.uniform(*kbps)), 0.6 * ctx.path.down_bw / 1000)
    times = np.arange(t0 + 0.3, t1, seg_s) + rng.normal(0, 0.1)
    ctx.exchange("media", times, rng.integers(400, 900, len(times)),
                 (rate * 1000 / 8 * seg_s * rng.uniform(0.8, 1.2, len(times))).astype(np.int64))
    pl = times[::3]
    ctx.exchange("api", pl, rng.integers(400, 800, len(pl)), rng.integers(800, 3000, len(pl)))
    msgs = _gaps(rng, 1.0 / chat_hz, t0, t1, 0.9)
    ctx.send("chat", False, msgs, rng.integers(80, 400, len(msgs)))


def upload_video(ctx: AppContext, t0, t1, size_mb=(5, 60)):
    """Uploading a video: a long uplink transfer in chunks, progress polls."""
    rng, path = ctx.rng, ctx.path
    ctx.exchange("api", [t0 + 0.2], [2000], [1500])
    c, t = ctx.conn("upload", t0 + 0.5)
    t = max(t, c.busy + 1e-3)
    remaining = int(rng.uniform(*size_mb) * 1e6)
    chunk = 1 << 20
    while remaining > 0 and t < t1:
        n = min(chunk, remaining)
        if c.transport == "quic":
            end = float(quic_data(ctx.b, path, c.flow, True, [t], [n], rate=path.up_bw * 0.8)[0])
        else:
            end = float(tcp_data(ctx.b, path, c.flow, True, [t], tls_len([n]), rate=path.up_bw * 0.8)[0])
        remaining -= n
        t = end + path.rtt * 1.2
        c.mark(t, True)
        ctx.send("upload", False, [t], [int(rng.integers(100, 300))])
        t += 0.005
    polls = _gaps(rng, 5.0, t0 + 1, t1)
    ctx.exchange("api", polls, 600, 400)


MODELS = {f.__name__: f for f in (abr_video, short_video, feed, chat, media_send, call, web_page, search,
                                  navigation, map_explore, audio_stream, game_realtime, game_casual, ad_video,
                                  live_stream, upload_video)}

__all__ = ["AppContext", "Conn", "MODELS"] + list(MODELS)
