
-- Instance features for routing (Hybrid Preferences, issue 4) -------------------
--
-- Names follow docs/routing-contract.md; docs/features.md has the recipe.
-- Per instance: hp.pair_stats gives the raw statistics, hp.pair_features
-- turns them into binary features "group:bin" plus user tags.  Length bins
-- are percentiles of the dataset: hp.feature_cutoffs computes the cut points
-- once, exactly.  hp.feature_vocab and hp.feature_counts give the vocabulary
-- and count vectors the routing models read.  The aggregate states are
-- bytea with a versioned header, not internal, so distributed planners
-- (Citus) can push the aggregates down.

CREATE FUNCTION hp.pair_stats(prompt text, a text, b text,
                              a_emb real[] DEFAULT NULL, b_emb real[] DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'pair_stats'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION hp.pair_stats(text, text, text, real[], real[]) IS
$$Statistics of a preference instance as jsonb {rouge1, cosine, entity_overlap, len_prompt, len_shorter, len_longer, len_diff}.
Tokens are hp.embed's (ASCII letters lowercased, digits, non-ASCII bytes; no locale).
rouge1 = ROUGE-1 F of a and b = 2 * sum_w min(count_a(w), count_b(w)) / (tokens(a) + tokens(b)), 0 if both are empty.
cosine = cosine of a_emb and b_emb when both are given, else of hp.embed(a, 1024) and hp.embed(b, 1024); 0 when a vector is zero.
entity_overlap = Jaccard index of the sets of entity-like tokens of a and b (0 when both are empty); a token is entity-like when
it contains an ASCII digit, or two ASCII capitals, or is 2+ bytes starting with an ASCII capital and does not start a sentence
(first token, or '.', '!', '?' or a line feed since the previous token), or starts a sentence that way while the same token is
entity-like elsewhere in a or b.  Lengths are token counts: prompt, shorter and longer
response, and their absolute difference.  NULL when prompt, a or b is NULL; embeddings of different dimensions are an error.
Feed the result to hp.feature_cutoffs and hp.pair_features(stats, cutoffs, tags).$$;

CREATE FUNCTION hp._feature_cutoffs_trans(bytea, jsonb)
RETURNS bytea AS 'MODULE_PATHNAME', 'feature_cutoffs_trans'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION hp._feature_cutoffs_combine(bytea, bytea)
RETURNS bytea AS 'MODULE_PATHNAME', 'feature_cutoffs_combine'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hp._feature_cutoffs_final(bytea)
RETURNS jsonb AS 'MODULE_PATHNAME', 'feature_cutoffs_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION hp._feature_cutoffs_trans(bytea, jsonb) IS
'transition function of hp.feature_cutoffs: counts the four token lengths of a stats object in an exact histogram, in place inside an aggregate';
COMMENT ON FUNCTION hp._feature_cutoffs_combine(bytea, bytea) IS
'combine function of hp.feature_cutoffs: adds two histograms (exact)';
COMMENT ON FUNCTION hp._feature_cutoffs_final(bytea) IS
'final function of hp.feature_cutoffs: the tertile cut points as jsonb (the state is not modified)';

CREATE AGGREGATE hp.feature_cutoffs(stats jsonb) (
	SFUNC = hp._feature_cutoffs_trans, STYPE = bytea,
	COMBINEFUNC = hp._feature_cutoffs_combine,
	FINALFUNC = hp._feature_cutoffs_final, PARALLEL = SAFE
);

COMMENT ON AGGREGATE hp.feature_cutoffs(jsonb) IS
$$Tertile cut points of the length statistics over a dataset, from hp.pair_stats values:
{"n": rows, "len_prompt": [c1, c2], "len_shorter": [...], "len_longer": [...], "len_diff": [...]}.
c1 and c2 are the smallest lengths x with 3 * #{rows with length <= x} >= n and >= 2n (percentile_disc at 1/3 and 2/3), exact:
the state is a count histogram of the integer lengths (lengths above 1,000,000 tokens count as 1,000,000).  A length x is then
p0-33 when x <= c1, p33-67 when x <= c2, else p67-100: the bin of x is that of the fraction of rows strictly shorter than x.
Rows with NULL stats are skipped; NULL over no rows.  Recipe:
  WITH c AS (SELECT hp.feature_cutoffs(stats) AS cut FROM pairs)
  UPDATE pairs SET features = hp.pair_features(stats, c.cut, ARRAY['app:' || app]) FROM c;$$;

CREATE FUNCTION hp.pair_features(prompt text, a text, b text, tags text[] DEFAULT '{}',
                                 cutoffs jsonb DEFAULT NULL,
                                 a_emb real[] DEFAULT NULL, b_emb real[] DEFAULT NULL)
RETURNS text[] AS 'MODULE_PATHNAME', 'pair_features_texts'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

CREATE FUNCTION hp.pair_features(stats jsonb, cutoffs jsonb, tags text[] DEFAULT '{}')
RETURNS text[] AS 'MODULE_PATHNAME', 'pair_features_stats'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;

COMMENT ON FUNCTION hp.pair_features(text, text, text, text[], jsonb, real[], real[]) IS
$$Binary routing features of a preference instance, as hp.pair_features(hp.pair_stats(prompt, a, b, a_emb, b_emb), cutoffs, tags).
cutoffs (from hp.feature_cutoffs) is required: without it the call fails with 22004, since length bins are dataset percentiles.
NULL when prompt, a or b is NULL.$$;

COMMENT ON FUNCTION hp.pair_features(jsonb, jsonb, text[]) IS
$$Binary routing features "group:bin" from precomputed hp.pair_stats values (the fast path), sorted bytewise (COLLATE "C"),
without duplicates: rouge1, cosine, entity_overlap are low [0,1/3), mid [1/3,2/3), high [2/3,1] (negative cosines are low);
len_prompt, len_shorter, len_longer, len_diff are p0-33 (x <= c1), p33-67 (x <= c2) or p67-100 against cutoffs from
hp.feature_cutoffs.  tags are user features "key:value" (subject, expertise, safety_concern, complexity, open_endedness,
format, language, app, ...); a tag without ':' becomes "tag:<value>".  NULL stats give NULL; NULL cutoffs (22004), NULL tag
elements (22004), empty tags, empty keys or values, tags using a computed group, malformed stats or cutoffs (22023) are errors.
A NULL tags array is no tags.$$;

CREATE FUNCTION hp._feature_vocab_trans(bytea, text[])
RETURNS bytea AS 'MODULE_PATHNAME', 'feature_vocab_trans'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION hp._feature_vocab_combine(bytea, bytea)
RETURNS bytea AS 'MODULE_PATHNAME', 'feature_vocab_combine'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hp._feature_vocab_final(bytea)
RETURNS text[] AS 'MODULE_PATHNAME', 'feature_vocab_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION hp._feature_vocab_trans(bytea, text[]) IS
'transition function of hp.feature_vocab: adds new names to a sorted set, in place inside an aggregate';
COMMENT ON FUNCTION hp._feature_vocab_combine(bytea, bytea) IS
'combine function of hp.feature_vocab: sorted union';
COMMENT ON FUNCTION hp._feature_vocab_final(bytea) IS
'final function of hp.feature_vocab: the names as a sorted text[]';

CREATE AGGREGATE hp.feature_vocab(features text[]) (
	SFUNC = hp._feature_vocab_trans, STYPE = bytea,
	COMBINEFUNC = hp._feature_vocab_combine,
	FINALFUNC = hp._feature_vocab_final, PARALLEL = SAFE
);

COMMENT ON AGGREGATE hp.feature_vocab(text[]) IS
$$The vocabulary of a relation: its distinct feature names, sorted bytewise (COLLATE "C"), as text[].
NULL arrays are skipped (NULL over no rows); NULL elements and multi-dimensional arrays are errors.
O(log V) per name, O(V) per new name (V = vocabulary size).$$;

CREATE FUNCTION hp._feature_counts_trans(bytea, text[], text[])
RETURNS bytea AS 'MODULE_PATHNAME', 'feature_counts_trans'
LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION hp._feature_counts_combine(bytea, bytea)
RETURNS bytea AS 'MODULE_PATHNAME', 'feature_counts_combine'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION hp._feature_counts_final(bytea)
RETURNS float8[] AS 'MODULE_PATHNAME', 'feature_counts_final'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION hp._feature_counts_trans(bytea, text[], text[]) IS
'transition function of hp.feature_counts: +1 per vocabulary entry a row carries, in place inside an aggregate';
COMMENT ON FUNCTION hp._feature_counts_combine(bytea, bytea) IS
'combine function of hp.feature_counts: elementwise sum';
COMMENT ON FUNCTION hp._feature_counts_final(bytea) IS
'final function of hp.feature_counts: the count vector as float8[]';

CREATE AGGREGATE hp.feature_counts(features text[], vocab text[]) (
	SFUNC = hp._feature_counts_trans, STYPE = bytea,
	COMBINEFUNC = hp._feature_counts_combine,
	FINALFUNC = hp._feature_counts_final, PARALLEL = SAFE
);

COMMENT ON AGGREGATE hp.feature_counts(text[], text[]) IS
$$Count vector of a set of instances: v[j] = number of rows whose features contain vocab[j] (a row counts once per entry),
float8[] aligned with vocab.  Names outside the vocabulary are ignored; a NULL features array counts nothing.  vocab must be the
same in every row of a group, without NULL or duplicate elements (22004, 22023); it may be in any order, normally that of
hp.feature_vocab.  NULL over no rows.$$;
