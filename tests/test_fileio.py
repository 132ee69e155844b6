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


def test_new_files_and_folders_get_ordinary_permissions(tmp_path):
    """Not tempfile's owner-only 0600/0700: what a plain open()/mkdir() gives under the current umask."""
    import os

    old = os.umask(0o022)
    try:
        f = atomic_write(tmp_path / "a.txt", "x")
        with atomic_dir(tmp_path / "model") as d:
            (d / "config.json").write_text("{}")
    finally:
        os.umask(old)
    assert f.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "model").stat().st_mode & 0o777 == 0o755


def test_atomic_dir_puts_the_old_folder_back_when_the_final_rename_fails(tmp_path, monkeypatch):
    import os

    target = tmp_path / "model"
    target.mkdir()
    (target / "weights").write_text("old")
    real = os.replace

    def replace(src, dst):
        if str(src).endswith(".tmp") and os.fspath(dst) == os.fspath(target):
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="disk full"), atomic_dir(target) as d:
        (d / "weights").write_text("new")
    assert (target / "weights").read_text() == "old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["model"]
