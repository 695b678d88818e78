/*
 * score_fn.c: hp.reward, hp.reward_std, hp.prefer and hp.prefer_std.
 *
 * The model argument is decoded once per query and cached in fn_extra
 * (HpModelCached), so scoring millions of rows costs one gemv per row.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"

#include "hp_blas.h"
#include "hp_pg.h"
#include "hp_score.h"

PG_FUNCTION_INFO_V1(reward);
PG_FUNCTION_INFO_V1(reward_std);
PG_FUNCTION_INFO_V1(prefer);
PG_FUNCTION_INFO_V1(prefer_std);
PG_FUNCTION_INFO_V1(prefer_flip);

/* Scorer of the model in argument 0, built once per cached model. */
static HpScorer *
CachedScorer(FunctionCallInfo fcinfo)
{
	HpModelCache *c;

	HpBlasEnsure();
	c = HpModelCached(fcinfo, 0);
	if (c->scratch == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo((MemoryContext) c->cxt);
		HpScorer   *s = palloc0(sizeof(HpScorer));
		HpError		err;

		if (hp_scorer_init(s, &c->model, &err) != HP_OK)
		{
			MemoryContextSwitchTo(old);
			HpReportError(&err);
		}
		c->scratch = s;
		MemoryContextSwitchTo(old);
	}
	return (HpScorer *) c->scratch;
}

/* Validated embedding argument matching the model's dimension. */
static const float *
ModelInput(FunctionCallInfo fcinfo, int argno, const HpScorer *s, const char *what)
{
	int			dim;
	const float *x = HpArrayFloats(PG_GETARG_ARRAYTYPE_P(argno), what, &dim);

	if (dim != s->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s has %d dimensions but the model expects %d", what, dim, s->dim)));
	return x;
}

/* Ensemble-mean reward of x. */
Datum
reward(PG_FUNCTION_ARGS)
{
	HpScorer   *s = CachedScorer(fcinfo);
	double		mean;

	hp_score_reward(s, ModelInput(fcinfo, 1, s, "x"), &mean, NULL);
	PG_RETURN_FLOAT8(mean);
}

/* Epistemic std of the reward of x (across heads, or Laplace). */
Datum
reward_std(PG_FUNCTION_ARGS)
{
	HpScorer   *s = CachedScorer(fcinfo);
	double		sd;

	hp_score_reward(s, ModelInput(fcinfo, 1, s, "x"), NULL, &sd);
	PG_RETURN_FLOAT8(sd);
}

/* P(a preferred over b), averaged over heads. */
Datum
prefer(PG_FUNCTION_ARGS)
{
	HpScorer   *s = CachedScorer(fcinfo);
	double		mean;

	hp_score_prefer(s, ModelInput(fcinfo, 1, s, "a"), ModelInput(fcinfo, 2, s, "b"), &mean, NULL);
	PG_RETURN_FLOAT8(mean);
}

/* Spread across heads of P(a preferred over b). */
Datum
prefer_std(PG_FUNCTION_ARGS)
{
	HpScorer   *s = CachedScorer(fcinfo);
	double		sd;

	hp_score_prefer(s, ModelInput(fcinfo, 1, s, "a"), ModelInput(fcinfo, 2, s, "b"), NULL, &sd);
	PG_RETURN_FLOAT8(sd);
}

/* Probability that the preferred side flips under the epistemic spread. */
Datum
prefer_flip(PG_FUNCTION_ARGS)
{
	HpScorer   *s = CachedScorer(fcinfo);

	PG_RETURN_FLOAT8(hp_score_flip(s, ModelInput(fcinfo, 1, s, "a"), ModelInput(fcinfo, 2, s, "b")));
}
