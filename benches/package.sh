#!/usr/bin/env bash
# Benchmark of `cubeship package` on the acceptance cube of issue #12 (default 1 GiB: ~80 %
# float32 weights, ~15 % text, 10,000 small JSON files), against GNU `tar -czf`, `tar -I pigz`
# (all cores, -6), Python `tarfile` at level 9, and the size of `gzip -6` of cubeship's own tar
# stream. Prints one table: wall, CPU, peak RSS, archive size and the ratios the issue targets.
# Every timing is the better of RUNS runs (default 2): the machine may be shared.
#
# Usage: benches/package.sh [SIZE_MIB] [--10g]
#   --10g  also packages a 10 GiB cube of the same mix once, for the flat-memory check (~11 GiB
#          of disk in BENCH_DIR, a few minutes).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/benches/common.sh"
SIZE_MIB=1024 TEN_G=0
for arg in "$@"; do
  case $arg in
    --10g) TEN_G=1 ;;
    *) SIZE_MIB=$arg ;;
  esac
done
RUNS=${RUNS:-2}
command -v pigz >/dev/null || apt-get install -y pigz >/dev/null
command -v bc >/dev/null || apt-get install -y bc >/dev/null
bench_setup
make_weights_cube "$WORK/acceptance-$SIZE_MIB" "$SIZE_MIB"
CUBE="$WORK/acceptance-$SIZE_MIB"
SRC="$CUBE/workspace/additional_files"
echo "input: $(du -sh --apparent-size "$SRC" | cut -f1) in $(find "$SRC" -type f | wc -l) files; $(nproc) cores; best of $RUNS runs"
find "$SRC" -type f -exec cat {} + > /dev/null

# best LABEL OUT CMD…: runs CMD $RUNS times; keeps the fastest run's wall, CPU and RSS.
ROWS=()
best() {
  local label=$1 out=$2; shift 2
  local best_wall="" row
  for _ in $(seq "$RUNS"); do
    rm -rf "$out"
    local log; log=$(mktemp)
    /usr/bin/time -f "%e %U %S %M" -o "$log" "$@" > /dev/null 2>&1 || { echo "$label: FAILED"; cat "$log"; exit 1; }
    read -r wall user sys kib < "$log"; rm -f "$log"
    if [ -z "$best_wall" ] || [ "$(echo "$wall < $best_wall" | bc)" = 1 ]; then
      best_wall=$wall; row="$wall $(echo "$user + $sys" | bc) $kib"
    fi
  done
  LAST="$row"
  ROWS+=("$label|$row")
}
size_of() { stat -c %s "$1"; }

best "cubeship package (level 6, all cores)" "$WORK/deploy" "$BIN" package "$CUBE" --deploy-dir "$WORK/deploy"
OURS=$LAST; OURS_SIZE=$(size_of "$WORK/deploy/additional_files.tar.gz")
best "GNU tar -czf (gzip -6, one thread)" "$WORK/gnu.tar.gz" tar -czf "$WORK/gnu.tar.gz" -C "$SRC" .
GNU=$LAST; GNU_SIZE=$(size_of "$WORK/gnu.tar.gz")
best "tar -I pigz (-6, all cores)" "$WORK/pigz.tar.gz" tar -I pigz -cf "$WORK/pigz.tar.gz" -C "$SRC" .
PIGZ=$LAST; PIGZ_SIZE=$(size_of "$WORK/pigz.tar.gz")
best "Python tarfile, level 9" "$WORK/py.tar.gz" python3 -c "import sys, tarfile
with tarfile.open(sys.argv[1], 'w:gz', compresslevel=9) as t: t.add(sys.argv[2], arcname='.')" "$WORK/py.tar.gz" "$SRC"
PY=$LAST; PY_SIZE=$(size_of "$WORK/py.tar.gz")
# The size target's baseline: gzip -6 of exactly the tar stream cubeship compressed.
GZIP6_SIZE=$(gzip -dc "$WORK/deploy/additional_files.tar.gz" | gzip -6 | wc -c)

printf '\n| run | wall | CPU | peak RSS | archive | size vs gzip -6 |\n|---|---|---|---|---|---|\n'
sizes=("$OURS_SIZE" "$GNU_SIZE" "$PIGZ_SIZE" "$PY_SIZE")
for i in "${!ROWS[@]}"; do
  IFS='|' read -r label row <<< "${ROWS[$i]}"
  read -r wall cpu kib <<< "$row"
  printf '| %s | %.2f s | %.2f s | %.1f MiB | %.1f MiB | %.4f× |\n' "$label" "$wall" "$cpu" \
    "$(echo "$kib / 1024" | bc -l)" "$(echo "${sizes[$i]} / 1048576" | bc -l)" "$(echo "${sizes[$i]} / $GZIP6_SIZE" | bc -l)"
done
printf '| gzip -6 of the same tar stream (size only) | | | | %.1f MiB | 1× |\n' "$(echo "$GZIP6_SIZE / 1048576" | bc -l)"

ratio() { echo "$1 / $2" | bc -l | cut -c1-5; }
read -r ow _ ok <<< "$OURS"; read -r gw _ _ <<< "$GNU"; read -r pw _ _ <<< "$PIGZ"; read -r yw _ _ <<< "$PY"
echo
printf 'targets: size %.4f× gzip -6 (≤ 1.01) | %s× faster than tar -I pigz (≥ 2) | %s× faster than tar -czf (≥ 8) | %s× faster than Python tarfile -9 | peak RSS %.1f MiB (≤ 128)\n' \
  "$(echo "$OURS_SIZE / $GZIP6_SIZE" | bc -l)" "$(ratio "$pw" "$ow")" "$(ratio "$gw" "$ow")" "$(ratio "$yw" "$ow")" "$(echo "$ok / 1024" | bc -l)"
python3 - "$WORK/deploy/additional_files.tar.gz" <<'PY'
import sys, tarfile, tempfile
with tempfile.TemporaryDirectory() as d, tarfile.open(sys.argv[1]) as t:
    t.extractall(d, filter="data")
print("the archive extracts with Python's tarfile data filter")
PY

if [ "$TEN_G" = 1 ]; then
  make_weights_cube "$WORK/acceptance-10240" 10240
  RUNS=1
  ROWS=()
  best "cubeship package, 10 GiB cube" "$WORK/deploy10" "$BIN" package "$WORK/acceptance-10240" --deploy-dir "$WORK/deploy10"
  read -r w c k <<< "$LAST"
  printf '10 GiB: wall %.2f s, CPU %.2f s, peak RSS %.1f MiB (≤ 128), archive %.1f MiB\n' "$w" "$c" "$(echo "$k / 1024" | bc -l)" \
    "$(echo "$(size_of "$WORK/deploy10/additional_files.tar.gz") / 1048576" | bc -l)"
  rm -rf "$WORK/deploy10"
fi
