#!/usr/bin/env bash
# test/eval/iterative_vs_memory.sh: out-of-core training where in-memory
# training does not fit.
#
# 100,000 training pairs x 64-d (+ 20,000 held-out pairs), a, b ~ N(0, I),
# known linear Bradley-Terry reward (test/eval/gen_pairs.c).  With
# hybridpref.max_train_memory = 16MB the in-memory aggregate needs
# 100k x (64 + 3) x 4 B = 27 MB of rows, so hp.train_reward_model must fail
# cleanly with the limit error (SQLSTATE 54000), while
# hp.train_reward_model_iterative (state O(heads x dim^2), here 9 x 64^2
# doubles) converges under the same setting.  The in-memory model, trained
# with the limit raised, is the reference: the iterative model's held-out
# accuracy (hp.eval_metrics) must be within 0.2 points of it; also printed:
# passes, times, the largest reward difference over the held-out rows and
# the training losses.  Runs for the default ensemble (8 heads) and for
# 1 head.  Exits non-zero on any failure.  Environment: PG* connection
# variables, N_TRAIN, N_TEST, DIM; KEEP_DB=1 keeps the database
# hp_eval_iter.
set -euo pipefail
source "$(dirname "$0")/lib.bash"
T0=$SECONDS
N_TRAIN=${N_TRAIN:-100000}
N_TEST=${N_TEST:-20000}
DIM=${DIM:-64}
LIMIT=16MB
TOL_POINTS=0.2

echo "== iterative_vs_memory: $N_TRAIN train / $N_TEST held-out pairs, dim $DIM, hybridpref.max_train_memory = $LIMIT"
db_create hp_eval_iter
build_gen
COMMON_ARGS="--dim $DIM --wseed 777 --margin-sd 3 --dist gauss"
load_pairs train --n "$N_TRAIN" --seed 1 $COMMON_ARGS
load_pairs test --n "$N_TEST" --seed 2 --start-id 10000000 $COMMON_ARGS
q -c "ANALYZE train; ANALYZE test"
echo "data generated and loaded in $((SECONDS - T0)) s; table train $(q -c "SELECT pg_size_pretty(pg_total_relation_size('train'))")"

FAIL=0
q -c "CREATE TABLE results (opts text, trainer text, m hp.model, secs float8, passes int)"
for OPTS in '{"seed": 1}' '{"heads": 1, "seed": 1}'; do
  echo
  echo "-- options $OPTS"
  # 1. In-memory training under the low limit must fail with the limit error.
  OUT=$(psql -X -q -At -d "$DB" 2>&1 <<SQL || true
SET max_parallel_workers_per_gather = 0;
SET hybridpref.max_train_memory = '$LIMIT';
\\set VERBOSITY verbose
SELECT hp.train_reward_model(chosen, rejected, '$OPTS') IS NOT NULL FROM train;
SQL
)
  if echo "$OUT" | grep -q "54000" && echo "$OUT" | grep -q "exceeds hybridpref.max_train_memory"; then
    echo "in-memory under $LIMIT: fails as expected: $(echo "$OUT" | grep -m1 ERROR)"
  else
    echo "FAIL: in-memory training under $LIMIT did not fail with the limit error:"
    echo "$OUT" | head -5
    FAIL=1
  fi

  # 2. The iterative trainer under the same limit; its NOTICEs count the passes.
  LOG=$WORK/iter.log
  q 2> "$LOG" <<SQL || { cat "$LOG"; echo "FAIL: the iterative trainer failed"; exit 1; }
SET max_parallel_workers_per_gather = 0;
SET hybridpref.max_train_memory = '$LIMIT';
SELECT clock_timestamp() AS t0 \\gset
INSERT INTO results SELECT '$OPTS', 'iterative', hp.train_reward_model_iterative('train', 'chosen', 'rejected', '$OPTS'), 0, 0;
UPDATE results SET secs = extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) WHERE trainer = 'iterative' AND opts = '$OPTS';
SQL
  PASSES=$(grep -c "hp.train_reward_model_iterative: pass" "$LOG" || true)
  q -c "UPDATE results SET passes = $PASSES WHERE trainer = 'iterative' AND opts = '$OPTS'"
  sed 's/^NOTICE:  hp.train_reward_model_iterative: /  /' "$LOG"
  if grep -q "WARNING" "$LOG"; then
    echo "FAIL: the iterative trainer did not converge"
    FAIL=1
  fi

  # 3. The in-memory reference with the limit raised (the default, 1 GB).
  q <<SQL
SET max_parallel_workers_per_gather = 0;
SELECT clock_timestamp() AS t0 \\gset
INSERT INTO results SELECT '$OPTS', 'in-memory', hp.train_reward_model(chosen, rejected, '$OPTS'), 0, NULL FROM train;
UPDATE results SET secs = extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) WHERE trainer = 'in-memory' AND opts = '$OPTS';
SQL

  # 4. Held-out comparison.
  read -r ACC_IT ACC_MEM BAYES DREW LOSS_IT LOSS_MEM SEC_IT SEC_MEM NP < <(q -F ' ' <<SQL
SELECT (SELECT (hp.eval_metrics(i.m, chosen, rejected))->>'accuracy' FROM test),
       (SELECT (hp.eval_metrics(r.m, chosen, rejected))->>'accuracy' FROM test),
       (SELECT avg((margin > 0)::int) FROM test),
       (SELECT max(abs(hp.reward(i.m, chosen) - hp.reward(r.m, chosen))) FROM test),
       hp.model_info(i.m)->>'loss', hp.model_info(r.m)->>'loss',
       round(i.secs::numeric, 2), round(r.secs::numeric, 2), i.passes
FROM results i JOIN results r USING (opts)
WHERE i.trainer = 'iterative' AND r.trainer = 'in-memory' AND opts = '$OPTS';
SQL
)
  DIFF=$(awk -v a="$ACC_IT" -v b="$ACC_MEM" 'BEGIN{printf "%+.3f", (a-b)*100}')
  OK=$(awk -v d="$DIFF" -v t="$TOL_POINTS" 'BEGIN{print (d <= t && d >= -t) ? "PASS" : "FAIL"}')
  [ "$OK" = PASS ] || FAIL=1
  printf '%-10s %8s %7s %10s %10s %12s\n' trainer train_s passes heldout_acc bayes train_loss
  printf '%-10s %8s %7s %10.4f %10.4f %12.6f\n' iterative "$SEC_IT" "$NP" "$ACC_IT" "$BAYES" "$LOSS_IT"
  printf '%-10s %8s %7s %10.4f %10.4f %12.6f\n' in-memory "$SEC_MEM" - "$ACC_MEM" "$BAYES" "$LOSS_MEM"
  echo "held-out accuracy difference $DIFF points (tolerance $TOL_POINTS): $OK;" \
    "max |reward difference| over held-out chosen rows: $DREW"
done

echo
echo "elapsed $((SECONDS - T0)) s"
if [ "$FAIL" = 0 ]; then
  echo "PASS iterative_vs_memory: in-memory training fails cleanly under $LIMIT, the iterative trainer converges and matches it"
else
  echo "FAIL iterative_vs_memory"
  exit 1
fi
