-- test/demo.sql: hybridpref end to end on a synthetic preference data set.
-- Run by test/demo.sh (psql -X -q -f test/demo.sql) against a throwaway
-- cluster; rerunnable.  Later steps append sections at the end, reading the
-- demo.pairs / demo.model tables built here.
\set ON_ERROR_STOP on
\pset footer off
\set n_pairs 20000
\set dim 64

\echo
\echo '==== 1. Synthetic preference data ===='
\echo 'Responses are 64-dim embeddings x ~ N(0, I); a hidden reward r(x) = w*.x'
\echo 'decides which response is better.  Each pair shares a prompt component and'
\echo 'differs by a category-specific spread (small spread = hard pair).  A human'
\echo 'label prefers a with probability sigmoid(4 (r(a) - r(b))); an LLM judge is'
\echo 'noisier everywhere and, in creative_writing and safety, is swayed by a'
\echo 'spurious "verbosity" direction.  Seeded: every run makes the same data.'

SET client_min_messages = warning;
DROP SCHEMA IF EXISTS demo CASCADE;
CREATE SCHEMA demo;
RESET client_min_messages;
CREATE EXTENSION IF NOT EXISTS hybridpref;
-- One process, so that the random() sequence and hence the data are fixed.
SET max_parallel_workers_per_gather = 0;
SELECT setseed(0.42) AS seeded \gset

-- Standard normal draw (Box-Muller; 1 - random() is in (0, 1]).
CREATE FUNCTION demo.randn() RETURNS float8 LANGUAGE sql VOLATILE
AS $$ SELECT sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) $$;
CREATE FUNCTION demo.sigmoid(float8) RETURNS float8 LANGUAGE sql IMMUTABLE
AS $$ SELECT 1 / (1 + exp(-greatest(least($1, 700), -700))) $$;

CREATE TABLE demo.categories (id int PRIMARY KEY, name text, spread float8, llm_biased bool);
INSERT INTO demo.categories VALUES
  (1, 'chitchat',         1.00, false),
  (2, 'factual_qa',       0.75, false),
  (3, 'summarization',    0.55, false),
  (4, 'coding',           0.45, false),
  (5, 'math',             0.35, false),
  (6, 'creative_writing', 0.60, true),
  (7, 'safety',           0.80, true),
  (8, 'advice',           0.25, false);

-- Hidden true reward direction w* and the spurious direction z, unit norm.
CREATE TABLE demo.directions AS
  SELECT j, w / sqrt(sum(w * w) OVER ()) AS w, z / sqrt(sum(z * z) OVER ()) AS z
  FROM (SELECT j, demo.randn() AS w, demo.randn() AS z
        FROM generate_series(1, :dim) j) d;

-- Pair i: prompt part p, responses a = p + s u and b = p + s v.
CREATE TEMP TABLE elems AS
  SELECT i, j, demo.randn() AS p, demo.randn() AS u, demo.randn() AS v
  FROM generate_series(1, :n_pairs) i CROSS JOIN generate_series(1, :dim) j
  ORDER BY i, j;

CREATE TEMP TABLE raw_pairs AS
  SELECT e.i, c.name AS category, c.llm_biased,
         array_agg((e.p + c.spread * e.u)::real ORDER BY e.j) AS a,
         array_agg((e.p + c.spread * e.v)::real ORDER BY e.j) AS b,
         sum(d.w * c.spread * (e.u - e.v)) AS gap,       -- r(a) - r(b)
         sum(d.z * c.spread * (e.u - e.v)) AS spur_gap   -- verbosity(a) - verbosity(b)
  FROM elems e
  JOIN demo.directions d USING (j)
  JOIN demo.categories c ON c.id = 1 + e.i % 8
  GROUP BY e.i, c.name, c.llm_biased
  ORDER BY e.i;

CREATE TEMP TABLE labelled AS
  SELECT r.*,
         random() < demo.sigmoid(4 * gap) AS human_a,
         demo.sigmoid(2.5 * CASE WHEN llm_biased THEN 0.3 * gap + spur_gap ELSE gap END) AS llm_p_a
  FROM raw_pairs r ORDER BY i;

-- Stored as chosen/rejected per the human label; 20% held out (id % 5 = 0).
CREATE TABLE demo.pairs AS
  SELECT i AS id, category, i % 5 = 0 AS test,
         CASE WHEN human_a THEN a ELSE b END AS chosen,
         CASE WHEN human_a THEN b ELSE a END AS rejected,
         CASE WHEN human_a THEN gap ELSE -gap END AS true_margin,       -- r(chosen) - r(rejected)
         CASE WHEN human_a THEN llm_p_a ELSE 1 - llm_p_a END AS llm_p_chosen,
         (random() < llm_p_a) = human_a AS llm_agrees
  FROM labelled ORDER BY i;
ALTER TABLE demo.pairs ADD PRIMARY KEY (id);
DROP TABLE elems, raw_pairs, labelled;
RESET max_parallel_workers_per_gather;
ANALYZE demo.pairs;

\echo
\echo 'Label quality per category (accuracy = agrees with the true reward):'
SELECT category, count(*) AS pairs,
       round(avg((true_margin > 0)::int), 3) AS human_label_acc,
       round(avg(((true_margin > 0) = llm_agrees)::int), 3) AS llm_label_acc
FROM demo.pairs p JOIN demo.categories c ON c.name = p.category
GROUP BY category, c.id ORDER BY c.id;

\echo
\echo '==== 2. Train a reward model on the 80% training split ===='
\echo 'lambda "auto" picks the L2 strength by 5-fold cross-validated log-loss;'
\echo 'model_info (step 5) shows the curve it chose from.'
\timing on
CREATE TABLE demo.model AS
  SELECT hp.train_reward_model(chosen, rejected, '{"heads":8,"lambda":"auto","seed":1}') AS m
  FROM demo.pairs WHERE NOT test;
\timing off

\echo
\echo '==== 3. Score the held-out pairs ===='
\timing on
CREATE TABLE demo.scored AS
  SELECT p.id, p.category, p.true_margin,
         hp.prefer(m.m, p.chosen, p.rejected) AS p_chosen,
         hp.prefer_std(m.m, p.chosen, p.rejected) AS p_std
  FROM demo.pairs p CROSS JOIN demo.model m
  WHERE p.test;
\timing off

\echo
\echo 'Accuracy on the human labels, next to the Bayes-optimal accuracy of the'
\echo 'true reward (the best any model can reach on these noisy labels):'
SELECT count(*) AS held_out_pairs,
       round(avg((p_chosen > 0.5)::int), 4) AS accuracy,
       round(avg((true_margin > 0)::int), 4) AS bayes_optimal_acc,
       round(avg(((p_chosen > 0.5) = (true_margin > 0))::int), 4) AS agrees_with_true_reward,
       round(avg(-ln(greatest(p_chosen, 1e-12)))::numeric, 4) AS log_loss,
       round(avg(-ln(demo.sigmoid(4 * true_margin)))::numeric, 4) AS bayes_log_loss
FROM demo.scored;

\echo
\echo 'Per category:'
SELECT s.category, count(*) AS pairs,
       round(avg((p_chosen > 0.5)::int), 3) AS accuracy,
       round(avg((true_margin > 0)::int), 3) AS bayes_optimal_acc,
       round(avg(p_std)::numeric, 4) AS mean_prefer_std
FROM demo.scored s JOIN demo.categories c ON c.name = s.category
GROUP BY s.category, c.id ORDER BY c.id;

\echo
\echo '==== 4. Uncertainty: accuracy of the 20% most and least uncertain pairs ===='
SELECT CASE q WHEN 1 THEN 'most uncertain 20%' ELSE 'least uncertain 20%' END AS pairs,
       count(*) AS n,
       round(avg((p_chosen > 0.5)::int), 4) AS accuracy,
       round(avg((true_margin > 0)::int), 4) AS bayes_optimal_acc,
       round(avg(p_std)::numeric, 4) AS mean_prefer_std,
       round(avg(abs(p_chosen - 0.5))::numeric, 4) AS mean_confidence
FROM (SELECT s.*, ntile(5) OVER (ORDER BY p_std DESC, id) AS q FROM demo.scored s) t
WHERE q IN (1, 5)
GROUP BY q ORDER BY q;

\echo
\echo '==== 5. The model ===='
SELECT jsonb_pretty(hp.model_info(m)) AS model_info FROM demo.model;

-- Later steps go below this line.

\echo
\echo '==== 6. Route: instance features ===='
\echo 'Each pair gets routing features: the cosine bin of its two embeddings'
\echo '(hp.pair_stats) and its category as a content tag.  (The synthetic pairs'
\echo 'have no texts, so the length and ROUGE features are constant here.)'
ALTER TABLE demo.pairs ADD COLUMN features text[], ADD COLUMN human_label float8,
  ADD COLUMN llm_label float8, ADD COLUMN trusted_label float8;
-- a = chosen and b = rejected per the human label, so the human label is 1;
-- the LLM label agrees or not; the trusted label is the true reward's.
UPDATE demo.pairs SET human_label = 1,
  llm_label = CASE WHEN llm_agrees THEN 1 ELSE 0 END,
  trusted_label = CASE WHEN true_margin > 0 THEN 1 ELSE 0 END;
CREATE TEMP TABLE stats AS SELECT id, hp.pair_stats('', '', '', chosen, rejected) AS st FROM demo.pairs;
WITH c AS (SELECT hp.feature_cutoffs(st) AS cut FROM stats)
UPDATE demo.pairs p SET features = hp.pair_features(s.st, c.cut, ARRAY['category:' || p.category])
FROM stats s, c WHERE s.id = p.id;
SELECT features, count(*) AS pairs FROM demo.pairs GROUP BY features ORDER BY pairs DESC LIMIT 4;

\echo
\echo '==== 7. Simulate candidate routings, fit the Performance Prediction Model ===='
-- 60% of the data is the routing pool, 20% scores the proxy models.
CREATE VIEW demo.pool AS
  SELECT id, chosen AS a_emb, rejected AS b_emb, human_label, llm_label, features, category
  FROM demo.pairs WHERE NOT test AND id % 5 <> 1;
CREATE VIEW demo.pool_heldout AS
  SELECT id, chosen AS a_emb, rejected AS b_emb, trusted_label
  FROM demo.pairs WHERE NOT test AND id % 5 = 1;
\timing on
CREATE TABLE demo.candidates AS
  SELECT * FROM hp.simulate_routings('demo.pool', 'demo.pool_heldout', per_budget => 20, seed => 1);
\timing off
SELECT budget, count(*) AS candidates, round(min(score)::numeric, 4) AS worst,
       round(avg(score)::numeric, 4) AS mean, round(max(score)::numeric, 4) AS best
FROM demo.candidates GROUP BY budget ORDER BY budget;
CREATE TABLE demo.ppm AS
  SELECT hp.train_ppm(counts, score, jsonb_build_object('vocab', vocab, 'n', n, 'degree', 1, 'lambda', 'auto')) AS ppm
  FROM demo.candidates GROUP BY vocab, n;
SELECT round((o->>'cv_rmse')::numeric, 5) AS cv_rmse, round((o->>'cv_corr')::numeric, 3) AS cv_corr
FROM (SELECT hp.model_info(ppm)->'options' AS o FROM demo.ppm) s;

\echo
\echo '==== 8. Route the pool at a 25% human budget, and what it buys ===='
\echo 'The PPM sends humans where the LLM judge is worst (creative_writing, safety):'
CREATE TABLE demo.routed AS
  SELECT 'ppm' AS router, * FROM hp.route((SELECT ppm FROM demo.ppm), 'demo.pool', 0.25, 'topk')
  UNION ALL
  SELECT 'random', * FROM hp.route((SELECT ppm FROM demo.ppm), 'demo.pool', 0.25, 'random', seed => 1);
SELECT p.category,
       round(avg(r.to_human::int) FILTER (WHERE r.router = 'ppm'), 2) AS ppm_human_share,
       round(avg(r.to_human::int) FILTER (WHERE r.router = 'random'), 2) AS random_human_share
FROM demo.routed r JOIN demo.pool p USING (id) GROUP BY p.category ORDER BY 2 DESC;
\echo 'Reward models trained on the hybrid labels, held-out accuracy against the true reward:'
WITH labels AS (
  SELECT 'all LLM' AS mix, id, llm_label AS p_a FROM demo.pool
  UNION ALL SELECT 'all human', id, human_label FROM demo.pool
  UNION ALL SELECT r.router || ' 25% human', p.id, CASE WHEN r.to_human THEN p.human_label ELSE p.llm_label END
  FROM demo.routed r JOIN demo.pool p USING (id)
), models AS (
  SELECT mix, hp.train_reward_model(p.a_emb, p.b_emb, l.p_a, '{"heads":1,"lambda":1e-3}') AS m
  FROM labels l JOIN demo.pool p USING (id) GROUP BY mix
)
SELECT mix, round(avg(((hp.prefer(m, chosen, rejected) > 0.5) = (true_margin > 0))::int), 4) AS accuracy
FROM models, demo.pairs WHERE test GROUP BY mix ORDER BY accuracy DESC;

\echo
\echo '==== 9. Budget curve: predicted score and cost per human fraction ===='
SELECT fraction, n_human, round(predicted_score::numeric, 4) AS predicted_score, round(cost::numeric, 2) AS cost_usd
FROM hp.budget_curve((SELECT ppm FROM demo.ppm), 'demo.pool', human_cost => 0.50, llm_cost => 0.002);

\echo
\echo '==== 10. Scheduled routing of arriving rows, and the budget report ===='
\echo 'New rows land in demo.inbox; hp.route_pending (what a pg_cron job calls)'
\echo 'routes them in committed batches, at most 300 human labels per day.'
CREATE TABLE demo.inbox (id bigserial PRIMARY KEY, category text, features text[], route text);
INSERT INTO demo.inbox (category, features) SELECT category, features FROM demo.pairs WHERE test ORDER BY id;
DO $$
DECLARE m hp.model;
BEGIN
  SELECT ppm INTO m FROM demo.ppm;
  CALL hp.route_pending('demo.inbox', m, 300, 'day', batch_size => 1000, tag_col => 'category');
END $$;
SELECT table_name, period, budget, spent, remaining, n_llm, routed FROM hp.budget_status;
SELECT tag, n_human, n_llm, round(human_fraction::numeric, 3) AS human_fraction
FROM hp.routing_summary ORDER BY human_fraction DESC;
SELECT route, count(*) FROM demo.inbox GROUP BY route ORDER BY route;
