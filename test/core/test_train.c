/*
 * test_train.c: unit tests of the Bradley-Terry trainer and the scorer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hp_blas.h"
#include "hp_options.h"
#include "hp_rng.h"
#include "hp_score.h"
#include "hp_train.h"
#include "tests.h"

typedef struct Data
{
	HpTrainSet	ts;
	float	   *X;
	float	   *p;
	uint64_t   *key;
	double	   *wstar;
} Data;

/* Pairs with a known linear reward; labels drawn from the BT model. */
static void
MakeData(Data *D, int64_t n, int d, uint64_t seed, double scale)
{
	HpRng		r;

	hp_rng_seed(&r, seed);
	D->X = malloc(sizeof(float) * n * d);
	D->p = malloc(sizeof(float) * n);
	D->key = malloc(sizeof(uint64_t) * n);
	D->wstar = malloc(sizeof(double) * d);
	for (int j = 0; j < d; j++)
		D->wstar[j] = hp_rng_normal(&r) * scale / sqrt(d);
	for (int64_t i = 0; i < n; i++)
	{
		double		z = 0;

		for (int j = 0; j < d; j++)
		{
			D->X[i * d + j] = (float) (hp_rng_normal(&r) - hp_rng_normal(&r));
			z += D->wstar[j] * D->X[i * d + j];
		}
		/* Store each pair as (a, b) with p = 1 if a won the BT coin flip. */
		D->p[i] = hp_rng_uniform(&r) < 1.0 / (1.0 + exp(-z)) ? 1.0f : 0.0f;
		D->key[i] = hp_row_key(D->X + i * d, d, D->p[i]);
	}
	D->ts.n = n;
	D->ts.dim = d;
	D->ts.X = D->X;
	D->ts.p = D->p;
	D->ts.key = D->key;
}

/* Free generated data. */
static void
FreeData(Data *D)
{
	free(D->X);
	free(D->p);
	free(D->key);
	free(D->wstar);
}

/* Options from a JSON literal (asserting it parses). */
static HpTrainOptions
Opts(const char *json)
{
	HpTrainOptions o;
	HpError		err;

	hp_train_options_default(&o);
	CHECK(hp_train_options_parse(json, strlen(json), &o, NULL, &err) == HP_OK);
	return o;
}

/* Pairwise accuracy of the model and of the true reward on fresh pairs. */
static void
Accuracy(const HpModel *m, const Data *test, double *acc, double *bayes)
{
	HpScorer	s;
	HpError		err;
	int			d = test->ts.dim;
	float	   *zero = calloc(d, sizeof(float));
	double		a = 0,
				b = 0;

	CHECK(hp_scorer_init(&s, m, &err) == HP_OK);
	for (int64_t i = 0; i < test->ts.n; i++)
	{
		double		pm,
					z = 0;

		hp_score_prefer(&s, test->X + i * d, zero, &pm, NULL);
		for (int j = 0; j < d; j++)
			z += test->wstar[j] * test->X[i * d + j];
		a += ((pm > 0.5) == (test->p[i] > 0.5));
		b += ((z > 0) == (test->p[i] > 0.5));
	}
	*acc = a / test->ts.n;
	*bayes = b / test->ts.n;
	hp_scorer_free(&s);
	free(zero);
}

/* Gradient norm of the single-head objective, in double, independently. */
static double
GradNorm(const Data *D, const float *w, double lambda)
{
	int			d = D->ts.dim;
	double	   *g = calloc(d, sizeof(double));
	double		nrm = 0;

	for (int64_t i = 0; i < D->ts.n; i++)
	{
		double		z = 0,
					r;

		for (int j = 0; j < d; j++)
			z += (double) w[j] * D->X[i * d + j];
		r = 1.0 / (1.0 + exp(-z)) - D->p[i];
		for (int j = 0; j < d; j++)
			g[j] += r * D->X[i * d + j] / D->ts.n;
	}
	for (int j = 0; j < d; j++)
	{
		g[j] += lambda * w[j];
		nrm += g[j] * g[j];
	}
	free(g);
	return sqrt(nrm);
}

/* Accuracy near Bayes, optimality of the solution, and determinism. */
static void
TestRecovery(void)
{
	Data		train,
				test;
	HpTrainOptions o = Opts("{\"heads\":1,\"lambda\":1e-4}");
	HpModel		m;
	HpError		err;
	double		acc,
				bayes;

	MakeData(&train, 20000, 32, 1, 3.0);
	MakeData(&test, 20000, 32, 2, 3.0);
	memcpy(test.wstar, train.wstar, sizeof(double) * 32);
	/* Relabel test pairs with the training reward vector. */
	{
		HpRng		r;

		hp_rng_seed(&r, 99);
		for (int64_t i = 0; i < test.ts.n; i++)
		{
			double		z = 0;

			for (int j = 0; j < 32; j++)
				z += test.wstar[j] * test.X[i * 32 + j];
			test.p[i] = hp_rng_uniform(&r) < 1.0 / (1.0 + exp(-z)) ? 1.0f : 0.0f;
		}
	}
	CHECK(hp_bt_train(&train.ts, &o, "{}", NULL, &m, &err) == HP_OK);
	Accuracy(&m, &test, &acc, &bayes);
	fprintf(stderr, "train: accuracy %.4f, Bayes %.4f\n", acc, bayes);
	CHECK(acc > bayes - 0.01);
	CHECK(GradNorm(&train, hp_model_tensor(&m, "w")->data, 1e-4) < 1e-4);
	CHECK(m.loss > 0 && m.loss < log(2.0));
	hp_model_free(&m);
	FreeData(&train);
	FreeData(&test);
}

/* Ensemble heads differ, are reproducible, and report spread. */
static void
TestEnsemble(void)
{
	Data		D;
	HpTrainOptions o = Opts("{\"heads\":4,\"seed\":7}");
	HpModel		m1,
				m2;
	HpError		err;
	HpScorer	s;
	double		mean,
				sd;

	MakeData(&D, 3000, 16, 3, 2.0);
	CHECK(hp_bt_train(&D.ts, &o, "{}", NULL, &m1, &err) == HP_OK);
	CHECK(hp_bt_train(&D.ts, &o, "{}", NULL, &m2, &err) == HP_OK);
	CHECK(m1.heads == 4);
	CHECK(memcmp(hp_model_tensor(&m1, "w")->data, hp_model_tensor(&m2, "w")->data,
				 sizeof(float) * 4 * 16) == 0);
	CHECK(hp_scorer_init(&s, &m1, &err) == HP_OK);
	hp_score_reward(&s, D.X, &mean, &sd);
	CHECK(sd > 0 && isfinite(mean));
	hp_scorer_free(&s);
	hp_model_free(&m1);
	hp_model_free(&m2);
	FreeData(&D);
}

/* Sorting rows canonically makes training order-independent. */
static void
TestOrderIndependence(void)
{
	Data		D;
	int			n = 500,
				d = 8;
	HpRowRef   *a = malloc(sizeof(HpRowRef) * n),
			   *b = malloc(sizeof(HpRowRef) * n);

	MakeData(&D, n, d, 4, 1.0);
	for (int i = 0; i < n; i++)
	{
		a[i] = (HpRowRef)
		{
			D.key[i], D.X + i * d, D.p[i]
		};
		b[n - 1 - i] = a[i];
	}
	hp_sort_rows(a, n, d);
	hp_sort_rows(b, n, d);
	CHECK(memcmp(a, b, sizeof(HpRowRef) * n) == 0);
	for (int i = 1; i < n; i++)
		CHECK(a[i - 1].key <= a[i].key);
	free(a);
	free(b);
	FreeData(&D);
}

/* In-place canonical ordering equals the order of hp_sort_rows. */
static void
TestCanonicalOrder(void)
{
	Data		D;
	int			n = 777,
				d = 5;
	HpRowRef   *r = malloc(sizeof(HpRowRef) * n);
	float	   *X = malloc(sizeof(float) * n * d),
			   *p = malloc(sizeof(float) * n);
	uint64_t   *key = malloc(sizeof(uint64_t) * n);

	MakeData(&D, n, d, 9, 1.0);
	/* Duplicates share a key and must stay adjacent, ties broken by label. */
	memcpy(D.X + 10 * d, D.X + 20 * d, sizeof(float) * d);
	D.p[10] = D.p[20];
	D.key[10] = D.key[20];
	for (int i = 0; i < n; i++)
		r[i] = (HpRowRef)
		{
			D.key[i], D.X + i * d, D.p[i]
		};
	hp_sort_rows(r, n, d);
	/* Reverse the input so the permutation has long cycles. */
	for (int i = 0; i < n; i++)
	{
		memcpy(X + i * d, D.X + (n - 1 - i) * d, sizeof(float) * d);
		p[i] = D.p[n - 1 - i];
		key[i] = D.key[n - 1 - i];
	}
	hp_canonical_order(X, p, key, n, d);
	for (int i = 0; i < n; i++)
	{
		CHECK(memcmp(X + i * d, r[i].x, sizeof(float) * d) == 0);
		CHECK(p[i] == r[i].p && key[i] == r[i].key);
	}
	/* Already ordered input is left as is; one row is trivially ordered. */
	hp_canonical_order(X, p, key, n, d);
	for (int i = 0; i < n; i++)
		CHECK(memcmp(X + i * d, r[i].x, sizeof(float) * d) == 0);
	hp_canonical_order(X, p, key, 1, d);
	free(r);
	free(X);
	free(p);
	free(key);
	FreeData(&D);
}

/*
 * hp_row_diff: a - b exactly, the key of hp_row_key on the difference, and
 * NaN, Inf and overflow found wherever they sit (vector body and tail).
 */
static void
TestRowDiff(void)
{
	int			dims[] = {1, 3, 15, 16, 17, 31, 33, 512, 600};
	HpRng		r;

	hp_rng_seed(&r, 17);
	for (size_t t = 0; t < sizeof(dims) / sizeof(dims[0]); t++)
	{
		int			d = dims[t];
		float	   *a = malloc(sizeof(float) * d),
				   *b = malloc(sizeof(float) * d),
				   *x = malloc(sizeof(float) * d);
		uint64_t	key,
					key2;
		bool		same = true;

		for (int j = 0; j < d; j++)
		{
			a[j] = (float) hp_rng_normal(&r);
			b[j] = (float) hp_rng_normal(&r);
		}
		CHECK(hp_row_diff(a, b, x, d, 1.0f, &key));
		for (int j = 0; j < d; j++)
			same &= (x[j] == a[j] - b[j]);
		CHECK(same);
		CHECK(key == hp_row_key(x, d, 1.0f));
		CHECK(key != hp_row_key(x, d, 0.5f));
		/* One changed bit anywhere changes the key. */
		for (int j = 0; j < d; j += (d > 40 ? 37 : 1))
		{
			uint32_t	u;

			memcpy(&u, &x[j], 4);
			u ^= 1u << (j % 32);
			memcpy(&x[j], &u, 4);
			key2 = hp_row_key(x, d, 1.0f);
			u ^= 1u << (j % 32);
			memcpy(&x[j], &u, 4);
			CHECK(key2 != key);
		}
		/* Non-finite inputs and overflowing differences, first/last/middle. */
		for (int where = 0; where < 3; where++)
		{
			int			j = where == 0 ? 0 : (where == 1 ? d - 1 : d / 2);
			float		keep = a[j],
						keepb = b[j];

			a[j] = NAN;
			CHECK(!hp_row_diff(a, b, x, d, 1.0f, &key2));
			a[j] = -INFINITY;
			CHECK(!hp_row_diff(a, b, x, d, 1.0f, &key2));
			a[j] = 3e38f;
			b[j] = -3e38f;
			CHECK(!hp_row_diff(a, b, x, d, 1.0f, &key2));
			a[j] = keep;
			b[j] = keepb;
			CHECK(hp_row_diff(a, b, x, d, 1.0f, &key2) && key2 == key);
		}
		free(a);
		free(b);
		free(x);
	}
}

/*
 * The radix sort orders by key, then values, then label: rows forced to
 * share a key (collisions) still come out in one order, whatever the input
 * order.
 */
static void
TestSortCollisions(void)
{
	enum
	{
		N = 300, D = 3
	};
	float		X[N * D];
	HpRowRef	a[N],
				b[N];
	HpRng		r;
	bool		same = true,
				sorted = true;

	hp_rng_seed(&r, 5);
	for (int i = 0; i < N * D; i++)
		X[i] = (float) (int) (4 * hp_rng_uniform(&r));	/* many duplicates */
	for (int i = 0; i < N; i++)
	{
		a[i].x = X + i * D;
		a[i].p = (i % 3) / 2.0f;
		a[i].key = (uint64_t) (i % 7) << 56 | (i % 2);	/* few distinct keys */
		b[N - 1 - i] = a[i];
	}
	hp_sort_rows(a, N, D);
	hp_sort_rows(b, N, D);
	for (int i = 0; i < N; i++)
	{
		same &= a[i].key == b[i].key && a[i].p == b[i].p && memcmp(a[i].x, b[i].x, sizeof(float) * D) == 0;
		if (i > 0)
			sorted &= a[i - 1].key < a[i].key ||
				(a[i - 1].key == a[i].key && memcmp(a[i - 1].x, a[i].x, sizeof(float) * D) <= 0);
	}
	CHECK(same);
	CHECK(sorted);
}

/* Degenerate inputs give finite models, never NaN. */
static void
TestDegenerate(void)
{
	HpTrainOptions o = Opts("{\"heads\":2,\"lambda\":1e-3}");
	HpModel		m;
	HpError		err;
	float		X[40];
	float		p[10];
	uint64_t	key[10];
	HpTrainSet	ts = {10, 4, X, p, key};

	/* All-identical pairs: zero differences. */
	memset(X, 0, sizeof(X));
	for (int i = 0; i < 10; i++)
	{
		p[i] = 1.0f;
		key[i] = hp_row_key(X + 4 * i, 4, p[i]);
	}
	CHECK(hp_bt_train(&ts, &o, "{}", NULL, &m, &err) == HP_OK);
	CHECK(hp_all_finite_f(hp_model_tensor(&m, "w")->data, 8));
	CHECK(isfinite(m.loss));
	hp_model_free(&m);

	/* Separable data: finite with regularisation. */
	for (int i = 0; i < 40; i++)
		X[i] = (float) ((i % 4) + 1);
	CHECK(hp_bt_train(&ts, &o, "{}", NULL, &m, &err) == HP_OK);
	CHECK(hp_all_finite_f(hp_model_tensor(&m, "w")->data, 8));
	hp_model_free(&m);

	/* All ties: without an anchored prior the optimum is w = 0. */
	for (int i = 0; i < 10; i++)
		p[i] = 0.5f;
	o = Opts("{\"heads\":2,\"lambda\":1e-3,\"prior\":\"none\"}");
	CHECK(hp_bt_train(&ts, &o, "{}", NULL, &m, &err) == HP_OK);
	CHECK(hp_blas.snrm2(8, hp_model_tensor(&m, "w")->data, 1) < 1e-6);
	hp_model_free(&m);

	/* A single row, duplicated (collinear) features. */
	ts.n = 1;
	p[0] = 1.0f;
	X[0] = X[1] = X[2] = X[3] = 1.0f;
	CHECK(hp_bt_train(&ts, &o, "{}", NULL, &m, &err) == HP_OK);
	CHECK(hp_all_finite_f(hp_model_tensor(&m, "w")->data, 8));
	hp_model_free(&m);

	/* Laplace with several heads is refused; alone it stores variances. */
	o = Opts("{\"uncertainty\":\"laplace\",\"heads\":3}");
	CHECK(hp_bt_train(&ts, &o, "{}", NULL, &m, &err) == HP_EINVAL);
	o = Opts("{\"uncertainty\":\"laplace\"}");
	CHECK(hp_bt_train(&ts, &o, "{}", NULL, &m, &err) == HP_OK);
	CHECK(m.heads == 1 && hp_model_tensor(&m, "var") != NULL);
	hp_model_free(&m);
}

/* Soft labels of 0.5 on one half and 1 on the other pull w accordingly. */
static void
TestSoftLabels(void)
{
	HpTrainOptions o = Opts("{\"heads\":1,\"lambda\":1e-6}");
	HpModel		m;
	HpError		err;
	float		X[2] = {1.0f, 1.0f};
	float		p[2] = {0.75f, 0.75f};
	uint64_t	key[2] = {1, 2};
	HpTrainSet	ts = {2, 1, X, p, key};

	/* sigmoid(w) = 0.75 at the optimum: w = log 3. */
	CHECK(hp_bt_train(&ts, &o, "{}", NULL, &m, &err) == HP_OK);
	CHECK_NEAR(((float *) hp_model_tensor(&m, "w")->data)[0], log(3.0), 1e-3);
	hp_model_free(&m);
}

/* Entry point called from test_main.c. */
/*
 * lambda "auto": the model keeps a descending grid with its held-out
 * losses, its lambda is the grid value of least loss, and it is the model
 * that lambda given as a number trains.  Signal-free labels want strong
 * regularisation; a strong signal wants little.  Too few rows keep 1e-3.
 */
static void
TestAutoLambda(void)
{
	HpTrainOptions a = Opts("{\"heads\":1,\"lambda\":\"auto\"}");
	HpModel		m,
				fixed;
	HpError		err;
	Data		D;
	const HpTensor *cv;
	char		json[64];
	HpTrainOptions o;
	double		strong,
				none;

	CHECK(a.lambda_auto);
	MakeData(&D, 3000, 10, 41, 6.0);
	CHECK(hp_bt_train(&D.ts, &a, "{}", NULL, &m, &err) == HP_OK);
	cv = hp_model_tensor(&m, "lambda_cv");
	CHECK(cv != NULL && cv->dtype == HP_F64 && cv->rows == 2 && cv->cols >= 3 && cv->cols <= 13);
	if (cv != NULL)
	{
		const double *v = cv->data;
		int			best = 0;

		for (uint32_t j = 1; j < cv->cols; j++)
		{
			CHECK(v[j] < v[j - 1]);
			if (v[cv->cols + j] < v[cv->cols + best])
				best = (int) j;
		}
		CHECK(m.lambda == v[best]);
		CHECK(v[cv->cols + best] < log(2.0));
	}
	strong = m.lambda;
	snprintf(json, sizeof(json), "{\"heads\":1,\"lambda\":%.17g}", m.lambda);
	o = Opts(json);
	CHECK(hp_bt_train(&D.ts, &o, "{}", NULL, &fixed, &err) == HP_OK);
	CHECK(memcmp(hp_model_tensor(&m, "w")->data, hp_model_tensor(&fixed, "w")->data,
				 sizeof(float) * 10) == 0);
	hp_model_free(&m);
	hp_model_free(&fixed);

	/* Coin-flip labels: the least regularised fits only learn noise. */
	for (int64_t i = 0; i < D.ts.n; i++)
		D.p[i] = (i * 2654435761u >> 7) % 2 ? 1.0f : 0.0f;
	CHECK(hp_bt_train(&D.ts, &a, "{}", NULL, &m, &err) == HP_OK);
	none = m.lambda;
	CHECK(none > 10 * strong);
	hp_model_free(&m);

	/* Nine rows: nothing to validate on, the default stays. */
	D.ts.n = 9;
	CHECK(hp_bt_train(&D.ts, &a, "{}", NULL, &m, &err) == HP_OK);
	CHECK(m.lambda == 1e-3 && hp_model_tensor(&m, "lambda_cv") == NULL);
	hp_model_free(&m);
	FreeData(&D);
}

void
run_train_tests(void)
{
	TestAutoLambda();
	TestRecovery();
	TestEnsemble();
	TestOrderIndependence();
	TestCanonicalOrder();
	TestRowDiff();
	TestSortCollisions();
	TestDegenerate();
	TestSoftLabels();
}

/* Scoring specifics are covered above; kept for the harness layout. */
void
run_score_tests(void)
{
	HpModel		m;
	HpError		err;
	HpScorer	s;
	float		w[4] = {1, 2, -1, 0.5f};
	float		x[2] = {1, 1};
	double		mean,
				sd;

	memset(&m, 0, sizeof(m));
	m.kind = HP_KIND_LINEAR;
	m.dim = 2;
	m.heads = 2;
	hp_model_add_tensor(&m, "w", HP_F32, 2, 2, w);
	CHECK(hp_scorer_init(&s, &m, &err) == HP_OK);
	hp_score_reward(&s, x, &mean, &sd);
	/* heads give 3 and -0.5: mean 1.25, population std 1.75 */
	CHECK_NEAR(mean, 1.25, 1e-9);
	CHECK_NEAR(sd, 1.75, 1e-9);
	hp_score_prefer(&s, x, x, &mean, &sd);
	CHECK_NEAR(mean, 0.5, 1e-12);
	CHECK_NEAR(sd, 0.0, 1e-12);
	hp_scorer_free(&s);
	hp_model_free(&m);
}
