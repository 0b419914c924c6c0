"""A file server that answers byte ranges, with injected misbehaviour, for the tests of
parallel ranged verification (tests/e2e/ranged.rs). It serves one file at /FILE-NAME.

Faults (POST /_fake/fault, matched in order by fake_base.FakeHandler.take_fault; a fault's
`range_from` only matches ranged GETs whose first byte is at or after that offset, its
`range_start` only those starting exactly there):
  {"action": "status", "status": 503}     answer that status instead
  {"action": "truncate"}                  send the headers of the whole range, then half its
                                          bytes, then close the connection
  {"action": "flip"}                      serve the range with one byte changed (the file
                                          changed between two requests)
  {"action": "bad_range"}                 answer 206 with a Content-Range of unknown total
                                          (`bytes S-E/*`), which says nothing of the size
  {"action": "no_range_header"}           answer 206 without a Content-Range

  GET  /_fake/log   every request: method, path, status, time, range ("-" when none)

Usage: range_server.py --port P --file PATH
"""

import argparse
import re
import threading
from http.server import ThreadingHTTPServer

from fake_base import FakeHandler

lock = threading.RLock()
state = {"log": [], "faults": [], "file": None, "range": "-"}


class Handler(FakeHandler):
    state = state
    lock = lock

    def log_extra(self):
        return {"range": self.headers.get("Range", "-")}

    def route(self):
        path = self.path.split("?", 1)[0]
        if path == "/_fake/log" and self.command == "GET":
            with self.lock:
                return self.send(200, list(self.state["log"]))
        if path == "/_fake/fault" and self.command == "POST":
            rule = self.read_json()
            with self.lock:
                self.state["faults"].append(rule)
            return self.send(200, {"queued": True})
        data = self.state["file"]
        name = "/" + self.state["name"]
        if path != name or self.command not in ("GET", "HEAD"):
            return self.send(404, {"error": "not found"})
        header = self.headers.get("Range")
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", header or "")
        if not match:
            return self.send(200, data, {"Content-Type": "application/octet-stream",
                                         "Accept-Ranges": "bytes"})
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) else len(data) - 1
        end = min(end, len(data) - 1)
        if start > end:
            return self.send(416, b"", {"Content-Range": "bytes */%d" % len(data)})
        fault = self.take_fault(lambda rule: rule.get("range_start", start) == start
                                and start >= rule.get("range_from", 0))
        action = fault.get("action") if fault else None
        body = data[start:end + 1]
        content_range = "bytes %d-%d/%d" % (start, end, len(data))
        headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
        if action == "status":
            return self.send(int(fault.get("status", 503)), {"error": "injected"})
        if action == "flip":
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        if action == "bad_range":
            content_range = "bytes %d-%d/*" % (start, end)
        if action != "no_range_header":
            headers["Content-Range"] = content_range
        if action == "truncate":
            self.send_response(206)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.record(206)
            return
        try:
            return self.send(206, body, headers)
        except (BrokenPipeError, ConnectionResetError):
            # The client took what it needed (a probe it falls back from): still logged.
            self.close_connection = True
            self.record(206)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", required=True)
    args = parser.parse_args()
    with open(args.file, "rb") as f:
        state["file"] = f.read()
    state["name"] = args.file.rsplit("/", 1)[-1]
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
