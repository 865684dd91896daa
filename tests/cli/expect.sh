#!/usr/bin/env bash
# Runs a command and checks BOTH its exit status and its output (stdout and stderr together),
# unlike PASS_REGULAR_EXPRESSION, which ignores the exit status.
# Usage: expect.sh EXIT_STATUS EXTENDED_REGEX COMMAND [ARGS...]
want=$1 regex=$2
shift 2
out=$("$@" 2>&1)
got=$?
printf '%s\n' "$out"
[ "$got" = "$want" ] || { echo "FAIL: exit status $got, expected $want: $*"; exit 1; }
printf '%s\n' "$out" | grep -Eq -- "$regex" || { echo "FAIL: output does not match /$regex/: $*"; exit 1; }
exit 0
