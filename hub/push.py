#!/usr/bin/env python
"""Upload the folders under hub/ to the Hugging Face Hub.

Every folder ``hub/models/<name>`` becomes the model repo ``<namespace>/<name>``
and every ``hub/datasets/<name>`` the dataset repo ``<namespace>/<name>``; each
is created if needed (``create_repo(exist_ok=True)``) and uploaded with
``upload_folder`` in one commit. Hidden files, ``__pycache__`` and temporary
files are not uploaded.

    python hub/push.py --dry-run                         # list files and sizes; no network, no token
    python hub/push.py --namespace my-org                # upload everything
    python hub/push.py --namespace my-org --only t2t-traffic-captions --private
    python hub/push.py --namespace my-org --space        # everything, plus the Gradio Space my-org/t2t

``--space`` adds one more repo, the Gradio Space ``<namespace>/<space-name>``
(``--space-name``, default ``t2t``): the files of ``space/`` plus the ``t2t_hf/``
package (its ``*.py`` files and READMEs, under ``t2t_hf/``), so that the Space
runs without installing t2t-hf. Its README.md is uploaded with the front
matter's ``models:`` rewritten to ``<namespace>/t2t-small``; the files are
staged in a temporary folder (removed afterwards) and uploaded from there.
``--space`` is independent of ``--only``: ``--only`` picks among the folders
under hub/ and ``--space`` adds the Space whatever ``--only`` says (``--only
t2t-small --space`` pushes the model and the Space); with ``--space``, a hub/
without folders is not an error.

Before any upload (and in a dry run) the parquet files of dataset folders are
checked for IP/MAC address-like strings; a hit stops the push.

The token comes from ``--token``, ``HF_TOKEN`` or ``hf auth login``.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HUB_DIR = Path(__file__).resolve().parent
REPO_DIR = HUB_DIR.parent
#: the model the Space's card names (``models:``), in the namespace pushed to
SPACE_MODEL = "t2t-small"
KINDS = {"models": "model", "datasets": "dataset"}
IGNORE = [".*", "**/.*", "__pycache__", "**/__pycache__/**", "*.pyc", "**/*.pyc", "*.tmp", "**/*.tmp"]


class PushError(Exception):
    """A problem that stops the push; printed as one line, exit status 2."""


@dataclass
class Folder:
    path: Path
    name: str
    repo_type: str  # "model" | "dataset" | "space"
    files: list[tuple[str, int]]  # (relative posix path, bytes)
    #: where each file comes from when the repo is staged rather than uploaded from ``path`` (the Space)
    sources: dict[str, Path] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(size for _, size in self.files)


def _ignored(rel: str) -> bool:
    parts = rel.split("/")
    if any(p.startswith(".") or p == "__pycache__" for p in parts):
        return True
    return any(fnmatch.fnmatch(parts[-1], pat) for pat in ("*.pyc", "*.tmp"))


def find_folders(root: Path = HUB_DIR, only: list[str] | None = None, allow_empty: bool = False) -> list[Folder]:
    """The uploadable folders under ``root/models`` and ``root/datasets`` (sorted), with their files.

    ``allow_empty``: no folders is not an error (``--space`` still has the Space to push)."""
    folders = []
    for sub, repo_type in KINDS.items():
        base = root / sub
        if not base.is_dir():
            continue
        for d in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if only and d.name not in only:
                continue
            files = []
            for f in sorted(d.rglob("*")):
                if not f.is_file():
                    continue
                rel = f.relative_to(d).as_posix()
                if not _ignored(rel):
                    files.append((rel, f.stat().st_size))
            folders.append(Folder(d, d.name, repo_type, files))
    if only:
        missing = sorted(set(only) - {f.name for f in folders})
        if missing:
            raise PushError(f"no folder named {', '.join(missing)} under {root}/models or {root}/datasets")
    if not folders and not allow_empty:
        raise PushError(f"nothing to push: no folders under {root}/models or {root}/datasets")
    return folders


def find_space(repo: Path = REPO_DIR, name: str = "t2t") -> Folder:
    """The Gradio Space ``name``: the files of ``repo/space`` plus the ``repo/t2t_hf`` package (its ``*.py`` files
    and README.md files, under ``t2t_hf/``), which the Space imports from beside ``app.py``."""
    space, package = repo / "space", repo / "t2t_hf"
    if not (space / "app.py").is_file():
        raise PushError(f"no Space to push: {space / 'app.py'} does not exist")
    if not (package / "__init__.py").is_file():
        raise PushError(f"no package to ship with the Space: {package / '__init__.py'} does not exist")
    sources: dict[str, Path] = {}
    for f in sorted(space.rglob("*")):
        rel = f.relative_to(space).as_posix()
        if f.is_file() and not _ignored(rel):
            sources[rel] = f
    for f in sorted(package.rglob("*")):
        rel = f.relative_to(package).as_posix()
        if f.is_file() and not _ignored(rel) and (f.suffix == ".py" or f.name == "README.md"):
            sources[f"t2t_hf/{rel}"] = f
    files = [(rel, f.stat().st_size) for rel, f in sources.items()]
    return Folder(space, name, "space", files, sources)


def space_card(text: str, namespace: str) -> str:
    """The Space's README.md with the front matter's ``models:`` list set to ``[<namespace>/t2t-small]``.

    The rest of the card is kept as written; a card without front matter is returned unchanged (the card check
    reports it)."""
    if not text.startswith("---\n") or "\n---" not in text[4:]:
        return text
    end = text.index("\n---", 4) + 1
    lines, rest = text[4:end].splitlines(keepends=True), text[end:]
    models = ["models:\n", f"  - {namespace}/{SPACE_MODEL}\n"]
    start = next((i for i, line in enumerate(lines) if re.match(r"models\s*:", line)), None)
    if start is None:
        return "---\n" + "".join(lines + models) + rest
    stop = start + 1  # the value: the rest of the key's line, then its indented, "- " item or comment lines
    while stop < len(lines) and (lines[stop][:1] in (" ", "\t", "-", "#") or not lines[stop].strip()):
        stop += 1
    front = "".join(lines[:start] + models + lines[stop:])
    import yaml

    want = [f"{namespace}/{SPACE_MODEL}"]
    try:
        ok = (yaml.safe_load(front) or {}).get("models") == want
    except yaml.YAMLError:
        ok = False
    if not ok:  # an unusual layout the line edit got wrong: rewrite the whole front matter (comments are lost)
        meta = yaml.safe_load(text[4:end])
        if not isinstance(meta, dict):
            return text
        meta["models"] = want
        front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    return "---\n" + front + rest


def stage_space(folder: Folder, namespace: str, dest: Path) -> list[tuple[str, int]]:
    """Copy the Space's files into ``dest`` with its README.md rewritten by :func:`space_card`; the files staged."""
    staged = []
    for rel, src in folder.sources.items():
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if rel == "README.md":
            out.write_text(space_card(src.read_text(encoding="utf-8"), namespace), encoding="utf-8")
        else:
            shutil.copyfile(src, out)
        staged.append((rel, out.stat().st_size))
    return staged


def _listed(folder: Folder, namespace: str) -> list[tuple[str, int]]:
    """The files as uploaded: the Space's README.md has the size of its rewritten card."""
    if folder.repo_type != "space" or "README.md" not in folder.sources:
        return folder.files
    card = space_card(folder.sources["README.md"].read_text(encoding="utf-8"), namespace)
    return [(rel, len(card.encode("utf-8")) if rel == "README.md" else size) for rel, size in folder.files]


def check_folder(folder: Folder) -> list[str]:
    """Problems that must stop a push: a missing README.md card, address-like strings in parquet files."""
    problems = []
    if "README.md" not in {rel for rel, _ in folder.files}:
        problems.append(f"{folder.path}: no README.md (the Hub card); write one before pushing")
    else:
        problems.extend(_card_check(folder.path / "README.md"))
    if folder.repo_type == "dataset":
        parquet = [rel for rel, _ in folder.files if rel.endswith(".parquet")]
        if parquet:
            problems.extend(_address_check(folder.path, parquet))
    return problems


def _card_check(card: Path) -> list[str]:
    """The card must open with YAML front matter (``---`` ... ``---``) that is a mapping with a licence."""
    text = card.read_text(encoding="utf-8")
    if not text.startswith("---\n") or "\n---" not in text[4:]:
        return [f"{card}: no YAML front matter (a '---' block with license, tags, ...) at the top"]
    try:
        import yaml

        meta = yaml.safe_load(text[4:text.index("\n---", 4)])
    except Exception as e:  # yaml.YAMLError and friends
        return [f"{card}: the YAML front matter does not parse ({e})"]
    if not isinstance(meta, dict) or not meta.get("license"):
        return [f"{card}: the YAML front matter has no license"]
    return []


def _address_check(root: Path, files: list[str]) -> list[str]:
    try:
        import pyarrow.parquet as pq
        import pyarrow as pa

        sys.path.insert(0, str(HUB_DIR.parent))
        from t2t_hf.data.schema import find_addresses
    except ImportError as e:  # pragma: no cover - the package and pyarrow are installed with t2t-hf
        return [f"cannot check {root} for addresses ({e}); install t2t-hf first"]
    problems = []
    for rel in files:
        table = pq.read_table(str(root / rel))
        for name in table.column_names:
            col = table.column(name)
            typ = col.type
            if pa.types.is_list(typ) or pa.types.is_large_list(typ):
                if not pa.types.is_string(typ.value_type):
                    continue
                values = (v for row in col.to_pylist() for v in (row or []))
            elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
                values = col.to_pylist()
            else:
                continue
            for v in values:
                if v and find_addresses(v):
                    problems.append(f"{root / rel}: column {name!r} holds an address-like string "
                                    f"{find_addresses(v)[0]!r}; datasets must carry no IP/MAC addresses")
                    break
    return problems


def _human(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def dry_run(folders: list[Folder], namespace: str | None) -> int:
    ns = namespace or "<namespace>"
    problems = []
    grand = 0
    for f in folders:
        files = _listed(f, ns)
        total = sum(size for _, size in files)
        source = f"{f.path} + {f.path.parent / 't2t_hf'}" if f.repo_type == "space" else f.path
        print(f"{f.repo_type} {ns}/{f.name}  <- {source}  ({len(files)} files, {_human(total)})")
        for rel, size in files:
            print(f"  {size:>12,d}  {rel}")
        problems.extend(check_folder(f))
        grand += total
    print(f"total: {sum(len(f.files) for f in folders)} files, {_human(grand)} in {len(folders)} repos (dry run: "
          "nothing uploaded)")
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    return 1 if problems else 0


def push(folders: list[Folder], namespace: str | None, token: str | None, private: bool, message: str) -> int:
    try:
        from huggingface_hub import HfApi, get_token
    except ImportError:
        raise PushError("huggingface_hub is not installed: pip install huggingface_hub") from None
    token = token or get_token()
    if not token:
        raise PushError("no Hugging Face token: run `hf auth login`, set HF_TOKEN, or pass --token "
                        "(use --dry-run to see what would be uploaded without one)")
    problems = [p for f in folders for p in check_folder(f)]
    if problems:
        raise PushError("; ".join(problems))
    api = HfApi(token=token)
    pushed: list[str] = []
    try:
        if not namespace:
            namespace = api.whoami()["name"]
        for f in folders:
            _push_one(api, f, f"{namespace}/{f.name}", namespace, private, message)
            pushed.append(f"{namespace}/{f.name}")
    except PushError:
        raise
    except Exception as e:  # the Hub or the network: HTTP errors, offline mode, a refused token, a timeout
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        done = f"already pushed: {', '.join(pushed)}" if pushed else "nothing was pushed"
        raise PushError(f"the Hub upload failed ({type(e).__name__}: {first}); {done}. Check the token, the "
                        "network and HF_HUB_OFFLINE, then run the same command again (uploads are idempotent)") \
            from None
    return 0


def _push_one(api, f: Folder, repo_id: str, namespace: str, private: bool, message: str) -> None:
    """Create ``repo_id`` if needed and upload folder ``f`` in one commit (a Space from a staging folder)."""
    if f.repo_type != "space":
        api.create_repo(repo_id, repo_type=f.repo_type, private=private, exist_ok=True)
        info = api.upload_folder(folder_path=str(f.path), repo_id=repo_id, repo_type=f.repo_type,
                                 commit_message=message, ignore_patterns=IGNORE)
        print(f"pushed {f.repo_type} {repo_id}: {len(f.files)} files, {_human(f.total)} -> {info}")
        return
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="t2t-space-"))
    try:
        files = stage_space(f, namespace, staging)
        info = api.upload_folder(folder_path=str(staging), repo_id=repo_id, repo_type="space",
                                 commit_message=message, ignore_patterns=IGNORE)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"pushed space {repo_id}: {len(files)} files, {_human(sum(s for _, s in files))} -> {info}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python hub/push.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry-run", action="store_true", help="list the files and sizes that would be uploaded; no network")
    p.add_argument("--namespace", default=None, help="Hub user or organisation (default: the token's user)")
    p.add_argument("--only", nargs="+", default=None, metavar="NAME",
                   help="push only these folders under hub/ (by name); does not affect --space")
    p.add_argument("--space", action="store_true",
                   help="also push the Gradio Space: space/ plus the t2t_hf/ package, its card's models: set to "
                        f"<namespace>/{SPACE_MODEL}; independent of --only")
    p.add_argument("--space-name", default="t2t", metavar="NAME", help="the Space's repo name (default: t2t)")
    p.add_argument("--root", default=str(HUB_DIR), help="folder holding models/ and datasets/ (default: hub/)")
    p.add_argument("--private", action="store_true", help="create the repos as private")
    p.add_argument("--token", default=None, help="Hugging Face token (default: HF_TOKEN or the saved login)")
    p.add_argument("--message", default="Upload from t2t-hf hub/push.py", help="commit message")
    args = p.parse_args(argv)
    try:
        folders = find_folders(Path(args.root), args.only, allow_empty=args.space)
        if args.space:
            folders.append(find_space(REPO_DIR, args.space_name))
        if args.dry_run:
            return dry_run(folders, args.namespace)
        return push(folders, args.namespace, args.token or os.environ.get("HF_TOKEN"), args.private, args.message)
    except PushError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
