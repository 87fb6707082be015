"""A fake CAS identity provider on 127.0.0.1, enough for Synapse's SSO.

GET /login?service=URL[&user=NAME]   -> 302 to URL with ticket=ST-NAME
                                        (NAME defaults to alice: there is no
                                        login form, the test picks the user)
GET /proxyValidate?ticket=ST-NAME    -> CAS 2.0 success XML for NAME

Synapse maps the CAS user to the local user of the same name (an existing
user is reused), then redirects to the client's redirectUrl with
loginToken=..., which the client exchanges with m.login.token.

Usage: fake_cas.py PORT [INSTANCE_DIR]   (INSTANCE_DIR only marks the process
as the instance's, for harness.py stop).
"""

import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        qs = dict(urllib.parse.parse_qsl(u.query))
        if u.path == "/login" and "service" in qs:
            user = qs.get("user", "alice")
            service = qs["service"]
            sep = "&" if "?" in service else "?"
            location = f"{service}{sep}ticket=ST-{urllib.parse.quote(user)}"
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif u.path in ("/proxyValidate", "/serviceValidate", "/p3/proxyValidate", "/p3/serviceValidate"):
            user = escape(urllib.parse.unquote(qs.get("ticket", "ST-nobody")[3:]))
            body = ('<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas"><cas:authenticationSuccess>'
                    f"<cas:user>{user}</cas:user><cas:attributes>"
                    f"<cas:displayName>{user.title()} (CAS)</cas:displayName>"
                    "</cas:attributes></cas:authenticationSuccess></cas:serviceResponse>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, fmt, *args):
        sys.stderr.write("fake_cas: " + (fmt % args) + "\n")


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
