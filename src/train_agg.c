/*
 * train_agg.c: the hp.train_reward_model aggregates.
 *
 * The state keeps every row's difference vector (float32), label and
 * content key in chunks.  It is STYPE internal on purpose: it holds the
 * training data itself, which is not meant to travel between nodes (the
 * iterative trainer is the distributed path).  Parallel workers ship it
 * through serial/deserial; the final function sorts rows canonically so
 * the model does not depend on the plan.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
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
#define STATE_VERSION 1
#define CHUNK_BYTES (4 * 1024 * 1024)

typedef struct TrainChunk
{
	struct TrainChunk *next;
	int			nrows;
	int			cap;
	float	   *x;				/* cap x dim */
	float	   *p;
	uint64		*key;
} TrainChunk;

typedef struct TrainState
{
	int			dim;			/* 0 until the first row */
	bool		pairs;			/* arch mlp: rows hold a and b, not a - b */
	int			width;			/* floats per row: dim, or 2*dim for pairs */
	int64		n;
	Size		bytes;
	char	   *options;		/* canonical options JSON, or NULL */
	TrainChunk *head;
	TrainChunk *tail;
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

/* Charge bytes to the state, enforcing hybridpref.max_train_memory. */
static void
Charge(TrainState *st, Size bytes)
{
	st->bytes += bytes;
	if (st->bytes > (Size) hp_max_train_memory_kb * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("training data exceeds hybridpref.max_train_memory (%d kB)",
						hp_max_train_memory_kb),
				 errdetail("%lld rows of dimension %d are held in memory.",
						   (long long) st->n, st->dim),
				 errhint("Raise hybridpref.max_train_memory or train on a sample.")));
}

/* Room for one more row, allocating a new chunk in the aggregate context. */
static TrainChunk *
ChunkWithRoom(TrainState *st, MemoryContext agg)
{
	TrainChunk *c = st->tail;

	if (c == NULL || c->nrows == c->cap)
	{
		/* Chunks start small and double, so tiny groups stay tiny. */
		int			cap = Min(Max(1, CHUNK_BYTES / (int) (sizeof(float) * st->width)),
							  c ? 2 * c->cap : 16);
		Size		bytes = (Size) cap * (sizeof(float) * (st->width + 1) + sizeof(uint64));

		Charge(st, bytes);
		c = MemoryContextAllocZero(agg, sizeof(TrainChunk));
		c->cap = cap;
		c->x = MemoryContextAllocHuge(agg, (Size) cap * st->width * sizeof(float));
		c->p = MemoryContextAlloc(agg, (Size) cap * sizeof(float));
		c->key = MemoryContextAlloc(agg, (Size) cap * sizeof(uint64));
		if (st->tail)
			st->tail->next = c;
		else
			st->head = c;
		st->tail = c;
	}
	return c;
}

/* Append one row (difference vector and label). */
static void
AddRow(TrainState *st, MemoryContext agg, const float *a, const float *b, float p)
{
	TrainChunk *c = ChunkWithRoom(st, agg);
	float	   *x = c->x + (Size) c->nrows * st->width;

	memcpy(x, a, sizeof(float) * st->dim);
	if (st->pairs)
		memcpy(x + st->dim, b, sizeof(float) * st->dim);
	else
		hp_blas.saxpy(st->dim, -1.0f, b, 1, x, 1);
	if (!st->pairs && !hp_all_finite_f(x, st->dim))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the difference of the two embeddings overflows the real range"),
				 errdetail("Values near the float32 limit (3.4e38) cannot be trained on; rescale them.")));
	c->p[c->nrows] = p;
	c->key[c->nrows] = hp_row_key(x, st->width, p);
	c->nrows++;
	st->n++;
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
	int			da,
				db;
	double		p = 1.0;

	if (st == NULL)
	{
		st = MemoryContextAllocZero(agg, sizeof(TrainState));
		HpBlasEnsure();
	}
	if (optarg > 0 && st->options == NULL && !PG_ARGISNULL(optarg))
		KeepOptions(st, agg, PG_GETARG_DATUM(optarg));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || (soft && PG_ARGISNULL(3)))
		PG_RETURN_POINTER(st);

	aa = PG_GETARG_ARRAYTYPE_P(1);
	ba = PG_GETARG_ARRAYTYPE_P(2);
	a = HpArrayFloats(aa, soft ? "a" : "chosen", &da);
	b = HpArrayFloats(ba, soft ? "b" : "rejected", &db);
	if (da != db)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s has %d dimensions but %s has %d",
						soft ? "a" : "chosen", da, soft ? "b" : "rejected", db)));
	if (st->dim == 0)
	{
		st->dim = da;
		st->width = st->pairs ? 2 * da : da;
	}
	else if (st->dim != da)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("training rows have different dimensions: %d and %d", st->dim, da)));
	if (soft)
	{
		p = PG_GETARG_FLOAT8(3);
		if (!(p >= 0.0 && p <= 1.0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("p_a must be between 0 and 1, got %g", p)));
	}
	AddRow(st, agg, a, b, (float) p);
	PG_RETURN_POINTER(st);
}

/* Copy every row of src into dst (both in the aggregate context). */
static void
AppendState(TrainState *dst, MemoryContext agg, const TrainState *src)
{
	for (TrainChunk *c = src->head; c; c = c->next)
		for (int i = 0; i < c->nrows; i++)
		{
			TrainChunk *t = ChunkWithRoom(dst, agg);

			memcpy(t->x + (Size) t->nrows * dst->width, c->x + (Size) i * src->width,
				   sizeof(float) * dst->width);
			t->p[t->nrows] = c->p[i];
			t->key[t->nrows] = c->key[i];
			t->nrows++;
			dst->n++;
		}
}

/* Combine two partial states (parallel aggregation). */
Datum
train_combine(PG_FUNCTION_ARGS)
{
	MemoryContext agg = AggContext(fcinfo);
	TrainState *s1 = PG_ARGISNULL(0) ? NULL : (TrainState *) PG_GETARG_POINTER(0);
	TrainState *s2 = PG_ARGISNULL(1) ? NULL : (TrainState *) PG_GETARG_POINTER(1);

	if (s2 == NULL)
		PG_RETURN_POINTER(s1);
	if (s1 == NULL)
	{
		s1 = MemoryContextAllocZero(agg, sizeof(TrainState));
		s1->dim = s2->dim;
		s1->width = s2->width;
		s1->pairs = s2->pairs;
	}
	if (s1->options == NULL && s2->options)
		s1->options = MemoryContextStrdup(agg, s2->options);
	if (s2->n == 0)
		PG_RETURN_POINTER(s1);
	if (s1->dim == 0)
	{
		s1->dim = s2->dim;
		s1->width = s2->width;
		s1->pairs = s2->pairs;
	}
	else if (s1->dim != s2->dim || s1->pairs != s2->pairs)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("training rows have different dimensions: %d and %d", s1->dim, s2->dim)));
	AppendState(s1, agg, s2);
	PG_RETURN_POINTER(s1);
}

/* Serialise a state into a versioned bytea. */
Datum
train_serial(PG_FUNCTION_ARGS)
{
	TrainState *st = (TrainState *) PG_GETARG_POINTER(0);
	int32		optlen = st->options ? (int32) strlen(st->options) : -1;
	Size		rowbytes = sizeof(float) * (st->width + 1) + sizeof(uint64);
	Size		size = VARHDRSZ + 24 + Max(optlen, 0) + (Size) st->n * rowbytes;
	bytea	   *out;
	char	   *p;
	uint32		magic = STATE_MAGIC;
	uint16		version = STATE_VERSION;

	AggContext(fcinfo);
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
	p[7] = 0;
	memcpy(p + 8, &st->dim, 4);
	memcpy(p + 12, &st->n, 8);
	memcpy(p + 20, &optlen, 4);
	p += 24;
	if (optlen > 0)
	{
		memcpy(p, st->options, optlen);
		p += optlen;
	}
	for (TrainChunk *c = st->head; c; c = c->next)
	{
		memcpy(p, c->x, sizeof(float) * st->width * c->nrows);
		p += sizeof(float) * st->width * c->nrows;
		memcpy(p, c->p, sizeof(float) * c->nrows);
		p += sizeof(float) * c->nrows;
		memcpy(p, c->key, sizeof(uint64) * c->nrows);
		p += sizeof(uint64) * c->nrows;
	}
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
	int64		n;
	int			dim;

	if (len < 24)
		goto corrupt;
	memcpy(&magic, p, 4);
	memcpy(&version, p + 4, 2);
	memcpy(&dim, p + 8, 4);
	memcpy(&n, p + 12, 8);
	memcpy(&optlen, p + 20, 4);
	if (magic != STATE_MAGIC || version != STATE_VERSION || dim < 0 || dim > HP_MAX_DIM ||
		n < 0 || optlen < -1 || (Size) Max(optlen, 0) > len - 24)
		goto corrupt;
	st->pairs = p[6] == 1;
	p += 24;
	len -= 24;
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
	{
		/* Chunks were written back to back; rebuild with the same layout. */
		Size		rowbytes = sizeof(float) * (st->width + 1) + sizeof(uint64);

		if (dim == 0 ? (n != 0 || len != 0) : (len % rowbytes != 0 || (Size) n != len / rowbytes))
			goto corrupt;
		while (st->n < n)
		{
			TrainChunk *c = ChunkWithRoom(st, agg);
			int			m = (int) Min((int64) c->cap, n - st->n);

			memcpy(c->x, p, sizeof(float) * st->width * m);
			p += sizeof(float) * st->width * m;
			memcpy(c->p, p, sizeof(float) * m);
			p += sizeof(float) * m;
			memcpy(c->key, p, sizeof(uint64) * m);
			p += sizeof(uint64) * m;
			c->nrows = m;
			st->n += m;
		}
	}
	PG_RETURN_POINTER(st);

corrupt:
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("corrupted hybridpref training state")));
	PG_RETURN_NULL();
}

/* Sort rows canonically, train, and return the model (NULL for no rows). */
Datum
train_final(PG_FUNCTION_ARGS)
{
	TrainState *st;
	MemoryContext work,
				old;
	HpRowRef   *refs;
	HpTrainSet	ts;
	HpTrainOptions opt;
	HpModel		model,
				initm;
	const HpModel *init = NULL;
	bool		has_init = false;
	HpError		err;
	char	   *canonical = NULL;
	float	   *X,
			   *p;
	uint64	   *key;
	int64		k = 0;
	Datum		result;

	AggContext(fcinfo);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (TrainState *) PG_GETARG_POINTER(0);
	if (st->n == 0)
		PG_RETURN_NULL();
	HpBlasEnsure();

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
		 * The solver needs a sorted copy of the rows plus per-row, per-head
		 * work arrays; count them against the same limit as the state.
		 */
		int			heads = opt.heads + (opt.heads > 1 ? 1 : 0);
		Size		need = st->bytes + (Size) st->n * (sizeof(float) * st->width + sizeof(HpRowRef) +
											 sizeof(float) * 7 * heads);

		if (need > (Size) hp_max_train_memory_kb * 1024)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("training needs about %zu kB, more than hybridpref.max_train_memory (%d kB)",
							need / 1024, hp_max_train_memory_kb),
					 errhint("Raise hybridpref.max_train_memory, use fewer heads, or use hp.train_reward_model_iterative.")));
	}
	refs = MemoryContextAllocHuge(work, sizeof(HpRowRef) * st->n);
	for (TrainChunk *c = st->head; c; c = c->next)
		for (int i = 0; i < c->nrows; i++, k++)
		{
			refs[k].key = c->key[i];
			refs[k].x = c->x + (Size) i * st->width;
			refs[k].p = c->p[i];
		}
	hp_sort_rows(refs, st->n, st->width);

	X = MemoryContextAllocHuge(work, sizeof(float) * st->width * st->n);
	p = MemoryContextAllocHuge(work, sizeof(float) * st->n);
	key = MemoryContextAllocHuge(work, sizeof(uint64) * st->n);
	for (k = 0; k < st->n; k++)
	{
		memcpy(X + k * st->width, refs[k].x, sizeof(float) * st->width);
		p[k] = refs[k].p;
		key[k] = refs[k].key;
	}
	pfree(refs);

	if (st->pairs)
	{
		/* Split the stored [a | b] rows into two matrices for the MLP. */
		float	   *A = MemoryContextAllocHuge(work, sizeof(float) * st->dim * st->n);
		float	   *B = MemoryContextAllocHuge(work, sizeof(float) * st->dim * st->n);
		HpPairSet	ps;

		for (k = 0; k < st->n; k++)
		{
			memcpy(A + k * st->dim, X + k * st->width, sizeof(float) * st->dim);
			memcpy(B + k * st->dim, X + k * st->width + st->dim, sizeof(float) * st->dim);
		}
		pfree(X);
		ps.n = st->n;
		ps.dim = st->dim;
		ps.A = A;
		ps.B = B;
		ps.p = p;
		ps.key = key;
		if (hp_mlp_train(&ps, &opt, canonical, init, &model, &err) != HP_OK)
			HpReportError(&err);
	}
	else
	{
		ts.n = st->n;
		ts.dim = st->dim;
		ts.X = X;
		ts.p = p;
		ts.key = key;
		if (hp_bt_train(&ts, &opt, canonical, init, &model, &err) != HP_OK)
			HpReportError(&err);
	}

	MemoryContextSwitchTo(old);
	result = HpModelToDatum(&model);
	MemoryContextDelete(work);
	PG_RETURN_DATUM(result);
}
