# Shared helpers of the benchmark scripts (sourced, not run).

# bench_setup: the work folder ($WORK, from BENCH_DIR) and a fresh release build ($BIN).
bench_setup() {
  WORK=${BENCH_DIR:-/tmp/cubeship-bench}
  mkdir -p "$WORK"
  command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)"; exit 2; }
  cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
  BIN="$ROOT/target/release/cubeship"
}

# make_cube DIR SIZE_MIB: an MLCube whose additional files hold SIZE_MIB MiB: 3/4 incompressible
# weights (like real model weights) and 1/4 compressible text split over many files.
make_cube() {
  local dir=$1 size_mib=$2
  if [ -f "$dir/.complete-$size_mib" ]; then return; fi
  rm -rf "$dir"
  mkdir -p "$dir/workspace/additional_files/weights" "$dir/workspace/additional_files/config"
  cp "$ROOT/tests/fixtures/medperf-examples/brats-model-deepmedic/mlcube.yaml" "$dir/"
  cp "$ROOT/tests/fixtures/medperf-examples/brats-model-deepmedic/workspace/parameters.yaml" "$dir/workspace/"
  local random_mib=$((size_mib * 3 / 4)) text_mib=$((size_mib / 4))
  head -c $((random_mib * 1024 * 1024)) /dev/urandom > "$dir/workspace/additional_files/weights/model.bin"
  python3 - "$dir/workspace/additional_files/config" "$text_mib" <<'PY'
import os, sys, random
out, mib = sys.argv[1], int(sys.argv[2])
random.seed(1)
words = [f"layer_{i}.weight" for i in range(5000)]
per_file = 4 * 1024 * 1024
for n in range(max(1, mib // 4)):
    with open(os.path.join(out, f"part-{n:04}.txt"), "w") as f:
        written = 0
        while written < per_file:
            line = " ".join(random.choice(words) for _ in range(12)) + f" {random.random():.6f}\n"
            f.write(line)
            written += len(line)
PY
  touch "$dir/.complete-$size_mib"
}

# timed LABEL CMD…: runs CMD under /usr/bin/time, prints wall seconds and peak RSS (MiB).
timed() {
  local label=$1; shift
  local log
  log=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$log" "$@" > /dev/null 2>&1 || { echo "$label: FAILED"; cat "$log"; return 1; }
  read -r seconds kib < "$log"
  rm -f "$log"
  printf '%-44s %8.2f s %8.1f MiB peak RSS\n' "$label" "$seconds" "$(echo "$kib / 1024" | bc -l)"
  LAST_SECONDS=$seconds
}

# make_weights_cube DIR SIZE_MIB: the acceptance cube of issue #12: ~80 % float32 weights of a
# normal distribution (benches/gen_weights.rs), ~15 % text, and 10,000 small JSON files.
make_weights_cube() {
  local dir=$1 size_mib=$2
  if [ -f "$dir/.complete" ]; then return; fi
  rm -rf "$dir"
  local files="$dir/workspace/additional_files"
  mkdir -p "$files/weights" "$files/text" "$files/json"
  cp "$ROOT/tests/fixtures/medperf-examples/brats-model-deepmedic/mlcube.yaml" "$dir/"
  cp "$ROOT/tests/fixtures/medperf-examples/brats-model-deepmedic/workspace/parameters.yaml" "$dir/workspace/"
  rustc -O -o "$WORK/gen_weights" "$ROOT/benches/gen_weights.rs"
  local weights_mib=$((size_mib * 80 / 100)) text_mib=$((size_mib * 15 / 100)) part=0
  # 256 MiB shards, like checkpoint shards.
  while [ "$weights_mib" -gt 0 ]; do
    local n=$((weights_mib < 256 ? weights_mib : 256))
    "$WORK/gen_weights" "$n" "$((part + 1))" > "$files/weights/shard-$(printf %03d $part).bin"
    weights_mib=$((weights_mib - n)); part=$((part + 1))
  done
  python3 - "$files" "$text_mib" "$size_mib" <<'PY'
import json, os, random, sys
out, text_mib, size_mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(1)
words = [f"layer_{i}.weight" for i in range(5000)] + "the of and model input output batch norm".split()
per_file = 4 << 20
for n in range(max(1, text_mib // 4)):
    with open(os.path.join(out, "text", f"part-{n:04}.txt"), "w") as f:
        written = 0
        while written < per_file:
            line = " ".join(random.choice(words) for _ in range(12)) + f" {random.random():.6f}\n"
            f.write(line)
            written += len(line)
# 10,000 small JSON files (~5 % of the cube), 100 per folder.
per_json = max(200, (size_mib << 20) * 5 // 100 // 10000)
for n in range(10000):
    folder = os.path.join(out, "json", f"{n // 100:03}")
    os.makedirs(folder, exist_ok=True)
    record = {"id": n, "labels": {}}
    # Each label adds about 30 bytes: grow in steps and measure once per step (measuring after
    # every label is quadratic: hours for the 10 GiB cube's 50 KB files).
    while len(json.dumps(record)) < per_json:
        for _ in range(max(1, (per_json - len(json.dumps(record))) // 40)):
            record["labels"][random.choice(words)] = round(random.random(), 4)
    with open(os.path.join(folder, f"case-{n:05}.json"), "w") as f:
        json.dump(record, f)
PY
  touch "$dir/.complete"
}

# Local servers for the S3 benches: free_port, wait_port PORT, and PIDS (killed on exit).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return; sleep 0.1; done; echo "port $1 not up"; exit 1; }
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT

# against_local_s3 FN: runs `FN NAME ENDPOINT PUBLIC_BASE` against a fresh moto, then against a
# fresh s3s-fs (signed, with a key-less twin on the same folder for anonymous reads).
against_local_s3() {
  local fn=$1 port root sport aport
  port=$(free_port)
  python3 -m moto.server -H 127.0.0.1 -p "$port" > /dev/null 2>&1 & PIDS+=($!)
  wait_port "$port"
  "$fn" moto "http://127.0.0.1:$port" ""
  root=$(mktemp -d); mkdir -p "$root/bench"
  sport=$(free_port); aport=$(free_port)
  s3s-fs --host 127.0.0.1 --port "$sport" --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" "$root" > /dev/null 2>&1 & PIDS+=($!)
  s3s-fs --host 127.0.0.1 --port "$aport" "$root" > /dev/null 2>&1 & PIDS+=($!)
  wait_port "$sport"; wait_port "$aport"
  "$fn" s3s-fs "http://127.0.0.1:$sport" "http://127.0.0.1:$aport/bench"
  rm -rf "$root"
}
