/*
 * test_simulate.c: unit tests of the routing samplers, the vocabulary
 * builder, held-out scoring and the candidate loop (hp_simulate).
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hp_rng.h"
#include "hp_simulate.h"
#include "hp_train.h"
#include "tests.h"

/* Count of set bytes in a mask. */
static int64_t
MaskCount(const uint8_t *mask, int64_t n)
{
	int64_t		c = 0;

	for (int64_t i = 0; i < n; i++)
		c += mask[i] != 0;
	return c;
}

/* Rounding of budgets to instance counts. */
static void
TestBudgetCount(void)
{
	CHECK(hp_sim_budget_count(0.0, 10) == 0);
	CHECK(hp_sim_budget_count(1.0, 10) == 10);
	CHECK(hp_sim_budget_count(0.25, 10) == 3);	/* 2.5 rounds up */
	CHECK(hp_sim_budget_count(0.5, 7) == 4);	/* 3.5 rounds up */
	CHECK(hp_sim_budget_count(0.01, 10) == 0);
	CHECK(hp_sim_budget_count(0.99, 10) == 10);
}

/* Uniform sampler: exactly k, reproducible, seed-dependent. */
static void
TestUniform(void)
{
	uint8_t		m1[100],
				m2[100];
	HpRng		r;
	int64_t		hits[100] = {0};

	hp_sim_candidate_rng(&r, 7, 0, HP_SAMPLER_UNIFORM, 0);
	hp_sample_uniform(100, 30, &r, m1);
	CHECK(MaskCount(m1, 100) == 30);
	hp_sim_candidate_rng(&r, 7, 0, HP_SAMPLER_UNIFORM, 0);
	hp_sample_uniform(100, 30, &r, m2);
	CHECK(memcmp(m1, m2, 100) == 0);
	hp_sim_candidate_rng(&r, 7, 0, HP_SAMPLER_UNIFORM, 1);
	hp_sample_uniform(100, 30, &r, m2);
	CHECK(memcmp(m1, m2, 100) != 0);
	hp_sample_uniform(100, 0, &r, m2);
	CHECK(MaskCount(m2, 100) == 0);
	hp_sample_uniform(100, 100, &r, m2);
	CHECK(MaskCount(m2, 100) == 100);

	/* Every row equally likely: 2000 draws of 30 of 100, each row ~600. */
	for (int t = 0; t < 2000; t++)
	{
		hp_sim_candidate_rng(&r, 1, 0, HP_SAMPLER_UNIFORM, t);
		hp_sample_uniform(100, 30, &r, m1);
		for (int i = 0; i < 100; i++)
			hits[i] += m1[i];
	}
	{
		int64_t		lo = hits[0],
					hi = hits[0];

		for (int i = 1; i < 100; i++)
		{
			lo = hits[i] < lo ? hits[i] : lo;
			hi = hits[i] > hi ? hits[i] : hi;
		}
		CHECK(lo > 500 && hi < 700);
	}
}

/* Features of the small hand-made data set of the sampler tests. */
static void
SmallFeatures(HpSimData *d, int64_t *off, int32_t *feat)
{
	/* rows 0-3: f0; rows 4-5: f1; rows 6-8: f2; row 9: no feature */
	static const int32_t f[] = {0, 0, 0, 0, 1, 1, 2, 2, 2};

	memset(d, 0, sizeof(*d));
	d->n = 10;
	d->nvocab = 3;
	for (int i = 0; i <= 9; i++)
		off[i] = i;
	off[10] = 9;
	memcpy(feat, f, sizeof(f));
	d->feat_off = off;
	d->feat = feat;
}

/* Feature sampler: whole features, one partial at most, featureless last. */
static void
TestFeatureSampler(void)
{
	HpSimData	d;
	int64_t		off[11],
			   *inv_off;
	int32_t		feat[9],
			   *inv_rows;
	uint8_t		mask[10];
	HpRng		r;
	int			partial_ok = 0,
				seen_partial = 0,
				exact = 0;

	SmallFeatures(&d, off, feat);
	hp_sim_invert(&d, &inv_off, &inv_rows);
	CHECK(inv_off[0] == 0 && inv_off[1] == 4 && inv_off[2] == 6 && inv_off[3] == 9);
	CHECK(inv_rows[4] == 4 && inv_rows[8] == 8);

	for (int t = 0; t < 200; t++)
	{
		int			partial = 0;
		static const int lo[] = {0, 4, 6},
					hi[] = {4, 6, 9};

		hp_sim_candidate_rng(&r, 3, 1, HP_SAMPLER_FEATURE, t);
		hp_sample_feature(10, 3, inv_off, inv_rows, 5, &r, mask);
		/* exactly k; 9 feature rows are enough for k = 5, so row 9 stays out */
		exact += MaskCount(mask, 10) == 5 && mask[9] == 0;
		for (int j = 0; j < 3; j++)
		{
			int64_t		c = MaskCount(mask + lo[j], hi[j] - lo[j]);

			partial += c > 0 && c < hi[j] - lo[j];
		}
		partial_ok += partial <= 1;
		seen_partial += partial == 1;
	}
	CHECK(exact == 200);
	CHECK(partial_ok == 200);
	CHECK(seen_partial > 0);

	/* k = 9: the three features exactly; the featureless row stays out. */
	hp_sim_candidate_rng(&r, 3, 0, HP_SAMPLER_FEATURE, 0);
	hp_sample_feature(10, 3, inv_off, inv_rows, 9, &r, mask);
	CHECK(MaskCount(mask, 9) == 9 && mask[9] == 0);
	/* k = 10 takes everything; k = 0 nothing. */
	hp_sample_feature(10, 3, inv_off, inv_rows, 10, &r, mask);
	CHECK(MaskCount(mask, 10) == 10);
	hp_sample_feature(10, 3, inv_off, inv_rows, 0, &r, mask);
	CHECK(MaskCount(mask, 10) == 0);
	/* No vocabulary at all: the sampler falls back to uniform rows. */
	{
		int64_t		ioff[1] = {0};
		int32_t		irows[1] = {0};

		hp_sample_feature(10, 0, ioff, irows, 4, &r, mask);
		CHECK(MaskCount(mask, 10) == 4);
	}
	free(inv_off);
	free(inv_rows);
}

/* Vocabulary: interning, bytewise sort, remap, per-row dedup. */
static void
TestVocab(void)
{
	HpVocab		v;
	int32_t		ids[7],
				remap[5];
	const char *in[] = {"b", "a", "b", "c:x", "a", "B", "\xc3\xa4"};
	int64_t		off[4] = {0, 3, 3, 7};
	int32_t		feat[7];

	hp_vocab_init(&v);
	for (int i = 0; i < 7; i++)
		ids[i] = hp_vocab_add(&v, in[i], strlen(in[i]));
	CHECK(v.n == 5);
	CHECK(ids[0] == ids[2] && ids[1] == ids[4] && ids[0] != ids[1]);
	hp_vocab_sort(&v, remap);
	/* "B" < "a" < "b" < "c:x" < "ä" bytewise (COLLATE "C"). */
	CHECK(strcmp(v.names[0], "B") == 0);
	CHECK(strcmp(v.names[1], "a") == 0);
	CHECK(strcmp(v.names[2], "b") == 0);
	CHECK(strcmp(v.names[3], "c:x") == 0);
	CHECK(strcmp(v.names[4], "\xc3\xa4") == 0);
	CHECK(remap[ids[0]] == 2 && remap[ids[1]] == 1 && remap[ids[5]] == 0);
	/* Lookups still work after sorting, with the sorted ids. */
	CHECK(hp_vocab_add(&v, "c:x", 3) == 3);
	CHECK(v.n == 5);

	/* Row 0: b, a, b -> {a, b}; row 1 empty; row 2: c:x, a, B, ä. */
	for (int i = 0; i < 7; i++)
		feat[i] = ids[i];
	hp_sim_remap_features(3, off, feat, remap);
	CHECK(off[0] == 0 && off[1] == 2 && off[2] == 2 && off[3] == 6);
	CHECK(feat[0] == 1 && feat[1] == 2);
	CHECK(feat[2] == 0 && feat[3] == 1 && feat[4] == 3 && feat[5] == 4);

	/* Many names: the table grows and every name keeps its id. */
	{
		char		buf[32];
		int			ok = 1;

		for (int i = 0; i < 1000; i++)
		{
			snprintf(buf, sizeof(buf), "n%d", i);
			hp_vocab_add(&v, buf, strlen(buf));
		}
		for (int i = 0; i < 1000; i++)
		{
			int32_t		id;

			snprintf(buf, sizeof(buf), "n%d", i);
			id = hp_vocab_add(&v, buf, strlen(buf));
			ok &= strcmp(v.names[id], buf) == 0;
		}
		CHECK(ok && v.n == 1005);
	}
	hp_vocab_free(&v);
}

/* Held-out accuracy (ties excluded, zero margin half) and log-loss. */
static void
TestHeldoutScore(void)
{
	const float X[] = {1, -1, 2, 3, 0, 5};
	const double t[] = {1, 1, 0, 0.5, 1, NAN};
	const float w = 1.0f;
	double		acc,
				ll,
				expect = 0.0;
	int64_t		decided = hp_sim_heldout_score(X, t, 6, 1, &w, &acc, &ll);

	CHECK(decided == 4);
	/* correct: row 0; wrong: rows 1, 2; row 4 has z = 0 (half). */
	CHECK_NEAR(acc, 1.5 / 4.0, 1e-12);
	expect += log1p(exp(-1.0));			/* z 1, t 1 */
	expect += log1p(exp(1.0));			/* z -1, t 1 */
	expect += log1p(exp(-2.0)) + 2.0;	/* z 2, t 0 */
	expect += log1p(exp(-3.0)) + 1.5;	/* z 3, t 0.5 */
	expect += log(2.0);					/* z 0 */
	CHECK_NEAR(ll, expect / 5.0, 1e-9);

	{
		const double ties[] = {0.5, NAN};

		CHECK(hp_sim_heldout_score(X, ties, 2, 1, &w, &acc, &ll) == 0);
		CHECK(isnan(acc));
	}
}

/* Synthetic hybrid data: LLM labels are wrong on the rows of one tag. */
typedef struct SimFixture
{
	HpSimData	d;
	float	   *X,
			   *Xh;
	double	   *human,
			   *llm,
			   *trusted;
	int64_t    *off;
	int32_t    *feat;
} SimFixture;

/*
 * n rows of dimension dim; features: tag t = i % 4 and a second group
 * "bin" b = (i / 4) % 3.  Vocabulary: 0-3 tags, 4-6 bins.  Pairs of tag 0
 * differ only in the first half of the coordinates, the others only in the
 * second half; the LLM flips the labels of tag 0, so a model trained on
 * its labels gets the first half backwards.  Humans label from the true
 * reward; so do the held-out trusted labels (same mix of tags).
 */
static void
MakeSim(SimFixture *F, int64_t n, int64_t m, int dim, uint64_t seed)
{
	HpRng		r;
	double	   *wstar = malloc(sizeof(double) * dim);

	memset(F, 0, sizeof(*F));
	hp_rng_seed(&r, seed);
	for (int j = 0; j < dim; j++)
		wstar[j] = hp_rng_normal(&r) * 3.0 / sqrt(dim);
	F->X = malloc(sizeof(float) * n * dim);
	F->Xh = malloc(sizeof(float) * m * dim);
	F->human = malloc(sizeof(double) * n);
	F->llm = malloc(sizeof(double) * n);
	F->trusted = malloc(sizeof(double) * m);
	F->off = malloc(sizeof(int64_t) * (n + 1));
	F->feat = malloc(sizeof(int32_t) * n * 2);
	for (int64_t i = 0; i < n + m; i++)
	{
		float	   *x = i < n ? F->X + i * dim : F->Xh + (i - n) * dim;
		double		z = 0;

		bool		first_half = (i < n ? i : i - n) % 4 == 0;

		for (int j = 0; j < dim; j++)
		{
			x[j] = (j < dim / 2) == first_half ? (float) hp_rng_normal(&r) : 0.0f;
			z += wstar[j] * x[j];
		}
		if (i < n)
		{
			F->human[i] = z > 0 ? 1.0 : 0.0;
			F->llm[i] = (i % 4 == 0) ? 1.0 - F->human[i] : F->human[i];
		}
		else
			F->trusted[i - n] = z > 0 ? 1.0 : 0.0;
	}
	for (int64_t i = 0; i <= n; i++)
		F->off[i] = 2 * i;
	for (int64_t i = 0; i < n; i++)
	{
		F->feat[2 * i] = (int32_t) (i % 4);
		F->feat[2 * i + 1] = (int32_t) (4 + (i / 4) % 3);
	}
	F->d.n = n;
	F->d.dim = dim;
	F->d.X = F->X;
	F->d.human = F->human;
	F->d.llm = F->llm;
	F->d.nvocab = 7;
	F->d.feat_off = F->off;
	F->d.feat = F->feat;
	F->d.m = m;
	F->d.Xh = F->Xh;
	F->d.trusted = F->trusted;
	free(wstar);
}

static void
FreeSim(SimFixture *F)
{
	free(F->X);
	free(F->Xh);
	free(F->human);
	free(F->llm);
	free(F->trusted);
	free(F->off);
	free(F->feat);
}

/* Everything the tests keep of an emitted candidate. */
typedef struct Kept
{
	int			n;
	int			cand[64];
	double		budget[64];
	int			sampler[64];
	int64_t		n_human[64],
				n_train[64];
	double		acc[64],
				ll[64],
				counts[64][7];
	uint64_t	routed_hash[64];
	int			counts_ok;
} Kept;

/* Emit callback: copy the candidate and check counts against routed rows. */
static void
Keep(void *arg, const HpSimCandidate *c)
{
	Kept	   *k = arg;
	double		cnt[7] = {0};
	int			i = k->n++;

	if (i >= 64)
		return;
	k->cand[i] = c->candidate;
	k->budget[i] = c->budget;
	k->sampler[i] = c->sampler;
	k->n_human[i] = c->n_human;
	k->n_train[i] = c->n_train;
	k->acc[i] = c->accuracy;
	k->ll[i] = c->log_loss;
	memcpy(k->counts[i], c->counts, sizeof(cnt));
	k->routed_hash[i] = hp_fnv1a64(c->routed, sizeof(int32_t) * c->n_human, HP_FNV_OFFSET);
	/* counts = per feature, routed rows carrying it (fixture layout). */
	for (int64_t r = 0; r < c->n_human; r++)
	{
		cnt[c->routed[r] % 4] += 1;
		cnt[4 + (c->routed[r] / 4) % 3] += 1;
		if (r > 0 && c->routed[r] <= c->routed[r - 1])
			k->counts_ok = 0;
	}
	if (memcmp(cnt, c->counts, sizeof(cnt)) != 0)
		k->counts_ok = 0;
}

/* Options for the candidate-loop tests. */
static HpSimOptions
SimOpts(const double *budgets, int nb, int per, const HpSampler *samplers, int ns, Kept *k)
{
	HpSimOptions o;
	HpError		err;

	memset(&o, 0, sizeof(o));
	o.budgets = budgets;
	o.nbudgets = nb;
	o.per_budget = per;
	o.samplers = samplers;
	o.nsamplers = ns;
	o.seed = 11;
	hp_train_options_parse("{\"heads\": 1}", 12, &o.train, NULL, &err);
	o.warm_start = true;
	o.emit = Keep;
	o.arg = k;
	memset(k, 0, sizeof(*k));
	k->counts_ok = 1;
	return o;
}

/* The candidate loop end to end. */
static void
TestSimulate(void)
{
	SimFixture	F;
	static const double budgets[] = {0, 0.25, 1};
	static const HpSampler both[] = {HP_SAMPLER_FEATURE, HP_SAMPLER_UNIFORM};
	static const HpSampler feat_only[] = {HP_SAMPLER_FEATURE};
	Kept	   *k1 = malloc(sizeof(Kept)),
			   *k2 = malloc(sizeof(Kept));
	HpSimOptions o;
	HpError		err;

	MakeSim(&F, 400, 400, 8, 5);

	/* 3 budgets x 2 samplers x 4 = 24 candidates, numbered in order. */
	o = SimOpts(budgets, 3, 4, both, 2, k1);
	CHECK(hp_simulate(&F.d, &o, &err) == HP_OK);
	CHECK(k1->n == 24);
	CHECK(k1->counts_ok);
	{
		int			ok = 1;

		for (int i = 0; i < 24; i++)
		{
			ok &= k1->cand[i] == i + 1;
			ok &= k1->budget[i] == budgets[i / 8];
			ok &= k1->sampler[i] == (int) both[(i / 4) % 2];
			ok &= k1->n_human[i] == hp_sim_budget_count(budgets[i / 8], 400);
			ok &= k1->n_train[i] == 400;
		}
		CHECK(ok);
	}
	/* All-LLM routings learn the flipped tag; all-human ones do not. */
	CHECK(k1->acc[0] < k1->acc[16] - 0.05);
	CHECK(k1->acc[0] == k1->acc[7]);	/* k = 0 routings are one fit */
	if (getenv("HP_TEST_VERBOSE"))
		for (int i = 0; i < 24; i++)
			fprintf(stderr, "cand %d budget %g sampler %d tag0 %g acc %.4f ll %.4f\n",
					k1->cand[i], k1->budget[i], k1->sampler[i], k1->counts[i][0], k1->acc[i], k1->ll[i]);

	/*
	 * At budget 0.25 (100 rows) the feature sampler that routes all of
	 * tag 0 (100 rows) to humans fixes every wrong label: candidates with
	 * more tag-0 rows routed score higher.
	 */
	{
		double		sx = 0,
					sy = 0,
					sxx = 0,
					syy = 0,
					sxy = 0,
					nn = 0;

		for (int i = 8; i < 16; i++)
		{
			double		x = k1->counts[i][0],
						y = k1->acc[i];

			sx += x;
			sy += y;
			sxx += x * x;
			syy += y * y;
			sxy += x * y;
			nn++;
		}
		CHECK((sxy - sx * sy / nn) / sqrt((sxx - sx * sx / nn) * (syy - sy * sy / nn)) > 0.5);
	}

	/* Same inputs, same rows (bit for bit). */
	o = SimOpts(budgets, 3, 4, both, 2, k2);
	CHECK(hp_simulate(&F.d, &o, &err) == HP_OK);
	CHECK(memcmp(k1->acc, k2->acc, sizeof(double) * 24) == 0);
	CHECK(memcmp(k1->routed_hash, k2->routed_hash, sizeof(uint64_t) * 24) == 0);

	/* A candidate's routing does not depend on how many are asked for. */
	o = SimOpts(budgets, 2, 2, feat_only, 1, k2);
	CHECK(hp_simulate(&F.d, &o, &err) == HP_OK);
	CHECK(k2->n == 4);
	CHECK(k2->routed_hash[2] == k1->routed_hash[8] && k2->routed_hash[3] == k1->routed_hash[9]);

	/* Cold starts reach the same optimum (accuracy within one pair). */
	o = SimOpts(budgets, 3, 4, both, 2, k2);
	o.warm_start = false;
	CHECK(hp_simulate(&F.d, &o, &err) == HP_OK);
	{
		double		worst = 0;

		for (int i = 0; i < 24; i++)
			worst = fmax(worst, fabs(k1->acc[i] - k2->acc[i]));
		CHECK(worst <= 1.0 / 400 + 1e-12);
	}

	/* An ensemble proxy (heads 4) scores with its center head. */
	o = SimOpts(budgets, 2, 1, feat_only, 1, k2);
	hp_train_options_parse("{\"heads\": 4}", 12, &o.train, NULL, &err);
	CHECK(hp_simulate(&F.d, &o, &err) == HP_OK);
	CHECK(fabs(k2->acc[1] - k1->acc[8]) <= 2.0 / 400);

	/* Missing labels leave rows out of the candidates they would label. */
	for (int i = 0; i < 400; i += 10)
		F.human[i] = NAN;		/* 40 rows, all tag 0 or 2 */
	F.llm[1] = NAN;
	o = SimOpts(budgets, 3, 1, feat_only, 1, k2);
	CHECK(hp_simulate(&F.d, &o, &err) == HP_OK);
	CHECK(k2->n_train[0] == 399);	/* all LLM */
	CHECK(k2->n_train[2] == 360);	/* all human */
	CHECK(k2->n_train[1] >= 359 && k2->n_train[1] <= 400);

	/* Errors. */
	{
		static const double bad[] = {0.5, 1.5};

		o = SimOpts(bad, 2, 1, both, 2, k2);
		CHECK(hp_simulate(&F.d, &o, &err) == HP_EINVAL);
		CHECK(strstr(err.msg, "1.5") != NULL);
		o = SimOpts(budgets, 3, 0, both, 2, k2);
		CHECK(hp_simulate(&F.d, &o, &err) == HP_EINVAL);
		o = SimOpts(budgets, 3, 1, both, 2, k2);
		hp_train_options_parse("{\"arch\": \"mlp\"}", 15, &o.train, NULL, &err);
		CHECK(hp_simulate(&F.d, &o, &err) == HP_EINVAL);
	}
	{
		const double *saved = F.d.trusted;
		double	   *ties = malloc(sizeof(double) * 400);

		for (int i = 0; i < 400; i++)
			ties[i] = i % 2 ? 0.5 : NAN;
		F.d.trusted = ties;
		o = SimOpts(budgets, 3, 1, both, 2, k2);
		CHECK(hp_simulate(&F.d, &o, &err) == HP_EDATA);
		CHECK(strstr(err.msg, "trusted") != NULL);
		CHECK(k2->n == 0);
		F.d.trusted = saved;
		free(ties);
	}
	{
		HpSimData	empty = F.d;

		empty.n = 0;
		o = SimOpts(budgets, 3, 1, both, 2, k2);
		CHECK(hp_simulate(&empty, &o, &err) == HP_EDATA);
	}
	FreeSim(&F);
	free(k1);
	free(k2);
}

void
run_simulate_tests(void)
{
	TestBudgetCount();
	TestUniform();
	TestFeatureSampler();
	TestVocab();
	TestHeldoutScore();
	TestSimulate();
}
