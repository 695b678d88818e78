/*
 * embed.c: byte tokenizer and signed feature hashing (hp.embed).
 * See hp_embed.h for the tokenisation rules and the feature definition.
 */
#include "hp_embed.h"
#include "hp_rng.h"

#include <math.h>
#include <string.h>

/* Per-kind seeds keep unigram and bigram hashes in separate domains. */
#define SEED_UNIGRAM	(HP_FNV_OFFSET ^ 0x756e696772616d31ULL)	/* "unigram1" */
#define SEED_BIGRAM		(HP_FNV_OFFSET ^ 0x62696772616d3132ULL)	/* "bigram12" */

/* Tokens between interrupt checks: well under a millisecond of work. */
#define INTERRUPT_EVERY 4096

/*
 * A bucket whose sum is below this fraction of the weight that went into it
 * is rounding residue of an exact cancellation: forced to zero so it cannot
 * be amplified by the normalisation or differ between libms.
 */
#define CANCEL_EPS 1e-12

/* Word bytes: ASCII letters and digits, and every non-ASCII byte. */
static inline bool
IsWordByte(unsigned char c)
{
	return c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* UTF-8 continuation byte (10xxxxxx). */
static inline bool
IsCont(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

/* Start iterating over text[0, len). */
void
hp_tokenizer_init(HpTokenizer *tz, const char *text, size_t len)
{
	tz->text = (const unsigned char *) text;
	tz->len = text ? len : 0;
	tz->pos = 0;
}

/* Next maximal run of word bytes, folded and truncated to HP_TOKEN_MAX. */
bool
hp_tokenizer_next(HpTokenizer *tz, HpToken *tok)
{
	const unsigned char *p = tz->text;
	size_t		i = tz->pos;
	size_t		n = tz->len;
	int			k = 0;

	while (i < n && !IsWordByte(p[i]))
		i++;
	if (i >= n)
	{
		tz->pos = n;
		return false;
	}
	tok->start = i;
	for (; i < n && IsWordByte(p[i]); i++)
	{
		unsigned char c = p[i];

		if (k < HP_TOKEN_MAX)
			tok->buf[k++] = (char) ((c >= 'A' && c <= 'Z') ? (c | 0x20) : c);
	}
	tok->end = i;
	tz->pos = i;

	/* Cut inside a UTF-8 character: drop its leading bytes too. */
	if (i - tok->start > HP_TOKEN_MAX && IsCont(p[tok->start + HP_TOKEN_MAX]))
	{
		int			c = k;

		while (c > 0 && IsCont((unsigned char) tok->buf[c - 1]))
			c--;
		/* c-1 is the lead byte; keep invalid UTF-8 (no lead) as it is. */
		if (c > 1 && ((unsigned char) tok->buf[c - 1] & 0xC0) == 0xC0)
			k = c - 1;
	}
	tok->len = k;
	tok->buf[k] = '\0';
	return true;
}

/* Unigram feature hash of a normalised token. */
uint64_t
hp_token_hash(const char *buf, int len)
{
	return hp_mix64(hp_fnv1a64(buf, (size_t) len, SEED_UNIGRAM));
}

/*
 * Open-addressing (linear probing) counts of distinct feature hashes.  A
 * zero count marks an empty slot, so every 64-bit key value is usable.
 */
typedef struct FeatTable
{
	uint64_t   *keys;
	uint32_t   *counts;
	size_t		mask;			/* capacity - 1, capacity a power of two */
	size_t		used;
} FeatTable;

/* Allocate an empty table of cap slots. */
static void
TableInit(FeatTable *t, size_t cap)
{
	t->keys = hp_alloc(cap * sizeof(uint64_t));
	t->counts = hp_alloc0(cap * sizeof(uint32_t));
	t->mask = cap - 1;
	t->used = 0;
}

/* Double the capacity, reinserting every key in slot order. */
static void
TableGrow(FeatTable *t)
{
	FeatTable	old = *t;

	TableInit(t, (old.mask + 1) * 2);
	for (size_t i = 0; i <= old.mask; i++)
	{
		size_t		j;

		if (old.counts[i] == 0)
			continue;
		for (j = old.keys[i] & t->mask; t->counts[j]; j = (j + 1) & t->mask)
			;
		t->keys[j] = old.keys[i];
		t->counts[j] = old.counts[i];
	}
	t->used = old.used;
	hp_free(old.keys);
	hp_free(old.counts);
}

/* Add each feature's signed sublinear weight to its bucket, then empty t. */
static void
TableFlush(FeatTable *t, double *acc, double *mass, int dim)
{
	for (size_t i = 0; i <= t->mask; i++)
	{
		uint64_t	h = t->keys[i];
		double		w;
		size_t		b;

		if (t->counts[i] == 0)
			continue;
		/* Bucket from the low 63 bits, sign from the top one: independent. */
		w = 1.0 + log((double) t->counts[i]);
		b = (size_t) ((h & 0x7fffffffffffffffULL) % (uint64_t) dim);
		acc[b] += (h >> 63) ? -w : w;
		mass[b] += w;
	}
	memset(t->counts, 0, (t->mask + 1) * sizeof(uint32_t));
	t->used = 0;
}

/* Count one occurrence of feature h; flushes when the chunk is full. */
static void
TableAdd(FeatTable *t, uint64_t h, double *acc, double *mass, int dim)
{
	size_t		j;

	/* Keep the load at most 1/2; the largest table holds a full chunk. */
	if ((t->used + 1) * 2 > t->mask + 1)
		TableGrow(t);
	for (j = h & t->mask; t->counts[j]; j = (j + 1) & t->mask)
	{
		if (t->keys[j] == h)
		{
			if (t->counts[j] < UINT32_MAX)
				t->counts[j]++;
			return;
		}
	}
	t->keys[j] = h;
	t->counts[j] = 1;
	if (++t->used >= HP_EMBED_MAX_FEATURES)
		TableFlush(t, acc, mass, dim);
}

/* Signed hashed unigram+bigram vector of text, L2-normalised. */
HpStatus
hp_embed(const char *text, size_t len, int dim, float *out, HpError *err)
{
	HpTokenizer tz;
	HpToken		tok;
	FeatTable	t;
	double	   *acc;
	double	   *mass;
	double		sumsq = 0.0;
	uint64_t	prefix = 0;		/* bigram hash state after "prev token, 0x00" */
	bool		have_prev = false;
	size_t		ntok = 0;

	if (dim < 1 || dim > HP_MAX_DIM)
	{
		hp_error(err, HP_EINVAL, "dim must be between 1 and %d", HP_MAX_DIM);
		hp_error_detail(err, "dim is %d.", dim);
		return HP_EINVAL;
	}
	if (out == NULL || (text == NULL && len > 0))
		return hp_error(err, HP_EINVAL, "hp_embed: NULL buffer");

	acc = hp_alloc0((size_t) dim * sizeof(double));
	mass = hp_alloc0((size_t) dim * sizeof(double));
	TableInit(&t, 64);
	hp_tokenizer_init(&tz, text, len);
	while (hp_tokenizer_next(&tz, &tok))
	{
		TableAdd(&t, hp_token_hash(tok.buf, tok.len), acc, mass, dim);
		/* 0x00 never occurs in a token, so "ab c" and "a bc" differ. */
		if (have_prev)
			TableAdd(&t, hp_mix64(hp_fnv1a64(tok.buf, (size_t) tok.len, prefix)), acc, mass, dim);
		prefix = hp_fnv1a64("", 1, hp_fnv1a64(tok.buf, (size_t) tok.len, SEED_BIGRAM));
		have_prev = true;
		if (++ntok % INTERRUPT_EVERY == 0)
			hp_check_interrupts();
	}
	TableFlush(&t, acc, mass, dim);
	hp_free(t.keys);
	hp_free(t.counts);

	for (int i = 0; i < dim; i++)
	{
		if (fabs(acc[i]) <= CANCEL_EPS * mass[i])
			acc[i] = 0.0;
		sumsq += acc[i] * acc[i];
	}
	if (sumsq > 0.0)
	{
		double		norm = sqrt(sumsq);

		for (int i = 0; i < dim; i++)
			out[i] = (float) (acc[i] / norm);
	}
	else
		memset(out, 0, (size_t) dim * sizeof(float));
	hp_free(acc);
	hp_free(mass);
	return HP_OK;
}
