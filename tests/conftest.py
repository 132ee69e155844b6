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


def _app_testing():
    """The helpers shared by the CLI, live and Space tests (tests/cli/t2t_app_testing.py)."""
    import sys

    here = str(REPO / "tests" / "cli")
    if here not in sys.path:
        sys.path.insert(0, here)
    import t2t_app_testing

    return t2t_app_testing


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny *untrained* model folder (random weights, tests only)."""
    return _app_testing().make_tiny_model(tmp_path_factory.mktemp("t2t-tiny-model"))


@pytest.fixture(scope="session")
def sim_capture(tmp_path_factory):
    """(path, session) of a 30 s T2T-Sim Netflix session on Wi-Fi."""
    path = tmp_path_factory.mktemp("sim") / "netflix.pcap"
    s = _app_testing().make_sim_capture(path, seed=11, duration=30.0, app="Netflix")
    return path, s
