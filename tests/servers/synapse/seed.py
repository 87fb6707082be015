"""The seed of a harness snapshot: users, rooms, years of history, media and
account data, sent to a running Synapse through its client API.

Deterministic where Synapse lets it be: every text, every origin_server_ts
(backdated through the application service's ?ts=) and every media file
comes from fixed-seed PRNGs. Room ids, event ids, mxc ids, access tokens
and the room-creation events' timestamps (createRoom cannot be backdated)
differ from one seed to the next: tests read them from seed.json.

Each room's history is sent by ONE thread, in order: two senders in one
room at once branch its event graph and /messages then interleaves the
branches. Rooms are independent, so they are sent in parallel.

Usage (by harness.py): run(base_url, preset, secrets, log, analyze) -> seed dict.
"""

import base64
import hashlib
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from media_files import JPEG, png, prng_bytes, wav
from mx import Client, q, txn_id

SERVER = "localhost"
PRESETS = ("default", "bench")
BENCH_MESSAGES = 10_000

# localpart, password, display name, server admin. Fixtures, not secrets.
USERS = [
    ("alice", "alice-keepsake-pw", "Alice Ålvarez 🐇 אליס", False),
    ("bob", "bob-keepsake-pw", "Bob <b>the</b> Builder & Co", False),
    ("carol", "carol-keepsake-pw", "Carol 李 (she/her)", False),
    # A right-to-left override in a display name: renders as "Dave dive".
    ("dave", "dave-keepsake-pw", "Dave \u202eevad", False),
    ("admin", "admin-keepsake-pw", "Server Admin", True),
]
DEVICE_ID = "SEED"

# Text in the rooms alice cannot read (after she left one, in one she was
# only invited to). A test asserts it never reaches an export.
HIDDEN_MARKER = "keepsake-hidden-from-alice"

DAY = 86_400_000
YEAR = 365 * DAY
T2019 = 1_546_300_800_000  # 2019-01-01T00:00:00Z

# key, kind, name, topic, creator, other members, primary messages,
# first and last timestamp, options.
ROOMS = [
    ("dm_bob", "dm", None, None, "alice", ["bob"], 700, T2019 + 20 * DAY, T2019 + 6 * YEAR + 150 * DAY, {}),
    ("dm_carol", "dm", None, None, "carol", ["alice"], 300, T2019 + 2 * YEAR + 60 * DAY, T2019 + 6 * YEAR + 250 * DAY, {}),
    ("group", "group", "Book club 📚", "Monthly books — <i>no spoilers</i> & snacks", "bob",
     ["alice", "carol", "dave"], 850, T2019 + YEAR + 120 * DAY, T2019 + 6 * YEAR + 280 * DAY,
     {"threads": True, "avatar": True, "topic_change": "Weekly books now — still no spoilers"}),
    ("public", "public", "Keepsake Lobby", "Anyone can join: say hi 👋", "dave", ["alice", "bob", "carol"], 380,
     T2019 + 3 * YEAR, T2019 + 6 * YEAR + 300 * DAY, {"alias": "lobby", "threads": True}),
    ("left", "left", "Old project (archived)", "The 2019 project", "carol", ["alice", "bob"], 300,
     T2019 + 150 * DAY, T2019 + 2 * YEAR + 180 * DAY, {"after_leave": 100}),
    ("unicode", "unicode", "שלום 🌍 مرحبا — 日本語 \u202eLTR\u202c ✨ Ω≈ç√", "עברית · العربية · 中文 · 🏳️‍🌈",
     "alice", ["bob", "carol"], 200, T2019 + 4 * YEAR, T2019 + 6 * YEAR + 200 * DAY, {}),
    ("encrypted", "encrypted", "Secret plans 🔒", None, "alice", ["bob"], 60,
     T2019 + 5 * YEAR, T2019 + 6 * YEAR + 100 * DAY, {"encrypted": True}),
    ("invite", "invite", "Invitation pending", "alice has not answered", "dave", ["carol"], 20,
     T2019 + 6 * YEAR, T2019 + 6 * YEAR + 30 * DAY, {"invite_alice": True}),
]
BENCH_ROOM = ("bench", "bench", "Bench 10k", "Ten thousand messages", "alice", ["bob"], BENCH_MESSAGES,
              T2019, T2019 + 6 * YEAR, {"threads": True})

PHRASES = [
    "Did you see the news this morning?", "Running late, start without me.", "That sounds great!",
    "I'll bring the tea.", "Can we move it to Thursday?", "Photos from the weekend are up.",
    "Happy birthday! 🎂", "Thanks, that helped a lot.", "Who has the key to the shed?",
    "The train was cancelled again.", "Let's keep it simple.", "I disagree, but fine.",
    "See you at 7.", "Here's the link I mentioned.", "Good night 🌙",
]


def _hostile_texts(i, rng):
    """Message contents an exporter must store and render safely."""
    return [
        {"msgtype": "m.text", "body": f"unicode #{i}: héllo wörld — 日本語のテキスト — Ελληνικά — עברית — "
                                      f"العربية — 🎉🔥👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈"},
        {"msgtype": "m.text", "body": f"rtl #{i}: invoice\u202egnp.exe and \u2067isolated ‫עברית‬\u2069 done"},
        {"msgtype": "m.text", "body": f"controls #{i}: bell\u0007 esc\u001b[31mred\u001b[0m tab\t cr\r\nlf"},
        {"msgtype": "m.text", "body": f"zero-width #{i}: zero\u200bwidth\u200djoiner\ufeffbom Z̷̢̛a̶l̵g̸o̴"},
        {"msgtype": "m.text", "body": f"Look #{i}: <script>alert(1)</script> & <b>bold</b>",
         "format": "org.matrix.custom.html",
         "formatted_body": f"<p>Look #{i}: <script>alert('x')</script><img src=x onerror=alert(1)>"
                           f"<a href=\"javascript:alert(2)\">link</a> &amp; <b>bold</b>"
                           f"<iframe src=\"http://127.0.0.1:1/\"></iframe></p>"},
        {"msgtype": "m.text", "body": f"paths #{i}: ../../../etc/passwd C:\\Windows\\System32 CON NUL .."},
        {"msgtype": "m.text", "body": f"markdown #{i}: **bold** _it_ `code` [x](javascript:alert(3)) | a | b |"},
        {"msgtype": "m.text", "body": f"code #{i}:\n```\nfn main() {{ println!(\"<hi>\"); }}\n```",
         "format": "org.matrix.custom.html",
         "formatted_body": "<pre><code class=\"language-rust\">fn main() { println!(&quot;&lt;hi&gt;&quot;); }"
                           "</code></pre>"},
        {"msgtype": "m.text", "body": f"long #{i}: " + " ".join(rng.choice(PHRASES) for _ in range(400))},
        {"msgtype": "m.notice", "body": f"notice #{i}: the bot says hello"},
        {"msgtype": "m.emote", "body": f"waves #{i} 👋"},
        {"msgtype": "com.example.custom", "body": f"custom msgtype #{i}", "com.example.field": [1, "two", None]},
        {"msgtype": "m.location", "body": f"Meet here #{i}", "geo_uri": "geo:51.5008,0.1247;u=35"},
    ]


def _text(i, rng, members):
    """One ordinary message: mostly plain, one in six hostile."""
    if rng.random() < 1 / 6:
        return rng.choice(_hostile_texts(i, rng))
    if rng.random() < 0.1:
        who = rng.choice(members)
        return {"msgtype": "m.text", "body": f"{who}: {rng.choice(PHRASES)}",
                "format": "org.matrix.custom.html",
                "formatted_body": f"<a href=\"https://matrix.to/#/@{who}:{SERVER}\">{who}</a>: "
                                  f"{rng.choice(PHRASES)}",
                "m.mentions": {"user_ids": [f"@{who}:{SERVER}"]}}
    return {"msgtype": "m.text", "body": f"{rng.choice(PHRASES)} (#{i})"}


# --- media: made in memory (media_files.py) ---

# name, content type, bytes, msgtype, room key, uploader, image size, where in
# the room's history (a fraction of its primary messages).
def media_items():
    long_name = ("a very long file name that goes on " * 8).strip().replace(" ", "_") + ".txt"
    return [
        ("sunset.png", "image/png", png(320, 200, "sunset"), "m.image", "dm_bob", "bob", (320, 200), 0.30),
        ("photo.jpg", "image/jpeg", JPEG, "m.image", "group", "carol", (32, 24), 0.20),
        ("diagram ünïcode 图.png", "image/png", png(64, 64, "diagram"), "m.image", "unicode", "alice",
         (64, 64), 0.50),
        ("../../etc/passwd", "text/plain", b"root:x:0:0:root:/root:/bin/bash\n", "m.file", "dm_bob", "alice",
         None, 0.60),
        ("name\u0007with\u001bcontrol\tchars.txt", "text/plain", b"control characters in my name\n", "m.file",
         "group", "dave", None, 0.40),
        ("report\u202efdp.exe", "application/octet-stream", b"MZ not really a program\n", "m.file", "dm_carol",
         "carol", None, 0.50),
        (long_name, "text/plain; charset=utf-8", ("línea ✓\n" * 50).encode(), "m.file", "public", "alice",
         None, 0.50),
        ("CON", "text/plain", b"a Windows reserved name\n", "m.file", "left", "bob", None, 0.50),
        ("résumé 履歴書.pdf", "application/pdf", b"%PDF-1.4\n% not a real PDF\n%%EOF\n", "m.file", "dm_bob",
         "alice", None, 0.90),
        (".hidden", "application/octet-stream", b"dot file\n", "m.file", "group", "alice", None, 0.70),
        ("back\\slash:colon*star?.txt", "text/plain", b"reserved characters\n", "m.file", "group", "bob", None,
         0.80),
        ("blob.bin", "application/octet-stream", prng_bytes(300_000, "blob"), "m.file", "group", "bob", None,
         0.90),
        ("voice-note.wav", "audio/wav", wav(0.5, 440, "voice"), "m.audio", "dm_bob", "bob", None, 0.75),
        (f"{HIDDEN_MARKER}.txt", "text/plain", b"sent after alice left\n", "m.file", "left", "carol", None,
         "after_leave"),
    ]


class Room:
    """One room's history as a list of operations, built before anything is
    sent (so that building is deterministic) and sent later by one thread.

    Keeps count of the events alice will see, by type, while she can see
    them (in the left room: up to and including her leave)."""

    def __init__(self, spec):
        (self.key, self.kind, self.name, self.topic, self.creator, self.others, self.n,
         self.t0, self.t1, self.opts) = spec
        self.members = [self.creator] + self.others
        self.rng = random.Random(f"keepsake-synapse-{self.key}")
        self.ops = []              # (kind, sender, ts, args); args may hold op indices
        self.ts = self.t0
        self.gap = max(1, (self.t1 - self.t0) // max(1, int(self.n * 1.25)))
        self.alice_sees = "alice" in self.members and self.kind != "invite"
        self.left = False
        self.sent = {}             # event type -> count alice sees
        self.stats = {"messages": 0, "edits": 0, "redactions": 0, "reactions": 0, "replies": 0,
                      "thread_roots": 0, "thread_replies": 0, "media": 0, "after_leave": 0}
        self.messages = []         # op indices of m.room.message events with a body
        self.media = []            # (media item index, op index)
        self.reacted = set()       # (target op, sender, key)
        self.room_id = None
        self.event_ids = []

    def tick(self, small=False):
        self.ts += self.rng.randint(1_000, 600_000) if small else self.rng.randint(self.gap // 4, self.gap * 7 // 4)
        return self.ts

    def _add(self, kind, sender, etype, args, small=False):
        self.ops.append((kind, sender, self.tick(small), args))
        # Only what /send sends is compared with alice's walk: createRoom
        # adds state events of its own.
        if self.alice_sees and kind == "send":
            self.sent[etype] = self.sent.get(etype, 0) + 1
        if self.left:
            self.stats["after_leave"] += 1
        return len(self.ops) - 1

    def send(self, sender, etype, content, small=False):
        return self._add("send", sender, etype, (etype, content), small)

    def state(self, sender, etype, state_key, content):
        return self._add("state", sender, etype, (etype, state_key, content))

    def message(self, sender, content, small=False):
        i = self.send(sender, "m.room.message", content, small)
        self.messages.append(i)
        self.stats["messages"] += 1
        return i

    def pick(self, sender=None):
        """An earlier message, of `sender` when given (edits must be)."""
        cands = [i for i in self.messages[-200:] if sender is None or self.ops[i][1] == sender]
        return self.rng.choice(cands) if cands else None

    def build(self, media):
        """The whole history: memberships, messages, relations, media."""
        rng = self.rng
        for who in self.others:
            self._add("member", self.creator, "m.room.member", (who, "invite"))
            if self.kind != "invite" or who != "alice":
                self._add("member", who, "m.room.member", (who, "join"))
        leave_at = self.n if self.opts.get("after_leave") else None
        media = dict(media)
        media_at = {}
        for mi, item in media.items():
            pos = item[7]
            at = self.n if pos == "after_leave" else int(self.n * pos)
            media_at.setdefault(at, []).append(mi)
        topic_at = self.n // 2 if self.opts.get("topic_change") else None
        total = self.n + self.opts.get("after_leave", 0)
        i = 0
        while i < total:
            if i == leave_at:
                self._add("member", "alice", "m.room.member", ("alice", "leave"))
                self.alice_sees = False
                self.left = True
                self.members = [m for m in self.members if m != "alice"]
            for mi in media_at.get(i, []):
                self.media.append((mi, self._media_event(mi, media)))
            if i == topic_at:
                self.state(self.creator, "m.room.topic", "", {"topic": self.opts["topic_change"]})
            sender = rng.choice(self.members) if rng.random() < 0.6 else (
                "alice" if "alice" in self.members else self.creator)
            if self.opts.get("encrypted"):
                self.send(sender, "m.room.encrypted", self._ciphertext(i, sender))
                i += 1
                continue
            hidden = not self.alice_sees or self.kind == "invite"
            r = rng.random()
            if hidden:
                self.message(sender, {"msgtype": "m.text", "body": f"{HIDDEN_MARKER} #{i}: {rng.choice(PHRASES)}"})
            elif r < 0.07 and self.messages:
                target = self.pick()
                quoted = self.ops[target][1]
                self.message(sender, {"msgtype": "m.text", "body": f"> <@{quoted}:{SERVER}> …\n\nreply #{i}",
                                      "m.relates_to": {"m.in_reply_to": {"event_id": ("$ref", target)}}})
                self.stats["replies"] += 1
            elif r < 0.09 and self.opts.get("threads") and self.messages:
                self._thread(i)
            else:
                self.message(sender, _text(i, rng, self.members))
            if i == self.n // 3 and self.alice_sees and self.messages:
                self._edit(self.messages[-1], times=3)  # an edit history, not just one edit
            # Relations to earlier messages, at the rates real rooms have them.
            if self.alice_sees and self.messages:
                r2 = rng.random()
                if r2 < 0.08:
                    target = self.pick()
                    reactor = rng.choice([m for m in self.members if m != self.ops[target][1]] or self.members)
                    key = rng.choice(["👍", "❤️", "😂", "🎉", "👀", "+1", "🏳️‍🌈"])
                    # Synapse refuses the same reaction twice (M_DUPLICATE_ANNOTATION).
                    if (target, reactor, key) not in self.reacted:
                        self.reacted.add((target, reactor, key))
                        self.send(reactor, "m.reaction", {"m.relates_to": {
                            "rel_type": "m.annotation", "event_id": ("$ref", target), "key": key}}, small=True)
                        self.stats["reactions"] += 1
                elif r2 < 0.12:
                    self._edit(self.pick(self.ops[-1][1]))
                elif r2 < 0.135:
                    self._redact(self.ops[-1][1])
            i += 1
        if self.opts.get("invite_alice"):
            self._add("member", self.creator, None, ("alice", "invite"))

    def _edit(self, target, times=1):
        if target is None:
            return
        sender = self.ops[target][1]
        for k in range(times):
            body = f"edited ({k + 1}): {self.rng.choice(PHRASES)}"
            self.send(sender, "m.room.message", {
                "msgtype": "m.text", "body": f"* {body}",
                "m.new_content": {"msgtype": "m.text", "body": body},
                "m.relates_to": {"rel_type": "m.replace", "event_id": ("$ref", target)}}, small=True)
            self.stats["edits"] += 1

    def _redact(self, sender):
        target = self.pick(sender)
        if target is None:
            return
        # Through /send (not /redact) so that ?ts= can backdate it; room
        # versions 11+ carry `redacts` in the content.
        self.send(sender, "m.room.redaction", {"redacts": ("$ref", target), "reason": "oops"}, small=True)
        self.messages.remove(target)
        self.stats["redactions"] += 1

    def _thread(self, i):
        rng = self.rng
        root = self.message(rng.choice(self.members), {"msgtype": "m.text", "body": f"thread root #{i}: "
                                                       f"{rng.choice(PHRASES)}"})
        self.stats["thread_roots"] += 1
        last = root
        for k in range(rng.randint(2, 6)):
            last = self.send(rng.choice(self.members), "m.room.message", {
                "msgtype": "m.text", "body": f"in thread #{i}.{k}: {rng.choice(PHRASES)}",
                "m.relates_to": {"rel_type": "m.thread", "event_id": ("$ref", root), "is_falling_back": True,
                                 "m.in_reply_to": {"event_id": ("$ref", last)}}}, small=True)
            self.stats["thread_replies"] += 1

    def _ciphertext(self, i, sender):
        r = self.rng
        return {"algorithm": "m.megolm.v1.aes-sha2",
                "ciphertext": base64.b64encode(r.randbytes(r.randint(80, 400))).decode().rstrip("="),
                "sender_key": base64.b64encode(r.randbytes(32)).decode().rstrip("="),
                "session_id": base64.b64encode(random.Random(sender).randbytes(32)).decode().rstrip("="),
                "device_id": DEVICE_ID}

    def _media_event(self, mi, media):
        name, ctype, data, msgtype, _, uploader, size, _ = media[mi]
        info = {"mimetype": ctype.split(";")[0], "size": len(data)}
        if size:
            info.update({"w": size[0], "h": size[1]})
        content = {"msgtype": msgtype, "body": name, "filename": name, "url": ("$mxc", mi), "info": info}
        if uploader not in self.members:
            uploader = self.creator
        i = self.send(uploader, "m.room.message", content)
        self.stats["media"] += 1
        return i


def _resolve(value, room, mxcs):
    """Replaces ("$ref", op index) by that op's event id and ("$mxc", media
    index) by the uploaded URI, anywhere in a content."""
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "$ref":
        return room.event_ids[value[1]]
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "$mxc":
        return mxcs[value[1]]
    if isinstance(value, dict):
        return {k: _resolve(v, room, mxcs) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, room, mxcs) for v in value]
    return value


def _as_query(user, ts):
    return {"user_id": f"@{user}:{SERVER}", "ts": ts}


def send_history(base_url, as_token, room, mxcs, progress):
    """Sends one room's operations in order, as the application service
    acting for each sender, backdated with ?ts=."""
    c = Client(base_url, as_token)
    rid = q(room.room_id)
    try:
        for kind, sender, ts, args in room.ops:
            if kind == "send":
                etype, content = args
                r = c.call("PUT", f"/_matrix/client/v3/rooms/{rid}/send/{etype}/{txn_id()}",
                           _resolve(content, room, mxcs), _as_query(sender, ts))
            elif kind == "state":
                etype, key, content = args
                r = c.call("PUT", f"/_matrix/client/v3/rooms/{rid}/state/{etype}/{q(key)}",
                           content, _as_query(sender, ts))
            else:  # membership, through the state endpoint: the only one that takes ?ts=
                target, membership = args
                content = {"membership": membership}
                if room.kind == "dm" and membership == "invite":
                    content["is_direct"] = True
                r = c.call("PUT", f"/_matrix/client/v3/rooms/{rid}/state/m.room.member/{q(f'@{target}:{SERVER}')}",
                           content, _as_query(sender, ts))
            room.event_ids.append(r["event_id"])
            progress()
    finally:
        c.close()


def create_room(as_client, room, mxcs):
    """createRoom as the creator (its events carry the wall-clock time:
    createRoom takes no ?ts=), with its name, topic and special state."""
    body = {"preset": "public_chat" if room.kind == "public" else
            "trusted_private_chat" if room.kind == "dm" else "private_chat"}
    if room.kind == "dm":
        body["is_direct"] = True
    if room.name:
        body["name"] = room.name
    if room.topic:
        body["topic"] = room.topic
    initial = []
    if room.opts.get("encrypted"):
        initial.append({"type": "m.room.encryption", "state_key": "",
                        "content": {"algorithm": "m.megolm.v1.aes-sha2"}})
    if room.opts.get("avatar"):
        initial.append({"type": "m.room.avatar", "state_key": "", "content": {"url": mxcs["room_avatar"]}})
    if initial:
        body["initial_state"] = initial
    if room.opts.get("alias"):
        body["room_alias_name"] = room.opts["alias"]
        body["visibility"] = "public"
    r = as_client.call("POST", "/_matrix/client/v3/createRoom", body,
                       {"user_id": f"@{room.creator}:{SERVER}"})
    room.room_id = r["room_id"]


def run(base_url, preset, secrets, log, analyze):
    """Seeds `preset`; `analyze()` runs SQLite's ANALYZE on the server's
    database (before the walks: without statistics they are 25x slower)."""
    if preset not in PRESETS:
        raise SystemExit(f"unknown preset {preset!r} (one of {', '.join(PRESETS)})")
    timings = {}
    t_all = t = time.monotonic()
    anon = Client(base_url)
    users = {}
    for localpart, password, display, admin in USERS:
        anon.register(secrets["registration_shared_secret"], localpart, password, admin, display)
        login = anon.login(localpart, password, device_id=DEVICE_ID, device_name="Keepsake seed")
        users[localpart] = {"user_id": login["user_id"], "localpart": localpart, "password": password,
                            "access_token": login["access_token"], "device_id": login["device_id"],
                            "admin": admin, "display_name": display}
    timings["users_s"] = round(time.monotonic() - t, 2)

    # Media first: events refer to their mxc URIs.
    t = time.monotonic()
    items = media_items()
    mxcs, media_out = {}, []
    for mi, (name, ctype, data, msgtype, room_key, uploader, size, _) in enumerate(items):
        c = Client(base_url, users[uploader]["access_token"])
        r = c.call("POST", "/_matrix/media/v3/upload", data, {"filename": name}, {"Content-Type": ctype})
        c.close()
        mxcs[mi] = r["content_uri"]
        media_out.append({"mxc": r["content_uri"], "filename": name, "size": len(data),
                          "sha256": hashlib.sha256(data).hexdigest(), "content_type": ctype, "msgtype": msgtype,
                          "uploader": users[uploader]["user_id"], "room": room_key})
    for key, name, data, who in (("avatar", "alice-avatar.png", png(96, 96, "alice"), "alice"),
                                 ("room_avatar", "book-club.png", png(48, 48, "books"), "bob")):
        c = Client(base_url, users[who]["access_token"])
        r = c.call("POST", "/_matrix/media/v3/upload", data, {"filename": name}, {"Content-Type": "image/png"})
        c.close()
        mxcs[key] = r["content_uri"]
        media_out.append({"mxc": r["content_uri"], "filename": name, "size": len(data),
                          "sha256": hashlib.sha256(data).hexdigest(), "content_type": "image/png",
                          "msgtype": None, "uploader": users[who]["user_id"],
                          "room": "group" if key == "room_avatar" else None, "purpose": key})
    alice = Client(base_url, users["alice"]["access_token"])
    alice.call("PUT", f"/_matrix/client/v3/profile/{q(users['alice']['user_id'])}/avatar_url",
               {"avatar_url": mxcs["avatar"]})
    timings["media_s"] = round(time.monotonic() - t, 2)

    # Build every room's history (deterministic), create the rooms, then send
    # the histories in parallel, one thread per room.
    specs = ROOMS + ([BENCH_ROOM] if preset == "bench" else [])
    rooms = []
    for spec in specs:
        room = Room(spec)
        room.build([(mi, it) for mi, it in enumerate(items) if it[4] == room.key])
        rooms.append(room)
    as_client = Client(base_url, secrets["as_token"])
    t = time.monotonic()
    for room in rooms:
        create_room(as_client, room, mxcs)
    timings["create_rooms_s"] = round(time.monotonic() - t, 2)

    total = sum(len(r.ops) for r in rooms)
    done = [0]
    lock = threading.Lock()
    t = time.monotonic()
    last = [t]

    def progress():
        with lock:
            done[0] += 1
            now = time.monotonic()
            if now - last[0] >= 15:
                last[0] = now
                log(f"seed: {done[0]}/{total} events, {done[0] / (now - t):.0f}/s")

    with ThreadPoolExecutor(max_workers=len(rooms)) as pool:
        for f in [pool.submit(send_history, base_url, secrets["as_token"], r, mxcs, progress) for r in rooms]:
            f.result()
    timings["history_s"] = round(time.monotonic() - t, 2)
    timings["history_events"] = total
    timings["history_events_per_s"] = round(total / max(timings["history_s"], 0.001), 1)

    by_key = {r.key: r for r in rooms}
    for m in media_out:
        m["visible_to_alice"] = True
        for room in rooms:
            for mi, op in room.media:
                if mxcs[mi] == m["mxc"]:
                    m["room_id"] = room.room_id
                    m["event_id"] = room.event_ids[op]
                    m["visible_to_alice"] = not (room.kind == "invite" or room.opts.get("after_leave")
                                                 and m["filename"].startswith(HIDDEN_MARKER))
        if m.get("room") and "room_id" not in m:
            m["room_id"] = by_key[m["room"]].room_id
        m["server_name"], m["media_id"] = m["mxc"][len("mxc://"):].split("/", 1)

    # alice's account data: DMs, a custom type, tags, a fully-read marker.
    t = time.monotonic()
    aid = users["alice"]["user_id"]
    direct = {users["bob"]["user_id"]: [by_key["dm_bob"].room_id],
              users["carol"]["user_id"]: [by_key["dm_carol"].room_id]}
    alice.call("PUT", f"/_matrix/client/v3/user/{q(aid)}/account_data/m.direct", direct)
    custom = {"hello": "world", "nested": {"list": [1, 2, 3], "unicode": "ü 🐇 עברית"}, "html": "<b>x</b>"}
    alice.call("PUT", f"/_matrix/client/v3/user/{q(aid)}/account_data/im.keepsake.test", custom)
    tags = {"group": ("m.favourite", {"order": 0.25}), "public": ("u.work", {}),
            "dm_bob": ("m.favourite", {"order": 0.5})}
    for key, (tag, content) in tags.items():
        alice.call("PUT", f"/_matrix/client/v3/user/{q(aid)}/rooms/{q(by_key[key].room_id)}/tags/{q(tag)}",
                   content)
    note = {"note": "room-level account data ✓", "pinned": True}
    alice.call("PUT", f"/_matrix/client/v3/user/{q(aid)}/rooms/{q(by_key['group'].room_id)}"
                      f"/account_data/im.keepsake.room_note", note)
    read_up_to = by_key["dm_bob"].event_ids[len(by_key["dm_bob"].event_ids) // 2]
    alice.call("POST", f"/_matrix/client/v3/rooms/{q(by_key['dm_bob'].room_id)}/read_markers",
               {"m.fully_read": read_up_to, "m.read": read_up_to})
    bob = Client(base_url, users["bob"]["access_token"])
    bob.call("PUT", f"/_matrix/client/v3/user/{q(users['bob']['user_id'])}/account_data/m.direct",
             {aid: [by_key["dm_bob"].room_id]})
    account_data = {"global": {"m.direct": direct, "im.keepsake.test": custom},
                    "rooms": {by_key[k].room_id: {"m.tag": {"tags": {tag: c}}} for k, (tag, c) in tags.items()}}
    account_data["rooms"][by_key["group"].room_id]["im.keepsake.room_note"] = note
    account_data["rooms"][by_key["dm_bob"].room_id]["m.fully_read"] = {"event_id": read_up_to}
    timings["account_data_s"] = round(time.monotonic() - t, 2)

    # What alice sees, from the server itself: her /messages walk of each
    # room. The seeder's own count of what it sent must agree.
    t = time.monotonic()
    analyze()
    rooms_out = {}
    for room in rooms:
        out = {"room_id": room.room_id, "key": room.key, "kind": room.kind, "name": room.name,
               "topic": room.opts.get("topic_change") or room.topic, "creator": users[room.creator]["user_id"],
               "members": [users[m]["user_id"] for m in [room.creator] + room.others],
               "alias": f"#{room.opts['alias']}:{SERVER}" if room.opts.get("alias") else None,
               "encrypted": bool(room.opts.get("encrypted")),
               "alice_membership": {"left": "leave", "invite": "invite"}.get(room.kind, "join"),
               "events_sent": len(room.ops), "stats": room.stats,
               "first_ts": room.t0, "last_ts": room.ops[-1][2]}
        if room.kind == "left":
            out["alice_leave_event_id"] = next(room.event_ids[i] for i, op in enumerate(room.ops)
                                               if op[0] == "member" and op[3] == ("alice", "leave"))
        if room.kind == "invite":
            out["visible_to_alice"] = None  # no /messages for an invitee; stripped state in /sync only
        else:
            events = alice.messages(room.room_id)
            by_type = {}
            for e in events:
                by_type[e["type"]] = by_type.get(e["type"], 0) + 1
            for etype, n in room.sent.items():
                if by_type.get(etype) != n:
                    raise SystemExit(f"seed: room {room.key}: alice sees {by_type.get(etype)} {etype} events, "
                                     f"the seeder sent her {n}")
            hidden = [e["event_id"] for e in events if HIDDEN_MARKER in json.dumps(e, ensure_ascii=False)]
            if hidden:
                raise SystemExit(f"seed: room {room.key}: alice sees hidden events {hidden[:3]}")
            out["visible_to_alice"] = {"total": len(events), "by_type": dict(sorted(by_type.items())),
                                       "oldest_event_id": events[-1]["event_id"],
                                       "newest_event_id": events[0]["event_id"]}
        rooms_out[room.key] = out
    timings["walk_s"] = round(time.monotonic() - t, 2)
    timings["total_s"] = round(time.monotonic() - t_all, 2)
    for c in (anon, alice, bob, as_client):
        c.close()

    return {
        "schema": 1,
        "preset": preset,
        "server_name": SERVER,
        "hidden_marker": HIDDEN_MARKER,
        "users": users,
        "rooms": rooms_out,
        "bench_room": rooms_out.get("bench", {}).get("room_id"),
        "media": media_out,
        "account_data": {"alice": account_data},
        "appservice": {"as_token": secrets["as_token"], "sender": f"@{secrets['sender_localpart']}:{SERVER}",
                       "backdate": "PUT .../send/{type}/{txn}?user_id=@x:localhost&ts=MS"},
        "registration_shared_secret": secrets["registration_shared_secret"],
        "timings": timings,
    }
