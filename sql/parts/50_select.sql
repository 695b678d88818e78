
-- Active pair selection (ActiveUltraFeedback) ---------------------------------

CREATE FUNCTION hp._select_trans(internal, hp.model, bigint, real[], text, float8, bigint)
RETURNS internal AS 'MODULE_PATHNAME', 'select_trans'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION hp._select_score_trans(internal, bigint, float8, text, bigint)
RETURNS internal AS 'MODULE_PATHNAME', 'select_score_trans'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION hp._select_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'select_combine'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION hp._select_serial(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'select_serial'
LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION hp._select_deserial(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'select_deserial'
LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION hp._select_final(internal)
RETURNS bigint[] AS 'MODULE_PATHNAME', 'select_final'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION hp._select_trans(internal, hp.model, bigint, real[], text, float8, bigint) IS 'transition function of hp.select_pair: scores a candidate';
COMMENT ON FUNCTION hp._select_score_trans(internal, bigint, float8, text, bigint) IS 'transition function of hp.select_pair_by_score';
COMMENT ON FUNCTION hp._select_combine(internal, internal) IS 'combine function of the pair-selection aggregates';
COMMENT ON FUNCTION hp._select_serial(internal) IS 'serial function of the pair-selection aggregates';
COMMENT ON FUNCTION hp._select_deserial(bytea, internal) IS 'deserial function of the pair-selection aggregates';
COMMENT ON FUNCTION hp._select_final(internal) IS 'final function of the pair-selection aggregates: picks {first, second}';

CREATE AGGREGATE hp.select_pair(m hp.model, response_id bigint, x real[], method text, beta float8, seed bigint) (
	SFUNC = hp._select_trans, STYPE = internal,
	COMBINEFUNC = hp._select_combine,
	SERIALFUNC = hp._select_serial, DESERIALFUNC = hp._select_deserial,
	FINALFUNC = hp._select_final, PARALLEL = SAFE
);
CREATE AGGREGATE hp.select_pair_by_score(response_id bigint, score float8, method text, seed bigint) (
	SFUNC = hp._select_score_trans, STYPE = internal,
	COMBINEFUNC = hp._select_combine,
	SERIALFUNC = hp._select_serial, DESERIALFUNC = hp._select_deserial,
	FINALFUNC = hp._select_final, PARALLEL = SAFE
);

COMMENT ON AGGREGATE hp.select_pair(hp.model, bigint, real[], text, float8, bigint) IS
'per prompt (GROUP BY), the response pair {first, second} to annotate: random, ultrafeedback, maxmin, infomax, dts, drts, deltaucb or maxminlcb';
COMMENT ON AGGREGATE hp.select_pair_by_score(bigint, float8, text, bigint) IS
'per prompt, the pair {first, second} chosen from judge scores: random, ultrafeedback or maxmin';
