#!/usr/bin/env bash
# Builds tests/fuzz/webhook_review_fuzz.cpp with clang's libFuzzer under ASan + UBSan and
# runs it from the captured AdmissionReviews (tests/unit/webhook/fixtures) and their
# variants (tests/fuzz/corpus/webhook) as seeds. Coverage-guided, unlike the g++ driver
# that ctest runs (fuzz/webhook_review).
#   tests/fuzz/run-webhook.sh [--seconds 120] [--out DIR]
# Prints libFuzzer's final stats (executions, coverage); exits non-zero on a finding.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=120
out=${TMPDIR:-/tmp}/nodeboot-fuzz-webhook
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "run-webhook.sh: unknown flag $1" >&2; exit 2 ;;
  esac
done
cxx=$(command -v clang++-16 || true)
[[ -n $cxx ]] || { echo "run-webhook.sh: clang++-16 is missing (scripts/deps.sh installs it)" >&2; exit 1; }
mkdir -p "$out/corpus" "$out/obj"
# libstdc++ 12 guards <expected> with __cpp_concepts >= 202002L; clang 16 implements what
# it uses but still reports 201907L.
flags=(-std=c++2b -D__cpp_concepts=202002L -Wno-macro-redefined -O1 -g -fno-omit-frame-pointer
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -DSIMDJSON_THREADS_ENABLED=1
       -I"$root/common/include" -I"$root/webhook/include")
sources=("$here/webhook_review_fuzz.cpp"
         "$root"/webhook/src/{admission,json,limits,metrics,certs,log,pods,secrets,nodes}.cpp
         "$root"/common/src/bootstrap/*.cpp "$root"/common/src/util/{base64,secret}.cpp)
objects=()
for src in "${sources[@]}"; do
  obj="$out/obj/$(echo "$src" | sed "s|$root/||; s|/|_|g").o"
  [[ $obj -nt $src ]] || "$cxx" "${flags[@]}" -c "$src" -o "$obj"
  objects+=("$obj")
done
"$cxx" "${flags[@]}" "${objects[@]}" -lsimdjson -lssl -lcrypto -o "$out/webhook_review_fuzz"
# Seeds: every input runs through all handlers, so the reviews go in as they are.
cp "$root"/tests/unit/webhook/fixtures/*.json "$root"/tests/fuzz/corpus/webhook/*.json "$out/corpus/"
cd "$out"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ./webhook_review_fuzz -max_total_time="$seconds" -max_len=16384 -print_final_stats=1 corpus 2>&1 | tail -25
