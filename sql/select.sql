--
-- Choosing the response pair to annotate: hp.select_pair (model-based) and
-- hp.select_pair_by_score (judge scores), per prompt with GROUP BY.
--

-- A hand-made model with two heads, w1 = (1, 1) and w2 = (1, -1).  For a
-- candidate x = (m, s) the heads give m + s and m - s, so the ensemble mean
-- is mu = m and the spread (population std) is sigma = |s|: each candidate's
-- embedding spells out its mu and sigma.
CREATE TABLE sel_model AS SELECT hp.linear_model('{{1,1},{1,-1}}') AS m;

CREATE TABLE cands (prompt int, id bigint, x real[]);
INSERT INTO cands VALUES
  (1, 1, '{0, 0}'),      -- mu  0,   sigma 0
  (1, 2, '{2, 0}'),      -- mu  2,   sigma 0
  (1, 3, '{1, 3}'),      -- mu  1,   sigma 3
  (1, 4, '{-1, 0}'),     -- mu -1,   sigma 0
  (1, 5, '{-0.5, 2}');   -- mu -0.5, sigma 2

SELECT id, hp.reward(m, x) AS mu, hp.reward_std(m, x) AS sigma
FROM cands, sel_model ORDER BY id;

-- maxmin: best mu (2) against worst mu (4).
SELECT hp.select_pair(m, id, x, 'maxmin', 1.0, 0) AS maxmin FROM cands, sel_model;

-- deltaucb, beta 1: U = mu + sigma = {0, 2, 4, -1, 1.5}, L = mu - sigma =
-- {0, 2, -2, -1, -2.5}; max U_i - L_j is U_3 - L_5 = 6.5.  Returned with the
-- higher mu first: {3, 5}.
SELECT hp.select_pair(m, id, x, 'deltaucb', 1.0, 0) AS deltaucb_beta1 FROM cands, sel_model;
-- beta 0 ignores uncertainty and is maxmin again: beta is honoured.
SELECT hp.select_pair(m, id, x, 'deltaucb', 0.0, 0) AS deltaucb_beta0 FROM cands, sel_model;

-- infomax, beta 1: sigmoid(U_i - L_j) - sigmoid(L_i - U_j) is largest for
-- (3, 5): sigmoid(6.5) - sigmoid(-3.5) = 0.969; next are (1, 3) and (2, 3)
-- at 0.863.
SELECT hp.select_pair(m, id, x, 'infomax', 1.0, 0) AS infomax FROM cands, sel_model;

-- maxminlcb, beta 1: LCB(i,j) = (mu_i - mu_j) - (sigma_i + sigma_j).  The
-- worst case of each i is {-4, -2, -4, -5, -6.5}, so first = 2, and
-- LCB(2, j) is smallest at j = 3 (-2): {2, 3}.
SELECT hp.select_pair(m, id, x, 'maxminlcb', 1.0, 0) AS maxminlcb FROM cands, sel_model;

-- drts, beta 0: the first sample is mu itself (argmax: 2), the second is
-- -mu (argmax: 4).  With beta > 0 the samples explore.
SELECT hp.select_pair(m, id, x, 'drts', 0.0, 0) AS drts_beta0 FROM cands, sel_model;

-- dts, beta 0: both samples pick 2, so after 30 redraws the second is a
-- seeded random other candidate; the first is still 2.
SELECT (hp.select_pair(m, id, x, 'dts', 0.0, 0))[1] AS dts_beta0_first FROM cands, sel_model;

-- Sampling methods return two distinct candidates of the group.
SELECT meth, p[1] <> p[2] AS distinct_pair, p <@ ARRAY[1,2,3,4,5]::bigint[] AS from_group
FROM (SELECT meth, hp.select_pair(m, id, x, meth, 1.0, 42) AS p
      FROM cands, sel_model,
           unnest('{random,ultrafeedback,dts,drts}'::text[]) meth
      GROUP BY meth) s ORDER BY meth;

-- Judge scores instead of a model (the static baselines).
SELECT hp.select_pair_by_score(id, score, 'maxmin', 0) AS maxmin_by_score
FROM (VALUES (10, 0.5), (11, 9.0), (12, 3.0), (13, NULL)) v(id, score);
-- ultrafeedback with four candidates samples all four: chosen is the best.
SELECT (hp.select_pair_by_score(id, score, 'ultrafeedback', 7))[1] AS uf_chosen
FROM (VALUES (10, 0.5), (11, 9.0), (12, 3.0), (13, 1.0)) v(id, score);

-- Fewer than two candidates: NULL, not an error.
SELECT hp.select_pair(m, id, x, 'drts', 1.0, 0) IS NULL AS single FROM cands, sel_model WHERE id = 1;

-- Many prompts: the pair depends on the candidates and the seed only, not on
-- the row order or the plan.
SELECT setseed(0.7);
CREATE TABLE many AS
SELECT p AS prompt, p * 100 + k AS id,
       ARRAY[random() * 4 - 2, random() * 2]::real[] AS x
FROM generate_series(1, 3000) p, generate_series(1, 8) k;
ANALYZE many;

CREATE FUNCTION pairs_digest(meth text, rev bool) RETURNS text LANGUAGE sql AS $$
  SELECT md5(string_agg(prompt || ':' || pr::text, ',' ORDER BY prompt))
  FROM (SELECT prompt,
               CASE WHEN rev THEN hp.select_pair(m, id, x, meth, 1.0, 42 ORDER BY id DESC)
                    ELSE hp.select_pair(m, id, x, meth, 1.0, 42 ORDER BY id) END AS pr
        FROM many, sel_model GROUP BY prompt) s
$$;
SELECT meth, pairs_digest(meth, false) = pairs_digest(meth, true) AS order_independent
FROM unnest('{random,ultrafeedback,maxmin,infomax,dts,drts,deltaucb,maxminlcb}'::text[]) meth;

-- A different seed changes the sampled pairs.
SELECT count(*) FILTER (WHERE a <> b) > 100 AS seed_matters
FROM (SELECT prompt, hp.select_pair(m, id, x, 'drts', 1.0, 1) a, hp.select_pair(m, id, x, 'drts', 1.0, 2) b
      FROM many, sel_model GROUP BY prompt) s;

-- Parallel plan: a partial aggregate per worker, the same pairs.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT prompt, hp.select_pair((SELECT m FROM sel_model), id, x, 'drts', 1.0, 42) FROM many GROUP BY prompt;
SELECT md5(string_agg(p::text, ',' ORDER BY p::text)) AS par
FROM (SELECT hp.select_pair((SELECT m FROM sel_model), id, x, 'drts', 1.0, 42) AS p FROM many GROUP BY prompt) s \gset
RESET max_parallel_workers_per_gather;
SET max_parallel_workers_per_gather = 0;
SELECT md5(string_agg(p::text, ',' ORDER BY p::text)) AS ser
FROM (SELECT hp.select_pair((SELECT m FROM sel_model), id, x, 'drts', 1.0, 42) AS p FROM many GROUP BY prompt) s \gset
SELECT :'par' = :'ser' AS parallel_equals_serial;
RESET ALL;

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
SELECT hp_try($q$SELECT hp.select_pair(m, id, x, 'best', 1.0, 0) FROM cands, sel_model$q$);
SELECT hp_try($q$SELECT hp.select_pair_by_score(id, 1.0, 'drts', 0) FROM cands$q$);
SELECT hp_try($q$SELECT hp.select_pair(m, id, x, 'drts', -1.0, 0) FROM cands, sel_model$q$);
SELECT hp_try($q$SELECT hp.select_pair(m, 1, x, 'drts', 1.0, 0) FROM cands, sel_model$q$);
SELECT hp_try($q$SELECT hp.select_pair(m, NULL, x, 'drts', 1.0, 0) FROM cands, sel_model$q$);
SELECT hp_try($q$SELECT hp.select_pair(m, id, '{1,2,3}', 'drts', 1.0, 0) FROM cands, sel_model$q$);
SELECT hp_try($q$SELECT hp.select_pair(m, id, x, NULL, 1.0, 0) FROM cands, sel_model$q$);
SELECT hp_try($q$SELECT hp.select_pair_by_score(id, 'Infinity', 'maxmin', 0) FROM cands$q$);
