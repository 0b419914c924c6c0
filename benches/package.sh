#!/usr/bin/env bash
# Benchmark: time and peak memory of `cubeship package` on a generated MLCube (default 1 GiB),
# next to GNU tar + gzip (and pigz when installed) on the same folder.
# Usage: benches/package.sh [SIZE_MIB]   (needs /usr/bin/time: apt-get install time)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/benches/common.sh"
SIZE_MIB=${1:-1024}
bench_setup
make_cube "$WORK/cube" "$SIZE_MIB"
SRC="$WORK/cube/workspace/additional_files"
echo "input: $(du -sh --apparent-size "$SRC" | cut -f1) in $(find "$SRC" -type f | wc -l) files; $(nproc) cores"
sync

timed "cubeship package (level 6, all cores)" "$BIN" package "$WORK/cube" --deploy-dir "$WORK/deploy"
ours=$LAST_SECONDS
ls -l "$WORK/deploy/additional_files.tar.gz" | awk '{printf "  archive: %.1f MiB\n", $5/1048576}'
timed "cubeship package pinned to 1 core (taskset)" taskset -c 0 "$BIN" package "$WORK/cube" --deploy-dir "$WORK/deploy1"
timed "GNU tar -czf (gzip -6, one thread)" tar -czf "$WORK/gnu.tar.gz" -C "$SRC" .
gnu=$LAST_SECONDS
ls -l "$WORK/gnu.tar.gz" | awk '{printf "  archive: %.1f MiB\n", $5/1048576}'
timed "GNU tar -c | sha256sum (read + hash only)" bash -c "tar -cf - -C '$SRC' . | sha256sum"
if command -v pigz >/dev/null; then
  timed "tar -c | pigz -6 (all cores)" bash -c "tar -cf - -C '$SRC' . | pigz -6 > '$WORK/pigz.tar.gz'"
fi
echo "ratio: GNU tar+gzip / cubeship = $(echo "$gnu / $ours" | bc -l | cut -c1-5)x"
