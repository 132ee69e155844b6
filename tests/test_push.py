"""hub/push.py: dry run lists what would be uploaded; clear errors without a token; address guard."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def push():
    spec = importlib.util.spec_from_file_location("t2t_hub_push", REPO / "hub" / "push.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def _parquet(path: Path, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), str(path))


@pytest.fixture
def hub(tmp_path):
    root = tmp_path / "hub"
    m = root / "models" / "t2t-tiny"
    m.mkdir(parents=True)
    (m / "README.md").write_text("---\nlicense: apache-2.0\n---\n# tiny\n")
    (m / "config.json").write_text("{}" * 50)
    (m / ".cache").mkdir()
    (m / ".cache" / "junk").write_text("x")
    (m / "__pycache__").mkdir()
    (m / "__pycache__" / "a.pyc").write_bytes(b"\0")
    d = root / "datasets" / "t2t-mini"
    (d / "data").mkdir(parents=True)
    (d / "README.md").write_text("---\nlicense: cc-by-4.0\n---\n# mini\n")
    _parquet(d / "data" / "train.parquet", [{"caption": "The user scrolls.", "references": ["a", "b"], "size": [1, -2]}])
    return root


def test_dry_run_lists_files_and_sizes(push, hub, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert push.main(["--root", str(hub), "--dry-run", "--namespace", "me"]) == 0
    out = capsys.readouterr().out
    assert "model me/t2t-tiny" in out and "dataset me/t2t-mini" in out
    assert "config.json" in out and "README.md" in out and "data/train.parquet" in out
    assert f"{100:>12,d}  config.json" in out  # size in bytes
    assert ".cache" not in out and "__pycache__" not in out and ".pyc" not in out
    assert "total: 4 files" in out and "nothing uploaded" in out


def test_only_and_unknown_names(push, hub, capsys):
    assert push.main(["--root", str(hub), "--dry-run", "--only", "t2t-mini"]) == 0
    out = capsys.readouterr().out
    assert "t2t-mini" in out and "t2t-tiny" not in out and "<namespace>/t2t-mini" in out
    assert push.main(["--root", str(hub), "--dry-run", "--only", "nope"]) == 2
    assert "no folder named nope" in capsys.readouterr().err


def test_address_guard_and_missing_card(push, hub, capsys):
    _parquet(hub / "datasets" / "t2t-mini" / "data" / "bad.parquet",
             [{"caption": "ok", "references": ["phone 192.168.1.7 wakes"], "size": [1]}])
    (hub / "models" / "t2t-tiny" / "README.md").unlink()
    assert push.main(["--root", str(hub), "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "column 'references' holds an address-like string '192.168.1.7'" in err
    assert "no README.md" in err


def test_card_front_matter_is_checked(push, hub, capsys):
    (hub / "models" / "t2t-tiny" / "README.md").write_text("# tiny, no metadata\n")
    (hub / "datasets" / "t2t-mini" / "README.md").write_text("---\ntags: [a]\n---\n# mini\n")
    assert push.main(["--root", str(hub), "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "no YAML front matter" in err and "has no license" in err


def test_no_token_is_a_clear_error(push, hub, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "hf_home" / "token"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert push.main(["--root", str(hub), "--namespace", "me"]) == 2
    err = capsys.readouterr().err
    assert "no Hugging Face token" in err and "hf auth login" in err and "--dry-run" in err


def test_empty_root(push, tmp_path, capsys):
    assert push.main(["--root", str(tmp_path), "--dry-run"]) == 2
    assert "nothing to push" in capsys.readouterr().err


def test_script_dry_run_on_repo_hub():
    """The real hub/ folder, as the README documents it: `python hub/push.py --dry-run`."""
    if not any((REPO / "hub" / k).is_dir() and any((REPO / "hub" / k).iterdir()) for k in ("models", "datasets")):
        pytest.skip("no folders under hub/models or hub/datasets yet")
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    r = subprocess.run([sys.executable, str(REPO / "hub" / "push.py"), "--dry-run"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    if (REPO / "hub" / "datasets" / "t2t-traffic-captions").is_dir():
        assert "dataset <namespace>/t2t-traffic-captions" in r.stdout
        assert "README.md" in r.stdout and ".parquet" in r.stdout


def test_push_calls_create_repo_and_upload_folder(push, hub, capsys, monkeypatch):
    """The real path, with the Hub client replaced by a recorder (no network)."""
    import huggingface_hub

    calls = []

    class FakeApi:
        def __init__(self, token=None):
            calls.append(("init", token))

        def whoami(self):
            return {"name": "someone"}

        def create_repo(self, repo_id, **kw):
            calls.append(("create_repo", repo_id, kw["repo_type"], kw["private"], kw["exist_ok"]))

        def upload_folder(self, **kw):
            calls.append(("upload_folder", kw["repo_id"], kw["repo_type"], Path(kw["folder_path"]).name,
                          tuple(kw["ignore_patterns"])))
            return f"https://huggingface.co/{kw['repo_id']}"

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    assert push.main(["--root", str(hub), "--token", "hf_fake", "--private"]) == 0
    assert calls[0] == ("init", "hf_fake")
    assert ("create_repo", "someone/t2t-mini", "dataset", True, True) in calls
    assert ("create_repo", "someone/t2t-tiny", "model", True, True) in calls
    up = [c for c in calls if c[0] == "upload_folder"]
    assert {(c[1], c[2], c[3]) for c in up} == {("someone/t2t-mini", "dataset", "t2t-mini"),
                                              ("someone/t2t-tiny", "model", "t2t-tiny")}
    assert all(".*" in c[4] for c in up)
    assert "pushed dataset someone/t2t-mini" in capsys.readouterr().out
    # a dataset with an address is never uploaded
    _parquet(hub / "datasets" / "t2t-mini" / "data" / "bad.parquet", [{"caption": "from aa:bb:cc:dd:ee:ff"}])
    calls.clear()
    assert push.main(["--root", str(hub), "--token", "hf_fake", "--namespace", "me"]) == 2
    assert not [c for c in calls if c[0] == "upload_folder"]
    assert "address-like" in capsys.readouterr().err
