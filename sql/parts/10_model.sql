
-- ---------------------------------------------------------------------------
-- hp.model: a trained model as a self-checking value.  Stored in a compact
-- binary form; its text form is a JSON document carrying a checksum, so
-- truncated or edited values are rejected instead of scoring silently.
-- ---------------------------------------------------------------------------

CREATE TYPE hp.model;

CREATE FUNCTION hp.model_in(cstring) RETURNS hp.model
	AS 'MODULE_PATHNAME', 'model_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION hp.model_out(hp.model) RETURNS cstring
	AS 'MODULE_PATHNAME', 'model_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION hp.model_recv(internal) RETURNS hp.model
	AS 'MODULE_PATHNAME', 'model_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION hp.model_send(hp.model) RETURNS bytea
	AS 'MODULE_PATHNAME', 'model_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Models are mostly float noise, so compression would cost time for nothing;
-- external storage also lets scoring recognise a value by its toast pointer.
CREATE TYPE hp.model (
	INPUT = hp.model_in,
	OUTPUT = hp.model_out,
	RECEIVE = hp.model_recv,
	SEND = hp.model_send,
	INTERNALLENGTH = VARIABLE,
	STORAGE = external
);

CREATE FUNCTION hp.model_info(hp.model) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'model_info' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON TYPE hp.model IS
	'A trained hybridpref model (reward model or performance predictor); text form is checksummed JSON';
COMMENT ON FUNCTION hp.model_in(cstring) IS
	'Input function of hp.model: parses and verifies the JSON text form';
COMMENT ON FUNCTION hp.model_out(hp.model) IS
	'Output function of hp.model: writes the JSON text form with its checksum';
COMMENT ON FUNCTION hp.model_recv(internal) IS
	'Binary input function of hp.model: verifies the encoded bytes';
COMMENT ON FUNCTION hp.model_send(hp.model) IS
	'Binary output function of hp.model: the encoded bytes as stored';
COMMENT ON FUNCTION hp.model_info(hp.model) IS
	'Summary of a model: kind, format_version, dim, heads, uncertainty, lambda (and lambda_cv, the cross-validation curve of lambda "auto"), rows, loss, seed, options and size_bytes';
