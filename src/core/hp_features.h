/*
 * hp_features.h: instance features for routing (Hybrid Preferences,
 * Miranda et al. 2024).  Feature names follow docs/routing-contract.md;
 * docs/features.md is the user-facing description.
 *
 * A preference instance (prompt, response a, response b) gets
 *   - pair statistics (hp_feat_pair_stats): ROUGE-1 F of a and b, cosine
 *     similarity of their embeddings, overlap of their "entity-like" tokens,
 *     and four token lengths (prompt, shorter and longer response, their
 *     absolute difference);
 *   - binary features "group:bin" from them: similarities binned on their
 *     values at 1/3 and 2/3, lengths on their percentile rank in the
 *     dataset through cut points computed by an exact histogram;
 *   - user tags "key:value".
 *
 * Tokens are those of the hp.embed tokenizer (hp_embed.h): no locale, ASCII
 * case folding only, so every statistic is deterministic across platforms.
 *
 * ROUGE-1 F = 2 * overlap / (|a| + |b|), overlap = sum over tokens w of
 * min(count_a(w), count_b(w)) (clipped counts; |x| = tokens of x).  This
 * equals the harmonic mean of ROUGE-1 precision and recall; 0 when either
 * text has no token.
 *
 * A token is entity-like when its bytes in the original text
 *   (a) contain an ASCII digit ("42", "2024", "gpt4"), or
 *   (b) contain two or more ASCII capitals ("NASA", "PostgreSQL"), or
 *   (c) are at least two bytes long, start with an ASCII capital, and the
 *       token does not start a sentence.  A token starts a sentence when it
 *       is the first token of the text or the bytes between it and the
 *       previous token contain '.', '!', '?' or a line feed; or
 *   (d) are as in (c) but start a sentence, and the same token is
 *       entity-like by (a)-(c) somewhere in either response (so "Paris
 *       is ..." counts when the other response mentions "... in Paris",
 *       while a sentence-initial "The" does not).
 * Its identity is its normalised (lowercased, truncated) form, so "Paris"
 * and "PARIS" are one entity.  entity_overlap is the Jaccard index of the
 * two responses' entity sets, 0 when both are empty.  Non-ASCII capitals
 * are not recognised (no locale).
 *
 * The aggregate states below are flat, versioned buffers whose first word
 * belongs to the host (PostgreSQL stores the varlena length there), so the
 * glue can keep them as plain bytea: distributed planners (Citus) push down
 * aggregates with a real state type and a combine function, never STYPE
 * internal.  Byte order is the host's; a state from a machine of the other
 * endianness fails the magic check instead of being misread.  Functions
 * that may need a bigger state return a new one (hp_alloc'd, its size in
 * the header) and leave the old one intact: the caller frees it if it owns
 * it, the executor does when it is an aggregate's transition value.
 */
#ifndef HP_FEATURES_H
#define HP_FEATURES_H

#include "hp_core.h"
#include "hp_embed.h"

/* Dimension of the hashed embeddings behind the fallback cosine. */
#define HP_FEAT_COSINE_DIM HP_EMBED_DEFAULT_DIM

/*
 * Lengths above this many tokens count as this many in the length
 * histogram and in binning: it bounds the histogram (at most this many
 * distinct values per statistic) and changes nothing for texts shorter
 * than about 5 MB.
 */
#define HP_FEAT_LEN_CAP 1000000

/* The length statistics, in the order of every array below. */
#define HP_FEAT_NLEN 4
#define HP_FEAT_LEN_PROMPT 0
#define HP_FEAT_LEN_SHORTER 1
#define HP_FEAT_LEN_LONGER 2
#define HP_FEAT_LEN_DIFF 3

/* Stat features per instance: three similarities and four lengths. */
#define HP_FEAT_NSTAT 7
/* Longest generated feature name, NUL included. */
#define HP_FEAT_NAME_MAX 32

/* "len_prompt", "len_shorter", "len_longer", "len_diff". */
extern const char *const hp_feat_len_names[HP_FEAT_NLEN];
/* "low", "mid", "high". */
extern const char *const hp_feat_sim_bins[3];
/* "p0-33", "p33-67", "p67-100". */
extern const char *const hp_feat_len_bins[3];

typedef struct HpPairStats
{
	double		rouge1;			/* [0, 1] */
	double		cosine;			/* [-1, 1] */
	double		entity_overlap; /* [0, 1] */
	int64_t		len[HP_FEAT_NLEN];	/* tokens, exact (not capped) */
} HpPairStats;

/* Number of tokens of text[0, len). */
int64_t		hp_feat_token_count(const char *text, size_t len);

/*
 * Call fn for every token of text[0, len) that is entity-like on its own,
 * by rules (a)-(c), in order, and return how many there were (duplicates
 * included).  For tests and tools; rule (d) needs both responses.
 */
typedef void (*HpFeatTokenFn) (const HpToken *tok, void *arg);
size_t		hp_feat_entities(const char *text, size_t len, HpFeatTokenFn fn, void *arg);

/*
 * ROUGE-1 F and entity Jaccard of a and b, with their token counts.  One
 * pass over each text with a hash table of token counts: linear time.
 */
void		hp_feat_overlap(const char *a, size_t alen, const char *b, size_t blen,
							double *rouge1, double *entity, int64_t *la, int64_t *lb);

/*
 * Cosine a.b / sqrt(|a|^2 |b|^2), accumulated in double: exactly 1 for
 * equal nonzero vectors, 0 when either is zero, clamped to [-1, 1].
 */
double		hp_feat_cosine(const float *a, const float *b, int dim);

/*
 * All statistics of one instance.  With a_emb and b_emb (dim values each,
 * finite) the cosine is theirs; when either is NULL it is the cosine of
 * hp_embed(a) and hp_embed(b) at HP_FEAT_COSINE_DIM, which is what
 * hp.embed(a) and hp.embed(b) give in SQL.  Texts may be empty.
 */
HpStatus	hp_feat_pair_stats(const char *prompt, size_t plen,
							   const char *a, size_t alen,
							   const char *b, size_t blen,
							   const float *a_emb, const float *b_emb, int dim,
							   HpPairStats *out, HpError *err);

/*
 * Bins.  A similarity v is low below 1/3, mid below 2/3, high otherwise
 * (negative cosines are low).  A length x (capped at HP_FEAT_LEN_CAP) is
 * p0-33 when x <= cut[0], p33-67 when x <= cut[1], p67-100 otherwise.
 * Both return 0, 1 or 2.
 */
int			hp_feat_sim_bin(double v);
int			hp_feat_len_bin(int64_t x, const double cut[2]);

/* Cut points of the four length statistics (cut[s][0] <= cut[s][1]). */
typedef struct HpFeatCutoffs
{
	double		cut[HP_FEAT_NLEN][2];
} HpFeatCutoffs;

/*
 * The seven stat feature names of an instance ("rouge1:high", ...,
 * "len_diff:p0-33"), in the order rouge1, cosine, entity_overlap, then
 * hp_feat_len_names.
 */
void		hp_feat_stat_names(const HpPairStats *s, const HpFeatCutoffs *c,
							   char names[HP_FEAT_NSTAT][HP_FEAT_NAME_MAX]);

/* True when group[0, len) is one of the seven stat groups. */
bool		hp_feat_reserved_group(const char *group, size_t len);

/*
 * Feature name of a user tag: "key:value" as it is; a tag without ':'
 * becomes "tag:<tag>".  HP_EINVAL for an empty tag, an empty key or value,
 * or a key that is a stat group (those names are generated).  *out is
 * hp_alloc'd and NUL-terminated.
 */
HpStatus	hp_feat_tag_name(const char *tag, size_t len, char **out, size_t *outlen,
							 HpError *err);

/* A string that need not be NUL-terminated. */
typedef struct HpFeatStr
{
	const char *s;
	size_t		len;
} HpFeatStr;

/* Bytewise order (memcmp, then shorter first): strcmp, COLLATE "C". */
int			hp_feat_str_cmp(const HpFeatStr *a, const HpFeatStr *b);

/* Sort v bytewise and drop duplicates; returns the new count. */
size_t		hp_feat_sort_unique(HpFeatStr *v, size_t n);

/*
 * Length histogram: the state of hp.feature_cutoffs.  Exact counts of every
 * (statistic, capped length) pair in an open-addressing table (load at most
 * 1/2, linear probing, zero count = empty slot), so cut points are exact
 * quantiles and partial states merge exactly.
 */
#define HP_FEAT_HIST_MAGIC 0x48465048u	/* "HPFH" in memory, little-endian */
#define HP_FEAT_HIST_VERSION 1
#define HP_FEAT_HIST_MIN_CAP 64

typedef struct HpFeatHistSlot
{
	uint64_t	key;			/* statistic << 32 | capped length */
	uint64_t	count;			/* 0: empty slot */
} HpFeatHistSlot;

typedef struct HpFeatHist
{
	uint32_t	host;
	uint32_t	magic;
	uint16_t	version;
	uint16_t	flags;			/* 0 */
	uint32_t	size;			/* bytes, host word included */
	uint32_t	cap;			/* slots, a power of two */
	uint32_t	used;			/* occupied slots, at most cap / 2 */
	uint32_t	reserved;
	int64_t		n;				/* rows */
	HpFeatHistSlot slots[];
} HpFeatHist;

/* Bytes of a histogram of cap slots. */
size_t		hp_feat_hist_size(uint32_t cap);
/* A new empty histogram (hp_alloc'd, zeroed, size set). */
HpFeatHist *hp_feat_hist_new(uint32_t cap);
/*
 * Validate a state of len bytes from an untrusted source: header, sizes and
 * (when full) every slot and the row count of every statistic.  The header
 * check is O(1) and enough for memory safety of hp_feat_hist_add; merge and
 * cutoffs need the full check.  HP_ECORRUPT if invalid.
 */
HpStatus	hp_feat_hist_check(const HpFeatHist *h, size_t len, bool full, HpError *err);
/*
 * Count one row's four lengths (each >= 0).  Returns h, or a grown copy.
 * HP_ECORRUPT through err (and NULL) when probing finds no free slot,
 * which only a forged state can cause.
 */
HpFeatHist *hp_feat_hist_add(HpFeatHist *h, const int64_t len[HP_FEAT_NLEN], HpError *err);
/* Add src's counts to dst; returns dst or a grown copy (NULL on error). */
HpFeatHist *hp_feat_hist_merge(HpFeatHist *dst, const HpFeatHist *src, HpError *err);
/*
 * Tertile cut points: cut[s][k] is the smallest length x with
 * 3 * #{rows with length <= x} >= (k + 1) * n, i.e. the lower (inverted
 * CDF, percentile_disc) quantile at 1/3 and 2/3.  Then x <= cut[s][0]
 * exactly when fewer than n/3 rows are shorter than x.  h must have rows.
 */
HpStatus	hp_feat_hist_cutoffs(const HpFeatHist *h, HpFeatCutoffs *c, HpError *err);

/*
 * Vocabulary set: the state of hp.feature_vocab.  Distinct strings kept
 * sorted (bytewise) as (offset, length) items into a byte heap, with spare
 * room for both so most rows add in place.  Lookups are binary searches;
 * every item read is bounds-checked, so a forged state cannot make them
 * read outside the buffer.
 */
#define HP_FEAT_VOCAB_MAGIC 0x56465048u	/* "HPFV" */
#define HP_FEAT_VOCAB_VERSION 1

typedef struct HpFeatVocabItem
{
	uint32_t	off;
	uint32_t	len;
} HpFeatVocabItem;

typedef struct HpFeatVocab
{
	uint32_t	host;
	uint32_t	magic;
	uint16_t	version;
	uint16_t	flags;			/* 0 */
	uint32_t	size;			/* bytes, host word included */
	uint32_t	n;				/* items in use */
	uint32_t	item_cap;
	uint32_t	heap_used;
	uint32_t	heap_cap;
	HpFeatVocabItem items[];	/* item_cap items, then heap_cap bytes */
} HpFeatVocab;

/* A new empty vocabulary (hp_alloc'd, zeroed, size set). */
HpFeatVocab *hp_feat_vocab_new(uint32_t item_cap, uint32_t heap_cap);
/* Header check (full: also every item in bounds, sorted and distinct). */
HpStatus	hp_feat_vocab_check(const HpFeatVocab *v, size_t len, bool full, HpError *err);
/*
 * Add a string if absent; returns v or a grown copy, NULL with err set on
 * a corrupt item or a state above HP_FEAT_STATE_MAX.
 */
HpFeatVocab *hp_feat_vocab_add(HpFeatVocab *v, const char *s, size_t len, HpError *err);
/* Union of two vocabularies as a new state (NULL with err on error). */
HpFeatVocab *hp_feat_vocab_union(const HpFeatVocab *a, const HpFeatVocab *b, HpError *err);
/* Item i as a string (v must have passed the full check). */
HpFeatStr	hp_feat_vocab_item(const HpFeatVocab *v, uint32_t i);

/* Largest aggregate state, in bytes (under PostgreSQL's 1 GB varlena limit). */
#define HP_FEAT_STATE_MAX ((size_t) 512 * 1024 * 1024)

/*
 * Lookup index over a vocabulary given in any order: a sorted permutation.
 * hash identifies the vocabulary (its strings in their given order).
 */
typedef struct HpFeatIndex
{
	int			k;
	HpFeatStr  *sorted;			/* the strings, sorted */
	int32_t    *pos;			/* pos[i]: index in the given order of sorted[i] */
	uint64_t	hash;
	uint64_t   *stamp;			/* per entry: last row that counted it */
	uint64_t	row;			/* rows added through this index */
} HpFeatIndex;

/* Build the index; HP_EINVAL on duplicate strings.  Strings are not copied. */
HpStatus	hp_feat_index_build(const HpFeatStr *vocab, int k, HpFeatIndex *idx, HpError *err);
/* Position of s in the given order, or -1. */
int			hp_feat_index_find(const HpFeatIndex *idx, const char *s, size_t len);
void		hp_feat_index_free(HpFeatIndex *idx);

/* Count vector: the state of hp.feature_counts. */
#define HP_FEAT_COUNTS_MAGIC 0x43465048u	/* "HPFC" */
#define HP_FEAT_COUNTS_VERSION 1

typedef struct HpFeatCounts
{
	uint32_t	host;
	uint32_t	magic;
	uint16_t	version;
	uint16_t	flags;			/* 0 */
	uint32_t	size;			/* bytes, host word included */
	int32_t		k;				/* vocabulary size */
	uint32_t	reserved;
	uint64_t	vocab_hash;		/* HpFeatIndex.hash of the vocabulary */
	double		counts[];
} HpFeatCounts;

size_t		hp_feat_counts_size(int k);
/* A new zero vector for the vocabulary of idx (hp_alloc'd, size set). */
HpFeatCounts *hp_feat_counts_new(const HpFeatIndex *idx);
HpStatus	hp_feat_counts_check(const HpFeatCounts *c, size_t len, HpError *err);
/*
 * Count one row: +1 for every vocabulary entry among feats[0, n), each at
 * most once per row; strings outside the vocabulary are ignored.  c must
 * belong to idx's vocabulary (same hash and size).
 */
void		hp_feat_counts_add(HpFeatCounts *c, HpFeatIndex *idx, const HpFeatStr *feats, int n);
/* Elementwise sum; HP_EINVAL when the vocabularies differ. */
HpStatus	hp_feat_counts_merge(HpFeatCounts *dst, const HpFeatCounts *src, HpError *err);

#endif
