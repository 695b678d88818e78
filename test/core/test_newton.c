/*
 * test_newton.c: unit tests of the Newton pass state (sums against a
 * brute-force reference, merges, corruption and limits) and of the
 * iterative driver against the in-memory trainer hp_bt_train.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hp_blas.h"
#include "hp_newton.h"
#include "hp_options.h"
#include "hp_rng.h"
#include "hp_train.h"
#include "tests.h"

/* Random differences, soft and hard labels, content keys. */
typedef struct NData
{
	int			n;
	int			d;
	float	   *X;
	float	   *p;
	uint64_t   *key;
} NData;

/* n rows of dimension d from a known linear BT model (every 7th a soft label). */
static void
Make(NData *D, int n, int d, uint64_t seed)
{
	HpRng		r;
	double	   *w = malloc(sizeof(double) * d);

	hp_rng_seed(&r, seed);
	D->n = n;
	D->d = d;
	D->X = malloc(sizeof(float) * n * d);
	D->p = malloc(sizeof(float) * n);
	D->key = malloc(sizeof(uint64_t) * n);
	for (int j = 0; j < d; j++)
		w[j] = 2.0 * hp_rng_normal(&r) / sqrt(d);
	for (int i = 0; i < n; i++)
	{
		double		z = 0;

		for (int j = 0; j < d; j++)
		{
			D->X[(size_t) i * d + j] = (float) (hp_rng_normal(&r) - hp_rng_normal(&r));
			z += w[j] * D->X[(size_t) i * d + j];
		}
		if (i % 7 == 3)
			D->p[i] = (float) (0.25 * (i % 5));
		else
			D->p[i] = hp_rng_uniform(&r) < 1.0 / (1.0 + exp(-z)) ? 1.0f : 0.0f;
		D->key[i] = hp_row_key(D->X + (size_t) i * d, d, D->p[i]);
	}
	free(w);
}

/* Free generated data. */
static void
Unmake(NData *D)
{
	free(D->X);
	free(D->p);
	free(D->key);
}

/* Options from a JSON literal (asserting it parses). */
static HpTrainOptions
Opt(const char *json)
{
	HpTrainOptions o;
	HpError		err;

	CHECK(hp_train_options_parse(json, strlen(json), &o, NULL, &err) == HP_OK);
	return o;
}

/* A fresh state at weights W (NULL: zeros), the host word set to its size. */
static HpNewtonState *
NewState(int d, int heads, int center, int64_t seed, const float *W)
{
	size_t		size = 0;
	HpNewtonState *s;

	CHECK(hp_newton_state_size(d, heads, &size, NULL) == HP_OK);
	s = calloc(1, size);
	hp_newton_init(s, d, heads, center, seed, W);
	s->host = (uint32_t) size;
	return s;
}

/* Rows [lo, hi) of D added to s. */
static void
AddRows(HpNewtonState *s, const NData *D, int lo, int hi)
{
	for (int i = lo; i < hi; i++)
		hp_newton_add(s, D->X + (size_t) i * D->d, D->p[i], D->key[i]);
}

/* Largest relative difference between two arrays, scaled by the larger norm. */
static double
RelDiff(const double *a, const double *b, size_t n)
{
	double		num = 0,
				den = 0;

	for (size_t k = 0; k < n; k++)
	{
		num = fmax(num, fabs(a[k] - b[k]));
		den = fmax(den, fmax(fabs(a[k]), fabs(b[k])));
	}
	return den == 0 ? num : num / den;
}

/* Sums of a state against a direct double-precision computation. */
static void
TestSums(void)
{
	NData		D;
	int			d = 6,
				n = 1500,		/* not a multiple of the block */
				heads = 4,
				center = 1;
	int64_t		seed = 7;
	float	   *W = malloc(sizeof(float) * heads * d);
	HpRng		r;
	HpNewtonState *s;
	double	   *S = calloc(heads, sizeof(double)),
			   *L = calloc(heads, sizeof(double)),
			   *G = calloc(2 * heads * d, sizeof(double)),
			   *K = calloc((size_t) heads * d * d, sizeof(double));
	double		maxk = 0;

	Make(&D, n, d, 11);
	hp_rng_seed(&r, 5);
	for (int k = 0; k < heads * d; k++)
		W[k] = (float) (0.3 * hp_rng_normal(&r));
	s = NewState(d, heads, center, seed, W);
	CHECK(hp_newton_same_w(s, W));
	AddRows(s, &D, 0, n);
	CHECK(s->nbuf == n % s->block);
	CHECK(hp_newton_check(s, s->host, NULL) == HP_OK);
	hp_newton_flush(s);
	CHECK(s->nbuf == 0 && s->n == n);

	for (int i = 0; i < n; i++)
	{
		const float *x = D.X + (size_t) i * d;

		for (int h = 0; h < heads; h++)
		{
			double		c = h < center ? 1.0 : hp_boot_weight(D.key[i], seed, h - center),
						z = 0,
						sg;

			for (int j = 0; j < d; j++)
				z += (double) W[h * d + j] * x[j];
			sg = 1.0 / (1.0 + exp(-z));
			S[h] += c;
			L[h] += c * (log1p(exp(-z)) + (1.0 - D.p[i]) * z);
			for (int j = 0; j < d; j++)
			{
				G[(size_t) h * d + j] += c * (sg - D.p[i]) * x[j];
				G[(size_t) (heads + h) * d + j] += c * (0.5 - D.p[i]) * x[j];
				for (int k = j; k < d; k++)
					K[((size_t) h * d + j) * d + k] += c * sg * (1 - sg) * x[j] * x[k];
			}
		}
	}
	CHECK(RelDiff(hp_newton_S(s), S, heads) == 0.0);	/* integer weights: exact */
	CHECK(RelDiff(hp_newton_L(s), L, heads) < 1e-12);
	CHECK(RelDiff(hp_newton_G(s), G, 2 * heads * d) < 1e-12);
	for (int h = 0; h < heads; h++)
		for (int j = 0; j < d; j++)
			for (int k = j; k < d; k++)
			{
				size_t		o = ((size_t) h * d + j) * d + k;

				maxk = fmax(maxk, fabs(hp_newton_K(s)[o] - K[o]) / fmax(1.0, fabs(K[o])));
			}
	CHECK(maxk < 1e-12);
	/* The center head weighs every row 1; bootstrap heads about 1 on average. */
	CHECK(hp_newton_S(s)[0] == n);
	CHECK(fabs(hp_newton_S(s)[1] / n - 1.0) < 0.1);
	free(s);
	free(W);
	free(S);
	free(L);
	free(G);
	free(K);
	Unmake(&D);
}

/* Merging partial states with pending rows equals one state over all rows. */
static void
TestMerge(void)
{
	NData		D;
	int			d = 9,
				n = 3000,
				heads = 3;
	HpNewtonState *all,
			   *a,
			   *b,
			   *c,
			   *other;
	float	   *W = calloc(heads * d, sizeof(float));
	HpError		err;
	size_t		nsum;

	Make(&D, n, d, 3);
	for (int k = 0; k < heads * d; k++)
		W[k] = 0.01f * (float) (k % 5);
	all = NewState(d, heads, 1, 1, W);
	a = NewState(d, heads, 1, 1, W);
	b = NewState(d, heads, 1, 1, W);
	c = NewState(d, heads, 1, 1, W);
	AddRows(all, &D, 0, n);
	AddRows(a, &D, 0, 1001);
	AddRows(b, &D, 1001, 1002);
	AddRows(c, &D, 1002, n);
	CHECK(hp_newton_merge(a, b, &err) == HP_OK);
	CHECK(hp_newton_merge(a, c, &err) == HP_OK);
	CHECK(a->n == n);
	hp_newton_flush(a);
	hp_newton_flush(all);
	nsum = 2 * heads + 2 * (size_t) heads * d + (size_t) heads * d * d;
	CHECK(RelDiff(hp_newton_S(a), hp_newton_S(all), nsum) < 1e-12);

	/* Different weights, dimensions or seeds refuse to merge. */
	W[0] += 1.0f;
	other = NewState(d, heads, 1, 1, W);
	CHECK(hp_newton_merge(a, other, &err) == HP_EINVAL);
	free(other);
	other = NewState(d + 1, heads, 1, 1, NULL);
	CHECK(hp_newton_merge(a, other, &err) == HP_EDIM);
	free(other);
	other = NewState(d, heads, 1, 2, NULL);
	CHECK(hp_newton_merge(a, other, &err) == HP_EINVAL);
	free(other);
	free(all);
	free(a);
	free(b);
	free(c);
	free(W);
	Unmake(&D);
}

/* Corrupted states, unsupported options and the documented limits. */
static void
TestChecks(void)
{
	HpNewtonState *s = NewState(5, 3, 1, 0, NULL);
	size_t		size = s->host,
				sz;
	HpError		err;
	HpTrainOptions o;
	int			heads,
				center;

	CHECK(hp_newton_check(s, size, &err) == HP_OK);
	CHECK(hp_newton_check(s, size - 8, &err) == HP_ECORRUPT);
	CHECK(hp_newton_check(s, 8, &err) == HP_ECORRUPT);
	s->version = 99;
	CHECK(hp_newton_check(s, size, &err) == HP_ECORRUPT && strstr(err.msg, "version 99") != NULL);
	s->version = HP_NEWTON_VERSION;
	s->nbuf = s->block;
	CHECK(hp_newton_check(s, size, &err) == HP_ECORRUPT);
	s->nbuf = 0;
	s->magic ^= 1;
	CHECK(hp_newton_check(s, size, &err) == HP_ECORRUPT);
	free(s);

	CHECK(hp_newton_state_size(HP_NEWTON_MAX_DIM, 2, &sz, &err) == HP_OK);
	CHECK(hp_newton_state_size(HP_NEWTON_MAX_DIM + 1, 1, &sz, &err) == HP_ELIMIT &&
		  strstr(err.msg, "up to 2048") != NULL);
	CHECK(hp_newton_state_size(2048, 257, &sz, &err) == HP_ELIMIT && strstr(err.msg, "MB") != NULL);
	CHECK(hp_newton_block(4) == 1024 && hp_newton_block(512) == 512 && hp_newton_block(2048) == 128);

	o = Opt("{\"arch\": \"mlp\"}");
	CHECK(hp_newton_heads(&o, &heads, &center, &err) == HP_EINVAL);
	o = Opt("{\"uncertainty\": \"laplace\", \"heads\": 3}");
	CHECK(hp_newton_heads(&o, &heads, &center, &err) == HP_EINVAL);
	o = Opt("{\"uncertainty\": \"laplace\"}");
	CHECK(hp_newton_heads(&o, &heads, &center, &err) == HP_OK && heads == 1 && center == 0);
	o = Opt("{}");
	CHECK(hp_newton_heads(&o, &heads, &center, &err) == HP_OK && heads == 9 && center == 1);
	CHECK(hp_newton_user_key(42) == hp_newton_user_key(42) && hp_newton_user_key(42) != hp_newton_user_key(43));
}

/*
 * The driver loop a host runs: one pass over all rows per evaluation,
 * split into two partial states merged like a parallel plan would.
 */
static int	last_backtracks;

static HpStatus
Iterate(const NData *D, const HpTrainOptions *opt, const HpModel *init, HpModel *out,
		int *passes, HpError *err)
{
	int			heads,
				center;
	float	   *W;
	HpNewtonSearch s;
	bool		started = false;
	HpStatus	rc;

	if ((rc = hp_newton_heads(opt, &heads, &center, err)) != HP_OK)
		return rc;
	W = calloc((size_t) heads * D->d, sizeof(float));
	if ((rc = hp_newton_start(init, D->d, heads, center, W, err)) != HP_OK)
	{
		free(W);
		return rc;
	}
	for (;;)
	{
		HpNewtonState *a = NewState(D->d, heads, center, opt->seed, W);
		HpNewtonState *b = NewState(D->d, heads, center, opt->seed, W);

		AddRows(a, D, 0, D->n / 3);
		AddRows(b, D, D->n / 3, D->n);
		rc = hp_newton_merge(a, b, err);
		hp_newton_flush(a);
		if (rc == HP_OK && !started)
			rc = hp_newton_search_init(&s, opt, a, err);
		started = true;
		if (rc == HP_OK)
			rc = hp_newton_search_update(&s, a, err);
		free(a);
		free(b);
		if (rc != HP_OK || s.nactive == 0 || s.passes > opt->max_iter)
			break;
		hp_newton_search_trial(&s, W);
	}
	if (rc == HP_OK)
		rc = hp_newton_search_model(&s, "{}", out, err);
	*passes = s.passes;
	last_backtracks = 0;
	for (int h = 0; h < s.heads; h++)
		last_backtracks += s.backtracks[h];
	hp_newton_search_free(&s);
	free(W);
	return rc;
}

/* Largest |a - b| over a tensor of two models, relative to max |b|. */
static double
TensorDiff(const HpModel *a, const HpModel *b, const char *name)
{
	const HpTensor *ta = hp_model_tensor(a, name),
			   *tb = hp_model_tensor(b, name);
	double		num = 0,
				den = 0;

	if (ta == NULL || tb == NULL || ta->rows != tb->rows || ta->cols != tb->cols)
		return INFINITY;
	for (size_t k = 0; k < (size_t) ta->rows * ta->cols; k++)
	{
		double		x = ((const float *) ta->data)[k],
					y = ((const float *) tb->data)[k];

		num = fmax(num, fabs(x - y));
		den = fmax(den, fabs(y));
	}
	return num / fmax(den, 1e-30);
}

/* Same objective as hp_bt_train: same weights at a tight tolerance. */
static void
TestMatchesInMemory(const char *json, double wtol)
{
	NData		D;
	HpTrainOptions o = Opt(json);
	HpTrainSet	ts;
	HpModel		mem,
				it,
				warm;
	HpError		err;
	int			passes = 0,
				wpasses = 0;

	Make(&D, 1200, 10, 21);
	ts.n = D.n;
	ts.dim = D.d;
	ts.X = D.X;
	ts.p = D.p;
	ts.key = D.key;
	CHECK(hp_bt_train(&ts, &o, "{}", NULL, &mem, &err) == HP_OK);
	CHECK(Iterate(&D, &o, NULL, &it, &passes, &err) == HP_OK);
	CHECK(passes >= 2 && passes <= 15);
	CHECK(it.heads == mem.heads && it.dim == mem.dim && it.rows == mem.rows &&
		  it.uncertainty == mem.uncertainty && it.seed == mem.seed);
	CHECK(hp_model_validate(&it, &err) == HP_OK);
	CHECK(TensorDiff(&it, &mem, "w") < wtol);
	if (mem.heads > 1)
		CHECK(TensorDiff(&it, &mem, "center") < wtol);
	else
		CHECK(hp_model_tensor(&it, "center") == NULL);
	if (mem.uncertainty == HP_UNC_LAPLACE)
		CHECK(TensorDiff(&it, &mem, "var") < wtol);
	CHECK_NEAR(it.loss, mem.loss, 1e-5);

	/* Warm-started at its own solution: converged on the first pass. */
	CHECK(Iterate(&D, &o, &it, &warm, &wpasses, &err) == HP_OK);
	CHECK(wpasses == 1);
	CHECK(TensorDiff(&warm, &it, "w") == 0.0);
	hp_model_free(&warm);
	hp_model_free(&mem);
	hp_model_free(&it);
	Unmake(&D);
}

/*
 * A start far out on the saturated tail: the Hessian there is almost
 * lambda I, the full Newton step overshoots, and backtracking must bring
 * every head back to the optimum found from zero.
 */
static void
TestBacktracking(void)
{
	NData		D;
	HpTrainOptions o = Opt("{\"heads\": 2, \"seed\": 4, \"tol\": 1e-8}");
	HpModel		ref,
				far,
				it;
	HpError		err;
	int			passes = 0,
				fpasses = 0;
	float	   *W;

	Make(&D, 800, 6, 8);
	CHECK(Iterate(&D, &o, NULL, &ref, &passes, &err) == HP_OK);
	W = malloc(sizeof(float) * 3 * D.d);
	for (int k = 0; k < 3 * D.d; k++)
		W[k] = (k % 2 ? -40.0f : 40.0f);
	hp_newton_weights_model(W, D.d, 3, 1, &far);
	CHECK(Iterate(&D, &o, &far, &it, &fpasses, &err) == HP_OK);
	CHECK(last_backtracks > 0);
	CHECK(fpasses > passes);
	CHECK(TensorDiff(&it, &ref, "w") < 1e-5);
	CHECK(TensorDiff(&it, &ref, "center") < 1e-5);
	free(W);
	hp_model_free(&far);
	hp_model_free(&it);
	hp_model_free(&ref);
	Unmake(&D);
}

/* A tiny separable set with lambda 0: the Cholesky ridge fallback and no crash. */
static void
TestDegenerate(void)
{
	NData		D;
	HpTrainOptions o = Opt("{\"heads\": 1, \"lambda\": 0, \"max_iter\": 20}");
	HpModel		it;
	HpError		err;
	int			passes = 0;
	HpStatus	rc;

	Make(&D, 3, 8, 2);			/* fewer rows than dimensions: K is singular */
	for (int i = 0; i < D.n; i++)
	{
		D.p[i] = 1.0f;
		D.key[i] = hp_row_key(D.X + (size_t) i * D.d, D.d, 1.0f);
	}
	rc = Iterate(&D, &o, NULL, &it, &passes, &err);
	CHECK(rc == HP_OK || rc == HP_EINTERNAL || rc == HP_EDATA);
	if (rc == HP_OK)
	{
		CHECK(passes <= 21);
		hp_model_free(&it);
	}
	Unmake(&D);
}

/* Entry point: every Newton test. */
void
run_newton_tests(void)
{
	TestSums();
	TestMerge();
	TestChecks();
	TestMatchesInMemory("{\"heads\": 1, \"tol\": 1e-8}", 1e-5);
	TestMatchesInMemory("{\"heads\": 4, \"seed\": 3, \"tol\": 1e-8}", 1e-5);
	TestMatchesInMemory("{\"uncertainty\": \"laplace\", \"lambda\": 0.01, \"tol\": 1e-8}", 1e-5);
	TestMatchesInMemory("{\"heads\": 3, \"prior\": \"none\", \"lambda\": 0.1}", 1e-3);
	TestBacktracking();
	TestDegenerate();
}
