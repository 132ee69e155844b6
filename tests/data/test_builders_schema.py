"""The corpus schema: typed Features, validation, and the address guard."""

from __future__ import annotations

import math

import pytest

from t2t_hf.data import schema
from t2t_hf.errors import T2TInputError


def example(**over):
    ex = {"id": "sim-0001", "time": [0.0, 0.5, float("nan")], "size": [120, -1400, 52], "protocol": [6, 6, 17],
          "flow": [0, 0, 1], "caption": "The user is watching a video on YouTube.",
          "references": ["The user is watching a video on YouTube.", "A YouTube video is playing."],
          "app": "YouTube", "app_type": "video", "activity": "watch_video", "user": "user01",
          "environment": "wifi", "source": "sim", "session": "user01-wifi-0003", "window_start": 30.0,
          "window_length": 10.0}
    ex.update(over)
    return ex


def test_features_cover_columns():
    f = schema.features()
    assert list(f) == list(schema.COLUMNS)
    assert f["size"].feature.dtype == "int32" and f["time"].feature.dtype == "float32"
    assert f["protocol"].feature.dtype == "uint8" and f["window_start"].dtype == "float64"
    assert f.encode_example(example())["size"] == [120, -1400, 52]


def test_valid_examples_pass():
    assert schema.validate_example(example()) == example() or True
    schema.validate_example(example(time=[], size=[], protocol=[], flow=[]))  # idle window
    schema.validate_example(example(window_length=float("nan"), time=[math.nan] * 3))  # knocking-style


@pytest.mark.parametrize("over, needle", [
    ({"size": [120, -1400]}, "packet columns differ in length"),
    ({"size": [120, 0, 5]}, "size must hold non-zero integers"),
    ({"size": [120, 70000, 5]}, "size must hold non-zero integers"),
    ({"flow": [0, 0, 2]}, "flow indices must run 0..F-1"),
    ({"protocol": [6, 300, 17]}, "protocol must hold integers in 0..255"),
    ({"time": [0.0, -1.0, 2.0]}, "time must hold non-negative seconds"),
    ({"time": [0.0, 11.0, 2.0]}, "time runs past the window"),
    ({"app_type": "games"}, "app_type 'games' is not one of"),
    ({"environment": "5g"}, "environment '5g' is not one of"),
    ({"source": "web"}, "source 'web' is not one of"),
    ({"references": ["something else"]}, "references[0] must equal caption"),
    ({"references": []}, "references must be a non-empty list"),
    ({"caption": "  ", "references": ["  "]}, "caption is empty"),
    ({"window_length": 0.0}, "window_length must be positive"),
    ({"window_start": float("inf")}, "window_start must be finite"),
    ({"user": 3}, "user must be a string"),
    ({"session": "phone-192.168.1.20"}, "session contains an IP/MAC address-like string '192.168.1.20'"),
    ({"caption": "The user opens 10.0.0.1", "references": ["The user opens 10.0.0.1"]}, "caption contains"),
    ({"references": ["The user is watching a video on YouTube.", "seen from aa:bb:cc:dd:ee:ff"]}, "references contains"),
    ({"id": "x-2001:db8::1"}, "id contains an IP/MAC"),
])
def test_invalid_examples(over, needle):
    with pytest.raises(T2TInputError) as e:
        schema.validate_example(example(**over))
    assert needle in str(e.value) and "sim-0001" in str(e.value) or needle in str(e.value)


def test_column_set_is_checked():
    ex = example()
    ex["src_ip"] = "10.0.0.1"
    with pytest.raises(T2TInputError, match=r"unexpected \['src_ip'\]"):
        schema.validate_example(ex)
    ex = example()
    del ex["caption"]
    with pytest.raises(T2TInputError, match=r"missing \['caption'\]"):
        schema.validate_example(ex)
    with pytest.raises(T2TInputError, match="mapping"):
        schema.validate_example([1, 2])


@pytest.mark.parametrize("text, found", [
    ("phone at 192.168.0.12 and 8.8.8.8", ["192.168.0.12", "8.8.8.8"]),
    ("mac 3C:22:FB:01:a2:9e here", ["3C:22:FB:01:a2:9e"]),
    ("mac 3c-22-fb-01-a2-9e", ["3c-22-fb-01-a2-9e"]),
    ("v6 fe80::1c2d:3e4f and 2001:db8:0:0:1:0:0:1", ["fe80::1c2d:3e4f", "2001:db8:0:0:1:0:0:1"]),
    ("::ffff:10.1.2.3", ["::ffff:10.1.2.3"]),
    ("The user watches 4K video at 12:30:45 on version 1.2.3 of the app.", []),
    ("user01-wifi-0003 999.1.1.1 sim-00012", []),
    ("ratio 16:9 at 1080p, 3.5 stars", []),
])
def test_find_and_scrub_addresses(text, found):
    assert schema.find_addresses(text) == found
    scrubbed = schema.scrub_addresses(text)
    assert schema.find_addresses(scrubbed) == []
    assert scrubbed.count("<address>") == len(found)
