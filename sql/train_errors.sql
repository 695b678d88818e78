--
-- Bad input to training and scoring: each gets a clear ERROR.
--

-- hp_try runs a statement and shows its SQLSTATE and message instead of failing.
CREATE OR REPLACE FUNCTION hp_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ': ' || SQLERRM || coalesce(nullif(' (' || d || ')', ' ()'), '');
END $$;

-- NaN, Inf and NULL elements
SELECT hp_try($q$SELECT hp.train_reward_model(ARRAY[1, 'NaN']::real[], '{0,0}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1,0}', ARRAY['Infinity', 0]::real[])$q$);
SELECT hp_try($q$SELECT hp.train_reward_model(ARRAY[1, NULL]::real[], '{0,0}')$q$);
-- empty, multi-dimensional and mismatched arrays
SELECT hp_try($q$SELECT hp.train_reward_model('{}', '{}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{{1,2},{3,4}}', '{{1,2},{3,4}}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1,2,3}', '{1,2}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model(x, y) FROM (VALUES ('{1,2}'::real[], '{0,1}'::real[]), ('{1,2,3}', '{0,1,2}')) v(x, y)$q$);
-- dimension above the documented maximum (16384)
SELECT hp_try($q$SELECT hp.train_reward_model(array_fill(1::real, ARRAY[16385]), array_fill(0::real, ARRAY[16385]))$q$);
-- unknown and ill-typed options
SELECT hp_try($q$SELECT hp.train_reward_model('{1}', '{0}', '{"heads": 4, "lamda": 1}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1}', '{0}', '{"heads": "four"}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1}', '{0}', '{"heads": 0}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1}', '{0}', '{"lambda": -1}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1}', '{0}', '{"uncertainty": "vibes"}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1}', '{0}', '{"uncertainty": "laplace", "heads": 4}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1}', '{0}', '[1, 2]')$q$);
-- p_a outside [0, 1]
SELECT hp_try($q$SELECT hp.train_reward_model('{1}', '{0}', 1.5, '{}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1}', '{0}', 'NaN', '{}')$q$);

-- scoring: model/input dimension mismatch and bad arrays
CREATE TEMP TABLE m1 AS SELECT hp.train_reward_model('{1,0}'::real[], '{0,1}'::real[], '{"heads": 2}') AS m;
SELECT hp_try($q$SELECT hp.reward(m, '{1,2,3}') FROM m1$q$);
SELECT hp_try($q$SELECT hp.reward_std(m, '{1,NaN}') FROM m1$q$);
SELECT hp_try($q$SELECT hp.prefer(m, '{1,2}', '{1}') FROM m1$q$);
SELECT hp_try($q$SELECT hp.prefer_std(m, '{1,2}', '{{1,2}}') FROM m1$q$);
SELECT hp.reward(m, NULL) IS NULL AS strict_null FROM m1;

-- after all that, the server still answers
SELECT 1 AS alive;

-- MLP options out of range, and warm starts that do not fit
SELECT hp_try($q$SELECT hp.train_reward_model('{1}', '{0}', '{"arch": "mlp", "hidden": [0]}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1}', '{0}', '{"arch": "mlp", "hidden": [8, 8, 8, 8, 8]}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1}', '{0}', '{"arch": "mlp", "lr": 0}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1}', '{0}', '{"arch": "mlp", "epochs": 0}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1}', '{0}', '{"arch": "mlp", "uncertainty": "laplace"}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1}', '{0}', '{"arch": "transformer"}')$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1,2}', '{0,0}', jsonb_build_object('init', hp.linear_model('{1,2,3}')::text))$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1,2}', '{0,0}', jsonb_build_object('init', 'not a model'))$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1,2}', '{0,0}', jsonb_build_object('init', 42))$q$);
SELECT hp_try($q$SELECT hp.train_reward_model('{1,2}', '{0,0}', jsonb_build_object('arch', 'mlp', 'init', (SELECT m::text FROM m1)))$q$);
SELECT 1 AS still_alive;
