"""The 20 apps of T2T-Sim in 5 app types, their activities, servers and protocols.

An app spec names its host per connection role ("api", "cdn", "media", "chat",
"upload", "relay", "game", "ads"), the transport per role ("tcp" for TLS 1.3
over TCP, "quic" for HTTP/3), special ports, and its activities. An activity is
one or more traffic models of :mod:`.behaviours` with parameters, a caption key
of :mod:`.captions`, a weight (how often users pick it) and a dwell factor
(how long it lasts relative to the user's usual dwell).
"""

from __future__ import annotations

from dataclasses import dataclass, field

APP_TYPES = ["video", "social", "messaging", "browsing", "music_games"]


@dataclass(frozen=True)
class Activity:
    """One activity of an app.

    Attributes:
        name: label ("watching_video").
        models: tuple of (model name in ``behaviours.MODELS``, parameter dict).
        caption: caption key in ``captions.GRAMMAR``.
        weight: relative probability of choosing it.
        dwell: multiplier of the user's dwell time (a call lasts longer than a search).
    """

    name: str
    models: tuple
    caption: str
    weight: float = 1.0
    dwell: float = 1.0


@dataclass(frozen=True)
class App:
    """One app: ``name`` (display name), ``app_type`` (one of :data:`APP_TYPES`), ``hosts`` (role ->
    host name), ``transports`` (role -> "tcp"/"quic", default tcp), ``ports`` (role -> port, default 443),
    ``activities`` and ``protocols`` (what its traffic uses, for documentation)."""

    name: str
    app_type: str
    hosts: dict
    activities: tuple
    transports: dict = field(default_factory=dict)
    ports: dict = field(default_factory=dict)
    protocols: tuple = ("TLS/TCP",)

    @property
    def activity_names(self) -> list[str]:
        return [a.name for a in self.activities]

    def activity(self, name: str) -> Activity:
        for a in self.activities:
            if a.name == name:
                return a
        raise KeyError(name)


def A(name, models, caption=None, weight=1.0, dwell=1.0) -> Activity:
    if isinstance(models, str):
        models = ((models, {}),)
    elif isinstance(models, tuple) and len(models) == 2 and isinstance(models[0], str):
        models = (models,)
    return Activity(name, tuple((m, dict(p)) for m, p in models), caption or name, weight, dwell)


Q = "quic"
APPS: list[App] = [
    # ---- video --------------------------------------------------------------------------------
    App("YouTube", "video",
        {"api": "youtubei.googleapis.com", "media": "rr4---sn-4g5e6nze.googlevideo.com", "cdn": "i.ytimg.com",
         "upload": "upload.youtube.com"},
        (A("watching_video", ("abr_video", {"seg_dur": (4.5, 5.5)}), weight=3, dwell=1.5),
         A("browsing_videos", ("feed", {"image_kb": 30, "per_scroll": (4, 8), "video_prob": 0.3}), weight=1.5),
         A("searching", ("search", {"image_kb": 20}), "search_video"),
         A("watching_shorts", ("short_video", {"clip_kb": (500, 2500), "watch_s": 14.0}), weight=1.5),
         A("uploading_video", ("upload_video", {}), weight=0.4, dwell=1.5)),
        {"api": Q, "media": Q, "cdn": Q, "upload": Q}, protocols=("QUIC", "TLS/TCP")),
    App("Netflix", "video",
        {"api": "android.prod.ftl.netflix.com", "media": "ipv4-c012-fra002-ix.1.oca.nflxvideo.net",
         "cdn": "occ-0-2773-1001.1.nflxso.net"},
        (A("watching_episode", ("abr_video", {"seg_dur": (3.5, 4.5), "ladder_kbps": (560, 1050, 1750, 3000, 5800),
                                               "startup_s": 40.0}), weight=4, dwell=2.0),
         A("browsing_catalog", ("feed", {"image_kb": 60, "per_scroll": (6, 12), "video_prob": 0.2}), weight=1.5),
         A("searching", ("search", {"image_kb": 50}), "search_video"),
         A("watching_trailer", ("short_video", {"clip_kb": (1500, 4000), "watch_s": 25.0}), weight=0.8)),
        protocols=("TLS/TCP",)),
    App("TikTok", "video",
        {"api": "api16-normal-c-useast1a.tiktokv.com", "media": "v16-webapp-prime.tiktok.com",
         "cdn": "p16-sign-va.tiktokcdn.com"},
        (A("watching_feed", ("short_video", {"clip_kb": (800, 3500), "watch_s": 10.0}), weight=4, dwell=1.5),
         A("searching", ("search", {"image_kb": 40}), "search_video"),
         A("browsing_profile", ("feed", {"image_kb": 50, "per_scroll": (6, 12), "video_prob": 0.1})),
         A("commenting", (("chat", {"incoming_rate": 1 / 8.0, "keepalive_s": 60.0}),
                          ("feed", {"image_kb": 10, "per_scroll": (0, 2), "scroll_s": 8.0, "video_prob": 0.0})),
           weight=0.7)),
        protocols=("TLS/TCP",)),
    App("Twitch", "video",
        {"api": "gql.twitch.tv", "media": "video-edge-c2a4f1.fra05.abs.hls.ttvnw.net", "cdn": "static-cdn.jtvnw.net",
         "chat": "irc-ws.chat.twitch.tv"},
        (A("watching_live_stream", ("live_stream", {}), weight=4, dwell=2.0),
         A("browsing_channels", ("feed", {"image_kb": 40, "per_scroll": (4, 10), "video_prob": 0.4}), weight=1.5),
         A("chatting_in_stream", (("live_stream", {"kbps": (900, 2500), "chat_hz": 2.0}),
                                  ("chat", {"incoming_rate": 0.0, "keepalive_s": 60.0})), weight=1.0)),
        protocols=("TLS/TCP",)),
    # ---- social -------------------------------------------------------------------------------
    App("Instagram", "social",
        {"api": "i.instagram.com", "cdn": "scontent-fra5-1.cdninstagram.com",
         "media": "instagram.ffra1-1.fna.fbcdn.net", "chat": "edge-chat.instagram.com",
         "upload": "rupload.facebook.com", "relay": "edge-turn.instagram.com"},
        (A("scrolling_feed", ("feed", {"image_kb": 90, "per_scroll": (1, 4), "video_prob": 0.15, "scroll_s": 5.0}),
           weight=3),
         A("watching_reels", ("short_video", {"clip_kb": (700, 3000), "watch_s": 11.0}), weight=2, dwell=1.3),
         A("viewing_stories", ("short_video", {"clip_kb": (150, 900), "watch_s": 6.0}), weight=1.5),
         A("sending_direct_message", ("chat", {}), "chat_social"),
         A("posting_photo", ("media_send", {"size_kb": (300, 3000), "prepare_s": (10, 30)}), weight=0.5)),
        protocols=("TLS/TCP",)),
    App("Facebook", "social",
        {"api": "graph.facebook.com", "cdn": "scontent.xx.fbcdn.net", "media": "video.xx.fbcdn.net",
         "chat": "edge-mqtt.facebook.com"},
        (A("scrolling_feed", ("feed", {"image_kb": 110, "per_scroll": (2, 5), "video_prob": 0.3}), weight=3),
         A("watching_video", ("abr_video", {"seg_dur": (3.5, 4.5), "ladder_kbps": (300, 600, 1200, 2500)}),
           weight=1.5),
         A("browsing_marketplace", ("feed", {"image_kb": 80, "per_scroll": (4, 10), "video_prob": 0.05})),
         A("commenting", (("chat", {"incoming_rate": 1 / 10.0, "keepalive_s": 60.0}),
                          ("feed", {"image_kb": 30, "per_scroll": (0, 2), "scroll_s": 8.0, "video_prob": 0.0})))),
        {"api": Q, "cdn": Q, "media": Q}, protocols=("QUIC", "TLS/TCP")),
    App("Reddit", "social",
        {"api": "gql.reddit.com", "cdn": "i.redd.it", "media": "v.redd.it"},
        (A("browsing_feed", ("feed", {"image_kb": 200, "per_scroll": (1, 3), "video_prob": 0.2, "scroll_s": 5.0}),
           weight=3),
         A("reading_thread", ("feed", {"image_kb": 40, "per_scroll": (0, 2), "api_kb": 60, "scroll_s": 8.0,
                                       "video_prob": 0.0}), weight=2),
         A("searching", ("search", {}), "search_social"),
         A("commenting", (("chat", {"incoming_rate": 0.0, "keepalive_s": 120.0}),
                          ("feed", {"image_kb": 20, "per_scroll": (0, 1), "scroll_s": 10.0, "video_prob": 0.0})),
           weight=0.7)),
        protocols=("TLS/TCP",)),
    App("Snapchat", "social",
        {"api": "app.snapchat.com", "cdn": "cf-st.sc-cdn.net", "upload": "us-central1-gcp.api.snapchat.com",
         "chat": "aws.duplex.snapchat.com", "relay": "turn.snapchat.com"},
        (A("sending_snap", ("media_send", {"size_kb": (200, 1500), "prepare_s": (5, 12)}), weight=2),
         A("viewing_stories", ("short_video", {"clip_kb": (200, 1200), "watch_s": 7.0}), weight=2),
         A("chatting", ("chat", {}), "chat_social", weight=2),
         A("video_call", ("call", {"video": True}), weight=1, dwell=2.0)),
        protocols=("TLS/TCP", "RTP/UDP")),
    # ---- messaging ----------------------------------------------------------------------------
    App("WhatsApp", "messaging",
        {"api": "g.whatsapp.net", "chat": "g.whatsapp.net", "cdn": "mmg.whatsapp.net",
         "upload": "media-fra3-1.cdn.whatsapp.net", "relay": "relay.whatsapp.net"},
        (A("chatting", ("chat", {}), weight=4),
         A("sending_photo", ("media_send", {"size_kb": (80, 400), "prepare_s": (4, 15)})),
         A("sending_voice_message", ("media_send", {"size_kb": (10, 120), "prepare_s": (4, 25), "kind": "voice"})),
         A("voice_call", ("call", {"video": False, "ptime": 0.06, "audio_kbps": (8, 16), "dtx": True}), weight=1.5,
           dwell=2.0),
         A("video_call", ("call", {"video": True, "ptime": 0.06, "audio_kbps": (8, 16)}), weight=1.0, dwell=2.0)),
        ports={"chat": 5222, "api": 5222}, protocols=("TLS/TCP", "RTP/UDP")),
    App("Telegram", "messaging",
        {"api": "venus.web.telegram.org", "chat": "venus.web.telegram.org", "cdn": "cdn4.telegram-cdn.org",
         "upload": "flora.web.telegram.org", "relay": "reflector.telegram.org"},
        (A("chatting", ("chat", {}), weight=4),
         A("sending_file", ("media_send", {"size_kb": (300, 8000), "prepare_s": (5, 20), "kind": "file"})),
         A("reading_channel", ("feed", {"image_kb": 80, "per_scroll": (0, 3), "scroll_s": 7.0, "video_prob": 0.1})),
         A("voice_call", ("call", {"video": False, "ptime": 0.06, "audio_kbps": (20, 32), "dtx": True}), weight=1.5,
           dwell=2.0)),
        protocols=("TLS/TCP", "RTP/UDP")),
    App("Signal", "messaging",
        {"api": "chat.signal.org", "chat": "chat.signal.org", "cdn": "cdn2.signal.org",
         "upload": "cdn3.signal.org", "relay": "turn3.voip.signal.org"},
        (A("chatting", ("chat", {}), weight=4),
         A("sending_photo", ("media_send", {"size_kb": (100, 600), "prepare_s": (4, 15)})),
         A("voice_call", ("call", {"video": False}), weight=1.5, dwell=2.0),
         A("video_call", ("call", {"video": True}), weight=1.0, dwell=2.0)),
        protocols=("TLS/TCP", "RTP/UDP")),
    App("Zoom", "messaging",
        {"api": "zoom.us", "chat": "xmpp.zoom.us", "relay": "zoomfrn60mmr.cloud.zoom.us", "cdn": "st1.zoom.us"},
        (A("video_meeting", ("call", {"video": True, "video_kbps": (600, 1800)}), weight=3, dwell=2.5),
         A("audio_meeting", ("call", {"video": False}), weight=1.5, dwell=2.0),
         A("screen_sharing", ("call", {"video": True, "video_kbps": (150, 500)}), dwell=1.5),
         A("chatting", ("chat", {"incoming_rate": 1 / 15.0}), "chat_meeting")),
        protocols=("TLS/TCP", "RTP/UDP")),
    # ---- browsing, shopping, maps ---------------------------------------------------------------
    App("Chrome", "browsing",
        {"api": "www.google.com", "cdn": "www.gstatic.com"},
        (A("reading_article", ("web_page", {"page_kb": 1500, "read_s": 30.0}), weight=3),
         A("searching_web", ("search", {"results_kb": 90}), "search_web", weight=2),
         A("browsing_pages", ("web_page", {"page_kb": 2500, "read_s": 12.0}), weight=2)),
        {"api": Q, "cdn": Q}, protocols=("QUIC", "TLS/TCP")),
    App("Amazon", "browsing",
        {"api": "www.amazon.com", "cdn": "m.media-amazon.com"},
        (A("browsing_products", ("feed", {"image_kb": 40, "per_scroll": (6, 12), "scroll_s": 3.0, "api_kb": 50,
                                          "video_prob": 0.02}), weight=3),
         A("searching_products", ("search", {"results_kb": 80, "thumbs": (10, 24)}), "search_shop", weight=2),
         A("viewing_product", ("web_page", {"page_kb": 900, "objects": (10, 30), "read_s": 25.0}), weight=2),
         A("checking_out", ("web_page", {"page_kb": 300, "objects": (5, 15), "read_s": 15.0}), weight=0.7)),
        protocols=("TLS/TCP",)),
    App("Google Maps", "browsing",
        {"api": "maps.googleapis.com", "cdn": "khms0.googleapis.com"},
        (A("navigating", ("navigation", {}), weight=3, dwell=2.0),
         A("searching_place", ("search", {"results_kb": 40}), "search_place", weight=1.5),
         A("exploring_map", ("map_explore", {}), weight=2)),
        {"api": Q, "cdn": Q}, protocols=("QUIC",)),
    App("Waze", "browsing",
        {"api": "rtserver.waze.com", "cdn": "ctilesgcs-row.waze.com"},
        (A("navigating", ("navigation", {"update_s": 0.8, "tiles_s": 20.0, "tile_kb": 40}), weight=4, dwell=2.0),
         A("searching_place", ("search", {"results_kb": 20, "thumbs": (1, 4)}), "search_place", weight=1.5),
         A("exploring_map", ("map_explore", {"tile_kb": 10}))),
        protocols=("TLS/TCP",)),
    # ---- music and games ------------------------------------------------------------------------
    App("Spotify", "music_games",
        {"api": "spclient.wg.spotify.com", "media": "audio-ak-spotify-com.akamaized.net", "cdn": "i.scdn.co"},
        (A("listening_music", ("audio_stream", {"kbps": 160, "chunk_s": (10, 30)}), weight=4, dwell=2.0),
         A("browsing_playlists", ("feed", {"image_kb": 50, "per_scroll": (3, 8), "scroll_s": 4.0, "video_prob": 0.0}),
           weight=1.5),
         A("searching", ("search", {"results_kb": 30}), "search_music"),
         A("listening_podcast", ("audio_stream", {"kbps": 96, "chunk_s": (30, 60)}), dwell=2.0)),
        protocols=("TLS/TCP",)),
    App("SoundCloud", "music_games",
        {"api": "api-mobile.soundcloud.com", "media": "cf-hls-media.sndcdn.com", "cdn": "i1.sndcdn.com"},
        (A("listening_music", ("audio_stream", {"kbps": 128, "chunk_s": (9, 11)}), weight=4, dwell=2.0),
         A("browsing_tracks", ("feed", {"image_kb": 40, "per_scroll": (3, 8), "scroll_s": 4.0, "video_prob": 0.0}),
           "browsing_playlists", weight=1.5),
         A("searching", ("search", {"results_kb": 30}), "search_music")),
        protocols=("TLS/TCP",)),
    App("Candy Crush Saga", "music_games",
        {"api": "mobile-api.king.com", "cdn": "candycrush.king.com", "ads": "ms.applovin.com"},
        (A("playing_level", ("game_casual", {}), weight=4, dwell=1.5),
         A("watching_ad", ("ad_video", {})),
         A("browsing_level_map", ("game_casual", {"level_s": 200.0, "asset_kb": 800}))),
        protocols=("TLS/TCP",)),
    App("PUBG Mobile", "music_games",
        {"api": "api.pubgmobile.com", "cdn": "cdn.pubgmobile.com", "game": "ds.pubgmobile.com",
         "relay": "voice.pubgmobile.com", "chat": "api.pubgmobile.com"},
        (A("playing_match", ("game_realtime", {}), weight=4, dwell=2.0),
         A("waiting_in_lobby", ("game_casual", {"level_s": 15.0, "asset_kb": 1500}), weight=1.5),
         A("voice_chat_in_match", (("game_realtime", {}), ("call", {"video": False, "audio_kbps": (16, 24)})),
           dwell=1.5)),
        protocols=("UDP", "TLS/TCP")),
]

#: name -> App
APPS_BY_NAME: dict[str, App] = {a.name: a for a in APPS}

__all__ = ["APPS", "APPS_BY_NAME", "APP_TYPES", "App", "Activity"]


def apps_markdown() -> str:
    """A Markdown table of the apps, their type, activities and protocols (for docs and cards)."""
    lines = ["| app | type | activities | protocols |", "|---|---|---|---|"]
    for a in APPS:
        lines.append(f"| {a.name} | {a.app_type} | {', '.join(a.activity_names)} | {', '.join(a.protocols)} |")
    return "\n".join(lines) + "\n"


__all__ += ["apps_markdown"]
