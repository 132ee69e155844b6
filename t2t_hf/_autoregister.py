"""Register the T2T classes with transformers as soon as transformers is imported.

``import t2t_hf`` must make ``AutoModel.from_pretrained(...)`` and
``pipeline("traffic-captioning", ...)`` work. Importing transformers and torch
takes seconds, which the traffic layer and the command line's capture tools do
not need. So: if transformers is already imported, register now; otherwise
register right after transformers finishes importing, through a post-import
hook on ``sys.meta_path``.

When transformers is first imported *by* one of our own model modules (say
``t2t_hf.configuration_t2t``), registering at that moment would import that
half-initialised module again; registration then waits until our module has
finished loading.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

_TARGET = "transformers"
_state = {"transformers": False, "done": False}


def _initializing(exclude: str) -> bool:
    for name, mod in list(sys.modules.items()):
        if name.startswith("t2t_hf.") and name != exclude:
            spec = getattr(mod, "__spec__", None)
            if spec is not None and getattr(spec, "_initializing", False):
                return True
    return False


def _maybe_register(just_loaded: str) -> None:
    if _state["done"] or not _state["transformers"] or _initializing(just_loaded):
        return
    _state["done"] = True
    uninstall()
    from . import models_registry

    models_registry.register()


class _Loader(importlib.abc.Loader):
    def __init__(self, loader, name: str):
        self._loader = loader
        self._name = name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        if self._name == _TARGET:
            _state["transformers"] = True
        _maybe_register(self._name)

    def __getattr__(self, name):  # e.g. get_resource_reader, is_package
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != _TARGET and not fullname.startswith("t2t_hf."):
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        if spec is not None and spec.loader is not None and not isinstance(spec.loader, _Loader):
            spec.loader = _Loader(spec.loader, fullname)
        return spec


_finder = _Finder()


def uninstall() -> None:
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)


def install() -> None:
    """Register now if transformers is loaded, else when it has been imported."""
    if _TARGET in sys.modules:
        _state["transformers"] = True
        _maybe_register("t2t_hf")
    elif _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
