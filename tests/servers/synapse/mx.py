"""A small Matrix client for the harness, standard library only.

One keep-alive connection per Client (http.client; urllib opens a new
connection per request, which halves the seeder's speed). Requests that
Synapse answers with 429 M_LIMIT_EXCEEDED are retried after its
retry_after_ms; any other status of 300 or more raises MatrixError.
A Client is not thread-safe: the seeder gives each thread its own.
"""

import hashlib
import hmac
import http.client
import itertools
import json
import time
import urllib.parse

_txn_ids = itertools.count(1)


def q(s):
    """A path segment: room ids, event ids and user ids have ! $ @ : in them."""
    return urllib.parse.quote(s, safe="")


def txn_id():
    # Unique per process and per harness run; Synapse scopes transaction ids
    # to the access token (device) and remembers them, so a fixed counter
    # reused in a later seed against the same database would be deduplicated.
    return f"k{time.time_ns()}.{next(_txn_ids)}"


class MatrixError(Exception):
    def __init__(self, method, path, status, body):
        self.status = status
        self.body = body
        try:
            self.errcode = json.loads(body).get("errcode")
        except ValueError:
            self.errcode = None
        super().__init__(f"{method} {path} -> {status} {body[:500]!r}")


class Client:
    def __init__(self, base_url, token=None, timeout=120):
        u = urllib.parse.urlsplit(base_url)
        self.base_url = base_url.rstrip("/")
        self.host, self.port = u.hostname, u.port or 80
        self.token = token
        self.timeout = timeout
        self._conn = None

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def raw(self, method, path, body=None, query=None, headers=None, token=None):
        """(status, headers, bytes) of one request, 429s retried.

        body: a dict (sent as JSON), bytes (sent as is) or None.
        token: overrides the client's token; False sends none.
        """
        if query:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(query)
        hdrs = dict(headers or {})
        tok = self.token if token is None else token
        if tok:
            hdrs["Authorization"] = "Bearer " + tok
        if isinstance(body, (dict, list)):
            body = json.dumps(body, ensure_ascii=False).encode()
            hdrs.setdefault("Content-Type", "application/json")
        while True:
            status, rhdrs, data = self._once(method, path, body, hdrs)
            if status == 429:
                try:
                    wait_ms = json.loads(data).get("retry_after_ms", 1000)
                except ValueError:
                    wait_ms = 1000
                time.sleep(wait_ms / 1000)
                continue
            return status, rhdrs, data

    def _once(self, method, path, body, hdrs):
        # One retry on a dropped keep-alive connection (Synapse closes idle
        # ones); a second failure is real.
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._conn.request(method, path, body=body, headers=hdrs)
                resp = self._conn.getresponse()
                return resp.status, resp.headers, resp.read()
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt:
                    raise

    def call(self, method, path, body=None, query=None, headers=None, token=None):
        """The JSON answer of a request that must succeed."""
        status, _, data = self.raw(method, path, body, query, headers, token)
        if status >= 300:
            raise MatrixError(method, path, status, data.decode("utf-8", "replace"))
        return json.loads(data) if data else {}

    # --- the few calls the seeder and the checks make ---

    def register(self, secret, localpart, password, admin=False, displayname=None):
        """Registers a user through the shared-secret admin API
        (/_synapse/admin/v1/register: HMAC-SHA1 over nonce, user, password,
        admin flag), which works with enable_registration: false."""
        nonce = self.call("GET", "/_synapse/admin/v1/register", token=False)["nonce"]
        mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), localpart.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        # inhibit_login: otherwise registering makes a device with a token,
        # and every seeded user would have a stray device besides SEED.
        body = {"nonce": nonce, "username": localpart, "password": password,
                "admin": admin, "mac": mac.hexdigest(), "inhibit_login": True}
        if displayname:
            body["displayname"] = displayname
        return self.call("POST", "/_synapse/admin/v1/register", body, token=False)

    def login(self, user, password, device_id=None, device_name=None):
        body = {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user},
                "password": password}
        if device_id:
            body["device_id"] = device_id
        if device_name:
            body["initial_device_display_name"] = device_name
        return self.call("POST", "/_matrix/client/v3/login", body, token=False)

    def messages(self, room_id, direction="b", limit=1000, filter_=None):
        """Every event of a room's /messages walk, newest first for dir=b.
        The walk ends at a page without `end` (it may be empty)."""
        events, frm = [], None
        while True:
            query = {"dir": direction, "limit": limit}
            if frm:
                query["from"] = frm
            if filter_:
                query["filter"] = json.dumps(filter_)
            page = self.call("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/messages", query=query)
            events.extend(page.get("chunk", []))
            frm = page.get("end")
            if not frm:
                return events
