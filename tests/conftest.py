"""Shared fixtures: where the third-party data lives, and how to treat its absence."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("T2T_SHARED_DATA", REPO.parent / "shared" / "data"))


def require_shared(sub: str = "") -> Path:
    """Path to ``../shared/data/<sub>``; skip when absent, fail when T2T_REQUIRE_SHARED_DATA=1."""
    path = SHARED_DATA / sub if sub else SHARED_DATA
    if not path.exists():
        msg = f"shared data not found at {path} (set T2T_SHARED_DATA or place ../shared/data beside the repo)"
        if os.environ.get("T2T_REQUIRE_SHARED_DATA") == "1":
            pytest.fail(msg + "; T2T_REQUIRE_SHARED_DATA=1 makes this a failure")
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return require_shared()


@pytest.fixture(scope="session")
def pcaps_dir() -> Path:
    return require_shared("pcaps")


@pytest.fixture(scope="session")
def knocking_file() -> Path:
    return require_shared("knocking/traffic.mat")
