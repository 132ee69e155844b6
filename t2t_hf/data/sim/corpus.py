"""Cutting sessions into corpus windows, and generating whole corpora in parallel.

The corpus is a list of sessions planned from one seed: session ``i`` gets the
seed ``(seed << 24) + i``, user ``users[i % U]``, environment
``environments[(i // U) % E]`` and starts in app ``APPS[(i // (U*E)) % 20]``,
so users, environments and apps are balanced. Each session (120 s) is cut into
consecutive windows of ``window`` seconds. A window's label (app, app type,
activity) is the activity spell covering most of it; its caption is the caption
segment of that activity overlapping it most, and its references add four
paraphrases drawn for that window. Sessions are independent, so
``num_proc`` worker processes produce exactly the same examples in the same
order as one process.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ProcessPoolExecutor
from typing import Iterator

import numpy as np

from ...errors import T2TInputError
from .apps import APPS
from .captions import paraphrases
from .environments import ENVIRONMENTS
from .session import Session, generate_session, session_rng
from .users import USERS

SESSION_DURATION = 120.0
NUM_REFERENCES = 5


def session_plan(num_sessions: int, seed: int = 0, users=None, environments=None) -> list[tuple]:
    """``(index, session_seed, user, environment, app)`` for the first ``num_sessions`` sessions."""
    users = list(users) if users else list(USERS)
    environments = list(environments) if environments else list(ENVIRONMENTS)
    for u in users:
        if u not in USERS:
            raise T2TInputError(f"unknown user {u!r}; choose from {sorted(USERS)}")
    for e in environments:
        if e not in ENVIRONMENTS:
            raise T2TInputError(f"unknown environment {e!r}; choose from {sorted(ENVIRONMENTS)}")
    nu, ne = len(users), len(environments)
    return [(i, (int(seed) << 24) + i, users[i % nu], environments[(i // nu) % ne],
             APPS[(i // (nu * ne)) % len(APPS)].name) for i in range(num_sessions)]


def window_arrays(s: Session, window: float) -> list[dict]:
    """Per-window packet arrays of a session: ``[{start, time, size, protocol, flow}]``.

    Same logic as ``t2t_hf.traffic.make_windows`` on the device's packets: ``time`` float32 s from
    the window start, ``size`` int32 signed IP length (+ uplink), ``protocol`` uint8, ``flow``
    int32 numbered by first appearance in the window. Windows are ``[k*window, (k+1)*window)``.
    """
    r = s.raw
    nwin = int(np.floor(s.duration / window + 1e-9))
    if nwin <= 0:
        return []
    wid = np.floor(r.time / window).astype(np.int64)
    keep = wid < nwin
    t, wid = r.time[keep], wid[keep]
    size = np.where(r.up[keep], r.ip_len[keep].astype(np.int32), -r.ip_len[keep].astype(np.int32))
    proto = r.proto[keep]
    flow = r.flow[keep].astype(np.int64)
    nf = max(len(r.flows), 1)
    key = wid * nf + flow
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    order = np.lexsort((first, uniq // nf))
    grp = (uniq // nf)[order]
    gstart = np.searchsorted(grp, grp, side="left")
    rank = np.empty(len(uniq), np.int64)
    rank[order] = np.arange(len(uniq)) - gstart
    local_flow = rank[inv].astype(np.int32)
    bounds = np.searchsorted(wid, np.arange(nwin + 1))
    out = []
    for k in range(nwin):
        a, b = bounds[k], bounds[k + 1]
        out.append({"start": k * window, "time": (t[a:b] - k * window).astype(np.float32), "size": size[a:b],
                    "protocol": proto[a:b].astype(np.uint8), "flow": local_flow[a:b]})
    return out


def _label(s: Session, w0: float, w1: float):
    """Majority spell of [w0, w1) and the caption record of that activity overlapping it most."""
    best, cover = None, -1.0
    for sp in s.spells:
        ov = min(sp.end, w1) - max(sp.start, w0)
        if ov > cover:
            best, cover = sp, ov
    rec, rov = None, -1.0
    t0 = s.start_epoch
    for c in s.captions:
        if c["activity"] != best.activity or c["app"] != best.app:
            continue
        ov = min(c["end"] - t0, w1) - max(c["start"] - t0, w0)
        if ov > rov:
            rec, rov = c, ov
    return best, rec


def session_examples(session_seed: int, user: str, environment: str, app: str | None = None,
                     window: float = 10.0, duration: float = SESSION_DURATION) -> list[dict]:
    """All corpus examples of one session (see the module docstring for labels and captions)."""
    s = generate_session(session_seed, user, environment, app=app, duration=duration)
    sid = s.session_id
    out = []
    for k, w in enumerate(window_arrays(s, window)):
        w0, w1 = w["start"], w["start"] + window
        sp, rec = _label(s, w0, w1)
        rng = session_rng(session_seed, "window", str(k))
        cap = rec["caption"]
        refs = paraphrases(rng, sp.app, sp.caption_key, NUM_REFERENCES, first=cap)
        out.append({"id": f"{sid}-w{k:03d}", "time": w["time"], "size": w["size"], "protocol": w["protocol"],
                    "flow": w["flow"], "caption": cap, "references": refs, "app": sp.app, "app_type": sp.app_type,
                    "activity": sp.activity, "user": user, "environment": environment, "source": "sim",
                    "session": sid, "window_start": float(w0), "window_length": float(window)})
    return out


def _job(args):
    (_, sseed, user, env, app), window, duration = args
    return session_examples(sseed, user, env, app, window, duration)


def generate_examples(num_windows: int, seed: int = 0, window: float = 10.0, users=None, environments=None,
                      num_proc: int = 1, duration: float = SESSION_DURATION) -> Iterator[dict]:
    """Yield ``num_windows`` corpus examples, deterministic for ``seed`` and identical for any ``num_proc``.

    Args:
        num_windows: how many windows (examples) to yield.
        seed: corpus seed.
        window: window length, seconds (sessions last ``duration`` s, 120 by default).
        users / environments: subsets of :data:`USERS` / :data:`ENVIRONMENTS` (default: all).
        num_proc: worker processes (sessions are generated in parallel, yielded in plan order).
    Yields:
        dicts in the corpus schema: ``id``, ``time`` (float32 [N] s), ``size`` (int32 [N] bytes, + uplink),
        ``protocol`` (uint8 [N]), ``flow`` (int32 [N]), ``caption``, ``references`` (5 strings, caption
        first), ``app``, ``app_type``, ``activity``, ``user``, ``environment``, ``source`` ("sim"),
        ``session``, ``window_start`` (s since session start), ``window_length`` (s).
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise T2TInputError(f"seed must be a non-negative integer, got {seed!r}")
    if int(num_windows) < 0:
        raise T2TInputError(f"num_windows must be >= 0, got {num_windows}")
    if not (0.5 <= float(window) <= duration):
        raise T2TInputError(f"window must be between 0.5 s and the session duration ({duration} s), got {window}")
    if int(num_proc) < 1:
        raise T2TInputError(f"num_proc must be >= 1, got {num_proc}")
    per = int(np.floor(duration / window + 1e-9))
    n_sess = -(-int(num_windows) // per) if num_windows else 0
    plan = session_plan(n_sess, seed, users, environments)
    jobs = [(p, float(window), float(duration)) for p in plan]
    remaining = int(num_windows)
    if int(num_proc) == 1 or n_sess <= 1:
        results = map(_job, jobs)
        pool = None
    else:
        workers = min(int(num_proc), n_sess)
        pool = ProcessPoolExecutor(max_workers=workers)
        results = _ordered_batches(pool, jobs, 16 * workers, workers)
    try:
        for exs in results:
            for ex in exs:
                if remaining <= 0:
                    return
                remaining -= 1
                yield ex
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _ordered_batches(pool, jobs, batch, workers):
    it = iter(jobs)
    while True:
        chunk = list(itertools.islice(it, batch))
        if not chunk:
            return
        yield from pool.map(_job, chunk, chunksize=max(1, len(chunk) // (4 * workers)))


__all__ = ["generate_examples", "session_examples", "session_plan", "window_arrays", "SESSION_DURATION"]
