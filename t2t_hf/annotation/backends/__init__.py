"""Vision-language backends: a few frames + a prompt in, one caption out.

A backend is any object with:

* ``model_name`` (str): the model name written into each JSONL record and the cache key;
* ``concurrency`` (int): how many requests the pipeline may run at once;
* ``caption(images, prompt, system) -> CaptionResult``: thread-safe when ``concurrency > 1``.

:func:`make_backend` builds the two that ship: ``openai`` (any OpenAI-compatible
chat-completions endpoint, e.g. DashScope's ``qwen-vl-max``) and ``local`` (a
transformers image-text-to-text model directory).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import T2TInputError


@dataclass
class CaptionResult:
    """A model's answer. ``text``: raw answer; token counts as reported (0 when unknown)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class BackendError(RuntimeError):
    """A backend failed for reasons other than bad input (server down after all retries, ...)."""


def make_backend(name: str, **options):
    """``"openai"`` -> :class:`~.openai_backend.OpenAIBackend`, ``"local"`` ->
    :class:`~.local_backend.LocalBackend`; ``options`` go to the constructor (None values dropped)."""
    options = {k: v for k, v in options.items() if v is not None}
    if name == "openai":
        from .openai_backend import OpenAIBackend

        return OpenAIBackend(**options)
    if name == "local":
        from .local_backend import LocalBackend

        return LocalBackend(**options)
    raise T2TInputError(f"unknown backend {name!r}; use 'openai' (an OpenAI-compatible endpoint) or 'local' "
                        "(a transformers model directory)")


__all__ = ["CaptionResult", "BackendError", "make_backend"]
