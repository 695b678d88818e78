/*
 * fuzz_features.c: libFuzzer target for the routing features (features.c).
 *
 * Input: byte 0 selects options (bit 0: pass embeddings), bytes 1-2 are
 * split points; the rest is cut into prompt, a and b.  Checks on
 * hp_feat_pair_stats of arbitrary bytes:
 *   - success, every statistic finite and in range, lengths consistent
 *     with the tokenizer (shorter + longer = tokens(a) + tokens(b));
 *   - symmetry in a and b, bit for bit;
 *   - ROUGE-1 equal to a brute-force count over the token strings (for
 *     short texts), and 1 against itself;
 *   - feature names well formed, tags accepted or refused cleanly;
 *   - the tokens fed through the length histogram and the vocabulary
 *     states give valid states, exact cut points and sorted names.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "hp_embed.h"
#include "hp_features.h"

/* Brute-force bound: tokens per text compared pairwise. */
#define BRUTE_MAX 200

/* Tokens of a text as NUL-terminated strings (at most max). */
static int
Tokens(const char *t, size_t len, char (*out)[HP_TOKEN_MAX + 1], int max)
{
	HpTokenizer tz;
	HpToken		tok;
	int			n = 0;

	hp_tokenizer_init(&tz, t, len);
	while (hp_tokenizer_next(&tz, &tok))
	{
		if (n < max)
			memcpy(out[n], tok.buf, (size_t) tok.len + 1);
		n++;
	}
	return n;
}

/* ROUGE-1 F by counting each distinct token of a in both texts. */
static double
BruteRouge(const char *a, size_t alen, const char *b, size_t blen, bool *ok)
{
	static char ta[BRUTE_MAX][HP_TOKEN_MAX + 1];
	static char tb[BRUTE_MAX][HP_TOKEN_MAX + 1];
	int			na = Tokens(a, alen, ta, BRUTE_MAX);
	int			nb = Tokens(b, blen, tb, BRUTE_MAX);
	long		clipped = 0;

	*ok = na <= BRUTE_MAX && nb <= BRUTE_MAX;
	if (!*ok || na + nb == 0)
		return 0.0;
	for (int i = 0; i < na; i++)
	{
		int			ca = 0,
					cb = 0;
		bool		first = true;

		for (int j = 0; j < i; j++)
			if (strcmp(ta[j], ta[i]) == 0)
				first = false;
		if (!first)
			continue;
		for (int j = 0; j < na; j++)
			ca += strcmp(ta[j], ta[i]) == 0;
		for (int j = 0; j < nb; j++)
			cb += strcmp(tb[j], ta[i]) == 0;
		clipped += ca < cb ? ca : cb;
	}
	return (2.0 * (double) clipped) / (double) (na + nb);
}

/* Range and consistency checks of one result. */
static void
CheckStats(const HpPairStats *st, const char *a, size_t alen, const char *b, size_t blen)
{
	int64_t		la = hp_feat_token_count(a, alen),
				lb = hp_feat_token_count(b, blen);

	FUZZ_CHECK(st->rouge1 >= 0.0 && st->rouge1 <= 1.0, "rouge1 %g", st->rouge1);
	FUZZ_CHECK(st->entity_overlap >= 0.0 && st->entity_overlap <= 1.0, "entity %g", st->entity_overlap);
	FUZZ_CHECK(st->cosine >= -1.0 && st->cosine <= 1.0, "cosine %g", st->cosine);
	FUZZ_CHECK(st->len[HP_FEAT_LEN_SHORTER] == (la < lb ? la : lb) &&
			   st->len[HP_FEAT_LEN_LONGER] == (la < lb ? lb : la) &&
			   st->len[HP_FEAT_LEN_DIFF] == st->len[HP_FEAT_LEN_LONGER] - st->len[HP_FEAT_LEN_SHORTER],
			   "lengths %lld %lld %lld for %lld, %lld", (long long) st->len[1],
			   (long long) st->len[2], (long long) st->len[3], (long long) la, (long long) lb);
	FUZZ_CHECK((la + lb == 0) == (st->len[HP_FEAT_LEN_LONGER] == 0), "empty mismatch");
	if (la == 0 || lb == 0)
		FUZZ_CHECK(st->rouge1 == 0.0, "rouge1 %g with an empty side", st->rouge1);
}

/* Histogram and vocabulary states over the texts' token lengths and tokens. */
static void
CheckStates(const char *t, size_t len)
{
	HpTokenizer tz;
	HpToken		tok;
	HpFeatHist *h = hp_feat_hist_new(HP_FEAT_HIST_MIN_CAP);
	HpFeatVocab *v = hp_feat_vocab_new(0, 0);
	HpFeatCutoffs c;
	HpError		err;
	int64_t		lens[512];
	int			n = 0;

	hp_tokenizer_init(&tz, t, len);
	while (hp_tokenizer_next(&tz, &tok) && n < 512)
	{
		int64_t		row[HP_FEAT_NLEN] = {tok.len, (int64_t) tok.start, (int64_t) tok.end, tok.buf[0]};
		HpFeatHist *nh = hp_feat_hist_add(h, row, &err);
		HpFeatVocab *nv = hp_feat_vocab_add(v, tok.buf, (size_t) tok.len, &err);

		FUZZ_CHECK(nh && nv, "state add failed: %s", err.msg);
		if (nh != h)
			hp_free(h);
		if (nv != v)
			hp_free(v);
		h = nh;
		v = nv;
		lens[n++] = tok.len;
	}
	FUZZ_CHECK(hp_feat_hist_check(h, h->size, true, &err) == HP_OK, "histogram invalid: %s", err.msg);
	FUZZ_CHECK(hp_feat_vocab_check(v, v->size, true, &err) == HP_OK, "vocabulary invalid: %s", err.msg);
	if (n > 0)
	{
		int			below1 = 0,
					le1 = 0;

		FUZZ_CHECK(hp_feat_hist_cutoffs(h, &c, &err) == HP_OK, "cutoffs: %s", err.msg);
		/* c1 is a length with >= n/3 rows at or below it and < n/3 strictly below. */
		for (int i = 0; i < n; i++)
		{
			below1 += lens[i] < c.cut[0][0];
			le1 += lens[i] <= c.cut[0][0];
		}
		FUZZ_CHECK(3 * le1 >= n && 3 * below1 < n, "c1 %g not the 1/3 quantile of %d rows", c.cut[0][0], n);
		FUZZ_CHECK(c.cut[0][0] <= c.cut[0][1], "cut points out of order");
	}
	else
		FUZZ_CHECK(v->n == 0, "vocabulary of no tokens");
	hp_free(h);
	hp_free(v);
}

/* One input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data + (size >= 3 ? 3 : size);
	size_t		len = size >= 3 ? size - 3 : 0;
	size_t		s1 = size >= 3 ? (len ? data[1] % (len + 1) : 0) : 0;
	size_t		s2 = size >= 3 ? (len ? data[2] % (len + 1) : 0) : 0;
	bool		emb = size >= 1 && (data[0] & 1);
	const char *p,
			   *a,
			   *b;
	size_t		plen,
				alen,
				blen;
	HpPairStats st,
				sw;
	HpError		err;
	float		ea[8],
				eb[8];
	char		names[HP_FEAT_NSTAT][HP_FEAT_NAME_MAX];
	HpFeatCutoffs cut = {{{1, 2}, {1, 2}, {1, 2}, {1, 2}}};
	bool		brute_ok;
	double		brute;
	char	   *tag;
	size_t		taglen;

	FuzzSetup();
	if (s1 > s2)
	{
		size_t		t = s1;

		s1 = s2;
		s2 = t;
	}
	/* Long inputs: let a and b take the bulk so the tables grow. */
	p = text;
	plen = s1;
	a = text + s1;
	alen = s2 - s1;
	b = text + s2;
	blen = len - s2;
	for (int i = 0; i < 8; i++)
	{
		ea[i] = (float) (i < (int) size ? (int8_t) data[i] : 0);
		eb[i] = (float) (i + 8 < (int) size ? (int8_t) data[i + 8] : 1);
	}

	FUZZ_CHECK(hp_feat_pair_stats(p, plen, a, alen, b, blen, emb ? ea : NULL, emb ? eb : NULL, 8,
								  &st, &err) == HP_OK, "pair stats failed: %s", err.msg);
	CheckStats(&st, a, alen, b, blen);
	FUZZ_CHECK(st.len[HP_FEAT_LEN_PROMPT] == hp_feat_token_count(p, plen), "prompt length");

	/* Symmetric in a and b, bit for bit. */
	FUZZ_CHECK(hp_feat_pair_stats(p, plen, b, blen, a, alen, emb ? eb : NULL, emb ? ea : NULL, 8,
								  &sw, &err) == HP_OK, "swapped pair stats failed");
	FUZZ_CHECK(memcmp(&st.rouge1, &sw.rouge1, sizeof(double)) == 0 &&
			   memcmp(&st.cosine, &sw.cosine, sizeof(double)) == 0 &&
			   memcmp(&st.entity_overlap, &sw.entity_overlap, sizeof(double)) == 0 &&
			   memcmp(st.len, sw.len, sizeof(st.len)) == 0,
			   "not symmetric: %.17g/%.17g %.17g/%.17g %.17g/%.17g", st.rouge1, sw.rouge1,
			   st.cosine, sw.cosine, st.entity_overlap, sw.entity_overlap);

	brute = BruteRouge(a, alen, b, blen, &brute_ok);
	if (brute_ok)
		FUZZ_CHECK(st.rouge1 == brute, "rouge1 %.17g, brute force %.17g", st.rouge1, brute);

	/* Against itself: ROUGE-1 1 (if any token), entity overlap 1 or 0, cosine 1 or 0. */
	FUZZ_CHECK(hp_feat_pair_stats(p, plen, a, alen, a, alen, NULL, NULL, 0, &sw, &err) == HP_OK, "self");
	FUZZ_CHECK(sw.rouge1 == (sw.len[HP_FEAT_LEN_LONGER] > 0 ? 1.0 : 0.0), "self rouge1 %g", sw.rouge1);
	FUZZ_CHECK(sw.entity_overlap == (hp_feat_entities(a, alen, NULL, NULL) > 0 ? 1.0 : 0.0),
			   "self entity overlap %g", sw.entity_overlap);
	/* 0 only for a zero vector (no token, or hashed features that cancel). */
	FUZZ_CHECK(sw.cosine == 1.0 || sw.cosine == 0.0, "self cosine %.17g", sw.cosine);
	if (sw.len[HP_FEAT_LEN_LONGER] == 0)
		FUZZ_CHECK(sw.cosine == 0.0, "self cosine %.17g without tokens", sw.cosine);
	FUZZ_CHECK(sw.len[HP_FEAT_LEN_DIFF] == 0, "self length difference");

	/* Names: "group:bin", short, NUL-terminated. */
	hp_feat_stat_names(&st, &cut, names);
	for (int i = 0; i < HP_FEAT_NSTAT; i++)
		FUZZ_CHECK(strchr(names[i], ':') && strlen(names[i]) < HP_FEAT_NAME_MAX - 1, "name %s", names[i]);

	/* Tags: accepted as "k:v" / "tag:x", or refused with a message. */
	if (hp_feat_tag_name(a, alen, &tag, &taglen, &err) == HP_OK)
	{
		FUZZ_CHECK(taglen >= alen && memchr(tag, ':', taglen) != NULL && tag[taglen] == '\0', "tag");
		hp_free(tag);
	}
	else
		FUZZ_CHECK(err.code == HP_EINVAL && err.msg[0] && tag == NULL, "tag error");

	CheckStates(text, len);
	return 0;
}
