#!/usr/bin/env bash
# Reliability under load, on loopback only: one `henn serve`, C concurrent `henn client` loops for
# a bounded time (each client with its own keys, so the key cache holds C key sets), the server's
# resident memory sampled every few seconds, then one client killed while the server holds its
# call and the server killed and restarted while it holds another client's call. Starts and stops every process itself (by PID).
#
#   bash scripts/service_load.sh [--build DIR] [--data-dir DIR] [--clients 8] [--seconds 180]
#                                [--count N] [--model ONNX] [--key-cache-bytes B]
#
# Prints a JSON report: calls, failures, client-side latency percentiles, server metrics, memory.
set -euo pipefail

build=build
data_dir=${HENN_DATA_DIR:-../shared/data}
clients=8
seconds=180
count=256
model_onnx=models/mnist_cryptonets.onnx
key_cache_bytes=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --model) model_onnx=$2; shift 2 ;;
    --key-cache-bytes) key_cache_bytes=$2; shift 2 ;;
    *) echo "service_load.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ "$seconds" -le 1800 ] || { echo "--seconds is capped at 1800" >&2; exit 2; }
[ "$clients" -le 64 ] || { echo "--clients is capped at 64" >&2; exit 2; }
henn=$build/henn
[ -x "$henn" ] || { echo "no $henn: build first" >&2; exit 2; }

work=$(mktemp -d /tmp/henn-load.XXXXXX)
pids=()
server_pid=""
cleanup() {
  for pid in "${pids[@]}" $server_pid; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}" $server_pid; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
wait_for_file() { for _ in $(seq 1 600); do [ -s "$1" ] && return 0; sleep 0.5; done; echo "timed out waiting for $1" >&2; exit 1; }

echo "compiling $model_onnx" >&2
"$henn" compile "$model_onnx" --calibration "mnist:$data_dir" -o "$work/model.henn" >/dev/null

start_server() {  # $1: port (0: any)
  rm -f "$work/port"
  local cache=()
  [ "$key_cache_bytes" -gt 0 ] && cache=(--key-cache-bytes "$key_cache_bytes")
  "$henn" serve --model "mnist=$work/model.henn" --host 127.0.0.1 --port "$1" --port-file "$work/port" \
    --max-sessions 2 --max-waiting 64 "${cache[@]}" --quiet >>"$work/server.log" 2>&1 &
  server_pid=$!
  wait_for_file "$work/port"
  port=$(cat "$work/port")
}
start_server 0
server="127.0.0.1:$port"

# Memory of the server, every 2 s.
( while kill -0 "$server_pid" 2>/dev/null; do
    echo "$(date +%s.%N) $(awk '/VmRSS/ {print $2}' /proc/$server_pid/status 2>/dev/null)" >>"$work/rss.txt"
    sleep 2
  done ) &
pids+=($!)

echo "$clients clients for $seconds s against $server ($count images per call)" >&2
deadline=$(( $(date +%s) + seconds ))
for i in $(seq 1 "$clients"); do
  ( while [ "$(date +%s)" -lt "$deadline" ]; do
      start=$(date +%s.%N)
      if "$henn" client --server "$server" --keys-dir "$work/keys$i" infer --model mnist --data-dir "$data_dir" \
          --count "$count" --offset $(( (i * 37) % 9000 )) --threads 1 --json >"$work/out$i.json" 2>"$work/err$i.txt"; then
        python3 -c 'import json,sys,time; j=json.load(open(sys.argv[1])); print(json.dumps({"ok":1,"client":int(sys.argv[2]),"seconds":time.time()-float(sys.argv[3]),"accuracy":j["accuracy"],"network":j["seconds_network_wall"],"key_uploads":j["key_uploads"],"retries":j["retries"]}))' \
          "$work/out$i.json" "$i" "$start" >>"$work/calls.jsonl"
      else
        echo "{\"ok\":0,\"client\":$i,\"error\":$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()[-300:]))' "$work/err$i.txt")}" >>"$work/calls.jsonl"
      fi
    done ) &
  pids+=($!)
done
for pid in "${pids[@]:1}"; do wait "$pid"; done
"$henn" client --server "$server" metrics >"$work/metrics.json"

# Waits (up to 120 s) until the server holds a session: a call admitted, its stream open (the
# upload, the engine run or the reply). Prints 1 if it saw one, 0 if not.
metric() { "$henn" client --server "$server" metrics | python3 -c "import json,sys; print(json.load(sys.stdin).get('$1', 0))"; }
wait_for_session() {
  local end=$(( $(date +%s) + 120 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    [ "$(metric sessions_active)" -ge 1 ] && { echo 1; return; }
    sleep 0.05
  done
  echo 0
}

# Fault: a client killed mid-stream (while the server holds its call) must free its session.
echo "killing a client mid-stream" >&2
failures_before=$(metric infer_failures)
"$henn" client --server "$server" --keys-dir "$work/keys1" infer --model mnist --data-dir "$data_dir" --count "$count" \
  --threads 1 --json >/dev/null 2>&1 &
victim=$!
killed_mid_stream=$(wait_for_session)
kill -9 "$victim" 2>/dev/null || true
wait "$victim" 2>/dev/null || true
freed=0
for _ in $(seq 1 100); do
  active=$("$henn" client --server "$server" metrics | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["sessions_active"] + m["sessions_waiting"])')
  [ "$active" = 0 ] && { freed=1; break; }
  sleep 0.5
done
failures_after=$(metric infer_failures)

# Fault: the server crashes (SIGKILL) and restarts while a client runs: the client retries
# (unavailable) and resends its keys to the new process.
echo "restarting the server under a running client" >&2
"$henn" client --server "$server" --keys-dir "$work/keys2" infer --model mnist --data-dir "$data_dir" --count "$count" \
  --threads 1 --json >"$work/restart.json" 2>"$work/restart.err" &
survivor=$!
restarted_mid_stream=$(wait_for_session)
kill -9 "$server_pid"; wait "$server_pid" 2>/dev/null || true
start_server "$port"
restart_ok=0
wait "$survivor" && restart_ok=1
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
server_pid=""

python3 - "$work" "$clients" "$seconds" "$freed" "$restart_ok" "$killed_mid_stream" "$restarted_mid_stream" \
  "$failures_before" "$failures_after" <<'EOF'
import json, sys
work, clients, seconds, freed, restart_ok = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
killed_mid_stream, restarted_mid_stream = int(sys.argv[6]), int(sys.argv[7])
failures_before, failures_after = int(sys.argv[8]), int(sys.argv[9])
calls = [json.loads(l) for l in open(f"{work}/calls.jsonl")]
ok = [c for c in calls if c["ok"]]
lat = sorted(c["seconds"] for c in ok)
pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else None
rss = [float(l.split()[1]) * 1024 for l in open(f"{work}/rss.txt") if len(l.split()) == 2]
quarter = max(1, len(rss) // 4)
m = json.load(open(f"{work}/metrics.json"))
restart = {}
try:
    restart = json.load(open(f"{work}/restart.json"))
except Exception:
    restart = {"error": open(f"{work}/restart.err").read()[-300:]}
report = {
  "clients": clients, "seconds": seconds, "calls": len(calls), "failed_calls": len(calls) - len(ok),
  "errors": [c["error"] for c in calls if not c["ok"]][:3],
  "client_latency_seconds": {"p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99), "max": lat[-1] if lat else None},
  "server": {k: m[k] for k in ("infer_requests", "infer_failures", "samples", "key_cache_hits", "key_cache_misses",
                               "key_cache_evictions", "key_cache_bytes", "key_cache_entries", "key_cache_capacity_bytes",
                               "rejected_busy", "sessions_cancelled")},
  "server_latency_seconds": m["infer_latency"], "status_counts": m.get("status_counts", {}),
  "server_rss_bytes": {"first_quarter_max": max(rss[:quarter]) if rss else None,
                       "last_quarter_max": max(rss[-quarter:]) if rss else None, "max": max(rss) if rss else None},
  "killed_client_during_its_call": bool(killed_mid_stream),
  "killed_client_freed_its_session": bool(freed),
  "killed_client_call_failed_on_server": failures_after > failures_before,
  "server_killed_during_a_call": bool(restarted_mid_stream),
  "restarted_server_client_succeeded": bool(restart_ok),
  "restart_client_retries": restart.get("retries"), "restart_client_key_uploads": restart.get("key_uploads"),
}
print(json.dumps(report, indent=2))
sys.exit(0 if report["failed_calls"] == 0 and freed and restart_ok else 1)
EOF
