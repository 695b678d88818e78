/*
 * ppm.c: the performance prediction model: options, the ridge fit with
 * k-fold cross-validation, and prediction / per-instance gains.
 *
 * The design matrix has the normalised counts v_j and, for degree 2, every
 * product v_j v_k (j <= k).  Columns are standardised (constant ones are
 * dropped) so that one lambda means the same thing for every feature; the
 * ridge problem is solved in the primal (p x p normal equations) when there
 * are no more columns than rows and in the dual (n x n kernel) otherwise;
 * and the coefficients are mapped back to the raw scale so that prediction
 * is the direct formula f(v) = intercept + beta.v + v^T Q v.
 */
#include "hp_ppm.h"
#include "hp_blas.h"
#include "hp_json.h"
#include "hp_rng.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LAPACK_COL_MAJOR_ 102
#define VALID_PPM_OPTIONS "vocab, degree, lambda, normalize, n, folds, solver"
#define BLOCK_COLS 256

/* ------------------------------------------------------------------ options */

/* Integral number option within [lo, hi] (8.0 is accepted as 8). */
static HpStatus
PpmInt(const HpJson *v, const char *key, int64_t lo, int64_t hi, int64_t *out, HpError *err)
{
	double		d;

	if (v->type != HP_JSON_NUMBER || !hp_json_double(v, &d) || d != floor(d) ||
		d < (double) lo || d > (double) hi)
		return hp_error(err, HP_EINVAL, "option \"%s\" must be an integer between %" PRId64 " and %" PRId64,
						key, lo, hi);
	*out = (int64_t) d;
	return HP_OK;
}

/* strcmp on an array of char pointers, for qsort. */
static int
CmpStrPtr(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* "vocab": an array of distinct non-empty strings. */
static HpStatus
PpmVocab(const HpJson *v, HpPpmOptions *o, HpError *err)
{
	char	  **tmp;
	HpStatus	rc = HP_OK;

	if (v->type != HP_JSON_ARRAY || v->len < 1)
		return hp_error(err, HP_EINVAL, "option \"vocab\" must be a non-empty array of feature names");
	if (v->len > HP_MAX_DIM)
		return hp_error(err, HP_ELIMIT, "option \"vocab\" has %u names, more than the maximum of %d",
						v->len, HP_MAX_DIM);
	o->vocab = hp_alloc0(sizeof(char *) * v->len);
	o->nvocab = (int) v->len;
	for (uint32_t i = 0; i < v->len; i++)
	{
		const HpJson *s = &v->u.items[i];

		if (s->type != HP_JSON_STRING || s->len == 0)
			return hp_error(err, HP_EINVAL,
							"option \"vocab\" must hold non-empty strings; element %u is not one", i + 1);
		o->vocab[i] = hp_alloc(s->len + 1);
		memcpy(o->vocab[i], s->u.str, s->len + 1);
	}
	/* A duplicate name would make its count ambiguous. */
	tmp = hp_alloc(sizeof(char *) * v->len);
	memcpy(tmp, o->vocab, sizeof(char *) * v->len);
	qsort(tmp, v->len, sizeof(char *), CmpStrPtr);
	for (uint32_t i = 1; i < v->len; i++)
		if (strcmp(tmp[i - 1], tmp[i]) == 0)
		{
			rc = hp_error(err, HP_EINVAL, "option \"vocab\" names feature \"%.64s\" twice", tmp[i]);
			break;
		}
	hp_free(tmp);
	return rc;
}

/* See hp_ppm.h. */
void
hp_ppm_options_free(HpPpmOptions *o)
{
	if (o->vocab)
	{
		for (int i = 0; i < o->nvocab; i++)
			hp_free(o->vocab[i]);
		hp_free(o->vocab);
	}
	o->vocab = NULL;
	o->nvocab = 0;
}

/* See hp_ppm.h. */
HpStatus
hp_ppm_options_parse(const char *json, size_t len, HpPpmOptions *o, HpError *err)
{
	HpJsonDoc  *doc;
	const HpJson *root;
	HpStatus	rc = HP_OK;
	bool		have_n = false;

	memset(o, 0, sizeof(*o));
	o->degree = 1;
	o->lambda = 1e-3;
	o->normalize = true;
	o->folds = 5;
	if (hp_json_parse(json, len, &doc, err) != HP_OK)
		return HP_EINVAL;
	root = hp_json_root(doc);
	if (root->type != HP_JSON_OBJECT)
	{
		hp_json_free(doc);
		return hp_error(err, HP_EINVAL, "options must be a JSON object");
	}
	for (uint32_t i = 0; i < root->len && rc == HP_OK; i++)
	{
		const char *key = hp_json_key(root, i)->u.str;
		const HpJson *v = hp_json_value(root, i);
		int64_t		iv;

		if (strcmp(key, "vocab") == 0)
			rc = PpmVocab(v, o, err);
		else if (strcmp(key, "degree") == 0)
		{
			if ((rc = PpmInt(v, key, 1, 2, &iv, err)) == HP_OK)
				o->degree = (int) iv;
		}
		else if (strcmp(key, "folds") == 0)
		{
			if ((rc = PpmInt(v, key, 2, HP_PPM_MAX_FOLDS, &iv, err)) == HP_OK)
				o->folds = (int) iv;
		}
		else if (strcmp(key, "lambda") == 0)
		{
			if (v->type == HP_JSON_STRING && strcmp(v->u.str, "auto") == 0)
				o->lambda_auto = true;
			else if (v->type != HP_JSON_NUMBER || !hp_json_double(v, &o->lambda) || !(o->lambda > 0))
				rc = hp_error(err, HP_EINVAL,
							  "option \"lambda\" must be a finite number greater than 0 or \"auto\"");
		}
		else if (strcmp(key, "n") == 0)
		{
			if (v->type != HP_JSON_NUMBER || !hp_json_double(v, &o->n) || !(o->n > 0))
				rc = hp_error(err, HP_EINVAL, "option \"n\" must be a finite number greater than 0");
			have_n = true;
		}
		else if (strcmp(key, "solver") == 0)
		{
			if (v->type == HP_JSON_STRING && strcmp(v->u.str, "auto") == 0)
				o->solver = 0;
			else if (v->type == HP_JSON_STRING && strcmp(v->u.str, "primal") == 0)
				o->solver = 1;
			else if (v->type == HP_JSON_STRING && strcmp(v->u.str, "dual") == 0)
				o->solver = 2;
			else
				rc = hp_error(err, HP_EINVAL, "option \"solver\" must be \"auto\", \"primal\" or \"dual\"");
		}
		else if (strcmp(key, "normalize") == 0)
		{
			if (v->type != HP_JSON_TRUE && v->type != HP_JSON_FALSE)
				rc = hp_error(err, HP_EINVAL, "option \"normalize\" must be true or false");
			o->normalize = (v->type == HP_JSON_TRUE);
		}
		else
		{
			rc = hp_error(err, HP_EINVAL, "unknown option \"%.64s\"", key);
			hp_error_detail(err, "Valid options are: " VALID_PPM_OPTIONS ".");
		}
	}
	hp_json_free(doc);
	if (rc == HP_OK && o->nvocab == 0)
	{
		rc = hp_error(err, HP_EINVAL, "option \"vocab\" is required");
		hp_error_detail(err, "It lists the feature names the counts are aligned with, e.g. hp.feature_vocab(...).");
	}
	if (rc == HP_OK && o->normalize && !have_n)
	{
		rc = hp_error(err, HP_EINVAL, "option \"n\" is required when \"normalize\" is true");
		hp_error_detail(err, "n is the number of instances the counts were taken over; "
						"set \"normalize\": false to fit on raw counts.");
	}
	if (rc == HP_OK && o->degree == 2 && o->nvocab > HP_PPM_MAX_QUAD_VOCAB)
		rc = hp_error(err, HP_ELIMIT, "a quadratic PPM supports at most %d features, got %d",
					  HP_PPM_MAX_QUAD_VOCAB, o->nvocab);
	if (!o->normalize)
		o->n = 1.0;
	if (rc != HP_OK)
		hp_ppm_options_free(o);
	return rc;
}

/* ---------------------------------------------------------------------- fit */

/* One training row and its content key, for the canonical order. */
typedef struct KeyedRow
{
	uint64_t	key;
	const double *row;
	size_t		bytes;
} KeyedRow;

/* Order rows by content key, then bytes: a total order on distinct rows. */
static int
CmpKeyedRow(const void *a, const void *b)
{
	const KeyedRow *x = a,
			   *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return memcmp(x->row, y->row, x->bytes);
}

/* Working state of one fit. */
typedef struct Fit
{
	int64_t		n;				/* rows */
	int			K;				/* features */
	int			degree;
	int			p;				/* kept design columns */
	int32_t    *cj;				/* column c: feature j ... */
	int32_t    *ck;				/* ... and k for a product, -1 for linear */
	double	   *mu;				/* column means */
	double	   *sd;				/* column standard deviations */
	double	   *V;				/* n x K normalised counts, fold-major order */
	double	   *y;				/* n targets */
	int			folds;
	int64_t    *fstart;			/* folds + 1 row offsets */
	double		lambda;
} Fit;

/* Raw value of design column (j, k) at row i. */
static inline double
ColValue(const Fit *f, int64_t i, int32_t j, int32_t k)
{
	const double *v = f->V + (size_t) i * f->K;

	return k < 0 ? v[j] : v[j] * v[k];
}

/* Standardised columns [c0, c0 + bw) of every row into Zb (n x bw). */
static void
FillBlock(const Fit *f, int c0, int bw, double *Zb)
{
	for (int64_t i = 0; i < f->n; i++)
	{
		double	   *z = Zb + (size_t) i * bw;

		for (int t = 0; t < bw; t++)
		{
			int			c = c0 + t;

			z[t] = (ColValue(f, i, f->cj[c], f->ck[c]) - f->mu[c]) / f->sd[c];
		}
		if ((i & 1023) == 0)
			hp_check_interrupts();
	}
}

/*
 * Choose the design columns: the K counts and, for degree 2, every
 * product, minus those that do not vary (their coefficient is 0).
 * Returns the number of candidate columns.
 */
static int64_t
ChooseColumns(Fit *f)
{
	int			K = f->K;
	int64_t		total = K + (f->degree == 2 ? (int64_t) K * (K + 1) / 2 : 0);
	int			p = 0;

	f->cj = hp_alloc(sizeof(int32_t) * total);
	f->ck = hp_alloc(sizeof(int32_t) * total);
	f->mu = hp_alloc(sizeof(double) * total);
	f->sd = hp_alloc(sizeof(double) * total);
	for (int64_t c = 0; c < total; c++)
	{
		int32_t		j,
					k;
		double		sum = 0,
					ss = 0,
					sq = 0,
					mean;

		if (c < K)
		{
			j = (int32_t) c;
			k = -1;
		}
		else
		{
			/* products in the order (0,0), (0,1), ..., (0,K-1), (1,1), ... */
			int64_t		r = c - K;

			j = 0;
			while (r >= K - j)
			{
				r -= K - j;
				j++;
			}
			k = (int32_t) (j + r);
		}
		for (int64_t i = 0; i < f->n; i++)
		{
			double		x = ColValue(f, i, j, k);

			sum += x;
			sq += x * x;
		}
		mean = sum / f->n;
		for (int64_t i = 0; i < f->n; i++)
		{
			double		d = ColValue(f, i, j, k) - mean;

			ss += d * d;
		}
		/* Constant up to rounding: no information, and 1/sd would explode. */
		if (sq > 0 && sqrt(ss / f->n) > 1e-9 * sqrt(sq / f->n))
		{
			f->cj[p] = j;
			f->ck[p] = k;
			f->mu[p] = mean;
			f->sd[p] = sqrt(ss / f->n);
			p++;
		}
		if ((c & 255) == 0)
			hp_check_interrupts();
	}
	f->p = p;
	return total;
}

/* Solve the SPD system a x = b (a is dim x dim, overwritten); b becomes x. */
static HpStatus
SolveSpd(double *a, int dim, double *b, HpError *err)
{
	int			info = hp_blas.dposv(LAPACK_COL_MAJOR_, 'L', dim, 1, a, dim, b, dim);

	if (info != 0)
		return hp_error(err, HP_EINTERNAL,
						"the ridge system of the PPM fit is not positive definite (dposv info %d)", info);
	return HP_OK;
}

/* Copy the upper triangle of a symmetric row-major matrix to the lower. */
static void
Symmetrise(double *a, int64_t dim)
{
	for (int64_t i = 0; i < dim; i++)
		for (int64_t j = 0; j < i; j++)
			a[i * dim + j] = a[j * dim + i];
}

/*
 * The ridge solver.  Everything that does not depend on lambda (the Gram
 * matrix or kernel and the moments) is computed once, so that "lambda":
 * "auto" can cross-validate a grid of values for the price of the solves.
 *
 * Primal (p <= n): G = Z^T Z (p x p).  For each fold, the training-set
 * normal equations are G minus the fold's own Gram matrix, centred on the
 * training rows' means (exactly, not with the global centring).
 *
 * Dual (p > n): the kernel Kz = Z Z^T (n x n) is accumulated from column
 * blocks, so Z is never held whole.  Each fold solves the kernel system of
 * its training rows, centred on their own feature means (kernel centring);
 * the fit on every row gives alpha, then w = Z^T alpha.
 *
 * Either way the objective is (1/m) sum (y - y0 - z.w)^2 + lambda |w|^2
 * over the m training rows of standardised columns z.
 */
typedef struct Solver
{
	const Fit  *f;
	bool		dual;
	double		ysum;
	double	   *Z;				/* primal: n x p standardised design */
	double	   *G;				/* primal: p x p Gram; dual: n x n kernel */
	double	   *A;				/* system matrix scratch */
	double	   *zty;			/* primal: Z^T y */
	double	   *zsum;			/* primal: column sums of Z */
	double	   *mu;				/* primal: p; dual: n (row means a_i) */
	double	   *rhs;			/* p or n */
	double	   *ones;			/* n */
	double	   *t;				/* dual: n */
	double	   *afull;			/* dual: n */
	int64_t    *tr;				/* dual: training row numbers */
} Solver;

/* The lambda-independent part of the fit. */
static void
SolverPrepare(Solver *s, const Fit *f, bool dual)
{
	int64_t		n = f->n;
	int			p = f->p;
	size_t		dim = dual ? (size_t) n : (size_t) p;

	memset(s, 0, sizeof(*s));
	s->f = f;
	s->dual = dual;
	s->ones = hp_alloc(sizeof(double) * n);
	for (int64_t i = 0; i < n; i++)
	{
		s->ones[i] = 1.0;
		s->ysum += f->y[i];
	}
	s->G = hp_alloc0(sizeof(double) * dim * dim);
	s->A = hp_alloc(sizeof(double) * dim * dim);
	s->rhs = hp_alloc(sizeof(double) * dim);
	s->mu = hp_alloc(sizeof(double) * dim);
	if (!dual)
	{
		s->Z = hp_alloc(sizeof(double) * n * p);
		s->zty = hp_alloc(sizeof(double) * p);
		s->zsum = hp_alloc(sizeof(double) * p);
		FillBlock(f, 0, p, s->Z);
		hp_blas.dsyrk(CblasRowMajor, CblasUpper, CblasTrans, p, (int) n, 1.0, s->Z, p, 0.0, s->G, p);
		Symmetrise(s->G, p);
		hp_blas.dgemv(CblasRowMajor, CblasTrans, (int) n, p, 1.0, s->Z, p, f->y, 1, 0.0, s->zty, 1);
		hp_blas.dgemv(CblasRowMajor, CblasTrans, (int) n, p, 1.0, s->Z, p, s->ones, 1, 0.0, s->zsum, 1);
	}
	else
	{
		int			bw = p < BLOCK_COLS ? p : BLOCK_COLS;
		double	   *Zb = hp_alloc(sizeof(double) * n * bw);

		for (int c0 = 0; c0 < p; c0 += bw)
		{
			int			w = p - c0 < bw ? p - c0 : bw;

			FillBlock(f, c0, w, Zb);
			hp_blas.dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int) n, w, 1.0, Zb, w, 1.0, s->G, (int) n);
		}
		hp_free(Zb);
		Symmetrise(s->G, n);
		s->t = hp_alloc(sizeof(double) * n);
		s->afull = hp_alloc(sizeof(double) * n);
		s->tr = hp_alloc(sizeof(int64_t) * n);
	}
}

/* Release the solver's matrices. */
static void
SolverFree(Solver *s)
{
	hp_free(s->Z);
	hp_free(s->G);
	hp_free(s->A);
	hp_free(s->zty);
	hp_free(s->zsum);
	hp_free(s->mu);
	hp_free(s->rhs);
	hp_free(s->ones);
	hp_free(s->t);
	hp_free(s->afull);
	hp_free(s->tr);
}

/* Held-out predictions of every fold with this lambda, into cvpred. */
static HpStatus
SolverCv(Solver *s, double lambda, double *cvpred, HpError *err)
{
	const Fit  *f = s->f;
	int64_t		n = f->n;
	int			p = f->p;
	HpStatus	rc = HP_OK;

	for (int fold = 0; fold < f->folds && rc == HP_OK; fold++)
	{
		int64_t		a = f->fstart[fold],
					nf = f->fstart[fold + 1] - a,
					m = n - nf;
		double		yf = 0,
					ymean;

		hp_check_interrupts();
		for (int64_t i = a; i < a + nf; i++)
			yf += f->y[i];
		ymean = (s->ysum - yf) / m;
		if (!s->dual)
		{
			const double *Zf = s->Z + (size_t) a * p;
			double		shift;

			/* training Gram matrix and moments: totals minus the fold's */
			memcpy(s->A, s->G, sizeof(double) * p * p);
			hp_blas.dsyrk(CblasRowMajor, CblasUpper, CblasTrans, p, (int) nf, -1.0, Zf, p, 1.0, s->A, p);
			hp_blas.dgemv(CblasRowMajor, CblasTrans, (int) nf, p, 1.0, Zf, p, s->ones, 1, 0.0, s->mu, 1);
			hp_blas.dgemv(CblasRowMajor, CblasTrans, (int) nf, p, 1.0, Zf, p, f->y + a, 1, 0.0, s->rhs, 1);
			for (int c = 0; c < p; c++)
			{
				s->mu[c] = (s->zsum[c] - s->mu[c]) / m;
				s->rhs[c] = (s->zty[c] - s->rhs[c]) - m * s->mu[c] * ymean;
			}
			/* centre on the training means: A -= m mu mu^T */
			hp_blas.dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, p, 1, -(double) m, s->mu, 1, 1.0, s->A, p);
			for (int c = 0; c < p; c++)
				s->A[(size_t) c * p + c] += m * lambda;
			/* row-major upper is column-major lower */
			if ((rc = SolveSpd(s->A, p, s->rhs, err)) != HP_OK)
				break;
			hp_blas.dgemv(CblasRowMajor, CblasNoTrans, (int) nf, p, 1.0, Zf, p, s->rhs, 1, 0.0, cvpred + a, 1);
			shift = ymean - hp_blas.ddot(p, s->mu, 1, s->rhs, 1);
			for (int64_t i = 0; i < nf; i++)
				cvpred[a + i] += shift;
		}
		else
		{
			const double *K = s->G;
			double	   *am = s->mu;
			double		c,
						asum = 0,
						alsum = 0;
			int64_t		mm = 0;

			for (int64_t i = 0; i < n; i++)
			{
				bool		in_fold = (i >= a && i < a + nf);

				s->t[i] = in_fold ? 0.0 : 1.0 / (double) m;
				if (!in_fold)
					s->tr[mm++] = i;
			}
			/* am_i = mean kernel value of row i over the training rows */
			hp_blas.dgemv(CblasRowMajor, CblasNoTrans, (int) n, (int) n, 1.0, K, (int) n, s->t, 1, 0.0, am, 1);
			c = hp_blas.ddot((int) n, s->t, 1, am, 1);
			for (int64_t r = 0; r < m; r++)
			{
				const double *krow = K + (size_t) s->tr[r] * n;
				double	   *arow = s->A + (size_t) r * m;
				double		ar = am[s->tr[r]];

				for (int64_t q = 0; q < m; q++)
					arow[q] = krow[s->tr[q]] - ar - am[s->tr[q]] + c;
				arow[r] += m * lambda;
				s->rhs[r] = f->y[s->tr[r]] - ymean;
			}
			if ((rc = SolveSpd(s->A, (int) m, s->rhs, err)) != HP_OK)
				break;
			memset(s->afull, 0, sizeof(double) * n);
			for (int64_t r = 0; r < m; r++)
			{
				s->afull[s->tr[r]] = s->rhs[r];
				asum += s->rhs[r];
				alsum += am[s->tr[r]] * s->rhs[r];
			}
			hp_blas.dgemv(CblasRowMajor, CblasNoTrans, (int) nf, (int) n, 1.0, K + (size_t) a * n, (int) n,
						  s->afull, 1, 0.0, cvpred + a, 1);
			for (int64_t i = a; i < a + nf; i++)
				cvpred[i] += ymean + (c - am[i]) * asum - alsum;
		}
	}
	return rc;
}

/* The fit on every row with this lambda: w (p) and the fitted values. */
static HpStatus
SolverFull(Solver *s, double lambda, double *w, double *fitted, HpError *err)
{
	const Fit  *f = s->f;
	int64_t		n = f->n;
	int			p = f->p;
	double		ymean = s->ysum / n;
	HpStatus	rc;

	if (!s->dual)
	{
		/* the columns are centred globally, so no correction */
		memcpy(s->A, s->G, sizeof(double) * p * p);
		for (int c = 0; c < p; c++)
		{
			s->A[(size_t) c * p + c] += n * lambda;
			w[c] = s->zty[c] - s->zsum[c] * ymean;
		}
		if ((rc = SolveSpd(s->A, p, w, err)) != HP_OK)
			return rc;
		hp_blas.dgemv(CblasRowMajor, CblasNoTrans, (int) n, p, 1.0, s->Z, p, w, 1, 0.0, fitted, 1);
	}
	else
	{
		int			bw = p < BLOCK_COLS ? p : BLOCK_COLS;
		double	   *alpha = s->rhs;
		double	   *Zb;

		memcpy(s->A, s->G, sizeof(double) * n * n);
		for (int64_t i = 0; i < n; i++)
		{
			s->A[(size_t) i * n + i] += n * lambda;
			alpha[i] = f->y[i] - ymean;
		}
		if ((rc = SolveSpd(s->A, (int) n, alpha, err)) != HP_OK)
			return rc;
		hp_blas.dgemv(CblasRowMajor, CblasNoTrans, (int) n, (int) n, 1.0, s->G, (int) n, alpha, 1, 0.0,
					  fitted, 1);
		Zb = hp_alloc(sizeof(double) * n * bw);
		for (int c0 = 0; c0 < p; c0 += bw)
		{
			int			wd = p - c0 < bw ? p - c0 : bw;

			FillBlock(f, c0, wd, Zb);
			hp_blas.dgemv(CblasRowMajor, CblasTrans, (int) n, wd, 1.0, Zb, wd, alpha, 1, 0.0, w + c0, 1);
		}
		hp_free(Zb);
	}
	for (int64_t i = 0; i < n; i++)
		fitted[i] += ymean;
	return HP_OK;
}

/* Pearson correlation; NaN when either side is constant. */
static double
Pearson(const double *x, const double *y, int64_t n)
{
	double		mx = 0,
				my = 0,
				sxx = 0,
				syy = 0,
				sxy = 0;

	for (int64_t i = 0; i < n; i++)
	{
		mx += x[i];
		my += y[i];
	}
	mx /= n;
	my /= n;
	for (int64_t i = 0; i < n; i++)
	{
		sxx += (x[i] - mx) * (x[i] - mx);
		syy += (y[i] - my) * (y[i] - my);
		sxy += (x[i] - mx) * (y[i] - my);
	}
	if (!(sxx > 0) || !(syy > 0))
		return NAN;
	return sxy / sqrt(sxx * syy);
}

/* Root mean squared difference. */
static double
Rmse(const double *x, const double *y, int64_t n)
{
	double		s = 0;

	for (int64_t i = 0; i < n; i++)
		s += (x[i] - y[i]) * (x[i] - y[i]);
	return sqrt(s / n);
}

/* Start a member of the options object (opened with '{'). */
static void
PutKey(HpBuf *b, const char *key)
{
	if (b->len > 1)
		hp_buf_putc(b, ',');
	hp_json_write_string(b, key);
	hp_buf_putc(b, ':');
}

/* See hp_ppm.h. */
HpStatus
hp_ppm_fit(const HpPpmOptions *o, const double *rows, int64_t nrows, size_t max_bytes,
		   HpModel *out, HpError *err)
{
	Fit			f;
	int			K = o->nvocab;
	size_t		W = (size_t) K + 1;
	KeyedRow   *kr;
	double		ymin,
				ymax,
				ymean = 0,
				ysd = 0,
				need;
	double	   *w = NULL,
			   *cvpred = NULL,
			   *fitted = NULL;
	bool		dual;
	int64_t		total_cols;
	HpStatus	rc;

	memset(out, 0, sizeof(*out));
	memset(&f, 0, sizeof(f));
	if (nrows < 2)
		return hp_error(err, HP_EDATA, "a PPM needs at least 2 training rows, got %" PRId64, nrows);
	if (K < 1 || !(o->n > 0))
		return hp_error(err, HP_EINVAL, "PPM options lack a vocabulary or a dataset size");
	if (!hp_all_finite_d(rows, (size_t) nrows * W))
		return hp_error(err, HP_EDATA, "PPM training rows contain NaN or infinite values");

	/* Canonical order: the fit must not depend on the row order or the plan. */
	kr = hp_alloc(sizeof(KeyedRow) * nrows);
	for (int64_t i = 0; i < nrows; i++)
	{
		kr[i].row = rows + (size_t) i * W;
		kr[i].bytes = W * sizeof(double);
		kr[i].key = hp_fnv1a64(kr[i].row, kr[i].bytes, HP_FNV_OFFSET);
	}
	qsort(kr, nrows, sizeof(KeyedRow), CmpKeyedRow);

	ymin = ymax = kr[0].row[K];
	for (int64_t i = 0; i < nrows; i++)
	{
		double		y = kr[i].row[K];

		ymin = y < ymin ? y : ymin;
		ymax = y > ymax ? y : ymax;
		ymean += y;
	}
	if (ymin == ymax)
	{
		hp_free(kr);
		hp_error(err, HP_EDATA, "every training score equals %g: a PPM needs scores that vary", ymin);
		hp_error_detail(err, "The scores are the targets of the regression; "
						"train reward models on routings with different human shares.");
		return HP_EDATA;
	}
	ymean /= nrows;
	for (int64_t i = 0; i < nrows; i++)
		ysd += (kr[i].row[K] - ymean) * (kr[i].row[K] - ymean);
	ysd = sqrt(ysd / nrows);

	/*
	 * Folds: rank r in the canonical (hash) order goes to fold r % folds,
	 * which is a balanced random split that only depends on the rows.  With
	 * fewer rows than folds, every row is its own fold (leave-one-out).
	 */
	f.n = nrows;
	f.K = K;
	f.degree = o->degree;
	f.lambda = o->lambda;
	f.folds = (int) (nrows < o->folds ? nrows : o->folds);
	f.fstart = hp_alloc(sizeof(int64_t) * (f.folds + 1));
	f.fstart[0] = 0;
	for (int q = 0; q < f.folds; q++)
		f.fstart[q + 1] = f.fstart[q] + nrows / f.folds + (q < nrows % f.folds ? 1 : 0);
	f.V = hp_alloc(sizeof(double) * nrows * K);
	f.y = hp_alloc(sizeof(double) * nrows);
	for (int64_t r = 0; r < nrows; r++)
	{
		int64_t		pos = f.fstart[r % f.folds] + r / f.folds;

		for (int j = 0; j < K; j++)
			f.V[(size_t) pos * K + j] = kr[r].row[j] / o->n;
		f.y[pos] = kr[r].row[K];
	}
	hp_free(kr);

	total_cols = ChooseColumns(&f);
	if (f.p == 0)
	{
		rc = hp_error(err, HP_EDATA, "no feature count varies across the %" PRId64 " training rows", nrows);
		goto done;
	}
	dual = o->solver == 2 || (o->solver == 0 && f.p > nrows);
	need = dual ? 8.0 * ((double) nrows * nrows * 2 + (double) nrows * BLOCK_COLS)
		: 8.0 * ((double) nrows * f.p + 2.0 * f.p * f.p);
	if (max_bytes > 0 && need > (double) max_bytes)
	{
		rc = hp_error(err, HP_ELIMIT, "fitting this PPM needs %.0f MB, more than the limit of %.0f MB",
					  need / 1048576.0, max_bytes / 1048576.0);
		hp_error_detail(err, "%" PRId64 " rows, %d design columns (%s solver).", nrows, f.p,
						dual ? "dual" : "primal");
		goto done;
	}
	w = hp_alloc0(sizeof(double) * f.p);
	cvpred = hp_alloc0(sizeof(double) * nrows);
	fitted = hp_alloc0(sizeof(double) * nrows);
	{
		Solver		sv;

		SolverPrepare(&sv, &f, dual);
		rc = HP_OK;
		if (o->lambda_auto)
		{
			/* the grid value of least held-out error; unsolvable ones lose */
			static const double grid[] = {1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100};
			double		best = INFINITY;

			f.lambda = grid[sizeof(grid) / sizeof(grid[0]) - 1];
			for (size_t g = 0; g < sizeof(grid) / sizeof(grid[0]); g++)
			{
				double		r;

				if (SolverCv(&sv, grid[g], cvpred, err) != HP_OK)
					continue;
				r = Rmse(cvpred, f.y, nrows);
				if (r < best)
				{
					best = r;
					f.lambda = grid[g];
				}
			}
		}
		rc = SolverCv(&sv, f.lambda, cvpred, err);
		if (rc == HP_OK)
			rc = SolverFull(&sv, f.lambda, w, fitted, err);
		SolverFree(&sv);
		if (rc != HP_OK)
			goto done;
	}

	/* Back to the raw (normalised-count) scale. */
	{
		double	   *beta = hp_alloc0(sizeof(double) * K);
		double	   *quad = f.degree == 2 ? hp_alloc0(sizeof(double) * K * K) : NULL;
		double		intercept = ymean;
		double		cv_rmse = Rmse(cvpred, f.y, nrows);
		double		cv_corr = Pearson(cvpred, f.y, nrows);
		double		train_rmse = Rmse(fitted, f.y, nrows);
		HpBuf		b;
		char	   *canon;

		for (int c = 0; c < f.p; c++)
		{
			double		coef = w[c] / f.sd[c];

			intercept -= coef * f.mu[c];
			if (f.ck[c] < 0)
				beta[f.cj[c]] += coef;
			else if (f.cj[c] == f.ck[c])
				quad[(size_t) f.cj[c] * K + f.cj[c]] += coef;
			else
			{
				quad[(size_t) f.cj[c] * K + f.ck[c]] += coef / 2;
				quad[(size_t) f.ck[c] * K + f.cj[c]] += coef / 2;
			}
		}

		hp_buf_init(&b);
		hp_buf_putc(&b, '{');
		PutKey(&b, "columns");
		hp_json_write_int64(&b, f.p);
		PutKey(&b, "constant_columns");
		hp_json_write_int64(&b, total_cols - f.p);
		PutKey(&b, "cv_corr");
		hp_json_write_double(&b, cv_corr);
		PutKey(&b, "cv_rmse");
		hp_json_write_double(&b, cv_rmse);
		PutKey(&b, "degree");
		hp_json_write_int64(&b, f.degree);
		PutKey(&b, "folds");
		hp_json_write_int64(&b, f.folds);
		PutKey(&b, "lambda");
		hp_json_write_double(&b, f.lambda);
		if (o->lambda_auto)
		{
			PutKey(&b, "lambda_auto");
			hp_buf_puts(&b, "true");
		}
		if (o->normalize)
		{
			PutKey(&b, "n");
			hp_json_write_double(&b, o->n);
		}
		PutKey(&b, "n_train");
		hp_json_write_int64(&b, nrows);
		PutKey(&b, "normalize");
		hp_buf_puts(&b, o->normalize ? "true" : "false");
		PutKey(&b, "solver");
		hp_json_write_string(&b, dual ? "dual" : "primal");
		PutKey(&b, "target_mean");
		hp_json_write_double(&b, ymean);
		PutKey(&b, "target_sd");
		hp_json_write_double(&b, ysd);
		PutKey(&b, "train_rmse");
		hp_json_write_double(&b, train_rmse);
		PutKey(&b, "vocab");
		hp_buf_putc(&b, '[');
		for (int j = 0; j < K; j++)
		{
			if (j)
				hp_buf_putc(&b, ',');
			hp_json_write_string(&b, o->vocab[j]);
		}
		hp_buf_puts(&b, "]}");
		rc = hp_json_canonical(b.data, b.len, &canon, err);
		hp_buf_free(&b);
		if (rc == HP_OK && !(isfinite(train_rmse) && isfinite(f.lambda) && isfinite(ymean) && isfinite(ysd)))
		{
			/* Scores near the double limit: a data problem, not a corrupt model. */
			hp_free(canon);
			rc = hp_error(err, HP_EDATA, "the PPM fit overflowed the double range");
			hp_error_detail(err, "Scores or counts this large cannot be fitted; rescale them.");
		}
		if (rc == HP_OK)
		{
			out->version = HP_MODEL_FORMAT_VERSION;
			out->kind = HP_KIND_PPM;
			out->dim = (uint32_t) K;
			out->heads = 1;
			out->uncertainty = HP_UNC_ENSEMBLE;
			out->lambda = f.lambda;
			out->loss = train_rmse;
			out->rows = nrows;
			out->seed = 0;
			out->options = canon;
			hp_model_add_tensor(out, "intercept", HP_F64, 1, 1, &intercept);
			hp_model_add_tensor(out, "beta", HP_F64, 1, (uint32_t) K, beta);
			if (quad)
				hp_model_add_tensor(out, "quad", HP_F64, (uint32_t) K, (uint32_t) K, quad);
			if (!isfinite(intercept) || !hp_all_finite_d(beta, K) ||
				(quad && !hp_all_finite_d(quad, (size_t) K * K)))
			{
				hp_model_free(out);
				rc = hp_error(err, HP_EDATA, "the PPM fit produced non-finite coefficients");
				hp_error_detail(err, "Scores or counts this large cannot be fitted; rescale them.");
			}
		}
		hp_free(beta);
		hp_free(quad);
	}
done:
	hp_free(w);
	hp_free(cvpred);
	hp_free(fitted);
	hp_free(f.cj);
	hp_free(f.ck);
	hp_free(f.mu);
	hp_free(f.sd);
	hp_free(f.V);
	hp_free(f.y);
	hp_free(f.fstart);
	return rc;
}

/* ----------------------------------------------------------- prediction */

/*
 * Hash of a feature name for the in-memory vocabulary map: eight bytes per
 * step, since routing looks up every feature of every row.  Never stored,
 * so its byte-order dependence does not matter.
 */
static inline uint32_t
NameHash(const char *s, size_t len)
{
	uint64_t	h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t) len * 0xff51afd7ed558ccdULL);
	uint64_t	w;

	if (len >= 8)
	{
		size_t		i = 0;

		for (; i + 8 <= len; i += 8)
		{
			memcpy(&w, s + i, 8);
			h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
			h ^= h >> 29;
		}
		if (i < len)
		{
			/* the last 8 bytes, overlapping: no byte loop */
			memcpy(&w, s + len - 8, 8);
			h = (h ^ w) * 0x94d049bb133111ebULL;
		}
	}
	else if (len >= 4)
	{
		uint32_t	a,
					b;

		memcpy(&a, s, 4);
		memcpy(&b, s + len - 4, 4);
		h = (h ^ (((uint64_t) a << 32) | b)) * 0x94d049bb133111ebULL;
	}
	else if (len > 0)
		h = (h ^ ((uint64_t) (unsigned char) s[0] | (uint64_t) (unsigned char) s[len / 2] << 8 |
				  (uint64_t) (unsigned char) s[len - 1] << 16)) * 0x94d049bb133111ebULL;
	/* avalanche, so the low bits the table uses depend on every byte */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (uint32_t) h;
}

/* Equal bytes, for short names: word compares instead of a memcmp call. */
static inline bool
SameBytes(const char *a, const char *b, size_t len)
{
	uint64_t	x,
				y;

	while (len >= 8)
	{
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return false;
		a += 8;
		b += 8;
		len -= 8;
	}
	while (len-- > 0)
		if (*a++ != *b++)
			return false;
	return true;
}

/* See hp_ppm.h. */
int
hp_ppm_lookup(const HpPpm *p, const char *name, size_t len)
{
	uint32_t	hash = NameHash(name, len);
	uint32_t	h = hash & p->mask;

	for (;;)
	{
		int32_t		j = p->slots[h];

		if (j < 0)
			return -1;
		if (p->vhash[j] == hash && p->vlen[j] == len && SameBytes(p->vocab[j], name, len))
			return j;
		h = (h + 1) & p->mask;
	}
}

/* Find a required f64 tensor of the given shape. */
static const double *
PpmTensor(const HpModel *m, const char *name, uint32_t rows, uint32_t cols, HpError *err)
{
	const HpTensor *t = hp_model_tensor(m, name);

	if (t == NULL || t->dtype != HP_F64 || t->rows != rows || t->cols != cols)
	{
		hp_error(err, HP_ECORRUPT, "PPM model lacks tensor \"%s\" (f64 [%u,%u])", name, rows, cols);
		return NULL;
	}
	return t->data;
}

/* See hp_ppm.h. */
HpStatus
hp_ppm_load(const HpModel *m, HpPpm *p, HpError *err)
{
	HpJsonDoc  *doc;
	const HpJson *root,
			   *v;
	const double *beta,
			   *quad = NULL,
			   *icpt;
	int			K = (int) m->dim;
	HpStatus	rc = HP_OK;
	uint32_t	size = 16;

	memset(p, 0, sizeof(*p));
	if (m->kind != HP_KIND_PPM)
	{
		const char *kn = hp_model_kind_name(m->kind);

		hp_error(err, HP_EINVAL, "model of kind \"%s\" is not a performance prediction model",
				 kn ? kn : "unknown");
		hp_error_detail(err, "Routing needs a model of kind \"ppm\" from hp.train_ppm.");
		return HP_EINVAL;
	}
	/* Decoded models have dim >= 1; a hand-built one must too (BLAS needs lda >= 1). */
	if (K < 1 || m->dim > (uint32_t) HP_MAX_DIM)
		return hp_error(err, HP_ECORRUPT, "PPM model has an invalid dimension %u", m->dim);
	if (m->options == NULL || hp_json_parse(m->options, strlen(m->options), &doc, err) != HP_OK)
		return hp_error(err, HP_ECORRUPT, "PPM model options are missing or invalid");
	root = hp_json_root(doc);
	p->K = K;
	p->degree = 1;
	p->normalize = true;
	if ((v = hp_json_get(root, "degree")) != NULL)
	{
		double		d = 0;

		if (!hp_json_double(v, &d) || (d != 1 && d != 2))
			rc = hp_error(err, HP_ECORRUPT, "PPM model has an invalid degree");
		p->degree = (int) d;
	}
	if ((v = hp_json_get(root, "normalize")) != NULL)
		p->normalize = (v->type == HP_JSON_TRUE);
	v = hp_json_get(root, "vocab");
	if (rc == HP_OK && (v == NULL || v->type != HP_JSON_ARRAY || (int) v->len != K))
		rc = hp_error(err, HP_ECORRUPT, "PPM model vocabulary does not match its dimension %d", K);
	if (rc == HP_OK)
	{
		/* load factor at most 1/4: most lookups probe one slot */
		while (size < 4u * (uint32_t) K)
			size <<= 1;
		p->mask = size - 1;
		p->slots = hp_alloc(sizeof(int32_t) * size);
		memset(p->slots, 0xff, sizeof(int32_t) * size);
		p->vocab = hp_alloc0(sizeof(char *) * K);
		p->vlen = hp_alloc(sizeof(uint32_t) * K);
		p->vhash = hp_alloc(sizeof(uint32_t) * K);
		for (int j = 0; j < K && rc == HP_OK; j++)
		{
			const HpJson *s = &v->u.items[j];
			uint32_t	h;

			if (s->type != HP_JSON_STRING)
			{
				rc = hp_error(err, HP_ECORRUPT, "PPM model vocabulary holds a non-string");
				break;
			}
			p->vocab[j] = hp_alloc(s->len + 1);
			memcpy(p->vocab[j], s->u.str, s->len + 1);
			p->vlen[j] = s->len;
			p->vhash[j] = NameHash(s->u.str, s->len);
			if (hp_ppm_lookup(p, s->u.str, s->len) >= 0)
				rc = hp_error(err, HP_ECORRUPT, "PPM model vocabulary names \"%.64s\" twice", s->u.str);
			h = NameHash(s->u.str, s->len) & p->mask;
			while (p->slots[h] >= 0)
				h = (h + 1) & p->mask;
			p->slots[h] = j;
		}
	}
	hp_json_free(doc);
	if (rc == HP_OK &&
		((icpt = PpmTensor(m, "intercept", 1, 1, err)) == NULL ||
		 (beta = PpmTensor(m, "beta", 1, (uint32_t) K, err)) == NULL ||
		 (p->degree == 2 && (quad = PpmTensor(m, "quad", (uint32_t) K, (uint32_t) K, err)) == NULL)))
		rc = HP_ECORRUPT;
	if (rc != HP_OK)
	{
		hp_ppm_free(p);
		return rc;
	}
	p->intercept = icpt[0];
	p->beta = hp_alloc(sizeof(double) * K);
	memcpy(p->beta, beta, sizeof(double) * K);
	p->work = hp_alloc(sizeof(double) * K);
	if (quad)
	{
		/* Symmetrise: gains use rows of Q as its columns. */
		p->quad = hp_alloc(sizeof(double) * K * K);
		p->qdiag = hp_alloc(sizeof(double) * K);
		for (int j = 0; j < K; j++)
			for (int k = 0; k < K; k++)
				p->quad[(size_t) j * K + k] = 0.5 * (quad[(size_t) j * K + k] + quad[(size_t) k * K + j]);
		for (int j = 0; j < K; j++)
			p->qdiag[j] = p->quad[(size_t) j * K + j];
	}
	return HP_OK;
}

/* See hp_ppm.h. */
void
hp_ppm_free(HpPpm *p)
{
	if (p->vocab)
		for (int j = 0; j < p->K; j++)
			hp_free(p->vocab[j]);
	hp_free(p->vocab);
	hp_free(p->vlen);
	hp_free(p->vhash);
	hp_free(p->slots);
	hp_free(p->beta);
	hp_free(p->quad);
	hp_free(p->qdiag);
	hp_free(p->work);
	memset(p, 0, sizeof(*p));
}

/* See hp_ppm.h. */
double
hp_ppm_predict(const HpPpm *p, const double *v)
{
	double		f = p->intercept + hp_blas.ddot(p->K, p->beta, 1, v, 1);

	if (p->quad)
	{
		hp_blas.dgemv(CblasRowMajor, CblasNoTrans, p->K, p->K, 1.0, p->quad, p->K, v, 1, 0.0, p->work, 1);
		f += hp_blas.ddot(p->K, v, 1, p->work, 1);
	}
	return f;
}

/* See hp_ppm.h. */
double
hp_ppm_gain(const HpPpm *p, const int32_t *idx, int nnz, double scale)
{
	double		g = 0;

	/*
	 * Each term is scaled before it is summed, (scale Q_jk) scale, as f
	 * itself forms them: summing the coefficients first can overflow
	 * where every term of f is finite (large coefficients, small scale),
	 * and scale^2 can overflow where (scale Q_jk) scale does not.
	 */
	for (int a = 0; a < nnz; a++)
		g += scale * p->beta[idx[a]];
	if (p->quad)
		for (int a = 0; a < nnz; a++)
		{
			const double *row = p->quad + (size_t) idx[a] * p->K;

			for (int b = 0; b < nnz; b++)
				g += (scale * row[idx[b]]) * scale;
		}
	return g;
}

/* int32 order, for qsort. */
static int
CmpInt32(const void *a, const void *b)
{
	int32_t		x = *(const int32_t *) a,
				y = *(const int32_t *) b;

	return (x > y) - (x < y);
}

/* See hp_ppm.h. */
int
hp_ppm_sort_unique(int32_t *idx, int nnz)
{
	int			out = 0;

	/* rows carry a handful of features: insertion sort, qsort beyond */
	if (nnz > 32)
		qsort(idx, nnz, sizeof(int32_t), CmpInt32);
	else
		for (int i = 1; i < nnz; i++)
		{
			int32_t		x = idx[i];
			int			j = i;

			while (j > 0 && idx[j - 1] > x)
			{
				idx[j] = idx[j - 1];
				j--;
			}
			idx[j] = x;
		}
	for (int i = 0; i < nnz; i++)
		if (out == 0 || idx[out - 1] != idx[i])
			idx[out++] = idx[i];
	return out;
}
