#!/usr/bin/env bash
# test/eval/parallel_plan.sh: hp.train_reward_model runs as a parallel
# aggregate, and the parallel model equals the serial one.
#
# 200,000 pairs x 64-d (test/eval/gen_pairs.c).  With parallel_setup_cost = 0,
# parallel_tuple_cost = 0, min_parallel_table_scan_size = 0 and
# max_parallel_workers_per_gather = 2, EXPLAIN (COSTS OFF) of the training
# query must show "Partial Aggregate" under "Gather"; EXPLAIN ANALYZE reports
# how many workers were launched.  Then for several option sets the model
# trained through the parallel plan (CREATE TABLE AS, which may run in
# parallel) is compared with the one trained with
# max_parallel_workers_per_gather = 0: m::text must be equal, or else
# max |hp.reward difference| over 1000 probe vectors must be <= 1e-6.
# Prints PASS/FAIL; exits non-zero on FAIL.  PG* connection variables;
# KEEP_DB=1 keeps the database hp_eval_parallel.
set -euo pipefail
source "$(dirname "$0")/lib.bash"
T0=$SECONDS
N=${N:-200000}
DIM=${DIM:-64}
PAR_SETTINGS="SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2;"

echo "== parallel_plan: $N pairs x $DIM-d"
db_create hp_eval_parallel
build_gen
load_pairs t --n "$N" --dim "$DIM" --seed 7 --margin-sd 3 --dist gauss
q >/dev/null <<SQL
ALTER TABLE t SET (parallel_workers = 2);
ANALYZE t;
SELECT setseed(0.25);
CREATE TABLE probes AS
  SELECT i, ARRAY(SELECT (random() * 2 - 1)::real FROM generate_series(1, $DIM) WHERE i > 0) AS x
  FROM generate_series(1, 1000) i;
SQL
echo "loaded in $((SECONDS - T0)) s; table size $(q -c "SELECT pg_size_pretty(pg_total_relation_size('t'))")"

FAIL=0
check() {  # check NAME CONDITION-TEXT (0/1)
  if [ "$2" = 1 ]; then echo "PASS $1"; else echo "FAIL $1"; FAIL=1; fi
}

PLAN=$(q -c "$PAR_SETTINGS" -c "EXPLAIN (COSTS OFF) SELECT hp.train_reward_model(chosen, rejected) FROM t")
echo "-- EXPLAIN (COSTS OFF) SELECT hp.train_reward_model(chosen, rejected) FROM t:"
echo "$PLAN" | sed 's/^/   /'
HAS=$(echo "$PLAN" | grep -q 'Partial Aggregate' && echo "$PLAN" | grep -q 'Gather' && echo 1 || echo 0)
check "plan has Partial Aggregate and Gather" "$HAS"

CTAS_PLAN=$(q -c "$PAR_SETTINGS" -c "EXPLAIN (COSTS OFF) CREATE TABLE m_explain AS SELECT hp.train_reward_model(chosen, rejected) AS m FROM t")
HAS=$(echo "$CTAS_PLAN" | grep -q 'Partial Aggregate' && echo "$CTAS_PLAN" | grep -q 'Gather' && echo 1 || echo 0)
check "CREATE TABLE AS plan (used for the comparison) is parallel too" "$HAS"

q -c "CREATE TABLE cmp (name text, same_text bool, max_diff float8, serial_s float8, parallel_s float8, workers text)"
i=0
while IFS='|' read -r NAME ARGS; do
  i=$((i + 1))
  # serial, then parallel (EXPLAIN ANALYZE first, to see the workers launched)
  WL=$(q -c "$PAR_SETTINGS" -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT hp.train_reward_model($ARGS) FROM t" |
       grep -oE 'Workers Launched: [0-9]+' | grep -oE '[0-9]+' | paste -sd+ -)
  q <<SQL
SET max_parallel_workers_per_gather = 0;
SELECT clock_timestamp() AS t0 \gset
CREATE TABLE ser_$i AS SELECT hp.train_reward_model($ARGS) AS m FROM t;
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS ser_s \gset
$PAR_SETTINGS
SELECT clock_timestamp() AS t0 \gset
CREATE TABLE par_$i AS SELECT hp.train_reward_model($ARGS) AS m FROM t;
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS par_s \gset
INSERT INTO cmp
SELECT \$n\$$NAME\$n\$, s.m::text = p.m::text,
       (SELECT max(abs(hp.reward(s.m, x) - hp.reward(p.m, x))) FROM probes),
       :ser_s, :par_s, '${WL:-?}'
FROM ser_$i s, par_$i p;
SQL
done <<'CASES'
default options (8 heads)|chosen, rejected
heads 1|chosen, rejected, '{"heads":1}'
heads 8 seed 3 lambda 1e-2|chosen, rejected, '{"heads":8,"seed":3,"lambda":0.01}'
laplace|chosen, rejected, '{"uncertainty":"laplace"}'
soft labels p_a = 0.9|chosen, rejected, 0.9, '{"heads":4}'
CASES

printf '%-30s %-9s %-12s %-9s %-10s %s\n' case "m::text=" "max|dr|" serial_s parallel_s "workers launched"
while IFS='|' read -r NAME SAME DIFF SS PS WL; do
  printf '%-30s %-9s %-12s %-9.3f %-10.3f %s\n' "$NAME" "$SAME" "$DIFF" "$SS" "$PS" "$WL"
  OK=$(awk -v s="$SAME" -v d="$DIFF" 'BEGIN{print (s == "t" || (d != "" && d + 0 <= 1e-6)) ? 1 : 0}')
  check "parallel model equals serial model: $NAME" "$OK"
  [ "$WL" != "0" ] || echo "WARNING: no parallel worker was launched for '$NAME' (max_worker_processes busy?)"
done < <(q -F '|' -c "SELECT name, same_text, max_diff, serial_s, parallel_s, workers FROM cmp ORDER BY ctid")

# 512-d rows are TOASTed: partial states carry TOAST pointers and the
# Finalize Aggregate reads the arrays in one pass; same model as serial.
load_pairs toasted --n "${N_TOAST:-20000}" --dim 512 --seed 9 --margin-sd 3 --dist gauss
q >/dev/null -c "ALTER TABLE toasted SET (parallel_workers = 2)" -c "ANALYZE toasted"
OUT=$(q <<SQL
SET max_parallel_workers_per_gather = 0;
CREATE TABLE ser_toast AS SELECT hp.train_reward_model(chosen, rejected) AS m FROM toasted;
$PAR_SETTINGS
CREATE TABLE par_toast AS SELECT hp.train_reward_model(chosen, rejected) AS m FROM toasted;
SELECT pg_relation_size(c.reltoastrelid) > 4 * pg_relation_size(c.oid), s.m::text = p.m::text
FROM pg_class c, ser_toast s, par_toast p WHERE c.relname = 'toasted';
SQL
)
echo "TOASTed 512-d table (arrays out of line, model equal): $OUT"
check "parallel model equals serial model on TOASTed 512-d rows" "$([ "$OUT" = "t|t" ] && echo 1 || echo 0)"

echo "elapsed $((SECONDS - T0)) s"
if [ "$FAIL" = 0 ]; then echo "PASS parallel_plan"; else echo "FAIL parallel_plan"; exit 1; fi
