#!/usr/bin/env bash
# test/fuzz/run_short.sh: fuzz smoke run, part of test/run_tests.sh.
# Builds every target (build.sh), then runs each for FUZZ_SECONDS on a
# throwaway copy of its seed corpus (the repository corpus never grows).
# Default FUZZ_SECONDS: 360 / number of targets, within 20..60 (60 s each
# up to 6 targets, 45 s for 8), so the run takes about 6 minutes.
# Prints one line per target, then "N passed, M failed" (one test per
# target); exits non-zero if any target failed.  Crash reproducers land in
# test/fuzz/build/artifacts/<target>/, full logs in test/fuzz/build/logs/.
#   FUZZ_SECONDS=10 test/fuzz/run_short.sh
#   TARGETS="fuzz_select fuzz_json" test/fuzz/run_short.sh
# HP_FUZZ_IGNORE (see README.md) is honoured but announced; CI leaves it unset.
set -uo pipefail
FUZZ=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$FUZZ/../.." && pwd)
OUT=$FUZZ/build
export OPENBLAS_NUM_THREADS=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ -n "${TARGETS:-}" ]; then
  read -r -a LIST <<<"$TARGETS"
else
  LIST=()
  for f in "$FUZZ"/fuzz_*.c; do LIST+=("$(basename "$f" .c)"); done
fi
if [ -z "${FUZZ_SECONDS:-}" ]; then
  # About 6 minutes in all: 60 s each for up to 6 targets, 45 s for 8, >= 20 s.
  FUZZ_SECONDS=$((360 / ${#LIST[@]}))
  [ "$FUZZ_SECONDS" -le 60 ] || FUZZ_SECONDS=60
  [ "$FUZZ_SECONDS" -ge 20 ] || FUZZ_SECONDS=20
fi

if ! bash "$FUZZ/build.sh" "${LIST[@]}" >"$OUT.build.log" 2>&1; then
  tail -n 40 "$OUT.build.log"
  echo "fuzz build failed"
  echo "0 passed, 1 failed"
  exit 1
fi
mkdir -p "$OUT/logs"
mv -f "$OUT.build.log" "$OUT/logs/build.log"
echo "fuzz: ${#LIST[@]} targets, ${FUZZ_SECONDS} s each (logs in ${OUT#"$ROOT"/}/logs)"
[ -z "${HP_FUZZ_IGNORE:-}" ] || echo "fuzz: WARNING: checks of known bugs skipped: HP_FUZZ_IGNORE=$HP_FUZZ_IGNORE"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hp-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PASSED=0
FAILED=0
for t in "${LIST[@]}"; do
  name=${t#fuzz_}
  log=$OUT/logs/$t.log
  art=$OUT/artifacts/$t
  mkdir -p "$WORK/$name" "$art"
  [ -d "$FUZZ/corpus/$name" ] && cp -r "$FUZZ/corpus/$name/." "$WORK/$name/"
  args=(-max_total_time="$FUZZ_SECONDS" -detect_leaks=1 -rss_limit_mb=2048 -timeout=10
        -print_final_stats=1 -artifact_prefix="$art/")
  [ -f "$FUZZ/dict/$name.dict" ] && args+=(-dict="$FUZZ/dict/$name.dict")
  touch "$WORK/$name.start"
  start=$SECONDS
  rc=0
  # The time limit is libFuzzer's; timeout(1) only guards against a hang.
  # crashes/<target>: reproducers of fixed bugs, replayed first (read only).
  extra=()
  [ -d "$FUZZ/crashes/$t" ] && extra+=("$FUZZ/crashes/$t")
  timeout -k 30 $((FUZZ_SECONDS + 300)) "$OUT/$t" "${args[@]}" "$WORK/$name" "${extra[@]}" >"$log" 2>&1 || rc=$?
  secs=$((SECONDS - start))
  execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | tail -n1 | awk '{print $2}')
  execs=${execs:-0}
  rate=$((execs / (secs > 0 ? secs : 1)))
  if [ "$rc" -eq 0 ] && ! grep -qE '^==[0-9]+==ERROR|runtime error:|deadly signal' "$log"; then
    PASSED=$((PASSED + 1))
    printf '%-18s ok      %10s execs in %3d s (%s/s), corpus %d files\n' "$t" "$execs" "$secs" "$rate" \
      "$(find "$WORK/$name" -type f | wc -l)"
  else
    FAILED=$((FAILED + 1))
    printf '%-18s FAILED  %10s execs in %3d s, exit status %d\n' "$t" "$execs" "$secs" "$rc"
    grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|check failed:|SUMMARY' "$log" | head -n 5 | sed 's/^/    /'
    grep -E '^    #[0-9]+ .* [^ (]*(src/core|test/fuzz)/[^ ]*\.[ch]:[0-9]+' "$log" | head -n 12
    find "$art" -type f -newer "$WORK/$name.start" | while read -r a; do
      echo "    reproducer: ${a#"$ROOT"/}  (run: ${OUT#"$ROOT"/}/$t ${a#"$ROOT"/})"
    done
  fi
done
echo "${PASSED} passed, ${FAILED} failed"
[ "$FAILED" -eq 0 ]
