
-- Scoring ---------------------------------------------------------------------

CREATE FUNCTION hp.reward(m hp.model, x real[]) RETURNS float8
AS 'MODULE_PATHNAME', 'reward' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hp.reward_std(m hp.model, x real[]) RETURNS float8
AS 'MODULE_PATHNAME', 'reward_std' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hp.prefer(m hp.model, a real[], b real[]) RETURNS float8
AS 'MODULE_PATHNAME', 'prefer' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hp.prefer_std(m hp.model, a real[], b real[]) RETURNS float8
AS 'MODULE_PATHNAME', 'prefer_std' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION hp.reward(hp.model, real[]) IS 'reward of an embedding: mean of w.x over the ensemble heads';
COMMENT ON FUNCTION hp.reward_std(hp.model, real[]) IS 'epistemic standard deviation of the reward (across heads, or Laplace posterior); O(heads*dim) per row';
COMMENT ON FUNCTION hp.prefer(hp.model, real[], real[]) IS 'probability that a is preferred over b, averaged over heads';
COMMENT ON FUNCTION hp.prefer_std(hp.model, real[], real[]) IS 'standard deviation across heads of the probability that a is preferred over b';
CREATE FUNCTION hp.prefer_flip(m hp.model, a real[], b real[]) RETURNS float8
AS 'MODULE_PATHNAME', 'prefer_flip' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hp.prefer_flip(hp.model, real[], real[]) IS 'probability (0 to 0.5) that the predicted preference of a over b is the wrong way round, from the spread of the reward margin across heads: Phi(-|margin|/spread)';

CREATE FUNCTION hp.linear_model(w real[]) RETURNS hp.model
AS 'MODULE_PATHNAME', 'linear_model' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION hp.linear_model(real[]) IS 'linear reward model from weights: 1-D for one head, 2-D (heads x dim) for an ensemble';
