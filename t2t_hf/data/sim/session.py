"""One simulated usage session: a schedule of activities, its traffic and its caption track.

``generate_session(seed, user, environment, app=None, duration=120.0)`` is a pure
function of its arguments. The session starts in ``app`` (or an app drawn from
the user's habits), changes activity after log-normal dwell times (the user's
``dwell`` times the activity's dwell factor), and now and then moves to another
app. Background traffic (push channel, DNS, telemetry, other apps) runs
throughout. Times are seconds since the session start unless named ``*_epoch``.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import T2TInputError
from ...fileio import atomic_write
from .apps import APP_TYPES, APPS, APPS_BY_NAME, App
from .background import Resolver, analytics, other_apps, push_channel, server_ip
from .behaviours import MODELS, AppContext
from .captions import caption
from .environments import ENVIRONMENTS, draw_path
from .packets import Packets, TrafficBuilder
from .users import USERS

PROMPT_VERSION = "t2t-sim-1"
CAPTION_MODEL = "t2t-sim"
EPOCH_BASE = 1767225600.0  # 2026-01-01T00:00:00Z


@dataclass
class Spell:
    """One activity spell: ``start``/``end`` seconds, app name, app type, activity name, caption key."""

    start: float
    end: float
    app: str
    app_type: str
    activity: str
    caption_key: str


@dataclass
class Session:
    """A generated session.

    Attributes:
        seed, user, environment, duration (s), start_epoch (Unix time of t=0, s).
        device: the phone's private IPv4 address.
        spells: the activity schedule.
        captions: the time-stamped caption track (list of JSONL records; ``start``/``end`` in Unix seconds,
            the pcap's clock).
        raw: the finalized :class:`~.packets.Packets` (time-ordered packet arrays and flows).
    """

    seed: int
    user: str
    environment: str
    duration: float
    start_epoch: float
    device: str
    spells: list
    captions: list
    raw: Packets
    path: object = None
    _table: object = field(default=None, repr=False)

    @property
    def session_id(self) -> str:
        return f"sim-{self.user}-{self.environment}-{self.seed}"

    @property
    def packets(self):
        """The session's packets as a :class:`t2t_hf.traffic.table.PacketTable` (Unix timestamps)."""
        if self._table is None:
            self._table = to_packet_table(self)
        return self._table

    def write_pcap(self, path) -> Path:
        """Write a classic pcap (Ethernet, IPv4, TCP/UDP, valid checksums) atomically; returns the path."""
        from .pcap_writer import write_pcap
        return write_pcap(self, path)

    def write_captions_jsonl(self, path) -> Path:
        """Write the caption track as JSON lines (one record per caption segment), atomically."""
        path = Path(path)
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.captions)
        return atomic_write(path, text.encode("utf-8"))

    def activity_at(self, t: float) -> Spell:
        """The spell covering time ``t`` (s since start)."""
        for s in self.spells:
            if s.start <= t < s.end:
                return s
        return self.spells[-1]


def _check(user: str, environment: str, app: str | None, duration: float) -> None:
    if user not in USERS:
        raise T2TInputError(f"unknown user {user!r}; choose one of {sorted(USERS)}")
    if environment not in ENVIRONMENTS:
        raise T2TInputError(f"unknown environment {environment!r}; choose one of {sorted(ENVIRONMENTS)}")
    if app is not None and app not in APPS_BY_NAME:
        raise T2TInputError(f"unknown app {app!r}; choose one of {[a.name for a in APPS]}")
    if not (np.isfinite(duration) and 1.0 <= duration <= 86400.0):
        raise T2TInputError(f"duration must be between 1 and 86400 seconds, got {duration!r}")


def session_rng(seed: int, *parts: str) -> np.random.Generator:
    """A generator seeded from an integer seed and strings (stable across processes and runs)."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(seed) >> 32] + [zlib.crc32(p.encode()) for p in parts])


def pick_app(rng: np.random.Generator, user: str, exclude: str | None = None) -> App:
    """An app drawn from the user's habits (app-type weights, uniform within a type)."""
    w = np.array([USERS[user].app_weights.get(a.app_type, 1.0) / 4.0 for a in APPS])
    if exclude is not None:
        w[[a.name for a in APPS].index(exclude)] = 0.0
    return APPS[int(rng.choice(len(APPS), p=w / w.sum()))]


def schedule(rng: np.random.Generator, user: str, app: App, duration: float, first: str | None = None) -> list[Spell]:
    """Activity spells covering ``[0, duration)``: dwell times log-normal around the user's dwell.

    ``first`` forces the first spell's activity (a name of ``app``'s activities).
    """
    u = USERS[user]
    spells: list[Spell] = []
    t = 0.0
    current = None
    while t < duration:
        acts = list(app.activities)
        w = np.array([a.weight for a in acts], dtype=float)
        if current is not None and len(acts) > 1:
            w[[a.name for a in acts].index(current)] *= 0.15
        act = acts[int(rng.choice(len(acts), p=w / w.sum()))]
        if first is not None and not spells:
            act = app.activity(first)
        d = float(rng.lognormal(np.log(u.dwell * act.dwell), u.dwell_sigma))
        d = max(d, 4.0)
        end = min(duration, t + d)
        spells.append(Spell(t, end, app.name, app.app_type, act.name, act.caption))
        t = end
        current = act.name
        if rng.random() < u.switch_app:
            app = pick_app(rng, user, exclude=app.name)
            current = None
    return spells


def caption_track(rng: np.random.Generator, spells: list[Spell], start_epoch: float) -> list[dict]:
    """Caption segments of 3-10 s inside each spell, as the annotation pipeline writes them.

    ``start``/``end`` are absolute capture-clock seconds (Unix time, like the pcap timestamps),
    so ``session.pcap`` + ``session.jsonl`` read back like an annotated recording.
    """
    out = []
    for s in spells:
        t = s.start
        while t < s.end - 1e-9:
            e = min(s.end, t + float(rng.uniform(3.0, 10.0)))
            if s.end - e < 2.0:
                e = s.end
            out.append({"start": round(start_epoch + t, 6), "end": round(start_epoch + e, 6),
                        "caption": caption(rng, s.app, s.caption_key), "app": s.app, "app_type": s.app_type,
                        "activity": s.activity, "model": CAPTION_MODEL, "prompt_version": PROMPT_VERSION,
                        "frame_times": []})
            t = e
    return out


def generate_session(seed: int, user: str, environment: str, app: str | None = None,
                     duration: float = 120.0, activity: str | None = None) -> Session:
    """Generate one session (deterministic for its arguments).

    Args:
        seed: any non-negative integer.
        user: one of :data:`USERS` ("user01".."user08").
        environment: "wifi" or "cellular".
        app: the app the session starts in (a name from :data:`APPS`); None draws one from the user's habits.
        duration: seconds.
        activity: the activity the session starts with (needs ``app``); None draws one.
    Raises:
        T2TInputError: unknown user, environment or app, or a duration outside [1, 86400] s.
    """
    _check(user, environment, app, float(duration))
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise T2TInputError(f"seed must be a non-negative integer, got {seed!r}")
    if activity is not None and (app is None or activity not in APPS_BY_NAME[app].activity_names):
        raise T2TInputError(f"activity {activity!r} needs an app that has it; "
                            f"{app!r} has {APPS_BY_NAME[app].activity_names if app else 'no app given'}")
    rng = session_rng(int(seed), user, environment, app or "", activity or "")
    env = ENVIRONMENTS[environment]
    path = draw_path(env, rng)
    tcp_ts = bool(rng.random() < 0.7)  # some phones' stacks do not negotiate TCP timestamps
    if not tcp_ts:
        path = dataclasses.replace(path, mss=path.mss + 12)
    start_app = APPS_BY_NAME[app] if app else pick_app(rng, user)
    spells = schedule(rng, user, start_app, float(duration), activity)
    if env.name == "wifi":
        device = f"192.168.{int(rng.integers(0, 3)) * 1 + (0 if rng.random() < 0.5 else 177)}.{int(rng.integers(2, 250))}"
        resolver = device.rsplit(".", 1)[0] + ".1"
    else:
        device = f"10.{int(rng.integers(0, 256))}.{int(rng.integers(0, 256))}.{int(rng.integers(2, 255))}"
        resolver = server_ip("dns.mobile-carrier.net", int(rng.integers(0, 4)))
    b = TrafficBuilder(rng, float(duration), tcp_timestamps=tcp_ts)
    dns = Resolver(b, path, resolver)
    contexts: dict[str, AppContext] = {}
    for sp in spells:
        a = APPS_BY_NAME[sp.app]
        ctx = contexts.get(sp.app)
        if ctx is None:
            ctx = contexts[sp.app] = AppContext(b, path, dns, USERS[user], a)
            if sp.start > 0 or rng.random() < 0.5:  # app launch: config and first page
                k = int(rng.integers(3, 8))
                med = 1500 if a.app_type == "messaging" else 6000
                ctx.exchange("api", sp.start + np.cumsum(rng.exponential(0.05, k)), rng.integers(400, 1500, k),
                             rng.lognormal(np.log(med), 1.0, k).astype(np.int64) + 200)
        act = a.activity(sp.activity)
        for model, params in act.models:
            MODELS[model](ctx, sp.start, sp.end, **params)
        analytics(b, path, dns, sp.start, sp.end, sp.app, period=float(rng.uniform(20, 60)))
    push_channel(b, path, dns, 0.0, float(duration))
    other_apps(b, path, dns, 0.0, float(duration))
    raw = b.finalize()
    start_epoch = round(EPOCH_BASE + float(rng.uniform(0, 180 * 86400)), 6)
    captions = caption_track(rng, spells, start_epoch)
    return Session(seed=int(seed), user=user, environment=environment, duration=float(duration),
                   start_epoch=start_epoch, device=device, spells=spells, captions=captions, raw=raw, path=path)


def to_packet_table(s: Session):
    """Build the :class:`~t2t_hf.traffic.table.PacketTable` of a session (IPv4 addresses IPv4-mapped)."""
    from ...traffic.table import PacketTable, encode_addresses

    r = s.raw
    n = len(r)
    dev = encode_addresses([s.device])[0]
    servers = encode_addresses([f.server for f in r.flows]) if r.flows else np.zeros(0, "S16")
    srv = servers[r.flow] if n else np.zeros(0, "S16")
    devs = np.full(n, dev, dtype="S16")
    sport = np.array([f.server_port for f in r.flows] or [0], dtype=np.uint16)[r.flow]
    cport = np.array([f.client_port for f in r.flows] or [0], dtype=np.uint16)[r.flow]
    return PacketTable.from_columns({
        "timestamp": s.start_epoch + r.time,
        "caplen": r.ip_len + 14, "origlen": r.ip_len + 14,
        "ip_version": np.full(n, 4, np.uint8),
        "src_addr": np.where(r.up, devs, srv), "dst_addr": np.where(r.up, srv, devs),
        "protocol": r.proto, "src_port": np.where(r.up, cport, sport), "dst_port": np.where(r.up, sport, cport),
        "tcp_flags": r.flags, "ip_len": r.ip_len,
        "ip_payload_len": r.ip_len - 20,
    }, stats={"records": n, "ip": n})


__all__ = ["Session", "Spell", "generate_session", "schedule", "caption_track", "to_packet_table", "session_rng",
           "pick_app", "atomic_write", "APP_TYPES", "PROMPT_VERSION"]
