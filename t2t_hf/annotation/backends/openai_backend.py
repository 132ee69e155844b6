"""Any OpenAI-compatible chat-completions endpoint with image input, over plain ``urllib``.

DashScope's compatible mode serves Qwen-VL-Max (the paper's annotator) this way;
so do OpenAI, vLLM, SGLang, LM Studio and Ollama. Frames travel as base64
``data:`` URLs inside ``image_url`` content parts.

Settings come from arguments, else the environment:

============  ==========================================  =====================================
setting       environment                                 default
============  ==========================================  =====================================
base_url      ``T2T_VLM_BASE_URL``                        DashScope compatible mode (intl.)
model         ``T2T_VLM_MODEL``                           ``qwen-vl-max``
api_key       ``T2T_VLM_API_KEY``, ``DASHSCOPE_API_KEY``,  none: an error says how to set one
              ``OPENAI_API_KEY`` (first set wins)
============  ==========================================  =====================================

The key is sent only in the ``Authorization`` header; it is kept out of
``repr``, logs, error messages and the cache (any echo of it by a server is
masked). ``api_key="none"`` sends no header (local servers).
"""

from __future__ import annotations

import base64
import email.utils
import io
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
from typing import Sequence

from ...errors import T2TInputError
from . import BackendError, CaptionResult

log = logging.getLogger("t2t_hf.annotation")

DASHSCOPE_BASE_URL = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
DEFAULT_MODEL = "qwen-vl-max"
KEY_VARIABLES = ("T2T_VLM_API_KEY", "DASHSCOPE_API_KEY", "OPENAI_API_KEY")
RETRY_STATUS = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))


class RateLimiter:
    """At most ``rate`` acquisitions per second across threads (evenly spaced); ``None``/0 = no limit."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            self._next = at + self.interval
        if at > now:
            time.sleep(at - now)


def encode_image(image, fmt: str = "jpeg", quality: int = 85) -> str:
    """A PIL image -> ``data:image/<fmt>;base64,...`` URL."""
    buf = io.BytesIO()
    img = image.convert("RGB")
    if fmt == "jpeg":
        img.save(buf, format="JPEG", quality=quality)
    else:
        img.save(buf, format="PNG")
    return f"data:image/{fmt};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` header (seconds or an HTTP date) -> seconds to wait, or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class OpenAIBackend:
    """Captions frames through ``POST {base_url}/chat/completions``.

    Args:
        base_url, model, api_key: see the module docstring.
        concurrency: requests in flight at once (the pipeline's thread pool size).
        rate_limit: requests per second across all threads (None = unlimited).
        max_retries: retries after the first try on 429/5xx/timeouts/connection errors.
        backoff: first retry delay in seconds; doubles each retry (with jitter), capped by
            ``max_backoff``; a server's ``Retry-After`` header wins when present.
        timeout: seconds per HTTP request.
        max_tokens, temperature: generation settings sent to the endpoint.
        image_format: "jpeg" (smaller) or "png" (lossless).
    """

    def __init__(self, *, base_url: str | None = None, model: str | None = None, api_key: str | None = None,
                 concurrency: int = 4, rate_limit: float | None = None, max_retries: int = 6,
                 backoff: float = 1.0, max_backoff: float = 60.0, timeout: float = 120.0, max_tokens: int = 100,
                 temperature: float = 0.0, image_format: str = "jpeg") -> None:
        self.base_url = (base_url or os.environ.get("T2T_VLM_BASE_URL") or DASHSCOPE_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise T2TInputError(f"--base-url must start with http:// or https://, got {self.base_url!r}")
        self.model = model or os.environ.get("T2T_VLM_MODEL") or DEFAULT_MODEL
        key = api_key
        if key is None:
            key = next((os.environ[v] for v in KEY_VARIABLES if os.environ.get(v)), None)
        if not key:
            raise T2TInputError(
                "no API key for the VLM endpoint: set T2T_VLM_API_KEY (or DASHSCOPE_API_KEY / OPENAI_API_KEY) in the "
                "environment, or pass --api-key; for a local server that needs none, pass --api-key none")
        self._key = None if key.strip().lower() == "none" else key.strip()
        if concurrency < 1:
            raise T2TInputError(f"concurrency must be at least 1, got {concurrency}")
        if image_format not in ("jpeg", "png"):
            raise T2TInputError(f"image_format must be 'jpeg' or 'png', got {image_format!r}")
        self.concurrency = int(concurrency)
        self.limiter = RateLimiter(rate_limit)
        self.max_retries, self.backoff, self.max_backoff = int(max_retries), float(backoff), float(max_backoff)
        self.timeout, self.max_tokens, self.temperature = float(timeout), int(max_tokens), float(temperature)
        self.image_format = image_format

    @property
    def model_name(self) -> str:
        """The name written into records and cache keys (the endpoint's model id)."""
        return self.model

    def __repr__(self) -> str:
        return (f"OpenAIBackend(base_url={self.base_url!r}, model={self.model!r}, "
                f"api_key={'***' if self._key else None}, concurrency={self.concurrency})")

    def _mask(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def request_body(self, images: Sequence, prompt: str, system: str | None) -> dict:
        """The JSON body for one request (images as data URLs, then the prompt text)."""
        content = [{"type": "image_url", "image_url": {"url": encode_image(im, self.image_format)}} for im in images]
        content.append({"type": "text", "text": prompt})
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": content}]
        return {"model": self.model, "messages": messages, "max_tokens": self.max_tokens,
                "temperature": self.temperature}

    def caption(self, images: Sequence, prompt: str, system: str | None = None) -> CaptionResult:
        """One chat-completions call with retries. Thread-safe.

        Raises:
            T2TInputError: the endpoint refuses the request for a reason retrying cannot fix
                (bad key 401/403, unknown model or URL 404, malformed request 400/422).
            BackendError: still failing after ``max_retries`` retries.
        """
        data = json.dumps(self.request_body(images, prompt, system)).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        url = f"{self.base_url}/chat/completions"
        last = ""
        for attempt in range(self.max_retries + 1):
            self.limiter.acquire()
            wait = None
            try:
                req = urllib.request.Request(url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    payload = json.loads(resp.read().decode("utf-8"))
                return self._parse(payload)
            except urllib.error.HTTPError as exc:
                body = self._mask(exc.read().decode("utf-8", "replace")[:500])
                last = f"HTTP {exc.code} {exc.reason}: {body}"
                if exc.code not in RETRY_STATUS:
                    self._fail_for_status(exc.code, body)
                wait = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                last = self._mask(f"{type(exc).__name__}: {reason}")
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                last = f"response is not JSON ({exc})"
            if attempt == self.max_retries:
                break
            if wait is None:
                wait = min(self.max_backoff, self.backoff * 2 ** attempt) * (0.5 + random.random() / 2)
            log.warning("VLM request to %s failed (%s); retry %d/%d in %.1f s", self.base_url, last[:200],
                        attempt + 1, self.max_retries, wait)
            time.sleep(wait)
        raise BackendError(f"VLM endpoint {self.base_url} still failing after {self.max_retries} retries: {last}")

    def _fail_for_status(self, code: int, body: str) -> None:
        if code in (401, 403):
            raise T2TInputError(f"the endpoint {self.base_url} rejected the API key (HTTP {code}); check "
                                "T2T_VLM_API_KEY / --api-key and that the key may use this model")
        if code == 404:
            raise T2TInputError(f"HTTP 404 from {self.base_url}/chat/completions: check --base-url (it should end "
                                f"in /v1 or /compatible-mode/v1) and --model {self.model!r}. Server said: {body[:200]}")
        raise T2TInputError(f"the endpoint refused the request (HTTP {code}): {body[:300]}; check --model "
                            f"{self.model!r} accepts images")

    def _parse(self, payload: dict) -> CaptionResult:
        try:
            msg = payload["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise BackendError(f"unexpected response from {self.base_url}: no choices[0].message "
                               f"({self._mask(json.dumps(payload)[:200])})") from None
        content = msg.get("content")
        if isinstance(content, list):  # some servers answer with content parts
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        usage = payload.get("usage") or {}
        return CaptionResult(text=content or "", prompt_tokens=int(usage.get("prompt_tokens") or 0),
                             completion_tokens=int(usage.get("completion_tokens") or 0))


__all__ = ["OpenAIBackend", "RateLimiter", "encode_image", "DASHSCOPE_BASE_URL", "DEFAULT_MODEL", "KEY_VARIABLES"]
