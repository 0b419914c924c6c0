#!/usr/bin/env python3
"""A stateful FAKE of the GitHub REST API endpoints cubeship uses (releases and release assets).

This is not GitHub: it was written from GitHub's public REST documentation
(docs.github.com/rest/releases/releases and /rest/releases/assets, API version 2022-11-28),
because no real GitHub server can run in the test environment. It models only what cubeship
depends on, and rejects what GitHub rejects:

  GET    /repos/{o}/{r}                                 401 without/with a bad token; 404 unknown
  GET    /repos/{o}/{r}/releases/tags/{tag}             published releases only (drafts: 404)
  GET    /repos/{o}/{r}/releases?per_page&page          drafts included for writers
  POST   /repos/{o}/{r}/releases                        422 already_exists on a duplicate tag
  GET    /repos/{o}/{r}/releases/{id}/assets?per_page&page
  POST   /uploads/repos/{o}/{r}/releases/{id}/assets?name=N   (the host/path of `upload_url`)
         needs Content-Type and Content-Length (no chunked body), `name`; 422 already_exists on
         a duplicate name; 422 for 2 GiB or more; stores a `digest` "sha256:<hex>". The asset
         exists in state "starter" (listed, holding its name, not downloadable) from the
         start of the upload until its body has arrived, and stays so if the upload breaks;
         uploads run concurrently with other requests. `created_at` is the upload's start.
  GET    /repos/{o}/{r}/releases/assets/{id}            JSON; Accept: application/octet-stream → 302
  PATCH  /repos/{o}/{r}/releases/assets/{id}            rename; 422 already_exists
  DELETE /repos/{o}/{r}/releases/assets/{id}            204
  GET    /{o}/{r}/releases/download/{tag}/{name}        anonymous browser download: 302 to
         /_storage/{asset id}/{name}, which serves the bytes; 404 for private repositories,
         draft releases and incomplete assets (as for an anonymous visitor on github.com)

Test-only admin endpoints (no auth):
  POST /_fake/fault     {"method": "PATCH", "path_contains": "...", "asset_name_prefix": "...",
                         "status": 500, "times": 1, "rate_limit_reset_in": 2,
                         "retry_after": 1, "leave_starter": true}
                        queues a rule: the next `times` matching requests get `status`.
                        `rate_limit_reset_in` answers like GitHub's primary rate limit (403,
                        x-ratelimit-remaining: 0, x-ratelimit-reset: now + N); `leave_starter` on
                        an upload leaves the asset behind in state "starter", as GitHub's 502 may.
  POST /_fake/clear_faults                          drops every queued fault
  POST /_fake/release   {"owner","repo","tag","draft"}   creates a release directly
  POST /_fake/asset     {"owner","repo","tag","name","content","state","digest": false,
                         "created_at": "2025-01-01T00:00:00Z"}
  POST /_fake/config    {"upload_delay": 0.5}  every upload then takes that long after its
                        body arrived (real uploads take seconds: lets concurrent runs overlap)
  GET  /_fake/state     every release with its assets (JSON)
  GET  /_fake/log       every request: method, path, status, time

Usage: github_fake.py --port P --token T[:SCOPES] ... --repo OWNER/REPO[:private] ...
A token with SCOPES (comma-separated, e.g. "repo" or "read:org") is a classic token and gets
an X-OAuth-Scopes header; one without is fine-grained with write access. `--read-only-token T`
is a fine-grained token that can read but not push.
"""

import argparse
import hashlib
import json
import re
import threading
import time
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

from fake_base import FakeHandler

MAX_ASSET_SIZE = 2 * 1024 * 1024 * 1024

lock = threading.RLock()
state = {
    "tokens": {},  # token -> {"scopes": str|None, "push": bool}
    "repos": {},  # "o/r" -> {"private": bool, "id": int}
    "releases": [],  # dicts with "assets": list of dicts (content kept as bytes)
    "faults": [],
    "log": [],
    "next_id": 1,
    "upload_delay": 0,  # seconds an upload takes after its body arrived (POST /_fake/config)
}


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def next_id():
    with lock:
        value = state["next_id"]
        state["next_id"] += 1
        return value


def validation_failed(resource, field, code="already_exists"):
    return {
        "message": "Validation Failed",
        "errors": [{"resource": resource, "code": code, "field": field}],
        "documentation_url": "https://docs.github.com/rest",
    }


class Handler(FakeHandler):
    server_version = "github-fake/1"
    state = state
    lock = lock

    # ---- plumbing -------------------------------------------------------------------------

    def send(self, status, body=None, headers=None):
        super().send(status, body, headers, content_type="application/json; charset=utf-8")

    def token(self):
        return self.bearer_token(schemes=("Bearer", "token"))

    def authenticate(self):
        """(ok, token info); answers 401 itself when a token is given but unknown. GitHub
        answers "Bad credentials" to an unknown token, even on public resources."""
        token = self.token()
        if token is None:
            return True, None
        info = state["tokens"].get(token)
        if info is None:
            self.drain()
            self.send(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
            return False, None
        return True, info

    def scope_headers(self, info):
        if info and info.get("scopes") is not None:
            return {"X-OAuth-Scopes": info["scopes"], "X-Accepted-OAuth-Scopes": "repo"}
        return {}

    def can_write(self, info, repo):
        if info is None:
            return False
        if info.get("scopes") is not None:
            scopes = [s.strip() for s in info["scopes"].split(",")]
            return "repo" in scopes or ("public_repo" in scopes and not repo["private"])
        return info.get("push", False)

    def fault(self, asset_name=None):
        """Applies the first matching queued fault; True when it answered."""
        prefix_matches = lambda rule: (asset_name or "").startswith(rule.get("asset_name_prefix") or "")
        rule = self.take_fault(prefix_matches)
        if rule is None:
            return False
        headers = {}
        status = rule.get("status", 500)
        body = {"message": "injected fault"}
        if "rate_limit_reset_in" in rule:
            status = rule.get("status", 403)
            headers = {
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(time.time()) + int(rule["rate_limit_reset_in"])),
            }
            body = {"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com/rest/rate-limit"}
        if "retry_after" in rule:
            headers["Retry-After"] = str(rule["retry_after"])
        if rule.get("leave_starter"):
            self.leave_starter()
        self.drain()
        self.send(status, body, headers)
        return True

    # ---- model ----------------------------------------------------------------------------

    def find_repo(self, owner, name, info):
        """The repository, or None when it does not exist or this caller cannot see it."""
        repo = state["repos"].get("%s/%s" % (owner, name))
        if repo is None:
            return None
        if repo["private"] and info is None:
            return None
        return repo

    def release_json(self, release):
        base = self.base()
        path = "%s/%s" % (release["owner"], release["repo"])
        return {
            "url": "%s/repos/%s/releases/%d" % (base, path, release["id"]),
            "id": release["id"],
            "tag_name": release["tag"],
            "name": release["tag"],
            "draft": release["draft"],
            "prerelease": False,
            "html_url": "%s/%s/releases/tag/%s" % (base, path, quote(release["tag"])),
            "assets_url": "%s/repos/%s/releases/%d/assets" % (base, path, release["id"]),
            # Served under another path than the API, as uploads.github.com is another host.
            "upload_url": "%s/uploads/repos/%s/releases/%d/assets{?name,label}" % (base, path, release["id"]),
            "assets": [self.asset_json(release, a) for a in release["assets"]],
        }

    def asset_json(self, release, asset):
        base = self.base()
        path = "%s/%s" % (release["owner"], release["repo"])
        out = {
            "url": "%s/repos/%s/releases/assets/%d" % (base, path, asset["id"]),
            "browser_download_url": "%s/%s/releases/download/%s/%s"
            % (base, path, quote(release["tag"], safe=""), quote(asset["name"], safe="")),
            "id": asset["id"],
            "name": asset["name"],
            "label": None,
            "state": asset["state"],
            "content_type": asset["content_type"],
            "size": len(asset["content"]),
            "download_count": 0,
            "created_at": asset.get("created_at", "2025-01-01T00:00:00Z"),
            "updated_at": asset.get("created_at", "2025-01-01T00:00:00Z"),
        }
        if asset.get("digest", True):
            out["digest"] = "sha256:" + hashlib.sha256(asset["content"]).hexdigest()
        return out

    def releases_of(self, owner, name):
        return [r for r in state["releases"] if r["owner"] == owner and r["repo"] == name]

    def find_asset(self, owner, name, asset_id):
        for release in self.releases_of(owner, name):
            for asset in release["assets"]:
                if asset["id"] == asset_id:
                    return release, asset
        return None, None

    def leave_starter(self):
        match = re.match(r"^/uploads/repos/([^/]+)/([^/]+)/releases/(\d+)/assets$", urlsplit(self.path).path)
        names = parse_qs(urlsplit(self.path).query).get("name")
        if not match or not names:
            return
        for release in self.releases_of(match.group(1), match.group(2)):
            if release["id"] == int(match.group(3)) and not any(a["name"] == names[0] for a in release["assets"]):
                release["assets"].append(
                    {"id": next_id(), "name": names[0], "state": "starter", "content": b"", "content_type": "application/octet-stream", "created_at": now_iso()}
                )

    # ---- routes ---------------------------------------------------------------------------

    def route(self):
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        if path.startswith("/_fake/"):
            return self.admin(path)
        if path.startswith("/_storage/"):
            return self.storage(path)
        with lock:
            ok, info = self.authenticate()
            if not ok:
                return
            m = re.match(r"^/([^/]+)/([^/]+)/releases/download/([^/]+)/([^/]+)$", path)
            if m and self.command == "GET" and not path.startswith("/repos/"):
                return self.browser_download(*[unquote(g) for g in m.groups()])
            m = re.match(r"^/uploads/repos/([^/]+)/([^/]+)/releases/(\d+)/assets$", path)
            if m and self.command == "POST":
                return self.upload(m.group(1), m.group(2), int(m.group(3)), query, info)
            m = re.match(r"^/repos/([^/]+)/([^/]+)(/.*)?$", path)
            if not m:
                self.drain()
                return self.send(404, {"message": "Not Found"})
            owner, name, rest = m.group(1), m.group(2), m.group(3) or ""
            repo = self.find_repo(owner, name, info)
            if repo is None:
                self.drain()
                return self.send(404, {"message": "Not Found"})
            asset_name = None
            am = re.match(r"^/releases/assets/(\d+)$", rest)
            if am:
                _, asset = self.find_asset(owner, name, int(am.group(1)))
                asset_name = asset["name"] if asset else None
            if self.fault(asset_name):
                return
            return self.api(owner, name, repo, rest, query, info)

    def api(self, owner, name, repo, rest, query, info):
        writer = self.can_write(info, repo)
        headers = self.scope_headers(info)
        if rest == "" and self.command == "GET":
            body = {
                "id": repo["id"],
                "name": name,
                "full_name": "%s/%s" % (owner, name),
                "private": repo["private"],
            }
            if info is not None:
                body["permissions"] = {"admin": False, "maintain": False, "push": writer, "triage": writer, "pull": True}
            return self.send(200, body, headers)
        m = re.match(r"^/releases/tags/(.+)$", rest)
        if m and self.command == "GET":
            tag = unquote(m.group(1))
            for release in self.releases_of(owner, name):
                if release["tag"] == tag and not release["draft"]:
                    return self.send(200, self.release_json(release), headers)
            return self.send(404, {"message": "Not Found"}, headers)
        if rest == "/releases" and self.command == "GET":
            per_page = int(query.get("per_page", ["30"])[0])
            page = int(query.get("page", ["1"])[0])
            visible = [r for r in self.releases_of(owner, name) if writer or not r["draft"]]
            visible.sort(key=lambda r: -r["id"])
            chunk = visible[(page - 1) * per_page: page * per_page]
            return self.send(200, [self.release_json(r) for r in chunk], headers)
        if rest == "/releases" and self.command == "POST":
            body = self.read_json()
            if not writer:
                return self.send(404 if info is None else 403, {"message": "Resource not accessible by personal access token"})
            if not body or not body.get("tag_name"):
                return self.send(422, validation_failed("Release", "tag_name", "missing_field"))
            if any(r["tag"] == body["tag_name"] for r in self.releases_of(owner, name)):
                return self.send(422, validation_failed("Release", "tag_name"))
            release = {"id": next_id(), "owner": owner, "repo": name, "tag": body["tag_name"], "draft": bool(body.get("draft")), "assets": []}
            state["releases"].append(release)
            return self.send(201, self.release_json(release), headers)
        m = re.match(r"^/releases/(\d+)/assets$", rest)
        if m and self.command == "GET":
            for release in self.releases_of(owner, name):
                if release["id"] == int(m.group(1)) and (writer or not release["draft"]):
                    per_page = int(query.get("per_page", ["30"])[0])
                    page = int(query.get("page", ["1"])[0])
                    chunk = release["assets"][(page - 1) * per_page: page * per_page]
                    return self.send(200, [self.asset_json(release, a) for a in chunk], headers)
            return self.send(404, {"message": "Not Found"})
        m = re.match(r"^/releases/assets/(\d+)$", rest)
        if m:
            release, asset = self.find_asset(owner, name, int(m.group(1)))
            if asset is None or (release["draft"] and not writer):
                self.drain()
                return self.send(404, {"message": "Not Found"})
            if self.command == "GET":
                if "application/octet-stream" in self.headers.get("Accept", ""):
                    return self.send(302, b"", {"Location": "%s/_storage/%d/%s" % (self.base(), asset["id"], quote(asset["name"], safe=""))})
                return self.send(200, self.asset_json(release, asset), headers)
            if not writer:
                self.drain()
                return self.send(403, {"message": "Resource not accessible by personal access token"})
            if self.command == "PATCH":
                body = self.read_json() or {}
                new_name = body.get("name", asset["name"])
                if any(a["name"] == new_name and a is not asset for a in release["assets"]):
                    return self.send(422, validation_failed("ReleaseAsset", "name"))
                asset["name"] = new_name
                return self.send(200, self.asset_json(release, asset), headers)
            if self.command == "DELETE":
                release["assets"].remove(asset)
                return self.send(204, None, headers)
        self.drain()
        return self.send(404, {"message": "Not Found"})

    def upload(self, owner, name, release_id, query, info):
        repo = self.find_repo(owner, name, info)
        if info is None:
            self.drain()
            return self.send(401, {"message": "Requires authentication"})
        if repo is None:
            self.drain()
            return self.send(404, {"message": "Not Found"})
        if not self.can_write(info, repo):
            self.drain()
            return self.send(403, {"message": "Resource not accessible by personal access token"})
        release = next((r for r in self.releases_of(owner, name) if r["id"] == release_id), None)
        if release is None:
            self.drain()
            return self.send(404, {"message": "Not Found"})
        asset_name = query.get("name", [None])[0]
        if self.fault(asset_name):
            return
        if not asset_name:
            self.drain()
            return self.send(422, validation_failed("ReleaseAsset", "name", "missing_field"))
        if not self.headers.get("Content-Type"):
            self.drain()
            return self.send(422, {"message": "Bad Content-Type header value", "documentation_url": "https://docs.github.com/rest/releases/assets#upload-a-release-asset"})
        length = self.headers.get("Content-Length")
        if length is None:
            self.drain()
            return self.send(411, {"message": "Content-Length required (chunked uploads are not accepted)"})
        length = int(length)
        if length >= MAX_ASSET_SIZE:
            self.close_connection = True
            return self.send(422, validation_failed("ReleaseAsset", "size", "invalid"))
        if any(a["name"] == asset_name for a in release["assets"]):
            self.drain()
            return self.send(422, validation_failed("ReleaseAsset", "name"))
        # As on GitHub, the asset exists from the start of the upload, in state "starter": it
        # holds the name, other clients list it, and it stays behind if the upload breaks.
        # Other requests are served meanwhile (the lock is released while the body arrives).
        asset = {"id": next_id(), "name": asset_name, "state": "starter", "content": b"",
                 "content_type": self.headers["Content-Type"], "created_at": now_iso()}
        release["assets"].append(asset)
        lock.release()
        try:
            content = self.rfile.read(length)
            if state["upload_delay"]:
                time.sleep(state["upload_delay"])
        finally:
            lock.acquire()
        if len(content) != length:
            self.close_connection = True
            return
        asset["content"] = content
        asset["state"] = "uploaded"
        return self.send(201, self.asset_json(release, asset))

    def browser_download(self, owner, name, tag, asset_name):
        repo = state["repos"].get("%s/%s" % (owner, name))
        # Anonymous visitors see only public repositories and published releases.
        if repo is None or repo["private"]:
            return self.send(404, b"Not Found")
        for release in self.releases_of(owner, name):
            if release["tag"] == tag and not release["draft"]:
                for asset in release["assets"]:
                    if asset["name"] == asset_name and asset["state"] == "uploaded":
                        location = "%s/_storage/%d/%s" % (self.base(), asset["id"], quote(asset_name, safe=""))
                        return self.send(302, b"", {"Location": location})
        return self.send(404, b"Not Found")

    def storage(self, path):
        m = re.match(r"^/_storage/(\d+)/", path)
        with lock:
            for release in state["releases"]:
                for asset in release["assets"]:
                    if m and asset["id"] == int(m.group(1)):
                        return self.send(200, asset["content"], {"Content-Type": "application/octet-stream"})
        return self.send(404, b"Not Found")

    def admin(self, path):
        with lock:
            if path == "/_fake/state" and self.command == "GET":
                out = []
                for release in state["releases"]:
                    out.append({
                        "owner": release["owner"], "repo": release["repo"], "tag": release["tag"], "draft": release["draft"],
                        "assets": [{"id": a["id"], "name": a["name"], "state": a["state"], "sha256": hashlib.sha256(a["content"]).hexdigest()} for a in release["assets"]],
                    })
                return self.send(200, out)
            if path == "/_fake/log" and self.command == "GET":
                return self.send(200, state["log"])
            body = self.read_json() or {}
            if path == "/_fake/fault" and self.command == "POST":
                body.setdefault("times", 1)
                state["faults"].append(body)
                return self.send(204, None)
            if path == "/_fake/config" and self.command == "POST":
                state["upload_delay"] = float(body.get("upload_delay", 0))
                return self.send(204, None)
            if path == "/_fake/clear_faults" and self.command == "POST":
                state["faults"].clear()
                return self.send(204, None)
            if path == "/_fake/release" and self.command == "POST":
                release = {"id": next_id(), "owner": body["owner"], "repo": body["repo"], "tag": body["tag"], "draft": bool(body.get("draft")), "assets": []}
                state["releases"].append(release)
                return self.send(201, {"id": release["id"]})
            if path == "/_fake/asset" and self.command == "POST":
                for release in self.releases_of(body["owner"], body["repo"]):
                    if release["tag"] == body["tag"]:
                        asset = {"id": next_id(), "name": body["name"], "state": body.get("state", "uploaded"), "content": body.get("content", "").encode(), "content_type": "application/octet-stream", "digest": body.get("digest", True), "created_at": body.get("created_at", now_iso())}
                        release["assets"].append(asset)
                        return self.send(201, {"id": asset["id"]})
                return self.send(404, {"message": "no such release"})
        return self.send(404, {"message": "unknown admin endpoint"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", action="append", default=[])
    parser.add_argument("--read-only-token", action="append", default=[])
    parser.add_argument("--repo", action="append", default=[])
    args = parser.parse_args()
    for spec in args.token:
        token, _, scopes = spec.partition(":")
        state["tokens"][token] = {"scopes": scopes or None, "push": True}
    for token in args.read_only_token:
        state["tokens"][token] = {"scopes": None, "push": False}
    for spec in args.repo:
        full, _, flag = spec.partition(":")
        state["repos"][full] = {"private": flag == "private", "id": next_id()}
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
