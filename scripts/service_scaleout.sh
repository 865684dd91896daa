#!/usr/bin/env bash
# Scale-out of encrypted inference on loopback: two `henn serve` replicas behind Debian's nginx
# (grpc_pass, round robin), a client run across both (its keys reach each replica through the
# unknown-key re-upload), against the same run on one replica. Everything listens on 127.0.0.1
# only; the script starts and stops every process itself (by PID) and removes its files.
#
#   bash scripts/service_scaleout.sh [--build DIR] [--data-dir DIR] [--count N] [--threads T]
#                                    [--model ONNX] [--slots auto|real|complex]
#
# Each replica runs with --threads T (default 1), so two replicas use twice the cores of one.
# Prints one JSON object: images/s of one replica and of two behind nginx, key uploads, failures.
set -euo pipefail

build=build
data_dir=${HENN_DATA_DIR:-../shared/data}
count=0
threads=1
model_onnx=models/mnist_cryptonets.onnx
slots=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --model) model_onnx=$2; shift 2 ;;
    --slots) slots=$2; shift 2 ;;
    *) echo "service_scaleout.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
henn=$build/henn
[ -x "$henn" ] || { echo "no $henn: build first" >&2; exit 2; }
command -v nginx >/dev/null || { echo "nginx not installed (bash scripts/setup.sh installs nginx-light)" >&2; exit 2; }

work=$(mktemp -d /tmp/henn-scaleout.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
wait_for_file() { for _ in $(seq 1 600); do [ -s "$1" ] && return 0; sleep 0.5; done; echo "timed out waiting for $1" >&2; exit 1; }

echo "compiling $model_onnx" >&2
"$henn" compile "$model_onnx" --calibration "mnist:$data_dir" --slots "$slots" -o "$work/model.henn" >/dev/null

start_replica() {  # $1: name
  "$henn" serve --model "mnist=$work/model.henn" --host 127.0.0.1 --port 0 --port-file "$work/$1.port" \
    --threads "$threads" --max-sessions 1 --quiet >"$work/$1.log" 2>&1 &
  pids+=($!)
  wait_for_file "$work/$1.port"
}
start_replica a
start_replica b
port_a=$(cat "$work/a.port")
port_b=$(cat "$work/b.port")
port_nginx=$(free_port)

mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections 256; }
http {
  access_log $work/nginx/access.log;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  client_max_body_size 0;
  upstream henn_replicas {
    server 127.0.0.1:$port_a;
    server 127.0.0.1:$port_b;
  }
  server {
    listen 127.0.0.1:$port_nginx http2;
    location / {
      grpc_pass grpc://henn_replicas;
      grpc_read_timeout 600s;
      grpc_send_timeout 600s;
    }
  }
}
EOF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
for _ in $(seq 1 50); do
  "$henn" client --server "127.0.0.1:$port_nginx" --timeout 5 health >/dev/null 2>&1 && break
  sleep 0.2
done

batch=$("$henn" client --server "127.0.0.1:$port_a" models --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["models"][0]["batch_size"])')
[ "$count" -gt 0 ] || count=$((3 * batch < 10000 ? 3 * batch : 10000))

run_client() {  # $1: server, $2: output file
  "$henn" client --server "$1" --keys-dir "$work/keys" infer --model mnist --data-dir "$data_dir" \
    --count "$count" --concurrency 2 --threads 1 --json >"$2"
}
echo "one replica: $count images" >&2
run_client "127.0.0.1:$port_a" "$work/one.json"
echo "two replicas behind nginx: $count images" >&2
run_client "127.0.0.1:$port_nginx" "$work/two.json"
"$henn" client --server "127.0.0.1:$port_a" metrics >"$work/metrics_a.json"
"$henn" client --server "127.0.0.1:$port_b" metrics >"$work/metrics_b.json"

python3 - "$work" "$threads" <<'EOF'
import json, sys
work, threads = sys.argv[1], int(sys.argv[2])
one = json.load(open(f"{work}/one.json")); two = json.load(open(f"{work}/two.json"))
a = json.load(open(f"{work}/metrics_a.json")); b = json.load(open(f"{work}/metrics_b.json"))
report = {
  "images": two["images"], "threads_per_replica": threads,
  "one_replica_images_per_second": one["images_per_second"],
  "two_replicas_images_per_second": two["images_per_second"],
  "speedup": two["images_per_second"] / one["images_per_second"],
  "accuracy_one": one["accuracy"], "accuracy_two": two["accuracy"],
  "key_uploads_two": two["key_uploads"],
  "replica_a_samples": a["samples"], "replica_b_samples": b["samples"],
  "replica_a_infer_failures": a["infer_failures"], "replica_b_infer_failures": b["infer_failures"],
  "status_counts_a": a.get("status_counts", {}), "status_counts_b": b.get("status_counts", {}),
}
print(json.dumps(report, indent=2))
ok = report["replica_a_samples"] > 0 and report["replica_b_samples"] > 0 and abs(one["accuracy"] - two["accuracy"]) <= 0.01
sys.exit(0 if ok else 1)
EOF
