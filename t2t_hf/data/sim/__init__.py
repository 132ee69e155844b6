"""T2T-Sim: realistic encrypted smartphone traffic with VLM-style captions.

The generator mirrors the T2T paper's design (20 apps in 5 app types, 3-5
activities per app, 8 users, Wi-Fi and cellular) with a physical traffic model
(TLS 1.3 over TCP, QUIC, RTP calls, adaptive-bitrate video, chat, background
noise) that is written out as real pcap files and cut into corpus windows.

Public API:
    APPS, APP_TYPES, USERS, ENVIRONMENTS
    generate_session(seed, user, environment, app=None, duration=120.0) -> Session
    generate_examples(num_windows, seed=0, window=10.0, users=None, environments=None, num_proc=1)
"""

from .apps import APP_TYPES, APPS, APPS_BY_NAME, Activity, App
from .corpus import generate_examples, session_examples, session_plan
from .environments import ENVIRONMENTS
from .session import Session, generate_session
from .users import USERS

__all__ = ["APPS", "APPS_BY_NAME", "APP_TYPES", "USERS", "ENVIRONMENTS", "App", "Activity", "Session",
           "generate_session", "generate_examples", "session_examples", "session_plan"]
