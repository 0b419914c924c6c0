"""A reverse proxy that makes an S3 server behave like a bucket with ACLs disabled.

Since April 2023 new AWS buckets have Object Ownership "bucket owner enforced": any request that
carries an ACL (x-amz-acl or x-amz-grant-*) is refused with 400 AccessControlListNotSupported.
moto records ACLs but does not refuse them, so the tests put this proxy in front of it; every
other request is forwarded unchanged (moto does not check signatures, so the changed Host is
harmless).

Usage: acl_refusing_proxy.py LISTEN_PORT UPSTREAM_PORT
"""

import http.client
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = ("127.0.0.1", int(sys.argv[2]))

REFUSAL = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>AccessControlListNotSupported</Code>"
    b"<Message>The bucket does not allow ACLs</Message></Error>"
)


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if self.command in ("PUT", "POST") and any(
            name.lower() == "x-amz-acl" or name.lower().startswith("x-amz-grant-")
            for name in self.headers.keys()
        ):
            self.send_response(400)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(REFUSAL)))
            self.end_headers()
            self.wfile.write(REFUSAL)
            return
        upstream = http.client.HTTPConnection(*UPSTREAM, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "transfer-encoding"}
        upstream.request(self.command, self.path, body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        upstream.close()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = forward


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Proxy).serve_forever()
