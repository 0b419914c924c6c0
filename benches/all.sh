#!/usr/bin/env bash
# Every benchmark of issue #12 in one run, against the same local servers, printed as ONE
# table (run, wall, CPU, peak RSS, size, ratio vs its baseline) and the targets met / not met.
#
# Rows: cubeship package; GNU tar -czf; tar -I pigz; Python tarfile level 9; gzip -6 (size);
# then for moto and for s3s-fs: cubeship package-and-publish; the seed path end to end (Python
# tarfile -9 + `aws s3 cp` of the deploy files + `curl | sha256sum` of each URL); cubeship
# publish --no-verify (upload only); `aws s3 cp --recursive`; `rclone copy`; re-publish
# unchanged (`cubeship publish` of the package-and-publish deploy folder again: bytes uploaded
# per cubeship's JSON report, and the wall time).
#
# Usage: benches/all.sh [SIZE_MIB] [--10g]      (default 1024; --10g adds the 10 GiB memory check)
# Installs what it needs when missing: pigz, rclone, time, bc (apt-get), awscli, moto (pip).
# Work folder: BENCH_DIR (default /tmp/cubeship-bench). One run per row (RUNS=N: best of N for
# the packaging rows); the machine may be shared, CPU times are the steadier figure.
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
RUNS=${RUNS:-1}

need_apt() { command -v "$1" >/dev/null || apt-get install -y "$2" >/dev/null; }
need_apt pigz pigz; need_apt rclone rclone; need_apt bc bc
[ -x /usr/bin/time ] || apt-get install -y time >/dev/null
command -v aws >/dev/null || pip install -q awscli
python3 -c 'import moto.server' 2>/dev/null || pip install -q 'moto[server]'
export PATH="$ROOT/target/test-tools/bin:$HOME/.cargo/bin:$PATH"
command -v s3s-fs >/dev/null || { echo "needs s3s-fs: run scripts/install-test-servers.sh"; exit 2; }
export AWS_ACCESS_KEY_ID=AKIABENCH AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

bench_setup
CUBE="$WORK/acceptance-$SIZE_MIB"
make_weights_cube "$CUBE" "$SIZE_MIB"
SRC="$CUBE/workspace/additional_files"
echo "input: $(du -sh --apparent-size "$SRC" | cut -f1) in $(find "$SRC" -type f | wc -l) files; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
find "$SRC" -type f -exec cat {} + > /dev/null

# measure CMD…: runs CMD RUNS times under GNU time; sets WALL CPU RSS_KIB of the fastest run.
measure() {
  local best=""
  for _ in $(seq "$RUNS"); do
    local log; log=$(mktemp)
    if ! /usr/bin/time -f "%e %U %S %M" -o "$log" "$@" > "$WORK/last.out" 2> "$WORK/last.err"; then
      echo "FAILED: $*"; tail -5 "$WORK/last.err"; tail -2 "$log"; exit 1
    fi
    read -r wall user sys kib < "$log"; rm -f "$log"
    if [ -z "$best" ] || [ "$(echo "$wall < $best" | bc)" = 1 ]; then
      best=$wall; WALL=$wall; CPU=$(echo "$user + $sys" | bc); RSS_KIB=$kib
    fi
  done
}
div() { echo "scale=4; $1 / $2" | bc -l; }
# x A B: A ÷ B with two decimals, for the ratio column.
x() { printf '%.2f' "$(div "$1" "$2")"; }
mib() { printf '%.1f MiB' "$(echo "$1 / 1048576" | bc -l)"; }
ROWS=() TARGETS=()
# row LABEL SIZE RATIO: one table row of the last measurement.
row() { ROWS+=("$(printf '| %s | %.2f s | %.2f s | %.1f MiB | %s | %s |' "$1" "$WALL" "$CPU" "$(echo "$RSS_KIB / 1024" | bc -l)" "$2" "$3")"); }
# target TEXT VALUE OP LIMIT: a target line, met when `VALUE OP LIMIT` holds.
target() {
  local verdict="NOT met"
  [ "$(echo "$2 $3 $4" | bc -l)" = 1 ] && verdict="met"
  TARGETS+=("$(printf '%-62s %8.3f (%s %s)  %s' "$1" "$2" "$3" "$4" "$verdict")")
}
size_of() { stat -c %s "$1"; }

# --- packaging -----------------------------------------------------------------------------
rm -rf "$WORK/deploy"
measure "$BIN" package "$CUBE" --deploy-dir "$WORK/deploy"
PKG_WALL=$WALL PKG_RSS=$RSS_KIB; OURS_SIZE=$(size_of "$WORK/deploy/additional_files.tar.gz")
GZIP6_SIZE=$(gzip -dc "$WORK/deploy/additional_files.tar.gz" | gzip -6 | wc -c)
row "cubeship package" "$(mib "$OURS_SIZE")" "$(x "$OURS_SIZE" "$GZIP6_SIZE")× size of gzip -6"
measure tar -czf "$WORK/gnu.tar.gz" -C "$SRC" .
GNU_WALL=$WALL; row "GNU tar -czf (gzip -6)" "$(mib "$(size_of "$WORK/gnu.tar.gz")")" "cubeship $(x "$WALL" "$PKG_WALL")× faster"
measure tar -I pigz -cf "$WORK/pigz.tar.gz" -C "$SRC" .
PIGZ_WALL=$WALL; row "tar -I pigz (-6, all cores)" "$(mib "$(size_of "$WORK/pigz.tar.gz")")" "cubeship $(x "$WALL" "$PKG_WALL")× faster"
PY_TAR='import sys, tarfile
with tarfile.open(sys.argv[1], "w:gz", compresslevel=9) as t: t.add(sys.argv[2], arcname=".")'
measure python3 -c "$PY_TAR" "$WORK/py.tar.gz" "$SRC"
row "Python tarfile, level 9" "$(mib "$(size_of "$WORK/py.tar.gz")")" "cubeship $(x "$WALL" "$PKG_WALL")× faster"
ROWS+=("| gzip -6 of cubeship's tar stream (size only) | | | | $(mib "$GZIP6_SIZE") | 1× |")
rm -f "$WORK/gnu.tar.gz" "$WORK/pigz.tar.gz" "$WORK/py.tar.gz"
target "package size ÷ gzip -6" "$(div "$OURS_SIZE" "$GZIP6_SIZE")" "<=" 1.01
target "package speed-up over tar -I pigz" "$(div "$PIGZ_WALL" "$PKG_WALL")" ">=" 2
target "package speed-up over tar -czf" "$(div "$GNU_WALL" "$PKG_WALL")" ">=" 8
target "package peak RSS (MiB), ${SIZE_MIB} MiB cube" "$(echo "$PKG_RSS / 1024" | bc -l)" "<=" 128

# --- servers -------------------------------------------------------------------------------
S3ROOT=$(mktemp -d "$WORK/s3s-root.XXXX")
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$S3ROOT"' EXIT
mport=$(free_port)
python3 -m moto.server -H 127.0.0.1 -p "$mport" > /dev/null 2>&1 & PIDS+=($!)
mkdir -p "$S3ROOT/bench"
sport=$(free_port); aport=$(free_port)
s3s-fs --host 127.0.0.1 --port "$sport" --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" "$S3ROOT" > /dev/null 2>&1 & PIDS+=($!)
s3s-fs --host 127.0.0.1 --port "$aport" "$S3ROOT" > /dev/null 2>&1 & PIDS+=($!)
wait_port "$mport"; wait_port "$sport"; wait_port "$aport"

# The seed path's deploy folder: what a MedPerf user builds by hand (tarfile -9 + copies).
SEED="$WORK/seed-deploy"
seed_path() { # ENDPOINT PUBLIC_BASE PREFIX
  cat > "$WORK/seed.sh" <<EOF
set -euo pipefail
rm -rf "$SEED"; mkdir -p "$SEED"
cp "$CUBE/mlcube.yaml" "$CUBE/workspace/parameters.yaml" "$SEED/"
python3 -c '$PY_TAR' "$SEED/additional_files.tar.gz" "$SRC"
aws --endpoint-url "$1" s3 cp --recursive --quiet --acl public-read "$SEED" "s3://bench/$3/"
for f in "$SEED"/*; do
  want=\$(sha256sum "\$f" | cut -c1-64)
  got=\$(curl -sf "$2/$3/\$(basename "\$f")" | sha256sum | cut -c1-64)
  [ "\$want" = "\$got" ] || { echo "seed check failed for \$f"; exit 1; }
done
EOF
  measure bash "$WORK/seed.sh"
}

rclone_env() { # ENDPOINT
  export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other RCLONE_CONFIG_BENCH_ENDPOINT=$1
  export RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY
  export RCLONE_CONFIG_BENCH_REGION=us-east-1 RCLONE_CONFIG_BENCH_NO_CHECK_BUCKET=true
}

# uploaded_bytes REPORT: bytes cubeship's JSON report says it uploaded (status "uploaded").
uploaded_bytes() {
  python3 - "$1" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
print(sum(c["size"] for c in report["components"] for u in c["uploads"] if u["status"] == "uploaded"))
PY
}

against() { # NAME ENDPOINT PUBLIC_BASE
  local name=$1 endpoint=$2 public=$3
  # One run each: a second upload of the same bytes would find them there already.
  local RUNS=1
  aws --endpoint-url "$endpoint" s3 mb s3://bench > /dev/null 2>&1 || true
  local extra=(--endpoint-url "$endpoint")
  [ "$name" = s3s-fs ] && extra+=(--public-url-base "$public" --acl none)
  rm -rf "$WORK/pp-$name"
  measure "$BIN" --json package-and-publish "$CUBE" --deploy-dir "$WORK/pp-$name" --to "s3://bench/pp" "${extra[@]}"
  local pp=$WALL
  row "$name: cubeship package-and-publish" "$(mib "$(du -sb "$WORK/pp-$name" | cut -f1)")" "$(x "$pp" "$PKG_WALL")× packaging alone"
  seed_path "$endpoint" "$public" seed
  local seed=$WALL
  row "$name: seed path (tarfile -9 + aws s3 cp + curl, sha256sum)" "$(mib "$(du -sb "$SEED" | cut -f1)")" "cubeship $(x "$seed" "$pp")× faster"
  measure "$BIN" --json publish "$WORK/deploy" --to "s3://bench/nov" --no-verify "${extra[@]}"
  local ours=$WALL deploy_bytes; deploy_bytes=$(du -sb "$WORK/deploy" | cut -f1)
  row "$name: cubeship publish --no-verify (upload only)" "$(mib "$deploy_bytes")" "$(printf '%.0f MiB/s' "$(echo "$deploy_bytes / 1048576 / $ours" | bc -l)")"
  measure aws --endpoint-url "$endpoint" s3 cp --recursive --quiet "$WORK/deploy" "s3://bench/awscli/"
  local cli=$WALL
  row "$name: aws s3 cp --recursive" "$(mib "$deploy_bytes")" "cubeship $(x "$cli" "$ours")× its throughput"
  rclone_env "$endpoint"
  # rclone's S3 backend refuses AWS_CA_BUNDLE with its own HTTP transport (and needs no CA
  # bundle for http:// on loopback).
  measure env -u AWS_CA_BUNDLE rclone copy "$WORK/deploy" "bench:bench/rclone/"
  local rc=$WALL
  row "$name: rclone copy" "$(mib "$deploy_bytes")" "cubeship $(x "$rc" "$ours")× its throughput"
  # Re-publish: the same deploy folder to the same place (nothing changed, nothing to send).
  measure "$BIN" --json publish "$WORK/pp-$name" --to "s3://bench/pp" "${extra[@]}"
  local again=$WALL bytes; bytes=$(uploaded_bytes "$WORK/last.out")
  row "$name: re-publish unchanged" "$bytes bytes uploaded" "$(printf '%.2f s' "$again")"
  target "$name: package-and-publish speed-up over the seed path" "$(div "$seed" "$pp")" ">=" 5
  target "$name: package-and-publish ÷ packaging alone" "$(div "$pp" "$PKG_WALL")" "<=" 1.3
  target "$name: upload throughput ÷ aws s3 cp" "$(div "$cli" "$ours")" ">=" 1.2
  target "$name: upload throughput ÷ rclone" "$(div "$rc" "$ours")" ">=" 1
  target "$name: re-publish bytes uploaded" "$bytes" "==" 0
  target "$name: re-publish wall (s)" "$again" "<=" 2
  rm -rf "$SEED"
}

against moto "http://127.0.0.1:$mport" "http://127.0.0.1:$mport/bench"
against s3s-fs "http://127.0.0.1:$sport" "http://127.0.0.1:$aport/bench"

if [ "$TEN_G" = 1 ]; then
  make_weights_cube "$WORK/acceptance-10240" 10240
  rm -rf "$WORK/deploy10"
  measure "$BIN" package "$WORK/acceptance-10240" --deploy-dir "$WORK/deploy10"
  row "cubeship package, 10 GiB cube" "$(mib "$(size_of "$WORK/deploy10/additional_files.tar.gz")")" "memory check"
  target "package peak RSS (MiB), 10 GiB cube" "$(echo "$RSS_KIB / 1024" | bc -l)" "<=" 128
  rm -rf "$WORK/deploy10"
fi

printf '\n| run | wall | CPU | peak RSS | size | ratio |\n|---|---|---|---|---|---|\n'
printf '%s\n' "${ROWS[@]}"
echo
echo "targets (issue #12):"
printf '  %s\n' "${TARGETS[@]}"
