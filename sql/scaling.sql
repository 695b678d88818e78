--
-- Scaling out: which aggregates can be pushed down (non-internal state with a
-- combine function), parallel plans of the new ones, the out-of-core trainer
-- against the in-memory one, and bad input.
--

-- (a) Every aggregate meant to scale has a real state type and a combine
-- function: the executor ships such states between parallel workers as
-- datums, and Citus pushes them down to the workers.
WITH meant_to_scale(name) AS (
	VALUES ('distinguishability'), ('covariance_power_step'), ('feature_cutoffs'),
	       ('feature_vocab'), ('feature_counts'), ('train_ppm'), ('eval_metrics'),
	       ('bt_newton_step'), ('_vec_sum')
)
SELECT m.name, count(a.aggfnoid) AS overloads,
       string_agg(DISTINCT a.aggtranstype::regtype::text, ', ') AS state_type,
       coalesce(bool_and(a.aggtranstype <> 'internal'::regtype), false) AS non_internal,
       coalesce(bool_and(a.aggcombinefn <> 0), false) AS has_combine,
       coalesce(bool_and(a.aggserialfn = 0), false) AS no_serial_needed
FROM meant_to_scale m
LEFT JOIN pg_proc p ON p.proname = m.name AND p.pronamespace = 'hp'::regnamespace
LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid
GROUP BY m.name ORDER BY m.name;

-- The aggregates that keep STYPE internal, and why: their state is the data
-- itself.  A new internal-state aggregate shows up here without a reason.
SELECT a.aggfnoid::regprocedure AS aggregate,
       CASE p.proname
         WHEN 'train_reward_model' THEN 'state = every training row, for the in-memory solver; distributed path: hp.train_reward_model_iterative'
         WHEN 'select_pair' THEN 'state = every candidate of a prompt, which the selection methods compare together'
         WHEN 'select_pair_by_score' THEN 'state = every candidate of a prompt, which the selection methods compare together'
       END AS reason
FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
WHERE p.pronamespace = 'hp'::regnamespace AND a.aggtranstype = 'internal'::regtype
ORDER BY 1::text;

-- Every hp aggregate, internal or not, can at least be split by parallel query.
SELECT count(*) AS hp_aggregates_without_combine
FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
WHERE p.pronamespace = 'hp'::regnamespace AND a.aggcombinefn = 0;

-- (b) Parallel plans: Partial Aggregate under Gather, and the same result.
SELECT setseed(0.42);
CREATE TABLE scale_big AS
SELECT i AS id,
       ARRAY[random() - 0.5, random() - 0.5, random() - 0.5, random() - 0.5, random() - 0.5]::real[] AS chosen,
       ARRAY[random() - 0.5, random() - 0.5, random() - 0.5, random() - 0.5, random() - 0.5]::real[] AS rejected,
       CASE WHEN i % 10 = 0 THEN 0.5 ELSE 1.0 END AS p
FROM generate_series(1, 60000) i;
-- Labels that a linear reward explains (with noise): prefer the higher 2 x1 - x2 + x3.
UPDATE scale_big SET chosen = rejected, rejected = chosen
WHERE 2 * chosen[1] - chosen[2] + chosen[3] < 2 * rejected[1] - rejected[2] + rejected[3]
  AND random() < 0.85;
ANALYZE scale_big;

SELECT hp.train_reward_model(chosen, rejected, '{"heads": 4, "seed": 5}') AS eval_model FROM scale_big \gset

-- Relative difference of two numbers, 0 for equal ones.
CREATE FUNCTION scale_rel(a float8, b float8) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN a = b THEN 0 ELSE abs(a - b) / greatest(abs(a), abs(b)) END $$;
-- Largest relative difference between two jsonb documents' numbers (same shape).
CREATE FUNCTION scale_json_diff(a jsonb, b jsonb) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
	WITH RECURSIVE walk(x, y) AS (
		SELECT a, b
		UNION ALL
		SELECT e.x, e.y FROM walk w,
		LATERAL (SELECT ka.value AS x, b2.value AS y FROM jsonb_each(CASE WHEN jsonb_typeof(w.x) = 'object' THEN w.x END) ka
		         JOIN jsonb_each(CASE WHEN jsonb_typeof(w.y) = 'object' THEN w.y END) b2 USING (key)
		         UNION ALL
		         SELECT xa.value, ya.value
		         FROM jsonb_array_elements(CASE WHEN jsonb_typeof(w.x) = 'array' THEN w.x END) WITH ORDINALITY xa(value, i)
		         JOIN jsonb_array_elements(CASE WHEN jsonb_typeof(w.y) = 'array' THEN w.y END) WITH ORDINALITY ya(value, i) USING (i)) e
	)
	SELECT coalesce(max(scale_rel(x::text::float8, y::text::float8)), 0)
	FROM walk WHERE jsonb_typeof(x) = 'number' AND jsonb_typeof(y) = 'number'
$$;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;

EXPLAIN (COSTS OFF)
SELECT hp.eval_metrics(:'eval_model'::hp.model, chosen, rejected, p) FROM scale_big;
EXPLAIN (COSTS OFF)
SELECT hp.bt_newton_step(chosen, rejected, :'eval_model'::hp.model, NULL, '{"heads": 4, "seed": 5}') FROM scale_big;

SELECT hp.eval_metrics(:'eval_model'::hp.model, chosen, rejected, p) AS par_metrics FROM scale_big \gset
SELECT hp.bt_newton_step_info(hp.bt_newton_step(chosen, rejected, :'eval_model'::hp.model, NULL,
                                                '{"heads": 4, "seed": 5}')) AS par_step FROM scale_big \gset
SELECT hp.bt_newton_step_info(hp.bt_newton_step(chosen, rejected, p, NULL, id, '{"heads": 1}')) AS par_soft FROM scale_big \gset

SET max_parallel_workers_per_gather = 0;
SELECT hp.eval_metrics(:'eval_model'::hp.model, chosen, rejected, p) AS ser_metrics FROM scale_big \gset
SELECT hp.bt_newton_step_info(hp.bt_newton_step(chosen, rejected, :'eval_model'::hp.model, NULL,
                                                '{"heads": 4, "seed": 5}')) AS ser_step FROM scale_big \gset
SELECT hp.bt_newton_step_info(hp.bt_newton_step(chosen, rejected, p, NULL, id, '{"heads": 1}')) AS ser_soft FROM scale_big \gset

-- Serial and parallel agree to 1e-9 relative (only the summation order differs).
SELECT scale_json_diff(:'par_metrics', :'ser_metrics') <= 1e-9 AS metrics_equal,
       scale_json_diff(:'par_step', :'ser_step') <= 1e-9 AS step_equal,
       scale_json_diff(:'par_soft', :'ser_soft') <= 1e-9 AS soft_step_equal,
       (:'par_step'::jsonb)->'rows' AS rows, (:'par_step'::jsonb)->'heads' AS heads,
       (:'par_step'::jsonb)->'center' AS center, (:'par_step'::jsonb)->'weight_sum'->0 AS center_weight;

-- What eval_metrics reports (ties: every 10th row has p_a = 0.5).
SELECT m->'n' AS n, m->'n_ties' AS n_ties,
       round((m->>'accuracy')::numeric, 4) AS accuracy,
       round((m->>'log_loss')::numeric, 4) AS log_loss,
       round((m->>'brier')::numeric, 4) AS brier,
       round((m->>'ece')::numeric, 4) AS ece,
       jsonb_array_length(m->'calibration') AS bins,
       (SELECT sum((b->>'n')::int) FROM jsonb_array_elements(m->'calibration') b) AS binned
FROM (SELECT :'ser_metrics'::jsonb AS m) s;
-- Its accuracy is hp.prefer's, ties excluded, and its log-loss the mean cross-entropy.
SELECT round(avg(CASE WHEN hp.prefer(:'eval_model'::hp.model, chosen, rejected) > 0.5 THEN 1.0 ELSE 0.0 END)
             FILTER (WHERE p <> 0.5), 4) AS accuracy,
       round(avg(-(p * ln(q) + (1 - p) * ln(1 - q)))::numeric, 4) AS log_loss
FROM (SELECT p, chosen, rejected, hp.prefer(:'eval_model'::hp.model, chosen, rejected) AS q FROM scale_big) s;
-- Per group, the model decoded once per query.
SELECT id % 3 AS g, (hp.eval_metrics(:'eval_model'::hp.model, chosen, rejected))->'n' AS n
FROM scale_big GROUP BY 1 ORDER BY 1;
-- A step at w = 0 on three rows: S = 3, L = 3 ln 2, G = sum (1/2 - p) x, tr K = sum |x|^2 / 4.
SELECT i - 'loss_sum' - 'gradient_norm' AS info,
       round(((i->'loss_sum'->>0)::float8 / ln(2))::numeric, 10) AS loss_over_ln2,
       round((i->'gradient_norm'->>0)::numeric, 10) AS gradient_norm
FROM (SELECT hp.bt_newton_step_info(hp.bt_newton_step(a, b, p, NULL, NULL, '{"heads": 1}')) AS i
      FROM (VALUES ('{1,0}'::real[], '{0,0}'::real[], 1.0), ('{0,2}', '{0,0}', 0.0), ('{1,1}', '{0,1}', 0.5)) v(a, b, p)) s;
-- No rows: NULL.
SELECT hp.eval_metrics(:'eval_model'::hp.model, chosen, rejected) IS NULL AS empty,
       hp.bt_newton_step(chosen, rejected, NULL, NULL, '{}') IS NULL AS empty_step
FROM scale_big WHERE false;

RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;

-- (c) The iterative trainer optimises the in-memory trainer's objective.
SET client_min_messages = warning;		-- per-pass NOTICEs carry round-off digits
SELECT setseed(0.17);
CREATE TABLE scale_train AS
SELECT i AS id,
       ARRAY(SELECT (random() - 0.5)::real FROM generate_series(1, 8) j WHERE i > 0) AS chosen,
       ARRAY(SELECT (random() - 0.5)::real FROM generate_series(1, 8) j WHERE i > 0) AS rejected
FROM generate_series(1, 4000) i;
UPDATE scale_train SET chosen = rejected, rejected = chosen
WHERE (chosen[1] + 2 * chosen[2] - chosen[5]) < (rejected[1] + 2 * rejected[2] - rejected[5])
  AND random() < 0.8;
CREATE TABLE scale_fit AS SELECT * FROM scale_train WHERE id <= 3000;
CREATE TABLE scale_test AS SELECT * FROM scale_train WHERE id > 3000;
CREATE TABLE scale_probe AS
SELECT k, ARRAY(SELECT (random() - 0.5)::real FROM generate_series(1, 8) j WHERE k > 0) AS x
FROM generate_series(1, 200) k;

CREATE TABLE scale_models (name text, opts jsonb, mem hp.model, it hp.model);
INSERT INTO scale_models (name, opts) VALUES
	('default (8 heads)', '{}'),
	('4 heads, seed 3', '{"heads": 4, "seed": 3}'),
	('1 head, lambda 0.01', '{"heads": 1, "lambda": 0.01}'),
	('laplace', '{"uncertainty": "laplace"}'),
	('no prior, tol 1e-8', '{"heads": 3, "prior": "none", "tol": 1e-8}');
UPDATE scale_models SET mem = (SELECT hp.train_reward_model(chosen, rejected, opts) FROM scale_fit),
                        it = hp.train_reward_model_iterative('scale_fit', 'chosen', 'rejected', opts);

-- Same shape and metadata; rewards and spreads agree over probes within the
-- tolerance: both stop at |g| <= tol |g(0)| (tol 1e-4 by default), so the
-- bound is 10 tol times the reward scale (the float32 in-memory solver
-- reaches about 1e-5 at best); the same held-out accuracy.
SELECT name,
       hp.model_info(it) - 'loss' = hp.model_info(mem) - 'loss' AS same_info,
       abs((hp.model_info(it)->>'loss')::float8 - (hp.model_info(mem)->>'loss')::float8) < 1e-5 AS same_loss,
       (SELECT max(abs(hp.reward(it, x) - hp.reward(mem, x))) <= bound FROM scale_probe) AS rewards_match,
       (SELECT max(abs(hp.reward_std(it, x) - hp.reward_std(mem, x))) <= bound FROM scale_probe) AS spreads_match,
       (SELECT (hp.eval_metrics(it, chosen, rejected))->'accuracy' = (hp.eval_metrics(mem, chosen, rejected))->'accuracy'
        FROM scale_test) AS same_heldout_accuracy
FROM scale_models,
     LATERAL (SELECT 10 * greatest(coalesce((opts->>'tol')::float8, 1e-4), 1e-5)
                     * (SELECT max(abs(hp.reward(mem, x))) FROM scale_probe) AS bound) b
ORDER BY name;
SELECT round(((hp.eval_metrics(it, chosen, rejected))->>'accuracy')::numeric, 3) AS heldout_accuracy
FROM scale_test, scale_models WHERE name = 'default (8 heads)';

-- A user row key changes which rows each bootstrap head draws, not the
-- center head (weight 1 on every row), so rewards still match.
SELECT hp.train_reward_model_iterative('scale_fit', 'chosen', 'rejected', '{"heads": 4, "seed": 3}', 'id') AS keyed \gset
SELECT (SELECT max(abs(hp.reward(:'keyed'::hp.model, x) - hp.reward(it, x))) FROM scale_probe) <= 2e-3 AS center_matches,
       (SELECT max(abs(hp.reward_std(:'keyed'::hp.model, x) - hp.reward_std(it, x))) FROM scale_probe) > 1e-3 AS heads_differ
FROM scale_models WHERE name = '4 heads, seed 3';
-- Same keys, same model, wherever the rows sit: a view delivering the rows in
-- another order (tight tol, so both runs converge fully).
CREATE VIEW scale_fit_reversed AS SELECT * FROM scale_fit ORDER BY id DESC;
SELECT (SELECT max(abs(hp.reward(hp.train_reward_model_iterative('scale_fit_reversed', 'chosen', 'rejected',
                                                                  '{"heads": 4, "tol": 1e-8}', 'id'), x)
                       - hp.reward(hp.train_reward_model_iterative('scale_fit', 'chosen', 'rejected',
                                                                  '{"heads": 4, "tol": 1e-8}', 'id'), x)))
        FROM scale_probe) <= 1e-5 AS view_matches;

-- Warm start from the in-memory model: the same result.
SELECT (SELECT max(abs(hp.reward(hp.train_reward_model_iterative('scale_fit', 'chosen', 'rejected',
                                   jsonb_build_object('heads', 4, 'seed', 3, 'init', mem::text)), x)
                       - hp.reward(it, x))) FROM scale_probe) <= 2e-3 AS warm_start_matches
FROM scale_models WHERE name = '4 heads, seed 3';

-- Identifiers are quoted: mixed-case and spaced names work.
CREATE TABLE "Scale Odd" ("Chosen Emb" real[], "rejected;drop" real[], "Key" int);
INSERT INTO "Scale Odd" SELECT chosen, rejected, id FROM scale_fit;
SELECT hp.model_info(hp.train_reward_model_iterative('"Scale Odd"', 'Chosen Emb', 'rejected;drop',
                                                     '{"heads": 1}', 'Key'))->'rows' AS rows;
-- No rows: NULL, like the aggregate.
CREATE TABLE scale_empty (chosen real[], rejected real[]);
SELECT hp.train_reward_model_iterative('scale_empty', 'chosen', 'rejected') IS NULL AS null_for_empty;
-- Not converged within max_iter: the last accepted model and a WARNING.
SELECT hp.model_info(hp.train_reward_model_iterative('scale_fit', 'chosen', 'rejected',
                                                     '{"heads": 1, "max_iter": 1}'))->'rows' AS rows;
RESET client_min_messages;

-- (d) Bad input: clear errors with their SQLSTATEs.
CREATE OR REPLACE FUNCTION hp_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ': ' || SQLERRM || coalesce(nullif(' (' || d || ')', ' ()'), '');
END $$;
CREATE TABLE scale_bad (name text, m hp.model);
INSERT INTO scale_bad
SELECT 'mlp', hp.train_reward_model(chosen, rejected, '{"arch": "mlp", "heads": 2, "hidden": [4], "epochs": 1}') FROM scale_fit
UNION ALL
SELECT 'ppm', hp.train_ppm(ARRAY[i % 3, i % 5]::float8[], 0.5 + 0.01 * i, '{"vocab": ["a", "b"], "n": 10}') FROM generate_series(1, 30) i
UNION ALL
SELECT 'two heads', hp.train_reward_model(chosen, rejected, '{"heads": 2}') FROM scale_fit
UNION ALL
SELECT 'dim 5', :'eval_model'::hp.model;
SELECT name, hp.model_info(m)->>'kind' AS kind, hp.model_info(m)->'heads' AS heads FROM scale_bad ORDER BY name;
-- dimension mismatches
SELECT hp_try($q$SELECT hp.bt_newton_step(chosen, rejected[1:7], NULL, NULL, '{}') FROM scale_fit$q$);
SELECT hp_try($q$SELECT hp.bt_newton_step(chosen, rejected, hp.linear_model('{1,2,3}'), NULL, '{"heads": 1}') FROM scale_fit$q$);
SELECT hp_try($q$SELECT hp.bt_newton_step(CASE WHEN id = 7 THEN chosen[1:4] ELSE chosen END,
                                          CASE WHEN id = 7 THEN rejected[1:4] ELSE rejected END, NULL, NULL, '{}') FROM scale_fit$q$);
SELECT hp_try($q$SELECT hp.eval_metrics((SELECT m FROM scale_bad WHERE name = 'dim 5'), chosen, rejected) FROM scale_fit$q$);
-- NaN, empty arrays and labels out of range
SELECT hp_try($q$SELECT hp.bt_newton_step(ARRAY[1, 'NaN']::real[], ARRAY[1, 2]::real[], NULL, NULL, '{}')$q$);
SELECT hp_try($q$SELECT hp.eval_metrics(hp.linear_model('{1,2}'), ARRAY[1, 'Infinity']::real[], ARRAY[1, 2]::real[])$q$);
SELECT hp_try($q$SELECT hp.bt_newton_step('{}'::real[], '{}'::real[], NULL, NULL, '{}')$q$);
SELECT hp_try($q$SELECT hp.bt_newton_step(ARRAY[1, 2]::real[], ARRAY[1, 2]::real[], 1.5, NULL, NULL, '{}')$q$);
SELECT hp_try($q$SELECT hp.eval_metrics(hp.linear_model('{1,2}'), ARRAY[1, 2]::real[], ARRAY[1, 2]::real[], 'NaN')$q$);
-- wrong model kinds, head counts and models that change between rows
SELECT hp_try($q$SELECT hp.bt_newton_step(chosen, rejected, (SELECT m FROM scale_bad WHERE name = 'mlp'), NULL, '{"heads": 2}') FROM scale_fit$q$);
SELECT hp_try($q$SELECT hp.bt_newton_step(chosen, rejected, (SELECT m FROM scale_bad WHERE name = 'ppm'), NULL, '{}') FROM scale_fit$q$);
SELECT hp_try($q$SELECT hp.eval_metrics((SELECT m FROM scale_bad WHERE name = 'ppm'), chosen, rejected) FROM scale_fit$q$);
SELECT hp_try($q$SELECT hp.bt_newton_step(chosen, rejected, (SELECT m FROM scale_bad WHERE name = 'two heads'), NULL, '{}') FROM scale_fit$q$);
SELECT hp_try($q$SELECT hp.bt_newton_step(chosen, rejected, hp.linear_model('{{1,2,3,4,5,6,7,8},{1,2,3,4,5,6,7,8}}'), NULL, '{"heads": 2}') FROM scale_fit$q$);
SELECT hp_try($q$SELECT hp.bt_newton_step(chosen, rejected, hp.linear_model(ARRAY[id % 2, 0, 0, 0, 0, 0, 0, 0]::real[]), NULL, '{"heads": 1}') FROM scale_fit$q$);
SELECT hp_try($q$SELECT hp.bt_newton_step(chosen, rejected, CASE WHEN id > 5 THEN hp.linear_model('{1,2,3,4,5,6,7,8}') END, NULL, '{"heads": 1}') FROM scale_fit$q$);
SELECT hp_try($q$SELECT hp.eval_metrics(NULL, chosen, rejected) FROM scale_fit$q$);
SELECT hp_try($q$SELECT hp.train_reward_model_iterative('scale_fit', 'chosen', 'rejected', '{"arch": "mlp"}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model_iterative('scale_fit', 'chosen', 'rejected', jsonb_build_object('init', (SELECT m::text FROM scale_bad WHERE name = 'ppm')))$q$);
-- unknown or invalid options
SELECT hp_try($q$SELECT hp.bt_newton_step(chosen, rejected, NULL, NULL, '{"heads": 2, "lamda": 1}') FROM scale_fit$q$);
SELECT hp_try($q$SELECT hp.train_reward_model_iterative('scale_fit', 'chosen', 'rejected', '{"lamda": 1}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model_iterative('scale_fit', 'chosen', 'rejected', '{"uncertainty": "laplace", "heads": 4}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model_iterative('scale_fit', 'chosen', 'rejected', '{"tol": 0}')$q$);
-- NULL arguments, missing columns, a dimension beyond the limit
SELECT hp_try($q$SELECT hp.train_reward_model_iterative(NULL, 'chosen', 'rejected')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model_iterative('scale_fit', 'chosen', 'nope')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model_iterative('scale_fit', 'chosen', 'rejected', '{}', 'nope')$q$);
SELECT hp_try($q$SELECT hp.bt_newton_step(array_fill(1::real, ARRAY[2049]), array_fill(0::real, ARRAY[2049]), NULL, NULL, '{"heads": 1}')$q$);
SELECT hp_try($q$SELECT hp.bt_newton_step(array_fill(1::real, ARRAY[2048]), array_fill(0::real, ARRAY[2048]), NULL, NULL, '{"heads": 256}')$q$);
-- corrupted states
SELECT hp_try($q$SELECT hp._newton_step_final('\x0102030405060708'::bytea)$q$);
SELECT hp_try($q$SELECT hp.bt_newton_step_info('\x00'::bytea)$q$);
SELECT hp_try($q$SELECT hp._eval_metrics_final(decode(repeat('00', 200), 'hex'))$q$);
