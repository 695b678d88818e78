#!/usr/bin/env bash
# test/fuzz/build.sh: builds every libFuzzer target test/fuzz/fuzz_*.c into
# test/fuzz/build/ against the server-less core (src/core/*.c), with
# AddressSanitizer and UndefinedBehaviorSanitizer, plus the seed generator
# test/fuzz/build/gen_seeds (plain build).  Works from any directory.
#   CC=clang-14 test/fuzz/build.sh         # another clang
#   test/fuzz/build.sh fuzz_select         # only some targets
set -euo pipefail
FUZZ=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$FUZZ/../.." && pwd)
OUT=$FUZZ/build
CC=${CC:-clang}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}

COMMON=(-std=gnu11 -g -O1 -fno-omit-frame-pointer -I"$ROOT/src/core"
        -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare)
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=undefined)
LIBS=(-lopenblas -llapacke -lm)

command -v "$CC" >/dev/null || { echo "build.sh: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
mkdir -p "$OUT/obj"

if [ $# -gt 0 ]; then
  TARGETS=("$@")
else
  TARGETS=()
  for f in "$FUZZ"/fuzz_*.c; do TARGETS+=("$(basename "$f" .c)"); done
fi

# Core objects, instrumented for coverage but without libFuzzer's main.
rm -f "$OUT"/obj/*.o
export CC OUT ROOT
printf '%s\n' "$ROOT"/src/core/*.c |
  xargs -P "$JOBS" -I{} sh -c '"$CC" "$@" -c "{}" -o "$OUT/obj/$(basename "{}" .c).o"' sh \
    "${COMMON[@]}" "${SAN[@]}" -fsanitize=fuzzer-no-link
CORE_OBJS=("$OUT"/obj/*.o)
echo "build.sh: compiled ${#CORE_OBJS[@]} core objects with $("$CC" --version | head -n1)"

build_target() {
  local t=$1
  "$CC" "${COMMON[@]}" "${SAN[@]}" -fsanitize=fuzzer -o "$OUT/$t" "$FUZZ/$t.c" "${CORE_OBJS[@]}" "${LIBS[@]}"
}
pids=()
for t in "${TARGETS[@]}"; do
  [ -f "$FUZZ/$t.c" ] || { echo "build.sh: no such target $t" >&2; exit 1; }
  build_target "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$JOBS" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p"; done

# Seed generator: plain build straight from the sources.
"$CC" "${COMMON[@]}" -o "$OUT/gen_seeds" "$FUZZ/gen_seeds.c" "$ROOT"/src/core/*.c "${LIBS[@]}"
echo "build.sh: built ${TARGETS[*]} gen_seeds in ${OUT#"$ROOT"/}"
