
-- ---------------------------------------------------------------------------
-- Routing (Hybrid Preferences): a performance prediction model (PPM) that
-- predicts the reward-model score of a human/LLM label mix from per-feature
-- counts of human-routed instances, and routers that spend a human budget
-- where the PPM expects it to help most.  See docs/routing-contract.md.
-- ---------------------------------------------------------------------------

CREATE FUNCTION hp._ppm_trans(bytea, float8[], float8, jsonb)
RETURNS bytea AS 'MODULE_PATHNAME', 'ppm_trans'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION hp._ppm_combine(bytea, bytea)
RETURNS bytea AS 'MODULE_PATHNAME', 'ppm_combine'
LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION hp._ppm_final(bytea)
RETURNS hp.model AS 'MODULE_PATHNAME', 'ppm_final'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION hp._ppm_trans(bytea, float8[], float8, jsonb) IS
'transition function of hp.train_ppm: appends (counts, score) to a versioned bytea state in place';
COMMENT ON FUNCTION hp._ppm_combine(bytea, bytea) IS
'combine function of hp.train_ppm: concatenates the rows of two partial states';
COMMENT ON FUNCTION hp._ppm_final(bytea) IS
'final function of hp.train_ppm: ridge fit with k-fold cross-validation';

-- The state is a real type (bytea), not internal, so distributed planners
-- can push the aggregate down and ship partial states between nodes.
CREATE AGGREGATE hp.train_ppm(counts float8[], score float8, options jsonb) (
	SFUNC = hp._ppm_trans, STYPE = bytea,
	COMBINEFUNC = hp._ppm_combine,
	FINALFUNC = hp._ppm_final, PARALLEL = SAFE
);

COMMENT ON AGGREGATE hp.train_ppm(float8[], float8, jsonb) IS
'performance prediction model: ridge regression from per-feature counts of human-routed instances (divided by n) to a score; options vocab (required), n, degree 1|2, lambda (number or "auto"), normalize, folds, solver';

CREATE FUNCTION hp.ppm_predict(ppm hp.model, counts float8[], n float8 DEFAULT NULL)
RETURNS float8 AS 'MODULE_PATHNAME', 'ppm_predict'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION hp.ppm_predict(hp.model, float8[], float8) IS
'predicted score f(counts / n) of a routing whose human-routed instances have these per-feature counts (n required when the PPM normalises)';

CREATE FUNCTION hp.route_gain(ppm hp.model, features text[], n float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'route_gain'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION hp.route_gain(hp.model, text[], float8) IS
'gain of routing one instance to a human: f(b/n) - f(0) for its feature indicator vector b; features outside the PPM vocabulary are ignored';

CREATE FUNCTION hp.route(ppm hp.model, tbl regclass, budget float8,
                         strategy text DEFAULT 'topk',
                         id_col name DEFAULT 'id',
                         features_col name DEFAULT 'features',
                         seed bigint DEFAULT 0,
                         candidates int DEFAULT 1000)
RETURNS TABLE(id bigint, to_human boolean, gain float8)
AS 'MODULE_PATHNAME', 'route'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL RESTRICTED SECURITY INVOKER ROWS 1000;

COMMENT ON FUNCTION hp.route(hp.model, regclass, float8, text, name, name, bigint, int) IS
'routes every row of tbl to a human or the LLM judge under a budget (fraction in [0,1] or a row count > 1): strategy topk, greedy, simulated or random; gain is the row''s f(b_i/N) - f(0)';

-- Internal: hp.route restricted to the rows whose pending_col is NULL.
CREATE FUNCTION hp._route(ppm hp.model, tbl regclass, budget float8, strategy text,
                          id_col name, features_col name, seed bigint, candidates int,
                          pending_col name)
RETURNS TABLE(id bigint, to_human boolean, gain float8)
AS 'MODULE_PATHNAME', 'route'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL RESTRICTED SECURITY INVOKER ROWS 1000;

COMMENT ON FUNCTION hp._route(hp.model, regclass, float8, text, name, name, bigint, int, name) IS
'internal to hp.route_table: hp.route over the rows whose pending_col is NULL (all rows when pending_col is NULL)';

CREATE FUNCTION hp.route_uncertainty(rm hp.model, tbl regclass, budget float8,
                                     by text DEFAULT 'llm_prob',
                                     id_col name DEFAULT 'id',
                                     a_col name DEFAULT 'a_emb',
                                     b_col name DEFAULT 'b_emb',
                                     llm_col name DEFAULT 'llm_label')
RETURNS TABLE(id bigint, to_human boolean, gain float8)
AS 'MODULE_PATHNAME', 'route_uncertainty'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL RESTRICTED SECURITY INVOKER ROWS 1000;

COMMENT ON FUNCTION hp.route_uncertainty(hp.model, regclass, float8, text, name, name, name, name) IS
'uncertainty baseline: sends to humans the rows where the reward model least believes the LLM label (by llm_prob, gain = |P(a>b) - llm_label|) or is least certain (by std, gain = prefer_std); rows without an LLM label (NULL) get gain 1 and go to humans first';

CREATE FUNCTION hp.budget_curve(ppm hp.model, tbl regclass,
                                fractions float8[] DEFAULT '{0,0.05,0.1,0.25,0.5,0.75,1}',
                                strategy text DEFAULT 'topk',
                                human_cost float8 DEFAULT NULL,
                                llm_cost float8 DEFAULT NULL,
                                features_col name DEFAULT 'features',
                                id_col name DEFAULT 'id')
RETURNS TABLE(fraction float8, n_human bigint, predicted_score float8, cost float8)
AS 'MODULE_PATHNAME', 'budget_curve'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL RESTRICTED SECURITY INVOKER ROWS 7;

COMMENT ON FUNCTION hp.budget_curve(hp.model, regclass, float8[], text, float8, float8, name, name) IS
'predicted score of routing each budget fraction of tbl to humans, with cost = n_human * human_cost + (N - n_human) * llm_cost when prices are given';

CREATE FUNCTION hp.route_table(tbl regclass, ppm hp.model, budget float8,
                               strategy text DEFAULT 'topk',
                               id_col name DEFAULT 'id',
                               features_col name DEFAULT 'features',
                               route_col name DEFAULT 'route',
                               overwrite boolean DEFAULT false,
                               seed bigint DEFAULT 0)
RETURNS TABLE(routed bigint, to_human bigint, to_llm bigint)
LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
	qrel text;
	coltype regtype;
	n_human bigint;
	n_llm bigint;
BEGIN
	IF tbl IS NULL OR ppm IS NULL OR budget IS NULL OR strategy IS NULL OR id_col IS NULL
	   OR features_col IS NULL OR route_col IS NULL OR overwrite IS NULL OR seed IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'arguments of hp.route_table must not be NULL';
	END IF;
	SELECT format('%I.%I', n.nspname, c.relname) INTO qrel
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
	SELECT a.atttypid::regtype INTO coltype
	FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = route_col AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_column',
			MESSAGE = format('column "%s" of relation %s does not exist', route_col, qrel),
			HINT = format('Add it with ALTER TABLE %s ADD COLUMN %I text.', qrel, route_col);
	END IF;
	IF coltype NOT IN ('text'::regtype, 'character varying'::regtype) THEN
		RAISE EXCEPTION USING ERRCODE = 'datatype_mismatch',
			MESSAGE = format('column "%s" of relation %s has type %s, but text is required',
			                 route_col, qrel, coltype);
	END IF;
	-- One statement: the routing and every update commit or fail together.
	EXECUTE format(
		'WITH r AS (SELECT * FROM hp._route($1, $2, $3, $4, $5, $6, $7, 1000, $8)),
		      u AS (UPDATE %s AS t SET %I = CASE WHEN r.to_human THEN ''human'' ELSE ''llm'' END
		            FROM r WHERE t.%I = r.id RETURNING r.to_human)
		 SELECT count(*) FILTER (WHERE u.to_human), count(*) FILTER (WHERE NOT u.to_human) FROM u',
		qrel, route_col, id_col)
	INTO n_human, n_llm
	USING ppm, tbl, budget, strategy, id_col, features_col, seed,
	      CASE WHEN overwrite THEN NULL ELSE route_col END;
	routed := n_human + n_llm;
	to_human := n_human;
	to_llm := n_llm;
	RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION hp.route_table(regclass, hp.model, float8, text, name, name, name, boolean, bigint) IS
'routes the rows of tbl in place, setting route_col to ''human'' or ''llm'' in one statement; rows already routed (route_col not NULL) are left alone unless overwrite, and the budget applies to the rows being routed';
