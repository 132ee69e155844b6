"""VLM-style captions of what the screen shows, with realistic variation.

A caption is drawn from a small grammar: a sentence frame ("The user is ...",
"On the screen, someone is ..."), a verb phrase for the activity with slots
filled from synonym lists ({in_app}: "in the Instagram app", "on Instagram"),
and optional participle details ("pausing on photo posts from friends").
The same activity therefore yields many different sentences, as a
vision-language model describing screen recordings does; the wording is not a
fixed function of the label. ``caption(rng, app, key)`` draws one;
``paraphrases`` draws several distinct ones for reference sets.
"""

from __future__ import annotations

import re

import numpy as np

SUBJECTS = ["the user", "the user", "the user", "the person", "the phone's owner", "someone", "the person holding the phone"]

FRAMES = [
    "{S} is {vp}{d}.", "{S} is {vp}{d}.", "{S} is {vp}{d}.", "{S} is {vp}{d}.",
    "On the screen, {s} is {vp}{d}.", "The screen shows {s} {vp}{d}.", "{S} appears to be {vp}{d}.",
    "The recording shows {s} {vp}{d}.", "Right now {s} is {vp}{d}.", "{S} seems to be {vp}{d}.",
    "Here {s} is {vp}{d}.", "In this clip {s} is {vp}{d}.", "{S} is currently {vp}{d}.",
]

IN_APP = ["in the {app} app", "on {app}", "in {app}", "using {app}", "in the {app} app", "on the {app} app"]

SLOTS = {
    "video": ["a video", "a video", "a clip", "a long video", "a tutorial video", "a music video", "a vlog",
              "a cooking video", "a gaming video", "a documentary clip", "a news report", "a comedy sketch"],
    "short": ["short videos", "short clips", "vertical videos", "quick clips", "short-form videos"],
    "feed": ["the home feed", "the feed", "the main feed", "their feed", "the timeline"],
    "posts": ["photo posts", "posts", "pictures", "images", "carousel posts", "updates"],
    "people": ["friends", "people they follow", "accounts they follow", "family members", "a few creators"],
    "friend": ["a friend", "a friend", "a contact", "a family member", "a colleague", "a group chat", "their partner"],
    "show": ["an episode of a series", "a TV episode", "a drama series", "a film", "a movie", "a documentary",
             "an episode of a crime show", "a comedy series"],
    "product": ["a pair of headphones", "running shoes", "a phone case", "kitchen items", "a backpack",
                "household products", "a laptop stand", "books", "a coffee maker", "toys"],
    "place": ["a restaurant", "a nearby cafe", "a petrol station", "an address", "a pharmacy", "a hotel",
              "a supermarket", "a train station"],
    "music": ["a playlist", "an album", "a playlist of pop songs", "a chill playlist", "a hip-hop album",
              "a workout mix", "some songs", "a rock album", "a jazz playlist"],
    "topic": ["news", "sports results", "a recipe", "the weather", "a travel guide", "a technology review",
              "a how-to guide", "local events"],
}

# key -> (verb phrases, details). Slots: {in_app}, {app}, and any SLOTS key.
GRAMMAR: dict[str, tuple[list[str], list[str]]] = {
    "watching_video": (
        ["watching {video} {in_app}", "playing {video} {in_app}", "viewing {video} {in_app}",
         "watching {video} in full screen {in_app}", "streaming {video} {in_app}"],
        ["holding the phone in landscape", "with the player controls briefly visible",
         "skipping forward a few seconds", "as the video buffers for a moment", "without touching the screen",
         "with subtitles turned on", "while the progress bar slowly advances"]),
    "browsing_videos": (
        ["browsing recommended videos {in_app}", "scrolling through video thumbnails {in_app}",
         "looking through the home page of {app}", "scrolling past suggested videos {in_app}"],
        ["pausing on a few thumbnails", "reading the video titles", "stopping now and then on a preview",
         "as previews start to autoplay", "without opening any video yet"]),
    "search_video": (
        ["searching for {video} {in_app}", "typing a search query {in_app}", "using the search bar {in_app}",
         "looking up a video {in_app}"],
        ["and scrolling through the results", "with suggestions appearing below the search bar",
         "then opening one of the results", "checking thumbnails in the result list"]),
    "watching_shorts": (
        ["watching {short} {in_app}", "swiping through {short} {in_app}", "watching Shorts {in_app}",
         "flicking through {short} {in_app}"],
        ["swiping up to the next one", "skipping some after a few seconds", "liking one of them",
         "pausing on a funny clip", "in portrait mode"]),
    "uploading_video": (
        ["uploading a video {in_app}", "publishing a new video {in_app}", "posting a recorded clip {in_app}",
         "sending a video to their channel {in_app}"],
        ["while the upload progress bar fills", "after adding a title and description",
         "waiting for the upload to finish", "choosing a thumbnail meanwhile"]),
    "watching_episode": (
        ["watching {show} {in_app}", "streaming {show} {in_app}", "watching {show} in full screen {in_app}",
         "playing {show} {in_app}"],
        ["with the phone turned sideways", "without interacting", "after skipping the intro",
         "with subtitles on", "as the picture sharpens after a few seconds"]),
    "browsing_catalog": (
        ["browsing the catalogue {in_app}", "scrolling through rows of titles {in_app}",
         "looking for something to watch {in_app}", "scrolling through movie posters {in_app}"],
        ["as trailers autoplay in the banner", "pausing on a few titles", "opening the details of a show",
         "moving sideways through a category row"]),
    "watching_trailer": (
        ["watching a trailer {in_app}", "previewing a trailer for {show} {in_app}",
         "watching a preview clip {in_app}"],
        ["before deciding what to watch", "with the sound on", "and then going back to the list"]),
    "watching_feed": (
        ["watching {short} on the For You page {in_app}", "swiping through {short} {in_app}",
         "scrolling through the video feed {in_app}", "watching one short video after another {in_app}"],
        ["swiping up to the next video", "liking a clip now and then", "letting some clips loop",
         "skipping quickly past several videos", "opening the comments briefly"]),
    "browsing_profile": (
        ["browsing a creator's profile {in_app}", "looking through the video grid of an account {in_app}",
         "visiting a profile page {in_app}"],
        ["scrolling down the grid of thumbnails", "checking follower counts", "opening one of the videos"]),
    "commenting": (
        ["writing a comment {in_app}", "reading and writing comments {in_app}",
         "typing a reply in the comment section {in_app}", "scrolling through comments {in_app}"],
        ["on a post by {people}", "with the keyboard open", "liking a few comments",
         "under a popular video", "and posting a short reply"]),
    "watching_live_stream": (
        ["watching a live stream {in_app}", "watching a streamer play a game {in_app}",
         "following a live broadcast {in_app}", "watching a live gaming stream {in_app}"],
        ["while the chat scrolls beside the video", "in full screen", "without typing anything",
         "as viewers post messages in the chat"]),
    "browsing_channels": (
        ["browsing live channels {in_app}", "scrolling through live streams {in_app}",
         "looking through streams in a category {in_app}"],
        ["with small previews playing", "pausing on thumbnails", "checking viewer counts"]),
    "chatting_in_stream": (
        ["chatting in a live stream {in_app}", "typing messages in the stream chat {in_app}",
         "watching a stream and writing in the chat {in_app}"],
        ["while the video keeps playing", "with the keyboard covering part of the screen",
         "as the chat moves quickly"]),
    "scrolling_feed": (
        ["scrolling through {feed} {in_app}", "scrolling {feed} {in_app}", "browsing {feed} {in_app}",
         "scrolling through {posts} {in_app}", "flicking through {feed} {in_app}"],
        ["pausing on {posts} from {people}", "liking a few {posts}", "stopping on a video that autoplays",
         "reading the captions of some posts", "double-tapping a photo", "occasionally opening comments",
         "moving quickly past sponsored posts"]),
    "watching_reels": (
        ["watching Reels {in_app}", "swiping through Reels {in_app}", "watching {short} in Reels {in_app}"],
        ["swiping up to the next one", "liking a reel", "with the sound on", "skipping some after a moment"]),
    "viewing_stories": (
        ["viewing stories {in_app}", "tapping through stories {in_app}", "watching stories from {people} {in_app}"],
        ["tapping to skip ahead", "pausing on a photo story", "swiping to the next account",
         "replying to one story with an emoji"]),
    "chat_social": (
        ["sending direct messages {in_app}", "chatting with {friend} {in_app}", "typing a message to {friend} {in_app}",
         "replying in a conversation {in_app}"],
        ["with the keyboard open", "sending a short text", "reacting with an emoji", "reading the replies as they arrive"]),
    "posting_photo": (
        ["posting a photo {in_app}", "sharing a new picture {in_app}", "uploading a photo to their profile {in_app}",
         "publishing a post with a photo {in_app}"],
        ["after applying a filter", "adding a caption and hashtags", "choosing a picture from the gallery",
         "cropping the image first"]),
    "watching_video_social": (["watching {video} {in_app}"], ["with the sound on"]),
    "browsing_marketplace": (
        ["browsing listings on Marketplace {in_app}", "scrolling through items for sale {in_app}",
         "looking at second-hand offers {in_app}"],
        ["opening a listing with several photos", "checking prices", "pausing on furniture listings"]),
    "browsing_feed": (
        ["browsing {feed} {in_app}", "scrolling through popular posts {in_app}",
         "scrolling through posts in a community {in_app}", "browsing the front page {in_app}"],
        ["pausing on image posts", "upvoting a few posts", "reading titles quickly", "stopping on a meme",
         "watching a short clip that autoplays"]),
    "reading_thread": (
        ["reading a discussion thread {in_app}", "reading comments on a post {in_app}",
         "going through a long thread {in_app}"],
        ["expanding collapsed replies", "scrolling slowly", "upvoting a comment", "following a long reply chain"]),
    "search_social": (
        ["searching for a community {in_app}", "using the search bar {in_app}", "looking up a topic {in_app}"],
        ["and opening a result", "typing a few keywords", "scrolling through matching posts"]),
    "sending_snap": (
        ["sending a snap {in_app}", "taking a photo and sending it {in_app}", "sharing a snap with {friend} {in_app}"],
        ["after drawing on the picture", "adding a sticker first", "choosing several recipients",
         "using a face filter"]),
    "chatting": (
        ["chatting with {friend} {in_app}", "texting {friend} {in_app}", "typing a message to {friend} {in_app}",
         "exchanging messages with {friend} {in_app}", "writing in a conversation {in_app}",
         "reading and answering messages {in_app}"],
        ["with the keyboard open", "sending a short reply", "waiting for a response", "adding an emoji",
         "reading new messages as they arrive", "scrolling back through the conversation",
         "as blue ticks appear next to the messages"]),
    "sending_photo": (
        ["sending a photo to {friend} {in_app}", "sharing a picture in a chat {in_app}",
         "attaching an image from the gallery {in_app}"],
        ["with a short caption", "after picking it from the gallery", "taking a new photo with the camera",
         "as the upload completes"]),
    "sending_voice_message": (
        ["recording a voice message {in_app}", "sending a voice note to {friend} {in_app}",
         "holding the microphone button to record a message {in_app}"],
        ["and releasing it to send", "speaking for a few seconds", "then listening to the reply"]),
    "voice_call": (
        ["on a voice call {in_app}", "talking on an audio call {in_app}", "in a voice call with {friend} {in_app}",
         "making a voice call {in_app}"],
        ["with the call timer running", "holding the phone to their ear", "using the speaker",
         "while the screen shows the caller's picture"]),
    "video_call": (
        ["on a video call {in_app}", "video chatting with {friend} {in_app}", "in a video call {in_app}",
         "talking face to face on a video call {in_app}"],
        ["with their own camera preview in the corner", "switching to the rear camera",
         "while both faces are visible", "holding the phone at arm's length"]),
    "sending_file": (
        ["sending a file {in_app}", "sharing a document with {friend} {in_app}", "uploading a file to a chat {in_app}"],
        ["while a progress circle fills", "picking a PDF from storage", "sending a large video file"]),
    "reading_channel": (
        ["reading posts in a channel {in_app}", "scrolling through a news channel {in_app}",
         "catching up on a channel {in_app}"],
        ["opening an image", "pausing on long posts", "with several unread posts"]),
    "video_meeting": (
        ["in a video meeting {in_app}", "attending a video conference {in_app}", "on a video call with colleagues {in_app}",
         "taking part in an online meeting {in_app}"],
        ["with several participants in a grid", "with their camera switched on", "while someone else is speaking",
         "muting and unmuting the microphone"]),
    "audio_meeting": (
        ["in an audio-only meeting {in_app}", "listening to a meeting {in_app}", "on a conference call {in_app}"],
        ["with the camera turned off", "with participants' initials on the screen", "speaking now and then"]),
    "screen_sharing": (
        ["watching a shared screen in a meeting {in_app}", "following a presentation {in_app}",
         "viewing slides shared in a meeting {in_app}"],
        ["while the presenter talks", "zooming into the slides", "with the video thumbnails hidden"]),
    "chat_meeting": (
        ["writing in the meeting chat {in_app}", "chatting with colleagues {in_app}", "sending messages to a team {in_app}"],
        ["with the keyboard open", "reading replies from the team", "sharing a short update"]),
    "reading_article": (
        ["reading an article about {topic} {in_app}", "reading a web page about {topic} {in_app}",
         "reading a news article {in_app}", "scrolling through an article {in_app}"],
        ["scrolling down slowly", "closing a cookie banner first", "zooming into an image",
         "skipping past an advertisement"]),
    "search_web": (
        ["searching the web for {topic} {in_app}", "typing a search query {in_app}", "googling {topic} {in_app}",
         "looking something up {in_app}"],
        ["and opening one of the results", "as suggestions appear", "scrolling through the results page"]),
    "browsing_pages": (
        ["browsing websites {in_app}", "opening several web pages {in_app}", "visiting a website about {topic} {in_app}",
         "clicking through links {in_app}"],
        ["switching between tabs", "going back and forth between pages", "waiting for a page to load"]),
    "browsing_products": (
        ["browsing products {in_app}", "scrolling through product listings {in_app}", "looking at {product} {in_app}",
         "browsing deals {in_app}"],
        ["comparing prices", "pausing on product photos", "reading star ratings", "adding an item to the wish list"]),
    "search_shop": (
        ["searching for {product} {in_app}", "typing a product name {in_app}", "looking up {product} {in_app}"],
        ["and scrolling through the results", "filtering by price", "sorting by rating"]),
    "viewing_product": (
        ["viewing the page of {product} {in_app}", "looking at the details of {product} {in_app}",
         "reading reviews of {product} {in_app}"],
        ["swiping through the product photos", "checking the delivery date", "reading customer reviews"]),
    "checking_out": (
        ["checking out {in_app}", "completing a purchase {in_app}", "paying for items in the cart {in_app}",
         "reviewing the shopping cart {in_app}"],
        ["choosing a delivery address", "confirming the payment method", "applying a discount code"]),
    "navigating": (
        ["navigating with turn-by-turn directions {in_app}", "following a route {in_app}", "driving with navigation {in_app}",
         "using navigation to get to {place} {in_app}"],
        ["as the map follows the car", "with the estimated arrival time at the bottom", "while a voice gives directions",
         "with traffic shown along the route"]),
    "search_place": (
        ["searching for {place} {in_app}", "looking up {place} {in_app}", "typing an address {in_app}",
         "finding directions to {place} {in_app}"],
        ["and checking opening hours", "reading reviews of the place", "comparing routes"]),
    "exploring_map": (
        ["exploring the map {in_app}", "panning and zooming the map {in_app}", "looking around the map {in_app}",
         "zooming into a neighbourhood {in_app}"],
        ["switching to satellite view", "tapping on points of interest", "dragging the map around"]),
    "listening_music": (
        ["listening to {music} {in_app}", "playing {music} {in_app}", "streaming {music} {in_app}",
         "listening to music {in_app}"],
        ["with the now-playing screen open", "skipping a song", "with the screen mostly idle",
         "as the album art fills the screen", "adjusting the volume"]),
    "browsing_playlists": (
        ["browsing playlists {in_app}", "scrolling through recommended music {in_app}",
         "looking through albums and playlists {in_app}", "browsing the library {in_app}"],
        ["opening an artist page", "checking new releases", "pausing on album covers"]),
    "search_music": (
        ["searching for a song {in_app}", "searching for an artist {in_app}", "typing a song title {in_app}"],
        ["and starting playback", "scrolling through matching tracks", "opening an album from the results"]),
    "listening_podcast": (
        ["listening to a podcast {in_app}", "playing a podcast episode {in_app}", "streaming a talk show episode {in_app}"],
        ["with the screen showing the episode cover", "skipping ahead thirty seconds", "at normal speed"]),
    "playing_level": (
        ["playing a level {in_app}", "matching candies {in_app}", "playing a puzzle level {in_app}",
         "swapping pieces on the board {in_app}"],
        ["trying to clear the board", "with few moves left", "using a booster", "as combos explode on screen"]),
    "watching_ad": (
        ["watching an advertisement {in_app}", "watching a video ad for a reward {in_app}",
         "waiting through an ad {in_app}"],
        ["to earn extra lives", "until the close button appears", "for another game"]),
    "browsing_level_map": (
        ["scrolling the level map {in_app}", "browsing the game map {in_app}", "looking at the next levels {in_app}"],
        ["checking rewards", "collecting a daily bonus", "opening the shop"]),
    "playing_match": (
        ["playing an online match {in_app}", "playing a battle royale match {in_app}", "in a multiplayer game {in_app}",
         "fighting other players {in_app}"],
        ["moving with the on-screen joystick", "aiming at an opponent", "looting buildings", "driving a vehicle"]),
    "waiting_in_lobby": (
        ["waiting in the game lobby {in_app}", "in the lobby {in_app}", "choosing equipment in the lobby {in_app}"],
        ["waiting for teammates", "changing the character outfit", "checking the match settings"]),
    "voice_chat_in_match": (
        ["playing a match while talking to teammates {in_app}", "using voice chat during a match {in_app}",
         "talking to the squad during a game {in_app}"],
        ["with the microphone icon lit", "coordinating with teammates", "while running across the map"]),
}

_SLOT = re.compile(r"\{(\w+)\}")


def _pick(rng, items):
    return items[int(rng.integers(0, len(items)))]


def _fill(rng, text: str, app: str) -> str:
    def sub(m):
        k = m.group(1)
        if k == "app":
            return app
        if k == "in_app":
            return _pick(rng, IN_APP).replace("{app}", app)
        if k in SLOTS:
            return _pick(rng, SLOTS[k])
        return m.group(0)
    for _ in range(3):
        text = _SLOT.sub(sub, text)
    return text


def caption(rng: np.random.Generator, app: str, key: str) -> str:
    """One caption for activity caption ``key`` in ``app`` (see :data:`GRAMMAR`)."""
    if key not in GRAMMAR:
        raise KeyError(f"no caption grammar for {key!r}")
    vps, details = GRAMMAR[key]
    vp = _fill(rng, _pick(rng, vps), app)
    u = rng.random()
    if u < 0.45:
        d = ""
    elif u < 0.9:
        d = ", " + _fill(rng, _pick(rng, details), app)
    else:
        ing = [x for x in details if x.split()[0].endswith("ing")]
        a, b = _pick(rng, ing or details), _pick(rng, ing or details)
        if len(ing) >= 2 and a != b:
            d = ", " + _fill(rng, a, app) + " and " + _fill(rng, b, app)
        else:
            d = ", " + _fill(rng, a, app)
    if d.startswith(", and ") or d.startswith(", then") or d.startswith(", with") or d.startswith(", on a"):
        d = " " + d[2:]
    s = _pick(rng, SUBJECTS)
    frame = _pick(rng, FRAMES)
    out = frame.format(S=s[0].upper() + s[1:], s=s, vp=vp, d=d)
    return out[0].upper() + out[1:]


def paraphrases(rng: np.random.Generator, app: str, key: str, n: int, first: str | None = None) -> list[str]:
    """``n`` distinct captions for the same activity (``first`` kept as the first one if given)."""
    out = [first] if first else []
    tries = 0
    while len(out) < n and tries < 20 * n:
        c = caption(rng, app, key)
        tries += 1
        if c not in out:
            out.append(c)
    return out


def vocabulary() -> set[str]:
    """All lower-case words the grammar can produce (app names excluded)."""
    text = " ".join(FRAMES + SUBJECTS + IN_APP + [w for v in SLOTS.values() for w in v]
                    + [x for vps, ds in GRAMMAR.values() for x in vps + ds])
    text = _SLOT.sub(" ", text)
    return {w for w in re.findall(r"[a-z][a-z'-]*", text.lower())}


__all__ = ["caption", "paraphrases", "vocabulary", "GRAMMAR", "SLOTS", "FRAMES"]
