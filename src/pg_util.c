/*
 * pg_util.c: array checks, model datum conversion and the per-query model
 * cache shared by the SQL-callable functions.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "nodes/primnodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "hp_blas.h"
#include "hp_pg.h"
#include "hp_score.h"

/* Shared checks of a 1-D array argument; returns its element count. */
static int
CheckArrayShape(ArrayType *arr, Oid elemtype, const char *what)
{
	int			n;

	if (ARR_ELEMTYPE(arr) != elemtype)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s has the wrong element type", what)));
	if (ARR_NDIM(arr) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must not be empty", what)));
	if (ARR_NDIM(arr) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what),
				 errdetail("It has %d dimensions.", ARR_NDIM(arr))));
	if (ARR_HASNULL(arr) && array_contains_nulls(arr))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not contain NULL elements", what)));
	n = ARR_DIMS(arr)[0];
	if (n < 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must not be empty", what)));
	if (n > HP_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s has %d elements, more than the maximum of %d", what, n, HP_MAX_DIM)));
	return n;
}

/* Error for NaN or infinite elements in argument what. */
void
HpNonFiniteError(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("%s contains NaN or infinite values", what)));
}

/* Validated float view of a real[] argument. */
const float *
HpArrayFloats(ArrayType *arr, const char *what, int *dim)
{
	const float *x = HpArrayFloatsShape(arr, what, dim);

	if (!hp_all_finite_f(x, *dim))
		HpNonFiniteError(what);
	return x;
}

/*
 * Float view of a real[] argument with its shape checked but not its
 * values: for callers that check a result computed from every element
 * (training checks a - b once instead of a, b and a - b).
 */
const float *
HpArrayFloatsShape(ArrayType *arr, const char *what, int *dim)
{
	*dim = CheckArrayShape(arr, FLOAT4OID, what);
	return (const float *) ARR_DATA_PTR(arr);
}

/* Validated double view of a float8[] argument. */
const double *
HpArrayDoubles(ArrayType *arr, const char *what, int *n)
{
	int			len = CheckArrayShape(arr, FLOAT8OID, what);
	const double *x = (const double *) ARR_DATA_PTR(arr);

	if (!hp_all_finite_d(x, len))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s contains NaN or infinite values", what)));
	*n = len;
	return x;
}

/* real[] from a float buffer. */
ArrayType *
HpFloatsArray(const float *x, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * (n > 0 ? n : 1));
	ArrayType  *a;

	for (int i = 0; i < n; i++)
		d[i] = Float4GetDatum(x[i]);
	a = construct_array(d, n, FLOAT4OID, sizeof(float4), true, TYPALIGN_INT);
	pfree(d);
	return a;
}

/* Decode a hp.model datum into m (allocations in the current context). */
void
HpModelFromDatum(Datum d, HpModel *m)
{
	bytea	   *v = (bytea *) PG_DETOAST_DATUM(d);
	HpError		err;

	if (hp_model_decode((const unsigned char *) VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), m, &err) != HP_OK)
		HpReportError(&err);
}

/* hp.model datum from a model. */
Datum
HpModelToDatum(const HpModel *m)
{
	size_t		sz = hp_model_binary_size(m);
	bytea	   *v;

	if (sz > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model of %zu bytes is too large", sz)));
	v = palloc(VARHDRSZ + sz);
	SET_VARSIZE(v, VARHDRSZ + sz);
	hp_model_encode(m, (unsigned char *) VARDATA(v));
	return PointerGetDatum(v);
}

/*
 * Cache key of a model datum without detoasting it when possible: an
 * on-disk toast pointer identifies the value, an inline value is identified
 * by its length and stored checksum.
 */
static int
ModelKey(Datum d, char *key)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);

	if (VARATT_IS_EXTERNAL_ONDISK(v))
	{
		int			len = VARSIZE_EXTERNAL(v);

		if (len > 31)
			return -1;
		key[0] = 'T';
		memcpy(key + 1, v, len);
		return len + 1;
	}
	if (VARATT_IS_EXTERNAL(v) || VARATT_IS_COMPRESSED(v))
		return -1;
	{
		uint64		sum = hp_model_stored_checksum((const unsigned char *) VARDATA_ANY(v),
												   VARSIZE_ANY_EXHDR(v));
		uint64		len = VARSIZE_ANY_EXHDR(v);

		key[0] = 'I';
		memcpy(key + 1, &len, 8);
		memcpy(key + 9, &sum, 8);
		return 17;
	}
}

/* Decoded model for argument argno, decoded at most once per distinct value. */
HpModelCache *
HpModelCached(FunctionCallInfo fcinfo, int argno)
{
	Datum		d = PG_GETARG_DATUM(argno);
	HpModelCache *c = (HpModelCache *) fcinfo->flinfo->fn_extra;
	char		key[32];
	int			keylen = ModelKey(d, key);
	MemoryContext old;

	if (c && keylen > 0 && c->keylen == keylen && memcmp(c->key, key, keylen) == 0)
		return c;

	/* Stale or first: rebuild in a child context of fn_mcxt. */
	if (c)
	{
		MemoryContextDelete((MemoryContext) c->cxt);
		fcinfo->flinfo->fn_extra = NULL;
	}
	{
		MemoryContext cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
												  "hybridpref model cache",
												  ALLOCSET_DEFAULT_SIZES);

		old = MemoryContextSwitchTo(cxt);
		c = palloc0(sizeof(HpModelCache));
		c->cxt = cxt;
		HpModelFromDatum(d, &c->model);
		if (keylen > 0)
		{
			memcpy(c->key, key, keylen);
			c->keylen = keylen;
		}
		else
			c->keylen = 0;		/* uncachable form: decode every call */
		MemoryContextSwitchTo(old);
	}
	fcinfo->flinfo->fn_extra = c;
	return c;
}

/*
 * True when aggregate argument argno (numbered as in the transition
 * function, the state being 0) may differ between rows: only constants and
 * query parameters cannot.  Aggregates that read a setting from such an
 * argument compare it on every row, so a changing value is an error rather
 * than silently the first row's.
 */
bool
HpAggArgMayVary(FunctionCallInfo fcinfo, int argno)
{
	Aggref	   *aggref = AggGetAggref(fcinfo);
	TargetEntry *tle;

	if (aggref == NULL || argno < 1 || argno > list_length(aggref->args))
		return true;
	tle = list_nth_node(TargetEntry, aggref->args, argno - 1);
	if (IsA(tle->expr, Const))
		return false;
	if (IsA(tle->expr, Param) && ((Param *) tle->expr)->paramkind == PARAM_EXTERN)
		return false;
	return true;
}

/* Error for a per-row aggregate argument that changed between rows. */
void
HpAggArgChanged(const char *arg, const char *aggname)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must be the same in every row of %s", arg, aggname)));
}

/*
 * Options jsonb argument argno of a row against the text (len bytes) the
 * state kept from the first row: an error when it may vary and differs
 * (a NULL counts as different).
 */
void
HpAggCheckOptions(FunctionCallInfo fcinfo, int argno, const char *kept, size_t keptlen,
				  const char *aggname)
{
	size_t		len = 0;
	char	   *text;

	if (!HpAggArgMayVary(fcinfo, argno))
		return;
	text = PG_ARGISNULL(argno) ? NULL : HpJsonbText(PG_GETARG_DATUM(argno), &len);
	if (text == NULL || len != keptlen || memcmp(text, kept, len) != 0)
		HpAggArgChanged("options", aggname);
	pfree(text);
}

/* Text of a jsonb datum. */
char *
HpJsonbText(Datum jsonb, size_t *len)
{
	Jsonb	   *jb = DatumGetJsonbP(jsonb);
	char	   *s = JsonbToCString(NULL, &jb->root, VARSIZE(jb));

	*len = strlen(s);
	return s;
}

/*
 * A bytea state argument, aligned and with a plain 4-byte header.  writable:
 * the caller will modify it, which is allowed in place only for the
 * transition value of an aggregate; anywhere else it works on a copy so a
 * direct call never changes its input.
 */
bytea *
HpStateArg(FunctionCallInfo fcinfo, int argno, bool writable)
{
	Datum		d = PG_GETARG_DATUM(argno);
	bytea	   *b = PG_GETARG_BYTEA_P(argno);
	bool		in_place = writable && AggCheckCallContext(fcinfo, NULL) &&
		(Pointer) b == DatumGetPointer(d);

	/* Tuples align bytea on 4 bytes only; the 64-bit fields need 8. */
	if (!in_place && (writable || (uintptr_t) b % sizeof(double) != 0))
	{
		bytea	   *copy = palloc(VARSIZE(b));

		memcpy(copy, b, VARSIZE(b));
		b = copy;
	}
	return b;
}

/* Scorer of the reward model in argument argno, built once per cached model. */
HpScorer *
HpCachedScorer(FunctionCallInfo fcinfo, int argno)
{
	HpModelCache *c;

	HpBlasEnsure();
	c = HpModelCached(fcinfo, argno);
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

/* Embedding argument validated against the model's dimension. */
const float *
HpModelInput(FunctionCallInfo fcinfo, int argno, int model_dim, const char *what)
{
	int			dim;
	const float *x = HpArrayFloats(PG_GETARG_ARRAYTYPE_P(argno), what, &dim);

	if (dim != model_dim)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s has %d dimensions but the model expects %d", what, dim, model_dim)));
	return x;
}

/*
 * Split options text into the training options and an optional "init"
 * model (its JSON text form, as an object or a string), decoding the model.
 * Returns the options without "init" as text.
 */
char *
HpSplitInit(const char *options, HpModel *init, bool *has_init)
{
	Datum		jb = DirectFunctionCall1(jsonb_in, CStringGetDatum(options));
	Datum		key = CStringGetTextDatum("init");
	Jsonb	   *rest;

	*has_init = false;
	if (!JB_ROOT_IS_OBJECT(DatumGetJsonbP(jb)) ||
		!DatumGetBool(DirectFunctionCall2(jsonb_exists, jb, key)))
		return pstrdup(options);
	{
		Jsonb	   *v = DatumGetJsonbP(DirectFunctionCall2(jsonb_object_field, jb, key));
		char	   *mtext;
		HpError		err;

		if (JB_ROOT_IS_SCALAR(v))
		{
			/* A string holding the model's text form. */
			JsonbValue	sv;

			if (!JsonbExtractScalar(&v->root, &sv) || sv.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"init\" must be a model (m::text::jsonb)")));
			mtext = pnstrdup(sv.val.string.val, sv.val.string.len);
		}
		else
			mtext = JsonbToCString(NULL, &v->root, VARSIZE(v));
		if (hp_model_from_json(mtext, strlen(mtext), init, &err) != HP_OK)
			HpReportError(&err);
		*has_init = true;
	}
	rest = DatumGetJsonbP(DirectFunctionCall2(jsonb_delete, jb, key));
	return JsonbToCString(NULL, &rest->root, VARSIZE(rest));
}

