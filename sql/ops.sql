--
-- Operations: hp.route_pending routes the rows that arrive in a table, in
-- committed batches, under a budget of human labels per period; every batch
-- appends to the ledger hp.route_ledger in the same transaction, and the
-- dashboard views read the ledger.  Everything here runs as an ordinary
-- (non-superuser) role on its own tables.
--
\set SHOW_CONTEXT never
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

-- Roles: an owner of the data, a second writer of a shared table, a role that
-- may read but not update, and a dashboard reader.
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_hp_ops, regress_hp_other, regress_hp_nopriv, regress_hp_viewer;
RESET client_min_messages;
CREATE ROLE regress_hp_ops;
CREATE ROLE regress_hp_other;
CREATE ROLE regress_hp_nopriv;
CREATE ROLE regress_hp_viewer;
-- Its own schema, so that table names cannot meet other tests' tables.
CREATE SCHEMA hp_ops AUTHORIZATION regress_hp_ops;
GRANT USAGE ON SCHEMA hp_ops TO PUBLIC;
SET search_path = hp_ops;

SET ROLE regress_hp_ops;

-- A PPM with a known law (as in route.sql), for datasets of N = 10:
--   f(v) = 0.5 - 0.2 v_long + 0.3 v_code + 0.1 v_math
-- so the gain of one row is the sum of its features' coefficients / 10:
--   A {code, math} 0.04, B {code} 0.03, C {math} 0.01, D {} 0,
--   E {long} -0.02, F {math, long} -0.01.
CREATE TABLE ppms (name text PRIMARY KEY, m hp.model);
INSERT INTO ppms
SELECT 'linear', hp.train_ppm(ARRAY[a, b, c]::float8[], 0.5 - 0.2 * a / 10 + 0.3 * b / 10 + 0.1 * c / 10,
         '{"vocab": ["len:long", "subject:code", "subject:math"], "n": 10, "lambda": 1e-9}')
FROM generate_series(0.0, 10.0, 2.0) a, generate_series(0.0, 10.0, 2.0) b, generate_series(0.0, 10.0, 2.0) c;
SELECT m AS ppm FROM ppms WHERE name = 'linear' \gset

-- Rows cycle through the six patterns by id % 6; subject is the tag.
CREATE FUNCTION pattern_features(id bigint) RETURNS text[] LANGUAGE sql IMMUTABLE
RETURN (ARRAY['{subject:code,subject:math}', '{subject:code}', '{subject:math}', '{}',
              '{len:long}', '{subject:math,len:long}'])[id % 6 + 1]::text[];
CREATE FUNCTION pattern_subject(id bigint) RETURNS text LANGUAGE sql IMMUTABLE
RETURN (ARRAY['code', 'code', 'math', NULL, NULL, 'math'])[id % 6 + 1];
CREATE TABLE prefs (id bigint PRIMARY KEY, features text[], subject text,
                    route text, label float8, labelled_at timestamptz);
INSERT INTO prefs (id, features, subject)
SELECT i, pattern_features(i), pattern_subject(i) FROM generate_series(1, 40) i;
-- An audit trigger on the routes.  Its function names its table without a
-- schema: triggers run with the caller's search_path, as after any UPDATE.
CREATE TABLE route_audit (id bigint, old_route text, new_route text);
CREATE FUNCTION audit_route() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO route_audit VALUES (NEW.id, OLD.route, NEW.route);
	RETURN NEW;
END $$;
CREATE TRIGGER audit_route AFTER UPDATE OF route ON prefs
	FOR EACH ROW EXECUTE FUNCTION audit_route();

-- A budget of 5 human labels per day, batches of 10.  Batch 1 (ids 1-10)
-- ranks its rows by gain: 6 (A), 1 and 7 (B), 2 and 8 (C), then the rest;
-- the 5 best go to humans and use the day's budget up, so every later row
-- goes to the LLM.  Arguments of CALL cannot hold subqueries: the model
-- comes as a psql variable here, from a DO block in the pg_cron job.
CALL hp.route_pending('prefs', :'ppm', 5, batch_size => 10, tag_col => 'subject');
SELECT array_agg(id ORDER BY id) FILTER (WHERE route = 'human') AS humans,
       count(*) FILTER (WHERE route = 'llm') AS llm,
       count(*) FILTER (WHERE route IS NULL) AS unrouted
FROM prefs;
-- One ledger row per batch and tag, committed with the batch.
SELECT batch, tag, n_human, n_llm, spent_after, human_counts, budget, period,
       period_start = date_trunc('day', now(), 'UTC') AS today, table_name
FROM hp.route_ledger WHERE table_name = 'hp_ops.prefs'
ORDER BY batch, tag NULLS FIRST;

-- Nothing pending: a run routes nothing and leaves the ledger alone.
CALL hp.route_pending('prefs', :'ppm', 5, batch_size => 10, tag_col => 'subject');

-- New rows arrive; the budget is raised to 8 for today: 3 more humans, the
-- best of the first new batch (ids 41-50): 42 and 48 (A), then 43 (B; its
-- tie with 49 goes to the lower id).
INSERT INTO prefs (id, features, subject)
SELECT i, pattern_features(i), pattern_subject(i) FROM generate_series(41, 52) i;
CALL hp.route_pending('prefs', :'ppm', 8, batch_size => 10, tag_col => 'subject');
SELECT array_agg(id ORDER BY id) FILTER (WHERE route = 'human') AS humans,
       count(*) FILTER (WHERE route IS NULL) AS unrouted
FROM prefs;

-- Each row was routed once.
SELECT count(*) AS audited, count(DISTINCT id) AS rows, count(*) FILTER (WHERE old_route IS NOT NULL) AS rerouted
FROM route_audit;

-- Dashboards.  Budget per table and period:
SELECT table_name, period, budget, spent, remaining, n_llm, routed, batches, runs,
       (extract(epoch FROM period_end - period_start) / 3600)::int AS hours
FROM hp.budget_status WHERE table_name = 'hp_ops.prefs';
-- Per tag:
SELECT tag, n_human, n_llm, routed, round(human_fraction::numeric, 3) AS human_fraction
FROM hp.routing_summary WHERE table_name = 'hp_ops.prefs' ORDER BY tag NULLS FIRST;
-- Runs:
SELECT budget, batches, n_human, n_llm, routed_by FROM hp.route_runs
WHERE table_name = 'hp_ops.prefs' ORDER BY first_batch_at;
-- Predicted score of the routing so far with the PPM the runs used: the 8
-- human rows hold code 6 times and math 5 times among n = 52 routed rows,
-- f = 0.5 + 0.3 * 6/52 + 0.1 * 5/52 = 0.5442; with no human label f(0) = 0.5.
SELECT budget, spent, routed, round(predicted_score::numeric, 4) AS predicted_score,
       round(all_llm_score::numeric, 4) AS all_llm_score,
       round(predicted_gain::numeric, 4) AS predicted_gain,
       round(score_at_budget::numeric, 4) AS score_at_budget
FROM hp.predicted_score WHERE table_name = 'hp_ops.prefs';

-- Labels come back: two human rows and one LLM row are labelled.
UPDATE prefs SET label = 1, labelled_at = '2024-03-01 10:00+00' WHERE id IN (1, 2);
UPDATE prefs SET label = 0, labelled_at = '2024-03-02 09:00+00' WHERE id = 3;
SELECT * FROM hp.labels_received('prefs');
SELECT * FROM hp.labels_received('prefs', time_col => 'labelled_at', tag_col => 'subject')
WHERE period_start IS NOT NULL;

-- max_human_fraction caps the human share of the period's rows so far, so
-- early batches cannot take the whole budget.  Period run: a budget per
-- call.  30 rows of pattern A in batches of 7 with at most 20 % humans:
-- the cap after each batch is floor(0.2 * 7) = 1, floor(0.2 * 14) = 2,
-- floor(0.2 * 21) = 4, floor(0.2 * 28) = 5, floor(0.2 * 30) = 6.
CREATE TABLE stream (id int PRIMARY KEY, features text[], route varchar(8));
INSERT INTO stream SELECT i, '{subject:code,subject:math}' FROM generate_series(1, 30) i;
CALL hp.route_pending('stream', :'ppm', 'Infinity', 'run', batch_size => 7, max_human_fraction => 0.2);
SELECT batch, n_human, n_llm, spent_after FROM hp.route_ledger
WHERE table_name = 'hp_ops.stream' ORDER BY batch;

-- min_gain keeps the budget for rows predicted to help: only A, B and C
-- rows (gains 0.04, 0.03, 0.01) go to humans, although 10 are allowed.
CREATE TABLE picky (id bigint PRIMARY KEY, features text[], route text);
INSERT INTO picky SELECT i, pattern_features(i) FROM generate_series(1, 12) i;
CALL hp.route_pending('picky', :'ppm', 10, min_gain => 0.005);
SELECT route, array_agg(id ORDER BY id) AS ids FROM picky GROUP BY route ORDER BY route;

-- max_batches bounds a run (e.g. one pg_cron tick); the rest waits.
CREATE TABLE backlog (id bigint PRIMARY KEY, features text[], route text);
INSERT INTO backlog SELECT i, pattern_features(i) FROM generate_series(1, 25) i;
CALL hp.route_pending('backlog', :'ppm', 3, batch_size => 10, max_batches => 2);
SELECT count(*) FILTER (WHERE route IS NULL) AS unrouted FROM backlog;
-- pace spreads the budget over the period: by now at most the elapsed
-- share of the year's 1000 labels may be spent.
CALL hp.route_pending('backlog', :'ppm', 1000, 'year', pace => true);
SELECT spent <= floor(1000 * extract(epoch FROM now() - period_start) / extract(epoch FROM period_end - period_start))
       AS paced
FROM hp.budget_status WHERE table_name = 'hp_ops.backlog' AND period = 'year';

-- Budget periods: calendar units in a time zone, or fixed-length bins.
SELECT p, (hp.route_period(p, '2024-05-15 13:37:00+00', 'UTC')).*
FROM unnest('{minute,hour,day,week,month,quarter,year,15 minutes,2 hours,run}'::text[]) p;
SELECT (hp.route_period('day', '2024-05-15 02:00:00+00', 'America/New_York')).*;

-- Errors: each is raised before anything changes.
CREATE TABLE noroute (id bigint PRIMARY KEY, features text[]);
CALL hp.route_pending('noroute', :'ppm', 5);
CREATE TABLE badroute (id bigint PRIMARY KEY, features text[], route int);
CALL hp.route_pending('badroute', :'ppm', 5);
CREATE TABLE badfeat (id bigint PRIMARY KEY, features text, route text);
CALL hp.route_pending('badfeat', :'ppm', 5);
CREATE TABLE noid (id bigint, features text[], route text);
CALL hp.route_pending('noid', :'ppm', 5);
CREATE VIEW prefs_view AS SELECT * FROM prefs;
CALL hp.route_pending('prefs_view', :'ppm', 5);
CALL hp.route_pending('prefs', :'ppm', -1);
CALL hp.route_pending('prefs', :'ppm', 5, 'fortnight');
CALL hp.route_pending('prefs', :'ppm', 5, batch_size => 0);
CALL hp.route_pending('prefs', :'ppm', 5, max_human_fraction => 1.5);
CALL hp.route_pending('prefs', hp.linear_model('{1,2}'), 5);
CALL hp.route_pending('prefs', :'ppm', NULL);
-- COMMIT after each batch needs a CALL outside a transaction block; inside
-- one, the first COMMIT fails and the whole transaction rolls back.
INSERT INTO prefs (id, features) VALUES (53, '{subject:code}');
BEGIN;
CALL hp.route_pending('prefs', :'ppm', 100);
ROLLBACK;
-- Batches read the budget spent under READ COMMITTED only.
SET default_transaction_isolation = 'serializable';
CALL hp.route_pending('prefs', :'ppm', 100);
RESET default_transaction_isolation;
SELECT count(*) FILTER (WHERE route IS NULL) AS unrouted FROM prefs;

-- Privileges.  A role that may read prefs but not update it is refused
-- before any row is locked, and cannot forge, change or delete ledger rows.
GRANT SELECT ON prefs TO regress_hp_nopriv;
SET ROLE regress_hp_nopriv;
CALL hp.route_pending('prefs', :'ppm', 100);
INSERT INTO hp.route_ledger (run_id, batch, table_name, table_oid, period, period_start, budget,
                             n_human, n_llm, spent_after, human_counts, ppm_id, run_started)
VALUES (gen_random_uuid(), 1, 'hp_ops.prefs', 'prefs'::regclass, 'day', now(), 1, 1000, 0, 1000, '{}', 'x', now());
UPDATE hp.route_ledger SET n_human = 0;
DELETE FROM hp.route_ledger;
-- It still sees the ledger of the table it may read.
SELECT sum(n_human) AS human FROM hp.route_ledger WHERE table_name = 'hp_ops.prefs';
SET ROLE regress_hp_ops;
SELECT count(*) FILTER (WHERE route IS NULL) AS unrouted FROM prefs;

-- Row-level security on the routed table: each role routes only the rows
-- it can see and update; the budget account is the table's.
CREATE TABLE shared (id bigint PRIMARY KEY, features text[], route text,
                     owner name NOT NULL DEFAULT current_user);
ALTER TABLE shared ENABLE ROW LEVEL SECURITY;
ALTER TABLE shared FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON shared USING (owner = current_user);
GRANT SELECT, INSERT, UPDATE ON shared TO regress_hp_other;
INSERT INTO shared (id, features) SELECT i, pattern_features(i) FROM generate_series(1, 6) i;
SET ROLE regress_hp_other;
INSERT INTO shared (id, features) SELECT i, pattern_features(i) FROM generate_series(7, 10) i;
CALL hp.route_pending('shared', :'ppm', 3);
SELECT id, route, owner FROM shared ORDER BY id;
SET ROLE regress_hp_ops;
CALL hp.route_pending('shared', :'ppm', 3);
SELECT id, route, owner FROM shared ORDER BY id;
SELECT routed_by, n_human, n_llm, spent_after FROM hp.route_ledger
WHERE table_name = 'hp_ops.shared' ORDER BY routed_at, routed_by;

-- Dashboards for a reader role.  The views are granted to PUBLIC and show
-- the rows of the tables the reader may read: none yet.
SET ROLE regress_hp_viewer;
SELECT count(*) FROM hp.budget_status;
RESET ROLE;
GRANT SELECT ON prefs TO regress_hp_viewer;
SET ROLE regress_hp_viewer;
SELECT table_name, budget, spent, remaining FROM hp.budget_status;
SELECT tag, n_human FROM hp.routing_summary ORDER BY tag NULLS FIRST;
SELECT spent, round(predicted_score::numeric, 4) AS predicted_score FROM hp.predicted_score;
SELECT count(*) AS runs FROM hp.route_runs;
SELECT count(*) AS ledger_rows_of_prefs, count(DISTINCT table_name) AS tables FROM hp.route_ledger;
-- A site that keeps dashboards to named roles revokes them from PUBLIC.
RESET ROLE;
REVOKE SELECT ON hp.budget_status FROM PUBLIC;
SET ROLE regress_hp_viewer;
SELECT count(*) FROM hp.budget_status;
RESET ROLE;
GRANT SELECT ON hp.budget_status TO regress_hp_viewer;
SET ROLE regress_hp_viewer;
SELECT table_name, spent FROM hp.budget_status;
RESET ROLE;
REVOKE SELECT ON hp.budget_status FROM regress_hp_viewer;
GRANT SELECT ON hp.budget_status TO PUBLIC;

-- Identifiers are quoted: a table and columns named with quotes, spaces
-- and semicolons route like any other, and nothing is injected.
RESET ROLE;
CREATE SCHEMA "odd schema" AUTHORIZATION regress_hp_ops;
SET ROLE regress_hp_ops;
CREATE TABLE "odd schema"."prefs; DROP TABLE prefs; --" (
	"pair ""id""" int PRIMARY KEY, "feat;s" text[], "the route" text, "sub ject" text);
INSERT INTO "odd schema"."prefs; DROP TABLE prefs; --" ("pair ""id""", "feat;s", "sub ject")
SELECT i, pattern_features(i), pattern_subject(i) FROM generate_series(1, 12) i;
CALL hp.route_pending('"odd schema"."prefs; DROP TABLE prefs; --"', :'ppm', 4, 'month',
                      batch_size => 5, id_col => 'pair "id"', features_col => 'feat;s',
                      route_col => 'the route', tag_col => 'sub ject');
SELECT array_agg("pair ""id""" ORDER BY "pair ""id""") FILTER (WHERE "the route" = 'human') AS humans,
       count(*) FILTER (WHERE "the route" IS NULL) AS unrouted
FROM "odd schema"."prefs; DROP TABLE prefs; --";
SELECT table_name, period, budget, spent FROM hp.budget_status WHERE period = 'month';
SELECT * FROM hp.labels_received('"odd schema"."prefs; DROP TABLE prefs; --"', 'sub ject', 'the route');
SELECT count(*) AS prefs_still_there FROM prefs;

-- The rest of the SQL surface on the role's own tables.
CREATE TABLE pairs (id bigint PRIMARY KEY, features text[], chosen real[], rejected real[], route text);
INSERT INTO pairs
SELECT i, pattern_features(i),
       ARRAY[1 + (i % 3), (i % 5) * 0.5, 1]::real[], ARRAY[(i % 4) * 0.5, 1, (i % 2)]::real[]
FROM generate_series(1, 30) i;
CREATE TABLE rms AS SELECT hp.train_reward_model(chosen, rejected, '{"heads": 2}') AS m FROM pairs;
SELECT hp.model_info(m)->>'kind' AS kind,
       hp.reward(m, '{1,0,0}') IS NOT NULL AS reward,
       hp.prefer(m, '{1,0,0}', '{0,1,0}') BETWEEN 0 AND 1 AS prefer,
       array_length(hp.embed('a quick test', 16), 1) AS embed_dim
FROM rms;
SELECT count(*) FILTER (WHERE to_human) AS humans FROM hp.route(:'ppm', 'pairs', 5);
SELECT * FROM hp.route_table('pairs', :'ppm', 5);
SELECT count(*) AS curve_points FROM hp.budget_curve(:'ppm', 'pairs');

-- Catalog checks: every function is SECURITY INVOKER and executable by any
-- role, every view is security_invoker, every ops object and view column
-- carries a comment, and pg_dump keeps the ledger tables' rows.
RESET ROLE;
SELECT p.oid::regprocedure AS definer_or_not_public
FROM pg_proc p WHERE p.pronamespace = 'hp'::regnamespace
  AND (p.prosecdef OR NOT has_function_privilege('regress_hp_nopriv', p.oid, 'EXECUTE'));
SELECT c.relname AS view_not_security_invoker
FROM pg_class c WHERE c.relnamespace = 'hp'::regnamespace AND c.relkind = 'v'
  AND NOT coalesce(c.reloptions @> '{security_invoker=true}', false);
SELECT c.oid::regclass AS relation, a.attname AS column_without_comment
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relnamespace = 'hp'::regnamespace AND c.relkind IN ('r', 'v')
  AND col_description(c.oid, a.attnum) IS NULL;
SELECT o.oid::regprocedure AS ops_function_without_comment
FROM pg_proc o WHERE o.pronamespace = 'hp'::regnamespace
  AND o.proname IN ('route_pending', '_route_pending_prepare', '_route_batch', 'route_period',
                    '_vec_add', '_vec_sum', 'labels_received')
  AND obj_description(o.oid, 'pg_proc') IS NULL;
SELECT c.relname, c.relkind, obj_description(c.oid, 'pg_class') IS NOT NULL AS commented
FROM pg_class c WHERE c.relnamespace = 'hp'::regnamespace AND c.relkind IN ('r', 'v', 'i')
ORDER BY c.relname;
SELECT pol.polrelid::regclass AS relation, pol.polname, obj_description(pol.oid, 'pg_policy') IS NOT NULL AS commented
FROM pg_policy pol WHERE pol.polrelid::regclass::text LIKE 'hp.%' ORDER BY pol.polname;
SELECT unnest(extconfig)::regclass AS dumped_with_rows FROM pg_extension WHERE extname = 'hybridpref';

-- Clean up the roles (objects first).
DROP SCHEMA "odd schema", hp_ops CASCADE;
DROP OWNED BY regress_hp_ops, regress_hp_other, regress_hp_nopriv, regress_hp_viewer CASCADE;
DROP ROLE regress_hp_ops, regress_hp_other, regress_hp_nopriv, regress_hp_viewer;
