--
-- Bad-input matrix: every public function, aggregate and procedure of schema
-- hp receives NULLs, empty arrays, arrays with NULL elements, 2-D arrays,
-- NaN, Infinity, mismatched dimensions, the dimension limit (16,384 allowed,
-- 16,385 refused), corrupted models, models of the wrong kind, and
-- out-of-range or unknown options, methods and names.
--
-- Each case is one row of bi.cases and is run by bi.try, the hp_try pattern
-- of sql/select.sql that also shows a value: an error shows as
-- "SQLSTATE: message (detail)", a result as "= value" (the first column of
-- the first row as text, "= NULL" for NULL).  Nothing may crash the server
-- or return a silently wrong number.
--
CREATE SCHEMA bi;

CREATE FUNCTION bi.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text; v text;
BEGIN
  IF q ~* '^\s*(COPY|CALL)' THEN
    EXECUTE q;
    RETURN 'ok';
  END IF;
  EXECUTE q INTO v;
  RETURN '= ' || coalesce(v, 'NULL');
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ': ' || SQLERRM || coalesce(nullif(' (' || d || ')', ' ()'), '');
END $$;

-- Fixtures, all deterministic.
-- A hand-made linear model, two heads over 2-d inputs.
CREATE TABLE bi.models (name text PRIMARY KEY, m hp.model);
INSERT INTO bi.models VALUES ('lin', hp.linear_model('{{1,1},{1,-1}}'));
-- Trained models on 2-d pairs: a linear ensemble, a Laplace model, an MLP.
CREATE TABLE bi.pairs AS
SELECT i AS id, ARRAY[cos(i) + 1, sin(i)]::real[] AS a, ARRAY[cos(i), sin(i) + 0.5]::real[] AS b
FROM generate_series(1, 40) i;
INSERT INTO bi.models
SELECT 'ens', hp.train_reward_model(a, b, '{"heads": 2, "seed": 1}') FROM bi.pairs;
INSERT INTO bi.models
SELECT 'laplace', hp.train_reward_model(a, b, '{"uncertainty": "laplace"}') FROM bi.pairs;
INSERT INTO bi.models
SELECT 'mlp', hp.train_reward_model(a, b, '{"arch": "mlp", "heads": 2, "hidden": [4], "epochs": 2, "seed": 1}')
FROM bi.pairs;
-- A PPM over two features for datasets of 10 rows.
INSERT INTO bi.models
SELECT 'ppm', hp.train_ppm(ARRAY[x, y]::float8[], 0.5 + 0.02 * x - 0.01 * y,
                           '{"vocab": ["f:a", "f:b"], "n": 10, "lambda": 1e-6}')
FROM generate_series(0, 10) x, generate_series(0, 10) y;
SELECT name, hp.model_info(m)->>'kind' AS kind, hp.model_info(m)->'dim' AS dim
FROM bi.models ORDER BY name;
CREATE FUNCTION bi.m(n text) RETURNS hp.model LANGUAGE sql STABLE
RETURN (SELECT m FROM bi.models WHERE name = n);

-- A table to route: ids, features, a route column, embeddings, LLM labels, tags.
CREATE TABLE bi.rt (id bigint PRIMARY KEY, features text[], route text,
                    a_emb real[], b_emb real[], llm_label float8, tag text, chosen real[], rejected real[]);
INSERT INTO bi.rt
SELECT i, CASE WHEN i % 2 = 0 THEN '{f:a}'::text[] ELSE '{f:b}' END, NULL,
       ARRAY[i % 3, 1]::real[], ARRAY[1, i % 5]::real[], (i % 2)::float8,
       CASE WHEN i % 2 = 0 THEN 'even' ELSE 'odd' END,
       ARRAY[i % 3 + 1, i % 7]::real[], ARRAY[i % 4, i % 3 - 1]::real[]
FROM generate_series(1, 10) i;
-- Training and held-out relations of hp.simulate_routings.
CREATE TABLE bi.tr AS
SELECT id, a AS a_emb, b AS b_emb, 1::float8 AS human_label, (id % 2)::float8 AS llm_label,
       ARRAY['f:' || (id % 3)] AS features
FROM bi.pairs;
CREATE TABLE bi.ho AS SELECT id, a AS a_emb, b AS b_emb, 1::float8 AS trusted_label FROM bi.pairs WHERE id <= 10;
CREATE TABLE bi.ho3 AS SELECT id, a_emb || 0::real AS a_emb, b_emb || 0::real AS b_emb, trusted_label FROM bi.ho;
CREATE TABLE bi.tr_empty AS SELECT * FROM bi.tr WHERE false;
CREATE TABLE bi.pairs_mixed AS SELECT id, CASE WHEN id = 5 THEN a || 1::real ELSE a END AS a, b FROM bi.pairs;
-- Stats for the feature functions.
CREATE TABLE bi.st AS SELECT hp.pair_stats('p q', 'a b c', 'a d') AS s;
CREATE TABLE bi.cut AS SELECT hp.feature_cutoffs(s) AS c FROM bi.st;

-- Corrupted binary values reach hp.model's receive function through a
-- binary COPY of bytea values (bytea's binary form is its raw bytes), as in
-- sql/model.sql; the cases below load them into bi.landing.
CREATE TABLE bi.landing (m hp.model);
\getenv abs_builddir PG_ABS_BUILDDIR
\set bin_ok :abs_builddir '/results/bad_input_ok.bin'
\set bin_magic :abs_builddir '/results/bad_input_magic.bin'
\set bin_trunc :abs_builddir '/results/bad_input_trunc.bin'
\set bin_empty :abs_builddir '/results/bad_input_empty.bin'
\set bin_kind :abs_builddir '/results/bad_input_kind.bin'
\set bin_flip :abs_builddir '/results/bad_input_flip.bin'
\set bin_long :abs_builddir '/results/bad_input_long.bin'
COPY (SELECT hp.model_send(m) FROM bi.models WHERE name = 'ppm') TO STDOUT (FORMAT binary) \g :bin_ok
COPY (SELECT overlay(hp.model_send(m) PLACING '\x58585858' FROM 1) FROM bi.models WHERE name = 'lin')
  TO STDOUT (FORMAT binary) \g :bin_magic
COPY (SELECT substr(hp.model_send(m), 1, 24) FROM bi.models WHERE name = 'mlp') TO STDOUT (FORMAT binary) \g :bin_trunc
COPY (SELECT ''::bytea) TO STDOUT (FORMAT binary) \g :bin_empty
COPY (SELECT set_byte(hp.model_send(m), 6, 1) FROM bi.models WHERE name = 'ppm') TO STDOUT (FORMAT binary) \g :bin_kind
COPY (SELECT set_byte(b, length(b) - 1, get_byte(b, length(b) - 1) # 128)
      FROM (SELECT hp.model_send(m) AS b FROM bi.models WHERE name = 'mlp') s) TO STDOUT (FORMAT binary) \g :bin_flip
COPY (SELECT hp.model_send(m) || '\x0000000000000000'::bytea FROM bi.models WHERE name = 'laplace') TO STDOUT (FORMAT binary) \g :bin_long

-- A distinguishability state (its transition function also runs outside an
-- aggregate, on a copy), and an aggregate that starts hp.train_ppm's
-- transition from a corrupted state.
CREATE TABLE bi.states AS SELECT hp._dist_trans(NULL, '{1,2}', '{3,4}') AS st;
CREATE AGGREGATE bi.ppm_bad(float8[], float8, jsonb) (
	SFUNC = hp._ppm_trans, STYPE = bytea, FINALFUNC = hp._ppm_final, INITCOND = '\x0000000000000000');

CREATE TABLE bi.cases (n serial PRIMARY KEY, fn text, input text, q text);
INSERT INTO bi.cases (fn, input, q) VALUES
-- hp.model binary input (receive) -----------------------------------------------
('hp.model (binary)', 'a valid PPM (control)',        format('COPY bi.landing FROM %L (FORMAT binary)', :'bin_ok')),
('hp.model (binary)', 'wrong magic',                  format('COPY bi.landing FROM %L (FORMAT binary)', :'bin_magic')),
('hp.model (binary)', 'truncated to 24 bytes',        format('COPY bi.landing FROM %L (FORMAT binary)', :'bin_trunc')),
('hp.model (binary)', 'empty value',                  format('COPY bi.landing FROM %L (FORMAT binary)', :'bin_empty')),
('hp.model (binary)', 'PPM relabelled as linear',     format('COPY bi.landing FROM %L (FORMAT binary)', :'bin_kind')),
('hp.model (binary)', 'one flipped bit in the last byte', format('COPY bi.landing FROM %L (FORMAT binary)', :'bin_flip')),
('hp.model (binary)', 'trailing bytes',               format('COPY bi.landing FROM %L (FORMAT binary)', :'bin_long')),
('hp.model (binary)', 'rows loaded: the control only', $$SELECT count(*) FROM bi.landing$$);
INSERT INTO bi.cases (fn, input, q) VALUES
-- internal aggregate support functions, callable with any bytea ----------------
('hp._dist_final', 'a state of garbage bytes', $$SELECT hp._dist_final('\x0102030405060708'::bytea)$$),
('hp._dist_final', 'an empty state',          $$SELECT hp._dist_final(''::bytea)$$),
('hp._dist_combine', 'a truncated state',     $$SELECT hp._dist_combine(st, substr(st, 1, length(st) - 8)) FROM bi.states$$),
('hp._dist_trans', 'a state with another dim', $$SELECT hp._dist_trans(st, '{1,2,3}', '{1,2,3}') FROM bi.states$$),
('hp._covstep_final', 'a state of garbage bytes', $$SELECT hp._covstep_final('\x00'::bytea)$$),
('hp._covstep_combine', 'a distinguishability state', $$SELECT hp._covstep_combine(st, st) FROM bi.states$$),
('hp._feature_vocab_final', 'a state of garbage bytes', $$SELECT hp._feature_vocab_final('\xffffffffffffffff'::bytea)$$),
('hp._feature_counts_trans', 'a state of garbage bytes', $$SELECT hp._feature_counts_trans('\x00'::bytea, '{a}', '{a}')$$),
('hp._feature_cutoffs_combine', 'a distinguishability state', $$SELECT hp._feature_cutoffs_combine(st, st) FROM bi.states$$),
('hp._ppm_final', 'called outside an aggregate', $$SELECT hp._ppm_final('\x00'::bytea)$$),
('hp._ppm_trans', 'a corrupted initial state in an aggregate', $$SELECT bi.ppm_bad(ARRAY[1, 2]::float8[], 0.5, '{"vocab": ["a", "b"], "n": 10}')$$),
('hp._dist_budget_count', 'budget NaN',       $$SELECT hp._dist_budget_count('NaN', 5)$$),
-- hp.bt_newton_step, hp.bt_newton_step_info, hp.train_reward_model_iterative ---
('hp.bt_newton_step', 'zero rows: NULL',          $$SELECT hp.bt_newton_step(a, b, NULL, NULL, '{}') FROM bi.pairs WHERE false$$),
('hp.bt_newton_step', 'unknown option',           $$SELECT hp.bt_newton_step(a, b, NULL, NULL, '{"heds": 1}') FROM bi.pairs$$),
('hp.bt_newton_step', 'chosen/rejected dims differ', $$SELECT hp.bt_newton_step(a, b || 1::real, NULL, NULL, '{}') FROM bi.pairs$$),
('hp.bt_newton_step', 'NaN element',              $$SELECT hp.bt_newton_step('{1,NaN}'::real[], '{0,0}'::real[], NULL, NULL, '{}')$$),
('hp.bt_newton_step', 'NULL element',             $$SELECT hp.bt_newton_step('{1,NULL}'::real[], '{0,0}'::real[], NULL, NULL, '{}')$$),
('hp.bt_newton_step', '2-D arrays',               $$SELECT hp.bt_newton_step('{{1,2}}'::real[], '{{0,0}}'::real[], NULL, NULL, '{}')$$),
('hp.bt_newton_step', 'dim 2049 (its limit is 2048)', $$SELECT hp.bt_newton_step(array_fill(1::real, ARRAY[2049]), array_fill(0::real, ARRAY[2049]), NULL, NULL, '{"heads": 1}')$$),
('hp.bt_newton_step', 'w of another dim',         $$SELECT hp.bt_newton_step(a, b, hp.linear_model('{1,2,3}'), NULL, '{"heads": 1}') FROM bi.pairs$$),
('hp.bt_newton_step', 'w with fewer heads than the options', $$SELECT hp.bt_newton_step(a, b, hp.linear_model('{1,2}'), NULL, '{}') FROM bi.pairs$$),
('hp.bt_newton_step', 'w a PPM',                  $$SELECT hp.bt_newton_step(a, b, bi.m('ppm'), NULL, '{"heads": 1}') FROM bi.pairs$$),
('hp.bt_newton_step', 'w an MLP',                 $$SELECT hp.bt_newton_step(a, b, bi.m('mlp'), NULL, '{"heads": 1}') FROM bi.pairs$$),
('hp.bt_newton_step', 'w changes between rows',   $$SELECT hp.bt_newton_step(a, b, CASE WHEN id = 3 THEN hp.linear_model('{1,1}') END, NULL, '{"heads": 1}') FROM bi.pairs$$),
('hp.bt_newton_step', 'p_a 1.5',                  $$SELECT hp.bt_newton_step(a, b, 1.5, NULL, NULL, '{}') FROM bi.pairs$$),
('hp.bt_newton_step', 'arch mlp',                 $$SELECT hp.bt_newton_step(a, b, NULL, NULL, '{"arch": "mlp"}') FROM bi.pairs$$),
('hp.bt_newton_step_info', 'NULL (strict)',       $$SELECT hp.bt_newton_step_info(NULL)$$),
('hp.bt_newton_step_info', 'a state of garbage bytes', $$SELECT hp.bt_newton_step_info('\x00'::bytea)$$),
('hp.bt_newton_step_info', 'a distinguishability state', $$SELECT hp.bt_newton_step_info(st) FROM bi.states$$),
('hp._newton_step_combine', 'states of garbage bytes', $$SELECT hp._newton_step_combine('\x00'::bytea, '\x00'::bytea)$$),
('hp.train_reward_model_iterative', 'NULL relation', $$SELECT hp.train_reward_model_iterative(NULL, 'a', 'b')$$),
('hp.train_reward_model_iterative', 'a relation without rows: NULL', $$SELECT hp.train_reward_model_iterative('bi.tr_empty', 'a_emb', 'b_emb')$$),
('hp.train_reward_model_iterative', 'unknown column', $$SELECT hp.train_reward_model_iterative('bi.pairs', 'a', 'nope')$$),
('hp.train_reward_model_iterative', 'column of another type', $$SELECT hp.train_reward_model_iterative('bi.pairs', 'a', 'id')$$),
('hp.train_reward_model_iterative', 'lambda "auto" (in-memory only)', $$SELECT hp.train_reward_model_iterative('bi.pairs', 'a', 'b', '{"lambda": "auto"}')$$),
('hp.train_reward_model_iterative', 'dims differ across rows', $$SELECT hp.train_reward_model_iterative('bi.pairs_mixed', 'a', 'b')$$),
('hp.train_reward_model_iterative', 'options not an object', $$SELECT hp.train_reward_model_iterative('bi.pairs', 'a', 'b', '[]')$$),
('hp.train_reward_model_iterative', 'arch mlp',   $$SELECT hp.train_reward_model_iterative('bi.pairs', 'a', 'b', '{"arch": "mlp"}')$$),
('hp.train_reward_model_iterative', 'tol 2',      $$SELECT hp.train_reward_model_iterative('bi.pairs', 'a', 'b', '{"tol": 2}')$$),
('hp.train_reward_model_iterative', 'row_key of another type', $$SELECT hp.train_reward_model_iterative('bi.pairs', 'a', 'b', row_key => 'a')$$),
('hp.train_reward_model_iterative', 'unknown row_key', $$SELECT hp.train_reward_model_iterative('bi.pairs', 'a', 'b', row_key => 'nope')$$),
('hp.train_reward_model_iterative', 'init of another dim', $$SELECT hp.train_reward_model_iterative('bi.pairs', 'a', 'b', jsonb_build_object('init', hp.linear_model('{1,2,3}')::text))$$),
('hp.train_reward_model_iterative', 'init a PPM', $$SELECT hp.train_reward_model_iterative('bi.pairs', 'a', 'b', jsonb_build_object('init', bi.m('ppm')::text))$$),
-- hp.eval_metrics ---------------------------------------------------------------
('hp.eval_metrics', 'zero rows: NULL',            $$SELECT hp.eval_metrics(bi.m('lin'), a, b) FROM bi.pairs WHERE false$$),
('hp.eval_metrics', 'NULL vectors skipped: NULL', $$SELECT hp.eval_metrics(bi.m('lin'), NULL::real[], b) FROM bi.pairs$$),
('hp.eval_metrics', 'NULL model',                 $$SELECT hp.eval_metrics(NULL, a, b) FROM bi.pairs$$),
('hp.eval_metrics', 'a PPM',                      $$SELECT hp.eval_metrics(bi.m('ppm'), a, b) FROM bi.pairs$$),
('hp.eval_metrics', 'model of another dim',       $$SELECT hp.eval_metrics(hp.linear_model('{1,0,0}'), a, b) FROM bi.pairs$$),
('hp.eval_metrics', 'NaN element',                $$SELECT hp.eval_metrics(bi.m('lin'), '{NaN,1}'::real[], '{1,1}'::real[])$$),
('hp.eval_metrics', 'empty arrays',               $$SELECT hp.eval_metrics(bi.m('lin'), '{}'::real[], '{}'::real[])$$),
('hp.eval_metrics', 'p_a 1.5',                    $$SELECT hp.eval_metrics(bi.m('lin'), a, b, 1.5) FROM bi.pairs$$),
('hp.eval_metrics', 'p_a NaN',                    $$SELECT hp.eval_metrics(bi.m('lin'), a, b, 'NaN') FROM bi.pairs$$),
('hp.eval_metrics', 'dim 16385',                  $$SELECT hp.eval_metrics(bi.m('lin'), array_fill(1::real, ARRAY[16385]), array_fill(1::real, ARRAY[16385]))$$),
('hp._eval_metrics_final', 'a state of garbage bytes', $$SELECT hp._eval_metrics_final('\x00'::bytea)$$),
-- hp.embed ------------------------------------------------------------------
('hp.embed', 'NULL text (strict)',        $$SELECT hp.embed(NULL)$$),
('hp.embed', 'NULL dim (strict)',         $$SELECT hp.embed('a', NULL)$$),
('hp.embed', 'dim 0',                     $$SELECT hp.embed('a', 0)$$),
('hp.embed', 'dim -1',                    $$SELECT hp.embed('a', -1)$$),
('hp.embed', 'dim 16384 (the limit)',     $$SELECT cardinality(hp.embed('a b', 16384))$$),
('hp.embed', 'dim 16385',                 $$SELECT hp.embed('a', 16385)$$),
('hp.embed', 'empty text: zero vector',   $$SELECT hp.embed('', 3)$$),
-- hp.model text input ------------------------------------------------------
('hp.model', 'empty text',                $$SELECT ''::hp.model$$),
('hp.model', 'not JSON',                  $$SELECT 'not json'::hp.model$$),
('hp.model', 'JSON array',                $$SELECT '[1,2]'::hp.model$$),
('hp.model', 'truncated text',            $$SELECT left(m::text, 60)::hp.model FROM bi.models WHERE name = 'lin'$$),
('hp.model', 'last character dropped',    $$SELECT left(m::text, -1)::hp.model FROM bi.models WHERE name = 'lin'$$),
('hp.model', 'edited weight',             $$SELECT replace(m::text, '"data":[1,', '"data":[2,')::hp.model FROM bi.models WHERE name = 'lin'$$),
('hp.model', 'edited dim',                $$SELECT replace(m::text, '"dim":2', '"dim":3')::hp.model FROM bi.models WHERE name = 'lin'$$),
('hp.model', 'kind linear relabelled ppm', $$SELECT replace(m::text, '"kind":"linear"', '"kind":"ppm"')::hp.model FROM bi.models WHERE name = 'lin'$$),
('hp.model', 'kind ppm relabelled linear', $$SELECT replace(m::text, '"kind":"ppm"', '"kind":"linear"')::hp.model FROM bi.models WHERE name = 'ppm'$$),
('hp.model', 'checksum removed',          $$SELECT regexp_replace(m::text, ',"checksum":"[0-9a-f]+"', '')::hp.model FROM bi.models WHERE name = 'lin'$$),
('hp.model', 'weight NaN',                $$SELECT replace(m::text, '"data":[1,', '"data":[NaN,')::hp.model FROM bi.models WHERE name = 'lin'$$),
('hp.model', 'weight 1e39 (float32 overflow)', $$SELECT replace(m::text, '"data":[1,', '"data":[1e39,')::hp.model FROM bi.models WHERE name = 'lin'$$),
('hp.model', 'dim edited to 2000000000', $$SELECT replace(m::text, '"dim":2', '"dim":2000000000')::hp.model FROM bi.models WHERE name = 'lin'$$),
('hp.model', 'control characters',        $$SELECT E'\x01\x02'::hp.model$$),
('hp.model_info', 'NULL (strict)',        $$SELECT hp.model_info(NULL)$$),
('hp.model_send', 'NULL (strict)',        $$SELECT hp.model_send(NULL)$$),
-- hp.linear_model --------------------------------------------------------------
('hp.linear_model', 'NULL (strict)',      $$SELECT hp.linear_model(NULL)$$),
('hp.linear_model', 'empty array',        $$SELECT hp.linear_model('{}')$$),
('hp.linear_model', 'NULL element',       $$SELECT hp.linear_model('{1,NULL}')$$),
('hp.linear_model', 'NaN element',        $$SELECT hp.linear_model('{1,NaN}')$$),
('hp.linear_model', 'Infinity element',   $$SELECT hp.linear_model('{1,Infinity}')$$),
('hp.linear_model', '3-D array',          $$SELECT hp.linear_model('{{{1}}}')$$),
('hp.linear_model', 'dim 16384 (the limit)', $$SELECT hp.model_info(hp.linear_model(array_fill(1::real, ARRAY[16384])))->'dim'$$),
('hp.linear_model', 'dim 16385',          $$SELECT hp.linear_model(array_fill(1::real, ARRAY[16385]))$$),
('hp.linear_model', '257 heads',          $$SELECT hp.linear_model(array_fill(1::real, ARRAY[257, 1]))$$),
-- hp.train_reward_model (chosen, rejected [, options]) -------------------------
('hp.train_reward_model', 'zero rows: NULL',             $$SELECT hp.train_reward_model(a, b) FROM bi.pairs WHERE false$$),
('hp.train_reward_model', 'only NULL rows: NULL',        $$SELECT hp.train_reward_model(NULL::real[], b) FROM bi.pairs$$),
('hp.train_reward_model', 'NULL options: defaults',      $$SELECT hp.model_info(hp.train_reward_model(a, b, NULL))->'heads' FROM bi.pairs$$),
('hp.train_reward_model', 'empty arrays',                $$SELECT hp.train_reward_model('{}'::real[], '{}'::real[])$$),
('hp.train_reward_model', 'NULL element',                $$SELECT hp.train_reward_model('{1,NULL}'::real[], '{0,0}'::real[])$$),
('hp.train_reward_model', 'NaN element',                 $$SELECT hp.train_reward_model('{1,NaN}'::real[], '{0,0}'::real[])$$),
('hp.train_reward_model', '-Infinity element',           $$SELECT hp.train_reward_model('{1,0}'::real[], '{-Infinity,0}'::real[])$$),
('hp.train_reward_model', '2-D arrays',                  $$SELECT hp.train_reward_model('{{1,2}}'::real[], '{{0,0}}'::real[])$$),
('hp.train_reward_model', '3e38 - (-3e38) overflows float32', $$SELECT hp.train_reward_model('{3e38,0}'::real[], '{-3e38,1}'::real[])$$),
('hp.train_reward_model', '3e38 - (-3e38), Laplace, soft label', $$SELECT hp.train_reward_model('{3e38,0}'::real[], '{-3e38,1}'::real[], 0.3, '{"uncertainty": "laplace"}')$$),
('hp.train_reward_model', 'chosen/rejected dims differ', $$SELECT hp.train_reward_model('{1,2,3}'::real[], '{0,0}'::real[])$$),
('hp.train_reward_model', 'dims differ across rows',     $$SELECT hp.train_reward_model(a, CASE WHEN id = 7 THEN a || 1::real ELSE b END) FROM bi.pairs$$),
('hp.train_reward_model', 'dim 16384 (the limit)',       $$SELECT hp.model_info(hp.train_reward_model(array_fill(1::real, ARRAY[16384]), array_fill(0::real, ARRAY[16384]), '{"heads": 1}'))->'dim'$$),
('hp.train_reward_model', 'dim 16385',                   $$SELECT hp.train_reward_model(array_fill(1::real, ARRAY[16385]), array_fill(0::real, ARRAY[16385]))$$),
('hp.train_reward_model', 'options not an object',       $$SELECT hp.train_reward_model(a, b, '"heads"') FROM bi.pairs$$),
('hp.train_reward_model', 'unknown option key',          $$SELECT hp.train_reward_model(a, b, '{"heds": 2}') FROM bi.pairs$$),
('hp.train_reward_model', 'option ill-typed',            $$SELECT hp.train_reward_model(a, b, '{"lambda": "big"}') FROM bi.pairs$$),
('hp.train_reward_model', 'option null',                 $$SELECT hp.train_reward_model(a, b, '{"lambda": null}') FROM bi.pairs$$),
('hp.train_reward_model', 'heads 0',                     $$SELECT hp.train_reward_model(a, b, '{"heads": 0}') FROM bi.pairs$$),
('hp.train_reward_model', 'heads 257',                   $$SELECT hp.train_reward_model(a, b, '{"heads": 257}') FROM bi.pairs$$),
('hp.train_reward_model', 'heads 2.5',                   $$SELECT hp.train_reward_model(a, b, '{"heads": 2.5}') FROM bi.pairs$$),
('hp.train_reward_model', 'heads 1e30',                  $$SELECT hp.train_reward_model(a, b, '{"heads": 1e30}') FROM bi.pairs$$),
('hp.train_reward_model', 'lambda -1',                   $$SELECT hp.train_reward_model(a, b, '{"lambda": -1}') FROM bi.pairs$$),
('hp.train_reward_model', 'lambda 1e400 (overflows double)', $$SELECT hp.train_reward_model(a, b, '{"lambda": 1e400}') FROM bi.pairs$$),
('hp.train_reward_model', 'lambda "Auto" (case matters)', $$SELECT hp.train_reward_model(a, b, '{"lambda": "Auto"}') FROM bi.pairs$$),
('hp.train_reward_model', 'lambda "auto" with arch mlp', $$SELECT hp.train_reward_model(a, b, '{"lambda": "auto", "arch": "mlp"}') FROM bi.pairs$$),
('hp.train_reward_model', 'lambda "auto" on 3 rows (default kept)', $$SELECT hp.model_info(hp.train_reward_model(a, b, '{"lambda": "auto", "heads": 1}'))->'lambda' FROM bi.pairs WHERE id <= 3$$),
('hp.train_reward_model', 'max_iter 0',                  $$SELECT hp.train_reward_model(a, b, '{"max_iter": 0}') FROM bi.pairs$$),
('hp.train_reward_model', 'max_iter -5',                 $$SELECT hp.train_reward_model(a, b, '{"max_iter": -5}') FROM bi.pairs$$),
('hp.train_reward_model', 'tol -1',                      $$SELECT hp.train_reward_model(a, b, '{"tol": -1}') FROM bi.pairs$$),
('hp.train_reward_model', 'seed -1',                     $$SELECT hp.model_info(hp.train_reward_model(a, b, '{"seed": -1, "heads": 1}'))->'seed' FROM bi.pairs$$),
('hp.train_reward_model', 'seed 1.5',                    $$SELECT hp.train_reward_model(a, b, '{"seed": 1.5}') FROM bi.pairs$$),
('hp.train_reward_model', 'unknown uncertainty',         $$SELECT hp.train_reward_model(a, b, '{"uncertainty": "bayes"}') FROM bi.pairs$$),
('hp.train_reward_model', 'unknown prior',               $$SELECT hp.train_reward_model(a, b, '{"prior": "flat"}') FROM bi.pairs$$),
('hp.train_reward_model', 'unknown arch',                $$SELECT hp.train_reward_model(a, b, '{"arch": "cnn"}') FROM bi.pairs$$),
('hp.train_reward_model', 'mlp hidden []',               $$SELECT hp.train_reward_model(a, b, '{"arch": "mlp", "hidden": []}') FROM bi.pairs$$),
('hp.train_reward_model', 'mlp hidden [4097]',           $$SELECT hp.train_reward_model(a, b, '{"arch": "mlp", "hidden": [4097]}') FROM bi.pairs$$),
('hp.train_reward_model', 'mlp hidden [-1]',             $$SELECT hp.train_reward_model(a, b, '{"arch": "mlp", "hidden": [-1]}') FROM bi.pairs$$),
('hp.train_reward_model', 'mlp hidden not an array',     $$SELECT hp.train_reward_model(a, b, '{"arch": "mlp", "hidden": 8}') FROM bi.pairs$$),
('hp.train_reward_model', 'mlp batch_size 0',            $$SELECT hp.train_reward_model(a, b, '{"arch": "mlp", "batch_size": 0}') FROM bi.pairs$$),
('hp.train_reward_model', 'mlp lr -0.1',                 $$SELECT hp.train_reward_model(a, b, '{"arch": "mlp", "lr": -0.1}') FROM bi.pairs$$),
('hp.train_reward_model', 'mlp epochs 100000000',        $$SELECT hp.train_reward_model(a, b, '{"arch": "mlp", "epochs": 100000000}') FROM bi.pairs$$),
('hp.train_reward_model', 'init not a string',           $$SELECT hp.train_reward_model(a, b, '{"init": {"kind": "linear"}}') FROM bi.pairs$$),
('hp.train_reward_model', 'init corrupted (edited weight)', $$SELECT hp.train_reward_model(a, b, jsonb_build_object('init', replace(bi.m('lin')::text, '"data":[1,', '"data":[2,'))) FROM bi.pairs$$),
('hp.train_reward_model', 'init truncated',              $$SELECT hp.train_reward_model(a, b, jsonb_build_object('init', left(bi.m('lin')::text, 50))) FROM bi.pairs$$),
('hp.train_reward_model', 'init of another dim',         $$SELECT hp.train_reward_model(a, b, jsonb_build_object('init', hp.linear_model('{1,2,3}')::text)) FROM bi.pairs$$),
('hp.train_reward_model', 'init a PPM',                  $$SELECT hp.train_reward_model(a, b, jsonb_build_object('init', bi.m('ppm')::text)) FROM bi.pairs$$),
('hp.train_reward_model', 'init an MLP for linear heads', $$SELECT hp.train_reward_model(a, b, jsonb_build_object('init', bi.m('mlp')::text)) FROM bi.pairs$$),
('hp.train_reward_model', 'init a linear model for MLP heads', $$SELECT hp.train_reward_model(a, b, jsonb_build_object('arch', 'mlp', 'init', bi.m('lin')::text)) FROM bi.pairs$$),
-- hp.train_reward_model (a, b, p_a, options) --------------------------------------
('hp.train_reward_model/p_a', 'p_a -0.1',                $$SELECT hp.train_reward_model(a, b, -0.1, '{}') FROM bi.pairs$$),
('hp.train_reward_model/p_a', 'p_a 1.5',                 $$SELECT hp.train_reward_model(a, b, 1.5, '{}') FROM bi.pairs$$),
('hp.train_reward_model/p_a', 'p_a NaN',                 $$SELECT hp.train_reward_model(a, b, 'NaN', '{}') FROM bi.pairs$$),
('hp.train_reward_model/p_a', 'p_a Infinity',            $$SELECT hp.train_reward_model(a, b, 'Infinity', '{}') FROM bi.pairs$$),
('hp.train_reward_model/p_a', 'p_a NULL on all rows: NULL', $$SELECT hp.train_reward_model(a, b, NULL, '{}') FROM bi.pairs$$),
('hp.train_reward_model/p_a', 'p_a 0.5 everywhere (all ties): finite', $$SELECT hp.model_info(hp.train_reward_model(a, b, 0.5, '{"heads": 1}'))->'rows' FROM bi.pairs$$),
-- scoring: hp.reward, hp.reward_std, hp.prefer, hp.prefer_std, hp.prefer_flip ------------
('hp.reward', 'NULL model (strict)',       $$SELECT hp.reward(NULL, '{1,2}')$$),
('hp.reward', 'NULL x (strict)',           $$SELECT hp.reward(bi.m('lin'), NULL)$$),
('hp.reward', 'empty x',                   $$SELECT hp.reward(bi.m('lin'), '{}')$$),
('hp.reward', 'NULL element',              $$SELECT hp.reward(bi.m('lin'), '{1,NULL}')$$),
('hp.reward', 'NaN element',               $$SELECT hp.reward(bi.m('lin'), '{1,NaN}')$$),
('hp.reward', 'Infinity element',          $$SELECT hp.reward(bi.m('lin'), '{1,Infinity}')$$),
('hp.reward', '2-D x',                     $$SELECT hp.reward(bi.m('lin'), '{{1,2}}')$$),
('hp.reward', 'x of dim 3 for a 2-d model', $$SELECT hp.reward(bi.m('lin'), '{1,2,3}')$$),
('hp.reward', 'x of dim 16385',            $$SELECT hp.reward(bi.m('lin'), array_fill(1::real, ARRAY[16385]))$$),
('hp.reward', 'dim 16384 model and x',     $$SELECT hp.reward(hp.linear_model(array_fill(1::real, ARRAY[16384])), array_fill(0.5::real, ARRAY[16384]))$$),
('hp.reward', 'a PPM',                     $$SELECT hp.reward(bi.m('ppm'), '{1,2}')$$),
('hp.reward', 'MLP: NaN element',          $$SELECT hp.reward(bi.m('mlp'), '{NaN,1}')$$),
('hp.reward', 'MLP: x of dim 3',           $$SELECT hp.reward(bi.m('mlp'), '{1,2,3}')$$),
('hp.reward_std', 'NULL x (strict)',       $$SELECT hp.reward_std(bi.m('lin'), NULL)$$),
('hp.reward_std', 'empty x',               $$SELECT hp.reward_std(bi.m('lin'), '{}')$$),
('hp.reward_std', 'NULL element',          $$SELECT hp.reward_std(bi.m('laplace'), '{NULL,1}')$$),
('hp.reward_std', '-Infinity element',     $$SELECT hp.reward_std(bi.m('laplace'), '{-Infinity,1}')$$),
('hp.reward_std', '2-D x',                 $$SELECT hp.reward_std(bi.m('ens'), '{{1},{2}}')$$),
('hp.reward_std', 'x of dim 1',            $$SELECT hp.reward_std(bi.m('ens'), '{1}')$$),
('hp.reward_std', 'a PPM',                 $$SELECT hp.reward_std(bi.m('ppm'), '{1,2}')$$),
('hp.prefer', 'NULL b (strict)',           $$SELECT hp.prefer(bi.m('lin'), '{1,2}', NULL)$$),
('hp.prefer', 'empty a and b',             $$SELECT hp.prefer(bi.m('lin'), '{}', '{}')$$),
('hp.prefer', 'NULL element in b',         $$SELECT hp.prefer(bi.m('lin'), '{1,2}', '{NULL,2}')$$),
('hp.prefer', 'NaN element in a',          $$SELECT hp.prefer(bi.m('lin'), '{NaN,2}', '{1,2}')$$),
('hp.prefer', 'a and b dims differ',       $$SELECT hp.prefer(bi.m('lin'), '{1,2}', '{1,2,3}')$$),
('hp.prefer', 'both of dim 3 for a 2-d model', $$SELECT hp.prefer(bi.m('lin'), '{1,2,3}', '{1,2,3}')$$),
('hp.prefer', '2-D a',                     $$SELECT hp.prefer(bi.m('lin'), '{{1,2}}', '{1,2}')$$),
('hp.prefer', 'a PPM',                     $$SELECT hp.prefer(bi.m('ppm'), '{1,2}', '{1,2}')$$),
('hp.prefer_std', 'NULL model (strict)',   $$SELECT hp.prefer_std(NULL, '{1,2}', '{1,2}')$$),
('hp.prefer_std', 'Infinity in b',         $$SELECT hp.prefer_std(bi.m('ens'), '{1,2}', '{1,Infinity}')$$),
('hp.prefer_std', 'a and b dims differ',   $$SELECT hp.prefer_std(bi.m('ens'), '{1}', '{1,2}')$$),
('hp.prefer_std', 'a PPM',                 $$SELECT hp.prefer_std(bi.m('ppm'), '{1,2}', '{1,2}')$$),
('hp.prefer_flip', 'NULL a (strict)',      $$SELECT hp.prefer_flip(bi.m('lin'), NULL, '{1,2}')$$),
('hp.prefer_flip', 'NaN in b',             $$SELECT hp.prefer_flip(bi.m('lin'), '{1,2}', '{NaN,2}')$$),
('hp.prefer_flip', 'empty b',              $$SELECT hp.prefer_flip(bi.m('lin'), '{1,2}', '{}')$$),
('hp.prefer_flip', 'dim 3 for a 2-d model', $$SELECT hp.prefer_flip(bi.m('mlp'), '{1,2,3}', '{1,2,3}')$$),
('hp.prefer_flip', 'a PPM',                $$SELECT hp.prefer_flip(bi.m('ppm'), '{1,2}', '{1,2}')$$),
('hp.prefer_flip', 'identical a and b: 0.5', $$SELECT hp.prefer_flip(bi.m('ens'), '{1,2}', '{1,2}')$$),
-- hp.select_pair ---------------------------------------------------------------------
('hp.select_pair', 'one candidate: NULL',  $$SELECT hp.select_pair(bi.m('lin'), 1, '{1,2}', 'maxmin', 1, 0)$$),
('hp.select_pair', 'zero rows: NULL',      $$SELECT hp.select_pair(bi.m('lin'), id, a, 'maxmin', 1, 0) FROM bi.pairs WHERE false$$),
('hp.select_pair', 'unknown method',       $$SELECT hp.select_pair(bi.m('lin'), id, a, 'thompson', 1, 0) FROM bi.pairs$$),
('hp.select_pair', 'NULL method',          $$SELECT hp.select_pair(bi.m('lin'), id, a, NULL, 1, 0) FROM bi.pairs$$),
('hp.select_pair', 'NULL model',           $$SELECT hp.select_pair(NULL, id, a, 'maxmin', 1, 0) FROM bi.pairs$$),
('hp.select_pair', 'NULL beta',            $$SELECT hp.select_pair(bi.m('lin'), id, a, 'dts', NULL, 0) FROM bi.pairs$$),
('hp.select_pair', 'NULL seed',            $$SELECT hp.select_pair(bi.m('lin'), id, a, 'dts', 1, NULL) FROM bi.pairs$$),
('hp.select_pair', 'beta -1',              $$SELECT hp.select_pair(bi.m('lin'), id, a, 'infomax', -1, 0) FROM bi.pairs$$),
('hp.select_pair', 'beta NaN',             $$SELECT hp.select_pair(bi.m('lin'), id, a, 'infomax', 'NaN', 0) FROM bi.pairs$$),
('hp.select_pair', 'beta Infinity',        $$SELECT hp.select_pair(bi.m('lin'), id, a, 'infomax', 'Infinity', 0) FROM bi.pairs$$),
('hp.select_pair', 'duplicate ids',        $$SELECT hp.select_pair(bi.m('lin'), id % 5, a, 'maxmin', 1, 0) FROM bi.pairs$$),
('hp.select_pair', 'NULL id',              $$SELECT hp.select_pair(bi.m('lin'), nullif(id, 3), a, 'maxmin', 1, 0) FROM bi.pairs$$),
('hp.select_pair', 'NULL x on one row',    $$SELECT hp.select_pair(bi.m('lin'), id, CASE WHEN id <> 3 THEN a END, 'maxmin', 1, 0) FROM bi.pairs$$),
('hp.select_pair', 'NaN element',          $$SELECT hp.select_pair(bi.m('lin'), id, CASE WHEN id = 3 THEN '{NaN,1}' ELSE a END, 'maxmin', 1, 0) FROM bi.pairs$$),
('hp.select_pair', 'empty x',              $$SELECT hp.select_pair(bi.m('lin'), id, '{}', 'maxmin', 1, 0) FROM bi.pairs$$),
('hp.select_pair', '2-D x',                $$SELECT hp.select_pair(bi.m('lin'), id, ARRAY[a], 'maxmin', 1, 0) FROM bi.pairs$$),
('hp.select_pair', 'x of dim 3 for a 2-d model', $$SELECT hp.select_pair(bi.m('lin'), id, a || 0::real, 'maxmin', 1, 0) FROM bi.pairs$$),
('hp.select_pair', 'a PPM',                $$SELECT hp.select_pair(bi.m('ppm'), id, a, 'maxmin', 1, 0) FROM bi.pairs$$),
-- hp.select_pair_by_score --------------------------------------------------------------
('hp.select_pair_by_score', 'one candidate: NULL', $$SELECT hp.select_pair_by_score(1, 0.5, 'maxmin', 0)$$),
('hp.select_pair_by_score', 'all scores NULL: NULL', $$SELECT hp.select_pair_by_score(id, NULL, 'maxmin', 0) FROM bi.pairs$$),
('hp.select_pair_by_score', 'model-based method', $$SELECT hp.select_pair_by_score(id, id, 'infomax', 0) FROM bi.pairs$$),
('hp.select_pair_by_score', 'unknown method', $$SELECT hp.select_pair_by_score(id, id, 'best', 0) FROM bi.pairs$$),
('hp.select_pair_by_score', 'NaN score',   $$SELECT hp.select_pair_by_score(id, CASE WHEN id = 3 THEN 'NaN'::float8 ELSE id END, 'maxmin', 0) FROM bi.pairs$$),
('hp.select_pair_by_score', '-Infinity score', $$SELECT hp.select_pair_by_score(id, CASE WHEN id = 3 THEN '-Infinity'::float8 ELSE id END, 'maxmin', 0) FROM bi.pairs$$),
('hp.select_pair_by_score', 'duplicate ids', $$SELECT hp.select_pair_by_score(1, id, 'maxmin', 0) FROM bi.pairs$$),
('hp.select_pair_by_score', 'NULL id',     $$SELECT hp.select_pair_by_score(NULL, id, 'maxmin', 0) FROM bi.pairs$$),
-- hp.distinguishability ------------------------------------------------------------------
('hp.distinguishability', 'zero rows: NULL', $$SELECT hp.distinguishability(a, b) FROM bi.pairs WHERE false$$),
('hp.distinguishability', 'NULL rows only: NULL', $$SELECT hp.distinguishability(NULL, NULL) FROM bi.pairs$$),
('hp.distinguishability', 'NaN element',   $$SELECT hp.distinguishability(CASE WHEN id = 3 THEN '{NaN,1}' ELSE a END, b) FROM bi.pairs$$),
('hp.distinguishability', 'Infinity element', $$SELECT hp.distinguishability(a, CASE WHEN id = 3 THEN '{1,Infinity}' ELSE b END) FROM bi.pairs$$),
('hp.distinguishability', 'NULL element',  $$SELECT hp.distinguishability('{1,NULL}'::real[], '{1,2}'::real[])$$),
('hp.distinguishability', 'empty arrays',  $$SELECT hp.distinguishability('{}'::real[], '{}'::real[])$$),
('hp.distinguishability', '2-D arrays',    $$SELECT hp.distinguishability('{{1,2}}'::real[], '{{1,2}}'::real[])$$),
('hp.distinguishability', 'chosen/rejected dims differ', $$SELECT hp.distinguishability('{1,2}'::real[], '{1,2,3}'::real[])$$),
('hp.distinguishability', 'dims differ across rows', $$SELECT hp.distinguishability(CASE WHEN id = 3 THEN a || b ELSE a END, CASE WHEN id = 3 THEN a || b ELSE b END) FROM bi.pairs$$),
('hp.distinguishability', 'dim 16384 (the limit), 2 rows', $$SELECT hp.distinguishability(array_fill(i::real, ARRAY[16384]), array_fill(0::real, ARRAY[16384])) ->> 'dim' FROM generate_series(1, 2) i$$),
('hp.distinguishability', 'dim 16385',     $$SELECT hp.distinguishability(array_fill(1::real, ARRAY[16385]), array_fill(0::real, ARRAY[16385]))$$),
('hp.distinguishability', '1e30 elements: d^2 overflows float32, not double', $$SELECT round((hp.distinguishability(ARRAY[1e30 * i, 0]::real[], ARRAY[-1e30 * i, 0]::real[]) ->> 'd')::numeric / 1e30, 3) FROM generate_series(1, 3) i$$),
-- hp.covariance_power_step and hp.spectral_norm ----------------------------------------
('hp.covariance_power_step', 'x and v dims differ', $$SELECT hp.covariance_power_step(a, '{1,0,0}') FROM bi.pairs$$),
('hp.covariance_power_step', 'NaN in v',   $$SELECT hp.covariance_power_step(a, '{NaN,0}') FROM bi.pairs$$),
('hp.covariance_power_step', 'NaN in x',   $$SELECT hp.covariance_power_step(CASE WHEN id = 3 THEN '{NaN,0}' ELSE a END, '{1,0}') FROM bi.pairs$$),
('hp.covariance_power_step', 'NULL v', $$SELECT hp.covariance_power_step(a, NULL) FROM bi.pairs$$),
('hp.covariance_power_step', 'v changes between rows', $$SELECT hp.covariance_power_step(a, ARRAY[id, 0]::float8[]) FROM bi.pairs$$),
('hp.spectral_norm', 'unknown column',     $$SELECT hp.spectral_norm('bi.rt', 'nope')$$),
('hp.spectral_norm', 'column of another type', $$SELECT hp.spectral_norm('bi.rt', 'features')$$),
('hp.spectral_norm', 'filter not boolean', $$SELECT hp.spectral_norm('bi.rt', 'a_emb', '42')$$),
('hp.spectral_norm', 'iters 0',            $$SELECT hp.spectral_norm('bi.rt', 'a_emb', NULL, 0)$$),
('hp.spectral_norm', 'NULL relation',      $$SELECT hp.spectral_norm(NULL, 'a_emb')$$),
('hp.spectral_norm', 'no matching rows: NULL', $$SELECT hp.spectral_norm('bi.rt', 'a_emb', 'false')$$),
-- hp.priority_gap ------------------------------------------------------------------------
('hp.priority_gap', 'names and stats lengths differ', $$SELECT count(*) FROM hp.priority_gap('{x,y}', ARRAY['{"mean_diff": [1, 0]}'::jsonb])$$),
('hp.priority_gap', 'NULL arrays', $$SELECT count(*) FROM hp.priority_gap(NULL::text[], NULL::jsonb[])$$),
('hp.priority_gap', 'mean_diff dims differ', $$SELECT count(*) FROM hp.priority_gap('{x,y}', ARRAY['{"mean_diff": [1, 0]}', '{"mean_diff": [0, 1, 2]}']::jsonb[])$$),
('hp.priority_gap', 'mean_diff not numbers', $$SELECT count(*) FROM hp.priority_gap('{x,y}', ARRAY['{"mean_diff": ["a", 0]}', '{"mean_diff": [0, 1]}']::jsonb[])$$),
('hp.priority_gap', 'stats not an object', $$SELECT count(*) FROM hp.priority_gap('{x,y}', ARRAY['[1, 0]', '{"mean_diff": [0, 1]}']::jsonb[])$$),
('hp.priority_gap', 'stats without mean_diff', $$SELECT gap FROM hp.priority_gap('{x,y}', ARRAY['{}', '{"mean_diff": [0, 1]}']::jsonb[]) LIMIT 1$$),
('hp.priority_gap', 'mean_diff null (an empty side): NULL gap', $$SELECT gap FROM hp.priority_gap('{x,y}', ARRAY['{"mean_diff": null}', '{"mean_diff": [0, 1]}']::jsonb[]) LIMIT 1$$),
('hp.priority_gap', 'mean_diff Infinity-like string', $$SELECT gap FROM hp.priority_gap('{x,y}', ARRAY['{"mean_diff": ["Infinity", 0]}', '{"mean_diff": [0, 1]}']::jsonb[]) LIMIT 1$$),
('hp.priority_gap(jsonb)', 'not an object', $$SELECT count(*) FROM hp.priority_gap('[1, 2]'::jsonb)$$),
-- distinguishability binning and routing -------------------------------------------------
('hp.distinguishability_bin', 'low > high', $$SELECT hp.distinguishability_bin(0.5, 0.2, 0.1)$$),
('hp.distinguishability_bin', 'NULL low',   $$SELECT hp.distinguishability_bin(0.5, NULL)$$),
('hp.distinguishability_bin', 'NaN snr: NULL', $$SELECT hp.distinguishability_bin('NaN')$$),
('hp.distinguishability_bin', 'NaN high', $$SELECT hp.distinguishability_bin(0.5, 0.01, 'NaN')$$),
('hp.distinguishability_bin', 'Infinity high: no high bin', $$SELECT hp.distinguishability_bin(1e300, 0.01, 'Infinity')$$),
('hp.distinguishability_bins', 'not an object', $$SELECT count(*) FROM hp.distinguishability_bins('[1]')$$),
('hp.distinguishability_bins', 'snr not a number', $$SELECT count(*) FROM hp.distinguishability_bins('{"x": {"snr": "high"}}')$$),
('hp.route_by_distinguishability', 'lengths differ', $$SELECT count(*) FROM hp.route_by_distinguishability('{x}', '{0.1,0.2}', '{1,2}', 0.5)$$),
('hp.route_by_distinguishability', 'NULL id', $$SELECT count(*) FROM hp.route_by_distinguishability('{x,y}', '{0.1,0.2}', '{1,NULL}', 0.5)$$),
('hp.route_by_distinguishability', 'duplicate ids', $$SELECT count(*) FROM hp.route_by_distinguishability('{x,y}', '{0.1,0.2}', '{1,1}', 0.5)$$),
('hp.route_by_distinguishability', 'budget -0.5', $$SELECT count(*) FROM hp.route_by_distinguishability('{x,y}', '{0.1,0.2}', '{1,2}', -0.5)$$),
('hp.route_by_distinguishability', 'budget NaN', $$SELECT count(*) FROM hp.route_by_distinguishability('{x,y}', '{0.1,0.2}', '{1,2}', 'NaN')$$),
('hp.route_by_distinguishability', 'budget 3 of 2 rows', $$SELECT count(*) FROM hp.route_by_distinguishability('{x,y}', '{0.1,0.2}', '{1,2}', 3)$$),
('hp.route_by_distinguishability', 'one tag, two SNRs', $$SELECT count(*) FROM hp.route_by_distinguishability('{x,x}', '{0.1,0.2}', '{1,2}', 0.5)$$),
('hp.route_distinguishability', 'NULL table', $$SELECT count(*) FROM hp.route_distinguishability('{}', NULL, 0.5)$$),
('hp.route_distinguishability', 'unknown tag column', $$SELECT count(*) FROM hp.route_distinguishability('{}', 'bi.rt', 0.5, 'nope')$$),
('hp.route_distinguishability', 'budget Infinity', $$SELECT count(*) FROM hp.route_distinguishability('{}', 'bi.rt', 'Infinity')$$),
('hp.distinguishability_report', 'NULL column', $$SELECT count(*) FROM hp.distinguishability_report('bi.rt', 'tag', NULL, 'rejected')$$),
('hp.distinguishability_report', 'unknown column', $$SELECT count(*) FROM hp.distinguishability_report('bi.rt', 'tag', 'chosen', 'nope')$$),
('hp.distinguishability_report', 'embedding column of another type', $$SELECT count(*) FROM hp.distinguishability_report('bi.rt', 'tag', 'features', 'rejected')$$),
-- routing features ------------------------------------------------------------------------
('hp.pair_stats', 'NULL prompt: NULL',     $$SELECT hp.pair_stats(NULL, 'a', 'b')$$),
('hp.pair_stats', 'embedding dims differ', $$SELECT hp.pair_stats('p', 'a', 'b', '{1,2}', '{1,2,3}')$$),
('hp.pair_stats', 'NaN in an embedding',   $$SELECT hp.pair_stats('p', 'a', 'b', '{1,NaN}', '{1,2}')$$),
('hp.pair_stats', 'NULL element in an embedding', $$SELECT hp.pair_stats('p', 'a', 'b', '{1,NULL}', '{1,2}')$$),
('hp.pair_stats', 'empty embeddings',      $$SELECT hp.pair_stats('p', 'a', 'b', '{}', '{}')$$),
('hp.pair_stats', '2-D embeddings',        $$SELECT hp.pair_stats('p', 'a', 'b', '{{1,2}}', '{{1,2}}')$$),
('hp.pair_stats', 'embeddings of dim 16385', $$SELECT hp.pair_stats('p', 'a', 'b', array_fill(1::real, ARRAY[16385]), array_fill(1::real, ARRAY[16385]))$$),
('hp.pair_stats', 'embeddings of 1e30: cos = 3/sqrt(10)', $$SELECT round((hp.pair_stats('p', 'a', 'b', '{1e30,1e30}', '{2e30,1e30}') ->> 'cosine')::numeric, 12) = round(3 / sqrt(10::numeric), 12)$$),
('hp.pair_stats', 'embeddings of 1e-30: cos = 3/sqrt(10)', $$SELECT round((hp.pair_stats('p', 'a', 'b', '{1e-30,1e-30}', '{2e-30,1e-30}') ->> 'cosine')::numeric, 12) = round(3 / sqrt(10::numeric), 12)$$),
('hp.pair_stats', 'embeddings of 3e38: cos 1', $$SELECT round((hp.pair_stats('p', 'a', 'b', '{3e38,3e38}', '{3e38,3e38}') ->> 'cosine')::numeric, 12)$$),
('hp.feature_cutoffs', 'stats not an object', $$SELECT hp.feature_cutoffs('[1]'::jsonb)$$),
('hp.feature_cutoffs', 'negative length',   $$SELECT hp.feature_cutoffs(s || '{"len_prompt": -1}') FROM bi.st$$),
('hp.feature_cutoffs', 'length missing',    $$SELECT hp.feature_cutoffs(s - 'len_diff') FROM bi.st$$),
('hp.feature_cutoffs', 'length a string',   $$SELECT hp.feature_cutoffs(s || '{"len_prompt": "3"}') FROM bi.st$$),
('hp.feature_cutoffs', 'length 2000000: counts as 1000000', $$SELECT hp.feature_cutoffs(s || '{"len_prompt": 2000000}') -> 'len_prompt' FROM bi.st$$),
('hp.feature_cutoffs', 'length 1e300 (beyond 2^53)', $$SELECT hp.feature_cutoffs(s || '{"len_prompt": 1e300}') FROM bi.st$$),
('hp.feature_cutoffs', 'length 2.5',       $$SELECT hp.feature_cutoffs(s || '{"len_prompt": 2.5}') FROM bi.st$$),
('hp.feature_cutoffs', 'NULL rows only: NULL', $$SELECT hp.feature_cutoffs(NULL) FROM bi.pairs$$),
('hp.pair_features(stats)', 'NULL cutoffs', $$SELECT hp.pair_features(s, NULL) FROM bi.st$$),
('hp.pair_features(stats)', 'NULL stats: NULL', $$SELECT hp.pair_features(NULL, c) FROM bi.cut$$),
('hp.pair_features(stats)', 'NULL tag element', $$SELECT hp.pair_features(s, c, ARRAY['app:x', NULL]) FROM bi.st, bi.cut$$),
('hp.pair_features(stats)', 'empty tag',    $$SELECT hp.pair_features(s, c, ARRAY['']) FROM bi.st, bi.cut$$),
('hp.pair_features(stats)', 'tag using a computed group', $$SELECT hp.pair_features(s, c, ARRAY['rouge1:high']) FROM bi.st, bi.cut$$),
('hp.pair_features(stats)', 'rouge1 NaN-like string', $$SELECT hp.pair_features(s || '{"rouge1": "NaN"}', c) FROM bi.st, bi.cut$$),
('hp.pair_features(stats)', 'unknown stats key', $$SELECT hp.pair_features(s || '{"bleu": 0.5}', c) FROM bi.st, bi.cut$$),
('hp.pair_features(stats)', 'negative len_diff', $$SELECT hp.pair_features(s || '{"len_diff": -1}', c) FROM bi.st, bi.cut$$),
('hp.pair_features(stats)', 'cutoffs malformed', $$SELECT hp.pair_features(s, '{"n": 1}') FROM bi.st$$),
('hp.pair_features(stats)', '2-D tags',     $$SELECT hp.pair_features(s, c, '{{a:b}}') FROM bi.st, bi.cut$$),
('hp.pair_features(texts)', 'no cutoffs',   $$SELECT hp.pair_features('p', 'a', 'b')$$),
('hp.pair_features(texts)', 'embedding dims differ', $$SELECT hp.pair_features('p', 'a', 'b', '{}', c, '{1}', '{1,2}') FROM bi.cut$$),
('hp.feature_vocab', 'NULL element',       $$SELECT hp.feature_vocab(ARRAY['a', NULL])$$),
('hp.feature_vocab', '2-D array',          $$SELECT hp.feature_vocab('{{a,b}}'::text[])$$),
('hp.feature_vocab', 'NULL arrays only: NULL', $$SELECT hp.feature_vocab(NULL) FROM bi.pairs$$),
('hp.feature_counts', 'vocab NULL element', $$SELECT hp.feature_counts('{a}', ARRAY['a', NULL])$$),
('hp.feature_counts', 'vocab duplicates',  $$SELECT hp.feature_counts('{a}', '{a,a}')$$),
('hp.feature_counts', 'vocab changes between rows', $$SELECT hp.feature_counts(features, CASE WHEN id = 3 THEN '{f:a}'::text[] ELSE '{f:a,f:b}' END) FROM bi.rt$$),
('hp.feature_counts', 'NULL vocab',        $$SELECT hp.feature_counts('{a}', NULL)$$),
('hp.feature_counts', '2-D features',      $$SELECT hp.feature_counts('{{a}}', '{a}')$$),
-- hp.simulate_routings ----------------------------------------------------------------------
('hp.simulate_routings', 'NULL budgets',   $$SELECT count(*) FROM hp.simulate_routings('bi.tr', 'bi.ho', NULL, 1)$$),
('hp.simulate_routings', 'budget 1.5',     $$SELECT count(*) FROM hp.simulate_routings('bi.tr', 'bi.ho', '{0.5,1.5}', 1)$$),
('hp.simulate_routings', 'budget NaN',     $$SELECT count(*) FROM hp.simulate_routings('bi.tr', 'bi.ho', '{NaN}', 1)$$),
('hp.simulate_routings', 'budget NULL element', $$SELECT count(*) FROM hp.simulate_routings('bi.tr', 'bi.ho', '{0.5,NULL}', 1)$$),
('hp.simulate_routings', 'budgets empty',  $$SELECT count(*) FROM hp.simulate_routings('bi.tr', 'bi.ho', '{}', 1)$$),
('hp.simulate_routings', 'per_budget 0',   $$SELECT count(*) FROM hp.simulate_routings('bi.tr', 'bi.ho', '{0.5}', 0)$$),
('hp.simulate_routings', 'too many candidates', $$SELECT count(*) FROM hp.simulate_routings('bi.tr', 'bi.ho', array_fill(0.5::float8, ARRAY[6]), 100000)$$),
('hp.simulate_routings', 'unknown sampler', $$SELECT count(*) FROM hp.simulate_routings('bi.tr', 'bi.ho', '{0.5}', 1, samplers => '{greedy}')$$),
('hp.simulate_routings', 'no samplers',    $$SELECT count(*) FROM hp.simulate_routings('bi.tr', 'bi.ho', '{0.5}', 1, samplers => '{}')$$),
('hp.simulate_routings', 'unknown option', $$SELECT count(*) FROM hp.simulate_routings('bi.tr', 'bi.ho', '{0.5}', 1, '{"budget": 1}')$$),
('hp.simulate_routings', 'arch mlp',       $$SELECT count(*) FROM hp.simulate_routings('bi.tr', 'bi.ho', '{0.5}', 1, '{"arch": "mlp"}')$$),
('hp.simulate_routings', 'unknown column', $$SELECT count(*) FROM hp.simulate_routings('bi.tr', 'bi.ho', '{0.5}', 1, human_col => 'nope')$$),
('hp.simulate_routings', 'column of another type', $$SELECT count(*) FROM hp.simulate_routings('bi.tr', 'bi.ho', '{0.5}', 1, human_col => 'features')$$),
('hp.simulate_routings', 'held-out of another dim', $$SELECT count(*) FROM hp.simulate_routings('bi.tr', 'bi.ho3', '{0.5}', 1)$$),
('hp.simulate_routings', 'empty training relation', $$SELECT count(*) FROM hp.simulate_routings('bi.tr_empty', 'bi.ho', '{0.5}', 1)$$),
-- hp.train_ppm -----------------------------------------------------------------------------
('hp.train_ppm', 'zero rows: NULL',        $$SELECT hp.train_ppm('{1,2}', 0.5, '{"vocab": ["a", "b"]}') FROM bi.pairs WHERE false$$),
('hp.train_ppm', 'NULL options',           $$SELECT hp.train_ppm('{1,2}', 0.5, NULL)$$),
('hp.train_ppm', 'no vocab',               $$SELECT hp.train_ppm('{1,2}', 0.5, '{}')$$),
('hp.train_ppm', 'vocab with duplicates',  $$SELECT hp.train_ppm('{1,2}', 0.5, '{"vocab": ["a", "a"]}')$$),
('hp.train_ppm', 'counts length differs from vocab', $$SELECT hp.train_ppm('{1,2,3}', 0.5, '{"vocab": ["a", "b"], "n": 10}')$$),
('hp.train_ppm', 'NaN count',              $$SELECT hp.train_ppm('{1,NaN}', 0.5, '{"vocab": ["a", "b"], "n": 10}')$$),
('hp.train_ppm', 'NULL count element',     $$SELECT hp.train_ppm('{1,NULL}', 0.5, '{"vocab": ["a", "b"], "n": 10}')$$),
('hp.train_ppm', 'score Infinity',         $$SELECT hp.train_ppm('{1,2}', 'Infinity', '{"vocab": ["a", "b"], "n": 10}')$$),
('hp.train_ppm', 'degree 3',               $$SELECT hp.train_ppm('{1,2}', 0.5, '{"vocab": ["a", "b"], "degree": 3}')$$),
('hp.train_ppm', 'lambda -1',              $$SELECT hp.train_ppm('{1,2}', 0.5, '{"vocab": ["a", "b"], "lambda": -1}')$$),
('hp.train_ppm', 'lambda "sometimes"',     $$SELECT hp.train_ppm('{1,2}', 0.5, '{"vocab": ["a", "b"], "lambda": "sometimes"}')$$),
('hp.train_ppm', 'folds 1',                $$SELECT hp.train_ppm('{1,2}', 0.5, '{"vocab": ["a", "b"], "folds": 1}')$$),
('hp.train_ppm', 'unknown solver',         $$SELECT hp.train_ppm('{1,2}', 0.5, '{"vocab": ["a", "b"], "solver": "sgd"}')$$),
('hp.train_ppm', 'unknown option',         $$SELECT hp.train_ppm('{1,2}', 0.5, '{"vocab": ["a", "b"], "heads": 2}')$$),
('hp.train_ppm', 'n 0',                    $$SELECT hp.train_ppm('{1,2}', 0.5, '{"vocab": ["a", "b"], "n": 0}')$$),
-- hp.ppm_predict and hp.route_gain ------------------------------------------------------------
('hp.ppm_predict', 'NULL counts: NULL',    $$SELECT hp.ppm_predict(bi.m('ppm'), NULL, 10)$$),
('hp.ppm_predict', 'NULL n for a normalising PPM', $$SELECT hp.ppm_predict(bi.m('ppm'), '{1,2}')$$),
('hp.ppm_predict', 'n 0',                  $$SELECT hp.ppm_predict(bi.m('ppm'), '{1,2}', 0)$$),
('hp.ppm_predict', 'n Infinity',           $$SELECT hp.ppm_predict(bi.m('ppm'), '{1,2}', 'Infinity')$$),
('hp.ppm_predict', 'counts length differs', $$SELECT hp.ppm_predict(bi.m('ppm'), '{1,2,3}', 10)$$),
('hp.ppm_predict', 'NaN count',            $$SELECT hp.ppm_predict(bi.m('ppm'), '{1,NaN}', 10)$$),
('hp.ppm_predict', 'NULL count element',   $$SELECT hp.ppm_predict(bi.m('ppm'), '{1,NULL}', 10)$$),
('hp.ppm_predict', '2-D counts',           $$SELECT hp.ppm_predict(bi.m('ppm'), '{{1,2}}', 10)$$),
('hp.ppm_predict', 'a reward model',       $$SELECT hp.ppm_predict(bi.m('lin'), '{1,2}', 10)$$),
('hp.ppm_predict', 'an MLP',               $$SELECT hp.ppm_predict(bi.m('mlp'), '{1,2}', 10)$$),
('hp.route_gain', 'a reward model',        $$SELECT hp.route_gain(bi.m('ens'), '{f:a}', 10)$$),
('hp.route_gain', 'n -1',                  $$SELECT hp.route_gain(bi.m('ppm'), '{f:a}', -1)$$),
('hp.route_gain', 'n NaN',                 $$SELECT hp.route_gain(bi.m('ppm'), '{f:a}', 'NaN')$$),
('hp.route_gain', 'NULL model: NULL',      $$SELECT hp.route_gain(NULL, '{f:a}', 10)$$),
-- routers ---------------------------------------------------------------------------------
('hp.route', 'a reward model',             $$SELECT count(*) FROM hp.route(bi.m('lin'), 'bi.rt', 0.5)$$),
('hp.route', 'unknown strategy',           $$SELECT count(*) FROM hp.route(bi.m('ppm'), 'bi.rt', 0.5, 'best')$$),
('hp.route', 'NULL strategy',              $$SELECT count(*) FROM hp.route(bi.m('ppm'), 'bi.rt', 0.5, NULL)$$),
('hp.route', 'budget -1',                  $$SELECT count(*) FROM hp.route(bi.m('ppm'), 'bi.rt', -1)$$),
('hp.route', 'budget Infinity',            $$SELECT count(*) FROM hp.route(bi.m('ppm'), 'bi.rt', 'Infinity')$$),
('hp.route', 'budget 2.5 rows',            $$SELECT count(*) FROM hp.route(bi.m('ppm'), 'bi.rt', 2.5)$$),
('hp.route', 'candidates 0',               $$SELECT count(*) FROM hp.route(bi.m('ppm'), 'bi.rt', 0.5, 'simulated', candidates => 0)$$),
('hp.route', 'unknown id column',          $$SELECT count(*) FROM hp.route(bi.m('ppm'), 'bi.rt', 0.5, id_col => 'nope')$$),
('hp.route', 'features column of another type', $$SELECT count(*) FROM hp.route(bi.m('ppm'), 'bi.rt', 0.5, features_col => 'a_emb')$$),
('hp.route', 'a relation that does not exist', $$SELECT count(*) FROM hp.route(bi.m('ppm'), 0::oid::regclass, 0.5)$$),
('hp.route_uncertainty', 'a PPM',          $$SELECT count(*) FROM hp.route_uncertainty(bi.m('ppm'), 'bi.rt', 0.5)$$),
('hp.route_uncertainty', 'unknown by',     $$SELECT count(*) FROM hp.route_uncertainty(bi.m('lin'), 'bi.rt', 0.5, 'entropy')$$),
('hp.route_uncertainty', 'model of another dim', $$SELECT count(*) FROM hp.route_uncertainty(hp.linear_model('{1,2,3}'), 'bi.rt', 0.5)$$),
('hp.route_uncertainty', 'labels outside [0, 1]', $$SELECT count(*) FROM hp.route_uncertainty(bi.m('lin'), 'bi.rt', 0.5, llm_col => 'id')$$),
('hp.route_uncertainty', 'MLP reward model', $$SELECT count(*) FROM hp.route_uncertainty(bi.m('mlp'), 'bi.rt', 0.5, 'std')$$),
('hp.budget_curve', 'fraction 1.5',        $$SELECT count(*) FROM hp.budget_curve(bi.m('ppm'), 'bi.rt', '{0.5,1.5}')$$),
('hp.budget_curve', 'fraction NULL element', $$SELECT count(*) FROM hp.budget_curve(bi.m('ppm'), 'bi.rt', '{0.5,NULL}')$$),
('hp.budget_curve', '2-D fractions',       $$SELECT count(*) FROM hp.budget_curve(bi.m('ppm'), 'bi.rt', '{{0.5}}')$$),
('hp.budget_curve', 'human_cost Infinity', $$SELECT count(*) FROM hp.budget_curve(bi.m('ppm'), 'bi.rt', '{0.5}', human_cost => 'Infinity', llm_cost => 1)$$),
('hp.budget_curve', 'a reward model',      $$SELECT count(*) FROM hp.budget_curve(bi.m('laplace'), 'bi.rt')$$),
('hp.route_table', 'NULL budget',          $$SELECT * FROM hp.route_table('bi.rt', bi.m('ppm'), NULL)$$),
('hp.route_table', 'unknown route column', $$SELECT * FROM hp.route_table('bi.rt', bi.m('ppm'), 0.5, route_col => 'nope')$$),
('hp.route_table', 'route column of another type', $$SELECT * FROM hp.route_table('bi.rt', bi.m('ppm'), 0.5, route_col => 'llm_label')$$),
('hp.route_table', 'a reward model',       $$SELECT * FROM hp.route_table('bi.rt', bi.m('lin'), 0.5)$$),
-- operations ---------------------------------------------------------------------------
('hp.route_period', 'unknown period',      $$SELECT hp.route_period('fortnight', '2024-01-01')$$),
('hp.route_period', 'negative interval',   $$SELECT hp.route_period('-1 hour', '2024-01-01')$$),
('hp.route_period', 'interval with months', $$SELECT hp.route_period('1 month 1 day', '2024-01-01')$$),
('hp.route_period', 'NULL period',         $$SELECT hp.route_period(NULL, '2024-01-01')$$),
('hp.route_period', 'unknown time zone',   $$SELECT hp.route_period('day', '2024-01-01', 'Mars/Olympus')$$),
('hp.route_pending', 'NULL budget',        $$CALL hp.route_pending('bi.rt', bi.m('ppm'), NULL)$$),
('hp.route_pending', 'budget NaN',         $$CALL hp.route_pending('bi.rt', bi.m('ppm'), 'NaN')$$),
('hp.route_pending', 'batch_size 0',       $$CALL hp.route_pending('bi.rt', bi.m('ppm'), 5, batch_size => 0)$$),
('hp.route_pending', 'max_human_fraction 2', $$CALL hp.route_pending('bi.rt', bi.m('ppm'), 5, max_human_fraction => 2)$$),
('hp.route_pending', 'unknown period',     $$CALL hp.route_pending('bi.rt', bi.m('ppm'), 5, 'fortnight')$$),
('hp.route_pending', 'a reward model',     $$CALL hp.route_pending('bi.rt', bi.m('ens'), 5)$$),
('hp.route_pending', 'unknown route column', $$CALL hp.route_pending('bi.rt', bi.m('ppm'), 5, route_col => 'nope')$$),
('hp.route_pending', 'no unique index on the id column', $$CALL hp.route_pending('bi.rt', bi.m('ppm'), 5, id_col => 'tag')$$),
('hp.route_pending', 'not a table',        $$CALL hp.route_pending('hp.budget_status', bi.m('ppm'), 5)$$),
('hp.labels_received', 'NULL table',       $$SELECT count(*) FROM hp.labels_received(NULL)$$),
('hp.labels_received', 'unknown label column', $$SELECT count(*) FROM hp.labels_received('bi.rt', 'nope')$$),
('hp.labels_received', 'period run with a time column', $$SELECT count(*) FROM hp.labels_received('bi.rt', 'llm_label', time_col => 'id', period => 'run')$$),
('hp.labels_received', 'unknown period',   $$SELECT count(*) FROM hp.labels_received('bi.rt', 'llm_label', period => 'fortnight')$$),
-- settings passed per row must be the same in every row ----------------------------------
('hp.train_reward_model', 'options change between rows', $$SELECT hp.train_reward_model(a, b, jsonb_build_object('seed', id)) FROM bi.pairs$$),
('hp.train_reward_model', 'options from an expression, the same in every row', $$SELECT hp.model_info(hp.train_reward_model(a, b, jsonb_build_object('heads', 2 + 0 * id)))->'heads' FROM bi.pairs$$),
('hp.select_pair', 'method changes between rows', $$SELECT hp.select_pair(bi.m('lin'), id, a, CASE WHEN id < 5 THEN 'maxmin' ELSE 'dts' END, 1, 0) FROM bi.pairs$$),
('hp.select_pair', 'beta changes between rows', $$SELECT hp.select_pair(bi.m('lin'), id, a, 'deltaucb', id, 0) FROM bi.pairs$$),
('hp.select_pair', 'seed changes between rows', $$SELECT hp.select_pair(bi.m('lin'), id, a, 'dts', 1, id) FROM bi.pairs$$),
('hp.select_pair_by_score', 'method changes between rows', $$SELECT hp.select_pair_by_score(id, id * 0.1, CASE WHEN id < 5 THEN 'maxmin' ELSE 'random' END, 0) FROM bi.pairs$$),
('hp.train_ppm', 'options change between rows', $$SELECT hp.train_ppm('{1,2}', 0.5, jsonb_build_object('vocab', '["a", "b"]'::jsonb, 'n', 10 + id)) FROM bi.pairs$$),
-- out-of-domain values -----------------------------------------------------------------------
('hp.pair_features(stats)', 'rouge1 1.5', $$SELECT hp.pair_features(jsonb_set(s, '{rouge1}', '1.5'), c) FROM bi.st, bi.cut$$),
('hp.pair_features(stats)', 'cosine -2', $$SELECT hp.pair_features(jsonb_set(s, '{cosine}', '-2'), c) FROM bi.st, bi.cut$$),
('hp.pair_features(stats)', 'cosine -0.5: accepted', $$SELECT cardinality(hp.pair_features(jsonb_set(s, '{cosine}', '-0.5'), c)) > 0 FROM bi.st, bi.cut$$),
('hp.train_ppm', 'negative count', $$SELECT hp.train_ppm('{1,-2}', 0.5, '{"vocab": ["a", "b"], "n": 10}')$$),
('hp.route_gain', '2-D features', $$SELECT hp.route_gain(bi.m('ppm'), '{{f:a},{f:b}}', 10)$$),
('hp.priority_gap', 'NULL name', $$SELECT count(*) FROM hp.priority_gap(ARRAY['x', NULL], ARRAY['{"mean_diff": [1, 0]}', '{"mean_diff": [0, 1]}']::jsonb[])$$),
('hp.priority_gap', 'mean_diff near 1e200: the gap', $$SELECT round(gap::numeric, 4) FROM hp.priority_gap('{x,y}', ARRAY['{"mean_diff": [2e200, 0]}', '{"mean_diff": [0, 1e200]}']::jsonb[]) WHERE i = 'x'$$),
('hp.priority_gap', 'mean_diff near 1e-200: the gap', $$SELECT round(gap::numeric, 4) FROM hp.priority_gap('{x,y}', ARRAY['{"mean_diff": [2e-200, 0]}', '{"mean_diff": [0, 1e-200]}']::jsonb[]) WHERE i = 'x'$$),
('hp.train_ppm', 'scores near 1e300', $$SELECT hp.train_ppm(ARRAY[id % 3, id % 2]::float8[], 1e300 * (id % 5), '{"vocab": ["a", "b"], "n": 10}') FROM bi.pairs$$),
('hp.route_gain', 'n 1e-300: representable gain', $$SELECT hp.route_gain(bi.m('ppm'), '{f:a}', 1e-300)$$),
('hp.route_gain', 'n 1e-310: gain overflows', $$SELECT hp.route_gain(bi.m('ppm'), '{f:a}', 1e-310)$$);

-- (hp.train_reward_model_iterative reports each pass in a NOTICE.)
SET client_min_messages = warning;
SELECT n, fn, input, bi.try(q) AS outcome FROM bi.cases ORDER BY n;
RESET client_min_messages;

-- The matrix in numbers: cases, and cases per function.
SELECT count(*) AS cases, count(DISTINCT split_part(fn, '/', 1)) AS functions FROM bi.cases;

-- After all of that, the server still answers.
SELECT 1 AS alive;

SET client_min_messages = warning;
DROP SCHEMA bi CASCADE;
RESET client_min_messages;
