"""A reverse proxy that gives an HTTP server the create-only PUT of RFC 9110 §13.1.2.

`If-None-Match: *` on a PUT means "only if the target has no current representation": a
server that honours it answers 412 Precondition Failed when the target exists, and the PUT
changes nothing. nginx's WebDAV module ignores the header, so the tests put this proxy in
front of it. The check (a HEAD to the upstream) and the PUT it guards run under one lock per
target, so two racing conditional PUTs cannot both create it. Every other request is
forwarded unchanged.

Test hooks (both optional), to make a race deterministic:
  --delay S            every conditional PUT waits S seconds before the check, so that runs
                       started together have all made their HEAD before any PUT lands
  --preempt SUFFIX=TEXT the first conditional PUT of a path ending with SUFFIX finds TEXT
                       already written there (by "another run", just before it): the proxy
                       PUTs TEXT to the upstream first, then evaluates the condition
GET /_proxy/log answers every handled request as JSON [method, path, status].

Usage: create_only_proxy.py LISTEN_PORT UPSTREAM_PORT [--delay S] [--preempt SUFFIX=TEXT]
"""

import argparse
import http.client
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("port", type=int)
parser.add_argument("upstream_port", type=int)
parser.add_argument("--delay", type=float, default=0.0)
parser.add_argument("--preempt", action="append", default=[])
args = parser.parse_args()

UPSTREAM = ("127.0.0.1", args.upstream_port)
PREEMPT = dict(p.split("=", 1) for p in args.preempt)

state_lock = threading.Lock()
target_locks = {}
log = []


def lock_for(path):
    with state_lock:
        return target_locks.setdefault(path, threading.Lock())


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def upstream(self, method, body=None):
        connection = http.client.HTTPConnection(*UPSTREAM, timeout=60)
        # http.client sets Content-Length from the body.
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding", "expect", "if-none-match")
        }
        connection.request(method, self.path, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        connection.close()
        return answer, data

    def answer(self, status, headers, data):
        self.send_response(status)
        length = str(len(data))
        for name, value in headers:
            if name.lower() == "content-length" and self.command == "HEAD":
                length = value  # a HEAD answer has no body but tells the size
            elif name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        with state_lock:
            log.append([self.command, self.path, status])

    def forward(self):
        if self.path == "/_proxy/log":
            with state_lock:
                data = json.dumps(log).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        # (http.server answers `Expect: 100-continue` itself.)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        conditional = self.command == "PUT" and self.headers.get("If-None-Match", "").strip() == "*"
        if not conditional:
            answer, data = self.upstream(self.command, body if self.command in ("PUT", "POST") else None)
            return self.answer(answer.status, answer.getheaders(), data)
        if args.delay:
            time.sleep(args.delay)
        with lock_for(self.path):
            for suffix, text in list(PREEMPT.items()):
                if self.path.endswith(suffix):
                    del PREEMPT[suffix]
                    self.upstream("PUT", text.encode())
            head, _ = self.upstream("HEAD")
            if head.status == 200:
                message = b"Precondition Failed: the target exists (If-None-Match: *)\n"
                return self.answer(412, [("Content-Type", "text/plain")], message)
            answer, data = self.upstream("PUT", body)
            return self.answer(answer.status, answer.getheaders(), data)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_MKCOL = do_OPTIONS = forward


server = ThreadingHTTPServer(("127.0.0.1", args.port), Proxy)
server.daemon_threads = True
server.serve_forever()
