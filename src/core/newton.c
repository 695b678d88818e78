/*
 * newton.c: the Newton pass state (accumulate, merge) and the per-head
 * Newton driver with backtracking.  See hp_newton.h for the method.
 *
 * Everything that decides which rows weigh what (row keys, bootstrap
 * weights, anchors) is shared with or copied from the in-memory trainer,
 * so that both optimise the identical objective: a model trained here
 * must agree with hp_bt_train's within the convergence tolerance.
 */
#include "hp_newton.h"

#include <math.h>
#include <string.h>

#include "hp_blas.h"
#include "hp_rng.h"
#include "hp_train.h"

#define ARMIJO 1e-4
#define MAX_HALVINGS 30
/* Slack in the decrease test: sums over many rows are only this exact. */
#define LOSS_SLACK 1e-12
#define LAPACK_COL_MAJOR_ 102

/* Buffered rows X[B*d] (after the Hessians). */
static inline double *
BufX(const HpNewtonState *s)
{
	return hp_newton_K(s) + (size_t) s->heads * s->dim * s->dim;
}

/* Labels of the buffered rows. */
static inline double *
BufP(const HpNewtonState *s)
{
	return BufX(s) + (size_t) s->block * s->dim;
}

/* Per-head weights of the buffered rows (B x H). */
static inline double *
BufC(const HpNewtonState *s)
{
	return BufP(s) + s->block;
}

/*
 * Rows per block: about 2 MB of buffered doubles (rank-k updates are more
 * efficient the larger k), at least 64 rows, at most 1024 so small dims do
 * not buffer (and ship) many rows.
 */
int
hp_newton_block(int dim)
{
	int			b = 262144 / (dim > 0 ? dim : 1);

	return b < 64 ? 64 : (b > 1024 ? 1024 : b);
}

/* Doubles after the header for (dim, heads, block). */
static uint64_t
StateDoubles(int dim, int heads, int block)
{
	uint64_t	d = (uint64_t) dim,
				H = (uint64_t) heads,
				B = (uint64_t) block;

	return H * d + 2 * H + 2 * H * d + H * d * d + B * d + B + B * H;
}

/* See hp_newton.h. */
HpStatus
hp_newton_state_size(int dim, int heads, size_t *size, HpError *err)
{
	uint64_t	bytes;

	if (dim < 1 || dim > HP_NEWTON_MAX_DIM)
	{
		hp_error(err, HP_ELIMIT, "the Newton trainer supports dimensions up to %d, got %d",
				 HP_NEWTON_MAX_DIM, dim);
		hp_error_detail(err, "Its state holds one dim x dim Hessian per head (O(heads * dim^2) memory); "
						"train in memory or reduce the dimension.");
		return HP_ELIMIT;
	}
	if (heads < 1 || heads > HP_MAX_HEADS + 1)
		return hp_error(err, HP_EINVAL, "heads must be between 1 and %d", HP_MAX_HEADS);
	bytes = sizeof(HpNewtonState) + sizeof(double) * StateDoubles(dim, heads, hp_newton_block(dim));
	if (bytes > HP_NEWTON_MAX_STATE_BYTES)
	{
		hp_error(err, HP_ELIMIT,
				 "the Newton state for %d solved heads at dimension %d would take %llu MB, more than the limit of %llu MB",
				 heads, dim, (unsigned long long) (bytes >> 20),
				 (unsigned long long) (HP_NEWTON_MAX_STATE_BYTES >> 20));
		hp_error_detail(err, "Each head (the center included) holds a dim x dim Hessian; train fewer heads.");
		return HP_ELIMIT;
	}
	*size = (size_t) bytes;
	return HP_OK;
}

/* See hp_newton.h. */
HpStatus
hp_newton_heads(const HpTrainOptions *opt, int *heads, int *center, HpError *err)
{
	int			H = opt->heads;

	if (opt->arch != HP_KIND_LINEAR)
		return hp_error(err, HP_EINVAL, "the Newton trainer trains linear models only (arch \"linear\")");
	if (opt->lambda_auto)
	{
		/* Cross-validation would need one pass series per fold and lambda. */
		hp_error(err, HP_EINVAL, "the Newton trainer does not support lambda \"auto\"");
		hp_error_detail(err, "Choose lambda with hp.train_reward_model on a sample, then pass it as a number.");
		return HP_EINVAL;
	}
	if (opt->uncertainty == HP_UNC_LAPLACE)
	{
		if (opt->heads_given && opt->heads != 1)
			return hp_error(err, HP_EINVAL,
							"uncertainty \"laplace\" uses a single model, but heads is %d", opt->heads);
		H = 1;
	}
	if (H < 1 || H > HP_MAX_HEADS)
		return hp_error(err, HP_EINVAL, "heads must be between 1 and %d", HP_MAX_HEADS);
	/* As in hp_bt_train: an ensemble also solves the plain MAP fit. */
	*center = H > 1 ? 1 : 0;
	*heads = H + *center;
	return HP_OK;
}

/* See hp_newton.h. */
void
hp_newton_init(HpNewtonState *s, int dim, int heads, int center, int64_t seed, const float *W)
{
	double	   *w;

	s->magic = HP_NEWTON_MAGIC;
	s->version = HP_NEWTON_VERSION;
	s->flags = W ? 0 : HP_NEWTON_WZERO;
	s->dim = dim;
	s->heads = heads;
	s->center = center;
	s->block = hp_newton_block(dim);
	s->nbuf = 0;
	s->reserved = 0;
	s->n = 0;
	s->seed = seed;
	w = hp_newton_W(s);
	for (size_t k = 0; k < (size_t) heads * dim; k++)
		w[k] = W ? (double) W[k] : 0.0;
}

/* See hp_newton.h. */
HpStatus
hp_newton_check(const HpNewtonState *s, size_t len, HpError *err)
{
	size_t		size;

	if (len < sizeof(HpNewtonState) || s->magic != HP_NEWTON_MAGIC)
		return hp_error(err, HP_ECORRUPT, "corrupted hybridpref Newton state");
	if (s->version != HP_NEWTON_VERSION)
	{
		hp_error(err, HP_ECORRUPT, "unsupported hybridpref Newton state version %d", (int) s->version);
		hp_error_detail(err, "This build reads version %d.", HP_NEWTON_VERSION);
		return HP_ECORRUPT;
	}
	if ((s->flags & ~HP_NEWTON_WZERO) != 0 || s->dim < 1 || s->dim > HP_NEWTON_MAX_DIM ||
		s->heads < 1 || s->heads > HP_MAX_HEADS + 1 || (s->center != 0 && s->center != 1) ||
		(s->center == 1 && s->heads < 2) || s->block != hp_newton_block(s->dim) ||
		s->nbuf < 0 || s->nbuf >= s->block || s->n < s->nbuf ||
		hp_newton_state_size(s->dim, s->heads, &size, NULL) != HP_OK || size != len)
		return hp_error(err, HP_ECORRUPT, "corrupted hybridpref Newton state");
	return HP_OK;
}

/* See hp_newton.h. */
bool
hp_newton_same_w(const HpNewtonState *s, const float *W)
{
	const double *w = hp_newton_W(s);

	for (size_t k = 0; k < (size_t) s->heads * s->dim; k++)
		if (w[k] != (double) W[k])
			return false;
	return true;
}

/* See hp_newton.h. */
uint64_t
hp_newton_user_key(int64_t row_key)
{
	return hp_mix64((uint64_t) row_key);
}

/* Bootstrap weights of a row for every head, exactly as hp_bt_train's. */
static void
RowWeights(const HpNewtonState *s, uint64_t key, double *c)
{
	for (int h = 0; h < s->heads; h++)
		c[h] = (s->heads == 1 || h < s->center) ? 1.0
			: (double) hp_boot_weight(key, s->seed, h - s->center);
}

/* Append a row to the buffer, flushing a full block; n is not touched. */
static void
Buffer(HpNewtonState *s, const float *xf, const double *xd, double p, const double *c)
{
	double	   *x = BufX(s) + (size_t) s->nbuf * s->dim;

	if (xf)
		for (int j = 0; j < s->dim; j++)
			x[j] = xf[j];
	else
		memcpy(x, xd, sizeof(double) * s->dim);
	BufP(s)[s->nbuf] = p;
	memcpy(BufC(s) + (size_t) s->nbuf * s->heads, c, sizeof(double) * s->heads);
	if (++s->nbuf == s->block)
		hp_newton_flush(s);
}

/* See hp_newton.h. */
void
hp_newton_add(HpNewtonState *s, const float *x, float p, uint64_t key)
{
	double		c[HP_MAX_HEADS + 1];

	RowWeights(s, key, c);
	s->n++;
	Buffer(s, x, NULL, (double) p, c);
}

/*
 * Fold the k buffered rows: margins Z = X W^T (one dgemm), loss and
 * residuals per (row, head), [G; G0] += R^T X (one dgemm), then per head
 * one dsyrk over the rows scaled by sqrt(c s (1 - s)), skipping rows of
 * zero weight (about 37% of a bootstrap head's rows).
 */
void
hp_newton_flush(HpNewtonState *s)
{
	int			k = s->nbuf,
				d = s->dim,
				H = s->heads;
	const double *X = BufX(s),
			   *P = BufP(s),
			   *C = BufC(s);
	double	   *S = hp_newton_S(s),
			   *L = hp_newton_L(s),
			   *Z,
			   *R,
			   *D,
			   *Y;

	if (k == 0)
		return;
	hp_check_interrupts();
	Z = hp_alloc(sizeof(double) * k * H);
	R = hp_alloc(sizeof(double) * k * 2 * H);
	D = hp_alloc(sizeof(double) * k * H);
	Y = hp_alloc(sizeof(double) * (size_t) k * d);

	hp_blas.dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k, H, d, 1.0, X, d,
				  hp_newton_W(s), d, 0.0, Z, H);
	for (int i = 0; i < k; i++)
	{
		double		p = P[i];

		for (int h = 0; h < H; h++)
		{
			double		c = C[(size_t) i * H + h],
						z = Z[(size_t) i * H + h],
						e,
						sig;

			if (c == 0.0)
			{
				R[(size_t) i * 2 * H + h] = 0.0;
				R[(size_t) i * 2 * H + H + h] = 0.0;
				D[(size_t) i * H + h] = 0.0;
				continue;
			}
			/* One exp serves the loss and the sigmoid, as in hp_bt_train. */
			e = exp(-fabs(z));
			sig = z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
			S[h] += c;
			L[h] += c * (fmax(-z, 0.0) + log1p(e) + (1.0 - p) * z);
			R[(size_t) i * 2 * H + h] = c * (sig - p);
			R[(size_t) i * 2 * H + H + h] = c * (0.5 - p);
			D[(size_t) i * H + h] = c * sig * (1.0 - sig);
		}
	}
	/* G and G0 are adjacent (2H x d), so both take one dgemm. */
	hp_blas.dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, 2 * H, d, k, 1.0, R, 2 * H,
				  X, d, 1.0, hp_newton_G(s), d);
	for (int h = 0; h < H; h++)
	{
		int			m = 0;

		for (int i = 0; i < k; i++)
		{
			double		dh = D[(size_t) i * H + h];

			if (dh > 0.0)
			{
				double		r = sqrt(dh);
				const double *x = X + (size_t) i * d;
				double	   *y = Y + (size_t) m * d;

				for (int j = 0; j < d; j++)
					y[j] = r * x[j];
				m++;
			}
		}
		if (m > 0)
			hp_blas.dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, m, 1.0, Y, d, 1.0,
						  hp_newton_K(s) + (size_t) h * d * d, d);
		hp_check_interrupts();
	}
	s->nbuf = 0;
	hp_free(Z);
	hp_free(R);
	hp_free(D);
	hp_free(Y);
}

/* See hp_newton.h. */
HpStatus
hp_newton_merge(HpNewtonState *dst, const HpNewtonState *src, HpError *err)
{
	size_t		nsum,
				hd;
	const double *sx = BufX(src),
			   *sp = BufP(src),
			   *sc = BufC(src);

	if (dst->dim != src->dim)
		return hp_error(err, HP_EDIM, "Newton step rows have different dimensions: %d and %d",
						dst->dim, src->dim);
	if (dst->heads != src->heads || dst->center != src->center || dst->seed != src->seed)
		return hp_error(err, HP_EINVAL,
						"Newton step states have different options (heads or seed)");
	hd = (size_t) dst->heads * dst->dim;
	if (memcmp(hp_newton_W(dst), hp_newton_W(src), sizeof(double) * hd) != 0)
		return hp_error(err, HP_EINVAL, "Newton step states were evaluated at different weights");
	/* S, L, G, G0 and K are contiguous: one sum. */
	nsum = 2 * (size_t) dst->heads + 2 * hd + hd * dst->dim;
	for (size_t off = 0; off < nsum; off += 1 << 30)
	{
		size_t		len = nsum - off < ((size_t) 1 << 30) ? nsum - off : ((size_t) 1 << 30);

		hp_blas.daxpy((int) len, 1.0, hp_newton_S(src) + off, 1, hp_newton_S(dst) + off, 1);
	}
	dst->n += src->n;
	for (int i = 0; i < src->nbuf; i++)
		Buffer(dst, NULL, sx + (size_t) i * src->dim, sp[i], sc + (size_t) i * src->heads);
	return HP_OK;
}

/* See hp_newton.h. */
HpStatus
hp_newton_start(const HpModel *init, int dim, int heads, int center, float *W, HpError *err)
{
	const HpTensor *w,
			   *c;
	int			samples = heads - center;

	memset(W, 0, sizeof(float) * (size_t) heads * dim);
	if (init == NULL)
		return HP_OK;
	w = hp_model_tensor(init, "w");
	c = hp_model_tensor(init, "center");
	if (init->kind != HP_KIND_LINEAR || w == NULL || w->dtype != HP_F32 || w->rows < 1)
		return hp_error(err, HP_EINVAL, "init model must be a linear reward model");
	if ((int) init->dim != dim || (int) w->cols != dim)
		return hp_error(err, HP_EDIM,
						"init model has dimension %u but the training rows have dimension %d",
						init->dim, dim);
	for (int h = 0; h < heads; h++)
	{
		float	   *dst = W + (size_t) h * dim;

		if (h < center && c != NULL && c->dtype == HP_F32 && (int) c->cols == dim)
			memcpy(dst, c->data, sizeof(float) * dim);
		else if (h >= center && (int) w->rows == samples)
			memcpy(dst, (const float *) w->data + (size_t) (h - center) * dim, sizeof(float) * dim);
		else
		{
			/* Same arithmetic as hp_bt_train's warm start (float axpy). */
			for (uint32_t k = 0; k < w->rows; k++)
				hp_blas.saxpy(dim, 1.0f / w->rows, (const float *) w->data + (size_t) k * dim, 1, dst, 1);
		}
	}
	return HP_OK;
}

/* See hp_newton.h. */
HpStatus
hp_newton_model_w(const HpModel *m, int heads, int center, float *W, HpError *err)
{
	const HpTensor *w = hp_model_tensor(m, "w");
	const HpTensor *c = hp_model_tensor(m, "center");
	int			samples = heads - center;

	if (m->kind != HP_KIND_LINEAR || w == NULL || w->dtype != HP_F32)
	{
		const char *kind = hp_model_kind_name(m->kind);

		return hp_error(err, HP_EINVAL, "w must be a linear reward model, got kind \"%s\"",
						kind ? kind : "unknown");
	}
	if ((int) w->rows != samples)
	{
		hp_error(err, HP_EINVAL, "w has %u heads but the options ask for %d", w->rows, samples);
		hp_error_detail(err, "Pass the same options as the model was trained or started with.");
		return HP_EINVAL;
	}
	if (center && (c == NULL || c->dtype != HP_F32 || c->rows != 1 || c->cols != w->cols))
		return hp_error(err, HP_EINVAL, "w has no \"center\" head, which an ensemble needs");
	if (center)
		memcpy(W, c->data, sizeof(float) * w->cols);
	memcpy(W + (size_t) center * w->cols, w->data, sizeof(float) * w->cols * samples);
	return HP_OK;
}

/* See hp_newton.h. */
void
hp_newton_weights_model(const float *W, int dim, int heads, int center, HpModel *out)
{
	memset(out, 0, sizeof(*out));
	out->version = HP_MODEL_FORMAT_VERSION;
	out->kind = HP_KIND_LINEAR;
	out->dim = (uint32_t) dim;
	out->heads = (uint32_t) (heads - center);
	out->uncertainty = HP_UNC_ENSEMBLE;
	out->options = hp_alloc(3);
	memcpy(out->options, "{}", 3);
	hp_model_add_tensor(out, "w", HP_F32, (uint32_t) (heads - center), (uint32_t) dim,
						W + (size_t) center * dim);
	if (center)
		hp_model_add_tensor(out, "center", HP_F32, 1, (uint32_t) dim, W);
}

/* Round a trial point to the float weights a model can carry. */
static void
RoundToFloat(double *w, int d)
{
	for (int j = 0; j < d; j++)
		w[j] = (double) (float) w[j];
}

/* See hp_newton.h. */
HpStatus
hp_newton_search_init(HpNewtonSearch *s, const HpTrainOptions *opt,
					  const HpNewtonState *first, HpError *err)
{
	int			heads,
				center,
				H,
				d;

	memset(s, 0, sizeof(*s));
	if (hp_newton_heads(opt, &heads, &center, err) != HP_OK)
		return err ? err->code : HP_EINVAL;
	if (first->heads != heads || first->center != center || first->seed != opt->seed)
		return hp_error(err, HP_EINVAL, "the Newton step was computed with other options");
	if (first->n < 1)
		return hp_error(err, HP_EDATA, "no training rows");
	H = s->heads = heads;
	d = s->dim = first->dim;
	s->center = center;
	s->n = first->n;
	s->seed = opt->seed;
	s->lambda = opt->lambda;
	s->tol = opt->tol;
	s->uncertainty = opt->uncertainty;
	s->A = hp_alloc0(sizeof(double) * H * d);
	s->Wacc = hp_alloc(sizeof(double) * H * d);
	s->Wtry = hp_alloc(sizeof(double) * H * d);
	s->P = hp_alloc0(sizeof(double) * H * d);
	s->facc = hp_alloc0(sizeof(double) * H);
	s->lacc = hp_alloc0(sizeof(double) * H);
	s->gnorm = hp_alloc0(sizeof(double) * H);
	s->gref = hp_alloc0(sizeof(double) * H);
	s->alpha = hp_alloc0(sizeof(double) * H);
	s->gp = hp_alloc0(sizeof(double) * H);
	s->diag = hp_alloc0(sizeof(double) * d);
	s->status = hp_alloc0(sizeof(int) * H);
	s->backtracks = hp_alloc0(sizeof(int) * H);

	/*
	 * Anchors exactly as hp_bt_train's InitAnchors draws them (same seed
	 * derivation, same N, rounded to float like its float tensors), so both
	 * trainers regularise each head toward the same point.
	 */
	if (opt->anchored && H > 1 && s->lambda > 0)
	{
		double		scale = 1.0 / sqrt((double) s->n * s->lambda);

		for (int h = center; h < H; h++)
		{
			HpRng		r;

			hp_rng_seed(&r, hp_mix64((uint64_t) opt->seed ^ 0xa5c4017ULL) + (uint64_t) (h - center));
			for (int j = 0; j < d; j++)
				s->A[(size_t) h * d + j] = (double) (float) (scale * hp_rng_normal(&r));
		}
	}
	memcpy(s->Wtry, hp_newton_W(first), sizeof(double) * H * d);
	memcpy(s->Wacc, s->Wtry, sizeof(double) * H * d);
	for (int h = 0; h < H; h++)
		s->status[h] = HP_NEWTON_FIRST;
	s->nactive = H;
	return HP_OK;
}

/*
 * Solve (K/S + lambda I) p = -g for one head by Cholesky.  The row-major
 * upper triangle is the column-major lower one, so dposv reads K as is.
 * A singular system (lambda 0 and directions without data) gets a growing
 * ridge rather than a failure.
 */
static HpStatus
NewtonStep(const HpNewtonSearch *s, const double *K, double S, const double *g,
		   double *p, double *M, HpError *err)
{
	int			d = s->dim;
	double		inv = S > 0 ? 1.0 / S : 0.0,
				ridge = 0.0,
				dmax = 0.0;

	for (int j = 0; j < d; j++)
		dmax = fmax(dmax, K[(size_t) j * d + j] * inv);
	for (int attempt = 0; attempt < 8; attempt++)
	{
		int			info;

		for (int i = 0; i < d; i++)
		{
			const double *krow = K + (size_t) i * d;
			double	   *mrow = M + (size_t) i * d;

			for (int j = i; j < d; j++)
				mrow[j] = krow[j] * inv;
			mrow[i] += s->lambda + ridge;
		}
		for (int j = 0; j < d; j++)
			p[j] = -g[j];
		info = hp_blas.dposv(LAPACK_COL_MAJOR_, 'L', d, 1, M, d, p, d);
		if (info == 0)
			return HP_OK;
		if (info < 0)
			return hp_error(err, HP_EINTERNAL, "Newton system solver failed (dposv info %d)", info);
		ridge = ridge == 0.0 ? 1e-10 * fmax(dmax, 1.0) : ridge * 100.0;
	}
	hp_error(err, HP_EINTERNAL, "the Newton system is not positive definite");
	hp_error_detail(err, "Set lambda > 0.");
	return HP_EINTERNAL;
}

/* Plan head h's trial Wacc + alpha P, rounded; false when it equals Wacc. */
static bool
PlanTrial(HpNewtonSearch *s, int h)
{
	int			d = s->dim;
	double	   *wt = s->Wtry + (size_t) h * d;
	const double *wa = s->Wacc + (size_t) h * d,
			   *p = s->P + (size_t) h * d;
	bool		moved = false;

	for (int j = 0; j < d; j++)
		wt[j] = wa[j] + s->alpha[h] * p[j];
	RoundToFloat(wt, d);
	for (int j = 0; j < d; j++)
		moved |= (wt[j] != wa[j]);
	return moved;
}

/* Mark head h converged at its accepted point. */
static void
Finish(HpNewtonSearch *s, int h)
{
	memcpy(s->Wtry + (size_t) h * s->dim, s->Wacc + (size_t) h * s->dim, sizeof(double) * s->dim);
	s->status[h] = HP_NEWTON_DONE;
}

/* See hp_newton.h. */
HpStatus
hp_newton_search_update(HpNewtonSearch *s, const HpNewtonState *st, HpError *err)
{
	int			d = s->dim,
				H = s->heads;
	double	   *g,
			   *M = NULL;
	HpStatus	rc = HP_OK;

	if (st->dim != d || st->heads != H || st->center != s->center || st->seed != s->seed)
		return hp_error(err, HP_EINVAL, "the Newton step was computed with other options");
	if (st->nbuf != 0)
		return hp_error(err, HP_EINVAL, "the Newton step state has unflushed rows");
	if (st->n != s->n)
	{
		hp_error(err, HP_EDATA, "the training rows changed between passes: %lld rows, then %lld",
				 (long long) s->n, (long long) st->n);
		hp_error_detail(err, "Every pass must read the same rows; train on a table or a stable view.");
		return HP_EDATA;
	}
	if (memcmp(hp_newton_W(st), s->Wtry, sizeof(double) * H * d) != 0)
		return hp_error(err, HP_EINVAL, "the Newton step was evaluated at other weights than the trial point");

	g = hp_alloc(sizeof(double) * d);
	for (int h = 0; h < H && rc == HP_OK; h++)
	{
		const double *w = hp_newton_W(st) + (size_t) h * d,
				   *a = s->A + (size_t) h * d,
				   *K = hp_newton_K(st) + (size_t) h * d * d;
		double		S = hp_newton_S(st)[h],
					inv = S > 0 ? 1.0 / S : 0.0,
					f,
					gn,
					dd = 0.0;

		if (s->status[h] == HP_NEWTON_DONE)
			continue;
		/*
		 * f = L/S + lambda/2 |w - a|^2 and its gradient.  A bootstrap head
		 * that drew no row (probability e^-N) has only the prior and is fit
		 * to its anchor.
		 */
		for (int j = 0; j < d; j++)
		{
			double		disp = w[j] - a[j];

			dd += disp * disp;
			g[j] = hp_newton_G(st)[(size_t) h * d + j] * inv + s->lambda * disp;
		}
		f = hp_newton_L(st)[h] * inv + 0.5 * s->lambda * dd;
		gn = hp_blas.dnrm2(d, g, 1);
		if (!isfinite(f) || !isfinite(gn))
		{
			rc = hp_error(err, HP_EDATA, "training diverged to non-finite values");
			hp_error_detail(err, "Increase lambda or rescale the embeddings.");
			break;
		}
		if (s->status[h] == HP_NEWTON_FIRST)
		{
			/* The stopping rule's scale: the gradient at w = 0, as hp_bt_train. */
			double		g0 = 0.0;

			for (int j = 0; j < d; j++)
			{
				double		v = hp_newton_G0(st)[(size_t) h * d + j] * inv - s->lambda * a[j];

				g0 += v * v;
			}
			s->gref[h] = fmax(sqrt(g0), 1e-300);
		}
		else if (!(f <= s->facc[h] + ARMIJO * s->alpha[h] * s->gp[h] + LOSS_SLACK * fabs(s->facc[h])))
		{
			/* Too little decrease: halve the step; K at Wacc is not needed again. */
			s->backtracks[h]++;
			s->alpha[h] *= 0.5;
			if (s->alpha[h] < ldexp(1.0, -MAX_HALVINGS) || !PlanTrial(s, h))
				Finish(s, h);
			continue;
		}
		/* Accept the evaluated point. */
		memcpy(s->Wacc + (size_t) h * d, w, sizeof(double) * d);
		s->facc[h] = f;
		s->lacc[h] = hp_newton_L(st)[h] * inv;
		s->gnorm[h] = gn;
		if (h == 0 && s->uncertainty == HP_UNC_LAPLACE)
			for (int j = 0; j < d; j++)
				s->diag[j] = K[(size_t) j * d + j];
		if (gn <= s->tol * s->gref[h] || gn == 0.0)
		{
			Finish(s, h);
			continue;
		}
		if (M == NULL)
			M = hp_alloc(sizeof(double) * d * d);
		if ((rc = NewtonStep(s, K, S, g, s->P + (size_t) h * d, M, err)) != HP_OK)
			break;
		s->gp[h] = hp_blas.ddot(d, g, 1, s->P + (size_t) h * d, 1);
		s->alpha[h] = 1.0;
		s->status[h] = HP_NEWTON_TRIAL;
		if (!(s->gp[h] < 0.0) || !PlanTrial(s, h))
			Finish(s, h);		/* no descent left at float precision */
	}
	s->passes++;
	s->nactive = 0;
	for (int h = 0; h < H; h++)
		s->nactive += (s->status[h] != HP_NEWTON_DONE);
	hp_free(g);
	hp_free(M);
	return rc;
}

/* See hp_newton.h. */
void
hp_newton_search_trial(const HpNewtonSearch *s, float *W)
{
	for (size_t k = 0; k < (size_t) s->heads * s->dim; k++)
		W[k] = (float) s->Wtry[k];
}

/* See hp_newton.h. */
double
hp_newton_search_relgrad(const HpNewtonSearch *s)
{
	double		r = 0.0;

	for (int h = 0; h < s->heads; h++)
		r = fmax(r, s->gnorm[h] / s->gref[h]);
	return r;
}

/* See hp_newton.h. */
HpStatus
hp_newton_search_model(const HpNewtonSearch *s, const char *options_json, HpModel *out, HpError *err)
{
	int			H = s->heads,
				d = s->dim;
	float	   *W = hp_alloc(sizeof(float) * H * d);
	size_t		len = strlen(options_json ? options_json : "{}");

	/* Trials are float-rounded, so Wacc converts exactly. */
	for (size_t k = 0; k < (size_t) H * d; k++)
		W[k] = (float) s->Wacc[k];
	if (!hp_all_finite_f(W, (size_t) H * d) || !isfinite(s->lacc[0]))
	{
		hp_free(W);
		hp_error(err, HP_EDATA, "training diverged to non-finite weights");
		hp_error_detail(err, "Increase lambda or rescale the embeddings.");
		return HP_EDATA;
	}
	hp_newton_weights_model(W, d, H, s->center, out);
	out->uncertainty = (uint32_t) s->uncertainty;
	out->lambda = s->lambda;
	/* Head 0 (center, or the only head) has weight 1 on every row. */
	out->loss = s->lacc[0];
	out->rows = s->n;
	out->seed = s->seed;
	hp_free(out->options);
	out->options = hp_alloc(len + 1);
	memcpy(out->options, options_json ? options_json : "{}", len + 1);
	if (s->uncertainty == HP_UNC_LAPLACE)
	{
		/* Diagonal Laplace posterior of N f, as hp_bt_train's LaplaceVariance. */
		float	   *var = hp_alloc(sizeof(float) * d);

		for (int j = 0; j < d; j++)
			var[j] = (float) (1.0 / fmax(s->diag[j] + (double) s->n * s->lambda, 1e-12));
		hp_model_add_tensor(out, "var", HP_F32, 1, (uint32_t) d, var);
		hp_free(var);
	}
	hp_free(W);
	return HP_OK;
}

/* See hp_newton.h. */
void
hp_newton_search_free(HpNewtonSearch *s)
{
	hp_free(s->A);
	hp_free(s->Wacc);
	hp_free(s->Wtry);
	hp_free(s->P);
	hp_free(s->facc);
	hp_free(s->lacc);
	hp_free(s->gnorm);
	hp_free(s->gref);
	hp_free(s->alpha);
	hp_free(s->gp);
	hp_free(s->diag);
	hp_free(s->status);
	hp_free(s->backtracks);
	memset(s, 0, sizeof(*s));
}
