"""A local server imitating the links `cubeship verify`'s link doctor explains, for the e2e
tests (tests/e2e/linkdoctor.rs). It never contacts anything.

Served directly (http://127.0.0.1:PORT/...):
  /files/weights.tar.gz        the file itself (application/gzip)
  /presigned/weights.tar.gz    the same file; the test adds X-Amz-* query parameters
  /drive/uc                    Google Drive's "can't scan this file for viruses" page (200, HTML)
  /private/weights.tar.gz      302 to /accounts/login, a sign-in page served with 200
  /octet-html                  an HTML page labelled application/octet-stream
  /missing                     404
  /slow/weights.bin            4 MiB sent in 64 KiB pieces over ~3 s (the progress-bar test)

Also an HTTP proxy (absolute-form request lines), so that share links of real hosts can be
imitated without leaving the machine: the test sets HTTP_PROXY to this server and asks for
http://www.dropbox.com/... and http://github.com/...:
  www.dropbox.com/scl/fi/*     the preview page (HTML) unless dl=1, then the file
  github.com/*/blob/*          GitHub's page that shows a file (HTML)
Every request is logged as "METHOD URL" in /_log (JSON list).
"""

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FILE = bytes(range(256)) * 64  # 16 KiB, the "weights"

DRIVE_PAGE = b"""<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head>
<body><div class="uc-main"><p class="uc-warning-subcaption">Google Drive can't scan this file for
viruses.</p><p>weights.tar.gz (2.1G) is too large for Google to scan for viruses. Would you still
like to download this file?</p><form id="download-form" action="https://drive.usercontent.google.com/download" method="get">
<input type="submit" id="uc-download-link" value="Download anyway">
<input type="hidden" name="id" value="1FakeDriveId_42">
<input type="hidden" name="export" value="download">
<input type="hidden" name="confirm" value="t">
<input type="hidden" name="uuid" value="0000-1111"></form></div></body></html>
"""

LOGIN_PAGE = b"""<!doctype html>
<html><head><title>Sign in</title></head><body><form method="post" action="/accounts/login">
<input name="user"><input type="password" name="password"></form></body></html>
"""

DROPBOX_PREVIEW = b"""<!DOCTYPE html><html><head><title>weights.tar.gz - Dropbox</title></head>
<body><div id="preview">Preview of weights.tar.gz</div></body></html>
"""

GITHUB_BLOB = b"""

  <!DOCTYPE html>
<html lang="en"><head><title>medperf/mlcube.yaml at main</title></head><body>blob view</body></html>
"""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log = []

    def log_message(self, *args):
        pass

    def send(self, status, body, content_type, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        Handler.log.append("%s %s" % (self.command, self.path))
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        host = (url.hostname or "").lower()
        if host in ("www.dropbox.com", "dropbox.com"):
            if query.get("dl") == ["1"]:
                return self.send(200, FILE, "application/octet-stream")
            return self.send(200, DROPBOX_PREVIEW, "text/html; charset=utf-8")
        if host == "github.com" and "/blob/" in url.path:
            return self.send(200, GITHUB_BLOB, "text/html; charset=utf-8")
        if host not in ("", "127.0.0.1", "localhost"):
            return self.send(502, b"this test proxy imitates only a few hosts\n", "text/plain")
        path = url.path
        if path == "/_log":
            return self.send(200, json.dumps(Handler.log).encode(), "application/json")
        if path in ("/files/weights.tar.gz", "/presigned/weights.tar.gz"):
            return self.send(200, FILE, "application/gzip")
        if path == "/drive/uc":
            return self.send(200, DRIVE_PAGE, "text/html; charset=utf-8")
        if path == "/private/weights.tar.gz":
            return self.send(302, b"", "text/plain", [("Location", "/accounts/login?next=/private/weights.tar.gz")])
        if path == "/accounts/login":
            return self.send(200, LOGIN_PAGE, "text/html")
        if path == "/slow/weights.bin":
            block = bytes(range(256)) * 256
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(block) * 64))
            self.end_headers()
            for _ in range(64):
                self.wfile.write(block)
                self.wfile.flush()
                time.sleep(0.045)
            return None
        if path == "/octet-html":
            return self.send(200, DROPBOX_PREVIEW, "application/octet-stream")
        return self.send(404, b"not found\n", "text/plain")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
