#!/usr/bin/env bash
# Benchmark: `cubeship package-and-publish` of a generated MLCube (default 1 GiB) to moto and to
# s3s-fs on loopback, next to `aws s3 cp` of the same files to the same server (and the manual
# check MedPerf users do: an anonymous download + sha256sum).
# Usage: benches/s3_publish.sh [SIZE_MIB]
# Needs: moto (pip install 'moto[server]'), s3s-fs (scripts/install-test-servers.sh), the AWS CLI
# (pip install awscli), /usr/bin/time.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/benches/common.sh"
SIZE_MIB=${1:-1024}
export PATH="$ROOT/target/test-tools/bin:$HOME/.cargo/bin:$PATH"
export AWS_ACCESS_KEY_ID=AKIABENCH AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

bench_setup
make_cube "$WORK/cube" "$SIZE_MIB"
"$BIN" package "$WORK/cube" --deploy-dir "$WORK/s3-deploy" > /dev/null
echo "input: ${SIZE_MIB} MiB MLCube; deploy folder $(du -sh "$WORK/s3-deploy" | cut -f1); $(nproc) cores"


run_against() {
  local name=$1 endpoint=$2 public_base=$3; shift 3
  echo "== $name"
  aws --endpoint-url "$endpoint" s3 mb s3://bench > /dev/null 2>&1 || true
  local extra=(--endpoint-url "$endpoint" --jobs 4)
  [ -n "$public_base" ] && extra+=(--public-url-base "$public_base" --acl none)
  timed "cubeship package-and-publish (+verify)" "$BIN" package-and-publish "$WORK/cube" --deploy-dir "$WORK/pp-deploy-$name" --to s3://bench/pp "${extra[@]}"
  local pp=$LAST_SECONDS
  timed "cubeship publish (upload+verify, packaged)" "$BIN" publish "$WORK/s3-deploy" --to s3://bench/pub "${extra[@]}"
  local pub=$LAST_SECONDS
  timed "cubeship publish --no-verify (upload only)" "$BIN" publish "$WORK/s3-deploy" --to s3://bench/nov --no-verify "${extra[@]}"
  local nov=$LAST_SECONDS
  timed "aws s3 cp --recursive (upload only)" aws --endpoint-url "$endpoint" s3 cp --recursive --quiet "$WORK/s3-deploy" s3://bench/awscli/
  local cli=$LAST_SECONDS
  local base=${public_base:-$endpoint/bench}
  timed "curl | sha256sum of each file (manual check)" bash -c "for f in $WORK/s3-deploy/*; do curl -sf $base/awscli/\$(basename \$f) | sha256sum > /dev/null; done"
  local check=$LAST_SECONDS
  printf 'ratios: aws s3 cp / cubeship upload-only = %.2fx; (aws s3 cp + manual check) / cubeship publish = %.2fx\n' \
    "$(echo "$cli / $nov" | bc -l)" "$(echo "($cli + $check) / $pub" | bc -l)"
}

against_local_s3 run_against
