#!/usr/bin/env bash
# test/bench/bench_simulate.sh: hp.simulate_routings against the same loop
# written with scikit-learn, side by side in one run on the same data.
#
# Data: N training pairs (7,000) x DIM (512) and M held-out pairs (2,000),
# embeddings drawn from a pool of 8,192 random vectors joined by hash (fast
# and reproducible: setseed).  A hidden linear reward labels pairs for
# humans and for the held-out set; the LLM judge uses a reward with half its
# coordinates reversed on one of 8 tags.  Features: the tag and a 3-way bin.
#
# hp:       SELECT ... FROM hp.simulate_routings(...) with BUDGETS (10) x 2
#           samplers x PER_BUDGET (10) = 200 candidates, with_ids => true so
#           the routings can be exported; wall time of the whole statement
#           (reading both tables included), clock_timestamp() deltas in one
#           session, hybridpref.blas_threads = 1.
# sklearn:  the same candidates (their exported human sets), the same
#           difference vectors and labels, LogisticRegression(
#           fit_intercept=False, C=1/(lambda N), solver lbfgs) fitted per
#           candidate on arrays already in memory, then held-out accuracy;
#           OPENBLAS_NUM_THREADS=1.  See simulate_sklearn.py.
# Printed: both wall times, their ratio, candidates/s, and how closely the
# two agree on each candidate's held-out accuracy.
#
# Environment: PG* connection variables (database hp_bench_sim is created
# and dropped; KEEP_DB=1 keeps it), N, M, DIM, LAMBDA (1e-3), PER_BUDGET.
set -euo pipefail
source "$(dirname "$0")/../eval/lib.bash"
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
N=${N:-7000}
M=${M:-2000}
DIM=${DIM:-512}
LAMBDA=${LAMBDA:-1e-3}
PER_BUDGET=${PER_BUDGET:-10}
BUDGETS='{0.05,0.15,0.25,0.35,0.45,0.55,0.65,0.75,0.85,0.95}'
CANDS=$((10 * 2 * PER_BUDGET))

echo "== bench_simulate: $CANDS candidates, $N training pairs x $DIM-d, $M held-out pairs, lambda $LAMBDA"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
db_create hp_bench_sim

q <<SQL
SELECT setseed(0.25);
-- A pool of random vectors, assembled into pairs by hash, keeps generation fast.
CREATE TABLE pool AS
SELECT i, array_agg((random() - 0.5)::real ORDER BY j) AS x
FROM generate_series(0, 8191) i, generate_series(1, $DIM) j GROUP BY i;
CREATE TABLE wv AS SELECT j, (random() - 0.5)::real AS w FROM generate_series(1, $DIM) j;
-- The LLM judge's reward on tag 0: the first half of the coordinates reversed.
CREATE TABLE rewards AS
SELECT hp.linear_model(array_agg(w ORDER BY j)) AS truth,
       hp.linear_model(array_agg(CASE WHEN j <= $DIM / 2 THEN -w ELSE w END ORDER BY j)) AS judge
FROM wv;
CREATE TABLE pool_r AS
SELECT i, x, hp.reward(truth, x) AS r, hp.reward(judge, x) AS rj FROM pool, rewards;
CREATE TABLE train_map AS
SELECT id, (id::bigint * 2654435761) % 8192 AS ia, (id::bigint * 40503 + 4099) % 8192 AS ib FROM generate_series(1, $N) id;
CREATE TABLE heldout_map AS
SELECT id, (id::bigint * 69069 + 17) % 8192 AS ia, (id::bigint * 1103515245 + 12345) % 8192 AS ib FROM generate_series(1, $M) id;
CREATE TABLE train AS
SELECT m.id, a.x AS a_emb, b.x AS b_emb,
       (a.r > b.r)::int::float8 AS human_label,
       CASE WHEN m.id % 8 = 0 THEN (a.rj > b.rj)::int::float8 ELSE (a.r > b.r)::int::float8 END AS llm_label,
       ARRAY['tag:t' || m.id % 8, 'bin:b' || (m.id / 8) % 3] AS features
FROM train_map m JOIN pool_r a ON a.i = m.ia JOIN pool_r b ON b.i = m.ib;
CREATE TABLE heldout AS
SELECT m.id, a.x AS a_emb, b.x AS b_emb, (a.r > b.r)::int::float8 AS trusted_label
FROM heldout_map m JOIN pool_r a ON a.i = m.ia JOIN pool_r b ON b.i = m.ib;
VACUUM ANALYZE train; VACUUM ANALYZE heldout;
SQL
echo "data: train $(q -c "SELECT pg_size_pretty(pg_total_relation_size('train'))"), LLM labels wrong on $(q -c "SELECT count(*) FROM train WHERE human_label <> llm_label") of $N pairs"

# Export what scikit-learn needs: the pool, which pool vectors form each
# pair, the labels, and the candidates' human sets.
q -c "\\copy (SELECT i, array_to_string(x, ' ') FROM pool ORDER BY i) TO '$WORK/pool.txt'"
q -c "\\copy (SELECT m.id, m.ia, m.ib, t.human_label, t.llm_label FROM train_map m JOIN train t USING (id) ORDER BY m.id) TO '$WORK/train.txt'"
q -c "\\copy (SELECT m.ia, m.ib, h.trusted_label FROM heldout_map m JOIN heldout h USING (id) ORDER BY m.id) TO '$WORK/heldout.txt'"

q <<SQL
SET max_parallel_workers_per_gather = 0;
-- warm-up: loads OpenBLAS in this backend
SELECT count(*) FROM hp.simulate_routings('train', 'heldout', '{0.5}', 1, samplers => '{uniform}') \\g /dev/null
SELECT clock_timestamp() AS t0 \\gset
CREATE TABLE sim AS
SELECT * FROM hp.simulate_routings('train', 'heldout', '$BUDGETS', $PER_BUDGET,
                                   jsonb_build_object('lambda', $LAMBDA), with_ids => true);
CREATE TABLE timing AS SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS secs;
SQL
HP_S=$(q -c "SELECT round(secs::numeric, 3) FROM timing")
q -c "\\copy (SELECT candidate, budget, sampler, score, array_to_string(human_ids, ' ') FROM sim ORDER BY candidate) TO '$WORK/cands.txt'"

echo "hp.simulate_routings: $CANDS candidates in $HP_S s ($(awk -v c="$CANDS" -v s="$HP_S" 'BEGIN{printf "%.1f", c / s}') candidates/s, reading included)"
q -c "SELECT format('  mean held-out accuracy by sampler: %s', string_agg(format('%s %s', sampler, round(a::numeric, 4)), ', ' ORDER BY sampler)) FROM (SELECT sampler, avg(score) a FROM sim GROUP BY sampler) s"

OUT=$(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $PY "$BENCH_DIR/simulate_sklearn.py" "$WORK" "$LAMBDA")
echo "$OUT" | sed 's/^/  /'
SK_S=$(echo "$OUT" | awk -F= '/^sk_total_s=/{print $2}')
echo
echo "| $CANDS candidates, $N x $DIM-d, 1 thread | wall s | candidates/s |"
echo "|---|---|---|"
awk -v c="$CANDS" -v h="$HP_S" -v s="$SK_S" 'BEGIN {
  printf "| hp.simulate_routings (reading included) | %.2f | %.1f |\n", h, c / h
  printf "| scikit-learn loop (arrays in memory) | %.2f | %.1f |\n", s, c / s
  printf "| ratio sklearn / hp | %.1fx | |\n", s / h
}'
