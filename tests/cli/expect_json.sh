#!/usr/bin/env bash
# Runs a command with --json and checks its exit status, that stdout is exactly one JSON document
# (logs and progress belong on stderr) and that a Python expression over it, `j`, is true.
# Usage: expect_json.sh EXIT_STATUS PYTHON_EXPRESSION COMMAND [ARGS...]
want=$1 check=$2
shift 2
err=$(mktemp)
trap 'rm -f "$err"' EXIT
out=$("$@" 2>"$err")
got=$?
printf '%s\n' "$out"
cat "$err"
[ "$got" = "$want" ] || { echo "FAIL: exit status $got, expected $want: $*"; exit 1; }
printf '%s' "$out" | python3 -c '
import json, sys
j = json.load(sys.stdin)
check = sys.argv[1]
if not eval(check, {"j": j}):
    print("FAIL: the report does not satisfy: " + check)
    sys.exit(1)
' "$check" || { echo "FAIL: stdout is not the expected JSON: $*"; exit 1; }
echo "json-ok"
