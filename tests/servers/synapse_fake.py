#!/usr/bin/env python3
"""A stateful FAKE of the Synapse REST API endpoints cubeship uses (entities, annotations v2,
multipart upload, file handle batch download).

This is not Synapse: it was written from Synapse's public REST documentation
(rest-docs.synapse.org: POST /file/multipart, POST /file/multipart/{uploadId}/presigned/url/batch,
PUT /file/multipart/{uploadId}/add/{partNumber}, PUT /file/multipart/{uploadId}/complete,
POST /fileHandle/batch, POST /entity, PUT /entity/{id}, POST /entity/child,
GET /entity/{id}/permissions, GET|PUT /entity/{id}/annotations2, and the model pages
MultipartUploadRequest, MultipartUploadStatus, BatchPresignedUploadUrlRequest, AddPartResponse,
UserEntityPermissions, FileEntity, BatchFileRequest), because no Synapse server can run in the
test environment. It models only what cubeship depends on, and rejects what Synapse rejects:

  repo (under /repo/v1), file (under /file/v1): all need `Authorization: Bearer <token>` (401
  otherwise, body {"reason": ...}).
  GET  /repo/v1/userProfile                         {ownerId, userName}
  GET  /repo/v1/entity/{id}                         the latest version; 404 unknown
  POST /repo/v1/entity                              FileEntity or Folder: 400 bad name (Synapse's
       allowed characters), 404 unknown parent, 403 without edit access or for a file handle
       created by someone else, 409 name taken under the parent; 201 with the entity
  PUT  /repo/v1/entity/{id}[?newVersion=true]       412 when the etag is not the current one; a
       new dataFileHandleId with another MD5 (or newVersion=true) makes a new version, whose
       annotations are copied from the previous one (as Synapse does)
  POST /repo/v1/entity/child                        {parentId, entityName} -> {id}; 404 if none
  GET  /repo/v1/entity/{id}/permissions             UserEntityPermissions of the caller
  GET  /repo/v1/entity/{id}/annotations2            {id, etag, annotations: {k: {type, value}}}
  PUT  /repo/v1/entity/{id}/annotations2            412 on a stale etag; 400 on a bad value type
  POST /file/v1/file/multipart?forceRestart=        MultipartUploadRequest -> MultipartUploadStatus.
       The same request by the same user returns the same upload (uploadId, partsState) until
       forceRestart=true, also after completion. 400 for 0 bytes, more than 5 TiB, parts under
       5 MiB or over 10 000 parts.
  POST /file/v1/file/multipart/{id}/presigned/url/batch   {uploadId, partNumbers, contentType}
       -> {partPresignedUrls: [{partNumber, uploadPresignedUrl, signedHeaders}]}
  PUT  /file/v1/file/multipart/{id}/add/{n}?partMD5Hex=    ADD_FAILED unless the bytes PUT for
       part n have that MD5
  PUT  /file/v1/file/multipart/{id}/complete        400 while parts are missing, or when the
       parts do not add up to fileSizeBytes / contentMD5Hex; COMPLETED + resultFileHandleId
  POST /file/v1/fileHandle/batch                    BatchFileRequest -> BatchFileResult, with
       failureCode NOT_FOUND / UNAUTHORIZED, presigned download URLs on request

  Presigned storage (served here, like S3): any request carrying an Authorization header is
  refused with 403, as is a bad or expired signature or a Content-Type other than the signed one.
  PUT  /_storage/upload/{uploadId}/{n}?sig=…        stores the part; needs Content-Length (411)
  GET  /_storage/file/{fileHandleId}?sig=…          the file's bytes

Test-only admin endpoints (no auth):
  POST /_fake/fault   {"method": "PUT", "path_contains": "/_storage/upload/", "after": 2,
                       "action": "cut" | "hang" | "status", "status": 500, "times": 100,
                       "min_length": 5242880}
                      matches requests with at least `min_length` bytes of body (e.g. only the
                      full-size parts of a large file); the first `after` matching requests pass; the next `times` ones get the
                      action: "cut" reads part of the body and drops the connection without an
                      answer, "hang" stops answering for 600 s, "status" answers `status`.
  POST /_fake/clear_faults
  POST /_fake/entity  {"parentId", "name", "content", "annotations": {k: [v]}} a file entity
                      made directly (e.g. one uploaded by another tool, without sha256)
  GET  /_fake/state   entities with their versions (sha256 of the content, annotations), uploads
  GET  /_fake/log     every request: method, path, status, time, auth (Authorization present)

Usage: synapse_fake.py --port P --token T ... [--read-only-token T ...] --project synNNN ...
"""

import argparse
import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit, quote

from fake_base import FakeHandler

MIB = 1024 * 1024
MIN_PART = 5 * MIB
MAX_PARTS = 10000
MAX_FILE = 5 * 1024 ** 4
FILE_ENTITY = "org.sagebionetworks.repo.model.FileEntity"
FOLDER = "org.sagebionetworks.repo.model.Folder"
PROJECT = "org.sagebionetworks.repo.model.Project"
NAME_RE = re.compile(r"^[a-zA-Z0-9 _.+'()\-]{1,256}$")
SIGNING_KEY = uuid.uuid4().bytes
URL_LIFETIME = 15 * 60

lock = threading.RLock()
state = {
    "tokens": {},  # token -> {"user": str, "write": bool}
    "entities": {},  # id -> entity dict (versions inside)
    "handles": {},  # id -> {"content", "md5", "fileName", "contentType", "createdBy"}
    "uploads": {},  # uploadId -> upload dict
    "upload_keys": {},  # (user, request hash) -> uploadId
    "faults": [],
    "log": [],
    "next_id": 1000,
}


def next_id():
    with lock:
        state["next_id"] += 1
        return state["next_id"]


def sign(path, expires):
    return hmac.new(SIGNING_KEY, ("%s|%d" % (path, expires)).encode(), hashlib.sha256).hexdigest()


def presign(base, path):
    expires = int(time.time()) + URL_LIFETIME
    return "%s%s?X-Fake-Expires=%d&X-Fake-Signature=%s" % (base, path, expires, sign(path, expires))


def error(reason):
    return {"concreteType": "org.sagebionetworks.repo.model.ErrorResponse", "reason": reason}


def new_entity(kind, name, parent, created_by, handle=None, annotations=None):
    ident = "syn%d" % next_id()
    entity = {
        "id": ident,
        "name": name,
        "parentId": parent,
        "concreteType": kind,
        "etag": str(uuid.uuid4()),
        "createdBy": created_by,
        "versions": [],
    }
    if kind == FILE_ENTITY:
        entity["versions"].append({"versionNumber": 1, "dataFileHandleId": handle, "annotations": annotations or {}})
    else:
        entity["annotations"] = annotations or {}
    state["entities"][ident] = entity
    return entity


def entity_json(entity):
    out = {k: v for k, v in entity.items() if k not in ("versions", "annotations")}
    if entity["concreteType"] == FILE_ENTITY:
        latest = entity["versions"][-1]
        out["versionNumber"] = latest["versionNumber"]
        out["versionLabel"] = str(latest["versionNumber"])
        out["isLatestVersion"] = True
        out["dataFileHandleId"] = latest["dataFileHandleId"]
    return out


def annotations_of(entity):
    if entity["concreteType"] == FILE_ENTITY:
        return entity["versions"][-1]["annotations"]
    return entity["annotations"]


def handle_json(ident):
    handle = state["handles"][ident]
    return {
        "id": ident,
        "etag": handle["etag"],
        "concreteType": "org.sagebionetworks.repo.model.file.S3FileHandle",
        "createdBy": handle["createdBy"],
        "fileName": handle["fileName"],
        "contentType": handle["contentType"],
        "contentMd5": handle["md5"],
        "contentSize": len(handle["content"]),
        "storageLocationId": 1,
    }


def upload_status(upload):
    return {
        "uploadId": upload["uploadId"],
        "startedBy": upload["user"],
        "startedOn": upload["startedOn"],
        "updatedOn": upload["updatedOn"],
        "partsState": "".join("1" if n in upload["added"] else "0" for n in range(1, upload["parts"] + 1)),
        "state": upload["state"],
        "resultFileHandleId": upload.get("resultFileHandleId"),
    }


class Handler(FakeHandler):
    server_version = "synapse-fake/1"
    state = state
    lock = lock

    # ---- plumbing -------------------------------------------------------------------------

    def log_extra(self):
        return {"auth": self.headers.get("Authorization") is not None}

    def user(self):
        """The caller's token info, or None after answering 401."""
        token = self.bearer_token()
        info = state["tokens"].get(token) if token else None
        if info is None:
            self.drain()
            self.send(401, error("Invalid access token" if token else "Missing access token"))
        return info

    def fault(self):
        """Applies the first matching queued fault; True when it took the request over."""
        rule = self.take_fault()
        if rule is None:
            return False
        action = rule.get("action", "status")
        if action == "cut":
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(min(length // 2, 1 << 20))
            self.close_connection = True
            self.record(0)
            return True
        if action == "hang":
            self.record(0)
            time.sleep(600)
            self.close_connection = True
            return True
        self.read_body()
        self.send(rule.get("status", 500), error("injected fault"))
        return True

    # ---- routes ---------------------------------------------------------------------------

    def route(self):
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        if path.startswith("/_fake/"):
            return self.admin(path)
        if self.fault():
            return
        if path.startswith("/_storage/"):
            return self.storage(path, query)
        with lock:
            if not (path.startswith("/repo/v1/") or path.startswith("/file/v1/") or path.startswith("/auth/v1/")):
                self.read_body()
                return self.send(404, error("Not found"))
            info = self.user()
            if info is None:
                return
            if path.startswith("/repo/v1/"):
                return self.repo(path[len("/repo/v1"):], query, info)
            if path.startswith("/file/v1/"):
                return self.file(path[len("/file/v1"):], query, info)
            self.read_body()
            return self.send(404, error("Not found"))

    def repo(self, path, query, info):
        if path == "/userProfile" and self.command == "GET":
            return self.send(200, {"ownerId": info["user"], "userName": "user%s" % info["user"]})
        if path == "/entity" and self.command == "POST":
            return self.create_entity(self.read_json() or {}, info)
        if path == "/entity/child" and self.command == "POST":
            body = self.read_json() or {}
            for entity in state["entities"].values():
                if entity["parentId"] == body.get("parentId") and entity["name"] == body.get("entityName"):
                    return self.send(200, {"id": entity["id"]})
            return self.send(404, error("Entity not found"))
        m = re.match(r"^/entity/(syn\d+)(/permissions|/annotations2)?$", path)
        if not m:
            self.read_body()
            return self.send(404, error("Not found"))
        entity = state["entities"].get(m.group(1))
        if entity is None:
            self.read_body()
            return self.send(404, error("The resource you are attempting to access cannot be found"))
        rest = m.group(2) or ""
        if rest == "" and self.command == "GET":
            return self.send(200, entity_json(entity))
        if rest == "" and self.command == "PUT":
            return self.update_entity(entity, self.read_json() or {}, query, info)
        if rest == "/permissions" and self.command == "GET":
            write = info["write"]
            return self.send(200, {
                "canView": True, "canEdit": write, "canMove": write, "canAddChild": write,
                "canCertifiedUserEdit": write, "canCertifiedUserAddChild": write,
                "isCertifiedUser": True, "canChangePermissions": False, "canChangeSettings": False,
                "canDelete": write, "canDownload": True, "canUpload": True,
                "canEnableInheritance": False, "ownerPrincipalId": 1, "canPublicRead": False,
                "canModerate": False, "isCertificationRequired": True, "isEntityOpenData": False,
            })
        if rest == "/annotations2" and self.command == "GET":
            return self.send(200, {"id": entity["id"], "etag": entity["etag"], "annotations": annotations_of(entity)})
        if rest == "/annotations2" and self.command == "PUT":
            body = self.read_json() or {}
            if not info["write"]:
                return self.send(403, error("You lack UPDATE access to the requested entity."))
            if body.get("etag") != entity["etag"]:
                return self.send(412, error("Object: %s was updated since you last fetched it, retrieve it again and re-apply the update" % entity["id"]))
            annotations = body.get("annotations") or {}
            for key, value in annotations.items():
                if not re.match(r"^[A-Za-z0-9_.]+$", key) or not isinstance(value, dict) \
                        or value.get("type") not in ("STRING", "DOUBLE", "LONG", "TIMESTAMP_MS", "BOOLEAN") \
                        or not isinstance(value.get("value"), list):
                    return self.send(400, error("Invalid annotation %s" % key))
            if entity["concreteType"] == FILE_ENTITY:
                entity["versions"][-1]["annotations"] = annotations
            else:
                entity["annotations"] = annotations
            entity["etag"] = str(uuid.uuid4())
            return self.send(200, {"id": entity["id"], "etag": entity["etag"], "annotations": annotations})
        self.read_body()
        return self.send(404, error("Not found"))

    def check_handle(self, handle_id, info):
        handle = state["handles"].get(handle_id)
        if handle is None:
            return 404, error("FileHandle %s does not exist" % handle_id)
        if handle["createdBy"] != info["user"]:
            return 403, error("Only the creator of a FileHandle can assign it to an Entity")
        return None, None

    def create_entity(self, body, info):
        kind = body.get("concreteType")
        if kind not in (FILE_ENTITY, FOLDER):
            return self.send(400, error("Unsupported concreteType %s" % kind))
        name = body.get("name") or ""
        if not NAME_RE.match(name) or not name.strip():
            return self.send(400, error("Invalid Name: '%s'. Names may only contain: letters, numbers, spaces, underscores, hyphens, periods, plus signs, apostrophes, and parentheses" % name))
        parent = state["entities"].get(body.get("parentId"))
        if parent is None or parent["concreteType"] == FILE_ENTITY:
            return self.send(404, error("Parent %s does not exist" % body.get("parentId")))
        if not info["write"]:
            return self.send(403, error("You lack CREATE access to the requested entity."))
        if any(e["parentId"] == parent["id"] and e["name"] == name for e in state["entities"].values()):
            return self.send(409, error("An entity with the name: %s already exists with a parentId: %s" % (name, parent["id"])))
        handle = body.get("dataFileHandleId")
        if kind == FILE_ENTITY:
            status, err = self.check_handle(handle, info)
            if status:
                return self.send(status, err)
        entity = new_entity(kind, name, parent["id"], info["user"], handle)
        return self.send(201, entity_json(entity))

    def update_entity(self, entity, body, query, info):
        if not info["write"]:
            return self.send(403, error("You lack UPDATE access to the requested entity."))
        if body.get("id") != entity["id"]:
            return self.send(400, error("The ID in the body does not match the ID in the URL"))
        if body.get("etag") != entity["etag"]:
            return self.send(412, error("Object: %s was updated since you last fetched it, retrieve it again and re-apply the update" % entity["id"]))
        name = body.get("name", entity["name"])
        if not NAME_RE.match(name):
            return self.send(400, error("Invalid Name: '%s'" % name))
        entity["name"] = name
        if entity["concreteType"] == FILE_ENTITY:
            latest = entity["versions"][-1]
            handle = body.get("dataFileHandleId", latest["dataFileHandleId"])
            if handle != latest["dataFileHandleId"]:
                status, err = self.check_handle(handle, info)
                if status:
                    return self.send(status, err)
            old_md5 = state["handles"].get(latest["dataFileHandleId"], {}).get("md5")
            new_md5 = state["handles"].get(handle, {}).get("md5")
            force = query.get("newVersion", ["false"])[0] == "true"
            if force or (handle != latest["dataFileHandleId"] and (old_md5 is None or old_md5 != new_md5)):
                entity["versions"].append({
                    "versionNumber": latest["versionNumber"] + 1,
                    "dataFileHandleId": handle,
                    "annotations": json.loads(json.dumps(latest["annotations"])),
                })
            else:
                latest["dataFileHandleId"] = handle
        entity["etag"] = str(uuid.uuid4())
        return self.send(200, entity_json(entity))

    def file(self, path, query, info):
        if path == "/file/multipart" and self.command == "POST":
            return self.start_upload(self.read_json() or {}, query, info)
        if path == "/fileHandle/batch" and self.command == "POST":
            return self.batch(self.read_json() or {}, info)
        m = re.match(r"^/file/multipart/([^/]+)/(presigned/url/batch|add/(\d+)|complete)$", path)
        if not m:
            self.read_body()
            return self.send(404, error("Not found"))
        upload = state["uploads"].get(m.group(1))
        if upload is None or upload["user"] != info["user"]:
            self.read_body()
            return self.send(404, error("Upload %s does not exist" % m.group(1)))
        if m.group(2) == "presigned/url/batch" and self.command == "POST":
            body = self.read_json() or {}
            numbers = body.get("partNumbers") or []
            if body.get("uploadId") != upload["uploadId"] or not numbers:
                return self.send(400, error("uploadId and partNumbers are required"))
            urls = []
            for n in numbers:
                if not isinstance(n, int) or n < 1 or n > upload["parts"]:
                    return self.send(400, error("Part number %s is out of range" % n))
                content_type = body.get("contentType") or "application/octet-stream"
                urls.append({
                    "partNumber": n,
                    "uploadPresignedUrl": presign(self.base(), "/_storage/upload/%s/%d" % (upload["uploadId"], n)),
                    "signedHeaders": {"Content-Type": content_type},
                })
                upload["signed_types"][n] = content_type
            return self.send(201, {"partPresignedUrls": urls})
        if m.group(3) and self.command == "PUT":
            self.read_body()
            n = int(m.group(3))
            md5 = (query.get("partMD5Hex") or [""])[0].lower()
            staged = upload["staged"].get(n)
            if staged is None:
                return self.send(200, {"uploadId": upload["uploadId"], "partNumber": n, "addPartState": "ADD_FAILED", "errorMessage": "The upload of part %d cannot be found" % n})
            if hashlib.md5(staged).hexdigest() != md5:
                return self.send(200, {"uploadId": upload["uploadId"], "partNumber": n, "addPartState": "ADD_FAILED", "errorMessage": "The provided MD5 does not match the MD5 of the uploaded part"})
            upload["added"][n] = staged
            upload["updatedOn"] = time.time()
            return self.send(200, {"uploadId": upload["uploadId"], "partNumber": n, "addPartState": "ADD_SUCCESS"})
        if m.group(2) == "complete" and self.command == "PUT":
            self.read_body()
            if upload["state"] == "COMPLETED":
                return self.send(200, upload_status(upload))
            missing = [n for n in range(1, upload["parts"] + 1) if n not in upload["added"]]
            if missing:
                return self.send(400, error("Missing parts: %s" % missing))
            request = upload["request"]
            for n in range(1, upload["parts"]):
                if len(upload["added"][n]) != request["partSizeBytes"]:
                    return self.send(400, error("Part %d is not %d bytes" % (n, request["partSizeBytes"])))
            content = b"".join(upload["added"][n] for n in range(1, upload["parts"] + 1))
            if len(content) != request["fileSizeBytes"] or hashlib.md5(content).hexdigest() != request["contentMD5Hex"].lower():
                return self.send(400, error("The parts do not make the declared file"))
            ident = str(next_id())
            state["handles"][ident] = {
                "content": content, "md5": hashlib.md5(content).hexdigest(), "etag": str(uuid.uuid4()),
                "fileName": request["fileName"], "contentType": request.get("contentType") or "application/octet-stream",
                "createdBy": info["user"],
            }
            upload["state"] = "COMPLETED"
            upload["resultFileHandleId"] = ident
            upload["staged"] = {}
            return self.send(200, upload_status(upload))
        self.read_body()
        return self.send(404, error("Not found"))

    def start_upload(self, body, query, info):
        if body.get("concreteType") != "org.sagebionetworks.repo.model.file.MultipartUploadRequest":
            return self.send(400, error("concreteType must be MultipartUploadRequest"))
        for field in ("fileName", "fileSizeBytes", "contentMD5Hex", "partSizeBytes"):
            if body.get(field) in (None, ""):
                return self.send(400, error("%s is required" % field))
        size, part = body["fileSizeBytes"], body["partSizeBytes"]
        if size < 1:
            return self.send(400, error("File size must be at least one bytes"))
        if size > MAX_FILE:
            return self.send(400, error("The maximum file size is 5 TB"))
        if part < MIN_PART:
            return self.send(400, error("Part size of %d bytes is too small.  The minimum part size is :%d bytes" % (part, MIN_PART)))
        parts = 1 if part > size else (size + part - 1) // part
        if parts > MAX_PARTS:
            return self.send(400, error("File Upload would required: %d parts, which exceeds the maximum number of allowed parts of: %d. Please choose a larger part size" % (parts, MAX_PARTS)))
        key = (info["user"], hashlib.md5(json.dumps(body, sort_keys=True).encode()).hexdigest())
        force = query.get("forceRestart", ["false"])[0] == "true"
        existing = state["upload_keys"].get(key)
        if existing and not force:
            return self.send(201, upload_status(state["uploads"][existing]))
        upload = {
            "uploadId": str(next_id()), "user": info["user"], "request": body, "parts": parts,
            "staged": {}, "added": {}, "signed_types": {}, "state": "UPLOADING",
            "startedOn": time.time(), "updatedOn": time.time(),
        }
        state["uploads"][upload["uploadId"]] = upload
        state["upload_keys"][key] = upload["uploadId"]
        return self.send(201, upload_status(upload))

    def batch(self, body, info):
        results = []
        for request in body.get("requestedFiles") or []:
            handle_id = request.get("fileHandleId")
            entity = state["entities"].get(request.get("associateObjectId"))
            result = {"fileHandleId": handle_id}
            if request.get("associateObjectType") != "FileEntity" or entity is None \
                    or entity["concreteType"] != FILE_ENTITY \
                    or handle_id not in [v["dataFileHandleId"] for v in entity["versions"]] \
                    or handle_id not in state["handles"]:
                result["failureCode"] = "NOT_FOUND"
            elif not info.get("download", True):
                result["failureCode"] = "UNAUTHORIZED"
            else:
                if body.get("includeFileHandles"):
                    result["fileHandle"] = handle_json(handle_id)
                if body.get("includePreSignedURLs"):
                    result["preSignedURL"] = presign(self.base(), "/_storage/file/%s" % handle_id)
            results.append(result)
        return self.send(201, {"requestedFiles": results})

    def storage(self, path, query):
        expires = int((query.get("X-Fake-Expires") or ["0"])[0])
        signature = (query.get("X-Fake-Signature") or [""])[0]
        if self.headers.get("Authorization") is not None:
            self.read_body()
            return self.send(403, b"<Error><Code>AccessDenied</Code><Message>Only one auth mechanism allowed; a presigned URL takes no Authorization header</Message></Error>")
        if not hmac.compare_digest(sign(path, expires), signature) or expires < time.time():
            self.read_body()
            return self.send(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>")
        with lock:
            m = re.match(r"^/_storage/upload/([^/]+)/(\d+)$", path)
            if m and self.command == "PUT":
                upload = state["uploads"].get(m.group(1))
                n = int(m.group(2))
                if self.headers.get("Content-Length") is None:
                    self.read_body()
                    return self.send(411, b"<Error><Code>MissingContentLength</Code></Error>")
                if upload is None or upload["state"] != "UPLOADING":
                    self.read_body()
                    return self.send(404, b"<Error><Code>NoSuchUpload</Code></Error>")
                if self.headers.get("Content-Type") != upload["signed_types"].get(n):
                    self.read_body()
                    return self.send(403, b"<Error><Code>SignatureDoesNotMatch</Code><Message>Content-Type is signed</Message></Error>")
            m2 = re.match(r"^/_storage/file/(\d+)$", path)
            if m2 and self.command == "GET":
                handle = state["handles"].get(m2.group(1))
                if handle is None:
                    return self.send(404, b"<Error><Code>NoSuchKey</Code></Error>")
                return self.send(200, handle["content"], {"Content-Type": handle["contentType"]})
        if m and self.command == "PUT":
            content = self.read_body()
            if len(content) != int(self.headers["Content-Length"]):
                self.close_connection = True
                self.record(0)
                return
            with lock:
                upload["staged"][n] = content
            return self.send(200, b"", {"ETag": '"%s"' % hashlib.md5(content).hexdigest()})
        self.read_body()
        return self.send(404, b"<Error><Code>NoSuchKey</Code></Error>")

    def admin(self, path):
        with lock:
            if path == "/_fake/log" and self.command == "GET":
                return self.send(200, state["log"])
            if path == "/_fake/state" and self.command == "GET":
                entities = []
                for entity in state["entities"].values():
                    out = entity_json(entity)
                    if entity["concreteType"] == FILE_ENTITY:
                        out["versions"] = [{
                            "versionNumber": v["versionNumber"],
                            "dataFileHandleId": v["dataFileHandleId"],
                            "sha256": hashlib.sha256(state["handles"][v["dataFileHandleId"]]["content"]).hexdigest(),
                            "annotations": v["annotations"],
                        } for v in entity["versions"]]
                    entities.append(out)
                uploads = [dict(upload_status(u), fileName=u["request"]["fileName"]) for u in state["uploads"].values()]
                return self.send(200, {"entities": entities, "uploads": uploads})
            body = self.read_json() or {}
            if path == "/_fake/fault" and self.command == "POST":
                body.setdefault("times", 1)
                state["faults"].append(body)
                return self.send(204, None)
            if path == "/_fake/clear_faults" and self.command == "POST":
                state["faults"].clear()
                return self.send(204, None)
            if path == "/_fake/entity" and self.command == "POST":
                content = body.get("content", "").encode()
                ident = str(next_id())
                user = next(iter(state["tokens"].values()))["user"]
                state["handles"][ident] = {
                    "content": content, "md5": hashlib.md5(content).hexdigest(), "etag": str(uuid.uuid4()),
                    "fileName": body["name"], "contentType": "application/octet-stream", "createdBy": user,
                }
                annotations = {k: {"type": "STRING", "value": v} for k, v in (body.get("annotations") or {}).items()}
                entity = new_entity(FILE_ENTITY, body["name"], body["parentId"], user, ident, annotations)
                return self.send(201, {"id": entity["id"]})
        return self.send(404, {"message": "unknown admin endpoint"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", action="append", default=[])
    parser.add_argument("--read-only-token", action="append", default=[])
    parser.add_argument("--project", action="append", default=[])
    args = parser.parse_args()
    for i, token in enumerate(args.token):
        state["tokens"][token] = {"user": str(3400000 + i), "write": True}
    for i, token in enumerate(args.read_only_token):
        state["tokens"][token] = {"user": str(3500000 + i), "write": False}
    for project in args.project:
        state["entities"][project] = {
            "id": project, "name": "Project %s" % project, "parentId": "syn4489",
            "concreteType": PROJECT, "etag": str(uuid.uuid4()), "createdBy": "3400000", "annotations": {},
        }
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
