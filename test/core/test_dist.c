/*
 * test_dist.c: unit tests of the distinguishability statistics, their
 * merges, the priority gaps and the power-iteration step.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hp_blas.h"
#include "hp_dist.h"
#include "hp_json.h"
#include "hp_rng.h"
#include "tests.h"

/* A fresh zeroed state of dimension dim. */
static HpDistState *
NewState(int dim)
{
	HpDistState *s = calloc(1, hp_dist_state_size(dim));

	hp_dist_init(s, dim);
	s->host = (uint32_t) hp_dist_state_size(dim);
	return s;
}

/* Relative difference, safe at 0. */
static double
Rel(double a, double b)
{
	double		m = fabs(a) > fabs(b) ? fabs(a) : fabs(b);

	return m == 0 ? 0 : fabs(a - b) / m;
}

/* Reference statistics: two-pass in long double. */
typedef struct Ref
{
	double	   *mean;
	double	   *cov;			/* dim x dim */
	double		trace;
	double		spectral;
} Ref;

/* Two-pass mean and covariance of n rows, and the spectral norm by dsyevd. */
static void
Reference(const float *X, int n, int dim, Ref *r)
{
	long double *m = calloc(dim, sizeof(long double));
	double	   *a = malloc(sizeof(double) * dim * dim);
	double	   *w = malloc(sizeof(double) * dim);

	r->mean = malloc(sizeof(double) * dim);
	r->cov = malloc(sizeof(double) * dim * dim);
	for (int i = 0; i < n; i++)
		for (int j = 0; j < dim; j++)
			m[j] += X[(size_t) i * dim + j];
	for (int j = 0; j < dim; j++)
		r->mean[j] = (double) (m[j] / n);
	r->trace = 0;
	for (int p = 0; p < dim; p++)
		for (int q = 0; q < dim; q++)
		{
			long double acc = 0;

			for (int i = 0; i < n; i++)
				acc += ((long double) X[(size_t) i * dim + p] - m[p] / n) *
					((long double) X[(size_t) i * dim + q] - m[q] / n);
			r->cov[p * dim + q] = (double) (acc / (n - 1));
		}
	for (int p = 0; p < dim; p++)
		r->trace += r->cov[p * dim + p];
	memcpy(a, r->cov, sizeof(double) * dim * dim);
	hp_blas.dsyevd(101, 'N', 'U', dim, a, dim, w);
	r->spectral = fabs(w[dim - 1]);
	free(m);
	free(a);
	free(w);
}

/* n x dim rows: offset + scale * N(0,1) per coordinate, coordinate j scaled by (1 + j % 3). */
static float *
Rows(HpRng *r, int n, int dim, double offset, double scale)
{
	float	   *X = malloc(sizeof(float) * n * dim);

	for (int i = 0; i < n; i++)
		for (int j = 0; j < dim; j++)
			X[(size_t) i * dim + j] = (float) (offset + j + scale * (1 + j % 3) * hp_rng_normal(r));
	return X;
}

/* Statistics of one state fed with both sides, against the reference. */
static void
TestAgainstReference(int dim, int n1, int n2, double offset)
{
	HpRng		r;
	float	   *A,
			   *B;
	HpDistState *s = NewState(dim);
	HpDistStats st;
	HpError		err;
	Ref			ra,
				rb;
	double		d2 = 0;

	hp_rng_seed(&r, 1000 + dim + n1);
	A = Rows(&r, n1, dim, offset, 1.0);
	B = Rows(&r, n2, dim, offset + 0.5, 2.0);
	for (int i = 0; i < n1 || i < n2; i++)
	{
		if (i < n1)
			hp_dist_add(s, HP_DIST_CHOSEN, A + (size_t) i * dim);
		if (i < n2)
			hp_dist_add(s, HP_DIST_REJECTED, B + (size_t) i * dim);
	}
	CHECK(hp_dist_finalize(s, &st, &err) == HP_OK);
	Reference(A, n1, dim, &ra);
	Reference(B, n2, dim, &rb);
	for (int j = 0; j < dim; j++)
		d2 += (ra.mean[j] - rb.mean[j]) * (ra.mean[j] - rb.mean[j]);
	CHECK(st.n[0] == n1 && st.n[1] == n2);
	CHECK(Rel(st.trace[0], ra.trace) < 1e-11);
	CHECK(Rel(st.trace[1], rb.trace) < 1e-11);
	CHECK(Rel(st.spectral[0], ra.spectral) < 1e-10);
	CHECK(Rel(st.spectral[1], rb.spectral) < 1e-10);
	/* Offsets cancel in d: absolute error against |mu| ~ offset. */
	CHECK(fabs(st.d - sqrt(d2)) < 1e-12 * (offset + dim) * sqrt((double) dim));
	CHECK(Rel(st.snr, d2 / (ra.trace + rb.trace)) < 1e-9);
	CHECK(st.trace_max == fmax(st.trace[0], st.trace[1]));
	CHECK(st.concentration == fmax(st.spectral[0], st.spectral[1]));
	CHECK(st.full);
	hp_dist_stats_free(&st);
	free(A);
	free(B);
	free(ra.mean);
	free(ra.cov);
	free(rb.mean);
	free(rb.cov);
	free(s);
}

/* Results of a finalised state as a flat vector, for comparisons. */
static void
Flat(const HpDistState *s, double *out)
{
	HpDistStats st;
	HpError		err;

	CHECK(hp_dist_finalize(s, &st, &err) == HP_OK);
	out[0] = st.trace[0];
	out[1] = st.trace[1];
	out[2] = st.spectral[0];
	out[3] = st.spectral[1];
	out[4] = st.d;
	out[5] = st.snr;
	out[6] = (double) st.n[0];
	out[7] = (double) st.n[1];
	hp_dist_stats_free(&st);
}

/* Any split into partial states merges to the single-state statistics. */
static void
TestMerge(int dim)
{
	HpRng		r;
	int			n = 1000;
	float	   *X;
	HpDistState *whole = NewState(dim);
	HpDistState *part[3];
	int			cut[4] = {0, 1, 0, n};
	double		a[8],
				b[8];
	HpError		err;

	hp_rng_seed(&r, 7 + dim);
	X = Rows(&r, n, dim, 100.0, 1.0);
	cut[2] = 1 + (int) hp_rng_below(&r, n - 1);	/* 1 row, then an arbitrary cut */
	for (int p = 0; p < 3; p++)
		part[p] = NewState(dim);
	for (int i = 0; i < n; i++)
	{
		/* Rejected rows are a shifted copy, so both sides see every split. */
		float		y[2048];

		for (int j = 0; j < dim; j++)
			y[j] = X[(size_t) i * dim + j] - 1.0f;
		hp_dist_add(whole, 0, X + (size_t) i * dim);
		hp_dist_add(whole, 1, y);
		for (int p = 0; p < 3; p++)
			if (i >= cut[p] && i < cut[p + 1])
			{
				hp_dist_add(part[p], 0, X + (size_t) i * dim);
				hp_dist_add(part[p], 1, y);
			}
	}
	/* ((p2 + p0) + p1): merge order and buffered rows on both sides. */
	CHECK(hp_dist_merge(part[2], part[0], &err) == HP_OK);
	CHECK(hp_dist_merge(part[2], part[1], &err) == HP_OK);
	CHECK(hp_dist_check(part[2], hp_dist_state_size(dim), &err) == HP_OK);
	Flat(whole, a);
	Flat(part[2], b);
	for (int k = 0; k < 8; k++)
		CHECK(Rel(a[k], b[k]) < 1e-12);
	CHECK(Rel(a[4], 1.0 * sqrt((double) dim)) < 1e-6);	/* the shift by 1 */
	/* Merging into an empty state copies; merging an empty one changes nothing. */
	{
		HpDistState *e = NewState(dim);
		HpDistState *e2 = NewState(dim);

		CHECK(hp_dist_merge(e, whole, &err) == HP_OK);
		CHECK(hp_dist_merge(e, e2, &err) == HP_OK);
		Flat(e, b);
		for (int k = 0; k < 8; k++)
			CHECK(Rel(a[k], b[k]) < 1e-13);
		free(e);
		free(e2);
	}
	{
		HpDistState *o = NewState(dim + 1);

		CHECK(hp_dist_merge(whole, o, &err) == HP_EDIM);
		free(o);
	}
	for (int p = 0; p < 3; p++)
		free(part[p]);
	free(whole);
	free(X);
}

/* Hand-computed 2-d example (the same as the regression test). */
static void
TestTiny(void)
{
	/* chosen (1,0) (3,0) (2,3): mean (2,1), S = diag(1,3); rejected (0,0) (0,2): S = diag(0,2). */
	float		c[3][2] = {{1, 0}, {3, 0}, {2, 3}};
	float		r[2][2] = {{0, 0}, {0, 2}};
	HpDistState *s = NewState(2);
	HpDistStats st;
	HpError		err;
	HpBuf		b;
	char	   *json;

	for (int i = 0; i < 3; i++)
		hp_dist_add(s, 0, c[i]);
	for (int i = 0; i < 2; i++)
		hp_dist_add(s, 1, r[i]);
	CHECK(hp_dist_finalize(s, &st, &err) == HP_OK);
	CHECK_NEAR(st.trace[0], 4.0, 1e-15);
	CHECK_NEAR(st.trace[1], 2.0, 1e-15);
	CHECK_NEAR(st.spectral[0], 3.0, 1e-14);
	CHECK_NEAR(st.spectral[1], 2.0, 1e-14);
	CHECK_NEAR(st.d, 2.0, 1e-15);
	CHECK_NEAR(st.snr, 4.0 / 6.0, 1e-15);
	CHECK_NEAR(st.mean_diff[0], 2.0, 1e-15);
	CHECK_NEAR(st.mean_diff[1], 0.0, 1e-15);
	hp_buf_init(&b);
	hp_dist_stats_json(&st, &b);
	json = hp_buf_finish(&b, NULL);
	CHECK(strstr(json, "\"mean_diff\":[2,0]") != NULL);
	CHECK(strstr(json, "\"covariance\":\"full\"") != NULL);
	{
		HpJsonDoc  *doc;

		CHECK(hp_json_parse(json, strlen(json), &doc, &err) == HP_OK);
		hp_json_free(doc);
	}
	free(json);
	hp_dist_stats_free(&st);
	free(s);
}

/* Empty and single-row sides give undefined (NaN) statistics, not errors. */
static void
TestEdges(void)
{
	float		x[3] = {1, 2, 3};
	HpDistState *s = NewState(3);
	HpDistStats st;
	HpError		err;
	HpBuf		b;
	char	   *json;

	hp_dist_add(s, 0, x);
	hp_dist_add(s, 0, x);
	CHECK(hp_dist_finalize(s, &st, &err) == HP_OK);
	CHECK(st.n[0] == 2 && st.n[1] == 0);
	CHECK(st.trace[0] == 0.0 && st.spectral[0] == 0.0);
	CHECK(isnan(st.trace[1]) && isnan(st.d) && isnan(st.snr) && isnan(st.trace_max));
	CHECK(st.mean_diff == NULL);
	hp_buf_init(&b);
	hp_dist_stats_json(&st, &b);
	json = hp_buf_finish(&b, NULL);
	CHECK(strstr(json, "\"d\":null") && strstr(json, "\"mean_diff\":null") &&
		  strstr(json, "\"trace_rejected\":null") && strstr(json, "\"trace_chosen\":0"));
	free(json);
	hp_dist_stats_free(&st);

	/* One rejected row: d defined, its covariance not; zero spread gives no snr. */
	hp_dist_add(s, 1, x);
	CHECK(hp_dist_finalize(s, &st, &err) == HP_OK);
	CHECK(st.d == 0.0 && isnan(st.trace[1]) && isnan(st.spectral[1]) && isnan(st.snr));
	CHECK(isnan(st.concentration));
	hp_dist_stats_free(&st);
	free(s);
}

/* Above the full-covariance limit: exact traces and d, no spectral norm. */
static void
TestDiagonal(void)
{
	int			dim = HP_DIST_FULL_MAX_DIM + 7,
				n = 130;
	HpRng		r;
	float	   *A;
	HpDistState *s = NewState(dim),
			   *p1 = NewState(dim),
			   *p2 = NewState(dim);
	HpDistStats st,
				st2;
	HpError		err;
	double		tr = 0;

	CHECK(!(s->flags & HP_DIST_FULL) && s->block == 0);
	CHECK(hp_dist_state_size(dim) == sizeof(HpDistState) + 4 * sizeof(double) * dim);
	hp_rng_seed(&r, 99);
	A = Rows(&r, n, dim, 50.0, 1.0);
	for (int i = 0; i < n; i++)
	{
		hp_dist_add(s, 0, A + (size_t) i * dim);
		hp_dist_add(i < 40 ? p1 : p2, 0, A + (size_t) i * dim);
	}
	hp_dist_add(s, 1, A);
	hp_dist_add(p2, 1, A);
	/* Per-coordinate two-pass variances. */
	for (int j = 0; j < dim; j++)
	{
		long double m = 0,
					v = 0;

		for (int i = 0; i < n; i++)
			m += A[(size_t) i * dim + j];
		m /= n;
		for (int i = 0; i < n; i++)
			v += (A[(size_t) i * dim + j] - m) * (A[(size_t) i * dim + j] - m);
		tr += (double) (v / (n - 1));
	}
	CHECK(hp_dist_finalize(s, &st, &err) == HP_OK);
	CHECK(!st.full);
	CHECK(Rel(st.trace[0], tr) < 1e-12);
	CHECK(isnan(st.spectral[0]) && isnan(st.concentration));
	CHECK(st.mean_diff != NULL && isnan(st.trace[1]));
	CHECK(hp_dist_merge(p1, p2, &err) == HP_OK);
	CHECK(hp_dist_finalize(p1, &st2, &err) == HP_OK);
	CHECK(Rel(st.trace[0], st2.trace[0]) < 1e-13);
	CHECK(Rel(st.d, st2.d) < 1e-13);
	hp_dist_stats_free(&st);
	hp_dist_stats_free(&st2);
	free(A);
	free(s);
	free(p1);
	free(p2);
}

/* Corrupted headers are rejected before anything is read. */
static void
TestCheck(void)
{
	int			dim = 4;
	size_t		sz = hp_dist_state_size(dim);
	HpDistState *s = NewState(dim);
	HpError		err;

	CHECK(hp_dist_check(s, sz, &err) == HP_OK);
	CHECK(hp_dist_check(s, sz - 8, &err) == HP_ECORRUPT);
	CHECK(hp_dist_check(s, 10, &err) == HP_ECORRUPT);
	s->magic ^= 1;
	CHECK(hp_dist_check(s, sz, &err) == HP_ECORRUPT);
	s->magic ^= 1;
	s->version = 2;
	CHECK(hp_dist_check(s, sz, &err) == HP_ECORRUPT);
	CHECK(strstr(err.msg, "version 2") != NULL);
	s->version = HP_DIST_VERSION;
	s->side[1].nbuf = HP_DIST_BLOCK;
	CHECK(hp_dist_check(s, sz, &err) == HP_ECORRUPT);
	s->side[1].nbuf = 0;
	s->side[0].n = -1;
	CHECK(hp_dist_check(s, sz, &err) == HP_ECORRUPT);
	s->side[0].n = 0;
	s->flags = 0;
	CHECK(hp_dist_check(s, sz, &err) == HP_ECORRUPT);
	s->flags = HP_DIST_FULL;
	s->dim = 5;
	CHECK(hp_dist_check(s, sz, &err) == HP_ECORRUPT);
	s->dim = dim;
	CHECK(hp_dist_check(s, sz, &err) == HP_OK);
	free(s);
}

/* Gap by its definition, without the Gram shortcut. */
static double
GapByDefinition(const double *di, const double *dj, int dim)
{
	double		b[64],
				bn = 0,
				pi = 0,
				pj = 0,
				ni = 0,
				nj = 0;

	for (int t = 0; t < dim; t++)
	{
		b[t] = (di[t] + dj[t]) / 2;
		bn += b[t] * b[t];
		ni += di[t] * di[t];
		nj += dj[t] * dj[t];
	}
	bn = sqrt(bn);
	for (int t = 0; t < dim; t++)
	{
		pi += b[t] * di[t] / bn;
		pj += b[t] * dj[t] / bn;
	}
	return (pi - pj) / sqrt(fmax(ni, nj));
}

/* Gaps: a hand example, the definition on random vectors, undefined cases. */
static void
TestGaps(void)
{
	/* d1 = (2,0), d2 = (0,1): b = (1, 0.5), p1 = 2/|b|, p2 = 0.5/|b|, |b| = sqrt(5)/2. */
	double		D[3 * 2] = {2, 0, 0, 1, -2, 0};
	double		gap[9];
	HpError		err;
	HpRng		r;
	int			k = 6,
				dim = 9;
	double		R[6 * 9],
				G[36];

	CHECK(hp_dist_gaps(D, 3, 2, gap, &err) == HP_OK);
	CHECK_NEAR(gap[0 * 3 + 1], 3.0 / sqrt(5.0) / 2.0, 1e-15);
	CHECK_NEAR(gap[1 * 3 + 0], -3.0 / sqrt(5.0) / 2.0, 1e-15);
	CHECK(isnan(gap[0]) && isnan(gap[4]));
	CHECK(isnan(gap[0 * 3 + 2]));	/* d1 = -d3: b = 0 */
	CHECK_NEAR(gap[1 * 3 + 2], -gap[2 * 3 + 1], 1e-15);

	hp_rng_seed(&r, 5);
	for (int t = 0; t < k * dim; t++)
		R[t] = hp_rng_normal(&r) * (1 + t / dim);
	CHECK(hp_dist_gaps(R, k, dim, G, &err) == HP_OK);
	for (int i = 0; i < k; i++)
		for (int j = 0; j < k; j++)
			if (i != j)
				CHECK(Rel(G[i * k + j], GapByDefinition(R + i * dim, R + j * dim, dim)) < 1e-12);
	CHECK(hp_dist_gaps(R, 0, dim, G, &err) == HP_EINVAL);

	/* Scale invariance far beyond the Gram matrix's range (1e+-154). */
	{
		double		scales[] = {1e200, 1e-200, 1e300, 1e-300, 1e-320};

		for (int t = 0; t < 5; t++)
		{
			double		Ds[6];

			for (int u = 0; u < 6; u++)
				Ds[u] = D[u] * scales[t];
			CHECK(hp_dist_gaps(Ds, 3, 2, gap, &err) == HP_OK);
			CHECK_NEAR(gap[0 * 3 + 1], 3.0 / sqrt(5.0) / 2.0, 1e-14);
			CHECK(isnan(gap[0 * 3 + 2]));
		}
	}
}

/* The power step matches S v, merges exactly and rejects mixed vectors. */
static void
TestCovStep(void)
{
	int			dim = 6,
				n = 301;
	HpRng		r;
	float	   *X;
	double		v[6],
				v2[6],
				sv[6],
				sv2[6];
	size_t		sz = hp_covstep_size(dim);
	HpCovStep  *s = calloc(1, sz),
			   *a = calloc(1, sz),
			   *b = calloc(1, sz);
	Ref			ref;
	HpError		err;

	hp_rng_seed(&r, 17);
	X = Rows(&r, n, dim, 1000.0, 1.0);
	for (int j = 0; j < dim; j++)
		v[j] = v2[j] = hp_rng_normal(&r);
	v2[0] += 1;
	hp_covstep_init(s, dim, v);
	hp_covstep_init(a, dim, v);
	hp_covstep_init(b, dim, v);
	CHECK(hp_covstep_check(s, sz, &err) == HP_OK);
	CHECK(hp_covstep_check(s, sz - 1, &err) == HP_ECORRUPT);
	CHECK(!hp_covstep_result(s, sv));
	for (int i = 0; i < n; i++)
	{
		hp_covstep_add(s, X + i * dim);
		hp_covstep_add(i < 100 ? a : b, X + i * dim);
	}
	Reference(X, n, dim, &ref);
	CHECK(hp_covstep_result(s, sv));
	for (int p = 0; p < dim; p++)
	{
		double		want = 0;

		for (int q = 0; q < dim; q++)
			want += ref.cov[p * dim + q] * v[q];
		CHECK(fabs(sv[p] - want) < 1e-10 * (1 + fabs(want)));
	}
	CHECK(hp_covstep_merge(a, b, &err) == HP_OK);
	CHECK(hp_covstep_result(a, sv2));
	for (int p = 0; p < dim; p++)
		CHECK(fabs(sv[p] - sv2[p]) < 1e-11 * (1 + fabs(sv[p])));
	CHECK(hp_covstep_same_v(s, v) && !hp_covstep_same_v(s, v2));
	hp_covstep_init(b, dim, v2);
	CHECK(hp_covstep_merge(a, b, &err) == HP_EINVAL);
	free(ref.mean);
	free(ref.cov);
	free(X);
	free(s);
	free(a);
	free(b);
}

/* Entry point. */
void
run_dist_tests(void)
{
	TestTiny();
	TestEdges();
	TestAgainstReference(5, 3, 2, 0.0);
	TestAgainstReference(7, 64, 65, 0.0);	/* exactly one block, then one buffered */
	TestAgainstReference(37, 1000, 777, 1000.0);	/* large offset: stability */
	TestAgainstReference(130, 500, 300, 10.0);
	TestMerge(3);
	TestMerge(70);
	TestDiagonal();
	TestCheck();
	TestGaps();
	TestCovStep();
}
