#!/usr/bin/env bash
# Fails when a C++ file in the repository differs from what .clang-format asks for.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mapfile -t files < <(git ls-files '*.cc' '*.h' 2>/dev/null || find include src tests bench examples -name '*.cc' -o -name '*.h')
if [ "${#files[@]}" -eq 0 ]; then exit 0; fi
if ! clang-format --dry-run --Werror "${files[@]}" 2>/tmp/imgsearch-format.log; then
  echo "clang-format: these files need formatting (run: clang-format -i FILE):" >&2
  grep -o '^[^:]*\.\(cc\|h\)' /tmp/imgsearch-format.log | sort -u >&2
  exit 1
fi
echo "clang-format: ${#files[@]} files clean"
