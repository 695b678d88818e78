/*
 * select_agg.c: the hp.select_pair and hp.select_pair_by_score aggregates.
 *
 * The transition scores each candidate (mean and std over the model's
 * heads) and keeps (id, mu, sigma); the final function hands the group to
 * the core, which orders candidates by id before any random draw, so the
 * pair is the same for any row order or plan.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "hp_blas.h"
#include "hp_pg.h"
#include "hp_score.h"
#include "hp_select.h"

typedef struct SelectState
{
	int			n;
	int			cap;
	bool		by_score;
	int			method;
	double		beta;
	int64		seed;
	HpCandidate *c;
} SelectState;

PG_FUNCTION_INFO_V1(select_trans);
PG_FUNCTION_INFO_V1(select_score_trans);
PG_FUNCTION_INFO_V1(select_combine);
PG_FUNCTION_INFO_V1(select_serial);
PG_FUNCTION_INFO_V1(select_deserial);
PG_FUNCTION_INFO_V1(select_final);

/* Aggregate context, or an error outside an aggregate. */
static MemoryContext
SelectContext(FunctionCallInfo fcinfo)
{
	MemoryContext agg;

	if (!AggCheckCallContext(fcinfo, &agg))
		elog(ERROR, "hybridpref selection function called in non-aggregate context");
	return agg;
}

/* New state with validated method and beta. */
static SelectState *
NewState(MemoryContext agg, text *method, double beta, int64 seed, bool by_score)
{
	SelectState *st = MemoryContextAllocZero(agg, sizeof(SelectState));
	char	   *name = text_to_cstring(method);
	HpSelectMethod m;
	HpError		err;

	if (hp_select_method(name, by_score, &m, &err) != HP_OK)
		HpReportError(&err);
	if (!(beta >= 0.0) || isinf(beta))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("beta must be a finite number >= 0, got %g", beta)));
	st->method = (int) m;
	st->beta = beta;
	st->seed = seed;
	st->by_score = by_score;
	st->cap = 16;
	st->c = MemoryContextAlloc(agg, sizeof(HpCandidate) * st->cap);
	return st;
}

/* Append a candidate, growing the array geometrically. */
static void
Push(SelectState *st, MemoryContext agg, int64 id, double mu, double sigma)
{
	if (st->n == st->cap)
	{
		if (st->cap >= (int) (MaxAllocSize / sizeof(HpCandidate) / 2))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many candidates in one group")));
		st->cap *= 2;
		st->c = repalloc(st->c, sizeof(HpCandidate) * st->cap);
	}
	st->c[st->n].id = id;
	st->c[st->n].mu = mu;
	st->c[st->n].sigma = sigma;
	st->n++;
	(void) agg;
}

/* Raise the documented error for a NULL argument that has no meaning. */
static void
RequireNotNull(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
}

/*
 * Error unless this row's method, beta and seed (arguments ma, ba, sa; ba
 * < 0 when the form has no beta) equal the state's.  Constant arguments
 * are not re-read.
 */
static void
CheckSettings(FunctionCallInfo fcinfo, const SelectState *st, int ma, int ba, int sa,
			  const char *aggname)
{
	if (HpAggArgMayVary(fcinfo, ma))
	{
		char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(ma));
		HpSelectMethod m;
		HpError		err;

		if (hp_select_method(name, st->by_score, &m, &err) != HP_OK)
			HpReportError(&err);
		if ((int) m != st->method)
			HpAggArgChanged("method", aggname);
		pfree(name);
	}
	if (ba > 0 && HpAggArgMayVary(fcinfo, ba) && PG_GETARG_FLOAT8(ba) != st->beta)
		HpAggArgChanged("beta", aggname);
	if (HpAggArgMayVary(fcinfo, sa) && PG_GETARG_INT64(sa) != st->seed)
		HpAggArgChanged("seed", aggname);
}

/* Transition of select_pair(m, response_id, x, method, beta, seed). */
Datum
select_trans(PG_FUNCTION_ARGS)
{
	MemoryContext agg = SelectContext(fcinfo);
	SelectState *st = PG_ARGISNULL(0) ? NULL : (SelectState *) PG_GETARG_POINTER(0);
	HpScorer   *s;
	double		mu,
				sd;
	const float *x;

	RequireNotNull(fcinfo, 1, "model");
	RequireNotNull(fcinfo, 2, "response_id");
	RequireNotNull(fcinfo, 3, "x");
	RequireNotNull(fcinfo, 4, "method");
	RequireNotNull(fcinfo, 5, "beta");
	RequireNotNull(fcinfo, 6, "seed");
	if (st == NULL)
		st = NewState(agg, PG_GETARG_TEXT_PP(4), PG_GETARG_FLOAT8(5), PG_GETARG_INT64(6), false);
	else
		CheckSettings(fcinfo, st, 4, 5, 6, "hp.select_pair");

	/* The model is decoded once per query (cached on this flinfo). */
	s = HpCachedScorer(fcinfo, 1);
	x = HpModelInput(fcinfo, 3, s->dim, "x");
	hp_score_reward(s, x, &mu, &sd);
	Push(st, agg, PG_GETARG_INT64(2), mu, sd);
	PG_RETURN_POINTER(st);
}

/* Transition of select_pair_by_score(response_id, score, method, seed). */
Datum
select_score_trans(PG_FUNCTION_ARGS)
{
	MemoryContext agg = SelectContext(fcinfo);
	SelectState *st = PG_ARGISNULL(0) ? NULL : (SelectState *) PG_GETARG_POINTER(0);
	double		score;

	RequireNotNull(fcinfo, 1, "response_id");
	RequireNotNull(fcinfo, 3, "method");
	RequireNotNull(fcinfo, 4, "seed");
	if (st == NULL)
		st = NewState(agg, PG_GETARG_TEXT_PP(3), 0.0, PG_GETARG_INT64(4), true);
	else
		CheckSettings(fcinfo, st, 3, -1, 4, "hp.select_pair_by_score");
	if (PG_ARGISNULL(2))
		PG_RETURN_POINTER(st);	/* unscored candidates take no part */
	score = PG_GETARG_FLOAT8(2);
	if (!isfinite(score))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("score must be finite, got %g", score)));
	Push(st, agg, PG_GETARG_INT64(1), score, 0.0);
	PG_RETURN_POINTER(st);
}

/* Combine partial states: append candidates. */
Datum
select_combine(PG_FUNCTION_ARGS)
{
	MemoryContext agg = SelectContext(fcinfo);
	SelectState *a = PG_ARGISNULL(0) ? NULL : (SelectState *) PG_GETARG_POINTER(0);
	SelectState *b = PG_ARGISNULL(1) ? NULL : (SelectState *) PG_GETARG_POINTER(1);

	if (b == NULL)
		PG_RETURN_POINTER(a);
	if (a == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(agg);

		a = palloc(sizeof(SelectState));
		*a = *b;
		a->c = palloc(sizeof(HpCandidate) * Max(b->cap, 1));
		memcpy(a->c, b->c, sizeof(HpCandidate) * b->n);
		MemoryContextSwitchTo(old);
		PG_RETURN_POINTER(a);
	}
	if (a->method != b->method || a->beta != b->beta || a->seed != b->seed)
		HpAggArgChanged("method, beta and seed",
						a->by_score ? "hp.select_pair_by_score" : "hp.select_pair");
	for (int i = 0; i < b->n; i++)
		Push(a, agg, b->c[i].id, b->c[i].mu, b->c[i].sigma);
	PG_RETURN_POINTER(a);
}

/* Serialise: fixed header then the candidates. */
Datum
select_serial(PG_FUNCTION_ARGS)
{
	SelectState *st = (SelectState *) PG_GETARG_POINTER(0);
	Size		sz = VARHDRSZ + sizeof(SelectState) + sizeof(HpCandidate) * st->n;
	bytea	   *out;

	SelectContext(fcinfo);
	out = palloc(sz);
	SET_VARSIZE(out, sz);
	memcpy(VARDATA(out), st, sizeof(SelectState));
	memcpy(VARDATA(out) + sizeof(SelectState), st->c, sizeof(HpCandidate) * st->n);
	PG_RETURN_BYTEA_P(out);
}

/* Deserialise, checking the size against the stated count. */
Datum
select_deserial(PG_FUNCTION_ARGS)
{
	MemoryContext agg = SelectContext(fcinfo);
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	Size		len = VARSIZE_ANY_EXHDR(in);
	SelectState *st = MemoryContextAlloc(agg, sizeof(SelectState));

	if (len < sizeof(SelectState))
		goto corrupt;
	memcpy(st, VARDATA_ANY(in), sizeof(SelectState));
	if (st->n < 0 || len != sizeof(SelectState) + sizeof(HpCandidate) * (Size) st->n)
		goto corrupt;
	st->cap = Max(st->n, 1);
	st->c = MemoryContextAlloc(agg, sizeof(HpCandidate) * st->cap);
	memcpy(st->c, VARDATA_ANY(in) + sizeof(SelectState), sizeof(HpCandidate) * st->n);
	PG_RETURN_POINTER(st);
corrupt:
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("corrupted hybridpref selection state")));
	PG_RETURN_NULL();
}

/* Choose the pair: {first, second}, or NULL with fewer than two candidates. */
Datum
select_final(PG_FUNCTION_ARGS)
{
	SelectState *st;
	HpCandidate *c;
	int64		out[2];
	HpError		err;
	Datum		d[2];

	SelectContext(fcinfo);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (SelectState *) PG_GETARG_POINTER(0);
	if (st->n < 2)
		PG_RETURN_NULL();
	/* The core sorts in place; work on a copy so the state stays intact. */
	c = palloc(sizeof(HpCandidate) * st->n);
	memcpy(c, st->c, sizeof(HpCandidate) * st->n);
	if (hp_select_pair(c, st->n, (HpSelectMethod) st->method, st->beta, st->seed,
					   (int64_t *) out, &err) != HP_OK)
		HpReportError(&err);
	pfree(c);
	d[0] = Int64GetDatum(out[0]);
	d[1] = Int64GetDatum(out[1]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, 2, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
