/*
 * features.c: pair statistics, binning, tags, and the states of the
 * feature aggregates (length histogram, vocabulary, count vector).
 * See hp_features.h for the definitions.
 */
#include "hp_features.h"
#include "hp_rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tokens between interrupt checks, as in embed.c. */
#define INTERRUPT_EVERY 4096

const char *const hp_feat_len_names[HP_FEAT_NLEN] = {
	"len_prompt", "len_shorter", "len_longer", "len_diff"
};
const char *const hp_feat_sim_bins[3] = {"low", "mid", "high"};
const char *const hp_feat_len_bins[3] = {"p0-33", "p33-67", "p67-100"};

/* Stat groups in the order of hp_feat_stat_names. */
static const char *const StatGroups[HP_FEAT_NSTAT] = {
	"rouge1", "cosine", "entity_overlap",
	"len_prompt", "len_shorter", "len_longer", "len_diff"
};

/* Token count of a text. */
int64_t
hp_feat_token_count(const char *text, size_t len)
{
	HpTokenizer tz;
	HpToken		tok;
	int64_t		n = 0;

	hp_tokenizer_init(&tz, text, len);
	while (hp_tokenizer_next(&tz, &tok))
		if (++n % INTERRUPT_EVERY == 0)
			hp_check_interrupts();
	return n;
}

/* Entity classes of a token (see hp_features.h). */
#define ENT_NONE	0
#define ENT_YES		1			/* rules (a)-(c) */
#define ENT_INITIAL	2			/* capitalised at a sentence start: rule (d) */

/*
 * Entity class of tok.  prev_end is the end of the previous token, or
 * SIZE_MAX for the first token of the text.
 */
static int
EntityClass(const unsigned char *p, const HpToken *tok, size_t prev_end)
{
	int			caps = 0;

	for (size_t i = tok->start; i < tok->end; i++)
	{
		unsigned char c = p[i];

		if (c >= '0' && c <= '9')
			return ENT_YES;
		if (c >= 'A' && c <= 'Z' && ++caps >= 2)
			return ENT_YES;
	}
	if (tok->end - tok->start < 2 || !(p[tok->start] >= 'A' && p[tok->start] <= 'Z'))
		return ENT_NONE;
	if (prev_end == SIZE_MAX)
		return ENT_INITIAL;
	for (size_t i = prev_end; i < tok->start; i++)
		if (p[i] == '.' || p[i] == '!' || p[i] == '?' || p[i] == '\n')
			return ENT_INITIAL;
	return ENT_YES;
}

/* Visit the entity-like tokens of a text. */
size_t
hp_feat_entities(const char *text, size_t len, HpFeatTokenFn fn, void *arg)
{
	HpTokenizer tz;
	HpToken		tok;
	size_t		prev_end = SIZE_MAX;
	size_t		n = 0;

	hp_tokenizer_init(&tz, text, len);
	while (hp_tokenizer_next(&tz, &tok))
	{
		if (EntityClass((const unsigned char *) text, &tok, prev_end) == ENT_YES)
		{
			if (fn)
				fn(&tok, arg);
			n++;
		}
		prev_end = tok.end;
	}
	return n;
}

/* Slot flags of the token table: entity classes per side. */
#define SLOT_USED	0x01
#define SLOT_ENT_A	0x02
#define SLOT_ENT_B	0x04
#define SLOT_INI_A	0x08
#define SLOT_INI_B	0x10

/* One distinct token: occurrences in a and b, and where it is an entity. */
typedef struct TokSlot
{
	uint64_t	key;			/* hp_token_hash */
	uint32_t	count[2];
	uint32_t	flags;
} TokSlot;

/* Open-addressing table of the tokens of both responses. */
typedef struct TokTable
{
	TokSlot    *slots;
	size_t		mask;
	size_t		used;
} TokTable;

/* Running totals of the overlap pass. */
typedef struct Overlap
{
	int64_t		ntok[2];
	int64_t		clipped;		/* sum of min(count_a, count_b) */
} Overlap;

/* Allocate an empty table of cap slots (a power of two). */
static void
TokInit(TokTable *t, size_t cap)
{
	t->slots = hp_alloc0(cap * sizeof(TokSlot));
	t->mask = cap - 1;
	t->used = 0;
}

/* Double the table, reinserting every token. */
static void
TokGrow(TokTable *t)
{
	TokTable	old = *t;

	TokInit(t, (old.mask + 1) * 2);
	for (size_t i = 0; i <= old.mask; i++)
	{
		size_t		j;

		if (!(old.slots[i].flags & SLOT_USED))
			continue;
		for (j = old.slots[i].key & t->mask; t->slots[j].flags; j = (j + 1) & t->mask)
			;
		t->slots[j] = old.slots[i];
	}
	t->used = old.used;
	hp_free(old.slots);
}

/* The slot of token hash h, inserted if new. */
static TokSlot *
TokFind(TokTable *t, uint64_t h)
{
	size_t		j;

	/* Load at most 1/2 keeps probes short. */
	if ((t->used + 1) * 2 > t->mask + 1)
		TokGrow(t);
	for (j = h & t->mask; t->slots[j].flags; j = (j + 1) & t->mask)
		if (t->slots[j].key == h)
			return &t->slots[j];
	t->slots[j].key = h;
	t->slots[j].flags = SLOT_USED;
	t->used++;
	return &t->slots[j];
}

/*
 * Count the tokens of one response into the table.  Side 0 must be
 * scanned first: side 1 then knows each token's final count in a, so a
 * token of b adds to the clipped overlap while its count in b is still
 * below its count in a.
 */
static void
ScanSide(TokTable *t, const char *text, size_t len, int side, Overlap *ov)
{
	HpTokenizer tz;
	HpToken		tok;
	size_t		prev_end = SIZE_MAX;
	uint32_t	entflag = side ? SLOT_ENT_B : SLOT_ENT_A;
	uint32_t	iniflag = side ? SLOT_INI_B : SLOT_INI_A;

	hp_tokenizer_init(&tz, text, len);
	while (hp_tokenizer_next(&tz, &tok))
	{
		TokSlot    *s = TokFind(t, hp_token_hash(tok.buf, tok.len));

		if (side == 1 && s->count[1] < s->count[0])
			ov->clipped++;
		if (s->count[side] < UINT32_MAX)
			s->count[side]++;
		if (!(s->flags & entflag))
		{
			int			cls = EntityClass((const unsigned char *) text, &tok, prev_end);

			if (cls == ENT_YES)
				s->flags |= entflag;
			else if (cls == ENT_INITIAL)
				s->flags |= iniflag;
		}
		prev_end = tok.end;
		if (++ov->ntok[side] % INTERRUPT_EVERY == 0)
			hp_check_interrupts();
	}
}

/*
 * Entity sets after rule (d): a sentence-initial capitalised token is an
 * entity of its side when it is one, by (a)-(c), anywhere in either text.
 */
static void
EntityCounts(const TokTable *t, int64_t *na, int64_t *nb, int64_t *both)
{
	*na = *nb = *both = 0;
	for (size_t i = 0; i <= t->mask; i++)
	{
		uint32_t	f = t->slots[i].flags;
		bool		any = (f & (SLOT_ENT_A | SLOT_ENT_B)) != 0;
		bool		ea = (f & SLOT_ENT_A) || ((f & SLOT_INI_A) && any);
		bool		eb = (f & SLOT_ENT_B) || ((f & SLOT_INI_B) && any);

		*na += ea;
		*nb += eb;
		*both += ea && eb;
	}
}

/* Smallest power of two >= x (x <= 2^62). */
static size_t
Pow2AtLeast(size_t x)
{
	size_t		p = 1;

	while (p < x)
		p <<= 1;
	return p;
}

/* ROUGE-1 F, entity Jaccard and token counts of two responses. */
void
hp_feat_overlap(const char *a, size_t alen, const char *b, size_t blen,
				double *rouge1, double *entity, int64_t *la, int64_t *lb)
{
	TokTable	t;
	Overlap		ov;
	int64_t		ea,
				eb,
				both,
				uni;

	/*
	 * At most one distinct token per 2 bytes, typically one per 6 or more:
	 * start at load 1/2 for that, so prose rarely regrows, and cap the
	 * first table so a huge text does not zero megabytes up front.
	 */
	TokInit(&t, Pow2AtLeast((alen + blen) / 6 + 64 > 16384 ? 16384 : (alen + blen) / 6 + 64));
	memset(&ov, 0, sizeof(ov));
	ScanSide(&t, a, alen, 0, &ov);
	ScanSide(&t, b, blen, 1, &ov);
	EntityCounts(&t, &ea, &eb, &both);
	hp_free(t.slots);

	/* One correctly rounded division each: exact at the bin edges. */
	*rouge1 = ov.ntok[0] + ov.ntok[1] > 0 ?
		(2.0 * (double) ov.clipped) / (double) (ov.ntok[0] + ov.ntok[1]) : 0.0;
	uni = ea + eb - both;
	*entity = uni > 0 ? (double) both / (double) uni : 0.0;
	*la = ov.ntok[0];
	*lb = ov.ntok[1];
}

/* Cosine in double; sqrt of the product makes cos(x, x) exactly 1. */
double
hp_feat_cosine(const float *a, const float *b, int dim)
{
	double		ab = 0.0,
				aa = 0.0,
				bb = 0.0,
				c;

	for (int i = 0; i < dim; i++)
	{
		ab += (double) a[i] * b[i];
		aa += (double) a[i] * a[i];
		bb += (double) b[i] * b[i];
	}
	if (aa == 0.0 || bb == 0.0)
		return 0.0;
	/*
	 * Squares of floats stay within [1e-90, 2e81] in double, so aa * bb
	 * neither overflows nor underflows.
	 */
	c = ab / sqrt(aa * bb);
	return c > 1.0 ? 1.0 : (c < -1.0 ? -1.0 : c);
}

/* Every statistic of one instance. */
HpStatus
hp_feat_pair_stats(const char *prompt, size_t plen,
				   const char *a, size_t alen,
				   const char *b, size_t blen,
				   const float *a_emb, const float *b_emb, int dim,
				   HpPairStats *out, HpError *err)
{
	int64_t		la,
				lb;

	if ((prompt == NULL && plen) || (a == NULL && alen) || (b == NULL && blen) || out == NULL)
		return hp_error(err, HP_EINVAL, "hp_feat_pair_stats: NULL buffer");
	if (a_emb && b_emb)
	{
		if (dim < 1 || dim > HP_MAX_DIM)
			return hp_error(err, HP_EINVAL, "embedding dimension must be between 1 and %d", HP_MAX_DIM);
		if (!hp_all_finite_f(a_emb, dim) || !hp_all_finite_f(b_emb, dim))
			return hp_error(err, HP_EDATA, "embeddings contain NaN or infinite values");
	}

	out->len[HP_FEAT_LEN_PROMPT] = hp_feat_token_count(prompt, plen);
	hp_feat_overlap(a, alen, b, blen, &out->rouge1, &out->entity_overlap, &la, &lb);
	out->len[HP_FEAT_LEN_SHORTER] = la < lb ? la : lb;
	out->len[HP_FEAT_LEN_LONGER] = la < lb ? lb : la;
	out->len[HP_FEAT_LEN_DIFF] = la < lb ? lb - la : la - lb;

	if (a_emb && b_emb)
		out->cosine = hp_feat_cosine(a_emb, b_emb, dim);
	else
	{
		float	   *ea = hp_alloc(sizeof(float) * HP_FEAT_COSINE_DIM);
		float	   *eb = hp_alloc(sizeof(float) * HP_FEAT_COSINE_DIM);
		HpStatus	rc;

		rc = hp_embed(a, alen, HP_FEAT_COSINE_DIM, ea, err);
		if (rc == HP_OK)
			rc = hp_embed(b, blen, HP_FEAT_COSINE_DIM, eb, err);
		if (rc == HP_OK)
			out->cosine = hp_feat_cosine(ea, eb, HP_FEAT_COSINE_DIM);
		hp_free(ea);
		hp_free(eb);
		if (rc != HP_OK)
			return rc;
	}
	return HP_OK;
}

/* Similarity bin: the edges are the doubles nearest 1/3 and 2/3. */
int
hp_feat_sim_bin(double v)
{
	if (!(v >= 1.0 / 3.0))
		return 0;
	return v < 2.0 / 3.0 ? 1 : 2;
}

/* Length bin against a statistic's two cut points. */
int
hp_feat_len_bin(int64_t x, const double cut[2])
{
	double		v = (double) (x < 0 ? 0 : (x > HP_FEAT_LEN_CAP ? HP_FEAT_LEN_CAP : x));

	if (v <= cut[0])
		return 0;
	return v <= cut[1] ? 1 : 2;
}

/* The seven generated feature names of an instance. */
void
hp_feat_stat_names(const HpPairStats *s, const HpFeatCutoffs *c,
				   char names[HP_FEAT_NSTAT][HP_FEAT_NAME_MAX])
{
	const double sims[3] = {s->rouge1, s->cosine, s->entity_overlap};

	for (int i = 0; i < 3; i++)
		snprintf(names[i], HP_FEAT_NAME_MAX, "%s:%s", StatGroups[i],
				 hp_feat_sim_bins[hp_feat_sim_bin(sims[i])]);
	for (int k = 0; k < HP_FEAT_NLEN; k++)
		snprintf(names[3 + k], HP_FEAT_NAME_MAX, "%s:%s", hp_feat_len_names[k],
				 hp_feat_len_bins[hp_feat_len_bin(s->len[k], c->cut[k])]);
}

/* Is this one of the generated groups? */
bool
hp_feat_reserved_group(const char *group, size_t len)
{
	for (int i = 0; i < HP_FEAT_NSTAT; i++)
		if (strlen(StatGroups[i]) == len && memcmp(StatGroups[i], group, len) == 0)
			return true;
	return false;
}

/* Feature name of a user tag (see hp_features.h). */
HpStatus
hp_feat_tag_name(const char *tag, size_t len, char **out, size_t *outlen, HpError *err)
{
	const char *colon = len ? memchr(tag, ':', len) : NULL;
	int			show = len > 64 ? 64 : (int) len;	/* tag bytes quoted in messages */
	char	   *s;

	*out = NULL;
	*outlen = 0;
	if (len == 0)
		return hp_error(err, HP_EINVAL, "tags must not be empty strings");
	if (colon == NULL)
	{
		s = hp_alloc(len + 5);
		memcpy(s, "tag:", 4);
		memcpy(s + 4, tag, len);
		s[len + 4] = '\0';
		*out = s;
		*outlen = len + 4;
		return HP_OK;
	}
	if (colon == tag)
	{
		hp_error(err, HP_EINVAL, "tag \"%.*s\" has an empty key", show, tag);
		hp_error_detail(err, "Tags are \"key:value\" or a bare value, which becomes \"tag:value\".");
		return HP_EINVAL;
	}
	if (colon == tag + len - 1)
	{
		hp_error(err, HP_EINVAL, "tag \"%.*s\" has an empty value", show, tag);
		hp_error_detail(err, "Tags are \"key:value\" or a bare value, which becomes \"tag:value\".");
		return HP_EINVAL;
	}
	if (hp_feat_reserved_group(tag, (size_t) (colon - tag)))
	{
		hp_error(err, HP_EINVAL, "tag \"%.*s\" uses the reserved group \"%.*s\"", show, tag,
				 (int) (colon - tag), tag);
		hp_error_detail(err, "rouge1, cosine, entity_overlap, len_prompt, len_shorter, len_longer and len_diff are computed from the texts.");
		return HP_EINVAL;
	}
	s = hp_alloc(len + 1);
	memcpy(s, tag, len);
	s[len] = '\0';
	*out = s;
	*outlen = len;
	return HP_OK;
}

/* Bytewise comparison, shorter first on a common prefix. */
int
hp_feat_str_cmp(const HpFeatStr *a, const HpFeatStr *b)
{
	size_t		n = a->len < b->len ? a->len : b->len;
	int			c = n ? memcmp(a->s, b->s, n) : 0;

	if (c != 0)
		return c;
	return (a->len > b->len) - (a->len < b->len);
}

/* qsort adapter of hp_feat_str_cmp. */
static int
StrCmpQsort(const void *a, const void *b)
{
	return hp_feat_str_cmp((const HpFeatStr *) a, (const HpFeatStr *) b);
}

/* Sort and de-duplicate in place. */
size_t
hp_feat_sort_unique(HpFeatStr *v, size_t n)
{
	size_t		m = 0;

	if (n < 2)
		return n;
	qsort(v, n, sizeof(HpFeatStr), StrCmpQsort);
	for (size_t i = 0; i < n; i++)
		if (m == 0 || hp_feat_str_cmp(&v[m - 1], &v[i]) != 0)
			v[m++] = v[i];
	return m;
}

/* ---- Length histogram ---------------------------------------------------- */

/* Bytes of a histogram of cap slots. */
size_t
hp_feat_hist_size(uint32_t cap)
{
	return sizeof(HpFeatHist) + (size_t) cap * sizeof(HpFeatHistSlot);
}

/* A zeroed histogram of cap slots. */
HpFeatHist *
hp_feat_hist_new(uint32_t cap)
{
	size_t		size = hp_feat_hist_size(cap);
	HpFeatHist *h = hp_alloc0(size);

	h->magic = HP_FEAT_HIST_MAGIC;
	h->version = HP_FEAT_HIST_VERSION;
	h->size = (uint32_t) size;
	h->cap = cap;
	return h;
}

/* Header (and optionally slot) validation of an untrusted histogram. */
HpStatus
hp_feat_hist_check(const HpFeatHist *h, size_t len, bool full, HpError *err)
{
	uint64_t	total[HP_FEAT_NLEN] = {0};
	uint32_t	occupied = 0;

	if (len < sizeof(HpFeatHist) || h->magic != HP_FEAT_HIST_MAGIC)
		return hp_error(err, HP_ECORRUPT, "invalid hp.feature_cutoffs state");
	if (h->version != HP_FEAT_HIST_VERSION)
	{
		hp_error(err, HP_ECORRUPT, "unsupported hp.feature_cutoffs state version %u", h->version);
		hp_error_detail(err, "This build reads version %d.", HP_FEAT_HIST_VERSION);
		return HP_ECORRUPT;
	}
	if (h->flags != 0 || h->cap < HP_FEAT_HIST_MIN_CAP || (h->cap & (h->cap - 1)) != 0 ||
		h->size != len || hp_feat_hist_size(h->cap) != len || h->used > h->cap / 2 ||
		h->n < 0 || h->n > ((int64_t) 1 << 62))
		return hp_error(err, HP_ECORRUPT, "corrupted hp.feature_cutoffs state");
	if (!full)
		return HP_OK;
	for (uint32_t i = 0; i < h->cap; i++)
	{
		const HpFeatHistSlot *s = &h->slots[i];
		uint32_t	stat = (uint32_t) (s->key >> 32);

		if (s->count == 0)
			continue;
		occupied++;
		if (stat >= HP_FEAT_NLEN || (s->key & 0xffffffffu) > HP_FEAT_LEN_CAP ||
			s->count > (uint64_t) h->n || total[stat] + s->count > (uint64_t) h->n)
			return hp_error(err, HP_ECORRUPT, "corrupted hp.feature_cutoffs state");
		total[stat] += s->count;
	}
	if (occupied != h->used)
		return hp_error(err, HP_ECORRUPT, "corrupted hp.feature_cutoffs state");
	for (int k = 0; k < HP_FEAT_NLEN; k++)
		if (total[k] != (uint64_t) h->n)
			return hp_error(err, HP_ECORRUPT, "corrupted hp.feature_cutoffs state");
	return HP_OK;
}

/* Add count to key; false when no free slot is found (forged state). */
static bool
HistInsert(HpFeatHist *h, uint64_t key, uint64_t count)
{
	uint32_t	mask = h->cap - 1;
	uint32_t	j = (uint32_t) hp_mix64(key) & mask;

	for (uint32_t steps = 0; h->slots[j].count; j = (j + 1) & mask)
	{
		if (h->slots[j].key == key)
		{
			h->slots[j].count += count;
			return true;
		}
		if (++steps >= h->cap)
			return false;
	}
	h->slots[j].key = key;
	h->slots[j].count = count;
	h->used++;
	return true;
}

/*
 * A copy of h with room for extra more keys at load <= 1/2 (h itself when
 * it has room).  NULL with err set beyond HP_FEAT_STATE_MAX or when h's
 * slots cannot be reinserted.
 */
static HpFeatHist *
HistReserve(HpFeatHist *h, uint64_t extra, HpError *err)
{
	uint64_t	need = (uint64_t) h->used + extra;
	uint64_t	cap = h->cap;
	HpFeatHist *nh;

	if (need <= cap / 2)
		return h;
	while (need > cap / 2)
		cap *= 2;
	if (cap > ((uint64_t) 1 << 31) || hp_feat_hist_size((uint32_t) cap) > HP_FEAT_STATE_MAX)
	{
		hp_error(err, HP_ELIMIT, "hp.feature_cutoffs state would exceed %zu MB",
				 HP_FEAT_STATE_MAX >> 20);
		return NULL;
	}
	nh = hp_feat_hist_new((uint32_t) cap);
	nh->n = h->n;
	for (uint32_t i = 0; i < h->cap; i++)
		if (h->slots[i].count && !HistInsert(nh, h->slots[i].key, h->slots[i].count))
		{
			hp_free(nh);
			hp_error(err, HP_ECORRUPT, "corrupted hp.feature_cutoffs state");
			return NULL;
		}
	return nh;
}

/* Count one row. */
HpFeatHist *
hp_feat_hist_add(HpFeatHist *h, const int64_t len[HP_FEAT_NLEN], HpError *err)
{
	HpFeatHist *nh = HistReserve(h, HP_FEAT_NLEN, err);

	if (nh == NULL)
		return NULL;
	for (int k = 0; k < HP_FEAT_NLEN; k++)
	{
		int64_t		x = len[k] < 0 ? 0 : (len[k] > HP_FEAT_LEN_CAP ? HP_FEAT_LEN_CAP : len[k]);

		if (!HistInsert(nh, (uint64_t) k << 32 | (uint64_t) x, 1))
		{
			if (nh != h)
				hp_free(nh);
			hp_error(err, HP_ECORRUPT, "corrupted hp.feature_cutoffs state");
			return NULL;
		}
	}
	nh->n++;
	return nh;
}

/* dst += src. */
HpFeatHist *
hp_feat_hist_merge(HpFeatHist *dst, const HpFeatHist *src, HpError *err)
{
	HpFeatHist *nh = HistReserve(dst, src->used, err);

	if (nh == NULL)
		return NULL;
	for (uint32_t i = 0; i < src->cap; i++)
	{
		if (src->slots[i].count == 0)
			continue;
		if (!HistInsert(nh, src->slots[i].key, src->slots[i].count))
		{
			if (nh != dst)
				hp_free(nh);
			hp_error(err, HP_ECORRUPT, "corrupted hp.feature_cutoffs state");
			return NULL;
		}
		if ((i & 0xffff) == 0xffff)
			hp_check_interrupts();
	}
	nh->n += src->n;
	return nh;
}

/* (length, count) of one statistic, for sorting by length. */
typedef struct LenCount
{
	uint32_t	len;
	uint64_t	count;
} LenCount;

/* qsort by length. */
static int
LenCountCmp(const void *a, const void *b)
{
	uint32_t	x = ((const LenCount *) a)->len;
	uint32_t	y = ((const LenCount *) b)->len;

	return (x > y) - (x < y);
}

/* Exact tertile cut points of each statistic. */
HpStatus
hp_feat_hist_cutoffs(const HpFeatHist *h, HpFeatCutoffs *c, HpError *err)
{
	LenCount   *lc;

	if (h->n <= 0)
		return hp_error(err, HP_EINVAL, "no rows to compute cut points from");
	lc = hp_alloc(sizeof(LenCount) * (h->used ? h->used : 1));
	for (int k = 0; k < HP_FEAT_NLEN; k++)
	{
		uint32_t	m = 0;
		uint64_t	cum = 0;
		uint64_t	n = (uint64_t) h->n;
		/* Smallest cumulative counts reaching 1/3 and 2/3 of n. */
		uint64_t	target[2] = {(n + 2) / 3, (2 * n + 2) / 3};
		int			t = 0;

		for (uint32_t i = 0; i < h->cap && m < h->used; i++)
			if (h->slots[i].count && (h->slots[i].key >> 32) == (uint64_t) k)
			{
				lc[m].len = (uint32_t) (h->slots[i].key & 0xffffffffu);
				lc[m].count = h->slots[i].count;
				m++;
			}
		qsort(lc, m, sizeof(LenCount), LenCountCmp);
		c->cut[k][0] = c->cut[k][1] = 0.0;
		for (uint32_t i = 0; i < m && t < 2; i++)
		{
			cum += lc[i].count;
			while (t < 2 && cum >= target[t])
				c->cut[k][t++] = (double) lc[i].len;
		}
		if (t < 2)
		{
			hp_free(lc);
			return hp_error(err, HP_ECORRUPT, "corrupted hp.feature_cutoffs state");
		}
	}
	hp_free(lc);
	return HP_OK;
}

/* ---- Vocabulary ------------------------------------------------------------ */

/* Bytes of a vocabulary with these capacities. */
static size_t
VocabSize(uint64_t item_cap, uint64_t heap_cap)
{
	return sizeof(HpFeatVocab) + item_cap * sizeof(HpFeatVocabItem) + heap_cap;
}

/* Start of the string heap. */
static inline char *
VocabHeap(const HpFeatVocab *v)
{
	return (char *) (v->items + v->item_cap);
}

/* A zeroed vocabulary with these capacities. */
HpFeatVocab *
hp_feat_vocab_new(uint32_t item_cap, uint32_t heap_cap)
{
	size_t		size = VocabSize(item_cap, heap_cap);
	HpFeatVocab *v = hp_alloc0(size);

	v->magic = HP_FEAT_VOCAB_MAGIC;
	v->version = HP_FEAT_VOCAB_VERSION;
	v->size = (uint32_t) size;
	v->item_cap = item_cap;
	v->heap_cap = heap_cap;
	return v;
}

/* Item i, or false when it points outside the heap (forged state). */
static inline bool
VocabItem(const HpFeatVocab *v, uint32_t i, HpFeatStr *out)
{
	const HpFeatVocabItem *it = &v->items[i];

	if ((uint64_t) it->off + it->len > v->heap_used)
		return false;
	out->s = VocabHeap(v) + it->off;
	out->len = it->len;
	return true;
}

/* Item i of a checked vocabulary. */
HpFeatStr
hp_feat_vocab_item(const HpFeatVocab *v, uint32_t i)
{
	HpFeatStr	s;

	s.s = VocabHeap(v) + v->items[i].off;
	s.len = v->items[i].len;
	return s;
}

/* Validation of an untrusted vocabulary. */
HpStatus
hp_feat_vocab_check(const HpFeatVocab *v, size_t len, bool full, HpError *err)
{
	HpFeatStr	prev = {NULL, 0},
				cur;

	if (len < sizeof(HpFeatVocab) || v->magic != HP_FEAT_VOCAB_MAGIC)
		return hp_error(err, HP_ECORRUPT, "invalid hp.feature_vocab state");
	if (v->version != HP_FEAT_VOCAB_VERSION)
	{
		hp_error(err, HP_ECORRUPT, "unsupported hp.feature_vocab state version %u", v->version);
		hp_error_detail(err, "This build reads version %d.", HP_FEAT_VOCAB_VERSION);
		return HP_ECORRUPT;
	}
	if (v->flags != 0 || v->size != len || VocabSize(v->item_cap, v->heap_cap) != len ||
		v->n > v->item_cap || v->heap_used > v->heap_cap)
		return hp_error(err, HP_ECORRUPT, "corrupted hp.feature_vocab state");
	if (!full)
		return HP_OK;
	for (uint32_t i = 0; i < v->n; i++)
	{
		if (!VocabItem(v, i, &cur) || (i > 0 && hp_feat_str_cmp(&prev, &cur) >= 0))
			return hp_error(err, HP_ECORRUPT, "corrupted hp.feature_vocab state");
		prev = cur;
	}
	return HP_OK;
}

/* A copy of v with room for one more item of len bytes (NULL on limit). */
static HpFeatVocab *
VocabGrow(const HpFeatVocab *v, size_t len, HpError *err)
{
	uint64_t	item_cap = v->item_cap;
	uint64_t	heap_cap = v->heap_cap;
	HpFeatVocab *nv;

	if (v->n >= item_cap)
		item_cap = item_cap < 8 ? 16 : item_cap * 2;
	if ((uint64_t) v->heap_used + len > heap_cap)
	{
		heap_cap = heap_cap < 128 ? 256 : heap_cap * 2;
		while (heap_cap < (uint64_t) v->heap_used + len)
			heap_cap *= 2;
	}
	if (VocabSize(item_cap, heap_cap) > HP_FEAT_STATE_MAX)
	{
		hp_error(err, HP_ELIMIT, "hp.feature_vocab state would exceed %zu MB",
				 HP_FEAT_STATE_MAX >> 20);
		return NULL;
	}
	nv = hp_feat_vocab_new((uint32_t) item_cap, (uint32_t) heap_cap);
	memcpy(nv->items, v->items, sizeof(HpFeatVocabItem) * v->n);
	memcpy(VocabHeap(nv), VocabHeap(v), v->heap_used);
	nv->n = v->n;
	nv->heap_used = v->heap_used;
	return nv;
}

/* Insert s unless present; binary search, then one memmove of the items. */
HpFeatVocab *
hp_feat_vocab_add(HpFeatVocab *v, const char *s, size_t len, HpError *err)
{
	HpFeatStr	key = {s, len},
				cur;
	uint32_t	lo = 0,
				hi = v->n;

	while (lo < hi)
	{
		uint32_t	mid = lo + (hi - lo) / 2;
		int			c;

		if (!VocabItem(v, mid, &cur))
		{
			hp_error(err, HP_ECORRUPT, "corrupted hp.feature_vocab state");
			return NULL;
		}
		c = hp_feat_str_cmp(&cur, &key);
		if (c == 0)
			return v;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (len > HP_FEAT_STATE_MAX)
	{
		hp_error(err, HP_ELIMIT, "hp.feature_vocab state would exceed %zu MB",
				 HP_FEAT_STATE_MAX >> 20);
		return NULL;
	}
	if (v->n >= v->item_cap || (uint64_t) v->heap_used + len > v->heap_cap)
	{
		v = VocabGrow(v, len, err);
		if (v == NULL)
			return NULL;
	}
	memmove(&v->items[lo + 1], &v->items[lo], sizeof(HpFeatVocabItem) * (v->n - lo));
	if (len)
		memcpy(VocabHeap(v) + v->heap_used, s, len);
	v->items[lo].off = v->heap_used;
	v->items[lo].len = (uint32_t) len;
	v->heap_used += (uint32_t) len;
	v->n++;
	return v;
}

/* Sorted merge of two checked vocabularies. */
HpFeatVocab *
hp_feat_vocab_union(const HpFeatVocab *a, const HpFeatVocab *b, HpError *err)
{
	uint64_t	item_cap = (uint64_t) a->n + b->n;
	uint64_t	heap_cap = (uint64_t) a->heap_used + b->heap_used;
	HpFeatVocab *v;
	uint32_t	i = 0,
				j = 0;

	if (VocabSize(item_cap, heap_cap) > HP_FEAT_STATE_MAX)
	{
		hp_error(err, HP_ELIMIT, "hp.feature_vocab state would exceed %zu MB",
				 HP_FEAT_STATE_MAX >> 20);
		return NULL;
	}
	v = hp_feat_vocab_new((uint32_t) item_cap, (uint32_t) heap_cap);
	while (i < a->n || j < b->n)
	{
		HpFeatStr	x = {NULL, 0},
					y = {NULL, 0},
					pick;
		int			c;

		if (i < a->n)
			x = hp_feat_vocab_item(a, i);
		if (j < b->n)
			y = hp_feat_vocab_item(b, j);
		c = i >= a->n ? 1 : (j >= b->n ? -1 : hp_feat_str_cmp(&x, &y));
		pick = c <= 0 ? x : y;
		if (c <= 0)
			i++;
		if (c >= 0)
			j++;
		if (pick.len)
			memcpy(VocabHeap(v) + v->heap_used, pick.s, pick.len);
		v->items[v->n].off = v->heap_used;
		v->items[v->n].len = (uint32_t) pick.len;
		v->heap_used += (uint32_t) pick.len;
		v->n++;
	}
	return v;
}

/* ---- Vocabulary index and count vectors ------------------------------------ */

/* A string with its position in the caller's order, for sorting. */
typedef struct PosStr
{
	HpFeatStr	s;
	int32_t		pos;
} PosStr;

/* qsort by string. */
static int
PosStrCmp(const void *a, const void *b)
{
	return hp_feat_str_cmp(&((const PosStr *) a)->s, &((const PosStr *) b)->s);
}

/* Sorted index of a vocabulary given in any order. */
HpStatus
hp_feat_index_build(const HpFeatStr *vocab, int k, HpFeatIndex *idx, HpError *err)
{
	PosStr	   *ps = hp_alloc(sizeof(PosStr) * (k > 0 ? k : 1));
	uint64_t	h = HP_FNV_OFFSET;

	memset(idx, 0, sizeof(*idx));
	for (int i = 0; i < k; i++)
	{
		/* Length first, as 4 explicit bytes: ("ab","c") and ("a","bc") differ. */
		unsigned char lb[4] = {
			(unsigned char) vocab[i].len, (unsigned char) (vocab[i].len >> 8),
			(unsigned char) (vocab[i].len >> 16), (unsigned char) (vocab[i].len >> 24)
		};

		h = hp_fnv1a64(lb, 4, h);
		h = hp_fnv1a64(vocab[i].s, vocab[i].len, h);
		ps[i].s = vocab[i];
		ps[i].pos = i;
	}
	qsort(ps, k, sizeof(PosStr), PosStrCmp);
	for (int i = 1; i < k; i++)
		if (hp_feat_str_cmp(&ps[i - 1].s, &ps[i].s) == 0)
		{
			int			show = ps[i].s.len > 64 ? 64 : (int) ps[i].s.len;

			hp_error(err, HP_EINVAL, "vocab contains \"%.*s\" more than once", show, ps[i].s.s);
			hp_free(ps);
			return HP_EINVAL;
		}
	idx->k = k;
	idx->sorted = hp_alloc(sizeof(HpFeatStr) * (k > 0 ? k : 1));
	idx->pos = hp_alloc(sizeof(int32_t) * (k > 0 ? k : 1));
	idx->stamp = hp_alloc0(sizeof(uint64_t) * (k > 0 ? k : 1));
	for (int i = 0; i < k; i++)
	{
		idx->sorted[i] = ps[i].s;
		idx->pos[i] = ps[i].pos;
	}
	idx->hash = hp_mix64(h ^ (uint64_t) k);
	hp_free(ps);
	return HP_OK;
}

/* Binary search; position in the caller's order or -1. */
int
hp_feat_index_find(const HpFeatIndex *idx, const char *s, size_t len)
{
	HpFeatStr	key = {s, len};
	int			lo = 0,
				hi = idx->k;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			c = hp_feat_str_cmp(&idx->sorted[mid], &key);

		if (c == 0)
			return idx->pos[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Release what hp_feat_index_build allocated. */
void
hp_feat_index_free(HpFeatIndex *idx)
{
	hp_free(idx->sorted);
	hp_free(idx->pos);
	hp_free(idx->stamp);
	memset(idx, 0, sizeof(*idx));
}

/* Bytes of a count vector of k entries. */
size_t
hp_feat_counts_size(int k)
{
	return sizeof(HpFeatCounts) + sizeof(double) * (size_t) (k > 0 ? k : 0);
}

/* A zero count vector for idx's vocabulary. */
HpFeatCounts *
hp_feat_counts_new(const HpFeatIndex *idx)
{
	size_t		size = hp_feat_counts_size(idx->k);
	HpFeatCounts *c = hp_alloc0(size);

	c->magic = HP_FEAT_COUNTS_MAGIC;
	c->version = HP_FEAT_COUNTS_VERSION;
	c->size = (uint32_t) size;
	c->k = idx->k;
	c->vocab_hash = idx->hash;
	return c;
}

/* Validation of an untrusted count vector. */
HpStatus
hp_feat_counts_check(const HpFeatCounts *c, size_t len, HpError *err)
{
	if (len < sizeof(HpFeatCounts) || c->magic != HP_FEAT_COUNTS_MAGIC)
		return hp_error(err, HP_ECORRUPT, "invalid hp.feature_counts state");
	if (c->version != HP_FEAT_COUNTS_VERSION)
	{
		hp_error(err, HP_ECORRUPT, "unsupported hp.feature_counts state version %u", c->version);
		hp_error_detail(err, "This build reads version %d.", HP_FEAT_COUNTS_VERSION);
		return HP_ECORRUPT;
	}
	if (c->flags != 0 || c->k < 0 || c->size != len || hp_feat_counts_size(c->k) != len)
		return hp_error(err, HP_ECORRUPT, "corrupted hp.feature_counts state");
	return HP_OK;
}

/* One row's features into the count vector. */
void
hp_feat_counts_add(HpFeatCounts *c, HpFeatIndex *idx, const HpFeatStr *feats, int n)
{
	uint64_t	row = ++idx->row;

	for (int i = 0; i < n; i++)
	{
		int			j = hp_feat_index_find(idx, feats[i].s, feats[i].len);

		if (j >= 0 && idx->stamp[j] != row)
		{
			idx->stamp[j] = row;
			c->counts[j] += 1.0;
		}
	}
}

/* dst += src over the same vocabulary. */
HpStatus
hp_feat_counts_merge(HpFeatCounts *dst, const HpFeatCounts *src, HpError *err)
{
	if (dst->k != src->k || dst->vocab_hash != src->vocab_hash)
		return hp_error(err, HP_EINVAL, "hp.feature_counts states are over different vocabularies");
	for (int j = 0; j < dst->k; j++)
		dst->counts[j] += src->counts[j];
	return HP_OK;
}
