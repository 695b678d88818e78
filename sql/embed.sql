-- hp.embed(t text, dim int DEFAULT 1024) RETURNS real[]
--
-- The built-in featurizer, for users without an embedding model: signed
-- feature hashing of word unigrams and bigrams, weight 1 + ln(tf) per
-- distinct n-gram, L2-normalised.  Words are runs of ASCII letters
-- (lowercased), ASCII digits and non-ASCII bytes; everything else separates
-- words.  The result depends only on the text bytes and dim.

-- Cosine similarity is a plain dot product, since embeddings are unit-norm.
CREATE FUNCTION pg_temp.dot(a real[], b real[]) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT sum(x::float8 * y) FROM unnest(a, b) AS u(x, y) $$;

-- The default dimension is 1024, and vectors have unit L2 norm.
SELECT array_length(e, 1) AS dim, round(pg_temp.dot(e, e)::numeric, 6) AS norm2
FROM (SELECT hp.embed('Reward models learn from human preferences.') AS e) s;

-- Golden values: this exact output on every platform (no locale, no host
-- endianness, no platform hash).  Element 2 is 1 + ln 2 = 1.693 times the
-- unit elements: "the" occurs twice ("jumps" and "quick" cancel there).
SELECT hp.embed('The quick brown fox jumps over the lazy dog.', 8);
SELECT hp.embed('The quick brown fox jumps over the lazy dog.', 8)
     = hp.embed('The quick brown fox jumps over the lazy dog.', 8) AS deterministic;

-- Case and punctuation do not matter.
SELECT hp.embed('Hello, World!', 64) = hp.embed('hello world', 64) AS same,
       hp.embed('HELLO -- world...', 64) = hp.embed('hello world', 64) AS same_too;

-- Word order does, through the bigrams: same words, different vectors.
SELECT hp.embed('dog bites man', 256) = hp.embed('man bites dog', 256) AS same,
       round(pg_temp.dot(hp.embed('dog bites man', 256),
                         hp.embed('man bites dog', 256))::numeric, 3) AS cosine;

-- Similar texts are closer than unrelated ones.
SELECT round(pg_temp.dot(a, b)::numeric, 3) AS cos_similar,
       round(pg_temp.dot(a, c)::numeric, 3) AS cos_unrelated,
       pg_temp.dot(a, b) > pg_temp.dot(a, c) AS similar_is_closer
FROM (SELECT hp.embed('How do I reset my password?') AS a,
             hp.embed('How can I reset my account password') AS b,
             hp.embed('Best pizza places in Naples') AS c) s;

-- A text without words is not an error: the vector is all zeros.
SELECT hp.embed('', 8) AS empty, hp.embed(' ?!... -- ', 8) AS no_words;

-- STRICT: NULL in, NULL out.
SELECT hp.embed(NULL) IS NULL AS null_text, hp.embed('x', NULL) IS NULL AS null_dim;

-- UTF-8 words stay whole.  Non-ASCII letters are neither case-folded nor
-- accent-stripped: 'café' is not 'cafe', 'Été' is not 'été'.
SELECT hp.embed('Café naïve 日本語', 8);
SELECT hp.embed('café', 64) = hp.embed('cafe', 64) AS accent_ignored,
       hp.embed('Été', 64) = hp.embed('été', 64) AS non_ascii_folded,
       round(pg_temp.dot(e, e)::numeric, 6) AS norm2
FROM (SELECT hp.embed('Привет, мир! こんにちは世界') AS e) s;

-- dim ranges over 1..16384; dim 1 is the sign of the hashed sum.
SELECT hp.embed('hello world', 1) AS dim1,
       array_length(hp.embed('hello world', 16384), 1) AS max_dim;
SELECT hp.embed('hello world', 0);
SELECT hp.embed('hello world', -1);
SELECT hp.embed('hello world', 16385);

-- A 1 MB text (27 bytes x 40000): still unit-norm, in milliseconds.
SELECT round(pg_temp.dot(e, e)::numeric, 6) AS norm2
FROM (SELECT hp.embed(repeat('lorem ipsum dolor sit amet ', 40000)) AS e) s;
