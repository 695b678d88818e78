/*
 * dist_agg.c: hp.distinguishability, hp.covariance_power_step and
 * hp.priority_gap (fmgr glue over src/core/dist.c).
 *
 * The aggregate states are plain bytea values (see hp_dist.h for why), so
 * there are no serial/deserial functions: the executor and Citus move them
 * as ordinary datums.  Inside an aggregate the transition functions update
 * the state in place; the executor copies a state only when it receives a
 * new pointer, which happens once per group, on the first row.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"

#include "hp_blas.h"
#include "hp_dist.h"
#include "hp_json.h"
#include "hp_pg.h"

/* Most behaviours hp.priority_gap accepts (k^2 output rows). */
#define GAP_MAX_BEHAVIOURS 4096

PG_FUNCTION_INFO_V1(dist_trans);
PG_FUNCTION_INFO_V1(dist_combine);
PG_FUNCTION_INFO_V1(dist_final);
PG_FUNCTION_INFO_V1(covstep_trans);
PG_FUNCTION_INFO_V1(covstep_combine);
PG_FUNCTION_INFO_V1(covstep_final);
PG_FUNCTION_INFO_V1(priority_gap_arrays);

/* Checked distinguishability state of an argument. */
static HpDistState *
DistState(FunctionCallInfo fcinfo, int argno, bool writable)
{
	bytea	   *b = HpStateArg(fcinfo, argno, writable);
	HpError		err;

	if (hp_dist_check((HpDistState *) b, VARSIZE(b), &err) != HP_OK)
		HpReportError(&err);
	return (HpDistState *) b;
}

/* Raise the dimension-mismatch error of the core's class (HP_EDIM). */
static void
DimError(const char *fmt, int a, int b)
{
	HpError		err;

	hp_error(&err, HP_EDIM, fmt, a, b);
	HpReportError(&err);
}

/*
 * Transition of hp.distinguishability(chosen, rejected).  A NULL vector
 * leaves its side out for this row, so rows may carry one side each.
 */
Datum
dist_trans(PG_FUNCTION_ARGS)
{
	HpDistState *st = PG_ARGISNULL(0) ? NULL : DistState(fcinfo, 0, true);
	const float *x[2] = {NULL, NULL};
	int			dims[2] = {0, 0};
	int			dim;

	for (int k = 0; k < 2; k++)
		if (!PG_ARGISNULL(k + 1))
			x[k] = HpArrayFloats(PG_GETARG_ARRAYTYPE_P(k + 1), k ? "rejected" : "chosen", &dims[k]);
	if (x[0] && x[1] && dims[0] != dims[1])
		DimError("chosen has %d dimensions but rejected has %d", dims[0], dims[1]);
	if (!x[0] && !x[1])
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_BYTEA_P((bytea *) st);
	}
	dim = x[0] ? dims[0] : dims[1];
	HpBlasEnsure();
	if (st == NULL)
	{
		/*
		 * Built in the per-row context: the executor copies a new state into
		 * the aggregate context itself, so allocating it there would leave a
		 * dead copy behind.
		 */
		Size		size = hp_dist_state_size(dim);

		st = palloc0(size);
		SET_VARSIZE(st, size);
		hp_dist_init(st, dim);
	}
	else if (st->dim != dim)
		DimError("distinguishability rows have different dimensions: %d and %d", st->dim, dim);
	for (int k = 0; k < 2; k++)
		if (x[k])
			hp_dist_add(st, k, x[k]);
	PG_RETURN_BYTEA_P((bytea *) st);
}

/* Combine two partial states (strict: the executor adopts the first one). */
Datum
dist_combine(PG_FUNCTION_ARGS)
{
	HpDistState *a = DistState(fcinfo, 0, true);
	HpDistState *b = DistState(fcinfo, 1, false);
	HpError		err;

	HpBlasEnsure();
	if (hp_dist_merge(a, b, &err) != HP_OK)
		HpReportError(&err);
	PG_RETURN_BYTEA_P((bytea *) a);
}

/* The statistics as jsonb; the state is left untouched. */
Datum
dist_final(PG_FUNCTION_ARGS)
{
	HpDistState *st = DistState(fcinfo, 0, false);
	HpDistStats stats;
	HpError		err;
	HpBuf		b;

	HpBlasEnsure();
	if (hp_dist_finalize(st, &stats, &err) != HP_OK)
		HpReportError(&err);
	hp_buf_init(&b);
	hp_dist_stats_json(&stats, &b);
	hp_dist_stats_free(&stats);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(hp_buf_finish(&b, NULL))));
}

/* Checked power-step state of an argument. */
static HpCovStep *
CovState(FunctionCallInfo fcinfo, int argno, bool writable)
{
	bytea	   *b = HpStateArg(fcinfo, argno, writable);
	HpError		err;

	if (hp_covstep_check((HpCovStep *) b, VARSIZE(b), &err) != HP_OK)
		HpReportError(&err);
	return (HpCovStep *) b;
}

/* Transition of hp.covariance_power_step(x, v); NULL x rows are skipped. */
Datum
covstep_trans(PG_FUNCTION_ARGS)
{
	HpCovStep  *st = PG_ARGISNULL(0) ? NULL : CovState(fcinfo, 0, true);
	const float *x;
	const double *v;
	int			dim,
				vdim;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("v must not be NULL")));
	if (PG_ARGISNULL(1))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_BYTEA_P((bytea *) st);
	}
	x = HpArrayFloats(PG_GETARG_ARRAYTYPE_P(1), "x", &dim);
	v = HpArrayDoubles(PG_GETARG_ARRAYTYPE_P(2), "v", &vdim);
	if (dim != vdim)
		DimError("x has %d dimensions but v has %d", dim, vdim);
	if (st == NULL)
	{
		Size		size = hp_covstep_size(dim);

		st = palloc(size);
		SET_VARSIZE(st, size);
		hp_covstep_init(st, dim, v);
	}
	else if (st->dim != dim)
		DimError("covariance step rows have different dimensions: %d and %d", st->dim, dim);
	else if (!hp_covstep_same_v(st, v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("v must be the same in every row of hp.covariance_power_step")));
	hp_covstep_add(st, x);
	PG_RETURN_BYTEA_P((bytea *) st);
}

/* Combine two power-step states. */
Datum
covstep_combine(PG_FUNCTION_ARGS)
{
	HpCovStep  *a = CovState(fcinfo, 0, true);
	HpCovStep  *b = CovState(fcinfo, 1, false);
	HpError		err;

	if (hp_covstep_merge(a, b, &err) != HP_OK)
		HpReportError(&err);
	PG_RETURN_BYTEA_P((bytea *) a);
}

/* S v as float8[], or NULL with fewer than two rows. */
Datum
covstep_final(PG_FUNCTION_ARGS)
{
	HpCovStep  *st = CovState(fcinfo, 0, false);
	double	   *out = palloc(sizeof(double) * st->dim);
	Datum	   *d;

	if (!hp_covstep_result(st, out))
		PG_RETURN_NULL();
	d = palloc(sizeof(Datum) * st->dim);
	for (int j = 0; j < st->dim; j++)
		d[j] = Float8GetDatum(out[j]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, st->dim, FLOAT8OID, sizeof(float8),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * mean_diff of one hp.distinguishability result into out (dim values,
 * *dim set by the first vector seen).  False when the value is NULL or its
 * mean_diff is null (a behaviour with an empty side).
 */
static bool
MeanDiff(Datum stats, int idx, int *dim, double **out)
{
	Jsonb	   *jb = DatumGetJsonbP(stats);
	JsonbValue *v;
	JsonbContainer *c;
	int			n;

	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stats[%d] is not an object returned by hp.distinguishability", idx + 1)));
	v = getKeyJsonValueFromContainer(&jb->root, "mean_diff", 9, NULL);
	if (v == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stats[%d] has no \"mean_diff\"", idx + 1),
				 errhint("Pass the values returned by hp.distinguishability.")));
	if (v->type == jbvNull)
		return false;
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stats[%d].mean_diff must be an array of numbers", idx + 1)));
	c = v->val.binary.data;
	n = JsonContainerSize(c);
	if (n < 1 || n > HP_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stats[%d].mean_diff has %d elements", idx + 1, n)));
	if (*dim == 0)
		*dim = n;
	else if (n != *dim)
		DimError("mean_diff vectors have different dimensions: %d and %d", *dim, n);
	*out = palloc(sizeof(double) * n);
	for (int j = 0; j < n; j++)
	{
		JsonbValue *e = getIthJsonbValueFromContainer(c, j);

		if (e == NULL || e->type != jbvNumeric)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("stats[%d].mean_diff must be an array of numbers", idx + 1)));
		(*out)[j] = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
													   NumericGetDatum(e->val.numeric)));
	}
	return true;
}

/*
 * hp.priority_gap(names text[], stats jsonb[]): every ordered pair (i, j),
 * i != j, with its gap; NULL where a side is missing or the gap undefined.
 */
Datum
priority_gap_arrays(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *na,
			   *sa;
	Datum	   *names,
			   *stats;
	bool	   *nnull,
			   *snull;
	int			k,
				ks,
				dim = 0,
				m = 0;
	int		   *row;			/* behaviour -> row of D, or -1 */
	double	  **vec;
	double	   *D = NULL,
			   *gap = NULL;
	HpError		err;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("names and stats must not be NULL")));
	na = PG_GETARG_ARRAYTYPE_P(0);
	sa = PG_GETARG_ARRAYTYPE_P(1);
	if (ARR_NDIM(na) > 1 || ARR_NDIM(sa) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("names and stats must be one-dimensional arrays")));
	deconstruct_array(na, TEXTOID, -1, false, TYPALIGN_INT, &names, &nnull, &k);
	deconstruct_array(sa, JSONBOID, -1, false, TYPALIGN_INT, &stats, &snull, &ks);
	if (k != ks)
		DimError("names has %d elements but stats has %d", k, ks);
	for (int i = 0; i < k; i++)
		if (nnull[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("names must not contain NULL elements")));
	if (k > GAP_MAX_BEHAVIOURS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%d behaviours is more than the maximum of %d", k, GAP_MAX_BEHAVIOURS)));

	InitMaterializedSRF(fcinfo, 0);
	if (k == 0)
		return (Datum) 0;
	row = palloc(sizeof(int) * k);
	vec = palloc0(sizeof(double *) * k);
	for (int i = 0; i < k; i++)
		row[i] = !snull[i] && MeanDiff(stats[i], i, &dim, &vec[i]) ? m++ : -1;
	if (m > 0)
	{
		HpBlasEnsure();
		D = palloc(sizeof(double) * (Size) m * dim);
		for (int i = 0; i < k; i++)
			if (row[i] >= 0)
				memcpy(D + (Size) row[i] * dim, vec[i], sizeof(double) * dim);
		gap = palloc(sizeof(double) * (Size) m * m);
		if (hp_dist_gaps(D, m, dim, gap, &err) != HP_OK)
			HpReportError(&err);
	}
	for (int i = 0; i < k; i++)
		for (int j = 0; j < k; j++)
		{
			Datum		values[3];
			bool		nulls[3];
			double		g = NAN;

			if (i == j)
				continue;
			if (row[i] >= 0 && row[j] >= 0)
				g = gap[(Size) row[i] * m + row[j]];
			values[0] = names[i];
			nulls[0] = nnull[i];
			values[1] = names[j];
			nulls[1] = nnull[j];
			values[2] = Float8GetDatum(g);
			nulls[2] = isnan(g);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	return (Datum) 0;
}
