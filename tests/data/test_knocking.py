"""The knocking corpus (Conti et al., TIFS 2016): reading traffic.mat, action instances, captions, splits."""

from __future__ import annotations

import collections
import math

import numpy as np
import pytest

from t2t_hf.data import knocking
from t2t_hf.data.schema import validate_example
from t2t_hf.errors import T2TInputError


@pytest.fixture(scope="module")
def data(knocking_file):
    return knocking.load_knocking(knocking_file.parent)


def test_reads_shared_file(data):
    assert len(data) == 50_319
    assert len(set(data.labels)) == 41
    assert set(data.labels) == set(knocking.LABELS)
    assert all(v.dtype == np.int32 and v.size > 0 for v in data.vectors[:1000])
    signs = np.concatenate(data.vectors[:2000])
    assert (signs > 0).any() and (signs < 0).any()  # both directions present


def test_instances(data):
    runs = knocking.action_instances(data.labels)
    assert len(runs) == 12_456  # runs of consecutive flows with one action (the number the card states)
    assert runs[0][0] == 0 and runs[-1][1] == len(data)
    assert all(a < b for a, b in runs)
    assert all(runs[i][1] == runs[i + 1][0] for i in range(len(runs) - 1))
    # a run ends exactly where the label changes
    for a, b in runs[:500]:
        assert len(set(data.labels[a:b])) == 1
        assert b == len(data) or data.labels[b] != data.labels[a]


def test_instance_example(data):
    runs = knocking.action_instances(data.labels)
    sess = knocking.sessions(data.labels, runs)
    i = next(k for k, (a, b) in enumerate(runs) if b - a >= 3)
    a, b = runs[i]
    ex = validate_example(knocking.instance_example(data, i, a, b, sess[i]))
    assert len(ex["size"]) == sum(len(v) for v in data.vectors[a:b])
    assert ex["size"] == np.concatenate(data.vectors[a:b]).tolist()
    assert sorted(set(ex["flow"])) == list(range(b - a))
    assert all(math.isnan(t) for t in ex["time"]) and set(ex["protocol"]) == {0}
    assert math.isnan(ex["window_length"])
    spec = knocking.LABELS[data.labels[a]]
    assert ex["activity"] == spec.activity and ex["app_type"] == spec.app_type and ex["app"] == "Facebook"
    assert ex["references"][0] == ex["caption"] and sorted(ex["references"]) == sorted(spec.captions)
    assert ex["source"] == "knocking"
    # deterministic: same seed, same caption; seeds pick different paraphrases across instances
    assert knocking.instance_example(data, i, a, b, sess[i])["caption"] == ex["caption"]
    picks = {knocking.instance_example(data, i, a, b, sess[i], seed=s)["caption"] for s in range(20)}
    assert len(picks) > 1


def test_label_table():
    assert len(knocking.LABELS) == 41
    types = collections.Counter(spec.app_type for spec in knocking.LABELS.values())
    assert set(types) == {"social", "messaging"}
    assert knocking.LABELS["writing message"].captions[0] == "The user is typing a message in Facebook Messenger."
    for label, spec in knocking.LABELS.items():
        assert len(spec.captions) >= 3 and len(set(spec.captions)) == len(spec.captions), label
        assert all(c.endswith(".") and c[0].isupper() for c in spec.captions)


def test_split_is_stratified_deterministic_disjoint(data):
    runs = knocking.action_instances(data.labels)
    parts = knocking.split_instances(data.labels, runs, seed=0)
    assert parts == knocking.split_instances(data.labels, runs, seed=0)
    assert parts != knocking.split_instances(data.labels, runs, seed=1)
    all_idx = parts["train"] + parts["validation"] + parts["test"]
    assert sorted(all_idx) == list(range(len(runs)))
    n = len(runs)
    assert abs(len(parts["test"]) / n - 0.1) < 0.02 and abs(len(parts["validation"]) / n - 0.1) < 0.02
    label_of = lambda idx: collections.Counter(data.labels[runs[i][0]] for i in idx)  # noqa: E731
    train, test = label_of(parts["train"]), label_of(parts["test"])
    val = label_of(parts["validation"])
    for label, k in test.items():  # every common label's test share is close to 10%
        total = train[label] + k + val[label]
        if total >= 20:
            assert abs(k / total - 0.1) < 0.03, label
    assert len(test) >= 38  # labels with < 3 instances stay in train


def test_bad_data_dirs(tmp_path):
    with pytest.raises(T2TInputError, match="needs data_dir"):
        knocking.load_knocking(None)
    with pytest.raises(T2TInputError, match="no traffic.mat"):
        knocking.load_knocking(tmp_path)
    (tmp_path / "traffic.mat").write_bytes(b"this is not a MATLAB file at all" * 10)
    with pytest.raises(T2TInputError, match="not a readable MATLAB file"):
        knocking.load_knocking(tmp_path)


def test_bad_mat_contents(tmp_path):
    from scipy.io import savemat

    p = tmp_path / "traffic.mat"
    savemat(p, {"flows": np.zeros(3)})
    with pytest.raises(T2TInputError, match="no 'vectors' variable"):
        knocking.load_knocking(p)
    vec = np.empty((2, 1), dtype=object)
    vec[0, 0] = np.array([[100, -200]], dtype=np.int16)
    vec[1, 0] = np.array([[50]], dtype=np.int16)
    lab = np.empty((2, 1), dtype=object)
    lab[0, 0] = np.array(["open facebook"])
    lab[1, 0] = np.array(["dancing"])
    savemat(p, {"vectors": vec, "labels": lab})
    with pytest.raises(T2TInputError, match="flow 1: unknown action label 'dancing'"):
        knocking.load_knocking(p)
    lab[1, 0] = np.array(["open facebook"])
    vec[1, 0] = np.array([[0]], dtype=np.int16)
    savemat(p, {"vectors": vec, "labels": lab})
    with pytest.raises(T2TInputError, match="flow 1: packet sizes must be non-zero"):
        knocking.load_knocking(p)
    vec[1, 0] = np.array([[60, -70]], dtype=np.int16)
    savemat(p, {"vectors": vec, "labels": lab})
    small = knocking.load_knocking(p)
    assert knocking.action_instances(small.labels) == [(0, 2)]
    ex = next(knocking.generate_examples(p))
    assert ex["size"] == [100, -200, 60, -70] and ex["flow"] == [0, 0, 1, 1]
