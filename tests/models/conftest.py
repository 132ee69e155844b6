"""Fixtures for the model tests (helpers live in _t2t_helpers.py)."""

from __future__ import annotations

import pytest

from _t2t_helpers import example_windows, make_untrained_folder


@pytest.fixture(scope="session")
def windows():
    return example_windows()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny untrained model + processor folder (random weights, for tests only)."""
    return make_untrained_folder(tmp_path_factory.mktemp("t2t-tiny"))


@pytest.fixture(autouse=True, scope="session")
def _registered():
    from t2t_hf.models_registry import register

    register()


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny models run fastest on one thread, and the CI box is shared: avoid thread oversubscription."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
