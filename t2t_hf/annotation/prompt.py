"""The one versioned prompt that turns a few screen frames into a corpus-style caption.

Change the text only together with :data:`PROMPT_VERSION`: the version is part of
every cache key and of every JSONL record, so captions made with different prompts
never mix silently.
"""

from __future__ import annotations

import re

#: Bump on any change to the text below (it keys the cache and is written into each record).
PROMPT_VERSION = "t2t-annotate-v1"

SYSTEM_PROMPT = (
    "You label screen recordings of a smartphone for a dataset. You describe what the person using the "
    "phone is doing, in one plain English sentence."
)

USER_PROMPT = (
    "These {n} frames were taken in order from {seconds:.0f} seconds of a smartphone screen recording.{app_hint} "
    "Describe what the user is doing in the app during this time, in ONE sentence that starts with "
    "\"The user is\". Name the app if you can tell which it is, and say what the user does "
    "(for example watching, scrolling, typing, sending, searching, browsing, listening, playing). "
    "If the screen does not change, say what the user is looking at, or that the phone is idle. "
    "Do not describe colours, layout or the frames themselves; do not mention the recording; "
    "do not read out personal text (names, messages, addresses). "
    "Examples: \"The user is watching a short video on TikTok and swipes to the next one.\" "
    "\"The user is typing and sending a message in WhatsApp.\" "
    "\"The user is scrolling through the home feed on Instagram.\" "
    "Answer with the sentence only."
)


def build_user_prompt(n_frames: int, seconds: float, app: str | None = None) -> str:
    """The user-turn text for ``n_frames`` frames spanning ``seconds`` of recording.

    ``app``: the app the user says was in use (``--app``), offered to the model as a hint.
    """
    hint = f" The app in use is {app}." if app else ""
    return USER_PROMPT.format(n=n_frames, seconds=seconds, app_hint=hint)


_PREFIXES = re.compile(r"^\s*(?:caption|answer|description|sentence)\s*:\s*", re.I)


def clean_caption(text: str) -> str:
    """A model's answer -> one corpus-style sentence.

    Strips quotes, markdown and "Caption:" prefixes, keeps the first sentence, makes it start
    with "The user is" when the model wrote "User is"/"the user is", and ends it with a period.
    Returns "" for an empty answer (the pipeline treats that as a failed window).
    """
    s = (text or "").strip()
    s = re.sub(r"[*_`#>]+", "", s)
    s = _PREFIXES.sub("", s).strip().strip("\"'“”‘’ ").strip()
    s = " ".join(s.split())
    if not s:
        return ""
    m = re.search(r"[.!?](?=\s+[A-Z\"“]|\s*$)", s)
    if m:
        s = s[: m.start() + 1]
    s = re.sub(r"^(?:the\s+)?user\s+is\b", "The user is", s, flags=re.I)
    s = s[0].upper() + s[1:]
    if s[-1] not in ".!?":
        s += "."
    return s


__all__ = ["PROMPT_VERSION", "SYSTEM_PROMPT", "USER_PROMPT", "build_user_prompt", "clean_caption"]
