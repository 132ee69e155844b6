"""Caption files: JSONL and SRT read/write, time bases, and clear errors with line numbers."""

from __future__ import annotations

import json

import pytest

from t2t_hf.data.caption_files import (CaptionRecord, best_caption, caption_times_on_capture_clock,
                                       find_caption_file, read_caption_file, read_jsonl, read_srt,
                                       write_caption_file)
from t2t_hf.errors import T2TInputError

RECORDS = [
    CaptionRecord(0.0, 12.5, "The user opens WhatsApp and reads a chat.", model="qwen2-vl", prompt_version="v3",
                  frame_times=[0.0, 5.0, 10.0], app="WhatsApp", app_type="messaging", activity="read_chat"),
    CaptionRecord(12.5, 30.0, "The user is watching a video on YouTube."),
]


@pytest.mark.parametrize("suffix", [".jsonl", ".srt"])
def test_round_trip(tmp_path, suffix):
    path = write_caption_file(RECORDS, tmp_path / f"cap{suffix}")
    back = read_caption_file(path)
    assert [(r.start, r.end, r.caption) for r in back] == [(r.start, r.end, r.caption) for r in RECORDS]
    if suffix == ".jsonl":
        assert back[0].model == "qwen2-vl" and back[0].frame_times == [0.0, 5.0, 10.0]
        assert back[0].app_type == "messaging" and back[1].app is None
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temp file


def test_jsonl_sorted_comments_and_extra_fields(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text('# made by hand\n{"start": 10, "end": 20, "caption": "b", "score": 0.9}\n\n'
                 '{"start": 0, "end": 10, "caption": " a "}\n', encoding="utf-8")
    recs = read_jsonl(p)
    assert [r.caption for r in recs] == ["a", "b"]
    assert recs[1].extra == {"score": 0.9} and recs[1].to_json()["score"] == 0.9


def test_srt_multiline_cues_and_vtt_dots(tmp_path):
    p = tmp_path / "c.srt"
    p.write_text("1\n00:00:00,000 --> 00:00:10,000\nThe user scrolls\nthe Instagram feed.\n\n"
                 "2\n00:00:10.500 --> 00:01:02.25\nThe user types a message.\n", encoding="utf-8")
    recs = read_srt(p)
    assert recs[0].caption == "The user scrolls the Instagram feed."
    assert recs[1].start == 10.5 and recs[1].end == 62.25


@pytest.mark.parametrize("content, needle", [
    ('{"start": 0, "end": 5, "caption": "ok"}\n{"start": 5, "end": 9, caption: "x"}\n', "line 2: not valid JSON"),
    ('{"start": 0, "end": 5}\n', "line 1: missing field 'caption'"),
    ('{"start": 0, "end": 5, "caption": "a"}\n{"start": 9, "end": 3, "caption": "b"}\n', "line 2: end (3) must be after"),
    ('{"start": "0", "end": 5, "caption": "a"}\n', "line 1: start must be a non-negative number"),
    ('{"start": 0, "end": 5, "caption": ""}\n', "line 1: caption must be a non-empty string"),
    ('[1, 2]\n', "line 1: expected a JSON object"),
    ('{"start": 0, "end": 5, "caption": "a", "app_type": 3}\n', "line 1: app_type must be a string"),
    ('{"start": 0, "end": 5, "caption": "a", "frame_times": "0,1"}\n', "line 1: frame_times must be a list"),
    ("\n# only a comment\n", "no caption records found"),
])
def test_bad_jsonl(tmp_path, content, needle):
    p = tmp_path / "bad.jsonl"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(T2TInputError, match="bad.jsonl") as e:
        read_caption_file(p)
    assert needle in str(e.value)


@pytest.mark.parametrize("content, needle", [
    ("1\n00:00:00,000 -> 00:00:10,000\ntext\n", "line 2: expected a time line"),
    ("1\n00:00:00,000 --> 00:00:10,000\n\n", "line 2: cue starting at line 1 has no caption text"),
    ("1\n00:00:10,000 --> 00:00:05,000\ntext\n", "line 2: end (5.000 s) must be after start"),
    ("\n\n", "no caption cues found"),
    ("hello world\n", "line 1: expected a time line"),
])
def test_bad_srt(tmp_path, content, needle):
    p = tmp_path / "bad.srt"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(T2TInputError) as e:
        read_caption_file(p)
    assert needle in str(e.value) and "bad.srt" in str(e.value)


def test_bad_files(tmp_path):
    with pytest.raises(T2TInputError, match="not found"):
        read_caption_file(tmp_path / "missing.jsonl")
    with pytest.raises(T2TInputError, match="unknown caption file type '.txt'"):
        read_caption_file(tmp_path / "x.txt")
    (tmp_path / "bin.jsonl").write_bytes(b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + b"\x00" * 16)
    with pytest.raises(T2TInputError, match="binary"):
        read_caption_file(tmp_path / "bin.jsonl")
    (tmp_path / "latin.srt").write_bytes(b"1\n00:00:00,000 --> 00:00:01,000\ncaf\xe9\n")
    with pytest.raises(T2TInputError, match="line 3: not UTF-8"):
        read_caption_file(tmp_path / "latin.srt")


def test_time_base_and_best_caption():
    t0 = 1_700_000_000.0
    rel = caption_times_on_capture_clock(RECORDS, t0)
    assert rel[0].start == t0 and rel[1].end == t0 + 30.0 and rel[0].frame_times[1] == 5.0  # video clock
    absolute = [CaptionRecord(t0 + 1, t0 + 2, "x")]
    assert caption_times_on_capture_clock(absolute, t0)[0].start == t0 + 1  # auto: already on the capture clock
    assert caption_times_on_capture_clock(absolute, t0, "relative")[0].start == 2 * t0 + 1
    with pytest.raises(T2TInputError, match="time_base"):
        caption_times_on_capture_clock(RECORDS, t0, "epoch")
    # window 10-20 s overlaps record 0 by 2.5 s and record 1 by 7.5 s
    assert best_caption(RECORDS, 10.0, 20.0) is RECORDS[1]
    assert best_caption(RECORDS, 0.0, 10.0) is RECORDS[0]
    assert best_caption(RECORDS, 40.0, 50.0) is None
    assert best_caption(RECORDS, 29.0, 39.0, min_overlap=2.0) is None


def test_find_caption_file_prefers_jsonl(tmp_path):
    cap = tmp_path / "phone.pcap"
    assert find_caption_file(cap) is None
    (tmp_path / "phone.srt").write_text("x")
    assert find_caption_file(cap).name == "phone.srt"
    (tmp_path / "phone.jsonl").write_text(json.dumps({"start": 0, "end": 1, "caption": "a"}))
    assert find_caption_file(cap).name == "phone.jsonl"


def test_caption_beside_gzip_and_pcapng(tmp_path):
    from t2t_hf.data.caption_files import capture_stem

    assert capture_stem("a/b/x.pcap.gz") == "x" and capture_stem("x.pcapng") == "x" and capture_stem("x.CAP") == "x"
    (tmp_path / "x.jsonl").write_text(json.dumps({"start": 0, "end": 1, "caption": "a"}))
    assert find_caption_file(tmp_path / "x.pcap.gz").name == "x.jsonl"
    assert find_caption_file(tmp_path / "x.pcapng").name == "x.jsonl"
