
-- Preference distinguishability diagnostics (Im & Li 2024) ----------------------
--
-- Per behaviour (tag): D = |mu+ - mu-|, covariance traces and spectral norms,
-- SNR = D^2 / (tr S+ + tr S-), and the priority gaps that predict which
-- behaviour a reward model learns first.  The aggregate state is a bytea with
-- a versioned header, not internal, so distributed planners (Citus) can push
-- the aggregate down; there is no serial/deserial pair to maintain.

CREATE FUNCTION hp._dist_trans(bytea, real[], real[])
RETURNS bytea AS 'MODULE_PATHNAME', 'dist_trans'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION hp._dist_combine(bytea, bytea)
RETURNS bytea AS 'MODULE_PATHNAME', 'dist_combine'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hp._dist_final(bytea)
RETURNS jsonb AS 'MODULE_PATHNAME', 'dist_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION hp._dist_trans(bytea, real[], real[]) IS
'transition function of hp.distinguishability: buffers rows per side, one dsyrk per 64 rows; updates the state in place inside an aggregate';
COMMENT ON FUNCTION hp._dist_combine(bytea, bytea) IS
'combine function of hp.distinguishability: exact Chan merge of counts, means and scatter matrices';
COMMENT ON FUNCTION hp._dist_final(bytea) IS
'final function of hp.distinguishability: statistics as jsonb (the state is not modified)';

CREATE AGGREGATE hp.distinguishability(chosen real[], rejected real[]) (
	SFUNC = hp._dist_trans, STYPE = bytea,
	COMBINEFUNC = hp._dist_combine,
	FINALFUNC = hp._dist_final, PARALLEL = SAFE
);

COMMENT ON AGGREGATE hp.distinguishability(real[], real[]) IS
$$Distinguishability of a behaviour, used with GROUP BY tag (Im & Li 2024).  Returns jsonb:
n_chosen, n_rejected (rows per side); d = |mu+ - mu-|; trace_chosen, trace_rejected = tr S (unbiased
covariance) and trace = their max; spectral_chosen, spectral_rejected = |S|_2 and concentration = their
max; snr = d^2 / (trace_chosen + trace_rejected); snr_unbiased = (d^2 - trace_chosen/n_chosen - trace_rejected/n_rejected) / (trace_chosen + trace_rejected), clipped at 0, the reading the routers use; dim; covariance = full | diagonal; mean_diff = mu+ - mu-
(array, read by hp.priority_gap).  A NULL chosen or rejected argument leaves that side out for the row.
A side with no rows makes its statistics, d, snr and mean_diff null; a side with one row has no covariance
(its trace and spectral norm are null); trace, concentration and snr are null unless both sides define
them, and snr is null when both traces are 0.  NaN/Inf or NULL elements and dimension mismatches are errors.
Up to dim 1024 the full covariance is kept (state 2 d^2 doubles, ~4 MB at d = 512, 17 MB at 1024;
O(n d^2) time in blocked dsyrk, plus one O(d^3) eigenvalue solve per side at the end).  Above 1024 only
per-coordinate moments are kept (O(d) state): d, traces and snr stay exact, spectral norms are null
(use hp.spectral_norm).  With many groups, give work_mem room for groups x state size so a
HashAggregate keeps every state in memory.$$;

-- Spectral norm for large dimensions: power iteration over passes -------------

CREATE FUNCTION hp._covstep_trans(bytea, real[], float8[])
RETURNS bytea AS 'MODULE_PATHNAME', 'covstep_trans'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION hp._covstep_combine(bytea, bytea)
RETURNS bytea AS 'MODULE_PATHNAME', 'covstep_combine'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hp._covstep_final(bytea)
RETURNS float8[] AS 'MODULE_PATHNAME', 'covstep_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION hp._covstep_trans(bytea, real[], float8[]) IS
'transition function of hp.covariance_power_step: Welford update of M2 v in O(d)';
COMMENT ON FUNCTION hp._covstep_combine(bytea, bytea) IS
'combine function of hp.covariance_power_step (Chan merge)';
COMMENT ON FUNCTION hp._covstep_final(bytea) IS
'final function of hp.covariance_power_step: S v';

CREATE AGGREGATE hp.covariance_power_step(x real[], v float8[]) (
	SFUNC = hp._covstep_trans, STYPE = bytea,
	COMBINEFUNC = hp._covstep_combine,
	FINALFUNC = hp._covstep_final, PARALLEL = SAFE
);

COMMENT ON AGGREGATE hp.covariance_power_step(real[], float8[]) IS
'one power-iteration pass: S v for the unbiased covariance S of the rows x and a fixed vector v (the same in every row); O(n d) time, O(d) state, one pass, without forming S; NULL with fewer than two rows; NULL x rows are skipped';

CREATE FUNCTION hp.spectral_norm(rel regclass, col name, filter text DEFAULT NULL, iters int DEFAULT 50)
RETURNS float8 LANGUAGE plpgsql STABLE PARALLEL RESTRICTED AS $$
DECLARE
	q text;
	v float8[];
	w float8[];
	lambda float8;
	prev float8;
	nrm float8;
	dim int;
BEGIN
	IF rel IS NULL OR col IS NULL OR iters IS NULL THEN
		RAISE EXCEPTION 'rel, col and iters must not be NULL' USING ERRCODE = '22004';
	END IF;
	IF iters < 1 THEN
		RAISE EXCEPTION 'iters must be at least 1, got %', iters USING ERRCODE = '22023';
	END IF;
	EXECUTE format('SELECT array_length(%I, 1) FROM %s WHERE %I IS NOT NULL AND (%s) LIMIT 1',
	               col, rel, col, coalesce(filter, 'true')) INTO dim;
	IF dim IS NULL THEN
		RETURN NULL;
	END IF;
	-- A fixed start with no special direction: cos of an irrational multiple.
	SELECT array_agg(cos(j * 2.399963229728653) ORDER BY j) INTO v FROM generate_series(1, dim) j;
	SELECT sqrt(sum(a * a)) INTO nrm FROM unnest(v) a;
	SELECT array_agg(a / nrm ORDER BY o) INTO v FROM unnest(v) WITH ORDINALITY t(a, o);
	q := format('SELECT hp.covariance_power_step(%I, $1) FROM %s WHERE (%s)', col, rel, coalesce(filter, 'true'));
	FOR it IN 1 .. iters LOOP
		EXECUTE q INTO w USING v;
		IF w IS NULL THEN
			RETURN NULL;
		END IF;
		-- Rayleigh quotient v.Sv (|v| = 1): its error falls twice as fast as |Sv|'s.
		SELECT sum(a * b) INTO lambda FROM unnest(v, w) t(a, b);
		SELECT sqrt(sum(a * a)) INTO nrm FROM unnest(w) a;
		IF nrm = 0 THEN
			RETURN 0;
		END IF;
		SELECT array_agg(a / nrm ORDER BY o) INTO v FROM unnest(w) WITH ORDINALITY t(a, o);
		EXIT WHEN prev IS NOT NULL AND abs(lambda - prev) <= 1e-12 * abs(lambda);
		prev := lambda;
	END LOOP;
	RETURN lambda;
END $$;

COMMENT ON FUNCTION hp.spectral_norm(regclass, name, text, int) IS
'spectral norm (largest eigenvalue) of the unbiased covariance of the real[] column col of rel over the rows matching filter (SQL boolean expression, run with the caller''s privileges), by power iteration: one hp.covariance_power_step pass per iteration (O(n d) each), at most iters passes, stopping when the Rayleigh quotient changes by less than 1e-12 relative; converges slowly when the top two eigenvalues are close.  For dims above 1024, where hp.distinguishability reports no spectral norm';

-- Priority gaps between behaviours ------------------------------------------------

CREATE FUNCTION hp.priority_gap(names text[], stats jsonb[])
RETURNS TABLE(i text, j text, gap float8)
AS 'MODULE_PATHNAME', 'priority_gap_arrays'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE ROWS 100;

COMMENT ON FUNCTION hp.priority_gap(text[], jsonb[]) IS
$$Priority gaps between behaviours: stats[k] is the hp.distinguishability result of behaviour names[k].
One row per ordered pair (i, j), i <> j, in input order: gap = (p_i - p_j) / max(|d_i|, |d_j|) with
d = mean_diff, b = (d_i + d_j) / 2 and p_i = <b, d_i> / |b|; positive means i is learned before j.
Antisymmetric.  NULL when either behaviour has no mean_diff (an empty side), when both d are 0, or when
d_i = -d_j.  Computed from the Gram matrix of the d (one dsyrk); at most 4096 behaviours.$$;

CREATE FUNCTION hp.priority_gap(by_tag jsonb)
RETURNS TABLE(i text, j text, gap float8)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT g.i, g.j, g.gap
	FROM hp.priority_gap(ARRAY(SELECT key FROM jsonb_each(by_tag) ORDER BY key),
	                     ARRAY(SELECT value FROM jsonb_each(by_tag) ORDER BY key)) g
$$;

COMMENT ON FUNCTION hp.priority_gap(jsonb) IS
'priority gaps from an object {tag: hp.distinguishability result}, e.g. (SELECT jsonb_object_agg(tag, stats) FROM s); pairs in tag order';

-- Routing by distinguishability ----------------------------------------------------

CREATE FUNCTION hp.distinguishability_bin(snr float8, low float8 DEFAULT 0.01, high float8 DEFAULT 0.1)
RETURNS text LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
	-- NaN sorts above every number in PostgreSQL, so it would pass as +Infinity.
	IF low IS NULL OR high IS NULL OR low = 'NaN' OR high = 'NaN' OR NOT (low <= high) THEN
		RAISE EXCEPTION 'bin thresholds must be numbers with low <= high, got % and %', low, high
			USING ERRCODE = '22023';
	END IF;
	RETURN CASE WHEN snr IS NULL OR snr = 'NaN' THEN NULL
	            WHEN snr < low THEN 'dist:low'
	            WHEN snr < high THEN 'dist:mid'
	            ELSE 'dist:high' END;
END $$;

COMMENT ON FUNCTION hp.distinguishability_bin(float8, float8, float8) IS
$$Routing feature of a tag from its SNR: 'dist:low' when snr < low, 'dist:mid' when snr < high,
else 'dist:high'; NULL for a NULL snr.  Defaults: low 0.01, high 0.1, i.e. the squared mean shift is under
1% / 10% of the total variance.  SNR shrinks with the dimension for the same per-pair separability
(isotropic noise: pairwise Bayes accuracy ~ Phi(sqrt(dim * snr))), so for a fixed embedding model prefer
thresholds from the tags themselves: hp.distinguishability_bins bins by tertiles.$$;

CREATE FUNCTION hp.distinguishability_bins(by_tag jsonb)
RETURNS TABLE(tag text, snr float8, bin text)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
	WITH s AS (
		SELECT key AS tag,
		       CASE jsonb_typeof(value) WHEN 'number' THEN value::float8
		                                WHEN 'object' THEN coalesce(value->>'snr_unbiased', value->>'snr')::float8 END AS snr
		FROM jsonb_each(by_tag)
	), q AS (
		SELECT percentile_cont(1.0 / 3) WITHIN GROUP (ORDER BY snr) AS lo,
		       percentile_cont(2.0 / 3) WITHIN GROUP (ORDER BY snr) AS hi
		FROM s WHERE snr IS NOT NULL
	)
	SELECT s.tag, s.snr,
	       CASE WHEN s.snr IS NULL THEN NULL
	            WHEN s.snr < q.lo THEN 'dist:low'
	            WHEN s.snr < q.hi THEN 'dist:mid'
	            ELSE 'dist:high' END
	FROM s, q ORDER BY s.tag
$$;

COMMENT ON FUNCTION hp.distinguishability_bins(jsonb) IS
$$Two-step percentile binning: by_tag maps tag -> hp.distinguishability result (or a bare SNR number);
returns per tag its snr and 'dist:low' / 'dist:mid' / 'dist:high' for the lower, middle and upper third
of the SNRs among the tags (thresholds: the 1/3 and 2/3 percentiles, percentile_cont; a tag equal to a
threshold goes up); NULL bin for a NULL snr.$$;

CREATE FUNCTION hp._dist_budget_count(budget float8, n bigint) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
	-- The rules of hp.route, so every router reads a budget the same way.
	IF budget >= 0 AND budget <= 1 THEN
		RETURN least(floor(budget * n + 0.5), n)::bigint;
	END IF;
	IF budget > 1 AND budget <> 'Infinity' AND budget = floor(budget) AND budget <= n THEN
		RETURN budget::bigint;
	END IF;
	RAISE EXCEPTION 'budget must be a fraction in [0, 1] or a whole row count in (1, %], got %', n, budget
		USING ERRCODE = '22023', DETAIL = format('There are %s instances to route.', n);
END $$;

COMMENT ON FUNCTION hp._dist_budget_count(float8, bigint) IS
'instances a budget buys among n, with hp.route''s rules: round(budget * n) (halves up) for a fraction in [0, 1], else a whole count in (1, n]; anything else (NULL, NaN, negative, fractional or too large a count) is an error';

CREATE FUNCTION hp.route_by_distinguishability(tags text[], snr float8[], ids bigint[], budget float8)
RETURNS TABLE(id bigint, to_human boolean, gain float8)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
	n int := coalesce(cardinality(ids), 0);
	k bigint;
BEGIN
	IF cardinality(tags) IS DISTINCT FROM n OR cardinality(snr) IS DISTINCT FROM n THEN
		RAISE EXCEPTION 'tags, snr and ids must have the same length, got %, % and %',
			coalesce(cardinality(tags), 0), coalesce(cardinality(snr), 0), n USING ERRCODE = '2202E';
	END IF;
	k := hp._dist_budget_count(budget, n);
	IF array_position(ids, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'ids must not contain NULL' USING ERRCODE = '22004';
	END IF;
	IF (SELECT count(DISTINCT u) FROM unnest(ids) u) < n THEN
		RAISE EXCEPTION 'ids must be unique' USING ERRCODE = '22023';
	END IF;
	-- A tag carries one SNR; two values for one tag means misaligned arrays.
	IF EXISTS (SELECT 1 FROM unnest(tags, snr) u(t, s) WHERE t IS NOT NULL
	           GROUP BY t HAVING count(DISTINCT coalesce(s, 'NaN')) > 1) THEN
		RAISE EXCEPTION 'a tag has more than one snr value' USING ERRCODE = '22023';
	END IF;
	RETURN QUERY
	SELECT o.id, o.rk <= k, -o.s
	FROM (SELECT u.id, nullif(u.s, 'NaN') AS s,
	             row_number() OVER (ORDER BY nullif(u.s, 'NaN') ASC NULLS LAST, u.id) AS rk
	      FROM unnest(ids, snr) u(id, s)) o
	ORDER BY o.id;
END $$;

COMMENT ON FUNCTION hp.route_by_distinguishability(text[], float8[], bigint[], float8) IS
$$Distinguishability baseline router: instance k has id ids[k] and tag tags[k], whose group has SNR snr[k]
(from hp.distinguishability); hp.route_distinguishability is the same router over a table.  Sends to
humans the instances of the least distinguishable groups first: lowest snr first, ties by id, NULL (unknown) snr last.  budget as in hp.route: a fraction in [0, 1]
(k = round(budget * n), halves up) or a whole count in (1, n]; otherwise an error.  Returns every id once,
in id order, with to_human and gain = -snr of its group (NULL when unknown), like the other routers.$$;

CREATE FUNCTION hp.route_distinguishability(by_tag jsonb, tbl regclass, budget float8,
                                            tag_col name DEFAULT 'tag', id_col name DEFAULT 'id')
RETURNS TABLE(id bigint, to_human boolean, gain float8)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED AS $$
DECLARE
	n bigint;
	n_ids bigint;
	n_distinct bigint;
	k bigint;
BEGIN
	IF tbl IS NULL OR id_col IS NULL OR tag_col IS NULL THEN
		RAISE EXCEPTION 'tbl, tag_col and id_col must not be NULL' USING ERRCODE = '22004';
	END IF;
	EXECUTE format('SELECT count(*), count(%1$I), count(DISTINCT %1$I) FROM %2$s', id_col, tbl)
		INTO n, n_ids, n_distinct;
	k := hp._dist_budget_count(budget, n);
	IF n_ids < n THEN
		RAISE EXCEPTION 'column % of % has NULL ids', quote_ident(id_col), tbl USING ERRCODE = '22004';
	END IF;
	IF n_distinct < n THEN
		RAISE EXCEPTION 'column % of % has duplicate ids', quote_ident(id_col), tbl USING ERRCODE = '22023';
	END IF;
	RETURN QUERY EXECUTE format($q$
		WITH s AS (
			SELECT key AS tag,
			       nullif(CASE jsonb_typeof(value) WHEN 'number' THEN value::float8
			                                       WHEN 'object' THEN coalesce(value->>'snr_unbiased', value->>'snr')::float8 END, 'NaN') AS snr
			FROM jsonb_each($1)
		)
		SELECT o.id, o.rk <= $2, -o.snr
		FROM (SELECT t.%1$I::bigint AS id, s.snr,
		             row_number() OVER (ORDER BY s.snr ASC NULLS LAST, t.%1$I) AS rk
		      FROM %2$s t LEFT JOIN s ON s.tag = t.%3$I::text) o
		ORDER BY o.id$q$, id_col, tbl, tag_col)
	USING coalesce(by_tag, '{}'), k;
END $$;

COMMENT ON FUNCTION hp.route_distinguishability(jsonb, regclass, float8, name, name) IS
$$Distinguishability baseline router over a table, shaped like hp.route: instances are the rows of tbl,
identified by id_col (unique, not NULL, cast to bigint), their tag in tag_col (compared as text).  by_tag
maps tag -> hp.distinguishability result (or a bare SNR number), e.g. (SELECT jsonb_object_agg(tag, stats)
FROM s).  Lowest SNR first, ties by id; tags without an SNR (missing, null, or an undefined snr) last.
budget as in hp.route.  Returns every row once, in id order: (id, to_human, gain = -snr of its group).
Identifiers are quoted with format(%I).$$;

CREATE FUNCTION hp.distinguishability_report(tbl regclass, tag_col name, chosen_col name, rejected_col name,
                                             route_col name DEFAULT NULL)
RETURNS TABLE(tag text, n bigint, d float8, snr float8, trace float8, concentration float8, human_share float8)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED AS $$
BEGIN
	IF tbl IS NULL OR tag_col IS NULL OR chosen_col IS NULL OR rejected_col IS NULL THEN
		RAISE EXCEPTION 'tbl, tag_col, chosen_col and rejected_col must not be NULL' USING ERRCODE = '22004';
	END IF;
	RETURN QUERY EXECUTE format($q$
		SELECT tag, n, (st->>'d')::float8, (st->>'snr')::float8, (st->>'trace')::float8,
		       (st->>'concentration')::float8, share
		FROM (SELECT t.%1$I::text AS tag, count(*) AS n,
		             hp.distinguishability(t.%2$I, t.%3$I) AS st,
		             %4$s AS share
		      FROM %5$s t GROUP BY 1) g
		ORDER BY tag$q$,
		tag_col, chosen_col, rejected_col,
		CASE WHEN route_col IS NULL THEN 'NULL::float8'
		     ELSE format('avg(CASE WHEN t.%1$I::text IN (''human'', ''true'') THEN 1.0 ELSE 0.0 END)::float8', route_col) END,
		tbl);
END $$;

COMMENT ON FUNCTION hp.distinguishability_report(regclass, name, name, name, name) IS
$$Per-tag dashboard over tbl, ordered by tag.  Columns: tag (tag_col as text); n (rows of the tag);
d, snr, trace, concentration (from hp.distinguishability(chosen_col, rejected_col), see its comment);
human_share (share of the tag's rows whose route_col is 'human', or true for a boolean column; NULL
routes count as not human; NULL when route_col is not given).  Identifiers are quoted with format(%I).$$;
