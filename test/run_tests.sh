#!/usr/bin/env bash
# test/run_tests.sh: installs dependencies, builds and installs hybridpref,
# then runs every test suite against a throwaway cluster:
#   core unit tests (plain and under ASan/UBSan), pg_regress, TAP, the demo
#   script, and any optional test/<dir>/run_short.sh (fuzz smoke runs, ...).
# Ends with one line "N passed, M failed" (test cases summed over suites) and
# exits non-zero if anything failed or a suite could not run.
# Logs: .tmp/test-logs/<suite>.log.  RUN_EVAL=1 also runs test/eval/*.sh
# (not counted as tests) when ../shared/data exists.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LOG=$ROOT/.tmp/test-logs
rm -rf "$LOG" && mkdir -p "$LOG"
START=$SECONDS
PASSED=0
FAILED=0
RESULTS=()

section() { printf '\n======== %s ========\n' "$*"; }

# Counts from a log: the last "[word: ]N passed, M failed" line.
count_plain() {
  grep -E '^([A-Za-z0-9_-]+: )?[0-9]+ passed, [0-9]+ failed' "$1" | tail -n1 |
    sed -E 's/^([A-Za-z0-9_-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\2 \3/'
}
# pg_regress: "All N tests passed." or "M of N tests failed."
count_regress() {
  local p=0 f=0 n m
  while read -r n; do p=$((p + n)); done < <(grep -oE 'All [0-9]+ tests passed' "$1" | awk '{print $2}')
  while read -r m n; do f=$((f + m)); p=$((p + n - m)); done < <(grep -oE '[0-9]+ of [0-9]+ tests failed' "$1" | awk '{print $1, $3}')
  echo "$p $f"
}
# prove: "Files=F, Tests=N"; each script in the failure report counts its
# failed subtests, or one failure if it died or broke its plan.
count_prove() {
  local n k f
  n=$(grep -oE '^Files=[0-9]+, Tests=[0-9]+' "$1" | tail -n1 | sed -E 's/.*Tests=//')
  [ -n "$n" ] || return 0
  read -r k f < <(grep -E '\(Wstat: [0-9]+.*Tests: [0-9]+ Failed: [0-9]+\)' "$1" |
    sed -E 's/.*Wstat: ([0-9]+).*Failed: ([0-9]+)\)/\1 \2/' |
    awk '{k += $2; f += ($2 > 0 ? $2 : ($1 != 0 ? 1 : 0))} END {print k + 0, f + 0}')
  echo "$((n - k)) $f"
}
# A script without counts is one test case, judged by its exit code.
count_exit() { :; }

# run_suite NAME COUNTER CMD...: runs CMD, output to the terminal and the log;
# a non-zero exit with no counted failure counts as one failure.
run_suite() {
  local name=$1 counter=$2 rc=0 p f
  shift 2
  section "$name"
  "$@" 2>&1 | tee "$LOG/$name.log" || rc=$?
  read -r p f <<<"$($counter "$LOG/$name.log") "
  if [ -z "$p" ]; then
    if [ "$rc" -eq 0 ]; then p=1 f=0; else p=0 f=1; fi
  elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1
  fi
  [ "$rc" -eq 0 ] || echo "$name: exit status $rc"
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
  RESULTS+=("$(printf '  %-22s %5d passed, %d failed' "$name" "$p" "$f")")
}

summary() {
  section "summary ($((SECONDS - START)) s, logs in .tmp/test-logs)"
  printf '%s\n' "${RESULTS[@]}"
  echo "$PASSED passed, $FAILED failed"
  exit $((FAILED > 0))
}

section "dependencies"
bash test/setup_deps.sh

section "build and install"
if ! { make -j2 && make install; } >"$LOG/build.log" 2>&1; then
  tail -n 40 "$LOG/build.log"
  FAILED=$((FAILED + 1))
  RESULTS+=("  build failed: no suite could run (see .tmp/test-logs/build.log)")
  summary
fi
echo "built ($(grep -c 'warning:' "$LOG/build.log" || true) compiler warnings) and installed into $(pg_config --pkglibdir)"

make -s -j2 test/core/test_core test/core/test_core_asan >/dev/null 2>&1 || true
run_suite core count_plain make -s core-check
run_suite core-asan count_plain make -s core-check-asan

section "cluster"
source test/cluster.sh
cluster_start

# pg_regress only (TAP_TESTS emptied); diffs shown inline for CI logs.
regress_tests() {
  local rc=0
  make installcheck TAP_TESTS= || rc=$?
  if [ "$rc" -ne 0 ] && [ -f results_regress/regression.diffs ]; then
    echo "--- first lines of results_regress/regression.diffs"
    head -n 80 results_regress/regression.diffs
  fi
  return $rc
}
run_suite pg_regress count_regress regress_tests

# TAP nodes run initdb, which refuses root: run prove as the postgres user on
# a copy of the tree it can read, through PGXS's own installcheck rule.
tap_tests() {
  local dir=$CLUSTER_DIR/tap-src rc=0
  mkdir -p "$dir"
  tar -C "$ROOT" --exclude=./.git --exclude=./.tmp --exclude=./tmp_check \
    --exclude=./results_regress --exclude=./test/fuzz/build -cf - . | tar -C "$dir" -xf -
  [ "$(id -u)" -ne 0 ] || chown -R "$PG_RUNAS": "$dir"
  (cd "$dir" && as_pg make -s installcheck REGRESS= PROVE_FLAGS=--verbose) || rc=$?
  if [ -d "$dir/tmp_check/log" ]; then
    cp -r "$dir/tmp_check/log" "$LOG/tap"
    [ "$rc" -eq 0 ] || for f in "$LOG"/tap/regress_log_*; do
      printf -- '--- last lines of %s\n' "${f#"$ROOT"/}"
      tail -n 15 "$f"
    done
  fi
  return $rc
}
run_suite tap count_prove tap_tests

run_suite demo count_exit psql -X -q -v ON_ERROR_STOP=1 -f test/demo.sql

# Acceptance checks on generated data (no ../shared needed): accuracy within
# 0.5 points of Bayes-optimal, and parallel == serial models.
run_suite synthetic-bayes count_exit bash test/eval/synthetic_bayes.sh
run_suite parallel-plan count_exit bash test/eval/parallel_plan.sh
# On real data when ../shared is there: accuracy = scikit-learn's and an
# informative prefer_std on hh-rlhf; an informative prefer_std on PandaLM.
if [ -d ../shared/data ]; then
  run_suite hh-rlhf count_exit bash test/eval/hh_rlhf_eval.sh
  run_suite pandalm-uncertainty count_exit bash test/eval/pandalm_uncertainty.sh
fi

for s in test/*/run_short.sh; do
  [ -e "$s" ] || continue
  run_suite "$(basename "$(dirname "$s")")" count_plain bash "$s"
done

if [ "${RUN_EVAL:-}" = 1 ] && [ -d ../shared/data ]; then
  for s in test/eval/*.sh; do
    [ -e "$s" ] || continue
    section "evaluation $s (not counted)"
    bash "$s" || echo "evaluation $s: exit status $?"
  done
fi

summary
