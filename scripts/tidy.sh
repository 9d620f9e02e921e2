#!/usr/bin/env bash
# clang-tidy 14 with the repository's .clang-tidy, warnings as errors, over the C++ sources
# changed relative to a base (scripts/test.sh runs it after the build):
#   scripts/tidy.sh [-p BUILD_DIR] [--base REF | --all] [-j N]
# The base is the merge-base with origin/main when HEAD is ahead of it, else the last
# commit's parent (the files changed by the last commit and in the working tree; on a clean
# clone of main, as CI runs, that is the last commit); a shallow clone
# without that parent checks nothing and says so. A changed header
# is checked through the translation units of the same name (foo.hpp → foo.cpp); its
# diagnostics come from any checked unit that includes it (HeaderFilterRegex).
# The build dir's compile_commands.json comes from CMake (CMAKE_EXPORT_COMPILE_COMMANDS is
# on in CMakeLists.txt).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build="$root/build" base="" all=0 jobs=$(nproc)
while (($#)); do
  case $1 in
    -p) build=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --all) all=1; shift ;;
    -j) jobs=$2; shift 2 ;;
    *) echo "usage: scripts/tidy.sh [-p BUILD_DIR] [--base REF | --all] [-j N]" >&2; exit 2 ;;
  esac
done
tidy=${CLANG_TIDY:-$(command -v clang-tidy-14 || echo clang-tidy)}
db="$build/compile_commands.json"
[[ -f $db ]] || { echo "tidy.sh: $db missing: configure $build with CMake first" >&2; exit 2; }

# Every translation unit of ours in the database (tests included; nothing generated).
mapfile -t units < <(python3 - "$db" "$root" <<'PY'
import json, os, sys
db, root = sys.argv[1], sys.argv[2]
seen = set()
for e in json.load(open(db)):
    f = os.path.normpath(os.path.join(e["directory"], e["file"]))
    if f.startswith(root + "/") and not os.path.relpath(f, root).startswith("build") and f not in seen:
        seen.add(f)
        print(os.path.relpath(f, root))
PY
)

if ((all)); then
  files=("${units[@]}")
else
  if [[ -z $base ]]; then
    # On a branch: what it adds to main. On main itself (CI's clean clone of main, where
    # origin/main is HEAD and the merge-base would leave nothing to check): the last commit.
    if git rev-parse -q --verify origin/main >/dev/null &&
      [[ $(git merge-base HEAD origin/main) != $(git rev-parse HEAD) ]]; then
      base=$(git merge-base HEAD origin/main)
    else
      # A clone without the parent (shallow) has no "changed" files: say so rather than
      # silently checking every file (that is --all, tens of minutes on 2 cores).
      base=$(git rev-parse -q --verify HEAD~1) || {
        echo "tidy.sh: HEAD has no parent here (a shallow clone?): nothing to compare; pass --base REF or --all"
        exit 0
      }
    fi
  fi
  mapfile -t changed < <(git diff --name-only --diff-filter=d "$base" -- '*.cpp' '*.hpp' '*.h' '*.cc')
  declare -A want=()
  for c in "${changed[@]}"; do
    stem=$(basename "${c%.*}")
    for u in "${units[@]}"; do
      [[ $u == "$c" || $(basename "${u%.*}") == "$stem" ]] && want[$u]=1
    done
  done
  files=("${!want[@]}")
fi
if ((${#files[@]} == 0)); then
  echo "tidy.sh: no C++ translation unit changed"
  exit 0
fi
echo "tidy.sh: ${#files[@]} translation unit(s)"

# clang 14 against g++ 12's flags and libstdc++ 12: -std=c++23 is spelled c++2b; GCC-only
# warning flags are unknown; libstdc++'s <expected> wants C++20 concepts (__cpp_concepts
# 202002), which clang 14 implements but announces as 201907.
extra=(--extra-arg=-std=c++2b --extra-arg=-Wno-unknown-warning-option
  --extra-arg=-U__cpp_concepts --extra-arg=-D__cpp_concepts=202002L)
log="$build/tidy.log"
# The tests' precompiled header is GCC's (.gch), which clang cannot read: a copy of the
# database without it (each test unit includes what it uses) is what clang-tidy reads.
dbdir=$(mktemp -d)
trap 'rm -rf "$dbdir"' EXIT
python3 - "$db" "$dbdir/compile_commands.json" <<'PY'
import json, shlex, sys
entries = json.load(open(sys.argv[1]))
for e in entries:
    args = e.pop("arguments", None) or shlex.split(e["command"])
    kept, i = [], 0
    while i < len(args):
        if args[i] == "-include" and i + 1 < len(args) and args[i + 1].endswith("cmake_pch.hxx"):
            i += 2
            continue
        if args[i] not in ("-Winvalid-pch", "-fpch-preprocess"):
            kept.append(args[i])
        i += 1
    e["command"] = shlex.join(kept)
json.dump(entries, open(sys.argv[2], "w"))
PY
set +e
printf '%s\0' "${files[@]}" | sort -z |
  xargs -0 -n 1 -P "$jobs" "$tidy" -p "$dbdir" --quiet --warnings-as-errors='*' "${extra[@]}" >"$log" 2>&1
status=$?
set -e
# A finding names its check ("[check,-warnings-as-errors]"). clang 14's own front-end errors
# ([clang-diagnostic-error]) are not findings: g++ builds this code with -Werror before this
# runs, and clang 14 cannot instantiate some of libstdc++ 12 (std::expected's conditionally
# trivial destructor needs P0848, clang 16). They are left in the log.
findings=$(grep -cE '\[[a-z0-9.,-]+,-warnings-as-errors\]$' "$log" || true)
frontend=$(grep -cE '\[clang-diagnostic-error\]$' "$log" || true)
grep -E -A3 '\[[a-z0-9.,-]+,-warnings-as-errors\]$' "$log" || true
# 123: some clang-tidy exited non-zero (it does on front-end errors too); more: one crashed
# or could not run.
if ((status > 123)); then
  echo "tidy.sh: clang-tidy crashed or could not run (exit $status; see $log)" >&2
  exit 1
fi
if ((findings > 0)); then
  echo "tidy.sh: $findings finding(s) (above; all in $log)" >&2
  exit 1
fi
echo "tidy.sh: clean (${#files[@]} translation units; $frontend clang 14 front-end errors ignored, in $log)"
