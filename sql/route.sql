--
-- Routing instances to human annotators or the LLM judge under a budget,
-- with a performance prediction model (PPM): hp.route, hp.route_gain,
-- hp.route_table, hp.budget_curve, and the uncertainty baseline
-- hp.route_uncertainty.
--

-- Two PPMs with known laws, for a dataset of N = 10 instances (v = counts / N).
-- A linear one over three features:
--   f(v) = 0.5 - 0.2 v_long + 0.3 v_code + 0.1 v_math
-- and a quadratic one over two, where human labels on code help but with
-- diminishing returns:
--   f(v) = 0.5 + 0.4 v_code + 0.2 v_math - 1.0 v_code^2
CREATE TABLE rt_ppms (name text PRIMARY KEY, m hp.model);
INSERT INTO rt_ppms
SELECT 'linear', hp.train_ppm(ARRAY[a, b, c]::float8[], 0.5 - 0.2 * a / 10 + 0.3 * b / 10 + 0.1 * c / 10,
         '{"vocab": ["len:long", "subject:code", "subject:math"], "n": 10, "lambda": 1e-9}')
FROM generate_series(0.0, 10.0, 2.0) a, generate_series(0.0, 10.0, 2.0) b, generate_series(0.0, 10.0, 2.0) c;
INSERT INTO rt_ppms
SELECT 'quadratic', hp.train_ppm(ARRAY[a, b]::float8[], 0.5 + 0.4 * a / 10 + 0.2 * b / 10 - 1.0 * (a / 10) ^ 2,
         '{"vocab": ["subject:code", "subject:math"], "n": 10, "degree": 2, "lambda": 1e-9}')
FROM generate_series(0.0, 10.0) a, generate_series(0.0, 10.0) b;

-- Ten preference pairs with their features ('group:bin' strings; the
-- feature engineer's hp.pair_features computes them from the data).
CREATE TABLE rt_pairs (id bigint PRIMARY KEY, features text[]);
INSERT INTO rt_pairs VALUES
  (1, '{subject:code}'),
  (2, '{subject:code,len:long}'),
  (3, '{subject:math}'),
  (4, '{subject:math,len:long}'),
  (5, '{subject:code}'),
  (6, '{subject:math}'),
  (7, '{len:long}'),
  (8, '{}'),
  (9, NULL),
  (10, '{subject:code,subject:math,tag:unknown}');

-- The gain of routing one instance to a human is g_i = f(b_i / N) - f(0).
-- Linear PPM: g_i = sum of its features' coefficients / 10, e.g. row 10:
-- (0.3 + 0.1) / 10 = 0.04 (tag:unknown is not in the vocabulary: ignored);
-- row 7: -0.2 / 10 = -0.02.  topk sends the k = 0.3 * 10 = 3 best to humans.
SELECT id, to_human, round(gain::numeric, 4) AS gain
FROM hp.route((SELECT m FROM rt_ppms WHERE name = 'linear'), 'rt_pairs', 0.3)
ORDER BY id;
-- A budget above 1 is a row count.  Ties (rows 2, 3 and 6 all gain 0.01)
-- are broken by id: 5 humans are 10, 1, 5, then 2 and 3.
SELECT array_agg(id ORDER BY id) AS humans
FROM hp.route((SELECT m FROM rt_ppms WHERE name = 'linear'), 'rt_pairs', 5) WHERE to_human;

-- The same top-k in plain SQL with hp.route_gain, e.g. for an index scan or
-- a LIMIT over a very large table (the decoded PPM is cached per query).
SELECT array_agg(id ORDER BY id) AS humans
FROM (SELECT id FROM rt_pairs, rt_ppms WHERE name = 'linear'
      ORDER BY hp.route_gain(m, features, 10) DESC, id LIMIT 5) s;

-- Quadratic PPM: code rows gain 0.4 / 10 - 1.0 / 100 = 0.03, math rows
-- 0.02, row 10 (both) 0.05.  With 4 humans, topk takes 10, 1, 2, 5:
-- v = (0.4, 0.1), f = 0.5 + 0.16 + 0.02 - 0.16 = 0.52.  But code labels
-- have diminishing returns: greedy re-evaluates the marginal gain
-- f(v + b_i/N) - f(v) after every pick.  After row 10, another code row
-- adds 0.04 - 0.03 = 0.01 while a math row still adds 0.02, so greedy
-- takes 10, 3, 4, 6: v = (0.1, 0.4), f = 0.5 + 0.04 + 0.08 - 0.01 = 0.61.
SELECT s.strategy, array_agg(r.id ORDER BY r.id) FILTER (WHERE r.to_human) AS humans
FROM unnest('{topk,greedy,simulated}'::text[]) WITH ORDINALITY s(strategy, o),
     LATERAL hp.route((SELECT m FROM rt_ppms WHERE name = 'quadratic'), 'rt_pairs', 4, s.strategy) r
GROUP BY s.strategy, s.o ORDER BY s.o;
-- The predicted score of each strategy's routing; simulated evaluates 1000
-- candidate sets (random ones and feature-correlated ones) and keeps the
-- best, which here is the greedy set (the optimum of the 210 sets of 4).
SELECT strategy, round(predicted_score::numeric, 4) AS predicted_score
FROM unnest('{topk,greedy,simulated,random}'::text[]) WITH ORDINALITY s(strategy, o),
     LATERAL hp.budget_curve((SELECT m FROM rt_ppms WHERE name = 'quadratic'), 'rt_pairs', '{4}', s.strategy)
ORDER BY o;
-- random is a baseline on the same surface: k seeded random rows (gain is
-- still each row's g_i).  The seed changes the set, not its size.
SELECT seed, count(*) FILTER (WHERE to_human) AS humans,
       array_agg(id ORDER BY id) FILTER (WHERE to_human) AS ids
FROM generate_series(1, 2) seed,
     LATERAL hp.route((SELECT m FROM rt_ppms WHERE name = 'quadratic'), 'rt_pairs', 0.4, 'random', seed => seed)
GROUP BY seed ORDER BY seed;

-- The budget curve for a dashboard: predicted score and cost of routing
-- each fraction to humans (human label 1.00, LLM label 0.10).
SELECT fraction, n_human, round(predicted_score::numeric, 3) AS predicted_score, round(cost::numeric, 2) AS cost
FROM hp.budget_curve((SELECT m FROM rt_ppms WHERE name = 'linear'), 'rt_pairs',
                     human_cost => 1.00, llm_cost => 0.10);

-- Routing a table in place: route_col gets 'human' or 'llm'.  Row 10 was
-- routed earlier by hand and is left alone; the budget (0.5) applies to the
-- 9 rows still unrouted: 5 humans.
ALTER TABLE rt_pairs ADD COLUMN route text;
UPDATE rt_pairs SET route = 'llm' WHERE id = 10;
SELECT * FROM hp.route_table('rt_pairs', (SELECT m FROM rt_ppms WHERE name = 'linear'), 0.5);
SELECT id, route FROM rt_pairs ORDER BY id;
-- Nothing left to route.
SELECT * FROM hp.route_table('rt_pairs', (SELECT m FROM rt_ppms WHERE name = 'linear'), 0.5);
-- overwrite => true re-routes every row.
SELECT * FROM hp.route_table('rt_pairs', (SELECT m FROM rt_ppms WHERE name = 'linear'), 3, overwrite => true);
SELECT array_agg(id ORDER BY id) FILTER (WHERE route = 'human') AS humans,
       count(*) FILTER (WHERE route = 'llm') AS llm
FROM rt_pairs;

-- Any table and column names work, quoted as identifiers; nothing injects.
-- (Features may be varchar[], ids any integer type, the route column varchar.)
CREATE SCHEMA "route schema";
CREATE TABLE "route schema"."pairs; DROP TABLE rt_pairs; --" ("pair ""id""" int, "feat;s" varchar[], "the route" varchar);
INSERT INTO "route schema"."pairs; DROP TABLE rt_pairs; --" SELECT id, features FROM rt_pairs;
SELECT count(*) FILTER (WHERE to_human) AS humans
FROM hp.route((SELECT m FROM rt_ppms WHERE name = 'linear'), '"route schema"."pairs; DROP TABLE rt_pairs; --"', 0.3,
              id_col => 'pair "id"', features_col => 'feat;s');
SELECT * FROM hp.route_table('"route schema"."pairs; DROP TABLE rt_pairs; --"', (SELECT m FROM rt_ppms WHERE name = 'linear'),
                             0.3, id_col => 'pair "id"', features_col => 'feat;s', route_col => 'the route');
SELECT array_agg("pair ""id""" ORDER BY "pair ""id""") AS humans
FROM "route schema"."pairs; DROP TABLE rt_pairs; --" WHERE "the route" = 'human';
SELECT count(*) AS pairs_still_there FROM rt_pairs;

-- The uncertainty baseline: send to humans the pairs where the reward model
-- least believes the LLM judge.  With one head w = (1, 0),
-- P(a > b) = sigmoid(a1 - b1); gain = |P - llm_label| (= 1 - the model's
-- probability of the LLM label):
--   id 1: P = sigmoid(2) = 0.881, label 1: gain 0.119
--   id 2: P = sigmoid(-2) = 0.119, label 1: gain 0.881   (the judge looks wrong)
--   id 3: P = 0.5, label 0.5 (tie): gain 0
--   id 4: P = sigmoid(-1) = 0.269, label 0: gain 0.269
CREATE TABLE rt_judged (id int, a_emb real[], b_emb real[], llm_label float8);
INSERT INTO rt_judged VALUES
  (1, '{2,0}', '{0,0}', 1), (2, '{0,0}', '{2,0}', 1), (3, '{1,5}', '{1,0}', 0.5), (4, '{0,0}', '{1,0}', 0);
SELECT id, to_human, round(gain::numeric, 3) AS gain
FROM hp.route_uncertainty(hp.linear_model('{1,0}'), 'rt_judged', 2) ORDER BY id;
-- by => 'std': the pairs of largest epistemic spread across heads.  Heads
-- (1, 0) and (0, 1) disagree most on pair 3, where a - b = (0, 5): one
-- says P = 0.5, the other sigmoid(5) = 0.993.  (A budget of 1 would mean
-- 100 %; a quarter of 4 rows is 1 row.)
SELECT id, to_human, round(gain::numeric, 3) AS gain
FROM hp.route_uncertainty(hp.linear_model('{{1,0},{0,1}}'), 'rt_judged', 0.25, 'std') ORDER BY id;

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
CREATE OR REPLACE FUNCTION rt_lin() RETURNS hp.model LANGUAGE sql AS $$ SELECT m FROM rt_ppms WHERE name = 'linear' $$;
-- budgets: a fraction in [0, 1] or a whole count up to N
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_pairs', -0.1)$q$);
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_pairs', 1.5)$q$);
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_pairs', 11)$q$);
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_pairs', 'NaN')$q$);
SELECT hp_try($q$SELECT * FROM hp.budget_curve(rt_lin(), 'rt_pairs', '{0.5,20}')$q$);
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_pairs', NULL)$q$);
-- strategies and candidates
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_pairs', 0.5, 'best')$q$);
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_pairs', 0.5, 'simulated', candidates => 0)$q$);
-- an empty relation
CREATE TABLE rt_no_pairs (id bigint, features text[], route text);
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_no_pairs', 0.5)$q$);
SELECT hp_try($q$SELECT * FROM hp.budget_curve(rt_lin(), 'rt_no_pairs')$q$);
SELECT * FROM hp.route_table('rt_no_pairs', rt_lin(), 0.5, overwrite => true);
-- missing and ill-typed columns: the error names the column
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_pairs', 0.5, id_col => 'pair_id')$q$);
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_pairs', 0.5, features_col => 'feats')$q$);
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_pairs', 0.5, features_col => 'route')$q$);
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_pairs', 0.5, id_col => 'route')$q$);
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_pairs', 0.5, id_col => 'ctid')$q$);
SELECT hp_try($q$SELECT * FROM hp.route_table('rt_judged', rt_lin(), 0.5)$q$);
SELECT hp_try($q$SELECT * FROM hp.route_table('rt_no_pairs', rt_lin(), 0.5, route_col => 'id')$q$);
SELECT hp_try($q$SELECT * FROM hp.route_uncertainty(hp.linear_model('{1,0}'), 'rt_judged', 2, id_col => 'nope')$q$);
SELECT hp_try($q$SELECT * FROM hp.route_uncertainty(hp.linear_model('{1,0}'), 'rt_judged', 2, llm_col => 'a_emb')$q$);
SELECT hp_try($q$SELECT * FROM hp.route_uncertainty(hp.linear_model('{1,0,0}'), 'rt_judged', 2)$q$);
SELECT hp_try($q$SELECT * FROM hp.route_uncertainty(hp.linear_model('{1,0}'), 'rt_judged', 2, 'entropy')$q$);
-- ids must be present and unique
CREATE TABLE rt_dup_pairs (id int, features text[]);
INSERT INTO rt_dup_pairs VALUES (2, '{subject:code}'), (1, '{subject:math}'), (2, '{len:long}');
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_dup_pairs', 0.5)$q$);
UPDATE rt_dup_pairs SET id = NULL WHERE features = '{len:long}';
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_dup_pairs', 0.5)$q$);
-- a vocabulary mismatch: the PPM and the data share no feature
CREATE TABLE rt_other_pairs (id int, features text[]);
INSERT INTO rt_other_pairs VALUES (1, '{rouge1:high}'), (2, '{cosine:low,rouge1:mid}');
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_other_pairs', 0.5)$q$);
SELECT hp_try($q$SELECT * FROM hp.budget_curve(rt_lin(), 'rt_other_pairs')$q$);
UPDATE rt_other_pairs SET features = NULL;
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_other_pairs', 0.5)$q$);
-- models of the wrong kind
SELECT hp_try($q$SELECT * FROM hp.route(hp.linear_model('{1,2,3}'), 'rt_pairs', 0.5)$q$);
SELECT hp_try($q$SELECT * FROM hp.route_uncertainty(rt_lin(), 'rt_judged', 2)$q$);
SELECT hp_try($q$SELECT * FROM hp.route(NULL, 'rt_pairs', 0.5)$q$);
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 0::oid::regclass, 0.5)$q$);

-- The functions run as the caller: without SELECT on the table, no routing.
CREATE ROLE regress_hp_router;
GRANT USAGE ON SCHEMA hp TO regress_hp_router;
GRANT SELECT ON rt_ppms TO regress_hp_router;
SET ROLE regress_hp_router;
SELECT hp_try($q$SELECT * FROM hp.route(rt_lin(), 'rt_pairs', 0.5)$q$);
RESET ROLE;
GRANT SELECT (id, features) ON rt_pairs TO regress_hp_router;
SET ROLE regress_hp_router;
SELECT count(*) FILTER (WHERE to_human) AS humans FROM hp.route(rt_lin(), 'rt_pairs', 0.5);
SELECT hp_try($q$SELECT * FROM hp.route_table('rt_pairs', rt_lin(), 0.5)$q$);
RESET ROLE;
REVOKE ALL ON rt_pairs, rt_ppms FROM regress_hp_router;
REVOKE USAGE ON SCHEMA hp FROM regress_hp_router;
DROP ROLE regress_hp_router;
