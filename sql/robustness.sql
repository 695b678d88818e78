--
-- Numerical robustness: data on which a careless solver would return
-- infinite, NaN or meaningless models.  Separable data (the Bradley-Terry
-- optimum is at infinity without regularisation), collinear and duplicated
-- features, all-tie labels, a single row, constant data, and extreme
-- magnitudes.  Every model must be finite, every score a number; anything
-- else must be an error.  Outputs are rounded or compared, so the file does
-- not depend on the BLAS build.
--
CREATE SCHEMA rb;
SET search_path = rb, public;

-- The result of a statement, or its error as "SQLSTATE: message (detail)"
-- (the hp_try pattern of sql/select.sql, showing the value).
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text; v text;
BEGIN
  EXECUTE q INTO v;
  RETURN coalesce(v, 'NULL');
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ': ' || SQLERRM || coalesce(nullif(' (' || d || ')', ' ()'), '');
END $$;

-- Every float of every tensor of a model, as float8.
CREATE FUNCTION tensor_values(m hp.model) RETURNS SETOF float8 LANGUAGE sql IMMUTABLE AS $$
  SELECT v::float8 FROM jsonb_each(m::text::jsonb -> 'tensors') t,
                        jsonb_array_elements_text(t.value -> 'data') v
$$;
-- Largest |weight| of a model: finite for every model (JSON has no NaN or
-- Infinity, and the model type refuses them).
CREATE FUNCTION max_abs(m hp.model) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
  SELECT max(abs(v)) FROM tensor_values(m) v
$$;
CREATE FUNCTION tensor(m hp.model, name text) RETURNS float8[] LANGUAGE sql IMMUTABLE AS $$
  SELECT array_agg(v::float8 ORDER BY o)
  FROM jsonb_array_elements_text(m::text::jsonb -> 'tensors' -> name -> 'data') WITH ORDINALITY t(v, o)
$$;

-- 1. Separable data: chosen always has the larger first coordinate, so
-- w = (t, 0, 0) classifies every pair and the log-loss falls to 0 as t grows.
CREATE TABLE sep AS
SELECT i, ARRAY[1 + (i % 7) / 10.0, sin(i), cos(i)]::real[] AS a,
          ARRAY[-1 - (i % 5) / 10.0, sin(i) + 0.3, cos(2 * i)]::real[] AS b
FROM generate_series(1, 500) i;

-- With the default regularisation (lambda 1e-3) every variant converges to
-- finite weights, rewards stay bounded and the training pairs are ranked
-- right.
CREATE TABLE sep_models AS
SELECT v.name, (SELECT hp.train_reward_model(a, b, v.opts::jsonb) FROM sep) AS m
FROM (VALUES ('ensemble',       '{}'),
             ('ensemble, no prior', '{"prior": "none"}'),
             ('single head',    '{"heads": 1}'),
             ('laplace',        '{"uncertainty": "laplace"}'),
             ('lambda 0',       '{"heads": 1, "lambda": 0}'),
             ('lambda 0, laplace', '{"uncertainty": "laplace", "lambda": 0}'),
             ('lambda 0, 4 heads', '{"heads": 4, "lambda": 0}'),
             ('lambda 0, max_iter 1', '{"heads": 1, "lambda": 0, "max_iter": 1}'),
             ('lambda 0, mlp',  '{"arch": "mlp", "heads": 2, "hidden": [8], "epochs": 20, "lambda": 0}')) v(name, opts);
SELECT name,
       max_abs(m) < 1e4 AS finite_weights,
       (SELECT max(abs(hp.reward(m, x))) < 100 FROM sep, LATERAL (VALUES (a), (b)) s(x)) AS bounded_rewards,
       (SELECT min(hp.prefer(m, a, b)) > 0.5 FROM sep) AS ranks_every_pair,
       (SELECT bool_and(hp.reward_std(m, a) >= 0 AND hp.prefer_std(m, a, b) BETWEEN 0 AND 0.5
                        AND hp.prefer_flip(m, a, b) BETWEEN 0 AND 0.5) FROM sep) AS spreads_in_range,
       (hp.model_info(m) ->> 'loss')::float8 < 0.1 AS small_loss
FROM sep_models ORDER BY name;
-- Regularisation bounds the weights: lambda 1e-3 gives a smaller weight
-- than lambda 0, which stops where the float32 loss stops improving.
SELECT round((SELECT max_abs(m) FROM sep_models WHERE name = 'single head')::numeric, 1) AS w_lambda_default,
       (SELECT max_abs(m) FROM sep_models WHERE name = 'lambda 0')
         > (SELECT max_abs(m) FROM sep_models WHERE name = 'single head') AS lambda_0_is_larger;

-- 2. Collinear and duplicated features.  Appending a copy of the first
-- coordinate (or twice it) leaves the margins unchanged for any split of
-- the weight between the two columns, so the Hessian is singular without
-- regularisation; the solver still returns the minimum-norm split (equal
-- halves for a copy, 1:2 for twice the column), and w1 + k w4 equals the
-- weight of the model without the extra column.  A constant-zero column
-- gets weight 0.
CREATE TABLE collinear AS
SELECT i, CASE WHEN i % 4 = 0 THEN b ELSE a END AS a, CASE WHEN i % 4 = 0 THEN a ELSE b END AS b
FROM sep;
SELECT name, round((hp.model_info(m) ->> 'loss')::numeric, 4) AS loss,
       round(w[1]::numeric, 3) AS w1, round(w[4]::numeric, 3) AS w4, round((w[1] + k * coalesce(w[4], 0))::numeric, 3) AS w1_plus_k_w4
FROM (SELECT name, k, m, tensor(m, CASE WHEN hp.model_info(m) ->> 'uncertainty' = 'laplace' THEN 'w' ELSE 'center' END) AS w
      FROM (SELECT 'a || a[1], lambda 0' AS name, 1 AS k, hp.train_reward_model(a || a[1], b || b[1], '{"heads": 2, "lambda": 0}') AS m FROM collinear
            UNION ALL
            SELECT 'a || 2 a[1], laplace, lambda 0', 2, hp.train_reward_model(a || (2 * a[1])::real, b || (2 * b[1])::real, '{"uncertainty": "laplace", "lambda": 0}') FROM collinear
            UNION ALL
            SELECT 'a || 0, laplace, lambda 0', 0, hp.train_reward_model(a || 0::real, b || 0::real, '{"uncertainty": "laplace", "lambda": 0}') FROM collinear
            UNION ALL
            SELECT 'a, lambda 0 (no extra column)', 0, hp.train_reward_model(a, b, '{"uncertainty": "laplace", "lambda": 0}') FROM collinear) s) t
ORDER BY name;
-- With lambda 1e-3 the copy shares the weight too (a little more in total:
-- the penalty on two halves is half the penalty on one weight).
SELECT round((w[1] + w[4])::numeric, 4) AS w1_plus_w4, round(w[1]::numeric, 4) = round(w[4]::numeric, 4) AS equal_halves,
       (SELECT round((tensor(m, 'center'))[1]::numeric, 4) FROM (SELECT hp.train_reward_model(a, b, '{"heads": 2}') AS m FROM collinear) s) AS w1_without_copy
FROM (SELECT tensor(hp.train_reward_model(a || a[1], b || b[1], '{"heads": 2}'), 'center') AS w FROM collinear) s;
-- The Laplace variance of a direction the data never probes (the zero
-- column) is the prior's, 1/(N lambda) = 2 here; without regularisation it
-- is capped at 1e12 instead of infinite.
SELECT lambda, (tensor(m, 'var'))[4] AS unprobed_variance
FROM (SELECT lambda, hp.train_reward_model(a || 0::real, b || 0::real, jsonb_build_object('uncertainty', 'laplace', 'lambda', lambda)) AS m
      FROM collinear, unnest('{0, 0.001}'::float8[]) lambda GROUP BY lambda) s ORDER BY lambda;

-- 3. All ties: p_a = 0.5 on every row.  The optimum is w = 0 (loss ln 2),
-- every preference is 0.5.
SELECT name, max_abs(m) < 1e4 AS finite, round((hp.model_info(m) ->> 'loss')::numeric, 6) AS loss,
       (SELECT round(max(abs(v))::numeric, 6) FROM unnest(tensor(m, CASE WHEN name = 'ensemble' THEN 'center' ELSE 'w' END)) v) AS max_reward_weight,
       round(hp.prefer(m, '{1,0,0}', '{0,0,0}')::numeric, 6) AS p
FROM (SELECT 'ensemble' AS name, hp.train_reward_model(a, b, 0.5, '{}') AS m FROM sep
      UNION ALL SELECT 'lambda 0', hp.train_reward_model(a, b, 0.5, '{"heads": 1, "lambda": 0}') FROM sep
      UNION ALL SELECT 'laplace, lambda 0', hp.train_reward_model(a, b, 0.5, '{"uncertainty": "laplace", "lambda": 0}') FROM sep) s
ORDER BY name;
-- Every pair a tie with itself (a = b): the differences are all zero.
SELECT name, round((hp.model_info(m) ->> 'loss')::numeric, 6) AS loss, max_abs(m) < 1e13 AS finite,
       hp.prefer(m, '{1,2,3}', '{3,2,1}') AS p
FROM (SELECT 'ensemble' AS name, hp.train_reward_model(a, a, '{}') AS m FROM sep
      UNION ALL SELECT 'laplace, lambda 0', hp.train_reward_model(a, a, '{"uncertainty": "laplace", "lambda": 0}') FROM sep) s
ORDER BY name;

-- 4. A single training row: finite models for every solver.
SELECT name, max_abs(m) < 1e13 AS finite, hp.model_info(m) -> 'rows' AS rows,
       CASE WHEN name <> 'mlp' THEN hp.prefer(m, '{1,2}', '{0,1}') > 0.5 END AS prefers_the_chosen
FROM (SELECT 'ensemble' AS name, hp.train_reward_model('{1,2}'::real[], '{0,1}'::real[]) AS m
      UNION ALL SELECT 'lambda 0', hp.train_reward_model('{1,2}'::real[], '{0,1}'::real[], '{"heads": 1, "lambda": 0}')
      UNION ALL SELECT 'laplace, lambda 0', hp.train_reward_model('{1,2}'::real[], '{0,1}'::real[], '{"uncertainty": "laplace", "lambda": 0}')
      UNION ALL SELECT 'soft label 0.8', hp.train_reward_model('{1,2}'::real[], '{0,1}'::real[], 0.8, '{"heads": 2}')
      UNION ALL SELECT 'mlp', hp.train_reward_model('{1,2}'::real[], '{0,1}'::real[], '{"arch": "mlp", "heads": 2, "hidden": [4], "epochs": 5}')) s
ORDER BY name;

-- 5. Scale.  The unregularised fit is scale-equivariant: multiplying every
-- embedding by s divides the weights by s.  Non-separable data (every 4th
-- label flipped), lambda 0, s from 1e-8 to 1e8: w * s is the same (to the
-- float32 solver's tolerance).
SELECT s, round(((tensor(m, 'w'))[1] * s)::numeric, 1) AS w1_times_s,
       round(((tensor(m, 'w'))[2] * s)::numeric, 1) AS w2_times_s,
       round((hp.model_info(m) ->> 'loss')::numeric, 4) AS loss
FROM (SELECT s, hp.train_reward_model(ARRAY(SELECT (x * s)::real FROM unnest(a) x), ARRAY(SELECT (x * s)::real FROM unnest(b) x),
                                      '{"heads": 1, "lambda": 0}') AS m
      FROM collinear, unnest('{1e-8, 1e-4, 1, 1e4, 1e8}'::float8[]) s GROUP BY s) t
ORDER BY s;
-- The out-of-core trainer (double precision, Cholesky) is scale-equivariant
-- over the whole float32 range, 1e-30 to 1e30.
CREATE TABLE scaled AS
SELECT i, a, b,
       ARRAY(SELECT (x * 1e-30)::real FROM unnest(a) x) AS a_m30, ARRAY(SELECT (x * 1e-30)::real FROM unnest(b) x) AS b_m30,
       ARRAY(SELECT (x * 1e-12)::real FROM unnest(a) x) AS a_m12, ARRAY(SELECT (x * 1e-12)::real FROM unnest(b) x) AS b_m12,
       ARRAY(SELECT (x * 1e12)::real FROM unnest(a) x) AS a_p12, ARRAY(SELECT (x * 1e12)::real FROM unnest(b) x) AS b_p12,
       ARRAY(SELECT (x * 1e30)::real FROM unnest(a) x) AS a_p30, ARRAY(SELECT (x * 1e30)::real FROM unnest(b) x) AS b_p30
FROM collinear;
SET client_min_messages = warning;
SELECT s, round(((tensor(m, 'w'))[1] * s)::numeric, 1) AS w1_times_s,
       round(((tensor(m, 'w'))[2] * s)::numeric, 1) AS w2_times_s,
       round((hp.model_info(m) ->> 'loss')::numeric, 4) AS loss
FROM (VALUES (1e-30::float8, 'a_m30', 'b_m30'), (1e-12, 'a_m12', 'b_m12'), (1, 'a', 'b'), (1e12, 'a_p12', 'b_p12'), (1e30, 'a_p30', 'b_p30')) v(s, ac, bc),
     LATERAL (SELECT hp.train_reward_model_iterative('scaled', ac, bc, '{"heads": 1, "lambda": 0}') AS m) t
ORDER BY s;
RESET client_min_messages;
-- With lambda > 0 small inputs are shrunk toward 0 (the penalty does not
-- scale with the data): finite, and a tie everywhere at 1e-30.
SELECT max_abs(m) < 1e4 AS finite, round(hp.prefer(m, '{1e-30,0,0}', '{-1e-30,0,0}')::numeric, 6) AS p
FROM (SELECT hp.train_reward_model(ARRAY(SELECT (x * 1e-30)::real FROM unnest(a) x), ARRAY(SELECT (x * 1e-30)::real FROM unnest(b) x)) AS m
      FROM collinear) s;

-- A difference beyond the float32 range, 3e38 - (-3e38), is refused (it
-- would make the margins infinite), even on one row among good ones.
SELECT try($q$SELECT hp.train_reward_model(a, b) FROM (SELECT a, b FROM sep UNION ALL SELECT '{3e38,0,0}', '{-3e38,1,0}') s$q$) AS overflowing_difference;
-- Within the range, 1.7e38 - (-1.6e38) = 3.3e38 is a valid difference, but
-- the solver's curvature would overflow float32: refused, never a w = 0 model.
SELECT try($q$SELECT hp.model_info(hp.train_reward_model('{1.7e38,0}'::real[], '{-1.6e38,1}'::real[], '{"heads": 1}')) -> 'rows'$q$) AS largest_difference;

-- MLP heads on extreme inputs: finite models (the fit is poor, the inputs
-- are not normalised), and an error rather than a non-finite model at 1e38.
SELECT s, CASE WHEN r = 'true' THEN 'finite' WHEN r LIKE '%diverged to non-finite%' THEN 'error: diverged' ELSE r END AS outcome
FROM unnest('{1e-30, 1e-10, 1, 1e10, 1e30, 1e38}'::float8[]) s,
LATERAL try(format($q$SELECT max_abs(m) < 'Infinity' AND hp.reward(m, ARRAY[%1$s, 0]::real[]) < 'Infinity'
                         AND hp.prefer(m, ARRAY[%1$s, 0]::real[], ARRAY[-%1$s, 0]::real[]) BETWEEN 0 AND 1
  FROM (SELECT hp.train_reward_model(ARRAY[%1$s * (1 + i %% 7 / 10.0), %1$s * sin(i)]::real[], ARRAY[-%1$s, %1$s * cos(i)]::real[],
                                     '{"arch": "mlp", "heads": 2, "hidden": [8], "epochs": 5}') AS m
        FROM generate_series(1, 100) i) t$q$, s)) r
ORDER BY s;

-- Scoring subnormal inputs: the rewards underflow to 0, never NaN.
SELECT hp.reward(hp.linear_model('{1e-30}'), '{1e-30}') AS reward_1e_60,
       hp.prefer(hp.linear_model('{{1e-30},{2e-30}}'), '{1e-30}', '{-1e-30}') AS p,
       hp.reward_std(hp.linear_model('{{1e-40},{-1e-40}}'), '{1e-40}') AS std;
-- Selection refuses candidates whose reward is not a finite number (here
-- heads of +-1e30 on inputs of 1e30: w.x = 1e60 does not fit a float32)
-- and works on rewards and scores near the limits.
SELECT m AS method,
       try(format($q$SELECT hp.select_pair(hp.linear_model('{{1e30},{-1e30}}'), i, ARRAY[i * 1e30]::real[], %L, 1, 0) FROM generate_series(1, 3) i$q$, m)) AS overflowing,
       try(format($q$SELECT hp.select_pair(hp.linear_model('{{1},{-1}}'), i, ARRAY[i * 1e38]::real[], %L, 1, 0) FROM generate_series(1, 3) i$q$, m)) AS spread_1e38
FROM unnest('{random,ultrafeedback,maxmin,infomax,dts,drts,deltaucb,maxminlcb}'::text[]) m;
SELECT m AS method, hp.select_pair_by_score(i, (2 - i) * 1e307, m, 0) AS pair
FROM generate_series(1, 3) i, unnest('{random,ultrafeedback,maxmin}'::text[]) m GROUP BY m ORDER BY m;

-- Distinguishability keeps its moments in double precision: means of 1e30
-- and differences of 3e38 - (-3e38) = 6e38 (beyond float32) are exact.
SELECT round((st ->> 'd')::numeric / 1e30, 6) AS d_over_1e30,
       round((st ->> 'snr')::numeric, 3) AS snr
FROM (SELECT hp.distinguishability(ARRAY[1e30 * i, 1]::real[], ARRAY[-1e30 * i, 0]::real[]) AS st
      FROM generate_series(1, 3) i) s;
SELECT round((st ->> 'd')::numeric / 1e38, 6) AS d_over_1e38, st -> 'n_chosen' AS n_chosen
FROM (SELECT hp.distinguishability('{3e38, 0}'::real[], '{-3e38, 0}'::real[]) AS st) s;
-- Constant data: zero covariance, so snr is null (both traces are 0).
SELECT st ->> 'd' AS d, st ->> 'trace' AS trace, st ->> 'snr' AS snr
FROM (SELECT hp.distinguishability('{1,2}'::real[], '{1,3}'::real[]) AS st FROM generate_series(1, 5)) s;

-- 6. Performance prediction models.  Duplicated features share the
-- weight; scores that do not vary are refused; tiny scores fit.
SELECT round(hp.ppm_predict(m, '{5,5}', 10)::numeric, 4) AS predict_5_5,
       round((tensor(m, 'beta'))[1]::numeric, 4) = round((tensor(m, 'beta'))[2]::numeric, 4) AS equal_split
FROM (SELECT hp.train_ppm(ARRAY[x, x]::float8[], 0.5 + 0.01 * x, '{"vocab": ["a", "b"], "n": 10}') AS m
      FROM generate_series(0, 10) x) s;
SELECT try($q$SELECT hp.train_ppm(ARRAY[x, 10 - x]::float8[], 0.7, '{"vocab": ["a", "b"], "n": 10}') FROM generate_series(0, 10) x$q$) AS constant_scores;
SELECT round((hp.ppm_predict(m, '{5,1}', 10) / 1e-300)::numeric, 4) AS predict_over_1e_300
FROM (SELECT hp.train_ppm(ARRAY[x, x % 3]::float8[], 1e-300 * (1 + x), '{"vocab": ["a", "b"], "n": 10, "lambda": 1e-9}') AS m
      FROM generate_series(0, 10) x) s;

-- 7. Memory: training holds its rows in memory up to
-- hybridpref.max_train_memory; above it, a clean 54000 error, and the
-- session goes on.  The same limit applies to hp.train_ppm and
-- hp.simulate_routings.
-- Rows are stored in chunks that double up to about 4 MB (64-d rows take 268
-- bytes), and the final step also counts the solver's sorted copy and its
-- per-row work arrays against the limit.
SET hybridpref.max_train_memory = '16MB';
SELECT try($q$SELECT hp.model_info(hp.train_reward_model(array_fill(i::real, ARRAY[64]), array_fill(0::real, ARRAY[64]), '{"heads": 2}')) -> 'rows'
              FROM generate_series(1, 20000) i$q$) AS train_within_limit;
SELECT try($q$SELECT hp.train_reward_model(array_fill(i::real, ARRAY[64]), array_fill(0::real, ARRAY[64]), '{"heads": 2}')
              FROM generate_series(1, 100000) i$q$) AS train_over_limit;
-- MLP training keeps both sides of a pair: twice the width.
SELECT try($q$SELECT hp.train_reward_model(array_fill(i::real, ARRAY[64]), array_fill(0::real, ARRAY[64]), '{"arch": "mlp"}')
              FROM generate_series(1, 100000) i$q$) AS mlp_over_limit;
SET hybridpref.max_train_memory = '1MB';
SELECT try($q$SELECT hp.train_ppm(ARRAY[i, i % 7, i % 5, i % 3]::float8[], i, '{"vocab": ["a", "b", "c", "d"], "n": 10}')
              FROM generate_series(1, 50000) i$q$) AS ppm_over_limit;
CREATE TABLE sim_train AS
SELECT i AS id, ARRAY[i % 3, 1]::real[] AS a_emb, ARRAY[1, i % 5]::real[] AS b_emb, 1::float8 AS human_label,
       0::float8 AS llm_label, ARRAY['f:' || i % 4] AS features
FROM generate_series(1, 50000) i;
CREATE TABLE sim_heldout AS SELECT id, a_emb, b_emb, 1::float8 AS trusted_label FROM sim_train WHERE id <= 10;
SELECT try($q$SELECT count(*) FROM hp.simulate_routings('sim_train', 'sim_heldout', '{0.5}', 1)$q$) AS simulate_over_limit;
RESET hybridpref.max_train_memory;
-- Within the limit again, in the same session:
SELECT hp.model_info(hp.train_reward_model(ARRAY[i, 1]::real[], ARRAY[0, i]::real[], '{"heads": 2}')) -> 'rows' AS rows
FROM generate_series(1, 50000) i;

SELECT 1 AS alive;
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA rb CASCADE;
RESET client_min_messages;
