#!/usr/bin/env bash
# clang-format (14) with the repository's .clang-format over every C++ file git tracks in the
# source folders.
#   scripts/format.sh            reformat in place
#   scripts/format.sh --check    change nothing; fail listing the files that would change
#   scripts/format.sh [--check] FILE...   only these files
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
check=0
if [[ ${1:-} == --check ]]; then check=1; shift; fi
clang_format=${CLANG_FORMAT:-$(command -v clang-format-14 || echo clang-format)}
if (($#)); then
  files=("$@")
else
  mapfile -t files < <(git ls-files -- 'agent/*' 'common/*' 'plugin/*' 'webhook/*' 'tests/*' 'packaging/*' 'bench/*' |
    grep -E '\.(cpp|hpp|h|cc)$')
fi
if ((check)); then
  bad=()
  for f in "${files[@]}"; do
    "$clang_format" --dry-run -Werror --style=file "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if ((${#bad[@]})); then
    printf '%s\n' "${bad[@]}"
    echo "format.sh: ${#bad[@]} of ${#files[@]} files are not formatted (scripts/format.sh fixes them)" >&2
    exit 1
  fi
  echo "format.sh: ${#files[@]} files formatted"
else
  "$clang_format" -i --style=file "${files[@]}"
fi
