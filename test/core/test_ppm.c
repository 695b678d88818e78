/*
 * test_ppm.c: the performance prediction model (options, ridge fit with
 * cross-validation, prediction and gains) and the routing strategies.
 * Run under ASan/LSan too, so every path frees.
 */
#include <stdlib.h>
#include <string.h>

#include "hp_json.h"
#include "hp_model.h"
#include "hp_ppm.h"
#include "hp_rng.h"
#include "tests.h"

/* Parse options text; returns the status and frees on success when asked. */
static HpStatus
Parse(const char *json, HpPpmOptions *o, HpError *err)
{
	return hp_ppm_options_parse(json, strlen(json), o, err);
}

/* Status of parsing json, with the options released. */
static HpStatus
ParseRc(const char *json, char *msg, size_t msglen)
{
	HpPpmOptions o;
	HpError		err;
	HpStatus	rc = Parse(json, &o, &err);

	if (rc == HP_OK)
		hp_ppm_options_free(&o);
	else if (msg)
		snprintf(msg, msglen, "%s", err.msg);
	return rc;
}

/* Options: defaults, required keys and every validation. */
static void
TestOptions(void)
{
	HpPpmOptions o;
	HpError		err;
	char		msg[256];

	CHECK(Parse("{\"vocab\":[\"a\",\"b\"],\"n\":10}", &o, &err) == HP_OK);
	CHECK(o.degree == 1 && o.folds == 5 && o.normalize && o.n == 10 && o.nvocab == 2);
	CHECK_NEAR(o.lambda, 1e-3, 0);
	CHECK(strcmp(o.vocab[1], "b") == 0);
	hp_ppm_options_free(&o);

	CHECK(Parse("{\"vocab\":[\"a\"],\"normalize\":false,\"degree\":2,\"lambda\":0.5,\"folds\":3}", &o, &err) == HP_OK);
	CHECK(!o.normalize && o.n == 1.0 && o.degree == 2 && o.folds == 3 && o.lambda == 0.5);
	hp_ppm_options_free(&o);

	CHECK(ParseRc("{\"n\":10}", msg, sizeof(msg)) == HP_EINVAL);
	CHECK(strstr(msg, "\"vocab\" is required") != NULL);
	CHECK(ParseRc("{\"vocab\":[\"a\"]}", msg, sizeof(msg)) == HP_EINVAL);
	CHECK(strstr(msg, "\"n\" is required") != NULL);
	CHECK(ParseRc("{\"vocab\":[\"a\",\"a\"],\"n\":1}", msg, sizeof(msg)) == HP_EINVAL);
	CHECK(strstr(msg, "twice") != NULL);
	CHECK(ParseRc("{\"vocab\":[],\"n\":1}", NULL, 0) == HP_EINVAL);
	CHECK(ParseRc("{\"vocab\":[\"\"],\"n\":1}", NULL, 0) == HP_EINVAL);
	CHECK(ParseRc("{\"vocab\":[1],\"n\":1}", NULL, 0) == HP_EINVAL);
	CHECK(ParseRc("{\"vocab\":[\"a\"],\"n\":0}", NULL, 0) == HP_EINVAL);
	CHECK(ParseRc("{\"vocab\":[\"a\"],\"n\":1,\"degree\":3}", NULL, 0) == HP_EINVAL);
	CHECK(ParseRc("{\"vocab\":[\"a\"],\"n\":1,\"lambda\":0}", NULL, 0) == HP_EINVAL);
	CHECK(ParseRc("{\"vocab\":[\"a\"],\"n\":1,\"lambda\":\"best\"}", NULL, 0) == HP_EINVAL);
	CHECK(Parse("{\"vocab\":[\"a\"],\"n\":1,\"lambda\":\"auto\"}", &o, &err) == HP_OK && o.lambda_auto);
	hp_ppm_options_free(&o);
	CHECK(ParseRc("{\"vocab\":[\"a\"],\"n\":1,\"folds\":1}", NULL, 0) == HP_EINVAL);
	CHECK(ParseRc("{\"vocab\":[\"a\"],\"n\":1,\"normalize\":1}", NULL, 0) == HP_EINVAL);
	CHECK(ParseRc("{\"vocab\":[\"a\"],\"n\":1,\"solver\":\"qr\"}", NULL, 0) == HP_EINVAL);
	CHECK(ParseRc("{\"vocab\":[\"a\"],\"n\":1,\"alpha\":1}", msg, sizeof(msg)) == HP_EINVAL);
	CHECK(strstr(msg, "unknown option \"alpha\"") != NULL);
	CHECK(ParseRc("[1]", NULL, 0) == HP_EINVAL);
	CHECK(ParseRc("{\"vocab\":", NULL, 0) == HP_EINVAL);
	{
		/* a quadratic PPM over too many features */
		HpBuf		b;

		hp_buf_init(&b);
		hp_buf_puts(&b, "{\"degree\":2,\"n\":1,\"vocab\":[");
		for (int j = 0; j <= HP_PPM_MAX_QUAD_VOCAB; j++)
		{
			char		name[16];

			snprintf(name, sizeof(name), "%s\"f%d\"", j ? "," : "", j);
			hp_buf_puts(&b, name);
		}
		hp_buf_puts(&b, "]}");
		CHECK(ParseRc(b.data, NULL, 0) == HP_ELIMIT);
		hp_buf_free(&b);
	}
}

/* Rows (counts, score) from score = f(counts / n) + noise. */
static double *
MakeRows(int nrows, int K, double n, uint64_t seed, double noise,
		 double intercept, const double *beta, const double *quad)
{
	double	   *rows = hp_alloc(sizeof(double) * nrows * (K + 1));
	HpRng		r;

	hp_rng_seed(&r, seed);
	for (int i = 0; i < nrows; i++)
	{
		double	   *row = rows + (size_t) i * (K + 1);
		double		y = intercept;

		for (int j = 0; j < K; j++)
			row[j] = (double) hp_rng_below(&r, (uint64_t) n + 1);
		for (int j = 0; j < K; j++)
		{
			y += beta[j] * row[j] / n;
			if (quad)
				for (int k = 0; k < K; k++)
					y += quad[j * K + k] * row[j] / n * row[k] / n;
		}
		row[K] = y + noise * hp_rng_normal(&r);
	}
	return rows;
}

/* Options with vocabulary f0..f{K-1}. */
static void
Opts(HpPpmOptions *o, int K, double n, int degree, double lambda)
{
	memset(o, 0, sizeof(*o));
	o->degree = degree;
	o->lambda = lambda;
	o->normalize = true;
	o->n = n;
	o->folds = 5;
	o->nvocab = K;
	o->vocab = hp_alloc(sizeof(char *) * K);
	for (int j = 0; j < K; j++)
	{
		o->vocab[j] = hp_alloc(16);
		snprintf(o->vocab[j], 16, "f%d", j);
	}
}

/* A number from the model's options. */
static double
OptNum(const HpModel *m, const char *key)
{
	HpJsonDoc  *doc;
	double		d = NAN;

	if (hp_json_parse(m->options, strlen(m->options), &doc, NULL) != HP_OK)
		return NAN;
	if (hp_json_get(hp_json_root(doc), key))
		hp_json_double(hp_json_get(hp_json_root(doc), key), &d);
	hp_json_free(doc);
	return d;
}

/* Element of an f64 tensor. */
static double
T(const HpModel *m, const char *name, int i)
{
	const HpTensor *t = hp_model_tensor(m, name);

	return t ? ((const double *) t->data)[i] : NAN;
}

/* A linear PPM recovers the generating coefficients and validates well. */
static void
TestLinearFit(void)
{
	double		beta[4] = {0.3, -0.2, 0.1, 0.0};
	double	   *rows = MakeRows(400, 4, 100, 1, 0.0005, 0.6, beta, NULL);
	HpPpmOptions o;
	HpModel		m;
	HpError		err;

	Opts(&o, 4, 100, 1, 1e-6);
	CHECK(hp_ppm_fit(&o, rows, 400, 0, &m, &err) == HP_OK);
	CHECK(hp_model_validate(&m, &err) == HP_OK);
	CHECK(m.kind == HP_KIND_PPM && m.dim == 4 && m.rows == 400);
	CHECK_NEAR(T(&m, "intercept", 0), 0.6, 2e-4);
	for (int j = 0; j < 4; j++)
		CHECK_NEAR(T(&m, "beta", j), beta[j], 3e-4);
	CHECK(hp_model_tensor(&m, "quad") == NULL);
	CHECK(OptNum(&m, "cv_corr") > 0.999);
	CHECK(OptNum(&m, "cv_rmse") < 0.001);
	CHECK(OptNum(&m, "folds") == 5 && OptNum(&m, "n_train") == 400);

	/* Row order does not matter: the model is bit-identical. */
	{
		double	   *rev = hp_alloc(sizeof(double) * 400 * 5);
		HpModel		m2;
		size_t		l1 = hp_model_binary_size(&m),
					l2;
		unsigned char *b1 = hp_alloc(l1),
				   *b2;

		for (int i = 0; i < 400; i++)
			memcpy(rev + i * 5, rows + (399 - i) * 5, sizeof(double) * 5);
		CHECK(hp_ppm_fit(&o, rev, 400, 0, &m2, &err) == HP_OK);
		l2 = hp_model_binary_size(&m2);
		b2 = hp_alloc(l2);
		hp_model_encode(&m, b1);
		hp_model_encode(&m2, b2);
		CHECK(l1 == l2 && memcmp(b1, b2, l1) == 0);
		hp_free(b1);
		hp_free(b2);
		hp_free(rev);
		hp_model_free(&m2);
	}

	/* Larger lambda shrinks toward the mean. */
	{
		HpModel		m3;

		o.lambda = 10;
		CHECK(hp_ppm_fit(&o, rows, 400, 0, &m3, &err) == HP_OK);
		CHECK(fabs(T(&m3, "beta", 0)) < 0.1);
		hp_model_free(&m3);
	}
	hp_model_free(&m);
	hp_ppm_options_free(&o);
	hp_free(rows);
}

/* Degenerate and invalid training data. */
static void
TestFitErrors(void)
{
	double		beta[2] = {1, 1};
	double	   *rows = MakeRows(20, 2, 10, 2, 0, 0.5, beta, NULL);
	HpPpmOptions o;
	HpModel		m;
	HpError		err;

	Opts(&o, 2, 10, 1, 1e-3);
	for (int i = 0; i < 20; i++)
		rows[i * 3 + 2] = 0.7;
	CHECK(hp_ppm_fit(&o, rows, 20, 0, &m, &err) == HP_EDATA);
	CHECK(strstr(err.msg, "every training score equals 0.7") != NULL);
	rows[2] = NAN;
	CHECK(hp_ppm_fit(&o, rows, 20, 0, &m, &err) == HP_EDATA);
	CHECK(strstr(err.msg, "NaN") != NULL);
	CHECK(hp_ppm_fit(&o, rows, 1, 0, &m, &err) == HP_EDATA);
	/* counts that never vary carry no information */
	for (int i = 0; i < 20; i++)
	{
		rows[i * 3] = 3;
		rows[i * 3 + 1] = 4;
		rows[i * 3 + 2] = i;
	}
	CHECK(hp_ppm_fit(&o, rows, 20, 0, &m, &err) == HP_EDATA);
	CHECK(strstr(err.msg, "no feature count varies") != NULL);
	/* a memory bound */
	rows[0] = 5;
	CHECK(hp_ppm_fit(&o, rows, 20, 64, &m, &err) == HP_ELIMIT);
	/* three rows, five folds: leave-one-out */
	rows[3] = 1;
	CHECK(hp_ppm_fit(&o, rows, 3, 0, &m, &err) == HP_OK);
	CHECK(OptNum(&m, "folds") == 3);
	hp_model_free(&m);
	hp_ppm_options_free(&o);
	hp_free(rows);
}

/* A quadratic PPM recovers interactions; primal and dual solvers agree. */
static void
TestQuadraticFit(void)
{
	double		beta[3] = {0.2, 0.1, -0.1};
	double		quad[9] = {-0.3, 0.1, 0, 0.1, 0, 0.2, 0, 0.2, 0};
	double	   *rows = MakeRows(500, 3, 50, 3, 0, 0.5, beta, quad);
	HpPpmOptions o;
	HpModel		m;
	HpError		err;
	HpPpm		p;

	Opts(&o, 3, 50, 2, 1e-9);
	CHECK(hp_ppm_fit(&o, rows, 500, 0, &m, &err) == HP_OK);
	CHECK(hp_model_validate(&m, &err) == HP_OK);
	CHECK_NEAR(T(&m, "intercept", 0), 0.5, 1e-5);
	for (int j = 0; j < 3; j++)
		CHECK_NEAR(T(&m, "beta", j), beta[j], 1e-4);
	for (int j = 0; j < 9; j++)
		CHECK_NEAR(T(&m, "quad", j), quad[j], 1e-4);
	CHECK(OptNum(&m, "cv_rmse") < 1e-5);

	/* prediction reproduces the generating function */
	CHECK(hp_ppm_load(&m, &p, &err) == HP_OK);
	{
		double		v[3] = {0.5, 0.2, 0.9};
		double		f = 0.5;

		for (int j = 0; j < 3; j++)
		{
			f += beta[j] * v[j];
			for (int k = 0; k < 3; k++)
				f += quad[j * 3 + k] * v[j] * v[k];
		}
		CHECK_NEAR(hp_ppm_predict(&p, v), f, 1e-5);
	}
	hp_ppm_free(&p);
	hp_model_free(&m);
	hp_ppm_options_free(&o);
	hp_free(rows);

	/* 12 features: 90 columns, 60 rows, so auto picks the dual */
	{
		double		b12[12];
		double	   *r12;
		HpModel		md,
					mp;

		for (int j = 0; j < 12; j++)
			b12[j] = (j % 3 - 1) * 0.1;
		r12 = MakeRows(60, 12, 20, 4, 0.01, 0.4, b12, NULL);
		Opts(&o, 12, 20, 2, 0.05);
		CHECK(hp_ppm_fit(&o, r12, 60, 0, &md, &err) == HP_OK);
		o.solver = 1;
		CHECK(hp_ppm_fit(&o, r12, 60, 0, &mp, &err) == HP_OK);
		CHECK(strstr(md.options, "\"solver\":\"dual\"") != NULL);
		CHECK(strstr(mp.options, "\"solver\":\"primal\"") != NULL);
		CHECK_NEAR(OptNum(&md, "cv_rmse"), OptNum(&mp, "cv_rmse"), 1e-9);
		CHECK_NEAR(OptNum(&md, "cv_corr"), OptNum(&mp, "cv_corr"), 1e-9);
		CHECK_NEAR(T(&md, "intercept", 0), T(&mp, "intercept", 0), 1e-8);
		for (int j = 0; j < 12; j++)
			CHECK_NEAR(T(&md, "beta", j), T(&mp, "beta", j), 1e-7);
		for (int j = 0; j < 144; j += 13)
			CHECK_NEAR(T(&md, "quad", j), T(&mp, "quad", j), 1e-6);
		hp_model_free(&md);
		hp_model_free(&mp);
		hp_ppm_options_free(&o);
		hp_free(r12);
	}
}

/* "lambda": "auto" picks the grid value of least held-out error. */
static void
TestLambdaAuto(void)
{
	double		b12[12];
	double	   *rows;
	HpPpmOptions o;
	HpModel		ma,
				mf;
	HpError		err;
	static const double grid[] = {1e-5, 1e-3, 1e-1, 10, 100};

	for (int j = 0; j < 12; j++)
		b12[j] = (j % 3 - 1) * 0.1;
	rows = MakeRows(80, 12, 20, 6, 0.05, 0.4, b12, NULL);
	Opts(&o, 12, 20, 2, 1e-3);
	o.lambda_auto = true;
	CHECK(hp_ppm_fit(&o, rows, 80, 0, &ma, &err) == HP_OK);
	CHECK(strstr(ma.options, "\"lambda_auto\":true") != NULL);
	CHECK(ma.lambda == OptNum(&ma, "lambda"));
	o.lambda_auto = false;
	for (size_t g = 0; g < sizeof(grid) / sizeof(grid[0]); g++)
	{
		o.lambda = grid[g];
		CHECK(hp_ppm_fit(&o, rows, 80, 0, &mf, &err) == HP_OK);
		CHECK(OptNum(&ma, "cv_rmse") <= OptNum(&mf, "cv_rmse") + 1e-12);
		hp_model_free(&mf);
	}
	/* noisy targets over 90 columns and 80 rows want real shrinkage */
	CHECK(ma.lambda >= 1e-2);
	hp_model_free(&ma);
	hp_ppm_options_free(&o);
	hp_free(rows);
}

/* A hand-made PPM model over vocab {a, b, c}. */
static void
HandPpm(HpModel *m, double intercept, const double *beta, const double *quad)
{
	memset(m, 0, sizeof(*m));
	m->version = HP_MODEL_FORMAT_VERSION;
	m->kind = HP_KIND_PPM;
	m->dim = 3;
	m->heads = 1;
	m->lambda = 1e-3;
	m->options = hp_alloc(128);
	snprintf(m->options, 128, "{\"degree\":%d,\"normalize\":true,\"vocab\":[\"a\",\"b\",\"c\"]}",
			 quad ? 2 : 1);
	hp_model_add_tensor(m, "intercept", HP_F64, 1, 1, &intercept);
	hp_model_add_tensor(m, "beta", HP_F64, 1, 3, beta);
	if (quad)
		hp_model_add_tensor(m, "quad", HP_F64, 3, 3, quad);
}

/* Loading, lookups, gains and the checks on foreign models. */
static void
TestLoadAndGain(void)
{
	double		beta[3] = {1, 2, -1};
	double		quad[9] = {0, 1, 0, 3, 0, 0, 0, 0, -2};	/* asymmetric on purpose */
	HpModel		m;
	HpPpm		p;
	HpError		err;
	int32_t		ab[2] = {0, 1};
	int32_t		idx[5] = {2, 0, 2, 1, 0};

	HandPpm(&m, 0.5, beta, quad);
	CHECK(hp_model_validate(&m, &err) == HP_OK);
	CHECK(hp_ppm_load(&m, &p, &err) == HP_OK);
	CHECK(hp_ppm_lookup(&p, "a", 1) == 0 && hp_ppm_lookup(&p, "c", 1) == 2);
	CHECK(hp_ppm_lookup(&p, "d", 1) == -1 && hp_ppm_lookup(&p, "ab", 2) == -1);
	/* Q is symmetrised: Q_ab = Q_ba = 2 */
	CHECK_NEAR(p.quad[1], 2, 0);
	CHECK_NEAR(p.quad[3], 2, 0);
	/* gain of {a,b} at s = 0.1: 0.1 * 3 + 0.01 * (0 + 2 + 2 + 0) */
	CHECK_NEAR(hp_ppm_gain(&p, ab, 2, 0.1), 0.34, 1e-12);
	{
		double		v[3] = {0.1, 0.1, 0},
					z[3] = {0, 0, 0};

		CHECK_NEAR(hp_ppm_gain(&p, ab, 2, 0.1), hp_ppm_predict(&p, v) - hp_ppm_predict(&p, z), 1e-12);
	}
	CHECK(hp_ppm_sort_unique(idx, 5) == 3 && idx[0] == 0 && idx[1] == 1 && idx[2] == 2);
	{
		int32_t		many[100];
		bool		ok = true;

		for (int i = 0; i < 100; i++)
			many[i] = (i * 37) % 50;	/* 0..49, each twice */
		CHECK(hp_ppm_sort_unique(many, 100) == 50);
		for (int i = 0; i < 50; i++)
			ok &= many[i] == i;
		CHECK(ok);
	}
	hp_ppm_free(&p);
	hp_model_free(&m);

	/* not a PPM */
	memset(&m, 0, sizeof(m));
	m.kind = HP_KIND_LINEAR;
	m.dim = 3;
	CHECK(hp_ppm_load(&m, &p, &err) == HP_EINVAL);
	CHECK(strstr(err.msg, "not a performance prediction model") != NULL);
	/* degree 2 without its quad tensor */
	HandPpm(&m, 0, beta, NULL);
	hp_free(m.options);
	m.options = hp_alloc(128);
	snprintf(m.options, 128, "{\"degree\":2,\"vocab\":[\"a\",\"b\",\"c\"]}");
	CHECK(hp_ppm_load(&m, &p, &err) == HP_ECORRUPT);
	/* vocabulary of the wrong length */
	snprintf(m.options, 128, "{\"degree\":1,\"vocab\":[\"a\",\"b\"]}");
	CHECK(hp_ppm_load(&m, &p, &err) == HP_ECORRUPT);
	snprintf(m.options, 128, "{\"degree\":1,\"vocab\":[\"a\",\"b\",\"a\"]}");
	CHECK(hp_ppm_load(&m, &p, &err) == HP_ECORRUPT);
	hp_model_free(&m);
}

/* Budgets: fractions round to the nearest count; counts must be whole. */
static void
TestBudget(void)
{
	int64_t		k;
	HpError		err;
	HpRouteStrategy s;

	CHECK(hp_route_budget(0.5, 7, &k, &err) == HP_OK && k == 4);
	CHECK(hp_route_budget(0, 7, &k, &err) == HP_OK && k == 0);
	CHECK(hp_route_budget(1, 7, &k, &err) == HP_OK && k == 7);
	CHECK(hp_route_budget(0.1, 30, &k, &err) == HP_OK && k == 3);
	CHECK(hp_route_budget(5, 7, &k, &err) == HP_OK && k == 5);
	CHECK(hp_route_budget(7, 7, &k, &err) == HP_OK && k == 7);
	CHECK(hp_route_budget(8, 7, &k, &err) == HP_EINVAL);
	CHECK(strstr(err.msg, "(1, 7]") != NULL && strstr(err.msg, "[0, 1]") != NULL);
	CHECK(hp_route_budget(2.5, 7, &k, &err) == HP_EINVAL);
	CHECK(hp_route_budget(-0.1, 7, &k, &err) == HP_EINVAL);
	CHECK(hp_route_budget(NAN, 7, &k, &err) == HP_EINVAL);
	CHECK(hp_route_strategy("greedy", &s, &err) == HP_OK && s == HP_ROUTE_GREEDY);
	CHECK(hp_route_strategy("best", &s, &err) == HP_EINVAL);
}

/* Random instances over K features with a few signatures, ids shuffled-ascending. */
typedef struct Inst
{
	HpRouteData d;
	int64_t    *id;
	int64_t    *off;
	int32_t    *idx;
} Inst;

/* n instances, each with a random subset of {0..K-1}. */
static void
MakeInst(Inst *in, int64_t n, int K, double density, uint64_t seed)
{
	HpRng		r;
	int64_t		nnz = 0;

	hp_rng_seed(&r, seed);
	in->id = hp_alloc(sizeof(int64_t) * n);
	in->off = hp_alloc(sizeof(int64_t) * (n + 1));
	in->idx = hp_alloc(sizeof(int32_t) * (n * K + 1));
	in->off[0] = 0;
	for (int64_t i = 0; i < n; i++)
	{
		in->id[i] = 10 + 3 * i;
		for (int j = 0; j < K; j++)
			if (hp_rng_uniform(&r) < density)
				in->idx[nnz++] = j;
		in->off[i + 1] = nnz;
	}
	in->d.n = n;
	in->d.id = in->id;
	in->d.off = in->off;
	in->d.idx = in->idx;
	in->d.scale = 1.0 / n;
}

/* Release the instances. */
static void
FreeInst(Inst *in)
{
	hp_free(in->id);
	hp_free(in->off);
	hp_free(in->idx);
}

/* Number of true flags. */
static int64_t
Count(const bool *h, int64_t n)
{
	int64_t		c = 0;

	for (int64_t i = 0; i < n; i++)
		c += h[i];
	return c;
}

/* Reference greedy: one instance at a time, exact f, ties by id. */
static void
BruteGreedy(const HpPpm *p, const HpRouteData *d, int64_t k, bool *human)
{
	double	   *v = hp_alloc0(sizeof(double) * p->K),
			   *w = hp_alloc(sizeof(double) * p->K);

	memset(human, 0, sizeof(bool) * d->n);
	for (int64_t t = 0; t < k; t++)
	{
		int64_t		best = -1;
		double		bestg = 0,
					f0 = hp_ppm_predict(p, v);

		for (int64_t i = 0; i < d->n; i++)
		{
			double		g;

			if (human[i])
				continue;
			memcpy(w, v, sizeof(double) * p->K);
			for (int64_t a = d->off[i]; a < d->off[i + 1]; a++)
				w[d->idx[a]] += d->scale;
			g = hp_ppm_predict(p, w) - f0;
			if (best < 0 || g > bestg + 1e-12)
			{
				best = i;
				bestg = g;
			}
		}
		human[best] = true;
		for (int64_t a = d->off[best]; a < d->off[best + 1]; a++)
			v[d->idx[a]] += d->scale;
	}
	hp_free(v);
	hp_free(w);
}

/* The strategies on random instances. */
static void
TestStrategies(void)
{
	double		beta[3] = {0.5, 0.2, -0.1};
	double		quad[9] = {-2, 0.5, 0, 0.5, -1, 0.3, 0, 0.3, 0.2};
	HpModel		ml,
				mq;
	HpPpm		pl,
				pq;
	HpError		err;
	Inst		in;
	int64_t		n = 300;
	double	   *gain = hp_alloc(sizeof(double) * n);
	bool	   *h1 = hp_alloc(sizeof(bool) * n),
			   *h2 = hp_alloc(sizeof(bool) * n);

	HandPpm(&ml, 0.1, beta, NULL);
	HandPpm(&mq, 0.1, beta, quad);
	CHECK(hp_ppm_load(&ml, &pl, &err) == HP_OK);
	CHECK(hp_ppm_load(&mq, &pq, &err) == HP_OK);
	MakeInst(&in, n, 3, 0.5, 5);

	/* topk against a full sort: 8 signatures, so many tied gains */
	hp_route_gains(&pl, &in.d, gain);
	for (int64_t k = 0; k <= n; k += 37)
	{
		int64_t		ok = 0;

		hp_route_topk(gain, in.id, n, k, h1);
		CHECK(Count(h1, n) == k);
		/* every chosen instance ranks before every other one */
		for (int64_t i = 0; i < n; i++)
			for (int64_t j = 0; j < n; j++)
				if (h1[i] && !h1[j])
					ok += gain[i] > gain[j] || (gain[i] == gain[j] && in.id[i] < in.id[j]);
		CHECK(ok == k * (n - k));
	}

	/* greedy equals topk for a linear PPM */
	CHECK(hp_route_select(&pl, &in.d, gain, HP_ROUTE_GREEDY, 120, 0, 1, h1, &err) == HP_OK);
	CHECK(hp_route_select(&pl, &in.d, gain, HP_ROUTE_TOPK, 120, 0, 1, h2, &err) == HP_OK);
	CHECK(memcmp(h1, h2, n) == 0);

	/* greedy with interactions equals the one-at-a-time reference */
	hp_route_gains(&pq, &in.d, gain);
	for (int64_t k = 1; k < n; k += 29)
	{
		CHECK(hp_route_select(&pq, &in.d, gain, HP_ROUTE_GREEDY, k, 0, 1, h1, &err) == HP_OK);
		BruteGreedy(&pq, &in.d, k, h2);
		CHECK(Count(h1, n) == k);
		CHECK_NEAR(hp_route_predict_set(&pq, &in.d, h1), hp_route_predict_set(&pq, &in.d, h2), 1e-12);
	}
	/* and is at least as good as topk under the model */
	CHECK(hp_route_select(&pq, &in.d, gain, HP_ROUTE_GREEDY, 150, 0, 1, h1, &err) == HP_OK);
	CHECK(hp_route_select(&pq, &in.d, gain, HP_ROUTE_TOPK, 150, 0, 1, h2, &err) == HP_OK);
	CHECK(hp_route_predict_set(&pq, &in.d, h1) >= hp_route_predict_set(&pq, &in.d, h2) - 1e-12);

	/* simulated: exactly k, deterministic per seed, no worse than random */
	CHECK(hp_route_select(&pq, &in.d, gain, HP_ROUTE_SIMULATED, 100, 7, 50, h1, &err) == HP_OK);
	CHECK(Count(h1, n) == 100);
	CHECK(hp_route_select(&pq, &in.d, gain, HP_ROUTE_SIMULATED, 100, 7, 50, h2, &err) == HP_OK);
	CHECK(memcmp(h1, h2, n) == 0);
	{
		double		fs = hp_route_predict_set(&pq, &in.d, h1);
		int			better = 0;

		for (int s = 0; s < 20; s++)
		{
			CHECK(hp_route_select(&pq, &in.d, gain, HP_ROUTE_RANDOM, 100, s, 1, h2, &err) == HP_OK);
			better += fs >= hp_route_predict_set(&pq, &in.d, h2);
		}
		CHECK(better >= 18);
	}
	/* a budget above half uses complements; one candidate is allowed */
	CHECK(hp_route_select(&pq, &in.d, gain, HP_ROUTE_SIMULATED, 250, 1, 3, h1, &err) == HP_OK);
	CHECK(Count(h1, n) == 250);
	CHECK(hp_route_select(&pq, &in.d, gain, HP_ROUTE_SIMULATED, 250, 1, 0, h1, &err) == HP_EINVAL);

	/* random: exactly k, nested in k for one seed, seed matters */
	CHECK(hp_route_select(&pq, &in.d, gain, HP_ROUTE_RANDOM, 50, 3, 1, h1, &err) == HP_OK);
	CHECK(hp_route_select(&pq, &in.d, gain, HP_ROUTE_RANDOM, 80, 3, 1, h2, &err) == HP_OK);
	CHECK(Count(h1, n) == 50 && Count(h2, n) == 80);
	{
		bool		nested = true;

		for (int64_t i = 0; i < n; i++)
			nested &= !h1[i] || h2[i];
		CHECK(nested);
	}
	CHECK(hp_route_select(&pq, &in.d, gain, HP_ROUTE_RANDOM, 50, 4, 1, h2, &err) == HP_OK);
	CHECK(memcmp(h1, h2, n) != 0);
	/* every strategy at the edges */
	for (int s = HP_ROUTE_TOPK; s <= HP_ROUTE_RANDOM; s++)
	{
		CHECK(hp_route_select(&pq, &in.d, gain, s, 0, 0, 4, h1, &err) == HP_OK && Count(h1, n) == 0);
		CHECK(hp_route_select(&pq, &in.d, gain, s, n, 0, 4, h1, &err) == HP_OK && Count(h1, n) == n);
	}
	CHECK(hp_route_select(&pq, &in.d, gain, HP_ROUTE_TOPK, n + 1, 0, 1, h1, &err) == HP_EINVAL);

	FreeInst(&in);
	hp_ppm_free(&pl);
	hp_ppm_free(&pq);
	hp_model_free(&ml);
	hp_model_free(&mq);
	hp_free(gain);
	hp_free(h1);
	hp_free(h2);
}

/* Greedy on many instances with few signatures, against the reference. */
static void
TestGreedyTies(void)
{
	/* beta equal for a and b: signatures {a} and {b} tie exactly */
	double		beta[3] = {1, 1, 0.5};
	double		quad[9] = {-1, 0, 0, 0, -1, 0, 0, 0, 0};
	HpModel		m;
	HpPpm		p;
	HpError		err;
	Inst		in;
	int64_t		n = 200;
	double	   *gain = hp_alloc(sizeof(double) * n);
	bool	   *h1 = hp_alloc(sizeof(bool) * n),
			   *h2 = hp_alloc(sizeof(bool) * n);

	HandPpm(&m, 0, beta, quad);
	CHECK(hp_ppm_load(&m, &p, &err) == HP_OK);
	MakeInst(&in, n, 3, 0.3, 9);
	in.d.scale = 1.0 / 8;		/* strong interactions: the leader changes often */
	hp_route_gains(&p, &in.d, gain);
	for (int64_t k = 5; k < n; k += 45)
	{
		CHECK(hp_route_select(&p, &in.d, gain, HP_ROUTE_GREEDY, k, 0, 1, h1, &err) == HP_OK);
		BruteGreedy(&p, &in.d, k, h2);
		CHECK_NEAR(hp_route_predict_set(&p, &in.d, h1), hp_route_predict_set(&p, &in.d, h2), 1e-9);
	}
	FreeInst(&in);
	hp_ppm_free(&p);
	hp_model_free(&m);
	hp_free(gain);
	hp_free(h1);
	hp_free(h2);
}

/* Entry point called from test_main.c. */
void
run_ppm_tests(void)
{
	TestOptions();
	TestLinearFit();
	TestFitErrors();
	TestQuadraticFit();
	TestLambdaAuto();
	TestLoadAndGain();
	TestBudget();
	TestStrategies();
	TestGreedyTies();
}
