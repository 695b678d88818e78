#!/usr/bin/env bash
# test/eval/synthetic_bayes.sh: does hp.train_reward_model reach the Bayes
# accuracy on data drawn from a known linear Bradley-Terry model?
#
# 50,000 training pairs + 20,000 held-out pairs, dim 256, a, b ~ N(0, I)
# (reproducible, test/eval/gen_pairs.c, loaded through binary COPY); true
# reward r*(x) = w*.x with |w*| scaled so that sd(w*.(a-b)) = 4 (Bayes
# accuracy ~0.87); labels drawn from P(a > b) = sigmoid(w*.(a-b)).
# Trains with heads 1 and heads 8 (default lambda 1e-3) and compares the
# held-out accuracy of hp.prefer(m, chosen, rejected) > 0.5 with the
# Bayes-optimal accuracy on the same pairs (sign of the true reward
# difference vs the drawn label).  PASS when within 0.5 points; exits
# non-zero on FAIL.  Environment: PG* connection variables; KEEP_DB=1 keeps
# the database hp_eval_synth.
set -euo pipefail
source "$(dirname "$0")/lib.bash"
T0=$SECONDS
N_TRAIN=${N_TRAIN:-50000}
N_TEST=${N_TEST:-20000}
DIM=${DIM:-256}
TOL_POINTS=0.5

echo "== synthetic_bayes: $N_TRAIN train / $N_TEST held-out pairs, dim $DIM, known linear BT reward"
db_create hp_eval_synth
build_gen
COMMON_ARGS="--dim $DIM --wseed 4242 --margin-sd 4 --dist gauss"
load_pairs train --n "$N_TRAIN" --seed 1 $COMMON_ARGS
load_pairs test --n "$N_TEST" --seed 2 --start-id 10000000 $COMMON_ARGS
q -c "ANALYZE train; ANALYZE test"
echo "data generated and loaded in $((SECONDS - T0)) s"

q -c "CREATE TABLE models (heads int, m hp.model, secs float8)"
for H in 1 8; do
  q <<SQL
SELECT clock_timestamp() AS t0 \gset
CREATE TEMP TABLE mm AS SELECT hp.train_reward_model(chosen, rejected, '{"heads":$H,"seed":1}') AS m FROM train;
INSERT INTO models SELECT $H, m, extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) FROM mm;
SQL
done

FAIL=0
printf '%-7s %9s %10s %10s %9s %9s %s\n' heads train_s acc bayes diff_pts corr_r* verdict
while IFS='|' read -r H SECS ACC BAYES CORR; do
  DIFF=$(awk -v a="$ACC" -v b="$BAYES" 'BEGIN{printf "%+.3f", (a-b)*100}')
  OK=$(awk -v d="$DIFF" -v t="$TOL_POINTS" 'BEGIN{print (d <= t && d >= -t) ? "PASS" : "FAIL"}')
  [ "$OK" = PASS ] || FAIL=1
  printf '%-7s %9.2f %10.4f %10.4f %9s %9.4f %s\n' "$H" "$SECS" "$ACC" "$BAYES" "$DIFF" "$CORR" "$OK"
done < <(q -F '|' <<'SQL'
SELECT heads, secs,
       avg((hp.prefer(m, chosen, rejected) > 0.5)::int),
       avg((margin > 0)::int),
       corr(hp.reward(m, chosen) - hp.reward(m, rejected), margin)
FROM models, test GROUP BY heads, secs ORDER BY heads;
SQL
)
q -c "SELECT 'model_info(heads 8): ' || hp.model_info(m)::text FROM models WHERE heads = 8" | cut -c1-400

echo "elapsed $((SECONDS - T0)) s"
if [ "$FAIL" = 0 ]; then
  echo "PASS synthetic_bayes: held-out accuracy within $TOL_POINTS points of Bayes-optimal (heads 1 and 8)"
else
  echo "FAIL synthetic_bayes: held-out accuracy not within $TOL_POINTS points of Bayes-optimal"
  exit 1
fi
