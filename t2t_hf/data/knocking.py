"""The ``knocking`` corpus: real encrypted Android traffic of 41 Facebook user actions.

Source: Conti, Mancini, Spolaor and Verde, "Analyzing Android Encrypted Network
Traffic to Identify User Actions", IEEE TIFS 11(1), 2016. The file
``traffic.mat`` (redistributed under GPL-3.0; never shipped with this package,
the user passes the folder that holds it) has two MATLAB cell arrays:

- ``vectors``: 50,319 flows, each a 1-D int array of signed packet sizes in bytes
  (+ phone to server, - server to phone), in order, without timestamps;
- ``labels``: the action string of each flow ("open facebook", "writing message", ...).

The flows are in chronological order, so a run of consecutive flows with the
same label is one *action instance* (12,456 of them). One instance becomes one
corpus example: its packets are the flows' packets concatenated, ``flow`` holds
the flow index within the instance, ``time`` is NaN (unknown) and ``protocol``
is 0 (unknown: the file does not say). The caption is written from the label,
with paraphrases, all of which go into ``references``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import T2TInputError

FILE_NAME = "traffic.mat"
SOURCE_URL = "https://doi.org/10.1109/TIFS.2015.2478741"
CITATION = """@article{conti2016analyzing,
  title   = {Analyzing Android Encrypted Network Traffic to Identify User Actions},
  author  = {Conti, Mauro and Mancini, Luigi Vincenzo and Spolaor, Riccardo and Verde, Nino Vincenzo},
  journal = {IEEE Transactions on Information Forensics and Security},
  volume  = {11}, number = {1}, pages = {114--125}, year = {2016},
  doi     = {10.1109/TIFS.2015.2478741}
}"""

APP = "Facebook"


@dataclass(frozen=True)
class ActionLabel:
    """How one ``traffic.mat`` label becomes corpus metadata and captions."""

    activity: str
    app_type: str
    captions: tuple[str, ...]


def _a(activity: str, app_type: str, *captions: str) -> ActionLabel:
    return ActionLabel(activity, app_type, captions)


#: the 41 labels of traffic.mat (spelling as in the file) -> activity, app type, caption paraphrases
LABELS: dict[str, ActionLabel] = {
    "open facebook": _a("open_app", "social",
        "The user opens the Facebook app and the news feed loads.",
        "The user launches Facebook from the home screen.",
        "Facebook is opened and starts loading the latest posts.",
        "The user starts the Facebook app, which shows the news feed."),
    "menu selection": _a("open_menu", "social",
        "The user opens the main menu in the Facebook app.",
        "The user taps the menu button in Facebook.",
        "The Facebook side menu slides open."),
    "replacing menu in initial position": _a("close_menu", "social",
        "The user closes the Facebook menu and returns to the previous screen.",
        "The Facebook menu slides back to its initial position.",
        "The user puts the Facebook menu away."),
    "menu news selection": _a("open_news_feed", "social",
        "The user selects the news feed from the Facebook menu.",
        "From the menu, the user opens the Facebook news feed.",
        "The user goes to the news feed through the Facebook menu."),
    "menu message selection": _a("open_messages", "messaging",
        "The user opens the messages section from the Facebook menu.",
        "From the menu, the user goes to their Facebook messages.",
        "The user taps Messages in the Facebook menu to see the conversations."),
    "back to news": _a("go_back", "social",
        "The user goes back to the Facebook news feed.",
        "The user returns to the news feed in Facebook.",
        "The user presses back and the Facebook news feed appears again."),
    "back to alfa page": _a("go_back", "social",
        "The user goes back to a friend's profile page on Facebook.",
        "The user returns to the friend's Facebook page.",
        "The user presses back and the friend's profile is shown again."),
    "back to user profile": _a("go_back", "social",
        "The user goes back to their own Facebook profile.",
        "The user returns to their profile page in Facebook.",
        "The user presses back and lands on their own profile."),
    "draging down to accede to the buttons": _a("scroll", "social",
        "The user drags the Facebook page down to reach the buttons.",
        "The user scrolls the Facebook screen to get to the action buttons.",
        "The user pulls the page down in Facebook to see the buttons."),
    "friends selection": _a("open_friends", "social",
        "The user opens the friends list in Facebook.",
        "The user taps Friends and browses their Facebook friends.",
        "The user looks through their friend list on Facebook."),
    "user alfa selection": _a("view_friend_profile", "social",
        "The user opens a friend's profile on Facebook.",
        "The user taps a friend's name and their Facebook profile loads.",
        "The user visits a friend's page in Facebook."),
    "user profile selection": _a("view_profile", "social",
        "The user opens their own Facebook profile.",
        "The user taps their name to see their Facebook profile.",
        "The user's own profile page is shown in Facebook."),
    "user about selection": _a("view_profile_about", "social",
        "The user opens the About section of a Facebook profile.",
        "The user reads the profile details in the About tab on Facebook.",
        "The user taps About to see the personal information on the profile."),
    "user photos selection": _a("view_photos", "social",
        "The user opens the photos on a Facebook profile.",
        "The user taps Photos on the profile and the pictures load.",
        "The user browses the photos of a Facebook profile."),
    "photos album selection": _a("view_photos", "social",
        "The user opens a photo album on Facebook.",
        "The user taps an album and browses its photos in Facebook.",
        "A Facebook photo album is opened and the pictures load."),
    "photos on news selection": _a("view_photos", "social",
        "The user opens a photo from the Facebook news feed.",
        "The user taps a picture in the news feed to view it full screen.",
        "The user looks at a photo posted in their Facebook feed."),
    "status selection": _a("open_status_editor", "social",
        "The user taps the box to write a new status on Facebook.",
        "The user starts a new status update in Facebook.",
        "The status composer opens in the Facebook app."),
    "status post selection": _a("open_status_editor", "social",
        "The user selects the status post field on Facebook.",
        "The user opens the field for posting a status in Facebook.",
        "The user taps the post field to start a status update."),
    "writing status": _a("type_status", "social",
        "The user is typing a status update on Facebook.",
        "The user writes the text of a new Facebook post.",
        "The user types a status message in the Facebook composer."),
    "post button selection": _a("post_status", "social",
        "The user taps the post button to publish the status on Facebook.",
        "The user publishes a new status update on Facebook.",
        "The user posts the status and it appears on their Facebook timeline."),
    "edit search selection": _a("open_search", "social",
        "The user taps the Facebook search box.",
        "The user opens the search field in Facebook.",
        "The user starts a search in the Facebook app."),
    "writing search": _a("type_search", "social",
        "The user is typing a name into the Facebook search box.",
        "The user searches for a person on Facebook, typing the name.",
        "The user types a search query in Facebook and suggestions appear."),
    "notification friends selection": _a("open_notifications", "social",
        "The user opens the friend request notifications on Facebook.",
        "The user taps the friend requests icon in Facebook.",
        "The user checks new friend requests on Facebook."),
    "notification general selection": _a("open_notifications", "social",
        "The user opens the Facebook notifications.",
        "The user taps the notifications icon and reads the latest Facebook alerts.",
        "The user checks their notifications in the Facebook app."),
    "notification message selection": _a("open_notifications", "messaging",
        "The user opens the message notifications in Facebook.",
        "The user taps the messages icon to see new Facebook messages.",
        "The user checks the notifications for new chat messages on Facebook."),
    "closing notification friends": _a("close_notifications", "social",
        "The user closes the friend request notifications on Facebook.",
        "The user dismisses the friend requests panel in Facebook.",
        "The friend request list is closed and Facebook returns to the previous screen."),
    "closing notification general": _a("close_notifications", "social",
        "The user closes the Facebook notifications panel.",
        "The user dismisses the notifications and goes back in Facebook.",
        "The notification list is closed in the Facebook app."),
    "closing notification message": _a("close_notifications", "messaging",
        "The user closes the message notifications in Facebook.",
        "The user dismisses the list of new messages on Facebook.",
        "The message notification panel is closed in Facebook."),
    "first conversation selection": _a("open_conversation", "messaging",
        "The user opens the most recent conversation in Facebook Messenger.",
        "The user taps the first chat in their Facebook messages.",
        "The user opens a chat thread on Facebook to read the messages."),
    "write selection": _a("open_message_editor", "messaging",
        "The user taps the box to write a message to a friend on Facebook.",
        "The user starts writing a message to a friend in Facebook.",
        "The message composer opens in the Facebook chat with a friend."),
    "edit message selection": _a("open_message_editor", "messaging",
        "The user taps the message field in a Facebook conversation.",
        "The user selects the text box to write a new Facebook message.",
        "The user opens the message editor in Facebook Messenger."),
    "writing message": _a("type_message", "messaging",
        "The user is typing a message in Facebook Messenger.",
        "The user writes a chat message on Facebook.",
        "The user types a reply in a Facebook conversation.",
        "The user is composing a message to a friend in the Facebook chat."),
    "writing to alfa": _a("type_message", "messaging",
        "The user is typing a message to a friend on Facebook.",
        "The user writes a private message to a friend in Facebook Messenger.",
        "The user types a message in the chat with a friend on Facebook."),
    "send message selection": _a("send_message", "messaging",
        "The user sends a message in Facebook Messenger.",
        "The user taps send and the message appears in the Facebook chat.",
        "The user sends a chat message to a friend on Facebook."),
    "facebook in background for 200 sec": _a("background", "social",
        "Facebook stays open in the background for a few minutes while the phone is not used.",
        "The Facebook app runs in the background and the user does nothing for about three minutes.",
        "The phone is idle with Facebook left in the background."),
    "facebook in background for 600 sec": _a("background", "social",
        "Facebook stays in the background for about ten minutes while the phone is idle.",
        "The Facebook app runs in the background for a long time without the user touching the phone.",
        "The phone is left alone for ten minutes with Facebook in the background."),
    "killing facebook": _a("close_app", "social",
        "The user force-closes the Facebook app.",
        "The user kills Facebook from the recent apps screen.",
        "The Facebook app is closed completely."),
    "facebook killed wait for 50 seconds": _a("app_closed", "social",
        "Facebook has been closed and the phone sits idle for under a minute.",
        "The phone is idle for about fifty seconds after Facebook was closed.",
        "Nothing happens on the phone for a short while after Facebook is killed."),
    "facebook killed wait for 120 seconds": _a("app_closed", "social",
        "Facebook has been closed and the phone sits idle for two minutes.",
        "The phone is idle for a couple of minutes after Facebook was closed.",
        "Nothing happens on the phone for two minutes after Facebook is killed."),
    "facebook killed wait for 1200 seconds": _a("app_closed", "social",
        "Facebook has been closed and the phone sits idle for twenty minutes.",
        "The phone is left alone for a long time after Facebook was closed.",
        "Nothing happens on the phone for about twenty minutes after Facebook is killed."),
    "facebook script ended": _a("app_closed", "social",
        "The test session ends and the phone is left idle with Facebook closed.",
        "The phone goes idle at the end of the Facebook session.",
        "The Facebook session is over and nothing happens on the phone."),
}

SPLIT_FRACTIONS: dict[str, float] = {"train": 0.8, "validation": 0.1, "test": 0.1}


@dataclass
class KnockingData:
    """The flows of traffic.mat. ``vectors[i]``: int32 [packets of flow i], signed bytes; ``labels[i]``: str."""

    vectors: list[np.ndarray]
    labels: list[str]
    path: Path

    def __len__(self) -> int:
        return len(self.labels)


def resolve_path(data_dir: str | os.PathLike | None) -> Path:
    """The traffic.mat file from a folder that holds it, or from the file path itself."""
    if data_dir is None:
        raise T2TInputError("the knocking config needs data_dir: the folder holding traffic.mat (Conti et al., "
                            "IEEE TIFS 2016; GPL-3.0, not shipped with t2t-hf), e.g. data_dir='../shared/data/knocking'")
    p = Path(data_dir).expanduser()
    if p.is_dir():
        p = p / FILE_NAME
    if not p.exists():
        raise T2TInputError(f"knocking data not found: no {FILE_NAME} at {p}; pass data_dir= the folder that holds "
                            "traffic.mat (Conti et al., IEEE TIFS 2016)", path=str(p))
    return p


def load_knocking(data_dir: str | os.PathLike) -> KnockingData:
    """Read traffic.mat (``data_dir`` is its folder or the file). Raises T2TInputError on a bad file.

    The last file read is kept in memory (keyed by path, size and modification time), so the
    three splits of a build read it once.
    """
    path = resolve_path(data_dir)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if _CACHE.get("key") == key:
        return _CACHE["data"]
    data = _read_mat(path)
    _CACHE.clear()
    _CACHE.update(key=key, data=data)
    return data


_CACHE: dict = {}


def _read_mat(path: Path) -> KnockingData:
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path))
    except Exception as e:  # scipy raises ValueError, TypeError, MatReadError, ... on non-MAT input
        raise T2TInputError(f"not a readable MATLAB file ({type(e).__name__}: {e}); expected the knocking "
                            "traffic.mat with cell arrays 'vectors' and 'labels'", path=str(path)) from None
    for key in ("vectors", "labels"):
        if key not in mat:
            raise T2TInputError(f"MATLAB file has no {key!r} variable (it has {sorted(k for k in mat if not k.startswith('__'))}); "
                                "expected cell arrays 'vectors' and 'labels'", path=str(path))
    raw_v = np.asarray(mat["vectors"], dtype=object).reshape(-1)
    raw_l = np.asarray(mat["labels"], dtype=object).reshape(-1)
    if len(raw_v) != len(raw_l):
        raise T2TInputError(f"'vectors' has {len(raw_v)} flows but 'labels' has {len(raw_l)}", path=str(path))
    if len(raw_v) == 0:
        raise T2TInputError("the file holds no flows", path=str(path))
    vectors, labels = [], []
    for i, (v, l) in enumerate(zip(raw_v, raw_l)):
        try:
            vec = np.asarray(v).reshape(-1).astype(np.int64)
        except (TypeError, ValueError):
            raise T2TInputError(f"flow {i}: 'vectors' entry is not an array of packet sizes", path=str(path)) from None
        if vec.size == 0 or np.any(vec == 0) or np.any(np.abs(vec) > 65535):
            raise T2TInputError(f"flow {i}: packet sizes must be non-zero byte counts in [-65535, 65535]",
                                path=str(path))
        label = str(np.asarray(l).reshape(-1)[0]) if np.asarray(l).size else ""
        if label not in LABELS:
            raise T2TInputError(f"flow {i}: unknown action label {label!r}; expected one of the 41 labels of "
                                "Conti et al. (t2t_hf.data.knocking.LABELS)", path=str(path))
        vectors.append(vec.astype(np.int32))
        labels.append(label)
    return KnockingData(vectors=vectors, labels=labels, path=path)


def action_instances(labels: list[str]) -> list[tuple[int, int]]:
    """Runs of consecutive flows with the same label: list of ``(first_flow, end_flow)`` (end exclusive)."""
    runs = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            runs.append((start, i))
            start = i
    return runs


def _pick(seed: int, key: str, n: int) -> int:
    h = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") % n


def instance_example(data: KnockingData, index: int, first: int, end: int, session: str, seed: int = 0) -> dict:
    """The corpus example of one action instance (flows ``first..end-1``).

    Returns a schema dict: ``size`` int32 [P] (all packets of the flows, in order), ``flow`` [P]
    (0..F-1), ``time`` NaN [P], ``protocol`` 0 [P]; caption chosen deterministically among the
    label's paraphrases from ``seed`` and the instance index; ``references`` all paraphrases.
    """
    label = data.labels[first]
    spec = LABELS[label]
    vecs = data.vectors[first:end]
    size = np.concatenate(vecs)
    flow = np.repeat(np.arange(len(vecs), dtype=np.int32), [len(v) for v in vecs])
    k = _pick(seed, f"knocking-{index}", len(spec.captions))
    refs = [spec.captions[k]] + [c for j, c in enumerate(spec.captions) if j != k]
    return {
        "id": f"knocking-{index:05d}",
        "time": np.full(len(size), np.nan, dtype=np.float32).tolist(),
        "size": size.tolist(),
        "protocol": [0] * len(size),
        "flow": flow.tolist(),
        "caption": refs[0],
        "references": refs,
        "app": APP,
        "app_type": spec.app_type,
        "activity": spec.activity,
        "user": "unknown",
        "environment": "unknown",
        "source": "knocking",
        "session": session,
        "window_start": 0.0,
        "window_length": float("nan"),
    }


def split_instances(labels: list[str], runs: list[tuple[int, int]], seed: int = 0,
                    fractions: dict[str, float] | None = None) -> dict[str, list[int]]:
    """Deterministic split of instance indices, stratified by action label.

    Within each label the instances are ordered by a seeded hash and cut by
    ``fractions`` (default 80/10/10); a label with fewer than 3 instances goes to
    ``train`` only. Returns ``{"train": [...], "validation": [...], "test": [...]}``,
    each list ascending.
    """
    fractions = fractions or SPLIT_FRACTIONS
    by_label: dict[str, list[int]] = {}
    for i, (a, _) in enumerate(runs):
        by_label.setdefault(labels[a], []).append(i)
    out: dict[str, list[int]] = {name: [] for name in fractions}
    names = list(fractions)
    for label in sorted(by_label):
        idx = sorted(by_label[label], key=lambda i: hashlib.blake2b(f"{seed}:{i}".encode(), digest_size=8).digest())
        n = len(idx)
        if n < 3:
            out[names[0]].extend(idx)
            continue
        counts = [int(round(fractions[name] * n)) for name in names[1:]]
        counts = [max(1, c) for c in counts]
        pos = n - sum(counts)
        out[names[0]].extend(idx[:pos])
        for name, c in zip(names[1:], counts):
            out[name].extend(idx[pos:pos + c])
            pos += c
    return {k: sorted(v) for k, v in out.items()}


def sessions(labels: list[str], runs: list[tuple[int, int]]) -> list[str]:
    """Session name of each instance: a new session starts at each "open facebook" instance."""
    names, k = [], 0
    for i, (a, _) in enumerate(runs):
        if labels[a] == "open facebook" and i > 0:
            k += 1
        names.append(f"knocking-s{k:04d}")
    return names


def generate_examples(data_dir: str | os.PathLike, split: str | None = None, seed: int = 0
                      ) -> Iterator[dict]:
    """Yield the examples of one split (or all instances when ``split`` is None), in instance order."""
    data = load_knocking(data_dir)
    runs = action_instances(data.labels)
    sess = sessions(data.labels, runs)
    if split is None:
        chosen = range(len(runs))
    else:
        parts = split_instances(data.labels, runs, seed=seed)
        if split not in parts:
            raise T2TInputError(f"unknown knocking split {split!r}; choose one of {sorted(parts)}")
        chosen = parts[split]
    for i in chosen:
        a, b = runs[i]
        yield instance_example(data, i, a, b, sess[i], seed=seed)
