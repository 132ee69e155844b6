"""T2TFeatureExtractor: every feature checked on a hand-made window, idle and untimed windows, truncation,
fit/save/load of the normalisation, all input forms, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _t2t_helpers import random_window

from t2t_hf.errors import T2TInputError
from t2t_hf.feature_extraction_t2t import PACKET_FEATURES, TIME_BIN_FEATURES, WINDOW_STATS, T2TFeatureExtractor
from t2t_hf.traffic.window import Window


def hand_window():
    # 4 packets in a 10 s window: up 100 B TCP flow 0 at 1.0 s, down 1500 B TCP flow 0 at 1.5 s,
    # up 60 B UDP flow 1 at 7.2 s, down 1200 B ICMP flow 2 at 9.99 s; flows 0 and 1 start in the window
    return Window(device="10.0.0.2", start=50.0, end=60.0, time=[1.0, 1.5, 7.2, 9.99], size=[100, -1500, 60, -1200],
                  protocol=[6, 6, 17, 1], flow=[0, 0, 1, 2], new_flow=[True, False, True, False])


def test_packet_features_by_hand():
    fe = T2TFeatureExtractor(num_time_bins=4)
    out = fe(hand_window())
    x = out["input_features"][0]
    assert x.shape == (4, len(PACKET_FEATURES)) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0], [math.log1p(100), -math.log1p(1500), math.log1p(60), -math.log1p(1200)],
                               rtol=1e-6)
    np.testing.assert_array_equal(x[:, 1], [1, -1, 1, -1])
    np.testing.assert_allclose(x[:, 2], np.log1p(np.array([1000.0, 500.0, 5700.0, 2790.0])), rtol=1e-5)
    np.testing.assert_allclose(x[:, 3], [0.1, 0.15, 0.72, 0.999], rtol=1e-5)
    np.testing.assert_array_equal(x[:, 4], 1)
    np.testing.assert_array_equal(x[:, 5], [1, 0, 1, 0])
    np.testing.assert_array_equal(x[:, 6], [0, 0, 1, 2])
    np.testing.assert_array_equal(x[:, 7], [1, 1, 2, 3])
    np.testing.assert_array_equal(out["attention_mask"], [[1, 1, 1, 1]])


def test_time_bins_and_window_stats_by_hand():
    fe = T2TFeatureExtractor(num_time_bins=4)  # 2.5 s bins
    out = fe(hand_window())
    bins = np.expm1(out["time_bin_features"][0])  # back to counts
    assert bins.shape == (4, len(TIME_BIN_FEATURES))
    np.testing.assert_allclose(bins[0], [100, 1500, 1, 1, 1, 1], rtol=1e-5)  # bin 0: [0, 2.5) s
    np.testing.assert_allclose(bins[1], [0, 0, 0, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(bins[2], [60, 0, 1, 0, 1, 1], rtol=1e-5)  # 7.2 s
    np.testing.assert_allclose(bins[3], [0, 1200, 0, 1, 1, 0], rtol=1e-5)  # 9.99 s
    s = dict(zip(WINDOW_STATS, out["window_stats"][0]))
    assert s["log_packets"] == pytest.approx(math.log1p(4))
    assert s["log_bytes_up"] == pytest.approx(math.log1p(160))
    assert s["log_bytes_down"] == pytest.approx(math.log1p(2700))
    assert s["log_packet_rate"] == pytest.approx(math.log1p(0.4))
    assert s["log_flows"] == pytest.approx(math.log1p(3)) and s["log_new_flows"] == pytest.approx(math.log1p(2))
    counts = np.array([2, 0, 1, 1])
    assert s["burstiness"] == pytest.approx(counts.std() / counts.mean(), rel=1e-5)
    assert s["uplink_byte_share"] == pytest.approx(160 / 2860, rel=1e-5)
    assert s["empty_bin_share"] == pytest.approx(0.25)


def test_idle_and_untimed_windows():
    fe = T2TFeatureExtractor(num_time_bins=5)
    idle = Window(device="d", start=0.0, end=10.0)
    untimed = Window(device="d", start=0.0, end=10.0, size=[10, -20, 30, -40, 50], protocol=[6] * 5)
    out = fe([idle, untimed])
    assert out["input_features"].shape == (2, 5, 8)
    np.testing.assert_array_equal(out["attention_mask"][0], 0)
    np.testing.assert_array_equal(out["time_bin_features"][0], 0)
    assert out["window_stats"][0][WINDOW_STATS.index("empty_bin_share")] == 1.0
    x = out["input_features"][1]
    np.testing.assert_array_equal(x[:, 2], 0)  # no inter-arrival times
    np.testing.assert_array_equal(x[:, 4], 0)  # time unknown
    np.testing.assert_allclose(x[:, 3], (np.arange(5) + 0.5) / 5)  # order position instead
    # untimed packets are binned by order: one per bin
    np.testing.assert_allclose(np.expm1(out["time_bin_features"][1][:, 2] + out["time_bin_features"][1][:, 3]),
                               [1, 1, 1, 1, 1], rtol=1e-5)
    for key in out:
        assert np.isfinite(out[key]).all()


def test_truncation_is_deterministic_and_documented():
    rng = np.random.default_rng(0)
    w = random_window(rng, n=1000)
    full = T2TFeatureExtractor(max_packets=1000)(w)["input_features"][0]
    uni = T2TFeatureExtractor(max_packets=100)(w)
    head = T2TFeatureExtractor(max_packets=100, truncation="head")(w)
    assert uni["input_features"].shape == (1, 100, 8)
    idx = np.round(np.linspace(0, 999, 100)).astype(int)
    np.testing.assert_array_equal(uni["input_features"][0], full[idx])
    np.testing.assert_array_equal(head["input_features"][0], full[:100])
    # statistics still use every packet
    np.testing.assert_array_equal(uni["window_stats"], T2TFeatureExtractor(max_packets=1000)(w)["window_stats"])
    np.testing.assert_array_equal(uni["input_features"], T2TFeatureExtractor(max_packets=100)(w)["input_features"])
    assert T2TFeatureExtractor(max_packets=100)(w, padding="max_length")["input_features"].shape == (1, 100, 8)


def test_fit_normalises_and_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    train = [random_window(rng) for _ in range(30)]
    fe = T2TFeatureExtractor(max_packets=64, num_time_bins=8).fit(train)
    assert fe.is_fitted
    out = fe(train, padding="max_length")
    m = out["attention_mask"].astype(bool)
    x = out["input_features"][m]
    assert abs(x[:, 0].mean()) < 0.3 and 0.7 < x[:, 0].std() < 1.3  # roughly standardised
    assert np.all(x[:, 6] == np.round(x[:, 6])) and x[:, 6].min() >= 0 and x[:, 6].max() <= fe.max_flows - 1
    assert set(np.unique(x[:, 7])) <= {0, 1, 2, 3}  # ids untouched
    assert np.all(out["input_features"][~m] == 0)  # padding stays zero
    assert abs(out["window_stats"].mean(0)).max() < 1e-4
    raw = fe(train, normalize=False)
    assert not np.allclose(raw["window_stats"], out["window_stats"])
    fe.save_pretrained(tmp_path)
    again = T2TFeatureExtractor.from_pretrained(tmp_path)
    assert again.is_fitted and again.max_packets == 64
    for key in out:
        np.testing.assert_allclose(again(train, padding="max_length")[key], out[key], rtol=1e-6)


def test_input_forms_agree():
    w = hand_window()
    fe = T2TFeatureExtractor()
    ref = fe(w)
    example = {"time": [1.0, 1.5, 7.2, 9.99], "size": [100, -1500, 60, -1200], "protocol": [6, 6, 17, 1],
               "flow": [0, 0, 1, 2], "window_length": 10.0, "caption": "x"}
    batched = {k: [v, v] for k, v in example.items()}
    for got in (fe(example), fe([example]), fe(batched)):
        # new-flow marks are derived from first appearance for dicts (flow 2 starts here too)
        np.testing.assert_array_equal(got["input_features"][0][:, :5], ref["input_features"][0][:, :5])
        np.testing.assert_array_equal(got["input_features"][0][:, 6:], ref["input_features"][0][:, 6:])
    assert fe(batched)["input_features"].shape[0] == 2
    pt = fe([w, w], return_tensors="pt")
    assert tuple(pt["input_features"].shape) == (2, 4, 8) and str(pt["input_features"].dtype) == "torch.float32"


def test_packet_table_input(pcaps_dir):
    traffic = pytest.importorskip("t2t_hf.traffic")
    if not hasattr(traffic, "make_windows"):
        pytest.skip("t2t_hf.traffic.make_windows is not available yet")
    table = traffic.read_capture(pcaps_dir / "443-chrome.pcap")
    fe = T2TFeatureExtractor(window_length=5.0)
    out = fe(table)
    windows = traffic.make_windows(table, window=5.0)
    assert out["input_features"].shape[0] == len(windows) > 0
    assert int(out["attention_mask"].sum()) == sum(min(w.num_packets, fe.max_packets) for w in windows)


@pytest.mark.parametrize("bad", [None, [], 42, "capture.pcap", {"time": [0.1]}, [Window("d", 0, 1), 3],
                                 {"size": [1, 2], "time": [0.1]}, {"size": [1, float("nan")]},
                                 {"size": [1, 2], "flow": [0, -1]}, {"size": [[1, 2], [3]], "time": [[0.1], [0.2]]}])
def test_bad_input(bad):
    with pytest.raises(T2TInputError):
        T2TFeatureExtractor()(bad)


@pytest.mark.parametrize("kwargs", [dict(max_packets=0), dict(truncation="tail"), dict(window_length=-1),
                                    dict(num_time_bins=0), dict(packet_mean=[0.0])])
def test_bad_settings(kwargs):
    with pytest.raises(T2TInputError):
        T2TFeatureExtractor(**kwargs)


def test_bad_call_options():
    fe = T2TFeatureExtractor()
    with pytest.raises(T2TInputError):
        fe(hand_window(), padding="shortest")
    with pytest.raises(T2TInputError):
        fe(hand_window(), return_tensors="tf")
    with pytest.raises(T2TInputError):
        fe(hand_window(), sampling_rate=16000)
