#!/usr/bin/env bash
# henn demo must exit 0 and report encrypted predictions that agree with plaintext ones.
# Usage: demo_check.sh HENN DATA_DIR
out=$("$1" demo --data-dir "$2" --count 2000 2>&1); rc=$?
echo "$out"
[ "$rc" = 0 ] || { echo "FAIL: exit $rc"; exit 1; }
echo "$out" | grep -Eq 'agreement with plaintext (99[.][5-9][0-9]|100[.]00)%' || { echo "FAIL: agreement"; exit 1; }
echo "demo-ok"
