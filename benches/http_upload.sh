#!/usr/bin/env bash
# Throughput of `cubeship http upload` against `curl -T` for the same 1 GiB file to the same
# local nginx (WebDAV PUT, basic auth on writes), configured like the end-to-end tests.
#
#   benches/http_upload.sh [SIZE_MIB]      (default 1024; needs nginx, openssl, curl)
#
# cubeship's time includes what curl does not do: hashing the file before upload (sha256,
# sha1, crc32c), a HEAD, and the anonymous GET + sha256 verification after it. The script also
# times the upload alone (--no-verify) so the PUT itself can be compared with curl.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB="${1:-1024}"
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
[ -x "$NGINX" ] || { echo "nginx is missing: run scripts/install-test-servers.sh" >&2; exit 1; }

cargo build --release --quiet --bin cubeship
CUBESHIP="$PWD/target/release/cubeship"

WORK="$(mktemp -d)"
NGINX_PID=""
cleanup() {
  if [ -n "$NGINX_PID" ]; then kill -TERM "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

USER_NAME=bench
PASSWORD="bench-$RANDOM-$RANDOM"
mkdir -p "$WORK/data/up" "$WORK/tmp"
printf '%s:%s\n' "$USER_NAME" "$(openssl passwd -apr1 "$PASSWORD")" > "$WORK/htpasswd"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
USER_LINE=""; [ "$(id -u)" = 0 ] && USER_LINE="user root;"
cat > "$WORK/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
$USER_LINE
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $WORK/tmp/body;
    proxy_temp_path $WORK/tmp/proxy;
    fastcgi_temp_path $WORK/tmp/fastcgi;
    uwsgi_temp_path $WORK/tmp/uwsgi;
    scgi_temp_path $WORK/tmp/scgi;
    sendfile on;
    server {
        listen 127.0.0.1:$PORT;
        root $WORK/data;
        location /up/ {
            dav_methods PUT DELETE;
            create_full_put_path on;
            client_max_body_size 0;
            limit_except GET HEAD { auth_basic "bench"; auth_basic_user_file $WORK/htpasswd; }
        }
    }
}
EOF
"$NGINX" -p "$WORK" -c "$WORK/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done

FILE="$WORK/component.bin"
echo "writing a ${SIZE_MIB} MiB incompressible file..."
head -c "$((SIZE_MIB << 20))" /dev/urandom > "$FILE"
BASE="http://127.0.0.1:$PORT/up"

now() { date +%s.%N; }
rate() { python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'{s:7.2f} s  {int(sys.argv[3])/s/2**20:8.1f} MiB/s')" "$1" "$2" "$((SIZE_MIB << 20))"; }
delete() { curl -sf -u "$USER_NAME:$PASSWORD" -X DELETE "$BASE/$1/component.bin" >/dev/null || true; }
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
cat "$FILE" > /dev/null  # same warm page cache for every run

export CUBESHIP_HTTP_USER="$USER_NAME" CUBESHIP_HTTP_PASSWORD="$PASSWORD" NETRC=/nonexistent

t0=$(now); curl -sSf -u "$USER_NAME:$PASSWORD" -T "$FILE" "$BASE/curl/component.bin" -o /dev/null; t1=$(now)
CURL="$(rate "$t0" "$t1")"
delete curl

# --dry-run hashes the file and plans, sending nothing: the share of the time not spent on PUT.
t0=$(now); "$CUBESHIP" --quiet --no-progress --dry-run http upload "$FILE" --url "$BASE/dry/"; t1=$(now)
HASH_ONLY="$(rate "$t0" "$t1")"

t0=$(now); "$CUBESHIP" --quiet --no-progress http upload "$FILE" --url "$BASE/put-only/" --no-verify; t1=$(now)
PUT_ONLY="$(rate "$t0" "$t1")"

t0=$(now); "$CUBESHIP" --quiet --no-progress http upload "$FILE" --url "$BASE/full/"; t1=$(now)
FULL="$(rate "$t0" "$t1")"

t0=$(now); "$CUBESHIP" --quiet --no-progress http upload "$FILE" --url "$BASE/full/"; t1=$(now)
RERUN="$(rate "$t0" "$t1")"

secs() { echo "$1" | awk '{print $1}'; }
echo
echo "1 file of ${SIZE_MIB} MiB to nginx on 127.0.0.1 ($(nproc) cores)"
echo "  curl -T                                   $CURL"
echo "  cubeship --dry-run http upload            $HASH_ONLY   (hashing only: sha256, sha1, crc32c)"
echo "  cubeship http upload --no-verify          $PUT_ONLY   (hash + HEAD + PUT)"
echo "  cubeship http upload                      $FULL   (+ anonymous GET and sha256)"
echo "  cubeship http upload, unchanged re-run    $RERUN   (hash + HEAD + GET-hash + verify; no PUT)"
python3 - "$(secs "$CURL")" "$(secs "$HASH_ONLY")" "$(secs "$PUT_ONLY")" "$(secs "$FULL")" "$((SIZE_MIB << 20))" <<'PY'
import sys
curl, hashing, put_only, full, size = map(float, sys.argv[1:])
put = max(put_only - hashing, 1e-9)
print(f"  PUT phase alone (--no-verify minus --dry-run): {put:.2f} s  {size / put / 2**20:.1f} MiB/s")
print(f"  ratio to curl -T: PUT phase {put / curl:.2f}x the time, whole --no-verify run {put_only / curl:.2f}x, with verification {full / curl:.2f}x")
PY
