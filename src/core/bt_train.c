/*
 * bt_train.c: Bradley-Terry ensemble training by batched Newton-CG.
 *
 * All heads advance in lockstep: each pass over the data is one sgemm for
 * every head at once (sgemv for a single head), which is what makes an
 * ensemble of 8 cost far less than 8 separate fits.  Each head keeps its own
 * CG state, step length and convergence flag.  Passes are blocked by rows so
 * cancel requests are honoured between blocks.  Where a pass needs both
 * X V^T and then S^T X (a Hessian product; the trial step with the gradient
 * at its end), the two run block by block while the block is in cache, so
 * the rows are read from memory once: reading them is what costs.
 */
#include "hp_train.h"

#include <math.h>
#include <string.h>

#include "hp_blas.h"
#include "hp_rng.h"

/* About 64 MB of float data per block: bounds cancel latency at any dim. */
#define BLOCK_FLOATS (16 * 1024 * 1024)
/* About 256 kB per fused block: stays in L2 between its two products. */
#define SWEEP_FLOATS (64 * 1024)
#define MAX_CG 250
#define ARMIJO 1e-4
#define HESS_FRACTION 8
#define HESS_MIN_ROWS(d) ((int64_t) 8 * (d) + 1024)
#define CV_FOLDS HP_CV_FOLDS
#define CV_GRID 13				/* six decades below the data's scale */
#define CV_MIN_ROWS (2 * CV_FOLDS)
/*
 * Fold fits stop at a relative gradient of 1e-3: the held-out losses then
 * agree with tighter fits to about 1e-5, far below their differences
 * between grid points, at two thirds of the cost.
 */
#define CV_TOL 1e-3

typedef struct Trainer
{
	const HpTrainSet *ts;
	int			H;				/* heads solved together (samples + center) */
	int			center;			/* 1 when head 0 is the plain MAP fit */
	int			d;
	int64_t		n;
	int64_t		block;			/* rows per pass block */
	int64_t		sweep;			/* rows per fused block (SweepRows) */
	int64_t		ns;				/* rows the Hessian is estimated on */
	bool		overflow;		/* a float32 product overflowed */
	double		lambda;
	float	   *C;				/* n x H bootstrap weights / N_h */
	float	   *W;				/* H x d */
	float	   *A;				/* H x d prior anchors, or NULL */
	float	   *Wd;				/* H x d scratch: W - A */
	float	   *Z;				/* n x H margins X W^T */
	float	   *R;				/* n x H residual or curvature scratch */
	float	   *G;				/* H x d gradient */
	double	   *f;				/* H objective values */
	double	   *gnorm;			/* H gradient norms */
} Trainer;

/* log(1 + e^t) without overflow. */
static inline double
Softplus(double t)
{
	return t > 0 ? t + log1p(exp(-t)) : log1p(exp(t));
}

/* Logistic function without overflow. */
static inline double
Sigmoid(double z)
{
	if (z >= 0)
		return 1.0 / (1.0 + exp(-z));
	else
	{
		double		e = exp(z);

		return e / (1.0 + e);
	}
}

/* Out = X V^T (n x H), for V of H x d. */
static void
MulXVt(const Trainer *t, const float *V, float *Out)
{
	const float *X = t->ts->X;

	for (int64_t r0 = 0; r0 < t->n; r0 += t->block)
	{
		int			m = (int) ((t->n - r0 < t->block) ? t->n - r0 : t->block);

		if (t->H == 1)
			hp_blas.sgemv(CblasRowMajor, CblasNoTrans, m, t->d, 1.0f, X + r0 * t->d, t->d,
						  V, 1, 0.0f, Out + r0, 1);
		else
			hp_blas.sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, t->H, t->d, 1.0f,
						  X + r0 * t->d, t->d, V, t->d, 0.0f, Out + r0 * t->H, t->H);
		hp_check_interrupts();
	}
}

/* Out = S^T X + lambda V (H x d), S of n x H. */
static void
MulStXPlus(const Trainer *t, const float *S, const float *V, float *Out)
{
	const float *X = t->ts->X;

	memcpy(Out, V, sizeof(float) * t->H * t->d);
	hp_blas.sscal(t->H * t->d, (float) t->lambda, Out, 1);
	for (int64_t r0 = 0; r0 < t->n; r0 += t->block)
	{
		int			m = (int) ((t->n - r0 < t->block) ? t->n - r0 : t->block);

		if (t->H == 1)
			hp_blas.sgemv(CblasRowMajor, CblasTrans, m, t->d, 1.0f, X + r0 * t->d, t->d,
						  S + r0, 1, 1.0f, Out, 1);
		else
			hp_blas.sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t->H, t->d, m, 1.0f,
						  S + r0 * t->H, t->H, X + r0 * t->d, t->d, 1.0f, Out, t->d);
		hp_check_interrupts();
	}
}

/* Turns block [r0, r0 + m) of Y = X V^T into the same rows of S. */
typedef void (*BlockFn) (Trainer *t, void *arg, int64_t r0, int64_t m);

/*
 * Out = S^T X + lambda L (H x d; L may be Out) over the first rows rows,
 * as MulStXPlus, where fn makes S block by block from Y = X V^T.  Both
 * products of a block run while its rows are in cache, so X is read from
 * memory once for the pair.
 */
static void
SweepRows(Trainer *t, const float *V, float *Y, const float *S, const float *L, float *Out,
		  int64_t rows, BlockFn fn, void *arg)
{
	int			H = t->H,
				d = t->d;

	if (Out != L)
		memcpy(Out, L, sizeof(float) * H * d);
	hp_blas.sscal(H * d, (float) t->lambda, Out, 1);

	for (int64_t r0 = 0; r0 < rows; r0 += t->sweep)
	{
		int			m = (int) ((rows - r0 < t->sweep) ? rows - r0 : t->sweep);
		const float *Xb = t->ts->X + r0 * d;

		if (H == 1)
			hp_blas.sgemv(CblasRowMajor, CblasNoTrans, m, d, 1.0f, Xb, d, V, 1, 0.0f, Y + r0, 1);
		else
			hp_blas.sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, H, d, 1.0f,
						  Xb, d, V, d, 0.0f, Y + r0 * H, H);
		fn(t, arg, r0, m);
		if (H == 1)
			hp_blas.sgemv(CblasRowMajor, CblasTrans, m, d, 1.0f, Xb, d, S + r0, 1, 1.0f, Out, 1);
		else
			hp_blas.sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, d, m, 1.0f,
						  S + r0 * H, H, Xb, d, 1.0f, Out, d);
		hp_check_interrupts();
	}
}

/* Objective of head h at margins Z + alpha*DZ (DZ may be NULL). */
static double
HeadLoss(const Trainer *t, int h, const float *DZ, double alpha)
{
	double		s = 0.0;

	for (int64_t i = 0; i < t->n; i++)
	{
		double		c = t->C[i * t->H + h];
		double		z,
					p;

		if ((i & 0xffff) == 0)
			hp_check_interrupts();
		if (c == 0.0)
			continue;
		z = t->Z[i * t->H + h] + (DZ ? alpha * DZ[i * t->H + h] : 0.0);
		p = t->ts->p[i];
		s += c * (fmax(-z, 0.0) + log1p(exp(-fabs(z))) + (1.0 - p) * z);
	}
	return s;
}

/* W - A (the penalised displacement) into t->Wd; returns it. */
static const float *
Displacement(Trainer *t)
{
	if (t->A == NULL)
		return t->W;
	memcpy(t->Wd, t->W, sizeof(float) * t->H * t->d);
	hp_blas.saxpy(t->H * t->d, -1.0f, t->A, 1, t->Wd, 1);
	return t->Wd;
}

/*
 * Residuals c (sigma(z) - p) of row i into t->R and its losses added to
 * loss[h], at margins z = Z + DZ (rounded to float, as an update of Z by
 * DZ would leave them; DZ may be NULL).  Residual and loss share one exp
 * and one log1p per element.
 */
static inline void
RowResiduals(Trainer *t, int64_t i, const float *DZ, double *loss)
{
	double		p = t->ts->p[i];

	for (int h = 0; h < t->H; h++)
	{
		int64_t		k = i * t->H + h;
		float		zf = DZ ? t->Z[k] + DZ[k] : t->Z[k];
		double		z = zf,
					c = t->C[k],
					e = exp(-fabs(z)),
					sig = z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);

		t->R[k] = (float) (c * (sig - p));
		if (c != 0.0)
			loss[h] += c * (fmax(-z, 0.0) + log1p(e) + (1.0 - p) * z);
	}
}

/* Recompute objective, gradient and gradient norm of every head. */
static void
Evaluate(Trainer *t)
{
	const float *Wd;

	for (int h = 0; h < t->H; h++)
		t->f[h] = 0.0;
	for (int64_t i = 0; i < t->n; i++)
	{
		if ((i & 0xffff) == 0)
			hp_check_interrupts();
		RowResiduals(t, i, NULL, t->f);
	}
	Wd = Displacement(t);
	MulStXPlus(t, t->R, Wd, t->G);
	for (int h = 0; h < t->H; h++)
	{
		double		wn = hp_blas.snrm2(t->d, Wd + h * t->d, 1);

		t->f[h] += 0.5 * t->lambda * wn * wn;
		t->gnorm[h] = hp_blas.snrm2(t->d, t->G + h * t->d, 1);
	}
}

/* Curvature-weighted Hessian product rows: S = Dh .* XD (SweepRows). */
typedef struct CurvatureArg
{
	const float *Dh;
	const float *XD;
	float	   *S;
} CurvatureArg;

/* BlockFn of the CG products. */
static void
CurvatureBlock(Trainer *t, void *arg, int64_t r0, int64_t m)
{
	CurvatureArg *a = (CurvatureArg *) arg;

	for (int64_t k = r0 * t->H; k < (r0 + m) * t->H; k++)
		a->S[k] = a->Dh[k] * a->XD[k];
}

/*
 * Solve (X^T D_h X + lambda I) p_h = -g_h for every unfinished head by
 * conjugate gradients, with the Hessian estimated on the first t->ns rows.
 * Rows are in canonical (hash) order, so that prefix is a random subsample;
 * curvature needs far less precision than the gradient, which always uses
 * every row, so the solution is still exact while each CG step reads only a
 * fraction of the data (sub-sampled Newton, Byrd et al. 2011).
 */
static void
NewtonDirections(Trainer *t, const bool *active, const double *gref, float *P)
{
	int			H = t->H,
				d = t->d;
	int64_t		ns = t->ns;
	float	   *Rv = hp_alloc0(sizeof(float) * H * d);
	float	   *Dv = hp_alloc0(sizeof(float) * H * d);
	float	   *Q = hp_alloc(sizeof(float) * H * d);
	float	   *XD = hp_alloc(sizeof(float) * ns * H);
	float	   *Dh = hp_alloc(sizeof(float) * ns * H);
	float	   *S = hp_alloc(sizeof(float) * ns * H);
	double	   *rr = hp_alloc0(sizeof(double) * H);
	double	   *cgtol = hp_alloc0(sizeof(double) * H);
	double	   *wsum = hp_alloc0(sizeof(double) * H);
	bool	   *cg = hp_alloc0(sizeof(bool) * H);
	int			ncg = 0;
	CurvatureArg ca = {Dh, XD, S};

	/* Curvature weights c_ih s(1-s), rescaled to the subsample's weight. */
	for (int64_t i = 0; i < ns; i++)
		for (int h = 0; h < H; h++)
			wsum[h] += t->C[i * H + h];
	for (int64_t i = 0; i < ns; i++)
		for (int h = 0; h < H; h++)
		{
			int64_t		k = i * H + h;
			double		s = Sigmoid(t->Z[k]);

			Dh[k] = (float) (wsum[h] > 0 ? t->C[k] * s * (1.0 - s) / wsum[h] : 0.0);
		}
	memset(P, 0, sizeof(float) * H * d);
	for (int h = 0; h < H; h++)
	{
		if (!active[h])
			continue;
		/* r = -g; eta forcing term gives superlinear convergence. */
		memcpy(Rv + h * d, t->G + h * d, sizeof(float) * d);
		hp_blas.sscal(d, -1.0f, Rv + h * d, 1);
		memcpy(Dv + h * d, Rv + h * d, sizeof(float) * d);
		rr[h] = t->gnorm[h] * t->gnorm[h];
		cgtol[h] = fmin(0.1, sqrt(t->gnorm[h] / gref[h])) * t->gnorm[h];
		cg[h] = true;
		ncg++;
	}

	for (int it = 0; it < MAX_CG && ncg > 0; it++)
	{
		SweepRows(t, Dv, XD, S, Dv, Q, ns, CurvatureBlock, &ca);
		for (int h = 0; h < H; h++)
		{
			float	   *q = Q + h * d,
					   *dv = Dv + h * d,
					   *r = Rv + h * d;
			double		dq,
						alpha,
						rrnew;

			if (!cg[h])
				continue;
			dq = hp_blas.sdot(d, dv, 1, q, 1);
			if (!isfinite(dq) || !isfinite(rr[h]))
				t->overflow = true;
			if (!(dq > 0.0))
			{
				/* No positive curvature left along dv: keep what we have. */
				cg[h] = false;
				ncg--;
				memset(dv, 0, sizeof(float) * d);
				continue;
			}
			alpha = rr[h] / dq;
			hp_blas.saxpy(d, (float) alpha, dv, 1, P + h * d, 1);
			hp_blas.saxpy(d, (float) -alpha, q, 1, r, 1);
			rrnew = hp_blas.sdot(d, r, 1, r, 1);
			if (sqrt(rrnew) <= cgtol[h])
			{
				cg[h] = false;
				ncg--;
				memset(dv, 0, sizeof(float) * d);
				continue;
			}
			/* dv = r + beta dv */
			hp_blas.sscal(d, (float) (rrnew / rr[h]), dv, 1);
			hp_blas.saxpy(d, 1.0f, r, 1, dv, 1);
			rr[h] = rrnew;
		}
	}
	/* Heads still in CG after MAX_CG keep their partial (descent) direction. */
	hp_free(Rv);
	hp_free(Dv);
	hp_free(Q);
	hp_free(XD);
	hp_free(Dh);
	hp_free(S);
	hp_free(rr);
	hp_free(cgtol);
	hp_free(wsum);
	hp_free(cg);
}

/* Fill bootstrap weights, normalised so each head's weights sum to 1. */
static void
InitWeights(Trainer *t, int64_t seed)
{
	for (int h = 0; h < t->H; h++)
	{
		double		sum = 0.0;

		for (int64_t i = 0; i < t->n; i++)
		{
			float		c;

			if ((i & 0xffff) == 0)
				hp_check_interrupts();
			c = (t->H == 1 || h < t->center) ? 1.0f
				: hp_boot_weight(t->ts->key[i], seed, h - t->center);

			t->C[i * t->H + h] = c;
			sum += c;
		}
		if (sum == 0.0)
		{
			/* A resample with no rows (tiny data): fall back to all rows. */
			for (int64_t i = 0; i < t->n; i++)
				t->C[i * t->H + h] = 1.0f;
			sum = (double) t->n;
		}
		for (int64_t i = 0; i < t->n; i++)
			t->C[i * t->H + h] = (float) (t->C[i * t->H + h] / sum);
	}
}

/*
 * Random anchors drawn from the prior N(0, 1/(n lambda)) that each head is
 * regularised toward instead of 0 ("anchored ensembles").  Bootstrapping
 * alone leaves every head at 0 in directions the data never probes, so the
 * ensemble would claim certainty exactly where it knows nothing; anchors
 * give those directions the prior's spread.
 */
static void
InitAnchors(Trainer *t, int64_t seed)
{
	double		scale = 1.0 / sqrt((double) t->n * t->lambda);

	t->A = hp_alloc(sizeof(float) * t->H * t->d);
	t->Wd = hp_alloc(sizeof(float) * t->H * t->d);
	memset(t->A, 0, sizeof(float) * t->H * t->d);
	for (int h = t->center; h < t->H; h++)
	{
		HpRng		r;

		hp_rng_seed(&r, hp_mix64((uint64_t) seed ^ 0xa5c4017ULL) + (uint64_t) (h - t->center));
		for (int j = 0; j < t->d; j++)
			t->A[h * t->d + j] = (float) (scale * hp_rng_normal(&r));
	}
}

/* Diagonal Laplace posterior variances of a single head (precision of N*f). */
static float *
LaplaceVariance(Trainer *t)
{
	int			d = t->d;
	float	   *prec = hp_alloc0(sizeof(float) * d);
	float	   *sq = hp_alloc(sizeof(float) * t->block * d);
	float	   *Dh = hp_alloc(sizeof(float) * t->n);
	float	   *var = hp_alloc(sizeof(float) * d);

	for (int64_t i = 0; i < t->n; i++)
	{
		double		s = Sigmoid(t->Z[i]);

		Dh[i] = (float) (s * (1.0 - s));
	}
	for (int64_t r0 = 0; r0 < t->n; r0 += t->block)
	{
		int			m = (int) ((t->n - r0 < t->block) ? t->n - r0 : t->block);
		const float *X = t->ts->X + r0 * d;

		for (int64_t k = 0; k < (int64_t) m * d; k++)
			sq[k] = X[k] * X[k];
		hp_blas.sgemv(CblasRowMajor, CblasTrans, m, d, 1.0f, sq, d, Dh + r0, 1, 1.0f, prec, 1);
		hp_check_interrupts();
	}
	for (int j = 0; j < d; j++)
	{
		double		p = prec[j] + (double) t->n * t->lambda;

		var[j] = (float) (1.0 / fmax(p, 1e-12));
	}
	hp_free(prec);
	hp_free(sq);
	hp_free(Dh);
	return var;
}

/* Copy warm-start weights: per head if the ensembles match, else their mean. */
static HpStatus
WarmStart(Trainer *t, const HpModel *init, HpError *err)
{
	const HpTensor *w = hp_model_tensor(init, "w");
	const HpTensor *c = hp_model_tensor(init, "center");
	int			samples = t->H - t->center;

	if (init->kind != HP_KIND_LINEAR || w == NULL || w->dtype != HP_F32)
		return hp_error(err, HP_EINVAL, "init model must be a linear reward model");
	if ((int) init->dim != t->d)
		return hp_error(err, HP_EDIM,
						"init model has dimension %u but the training rows have dimension %d",
						init->dim, t->d);
	for (int h = 0; h < t->H; h++)
	{
		float	   *dst = t->W + h * t->d;

		if (h < t->center && c != NULL)
			memcpy(dst, c->data, sizeof(float) * t->d);
		else if (h >= t->center && (int) w->rows == samples)
			memcpy(dst, (const float *) w->data + (h - t->center) * t->d, sizeof(float) * t->d);
		else
		{
			memset(dst, 0, sizeof(float) * t->d);
			for (uint32_t k = 0; k < w->rows; k++)
				hp_blas.saxpy(t->d, 1.0f / w->rows, (const float *) w->data + k * t->d, 1, dst, 1);
		}
	}
	return HP_OK;
}

/* Allocate a trainer of H heads, the first center of them plain fits. */
static void
TrainerInit(Trainer *t, const HpTrainSet *ts, int H, int center, double lambda)
{
	memset(t, 0, sizeof(*t));
	t->ts = ts;
	t->center = center;
	t->H = H;
	t->d = ts->dim;
	t->n = ts->n;
	t->lambda = lambda;
	/* Hessian subsample: all rows when small, else >= 8 rows per weight. */
	t->ns = t->n;
	if (t->n > 2 * HESS_MIN_ROWS(t->d) && t->n / HESS_FRACTION > HESS_MIN_ROWS(t->d))
		t->ns = t->n / HESS_FRACTION;
	else if (t->n > 2 * HESS_MIN_ROWS(t->d))
		t->ns = HESS_MIN_ROWS(t->d);
	t->block = BLOCK_FLOATS / t->d;
	if (t->block < 1)
		t->block = 1;
	t->sweep = SWEEP_FLOATS / t->d;
	if (t->sweep < 1)
		t->sweep = 1;
	t->C = hp_alloc(sizeof(float) * t->n * H);
	t->W = hp_alloc0(sizeof(float) * H * t->d);
	t->Z = hp_alloc0(sizeof(float) * t->n * H);
	t->R = hp_alloc(sizeof(float) * t->n * H);
	t->G = hp_alloc(sizeof(float) * H * t->d);
	t->f = hp_alloc(sizeof(double) * H);
	t->gnorm = hp_alloc(sizeof(double) * H);
}

/* Release what TrainerInit (and InitAnchors) allocated. */
static void
TrainerFree(Trainer *t)
{
	hp_free(t->C);
	hp_free(t->W);
	hp_free(t->A);
	hp_free(t->Wd);
	hp_free(t->Z);
	hp_free(t->R);
	hp_free(t->G);
	hp_free(t->f);
	hp_free(t->gnorm);
}

/* The trial point W + P of every head: its data losses (SweepRows). */
typedef struct TrialArg
{
	const float *XP;
	double	   *loss;			/* H sums of c_ih l(z_ih; p_i) */
} TrialArg;

/* BlockFn of the trial step: residuals and losses at margins Z + XP. */
static void
TrialBlock(Trainer *t, void *arg, int64_t r0, int64_t m)
{
	TrialArg   *a = (TrialArg *) arg;

	for (int64_t i = r0; i < r0 + m; i++)
		RowResiduals(t, i, a->XP, a->loss);
}

/*
 * Newton-CG with Armijo line search from the current (evaluated) weights
 * until every head's gradient norm is below tol * gref[h].
 *
 * Newton steps are nearly always taken whole, so each iteration first
 * tries the full step of every head in one pass that also yields the
 * gradient there (SweepRows): when every head accepts it, that is the
 * iteration's only pass over the data besides CG.  A head that does not
 * backtracks as usual on the exact objective, and the gradient is then
 * evaluated afresh.
 */
static void
Minimise(Trainer *t, const double *gref, int max_iter, double tol)
{
	int			H = t->H,
				d = t->d;
	bool	   *active = hp_alloc(sizeof(bool) * H);
	double	   *gprev = hp_alloc0(sizeof(double) * H);
	double	   *loss = hp_alloc(sizeof(double) * H);
	float	   *P = hp_alloc(sizeof(float) * H * d);
	float	   *Gt = hp_alloc(sizeof(float) * H * d);
	float	   *XP = hp_alloc(sizeof(float) * t->n * H);
	int			nactive = 0;

	for (int h = 0; h < H; h++)
	{
		active[h] = t->gnorm[h] > tol * gref[h] && t->gnorm[h] > 0.0;
		nactive += active[h];
		gprev[h] = t->gnorm[h];
	}

	for (int iter = 0; iter < max_iter && nactive > 0; iter++)
	{
		TrialArg	ta = {XP, loss};
		bool		whole = true;

		NewtonDirections(t, active, gref, P);

		/* Gt = lambda (W + P - A) + X^T R(Z + XP): the gradient after full steps. */
		memcpy(Gt, t->W, sizeof(float) * H * d);
		hp_blas.saxpy(H * d, 1.0f, P, 1, Gt, 1);
		if (t->A)
			hp_blas.saxpy(H * d, -1.0f, t->A, 1, Gt, 1);
		memset(loss, 0, sizeof(double) * H);
		SweepRows(t, P, XP, t->R, Gt, Gt, t->n, TrialBlock, &ta);

		for (int h = 0; h < H; h++)
		{
			float	   *w = t->W + h * d,
					   *p = P + h * d;
			const float *wd = Displacement(t) + h * d;
			double		gp,
						ww,
						wp,
						pp,
						alpha = 1.0,
						fnew = 0.0;
			bool		ok = false;

			if (!active[h])
				continue;
			gp = hp_blas.sdot(d, t->G + h * d, 1, p, 1);
			ww = hp_blas.sdot(d, wd, 1, wd, 1);
			wp = hp_blas.sdot(d, wd, 1, p, 1);
			pp = hp_blas.sdot(d, p, 1, p, 1);
			if (!(gp < 0.0))
			{
				active[h] = false;	/* no descent direction left: converged */
				nactive--;
				whole = false;	/* the trial assumed this head moved */
				continue;
			}
			fnew = loss[h] + 0.5 * t->lambda * (ww + 2.0 * wp + pp);
			if (fnew <= t->f[h] + ARMIJO * gp && t->f[h] - fnew > 1e-15 * fabs(t->f[h]))
			{
				hp_blas.saxpy(d, 1.0f, p, 1, w, 1);
				hp_blas.saxpy((int) t->n, 1.0f, XP + h, H, t->Z + h, H);
				continue;
			}
			/* Armijo backtracking on the exact objective along p. */
			whole = false;
			for (int ls = 0; ls < 40; ls++)
			{
				fnew = HeadLoss(t, h, XP, alpha) +
					0.5 * t->lambda * (ww + 2.0 * alpha * wp + alpha * alpha * pp);
				if (fnew <= t->f[h] + ARMIJO * alpha * gp)
				{
					ok = true;
					break;
				}
				alpha *= 0.5;
			}
			if (ok)
			{
				hp_blas.saxpy(d, (float) alpha, p, 1, w, 1);
				hp_blas.saxpy((int) t->n, (float) alpha, XP + h, H, t->Z + h, H);
			}
			if (!ok || t->f[h] - fnew <= 1e-15 * fabs(t->f[h]))
			{
				/* Float32 round-off floor reached: stop this head. */
				active[h] = false;
				nactive--;
			}
		}
		if (whole)
		{
			/* Every head took its full step: the trial pass was the evaluation. */
			const float *Wd = Displacement(t);

			memcpy(t->G, Gt, sizeof(float) * H * d);
			for (int h = 0; h < H; h++)
			{
				double		wn = hp_blas.snrm2(d, Wd + h * d, 1);

				t->f[h] = loss[h] + 0.5 * t->lambda * wn * wn;
				t->gnorm[h] = hp_blas.snrm2(d, t->G + h * d, 1);
			}
		}
		else
			Evaluate(t);
		{
			/*
			 * A subsampled Hessian that is too rough shows as slow (linear)
			 * progress: when a head's gradient shrank by less than half,
			 * double the subsample, up to every row (plain Newton-CG).
			 */
			double		worst = 0.0;

			for (int h = 0; h < H; h++)
				if (active[h] && gprev[h] > 0.0)
					worst = fmax(worst, t->gnorm[h] / gprev[h]);
			if (worst > 0.5 && t->ns < t->n)
				t->ns = t->ns * 2 < t->n ? t->ns * 2 : t->n;
		}
		for (int h = 0; h < H; h++)
		{
			gprev[h] = t->gnorm[h];
			if (active[h] && t->gnorm[h] <= tol * gref[h])
			{
				active[h] = false;
				nactive--;
			}
		}
	}
	hp_free(active);
	hp_free(gprev);
	hp_free(loss);
	hp_free(P);
	hp_free(Gt);
	hp_free(XP);
}

/* Mean squared row norm of the training rows: the data's own scale. */
static double
RowScale(const HpTrainSet *ts, int64_t block)
{
	double		s = 0.0;

	for (int64_t r0 = 0; r0 < ts->n; r0 += block)
	{
		int64_t		m = ts->n - r0 < block ? ts->n - r0 : block;
		double		nrm = hp_blas.snrm2((int) (m * ts->dim), ts->X + r0 * ts->dim, 1);

		s += nrm * nrm;
	}
	return s / (double) ts->n;
}

/*
 * lambda "auto": the grid value of least K-fold cross-validated log-loss.
 * Accuracy is too coarse to choose by (a few rows flip per fold); the
 * held-out likelihood is the model's own objective and also decides how
 * far P strays from 1/2, which the ensemble's spread depends on.  The grid
 * is relative to the data's scale s = mean |d|^2, so it adapts to
 * embeddings of any norm: lambda_g = s 10^(-g/2), g = 0..CV_GRID-1,
 * descending, each fit warm-started from the previous one, all folds
 * solved together as heads.  Folds are the canonical row index mod K, so
 * the choice does not depend on the plan.  The search stops two grid
 * points past the best (the curve is unimodal in practice).  Writes the
 * evaluated grid and losses to curve (2 x CV_GRID) and their count to
 * *ngrid; with fewer than CV_MIN_ROWS rows or all-zero rows there is
 * nothing to validate on and the default lambda is kept (*ngrid = 0).
 */
static void
SelectLambda(const HpTrainSet *ts, const HpTrainOptions *opt, double *lambda,
			 double *curve, int *ngrid)
{
	Trainer		t;
	int			K = CV_FOLDS;
	double		scale,
				best = INFINITY;
	double		gref[CV_FOLDS];
	int64_t		cnt[CV_FOLDS] = {0};
	int			gbest = -1;

	*ngrid = 0;
	if (ts->n < CV_MIN_ROWS)
		return;
	TrainerInit(&t, ts, K, K, 0.0);
	scale = RowScale(ts, t.block);
	if (!(scale > 0.0) || !isfinite(scale))
	{
		TrainerFree(&t);
		return;
	}
	for (int64_t i = 0; i < t.n; i++)
		for (int k = 0; k < K; k++)
			cnt[k] += (i % K) != k;
	for (int64_t i = 0; i < t.n; i++)
		for (int k = 0; k < K; k++)
			t.C[i * K + k] = (i % K) != k ? (float) (1.0 / (double) cnt[k]) : 0.0f;
	Evaluate(&t);
	for (int k = 0; k < K; k++)
		gref[k] = fmax(t.gnorm[k], 1e-300);

	for (int g = 0; g < CV_GRID && g - gbest <= 2; g++)
	{
		double		lam = scale * pow(10.0, -0.5 * g),
					loss = 0.0;

		t.lambda = lam;
		Evaluate(&t);
		Minimise(&t, gref, opt->max_iter, fmax(opt->tol, CV_TOL));
		for (int64_t i = 0; i < t.n; i++)
		{
			double		z = t.Z[i * K + i % K],
						p = ts->p[i];

			loss += Softplus(-z) + (1.0 - p) * z;
		}
		loss /= (double) t.n;
		if (t.overflow || !isfinite(loss))
			break;				/* smaller lambdas only fit the data harder */
		curve[g] = lam;
		curve[CV_GRID + g] = loss;
		*ngrid = g + 1;
		if (loss < best)
		{
			best = loss;
			gbest = g;
		}
	}
	if (gbest >= 0)
		*lambda = curve[gbest];
	TrainerFree(&t);
}

/* Train the ensemble; see hp_train.h. */
HpStatus
hp_bt_train(const HpTrainSet *ts, const HpTrainOptions *opt, const char *options_json,
			const HpModel *init, HpModel *out, HpError *err)
{
	Trainer		t;
	int			H = opt->heads;
	double	   *gref;
	double		loss = 0.0,
				lambda = opt->lambda;
	double		curve[2 * CV_GRID];
	int			ngrid = 0;
	HpStatus	st = HP_OK;

	if (ts->n < 1)
		return hp_error(err, HP_EDATA, "no training rows");
	if (ts->dim < 1 || ts->dim > HP_MAX_DIM)
		return hp_error(err, HP_ELIMIT, "dimension %d is outside 1..%d", ts->dim, HP_MAX_DIM);
	if (ts->n > INT32_MAX)
		return hp_error(err, HP_ELIMIT, "more than %d training rows", INT32_MAX);
	if (opt->uncertainty == HP_UNC_LAPLACE)
	{
		if (opt->heads_given && opt->heads != 1)
			return hp_error(err, HP_EINVAL,
							"uncertainty \"laplace\" uses a single model, but heads is %d",
							opt->heads);
		H = 1;
	}
	if (H < 1 || H > HP_MAX_HEADS)
		return hp_error(err, HP_EINVAL, "heads must be between 1 and %d", HP_MAX_HEADS);
	if (opt->lambda_auto)
		SelectLambda(ts, opt, &lambda, curve, &ngrid);

	/*
	 * An ensemble also solves a center head: the plain regularised fit on
	 * all rows.  Rewards come from it (as accurate as a single model); the
	 * bootstrap, prior-anchored heads only measure the spread.
	 */
	TrainerInit(&t, ts, H + (H > 1), H > 1 ? 1 : 0, lambda);
	H = t.H;
	gref = hp_alloc(sizeof(double) * H);

	InitWeights(&t, opt->seed);
	if (opt->anchored && H > 1 && t.lambda > 0)
		InitAnchors(&t, opt->seed);

	/* Reference gradient at w = 0 sets the scale of the stopping rule. */
	Evaluate(&t);
	for (int h = 0; h < H; h++)
		gref[h] = fmax(t.gnorm[h], 1e-300);
	if (init)
	{
		if ((st = WarmStart(&t, init, err)) != HP_OK)
			goto done;
		MulXVt(&t, t.W, t.Z);
		Evaluate(&t);
	}
	Minimise(&t, gref, opt->max_iter, opt->tol);

	if (t.overflow || !hp_all_finite_f(t.G, (size_t) H * t.d))
	{
		/* Curvature or gradient left the float32 range: refuse, never w = 0. */
		st = hp_error(err, HP_EDATA, "training overflowed the real (float32) range");
		hp_error_detail(err, "Embedding values this large (or tiny, with lambda 0) cannot be trained on; rescale them.");
		goto done;
	}
	if (!hp_all_finite_f(t.W, (size_t) H * t.d))
	{
		st = hp_error(err, HP_EDATA, "training diverged to non-finite weights");
		hp_error_detail(err, "Increase lambda or rescale the embeddings.");
		goto done;
	}

	/* Reported loss: unweighted log-loss of the reward head (center or only). */
	for (int64_t i = 0; i < t.n; i++)
	{
		double		z = t.Z[i * H];

		loss += Softplus(-z) + (1.0 - ts->p[i]) * z;
	}
	loss /= (double) t.n;
	if (!isfinite(loss))
	{
		/* Finite weights, but margins overflowed float32 on huge inputs. */
		st = hp_error(err, HP_EDATA, "training loss is not finite");
		hp_error_detail(err, "Embedding values near the float32 limit overflow the reward margins; rescale them.");
		goto done;
	}

	memset(out, 0, sizeof(*out));
	out->version = HP_MODEL_FORMAT_VERSION;
	out->kind = HP_KIND_LINEAR;
	out->dim = (uint32_t) t.d;
	out->heads = (uint32_t) (H - t.center);
	out->uncertainty = (uint32_t) opt->uncertainty;
	out->lambda = lambda;
	out->loss = loss;
	out->rows = t.n;
	out->seed = opt->seed;
	{
		size_t		len = strlen(options_json ? options_json : "{}");

		out->options = hp_alloc(len + 1);
		memcpy(out->options, options_json ? options_json : "{}", len + 1);
	}
	hp_model_add_tensor(out, "w", HP_F32, (uint32_t) (H - t.center), (uint32_t) t.d,
						t.W + t.center * t.d);
	if (t.center)
		hp_model_add_tensor(out, "center", HP_F32, 1, (uint32_t) t.d, t.W);
	if (ngrid > 0)
	{
		/* The cross-validation curve, for hp.model_info. */
		double		c[2 * CV_GRID];

		memcpy(c, curve, sizeof(double) * ngrid);
		memcpy(c + ngrid, curve + CV_GRID, sizeof(double) * ngrid);
		hp_model_add_tensor(out, "lambda_cv", HP_F64, 2, (uint32_t) ngrid, c);
	}
	if (opt->uncertainty == HP_UNC_LAPLACE)
	{
		float	   *var = LaplaceVariance(&t);

		hp_model_add_tensor(out, "var", HP_F32, 1, (uint32_t) t.d, var);
		hp_free(var);
	}

done:
	TrainerFree(&t);
	hp_free(gref);
	return st;
}
