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

Before any upload (and in a dry run) the parquet files of dataset folders are
checked for IP/MAC address-like strings; a hit stops the push.

The token comes from ``--token``, ``HF_TOKEN`` or ``hf auth login``.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import sys
from dataclasses import dataclass
from pathlib import Path

HUB_DIR = Path(__file__).resolve().parent
KINDS = {"models": "model", "datasets": "dataset"}
IGNORE = [".*", "**/.*", "__pycache__", "**/__pycache__/**", "*.pyc", "**/*.pyc", "*.tmp", "**/*.tmp"]


class PushError(Exception):
    """A problem that stops the push; printed as one line, exit status 2."""


@dataclass
class Folder:
    path: Path
    name: str
    repo_type: str  # "model" | "dataset"
    files: list[tuple[str, int]]  # (relative posix path, bytes)

    @property
    def total(self) -> int:
        return sum(size for _, size in self.files)


def _ignored(rel: str) -> bool:
    parts = rel.split("/")
    if any(p.startswith(".") or p == "__pycache__" for p in parts):
        return True
    return any(fnmatch.fnmatch(parts[-1], pat) for pat in ("*.pyc", "*.tmp"))


def find_folders(root: Path = HUB_DIR, only: list[str] | None = None) -> list[Folder]:
    """The uploadable folders under ``root/models`` and ``root/datasets`` (sorted), with their files."""
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
    if not folders:
        raise PushError(f"nothing to push: no folders under {root}/models or {root}/datasets")
    return folders


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
        print(f"{f.repo_type} {ns}/{f.name}  <- {f.path}  ({len(f.files)} files, {_human(f.total)})")
        for rel, size in f.files:
            print(f"  {size:>12,d}  {rel}")
        problems.extend(check_folder(f))
        grand += f.total
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
    if not namespace:
        namespace = api.whoami()["name"]
    for f in folders:
        repo_id = f"{namespace}/{f.name}"
        api.create_repo(repo_id, repo_type=f.repo_type, private=private, exist_ok=True)
        info = api.upload_folder(folder_path=str(f.path), repo_id=repo_id, repo_type=f.repo_type,
                                 commit_message=message, ignore_patterns=IGNORE)
        print(f"pushed {f.repo_type} {repo_id}: {len(f.files)} files, {_human(f.total)} -> {info}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python hub/push.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry-run", action="store_true", help="list the files and sizes that would be uploaded; no network")
    p.add_argument("--namespace", default=None, help="Hub user or organisation (default: the token's user)")
    p.add_argument("--only", nargs="+", default=None, metavar="NAME", help="push only these folders (by name)")
    p.add_argument("--root", default=str(HUB_DIR), help="folder holding models/ and datasets/ (default: hub/)")
    p.add_argument("--private", action="store_true", help="create the repos as private")
    p.add_argument("--token", default=None, help="Hugging Face token (default: HF_TOKEN or the saved login)")
    p.add_argument("--message", default="Upload from t2t-hf hub/push.py", help="commit message")
    args = p.parse_args(argv)
    try:
        folders = find_folders(Path(args.root), args.only)
        if args.dry_run:
            return dry_run(folders, args.namespace)
        return push(folders, args.namespace, args.token or os.environ.get("HF_TOKEN"), args.private, args.message)
    except PushError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
