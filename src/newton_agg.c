/*
 * newton_agg.c: hp.bt_newton_step (one Newton pass as an aggregate) and
 * hp.train_reward_model_iterative (the driver), fmgr glue over
 * src/core/newton.c.
 *
 * The aggregate state is a plain bytea (see hp_newton.h for why), so
 * there are no serial/deserial functions and Citus pushes the aggregate
 * down: workers fold their shards' rows, the coordinator adds the sums.
 * The transition function updates the state in place; the executor copies
 * a state only when it receives a new pointer, once per group, on the
 * first row.  The driver runs one such query per pass through SPI, so
 * nothing but O(heads * dim^2) sums ever leaves the rows' node.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "hp_blas.h"
#include "hp_json.h"
#include "hp_newton.h"
#include "hp_options.h"
#include "hp_pg.h"
#include "hp_train.h"

PG_FUNCTION_INFO_V1(newton_step_trans);
PG_FUNCTION_INFO_V1(newton_step_combine);
PG_FUNCTION_INFO_V1(newton_step_final);
PG_FUNCTION_INFO_V1(newton_step_info);
PG_FUNCTION_INFO_V1(train_iterative);

/* Weights of the model argument, extracted once per decoded model. */
typedef struct StepModel
{
	int			heads;
	int			center;
	int			dim;
	float	   *W;				/* heads x dim */
} StepModel;

/*
 * A state argument as an aligned, plain (4-byte header) bytea, checked.
 * writable: modified by the caller, which is allowed in place only for the
 * transition value of an aggregate; anywhere else it works on a copy so a
 * direct call never changes its input.
 */
static HpNewtonState *
StepState(FunctionCallInfo fcinfo, int argno, bool writable)
{
	Datum		d = PG_GETARG_DATUM(argno);
	bytea	   *b = PG_GETARG_BYTEA_P(argno);
	bool		in_place = writable && AggCheckCallContext(fcinfo, NULL) &&
		(Pointer) b == DatumGetPointer(d);
	HpError		err;

	/* Tuples align bytea on 4 bytes only; the doubles inside need 8. */
	if (!in_place && (writable || (uintptr_t) b % sizeof(double) != 0))
	{
		bytea	   *copy = palloc(VARSIZE(b));

		memcpy(copy, b, VARSIZE(b));
		b = copy;
	}
	if (hp_newton_check((HpNewtonState *) b, VARSIZE(b), &err) != HP_OK)
		HpReportError(&err);
	return (HpNewtonState *) b;
}

/* Parse training options text; HP errors become SQL errors. */
static void
ParseOptions(const char *text, HpTrainOptions *opt, char **canonical)
{
	HpError		err;

	if (hp_train_options_parse(text, strlen(text), opt, canonical, &err) != HP_OK)
		HpReportError(&err);
}

/*
 * The model argument's weights for (heads, center), decoded once per query
 * (HpModelCached) and extracted once per decoded model.  A rebuilt cache
 * means a different model value: it must equal the weights the state is
 * being evaluated at, since one pass is one point.
 */
static const StepModel *
ModelWeights(FunctionCallInfo fcinfo, int argno, int heads, int center, const HpNewtonState *st)
{
	HpModelCache *c = HpModelCached(fcinfo, argno);
	StepModel  *m = (StepModel *) c->scratch;

	if (m == NULL || m->heads != heads || m->center != center)
	{
		MemoryContext old = MemoryContextSwitchTo((MemoryContext) c->cxt);
		int			dim = (int) c->model.dim;
		float	   *W = palloc(sizeof(float) * heads * dim);
		HpError		err;

		if (hp_newton_model_w(&c->model, heads, center, W, &err) != HP_OK)
		{
			MemoryContextSwitchTo(old);
			HpReportError(&err);
		}
		m = palloc(sizeof(StepModel));
		m->heads = heads;
		m->center = center;
		m->dim = dim;
		m->W = W;
		c->scratch = m;
		MemoryContextSwitchTo(old);
		if (st && (st->dim != dim || !hp_newton_same_w(st, W)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("w must be the same in every row of hp.bt_newton_step")));
	}
	return m;
}

/*
 * Transition of hp.bt_newton_step(chosen, rejected, w, row_key, options)
 * and (a, b, p_a, w, row_key, options).  Rows with a NULL vector or label
 * are skipped, like the training aggregate; w NULL means zero weights;
 * options are read from the first row of each group.
 */
Datum
newton_step_trans(PG_FUNCTION_ARGS)
{
	bool		soft = (PG_NARGS() == 7);
	int			warg = soft ? 4 : 3,
				karg = warg + 1,
				oarg = warg + 2;
	HpNewtonState *st;
	const float *a,
			   *b;
	float	   *x;
	int			da,
				db;
	double		p = 1.0;
	uint64		key;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "hp.bt_newton_step transition function called in non-aggregate context");
	st = PG_ARGISNULL(0) ? NULL : StepState(fcinfo, 0, true);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || (soft && PG_ARGISNULL(3)))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_BYTEA_P((bytea *) st);
	}
	a = HpArrayFloats(PG_GETARG_ARRAYTYPE_P(1), soft ? "a" : "chosen", &da);
	b = HpArrayFloats(PG_GETARG_ARRAYTYPE_P(2), soft ? "b" : "rejected", &db);
	if (da != db)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s has %d dimensions but %s has %d",
						soft ? "a" : "chosen", da, soft ? "b" : "rejected", db)));
	if (soft)
	{
		p = PG_GETARG_FLOAT8(3);
		if (!(p >= 0.0 && p <= 1.0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("p_a must be between 0 and 1, got %g", p)));
	}
	HpBlasEnsure();

	if (st == NULL)
	{
		HpTrainOptions opt;
		int			heads,
					center,
					dim = da;
		const StepModel *m = NULL;
		size_t		size;
		HpError		err;

		if (PG_ARGISNULL(oarg))
			ParseOptions("{}", &opt, NULL);
		else
		{
			size_t		len;
			char	   *text = HpJsonbText(PG_GETARG_DATUM(oarg), &len);

			ParseOptions(text, &opt, NULL);
			pfree(text);
		}
		if (hp_newton_heads(&opt, &heads, &center, &err) != HP_OK)
			HpReportError(&err);
		if (!PG_ARGISNULL(warg))
		{
			m = ModelWeights(fcinfo, warg, heads, center, NULL);
			dim = m->dim;
		}
		if (hp_newton_state_size(dim, heads, &size, &err) != HP_OK)
			HpReportError(&err);

		/*
		 * Built in the per-row context: the executor copies a new state into
		 * the aggregate context itself, so allocating it there would leave a
		 * dead copy behind.
		 */
		st = palloc0(size);
		SET_VARSIZE(st, size);
		hp_newton_init(st, dim, heads, center, opt.seed, m ? m->W : NULL);
	}
	else if (PG_ARGISNULL(warg) != ((st->flags & HP_NEWTON_WZERO) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("w must be the same in every row of hp.bt_newton_step")));
	else if (!PG_ARGISNULL(warg))
		ModelWeights(fcinfo, warg, st->heads, st->center, st);

	if (da != st->dim && (st->flags & HP_NEWTON_WZERO))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("training rows have different dimensions: %d and %d", st->dim, da)));
	if (da != st->dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s has %d dimensions but w has %d", soft ? "a" : "chosen", da, st->dim)));

	/* a - b in float exactly as the in-memory trainer forms it, same key. */
	x = palloc(sizeof(float) * da);
	memcpy(x, a, sizeof(float) * da);
	hp_blas.saxpy(da, -1.0f, b, 1, x, 1);
	key = PG_ARGISNULL(karg) ? hp_row_key(x, da, (float) p)
		: hp_newton_user_key(PG_GETARG_INT64(karg));
	hp_newton_add(st, x, (float) p, key);
	pfree(x);
	PG_RETURN_BYTEA_P((bytea *) st);
}

/* Combine two partial states (strict: the executor adopts the first one). */
Datum
newton_step_combine(PG_FUNCTION_ARGS)
{
	HpNewtonState *a = StepState(fcinfo, 0, true);
	HpNewtonState *b = StepState(fcinfo, 1, false);
	HpError		err;

	HpBlasEnsure();
	if (hp_newton_merge(a, b, &err) != HP_OK)
		HpReportError(&err);
	PG_RETURN_BYTEA_P((bytea *) a);
}

/* The sums with every buffered row folded in, as a new bytea. */
Datum
newton_step_final(PG_FUNCTION_ARGS)
{
	HpNewtonState *st = StepState(fcinfo, 0, false);
	bytea	   *out;

	HpBlasEnsure();
	/* The state may be shared or finalised again: flush a copy. */
	out = palloc(VARSIZE(st));
	memcpy(out, st, VARSIZE(st));
	hp_newton_flush((HpNewtonState *) out);
	PG_RETURN_BYTEA_P(out);
}

/* Per-head values as a JSON array. */
static void
PutArray(HpBuf *b, const char *key, const double *v, int n)
{
	hp_buf_puts(b, ",\"");
	hp_buf_puts(b, key);
	hp_buf_puts(b, "\":[");
	for (int h = 0; h < n; h++)
	{
		if (h)
			hp_buf_putc(b, ',');
		hp_json_write_double(b, v[h]);
	}
	hp_buf_putc(b, ']');
}

/*
 * hp.bt_newton_step_info(state): a summary of a Newton step state for
 * inspection and tests: per solved head (center first) the weight sum S,
 * the loss sum L, |G| and tr K, buffered rows folded into a copy.
 */
Datum
newton_step_info(PG_FUNCTION_ARGS)
{
	HpNewtonState *st = StepState(fcinfo, 0, true);
	int			H,
				d;
	double	   *gn,
			   *tr;
	HpBuf		b;

	HpBlasEnsure();
	hp_newton_flush(st);
	H = st->heads;
	d = st->dim;
	gn = palloc(sizeof(double) * H);
	tr = palloc0(sizeof(double) * H);
	for (int h = 0; h < H; h++)
	{
		gn[h] = hp_blas.dnrm2(d, hp_newton_G(st) + (size_t) h * d, 1);
		for (int j = 0; j < d; j++)
			tr[h] += hp_newton_K(st)[((size_t) h * d + j) * d + j];
	}
	hp_buf_init(&b);
	hp_buf_puts(&b, "{\"dim\":");
	hp_json_write_int64(&b, d);
	hp_buf_puts(&b, ",\"heads\":");
	hp_json_write_int64(&b, H - st->center);
	hp_buf_puts(&b, ",\"center\":");
	hp_buf_puts(&b, st->center ? "true" : "false");
	hp_buf_puts(&b, ",\"rows\":");
	hp_json_write_int64(&b, st->n);
	hp_buf_puts(&b, ",\"seed\":");
	hp_json_write_int64(&b, st->seed);
	hp_buf_puts(&b, ",\"state_bytes\":");
	hp_json_write_int64(&b, VARSIZE(st));
	PutArray(&b, "weight_sum", hp_newton_S(st), H);
	PutArray(&b, "loss_sum", hp_newton_L(st), H);
	PutArray(&b, "gradient_norm", gn, H);
	PutArray(&b, "hessian_trace", tr, H);
	hp_buf_putc(&b, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(hp_buf_finish(&b, NULL))));
}

/* Fail early, naming the relation, when a column does not exist. */
static void
CheckColumn(Oid relid, const char *relname, const char *col)
{
	if (get_attnum(relid, col) == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist", col, relname)));
}

/* OID of type hp.model. */
static Oid
ModelTypeOid(void)
{
	TypeName   *tn = makeTypeNameFromNameList(list_make2(makeString("hp"), makeString("model")));

	return LookupTypeNameOid(NULL, tn, false);
}

/* A trial model datum holding weights W (heads x dim). */
static Datum
TrialModel(const float *W, int dim, int heads, int center, double lambda)
{
	HpModel		m;
	Datum		d;

	hp_newton_weights_model(W, dim, heads, center, &m);
	m.lambda = lambda;
	d = HpModelToDatum(&m);
	hp_model_free(&m);
	return d;
}

/*
 * hp.train_reward_model_iterative(relation, chosen, rejected, options,
 * row_key): one hp.bt_newton_step query per pass until every head's
 * relative gradient norm is at most tol, or after 1 + max_iter passes.
 */
Datum
train_iterative(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *relname,
			   *nspname,
			   *query,
			   *optext,
			   *rest,
			   *canonical = NULL;
	HpTrainOptions opt;
	HpModel		initm;
	bool		has_init = false;
	int			heads,
				center,
				dim = 0;
	float	   *W = NULL;
	HpNewtonSearch search;
	bool		started = false;
	HpError		err;
	MemoryContext outer = CurrentMemoryContext,
				work,
				pass;
	SPIPlanPtr	plan;
	Oid			argtypes[2];
	Datum		values[2];
	char		nulls[2] = {'n', ' '};
	Datum		result = (Datum) 0;
	bool		have_result = false;
	bool		converged;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("relation, chosen and rejected must not be NULL")));
	relid = PG_GETARG_OID(0);
	relname = get_rel_name(relid);
	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	nspname = get_namespace_name(get_rel_namespace(relid));
	CheckColumn(relid, relname, NameStr(*PG_GETARG_NAME(1)));
	CheckColumn(relid, relname, NameStr(*PG_GETARG_NAME(2)));
	if (!PG_ARGISNULL(4))
		CheckColumn(relid, relname, NameStr(*PG_GETARG_NAME(4)));
	HpBlasEnsure();

	/* Everything of the search lives here; each pass's scratch in pass. */
	work = AllocSetContextCreate(outer, "hybridpref iterative training", ALLOCSET_DEFAULT_SIZES);
	pass = AllocSetContextCreate(work, "hybridpref training pass", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(work);

	if (PG_ARGISNULL(3))
		optext = pstrdup("{}");
	else
	{
		size_t		len;

		optext = HpJsonbText(PG_GETARG_DATUM(3), &len);
	}
	rest = HpSplitInit(optext, &initm, &has_init);
	ParseOptions(rest, &opt, &canonical);
	if (hp_newton_heads(&opt, &heads, &center, &err) != HP_OK)
		HpReportError(&err);
	if (has_init)
	{
		size_t		size;

		dim = (int) initm.dim;
		if (hp_newton_state_size(dim, heads, &size, &err) != HP_OK)
			HpReportError(&err);
		W = palloc(sizeof(float) * heads * dim);
		if (hp_newton_start(&initm, dim, heads, center, W, &err) != HP_OK)
			HpReportError(&err);
		values[0] = TrialModel(W, dim, heads, center, opt.lambda);
		nulls[0] = ' ';
	}

	/* Identifiers quoted; the relation schema-qualified; same snapshot each pass. */
	query = psprintf("SELECT hp.bt_newton_step(t.%s::real[], t.%s::real[], $1, %s, $2) FROM %s t",
					 quote_identifier(NameStr(*PG_GETARG_NAME(1))),
					 quote_identifier(NameStr(*PG_GETARG_NAME(2))),
					 PG_ARGISNULL(4) ? "NULL::bigint"
					 : psprintf("t.%s::bigint", quote_identifier(NameStr(*PG_GETARG_NAME(4)))),
					 quote_qualified_identifier(nspname, relname));
	argtypes[0] = ModelTypeOid();
	argtypes[1] = JSONBOID;
	values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(canonical));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* CURSOR_OPT_PARALLEL_OK: each pass may use a parallel plan. */
	plan = SPI_prepare_cursor(query, 2, argtypes, CURSOR_OPT_PARALLEL_OK);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", query, SPI_result_code_string(SPI_result));

	for (;;)
	{
		int			rc;
		bool		isnull;
		Datum		d;
		bytea	   *raw;
		HpNewtonState *st;

		CHECK_FOR_INTERRUPTS();
		rc = SPI_execute_plan(plan, values, nulls, true, 0);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "hp.bt_newton_step pass failed: %s", SPI_result_code_string(rc));
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (isnull)
		{
			if (!started)
				break;			/* no rows: NULL, like the aggregate */
			hp_error(&err, HP_EDATA, "the training rows changed between passes: %lld rows, then none",
					 (long long) search.n);
			HpReportError(&err);
		}
		MemoryContextSwitchTo(pass);
		/* An aligned private copy: the tuple's bytea is only 4-byte aligned. */
		raw = PG_DETOAST_DATUM_COPY(d);
		st = (HpNewtonState *) raw;
		if (hp_newton_check(st, VARSIZE(raw), &err) != HP_OK)
			HpReportError(&err);
		SPI_freetuptable(SPI_tuptable);

		MemoryContextSwitchTo(work);
		if (!started)
		{
			if (hp_newton_search_init(&search, &opt, st, &err) != HP_OK)
				HpReportError(&err);
			started = true;
			dim = search.dim;
			if (W == NULL)
				W = palloc(sizeof(float) * heads * dim);
		}
		if (hp_newton_search_update(&search, st, &err) != HP_OK)
			HpReportError(&err);
		MemoryContextReset(pass);

		ereport(NOTICE,
				(errmsg("hp.train_reward_model_iterative: pass %d: loss %.6f, relative gradient norm %.3e, %d of %d heads converged",
						search.passes, search.lacc[0], hp_newton_search_relgrad(&search),
						search.heads - search.nactive, search.heads)));
		if (search.nactive == 0 || search.passes > opt.max_iter)
			break;
		MemoryContextSwitchTo(pass);
		hp_newton_search_trial(&search, W);
		values[0] = TrialModel(W, dim, heads, center, opt.lambda);
		nulls[0] = ' ';
		MemoryContextSwitchTo(work);
	}

	converged = started && search.nactive == 0;
	if (started)
	{
		HpModel		model;

		if (hp_newton_search_model(&search, canonical, &model, &err) != HP_OK)
			HpReportError(&err);
		MemoryContextSwitchTo(outer);
		result = HpModelToDatum(&model);
		have_result = true;
	}
	MemoryContextSwitchTo(work);
	if (started && !converged)
		ereport(WARNING,
				(errmsg("hp.train_reward_model_iterative stopped after %d passes without converging",
						search.passes),
				 errdetail("The relative gradient norm is %.3e; tol is %g.",
						   hp_newton_search_relgrad(&search), opt.tol),
				 errhint("Raise max_iter or lambda.")));
	SPI_finish();
	MemoryContextSwitchTo(outer);
	MemoryContextDelete(work);
	if (!have_result)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}
