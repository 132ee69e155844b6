"""The 8 simulated users of T2T-Sim and their habits.

A user's behaviour enters the traffic and the activity schedule through a few
numbers: ``pace`` scales how fast they act (scrolls, swipes, keystrokes,
messages; >1 is faster), ``dwell`` is the median time in seconds they stay in
one activity before changing, ``dwell_sigma`` its log-normal spread,
``switch_app`` the probability that an activity change moves to another app,
``typing_speed`` characters per second, and ``app_weights`` their preference
per app type (their habits). ``video_quality`` scales the bitrate they choose.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class User:
    """One simulated user. See the module docstring for the meaning of each number."""

    name: str
    pace: float
    dwell: float
    dwell_sigma: float
    switch_app: float
    typing_speed: float
    video_quality: float
    app_weights: dict = field(default_factory=dict)


USERS: dict[str, User] = {u.name: u for u in [
    User("user01", pace=1.4, dwell=25.0, dwell_sigma=0.5, switch_app=0.15, typing_speed=5.0, video_quality=1.0,
         app_weights={"video": 1.0, "social": 3.0, "messaging": 2.0, "browsing": 1.0, "music_games": 1.0}),
    User("user02", pace=0.7, dwell=55.0, dwell_sigma=0.4, switch_app=0.05, typing_speed=2.5, video_quality=1.3,
         app_weights={"video": 3.0, "social": 1.0, "messaging": 1.0, "browsing": 1.0, "music_games": 1.0}),
    User("user03", pace=1.0, dwell=35.0, dwell_sigma=0.6, switch_app=0.10, typing_speed=4.0, video_quality=0.8,
         app_weights={"video": 1.0, "social": 1.0, "messaging": 3.0, "browsing": 1.0, "music_games": 1.0}),
    User("user04", pace=1.2, dwell=30.0, dwell_sigma=0.5, switch_app=0.20, typing_speed=3.5, video_quality=1.0,
         app_weights={"video": 1.0, "social": 1.0, "messaging": 1.0, "browsing": 3.0, "music_games": 1.0}),
    User("user05", pace=0.85, dwell=45.0, dwell_sigma=0.45, switch_app=0.08, typing_speed=3.0, video_quality=1.2,
         app_weights={"video": 1.0, "social": 1.0, "messaging": 1.0, "browsing": 1.0, "music_games": 3.0}),
    User("user06", pace=1.6, dwell=20.0, dwell_sigma=0.7, switch_app=0.25, typing_speed=6.0, video_quality=0.9,
         app_weights={"video": 2.0, "social": 2.0, "messaging": 1.0, "browsing": 1.0, "music_games": 1.0}),
    User("user07", pace=0.6, dwell=60.0, dwell_sigma=0.35, switch_app=0.05, typing_speed=2.0, video_quality=0.7,
         app_weights={"video": 1.0, "social": 1.0, "messaging": 2.0, "browsing": 2.0, "music_games": 1.0}),
    User("user08", pace=1.1, dwell=40.0, dwell_sigma=0.55, switch_app=0.12, typing_speed=4.5, video_quality=1.1,
         app_weights={"video": 1.5, "social": 1.5, "messaging": 1.5, "browsing": 1.0, "music_games": 1.5}),
]}

__all__ = ["User", "USERS"]
