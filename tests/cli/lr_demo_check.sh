#!/usr/bin/env bash
# henn lr demo (client and server processes over gRPC) must exit 0, train on encrypted WDBC rows
# and return a model within 1e-2 of the identical-arithmetic reference, with its accuracy.
# Usage: lr_demo_check.sh HENN DATA_DIR
# stdout must be the JSON report alone (progress goes to stderr).
out=$("$1" lr demo --csv "$2/wdbc/breast_cancer.csv" --iterations 2 --optimizer gd --json); rc=$?
echo "$out"
[ "$rc" = 0 ] || { echo "FAIL: exit $rc"; exit 1; }
field() { printf '%s' "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
enc=$(field accuracy_encrypted); ref=$(field accuracy_identical_arithmetic); diff=$(field max_coefficient_difference)
[ -n "$enc" ] && [ -n "$ref" ] && [ -n "$diff" ] || { echo "FAIL: fields missing"; exit 1; }
[ "$enc" = "$ref" ] || { echo "FAIL: encrypted accuracy $enc differs from the reference's $ref"; exit 1; }
awk -v d="$diff" 'BEGIN { exit !(d < 0.01) }' || { echo "FAIL: coefficient difference $diff"; exit 1; }
[ "$(field security_bits)" = 128 ] || { echo "FAIL: security"; exit 1; }
echo "lr-demo-ok"
