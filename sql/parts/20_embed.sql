
-- Built-in featurizer: signed hashing of word unigrams and bigrams.
CREATE FUNCTION hp.embed(t text, dim int DEFAULT 1024) RETURNS real[]
AS 'MODULE_PATHNAME', 'embed'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION hp.embed(text, int) IS
'Unit-norm real[dim] embedding of t by signed feature hashing of word unigrams and bigrams with 1+ln(tf) weights. Words are runs of ASCII letters (lowercased), ASCII digits and non-ASCII bytes; anything else separates. Deterministic across platforms. A text without words gives zeros. dim must be 1..16384.';
