#!/usr/bin/env bash
# Checks that the C++ files are formatted as .clang-format says: clang-format --dry-run --Werror
# on each, a non-zero exit if any would change. .ci/run runs it over the whole tree.
#
#   bash scripts/check-format.sh                  every tracked C++ file (git ls-files)
#   bash scripts/check-format.sh [DIR...]         the C++ files under these directories
#   CLANG_FORMAT=clang-format-14 bash scripts/check-format.sh
#
# Directories are taken relative to the repository root. To fix what it reports:
#   git ls-files '*.cpp' '*.hpp' '*.h' '*.cc' | xargs clang-format -i
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 2
clang_format=${CLANG_FORMAT:-clang-format}
command -v "$clang_format" >/dev/null || {
  echo "check-format: $clang_format not found (Debian package clang-format)" >&2
  exit 2
}
files=()
if [ $# -eq 0 ]; then
  if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    while IFS= read -r f; do files+=("$f"); done < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.cc' | sort)
  else
    set -- $(ls -d */ | tr -d /)
  fi
fi
for dir in "$@"; do
  [ -d "$dir" ] || { echo "check-format: no directory $dir" >&2; exit 2; }
  while IFS= read -r -d '' f; do files+=("$f"); done < <(
    find "$dir" -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc' \) -print0 | sort -z)
done
[ ${#files[@]} -gt 0 ] || { echo "check-format: no C++ files under $*"; exit 0; }
bad=0
for f in "${files[@]}"; do
  "$clang_format" --dry-run --Werror "$f" 2>/dev/null || { echo "needs formatting: $f"; bad=$((bad + 1)); }
done
if [ "$bad" -gt 0 ]; then
  echo "check-format: $bad of ${#files[@]} files need clang-format ($("$clang_format" --version | head -1))"
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"
