/*
 * select.c: the pair-selection methods of ActiveUltraFeedback.
 *
 * U = mu + beta*sigma and L = mu - beta*sigma are the optimistic and
 * pessimistic rewards.  Methods that sample do so from a generator keyed by
 * the seed and the group's sorted ids (see hp_select.h).
 */
#include "hp_select.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hp_rng.h"

#define DTS_REDRAWS 30
#define LCB_TIE 1e-4

static const char *const MethodNames[HP_SEL_NMETHODS] = {
	"random", "ultrafeedback", "maxmin", "infomax", "dts", "drts", "deltaucb", "maxminlcb"
};

/* Method by name (case-sensitive, as documented). */
HpStatus
hp_select_method(const char *name, bool by_score, HpSelectMethod *m, HpError *err)
{
	int			limit = by_score ? HP_SEL_INFOMAX : HP_SEL_NMETHODS;

	for (int i = 0; i < limit; i++)
		if (strcmp(name, MethodNames[i]) == 0)
		{
			*m = (HpSelectMethod) i;
			return HP_OK;
		}
	hp_error(err, HP_EINVAL, "unknown selection method \"%s\"", name);
	hp_error_detail(err, "Valid methods are: %s.", hp_select_method_names(by_score));
	return HP_EINVAL;
}

/* Valid method names, comma separated. */
const char *
hp_select_method_names(bool by_score)
{
	return by_score ? "random, ultrafeedback, maxmin"
		: "random, ultrafeedback, maxmin, infomax, dts, drts, deltaucb, maxminlcb";
}

/* Order candidates by id. */
static int
CompareIds(const void *a, const void *b)
{
	int64_t		x = ((const HpCandidate *) a)->id,
				y = ((const HpCandidate *) b)->id;

	return (x > y) - (x < y);
}

/* Logistic function without overflow. */
static inline double
Sigmoid(double z)
{
	return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

/* Two distinct indices uniformly. */
static void
RandomPair(HpRng *r, int n, int *i, int *j)
{
	*i = (int) hp_rng_below(r, n);
	*j = (int) hp_rng_below(r, n - 1);
	if (*j >= *i)
		(*j)++;
}

/* Index of the largest sign*mu + beta*z*sigma, z ~ U(-1,1) (first on ties). */
static int
SampleArgmax(HpRng *r, const HpCandidate *c, int n, double sign, double beta)
{
	int			best = 0;
	double		bestv = -INFINITY;

	for (int k = 0; k < n; k++)
	{
		double		z = 2.0 * hp_rng_uniform(r) - 1.0;
		double		v = sign * c[k].mu + beta * z * c[k].sigma;

		if (v > bestv)
		{
			bestv = v;
			best = k;
		}
	}
	return best;
}

/* DTS / DRTS: argmax of one sample, then of another, redrawing on collision. */
static void
ThompsonPair(HpRng *r, const HpCandidate *c, int n, double beta, bool reversed, int *i, int *j)
{
	*i = SampleArgmax(r, c, n, 1.0, beta);
	for (int t = 0; t < DTS_REDRAWS; t++)
	{
		*j = SampleArgmax(r, c, n, reversed ? -1.0 : 1.0, beta);
		if (*j != *i)
			return;
	}
	/* Still the same response: fall back to a random distinct one. */
	*j = (int) hp_rng_below(r, n - 1);
	if (*j >= *i)
		(*j)++;
}

/* Pair i != j maximising U_i - L_j. */
static void
DeltaUcbPair(const HpCandidate *c, int n, double beta, int *bi, int *bj)
{
	double		best = -INFINITY;

	/* O(n^2) is exact and cheap for per-prompt candidate counts. */
	for (int i = 0; i < n; i++)
	{
		if ((i & 255) == 0)
			hp_check_interrupts();
		for (int j = 0; j < n; j++)
		{
			double		v;

			if (i == j)
				continue;
			v = (c[i].mu + beta * c[i].sigma) - (c[j].mu - beta * c[j].sigma);
			if (v > best)
			{
				best = v;
				*bi = i;
				*bj = j;
			}
		}
	}
}

/* Pair maximising sigmoid(U_i - L_j) - sigmoid(L_i - U_j). */
static void
InfoMaxPair(const HpCandidate *c, int n, double beta, int *bi, int *bj)
{
	double		best = -INFINITY;

	for (int i = 0; i < n; i++)
	{
		if ((i & 255) == 0)
			hp_check_interrupts();
		for (int j = i + 1; j < n; j++)
		{
			double		ui = c[i].mu + beta * c[i].sigma,
						li = c[i].mu - beta * c[i].sigma,
						uj = c[j].mu + beta * c[j].sigma,
						lj = c[j].mu - beta * c[j].sigma;
			double		v = Sigmoid(ui - lj) - Sigmoid(li - uj);

			if (v > best)
			{
				best = v;
				*bi = i;
				*bj = j;
			}
		}
	}
}

/* LCB(i,j) = (mu_i - mu_j) - beta (sigma_i + sigma_j). */
static inline double
Lcb(const HpCandidate *c, int i, int j, double beta)
{
	return (c[i].mu - c[j].mu) - beta * (c[i].sigma + c[j].sigma);
}

/* Among values within LCB_TIE of the extreme, pick one with the generator. */
static int
BreakTie(HpRng *r, const double *v, int n, int skip, bool maximise)
{
	double		ext = maximise ? -INFINITY : INFINITY;
	int			count = 0,
				pick;

	for (int k = 0; k < n; k++)
		if (k != skip && (maximise ? v[k] > ext : v[k] < ext))
			ext = v[k];
	for (int k = 0; k < n; k++)
		if (k != skip && fabs(v[k] - ext) <= LCB_TIE)
			count++;
	pick = (int) hp_rng_below(r, count);
	for (int k = 0; k < n; k++)
		if (k != skip && fabs(v[k] - ext) <= LCB_TIE && pick-- == 0)
			return k;
	return skip == 0 ? 1 : 0;	/* unreachable with n >= 2 */
}

/* MaxMinLCB: first = argmax_i min_j LCB(i,j); second = argmin_j LCB(first,j). */
static void
MaxMinLcbPair(HpRng *r, const HpCandidate *c, int n, double beta, int *bi, int *bj)
{
	double	   *worst = hp_alloc(sizeof(double) * n);
	double	   *row = hp_alloc(sizeof(double) * n);

	for (int i = 0; i < n; i++)
	{
		if ((i & 255) == 0)
			hp_check_interrupts();
		worst[i] = INFINITY;
		for (int j = 0; j < n; j++)
			if (j != i)
				worst[i] = fmin(worst[i], Lcb(c, i, j, beta));
	}
	*bi = BreakTie(r, worst, n, -1, true);
	for (int j = 0; j < n; j++)
		row[j] = (j == *bi) ? 0.0 : Lcb(c, *bi, j, beta);
	*bj = BreakTie(r, row, n, *bi, false);
	hp_free(worst);
	hp_free(row);
}

/* Index of the largest (or smallest) mu, first in id order on ties. */
static int
ArgExtreme(const HpCandidate *c, int n, bool maximise)
{
	int			k = 0;

	for (int i = 1; i < n; i++)
		if (maximise ? c[i].mu > c[k].mu : c[i].mu < c[k].mu)
			k = i;
	return k;
}

/* UltraFeedback: sample up to 4, best vs a random other of the sample. */
static void
UltraFeedbackPair(HpRng *r, const HpCandidate *c, int n, int *bi, int *bj)
{
	int			idx[4];
	int			m = n < 4 ? n : 4;
	int			best = 0,
				other;

	/* Partial Fisher-Yates over an index permutation. */
	int		   *perm = hp_alloc(sizeof(int) * n);

	for (int k = 0; k < n; k++)
		perm[k] = k;
	for (int k = 0; k < m; k++)
	{
		int			t = k + (int) hp_rng_below(r, n - k);
		int			s = perm[k];

		perm[k] = perm[t];
		perm[t] = s;
		idx[k] = perm[k];
	}
	hp_free(perm);
	for (int k = 1; k < m; k++)
		if (c[idx[k]].mu > c[idx[best]].mu)
			best = k;
	other = (int) hp_rng_below(r, m - 1);
	if (other >= best)
		other++;
	*bi = idx[best];
	*bj = idx[other];
}

/* See hp_select.h. */
HpStatus
hp_select_pair(HpCandidate *c, int n, HpSelectMethod method, double beta,
			   int64_t seed, int64_t out[2], HpError *err)
{
	HpRng		r;
	uint64_t	h = hp_mix64((uint64_t) seed);
	int			i = 0,
				j = 1;

	if (n < 2)
		return hp_error(err, HP_EINVAL, "at least two candidates are needed");
	if (!(beta >= 0.0) || !isfinite(beta))
		return hp_error(err, HP_EINVAL, "beta must be a finite number >= 0");
	for (int k = 0; k < n; k++)
		if (!isfinite(c[k].mu) || !isfinite(c[k].sigma))
			return hp_error(err, HP_EDATA, "candidate %lld has a non-finite reward or score",
							(long long) c[k].id);
	qsort(c, n, sizeof(HpCandidate), CompareIds);
	for (int k = 0; k < n; k++)
	{
		if (k > 0 && c[k].id == c[k - 1].id)
			return hp_error(err, HP_EINVAL, "duplicate response id %lld in one group",
							(long long) c[k].id);
		h = hp_mix64(h ^ (uint64_t) c[k].id);
	}
	hp_rng_seed(&r, h);

	switch (method)
	{
		case HP_SEL_RANDOM:
			RandomPair(&r, n, &i, &j);
			break;
		case HP_SEL_ULTRAFEEDBACK:
			UltraFeedbackPair(&r, c, n, &i, &j);
			break;
		case HP_SEL_MAXMIN:
			i = ArgExtreme(c, n, true);
			j = ArgExtreme(c, n, false);
			if (i == j)			/* all equal: any distinct pair */
				j = (i + 1) % n;
			break;
		case HP_SEL_INFOMAX:
			InfoMaxPair(c, n, beta, &i, &j);
			break;
		case HP_SEL_DTS:
			ThompsonPair(&r, c, n, beta, false, &i, &j);
			break;
		case HP_SEL_DRTS:
			ThompsonPair(&r, c, n, beta, true, &i, &j);
			break;
		case HP_SEL_DELTAUCB:
			DeltaUcbPair(c, n, beta, &i, &j);
			break;
		case HP_SEL_MAXMINLCB:
			MaxMinLcbPair(&r, c, n, beta, &i, &j);
			break;
		default:
			return hp_error(err, HP_EINVAL, "unknown selection method %d", (int) method);
	}
	/* first is the predicted better response (method order on ties). */
	if (c[j].mu > c[i].mu)
	{
		int			t = i;

		i = j;
		j = t;
	}
	out[0] = c[i].id;
	out[1] = c[j].id;
	return HP_OK;
}
