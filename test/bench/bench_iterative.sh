#!/usr/bin/env bash
# test/bench/bench_iterative.sh: out-of-core (hp.train_reward_model_iterative)
# against in-memory (hp.train_reward_model) training, side by side in one run:
# wall time, their ratio, passes, and the peak memory of the backend.
#
# Data: N pairs x DIM (default 50,000 x 512, unit-norm embedding-like
# vectors, test/eval/gen_pairs.c --dist hh), lambda 1e-3, HEADS "1 8".
#
# Memory: every measurement runs in a fresh backend (one psql session) with
# parallel query off, so all the work happens in that process.  After a
# warm-up that loads OpenBLAS, a sampler reads /proc/<backend pid>/status
# every 20 ms while the training statement runs and keeps the largest
# RssAnon (private anonymous memory: palloc'd contexts and BLAS buffers,
# not the shared buffers the scan touches); the figure reported is that
# peak minus RssAnon just before the statement.  VmHWM (the process's peak
# resident set, shared pages included) is printed too.  Freed memory that
# malloc keeps mapped still counts, so peaks are upper bounds; a 20 ms
# sampler can miss a shorter spike.  pg_backend_memory_contexts is not
# used: it only shows the calling backend, and only between statements.
#
# Environment: PG* connection variables (database hp_bench_iter is created
# and dropped; KEEP_DB=1 keeps it), N, DIM, HEADS, DIST.  Client and server
# must share the machine (the sampler reads /proc), as root or as postgres.
set -euo pipefail
source "$(dirname "$0")/../eval/lib.bash"
T0=$SECONDS
N=${N:-50000}
DIM=${DIM:-512}
HEADS=${HEADS:-"1 8"}
DIST=${DIST:-hh}
LAMBDA=1e-3

echo "== bench_iterative: $N pairs x $DIM-d ($DIST), lambda $LAMBDA, heads $HEADS"
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
db_create hp_bench_iter
build_gen
load_pairs t --n "$N" --dim "$DIM" --seed 11 --dist "$DIST" --margin-sd 1.5
q -c "ANALYZE t"
echo "table t: $(q -c "SELECT pg_size_pretty(pg_total_relation_size('t'))"), loaded in $((SECONDS - T0)) s"

# The sampler: largest RssAnon (kB) of $1 until $2 exists, written to $3.
cat > "$WORK/sampler.sh" <<'EOF'
pid=$1; stop=$2; out=$3; max=0
while [ ! -e "$stop" ] && [ -e "/proc/$pid/status" ]; do
  v=$(awk '/^RssAnon:/{print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
  [ -n "$v" ] && [ "$v" -gt "$max" ] && max=$v
  sleep 0.02
done
echo "$max" > "$out"
EOF

# measure NAME SQL: run SQL in a fresh backend; prints "secs peak_kB vmhwm_kB notices".
measure() {
  local name=$1 sql=$2 dir=$WORK/$1
  mkdir -p "$dir"
  q 2> "$dir/stderr" <<SQL
SET max_parallel_workers_per_gather = 0;
-- warm-up: loads OpenBLAS, so the baseline includes it
SELECT pg_column_size(hp.train_reward_model(chosen, rejected, '{"heads":1}')) FROM (SELECT * FROM t LIMIT 100) s \\g /dev/null
SELECT pg_backend_pid() AS pid \\gset
\\setenv HP_PID :pid
\\! awk '/^RssAnon:/{print \$2}' /proc/\$HP_PID/status > $dir/base
\\! bash $WORK/sampler.sh \$HP_PID $dir/stop $dir/peak > /dev/null 2>&1 &
SELECT clock_timestamp() AS t0 \\gset
$sql \\g /dev/null
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS secs \\gset
\\! touch $dir/stop; sleep 0.3; awk '/^VmHWM:/{print \$2}' /proc/\$HP_PID/status > $dir/hwm
\\echo :secs
SQL
  echo "$(cat "$dir/stderr" | grep -c 'iterative: pass' || true)" > "$dir/passes"
}

printf '\n%-6s %-11s %9s %7s %16s %12s\n' heads trainer time_s passes peak_RssAnon_MB VmHWM_MB
declare -A SECS PEAK
for H in $HEADS; do
  OPTS="{\"heads\":$H,\"lambda\":$LAMBDA,\"seed\":1}"
  for TR in memory iterative; do
    if [ "$TR" = memory ]; then
      SQL="SELECT pg_column_size(hp.train_reward_model(chosen, rejected, '$OPTS')) FROM t"
    else
      SQL="SELECT pg_column_size(hp.train_reward_model_iterative('t', 'chosen', 'rejected', '$OPTS'))"
    fi
    S=$(measure "${TR}_$H" "$SQL")
    D=$WORK/${TR}_$H
    P=$(awk -v a="$(cat "$D/peak")" -v b="$(cat "$D/base")" 'BEGIN{printf "%.1f", (a - b) / 1024}')
    W=$(awk -v a="$(cat "$D/hwm")" 'BEGIN{printf "%.0f", a / 1024}')
    NP=$([ "$TR" = iterative ] && cat "$D/passes" || echo -)
    SECS[$TR$H]=$S
    PEAK[$TR$H]=$P
    printf '%-6s %-11s %9.2f %7s %16s %12s\n' "$H" "$TR" "$S" "$NP" "$P" "$W"
  done
done

echo
echo "Summary ($N pairs x $DIM-d, lambda $LAMBDA, serial plans, hybridpref.blas_threads default):"
echo
echo "| heads | in-memory (s) | iterative (s) | iterative / in-memory | peak memory in-memory (MB) | peak memory iterative (MB) |"
echo "|---:|---:|---:|---:|---:|---:|"
for H in $HEADS; do
  R=$(awk -v a="${SECS[iterative$H]}" -v b="${SECS[memory$H]}" 'BEGIN{printf "%.2f", a / b}')
  printf '| %s | %.2f | %.2f | %s | %s | %s |\n' "$H" "${SECS[memory$H]}" "${SECS[iterative$H]}" "$R" "${PEAK[memory$H]}" "${PEAK[iterative$H]}"
done
echo
echo "(peak memory: largest RssAnon of the backend during the statement minus RssAnon before it, sampled every 20 ms from /proc)"
echo "elapsed $((SECONDS - T0)) s"
