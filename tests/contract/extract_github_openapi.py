#!/usr/bin/env python3
"""Cuts the operations cubeship's GitHub provider calls out of GitHub's published OpenAPI
description (npm package @octokit/openapi, which republishes github/rest-api-description) into
tests/contract/github-releases.openapi.json, the spec the Prism contract test validates against.

Usage: extract_github_openapi.py [--version 23.0.2] [--from api.github.com.json]
Without --from it fetches the package with `npm pack` into a temporary folder, which is deleted
afterwards: only the small extract is committed. Rerun it after changing OPERATIONS or to move to
a newer description, and say so in tests/contract/README.md.
"""

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@octokit/openapi"
DEFAULT_VERSION = "23.0.2"
MEMBER = "package/generated/api.github.com.json"
OUTPUT = Path(__file__).resolve().parent / "github-releases.openapi.json"

# Every (path, method) providers/github/src/api.rs sends; keep in step with it.
OPERATIONS = [
    ("/repos/{owner}/{repo}", "get"),  # preflight: repository, permissions, token scopes
    ("/repos/{owner}/{repo}/releases/tags/{tag}", "get"),  # release by tag
    ("/repos/{owner}/{repo}/releases", "get"),  # draft fallback: list releases
    ("/repos/{owner}/{repo}/releases", "post"),  # --create-release
    ("/repos/{owner}/{repo}/releases/{release_id}/assets", "get"),  # list assets
    ("/repos/{owner}/{repo}/releases/{release_id}/assets", "post"),  # upload (uploads host)
    ("/repos/{owner}/{repo}/releases/assets/{asset_id}", "get"),  # download to hash
    ("/repos/{owner}/{repo}/releases/assets/{asset_id}", "patch"),  # rename (safe replace)
    ("/repos/{owner}/{repo}/releases/assets/{asset_id}", "delete"),
]


def download(version, folder):
    """The full description from the npm package, via the ordinary npm client."""
    subprocess.run(
        ["npm", "pack", "--silent", "%s@%s" % (PACKAGE, version)],
        cwd=folder,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    tarball = next(Path(folder).glob("*.tgz"))
    with tarfile.open(tarball) as archive:
        return json.load(archive.extractfile(MEMBER))


def refs_in(node):
    """Every local $ref under node, e.g. "#/components/schemas/release"."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def extract(full):
    paths = {}
    for path, method in OPERATIONS:
        item = full["paths"][path]
        kept = paths.setdefault(path, {k: v for k, v in item.items() if k in ("parameters", "summary", "description")})
        kept[method] = item[method]
    # Resolve $refs transitively: a component may reference others.
    components = {}
    pending = list(refs_in(paths))
    seen = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        if not ref.startswith("#/components/"):
            sys.exit("unexpected $ref %s" % ref)
        _, _, kind, name = ref.split("/", 3)
        target = full["components"][kind][name]
        components.setdefault(kind, {})[name] = target
        pending.extend(refs_in(target))
    for kind in components:
        components[kind] = dict(sorted(components[kind].items()))
    return {
        "openapi": full["openapi"],
        "info": dict(
            full["info"],
            title="GitHub REST API: the release operations cubeship uses",
            description="Cut from %s by tests/contract/extract_github_openapi.py; see tests/contract/README.md. %s"
            % (PACKAGE + "@" + full["info"]["version"], full["info"].get("description", "")),
        ),
        "servers": full["servers"],
        "paths": paths,
        "components": dict(sorted(components.items())),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default=DEFAULT_VERSION)
    parser.add_argument("--from", dest="source", type=Path, help="an api.github.com.json already on disk")
    args = parser.parse_args()
    if args.source:
        full = json.loads(args.source.read_text())
    else:
        with tempfile.TemporaryDirectory() as folder:
            full = download(args.version, folder)
    spec = extract(full)
    OUTPUT.write_text(json.dumps(spec, indent=1, ensure_ascii=False) + "\n")
    counts = {kind: len(items) for kind, items in spec["components"].items()}
    print("%s: %d operations, components %s, %d bytes" % (OUTPUT.name, len(OPERATIONS), counts, OUTPUT.stat().st_size))


if __name__ == "__main__":
    main()
