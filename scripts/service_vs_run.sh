#!/usr/bin/env bash
# One `henn serve` replica on loopback against the in-process `henn run`, on the same compiled
# model and the same test images, alternately for several rounds (a shared machine drifts: compare
# within a round). Both use all cores; on loopback the client and the server share them.
#
#   bash scripts/service_vs_run.sh [--build DIR] [--data-dir DIR] [--model ONNX] [--count N]
#                                  [--rounds R] [--slots auto|real|complex] [--concurrency C]
#
# Two ratios per round, service over run (images per second):
#   server path: images / (upload + server + download wall, as the client saw it) against
#                images / henn run's seconds_infer (the session alone);
#   end to end:  images / the client's seconds_total (encryption to decryption, serialization
#                and the network included) against images / (encrypt + infer + decrypt).
# With several batches (--count above one batch) and --concurrency 2, the client keeps two calls in
# flight, so the server receives one batch while it computes another.
# Prints one JSON object; the client's first call (key upload) is a warm-up, not counted.
set -euo pipefail

build=build
data_dir=${HENN_DATA_DIR:-../shared/data}
model_onnx=tests/fixtures/onnx/mlp.onnx
count=0
rounds=3
slots=auto
concurrency=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --model) model_onnx=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --slots) slots=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    *) echo "service_vs_run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
henn=$build/henn
[ -x "$henn" ] || { echo "no $henn: build first" >&2; exit 2; }

work=$(mktemp -d /tmp/henn-vs-run.XXXXXX)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

echo "compiling $model_onnx" >&2
"$henn" compile "$model_onnx" --calibration "mnist:$data_dir" --slots "$slots" -o "$work/model.henn" >/dev/null
"$henn" serve --model "mnist=$work/model.henn" --host 127.0.0.1 --port 0 --port-file "$work/port" \
  --quiet >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do [ -s "$work/port" ] && break; sleep 0.1; done
server="127.0.0.1:$(cat "$work/port")"

batch=$("$henn" client --server "$server" models --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["models"][0]["batch_size"])')
[ "$count" -gt 0 ] || count=$batch

client() {  # $1: output file
  "$henn" client --server "$server" --keys-dir "$work/keys" infer --model mnist \
    --data-dir "$data_dir" --count "$count" --concurrency "$concurrency" --json >"$1"
}
echo "warm-up call (keys uploaded)" >&2
client "$work/warmup.json"
for r in $(seq 1 "$rounds"); do
  echo "round $r: henn run, then henn client, $count images" >&2
  "$henn" run "$work/model.henn" --data-dir "$data_dir" --count "$count" --json >"$work/run$r.json"
  client "$work/client$r.json"
done

python3 - "$work" "$rounds" <<'EOF'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
rows = []
for r in range(1, rounds + 1):
    run = json.load(open(f"{work}/run{r}.json"))
    cli = json.load(open(f"{work}/client{r}.json"))
    n = run["images"]
    assert cli["images"] == n
    run_server = n / run["seconds_infer"]
    cli_server = n / cli["seconds_network_wall"]
    run_e2e = n / (run["seconds_encrypt"] + run["seconds_infer"] + run["seconds_decrypt"])
    cli_e2e = n / cli["seconds_total"]
    rows.append({
        "round": r, "images": n,
        "run_images_per_second": run_server, "service_images_per_second": cli_server,
        "server_path_ratio": cli_server / run_server,
        "run_end_to_end_images_per_second": run_e2e,
        "service_end_to_end_images_per_second": cli_e2e,
        "end_to_end_ratio": cli_e2e / run_e2e,
        "service_seconds": {k: cli[k] for k in ("seconds_encrypt", "seconds_serialize", "seconds_upload",
                                                "seconds_wait", "seconds_server_receive",
                                                "seconds_server_parse", "seconds_server",
                                                "seconds_download", "seconds_decrypt",
                                                "seconds_network_wall", "seconds_total")},
        "run_seconds": {k: run[k] for k in ("seconds_encrypt", "seconds_infer", "seconds_decrypt")},
        "accuracy_run": run["accuracy"], "accuracy_service": cli["accuracy"],
    })
report = {
    "rounds": rows,
    "median_server_path_ratio": statistics.median(r["server_path_ratio"] for r in rows),
    "median_end_to_end_ratio": statistics.median(r["end_to_end_ratio"] for r in rows),
}
print(json.dumps(report, indent=2))
EOF
