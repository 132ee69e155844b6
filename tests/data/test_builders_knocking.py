"""The ``knocking`` config of T2TCaptionsBuilder: round trip through datasets, splits, errors."""

from __future__ import annotations

import collections
import math

import pytest

from t2t_hf.data import knocking
from t2t_hf.data.builders import T2TCaptionsBuilder
from t2t_hf.data.schema import features, find_addresses, validate_example
from t2t_hf.errors import T2TInputError


@pytest.fixture(scope="module")
def built(knocking_file, tmp_path_factory):
    builder = T2TCaptionsBuilder(config_name="knocking", data_dir=str(knocking_file.parent),
                                 cache_dir=str(tmp_path_factory.mktemp("cache")))
    builder.download_and_prepare()
    return builder, builder.as_dataset()


def test_round_trip(built, knocking_file):
    builder, ds = built
    assert set(ds) == {"train", "validation", "test"}
    assert ds["train"].features == features()
    n = sum(len(ds[s]) for s in ds)
    assert 12_000 <= n <= 13_000
    labels = collections.Counter(a for s in ds for a in ds[s]["activity"])
    assert sum(labels.values()) == n
    ids = [i for s in ds for i in ds[s]["id"]]
    assert len(set(ids)) == n
    # what was stored is what the corpus module yields, in order (deterministic keys)
    direct = list(knocking.generate_examples(knocking_file.parent, split="test"))
    assert ds["test"]["id"] == [ex["id"] for ex in direct]
    row = ds["test"][3]
    validate_example(row)
    assert row["size"] == direct[3]["size"] and row["caption"] == direct[3]["caption"]
    assert all(math.isnan(t) for t in row["time"])
    assert "Conti" in builder.info.citation and builder.info.license == "GPL-3.0"


def test_41_labels_in_build(built, knocking_file):
    _, ds = built
    data = knocking.load_knocking(knocking_file.parent)
    runs = knocking.action_instances(data.labels)
    by_id = {f"knocking-{i:05d}": data.labels[a] for i, (a, _) in enumerate(runs)}
    got = {by_id[i] for s in ds for i in ds[s]["id"]}
    assert len(got) == 41


def test_no_addresses(built):
    _, ds = built
    for col in ("id", "caption", "app", "activity", "session", "user"):
        assert not any(find_addresses(v) for v in set(ds["validation"][col]))


def test_streaming_matches(built, knocking_file, tmp_path):
    _, ds = built
    builder = T2TCaptionsBuilder(config_name="knocking", data_dir=str(knocking_file.parent), cache_dir=str(tmp_path))
    stream = builder.as_streaming_dataset(split="validation")
    first = [row["id"] for _, row in zip(range(5), stream)]
    assert first == ds["validation"]["id"][:5]


def test_bad_data_dir(tmp_path):
    with pytest.raises(T2TInputError, match="no traffic.mat"):
        T2TCaptionsBuilder(config_name="knocking", data_dir=str(tmp_path), cache_dir=str(tmp_path / "c")
                           ).download_and_prepare()
    with pytest.raises(T2TInputError, match="needs data_dir"):
        T2TCaptionsBuilder(config_name="knocking", cache_dir=str(tmp_path / "c")).download_and_prepare()
