#!/usr/bin/env bash
# The client/server pipeline through the CLI, as two parties would run it, with exit codes:
#   compile -> keygen -> encrypt -> infer (evaluation keys only) -> decrypt,
# then damaged and mismatched inputs, each refused with its documented exit code.
# Usage: engine_pipeline.sh HENN FIXTURES_DIR DATA_DIR WORK_DIR
set -u
henn=$1 fixtures=$2 data=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*"; exit 1; }
expect_exit() {  # expect_exit CODE command...
  local want=$1; shift
  "$@" > "$work/out.txt" 2>&1
  local got=$?
  [ "$got" = "$want" ] || { cat "$work/out.txt"; fail "exit $got, expected $want: $*"; }
}

expect_exit 0 "$henn" compile "$fixtures/cryptonets.onnx" --calibration "mnist:$data" --calibration-count 256 -o "$work/model.henn"
grep -q "evaluation keys: relinearization conjugation" "$work/out.txt" || fail "compile summary"
expect_exit 0 "$henn" keygen "$work/model.henn" --out "$work/client"
[ "$(stat -c %a "$work/client/secret.key")" = 600 ] || fail "secret key mode is not 0600"
expect_exit 2 "$henn" keygen "$work/model.henn" --out "$work/client"   # refuses to replace a secret key
expect_exit 0 "$henn" encrypt "$work/model.henn" --key "$work/client/secret.key" --data-dir "$data" --count 300 -o "$work/in.ct"
expect_exit 0 "$henn" infer "$work/model.henn" --keys "$work/client/evaluation.keys" --in "$work/in.ct" -o "$work/out.ct" --json
grep -q '"samples": 300' "$work/out.txt" || fail "infer report"
expect_exit 0 "$henn" decrypt "$work/model.henn" --key "$work/client/secret.key" --in "$work/out.ct" --data mnist --data-dir "$data" --json
accuracy=$(grep '"accuracy"' "$work/out.txt" | tr -dc '0-9.')
awk -v a="$accuracy" 'BEGIN { exit !(a >= 0.9) }' || fail "accuracy $accuracy below 0.9"

# henn run on the compiled model: the same program, its plaintext run as the reference.
expect_exit 0 "$henn" run "$work/model.henn" --data-dir "$data" --count 200 --json
grep -q '"reference": "compiled program"' "$work/out.txt" || fail "run on a compiled model: reference"
grep -q '"agreement": 1' "$work/out.txt" || fail "run on a compiled model: agreement"
expect_exit 2 "$henn" run "$work/model.henn" --data-dir "$data" --count 200 --log-n 14
grep -q "already compiled" "$work/out.txt" || fail "compile option on a compiled model not refused"

# Damaged and mismatched inputs.
head -c 100000 "$work/in.ct" > "$work/truncated.ct"
expect_exit 4 "$henn" infer "$work/model.henn" --keys "$work/client/evaluation.keys" --in "$work/truncated.ct" -o "$work/x.ct"
grep -q "truncated" "$work/out.txt" || fail "truncated input not named"
expect_exit 4 "$henn" infer "$work/model.henn" --keys "$work/client/evaluation.keys" --in "$work/out.ct" -o "$work/x.ct"
expect_exit 0 "$henn" compile "$fixtures/mlp.onnx" -o "$work/other.henn"
expect_exit 5 "$henn" infer "$work/other.henn" --keys "$work/client/evaluation.keys" --in "$work/in.ct" -o "$work/x.ct"
expect_exit 5 "$henn" decrypt "$work/other.henn" --key "$work/client/secret.key" --in "$work/out.ct"
expect_exit 4 "$henn" infer "$work/model.henn" --keys "$work/model.henn" --in "$work/in.ct" -o "$work/x.ct"
expect_exit 3 "$henn" compile "$fixtures/unsupported_sin.onnx" -o "$work/sin.henn"
grep -q "Sin" "$work/out.txt" || fail "unsupported operator not named"
expect_exit 2 "$henn" compile "$fixtures/cryptonets.onnx" -o "$work/x.henn" --slots sideways
echo "engine pipeline: all checks passed"
