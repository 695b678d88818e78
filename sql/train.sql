--
-- Bradley-Terry reward models: training with hp.train_reward_model and
-- scoring with hp.reward, hp.reward_std, hp.prefer and hp.prefer_std.
--

-- A small preference set whose hidden reward is r(x) = 2*x1 - x2.
SELECT setseed(0.42);
CREATE TABLE prefs AS
WITH raw AS (
  SELECT i,
         ARRAY[random(), random(), random()]::real[] AS a,
         ARRAY[random(), random(), random()]::real[] AS b
  FROM generate_series(1, 400) i
)
SELECT i AS id,
       CASE WHEN 2*a[1] - a[2] >= 2*b[1] - b[2] THEN a ELSE b END AS chosen,
       CASE WHEN 2*a[1] - a[2] >= 2*b[1] - b[2] THEN b ELSE a END AS rejected
FROM raw;

-- Train an ensemble of 4 bootstrap heads and store it.
CREATE TABLE models AS
SELECT 'bt4' AS name,
       hp.train_reward_model(chosen, rejected, '{"heads": 4, "lambda": 1e-4, "seed": 7}') AS m
FROM prefs;

-- What was trained.
SELECT info->>'kind' AS kind, info->'dim' AS dim, info->'heads' AS heads,
       info->'rows' AS rows, info->'lambda' AS lambda,
       (info->>'loss')::float8 < ln(2) AS loss_below_chance
FROM (SELECT hp.model_info(m) AS info FROM models) s;

-- The learned reward ranks by the hidden one: x1 up, x2 down, x3 irrelevant.
SELECT hp.reward(m, '{1,0,0}') > hp.reward(m, '{0,0,0}') AS x1_helps,
       hp.reward(m, '{0,1,0}') < hp.reward(m, '{0,0,0}') AS x2_hurts,
       abs(hp.reward(m, '{0,0,1}') - hp.reward(m, '{0,0,0}'))
         < abs(hp.reward(m, '{1,0,0}') - hp.reward(m, '{0,0,0}')) / 4 AS x3_small
FROM models;

-- Training-set pairwise accuracy, and P(a > b) + P(b > a) = 1.
SELECT round(avg((hp.prefer(m, chosen, rejected) > 0.5)::int), 2) AS accuracy,
       max(abs(hp.prefer(m, chosen, rejected) + hp.prefer(m, rejected, chosen) - 1)) < 1e-9 AS complementary
FROM prefs, models;

-- Epistemic uncertainty: heads disagree more far from the data.
SELECT hp.reward_std(m, '{0.5,0.5,0.5}') < hp.reward_std(m, '{50,-50,50}') AS grows_off_data,
       hp.prefer_std(m, '{0.5,0.5,0.5}', '{0.5,0.5,0.5}') = 0 AS identical_pair_certain
FROM models;

-- One head is a plain model: no spread.
SELECT hp.reward_std(hp.train_reward_model(chosen, rejected, '{"heads": 1}'), '{1,2,3}') AS std_one_head
FROM prefs;

-- Laplace uncertainty: a single model with a diagonal posterior.
SELECT info->'heads' AS heads, info->>'uncertainty' AS uncertainty, std > 0 AS has_std
FROM (SELECT hp.model_info(m) AS info, hp.reward_std(m, '{1,1,1}') AS std
      FROM (SELECT hp.train_reward_model(chosen, rejected, '{"uncertainty": "laplace"}') AS m
            FROM prefs) t) s;

-- lambda "auto": chosen by 5-fold cross-validated log-loss over a grid
-- relative to the data's scale (mean |chosen - rejected|^2), descending,
-- stopping two points past the best.  model_info shows the curve.
SELECT (info->>'lambda')::float8 = (SELECT l FROM unnest(cv_lambda, cv_loss) u(l, v) ORDER BY v LIMIT 1) AS picked_least_cv_loss,
       info->'options'->>'lambda' AS asked,
       info->'lambda_cv'->'folds' AS folds,
       array_length(cv_lambda, 1) BETWEEN 3 AND 13 AS grid_points,
       cv_lambda[1] > cv_lambda[2] AS descending
FROM (SELECT info,
             ARRAY(SELECT jsonb_array_elements_text(info->'lambda_cv'->'lambda')::float8) AS cv_lambda,
             ARRAY(SELECT jsonb_array_elements_text(info->'lambda_cv'->'loss')::float8) AS cv_loss
      FROM (SELECT hp.model_info(hp.train_reward_model(chosen, rejected, '{"lambda": "auto", "heads": 4}')) AS info
            FROM prefs) t) s;
-- The chosen model is the one that lambda, given as a number, trains.
WITH a AS (SELECT hp.train_reward_model(chosen, rejected, '{"lambda": "auto", "heads": 1}') AS m FROM prefs),
     n AS (SELECT hp.train_reward_model(chosen, rejected,
                    jsonb_build_object('heads', 1, 'lambda', (SELECT hp.model_info(m)->'lambda' FROM a))) AS m
           FROM prefs)
SELECT hp.reward(a.m, x) = hp.reward(n.m, x) AS same_as_numeric
FROM a, n, (VALUES ('{1,0,0}'::real[]), ('{0,1,0}'), ('{0,0,1}')) v(x);

-- The same rows in any order, with the same seed, give the same model.
SELECT (SELECT hp.train_reward_model(chosen, rejected, '{"heads": 3, "seed": 1}' ORDER BY id)::text FROM prefs)
     = (SELECT hp.train_reward_model(chosen, rejected, '{"heads": 3, "seed": 1}' ORDER BY id DESC)::text FROM prefs)
       AS order_independent;

-- Soft labels: p_a = 0.5 is a tie.  Ties alone teach nothing (w = 0).
SELECT hp.reward(m, '{1,0,0}') = 0 AS ties_give_zero
FROM (SELECT hp.train_reward_model(chosen, rejected, 0.5, '{}') AS m FROM prefs) t;
-- Hard labels written as p_a = 1 match the (chosen, rejected) form.
SELECT (SELECT hp.train_reward_model(chosen, rejected, 1.0, '{"heads":2}')::text FROM prefs)
     = (SELECT hp.train_reward_model(chosen, rejected, '{"heads":2}')::text FROM prefs) AS same_model;

-- No rows: NULL.  NULL rows are skipped like NULLs in sum().
SELECT hp.train_reward_model(chosen, rejected) IS NULL AS no_rows FROM prefs WHERE false;
SELECT hp.model_info(hp.train_reward_model(x, y))->'rows' AS rows
FROM (VALUES ('{1,2}'::real[], '{0,1}'::real[]), (NULL, '{1,1}'), ('{3,1}', '{1,0}')) v(x, y);

-- All-identical pairs cannot be learned from, but give a finite model.
SELECT hp.reward(hp.train_reward_model(x, x), '{1,1}') AS reward
FROM (VALUES ('{1,2}'::real[]), ('{3,4}')) v(x);

-- Separable data converges thanks to the L2 penalty.
SELECT hp.reward(hp.train_reward_model(x, y, '{"heads":1,"lambda":0.01}'), '{1}') < 100 AS finite
FROM (VALUES ('{1}'::real[], '{0}'::real[]), ('{2}', '{1}')) v(x, y);

-- MLP heads (ActiveUltraFeedback's reward model shape, smaller here): each
-- head is an MLP on the embedding, trained with Adam on its own bootstrap.
CREATE TABLE mlp AS
SELECT hp.train_reward_model(chosen, rejected,
         '{"arch": "mlp", "hidden": [16, 16], "heads": 4, "epochs": 30, "lr": 0.01, "seed": 3}') AS m
FROM prefs;
SELECT info->>'kind' AS kind, info->'heads' AS heads, info->'options'->'hidden' AS hidden
FROM (SELECT hp.model_info(m) AS info FROM mlp) s;
SELECT avg((hp.prefer(m, chosen, rejected) > 0.5)::int) > 0.9 AS learns,
       min(hp.reward_std(m, chosen)) > 0 AS heads_disagree
FROM prefs, mlp;

-- Warm start: "init" takes a previous model (its text form, as a string or
-- as a JSON object).  One more epoch from the trained MLP keeps its accuracy.
SELECT avg((hp.prefer(m2, chosen, rejected) > 0.5)::int) > 0.9 AS warm_started
FROM prefs,
     (SELECT hp.train_reward_model(chosen, rejected,
               '{"arch": "mlp", "hidden": [16, 16], "heads": 4, "epochs": 1, "lr": 0.001}'::jsonb
               || jsonb_build_object('init', (SELECT m::text FROM mlp))) AS m2
      FROM prefs) t;
SELECT hp.model_info(hp.train_reward_model(chosen, rejected,
         '{"heads": 4, "seed": 7}'::jsonb || jsonb_build_object('init', (SELECT m::text::jsonb FROM models))))->'rows' AS rows
FROM prefs;
