/*
 * ppm_fn.c: the hp.train_ppm aggregate, hp.ppm_predict and hp.route_gain.
 *
 * The aggregate state is a real bytea, not internal, so that distributed
 * planners (Citus) can push the aggregate down and ship partial states.
 * It holds the training rows themselves (a PPM is fitted on hundreds to
 * thousands of routings) behind a versioned header:
 *
 *   varlena header   VARSIZE = allocated capacity, not the bytes in use
 *   u32 magic "HPPS", u16 version, u16 flags
 *   i32 K            counts per row (the vocabulary size)
 *   i64 nrows
 *   u32 optlen, u32 reserved
 *   options text (the jsonb argument as text), NUL-padded to 8 bytes
 *   nrows x (K counts, score) float8
 *
 * Rows are appended in place and the same pointer is returned, so the
 * executor keeps the state without copying.  When it is full, a state of
 * twice the size is built in the per-call memory context and returned: the
 * executor copies any new pointer into the aggregate context (and frees the
 * old state), so building it there would only leave a dead copy behind.
 * VARSIZE covers the whole capacity so that this copy keeps the spare room;
 * a partial state shipped between nodes therefore carries at most as many
 * spare (zero) bytes as data bytes.
 */
#include "postgres.h"

#include <math.h>

#include "access/tupmacs.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "hp_blas.h"
#include "hp_pg.h"
#include "hp_ppm.h"

#define PPM_STATE_MAGIC 0x53505048	/* "HPPS" little-endian */
#define PPM_STATE_VERSION 1
#define PPM_INITIAL_ROWS 64

typedef struct PpmState
{
	int32		vl_len_;
	uint32		magic;
	uint16		version;
	uint16		flags;
	int32		K;
	int64		nrows;
	uint32		optlen;
	uint32		reserved;
	/* options text, padded to 8 bytes, then the rows */
} PpmState;

PG_FUNCTION_INFO_V1(ppm_trans);
PG_FUNCTION_INFO_V1(ppm_combine);
PG_FUNCTION_INFO_V1(ppm_final);
PG_FUNCTION_INFO_V1(ppm_predict);
PG_FUNCTION_INFO_V1(route_gain);

/* Bytes of the header and the padded options. */
static inline Size
StateHeadBytes(uint32 optlen)
{
	return sizeof(PpmState) + TYPEALIGN(8, optlen);
}

/* Bytes in use: header, options and rows. */
static inline Size
StateUsedBytes(const PpmState *st)
{
	return StateHeadBytes(st->optlen) + (Size) st->nrows * (st->K + 1) * sizeof(double);
}

/* Options text of a state (not NUL-terminated; optlen bytes). */
static inline const char *
StateOptions(const PpmState *st)
{
	return (const char *) st + sizeof(PpmState);
}

/* Start of the rows. */
static inline char *
StateRows(PpmState *st)
{
	return (char *) st + StateHeadBytes(st->optlen);
}

/* Reject a state that is not one of ours or whose sizes do not add up. */
static void
CheckState(const PpmState *st)
{
	Size		cap = VARSIZE_ANY(st);

	if (cap < sizeof(PpmState) || st->magic != PPM_STATE_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("not a hybridpref PPM training state")));
	if (st->version != PPM_STATE_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("PPM training state has version %u; this build reads version %d",
						st->version, PPM_STATE_VERSION)));
	if (st->K < 0 || st->K > HP_MAX_DIM || st->nrows < 0 || (st->nrows > 0 && st->K == 0) ||
		st->optlen > cap || st->nrows > (int64) (cap / sizeof(double)) ||
		StateUsedBytes(st) > cap)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted hybridpref PPM training state")));
}

/* Aggregate context, or an error outside an aggregate. */
static void
RequireAgg(FunctionCallInfo fcinfo)
{
	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "hybridpref PPM aggregate function called in non-aggregate context");
}

/* Largest state: hybridpref.max_train_memory, and one value's 1 GB limit. */
static Size
StateLimit(void)
{
	return Min((Size) hp_max_train_memory_kb * 1024, MaxAllocSize - 1024);
}

/* A copy of st with room for at least need bytes, in the current context. */
static PpmState *
GrowState(const PpmState *st, Size used, Size need)
{
	Size		limit = StateLimit();
	Size		cap = Max(need, 2 * (Size) VARSIZE(st));
	PpmState   *nst;

	if (need > limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("PPM training rows exceed %s",
						limit == MaxAllocSize - 1024 ? "the 1 GB limit of one value"
						: "hybridpref.max_train_memory"),
				 errdetail("%lld rows of %d counts are held.", (long long) st->nrows, st->K)));
	cap = Min(cap, limit);
	nst = palloc0(cap);
	memcpy(nst, st, used);
	SET_VARSIZE(nst, cap);
	return nst;
}

/* A new state for options text opt (validated by the caller). */
static PpmState *
NewState(const char *opt, uint32 optlen, int K)
{
	Size		cap = StateHeadBytes(optlen) + (Size) PPM_INITIAL_ROWS * (K + 1) * sizeof(double);
	PpmState   *st = palloc0(cap);

	SET_VARSIZE(st, cap);
	st->magic = PPM_STATE_MAGIC;
	st->version = PPM_STATE_VERSION;
	st->K = K;
	st->optlen = optlen;
	memcpy((char *) st + sizeof(PpmState), opt, optlen);
	return st;
}

/* Parse options text with the core parser, raising its error. */
static void
ParseOptions(const char *text, size_t len, HpPpmOptions *o)
{
	HpError		err;

	if (hp_ppm_options_parse(text, len, o, &err) != HP_OK)
		HpReportError(&err);
}

/*
 * Transition: append (counts, score).  Rows with a NULL counts array or
 * score are skipped, like NULLs in sum().  The options are read from the
 * first row and must not change; every counts array must have one element
 * per vocabulary name.
 */
Datum
ppm_trans(PG_FUNCTION_ARGS)
{
	PpmState   *st = PG_ARGISNULL(0) ? NULL : (PpmState *) PG_GETARG_BYTEA_P(0);
	const double *counts;
	int			n;
	double		score;
	Size		used,
				rowbytes;

	RequireAgg(fcinfo);
	if (st == NULL)
	{
		size_t		len;
		char	   *text;
		HpPpmOptions o;

		if (PG_ARGISNULL(3))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("options must not be NULL"),
					 errhint("Pass at least {\"vocab\": [...], \"n\": N}.")));
		text = HpJsonbText(PG_GETARG_DATUM(3), &len);
		ParseOptions(text, len, &o);
		st = NewState(text, (uint32) len, o.nvocab);
		hp_ppm_options_free(&o);
		pfree(text);
	}
	else
	{
		CheckState(st);
		HpAggCheckOptions(fcinfo, 3, StateOptions(st), st->optlen, "hp.train_ppm");
	}
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_BYTEA_P(st);

	counts = HpArrayDoubles(PG_GETARG_ARRAYTYPE_P(1), "counts", &n);
	if (n != st->K)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("counts has %d elements but the vocabulary has %d features", n, st->K),
				 errdetail("Option \"vocab\" names the feature of every counts element, in order.")));
	for (int i = 0; i < n; i++)
		if (counts[i] < 0.0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("counts must not be negative, got %g for feature %d", counts[i], i + 1),
					 errdetail("A count is how many human-routed instances carry the feature.")));
	score = PG_GETARG_FLOAT8(2);
	if (!isfinite(score))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("score must be finite, got %g", score)));

	used = StateUsedBytes(st);
	rowbytes = (Size) (st->K + 1) * sizeof(double);
	if (used + rowbytes > VARSIZE(st))
		st = GrowState(st, used, used + rowbytes);
	memcpy(StateRows(st) + (Size) st->nrows * rowbytes, counts, sizeof(double) * st->K);
	memcpy(StateRows(st) + (Size) st->nrows * rowbytes + sizeof(double) * st->K, &score, sizeof(double));
	st->nrows++;
	PG_RETURN_BYTEA_P(st);
}

/* Combine: append b's rows to a (in place when they fit). */
Datum
ppm_combine(PG_FUNCTION_ARGS)
{
	PpmState   *a = (PpmState *) PG_GETARG_BYTEA_P(0);
	PpmState   *b = (PpmState *) PG_GETARG_BYTEA_P(1);
	Size		used,
				more;

	RequireAgg(fcinfo);
	CheckState(a);
	CheckState(b);
	if (b->nrows == 0)
		PG_RETURN_BYTEA_P(a);
	if (a->nrows == 0)
		PG_RETURN_BYTEA_P(b);	/* the executor copies it into its context */
	if (a->K != b->K || a->optlen != b->optlen ||
		memcmp(StateOptions(a), StateOptions(b), a->optlen) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine PPM training states built with different options")));
	used = StateUsedBytes(a);
	more = (Size) b->nrows * (b->K + 1) * sizeof(double);
	if (used + more > VARSIZE(a))
		a = GrowState(a, used, used + more);
	memcpy(StateRows(a) + (used - StateHeadBytes(a->optlen)), StateRows(b), more);
	a->nrows += b->nrows;
	PG_RETURN_BYTEA_P(a);
}

/* Final: fit the PPM on the collected rows; NULL when there are none. */
Datum
ppm_final(PG_FUNCTION_ARGS)
{
	PpmState   *st;
	HpPpmOptions o;
	double	   *rows;
	Size		rowbytes;
	HpModel		m;
	HpError		err;
	Datum		result;

	RequireAgg(fcinfo);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (PpmState *) PG_GETARG_BYTEA_P(0);
	CheckState(st);
	if (st->nrows == 0)
		PG_RETURN_NULL();
	ParseOptions(StateOptions(st), st->optlen, &o);
	if (o.nvocab != st->K)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupted hybridpref PPM training state")));
	/* an aligned copy: a state read from a tuple need not be 8-aligned */
	rowbytes = (Size) st->nrows * (st->K + 1) * sizeof(double);
	rows = MemoryContextAllocHuge(CurrentMemoryContext, rowbytes);
	memcpy(rows, StateRows(st), rowbytes);
	HpBlasEnsure();
	if (hp_ppm_fit(&o, rows, st->nrows, (size_t) hp_max_train_memory_kb * 1024, &m, &err) != HP_OK)
		HpReportError(&err);
	result = HpModelToDatum(&m);
	hp_model_free(&m);
	hp_ppm_options_free(&o);
	pfree(rows);
	PG_RETURN_DATUM(result);
}

/* ----------------------------------------------------------- scoring */

/* Decoded PPM and per-call scratch, cached with the model. */
typedef struct PpmScratch
{
	HpPpm		ppm;
	int32	   *idx;
	int			cap;
	double	   *v;
} PpmScratch;

/* The PPM in argument 0, decoded once per distinct value at this call site. */
static PpmScratch *
CachedPpm(FunctionCallInfo fcinfo)
{
	HpModelCache *c;

	HpBlasEnsure();
	c = HpModelCached(fcinfo, 0);
	if (c->scratch == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo((MemoryContext) c->cxt);
		PpmScratch *s = palloc0(sizeof(PpmScratch));
		HpError		err;

		if (hp_ppm_load(&c->model, &s->ppm, &err) != HP_OK)
		{
			MemoryContextSwitchTo(old);
			HpReportError(&err);
		}
		s->cap = 64;
		s->idx = palloc(sizeof(int32) * s->cap);
		s->v = palloc(sizeof(double) * s->ppm.K);
		c->scratch = s;
		MemoryContextSwitchTo(old);
	}
	return (PpmScratch *) c->scratch;
}

/* Normaliser for a PPM: 1/n when it normalises (n required), else 1. */
static double
PpmScale(FunctionCallInfo fcinfo, const HpPpm *p, int argno)
{
	double		n;

	if (!p->normalize)
		return 1.0;
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("n must not be NULL: this PPM was trained on counts divided by the dataset size"),
				 errhint("Pass the number of instances the counts were taken over.")));
	n = PG_GETARG_FLOAT8(argno);
	if (!(n > 0) || !isfinite(n))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n must be a finite number greater than 0, got %g", n)));
	return 1.0 / n;
}

/* A PPM output, or an error when it overflowed (huge counts, tiny n). */
static double
FiniteResult(double v, const char *what)
{
	if (!isfinite(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("PPM %s is out of the double range", what),
				 errdetail("The counts divided by n are too large for this model.")));
	return v;
}

/* hp.ppm_predict(ppm, counts, n): f(counts / n). */
Datum
ppm_predict(PG_FUNCTION_ARGS)
{
	PpmScratch *s;
	const double *counts;
	int			len;
	double		scale;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	s = CachedPpm(fcinfo);
	counts = HpArrayDoubles(PG_GETARG_ARRAYTYPE_P(1), "counts", &len);
	if (len != s->ppm.K)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("counts has %d elements but the PPM's vocabulary has %d features", len, s->ppm.K)));
	scale = PpmScale(fcinfo, &s->ppm, 2);
	for (int j = 0; j < len; j++)
		s->v[j] = counts[j] * scale;
	PG_RETURN_FLOAT8(FiniteResult(hp_ppm_predict(&s->ppm, s->v), "prediction"));
}

/*
 * hp.route_gain(ppm, features, n): f(b/n) - f(0) for the row's indicator
 * vector b over the PPM's vocabulary.  Features outside the vocabulary and
 * NULL elements are ignored; a NULL array has no features (gain 0).
 */
Datum
route_gain(PG_FUNCTION_ARGS)
{
	PpmScratch *s;
	ArrayType  *arr;
	int			nitems,
				nnz = 0;
	char	   *ptr;
	bits8	   *bitmap;
	int			bitmask = 1;
	double		scale;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = CachedPpm(fcinfo);
	scale = PpmScale(fcinfo, &s->ppm, 2);
	if (PG_ARGISNULL(1))
		PG_RETURN_FLOAT8(0.0);
	arr = PG_GETARG_ARRAYTYPE_P(1);
	if (ARR_ELEMTYPE(arr) != TEXTOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("features must be a text[]")));
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("features must be a one-dimensional array"),
				 errdetail("It has %d dimensions.", ARR_NDIM(arr))));
	nitems = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	if (nitems > s->cap)
	{
		MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(s->idx));

		s->idx = repalloc(s->idx, sizeof(int32) * nitems);
		s->cap = nitems;
		MemoryContextSwitchTo(old);
	}
	ptr = ARR_DATA_PTR(arr);
	bitmap = ARR_NULLBITMAP(arr);
	for (int i = 0; i < nitems; i++)
	{
		if (bitmap == NULL || (*bitmap & bitmask))
		{
			int			j = hp_ppm_lookup(&s->ppm, VARDATA_ANY(ptr), VARSIZE_ANY_EXHDR(ptr));

			if (j >= 0)
				s->idx[nnz++] = j;
			ptr = att_addlength_pointer(ptr, -1, ptr);
			ptr = (char *) att_align_nominal(ptr, TYPALIGN_INT);
		}
		if (bitmap && (bitmask <<= 1) == 0x100)
		{
			bitmap++;
			bitmask = 1;
		}
	}
	nnz = hp_ppm_sort_unique(s->idx, nnz);
	PG_RETURN_FLOAT8(FiniteResult(hp_ppm_gain(&s->ppm, s->idx, nnz, scale), "gain"));
}
