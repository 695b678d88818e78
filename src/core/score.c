/*
 * score.c: rewards, preference probabilities and their epistemic spread.
 */
#include "hp_score.h"

#include <math.h>
#include <string.h>

#include "hp_blas.h"

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

/* Bind the model's tensors and allocate scratch. */
HpStatus
hp_scorer_init(HpScorer *s, const HpModel *m, HpError *err)
{
	const HpTensor *w = hp_model_tensor(m, "w");
	const HpTensor *var = hp_model_tensor(m, "var");
	const HpTensor *center = hp_model_tensor(m, "center");

	memset(s, 0, sizeof(*s));
	if (m->kind == HP_KIND_MLP)
	{
		if (hp_mlp_view(m, &s->mlp, err) != HP_OK)
			return err->code;
		s->m = m;
		s->is_mlp = true;
		s->dim = (int) m->dim;
		s->heads = (int) m->heads;
		s->out = hp_alloc(sizeof(float) * s->heads);
		s->diff = hp_alloc(sizeof(float) * s->dim);
		s->xy = hp_alloc(sizeof(float) * 2 * s->dim);
		s->pair = hp_alloc(sizeof(float) * 2 * s->heads);
		s->scratch = hp_alloc(sizeof(float) * hp_mlp_scratch(&s->mlp, 2));
		return HP_OK;
	}
	if (m->kind != HP_KIND_LINEAR || w == NULL || w->dtype != HP_F32)
		return hp_error(err, HP_EINVAL, "model of kind \"%s\" cannot score rows",
						hp_model_kind_name(m->kind) ? hp_model_kind_name(m->kind) : "unknown");
	s->m = m;
	s->dim = (int) m->dim;
	s->heads = (int) w->rows;
	s->W = w->data;
	s->var = (m->uncertainty == HP_UNC_LAPLACE && var) ? var->data : NULL;
	s->center = (center && center->dtype == HP_F32 && center->rows == 1 &&
				 (int) center->cols == s->dim) ? center->data : NULL;
	s->out = hp_alloc(sizeof(float) * s->heads);
	s->diff = hp_alloc(sizeof(float) * s->dim);
	return HP_OK;
}

/* Release scratch. */
void
hp_scorer_free(HpScorer *s)
{
	hp_free(s->out);
	hp_free(s->diff);
	hp_free(s->xy);
	hp_free(s->pair);
	hp_free(s->scratch);
	s->out = s->diff = s->xy = s->pair = s->scratch = NULL;
}

/* Mean and population std of the per-head values in s->out. */
static void
OutMoments(HpScorer *s, double *mean, double *std)
{
	double		m = 0.0,
				v = 0.0;

	for (int h = 0; h < s->heads; h++)
		m += s->out[h];
	m /= s->heads;
	for (int h = 0; h < s->heads; h++)
		v += (s->out[h] - m) * (s->out[h] - m);
	*mean = m;
	if (std)
		*std = sqrt(v / s->heads);
}

/* Per-head rewards of x into s->out, then their mean and std. */
static void
HeadMoments(HpScorer *s, const float *x, double *mean, double *std)
{
	if (s->is_mlp)
		hp_mlp_forward(&s->mlp, x, 1, s->out, s->scratch);
	else
		hp_blas.sgemv(CblasRowMajor, CblasNoTrans, s->heads, s->dim, 1.0f, s->W, s->dim,
					  x, 1, 0.0f, s->out, 1);
	OutMoments(s, mean, std);
}

/* Laplace std of w.x: sqrt(sum_j var_j x_j^2). */
static double
LaplaceStd(const HpScorer *s, const float *x)
{
	double		acc = 0.0;

	for (int j = 0; j < s->dim; j++)
		acc += (double) s->var[j] * x[j] * x[j];
	return sqrt(acc);
}

/* Mean reward over heads and its epistemic std. */
void
hp_score_reward(HpScorer *s, const float *x, double *mean, double *std)
{
	double		m,
				sd;

	/* The reward alone needs the center's dot product, not every head. */
	if (std == NULL && s->center)
	{
		if (mean)
			*mean = hp_blas.sdot(s->dim, s->center, 1, x, 1);
		return;
	}
	HeadMoments(s, x, &m, &sd);
	if (s->center)
		m = hp_blas.sdot(s->dim, s->center, 1, x, 1);
	if (s->var)
		sd = LaplaceStd(s, x);
	if (mean)
		*mean = m;
	if (std)
		*std = sd;
}

/*
 * P(a > b): from the center head when the model has one (else averaged over
 * heads, or at the MAP for Laplace); the spread is always across heads.
 */
void
hp_score_prefer(HpScorer *s, const float *a, const float *b, double *mean, double *std)
{
	double		m = 0.0,
				v = 0.0,
				zbar;

	if (s->is_mlp)
	{
		/* Rewards are not linear: score both rows, then take differences. */
		memcpy(s->xy, a, sizeof(float) * s->dim);
		memcpy(s->xy + s->dim, b, sizeof(float) * s->dim);
		hp_mlp_forward(&s->mlp, s->xy, 2, s->pair, s->scratch);
		memcpy(s->out, s->pair, sizeof(float) * s->heads);
		hp_blas.saxpy(s->heads, -1.0f, s->pair + s->heads, 1, s->out, 1);
		OutMoments(s, &zbar, NULL);
	}
	else
	{
		memcpy(s->diff, a, sizeof(float) * s->dim);
		hp_blas.saxpy(s->dim, -1.0f, b, 1, s->diff, 1);
		HeadMoments(s, s->diff, &zbar, NULL);
	}
	if (s->var)
	{
		/* Delta method: spread of sigmoid(w.d) from the spread of w.d. */
		double		p = Sigmoid(zbar);

		if (mean)
			*mean = p;
		if (std)
			*std = p * (1.0 - p) * LaplaceStd(s, s->diff);
		return;
	}
	for (int h = 0; h < s->heads; h++)
		m += Sigmoid(s->out[h]);
	m /= s->heads;
	for (int h = 0; h < s->heads; h++)
	{
		double		q = Sigmoid(s->out[h]) - m;

		v += q * q;
	}
	if (mean)
		*mean = s->center ? Sigmoid(hp_blas.sdot(s->dim, s->center, 1, s->diff, 1)) : m;
	if (std)
		*std = sqrt(v / s->heads);
}

/*
 * Probability that the preferred side is wrong given the model's epistemic
 * spread: Phi(-|m| / s) for the reward margin m (center head when present)
 * and its spread s across heads (or Laplace).  Unlike the spread of P, it
 * is large only where the spread can reach the decision boundary.
 */
double
hp_score_flip(HpScorer *s, const float *a, const float *b)
{
	double		m,
				sd;

	if (s->is_mlp)
	{
		memcpy(s->xy, a, sizeof(float) * s->dim);
		memcpy(s->xy + s->dim, b, sizeof(float) * s->dim);
		hp_mlp_forward(&s->mlp, s->xy, 2, s->pair, s->scratch);
		memcpy(s->out, s->pair, sizeof(float) * s->heads);
		hp_blas.saxpy(s->heads, -1.0f, s->pair + s->heads, 1, s->out, 1);
		OutMoments(s, &m, &sd);
	}
	else
	{
		memcpy(s->diff, a, sizeof(float) * s->dim);
		hp_blas.saxpy(s->dim, -1.0f, b, 1, s->diff, 1);
		HeadMoments(s, s->diff, &m, &sd);
		if (s->center)
			m = hp_blas.sdot(s->dim, s->center, 1, s->diff, 1);
		if (s->var)
			sd = LaplaceStd(s, s->diff);
	}
	if (!isfinite(m) || !isfinite(sd))
		return NAN;				/* overflow: the caller reports it */
	if (!(sd > 0.0))
		return m == 0.0 ? 0.5 : 0.0;
	return 0.5 * erfc(fabs(m) / (sd * sqrt(2.0)));
}
