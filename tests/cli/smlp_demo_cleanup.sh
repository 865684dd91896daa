#!/usr/bin/env bash
# henn smlp demo keeps the owner's secret key in a private temporary directory: it must be gone
# after a normal exit and after SIGTERM / SIGINT, and the two server processes must end too.
# Usage: smlp_demo_cleanup.sh HENN DATA_DIR WORK_DIR
set -u
set -m  # job control: background jobs get SIGINT delivered (not ignored as without it)
henn=$1 data=$2 work=$3
csv="$data/wdbc/breast_cancer.csv"
fail() { echo "FAIL: $*"; [ -f "$work/out.txt" ] && cat "$work/out.txt"; exit 1; }
[ -f "$csv" ] || fail "missing $csv"
rm -rf "$work" && mkdir -p "$work/tmp"
export TMPDIR="$work/tmp"
small=(--csv "$csv" --allow-test-keys --hidden 4 --train-rows 64 --test-rows 16 --no-compare)

# 1. A normal run exits 0, prints its accuracy and leaves nothing in TMPDIR.
"$henn" smlp demo "${small[@]}" --epochs 1 > "$work/out.txt" 2>&1 || fail "demo exited $?"
grep -Eq "test accuracy, encrypted training and classification: [0-9.]+%" "$work/out.txt" || fail "no accuracy line"
[ -z "$(ls -A "$TMPDIR")" ] || fail "left behind after a normal exit: $(ls -A "$TMPDIR")"

# 2. Interrupted while training: the key directory exists (0700, secret.key 0600), then the
#    signal removes it and ends the demo with the signal's status.
for signal in TERM INT; do
  "$henn" smlp demo "${small[@]}" --epochs 100000 > "$work/out.txt" 2>&1 &
  pid=$!
  for _ in $(seq 1 1200); do
    grep -q "^S1 (pid" "$work/out.txt" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  grep -q "^S1 (pid" "$work/out.txt" || fail "S1 did not start"
  dir=$(ls -d "$TMPDIR"/henn-smlp-demo-* 2>/dev/null)
  [ -n "$dir" ] && [ "$(echo "$dir" | wc -l)" = 1 ] || fail "expected one key directory, found '$dir'"
  [ "$(stat -c %a "$dir")" = 700 ] || fail "key directory mode $(stat -c %a "$dir")"
  [ "$(stat -c %a "$dir/secret.key")" = 600 ] || fail "secret key mode $(stat -c %a "$dir/secret.key")"
  servers=$(sed -n 's/^S[12] (pid \([0-9]*\)).*/\1/p' "$work/out.txt")
  sleep 0.5
  kill -"$signal" "$pid"
  wait "$pid"
  rc=$?
  want=$((128 + $(kill -l "$signal")))
  [ "$rc" = "$want" ] || fail "SIG$signal: exit status $rc, expected $want"
  [ ! -e "$dir" ] || fail "SIG$signal left $dir behind: $(ls -la "$dir")"
  for server in $servers; do
    for _ in $(seq 1 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$server" 2>/dev/null && fail "SIG$signal: server pid $server still running"
  done
done
echo "smlp demo cleanup: all checks passed"
