"""Calibration of T2T-Sim against real captures.

For every real capture of an app we simulate (file names in ``REAL_CAPTURES``),
the device's traffic is read with :func:`t2t_hf.traffic.read_capture`, and the
same statistics are computed on simulated sessions of that app (restricted to
the matching activity where the file name says which) and compared:

========================  =========================================================  ==========
statistic                 what                                                       distance
========================  =========================================================  ==========
``size_up``               IP packet sizes sent by the phone                          KS
``size_down``             IP packet sizes received by the phone                      KS
``iat``                   log10 inter-arrival times of the device's packets          KS
``pkt_rate``              packets per second, per active second                      KS
``byte_rate``             bytes per second, per active second                        KS
``burst_bytes``           bytes per burst (packets less than 0.2 s apart)            KS
``burst_gap``             idle gaps between bursts (s)                               KS
``flow_duration``         duration of each flow (s)                                  KS
``up_down_ratio``         uplink bytes / downlink bytes                              abs(log10(real / sim))
``flows_per_min``         flows started per active minute                            abs(log10(real / sim))
``protocol_mix``          packet shares of TCP, QUIC (UDP 443), other UDP            total variation
========================  =========================================================  ==========

KS is the two-sample Kolmogorov-Smirnov statistic (0 = same distribution,
1 = disjoint). Active time excludes silences over 60 s (several captures are
concatenations of short traces days apart). A capture with fewer than 200
device packets or less than 20 s of activity is marked too short to tell. For
scale, the last row gives the mean distance between two *real* captures of the
same app type: a simulator cannot be expected to sit closer to one capture than
real captures of similar apps sit to each other.

    python -m t2t_hf.data.sim.calibrate --pcaps ../shared/data/pcaps --out calibration.md
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from pathlib import Path

import numpy as np

from ...errors import T2TInputError
from .apps import APPS_BY_NAME
from .session import generate_session

#: file -> (app, activity or None, what the file is)
REAL_CAPTURES: dict[str, tuple[str, str | None, str]] = {
    "whatsapp_login_call.pcap": ("WhatsApp", "voice_call", "WhatsApp login and voice call"),
    "wa_voice.pcap": ("WhatsApp", "voice_call", "WhatsApp voice"),
    "whatsapp_voice_and_message.pcap": ("WhatsApp", None, "WhatsApp voice and messages"),
    "whatsappfiles.pcap": ("WhatsApp", "sending_photo", "WhatsApp file transfer"),
    "whatsapp.pcap": ("WhatsApp", "chatting", "WhatsApp chat"),
    "telegram.pcap": ("Telegram", "voice_call", "Telegram (UDP call)"),
    "signal.pcap": ("Signal", None, "Signal"),
    "viber.pcap": ("WhatsApp", None, "Viber (messaging app type)"),
    "wechat.pcap": ("WhatsApp", "chatting", "WeChat (messaging app type)"),
    "KakaoTalk_chat.pcap": ("Telegram", "chatting", "KakaoTalk chat (messaging app type)"),
    "teams.pcap": ("Zoom", None, "Teams (meetings app type)"),
    "zoom.pcap": ("Zoom", None, "Zoom"),
    "skype-conference-call.pcap": ("Zoom", "audio_meeting", "Skype conference call"),
    "discord.pcap": ("Signal", "voice_call", "Discord voice (call)"),
    "snapchat_call.pcapng": ("Snapchat", "video_call", "Snapchat call"),
    "snapchat_call_v1.pcapng": ("Snapchat", "video_call", "Snapchat call v1"),
    "netflix.pcap": ("Netflix", None, "Netflix"),
    "youtube_quic.pcap": ("YouTube", "watching_video", "YouTube over QUIC"),
    "youtubeupload.pcap": ("YouTube", "uploading_video", "YouTube upload"),
    "instagram.pcap": ("Instagram", None, "Instagram"),
    "facebook.pcap": ("Facebook", None, "Facebook"),
    "reddit.pcap": ("Reddit", None, "Reddit"),
    "waze.pcap": ("Waze", "navigating", "Waze"),
    "spotify_tcp.pcap": ("Spotify", None, "Spotify (TCP)"),
    "tk.pcap": ("TikTok", None, "TikTok"),
}

KS_STATS = ["size_up", "size_down", "iat", "pkt_rate", "byte_rate", "burst_bytes", "burst_gap", "flow_duration"]
RATIO_STATS = ["up_down_ratio", "flows_per_min"]
STAT_NAMES = KS_STATS + RATIO_STATS + ["protocol_mix"]
SILENCE = 60.0
BURST_GAP = 0.2


# ------------------------------------------------------------------------------------------------
def _is_private(addr: str) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return ip.is_private and not ip.is_multicast and not ip.is_loopback and not addr.endswith(".255")


def _device(table) -> str:
    """The phone: ``t2t_hf.traffic.detect_devices`` when available, else the busiest private address."""
    try:
        from ...traffic import detect_devices  # type: ignore[attr-defined]
        devs = detect_devices(table)
        if devs:
            return devs[0]
    except ImportError:
        pass
    src, dst = table.src_ip(), table.dst_ip()
    counts: dict[str, int] = {}
    for a in src + dst:
        if _is_private(a):
            counts[a] = counts.get(a, 0) + 1
    if not counts:
        counts = {a: src.count(a) for a in set(src)}
    return max(sorted(counts), key=counts.get)


def real_traffic(path: Path) -> dict:
    """Device-centred packet arrays of a real capture: t (s), up (bool), size (IP bytes), proto,
    server_port, flow (int, bidirectional 5-tuple index)."""
    from ...traffic import read_capture

    table = read_capture(path, on_error="warn")
    if len(table) == 0:
        raise T2TInputError("no IP packets", path=str(path))
    table = table.sort_by_time()
    dev = _device(table)
    src, dst = np.array(table.src_ip()), np.array(table.dst_ip())
    up = src == dev
    keep = up | (dst == dev)
    t = table.timestamp[keep]
    up = up[keep]
    sp, dp = table.src_port[keep].astype(np.int64), table.dst_port[keep].astype(np.int64)
    proto = table.protocol[keep].astype(np.int64)
    other = np.where(up, dst[keep], src[keep])
    server_port = np.where(up, dp, sp)
    client_port = np.where(up, sp, dp)
    key = np.char.add(np.char.add(other.astype(str), "|"), (proto * 10**12 + server_port * 10**6 + client_port).astype(str))
    _, flow = np.unique(key, return_inverse=True)
    return {"t": t - t.min(), "up": up, "size": table.ip_len[keep].astype(np.int64), "proto": proto,
            "server_port": server_port, "flow": flow.astype(np.int64), "device": dev}


def sim_traffic(app: str, activity: str | None, sessions: int = 6, duration: float = 120.0, seed: int = 7) -> dict:
    """The same arrays for simulated sessions of ``app`` (packets inside ``activity`` spells only,
    if given), sessions concatenated with a silence between them."""
    parts, offset, flow_off = [], 0.0, 0
    users = ["user01", "user02", "user03", "user04", "user05", "user06", "user07", "user08"]
    for i in range(sessions):
        s = generate_session(seed * 1000 + i, users[i % 8], ("wifi", "cellular")[i % 2], app=app, duration=duration,
                             activity=activity)
        r = s.raw
        m = np.zeros(len(r), bool)
        for sp in s.spells:
            if sp.app == app and (activity is None or sp.activity == activity):
                m |= (r.time >= sp.start) & (r.time < sp.end)
        if not m.any():
            continue
        sport = np.array([f.server_port for f in r.flows], np.int64)[r.flow]
        parts.append({"t": r.time[m] + offset, "up": r.up[m], "size": r.ip_len[m].astype(np.int64),
                      "proto": r.proto[m].astype(np.int64), "server_port": sport[m],
                      "flow": r.flow[m].astype(np.int64) + flow_off})
        offset += duration + 10 * SILENCE
        flow_off += len(r.flows)
    if not parts:
        raise T2TInputError(f"no simulated traffic for {app} / {activity}")
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# ------------------------------------------------------------------------------------------------
def statistics(tr: dict) -> dict:
    """The samples and values of every statistic (see the module docstring) for one traffic dict."""
    t, up, size = tr["t"], tr["up"], tr["size"]
    order = np.argsort(t, kind="stable")
    t, up, size = t[order], up[order], size[order]
    proto, sport, flow = tr["proto"][order], tr["server_port"][order], tr["flow"][order]
    iat = np.diff(t)
    active_iat = iat[iat <= SILENCE]
    active = float(active_iat.sum()) + 1.0
    # per active second
    sec = np.floor(t).astype(np.int64)
    u, cnt = np.unique(sec, return_counts=True)
    byt = np.bincount(np.searchsorted(u, sec), weights=size)
    # bursts
    brk = np.concatenate([[True], iat > BURST_GAP])
    bid = np.cumsum(brk) - 1
    burst_bytes = np.bincount(bid, weights=size)
    gaps = iat[(iat > BURST_GAP) & (iat <= SILENCE)]
    # flows
    fu, finv = np.unique(flow, return_inverse=True)
    fmin = np.full(len(fu), np.inf)
    fmax = np.full(len(fu), -np.inf)
    np.minimum.at(fmin, finv, t)
    np.maximum.at(fmax, finv, t)
    up_b, down_b = float(size[up].sum()), float(size[~up].sum())
    quic = (proto == 17) & (sport == 443)
    mix = np.array([np.mean(proto == 6), np.mean(quic), np.mean((proto == 17) & ~quic)]) if len(t) else np.zeros(3)
    return {
        "size_up": size[up], "size_down": size[~up], "iat": np.log10(active_iat + 1e-6), "pkt_rate": cnt.astype(float),
        "byte_rate": byt, "burst_bytes": burst_bytes, "burst_gap": gaps, "flow_duration": fmax - fmin,
        "up_down_ratio": up_b / max(down_b, 1.0), "flows_per_min": len(fu) / active * 60.0, "protocol_mix": mix,
        "packets": int(len(t)), "active_s": active,
    }


def ks(a: np.ndarray, b: np.ndarray) -> float | None:
    """Two-sample Kolmogorov-Smirnov statistic (None when a sample is empty)."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    if not len(a) or not len(b):
        return None
    x = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, x, side="right") / len(a)
                               - np.searchsorted(b, x, side="right") / len(b))))


def compare(real: dict, sim: dict) -> dict:
    """Distance per statistic: KS for distributions, |log10 ratio| for scalars, TV for the protocol mix."""
    out = {}
    for k in KS_STATS:
        out[k] = ks(real[k], sim[k])
    for k in RATIO_STATS:
        out[k] = float(abs(np.log10(max(real[k], 1e-6) / max(sim[k], 1e-6))))
    out["protocol_mix"] = float(0.5 * np.abs(real["protocol_mix"] - sim["protocol_mix"]).sum())
    return out


def calibrate(pcaps: Path, sessions: int = 6, seed: int = 7) -> list[dict]:
    """Compare every real capture found in ``pcaps`` with the simulator; one result dict per capture."""
    pcaps = Path(pcaps)
    if not pcaps.is_dir():
        raise T2TInputError(f"{pcaps} is not a directory of captures; pass --pcaps ../shared/data/pcaps")
    results = []
    sim_cache: dict = {}
    real_stats: dict = {}
    for name, (app, activity, what) in REAL_CAPTURES.items():
        p = pcaps / name
        if not p.exists():
            continue
        try:
            real = statistics(real_traffic(p))
        except T2TInputError as e:
            results.append({"file": name, "app": app, "activity": activity, "what": what, "error": str(e)})
            continue
        key = (app, activity)
        if key not in sim_cache:
            sim_cache[key] = statistics(sim_traffic(app, activity, sessions=sessions, seed=seed))
        sim = sim_cache[key]
        short = real["packets"] < 200 or real["active_s"] < 20.0
        if not short:
            real_stats[name] = (APPS_BY_NAME[app].app_type, real)
        results.append({
            "file": name, "app": app, "app_type": APPS_BY_NAME[app].app_type, "activity": activity, "what": what,
            "real_packets": real["packets"], "real_active_s": round(real["active_s"], 1), "too_short": bool(short),
            "distance": {k: (None if v is None else round(v, 3)) for k, v in compare(real, sim).items()},
            "real": _summary(real), "sim": _summary(sim),
        })
    # context: how far real captures of the same app type are from each other
    names = sorted(real_stats)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:] if real_stats[a][0] == real_stats[b][0]]
    if pairs:
        ds = [compare(real_stats[a][1], real_stats[b][1]) for a, b in pairs]
        mean = {k: (round(float(np.mean([d[k] for d in ds if d[k] is not None])), 3)
                    if any(d[k] is not None for d in ds) else None) for k in STAT_NAMES}
        results.append({"file": "real vs real", "reference": True, "pairs": len(pairs), "distance": mean,
                        "what": "mean distance between two real captures of the same app type"})
    return results


def _summary(st: dict) -> dict:
    med = {k: (float(np.median(st[k])) if len(st[k]) else None) for k in KS_STATS}
    return {**{f"median_{k}": (None if v is None else round(v, 4)) for k, v in med.items()},
            "up_down_ratio": round(st["up_down_ratio"], 4), "flows_per_min": round(st["flows_per_min"], 3),
            "protocol_mix_tcp_quic_udp": [round(float(x), 3) for x in st["protocol_mix"]]}


def markdown(results: list[dict]) -> str:
    """The results as a Markdown table (one row per capture, one column per statistic)."""
    head = ["capture", "sim app / activity", "packets", "active s"] + STAT_NAMES
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        if r.get("reference"):
            continue
        if "error" in r:
            lines.append(f"| {r['file']} | {r['app']} | - | - | " + " | ".join(["-"] * len(STAT_NAMES)) + " |")
            continue
        d = r["distance"]
        cells = ["-" if d[k] is None else f"{d[k]:.2f}" for k in STAT_NAMES]
        note = " (too short)" if r["too_short"] else ""
        lines.append(f"| {r['file']}{note} | {r['app']} / {r['activity'] or 'any'} | {r['real_packets']} | "
                     f"{r['real_active_s']:.0f} | " + " | ".join(cells) + " |")
    ok = [r for r in results if "error" not in r and not r.get("reference") and not r["too_short"]]
    if ok:
        means = []
        for k in STAT_NAMES:
            v = [r["distance"][k] for r in ok if r["distance"][k] is not None]
            means.append(f"{np.mean(v):.2f}" if v else "-")
        lines.append(f"| **mean sim vs real (captures long enough)** | | | | " + " | ".join(means) + " |")
    for r in results:
        if r.get("reference"):
            cells = ["-" if r["distance"][k] is None else f"{r['distance'][k]:.2f}" for k in STAT_NAMES]
            lines.append(f"| *real vs real, same app type ({r['pairs']} pairs)* | | | | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"



# ------------------------------------------------------------------------------------------------
def window_features(ex: dict) -> np.ndarray:
    """14 simple statistics of one corpus window (counts, bytes per direction, sizes, flows, UDP
    share, inter-arrival statistics): the classic per-flow baseline features, per window."""
    s = np.asarray(ex["size"], float)
    if not len(s):
        return np.zeros(14)
    t = np.asarray(ex["time"], float)
    a, up = np.abs(s), s > 0
    iat = np.log10(np.diff(t) + 1e-6) if len(t) > 1 else np.zeros(1)
    return np.array([len(s), up.sum(), a[up].sum(), a[~up].sum(), a.mean(), a.std(), (a > 1000).mean(),
                     np.max(ex["flow"]) + 1, (np.asarray(ex["protocol"]) == 17).mean(), iat.mean(), iat.std(),
                     np.median(a[up]) if up.any() else 0.0, np.median(a[~up]) if (~up).any() else 0.0,
                     (np.diff(t) > 0.2).sum() if len(t) > 1 else 0.0])


def separability(num_windows: int = 3840, seed: int = 1, num_proc: int = 1,
                 test_users=("user07", "user08")) -> dict:
    """How hard each app type is: a random forest on :func:`window_features` learns app/activity
    labels within each app type on six users and is scored on two unseen users.

    Returns app type -> {"train": n, "test": n, "classes": k, "accuracy": float}.
    """
    from sklearn.ensemble import RandomForestClassifier

    from .corpus import generate_examples

    ex = list(generate_examples(num_windows, seed=seed, num_proc=num_proc))
    X = np.array([window_features(e) for e in ex])
    lab = np.array([f"{e['app']}/{e['activity']}" for e in ex])
    typ = np.array([e["app_type"] for e in ex])
    test = np.isin(np.array([e["user"] for e in ex]), list(test_users))
    out = {}
    for t in sorted(set(typ)):
        m = typ == t
        if not (m & ~test).any() or not (m & test).any():
            continue
        clf = RandomForestClassifier(200, random_state=0, n_jobs=1).fit(X[m & ~test], lab[m & ~test])
        out[t] = {"train": int((m & ~test).sum()), "test": int((m & test).sum()), "classes": int(len(set(lab[m]))),
                  "accuracy": round(float((clf.predict(X[m & test]) == lab[m & test]).mean()), 3)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m t2t_hf.data.sim.calibrate",
                                 description="Compare T2T-Sim traffic with real captures.")
    ap.add_argument("--pcaps", required=True, help="folder of real captures (../shared/data/pcaps)")
    ap.add_argument("--out", required=True, help="Markdown table path; a .json with the details is written beside it")
    ap.add_argument("--sessions", type=int, default=6, help="simulated sessions per app/activity (default 6)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--separability", type=int, default=0, metavar="N",
                    help="also train a random forest on N simulated windows and report per-app-type accuracy")
    args = ap.parse_args(argv)
    try:
        results = calibrate(Path(args.pcaps), sessions=args.sessions, seed=args.seed)
        out = Path(args.out)
        from .session import atomic_write
        atomic_write(out, markdown(results).encode())
        atomic_write(out.with_suffix(".json"), json.dumps(results, indent=1).encode())
    except T2TInputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(markdown(results))
    if args.separability:
        sep = separability(args.separability)
        print("| app type | train windows | test windows (unseen users) | classes | accuracy |")
        print("|---|---|---|---|---|")
        for t, v in sep.items():
            print(f"| {t} | {v['train']} | {v['test']} | {v['classes']} | {v['accuracy']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
