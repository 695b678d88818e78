/*
 * simulate_fn.c: hp.simulate_routings, the candidate routings a PPM is
 * trained on (fmgr glue over src/core/simulate.c).
 *
 * The training and held-out relations are read once through SPI cursors,
 * as the caller (SECURITY INVOKER), into float32 difference vectors held in
 * one memory context; the core then loops over candidates without touching
 * the tables again.  Rows come ORDER BY the id column so that routings are
 * reproducible whatever the physical row order.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "hp_options.h"
#include "hp_pg.h"
#include "hp_simulate.h"
#include "hp_train.h"

/* Rows fetched from a cursor at a time. */
#define FETCH_ROWS 1000
/* Progress notices only for runs longer than this (ms), so short ones stay quiet. */
#define PROGRESS_AFTER_MS 2000

PG_FUNCTION_INFO_V1(simulate_routings);

/* Argument positions (see sql/parts/75_simulate.sql). */
enum
{
	ARG_TRAIN, ARG_HELDOUT, ARG_BUDGETS, ARG_PER_BUDGET, ARG_OPTIONS,
	ARG_ID, ARG_A, ARG_B, ARG_HUMAN, ARG_LLM, ARG_FEATURES,
	ARG_HA, ARG_HB, ARG_TRUSTED, ARG_SEED, ARG_SAMPLERS, ARG_WITH_IDS, NARGS
};

static const char *const arg_names[NARGS] = {
	"train", "heldout", "budgets", "per_budget", "options",
	"id_col", "a_col", "b_col", "human_col", "llm_col", "features_col",
	"heldout_a_col", "heldout_b_col", "trusted_col", "seed", "samplers", "with_ids"
};

/* Data read from the two relations, in the work context. */
typedef struct SimRead
{
	MemoryContext work;
	Size		bytes;			/* charged against hybridpref.max_train_memory */
	int			dim;
	/* training relation */
	int64		n,
				ncap;
	float	   *X;
	double	   *human,
			   *llm;
	int64	   *off;
	int32	   *feat;
	int64		nfeat,
				featcap;
	char	  **ids;			/* id::text per row, when asked for */
	HpVocab		vocab;
	/* held-out relation */
	int64		m,
				mcap;
	float	   *Xh;
	double	   *trusted;
} SimRead;

/* State of the emit callback. */
typedef struct EmitState
{
	ReturnSetInfo *rsinfo;
	MemoryContext rowcxt;
	Datum		vocab;
	int			nvocab;
	int64		n;
	char	  **ids;
	int			total;
	int			done;
	int			decile;
	TimestampTz start;
} EmitState;

/* Relation name for messages (unqualified, as PostgreSQL's own messages). */
static const char *
RelName(Oid relid)
{
	char	   *name = get_rel_name(relid);

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	return name;
}

/* Schema-qualified, quoted name of a relation for query text. */
static const char *
QuotedRel(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), RelName(relid));
}

/*
 * Check that a column exists and can be assigned to type target (InvalidOid:
 * any type), so errors name the column instead of failing inside a query.
 */
static void
CheckColumn(Oid relid, const char *col, int argno, Oid target)
{
	AttrNumber	att = get_attnum(relid, col);
	Oid			type;

	if (att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist", col, RelName(relid)),
				 errhint("Name the column with the %s argument of hp.simulate_routings.",
						 arg_names[argno])));
	if (target == InvalidOid)
		return;
	type = get_atttype(relid, att);
	if (type != target && !can_coerce_type(1, &type, &target, COERCION_ASSIGNMENT))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" of relation \"%s\" has type %s, but %s must be %s",
						col, RelName(relid), format_type_be(type), arg_names[argno],
						format_type_be(target))));
}

/* Raise an error unless the data in memory stays under the limit. */
static void
Charge(SimRead *r, Size bytes)
{
	r->bytes += bytes;
	if (r->bytes > (Size) hp_max_train_memory_kb * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("simulation data exceeds hybridpref.max_train_memory (%d kB)",
						hp_max_train_memory_kb),
				 errdetail("%lld training and %lld held-out rows of dimension %d are held in memory.",
						   (long long) r->n, (long long) r->m, r->dim),
				 errhint("Raise hybridpref.max_train_memory or simulate on a sample.")));
}

/* Grow an array to hold cap elements of size elem, in the work context. */
static void *
Grow(SimRead *r, void *ptr, Size oldcap, Size cap, Size elem)
{
	Charge(r, (cap - oldcap) * elem);
	if (ptr == NULL)
		return MemoryContextAllocHuge(r->work, cap * elem);
	return repalloc_huge(ptr, cap * elem);
}

/* Validated embedding of a column value; *dim receives its length. */
static const float *
Embedding(HeapTuple tup, TupleDesc desc, int col, const char *colname, const char *relname, int *dim)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	char		what[NAMEDATALEN * 2 + 32];

	snprintf(what, sizeof(what), "column \"%s\" of relation \"%s\"", colname, relname);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s has NULL values", what)));
	return HpArrayFloats(DatumGetArrayTypeP(d), what, dim);
}

/* Set or check the common embedding dimension. */
static void
CheckDim(SimRead *r, int da, int db, const char *acol, const char *bcol, const char *relname)
{
	if (da != db)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("embedding dimensions differ in relation \"%s\": \"%s\" has %d, \"%s\" has %d",
						relname, acol, da, bcol, db)));
	if (r->dim == 0)
		r->dim = da;
	else if (r->dim != da)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("embedding dimension mismatch: %d in one row, %d in another (relation \"%s\")",
						r->dim, da, relname),
				 errdetail("All embeddings, training and held-out, must have one dimension.")));
}

/* A label column value: NaN for NULL, else checked to be in [0, 1]. */
static double
Label(HeapTuple tup, TupleDesc desc, int col, const char *colname, const char *relname)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	double		v;

	if (isnull)
		return NAN;
	v = DatumGetFloat8(d);
	if (!(v >= 0.0 && v <= 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column \"%s\" of relation \"%s\" has label %g outside [0, 1]",
						colname, relname, v),
				 errdetail("Labels are P(a preferred): 1 for a, 0 for b, 0.5 for a tie; NULL for missing.")));
	return v;
}

/* Open a read-only cursor over a query. */
static Portal
OpenCursor(const char *query)
{
	SPIPlanPtr	plan = SPI_prepare(query, 0, NULL);
	Portal		portal;

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", query, SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	if (portal == NULL)
		elog(ERROR, "SPI_cursor_open failed: %s", SPI_result_code_string(SPI_result));
	return portal;
}

/* Read the training relation ORDER BY id into r. */
static void
ReadTrain(SimRead *r, Oid relid, const char *const *col, bool with_ids)
{
	const char *relname = RelName(relid);
	const char *id = quote_identifier(col[ARG_ID]);
	StringInfoData q;
	Portal		portal;
	MemoryContext rowcxt = AllocSetContextCreate(r->work, "hybridpref simulate rows",
												 ALLOCSET_DEFAULT_SIZES);

	/*
	 * lag() over the same order flags duplicate ids in the same sort the
	 * ORDER BY needs; NULL or repeated ids would make the order, and so
	 * the routings, depend on the physical row order.  Columns are
	 * qualified and outputs aliased so that ORDER BY cannot pick up an
	 * output column (such as id::text) of the same name.
	 */
	initStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT t.%s IS NULL AS c1, coalesce(t.%s = lag(t.%s) OVER (ORDER BY t.%s), false) AS c2, "
					 "t.%s::real[] AS c3, t.%s::real[] AS c4, t.%s::float8 AS c5, t.%s::float8 AS c6, "
					 "t.%s::text[] AS c7%s%s FROM %s AS t ORDER BY t.%s",
					 id, id, id, id,
					 quote_identifier(col[ARG_A]), quote_identifier(col[ARG_B]),
					 quote_identifier(col[ARG_HUMAN]), quote_identifier(col[ARG_LLM]),
					 quote_identifier(col[ARG_FEATURES]),
					 with_ids ? ", t." : "", with_ids ? psprintf("%s::text AS c8", id) : "",
					 QuotedRel(relid), id);
	portal = OpenCursor(q.data);
	r->off = Grow(r, NULL, 0, 1, sizeof(int64));
	r->off[0] = 0;
	for (;;)
	{
		MemoryContext old;

		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		old = MemoryContextSwitchTo(rowcxt);
		for (uint64 t = 0; t < SPI_processed; t++)
		{
			HeapTuple	tup = SPI_tuptable->vals[t];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			const float *a,
					   *b;
			int			da,
						db;
			float	   *x;
			Datum		fd;

			if (DatumGetBool(SPI_getbinval(tup, desc, 1, &isnull)))
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("column \"%s\" of relation \"%s\" has NULL values", col[ARG_ID], relname),
						 errdetail("Rows are read in id order so that routings are reproducible; ids must be unique and not NULL.")));
			if (DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull)))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("column \"%s\" of relation \"%s\" has duplicate values", col[ARG_ID], relname),
						 errdetail("Rows are read in id order so that routings are reproducible; ids must be unique and not NULL.")));
			a = Embedding(tup, desc, 3, col[ARG_A], relname, &da);
			b = Embedding(tup, desc, 4, col[ARG_B], relname, &db);
			CheckDim(r, da, db, col[ARG_A], col[ARG_B], relname);
			if (r->n == r->ncap)
			{
				int64		cap = r->ncap ? r->ncap * 2 : 1024;

				r->X = Grow(r, r->X, r->ncap * r->dim, cap * r->dim, sizeof(float));
				r->human = Grow(r, r->human, r->ncap, cap, sizeof(double));
				r->llm = Grow(r, r->llm, r->ncap, cap, sizeof(double));
				r->off = Grow(r, r->off, r->ncap + 1, cap + 1, sizeof(int64));
				if (with_ids)
					r->ids = Grow(r, r->ids, r->ncap, cap, sizeof(char *));
				r->ncap = cap;
			}
			x = r->X + r->n * r->dim;
			for (int j = 0; j < r->dim; j++)
				x[j] = a[j] - b[j];
			r->human[r->n] = Label(tup, desc, 5, col[ARG_HUMAN], relname);
			r->llm[r->n] = Label(tup, desc, 6, col[ARG_LLM], relname);

			/* Features: NULL arrays and NULL elements carry none. */
			fd = SPI_getbinval(tup, desc, 7, &isnull);
			r->off[r->n + 1] = r->off[r->n];
			if (!isnull)
			{
				ArrayType  *arr = DatumGetArrayTypeP(fd);
				Datum	   *elems;
				bool	   *enulls;
				int			ne;

				deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, &ne);
				if (r->nfeat + ne > r->featcap)
				{
					int64		cap = Max(r->featcap * 2, r->nfeat + ne + 1024);

					r->feat = Grow(r, r->feat, r->featcap, cap, sizeof(int32));
					r->featcap = cap;
				}
				MemoryContextSwitchTo(r->work);
				for (int e = 0; e < ne; e++)
					if (!enulls[e])
					{
						text	   *s = DatumGetTextPP(elems[e]);

						r->feat[r->nfeat++] = hp_vocab_add(&r->vocab, VARDATA_ANY(s),
														   VARSIZE_ANY_EXHDR(s));
					}
				MemoryContextSwitchTo(rowcxt);
				r->off[r->n + 1] = r->nfeat;
			}
			if (with_ids)
				r->ids[r->n] = MemoryContextStrdup(r->work,
												   TextDatumGetCString(SPI_getbinval(tup, desc, 8, &isnull)));
			r->n++;
		}
		MemoryContextSwitchTo(old);
		SPI_freetuptable(SPI_tuptable);
		MemoryContextReset(rowcxt);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	MemoryContextDelete(rowcxt);
	if (r->n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the training relation \"%s\" has no rows", relname)));
}

/*
 * Read the held-out relation, then sort its rows by content (hp_sort_rows)
 * so that the log-loss sum does not depend on the physical row order.
 */
static void
ReadHeldout(SimRead *r, Oid relid, const char *const *col)
{
	const char *relname = RelName(relid);
	StringInfoData q;
	Portal		portal;
	MemoryContext rowcxt = AllocSetContextCreate(r->work, "hybridpref simulate rows",
												 ALLOCSET_DEFAULT_SIZES);
	int			train_dim = r->dim;

	initStringInfo(&q);
	appendStringInfo(&q, "SELECT t.%s::real[], t.%s::real[], t.%s::float8 FROM %s AS t",
					 quote_identifier(col[ARG_HA]), quote_identifier(col[ARG_HB]),
					 quote_identifier(col[ARG_TRUSTED]), QuotedRel(relid));
	portal = OpenCursor(q.data);
	for (;;)
	{
		MemoryContext old;

		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		old = MemoryContextSwitchTo(rowcxt);
		for (uint64 t = 0; t < SPI_processed; t++)
		{
			HeapTuple	tup = SPI_tuptable->vals[t];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			const float *a,
					   *b;
			int			da,
						db;
			float	   *x;

			a = Embedding(tup, desc, 1, col[ARG_HA], relname, &da);
			b = Embedding(tup, desc, 2, col[ARG_HB], relname, &db);
			if (da != train_dim && da == db)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("embedding dimension mismatch: the training relation has %d, the held-out relation \"%s\" has %d",
								train_dim, relname, da)));
			CheckDim(r, da, db, col[ARG_HA], col[ARG_HB], relname);
			if (r->m == r->mcap)
			{
				int64		cap = r->mcap ? r->mcap * 2 : 1024;

				r->Xh = Grow(r, r->Xh, r->mcap * r->dim, cap * r->dim, sizeof(float));
				r->trusted = Grow(r, r->trusted, r->mcap, cap, sizeof(double));
				r->mcap = cap;
			}
			x = r->Xh + r->m * r->dim;
			for (int j = 0; j < r->dim; j++)
				x[j] = a[j] - b[j];
			r->trusted[r->m] = Label(tup, desc, 3, col[ARG_TRUSTED], relname);
			r->m++;
		}
		MemoryContextSwitchTo(old);
		SPI_freetuptable(SPI_tuptable);
		MemoryContextReset(rowcxt);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	MemoryContextDelete(rowcxt);
	if (r->m == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the held-out relation \"%s\" has no rows", relname)));
	{
		int64		decided = 0;

		for (int64 i = 0; i < r->m; i++)
			decided += !isnan(r->trusted[i]) && r->trusted[i] != 0.5;
		if (decided == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("the held-out relation \"%s\" has no trusted labels to score against",
							relname),
					 errdetail("Column \"%s\" holds only NULLs and ties (0.5); accuracy needs labels that prefer a or b.",
							   col[ARG_TRUSTED])));
	}

	{
		MemoryContext old = MemoryContextSwitchTo(r->work);
		HpRowRef   *refs = palloc_extended(sizeof(HpRowRef) * r->m, MCXT_ALLOC_HUGE);
		float	   *X = palloc_extended(sizeof(float) * r->m * r->dim, MCXT_ALLOC_HUGE);
		double	   *t = palloc_extended(sizeof(double) * r->m, MCXT_ALLOC_HUGE);

		Charge(r, sizeof(float) * r->m * r->dim);
		for (int64 i = 0; i < r->m; i++)
		{
			refs[i].x = r->Xh + i * r->dim;
			refs[i].p = (float) r->trusted[i];
			refs[i].key = hp_row_key(refs[i].x, r->dim, refs[i].p);
		}
		hp_sort_rows(refs, r->m, r->dim);
		for (int64 i = 0; i < r->m; i++)
		{
			memcpy(X + i * r->dim, refs[i].x, sizeof(float) * r->dim);
			/* The label in the key is a float; take the double from its row. */
			t[i] = r->trusted[(refs[i].x - r->Xh) / r->dim];
		}
		pfree(refs);
		pfree(r->Xh);
		pfree(r->trusted);
		r->Xh = X;
		r->trusted = t;
		MemoryContextSwitchTo(old);
	}
}

/* A text[] datum from C strings. */
static Datum
TextArray(char **s, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(s[i]);
	return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* Emit callback: one output row per candidate, plus progress notices. */
static void
EmitRow(void *arg, const HpSimCandidate *c)
{
	EmitState  *es = arg;
	MemoryContext old = MemoryContextSwitchTo(es->rowcxt);
	Datum		values[11];
	bool		nulls[11] = {0};
	Datum	   *cd = palloc(sizeof(Datum) * Max(es->nvocab, 1));
	int			decile;

	for (int j = 0; j < es->nvocab; j++)
		cd[j] = Float8GetDatum(c->counts[j]);
	values[0] = Int32GetDatum(c->candidate);
	values[1] = Float8GetDatum(c->budget);
	values[2] = CStringGetTextDatum(c->sampler == HP_SAMPLER_FEATURE ? "feature" : "uniform");
	values[3] = Int32GetDatum((int32) c->n_human);
	values[4] = PointerGetDatum(construct_array(cd, es->nvocab, FLOAT8OID, sizeof(float8),
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[5] = es->vocab;
	values[6] = Int32GetDatum((int32) es->n);
	values[7] = Float8GetDatum(c->accuracy);
	values[8] = Float8GetDatum(c->log_loss);
	values[9] = Int32GetDatum((int32) c->n_train);
	if (es->ids)
	{
		char	  **ids = palloc(sizeof(char *) * Max(c->n_human, 1));

		for (int64 i = 0; i < c->n_human; i++)
			ids[i] = es->ids[c->routed[i]];
		values[10] = TextArray(ids, (int) c->n_human);
	}
	else
		nulls[10] = true;
	tuplestore_putvalues(es->rsinfo->setResult, es->rsinfo->setDesc, values, nulls);
	MemoryContextSwitchTo(old);
	MemoryContextReset(es->rowcxt);

	/* Every 10% of the candidates, say where a long run stands. */
	es->done++;
	decile = (int) ((int64) es->done * 10 / es->total);
	if (decile > es->decile)
	{
		long		ms = TimestampDifferenceMilliseconds(es->start, GetCurrentTimestamp());

		es->decile = decile;
		if (ms >= PROGRESS_AFTER_MS && es->done < es->total)
			ereport(NOTICE,
					(errmsg("hp.simulate_routings: %d of %d candidates (%d%%) in %.1f s, about %.0f s left",
							es->done, es->total, decile * 10, ms / 1000.0,
							ms / 1000.0 * (es->total - es->done) / es->done)));
	}
}

/* Parse the samplers argument into kinds (no duplicates). */
static int
ParseSamplers(ArrayType *arr, HpSampler *out)
{
	Datum	   *elems;
	bool	   *enulls;
	int			ne,
				n = 0;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, &ne);
	for (int e = 0; e < ne; e++)
	{
		char	   *s;
		HpSampler	k;

		if (enulls[e])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("samplers must not contain NULL elements")));
		s = TextDatumGetCString(elems[e]);
		if (strcmp(s, "feature") == 0)
			k = HP_SAMPLER_FEATURE;
		else if (strcmp(s, "uniform") == 0)
			k = HP_SAMPLER_UNIFORM;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown sampler \"%s\"", s),
					 errdetail("Valid samplers are: feature, uniform.")));
		for (int i = 0; i < n; i++)
			if (out[i] == k)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("sampler \"%s\" is listed twice", s)));
		out[n++] = k;
	}
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("samplers must not be empty")));
	return n;
}

/*
 * hp.simulate_routings(train, heldout, budgets, per_budget, options, column
 * names..., seed, samplers, with_ids): one row per candidate routing.
 */
Datum
simulate_routings(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			train,
				heldout;
	const char *col[NARGS] = {0};
	const double *budgets;
	int			nbudgets;
	HpSampler	samplers[2];
	int			nsamplers;
	bool		with_ids;
	HpSimOptions o;
	HpSimData	d;
	HpError		err;
	SimRead		r;
	EmitState	es;
	MemoryContext work,
				old;
	HpStatus	st;

	for (int i = 0; i < NARGS; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %s of hp.simulate_routings must not be NULL", arg_names[i])));
	train = PG_GETARG_OID(ARG_TRAIN);
	heldout = PG_GETARG_OID(ARG_HELDOUT);
	for (int i = ARG_ID; i <= ARG_TRUSTED; i++)
		col[i] = NameStr(*PG_GETARG_NAME(i));
	with_ids = PG_GETARG_BOOL(ARG_WITH_IDS);

	/* Arguments first, so bad ones fail before any data is read. */
	memset(&o, 0, sizeof(o));
	budgets = HpArrayDoubles(PG_GETARG_ARRAYTYPE_P(ARG_BUDGETS), "budgets", &nbudgets);
	for (int b = 0; b < nbudgets; b++)
		if (!(budgets[b] >= 0.0 && budgets[b] <= 1.0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("budget %g is outside [0, 1]", budgets[b]),
					 errdetail("A budget is the fraction of training instances routed to humans.")));
	nsamplers = ParseSamplers(PG_GETARG_ARRAYTYPE_P(ARG_SAMPLERS), samplers);
	{
		size_t		len;
		char	   *text = HpJsonbText(PG_GETARG_DATUM(ARG_OPTIONS), &len);

		if (hp_train_options_parse(text, len, &o.train, NULL, &err) != HP_OK)
			HpReportError(&err);
		/* The proxy is a single model unless asked otherwise. */
		if (!o.train.heads_given)
			o.train.heads = 1;
		if (o.train.arch != HP_KIND_LINEAR)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("hp.simulate_routings trains linear proxy models"),
					 errdetail("Option \"arch\" must be \"linear\".")));
	}
	o.budgets = budgets;
	o.nbudgets = nbudgets;
	o.per_budget = PG_GETARG_INT32(ARG_PER_BUDGET);
	o.samplers = samplers;
	o.nsamplers = nsamplers;
	o.seed = PG_GETARG_INT64(ARG_SEED);
	o.warm_start = true;
	if (o.per_budget < 1 || o.per_budget > HP_SIM_MAX_PER_BUDGET)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("per_budget must be between 1 and %d", HP_SIM_MAX_PER_BUDGET)));
	if ((int64) nbudgets * nsamplers * o.per_budget > HP_SIM_MAX_CANDIDATES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%lld candidates are more than the maximum of %d",
						(long long) nbudgets * nsamplers * o.per_budget, HP_SIM_MAX_CANDIDATES)));

	CheckColumn(train, col[ARG_ID], ARG_ID, InvalidOid);
	CheckColumn(train, col[ARG_A], ARG_A, FLOAT4ARRAYOID);
	CheckColumn(train, col[ARG_B], ARG_B, FLOAT4ARRAYOID);
	CheckColumn(train, col[ARG_HUMAN], ARG_HUMAN, FLOAT8OID);
	CheckColumn(train, col[ARG_LLM], ARG_LLM, FLOAT8OID);
	CheckColumn(train, col[ARG_FEATURES], ARG_FEATURES, TEXTARRAYOID);
	CheckColumn(heldout, col[ARG_HA], ARG_HA, FLOAT4ARRAYOID);
	CheckColumn(heldout, col[ARG_HB], ARG_HB, FLOAT4ARRAYOID);
	CheckColumn(heldout, col[ARG_TRUSTED], ARG_TRUSTED, FLOAT8OID);

	InitMaterializedSRF(fcinfo, 0);
	HpBlasEnsure();

	/* Everything read and everything the core allocates dies with this. */
	work = AllocSetContextCreate(CurrentMemoryContext, "hybridpref simulation",
								 ALLOCSET_DEFAULT_SIZES);
	memset(&r, 0, sizeof(r));
	r.work = work;
	memset(&es, 0, sizeof(es));
	es.start = GetCurrentTimestamp();

	old = MemoryContextSwitchTo(work);
	hp_vocab_init(&r.vocab);
	MemoryContextSwitchTo(old);

	/*
	 * SPI calls leave CurrentMemoryContext at SPI's procedure context, which
	 * SPI_finish deletes: everything kept is allocated in work explicitly.
	 */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ReadTrain(&r, train, col, with_ids);
	ReadHeldout(&r, heldout, col);
	SPI_finish();

	old = MemoryContextSwitchTo(work);
	{
		int32	   *remap = palloc(sizeof(int32) * Max(r.vocab.n, 1));

		hp_vocab_sort(&r.vocab, remap);
		if (r.feat)
			hp_sim_remap_features(r.n, r.off, r.feat, remap);
		pfree(remap);
	}
	{
		long		ms = TimestampDifferenceMilliseconds(es.start, GetCurrentTimestamp());

		if (ms >= PROGRESS_AFTER_MS)
			ereport(NOTICE,
					(errmsg("hp.simulate_routings: read %lld training and %lld held-out rows in %.1f s",
							(long long) r.n, (long long) r.m, ms / 1000.0)));
	}

	memset(&d, 0, sizeof(d));
	d.n = r.n;
	d.dim = r.dim;
	d.X = r.X;
	d.human = r.human;
	d.llm = r.llm;
	d.nvocab = r.vocab.n;
	d.feat_off = r.off;
	d.feat = r.feat;
	d.m = r.m;
	d.Xh = r.Xh;
	d.trusted = r.trusted;

	es.rsinfo = rsinfo;
	es.rowcxt = AllocSetContextCreate(work, "hybridpref simulate output", ALLOCSET_DEFAULT_SIZES);
	es.vocab = TextArray(r.vocab.names, r.vocab.n);
	es.nvocab = r.vocab.n;
	es.n = r.n;
	es.ids = r.ids;
	es.total = nbudgets * nsamplers * o.per_budget;
	o.emit = EmitRow;
	o.arg = &es;

	st = hp_simulate(&d, &o, &err);
	MemoryContextSwitchTo(old);
	if (st != HP_OK)
		HpReportError(&err);
	MemoryContextDelete(work);
	return (Datum) 0;
}
