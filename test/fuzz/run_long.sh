#!/usr/bin/env bash
# test/fuzz/run_long.sh: the long fuzz run (acceptance: >= 10 million
# executions per target, no crash, leak or timeout).
# Builds the targets, then runs each with -runs=$RUNS on a persistent
# working corpus test/fuzz/build/long-corpus/<target> (seeded from
# test/fuzz/corpus/<target>, which is read but never written), and reports
# per target: executions, seconds, execs/s, corpus size, and findings.
# Environment:
#   TARGETS="fuzz_select fuzz_train"  targets to run (default: all)
#   RUNS=10000000                     executions per target
#   MAX_TIME=0                        optional per-target time cap, seconds
#   PARALLEL=1                        targets run at the same time (one core each)
#   HP_FUZZ_IGNORE=id,...             skip checks of known, reported bugs
#                                     (see README.md); unset by default
#   NO_BUILD=1                        use the targets already built
#   KEEP_GOING=1                      fork mode: go on after a crash, leak or
#                                     timeout (each one saved as an artifact)
# Reproducers: test/fuzz/build/artifacts/<target>/; logs: test/fuzz/build/logs/long-*.log.
set -uo pipefail
FUZZ=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$FUZZ/../.." && pwd)
OUT=$FUZZ/build
RUNS=${RUNS:-10000000}
MAX_TIME=${MAX_TIME:-0}
PARALLEL=${PARALLEL:-1}
export OPENBLAS_NUM_THREADS=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ -n "${TARGETS:-}" ]; then
  read -r -a LIST <<<"$TARGETS"
else
  LIST=()
  for f in "$FUZZ"/fuzz_*.c; do LIST+=("$(basename "$f" .c)"); done
fi
if [ -z "${NO_BUILD:-}" ]; then
  bash "$FUZZ/build.sh" "${LIST[@]}" || { echo "run_long: build failed" >&2; exit 1; }
fi
mkdir -p "$OUT/logs"
echo "run_long: ${LIST[*]}: RUNS=$RUNS MAX_TIME=$MAX_TIME PARALLEL=$PARALLEL${HP_FUZZ_IGNORE:+ HP_FUZZ_IGNORE=$HP_FUZZ_IGNORE}"

# run_one TARGET: one libFuzzer run; writes a result line to $OUT/logs/long-TARGET.result
run_one() {
  local t=$1 name=${1#fuzz_} log=$OUT/logs/long-$1.log art=$OUT/artifacts/$1
  local corpus=$OUT/long-corpus/$name start rc=0 secs execs rate found
  mkdir -p "$corpus" "$art"
  touch "$OUT/logs/long-$t.start"
  local args=(-runs="$RUNS" -max_total_time="$MAX_TIME" -detect_leaks=1 -rss_limit_mb=2048 -timeout=10
              -print_final_stats=1 -artifact_prefix="$art/")
  [ -f "$FUZZ/dict/$name.dict" ] && args+=(-dict="$FUZZ/dict/$name.dict")
  [ -z "${KEEP_GOING:-}" ] || args+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  start=$(date +%s)
  local extra=()
  [ -d "$FUZZ/crashes/$t" ] && extra+=("$FUZZ/crashes/$t")
  "$OUT/$t" "${args[@]}" "$corpus" "$FUZZ/corpus/$name" "${extra[@]}" >"$log" 2>&1 || rc=$?
  secs=$(($(date +%s) - start))
  if [ -z "${KEEP_GOING:-}" ]; then
    execs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | tail -n1 | awk '{print $2}')
  else
    execs=$(grep -oE '^#[0-9]+:' "$log" | tail -n1 | tr -d '#:')
  fi
  execs=${execs:-0}
  rate=$((execs / (secs > 0 ? secs : 1)))
  found=$(find "$art" -type f -newer "$OUT/logs/long-$t.start" | wc -l)
  [ "$found" -eq 0 ] || [ "$rc" -ne 0 ] || rc=1
  printf '%-18s %12s execs %7d s %8d/s  corpus %5d  findings %d  exit %d\n' "$t" "$execs" "$secs" "$rate" \
    "$(find "$corpus" -type f | wc -l)" "$found" "$rc" >"$OUT/logs/long-$t.result"
  if [ "$rc" -ne 0 ] && [ -z "${KEEP_GOING:-}" ]; then
    {
      grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|check failed:|SUMMARY' "$log" | head -n 5
      grep -E '^    #[0-9]+ .* [^ (]*(src/core|test/fuzz)/[^ ]*\.[ch]:[0-9]+' "$log" | head -n 12
      find "$art" -type f -newer "$OUT/logs/long-$t.start" | sed "s|^$ROOT/|    reproducer: |"
    } >>"$OUT/logs/long-$t.result"
  elif [ "$found" -gt 0 ]; then
    find "$art" -type f -newer "$OUT/logs/long-$t.start" | sed "s|^$ROOT/|    reproducer: |" >>"$OUT/logs/long-$t.result"
  fi
  cat "$OUT/logs/long-$t.result"
}

pids=()
for t in "${LIST[@]}"; do
  run_one "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$PARALLEL" ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
done
for p in "${pids[@]}"; do wait "$p"; done

echo
echo "run_long summary (RUNS=$RUNS):"
FAILED=0
for t in "${LIST[@]}"; do
  head -n1 "$OUT/logs/long-$t.result"
  grep -q ' exit 0$' <(head -n1 "$OUT/logs/long-$t.result") || FAILED=$((FAILED + 1))
done
echo "$((${#LIST[@]} - FAILED)) passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
