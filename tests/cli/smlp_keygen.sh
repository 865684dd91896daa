#!/usr/bin/env bash
# henn smlp keygen writes public.key and secret.key, the secret one with mode 0600.
# Usage: smlp_keygen.sh HENN DIR
set -u
rm -rf "$2"
out=$("$1" smlp keygen --out "$2" --bits 1024 --allow-test-keys 2>&1); rc=$?
echo "$out"
[ "$rc" = 0 ] || { echo "FAIL: exit $rc"; exit 1; }
echo "$out" | grep -q "Paillier key pair" || { echo "FAIL: output"; exit 1; }
[ "$(stat -c %a "$2/secret.key")" = 600 ] || { echo "FAIL: secret.key mode $(stat -c %a "$2/secret.key")"; exit 1; }
[ -s "$2/public.key" ] || { echo "FAIL: no public.key"; exit 1; }
echo "smlp keygen ok"
