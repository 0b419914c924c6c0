"""Plumbing shared by the test fakes of REST APIs (github_fake.py, synapse_fake.py): JSON
replies that are logged, request bodies read or drained, bearer tokens, and the queue of
injected faults. Each fake subclasses FakeHandler and sets `state` (a dict with "log" and
"faults" lists) and `lock`.

Faults are dicts queued through the fake's admin API and matched in order:
  method, path_contains   the request to match (any when absent)
  min_length              only bodies of at least this many bytes
  after                   let this many matching requests through first
  times                   how many requests the fault takes over (default 1)
What a matched fault does is the fake's own business (an error status, a cut connection).
"""

import json
import re
import time
from http.server import BaseHTTPRequestHandler


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None
    lock = None

    def log_message(self, *args):
        pass

    def route(self):
        raise NotImplementedError

    def do_GET(self):
        self.route()

    def do_HEAD(self):
        self.route()

    def do_POST(self):
        self.route()

    def do_PUT(self):
        self.route()

    def do_PATCH(self):
        self.route()

    def do_DELETE(self):
        self.route()

    def base(self):
        return "http://%s" % self.headers.get("Host", "127.0.0.1")

    def log_extra(self):
        """Fields a fake adds to each entry of its request log."""
        return {}

    def record(self, status):
        entry = {"method": self.command, "path": self.path, "status": status, "time": time.time()}
        entry.update(self.log_extra())
        with self.lock:
            self.state["log"].append(entry)

    def send(self, status, body=None, headers=None, content_type="application/json"):
        data = b""
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        if body is not None and not isinstance(body, bytes):
            self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.record(status)

    def _body_chunks(self):
        length = self.headers.get("Content-Length")
        if length is None:
            # A chunked body is not read: close the connection instead of misreading it.
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                self.close_connection = True
            return
        remaining = int(length)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk

    def read_body(self):
        return b"".join(self._body_chunks())

    def drain(self):
        """Reads and discards the request body so the connection stays usable."""
        for _ in self._body_chunks():
            pass

    def read_json(self):
        raw = self.read_body()
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def bearer_token(self, schemes=("Bearer",)):
        header = self.headers.get("Authorization", "")
        match = re.match(r"^(?:%s)\s+(.+)$" % "|".join(schemes), header)
        return match.group(1).strip() if match else None

    def take_fault(self, matches=lambda rule: True):
        """The first queued fault that matches this request (and `matches`), used up by one;
        None when no fault applies."""
        with self.lock:
            for rule in self.state["faults"]:
                if rule.get("method") and rule["method"] != self.command:
                    continue
                if rule.get("path_contains") and rule["path_contains"] not in self.path:
                    continue
                if int(self.headers.get("Content-Length") or 0) < rule.get("min_length", 0):
                    continue
                if not matches(rule):
                    continue
                if rule.get("after", 0) > 0:
                    rule["after"] -= 1
                    return None
                rule["times"] = rule.get("times", 1) - 1
                if rule["times"] <= 0:
                    self.state["faults"].remove(rule)
                return rule
        return None
