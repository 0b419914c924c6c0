#!/usr/bin/env bash
# Benchmark of issue #12's overlap: the 1 GiB weights cube (make_weights_cube) packaged alone,
# then `package-and-publish` to moto and to s3s-fs on loopback (packaging, staged upload,
# promotion and verification overlapped), next to the sequential path it replaces
# (`package`, then `publish` of the deploy folder), and an unchanged re-run.
# Prints wall seconds, CPU seconds (user + system) and peak RSS of each run.
# Usage: benches/overlap.sh [SIZE_MIB]      Needs: moto, s3s-fs, /usr/bin/time.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/benches/common.sh"
SIZE_MIB=${1:-1024}
export PATH="$ROOT/target/test-tools/bin:$HOME/.cargo/bin:$PATH"
export AWS_ACCESS_KEY_ID=AKIABENCH AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

bench_setup
CUBE="$WORK/weights-$SIZE_MIB"
make_weights_cube "$CUBE" "$SIZE_MIB"
echo "input: $(du -sh "$CUBE" | cut -f1) weights cube; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

# clocked LABEL CMD…: wall, CPU (user+sys) and peak RSS of CMD.
clocked() {
  local label=$1; shift
  local log; log=$(mktemp)
  /usr/bin/time -f "%e %U %S %M" -o "$log" "$@" > /dev/null 2> "$log.err" || { echo "$label: FAILED"; cat "$log" "$log.err"; return 1; }
  read -r wall user sys kib < "$log"
  rm -f "$log" "$log.err"
  printf '%-52s %7.2f s wall %7.2f s CPU %7.1f MiB peak RSS\n' "$label" "$wall" "$(echo "$user + $sys" | bc -l)" "$(echo "$kib / 1024" | bc -l)"
  LAST_SECONDS=$wall
}


rm -rf "$WORK/ov-package"
clocked "package alone" "$BIN" package "$CUBE" --deploy-dir "$WORK/ov-package"
package_alone=$LAST_SECONDS

run_against() {
  local name=$1 endpoint=$2 public_base=$3
  echo "== $name"
  curl -sf -X PUT "$endpoint/bench" > /dev/null || true
  local extra=(--endpoint-url "$endpoint")
  [ -n "$public_base" ] && extra+=(--public-url-base "$public_base" --acl none)
  rm -rf "$WORK/ov-seq-$name" "$WORK/ov-pp-$name"
  clocked "sequential: package" "$BIN" package "$CUBE" --deploy-dir "$WORK/ov-seq-$name"
  local seq_package=$LAST_SECONDS
  clocked "sequential: publish (upload + verify)" "$BIN" publish "$WORK/ov-seq-$name" --to "s3://bench/seq-$name" "${extra[@]}"
  local seq_publish=$LAST_SECONDS
  clocked "package-and-publish (overlapped)" "$BIN" package-and-publish "$CUBE" --deploy-dir "$WORK/ov-pp-$name" --to "s3://bench/pp-$name" "${extra[@]}"
  local pp=$LAST_SECONDS
  clocked "package-and-publish again (unchanged)" "$BIN" package-and-publish "$CUBE" --deploy-dir "$WORK/ov-pp-$name" --to "s3://bench/pp-$name" "${extra[@]}"
  printf 'ratios: overlapped / package alone = %.2fx; sequential / overlapped = %.2fx\n' \
    "$(echo "$pp / $package_alone" | bc -l)" "$(echo "($seq_package + $seq_publish) / $pp" | bc -l)"
}

against_local_s3 run_against
