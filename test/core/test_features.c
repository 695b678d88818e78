/*
 * test_features.c: unit tests of the routing features (features.c): pair
 * statistics with hand-computed values, bins, tags, and the three
 * aggregate states against brute-force references.
 */
#include <stdlib.h>
#include <string.h>

#include "hp_embed.h"
#include "hp_features.h"
#include "hp_rng.h"
#include "tests.h"

static long live_allocs;
static long interrupts;

/* Counting allocator: every call must free what it took. */
static void *
CountAlloc(size_t size)
{
	live_allocs++;
	return malloc(size);
}

/* Counterpart of CountAlloc. */
static void
CountRelease(void *p)
{
	live_allocs--;
	free(p);
}

/* Counting interrupt hook: long texts must poll it. */
static void
CountInterrupt(void)
{
	interrupts++;
}

/* Stats of NUL-terminated texts with hashed cosines, asserting success. */
static HpPairStats
Stats(const char *p, const char *a, const char *b)
{
	HpPairStats st;
	HpError		err;

	memset(&st, 0xff, sizeof(st));
	CHECK(hp_feat_pair_stats(p, strlen(p), a, strlen(a), b, strlen(b), NULL, NULL, 0, &st, &err) == HP_OK);
	return st;
}

/* ROUGE-1 F of two NUL-terminated texts. */
static double
Rouge(const char *a, const char *b)
{
	double		r,
				e;
	int64_t		la,
				lb;

	hp_feat_overlap(a, strlen(a), b, strlen(b), &r, &e, &la, &lb);
	return r;
}

/* Entity Jaccard of two NUL-terminated texts. */
static double
EntityOverlap(const char *a, const char *b)
{
	double		r,
				e;
	int64_t		la,
				lb;

	hp_feat_overlap(a, strlen(a), b, strlen(b), &r, &e, &la, &lb);
	return e;
}

/* Collects entity tokens as "x|y|z". */
static void
CollectEntity(const HpToken *tok, void *arg)
{
	char	   *out = arg;

	if (out[0])
		strcat(out, "|");
	strcat(out, tok->buf);
}

/* ROUGE-1 with clipped counts, hand-computed. */
static void
TestRouge(void)
{
	/* a: a x2, b x1 (3 tokens); b: a x1, b x2, c x1 (4); clipped 1 + 1 = 2. */
	CHECK(Rouge("a a b", "a b b c") == 4.0 / 7.0);
	CHECK(Rouge("a a b", "a b b c") == Rouge("a b b c", "a a b"));	/* symmetric */
	CHECK(Rouge("The cat sat.", "the CAT, sat!") == 1.0);	/* same tokens */
	CHECK(Rouge("x y z", "u v w") == 0.0);
	CHECK(Rouge("", "") == 0.0);
	CHECK(Rouge("", "a b") == 0.0);
	CHECK(Rouge(" ?! ", "...") == 0.0);
	/* Clipping: "a" once in a, five times in b: overlap 1, F = 2/6 = 1/3. */
	CHECK(Rouge("a", "a a a a a") == 1.0 / 3.0);
	CHECK(hp_feat_sim_bin(Rouge("a", "a a a a a")) == 1);	/* exactly 1/3 is mid */
	/* Order does not matter for unigrams. */
	CHECK(Rouge("dog bites man", "man bites dog") == 1.0);
}

/* Entity rules (a)-(d) and the Jaccard overlap. */
static void
TestEntities(void)
{
	char		out[256] = "";
	const char *s = "The NASA launch in 2024 went to Mars. Then Apollo\nLater I saw X-ray Vision";

	/*
	 * The: first token (initial); NASA: two capitals; 2024: digit; Mars:
	 * mid-sentence capital; Then: after '.'; Apollo: mid-sentence; Later:
	 * after a line feed; I: one byte; X: one byte; Vision: mid-sentence.
	 */
	CHECK(hp_feat_entities(s, strlen(s), CollectEntity, out) == 5);
	CHECK(strcmp(out, "nasa|2024|mars|apollo|vision") == 0);

	/* {paris, france} vs {paris, france, 2}: 2/3 with rule (d). */
	CHECK(EntityOverlap("The capital of France is Paris.",
						"Paris is the capital of France, with 2 million people.") == 2.0 / 3.0);
	/* Sentence-initial "The" is no entity on either side: empty sets give 0. */
	CHECK(EntityOverlap("The cat.", "The dog.") == 0.0);
	/* Rule (d) needs the token to be an entity somewhere. */
	CHECK(EntityOverlap("Paris is big.", "I love Paris.") == 1.0);
	CHECK(EntityOverlap("Paris is big.", "Paris is small.") == 0.0);
	/* Case-insensitive identity: PARIS (two capitals) = Paris. */
	CHECK(EntityOverlap("I saw PARIS", "we saw Paris") == 1.0);
	/* Numbers: {3, 4} vs {4, 5}: 1/3. */
	CHECK(EntityOverlap("it is 3 or 4", "it is 4 or 5") == 1.0 / 3.0);
	CHECK(EntityOverlap("", "") == 0.0);
	/* Non-ASCII capitals are not capitals (no locale). */
	CHECK(hp_feat_entities("le mot Élan", 12, NULL, NULL) == 0);
}

/* Cosine in double: exact 1, zero vectors, clamping. */
static void
TestCosine(void)
{
	float		a[3] = {1, 2, 3},
				b[3] = {-1, -2, -3},
				z[3] = {0, 0, 0},
				o[3] = {0, 3, -2};
	float		big[2] = {3e38f, 3e38f};

	CHECK(hp_feat_cosine(a, a, 3) == 1.0);
	CHECK(hp_feat_cosine(a, b, 3) == -1.0);
	CHECK(hp_feat_cosine(a, z, 3) == 0.0);
	CHECK(hp_feat_cosine(z, z, 3) == 0.0);
	CHECK(hp_feat_cosine(a, o, 3) == 0.0);
	CHECK(hp_feat_cosine(big, big, 2) == 1.0);	/* no overflow to NaN */
}

/* Whole statistics: lengths, given and hashed cosines, errors. */
static void
TestPairStats(void)
{
	HpPairStats st = Stats("What is it?", "one two three", "one two");
	float		ea[HP_FEAT_COSINE_DIM],
				eb[HP_FEAT_COSINE_DIM];
	HpError		err;
	float		x[2] = {1, 0},
				y[2] = {1, 1},
				bad[2] = {NAN, 0};
	const char *a = "How do I reset my password?";
	const char *b = "How can I reset my account password";

	CHECK(st.len[HP_FEAT_LEN_PROMPT] == 3);
	CHECK(st.len[HP_FEAT_LEN_SHORTER] == 2 && st.len[HP_FEAT_LEN_LONGER] == 3);
	CHECK(st.len[HP_FEAT_LEN_DIFF] == 1);
	CHECK(st.rouge1 == 4.0 / 5.0);

	/* The fallback cosine is that of hp.embed at 1024. */
	st = Stats("", a, b);
	CHECK(hp_embed(a, strlen(a), HP_FEAT_COSINE_DIM, ea, &err) == HP_OK);
	CHECK(hp_embed(b, strlen(b), HP_FEAT_COSINE_DIM, eb, &err) == HP_OK);
	CHECK(st.cosine == hp_feat_cosine(ea, eb, HP_FEAT_COSINE_DIM));
	CHECK(st.cosine > 0.3 && st.cosine < 0.9);
	CHECK(Stats("", a, a).cosine == 1.0);

	/* Empty texts: every statistic defined, no NaN. */
	st = Stats("", "", "");
	CHECK(st.rouge1 == 0.0 && st.cosine == 0.0 && st.entity_overlap == 0.0);
	for (int k = 0; k < HP_FEAT_NLEN; k++)
		CHECK(st.len[k] == 0);

	/* Given embeddings: cos 45 degrees. */
	CHECK(hp_feat_pair_stats("", 0, "a", 1, "b", 1, x, y, 2, &st, &err) == HP_OK);
	CHECK_NEAR(st.cosine, sqrt(0.5), 1e-15);
	CHECK(hp_feat_pair_stats("", 0, "a", 1, "b", 1, x, bad, 2, &st, &err) == HP_EDATA);
	CHECK(hp_feat_pair_stats("", 0, "a", 1, "b", 1, x, y, 0, &st, &err) == HP_EINVAL);
	CHECK(hp_feat_pair_stats(NULL, 3, "a", 1, "b", 1, NULL, NULL, 0, &st, &err) == HP_EINVAL);
	/* NULL text with length 0 is an empty text. */
	CHECK(hp_feat_pair_stats(NULL, 0, NULL, 0, NULL, 0, NULL, NULL, 0, &st, &err) == HP_OK);
	CHECK(st.rouge1 == 0.0 && st.len[HP_FEAT_LEN_LONGER] == 0);
}

/* Similarity and length bins at their edges. */
static void
TestBins(void)
{
	const double cut[2] = {2, 5};
	const double capcut[2] = {HP_FEAT_LEN_CAP, HP_FEAT_LEN_CAP};
	HpPairStats st;
	HpFeatCutoffs c;
	char		names[HP_FEAT_NSTAT][HP_FEAT_NAME_MAX];

	CHECK(hp_feat_sim_bin(0.0) == 0);
	CHECK(hp_feat_sim_bin(-1.0) == 0);
	CHECK(hp_feat_sim_bin(NAN) == 0);
	CHECK(hp_feat_sim_bin(nextafter(1.0 / 3.0, 0)) == 0);
	CHECK(hp_feat_sim_bin(1.0 / 3.0) == 1);
	CHECK(hp_feat_sim_bin(2.0 / 6.0) == 1);
	CHECK(hp_feat_sim_bin(nextafter(2.0 / 3.0, 0)) == 1);
	CHECK(hp_feat_sim_bin(2.0 / 3.0) == 2);
	CHECK(hp_feat_sim_bin(4.0 / 6.0) == 2);
	CHECK(hp_feat_sim_bin(1.0) == 2);

	CHECK(hp_feat_len_bin(0, cut) == 0);
	CHECK(hp_feat_len_bin(2, cut) == 0);
	CHECK(hp_feat_len_bin(3, cut) == 1);
	CHECK(hp_feat_len_bin(5, cut) == 1);
	CHECK(hp_feat_len_bin(6, cut) == 2);
	CHECK(hp_feat_len_bin(-4, cut) == 0);
	/* Above the cap a length counts as the cap. */
	CHECK(hp_feat_len_bin(5 * HP_FEAT_LEN_CAP, capcut) == 0);

	st.rouge1 = 1.0 / 3.0;
	st.cosine = -0.2;
	st.entity_overlap = 1.0;
	st.len[0] = 2;
	st.len[1] = 3;
	st.len[2] = 6;
	st.len[3] = 0;
	for (int k = 0; k < HP_FEAT_NLEN; k++)
	{
		c.cut[k][0] = cut[0];
		c.cut[k][1] = cut[1];
	}
	hp_feat_stat_names(&st, &c, names);
	CHECK(strcmp(names[0], "rouge1:mid") == 0);
	CHECK(strcmp(names[1], "cosine:low") == 0);
	CHECK(strcmp(names[2], "entity_overlap:high") == 0);
	CHECK(strcmp(names[3], "len_prompt:p0-33") == 0);
	CHECK(strcmp(names[4], "len_shorter:p33-67") == 0);
	CHECK(strcmp(names[5], "len_longer:p67-100") == 0);
	CHECK(strcmp(names[6], "len_diff:p0-33") == 0);
}

/* Normalised tag name, or NULL on error. */
static char *
Tag(const char *t, HpError *err)
{
	char	   *out;
	size_t		len;

	if (hp_feat_tag_name(t, strlen(t), &out, &len, err) != HP_OK)
		return NULL;
	return out;
}

/* Tags, sorting and de-duplication. */
static void
TestTagsAndSort(void)
{
	HpError		err;
	char	   *s;
	HpFeatStr	v[6] = {{"b", 1}, {"a:x", 3}, {"a", 1}, {"b", 1}, {"ab", 2}, {"a:", 2}};
	size_t		n;

	CHECK((s = Tag("subject:math", &err)) && strcmp(s, "subject:math") == 0);
	free(s);
	CHECK((s = Tag("math", &err)) && strcmp(s, "tag:math") == 0);
	free(s);
	CHECK((s = Tag("a:b:c", &err)) && strcmp(s, "a:b:c") == 0);	/* group "a" */
	free(s);
	CHECK((s = Tag("lengthy:x", &err)) && strcmp(s, "lengthy:x") == 0);
	free(s);
	CHECK(Tag("", &err) == NULL && err.code == HP_EINVAL);
	CHECK(Tag(":x", &err) == NULL && strstr(err.msg, "empty key"));
	CHECK(Tag("x:", &err) == NULL && strstr(err.msg, "empty value"));
	CHECK(Tag("rouge1:high", &err) == NULL && strstr(err.msg, "reserved"));
	CHECK(Tag("len_diff:p0-33", &err) == NULL);
	CHECK(hp_feat_reserved_group("cosine", 6) && !hp_feat_reserved_group("cosin", 5));

	n = hp_feat_sort_unique(v, 6);
	CHECK(n == 5);
	/* Bytewise: "a" < "a:" < "a:x" < "ab" < "b" (':' is 0x3a < 'b'). */
	CHECK(n == 5 && v[0].len == 1 && v[0].s[0] == 'a' && v[1].len == 2 && v[2].len == 3 &&
		  v[3].len == 2 && v[3].s[1] == 'b' && v[4].s[0] == 'b');
}

/* Reference cut point: sorted[ceil(k n / 3) - 1]. */
static int
CmpI64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a,
				y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/* Add rows whose four lengths are len, len + 1, 2 len and len mod 7. */
static HpFeatHist *
HistRows(HpFeatHist *h, const int64_t *lens, int n)
{
	HpError		err;
	bool		ok = true;

	for (int i = 0; i < n && ok; i++)
	{
		int64_t		row[HP_FEAT_NLEN] = {lens[i], lens[i] + 1, 2 * lens[i], lens[i] % 7};
		HpFeatHist *nh = hp_feat_hist_add(h, row, &err);

		ok = nh != NULL;
		if (ok && nh != h)
		{
			hp_free(h);
			h = nh;
		}
	}
	CHECK(ok);
	return h;
}

/* Exact tertiles, merging, growth and corruption of the length histogram. */
static void
TestHistogram(void)
{
	HpError		err;
	HpFeatCutoffs c;
	HpFeatHist *h,
			   *h1,
			   *h2,
			   *m;
	int64_t		lens[5000],
				sorted[5000];
	HpRng		rng;

	/* 1..99: 33 rows <= 33 reach 1/3, 66 rows <= 66 reach 2/3. */
	for (int i = 0; i < 99; i++)
		lens[i] = i + 1;
	h = HistRows(hp_feat_hist_new(HP_FEAT_HIST_MIN_CAP), lens, 99);
	CHECK(hp_feat_hist_check(h, h->size, true, &err) == HP_OK);
	CHECK(hp_feat_hist_cutoffs(h, &c, &err) == HP_OK);
	CHECK(c.cut[0][0] == 33 && c.cut[0][1] == 66);
	CHECK(c.cut[1][0] == 34 && c.cut[1][1] == 67);
	CHECK(c.cut[2][0] == 66 && c.cut[2][1] == 132);
	CHECK(h->n == 99 && h->cap > HP_FEAT_HIST_MIN_CAP);	/* grew */
	hp_free(h);

	/* Ties: {1,1,1,1,2,3}: 4 of 6 rows <= 1 reach both 2 and 4. */
	{
		int64_t		t[6] = {1, 1, 1, 1, 2, 3};

		h = HistRows(hp_feat_hist_new(HP_FEAT_HIST_MIN_CAP), t, 6);
		CHECK(hp_feat_hist_cutoffs(h, &c, &err) == HP_OK);
		CHECK(c.cut[0][0] == 1 && c.cut[0][1] == 1);
		hp_free(h);
	}

	/* Random lengths against sorting; any split merges to the same cuts. */
	hp_rng_seed(&rng, 7);
	for (int trial = 0; trial < 20; trial++)
	{
		int			n = 1 + (int) hp_rng_below(&rng, 5000);
		int			split = (int) hp_rng_below(&rng, (uint64_t) n + 1);
		int64_t		range = trial % 2 ? 50 : 3000000;	/* many ties / beyond the cap */
		HpFeatCutoffs cm;

		for (int i = 0; i < n; i++)
			lens[i] = (int64_t) hp_rng_below(&rng, (uint64_t) range);
		h = HistRows(hp_feat_hist_new(HP_FEAT_HIST_MIN_CAP), lens, n);
		h1 = HistRows(hp_feat_hist_new(HP_FEAT_HIST_MIN_CAP), lens, split);
		h2 = HistRows(hp_feat_hist_new(HP_FEAT_HIST_MIN_CAP), lens + split, n - split);
		CHECK(hp_feat_hist_check(h1, h1->size, true, &err) == HP_OK);
		m = hp_feat_hist_merge(h1, h2, &err);
		CHECK(m != NULL && m->n == n);
		CHECK(hp_feat_hist_check(m, m->size, true, &err) == HP_OK);
		CHECK(hp_feat_hist_cutoffs(h, &c, &err) == HP_OK);
		CHECK(hp_feat_hist_cutoffs(m, &cm, &err) == HP_OK);
		CHECK(memcmp(&c, &cm, sizeof(c)) == 0);
		for (int i = 0; i < n; i++)
			sorted[i] = lens[i] > HP_FEAT_LEN_CAP ? HP_FEAT_LEN_CAP : lens[i];
		qsort(sorted, n, sizeof(int64_t), CmpI64);
		CHECK(c.cut[0][0] == (double) sorted[(n + 2) / 3 - 1]);
		CHECK(c.cut[0][1] == (double) sorted[(2 * n + 2) / 3 - 1]);
		/* The defining property: x <= c1 iff fewer than n/3 rows are < x. */
		{
			bool		ok = true;

			for (int i = 0; i < n; i += 7)
			{
				int			below = 0;

				for (int j = 0; j < n; j++)
					below += sorted[j] < sorted[i];
				ok &= (3 * below < n) == (hp_feat_len_bin(sorted[i], c.cut[0]) == 0);
				ok &= (3 * below < 2 * n) == (hp_feat_len_bin(sorted[i], c.cut[0]) <= 1);
			}
			CHECK(ok);
		}
		if (m != h1)
			hp_free(h1);
		hp_free(m);
		hp_free(h2);
		hp_free(h);
	}

	/* Corruption is detected, never followed. */
	h = HistRows(hp_feat_hist_new(HP_FEAT_HIST_MIN_CAP), lens, 10);
	CHECK(hp_feat_hist_check(h, h->size - 1, false, &err) == HP_ECORRUPT);
	h->magic ^= 1;
	CHECK(hp_feat_hist_check(h, h->size, false, &err) == HP_ECORRUPT);
	h->magic ^= 1;
	h->version = 99;
	CHECK(hp_feat_hist_check(h, h->size, false, &err) == HP_ECORRUPT && strstr(err.msg, "version"));
	h->version = HP_FEAT_HIST_VERSION;
	h->n++;
	CHECK(hp_feat_hist_check(h, h->size, false, &err) == HP_OK);
	CHECK(hp_feat_hist_check(h, h->size, true, &err) == HP_ECORRUPT);
	h->n--;
	/* A forged full table with a lying "used": probing stops, no hang. */
	for (uint32_t i = 0; i < h->cap; i++)
		if (h->slots[i].count == 0)
		{
			h->slots[i].key = (uint64_t) 1 << 32 | (1000 + i);
			h->slots[i].count = 1;
		}
	h->used = 0;
	{
		int64_t		row[HP_FEAT_NLEN] = {77777, 77777, 77777, 77777};

		CHECK(hp_feat_hist_add(h, row, &err) == NULL && err.code == HP_ECORRUPT);
	}
	hp_free(h);

	h = hp_feat_hist_new(HP_FEAT_HIST_MIN_CAP);
	CHECK(hp_feat_hist_cutoffs(h, &c, &err) == HP_EINVAL);	/* no rows */
	hp_free(h);
}

/* Vocabulary set: sorted, distinct, growth, union, forged items. */
static void
TestVocab(void)
{
	HpError		err;
	HpFeatVocab *v = hp_feat_vocab_new(16, 256),
			   *w,
			   *u,
			   *nv;
	char		buf[32];
	HpFeatStr	prev = {NULL, 0};

	/* 1000 names in a scrambled order, each added three times. */
	for (int rep = 0; rep < 3; rep++)
		for (int i = 0; i < 1000; i++)
		{
			snprintf(buf, sizeof(buf), "f:%d", (i * 617) % 1000);
			nv = hp_feat_vocab_add(v, buf, strlen(buf), &err);
			if (nv == NULL)
				break;
			if (nv != v)
				hp_free(v);
			v = nv;
		}
	CHECK(nv != NULL && v->n == 1000);
	CHECK(hp_feat_vocab_check(v, v->size, true, &err) == HP_OK);
	{
		bool		sorted = true;

		for (uint32_t i = 0; i < v->n; i++)
		{
			HpFeatStr	s = hp_feat_vocab_item(v, i);

			sorted &= i == 0 || hp_feat_str_cmp(&prev, &s) < 0;
			prev = s;
		}
		CHECK(sorted);
	}
	/* The empty string is a name like any other. */
	nv = hp_feat_vocab_add(v, "", 0, &err);
	CHECK(nv != NULL && nv->n == 1001 && hp_feat_vocab_item(nv, 0).len == 0);
	if (nv != v)
		hp_free(v);
	v = nv;

	/* Union with an overlapping set. */
	w = hp_feat_vocab_new(0, 0);
	for (int i = 990; i < 1010; i++)
	{
		snprintf(buf, sizeof(buf), "f:%d", i);
		nv = hp_feat_vocab_add(w, buf, strlen(buf), &err);
		if (nv != w)
			hp_free(w);
		w = nv;
	}
	CHECK(hp_feat_vocab_check(w, w->size, true, &err) == HP_OK && w->n == 20);
	u = hp_feat_vocab_union(v, w, &err);
	CHECK(u != NULL && u->n == 1011);
	CHECK(hp_feat_vocab_check(u, u->size, true, &err) == HP_OK);
	hp_free(u);

	/* Forged items pointing outside the heap are caught on lookup. */
	for (uint32_t i = 0; i < w->n; i++)
		w->items[i].off = w->heap_cap + 100;
	CHECK(hp_feat_vocab_check(w, w->size, false, &err) == HP_OK);
	CHECK(hp_feat_vocab_check(w, w->size, true, &err) == HP_ECORRUPT);
	for (int i = 0; i < 20; i++)
	{
		snprintf(buf, sizeof(buf), "g:%d", i);
		nv = hp_feat_vocab_add(w, buf, strlen(buf), &err);
		if (nv == NULL)
			break;
		if (nv != w)
			hp_free(w);
		w = nv;
	}
	CHECK(nv == NULL && err.code == HP_ECORRUPT);
	w->n = w->item_cap + 1;
	CHECK(hp_feat_vocab_check(w, w->size, false, &err) == HP_ECORRUPT);
	hp_free(w);
	hp_free(v);
}

/* Index and count vectors: alignment, once per row, merging. */
static void
TestCounts(void)
{
	HpError		err;
	HpFeatStr	vocab[4] = {{"z", 1}, {"a", 1}, {"m:x", 3}, {"b", 1}};
	HpFeatStr	dup[3] = {{"a", 1}, {"b", 1}, {"a", 1}};
	HpFeatStr	row1[4] = {{"a", 1}, {"a", 1}, {"q", 1}, {"z", 1}};
	HpFeatStr	row2[2] = {{"m:x", 3}, {"a", 1}};
	HpFeatIndex idx,
				idx2;
	HpFeatCounts *c,
			   *c2;

	CHECK(hp_feat_index_build(dup, 3, &idx, &err) == HP_EINVAL && strstr(err.msg, "\"a\""));
	CHECK(hp_feat_index_build(vocab, 4, &idx, &err) == HP_OK);
	CHECK(hp_feat_index_find(&idx, "z", 1) == 0 && hp_feat_index_find(&idx, "b", 1) == 3);
	CHECK(hp_feat_index_find(&idx, "m:x", 3) == 2 && hp_feat_index_find(&idx, "m", 1) == -1);

	c = hp_feat_counts_new(&idx);
	CHECK(hp_feat_counts_check(c, c->size, &err) == HP_OK);
	hp_feat_counts_add(c, &idx, row1, 4);	/* a once (not twice), z; q ignored */
	hp_feat_counts_add(c, &idx, row2, 2);
	hp_feat_counts_add(c, &idx, row2, 0);
	CHECK(c->counts[0] == 1 && c->counts[1] == 2 && c->counts[2] == 1 && c->counts[3] == 0);

	c2 = hp_feat_counts_new(&idx);
	hp_feat_counts_add(c2, &idx, row1, 4);
	CHECK(hp_feat_counts_merge(c, c2, &err) == HP_OK);
	CHECK(c->counts[0] == 2 && c->counts[1] == 3);
	hp_free(c2);

	/* Same strings in another order: another vocabulary. */
	vocab[0] = (HpFeatStr) {"a", 1};
	vocab[1] = (HpFeatStr) {"z", 1};
	CHECK(hp_feat_index_build(vocab, 4, &idx2, &err) == HP_OK && idx2.hash != idx.hash);
	c2 = hp_feat_counts_new(&idx2);
	CHECK(hp_feat_counts_merge(c, c2, &err) == HP_EINVAL);
	hp_free(c2);
	CHECK(hp_feat_counts_check(c, c->size + 8, &err) == HP_ECORRUPT);
	hp_free(c);
	hp_feat_index_free(&idx2);
	hp_feat_index_free(&idx);

	/* An empty vocabulary is valid: a zero-length vector. */
	CHECK(hp_feat_index_build(NULL, 0, &idx, &err) == HP_OK);
	c = hp_feat_counts_new(&idx);
	CHECK(c->k == 0 && hp_feat_counts_check(c, c->size, &err) == HP_OK);
	hp_feat_counts_add(c, &idx, row1, 4);
	hp_free(c);
	hp_feat_index_free(&idx);
}

/* Every allocation is released; long texts poll for interrupts. */
static void
TestMemoryAndInterrupts(void)
{
	HpHooks		saved = hp_hooks;
	size_t		n = 1 << 20;
	char	   *s = malloc(n + 1);
	HpPairStats st;
	HpError		err;
	HpRng		rng;

	hp_rng_seed(&rng, 3);
	for (size_t i = 0; i < n; i++)
		s[i] = (i % 6 == 5) ? ' ' : (char) ('a' + hp_rng_below(&rng, 4));
	s[n] = '\0';

	hp_hooks.alloc = CountAlloc;
	hp_hooks.release = CountRelease;
	hp_hooks.interrupt = CountInterrupt;
	live_allocs = interrupts = 0;
	CHECK(hp_feat_pair_stats(s, n, s, n, s + 7, n - 7, NULL, NULL, 0, &st, &err) == HP_OK);
	CHECK(live_allocs == 0);
	CHECK(interrupts >= 3 * (long) (n / 6 / 4096));
	CHECK(st.len[HP_FEAT_LEN_PROMPT] == (int64_t) (n / 6) + 1);	/* 174763 words */
	CHECK(st.rouge1 > 0.99 && st.rouge1 <= 1.0);
	hp_hooks = saved;
	free(s);
}

/* Entry point called from test_main.c. */
void
run_features_tests(void)
{
	TestRouge();
	TestEntities();
	TestCosine();
	TestPairStats();
	TestBins();
	TestTagsAndSort();
	TestHistogram();
	TestVocab();
	TestCounts();
	TestMemoryAndInterrupts();
}
