"""Fixtures: a tiny untrained model folder and small T2T-Sim captures (helpers shared with tests/cli)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from t2t_app_testing import make_sim_capture, make_tiny_model  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny *untrained* model folder (random weights, tests only)."""
    return make_tiny_model(tmp_path_factory.mktemp("t2t-tiny-model"))


@pytest.fixture(scope="session")
def sim_capture(tmp_path_factory):
    """(path, session) of a 30 s T2T-Sim Netflix session on Wi-Fi."""
    path = tmp_path_factory.mktemp("sim") / "netflix.pcap"
    s = make_sim_capture(path, seed=11, duration=30.0, app="Netflix")
    return path, s
