--
-- Preference distinguishability (Im & Li 2024): hp.distinguishability per
-- behaviour with GROUP BY, hp.priority_gap between behaviours, and the
-- routing helpers built on them.
--

-- Small behaviours whose statistics can be computed by hand.  A NULL vector
-- leaves its side out for that row, so a row may carry one side only.
CREATE TABLE dist_pairs (id bigint, tag text, chosen real[], rejected real[]);
INSERT INTO dist_pairs VALUES
  -- tiny: chosen (1,0) (3,0) (2,3), mean (2,1), deviations (-1,-1) (1,-1)
  -- (0,2), scatter [[2,0],[0,6]], covariance /2 = diag(1,3): trace 4,
  -- spectral norm 3.  Rejected (0,0) (0,2): mean (0,1), covariance
  -- diag(0,2): trace 2, spectral 2.  mu+ - mu- = (2,0), d = 2,
  -- snr = 4 / (4 + 2) = 0.667.
  (1, 'tiny', '{1,0}', '{0,0}'),
  (2, 'tiny', '{3,0}', '{0,2}'),
  (3, 'tiny', '{2,3}', NULL),
  -- rot: chosen mean (3,0), deviations (2,2) (-2,-2) (1,-1) (-1,1),
  -- covariance [[10,6],[6,10]] / 3, eigenvalues 16/3 and 4/3: trace 20/3,
  -- spectral 16/3 = 5.333.  Rejected all (0,0): trace 0, spectral 0.
  -- d = 3, snr = 9 / (20/3) = 1.35.
  (4, 'rot', '{5,2}', '{0,0}'),
  (5, 'rot', '{1,-2}', '{0,0}'),
  (6, 'rot', '{4,-1}', '{0,0}'),
  (7, 'rot', '{2,1}', NULL),
  -- up: mean_diff (0,1) with no spread at all: snr undefined (0/0).
  (8, 'up', '{0,1}', '{0,0}'),
  (9, 'up', '{0,1}', '{0,0}'),
  -- half: no rejected rows: d, snr and the rejected side are null.
  (10, 'half', '{1,1}', NULL),
  (11, 'half', '{3,1}', NULL),
  -- single: one row per side: d = |(1,0) - (4,4)| = 5, no covariance.
  (12, 'single', NULL, '{4,4}'),
  (13, 'single', '{1,0}', NULL);

CREATE TABLE dist_stats AS
SELECT tag, hp.distinguishability(chosen, rejected) AS st FROM dist_pairs GROUP BY tag;

SELECT tag, st->'n_chosen' AS n_c, st->'n_rejected' AS n_r,
       round((st->>'d')::numeric, 12) AS d,
       round((st->>'trace_chosen')::numeric, 12) AS tr_c,
       round((st->>'trace_rejected')::numeric, 12) AS tr_r,
       round((st->>'spectral_chosen')::numeric, 12) AS sp_c,
       round((st->>'spectral_rejected')::numeric, 12) AS sp_r,
       round((st->>'snr')::numeric, 12) AS snr,
       st->'mean_diff' AS mean_diff
FROM dist_stats ORDER BY tag;

-- The whole document of one behaviour: trace and concentration are the
-- larger of the two sides, covariance says the full matrix was kept.
SELECT jsonb_pretty(st) FROM dist_stats WHERE tag = 'rot';

-- No rows at all (or only NULL vectors): NULL, like other aggregates.
SELECT hp.distinguishability(chosen, rejected) IS NULL AS empty FROM dist_pairs WHERE false;
SELECT hp.distinguishability(NULL::real[], NULL::real[]) IS NULL AS all_null FROM dist_pairs;

-- The state is a plain bytea with a combine function and no serial pair,
-- which is what a distributed planner (Citus) needs to push it down.
SELECT aggtranstype::regtype AS stype, aggcombinefn, aggserialfn, aggdeserialfn
FROM pg_aggregate WHERE aggfnoid = 'hp.distinguishability'::regproc;
SELECT proparallel FROM pg_proc WHERE oid = 'hp.distinguishability'::regproc;

-- As a window aggregate the final function runs on a state that keeps
-- growing; it must not change it, so the running value ends where the plain
-- aggregate does.
SELECT id, round((st->>'trace_chosen')::numeric, 12) AS running_trace_chosen
FROM (SELECT id, hp.distinguishability(chosen, rejected) OVER (ORDER BY id) AS st
      FROM dist_pairs WHERE tag = 'rot') s ORDER BY id;

-- Priority gaps.  gap = (|d_i|^2 - |d_j|^2) / (|d_i + d_j| max(|d_i|, |d_j|)):
-- rot (3,0) vs tiny (2,0): (9 - 4) / (5 * 3) = 1/3; rot vs up (0,1):
-- (9 - 1) / (sqrt(10) * 3) = 0.843274; tiny vs up: (4 - 1) / (sqrt(5) * 2)
-- = 0.670820.  Positive: rot is learned before tiny, tiny before up.  half
-- has no mean_diff: NULL gaps.
SELECT i, j, round(gap::numeric, 12) AS gap
FROM hp.priority_gap(ARRAY(SELECT tag FROM dist_stats WHERE tag <> 'single' ORDER BY tag),
                     ARRAY(SELECT st FROM dist_stats WHERE tag <> 'single' ORDER BY tag));
-- The same from an object {tag: stats}, pairs in tag order.
SELECT i, j, round(gap::numeric, 12) AS gap
FROM hp.priority_gap((SELECT jsonb_object_agg(tag, st) FROM dist_stats WHERE tag IN ('rot', 'up')));
-- Opposite mean differences: b = 0 and the gap is undefined.
SELECT gap FROM hp.priority_gap('{a,b}', ARRAY['{"mean_diff": [1, 2]}', '{"mean_diff": [-1, -2]}']::jsonb[])
WHERE i = 'a';
SELECT count(*) AS no_rows FROM hp.priority_gap('{}'::text[], '{}'::jsonb[]);

-- Gaussian behaviours with known parameters, n = 40000 per side, dim 6.
--   g1: mu+ = (1,0,...), S+ = I + 4 u u^T with u = (1,1,0,...)/sqrt(2):
--       trace 10, spectral 5; rejected 0.5 z: S- = I/4, trace 1.5,
--       spectral 0.25; d = 1, snr = 1 / 11.5.
--   g2: mu+ = (0,0,3,0,0,0), S+ = S- = I: traces 6, spectral 1, d = 3,
--       snr = 9 / 12.
CREATE FUNCTION dist_gauss() RETURNS float8 LANGUAGE sql VOLATILE AS
$$ SELECT sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) $$;
SELECT setseed(0.25);
CREATE TABLE dist_gauss AS
SELECT i AS id, 'g1' AS tag,
       (SELECT array_agg((CASE j WHEN 1 THEN 1 ELSE 0 END + dist_gauss()
                          + CASE WHEN j <= 2 THEN 2 * w / sqrt(2) ELSE 0 END)::real ORDER BY j)
        FROM generate_series(1, 6) j) AS chosen,
       (SELECT array_agg((0.5 * dist_gauss() + 0 * i)::real ORDER BY j) FROM generate_series(1, 6) j) AS rejected
FROM (SELECT i, dist_gauss() AS w FROM generate_series(1, 40000) i) s
UNION ALL
SELECT i, 'g2',
       (SELECT array_agg((CASE j WHEN 3 THEN 3 ELSE 0 END + dist_gauss() + 0 * i)::real ORDER BY j)
        FROM generate_series(1, 6) j),
       (SELECT array_agg((dist_gauss() + 0 * i)::real ORDER BY j) FROM generate_series(1, 6) j)
FROM generate_series(40001, 80000) i;
ANALYZE dist_gauss;

CREATE TABLE dist_truth (tag text, d float8, tr_c float8, tr_r float8, sp_c float8, sp_r float8, snr float8);
INSERT INTO dist_truth VALUES ('g1', 1, 10, 1.5, 5, 0.25, 1 / 11.5), ('g2', 3, 6, 6, 1, 1, 0.75);

-- Sampling errors are O(1/sqrt(n)); the largest eigenvalue of a sample
-- covariance is biased up by about sqrt(dim/n) = 1.2%.
SELECT t.tag,
       abs((st->>'d')::float8 - t.d) / t.d < 0.03 AS d_ok,
       abs((st->>'trace_chosen')::float8 - t.tr_c) / t.tr_c < 0.03 AS tr_c_ok,
       abs((st->>'trace_rejected')::float8 - t.tr_r) / t.tr_r < 0.03 AS tr_r_ok,
       abs((st->>'spectral_chosen')::float8 - t.sp_c) / t.sp_c < 0.05 AS sp_c_ok,
       abs((st->>'spectral_rejected')::float8 - t.sp_r) / t.sp_r < 0.05 AS sp_r_ok,
       abs((st->>'snr')::float8 - t.snr) / t.snr < 0.06 AS snr_ok
FROM (SELECT tag, hp.distinguishability(chosen, rejected) AS st FROM dist_gauss GROUP BY tag) s
JOIN dist_truth t USING (tag) ORDER BY tag;

-- The row order changes nothing beyond rounding.
CREATE FUNCTION dist_max_rel(a jsonb, b jsonb) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
  WITH v(x, y) AS (
    SELECT f.value, b->g.key->f.key
    FROM jsonb_each(a) g, jsonb_each(g.value) f
    WHERE jsonb_typeof(f.value) IN ('number', 'null')
    UNION ALL
    SELECT e.x, b->g.key->'mean_diff'->(e.o::int - 1)
    FROM jsonb_each(a) g,
         jsonb_array_elements(CASE jsonb_typeof(g.value->'mean_diff') WHEN 'array'
                                THEN g.value->'mean_diff' ELSE '[]' END) WITH ORDINALITY e(x, o)
  )
  SELECT max(CASE WHEN jsonb_typeof(x) = 'null' AND jsonb_typeof(y) = 'null' THEN 0
                  WHEN jsonb_typeof(x) <> 'number' OR jsonb_typeof(y) IS DISTINCT FROM 'number' THEN 'Infinity'
                  ELSE abs(x::float8 - y::float8) / greatest(abs(x::float8), abs(y::float8), 1e-300) END)
  FROM v
$$;
-- (dist_max_rel compares every number and mean_diff element of two results.)
SELECT dist_max_rel('{"a": {"d": 1, "snr": null, "mean_diff": [1, 2]}}',
                    '{"a": {"d": 1, "snr": null, "mean_diff": [1, 4]}}') AS rel_diff_example;
SELECT dist_max_rel(
         (SELECT jsonb_object_agg(tag, st) FROM (SELECT tag, hp.distinguishability(chosen, rejected ORDER BY id) AS st FROM dist_gauss GROUP BY tag) s),
         (SELECT jsonb_object_agg(tag, st) FROM (SELECT tag, hp.distinguishability(chosen, rejected ORDER BY id DESC) AS st FROM dist_gauss GROUP BY tag) s))
       < 1e-9 AS order_independent;

-- Parallel plan: each worker builds partial states, the leader merges them
-- (Chan); the result equals the serial one to 1e-9 relative.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT tag, hp.distinguishability(chosen, rejected) FROM dist_gauss GROUP BY tag;
SELECT jsonb_object_agg(tag, st)::text AS par
FROM (SELECT tag, hp.distinguishability(chosen, rejected) AS st FROM dist_gauss GROUP BY tag) s \gset
SET max_parallel_workers_per_gather = 0;
SELECT jsonb_object_agg(tag, st)::text AS ser
FROM (SELECT tag, hp.distinguishability(chosen, rejected) AS st FROM dist_gauss GROUP BY tag) s \gset
RESET ALL;
SELECT dist_max_rel(:'par'::jsonb, :'ser'::jsonb) < 1e-9 AS parallel_equals_serial,
       (SELECT count(*) FROM jsonb_object_keys(:'par'::jsonb)) AS groups;

-- Large dimensions.  hp.covariance_power_step is one pass of power
-- iteration: S v.  For rot, S e1 is the first column of S: (10/3, 2).
SELECT hp.covariance_power_step(chosen, '{1,0}') AS s_e1 FROM dist_pairs WHERE tag = 'rot';
-- hp.spectral_norm iterates it over passes; on g1 it finds the 5-ish
-- eigenvalue hp.distinguishability got from the eigen-solver.
SELECT abs(hp.spectral_norm('dist_gauss', 'chosen', $$tag = 'g1'$$) - (st->>'spectral_chosen')::float8)
         / (st->>'spectral_chosen')::float8 < 1e-9 AS power_iteration_matches
FROM (SELECT hp.distinguishability(chosen, rejected) AS st FROM dist_gauss WHERE tag = 'g1') s;

-- Above dim 1024 only per-coordinate moments are kept: d and the traces are
-- exact, spectral norms are null.  Rows x = a u (a = 1..5) have covariance
-- var(a) u u^T = 2.5 u u^T: rank one, so trace = spectral norm = 2.5 |u|^2.
CREATE TABLE dist_wide AS
SELECT a AS id, 'w' AS tag,
       (SELECT array_agg((a * ((j % 7) - 3) / 4.0)::real ORDER BY j) FROM generate_series(1, 1100) j) AS chosen,
       array_fill(0::real, ARRAY[1100]) AS rejected
FROM generate_series(1, 5) a;
SELECT st->>'covariance' AS covariance, st->'dim' AS dim,
       abs((st->>'trace_chosen')::float8 - 2.5 * u2) / (2.5 * u2) < 1e-12 AS trace_exact,
       st->'spectral_chosen' AS spectral_chosen, st->'concentration' AS concentration,
       abs(hp.spectral_norm('dist_wide', 'chosen') - 2.5 * u2) / (2.5 * u2) < 1e-9 AS spectral_norm_ok
FROM (SELECT hp.distinguishability(chosen, rejected) AS st FROM dist_wide) s,
     (SELECT sum((((j % 7) - 3) / 4.0)::float8 ^ 2) AS u2 FROM generate_series(1, 1100) j) u;

-- Routing.  A fixed-threshold feature per tag (defaults 0.01 and 0.1)...
SELECT s, hp.distinguishability_bin(s) AS bin
FROM unnest(ARRAY[0.005, 0.05, 0.5, NULL]::float8[]) s;
SELECT hp.distinguishability_bin(0.5, 1, 2) AS custom;
-- ...or tertiles among the tags: the thresholds are the 1/3 and 2/3
-- percentiles of {.1,...,.6}, 0.2667 and 0.4333.
SELECT * FROM hp.distinguishability_bins('{"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4, "e": 0.5, "f": 0.6, "g": null}');
SELECT tag, bin FROM hp.distinguishability_bins((SELECT jsonb_object_agg(tag, st) FROM dist_stats));

-- The baseline router sends the least distinguishable groups to humans
-- first, with hp.route's output and budget rules.  13 rows, budget 0.4:
-- round(5.2) = 5 rows; tiny (snr 0.667, ids 1-3) goes first, then rot
-- (1.35, ids 4-7) by id; tags without an snr come last.  Rows in id order.
SELECT * FROM hp.route_distinguishability((SELECT jsonb_object_agg(tag, st) FROM dist_stats),
                                          'dist_pairs', 0.4);
-- hp.route_by_distinguishability takes arrays instead: per instance its id,
-- its tag and its group's snr; budget 2 is a count.
SELECT * FROM hp.route_by_distinguishability('{a,b,a,c}', '{0.3,0.1,0.3,NULL}', '{10,11,12,13}', 2);

-- The dashboard: per tag n, d, snr, trace, concentration and the share of
-- rows routed to humans.
CREATE TABLE dist_routed AS
SELECT p.*, CASE WHEN r.to_human THEN 'human' ELSE 'llm' END AS route
FROM dist_pairs p
JOIN hp.route_distinguishability((SELECT jsonb_object_agg(tag, st) FROM dist_stats),
                                 'dist_pairs', 0.4) r ON r.id = p.id;
SELECT tag, n, round(d::numeric, 6) AS d, round(snr::numeric, 6) AS snr,
       round(trace::numeric, 6) AS trace, round(concentration::numeric, 6) AS concentration, human_share
FROM hp.distinguishability_report('dist_routed', 'tag', 'chosen', 'rejected', 'route');
-- Identifiers are quoted: odd names work and cannot inject SQL.
CREATE TABLE "dist odd" ("the tag" text, "c;" real[], "R" real[]);
INSERT INTO "dist odd" VALUES ('x', '{1}', '{0}'), ('x', '{3}', '{0}');
SELECT tag, n, d, snr, human_share FROM hp.distinguishability_report('"dist odd"', 'the tag', 'c;', 'R');

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
SELECT hp_try($q$SELECT hp.distinguishability('{1,2}', '{1,2,3}')$q$);
SELECT hp_try($q$SELECT hp.distinguishability(c::real[], NULL) FROM (VALUES ('{1,2}'), ('{1,2,3}')) v(c)$q$);
SELECT hp_try($q$SELECT hp.distinguishability('{1,NaN}', '{1,2}')$q$);
SELECT hp_try($q$SELECT hp.distinguishability('{1,2}', '{1,Infinity}')$q$);
SELECT hp_try($q$SELECT hp.distinguishability('{1,NULL}', '{1,2}')$q$);
SELECT hp_try($q$SELECT hp.distinguishability('{}', '{1,2}')$q$);
SELECT hp_try($q$SELECT hp.distinguishability('{{1,2},{3,4}}', NULL)$q$);
SELECT hp_try($q$SELECT hp._dist_final('\x0102'::bytea)$q$);
SELECT hp_try($q$SELECT hp._dist_combine(hp._dist_trans(NULL, '{1}', '{2}'), hp._dist_trans(NULL, '{1,2}', NULL))$q$);
SELECT hp_try($q$SELECT hp.covariance_power_step(x, v) FROM (VALUES ('{1,2}'::real[], '{1,0}'::float8[]), ('{1,3}', '{0,1}')) t(x, v)$q$);
SELECT hp_try($q$SELECT hp.covariance_power_step('{1,2}', NULL)$q$);
SELECT hp_try($q$SELECT hp.covariance_power_step('{1,2}', '{1,2,3}')$q$);
SELECT hp_try($q$SELECT * FROM hp.priority_gap('{a,b}', ARRAY['{"mean_diff": [1]}']::jsonb[])$q$);
SELECT hp_try($q$SELECT * FROM hp.priority_gap('{a,b}', ARRAY['{"mean_diff": [1]}', '{"mean_diff": [1, 2]}']::jsonb[])$q$);
SELECT hp_try($q$SELECT * FROM hp.priority_gap('{a}', ARRAY['[1, 2]']::jsonb[])$q$);
SELECT hp_try($q$SELECT * FROM hp.priority_gap('{a}', ARRAY['{"d": 1}']::jsonb[])$q$);
SELECT hp_try($q$SELECT * FROM hp.priority_gap('{a}', ARRAY['{"mean_diff": ["x"]}']::jsonb[])$q$);
SELECT hp_try($q$SELECT * FROM hp.route_by_distinguishability('{a,b}', '{1,2}', '{1,2}', 1.5)$q$);
SELECT hp_try($q$SELECT * FROM hp.route_by_distinguishability('{a,b}', '{1,2}', '{1,2}', 3)$q$);
SELECT hp_try($q$SELECT * FROM hp.route_by_distinguishability('{a}', '{1}', '{1}', -0.1)$q$);
SELECT hp_try($q$SELECT * FROM hp.route_by_distinguishability('{a}', '{1}', '{1}', 'NaN')$q$);
SELECT hp_try($q$SELECT * FROM hp.route_by_distinguishability('{a,b}', '{1}', '{1,2}', 1)$q$);
SELECT hp_try($q$SELECT * FROM hp.route_by_distinguishability('{a,a}', '{1,2}', '{1,2}', 1)$q$);
SELECT hp_try($q$SELECT * FROM hp.route_by_distinguishability('{a,b}', '{1,2}', '{1,1}', 1)$q$);
SELECT hp_try($q$SELECT * FROM hp.route_distinguishability('{}', 'dist_pairs', 0.5, 'no such column')$q$);
SELECT hp_try($q$SELECT * FROM hp.route_distinguishability('{}', 'dist_pairs', 0.5, 'tag', 'tag')$q$);
SELECT hp_try($q$SELECT * FROM hp.route_distinguishability('{}', 'dist_pairs', 0.5, 'tag', 'chosen')$q$);
SELECT hp_try($q$SELECT hp.distinguishability_bin(0.5, 0.2, 0.1)$q$);
SELECT hp_try($q$SELECT hp.spectral_norm('dist_pairs', 'chosen', NULL, 0)$q$);
