/*
 * route_fn.c: hp.route, hp.route_uncertainty and hp.budget_curve.
 *
 * Each reads the relation once through SPI, as the calling user: the
 * query is an ordinary SELECT of the named columns, so table and column
 * privileges and row-level security apply exactly as if the user had
 * written it.  Identifiers are quoted with quote_identifier and the
 * relation is named by its schema-qualified, quoted name from the catalog,
 * never by text the caller supplied.  Rows are then put in id order so the
 * routing does not depend on the scan order.
 */
#include "postgres.h"

#include <math.h>

#include "access/tupmacs.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "hp_blas.h"
#include "hp_pg.h"
#include "hp_ppm.h"
#include "hp_score.h"

#define FETCH_ROWS 8192
#define MAX_CANDIDATES 1000000

PG_FUNCTION_INFO_V1(route);
PG_FUNCTION_INFO_V1(route_uncertainty);
PG_FUNCTION_INFO_V1(budget_curve);

/* A relation argument: its OID and its quoted, qualified name. */
typedef struct RelName
{
	Oid			relid;
	char	   *qname;
} RelName;

/* Instances read from a relation: ids and CSR vocabulary indices. */
typedef struct FeatureTable
{
	int64		n;
	int64	   *id;
	int64	   *off;
	int32	   *idx;
	int64		elems;			/* non-NULL feature strings read */
	int64		matched;		/* of them in the PPM's vocabulary */
	char	   *unmatched;		/* one feature that was not, for messages */
} FeatureTable;

/* Raise the documented error for a NULL argument. */
static void
NotNull(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", what)));
}

/* Resolve a regclass argument to a safely quoted name. */
static void
GetRel(Oid relid, RelName *r)
{
	char	   *rel = get_rel_name(relid);
	char	   *nsp;

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	nsp = get_namespace_name(get_rel_namespace(relid));
	r->relid = relid;
	r->qname = quote_qualified_identifier(nsp, rel);
}

/* Type of a user column, or an error naming the column. */
static Oid
ColumnType(const RelName *r, const char *col)
{
	AttrNumber	att = get_attnum(r->relid, col);

	if (att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation %s does not exist", col, r->qname)));
	if (att < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column \"%s\" of relation %s is a system column", col, r->qname)));
	/* a domain over an accepted type is accepted */
	return getBaseType(get_atttype(r->relid, att));
}

/* Error unless column col has one of the accepted types. */
static Oid
RequireType(const RelName *r, const char *col, const Oid *ok, int nok, const char *expected)
{
	Oid			t = ColumnType(r, col);

	for (int i = 0; i < nok; i++)
		if (t == ok[i])
			return t;
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("column \"%s\" of relation %s has type %s, but %s is required",
					col, r->qname, format_type_be(t), expected)));
	return InvalidOid;
}

/* The id column: any integer type. */
static Oid
RequireIdColumn(const RelName *r, const char *col)
{
	static const Oid ok[] = {INT8OID, INT4OID, INT2OID};

	return RequireType(r, col, ok, 3, "bigint, integer or smallint");
}

/* A non-NULL integer id datum of type t as int64. */
static int64
IdValue(Datum d, bool isnull, Oid t, const RelName *r, const char *col)
{
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("column \"%s\" of relation %s contains NULL", col, r->qname),
				 errdetail("Every row needs an id to be routed.")));
	return t == INT8OID ? DatumGetInt64(d) : t == INT4OID ? DatumGetInt32(d) : DatumGetInt16(d);
}

/* Pair of an id and a row position, for sorting by id. */
typedef struct IdPos
{
	int64		id;
	int64		pos;
} IdPos;

/* Order by id. */
static int
CmpIdPos(const void *a, const void *b)
{
	int64		x = ((const IdPos *) a)->id,
				y = ((const IdPos *) b)->id;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * Permutation putting ids in ascending order (NULL when they already
 * are), sorting id[] itself; duplicate ids are an error naming the column.
 */
static int64 *
SortIds(int64 *id, int64 n, const RelName *r, const char *col)
{
	bool		sorted = true;
	int64	   *perm = NULL;

	for (int64 i = 1; i < n && sorted; i++)
		sorted = id[i - 1] < id[i];
	if (!sorted)
	{
		IdPos	   *ip = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(IdPos) * n);

		for (int64 i = 0; i < n; i++)
		{
			ip[i].id = id[i];
			ip[i].pos = i;
		}
		qsort(ip, n, sizeof(IdPos), CmpIdPos);
		perm = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(int64) * n);
		for (int64 i = 0; i < n; i++)
		{
			id[i] = ip[i].id;
			perm[i] = ip[i].pos;
		}
		pfree(ip);
	}
	for (int64 i = 1; i < n; i++)
		if (id[i - 1] == id[i])
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("column \"%s\" of relation %s is not unique: id %lld appears more than once",
							col, r->qname, (long long) id[i]),
					 errdetail("Routing reports one decision per id.")));
	return perm;
}

/* Grow an array allocated in cxt to hold at least need elements. */
static void *
GrowArray(void *p, Size elem, int64 *cap, int64 need, MemoryContext cxt)
{
	int64		ncap = *cap;

	if (need <= ncap)
		return p;
	while (ncap < need)
		ncap = ncap < 1024 ? 1024 : ncap * 2;
	*cap = ncap;
	if (p == NULL)
		return MemoryContextAllocHuge(cxt, elem * ncap);
	return repalloc_huge(p, elem * ncap);
}

/* Receiver of the (id, features) rows: maps features as rows stream by. */
typedef struct FeatureReader
{
	DestReceiver pub;
	FeatureTable *t;
	const HpPpm *p;
	const RelName *r;
	const char *id_col;
	Oid			idtype;
	MemoryContext rcxt;			/* where the result arrays live */
	MemoryContext batch;		/* detoasted arrays, reset every FETCH_ROWS */
	int64		cap_n;
	int64		cap_nnz;
	int			inbatch;
} FeatureReader;

/* One row: its id and the vocabulary indices of its features. */
static bool
FeatureReceive(TupleTableSlot *slot, DestReceiver *self)
{
	FeatureReader *fr = (FeatureReader *) self;
	FeatureTable *t = fr->t;
	MemoryContext old = MemoryContextSwitchTo(fr->batch);
	int64		i = t->n;

	slot_getallattrs(slot);
	if (i + 2 > fr->cap_n)
	{
		int64		c = fr->cap_n;

		t->off = GrowArray(t->off, sizeof(int64), &fr->cap_n, i + 2, fr->rcxt);
		t->id = GrowArray(t->id, sizeof(int64), &c, i + 2, fr->rcxt);
	}
	t->id[i] = IdValue(slot->tts_values[0], slot->tts_isnull[0], fr->idtype, fr->r, fr->id_col);
	t->off[i + 1] = t->off[i];
	if (!slot->tts_isnull[1])
	{
		ArrayType  *arr = DatumGetArrayTypeP(slot->tts_values[1]);
		int			nitems = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
		char	   *ptr = ARR_DATA_PTR(arr);
		bits8	   *bitmap = ARR_NULLBITMAP(arr);
		int			bitmask = 1;
		int64		start = t->off[i];
		int			nnz = 0;

		t->idx = GrowArray(t->idx, sizeof(int32), &fr->cap_nnz, start + nitems, fr->rcxt);
		for (int e = 0; e < nitems; e++)
		{
			if (bitmap == NULL || (*bitmap & bitmask))
			{
				const char *s = VARDATA_ANY(ptr);
				int			len = VARSIZE_ANY_EXHDR(ptr);
				int			j = hp_ppm_lookup(fr->p, s, len);

				t->elems++;
				if (j >= 0)
				{
					t->idx[start + nnz++] = j;
					t->matched++;
				}
				else if (t->unmatched == NULL)
					t->unmatched = MemoryContextStrdup(fr->rcxt, pnstrdup(s, Min(len, 64)));
				ptr = att_addlength_pointer(ptr, -1, ptr);
				ptr = (char *) att_align_nominal(ptr, TYPALIGN_INT);
			}
			if (bitmap && (bitmask <<= 1) == 0x100)
			{
				bitmap++;
				bitmask = 1;
			}
		}
		t->off[i + 1] = start + hp_ppm_sort_unique(t->idx + start, nnz);
	}
	t->n++;
	MemoryContextSwitchTo(old);
	if (++fr->inbatch == FETCH_ROWS)
	{
		MemoryContextReset(fr->batch);
		fr->inbatch = 0;
	}
	return true;
}

/* Receiver start-up: nothing to prepare. */
static void
ReaderStartup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

/* Receiver shutdown and destruction: the reader lives on the stack. */
static void
ReaderShutdown(DestReceiver *self)
{
}

/*
 * Read (id, features) of every row (or of the rows whose pending column is
 * NULL) and map the features to vocabulary indices of p.  The rows stream
 * into a DestReceiver instead of an SPI tuple table, so none is copied.
 */
static void
ReadFeatures(const RelName *r, const char *id_col, const char *feat_col, const char *pending_col,
			 const HpPpm *p, FeatureTable *t)
{
	static const Oid feat_ok[] = {TEXTARRAYOID, 1015 /* varchar[] */ };
	FeatureReader fr;
	StringInfoData q;
	SPIPlanPtr	plan;
	SPIExecuteOptions opts;
	int			rc;

	memset(&fr, 0, sizeof(fr));
	fr.idtype = RequireIdColumn(r, id_col);
	RequireType(r, feat_col, feat_ok, 2, "text[]");
	if (pending_col)
		(void) ColumnType(r, pending_col);
	memset(t, 0, sizeof(*t));
	initStringInfo(&q);
	appendStringInfo(&q, "SELECT %s, %s FROM %s", quote_identifier(id_col), quote_identifier(feat_col),
					 r->qname);
	if (pending_col)
		appendStringInfo(&q, " WHERE %s IS NULL", quote_identifier(pending_col));

	fr.pub.receiveSlot = FeatureReceive;
	fr.pub.rStartup = ReaderStartup;
	fr.pub.rShutdown = ReaderShutdown;
	fr.pub.rDestroy = ReaderShutdown;
	fr.pub.mydest = DestNone;
	fr.t = t;
	fr.p = p;
	fr.r = r;
	fr.id_col = id_col;
	fr.rcxt = CurrentMemoryContext;
	fr.batch = AllocSetContextCreate(fr.rcxt, "hybridpref route batch", ALLOCSET_DEFAULT_SIZES);
	t->off = GrowArray(NULL, sizeof(int64), &fr.cap_n, 1, fr.rcxt);
	t->id = MemoryContextAllocHuge(fr.rcxt, sizeof(int64) * fr.cap_n);
	t->off[0] = 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare(q.data, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", q.data, SPI_result_code_string(SPI_result));
	memset(&opts, 0, sizeof(opts));
	opts.read_only = true;
	opts.dest = &fr.pub;
	rc = SPI_execute_plan_extended(plan, &opts);
	/* a SELECT into a DestNone receiver reports SPI_OK_UTILITY */
	if (rc != SPI_OK_SELECT && rc != SPI_OK_UTILITY)
		elog(ERROR, "reading %s failed: %s", r->qname, SPI_result_code_string(rc));
	SPI_finish();
	MemoryContextDelete(fr.batch);
	if (t->idx == NULL)
		t->idx = MemoryContextAlloc(fr.rcxt, sizeof(int32));

	/* id order, carrying the feature lists along */
	{
		int64	   *perm = SortIds(t->id, t->n, r, id_col);

		if (perm)
		{
			int64	   *off = MemoryContextAllocHuge(fr.rcxt, sizeof(int64) * (t->n + 1));
			int32	   *idx = MemoryContextAllocHuge(fr.rcxt, sizeof(int32) * Max(t->off[t->n], 1));

			off[0] = 0;
			for (int64 i = 0; i < t->n; i++)
			{
				int64		a = t->off[perm[i]],
							len = t->off[perm[i] + 1] - a;

				memcpy(idx + off[i], t->idx + a, sizeof(int32) * len);
				off[i + 1] = off[i] + len;
			}
			pfree(t->off);
			pfree(t->idx);
			pfree(perm);
			t->off = off;
			t->idx = idx;
		}
	}
}

/* The PPM and the relation must share at least one feature. */
static void
CheckVocabulary(const FeatureTable *t, const HpPpm *p, const RelName *r, const char *feat_col)
{
	if (t->matched > 0)
		return;
	if (t->elems == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("feature vocabulary mismatch: column \"%s\" of relation %s has no features",
						feat_col, r->qname),
				 errdetail("Every row's feature array is NULL or empty, so the PPM cannot tell rows apart.")));
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("feature vocabulary mismatch: no feature in column \"%s\" of relation %s is in the PPM's vocabulary",
					feat_col, r->qname),
			 errdetail("The relation has features such as \"%s\"; the PPM knows %d features such as \"%s\".",
					   t->unmatched ? t->unmatched : "", p->K, p->vocab[0]),
			 errhint("Compute the features with the same featurizer and vocabulary the PPM was trained with.")));
}

/* Decode argument argno as a PPM (an error for any other kind). */
static void
LoadPpm(FunctionCallInfo fcinfo, int argno, HpModel *m, HpPpm *p)
{
	HpError		err;

	HpModelFromDatum(PG_GETARG_DATUM(argno), m);
	if (hp_ppm_load(m, p, &err) != HP_OK)
		HpReportError(&err);
}

/* Routing strategy argument. */
static HpRouteStrategy
StrategyArg(FunctionCallInfo fcinfo, int argno)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	HpRouteStrategy s;
	HpError		err;

	if (hp_route_strategy(name, &s, &err) != HP_OK)
		HpReportError(&err);
	return s;
}

/* Budget to a count of human labels, with the valid range in the error. */
static int64
BudgetCount(double budget, int64 n)
{
	int64_t		k;
	HpError		err;

	if (hp_route_budget(budget, n, &k, &err) != HP_OK)
		HpReportError(&err);
	return k;
}

/* Return rows (id, human, gain) of a routing, in input order. */
static void
EmitRouting(ReturnSetInfo *rsinfo, const int64 *id, const bool *human, const double *gain, int64 n)
{
	for (int64 i = 0; i < n; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = Int64GetDatum(id[i]);
		values[1] = BoolGetDatum(human[i]);
		values[2] = Float8GetDatum(gain[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/*
 * hp.route(ppm, tbl, budget, strategy, id_col, features_col, seed,
 * candidates) and the internal hp._route(..., pending_col), which routes
 * only the rows whose pending_col is NULL (for hp.route_table).
 */
Datum
route(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HpModel		m;
	HpPpm		p;
	RelName		r;
	FeatureTable t;
	HpRouteStrategy strategy;
	const char *pending = NULL;
	bool		internal = PG_NARGS() > 8;	/* hp._route, for hp.route_table */
	char	   *id_col,
			   *feat_col;
	int64		k;
	int			candidates;
	double	   *gain;
	bool	   *human;
	HpRouteData d;
	HpError		err;

	NotNull(fcinfo, 0, "ppm");
	NotNull(fcinfo, 1, "tbl");
	NotNull(fcinfo, 2, "budget");
	NotNull(fcinfo, 3, "strategy");
	NotNull(fcinfo, 4, "id_col");
	NotNull(fcinfo, 5, "features_col");
	NotNull(fcinfo, 6, "seed");
	NotNull(fcinfo, 7, "candidates");
	if (internal && !PG_ARGISNULL(8))
		pending = NameStr(*PG_GETARG_NAME(8));
	InitMaterializedSRF(fcinfo, 0);
	HpBlasEnsure();
	LoadPpm(fcinfo, 0, &m, &p);
	strategy = StrategyArg(fcinfo, 3);
	candidates = PG_GETARG_INT32(7);
	if (candidates < 1 || candidates > MAX_CANDIDATES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("candidates must be between 1 and %d, got %d", MAX_CANDIDATES, candidates)));
	id_col = NameStr(*PG_GETARG_NAME(4));
	feat_col = NameStr(*PG_GETARG_NAME(5));
	GetRel(PG_GETARG_OID(1), &r);
	ReadFeatures(&r, id_col, feat_col, pending, &p, &t);
	if (t.n == 0)
	{
		if (internal)
			PG_RETURN_NULL();	/* nothing (left) to route: zero rows routed */
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("relation %s is empty: there is nothing to route", r.qname)));
	}
	CheckVocabulary(&t, &p, &r, feat_col);
	k = BudgetCount(PG_GETARG_FLOAT8(2), t.n);

	d.n = t.n;
	d.id = t.id;
	d.off = t.off;
	d.idx = t.idx;
	d.scale = p.normalize ? 1.0 / (double) t.n : 1.0;
	gain = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * t.n);
	human = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(bool) * t.n);
	hp_route_gains(&p, &d, gain);
	if (hp_route_select(&p, &d, gain, strategy, k, (uint64) PG_GETARG_INT64(6), candidates, human, &err) != HP_OK)
		HpReportError(&err);

	EmitRouting(rsinfo, t.id, human, gain, t.n);
	hp_ppm_free(&p);
	hp_model_free(&m);
	PG_RETURN_NULL();
}

/*
 * hp.route_uncertainty(rm, tbl, budget, by, id_col, a_col, b_col,
 * llm_col): the uncertainty baseline.  by 'llm_prob' sends to humans the
 * rows where the reward model agrees least with the LLM label, gain =
 * |P(a > b) - llm_label| (1 minus the model's probability of the label);
 * by 'std' the rows of largest epistemic spread, gain = prefer_std.
 */
Datum
route_uncertainty(PG_FUNCTION_ARGS)
{
	static const Oid emb_ok[] = {FLOAT4ARRAYOID, FLOAT8ARRAYOID};
	static const Oid lab_ok[] = {FLOAT8OID, FLOAT4OID, NUMERICOID, INT2OID, INT4OID, INT8OID};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext rcxt = CurrentMemoryContext;
	MemoryContext batch;
	HpModel		m;
	HpScorer	s;
	RelName		r;
	HpError		err;
	char	   *by,
			   *id_col,
			   *a_col,
			   *b_col,
			   *llm_col;
	bool		use_llm;
	Oid			idtype;
	StringInfoData q;
	SPIPlanPtr	plan;
	Portal		portal;
	int64		n = 0,
				cap = 0,
				k;
	int64	   *id = NULL,
			   *perm;
	double	   *gain = NULL;
	bool	   *human;
	char		what_a[NAMEDATALEN + 16],
				what_b[NAMEDATALEN + 16];

	NotNull(fcinfo, 0, "rm");
	NotNull(fcinfo, 1, "tbl");
	NotNull(fcinfo, 2, "budget");
	NotNull(fcinfo, 3, "by");
	NotNull(fcinfo, 4, "id_col");
	NotNull(fcinfo, 5, "a_col");
	NotNull(fcinfo, 6, "b_col");
	NotNull(fcinfo, 7, "llm_col");
	InitMaterializedSRF(fcinfo, 0);
	by = text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (strcmp(by, "llm_prob") != 0 && strcmp(by, "std") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("by must be 'llm_prob' or 'std', got '%s'", by)));
	use_llm = strcmp(by, "llm_prob") == 0;
	HpBlasEnsure();
	HpModelFromDatum(PG_GETARG_DATUM(0), &m);
	if (hp_scorer_init(&s, &m, &err) != HP_OK)
		HpReportError(&err);
	id_col = NameStr(*PG_GETARG_NAME(4));
	a_col = NameStr(*PG_GETARG_NAME(5));
	b_col = NameStr(*PG_GETARG_NAME(6));
	llm_col = NameStr(*PG_GETARG_NAME(7));
	snprintf(what_a, sizeof(what_a), "column \"%s\"", a_col);
	snprintf(what_b, sizeof(what_b), "column \"%s\"", b_col);
	GetRel(PG_GETARG_OID(1), &r);
	idtype = RequireIdColumn(&r, id_col);
	RequireType(&r, a_col, emb_ok, 2, "real[]");
	RequireType(&r, b_col, emb_ok, 2, "real[]");
	if (use_llm)
		RequireType(&r, llm_col, lab_ok, 6, "a numeric type (float8 p_a in [0, 1])");

	initStringInfo(&q);
	appendStringInfo(&q, "SELECT %s, %s::real[], %s::real[]", quote_identifier(id_col),
					 quote_identifier(a_col), quote_identifier(b_col));
	if (use_llm)
		appendStringInfo(&q, ", %s::float8", quote_identifier(llm_col));
	appendStringInfo(&q, " FROM %s", r.qname);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare(q.data, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", q.data, SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	batch = AllocSetContextCreate(rcxt, "hybridpref route batch", ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		MemoryContext old;

		SPI_cursor_fetch(portal, true, FETCH_ROWS);
		if (SPI_processed == 0)
			break;
		old = MemoryContextSwitchTo(batch);
		for (uint64 row = 0; row < SPI_processed; row++)
		{
			HeapTuple	tup = SPI_tuptable->vals[row];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			Datum		d;
			const float *a,
					   *b;
			int			da,
						db;
			double		mean,
						sd;

			if (n + 1 > cap)
			{
				int64		c = cap;

				id = GrowArray(id, sizeof(int64), &cap, n + 1, rcxt);
				gain = GrowArray(gain, sizeof(double), &c, n + 1, rcxt);
			}
			d = SPI_getbinval(tup, desc, 1, &isnull);
			id[n] = IdValue(d, isnull, idtype, &r, id_col);
			d = SPI_getbinval(tup, desc, 2, &isnull);
			if (isnull)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("column \"%s\" of relation %s contains NULL (id %lld)",
								a_col, r.qname, (long long) id[n])));
			a = HpArrayFloats(DatumGetArrayTypeP(d), what_a, &da);
			d = SPI_getbinval(tup, desc, 3, &isnull);
			if (isnull)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("column \"%s\" of relation %s contains NULL (id %lld)",
								b_col, r.qname, (long long) id[n])));
			b = HpArrayFloats(DatumGetArrayTypeP(d), what_b, &db);
			if (da != s.dim || db != s.dim)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_EXCEPTION),
						 errmsg("column \"%s\" has %d dimensions but the model expects %d (id %lld)",
								da != s.dim ? a_col : b_col, da != s.dim ? da : db, s.dim,
								(long long) id[n])));
			hp_score_prefer(&s, a, b, &mean, &sd);
			if (use_llm)
			{
				double		lab;

				d = SPI_getbinval(tup, desc, 4, &isnull);
				if (isnull)
				{
					/* No LLM label to lean on: the largest gain, humans first. */
					gain[n++] = 1.0;
					continue;
				}
				lab = DatumGetFloat8(d);
				if (!(lab >= 0 && lab <= 1))
					ereport(ERROR,
							(errcode(ERRCODE_DATA_EXCEPTION),
							 errmsg("column \"%s\" must hold labels in [0, 1], got %g (id %lld)",
									llm_col, lab, (long long) id[n])));
				gain[n] = fabs(mean - lab);
			}
			else
				gain[n] = sd;
			n++;
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(batch);
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_finish();
	MemoryContextDelete(batch);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("relation %s is empty: there is nothing to route", r.qname)));
	perm = SortIds(id, n, &r, id_col);
	if (perm)
	{
		double	   *g = MemoryContextAllocHuge(rcxt, sizeof(double) * n);

		for (int64 i = 0; i < n; i++)
			g[i] = gain[perm[i]];
		gain = g;
	}
	k = BudgetCount(PG_GETARG_FLOAT8(2), n);
	human = MemoryContextAllocHuge(rcxt, sizeof(bool) * n);
	hp_route_topk(gain, id, n, k, human);
	EmitRouting(rsinfo, id, human, gain, n);
	hp_scorer_free(&s);
	hp_model_free(&m);
	PG_RETURN_NULL();
}

/*
 * hp.budget_curve(ppm, tbl, fractions, strategy, human_cost, llm_cost,
 * features_col, id_col): the predicted score of routing each fraction of
 * the relation to humans, with its cost when prices are given.
 */
Datum
budget_curve(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HpModel		m;
	HpPpm		p;
	RelName		r;
	FeatureTable t;
	HpRouteStrategy strategy;
	ArrayType  *fa;
	Datum	   *fd;
	bool	   *fnull;
	int			nf;
	bool		priced;
	double		hcost,
				lcost;
	char	   *feat_col,
			   *id_col;
	double	   *gain;
	bool	   *human;
	HpRouteData d;
	HpError		err;

	NotNull(fcinfo, 0, "ppm");
	NotNull(fcinfo, 1, "tbl");
	NotNull(fcinfo, 2, "fractions");
	NotNull(fcinfo, 3, "strategy");
	NotNull(fcinfo, 6, "features_col");
	NotNull(fcinfo, 7, "id_col");
	InitMaterializedSRF(fcinfo, 0);
	priced = !PG_ARGISNULL(4) || !PG_ARGISNULL(5);
	hcost = PG_ARGISNULL(4) ? 0.0 : PG_GETARG_FLOAT8(4);
	lcost = PG_ARGISNULL(5) ? 0.0 : PG_GETARG_FLOAT8(5);
	if (!isfinite(hcost) || !isfinite(lcost))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("human_cost and llm_cost must be finite")));
	fa = PG_GETARG_ARRAYTYPE_P(2);
	if (ARR_NDIM(fa) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("fractions must be a one-dimensional array")));
	deconstruct_array(fa, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &fd, &fnull, &nf);
	for (int i = 0; i < nf; i++)
		if (fnull[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("fractions must not contain NULL elements")));
	HpBlasEnsure();
	LoadPpm(fcinfo, 0, &m, &p);
	strategy = StrategyArg(fcinfo, 3);
	feat_col = NameStr(*PG_GETARG_NAME(6));
	id_col = NameStr(*PG_GETARG_NAME(7));
	GetRel(PG_GETARG_OID(1), &r);
	ReadFeatures(&r, id_col, feat_col, NULL, &p, &t);
	if (t.n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("relation %s is empty: there is nothing to route", r.qname)));
	CheckVocabulary(&t, &p, &r, feat_col);
	/* validate every budget before the (possibly slow) routing */
	for (int i = 0; i < nf; i++)
		(void) BudgetCount(DatumGetFloat8(fd[i]), t.n);

	d.n = t.n;
	d.id = t.id;
	d.off = t.off;
	d.idx = t.idx;
	d.scale = p.normalize ? 1.0 / (double) t.n : 1.0;
	gain = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(double) * t.n);
	human = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(bool) * t.n);
	hp_route_gains(&p, &d, gain);
	for (int i = 0; i < nf; i++)
	{
		double		frac = DatumGetFloat8(fd[i]);
		int64		k = BudgetCount(frac, t.n);
		Datum		values[4];
		bool		nulls[4] = {false, false, false, !priced};

		if (hp_route_select(&p, &d, gain, strategy, k, 0, 1000, human, &err) != HP_OK)
			HpReportError(&err);
		values[0] = Float8GetDatum(frac);
		values[1] = Int64GetDatum(k);
		values[2] = Float8GetDatum(hp_route_predict_set(&p, &d, human));
		values[3] = Float8GetDatum(k * hcost + (t.n - k) * lcost);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	hp_ppm_free(&p);
	hp_model_free(&m);
	PG_RETURN_NULL();
}
