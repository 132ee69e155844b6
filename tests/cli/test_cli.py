"""The ``t2t`` command: help for every command and option, exit codes, output formats, dataset and annotate wiring.

Captions come from a tiny untrained model (random weights): these tests check the plumbing and the formats."""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from t2t_hf import cli
from t2t_hf.traffic import read_capture

REPO = Path(__file__).resolve().parents[2]
SRT_TIME = r"(\d{2}):(\d{2}):(\d{2}),(\d{3})"


def run(argv, capsys):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _walk(parser: argparse.ArgumentParser, path=()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if name in action._name_parser_map and sub is action._name_parser_map[name]:
                    yield from _walk(sub, path + (name,))


# -- help and usage ------------------------------------------------------------------------------------------------
def test_every_command_and_option_has_help():
    parser = cli.build_parser()
    commands = {p for p, _ in _walk(parser)}
    for needed in [("caption",), ("info",), ("live",), ("dataset",), ("dataset", "generate"), ("dataset", "simulate"),
                   ("dataset", "from-captures"), ("annotate",)]:
        assert needed in commands
    for path, sub in _walk(parser):
        for action in sub._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    assert choice.help, f"t2t {' '.join(path)}: command {choice.dest} has no help"
                continue
            assert action.help and action.help != argparse.SUPPRESS, \
                f"t2t {' '.join(path)}: option {action.option_strings or action.dest} has no help text"


@pytest.mark.parametrize("argv", [["--help"], ["caption", "--help"], ["live", "--help"], ["dataset", "--help"],
                                  ["dataset", "generate", "--help"], ["annotate", "--help"], ["info", "--help"]])
def test_help_exits_zero(argv, capsys):
    rc, out, _ = run(argv, capsys)
    assert rc == 0
    assert out.startswith("usage: t2t")
    if argv[0] == "caption":
        for opt in ("--device", "--window", "--format", "--model", "--output"):
            assert opt in out
    if argv[0] == "live":
        assert "--interface" in out and "--bpf" in out


@pytest.mark.parametrize("argv", [[], ["nonsense"], ["caption"], ["caption", "x.pcap", "--window", "-3"],
                                  ["caption", "x.pcap", "--window", "abc"], ["caption", "x.pcap", "--format", "xml"],
                                  ["live"], ["dataset"], ["dataset", "generate", "--out", "d"],
                                  ["caption", "x.pcap", "--num-beams", "0"]])
def test_usage_errors_exit_2(argv, capsys):
    rc, _, err = run(argv, capsys)
    assert rc == 2
    assert "usage: t2t" in err


# -- bad input: exit 1 and one clear line ------------------------------------------------------------------------
def test_bad_inputs_exit_1_with_one_line(tmp_path, tiny_model, capsys):
    text = tmp_path / "notes.pcap"
    text.write_text("hello, this is not a capture\n")
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    no_model = tmp_path / "untrained"
    no_model.mkdir()
    cases = [
        (["caption", tmp_path / "missing.pcap", "--model", tiny_model], "no such capture"),
        (["caption", text, "--model", tiny_model], "pcap"),
        (["caption", empty, "--model", tiny_model], "empty"),
        (["caption", tmp_path, "--model", tiny_model], "folder"),
        (["caption", text, "--model", no_model], "config.json"),
        (["caption", text, "--model", "not-a-model"], "not found"),
        (["info", text], "pcap"),
    ]
    for argv, words in cases:
        rc, out, err = run(argv, capsys)
        assert rc == 1, (argv, err)
        assert out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("t2t: error: "), err
        assert words in lines[0].lower(), (words, lines[0])
        assert "Traceback" not in err


def test_unknown_device_is_bad_input(sim_capture, tiny_model, capsys):
    path, _ = sim_capture
    rc, _, err = run(["caption", path, "--model", tiny_model, "--device", "10.99.99.99"], capsys)
    assert rc == 1 and "10.99.99.99" in err and "do not appear" in err


# -- formats -----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def json_segments(sim_capture, tiny_model):
    path, _ = sim_capture
    buf = io.StringIO()
    old, sys.stdout = sys.stdout, buf
    try:
        assert cli.main(["caption", str(path), "--model", str(tiny_model), "--format", "json"]) == 0
    finally:
        sys.stdout = old
    return json.loads(buf.getvalue())


def test_json_is_valid_and_complete(json_segments, sim_capture):
    path, session = sim_capture
    segs = json_segments
    table = read_capture(path)
    span = float(np.nanmax(table.timestamp) - np.nanmin(table.timestamp))
    assert len(segs) == int(np.floor(span / 10.0)) + 1  # one window per 10 s of the capture, for the one phone
    assert {s["device"] for s in segs} == {session.device}
    for a, b in zip(segs, segs[1:]):
        assert b["start"] == pytest.approx(a["end"])
    for s in segs:
        assert s["end"] - s["start"] == pytest.approx(10.0)
        assert isinstance(s["caption"], str)  # an untrained model may stop at once: empty is allowed here
        assert 0.0 < s["score"] <= 1.0
        assert s["app_type"] in s["app_type_scores"]
        assert sum(s["app_type_scores"].values()) == pytest.approx(1.0, abs=1e-4)


def test_srt_is_well_formed(json_segments, sim_capture, tiny_model, capsys):
    path, session = sim_capture
    rc, out, _ = run(["caption", path, "--model", tiny_model, "--format", "srt"], capsys)
    assert rc == 0
    assert out.endswith("\n\n")
    blocks = out.strip("\n").split("\n\n")
    assert len(blocks) == len(json_segments)
    prev_start = -1.0
    for i, (block, seg) in enumerate(zip(blocks, json_segments), 1):
        lines = block.split("\n")
        assert lines[0] == str(i)
        m = re.fullmatch(SRT_TIME + " --> " + SRT_TIME, lines[1])
        assert m, lines[1]
        g = [int(x) for x in m.groups()]
        a = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        b = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        assert 0 <= a < b and a >= prev_start
        assert b - a == pytest.approx(10.0, abs=1e-3)
        prev_start = a
        assert len(lines) == 3 and lines[2].endswith(seg["caption"]) and session.device in lines[2]
    assert blocks[0].split("\n")[1].startswith("00:00:00,000 --> 00:00:10,000")


def test_csv_parses(json_segments, sim_capture, tiny_model, capsys):
    path, _ = sim_capture
    rc, out, _ = run(["caption", path, "--model", tiny_model, "--format", "csv"], capsys)
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0].keys()) == cli.CSV_COLUMNS
    assert len(rows) == len(json_segments)
    for row, seg in zip(rows, json_segments):
        assert float(row["start"]) == pytest.approx(seg["start"], abs=1e-3)
        assert row["caption"] == seg["caption"] and row["app_type"] == seg["app_type"]


def test_text_and_output_file(json_segments, sim_capture, tiny_model, tmp_path, capsys):
    path, session = sim_capture
    rc, out, _ = run(["caption", path, "--model", tiny_model], capsys)
    assert rc == 0
    lines = out.strip().splitlines()
    assert len(lines) == len(json_segments)
    assert all(session.device in ln and seg["caption"] in ln for ln, seg in zip(lines, json_segments))
    target = tmp_path / "out.json"
    rc, out, _ = run(["caption", path, "--model", tiny_model, "--format", "json", "-o", target], capsys)
    assert rc == 0 and out == ""
    assert json.loads(target.read_text()) == json_segments
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temp file left behind


def test_real_capture(pcaps_dir, tiny_model, capsys):
    """A real phone capture (nDPI's KakaoTalk chat trace): every window of its phone gets a caption."""
    path = pcaps_dir / "KakaoTalk_chat.pcap"
    rc, out, err = run(["caption", path, "--model", tiny_model, "--format", "json", "--window", "5"], capsys)
    assert rc == 0, err
    segs = json.loads(out)
    assert segs and segs[0]["device"] == "10.24.82.188"
    assert all(s["end"] - s["start"] == pytest.approx(5.0) and isinstance(s["caption"], str) for s in segs)


def test_entry_point_subprocess(sim_capture, tiny_model, tmp_path):
    """The installed entry point (python -m t2t_hf.cli) with real exit statuses and streams."""
    path, _ = sim_capture
    ok = subprocess.run([sys.executable, "-m", "t2t_hf.cli", "caption", str(path), "--model", str(tiny_model),
                         "--format", "json"], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)
    bad = tmp_path / "bad.pcapng"
    bad.write_bytes(b"\x00" * 100)
    err = subprocess.run([sys.executable, "-m", "t2t_hf.cli", "caption", str(bad), "--model", str(tiny_model)],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert err.returncode == 1
    assert err.stdout == "" and len(err.stderr.strip().splitlines()) == 1
    usage = subprocess.run([sys.executable, "-m", "t2t_hf.cli", "caption"], capture_output=True, text=True,
                           timeout=120, cwd=REPO)
    assert usage.returncode == 2 and "usage: t2t caption" in usage.stderr


# -- dataset and annotate ----------------------------------------------------------------------------------------
def test_dataset_simulate_then_from_captures(tmp_path, capsys):
    out = tmp_path / "sim"
    rc, text, err = run(["dataset", "simulate", "--out", out, "--sessions", "2", "--duration", "25", "--seed", "4",
                         "--user", "user02", "--environment", "wifi", "--app", "Spotify"], capsys)
    assert rc == 0, err
    pcaps = sorted(out.glob("*.pcap"))
    assert len(pcaps) == 2 and all(p.with_suffix(".jsonl").exists() for p in pcaps)
    records = [json.loads(ln) for ln in pcaps[0].with_suffix(".jsonl").read_text().splitlines()]
    assert records and all("caption" in r for r in records)
    parquet = tmp_path / "mine.parquet"
    rc, text, err = run(["dataset", "from-captures", out, "--out", parquet, "--user", "user02",
                         "--environment", "wifi"], capsys)
    assert rc == 0, err
    import datasets

    ds = datasets.Dataset.from_parquet(str(parquet))
    assert len(ds) >= 4  # two 25 s sessions, 10 s windows that a caption overlaps
    assert set(ds.unique("source")) == {"pcap"}
    assert all(len(t) == len(s) for t, s in zip(ds["time"], ds["size"]))
    assert all(r in {"unknown", "music_games"} for r in ds.unique("app_type"))
    rc, _, err = run(["dataset", "from-captures", out, "--out", tmp_path / "x.txt"], capsys)
    assert rc == 1 and ".parquet or .jsonl" in err


def test_dataset_generate_folder(tmp_path, capsys):
    out = tmp_path / "corpus"
    rc, text, err = run(["dataset", "generate", "--windows", "16", "--seed", "1", "--out", out], capsys)
    assert rc == 0, err
    assert (out / "README.md").exists()
    shards = sorted((out / "data").glob("*.parquet"))
    assert shards
    import datasets

    ds = datasets.load_dataset(str(out), "sim", split="train")
    assert len(ds) > 0 and set(ds.unique("source")) == {"sim"}
    assert "16 windows" in text.replace(",", "")


def test_annotate_is_wired(tmp_path, capsys):
    rc, out, _ = run(["annotate", "--help"], capsys)
    assert rc == 0 and "--video" in out and "--pcap" in out
    rc, _, err = run(["annotate", "--video", tmp_path / "missing.mp4", "--pcap", tmp_path / "missing.pcap",
                      "--backend", "openai", "--no-progress"], capsys)
    assert rc == 1
    assert "missing" in err


def test_live_on_a_missing_interface_is_bad_input(tiny_model, capsys):
    rc, out, err = run(["live", "--interface", "t2t-nosuch0", "--model", tiny_model, "--duration", "5"], capsys)
    assert rc == 1 and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("t2t: error: ") and "t2t-nosuch0" in last
    assert "Traceback" not in err
