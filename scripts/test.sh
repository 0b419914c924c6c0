#!/usr/bin/env bash
# The project's test command (README, .ci/run): install the test servers, then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-servers.sh
export PATH="$PWD/target/test-tools/bin:$PATH"
cargo test --workspace --locked
