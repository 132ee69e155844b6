"""The ``sim`` and ``sim_cross_env`` configs, the export folder, and the published dataset folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from t2t_hf.data import sim
from t2t_hf.data.builders import T2TCaptionsBuilder, split_layout
from t2t_hf.data.export import CALIBRATION_BEGIN, CALIBRATION_END, export_dataset
from t2t_hf.data.schema import features, find_addresses, validate_example
from t2t_hf.errors import T2TInputError

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = REPO / "hub" / "datasets" / "t2t-traffic-captions"
USERS = sorted(sim.USERS)
N = 96  # windows in the small test corpora


@pytest.fixture(scope="module")
def sim_ds(tmp_path_factory):
    b = T2TCaptionsBuilder(config_name="sim", num_windows=N, cache_dir=str(tmp_path_factory.mktemp("cache")))
    b.download_and_prepare()
    return b, b.as_dataset()


def test_sim_round_trip_unseen_users(sim_ds):
    b, ds = sim_ds
    assert set(ds) == {"train", "validation", "test"}
    assert ds["train"].features == features()
    assert set(ds["test"]["user"]) == set(USERS[-2:])
    assert set(ds["validation"]["user"]) == {USERS[-3]}
    assert set(ds["train"]["user"]) == set(USERS[:-3])
    assert set(ds["train"]["user"]).isdisjoint(ds["test"]["user"])
    assert set(ds["test"]["environment"]) == set(sim.ENVIRONMENTS)
    assert abs(sum(len(ds[s]) for s in ds) - N) <= 3
    ids = [i for s in ds for i in ds[s]["id"]]
    assert len(ids) == len(set(ids))
    row = ds["test"][0]
    validate_example(row)
    assert row["source"] == "sim" and len(row["references"]) >= 2 and row["references"][0] == row["caption"]
    assert "CC-BY-4.0" == b.info.license


def test_sim_deterministic_keys(sim_ds, tmp_path):
    _, ds = sim_ds
    b = T2TCaptionsBuilder(config_name="sim", num_windows=N, cache_dir=str(tmp_path))
    stream = list(b.as_streaming_dataset(split="validation"))
    assert [r["id"] for r in stream] == ds["validation"]["id"]
    assert stream[0]["size"] == ds["validation"][0]["size"]
    other = T2TCaptionsBuilder(config_name="sim", num_windows=N, seed=1, cache_dir=str(tmp_path))
    first = next(iter(other.as_streaming_dataset(split="validation")))
    assert first["id"] != ds["validation"][0]["id"] or first["size"] != ds["validation"][0]["size"]


def test_sim_cross_env(tmp_path):
    b = T2TCaptionsBuilder(config_name="sim_cross_env", num_windows=48, cache_dir=str(tmp_path))
    b.download_and_prepare()
    ds = b.as_dataset()
    assert set(ds["train"]["environment"]) == {"wifi"} and set(ds["validation"]["environment"]) == {"wifi"}
    assert set(ds["test"]["environment"]) == {"cellular"}
    assert set(ds["validation"]["user"]) == {USERS[-3]} and USERS[-3] not in set(ds["train"]["user"])


def test_sim_bad_options(tmp_path):
    with pytest.raises(T2TInputError, match="unknown users"):
        T2TCaptionsBuilder(config_name="sim", test_users=("nobody",), cache_dir=str(tmp_path)).download_and_prepare()
    with pytest.raises(T2TInputError, match="overlap"):
        T2TCaptionsBuilder(config_name="sim", test_users=(USERS[0],), validation_users=(USERS[0],),
                           cache_dir=str(tmp_path)).download_and_prepare()
    with pytest.raises(T2TInputError, match="window must be a positive"):
        T2TCaptionsBuilder(config_name="sim", window=-1.0, cache_dir=str(tmp_path))
    with pytest.raises(T2TInputError, match="num_windows"):
        T2TCaptionsBuilder(config_name="sim", num_windows=0, cache_dir=str(tmp_path))
    with pytest.raises(T2TInputError, match="unknown environment"):
        T2TCaptionsBuilder(config_name="sim_cross_env", test_environment="5g",
                           cache_dir=str(tmp_path)).download_and_prepare()


# -- the export folder ---------------------------------------------------------

@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    cal = root / "calibration.md"
    cal.write_text("| statistic | app | KS |\n|---|---|---|\n| size_down | WhatsApp | 0.12 |\n")
    out = root / "t2t-traffic-captions"
    summary = export_dataset(out, sim_windows=N, seed=0, calibration=cal)
    return out, summary


def _load(folder, config, split, streaming=False, cache=None):
    from datasets import load_dataset

    return load_dataset(str(folder), config, split=split, streaming=streaming, cache_dir=str(cache) if cache else None)


def test_export_folder_layout_and_card(exported):
    out, summary = exported
    assert (out / "README.md").is_file()
    shards = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    assert len(shards) == len(USERS) * len(sim.ENVIRONMENTS)
    assert summary["examples"] == N and sum(summary["rows"].values()) == N
    card = (out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["license"] == "cc-by-4.0" and "configs" in meta and meta["task_categories"]
    names = [c["config_name"] for c in meta["configs"]]
    assert names == ["sim", "sim_cross_env"] and meta["configs"][0]["default"] is True
    for c in meta["configs"]:
        for df in c["data_files"]:
            assert all((out / p).is_file() for p in df["path"])
    # the calibration report went in between the markers, verbatim, by the export command
    body = card.split(CALIBRATION_BEGIN)[1].split(CALIBRATION_END)[0]
    assert "| size_down | WhatsApp | 0.12 |" in body
    for needle in ("## Schema", "simulated", "Limits and biases", "Privacy", "Licence", "Citation", "Conti",
                   "--sim-windows 40000", "hub/push.py", "unseen users", "Calibration against real traffic"):
        assert needle in card, needle
    assert not list(out.parent.glob(".t2t-traffic-captions.*"))  # no temp folders left


def test_export_loads_offline_and_streaming(exported, tmp_path):
    out, summary = exported
    test = _load(out, "sim", "test", cache=tmp_path)
    assert test.features == features() and len(test) == summary["configs"]["sim"]["test"]
    assert set(test["user"]) == set(USERS[-2:])
    stream = _load(out, "sim", "test", streaming=True)
    rows = list(stream)
    assert [r["id"] for r in rows] == test["id"]
    validate_example(rows[0])
    cross = _load(out, "sim_cross_env", "test", cache=tmp_path)
    assert set(cross["environment"]) == {"cellular"} and len(cross) == summary["configs"]["sim_cross_env"]["test"]


def test_export_holds_what_the_builder_builds(exported, sim_ds, tmp_path):
    """Same seed and size: the folder's splits are the builder's splits (the corpus is built per user x environment)."""
    out, _ = exported
    _, ds = sim_ds
    for split in ("train", "validation", "test"):
        folder = _load(out, "sim", split, cache=tmp_path)
        assert sorted(folder["id"]) == sorted(ds[split]["id"])
        a = {r["id"]: r["size"] for r in folder}
        assert all(a[r["id"]] == r["size"] for r in ds[split])


def test_export_is_deterministic_and_atomic(exported, tmp_path):
    out, _ = exported
    again = tmp_path / "again"
    export_dataset(again, sim_windows=N, seed=0, calibration=out.parent / "calibration.md",
                   command=None)
    for p in out.rglob("*.parquet"):
        import pyarrow.parquet as pq

        assert pq.read_table(p).equals(pq.read_table(again / p.relative_to(out))), p
    before = {p: p.stat().st_mtime_ns for p in again.rglob("*")}

    def broken():
        yield from sim.generate_examples(num_windows=5, seed=0)
        raise RuntimeError("generator died")

    with pytest.raises(RuntimeError, match="generator died"):
        export_dataset(again, sim_windows=N, examples=broken())
    assert {p: p.stat().st_mtime_ns for p in again.rglob("*")} == before  # old folder untouched
    assert not list(tmp_path.glob(".again.*"))
    with pytest.raises(T2TInputError, match="calibration report not found"):
        export_dataset(again, sim_windows=N, calibration=tmp_path / "nope.md")
    bad = dict(next(sim.generate_examples(num_windows=1, seed=0)), session="cap-10.0.0.2")
    with pytest.raises(T2TInputError, match="IP/MAC"):
        export_dataset(again, sim_windows=N, examples=[bad])


# -- the published folder ----------------------------------------------------------

needs_published = pytest.mark.skipif(not (PUBLISHED / "README.md").is_file(),
                                     reason="hub/datasets/t2t-traffic-captions not generated yet")


@needs_published
def test_published_folder_offline_subprocess(tmp_path):
    """load_dataset on the committed folder with the Hub switched off, plain and streaming."""
    code = f"""
import json
from datasets import load_dataset
ds = load_dataset({str(PUBLISHED)!r}, "sim", split="test", cache_dir={str(tmp_path)!r})
st = load_dataset({str(PUBLISHED)!r}, "sim", split="test", streaming=True)
first = next(iter(st))
cross = load_dataset({str(PUBLISHED)!r}, "sim_cross_env", split="train", cache_dir={str(tmp_path)!r})
print(json.dumps({{"n": len(ds), "first": ds[0]["id"], "stream_first": first["id"], "users": sorted(set(ds["user"])),
                  "cross_envs": sorted(set(cross["environment"]))}}))
"""
    env = dict(os.environ, HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["n"] > 0 and got["first"] == got["stream_first"]
    assert got["users"] == USERS[-2:] and got["cross_envs"] == ["wifi"]


@needs_published
def test_published_folder_is_small_clean_and_matches_schema():
    import pyarrow.parquet as pq

    files = [p for p in PUBLISHED.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    assert total < 50e6, f"published folder is {total / 1e6:.1f} MB; keep it under 50 MB"
    n = 0
    for p in PUBLISHED.rglob("*.parquet"):
        t = pq.read_table(p)
        assert t.schema.equals(features().arrow_schema, check_metadata=False)
        n += t.num_rows
        for col in ("id", "caption", "app", "activity", "user", "session", "environment", "source"):
            assert not any(find_addresses(v) for v in set(t.column(col).to_pylist())), (p, col)
        assert not any(find_addresses(v) for refs in t.column("references").to_pylist() for v in refs)
    card = (PUBLISHED / "README.md").read_text()
    meta = yaml.safe_load(card.split("---\n")[1])
    rows = {c["config_name"]: c for c in meta["dataset_info"]} if isinstance(meta["dataset_info"], list) else {}
    assert sum(s["num_examples"] for s in rows["sim"]["splits"]) == n
    assert "python -m t2t_hf.data.export" in card and CALIBRATION_BEGIN in card


def test_split_layout_matches_builder():
    envs = sorted(sim.ENVIRONMENTS)
    lay = split_layout(USERS, envs, validation_users=USERS[-3:-2], test_users=USERS[-2:])
    assert {u for u, _ in lay["sim"]["test"]} == set(USERS[-2:])
    assert {e for _, e in lay["sim_cross_env"]["test"]} == {"cellular"}
    cells = [c for s in lay["sim"].values() for c in s]
    assert sorted(cells) == sorted((u, e) for u in USERS for e in envs)  # every cell exactly once


def test_export_cli_errors(tmp_path, capsys):
    from t2t_hf.data.export import main

    assert main(["--out", str(tmp_path / "o"), "--sim-windows", "0"]) == 2
    assert "--sim-windows must be at least 1" in capsys.readouterr().err
    assert main(["--out", str(tmp_path / "o"), "--calibration", str(tmp_path / "none.md")]) == 2
    assert "calibration report not found" in capsys.readouterr().err
    assert main(["--out", str(tmp_path / "o"), "--calibrate-pcaps", str(tmp_path / "none")]) == 2
    assert "--calibrate-pcaps must be a folder" in capsys.readouterr().err
    (tmp_path / "c.md").write_text("x")
    assert main(["--out", str(tmp_path / "o"), "--calibration", str(tmp_path / "c.md"),
                 "--calibrate-pcaps", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_import_is_cheap():
    code = "import sys, t2t_hf.data; print(sorted(m for m in ('datasets', 'scipy', 'torch', 'pyarrow') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


@needs_published
def test_published_folder_is_what_the_generator_makes():
    """The committed shards are the output of the documented command for the current generator.

    Fails when T2T-Sim changed after the folder was written: rerun the command in the card
    (``python -m t2t_hf.data.export --out hub/datasets/t2t-traffic-captions ...``).
    """
    import pyarrow.parquet as pq

    from t2t_hf.data.builders import generate_sim_cell

    card = (PUBLISHED / "README.md").read_text()
    seed = int(card.split("python -m t2t_hf.data.export")[1].split("--seed ")[1].split()[0])
    user, env = USERS[-1], "cellular"
    shard = pq.read_table(PUBLISHED / "data" / f"{user}_{env}.parquet").slice(0, 24).to_pylist()
    fresh = list(generate_sim_cell(user, env, 24, seed=seed))
    stale = "hub/datasets/t2t-traffic-captions is stale: regenerate it with the command in its README.md"
    assert [r["id"] for r in shard] == [r["id"] for r in fresh], stale
    assert [r["caption"] for r in shard] == [r["caption"] for r in fresh], stale
    assert [list(r["size"]) for r in shard] == [list(map(int, r["size"])) for r in fresh], stale


def test_parquet_options_store_less():
    from t2t_hf.data.builders import generate_sim_cell
    from t2t_hf.data.export import compare_parquet_options

    exs = list(generate_sim_cell(USERS[0], "wifi", 24)) + list(generate_sim_cell(USERS[3], "cellular", 24))
    r = compare_parquet_options(exs)
    assert r["PARQUET_OPTIONS"]["bytes"] < 0.8 * r["pyarrow default + zstd"]["bytes"]
