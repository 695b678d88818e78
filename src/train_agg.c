/*
 * train_agg.c: the hp.train_reward_model aggregates.
 *
 * The state keeps every row's difference vector (float32), label and
 * content key.  It is STYPE internal on purpose: it holds the
 * training data itself, which is not meant to travel between nodes (the
 * iterative trainer is the distributed path).  Rows whose arrays are both
 * out of line wait as TOAST pointers and are read in bulk at the final
 * step (toast_pairs.c).  A partial aggregate of a parallel plan ships its
 * state through serial/deserial with waiting rows as pointers (the
 * query's Finalize Aggregate reads them, same database and snapshot);
 * every other serialised state is self-contained.  The final function
 * sorts rows canonically so the model does not depend on the plan.
 */
#include "postgres.h"

#include <sys/mman.h>
#include <unistd.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "hp_blas.h"
#include "hp_mlp.h"
#include "hp_options.h"
#include "hp_pg.h"
#include "hp_train.h"

#define STATE_MAGIC 0x48505453	/* "HPTS" */
#define STATE_VERSION 3
#define STATE_HEADER 32
#define HUGE_PAGE_BYTES (2 * 1024 * 1024)

/*
 * Rows live in three parallel arrays that grow by doubling.  The values,
 * nearly all the bytes, go to the backend's kept arena when it is free
 * (train_arena.c), so repeated trainings do not fault fresh pages in.
 * Large reallocations are remapped rather than copied, and the final
 * function can hand the arrays to the solver after ordering them in place,
 * so the training data is written exactly once.
 */
typedef struct TrainState
{
	int			dim;			/* 0 until the first row */
	bool		pairs;			/* arch mlp: rows hold a and b, not a - b */
	int			width;			/* floats per row: dim, or 2*dim for pairs */
	int64		n;				/* rows in x, p, key */
	int64		cap;
	int64		base;			/* while reading waiting rows: their first slot */
	bool		soft;			/* (a, b, p_a) form: names rows a and b */
	char	   *options;		/* canonical options JSON, or NULL */
	HpToastPairs *pending;		/* rows still in TOAST, not yet in x */
	float	   *x;				/* cap x width */
	float	   *p;
	uint64	   *key;
} TrainState;

PG_FUNCTION_INFO_V1(train_trans);
PG_FUNCTION_INFO_V1(train_combine);
PG_FUNCTION_INFO_V1(train_serial);
PG_FUNCTION_INFO_V1(train_deserial);
PG_FUNCTION_INFO_V1(train_final);

/* Aggregate memory context or an error when called outside an aggregate. */
static MemoryContext
AggContext(FunctionCallInfo fcinfo)
{
	MemoryContext agg;

	if (!AggCheckCallContext(fcinfo, &agg))
		elog(ERROR, "hybridpref training function called in non-aggregate context");
	return agg;
}

/* Bytes one stored row takes: its floats, its label and its key. */
static inline Size
RowBytes(const TrainState *st)
{
	return sizeof(float) * (st->width + 1) + sizeof(uint64);
}

/* Error unless n rows fit in hybridpref.max_train_memory. */
static void
CheckLimit(const TrainState *st, int64 n)
{
	if (st->dim == 0)
		return;
	if ((Size) n * RowBytes(st) > (Size) hp_max_train_memory_kb * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("training data exceeds hybridpref.max_train_memory (%d kB)",
						hp_max_train_memory_kb),
				 errdetail("%lld rows of dimension %d take %zu bytes.",
						   (long long) n, st->dim, (Size) n * RowBytes(st)),
				 errhint("Raise hybridpref.max_train_memory or train on a sample.")));
}

/*
 * Ask for transparent huge pages on a large buffer: first-touch page faults
 * otherwise cost more than reading the rows.  The advice covers whole pages
 * around the buffer, which for a large allocation is its whole mapping, so
 * the kernel can still grow it by remapping.  Advice only; errors ignored.
 */
static void
AdviseHugePages(void *ptr, Size len)
{
#ifdef MADV_HUGEPAGE
	Size		page = (Size) sysconf(_SC_PAGESIZE);
	uintptr_t	lo = TYPEALIGN_DOWN(page, (uintptr_t) ptr);
	uintptr_t	hi = TYPEALIGN(page, (uintptr_t) ptr + len);

	if (len >= HUGE_PAGE_BYTES)
		(void) madvise((void *) lo, hi - lo, MADV_HUGEPAGE);
#endif
}

/* Make room for at least need rows, doubling within the memory limit. */
static void
Reserve(TrainState *st, MemoryContext agg, int64 need)
{
	int64		cap = Max(st->cap, 16);
	int64		limit = (int64) (((Size) hp_max_train_memory_kb * 1024) / RowBytes(st));

	if (need <= st->cap)
		return;
	CheckLimit(st, need);
	while (cap < need)
		cap *= 2;
	cap = Max(Min(cap, limit), need);
	if (st->x == NULL)
	{
		st->x = HpArenaAcquire(agg, sizeof(float) * st->width * cap);
		if (st->x == NULL)
			st->x = MemoryContextAllocHuge(agg, sizeof(float) * st->width * cap);
		st->p = MemoryContextAllocHuge(agg, sizeof(float) * cap);
		st->key = MemoryContextAllocHuge(agg, sizeof(uint64) * cap);
	}
	else
	{
		if (HpArenaOwns(st->x))
			st->x = HpArenaResize(st->x, sizeof(float) * st->width * cap);
		else
			st->x = repalloc_huge(st->x, sizeof(float) * st->width * cap);
		st->p = repalloc_huge(st->p, sizeof(float) * cap);
		st->key = repalloc_huge(st->key, sizeof(uint64) * cap);
	}
	if (!HpArenaOwns(st->x))
		AdviseHugePages(st->x, sizeof(float) * st->width * cap);
	st->cap = cap;
}

/*
 * Fill row slot `row` from its two vectors.  Rows of differences are
 * subtracted, checked and keyed in one pass (hp_row_diff): a - b is finite
 * exactly when a and b are and the subtraction does not overflow, so the
 * inputs are re-read only to name the culprit.  Pairs (MLP) keep both
 * sides and check each.
 */
static void
FillRow(TrainState *st, int64 row, const float *a, const float *b)
{
	float	   *x = st->x + (Size) row * st->width;
	float		p = st->p[row];
	bool		finite;

	if (st->pairs)
	{
		memcpy(x, a, sizeof(float) * st->dim);
		memcpy(x + st->dim, b, sizeof(float) * st->dim);
		finite = hp_all_finite_f(x, st->width);
		st->key[row] = hp_row_key(x, st->width, p);
	}
	else
		finite = hp_row_diff(a, b, x, st->dim, p, &st->key[row]);
	if (!finite)
	{
		if (!hp_all_finite_f(a, st->dim))
			HpNonFiniteError(st->soft ? "a" : "chosen");
		if (!hp_all_finite_f(b, st->dim))
			HpNonFiniteError(st->soft ? "b" : "rejected");
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the difference of the two embeddings overflows the real range"),
				 errdetail("Values near the float32 limit (3.4e38) cannot be trained on; rescale them.")));
	}
}

/*
 * Check two arrays' shapes and dimensions against each other and the
 * state; the first row fixes the state's dimension.
 */
static void
PairShape(TrainState *st, ArrayType *aa, ArrayType *ba, const float **a, const float **b)
{
	const char *an = st->soft ? "a" : "chosen",
			   *bn = st->soft ? "b" : "rejected";
	int			da,
				db;

	*a = HpArrayFloatsShape(aa, an, &da);
	*b = HpArrayFloatsShape(ba, bn, &db);
	if (da != db)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s has %d dimensions but %s has %d", an, da, bn, db)));
	if (st->dim == 0)
	{
		st->dim = da;
		st->width = st->pairs ? 2 * da : da;
	}
	else if (st->dim != da)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("training rows have different dimensions: %d and %d", st->dim, da)));
}

/* HpToastPairsResolve callback: a waiting row's arrays have been read. */
static void
FillDeferred(void *arg, int64 index, float p, struct varlena *a, struct varlena *b)
{
	TrainState *st = (TrainState *) arg;
	int64		row = st->base + index;
	const float *af,
			   *bf;

	PairShape(st, (ArrayType *) a, (ArrayType *) b, &af, &bf);
	st->p[row] = p;
	FillRow(st, row, af, bf);
}

/* Read the rows still waiting in TOAST into new slots after the others. */
static void
ResolvePending(TrainState *st, MemoryContext agg)
{
	int64		k = HpToastPairsCount(st->pending);

	if (k == 0)
		return;
	Reserve(st, agg, st->n + k);
	st->base = st->n;
	HpToastPairsResolve(st->pending, FillDeferred, st);
	st->n += k;
}

/* Rows held, read or waiting. */
static inline int64
AllRows(const TrainState *st)
{
	return st->n + HpToastPairsCount(st->pending);
}

/* Parse an options jsonb (failing early on bad options) and keep its text. */
static void
KeepOptions(TrainState *st, MemoryContext agg, Datum jsonb)
{
	size_t		len;
	char	   *text = HpJsonbText(jsonb, &len);
	char	   *rest;
	HpTrainOptions opt;
	char	   *canonical = NULL;
	HpModel		init;
	bool		has_init;
	HpError		err;

	rest = HpSplitInit(text, &init, &has_init);
	if (hp_train_options_parse(rest, strlen(rest), &opt, &canonical, &err) != HP_OK)
		HpReportError(&err);
	if (has_init)
		hp_model_free(&init);
	st->pairs = (opt.arch == HP_KIND_MLP);
	st->options = MemoryContextStrdup(agg, text);
	pfree(text);
	pfree(rest);
	if (canonical)
		pfree(canonical);
}

/*
 * Transition for all three forms: (chosen, rejected), (chosen, rejected,
 * options) and (a, b, p_a, options).  Rows with a NULL vector or label are
 * skipped, like NULLs in sum().
 */
Datum
train_trans(PG_FUNCTION_ARGS)
{
	MemoryContext agg = AggContext(fcinfo);
	TrainState *st = PG_ARGISNULL(0) ? NULL : (TrainState *) PG_GETARG_POINTER(0);
	int			nargs = PG_NARGS();
	bool		soft = (nargs == 5);
	int			optarg = soft ? 4 : (nargs == 4 ? 3 : -1);
	ArrayType  *aa,
			   *ba;
	const float *a,
			   *b;
	double		p = 1.0;

	if (st == NULL)
	{
		st = MemoryContextAllocZero(agg, sizeof(TrainState));
		HpBlasEnsure();
	}
	if (optarg > 0 && !PG_ARGISNULL(optarg))
	{
		if (st->options == NULL)
			KeepOptions(st, agg, PG_GETARG_DATUM(optarg));
		else
			HpAggCheckOptions(fcinfo, optarg, st->options, strlen(st->options),
							  "hp.train_reward_model");
	}
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || (soft && PG_ARGISNULL(3)))
		PG_RETURN_POINTER(st);

	st->soft = soft;
	if (soft)
	{
		p = PG_GETARG_FLOAT8(3);
		if (!(p >= 0.0 && p <= 1.0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("p_a must be between 0 and 1, got %g", p)));
	}

	/*
	 * Once the dimension is known, a row whose arrays are both out of line
	 * only leaves their pointers; they are read with the others in bulk.
	 */
	CheckLimit(st, AllRows(st) + 1);
	if (st->dim > 0)
	{
		Size		bytes = ARR_OVERHEAD_NONULLS(1) - VARHDRSZ + sizeof(float) * st->dim;

		if (st->pending == NULL)
			st->pending = HpToastPairsCreate(agg);
		if (HpToastPairsDefer(st->pending, PG_GETARG_DATUM(1), PG_GETARG_DATUM(2), bytes, (float) p))
			PG_RETURN_POINTER(st);
	}

	aa = PG_GETARG_ARRAYTYPE_P(1);
	ba = PG_GETARG_ARRAYTYPE_P(2);
	PairShape(st, aa, ba, &a, &b);
	/* Inline arrays: 5-10 % of a training when prefetched whole. */
	HpPrefetch(a, sizeof(float) * st->dim);
	HpPrefetch(b, sizeof(float) * st->dim);
	Reserve(st, agg, st->n + 1);
	st->p[st->n] = (float) p;
	FillRow(st, st->n, a, b);
	st->n++;
	PG_RETURN_POINTER(st);
}

/* Append every row of src to dst. */
static void
AppendRows(TrainState *dst, MemoryContext agg, const TrainState *src)
{
	Reserve(dst, agg, dst->n + src->n);
	memcpy(dst->x + (Size) dst->n * dst->width, src->x, sizeof(float) * dst->width * src->n);
	memcpy(dst->p + dst->n, src->p, sizeof(float) * src->n);
	memcpy(dst->key + dst->n, src->key, sizeof(uint64) * src->n);
	dst->n += src->n;
	if (HpToastPairsCount(src->pending) > 0)
	{
		if (dst->pending == NULL)
			dst->pending = HpToastPairsCreate(agg);
		HpToastPairsMove(dst->pending, src->pending);
	}
}

/* Release a state's row arrays (its rows now live elsewhere). */
static void
FreeRows(TrainState *st)
{
	if (st->x)
	{
		if (HpArenaOwns(st->x))
			HpArenaRelease(st->x);
		else
			pfree(st->x);
		pfree(st->p);
		pfree(st->key);
	}
	st->x = NULL;
	st->p = NULL;
	st->key = NULL;
	st->n = st->cap = 0;
}

/*
 * Combine two partial states (parallel aggregation).  Both live in the
 * aggregate context and STYPE internal is passed by value, so the larger
 * state can absorb the smaller and be returned: the final function orders
 * rows canonically, so which one absorbs does not change the model.
 */
Datum
train_combine(PG_FUNCTION_ARGS)
{
	MemoryContext agg = AggContext(fcinfo);
	TrainState *s1 = PG_ARGISNULL(0) ? NULL : (TrainState *) PG_GETARG_POINTER(0);
	TrainState *s2 = PG_ARGISNULL(1) ? NULL : (TrainState *) PG_GETARG_POINTER(1);
	TrainState *big,
			   *small;

	if (s2 == NULL)
		PG_RETURN_POINTER(s1);
	if (s1 == NULL)
		PG_RETURN_POINTER(s2);
	if (s1->options && s2->options && strcmp(s1->options, s2->options) != 0)
		HpAggArgChanged("options", "hp.train_reward_model");
	if (s1->options == NULL)
		s1->options = s2->options;
	if (s2->options == NULL)
		s2->options = s1->options;
	if (AllRows(s2) == 0)
		PG_RETURN_POINTER(s1);
	if (AllRows(s1) == 0)
		PG_RETURN_POINTER(s2);
	if (s1->dim != s2->dim || s1->pairs != s2->pairs)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("training rows have different dimensions: %d and %d", s1->dim, s2->dim)));
	/* The state in the kept arena absorbs (it grows without faults). */
	if (HpArenaOwns(s1->x) || HpArenaOwns(s2->x))
		big = HpArenaOwns(s1->x) ? s1 : s2;
	else
		big = s1->cap >= s2->cap ? s1 : s2;
	small = big == s1 ? s2 : s1;
	CheckLimit(big, AllRows(big) + AllRows(small));
	AppendRows(big, agg, small);
	FreeRows(small);
	PG_RETURN_POINTER(big);
}

/*
 * True when this serialisation feeds the Finalize Aggregate of the same
 * plan (PostgreSQL's partial aggregation, in a worker or in the leader):
 * there TOAST pointers stay valid.  A caller that wraps the aggregate in
 * one of its own (Citus's worker_partial_agg runs an Agg node that does
 * not split) gets the arrays themselves.
 */
static bool
SerialForSameQuery(FunctionCallInfo fcinfo)
{
	return fcinfo->context != NULL && IsA(fcinfo->context, AggState) &&
		DO_AGGSPLIT_SERIALIZE(((AggState *) fcinfo->context)->aggsplit);
}

/*
 * Serialise a state into a versioned bytea: header, options, rows, then
 * the rows still in TOAST as pointers.  Such rows are kept only for the
 * same query's Finalize Aggregate (SerialForSameQuery), which reads them
 * all in one pass; anywhere else they are read first, so the bytes stand
 * alone wherever they go.
 */
Datum
train_serial(PG_FUNCTION_ARGS)
{
	MemoryContext agg = AggContext(fcinfo);
	TrainState *st = (TrainState *) PG_GETARG_POINTER(0);
	int32		optlen = st->options ? (int32) strlen(st->options) : -1;
	int64		npend;
	Size		size;
	bytea	   *out;
	char	   *p;
	uint32		magic = STATE_MAGIC;
	uint16		version = STATE_VERSION;

	if (!SerialForSameQuery(fcinfo))
		ResolvePending(st, agg);
	npend = HpToastPairsCount(st->pending);
	size = VARHDRSZ + STATE_HEADER + Max(optlen, 0) + (Size) st->n * RowBytes(st) +
		HpToastPairsSerialBytes(npend);
	if (size > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("training state of %zu bytes is too large to pass between parallel workers", size),
				 errhint("SET max_parallel_workers_per_gather = 0 for this query.")));
	out = palloc(size);
	SET_VARSIZE(out, size);
	p = VARDATA(out);
	memcpy(p, &magic, 4);
	memcpy(p + 4, &version, 2);
	p[6] = st->pairs ? 1 : 0;
	p[7] = st->soft ? 1 : 0;
	memcpy(p + 8, &st->dim, 4);
	memcpy(p + 12, &st->n, 8);
	memcpy(p + 20, &optlen, 4);
	memcpy(p + 24, &npend, 8);
	p += STATE_HEADER;
	if (optlen > 0)
	{
		memcpy(p, st->options, optlen);
		p += optlen;
	}
	if (st->n > 0)
	{
		memcpy(p, st->x, sizeof(float) * st->width * st->n);
		p += sizeof(float) * st->width * st->n;
		memcpy(p, st->p, sizeof(float) * st->n);
		p += sizeof(float) * st->n;
		memcpy(p, st->key, sizeof(uint64) * st->n);
		p += sizeof(uint64) * st->n;
	}
	(void) HpToastPairsSerialize(st->pending, p);
	PG_RETURN_BYTEA_P(out);
}

/* Rebuild a state from train_serial's bytea, checking every size. */
Datum
train_deserial(PG_FUNCTION_ARGS)
{
	MemoryContext agg = AggContext(fcinfo);
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(in);
	Size		len = VARSIZE_ANY_EXHDR(in);
	TrainState *st = MemoryContextAllocZero(agg, sizeof(TrainState));
	uint32		magic;
	uint16		version;
	int32		optlen;
	int64		n,
				npend;
	int			dim;

	if (len < STATE_HEADER)
		goto corrupt;
	memcpy(&magic, p, 4);
	memcpy(&version, p + 4, 2);
	memcpy(&dim, p + 8, 4);
	memcpy(&n, p + 12, 8);
	memcpy(&optlen, p + 20, 4);
	memcpy(&npend, p + 24, 8);
	if (magic != STATE_MAGIC || version != STATE_VERSION || dim < 0 || dim > HP_MAX_DIM ||
		n < 0 || npend < 0 || optlen < -1 || (Size) Max(optlen, 0) > len - STATE_HEADER)
		goto corrupt;
	st->pairs = p[6] == 1;
	st->soft = p[7] == 1;
	p += STATE_HEADER;
	len -= STATE_HEADER;
	st->dim = dim;
	st->width = st->pairs ? 2 * dim : dim;
	if (optlen >= 0)
	{
		st->options = MemoryContextAlloc(agg, optlen + 1);
		memcpy(st->options, p, optlen);
		st->options[optlen] = '\0';
		p += optlen;
		len -= optlen;
	}
	if (dim == 0)
	{
		if (n != 0 || npend != 0 || len != 0)
			goto corrupt;
	}
	else
	{
		Size		rows;

		if ((Size) npend > len / HpToastPairsSerialBytes(1))
			goto corrupt;
		rows = len - HpToastPairsSerialBytes(npend);
		if (rows % RowBytes(st) != 0 || (Size) n != rows / RowBytes(st))
			goto corrupt;
	}
	if (n > 0)
	{
		Reserve(st, agg, n);
		memcpy(st->x, p, sizeof(float) * st->width * n);
		p += sizeof(float) * st->width * n;
		memcpy(st->p, p, sizeof(float) * n);
		p += sizeof(float) * n;
		memcpy(st->key, p, sizeof(uint64) * n);
		p += sizeof(uint64) * n;
		st->n = n;
	}
	if (npend > 0)
	{
		st->pending = HpToastPairsCreate(agg);
		(void) HpToastPairsDeserialize(st->pending, p, npend);
	}
	PG_RETURN_POINTER(st);

corrupt:
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("corrupted hybridpref training state")));
	PG_RETURN_NULL();
}

/*
 * Sort rows canonically, train, and return the model (NULL for no rows).
 * The rows are reordered in place: the multiset of rows, which is all the
 * state means, is unchanged, so calling this again (as a window aggregate
 * does) gives the same model.
 */
Datum
train_final(PG_FUNCTION_ARGS)
{
	TrainState *st;
	MemoryContext agg,
				work,
				old;
	HpTrainSet	ts;
	HpTrainOptions opt;
	HpModel		model,
				initm;
	const HpModel *init = NULL;
	bool		has_init = false;
	HpError		err;
	char	   *canonical = NULL;
	Datum		result;

	agg = AggContext(fcinfo);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (TrainState *) PG_GETARG_POINTER(0);
	if (AllRows(st) == 0)
		PG_RETURN_NULL();
	HpBlasEnsure();
	ResolvePending(st, agg);

	/* Everything the solver allocates dies with this context. */
	work = AllocSetContextCreate(CurrentMemoryContext, "hybridpref training",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);

	{
		char	   *rest = HpSplitInit(st->options ? st->options : "{}", &initm, &has_init);

		if (hp_train_options_parse(rest, strlen(rest), &opt, &canonical, &err) != HP_OK)
			HpReportError(&err);
		init = has_init ? &initm : NULL;
	}

	{
		/*
		 * Ordering needs two row references and an index per row, the
		 * solver per-row, per-head work arrays (and the MLP a split copy);
		 * count them against the same limit as the rows.
		 */
		int			heads = opt.heads + (opt.heads > 1 ? 1 : 0);
		Size		need = (Size) st->n * (RowBytes(st) + 2 * sizeof(HpRowRef) + sizeof(int64) +
											 sizeof(float) * 7 * heads +
											 (st->pairs ? sizeof(float) * st->width : 0));

		if (need > (Size) hp_max_train_memory_kb * 1024)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("training needs about %zu kB, more than hybridpref.max_train_memory (%d kB)",
							need / 1024, hp_max_train_memory_kb),
					 errhint("Raise hybridpref.max_train_memory, use fewer heads, or use hp.train_reward_model_iterative.")));
	}
	hp_canonical_order(st->x, st->p, st->key, st->n, st->width);

	if (st->pairs)
	{
		/* Split the stored [a | b] rows into two matrices for the MLP. */
		float	   *A = MemoryContextAllocHuge(work, sizeof(float) * st->dim * st->n);
		float	   *B = MemoryContextAllocHuge(work, sizeof(float) * st->dim * st->n);
		HpPairSet	ps;

		for (int64 k = 0; k < st->n; k++)
		{
			memcpy(A + k * st->dim, st->x + k * st->width, sizeof(float) * st->dim);
			memcpy(B + k * st->dim, st->x + k * st->width + st->dim, sizeof(float) * st->dim);
		}
		ps.n = st->n;
		ps.dim = st->dim;
		ps.A = A;
		ps.B = B;
		ps.p = st->p;
		ps.key = st->key;
		if (hp_mlp_train(&ps, &opt, canonical, init, &model, &err) != HP_OK)
			HpReportError(&err);
	}
	else
	{
		ts.n = st->n;
		ts.dim = st->dim;
		ts.X = st->x;
		ts.p = st->p;
		ts.key = st->key;
		if (hp_bt_train(&ts, &opt, canonical, init, &model, &err) != HP_OK)
			HpReportError(&err);
	}

	MemoryContextSwitchTo(old);
	result = HpModelToDatum(&model);
	MemoryContextDelete(work);
	PG_RETURN_DATUM(result);
}
