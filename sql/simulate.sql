--
-- Candidate routings for a performance prediction model (Hybrid
-- Preferences): hp.simulate_routings samples which training instances go to
-- humans at each budget, trains a linear Bradley-Terry proxy on each
-- candidate's hybrid labels (human where routed, LLM elsewhere) and scores
-- it on held-out pairs with trusted labels.  Its rows are what hp.train_ppm
-- learns from.
--

-- The objects of this file live in their own schema.
CREATE SCHEMA sim;
SET search_path = sim, public;

-- Tiny generated data, 2-d embeddings.  Each pair has a subject: math pairs
-- differ along the second coordinate, code and chat pairs along the first.
-- The true reward is x1 + x2, so humans label every pair right; the LLM
-- judge is right on code and chat but backwards on math.  A proxy trained
-- on LLM labels therefore learns the second coordinate backwards and gets
-- the held-out math pairs (a third of them) wrong.
CREATE FUNCTION gen_pairs(lo int, hi int)
RETURNS TABLE (id int, subject text, len text, a_emb real[], b_emb real[], truth float8)
LANGUAGE sql AS $$
  SELECT i, subject, CASE WHEN i % 4 < 2 THEN 'short' ELSE 'long' END,
         ARRAY[cos(i) + dx / 2, sin(i) + dy / 2]::real[],
         ARRAY[cos(i) - dx / 2, sin(i) - dy / 2]::real[],
         (dx + dy > 0)::int::float8
  FROM (SELECT i, (ARRAY['math', 'code', 'chat'])[1 + i % 3] AS subject,
               CASE WHEN i % 2 = 0 THEN 1 ELSE -1 END * (0.5 + (i % 5) / 10.0) AS big,
               0.1 * sin(3 * i) AS small
        FROM generate_series(lo, hi) i) s,
  LATERAL (SELECT CASE WHEN subject = 'math' THEN small ELSE big END AS dx,
                  CASE WHEN subject = 'math' THEN big ELSE small END AS dy) d
$$;

-- The training relation: id, both embeddings, both labels (p_a: 1 = a
-- preferred, 0 = b, 0.5 tie, NULL missing) and the features of
-- docs/routing-contract.md.  The held-out relation: embeddings and a
-- trusted label.  These are the default column names.
CREATE TABLE train_pairs AS
SELECT id, a_emb, b_emb, truth AS human_label,
       CASE WHEN subject = 'math' THEN 1 - truth ELSE truth END AS llm_label,
       ARRAY['subject:' || subject, 'len:' || len] AS features
FROM gen_pairs(1, 60);
CREATE TABLE heldout_pairs AS
SELECT id, a_emb, b_emb, truth AS trusted_label FROM gen_pairs(101, 130);
SELECT * FROM train_pairs ORDER BY id LIMIT 4;

-- The two extreme routings.  vocab is the sorted (COLLATE "C") list of
-- distinct features, counts the number of human-routed instances carrying
-- each, n the training rows N.  Everything to the LLM scores 2/3 (the math
-- third is wrong); everything to humans scores 1.
SELECT budget, sampler, n_human, counts, vocab, n, round(score::numeric, 3) AS score,
       round(log_loss::numeric, 2) AS log_loss, n_train
FROM hp.simulate_routings('train_pairs', 'heldout_pairs', '{0, 1}', 1)
ORDER BY candidate;

-- Budget 1/3: k = round(N / 3) = 20 instances to humans.  The feature
-- sampler takes features in random order and routes all their instances,
-- a whole feature at a time; the last one only up to k.  Candidates that
-- happen to route all 20 math pairs score 1; the others stay at the LLM's
-- level, or a little above when some math pairs were routed.
SELECT candidate, n_human, counts, counts[5] AS math_routed, round(score::numeric, 3) AS score
FROM hp.simulate_routings('train_pairs', 'heldout_pairs', '{0.3333}', 10, samplers => '{feature}')
ORDER BY candidate;

-- The default grid: budgets {0, 0.1, 0.25, 0.5, 0.75, 1}, 10 candidates of
-- each sampler per budget, 120 rows.  The mean score rises with the budget.
SELECT budget, sampler, count(*) AS candidates, round(avg(score)::numeric, 3) AS mean_score,
       round(min(score)::numeric, 3) AS min_score, round(max(score)::numeric, 3) AS max_score
FROM hp.simulate_routings('train_pairs', 'heldout_pairs')
GROUP BY budget, sampler ORDER BY budget, sampler;

-- Across all those candidates, the more math pairs a routing sends to
-- humans, the better its proxy: this is what a PPM picks up from counts.
SELECT corr(counts[5], score) > 0.8 AS math_counts_predict_score
FROM hp.simulate_routings('train_pairs', 'heldout_pairs');

-- The feature sampler's human set is correlated with features: at budget
-- 0.5 (k = 30) it routes whole features, so its subject counts are lumpy
-- (20 or 0 for a subject taken or not; 10 each when a length feature, 30
-- instances, came first), while the uniform sampler's hover around 10.
SELECT sampler, counts[3:5] AS subject_counts
FROM hp.simulate_routings('train_pairs', 'heldout_pairs', '{0.5}', 4)
ORDER BY candidate;
SELECT sampler, round(avg(spread)::numeric, 1) AS mean_spread_of_subject_counts
FROM (SELECT sampler, (SELECT max(c) - min(c) FROM unnest(counts[3:5]) c) AS spread
      FROM hp.simulate_routings('train_pairs', 'heldout_pairs', '{0.5}', 50)) s
GROUP BY sampler ORDER BY sampler;

-- Which instances were routed: with_ids => true fills human_ids (the id
-- column as text), so a candidate can be inspected or re-created.
SELECT candidate, sampler, human_ids
FROM hp.simulate_routings('train_pairs', 'heldout_pairs', '{0.1}', 2, with_ids => true)
ORDER BY candidate;

-- Reproducible: the same seed gives the same rows, bit for bit; another
-- seed gives other routings.  A candidate's routing depends only on the
-- seed, its budget's position in budgets, its sampler and its index.
CREATE FUNCTION sim_digest(t regclass, h regclass, s bigint) RETURNS text LANGUAGE sql AS $$
  SELECT md5(string_agg(r::text, ';' ORDER BY r.candidate))
  FROM hp.simulate_routings(t, h, '{0.1, 0.5, 0.9}', 5, seed => s, with_ids => true) r
$$;
SELECT sim_digest('train_pairs', 'heldout_pairs', 42) = sim_digest('train_pairs', 'heldout_pairs', 42) AS same_seed_same_rows,
       sim_digest('train_pairs', 'heldout_pairs', 42) = sim_digest('train_pairs', 'heldout_pairs', 43) AS other_seed_same_rows;

-- Asking for the ids changes nothing else.
SELECT (SELECT array_agg(r::text ORDER BY candidate) FROM hp.simulate_routings('train_pairs', 'heldout_pairs', '{0.1, 0.5}', 5) r)
     = (SELECT array_agg((r.candidate, r.budget, r.sampler, r.n_human, r.counts, r.vocab, r.n, r.score, r.log_loss, r.n_train, NULL::text[])::text ORDER BY candidate)
        FROM hp.simulate_routings('train_pairs', 'heldout_pairs', '{0.1, 0.5}', 5, with_ids => true) r) AS with_ids_same_rows;

-- ... whatever the physical row order: rows are read ORDER BY the id column
-- and held-out rows are put in a canonical order.
CREATE TABLE train_rev AS SELECT * FROM train_pairs ORDER BY id DESC;
CREATE TABLE heldout_rev AS SELECT * FROM heldout_pairs ORDER BY id DESC;
SELECT sim_digest('train_pairs', 'heldout_pairs', 42) = sim_digest('train_rev', 'heldout_rev', 42) AS row_order_independent;

-- Missing labels: a row whose chosen label is NULL is left out of that
-- candidate's training set (n_train).  Here 6 math pairs have no human
-- label and 3 chat pairs no LLM label.
CREATE TABLE train_gaps AS SELECT * FROM train_pairs;
UPDATE train_gaps SET human_label = NULL WHERE id IN (3, 6, 9, 12, 15, 18);
UPDATE train_gaps SET llm_label = NULL WHERE id IN (2, 5, 8);
SELECT budget, n_human, n_train, round(score::numeric, 3) AS score
FROM hp.simulate_routings('train_gaps', 'heldout_pairs', '{0, 1}', 1, samplers => '{uniform}')
ORDER BY candidate;

-- Proxy model options are those of hp.train_reward_model.  The proxy is a
-- single model unless heads is given; an ensemble is scored with its
-- center (MAP) head, so it agrees with the single model.
SELECT a.score = b.score AS ensemble_agrees
FROM hp.simulate_routings('train_pairs', 'heldout_pairs', '{0.5}', 3, '{"lambda": 1e-3}') a
JOIN hp.simulate_routings('train_pairs', 'heldout_pairs', '{0.5}', 3, '{"lambda": 1e-3, "heads": 4}') b
  USING (candidate);
-- Strong regularisation shrinks the proxy toward no preference.
SELECT round(log_loss::numeric, 3) AS log_loss_lambda_100
FROM hp.simulate_routings('train_pairs', 'heldout_pairs', '{1}', 1, '{"lambda": 100}', samplers => '{uniform}');

-- Relation and column names are quoted safely: this table name carries
-- quotes, spaces and a semicolon, the columns spaces and capitals.
CREATE SCHEMA "odd schema";
CREATE TABLE "odd schema"."pairs ""v2""; DROP TABLE train_pairs; --" AS
SELECT id AS "Pair Id", a_emb AS "A; emb", b_emb AS "b emb", human_label AS "Human",
       llm_label AS "LLM", features AS "Features"
FROM train_pairs;
SELECT count(*) AS candidates, round(avg(score)::numeric, 3) AS mean_score
FROM hp.simulate_routings('"odd schema"."pairs ""v2""; DROP TABLE train_pairs; --"', 'heldout_pairs',
                          '{0.5}', 3, id_col => 'Pair Id', a_col => 'A; emb', b_col => 'b emb',
                          human_col => 'Human', llm_col => 'LLM', features_col => 'Features');
SELECT count(*) AS train_pairs_still_there FROM train_pairs;

-- Bad input: an ERROR with a fitting SQLSTATE, naming what is wrong.
CREATE OR REPLACE FUNCTION hp_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ': ' || SQLERRM || coalesce(nullif(' (' || d || ')', ' ()'), '');
END $$;
-- budgets outside [0, 1], empty, with NULLs
SELECT hp_try($q$SELECT hp.simulate_routings('train_pairs', 'heldout_pairs', '{0.5, 1.5}')$q$);
SELECT hp_try($q$SELECT hp.simulate_routings('train_pairs', 'heldout_pairs', '{-0.1}')$q$);
SELECT hp_try($q$SELECT hp.simulate_routings('train_pairs', 'heldout_pairs', '{}')$q$);
SELECT hp_try($q$SELECT hp.simulate_routings('train_pairs', 'heldout_pairs', '{0.5, NULL}')$q$);
SELECT hp_try($q$SELECT hp.simulate_routings('train_pairs', 'heldout_pairs', '{NaN}')$q$);
-- other arguments
SELECT hp_try($q$SELECT hp.simulate_routings('train_pairs', 'heldout_pairs', per_budget => 0)$q$);
SELECT hp_try($q$SELECT hp.simulate_routings('train_pairs', 'heldout_pairs', samplers => '{feature, random}')$q$);
SELECT hp_try($q$SELECT hp.simulate_routings('train_pairs', 'heldout_pairs', samplers => '{}')$q$);
SELECT hp_try($q$SELECT hp.simulate_routings('train_pairs', 'heldout_pairs', options => '{"arch": "mlp"}')$q$);
SELECT hp_try($q$SELECT hp.simulate_routings('train_pairs', 'heldout_pairs', options => '{"lamda": 1}')$q$);
SELECT hp_try($q$SELECT hp.simulate_routings('train_pairs', 'heldout_pairs', seed => NULL)$q$);
-- missing or ill-typed columns: the error names the column
SELECT hp_try($q$SELECT hp.simulate_routings('train_pairs', 'heldout_pairs', human_col => 'human')$q$);
SELECT hp_try($q$SELECT hp.simulate_routings('train_pairs', 'heldout_pairs', trusted_col => 'label')$q$);
SELECT hp_try($q$SELECT hp.simulate_routings('train_pairs', 'heldout_pairs', id_col => 'pair_id')$q$);
CREATE TABLE train_typed AS SELECT id, a_emb::text AS a_emb, b_emb, human_label, llm_label,
  array_to_string(features, ',') AS features FROM train_pairs;
SELECT hp_try($q$SELECT hp.simulate_routings('train_typed', 'heldout_pairs')$q$);
SELECT hp_try($q$SELECT hp.simulate_routings('train_typed', 'heldout_pairs', a_col => 'b_emb')$q$);
-- embeddings of other numeric array types, numeric labels: cast as assignment allows
CREATE TABLE train_float8 AS SELECT id, a_emb::float8[] AS a_emb, b_emb::float8[] AS b_emb,
  human_label::numeric AS human_label, llm_label::int AS llm_label, features::varchar[] AS features
FROM train_pairs;
SELECT count(*) FROM hp.simulate_routings('train_float8', 'heldout_pairs', '{0.5}', 1);
-- empty relations
CREATE TABLE empty_train AS SELECT * FROM train_pairs LIMIT 0;
CREATE TABLE empty_heldout AS SELECT * FROM heldout_pairs LIMIT 0;
SELECT hp_try($q$SELECT hp.simulate_routings('empty_train', 'heldout_pairs')$q$);
SELECT hp_try($q$SELECT hp.simulate_routings('train_pairs', 'empty_heldout')$q$);
-- no trusted labels to score against (only ties and NULLs)
CREATE TABLE heldout_ties AS SELECT id, a_emb, b_emb,
  CASE WHEN id % 2 = 0 THEN 0.5 END::float8 AS trusted_label FROM heldout_pairs;
SELECT hp_try($q$SELECT hp.simulate_routings('train_pairs', 'heldout_ties')$q$);
-- embedding dimension mismatch between train and held-out, and inside a row
CREATE TABLE heldout_3d AS SELECT id, a_emb || 0::real AS a_emb, b_emb || 0::real AS b_emb,
  trusted_label FROM heldout_pairs;
SELECT hp_try($q$SELECT hp.simulate_routings('train_pairs', 'heldout_3d')$q$);
CREATE TABLE train_bad AS SELECT * FROM train_pairs;
UPDATE train_bad SET b_emb = b_emb || 0::real WHERE id = 7;
SELECT hp_try($q$SELECT hp.simulate_routings('train_bad', 'heldout_pairs')$q$);
-- NULL and duplicate ids (routings would depend on the physical order)
UPDATE train_bad SET b_emb = b_emb[1:2], id = NULL WHERE id = 7;
SELECT hp_try($q$SELECT hp.simulate_routings('train_bad', 'heldout_pairs')$q$);
UPDATE train_bad SET id = 8 WHERE id IS NULL;
SELECT hp_try($q$SELECT hp.simulate_routings('train_bad', 'heldout_pairs')$q$);
-- NULL or non-finite embeddings, labels outside [0, 1]
DROP TABLE train_bad;
CREATE TABLE train_bad AS SELECT * FROM train_pairs;
UPDATE train_bad SET a_emb = NULL WHERE id = 7;
SELECT hp_try($q$SELECT hp.simulate_routings('train_bad', 'heldout_pairs')$q$);
UPDATE train_bad SET a_emb = '{NaN, 0}' WHERE id = 7;
SELECT hp_try($q$SELECT hp.simulate_routings('train_bad', 'heldout_pairs')$q$);
UPDATE train_bad SET a_emb = '{0, 0}', human_label = 2 WHERE id = 7;
SELECT hp_try($q$SELECT hp.simulate_routings('train_bad', 'heldout_pairs')$q$);
-- a relation that does not exist fails at the regclass cast
SELECT hp_try($q$SELECT hp.simulate_routings('no_such_table', 'heldout_pairs')$q$);

RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA sim, "odd schema" CASCADE;
RESET client_min_messages;
