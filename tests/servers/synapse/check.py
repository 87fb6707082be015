"""End-to-end checks of a running harness instance, as a connector would
read it: `harness.py check INSTANCE_DIR`. Prints what it observed; exits
non-zero on the first check that fails.

Needs an instance of the default (or bench) snapshot; the SSO check runs
when the instance was started with --cas-port.
"""

import hashlib
import json
import sys
import time
import urllib.parse

from mx import Client, MatrixError, q


def ok(cond, what):
    if not cond:
        print(f"FAIL: {what}")
        sys.exit(1)
    print(f"ok: {what}")


def run(instance):
    info = json.loads((instance / "instance.json").read_text())
    seed = json.loads((instance / "seed.json").read_text())
    base = info["base_url"]
    users, rooms = seed["users"], seed["rooms"]
    alice_id = users["alice"]["user_id"]

    # Sign in with a password, like a fresh connector (a new device).
    anon = Client(base)
    login = anon.login("alice", users["alice"]["password"], device_name="check.py")
    alice = Client(base, login["access_token"])
    ok(alice.call("GET", "/_matrix/client/v3/account/whoami")["user_id"] == alice_id,
       f"m.login.password as alice -> {login['user_id']} device {login['device_id']}")
    seeded = Client(base, users["alice"]["access_token"])
    ok(seeded.call("GET", "/_matrix/client/v3/account/whoami")["device_id"] == "SEED",
       "the seed's access token works (device SEED)")

    # Walk the biggest room back to its start; the last page has no `end`.
    group = rooms["group"]
    t = time.monotonic()
    events, frm, pages = [], None, 0
    while True:
        query = {"dir": "b", "limit": 1000}
        if frm:
            query["from"] = frm
        page = alice.call("GET", f"/_matrix/client/v3/rooms/{q(group['room_id'])}/messages", query=query)
        pages += 1
        if pages == 1:
            print(f"   first page (no from): start={page.get('start')!r} end={page.get('end')!r} "
                  f"{len(page['chunk'])} events")
        events += page["chunk"]
        frm = page.get("end")
        if not frm:
            print(f"   last page: {len(page['chunk'])} events, keys {sorted(page)}")
            break
    ok(len(events) == group["visible_to_alice"]["total"],
       f"/messages walk of {group['name']!r}: {len(events)} events in {pages} pages, "
       f"{(time.monotonic() - t) * 1000:.0f} ms")
    ok(events[-1]["type"] == "m.room.create", "the walk ends at m.room.create")
    redacted = [e for e in events if "redacted_because" in e.get("unsigned", {})]
    ok(redacted and all(e["content"] == {} for e in redacted),
       f"{len(redacted)} redacted events come with content {{}} and unsigned.redacted_because")
    edited = [e for e in events if "m.replace" in e.get("unsigned", {}).get("m.relations", {})]
    ok(edited, f"{len(edited)} edited events carry unsigned.m.relations.m.replace "
               f"(e.g. {json.dumps(edited[0]['unsigned']['m.relations']['m.replace'])[:160]})")
    threads = [e for e in events if "m.thread" in e.get("unsigned", {}).get("m.relations", {})]
    ok(threads, f"{len(threads)} thread roots carry unsigned.m.relations.m.thread")

    # Media through the authenticated endpoint, with and without a token.
    m = next(x for x in seed["media"] if x["filename"] == "photo.jpg")
    path = f"/_matrix/client/v1/media/download/{m['server_name']}/{m['media_id']}"
    status, hdrs, data = alice.raw("GET", path)
    ok(status == 200 and hashlib.sha256(data).hexdigest() == m["sha256"],
       f"GET {path} -> {status} {hdrs.get('Content-Type')} {len(data)} bytes, sha256 matches; "
       f"Content-Disposition: {hdrs.get('Content-Disposition')}")
    hostile = next(x for x in seed["media"] if x["filename"] == "../../etc/passwd")
    status, hdrs, _ = alice.raw("GET", f"/_matrix/client/v1/media/download/localhost/{hostile['media_id']}")
    print(f"   ../../etc/passwd -> {status} Content-Disposition: {hdrs.get('Content-Disposition')}")
    status, _, body = alice.raw("GET", path, token=False)
    ok(status == 401, f"without a token -> {status} {body[:80]!r}")
    status, _, body = alice.raw("GET", "/_matrix/client/v1/media/download/localhost/NoSuchMediaId")
    ok(status == 404, f"unknown media -> {status} {body[:80]!r}")
    status, _, body = alice.raw("GET", f"/_matrix/media/v3/download/localhost/{m['media_id']}")
    print(f"   legacy unauthenticated /_matrix/media/v3/download -> {status} {body[:80]!r}")

    # The left room: alice sees it up to and including her leave.
    left = rooms["left"]
    evs = alice.messages(left["room_id"])
    ok(evs[0]["event_id"] == left["alice_leave_event_id"] and len(evs) == left["visible_to_alice"]["total"],
       f"left room: {len(evs)} events, the newest is alice's leave")
    ok(seed["hidden_marker"] not in json.dumps(evs, ensure_ascii=False), "nothing after her leave")
    state = alice.raw("GET", f"/_matrix/client/v3/rooms/{q(left['room_id'])}/state")
    print(f"   GET /rooms/<left>/state -> {state[0]} ({len(json.loads(state[2]))} events)")
    flt = json.dumps({"room": {"include_leave": True, "timeline": {"limit": 1}}})
    sync = alice.call("GET", "/_matrix/client/v3/sync", query={"filter": flt})
    ok(left["room_id"] in sync["rooms"].get("leave", {}),
       f"/sync with include_leave lists it under rooms.leave (keys: "
       f"{sorted(sync['rooms']['leave'][left['room_id']])})")
    ok(rooms["invite"]["room_id"] in sync["rooms"].get("invite", {}), "the invite room is under rooms.invite")
    sync2 = alice.call("GET", "/_matrix/client/v3/sync",
                       query={"filter": json.dumps({"room": {"timeline": {"limit": 1}}})})
    print(f"   /sync without include_leave: leave={sorted(sync2['rooms'].get('leave', {}))}")
    status, _, body = alice.raw("GET", f"/_matrix/client/v3/rooms/{q(rooms['invite']['room_id'])}/messages")
    print(f"   /messages of the invite room -> {status} {body[:100]!r}")

    # The admin API, as the server admin.
    admin = Client(base, users["admin"]["access_token"])
    jr = admin.call("GET", f"/_synapse/admin/v1/users/{q(alice_id)}/joined_rooms")
    joined = {r["room_id"] for k, r in rooms.items() if r["alice_membership"] == "join"}
    ok(set(jr["joined_rooms"]) == joined, f"admin joined_rooms: {jr['total']} rooms")
    um = admin.call("GET", f"/_synapse/admin/v1/users/{q(alice_id)}/media", query={"limit": 5})
    print(f"   admin users/{{id}}/media: total={um['total']} next_token={um.get('next_token')} "
          f"keys={sorted(um['media'][0])}")
    ad = admin.call("GET", f"/_synapse/admin/v1/users/{q(alice_id)}/accountdata")
    print(f"   admin users/{{id}}/accountdata: global {sorted(ad['account_data']['global'])}")
    am = admin.call("GET", f"/_synapse/admin/v1/rooms/{q(group['room_id'])}/messages",
                    query={"dir": "b", "limit": 2})
    print(f"   admin rooms/{{id}}/messages: keys {sorted(am)}")
    ul = admin.call("GET", "/_synapse/admin/v2/users", query={"limit": 2})
    print(f"   admin v2/users: total={ul['total']} next_token={ul.get('next_token')}")
    status, _, body = alice.raw("GET", f"/_synapse/admin/v1/users/{q(alice_id)}/joined_rooms")
    ok(status == 403, f"the same admin call as alice -> {status} {body[:80]!r}")

    if info.get("cas_url"):
        sso(base, info["cas_url"], alice_id)
    print("all checks passed")


def sso(base, cas_url, alice_id):
    """The browser sign-in of a desktop app: SSO redirect -> CAS -> back to
    a loopback URL with loginToken -> m.login.token."""
    # Nothing needs to listen on the loopback URL: the last redirect's
    # Location is what a browser would open there.
    cb = "http://127.0.0.1:9/cb?state=xyz"
    flows = [f["type"] for f in Client(base).call("GET", "/_matrix/client/v3/login")["flows"]]
    print(f"   login flows: {flows}")
    url = f"{base}/_matrix/client/v3/login/sso/redirect?redirectUrl={urllib.parse.quote(cb, safe='')}"
    hops = 0
    while not url.startswith(cb.split("?")[0]):
        u = urllib.parse.urlsplit(url)
        c = Client(f"{u.scheme}://{u.netloc}")
        path = u.path + ("?" + u.query if u.query else "")
        if url.startswith(cas_url + "/login"):
            path += "&user=alice"  # the fake CAS has no form: the test names the user
        status, hdrs, body = c.raw("GET", path, token=False)
        c.close()
        hops += 1
        if status not in (301, 302, 303, 307, 308) or hops > 10:
            ok(False, f"SSO hop {hops} {url[:100]} -> {status} {body[:300]!r}")
        url = urllib.parse.urljoin(url, hdrs["Location"])
    got = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    ok("loginToken" in got and got.get("state") == "xyz",
       f"SSO: {hops} redirects to the loopback URL with loginToken (state kept)")
    r = Client(base).call("POST", "/_matrix/client/v3/login", {"type": "m.login.token", "token": got["loginToken"]},
                          token=False)
    ok(r["user_id"] == alice_id, f"m.login.token -> {r['user_id']} device {r['device_id']}")
    try:
        Client(base).call("POST", "/_matrix/client/v3/login", {"type": "m.login.token", "token": got["loginToken"]},
                          token=False)
        ok(False, "a login token works once")
    except MatrixError as e:
        ok(e.status == 403, f"the same loginToken again -> {e.status} {e.errcode}")
