"""t2t_hf.fileio: atomic file and folder writes leave the old content (or nothing) when the write fails."""

from __future__ import annotations

import pytest

from t2t_hf.errors import T2TInputError
from t2t_hf.fileio import atomic_dir, atomic_path, atomic_write


def test_atomic_write_replaces_and_leaves_no_temporaries(tmp_path):
    p = tmp_path / "a.txt"
    atomic_write(p, "one")
    atomic_write(p, b"two")
    assert p.read_bytes() == b"two"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.txt"]


def test_failed_write_keeps_the_old_file(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(p) as tmp:
        with open(tmp, "w") as f:
            f.write("half")
        raise RuntimeError("killed mid-write")
    assert p.read_text() == "old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.txt"]


def test_missing_folder_is_a_clear_error_unless_asked_to_create_it(tmp_path):
    with pytest.raises(T2TInputError, match="does not exist"):
        atomic_write(tmp_path / "no" / "a.txt", "x")
    atomic_write(tmp_path / "no" / "a.txt", "x", make_parents=True)
    assert (tmp_path / "no" / "a.txt").read_text() == "x"


def test_atomic_dir_swaps_whole_folders(tmp_path):
    target = tmp_path / "model"
    with atomic_dir(target) as d:
        (d / "config.json").write_text("{}")
        assert not target.exists()  # nothing visible until the block succeeds
    assert sorted(x.name for x in target.iterdir()) == ["config.json"]
    with atomic_dir(target) as d:
        (d / "weights").write_text("new")
    assert sorted(x.name for x in target.iterdir()) == ["weights"]  # replaced, not merged
    with pytest.raises(RuntimeError), atomic_dir(target) as d:
        (d / "partial").write_text("x")
        raise RuntimeError("failed export")
    assert sorted(x.name for x in target.iterdir()) == ["weights"]
    assert sorted(x.name for x in tmp_path.iterdir()) == ["model"]  # no temporary or old folders left
