"""The README's first example is what `make demo` really prints with the shipped model."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_demo_lines() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```\n\$ t2t caption examples/sample\.pcap\.gz[^\n]*\n(.*?)```", text, re.S)
    assert block, "README.md lost its `t2t caption examples/sample.pcap.gz` example"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_example_matches_the_cli_output(capsys):
    from t2t_hf.cli import main

    assert main(["caption", str(ROOT / "examples" / "sample.pcap.gz")]) == 0
    printed = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    shown = readme_demo_lines()
    assert shown and printed[:len(shown)] == shown
    # and the README's sentence about the rest of the output: YouTube in five of the six windows, Facebook last
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "names it in five of\nthe six windows and calls the last one Facebook" in text
    assert len(printed) == 6 and sum("youtube app" in line for line in printed) == 5
    assert "facebook app" in printed[-1]
