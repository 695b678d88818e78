
-- Training: Bradley-Terry reward models as aggregates ------------------------

CREATE FUNCTION hp._train_trans(internal, real[], real[])
RETURNS internal AS 'MODULE_PATHNAME', 'train_trans'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION hp._train_trans(internal, real[], real[], jsonb)
RETURNS internal AS 'MODULE_PATHNAME', 'train_trans'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION hp._train_trans(internal, real[], real[], float8, jsonb)
RETURNS internal AS 'MODULE_PATHNAME', 'train_trans'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION hp._train_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'train_combine'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION hp._train_serial(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'train_serial'
LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION hp._train_deserial(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'train_deserial'
LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION hp._train_final(internal)
RETURNS hp.model AS 'MODULE_PATHNAME', 'train_final'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION hp._train_trans(internal, real[], real[]) IS 'transition function of hp.train_reward_model (chosen, rejected)';
COMMENT ON FUNCTION hp._train_trans(internal, real[], real[], jsonb) IS 'transition function of hp.train_reward_model (chosen, rejected, options)';
COMMENT ON FUNCTION hp._train_trans(internal, real[], real[], float8, jsonb) IS 'transition function of hp.train_reward_model (a, b, p_a, options)';
COMMENT ON FUNCTION hp._train_combine(internal, internal) IS 'combine function of hp.train_reward_model';
COMMENT ON FUNCTION hp._train_serial(internal) IS 'serial function of hp.train_reward_model';
COMMENT ON FUNCTION hp._train_deserial(bytea, internal) IS 'deserial function of hp.train_reward_model';
COMMENT ON FUNCTION hp._train_final(internal) IS 'final function of hp.train_reward_model: sorts rows canonically and trains';

CREATE AGGREGATE hp.train_reward_model(chosen real[], rejected real[]) (
	SFUNC = hp._train_trans, STYPE = internal,
	COMBINEFUNC = hp._train_combine,
	SERIALFUNC = hp._train_serial, DESERIALFUNC = hp._train_deserial,
	FINALFUNC = hp._train_final, PARALLEL = SAFE
);
CREATE AGGREGATE hp.train_reward_model(chosen real[], rejected real[], options jsonb) (
	SFUNC = hp._train_trans, STYPE = internal,
	COMBINEFUNC = hp._train_combine,
	SERIALFUNC = hp._train_serial, DESERIALFUNC = hp._train_deserial,
	FINALFUNC = hp._train_final, PARALLEL = SAFE
);
CREATE AGGREGATE hp.train_reward_model(a real[], b real[], p_a float8, options jsonb) (
	SFUNC = hp._train_trans, STYPE = internal,
	COMBINEFUNC = hp._train_combine,
	SERIALFUNC = hp._train_serial, DESERIALFUNC = hp._train_deserial,
	FINALFUNC = hp._train_final, PARALLEL = SAFE
);

COMMENT ON AGGREGATE hp.train_reward_model(real[], real[]) IS
'Bradley-Terry reward model r(x) = w.x trained on (chosen, rejected) embedding pairs; 8 bootstrap heads, lambda 1e-3';
COMMENT ON AGGREGATE hp.train_reward_model(real[], real[], jsonb) IS
'Bradley-Terry reward model on (chosen, rejected) pairs with options: lambda (a number, or "auto": chosen by 5-fold cross-validated log-loss), heads, seed, uncertainty (ensemble|laplace), prior, max_iter, tol, arch (linear|mlp), hidden, epochs, lr, batch_size, init';
COMMENT ON AGGREGATE hp.train_reward_model(real[], real[], float8, jsonb) IS
'Bradley-Terry reward model on soft labels: p_a is the probability that a is preferred (0.5 for a tie)';
