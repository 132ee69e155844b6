"""T2T-Sim: determinism, parallel equality, corpus examples, traffic behaviour, captions, bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest

from t2t_hf.data import sim
from t2t_hf.data.sim import APP_TYPES, APPS, ENVIRONMENTS, USERS, generate_examples, generate_session
from t2t_hf.data.sim.captions import GRAMMAR, caption, paraphrases, vocabulary
from t2t_hf.errors import T2TInputError

_IP = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")


def _same_session(a, b) -> bool:
    ra, rb = a.raw, b.raw
    return (a.device == b.device and a.captions == b.captions and len(ra) == len(rb)
            and all(np.array_equal(getattr(ra, k), getattr(rb, k))
                    for k in ("time", "flow", "up", "payload", "flags", "seq", "ack", "ip_len")))


def test_api_shape():
    assert APP_TYPES == ["video", "social", "messaging", "browsing", "music_games"]
    assert len(APPS) == 20 and len(USERS) == 8 and sorted(ENVIRONMENTS) == ["cellular", "wifi"]
    for t in APP_TYPES:
        assert sum(a.app_type == t for a in APPS) == 4
    for a in APPS:
        assert 3 <= len(a.activities) <= 6 and a.protocols
        for act in a.activities:
            assert act.caption in GRAMMAR


def test_session_is_deterministic_for_a_seed():
    a = generate_session(5, "user03", "cellular", "WhatsApp", duration=40.0)
    b = generate_session(5, "user03", "cellular", "WhatsApp", duration=40.0)
    c = generate_session(6, "user03", "cellular", "WhatsApp", duration=40.0)
    assert _same_session(a, b)
    assert not _same_session(a, c)
    assert a.device.startswith("10.") and len(a.raw) > 0
    assert np.all(np.diff(a.raw.time) >= 0) and a.raw.time.min() >= 0 and a.raw.time.max() < 40.0


def test_session_packet_table_and_caption_track():
    s = generate_session(1, "user02", "wifi", "Netflix", duration=30.0)
    t = s.packets
    assert len(t) == len(s.raw)
    src, dst = t.src_ip(), t.dst_ip()
    assert all((a == s.device) != (b == s.device) for a, b in zip(src, dst))  # every packet is the phone's
    assert s.device.startswith("192.168.")
    assert set(np.unique(t.protocol)) <= {6, 17}
    assert np.all(t.ip_len >= 28) and np.all(t.ip_len <= 1500)
    assert np.all(np.diff(t.timestamp) >= 0)
    for rec in s.captions:
        assert {"start", "end", "caption", "app", "app_type", "activity", "model", "prompt_version",
                "frame_times"} <= set(rec)
        assert s.start_epoch <= rec["start"] < rec["end"] <= s.start_epoch + 30.0 + 1e-6
        assert rec["model"] == "t2t-sim"
    ends = [r["end"] for r in s.captions]
    starts = [r["start"] for r in s.captions]
    assert starts[1:] == ends[:-1]  # contiguous track


def test_examples_identical_for_num_proc_and_deterministic():
    one = list(generate_examples(30, seed=3, num_proc=1))
    two = list(generate_examples(30, seed=3, num_proc=2))
    again = list(generate_examples(30, seed=3, num_proc=1))
    other = list(generate_examples(30, seed=4, num_proc=1))
    assert len(one) == len(two) == 30
    for a, b, c in zip(one, two, again):
        assert a.keys() == b.keys()
        for k in a:
            if isinstance(a[k], np.ndarray):
                assert np.array_equal(a[k], b[k]) and np.array_equal(a[k], c[k]), k
            else:
                assert a[k] == b[k] == c[k], k
    assert [e["caption"] for e in one] != [e["caption"] for e in other]


def test_example_schema_and_windows():
    exs = list(generate_examples(24, seed=11, window=10.0, users=["user04", "user05"], environments=["cellular"]))
    assert len(exs) == 24 and len({e["id"] for e in exs}) == 24
    for e in exs:
        assert e["source"] == "sim" and e["environment"] == "cellular" and e["user"] in ("user04", "user05")
        assert e["app_type"] in APP_TYPES and e["window_length"] == 10.0
        n = len(e["size"])
        assert e["time"].dtype == np.float32 and e["size"].dtype == np.int32
        assert e["protocol"].dtype == np.uint8 and e["flow"].dtype == np.int32
        assert len(e["time"]) == len(e["protocol"]) == len(e["flow"]) == n
        if n:
            assert e["time"].min() >= 0 and e["time"].max() < 10.0 and np.all(np.diff(e["time"]) >= 0)
            assert np.all(e["size"] != 0) and np.all(np.abs(e["size"]) <= 1500)
            # flows numbered by first appearance
            _, first = np.unique(e["flow"], return_index=True)
            assert list(e["flow"][np.sort(first)]) == list(range(len(first)))
        refs = e["references"]
        assert refs[0] == e["caption"] and len(refs) == 5 and len(set(refs)) == 5
        activity = next(a for a in APPS if a.name == e["app"]).activity(e["activity"])
        assert activity.name == e["activity"]
        for v in (e["caption"], e["session"], e["id"], *refs):
            assert not _IP.search(v)  # no addresses leak into text fields
    # windows of one session tile it in order
    s0 = [e for e in exs if e["session"] == exs[0]["session"]]
    assert [e["window_start"] for e in s0] == [10.0 * k for k in range(len(s0))]


def _spell_packets(s, spell):
    r = s.raw
    m = (r.time >= spell.start) & (r.time < spell.end)
    return r, m


def _downlink_rate(app, activity, seeds=(1, 2, 3)):
    rates = []
    for seed in seeds:
        for env in ENVIRONMENTS:
            s = generate_session(seed, "user08", env, app, duration=30.0, activity=activity)
            sp = s.spells[0]
            r, m = _spell_packets(s, sp)
            rates.append(r.ip_len[m & ~r.up].sum() / (sp.end - sp.start))
    return float(np.median(rates))


def test_video_downlink_far_above_messaging():
    video = min(_downlink_rate("YouTube", "watching_video"), _downlink_rate("Netflix", "watching_episode"))
    chat = max(_downlink_rate("WhatsApp", "chatting"), _downlink_rate("Signal", "chatting"))
    assert video > 100_000  # bytes/s: ~1 Mbit/s and up
    assert video > 30 * chat


def test_calls_are_steady_and_symmetric():
    for app, act in (("Signal", "voice_call"), ("Signal", "video_call"), ("Zoom", "video_meeting"),
                     ("WhatsApp", "video_call")):
        s = generate_session(2, "user01", "wifi", app, duration=40.0, activity=act)
        sp = s.spells[0]
        r, m = _spell_packets(s, sp)
        udp = m & (r.proto == 17) & (r.time > sp.start + 2) & (r.time < sp.end - 1)
        up, down = int((udp & r.up).sum()), int((udp & ~r.up).sum())
        assert 0.75 < up / down < 1.33, (app, up, down)
        bu, bd = r.ip_len[udp & r.up].sum(), r.ip_len[udp & ~r.up].sum()
        assert 0.6 < bu / bd < 1.6, (app, bu, bd)
        per_s = np.bincount(np.floor(r.time[udp] - sp.start).astype(int))[3:-2]
        assert per_s.min() > 0 and per_s.std() / per_s.mean() < 0.35, (app, per_s)


def test_messaging_is_low_rate_and_sparse_compared_with_video():
    chat = generate_session(4, "user03", "wifi", "Telegram", duration=60.0, activity="chatting")
    video = generate_session(4, "user03", "wifi", "TikTok", duration=60.0, activity="watching_feed")
    assert len(chat.raw) * 10 < len(video.raw)


def test_caption_vocabulary_and_variation():
    assert len(vocabulary()) >= 300
    rng = np.random.default_rng(0)
    words = set()
    for a in APPS:
        for act in a.activities:
            for _ in range(10):
                words |= set(re.findall(r"[a-z][a-z'-]*", caption(rng, a.name, act.caption).lower()))
    assert len(words) >= 300
    caps = {caption(rng, "Instagram", "scrolling_feed") for _ in range(60)}
    assert len(caps) >= 30
    assert all(c.endswith(".") and c[0].isupper() for c in caps)
    refs = paraphrases(rng, "WhatsApp", "chatting", 5, first="The user is chatting.")
    assert refs[0] == "The user is chatting." and len(set(refs)) == 5


def test_bad_input_gives_one_clear_error(tmp_path):
    with pytest.raises(T2TInputError, match="unknown user"):
        generate_session(0, "nobody", "wifi")
    with pytest.raises(T2TInputError, match="unknown environment"):
        generate_session(0, "user01", "moon")
    with pytest.raises(T2TInputError, match="unknown app"):
        generate_session(0, "user01", "wifi", app="NotAnApp")
    with pytest.raises(T2TInputError, match="duration"):
        generate_session(0, "user01", "wifi", duration=float("nan"))
    with pytest.raises(T2TInputError, match="activity"):
        generate_session(0, "user01", "wifi", app="Spotify", activity="video_call")
    with pytest.raises(T2TInputError):
        next(generate_examples(5, num_proc=0))
    with pytest.raises(T2TInputError):
        next(generate_examples(5, users=["user99"]))
    s = generate_session(0, "user01", "wifi", "Spotify", duration=5.0)
    with pytest.raises(T2TInputError, match="does not exist"):
        s.write_pcap(tmp_path / "missing" / "x.pcap")
    with pytest.raises(T2TInputError, match="directory"):
        s.write_pcap(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_sim_module_exports():
    for name in ("APPS", "APP_TYPES", "USERS", "ENVIRONMENTS", "generate_session", "generate_examples"):
        assert hasattr(sim, name)


def test_dtx_voice_calls_are_symmetric_over_the_call():
    """WhatsApp-style calls send little in silence (as the real captures show), but both sides
    take turns, so over calls the two directions carry similar traffic."""
    up = down = 0
    rates = []
    for seed in (1, 2, 3):
        s = generate_session(seed, "user07", "wifi", "WhatsApp", duration=60.0, activity="voice_call")
        sp = s.spells[0]
        r, m = _spell_packets(s, sp)
        udp = m & (r.proto == 17)
        up += int(r.ip_len[udp & r.up].sum())
        down += int(r.ip_len[udp & ~r.up].sum())
        rates.append(udp.sum() / (sp.end - sp.start))
    assert 0.6 < up / down < 1.6
    assert 5 < np.median(rates) < 40  # packets/s: between DTX-only and 60-ms speech both ways


def test_windows_match_the_ingestion_windowing():
    """The corpus cuts windows from the packet arrays directly (fast); they must equal what
    ``t2t_hf.traffic.make_windows`` makes of the same session's packet table."""
    from t2t_hf.data.sim.corpus import window_arrays
    from t2t_hf.traffic import detect_devices, make_windows

    s = generate_session(9, "user06", "cellular", "Instagram", duration=40.0)
    assert detect_devices(s.packets)[0] == s.device
    ref = make_windows(s.packets, 10.0, device=s.device, start=s.start_epoch, end=s.start_epoch + s.duration)
    mine = window_arrays(s, 10.0)
    assert len(ref) == len(mine) == 4
    for w, m in zip(ref, mine):
        assert np.array_equal(w.size, m["size"]) and np.array_equal(w.flow, m["flow"])
        assert np.array_equal(w.protocol, m["protocol"])
        np.testing.assert_allclose(w.time, m["time"], atol=1e-5)
