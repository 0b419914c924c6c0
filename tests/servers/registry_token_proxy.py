"""A token-auth front for a local registry (tests/e2e/oci.rs), standard library only.

It proxies every request to --upstream, but only when the request carries what it asks for;
otherwise it answers 401 with a challenge, as Docker Hub and GHCR do:

  --scheme bearer (default)  WWW-Authenticate: Bearer realm="http://HOST/token",
                             service="test-registry",scope="repository:NAME:pull"
                             and GET /token?service=&scope= issues a token (JSON `token` and
                             `access_token`), anonymously, or only to basic auth USER:PASS
                             when started with --login USER:PASS.
  --scheme basic             WWW-Authenticate: Basic realm="test registry", and the request
                             must carry basic auth --login USER:PASS.

--no-head-digest drops Docker-Content-Digest from HEAD answers (some registries omit it), so
the client must GET the manifest and hash it.

A refused /token login answers 401 with a body that echoes the credentials it got, the way a
careless server might: the client must not repeat them.
"""

import argparse
import base64
import http.client
import json
import re
import secrets
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    options = None
    tokens = set()
    lock = threading.Lock()
    log = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.route()

    def do_HEAD(self):
        self.route()

    def do_PUT(self):
        self.route()

    def do_POST(self):
        self.route()

    def do_PATCH(self):
        self.route()

    def do_DELETE(self):
        self.route()

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status, body=b"", headers=()):
        with self.lock:
            self.log.append({"method": self.command, "path": self.path, "status": status,
                             "authorization": (self.headers.get("Authorization") or "").split(" ")[0]})
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def basic_credentials(self):
        header = self.headers.get("Authorization") or ""
        if not header.lower().startswith("basic "):
            return None
        try:
            return base64.b64decode(header[6:].strip()).decode("utf-8")
        except ValueError:
            return None

    def route(self):
        self.body_bytes = self.body()
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_proxy/log":
            with self.lock:
                data = json.dumps(self.log).encode()
            return self.reply(200, data, [("Content-Type", "application/json")])
        if path == "/token" and self.options.scheme == "bearer":
            return self.token()
        if self.authorized():
            return self.forward()
        return self.challenge(path)

    def token(self):
        if self.options.login is not None:
            got = self.basic_credentials()
            if got != self.options.login:
                body = json.dumps({"errors": [{"code": "UNAUTHORIZED",
                                               "message": "bad credentials %r" % (got,)}]})
                return self.reply(401, body.encode(), [("Content-Type", "application/json"),
                                                       ("WWW-Authenticate", 'Basic realm="token"')])
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if query.get("service") != ["test-registry"] or not query.get("scope"):
            return self.reply(400, b'{"error":"service and scope are required"}',
                              [("Content-Type", "application/json")])
        token = "tok-" + secrets.token_hex(16)
        with self.lock:
            self.tokens.add(token)
        body = json.dumps({"token": token, "access_token": token, "expires_in": 300})
        return self.reply(200, body.encode(), [("Content-Type", "application/json")])

    def authorized(self):
        header = self.headers.get("Authorization") or ""
        if self.options.scheme == "basic":
            return self.basic_credentials() == self.options.login
        if header.startswith("Bearer "):
            with self.lock:
                return header[7:] in self.tokens
        return False

    def challenge(self, path):
        if self.options.scheme == "basic":
            value = 'Basic realm="test registry"'
        else:
            host = self.headers.get("Host", "127.0.0.1")
            value = 'Bearer realm="http://%s/token",service="test-registry"' % host
            match = re.match(r"^/v2/(.+)/(manifests|blobs|tags)/", path)
            if match:
                value += ',scope="repository:%s:pull"' % match.group(1)
        body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
        return self.reply(401, body, [("Content-Type", "application/json"),
                                      ("WWW-Authenticate", value)])

    def forward(self):
        upstream = urllib.parse.urlsplit(self.options.upstream)
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
        headers = {name: value for name, value in self.headers.items()
                   if name.lower() not in HOP_BY_HOP | {"host", "authorization", "content-length"}}
        if self.body_bytes:
            headers["Content-Length"] = str(len(self.body_bytes))
        connection.request(self.command, self.path, body=self.body_bytes or None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        relayed = []
        for name, value in response.getheaders():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower == "content-length":
                continue
            if lower == "docker-content-digest" and self.command == "HEAD" and self.options.no_head_digest:
                continue
            relayed.append((name, value))
        if self.command == "HEAD":
            # Keep the upstream's length for HEAD without sending a body.
            length = response.getheader("Content-Length") or "0"
            with self.lock:
                self.log.append({"method": self.command, "path": self.path,
                                 "status": response.status, "authorization":
                                 (self.headers.get("Authorization") or "").split(" ")[0]})
            self.send_response(response.status)
            for name, value in relayed:
                self.send_header(name, value)
            self.send_header("Content-Length", length)
            self.end_headers()
            return
        return self.reply(response.status, data, relayed)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--login", default=None, help="USER:PASS required by /token or basic")
    parser.add_argument("--scheme", choices=["bearer", "basic"], default="bearer")
    parser.add_argument("--no-head-digest", action="store_true")
    options = parser.parse_args()
    if options.scheme == "basic" and options.login is None:
        parser.error("--scheme basic needs --login")
    Handler.options = options
    server = ThreadingHTTPServer(("127.0.0.1", options.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
