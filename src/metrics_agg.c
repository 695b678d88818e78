/*
 * metrics_agg.c: hp.eval_metrics, held-out accuracy, log-loss, Brier score
 * and calibration of a reward model as one aggregate (fmgr glue over
 * src/core/metrics.c).
 *
 * The state is a fixed-size bytea of counts and sums, updated in place, so
 * parallel workers and Citus shards evaluate their own rows and only the
 * small state travels.  The model is decoded once per query and cached on
 * the transition function's flinfo, with its scorer.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#include "hp_blas.h"
#include "hp_json.h"
#include "hp_metrics.h"
#include "hp_pg.h"
#include "hp_score.h"

PG_FUNCTION_INFO_V1(eval_metrics_trans);
PG_FUNCTION_INFO_V1(eval_metrics_combine);
PG_FUNCTION_INFO_V1(eval_metrics_final);

/*
 * A state argument as an aligned, plain bytea, checked; in place only for
 * the transition value of an aggregate (see dist_agg.c).
 */
static HpMetricsState *
MetricsState(FunctionCallInfo fcinfo, int argno, bool writable)
{
	bytea	   *b = HpStateArg(fcinfo, argno, writable);
	HpError		err;

	if (hp_metrics_check((HpMetricsState *) b, VARSIZE(b), &err) != HP_OK)
		HpReportError(&err);
	return (HpMetricsState *) b;
}

/*
 * Transition of hp.eval_metrics(m, a, b, p_a) and (m, chosen, rejected),
 * the latter with p = 1.  Rows with a NULL vector or label are skipped;
 * a NULL model is an error, so a missing model cannot pass for no rows.
 */
Datum
eval_metrics_trans(PG_FUNCTION_ARGS)
{
	bool		soft = (PG_NARGS() == 5);
	HpMetricsState *st;
	HpScorer   *s;
	const char *na = soft ? "a" : "chosen",
			   *nb = soft ? "b" : "rejected";
	const float *a,
			   *b;
	double		p = 1.0,
				q;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "hp.eval_metrics transition function called in non-aggregate context");
	st = PG_ARGISNULL(0) ? NULL : MetricsState(fcinfo, 0, true);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("m must not be NULL")));
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3) || (soft && PG_ARGISNULL(4)))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_BYTEA_P((bytea *) st);
	}
	if (soft)
	{
		p = PG_GETARG_FLOAT8(4);
		if (!(p >= 0.0 && p <= 1.0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("p_a must be between 0 and 1, got %g", p)));
	}
	HpBlasEnsure();
	s = HpCachedScorer(fcinfo, 1);
	/* In argument order, so the error names the first offending one. */
	a = HpModelInput(fcinfo, 2, s->dim, na);
	b = HpModelInput(fcinfo, 3, s->dim, nb);
	hp_score_prefer(s, a, b, &q, NULL);
	if (st == NULL)
	{
		/* Per-row context: the executor copies a new state itself. */
		st = palloc0(sizeof(HpMetricsState));
		SET_VARSIZE(st, sizeof(HpMetricsState));
		hp_metrics_init(st);
	}
	hp_metrics_add(st, q, p);
	PG_RETURN_BYTEA_P((bytea *) st);
}

/* Combine two partial states (strict: the executor adopts the first one). */
Datum
eval_metrics_combine(PG_FUNCTION_ARGS)
{
	HpMetricsState *a = MetricsState(fcinfo, 0, true);
	HpMetricsState *b = MetricsState(fcinfo, 1, false);

	hp_metrics_merge(a, b);
	PG_RETURN_BYTEA_P((bytea *) a);
}

/* The metrics as jsonb; the state is left untouched. */
Datum
eval_metrics_final(PG_FUNCTION_ARGS)
{
	HpMetricsState *st = MetricsState(fcinfo, 0, false);
	HpBuf		b;

	hp_buf_init(&b);
	hp_metrics_json(st, &b);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(hp_buf_finish(&b, NULL))));
}
