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


def test_dry_run_lists_the_space(push, hub, capsys, monkeypatch):
    """--space adds the Gradio Space: space/ plus the t2t_hf/ package, whatever --only says."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert push.main(["--root", str(hub), "--dry-run", "--space", "--namespace", "me", "--only", "t2t-tiny"]) == 0
    out = capsys.readouterr().out
    assert "model me/t2t-tiny" in out and "t2t-mini" not in out
    space = out[out.index("space me/t2t "):out.index("total:")]
    listed = {line.split()[-1] for line in space.splitlines()[1:]}
    assert {"app.py", "requirements.txt", "README.md", "t2t_hf/__init__.py", "t2t_hf/report.py"} <= listed
    assert not [rel for rel in listed if "__pycache__" in rel or rel.endswith(".pyc") or "/." in rel]
    assert all(rel.endswith((".py", "README.md")) for rel in listed if rel.startswith("t2t_hf/"))
    assert "total:" in out and "in 2 repos" in out
    # the Space alone (no folders under hub/) is not an error; --space-name names it
    empty = hub.parent / "empty"
    empty.mkdir()
    assert push.main(["--root", str(empty), "--dry-run", "--space", "--space-name", "demo"]) == 0
    assert "space <namespace>/demo " in capsys.readouterr().out


def test_space_card_models_rewritten(push):
    card = "---\nlicense: x\nmodels:\n  - t2t-hf/t2t-small\n  - other/one\ntags:\n- a\n---\n# body\n"
    out = push.space_card(card, "me")
    assert out == "---\nlicense: x\nmodels:\n  - me/t2t-small\ntags:\n- a\n---\n# body\n"
    assert push.space_card("---\nlicense: x\n---\nhi\n", "me") == "---\nlicense: x\nmodels:\n  - me/t2t-small\n---\nhi\n"
    assert push.space_card("no front matter\n", "me") == "no front matter\n"
    # a comment inside the list, and a flow-style list: still one valid front matter naming only our model
    import yaml

    for odd in ("---\nmodels:\n  - a/x\n# a comment\n  - b/y\nlicense: x\n---\nbody\n",
                "---\nmodels: [a/x,\n  b/y]\nlicense: x\n---\nbody\n"):
        out = push.space_card(odd, "me")
        meta = yaml.safe_load(out[4:out.index("\n---", 4)])
        assert meta == {"models": ["me/t2t-small"], "license": "x"} and out.endswith("\n---\nbody\n")


def _front_matter(path: Path) -> dict:
    import yaml

    text = path.read_text(encoding="utf-8")
    return yaml.safe_load(text[4:text.index("\n---", 4)])


def test_push_space_stages_package_and_card(push, hub, capsys, monkeypatch):
    """The real path for --space with a recording Hub client: a gradio Space repo, uploaded from a staging folder
    holding app.py, the package and the rewritten card; the staging folder is gone afterwards."""
    import huggingface_hub

    calls, staged = [], {}

    class FakeApi:
        def __init__(self, token=None):
            pass

        def create_repo(self, repo_id, **kw):
            calls.append(("create_repo", repo_id, kw["repo_type"], kw.get("space_sdk")))

        def upload_folder(self, **kw):
            calls.append(("upload_folder", kw["repo_id"], kw["repo_type"]))
            if kw["repo_type"] == "space":
                folder = Path(kw["folder_path"])
                staged.update(folder=folder, files={p.relative_to(folder).as_posix() for p in folder.rglob("*")
                                                    if p.is_file()},
                              models=_front_matter(folder / "README.md")["models"])
            return f"https://huggingface.co/{kw['repo_id']}"

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    assert push.main(["--root", str(hub), "--token", "hf_fake", "--namespace", "me", "--space"]) == 0
    assert ("create_repo", "me/t2t", "space", "gradio") in calls
    assert ("upload_folder", "me/t2t", "space") in calls
    assert {"app.py", "requirements.txt", "README.md", "t2t_hf/__init__.py", "t2t_hf/report.py"} <= staged["files"]
    assert not [rel for rel in staged["files"] if "__pycache__" in rel]
    assert staged["models"] == ["me/t2t-small"]
    assert staged["folder"] != REPO / "space" and not staged["folder"].exists()
    assert "pushed space me/t2t" in capsys.readouterr().out
    # the staging folder is removed when the upload fails too
    def failing_upload(self, **kw):
        staged["folder"] = Path(kw["folder_path"])
        raise RuntimeError("network down")

    monkeypatch.setattr(FakeApi, "upload_folder", failing_upload)
    capsys.readouterr()
    assert push.main(["--root", str(hub.parent / "nothing"), "--token", "hf_fake", "--namespace", "me",
                      "--space"]) == 2
    assert not staged["folder"].exists()
    # a Hub or network failure is one line naming the cause and what was already pushed, not a traceback
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: the Hub upload failed (RuntimeError: network down); nothing was pushed")
    assert len(err.splitlines()) == 1
    calls.clear()
    uploads = []

    def second_fails(self, **kw):
        uploads.append(kw["repo_id"])
        if len(uploads) > 1:
            raise RuntimeError("503 Service Unavailable\nmore detail")
        return "ok"

    monkeypatch.setattr(FakeApi, "upload_folder", second_fails)
    assert push.main(["--root", str(hub), "--token", "hf_fake", "--namespace", "me"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"(RuntimeError: 503 Service Unavailable); already pushed: {uploads[0]}." in err
    assert len(err.splitlines()) == 1


@pytest.fixture(scope="module")
def space_app():
    """space/app.py as a module (gradio is imported; no demo is built outside Spaces)."""
    spec = importlib.util.spec_from_file_location("t2t_space_app", REPO / "space" / "app.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_space_model_from_card(space_app, tmp_path, monkeypatch):
    readme = tmp_path / "README.md"
    readme.write_text("---\nlicense: apache-2.0\nmodels:\n  - me/t2t-small\n  - me/other\n---\n# Space\n")
    monkeypatch.delenv("T2T_MODEL", raising=False)
    monkeypatch.setattr(space_app, "DEFAULT_MODEL_DIR", tmp_path / "hub" / "models" / "t2t-small")  # as on Spaces
    assert space_app.space_model(readme) == "me/t2t-small"
    assert space_app.card_model(REPO / "space" / "README.md") == "t2t-hf/t2t-small"
    # $T2T_MODEL, or the checkout's model folder, win over the card
    monkeypatch.setenv("T2T_MODEL", "someone/else")
    assert space_app.space_model(readme) == "someone/else"
    monkeypatch.delenv("T2T_MODEL")
    local = tmp_path / "hub" / "models" / "t2t-small"
    local.mkdir(parents=True)
    monkeypatch.setattr(space_app, "DEFAULT_MODEL_DIR", local)
    assert space_app.space_model(readme) == space_app.default_model() != "me/t2t-small"
