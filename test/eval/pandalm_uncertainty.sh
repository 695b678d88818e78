#!/usr/bin/env bash
# test/eval/pandalm_uncertainty.sh: is hp.prefer_std informative on a second
# real data set?  PandaLM test set (../shared/data/pandalm): pairs where the
# three annotators' majority prefers one side (ties dropped), chosen and
# rejected = the majority's preferred and other response embedding (512-d).
# 5-fold cross-validation over prompts (md5 rank mod 5; pairs share prompts).
# Per fold, 8-head models with lambda "auto" and with the default 1e-3 are
# trained on 4 folds; on the held-out pairs (pooled) it prints accuracy and
# the accuracy of the 20% with the largest and smallest hp.prefer_std.
# Criterion (PASS/FAIL, exit 1 on FAIL), for lambda "auto": the top 20% by
# hp.prefer_std are less accurate than the bottom 20%.
# Skips (exit 0) when ../shared/data/pandalm is absent.
set -euo pipefail
source "$(dirname "$0")/lib.bash"
DATA=$REPO_ROOT/../shared/data/pandalm
if [ ! -f "$DATA/pairs.csv.gz" ] || [ ! -f "$DATA/emb.csv.gz" ]; then
  echo "SKIP pandalm_uncertainty: $DATA/pairs.csv.gz or emb.csv.gz not found"
  exit 0
fi
DATA=$(cd "$DATA" && pwd)
T0=$SECONDS
echo "== pandalm_uncertainty: PandaLM, human-majority pairs, 5-fold CV over prompts, 8 heads"
db_create hp_eval_pandalm_unc
pandalm_tables "$DATA" | q
q <<SQL
SET client_min_messages = warning;
CREATE TABLE pairs AS
WITH v AS (SELECT r.id, r.prompt, e.a_emb, e.b_emb,
                  (r.human1 = 1)::int + (r.human2 = 1)::int + (r.human3 = 1)::int AS for_a,
                  (r.human1 = 2)::int + (r.human2 = 2)::int + (r.human3 = 2)::int AS for_b
           FROM raw r JOIN emb e USING (id)),
     pr AS (SELECT prompt, (row_number() OVER (ORDER BY md5(prompt)) - 1)::int AS rk
            FROM (SELECT DISTINCT prompt FROM raw) s)
SELECT id, pr.rk % 5 AS fold,
       CASE WHEN for_a > for_b THEN a_emb ELSE b_emb END AS chosen,
       CASE WHEN for_a > for_b THEN b_emb ELSE a_emb END AS rejected
FROM v JOIN pr USING (prompt)
WHERE for_a <> for_b;
CREATE TABLE models AS
SELECT l.name, f.fold,
       (SELECT hp.train_reward_model(chosen, rejected, l.opts) FROM pairs p WHERE p.fold <> f.fold) AS m
FROM generate_series(0, 4) f(fold),
     (VALUES ('auto', '{"heads": 8, "lambda": "auto", "seed": 1}'::jsonb),
             ('1e-3', '{"heads": 8, "lambda": 1e-3, "seed": 1}')) l(name, opts);
CREATE TABLE scored AS
SELECT m.name, p.id, hp.prefer(m.m, p.chosen, p.rejected) AS p, hp.prefer_std(m.m, p.chosen, p.rejected) AS s
FROM models m JOIN pairs p USING (fold);
SQL
q -c "SELECT format('pairs: %s (ties dropped), distinct prompts: %s, dim %s', count(*), (SELECT count(DISTINCT prompt) FROM raw), max(array_length(chosen, 1))) FROM pairs"
q -c "SELECT 'lambda auto chose per fold: ' || string_agg(to_char((hp.model_info(m)->>'lambda')::float8, '9.99EEEE'), ', ' ORDER BY fold) FROM models WHERE name = 'auto'"
q -F ' | ' <<'SQL'
\pset footer off
SELECT name AS lambda, count(*) AS held_out,
       round(100 * avg((p > 0.5)::int), 2) AS accuracy,
       round(100 * avg((p > 0.5)::int) FILTER (WHERE q = 1), 2) AS acc_top20_std,
       round(100 * avg((p > 0.5)::int) FILTER (WHERE q = 5), 2) AS acc_bottom20_std
FROM (SELECT s.*, ntile(5) OVER (PARTITION BY name ORDER BY s DESC, id) AS q FROM scored s) t
GROUP BY name ORDER BY name DESC;
SQL
RES=$(q -c "SELECT avg((p > 0.5)::int) FILTER (WHERE q = 1) < avg((p > 0.5)::int) FILTER (WHERE q = 5)
            FROM (SELECT s.*, ntile(5) OVER (ORDER BY s DESC, id) AS q FROM scored s WHERE name = 'auto') t")
echo "(columns: lambda | held-out pairs | accuracy % | accuracy % of the top 20% by prefer_std | of the bottom 20%)"
echo "elapsed $((SECONDS - T0)) s"
if [ "$RES" = t ]; then
  echo "PASS uncertainty informative on PandaLM (lambda auto): top-20% prefer_std less accurate than bottom-20%"
else
  echo "FAIL uncertainty informative on PandaLM (lambda auto)"; exit 1
fi
