#!/usr/bin/env bash
# One `henn serve` replica on loopback against the in-process `henn run`, on the same compiled
# model and the same test images, alternately for several rounds (a shared machine drifts: compare
# within a round). Both use all cores; on loopback the client and the server share them.
#
#   bash scripts/service_vs_run.sh [--build DIR] [--data-dir DIR] [--model ONNX] [--count N]
#                                  [--rounds R] [--slots auto|real|complex] [--concurrency C]
#                                  [--baseline-build DIR]
#
# Two ratios per round, service over run (images per second):
#   server path: images / (upload + server + download wall, as the client saw it) against
#                images / henn run's seconds_infer (the session alone);
#   end to end:  images / the client's seconds_total (encryption to decryption, serialization
#                and the network included) against images / (encrypt + infer + decrypt).
# With several batches (--count above one batch) and --concurrency 2, the client keeps two calls in
# flight, so the server receives one batch while it computes another.
# Prints one JSON object; the client's first call (key upload) is a warm-up, not counted.
# --baseline-build DIR: another build (e.g. of the previous commit) serves the same compiled model
# from a second server; each round also runs its client, the two clients in alternating order, and
# the report adds its ratios and network_wall_speedup (its network wall over this build's).
set -euo pipefail

build=build
data_dir=${HENN_DATA_DIR:-../shared/data}
model_onnx=tests/fixtures/onnx/mlp.onnx
count=0
rounds=3
slots=auto
concurrency=1
baseline=
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --model) model_onnx=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --slots) slots=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --baseline-build) baseline=$2; shift 2 ;;
    *) echo "service_vs_run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
henn=$build/henn
[ -x "$henn" ] || { echo "no $henn: build first" >&2; exit 2; }
[ -z "$baseline" ] || [ -x "$baseline/henn" ] || { echo "no $baseline/henn" >&2; exit 2; }

work=$(mktemp -d /tmp/henn-vs-run.XXXXXX)
server_pid=
baseline_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "$baseline_pid" ] && kill "$baseline_pid" 2>/dev/null && wait "$baseline_pid" 2>/dev/null
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
if [ -n "$baseline" ]; then
  "$baseline/henn" serve --model "mnist=$work/model.henn" --host 127.0.0.1 --port 0 \
    --port-file "$work/baseline_port" --quiet >"$work/baseline_serve.log" 2>&1 &
  baseline_pid=$!
  for _ in $(seq 1 600); do [ -s "$work/baseline_port" ] && break; sleep 0.1; done
  baseline_server="127.0.0.1:$(cat "$work/baseline_port")"
fi

batch=$("$henn" client --server "$server" models --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["models"][0]["batch_size"])')
[ "$count" -gt 0 ] || count=$batch

client() {  # $1: output file, $2: henn binary (default this build's), $3: server
  "${2:-$henn}" client --server "${3:-$server}" --keys-dir "$work/keys" infer --model mnist \
    --data-dir "$data_dir" --count "$count" --concurrency "$concurrency" --json >"$1"
}
echo "warm-up call (keys uploaded)" >&2
client "$work/warmup.json"
[ -z "$baseline" ] || client "$work/baseline_warmup.json" "$baseline/henn" "$baseline_server"
for r in $(seq 1 "$rounds"); do
  echo "round $r: henn run, then henn client, $count images" >&2
  "$henn" run "$work/model.henn" --data-dir "$data_dir" --count "$count" --json >"$work/run$r.json"
  if [ -n "$baseline" ] && [ $((r % 2)) = 1 ]; then
    client "$work/baseline$r.json" "$baseline/henn" "$baseline_server"
  fi
  client "$work/client$r.json"
  if [ -n "$baseline" ] && [ $((r % 2)) = 0 ]; then
    client "$work/baseline$r.json" "$baseline/henn" "$baseline_server"
  fi
  cut -d' ' -f1 /proc/loadavg >"$work/load$r"
done

python3 - "$work" "$rounds" <<'EOF'
import json, os, statistics, sys
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
        "load_average_1min": float(open(f"{work}/load{r}").read()),
    })
    if os.path.exists(f"{work}/baseline{r}.json"):
        base = json.load(open(f"{work}/baseline{r}.json"))
        rows[-1]["baseline_server_path_ratio"] = (n / base["seconds_network_wall"]) / run_server
        rows[-1]["baseline_end_to_end_ratio"] = (n / base["seconds_total"]) / run_e2e
        rows[-1]["network_wall_speedup"] = base["seconds_network_wall"] / cli["seconds_network_wall"]
        rows[-1]["baseline_seconds"] = {k: v for k, v in base.items()
                                        if k in rows[-1]["service_seconds"]}
report = {
    "rounds": rows,
    "median_server_path_ratio": statistics.median(r["server_path_ratio"] for r in rows),
    "median_end_to_end_ratio": statistics.median(r["end_to_end_ratio"] for r in rows),
}
for key in ("baseline_server_path_ratio", "baseline_end_to_end_ratio", "network_wall_speedup"):
    if all(key in r for r in rows):
        report["median_" + key] = statistics.median(r[key] for r in rows)
print(json.dumps(report, indent=2))
EOF
