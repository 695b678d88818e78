/*
 * score_fn.c: hp.reward, hp.reward_std, hp.prefer and hp.prefer_std.
 *
 * The model argument is decoded once per query and cached in fn_extra
 * (HpModelCached), so scoring millions of rows costs one gemv per row.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/array.h"

#include "hp_blas.h"
#include "hp_pg.h"
#include "hp_score.h"

PG_FUNCTION_INFO_V1(reward);

/* A score that overflowed float32 (huge embeddings or weights) is an error. */
static double
Finite(double v)
{
	if (!isfinite(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("score is out of the real range"),
				 errdetail("The embedding or the model has values so large that w.x overflows float32.")));
	return v;
}

PG_FUNCTION_INFO_V1(reward_std);
PG_FUNCTION_INFO_V1(prefer);
PG_FUNCTION_INFO_V1(prefer_std);
PG_FUNCTION_INFO_V1(prefer_flip);

/* Ensemble-mean reward of x. */
Datum
reward(PG_FUNCTION_ARGS)
{
	HpScorer   *s = HpCachedScorer(fcinfo, 0);
	double		mean;

	hp_score_reward(s, HpModelInput(fcinfo, 1, s->dim, "x"), &mean, NULL);
	PG_RETURN_FLOAT8(Finite(mean));
}

/* Epistemic std of the reward of x (across heads, or Laplace). */
Datum
reward_std(PG_FUNCTION_ARGS)
{
	HpScorer   *s = HpCachedScorer(fcinfo, 0);
	double		sd;

	hp_score_reward(s, HpModelInput(fcinfo, 1, s->dim, "x"), NULL, &sd);
	PG_RETURN_FLOAT8(Finite(sd));
}

/* P(a preferred over b), averaged over heads. */
Datum
prefer(PG_FUNCTION_ARGS)
{
	HpScorer   *s = HpCachedScorer(fcinfo, 0);
	double		mean;

	hp_score_prefer(s, HpModelInput(fcinfo, 1, s->dim, "a"), HpModelInput(fcinfo, 2, s->dim, "b"), &mean, NULL);
	PG_RETURN_FLOAT8(Finite(mean));
}

/* Spread across heads of P(a preferred over b). */
Datum
prefer_std(PG_FUNCTION_ARGS)
{
	HpScorer   *s = HpCachedScorer(fcinfo, 0);
	double		sd;

	hp_score_prefer(s, HpModelInput(fcinfo, 1, s->dim, "a"), HpModelInput(fcinfo, 2, s->dim, "b"), NULL, &sd);
	PG_RETURN_FLOAT8(Finite(sd));
}

/* Probability that the preferred side flips under the epistemic spread. */
Datum
prefer_flip(PG_FUNCTION_ARGS)
{
	HpScorer   *s = HpCachedScorer(fcinfo, 0);

	PG_RETURN_FLOAT8(Finite(hp_score_flip(s, HpModelInput(fcinfo, 1, s->dim, "a"), HpModelInput(fcinfo, 2, s->dim, "b"))));
}
