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
