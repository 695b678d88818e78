--
-- The performance prediction model (PPM) of Hybrid Preferences:
-- hp.train_ppm learns, from past routings, how the score of a reward model
-- trained on hybrid human/LLM labels depends on which instances got human
-- labels.  A routing is summarised by its count vector: counts[j] = number
-- of human-routed instances having feature vocab[j].
--

-- Routings over a dataset of n = 200 instances, four features.  The score
-- each routing earned follows a known linear law (plus a little noise):
--   score = 0.60 + 0.30 v1 - 0.20 v2 + 0.10 v3 + 0 v4,   v = counts / 200.
SELECT setseed(0.25);
CREATE TABLE ppm_routings AS
SELECT r, ARRAY[floor(random() * 201), floor(random() * 201),
                floor(random() * 201), floor(random() * 201)]::float8[] AS counts
FROM generate_series(1, 300) r;
ALTER TABLE ppm_routings ADD COLUMN score float8;
UPDATE ppm_routings SET score = 0.60 + 0.30 * counts[1] / 200 - 0.20 * counts[2] / 200
                          + 0.10 * counts[3] / 200 + 0.0005 * (random() - 0.5);

CREATE TABLE ppm_ppms (name text PRIMARY KEY, m hp.model);
INSERT INTO ppm_ppms
SELECT 'linear', hp.train_ppm(counts, score,
         '{"vocab": ["subject:code", "subject:math", "safety:high", "len_prompt:p0-33"],
           "n": 200, "lambda": 1e-6}')
FROM ppm_routings;

-- The fit recovers the law: intercept 0.60, beta (0.30, -0.20, 0.10, 0).
-- Coefficients are stored on the raw (counts / n) scale, so prediction is
-- the direct formula f(v) = intercept + beta.v.
SELECT round((m::text::jsonb #>> '{tensors,intercept,data,0}')::numeric, 3) AS intercept,
       (SELECT array_agg(round(b::numeric, 3))
        FROM jsonb_array_elements_text(m::text::jsonb #> '{tensors,beta,data}') b) AS beta
FROM ppm_ppms WHERE name = 'linear';

-- hp.model_info shows how well it predicts held-out routings (5-fold CV by
-- default; folds are assigned by a hash of each row, so they do not depend
-- on the row order).
SELECT i->>'kind' AS kind, i->'dim' AS dim, i->'rows' AS rows,
       i->'options'->'degree' AS degree, i->'options'->'folds' AS folds,
       i->'options'->>'solver' AS solver, i->'options'->'n' AS n,
       (i->'options'->>'cv_corr')::float8 > 0.999 AS cv_corr_high,
       (i->'options'->>'cv_rmse')::float8 < 0.001 AS cv_rmse_small,
       round((i->'options'->>'target_mean')::numeric, 2) AS target_mean,
       i->'options'->'vocab' AS vocab
FROM (SELECT hp.model_info(m) AS i FROM ppm_ppms WHERE name = 'linear') s;

-- Predictions: counts divided by n.  Routing all 200 instances having
-- subject:code to humans and nothing else: 0.60 + 0.30 = 0.90.
SELECT round(hp.ppm_predict(m, '{200,0,0,0}', 200)::numeric, 3) AS all_code,
       round(hp.ppm_predict(m, '{0,0,0,0}', 200)::numeric, 3) AS all_llm,
       round(hp.ppm_predict(m, '{100,100,100,100}', 200)::numeric, 3) AS half_each
FROM ppm_ppms WHERE name = 'linear';
-- The same PPM applies to another dataset size: v = counts / n.
SELECT round(hp.ppm_predict(m, '{1000,0,0,0}', 1000)::numeric, 3) AS all_code_n1000
FROM ppm_ppms WHERE name = 'linear';

-- hp.route_gain is the gain of routing one instance to a human:
-- f(b/n) - f(0) for its feature indicator b; features outside the
-- vocabulary are ignored, NULL elements too, duplicates count once.
SELECT round(hp.route_gain(m, '{subject:code,safety:high}', 200)::numeric, 5) AS code_and_safety,
       round((0.30 + 0.10) / 200, 5) AS expected,
       round(hp.route_gain(m, '{subject:code,subject:code,tag:unknown,NULL}', 200)::numeric, 5) AS code_once,
       hp.route_gain(m, '{}', 200) AS no_features,
       hp.route_gain(m, NULL, 200) AS null_features
FROM ppm_ppms WHERE name = 'linear';
SELECT abs(hp.route_gain(m, '{subject:math}', 200)
           - (hp.ppm_predict(m, '{0,1,0,0}', 200) - hp.ppm_predict(m, '{0,0,0,0}', 200))) < 1e-15
       AS gain_is_difference
FROM ppm_ppms WHERE name = 'linear';

-- The model does not depend on the row order or the plan.
SELECT (SELECT hp.train_ppm(counts, score,
          '{"vocab": ["subject:code", "subject:math", "safety:high", "len_prompt:p0-33"],
            "n": 200, "lambda": 1e-6}' ORDER BY r DESC) FROM ppm_routings)::text = m::text AS order_independent
FROM ppm_ppms WHERE name = 'linear';

-- Parallel aggregation: the state is a bytea (no serialisation needed) and
-- partial states are concatenated by the combine function.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT hp.train_ppm(counts, score, '{"vocab": ["a", "b", "c", "d"], "n": 200}') FROM ppm_routings;
SELECT hp.train_ppm(counts, score, '{"vocab": ["subject:code", "subject:math", "safety:high", "len_prompt:p0-33"],
                                     "n": 200, "lambda": 1e-6}')::text AS par FROM ppm_routings \gset
RESET ALL;
SELECT :'par' = m::text AS parallel_equals_serial FROM ppm_ppms WHERE name = 'linear';

-- Quadratic PPM (degree 2): all pairwise interactions v_j v_k, so it can
-- learn diminishing returns.  Law: 0.5 + 0.4 v1 + 0.2 v2 - 1.0 v1^2 + 0.3 v1 v2.
CREATE TABLE ppm_routings2 AS
SELECT a, b, ARRAY[a, b]::float8[] AS counts,
       0.5 + 0.4 * a / 10 + 0.2 * b / 10 - 1.0 * (a / 10) ^ 2 + 0.3 * (a / 10) * (b / 10) AS score
FROM generate_series(0.0, 10.0) a, generate_series(0.0, 10.0) b;
INSERT INTO ppm_ppms
SELECT 'quadratic', hp.train_ppm(counts, score,
         '{"vocab": ["subject:code", "subject:math"], "n": 10, "degree": 2, "lambda": 1e-9}')
FROM ppm_routings2;
-- quad is K x K and symmetric: the 0.3 interaction is split 0.15 / 0.15.
SELECT round((m::text::jsonb #>> '{tensors,intercept,data,0}')::numeric, 4) AS intercept,
       (SELECT array_agg(round(b::numeric, 4))
        FROM jsonb_array_elements_text(m::text::jsonb #> '{tensors,beta,data}') b) AS beta,
       (SELECT array_agg(round(q::numeric, 4))
        FROM jsonb_array_elements_text(m::text::jsonb #> '{tensors,quad,data}') q) AS quad,
       m::text::jsonb #> '{tensors,quad,shape}' AS quad_shape
FROM ppm_ppms WHERE name = 'quadratic';
SELECT round(hp.ppm_predict(m, '{5,5}', 10)::numeric, 4) AS predicted,
       round(0.5 + 0.4 * 0.5 + 0.2 * 0.5 - 1.0 * 0.25 + 0.3 * 0.25, 4) AS expected
FROM ppm_ppms WHERE name = 'quadratic';

-- With many features the quadratic design has more columns than rows:
-- 30 features give 30 + 465 = 495 columns for 120 routings, and the fit
-- switches to the dual (kernel) form of ridge regression.
SELECT setseed(0.5);
CREATE TABLE ppm_routings30 AS
SELECT r, (SELECT array_agg(floor(random() * 51)) FROM generate_series(1, 30) j WHERE r > 0)::float8[] AS counts
FROM generate_series(1, 120) r;
ALTER TABLE ppm_routings30 ADD COLUMN score float8;
UPDATE ppm_routings30 SET score = 0.5 + (SELECT sum(c * (CASE WHEN j % 2 = 0 THEN 0.002 ELSE -0.001 END))
                                     FROM unnest(counts) WITH ORDINALITY u(c, j)) + 0.01 * random();
CREATE TABLE ppm_fits30 AS
SELECT lam, hp.model_info(hp.train_ppm(counts, score,
         jsonb_build_object('vocab', (SELECT jsonb_agg('f' || j) FROM generate_series(1, 30) j),
                            'n', 50, 'degree', 2, 'lambda', lam))) AS i
FROM ppm_routings30, (VALUES ('0.001'::jsonb), ('"auto"')) l(lam) GROUP BY lam;
-- How much to regularise 495 columns fitted on 120 rows is an empirical
-- question: "lambda": "auto" cross-validates 1e-5 .. 100 (powers of ten,
-- reusing one kernel for all of them) and keeps the value of least
-- held-out error, here a smaller one than the default 1e-3.
SELECT lam AS lambda_option, i->'options'->>'solver' AS solver, i->'options'->'columns' AS columns,
       i->'options'->'lambda' AS lambda, i->'options'->'lambda_auto' AS auto, i->'options'->'folds' AS folds
FROM ppm_fits30 ORDER BY lam::text;
SELECT (SELECT (i->'options'->>'cv_rmse')::float8 FROM ppm_fits30 WHERE lam = '"auto"')
     <= (SELECT (i->'options'->>'cv_rmse')::float8 FROM ppm_fits30 WHERE lam = '0.001') AS auto_no_worse,
       (SELECT (i->'options'->>'cv_corr')::float8 > 0.8 FROM ppm_fits30 WHERE lam = '"auto"') AS auto_cv_corr_good;

-- Fitting on your own measured results: any (counts, score) rows will do,
-- e.g. reward-model accuracies measured after labelling experiments.
CREATE TABLE ppm_my_experiments (human_code float8, human_math float8, accuracy float8);
INSERT INTO ppm_my_experiments VALUES
  (0, 0, 0.71), (50, 0, 0.74), (0, 50, 0.72), (50, 50, 0.76),
  (100, 0, 0.78), (0, 100, 0.73), (100, 100, 0.80), (25, 75, 0.75);
SELECT round(hp.ppm_predict(hp.train_ppm(ARRAY[human_code, human_math], accuracy,
               '{"vocab": ["subject:code", "subject:math"], "n": 100, "lambda": 1e-4}'),
             '{100,100}', 100)::numeric, 2) AS predicted_all_human,
       hp.model_info(hp.train_ppm(ARRAY[human_code, human_math], accuracy,
               '{"vocab": ["subject:code", "subject:math"], "n": 100}'))->'options'->'folds' AS folds
FROM ppm_my_experiments;

-- Raw counts: "normalize": false fits on counts as they are; n is then not
-- needed (and ignored) when predicting.
SELECT round(hp.ppm_predict(hp.train_ppm(counts, score,
          '{"vocab": ["a", "b", "c", "d"], "normalize": false, "lambda": 1e-6}'),
          '{200,0,0,0}')::numeric, 3) AS raw_counts
FROM ppm_routings;

-- Rows with a NULL counts array or score are skipped; no rows give NULL.
SELECT hp.train_ppm(c, s, '{"vocab": ["a"], "n": 1}') IS NULL AS no_rows
FROM (VALUES (NULL::float8[], 1.0::float8), ('{1}', NULL)) v(c, s);

-- Bad input.
CREATE OR REPLACE FUNCTION hp_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ': ' || SQLERRM || coalesce(nullif(' (' || d || ')', ' ()'), '');
END $$;
-- the vocabulary is required, and must match the counts
SELECT hp_try($q$SELECT hp.train_ppm(counts, score, '{"n": 200}') FROM ppm_routings$q$);
SELECT hp_try($q$SELECT hp.train_ppm(counts, score, '{"vocab": ["a", "b", "c"], "n": 200}') FROM ppm_routings$q$);
SELECT hp_try($q$SELECT hp.train_ppm(counts, score, '{"vocab": ["a", "b", "c", "a"], "n": 200}') FROM ppm_routings$q$);
-- n is required when normalising
SELECT hp_try($q$SELECT hp.train_ppm(counts, score, '{"vocab": ["a", "b", "c", "d"]}') FROM ppm_routings$q$);
SELECT hp_try($q$SELECT hp.train_ppm(counts, score, NULL) FROM ppm_routings$q$);
SELECT hp_try($q$SELECT hp.train_ppm(counts, score, '{"vocab": ["a", "b", "c", "d"], "n": 200, "degree": 3}') FROM ppm_routings$q$);
SELECT hp_try($q$SELECT hp.train_ppm(counts, score, '{"vocab": ["a", "b", "c", "d"], "n": 200, "lambda": 0}') FROM ppm_routings$q$);
SELECT hp_try($q$SELECT hp.train_ppm(counts, score, '{"vocab": ["a", "b", "c", "d"], "n": 200, "ridge": 1}') FROM ppm_routings$q$);
-- degenerate targets: every score equal
SELECT hp_try($q$SELECT hp.train_ppm(counts, 0.8, '{"vocab": ["a", "b", "c", "d"], "n": 200}') FROM ppm_routings$q$);
-- NaN and infinities
SELECT hp_try($q$SELECT hp.train_ppm(counts, 'NaN', '{"vocab": ["a", "b", "c", "d"], "n": 200}') FROM ppm_routings$q$);
SELECT hp_try($q$SELECT hp.train_ppm('{1,2,Infinity,4}', score, '{"vocab": ["a", "b", "c", "d"], "n": 200}') FROM ppm_routings$q$);
SELECT hp_try($q$SELECT hp.train_ppm('{1,2,NULL,4}', score, '{"vocab": ["a", "b", "c", "d"], "n": 200}') FROM ppm_routings$q$);
-- a single row cannot be fitted; fewer rows than folds reduce the folds
SELECT hp_try($q$SELECT hp.train_ppm(counts, score, '{"vocab": ["a", "b", "c", "d"], "n": 200}') FROM ppm_routings WHERE r = 1$q$);
SELECT hp.model_info(hp.train_ppm(counts, score, '{"vocab": ["a", "b", "c", "d"], "n": 200}'))->'options'->'folds' AS folds_for_3_rows
FROM ppm_routings WHERE r <= 3;
-- predictions need n when the PPM normalises, and counts of the right length
SELECT hp_try($q$SELECT hp.ppm_predict(m, '{1,2,3,4}') FROM ppm_ppms WHERE name = 'linear'$q$);
SELECT hp_try($q$SELECT hp.ppm_predict(m, '{1,2,3,4}', 0) FROM ppm_ppms WHERE name = 'linear'$q$);
SELECT hp_try($q$SELECT hp.ppm_predict(m, '{1,2,3}', 200) FROM ppm_ppms WHERE name = 'linear'$q$);
SELECT hp_try($q$SELECT hp.route_gain(m, '{subject:code}', NULL) FROM ppm_ppms WHERE name = 'linear'$q$);
-- a reward model is not a PPM
SELECT hp_try($q$SELECT hp.ppm_predict(hp.linear_model('{1,2,3,4}'), '{1,2,3,4}', 200)$q$);
-- the aggregate's support functions run only inside the aggregate
SELECT hp_try($q$SELECT hp._ppm_final('\x00'::bytea)$q$);
