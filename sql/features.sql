--
-- Routing features (Hybrid Preferences, issue 4): hp.pair_stats,
-- hp.feature_cutoffs, hp.pair_features, hp.feature_vocab, hp.feature_counts.
-- Feature names follow docs/routing-contract.md.
--

-- 1. hp.pair_stats(prompt, a, b [, a_emb, b_emb]) RETURNS jsonb
--
-- Tokens are hp.embed's: runs of ASCII letters (lowercased), digits and
-- non-ASCII bytes.  rouge1 is ROUGE-1 F with clipped counts,
-- 2 * sum_w min(count_a(w), count_b(w)) / (tokens(a) + tokens(b)).

-- a = "a a b" (3 tokens), b = "a b b c" (4 tokens): min(2,1) + min(1,2) = 2
-- shared, F = 2 * 2 / (3 + 4) = 4/7.
SELECT (hp.pair_stats('', 'a a b', 'a b b c') ->> 'rouge1')::float8 = 4.0 / 7 AS rouge1_is_4_7;

-- Clipping: "a" once against five times shares one token: F = 2 / 6 = 1/3.
-- Case and punctuation do not matter; order does not either (unigrams).
SELECT hp.pair_stats('', 'a', 'a a a a a') ->> 'rouge1' AS clipped,
       hp.pair_stats('', 'The cat sat.', 'the CAT, sat!') ->> 'rouge1' AS same_tokens,
       hp.pair_stats('', 'dog bites man', 'man bites dog') ->> 'rouge1' AS reordered,
       hp.pair_stats('', 'x y z', 'u v w') ->> 'rouge1' AS disjoint;

-- A whole instance.  a has 6 tokens, b 10, all 6 of a's are in b:
-- rouge1 = 2 * 6 / 16 = 0.75.  Entities: a {france, paris}, b {paris,
-- france, 2}: Jaccard 2/3 ("Paris" opens b's sentence, but counts because
-- a mentions Paris mid-sentence; "The" opening a does not).  Lengths in
-- tokens: prompt 6, shorter 6, longer 10, difference 4.  The cosine is that
-- of the hashed hp.embed vectors (shown rounded).
SELECT jsonb_pretty(s - 'cosine') AS stats, round((s ->> 'cosine')::numeric, 6) AS cosine
FROM (SELECT hp.pair_stats('What is the capital of France?',
                           'The capital of France is Paris.',
                           'Paris is the capital of France, with 2 million people.') AS s) v;

-- Entity-like tokens: an ASCII digit; two ASCII capitals (NASA,
-- PostgreSQL); or a capitalised word of 2+ bytes not opening a sentence
-- (first token, or '.', '!', '?', line feed since the previous token), or
-- opening one while being an entity elsewhere in a or b.  entity_overlap is
-- the Jaccard index of the two sets, 0 when both are empty.
SELECT a, b, hp.pair_stats('', a, b) ->> 'entity_overlap' AS entity_overlap
FROM (VALUES
  ('it is 3 or 4',            'it is 4 or 5'),           -- {3,4} vs {4,5}: 1/3
  ('I saw PARIS',             'we saw Paris'),           -- paris = paris: 1
  ('Paris is big.',           'Paris is small.'),        -- sentence starts only: 0
  ('The cat.',                'The dog.'),               -- no entities at all: 0
  ('We use PostgreSQL 15.',   'postgresql 15 is used'),  -- {postgresql,15} vs {15}: 1/2
  ('Ask NASA. Then Apollo',   'apollo and nasa')         -- {nasa,apollo} vs {}: 0
) v(a, b);

-- Cosine: of the given embeddings when both are given (cos 45 degrees
-- here), else of hp.embed(a) and hp.embed(b) at dim 1024.
SELECT round((hp.pair_stats('', 'x', 'y', '{1,0}', '{1,1}') ->> 'cosine')::numeric, 6) AS given,
       hp.pair_stats('', 'x', 'y', '{1,0}', '{-2,0}') ->> 'cosine' AS opposite,
       hp.pair_stats('', 'x', 'y', '{0,0}', '{1,1}') ->> 'cosine' AS zero_vector;

CREATE FUNCTION pg_temp.cos(x real[], y real[]) RETURNS float8 LANGUAGE sql IMMUTABLE AS $$
  SELECT sum(p::float8 * q) / sqrt(sum(p::float8 * p) * sum(q::float8 * q)) FROM unnest(x, y) u(p, q)
$$;
SELECT round((hp.pair_stats('', a, b) ->> 'cosine')::numeric, 12)
     = round(pg_temp.cos(hp.embed(a), hp.embed(b))::numeric, 12) AS hashed_is_hp_embed,
       hp.pair_stats('', a, a) ->> 'cosine' AS identical
FROM (VALUES ('How do I reset my password?', 'How can I reset my account password')) v(a, b);

-- With one embedding missing, the hashed vectors are used for both.
SELECT hp.pair_stats('', 'a b', 'c d', '{1,0}', NULL) = hp.pair_stats('', 'a b', 'c d') AS one_null_falls_back;

-- Empty texts have defined statistics (never NaN); a NULL text gives NULL.
SELECT hp.pair_stats('', '', '') AS empty;
SELECT hp.pair_stats(NULL, 'a', 'b') IS NULL AS null_prompt,
       hp.pair_stats('p', NULL, 'b') IS NULL AS null_a;

-- 2. Similarity bins: low [0, 1/3), mid [1/3, 2/3), high [2/3, 1]; the
-- edges are exact (0.3333333333333333 is the double nearest 1/3, and a
-- ROUGE-1 of exactly 1/3 lands on it).  Negative cosines are low.
CREATE FUNCTION pg_temp.st(sim float8, lp int DEFAULT 0, ls int DEFAULT 0, ll int DEFAULT 0, ld int DEFAULT 0)
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('rouge1', sim, 'cosine', sim, 'entity_overlap', sim,
                            'len_prompt', lp, 'len_shorter', ls, 'len_longer', ll, 'len_diff', ld)
$$;
-- Cut points that put every length of 0 in p0-33 (section 3 computes real ones).
CREATE FUNCTION pg_temp.cut0() RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT '{"len_prompt": [0, 1], "len_shorter": [0, 1], "len_longer": [0, 1], "len_diff": [0, 1]}'::jsonb
$$;
SELECT sim, (hp.pair_features(pg_temp.st(sim), pg_temp.cut0()))[1:2] AS features
FROM unnest(ARRAY[0, 0.33333333333333326, 1/3::float8, 0.5,
                  0.6666666666666665, 2/3::float8, 1]) sim;
-- The overlaps are fractions in [0, 1]; the cosine may be negative (down to -1).
SELECT (hp.pair_features(jsonb_set(pg_temp.st(0.5), '{cosine}', '-0.5'), pg_temp.cut0()))[1:3] AS negative_cosine;
SELECT hp.pair_features(hp.pair_stats('', 'a', 'a a a a a'), pg_temp.cut0()) @> '{rouge1:mid}' AS exactly_one_third_is_mid;

-- 3. hp.feature_cutoffs(stats) aggregate: exact tertile cut points of the
-- four lengths.  c1 (c2) is the smallest length x with
-- 3 * #{rows with length <= x} >= n (>= 2n).  Prompt lengths 1..99: 33
-- rows are <= 33 and 66 rows <= 66, so [33, 66]; shorter x + 1: [34, 67];
-- longer 2x: [66, 132]; difference x % 7 (residues 0..6 occur 14, 15, 14,
-- 14, 14, 14, 14 times): 29 rows <= 1, 43 <= 2, 57 <= 3, 71 <= 4, so [2, 4].
SELECT hp.feature_cutoffs(pg_temp.st(0, x, x + 1, 2 * x, x % 7)) AS cutoffs
FROM generate_series(1, 99) x;

-- A length is p0-33 when x <= c1, p33-67 when x <= c2, else p67-100: the
-- bin of the fraction of rows strictly shorter than x.  Ties share a bin:
-- in {1,1,1,1,2,3}, 4 rows <= 1 reach both n/3 = 2 and 2n/3 = 4, so c1 =
-- c2 = 1: 1 is p0-33 (no row is shorter), 2 and 3 are p67-100.
WITH r AS (SELECT pg_temp.st(0, x) AS st FROM unnest('{1,1,1,1,2,3}'::int[]) x),
     c AS (SELECT hp.feature_cutoffs(st) AS cut FROM r)
SELECT c.cut -> 'len_prompt' AS len_prompt_cut,
       array_agg(DISTINCT (st ->> 'len_prompt') || ' -> ' ||
                 (SELECT f FROM unnest(hp.pair_features(st, c.cut)) f WHERE f LIKE 'len_prompt:%')) AS bins
FROM r, c GROUP BY c.cut;

-- One row: both cut points are its length.  No rows (or only NULL stats): NULL.
SELECT hp.feature_cutoffs(pg_temp.st(0, 7, 8, 9, 1)) AS one_row;
SELECT hp.feature_cutoffs(s) IS NULL AS no_rows FROM (SELECT NULL::jsonb s) v;

-- Lengths above 1,000,000 tokens count as 1,000,000 (it bounds the histogram).
SELECT hp.feature_cutoffs(pg_temp.st(0, 5000000)) -> 'len_prompt' AS capped;

-- On random lengths the cut points are percentile_disc at 1/3 and 2/3, and
-- the bins agree with the window-function formulation (rank among all rows).
SELECT setseed(0.42);
CREATE TABLE feat_rand AS
SELECT i AS id, pg_temp.st(random(), (random() * 300)::int, (random() * 50)::int,
                           (random() * random() * 5000)::int, (random() * 2)::int) AS st
FROM generate_series(1, 20000) i;
WITH c AS (SELECT hp.feature_cutoffs(st) AS cut FROM feat_rand)
SELECT c.cut -> 'len_prompt' = to_jsonb(ARRAY[percentile_disc(1/3::float8) WITHIN GROUP (ORDER BY (st ->> 'len_prompt')::int),
                                              percentile_disc(2/3::float8) WITHIN GROUP (ORDER BY (st ->> 'len_prompt')::int)])
       AS prompt_is_percentile_disc,
       c.cut -> 'len_longer' = to_jsonb(ARRAY[percentile_disc(1/3::float8) WITHIN GROUP (ORDER BY (st ->> 'len_longer')::int),
                                              percentile_disc(2/3::float8) WITHIN GROUP (ORDER BY (st ->> 'len_longer')::int)])
       AS longer_is_percentile_disc
FROM feat_rand, c GROUP BY c.cut;

-- The window alternative: bin from the number of strictly shorter rows.
WITH c AS (SELECT hp.feature_cutoffs(st) AS cut FROM feat_rand),
w AS (SELECT id, st, 'len_diff:' || CASE WHEN 3 * (rank() OVER o - 1) < count(*) OVER () THEN 'p0-33'
                                         WHEN 3 * (rank() OVER o - 1) < 2 * count(*) OVER () THEN 'p33-67'
                                         ELSE 'p67-100' END AS by_window
      FROM feat_rand WINDOW o AS (ORDER BY (st ->> 'len_diff')::int))
SELECT count(*) AS rows,
       count(*) FILTER (WHERE hp.pair_features(st, c.cut) @> ARRAY[by_window]) AS agree
FROM w, c;

-- Parallel plans (partial histograms merged by the combine function) give
-- the same cut points.
SELECT hp.feature_cutoffs(st) AS ser FROM feat_rand \gset
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT hp.feature_cutoffs(st) FROM feat_rand;
SELECT hp.feature_cutoffs(st) = :'ser'::jsonb AS parallel_equals_serial FROM feat_rand;
RESET ALL;

-- 4. hp.pair_features: the binary features of each instance, sorted
-- bytewise and without duplicates.  The recipe of docs/features.md:
CREATE TABLE feat_pairs (id int PRIMARY KEY, app text, prompt text, response_a text, response_b text,
                         a_emb real[], b_emb real[]);
INSERT INTO feat_pairs VALUES
 (1, 'mail', 'Write a short reply declining the meeting.',
  'Thanks for the invite, but I cannot attend.', 'Thank you. Unfortunately I cannot attend the meeting on Friday.', NULL, NULL),
 (2, 'mail', 'Summarise this email in one line.',
  'The budget for Q3 is approved.', 'Budget approved for Q3.', NULL, NULL),
 (3, 'code', 'How do I reverse a list in Python?',
  'Use reversed() or slicing: xs[::-1].', 'Call xs.reverse() to reverse the list in place, or use slicing xs[::-1] to get a new list.', NULL, NULL),
 (4, 'code', 'What does SELECT 1 return?',
  'One row with the value 1.', 'It returns a single row containing 1.', '{1,0,0}', '{0.8,0.6,0}'),
 (5, 'chat', 'Tell me a joke.',
  'Why did the chicken cross the road? To get to the other side.', 'I would rather not.', NULL, NULL),
 (6, 'chat', 'What is the tallest mountain on Earth?',
  'Mount Everest, at 8849 metres.', 'Everest, 8849 m above sea level, on the border of Nepal and China.', NULL, NULL);
ALTER TABLE feat_pairs ADD COLUMN stats jsonb, ADD COLUMN features text[];
UPDATE feat_pairs SET stats = hp.pair_stats(prompt, response_a, response_b, a_emb, b_emb);
WITH c AS (SELECT hp.feature_cutoffs(stats) AS cut FROM feat_pairs)
UPDATE feat_pairs SET features = hp.pair_features(stats, c.cut, ARRAY['app:' || app]) FROM c;
SELECT hp.feature_cutoffs(stats) FROM feat_pairs;
SELECT id, stats ->> 'len_shorter' AS shorter, stats ->> 'len_longer' AS longer, features FROM feat_pairs ORDER BY id;

-- The one-call form computes the statistics itself: the same features.
SELECT bool_and(hp.pair_features(prompt, response_a, response_b, ARRAY['app:' || app], c.cut, a_emb, b_emb) = features)
       AS same_as_fast_path
FROM feat_pairs, (SELECT hp.feature_cutoffs(stats) AS cut FROM feat_pairs) c;

-- Tags: "key:value" as given, a bare value becomes tag:<value>; the result
-- is sorted COLLATE "C" (':' sorts before letters) and de-duplicated.
SELECT hp.pair_features(stats, pg_temp.cut0(),
                        '{subject:math,expertise:expert,math,subject:math,safety_concern:none,Format:list}')
FROM feat_pairs WHERE id = 2;
SELECT hp.pair_features(stats, pg_temp.cut0(), NULL) = hp.pair_features(stats, pg_temp.cut0()) AS null_tags_are_no_tags
FROM feat_pairs WHERE id = 2;
SELECT hp.pair_features(NULL::jsonb, pg_temp.cut0()) IS NULL AS null_stats,
       hp.pair_features(NULL, 'a', 'b', '{}', pg_temp.cut0()) IS NULL AS null_prompt;

-- Cut points are needed: length bins are dataset percentiles, so there is
-- no silent default.
CREATE FUNCTION pg_temp.hp_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ': ' || SQLERRM || coalesce(nullif(' (' || d || ')', ' ()'), '');
END $$;
SELECT pg_temp.hp_try($q$SELECT hp.pair_features('Why?', 'Because.', 'No idea.')$q$);
SELECT pg_temp.hp_try($q$SELECT hp.pair_features(stats, NULL) FROM feat_pairs$q$);

-- 5. hp.feature_vocab(features) aggregate: the sorted distinct names.
SELECT hp.feature_vocab(features) FROM feat_pairs;
SELECT app, cardinality(hp.feature_vocab(features)) AS names FROM feat_pairs GROUP BY app ORDER BY app;
SELECT hp.feature_vocab(f) AS c_order FROM (VALUES ('{b,B,a:x,a,ab}'::text[]), (NULL), ('{}')) v(f);
SELECT hp.feature_vocab(f) IS NULL AS no_rows FROM (SELECT NULL::text[] f) v;

-- hp.feature_counts(features, vocab) aggregate: how many rows carry each
-- vocabulary entry, aligned with vocab.  Here the rows routed to humans are
-- ids 2, 3 and 6; divided by N = 6 it is what a PPM reads.
WITH v AS (SELECT hp.feature_vocab(features) AS vocab FROM feat_pairs)
SELECT name, cnt, round((cnt / 6)::numeric, 3) AS normalised
FROM (SELECT hp.feature_counts(features, v.vocab) AS counts, v.vocab
      FROM feat_pairs, v WHERE id IN (2, 3, 6) GROUP BY v.vocab) s,
     unnest(s.vocab, s.counts) u(name, cnt)
WHERE name LIKE 'app:%' OR name LIKE 'len_prompt:%' ORDER BY name;

-- A row counts once per entry; names outside the vocabulary are ignored;
-- the vocabulary may be in any order; NULL features count nothing.
SELECT hp.feature_counts(f, '{z,a,b}') AS counts
FROM (VALUES ('{a,a,b,q}'::text[]), ('{a}'), (NULL)) v(f);
SELECT hp.feature_counts(f, '{}') AS empty_vocab FROM (VALUES ('{a}'::text[])) v(f);
SELECT hp.feature_counts(f, '{a}') IS NULL AS no_rows FROM (SELECT '{a}'::text[] f WHERE false) v;

-- Parallel plans agree with serial ones.
CREATE TABLE feat_many AS
SELECT i AS id, ARRAY['app:' || (i % 13), 'len_prompt:p' || (i % 3), 'tag:t' || (i % 101)] AS features
FROM generate_series(1, 30000) i;
SELECT hp.feature_vocab(features) AS ser_vocab FROM feat_many \gset
SELECT hp.feature_counts(features, :'ser_vocab') AS ser_counts FROM feat_many \gset
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF) SELECT hp.feature_counts(features, :'ser_vocab') FROM feat_many;
SELECT hp.feature_vocab(features) = :'ser_vocab' AS vocab_parallel_equals_serial,
       hp.feature_counts(features, :'ser_vocab') = :'ser_counts' AS counts_parallel_equals_serial,
       cardinality(hp.feature_vocab(features)) AS names
FROM feat_many;
RESET ALL;

-- 6. Bad input: errors with SQLSTATEs.
-- Tags: NULL elements (22004), empty tags, keys or values, computed groups (22023), 2-D (2202E).
SELECT pg_temp.hp_try($q$SELECT hp.pair_features(stats, pg_temp.cut0(), ARRAY['app:' || NULL]) FROM feat_pairs$q$);
SELECT pg_temp.hp_try($q$SELECT hp.pair_features(stats, pg_temp.cut0(), '{""}') FROM feat_pairs$q$);
SELECT pg_temp.hp_try($q$SELECT hp.pair_features(stats, pg_temp.cut0(), '{:x}') FROM feat_pairs$q$);
SELECT pg_temp.hp_try($q$SELECT hp.pair_features(stats, pg_temp.cut0(), '{x:}') FROM feat_pairs$q$);
SELECT pg_temp.hp_try($q$SELECT hp.pair_features(stats, pg_temp.cut0(), '{rouge1:high}') FROM feat_pairs$q$);
SELECT pg_temp.hp_try($q$SELECT hp.pair_features(stats, pg_temp.cut0(), '{{a,b},{c,d}}') FROM feat_pairs$q$);
-- Cutoffs: not an object, missing or unknown keys, malformed pairs (22023).
SELECT pg_temp.hp_try($q$SELECT hp.pair_features(stats, '[33, 66]') FROM feat_pairs$q$);
SELECT pg_temp.hp_try($q$SELECT hp.pair_features(stats, '{"len_prompt": [1, 2]}') FROM feat_pairs$q$);
SELECT pg_temp.hp_try($q$SELECT hp.pair_features(stats, pg_temp.cut0() || '{"len_promt": [1, 2]}') FROM feat_pairs$q$);
SELECT pg_temp.hp_try($q$SELECT hp.pair_features(stats, pg_temp.cut0() || '{"len_diff": [5, 2]}') FROM feat_pairs$q$);
SELECT pg_temp.hp_try($q$SELECT hp.pair_features(stats, pg_temp.cut0() || '{"len_diff": 5}') FROM feat_pairs$q$);
SELECT pg_temp.hp_try($q$SELECT hp.pair_features(stats, pg_temp.cut0() || '{"len_diff": [1, "2"]}') FROM feat_pairs$q$);
SELECT pg_temp.hp_try($q$SELECT hp.pair_features(stats, pg_temp.cut0() || '{"n": "many"}') FROM feat_pairs$q$);
-- Stats: as hp.pair_stats returns them, exactly (22023).
SELECT pg_temp.hp_try($q$SELECT hp.pair_features('[1]', pg_temp.cut0())$q$);
SELECT pg_temp.hp_try($q$SELECT hp.pair_features(stats - 'cosine', pg_temp.cut0()) FROM feat_pairs$q$);
SELECT pg_temp.hp_try($q$SELECT hp.pair_features(stats || '{"bleu": 0.5}', pg_temp.cut0()) FROM feat_pairs$q$);
SELECT pg_temp.hp_try($q$SELECT hp.pair_features(stats || '{"len_diff": -1}', pg_temp.cut0()) FROM feat_pairs$q$);
SELECT pg_temp.hp_try($q$SELECT hp.feature_cutoffs(stats || '{"len_prompt": 2.5}') FROM feat_pairs$q$);
SELECT pg_temp.hp_try($q$SELECT hp.feature_cutoffs(stats || '{"rouge1": "high"}') FROM feat_pairs$q$);
-- Embeddings: different dimensions (2202E), NaN (22000), empty (2202E).
SELECT pg_temp.hp_try($q$SELECT hp.pair_stats('', 'a', 'b', '{1,2}', '{1,2,3}')$q$);
SELECT pg_temp.hp_try($q$SELECT hp.pair_stats('', 'a', 'b', '{1,NaN}', '{1,2}')$q$);
SELECT pg_temp.hp_try($q$SELECT hp.pair_stats('', 'a', 'b', '{}', '{}')$q$);
-- Vocabulary and counts: NULL vocab or elements (22004), duplicates or a
-- vocab changing within a group (22023), 2-D features (2202E).
SELECT pg_temp.hp_try($q$SELECT hp.feature_vocab(f) FROM (VALUES ('{a,NULL}'::text[])) v(f)$q$);
SELECT pg_temp.hp_try($q$SELECT hp.feature_vocab(f) FROM (VALUES ('{{a},{b}}'::text[])) v(f)$q$);
SELECT pg_temp.hp_try($q$SELECT hp.feature_counts(f, NULL) FROM (VALUES ('{a}'::text[])) v(f)$q$);
SELECT pg_temp.hp_try($q$SELECT hp.feature_counts(f, '{a,NULL}') FROM (VALUES ('{a}'::text[])) v(f)$q$);
SELECT pg_temp.hp_try($q$SELECT hp.feature_counts(f, '{a,b,a}') FROM (VALUES ('{a}'::text[])) v(f)$q$);
SELECT pg_temp.hp_try($q$SELECT hp.feature_counts(f, vo) FROM (VALUES ('{a}'::text[], '{a,b}'::text[]), ('{a}', '{b,a}')) v(f, vo)$q$);
SELECT pg_temp.hp_try($q$SELECT hp.feature_counts(f, '{a}') FROM (VALUES ('{a,NULL}'::text[])) v(f)$q$);
-- States are checked: a foreign or truncated bytea is XX001, never a crash.
SELECT pg_temp.hp_try($q$SELECT hp._feature_cutoffs_final('\x00'::bytea)$q$);
SELECT pg_temp.hp_try($q$SELECT hp._feature_vocab_final(substr(hp._feature_vocab_trans(NULL, '{a,b}'), 1, 30))$q$);
SELECT pg_temp.hp_try($q$SELECT hp._feature_counts_final('\x0102030405060708'::bytea)$q$);
-- Direct calls of the transition functions do not modify their inputs.
SELECT hp._feature_vocab_final(s) AS before_and_after,
       hp._feature_vocab_final(hp._feature_vocab_trans(s, '{c}')) AS with_c,
       hp._feature_vocab_final(s) AS unchanged
FROM (SELECT hp._feature_vocab_trans(NULL, '{b,a}') AS s) v;

DROP TABLE feat_rand, feat_pairs, feat_many;
