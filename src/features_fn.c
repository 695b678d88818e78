/*
 * features_fn.c: SQL glue of the routing features (issue 4): hp.pair_stats,
 * hp.pair_features, and the aggregates hp.feature_cutoffs, hp.feature_vocab
 * and hp.feature_counts (core: src/core/features.c).
 *
 * The aggregate states are plain bytea values with a versioned header (see
 * hp_features.h for why), so there are no serial/deserial functions.
 * Inside an aggregate the transition functions update the state in place;
 * when it must grow they return a bigger copy, built in the per-row
 * context, which the executor copies into the aggregate context (freeing
 * the old state) because the pointer changed.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "hp_features.h"
#include "hp_json.h"
#include "hp_pg.h"

PG_FUNCTION_INFO_V1(pair_stats);
PG_FUNCTION_INFO_V1(pair_features_texts);
PG_FUNCTION_INFO_V1(pair_features_stats);
PG_FUNCTION_INFO_V1(feature_cutoffs_trans);
PG_FUNCTION_INFO_V1(feature_cutoffs_combine);
PG_FUNCTION_INFO_V1(feature_cutoffs_final);
PG_FUNCTION_INFO_V1(feature_vocab_trans);
PG_FUNCTION_INFO_V1(feature_vocab_combine);
PG_FUNCTION_INFO_V1(feature_vocab_final);
PG_FUNCTION_INFO_V1(feature_counts_trans);
PG_FUNCTION_INFO_V1(feature_counts_combine);
PG_FUNCTION_INFO_V1(feature_counts_final);

/* Keys of a stats object: the three similarities, then the lengths. */
static const char *const StatKeys[HP_FEAT_NSTAT] = {
	"rouge1", "cosine", "entity_overlap",
	"len_prompt", "len_shorter", "len_longer", "len_diff"
};

/* Parsed cutoffs, cached per call site and keyed by the jsonb bytes. */
typedef struct CutoffsCache
{
	Size		len;
	char	   *bytes;
	HpFeatCutoffs cut;
} CutoffsCache;

/* Vocabulary index of hp.feature_counts, cached per call site. */
typedef struct VocabCache
{
	MemoryContext cxt;
	Size		len;
	char	   *bytes;			/* the vocab array the index points into */
	HpFeatIndex idx;
} VocabCache;

/* 22023 for a malformed cutoffs member. */
static void
CutoffsError(const char *key, const char *what) pg_attribute_noreturn();

static void
CutoffsError(const char *key, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cutoffs.%s must be %s", key, what)));
	pg_unreachable();
}

/* The double of a jsonb numeric (exact: decimal text to strtod). */
static double
NumericDouble(Numeric num)
{
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(num)));
}

/* Index of key in StatKeys, or -1. */
static int
StatKeyIndex(const char *key, int len)
{
	for (int i = 0; i < HP_FEAT_NSTAT; i++)
		if ((int) strlen(StatKeys[i]) == len && memcmp(StatKeys[i], key, len) == 0)
			return i;
	return -1;
}

/*
 * A stats object (as hp.pair_stats returns) into *s: exactly the seven
 * keys, numbers, lengths non-negative integers.  what names the argument.
 */
static void
ParseStats(Jsonb *jb, const char *what, HpPairStats *s)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken r;
	bool		seen[HP_FEAT_NSTAT] = {false};

	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object as returned by hp.pair_stats", what)));
	it = JsonbIteratorInit(&jb->root);
	while ((r = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		int			k;
		double		x;

		if (r != WJB_KEY)
			continue;
		k = StatKeyIndex(v.val.string.val, v.val.string.len);
		if (k < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s has an unknown key \"%.*s\"", what,
							v.val.string.len, v.val.string.val),
					 errdetail("The keys are rouge1, cosine, entity_overlap, len_prompt, len_shorter, len_longer and len_diff.")));
		r = JsonbIteratorNext(&it, &v, true);
		if (r != WJB_VALUE || v.type != jbvNumeric)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s.%s must be a number", what, StatKeys[k])));
		x = NumericDouble(v.val.numeric);
		seen[k] = true;
		if (k < 3)
		{
			/* Overlaps are fractions; cosine is signed (hp.embed hashes with signs). */
			double		lo = (k == 1) ? -1.0 : 0.0;

			if (!(x >= lo && x <= 1.0))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s.%s must be between %g and 1, got %g", what, StatKeys[k], lo, x)));
			if (k == 0)
				s->rouge1 = x;
			else if (k == 1)
				s->cosine = x;
			else
				s->entity_overlap = x;
		}
		else
		{
			if (!(x >= 0.0 && x <= 9007199254740992.0 && x == floor(x)))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s.%s must be a non-negative integer (a token count)", what, StatKeys[k])));
			s->len[k - 3] = (int64) x;
		}
	}
	for (int k = 0; k < HP_FEAT_NSTAT; k++)
		if (!seen[k])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s has no \"%s\"", what, StatKeys[k]),
					 errhint("Pass the values returned by hp.pair_stats.")));
}

/* Parse a cutoffs object: the four length keys as [c1, c2], optional "n". */
static void
ParseCutoffs(Jsonb *jb, HpFeatCutoffs *c)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken r;
	bool		seen[HP_FEAT_NLEN] = {false};

	if (!JB_ROOT_IS_OBJECT(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cutoffs must be a JSON object as returned by hp.feature_cutoffs")));
	it = JsonbIteratorInit(&jb->root);
	while ((r = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char		key[32];
		int			k = -1;
		JsonbContainer *arr;

		if (r != WJB_KEY)
			continue;
		snprintf(key, sizeof(key), "%.*s", v.val.string.len, v.val.string.val);
		for (int i = 0; i < HP_FEAT_NLEN; i++)
			if ((int) strlen(hp_feat_len_names[i]) == v.val.string.len &&
				memcmp(hp_feat_len_names[i], v.val.string.val, v.val.string.len) == 0)
				k = i;
		r = JsonbIteratorNext(&it, &v, true);
		if (k < 0)
		{
			if (strcmp(key, "n") == 0 && v.type == jbvNumeric)
				continue;		/* informative only */
			if (strcmp(key, "n") == 0)
				CutoffsError(key, "a number");
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cutoffs has an unknown key \"%s\"", key),
					 errdetail("The keys are len_prompt, len_shorter, len_longer and len_diff (each [c1, c2]) and optionally n.")));
		}
		if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data) ||
			JsonContainerSize(v.val.binary.data) != 2)
			CutoffsError(key, "an array of two numbers [c1, c2]");
		arr = v.val.binary.data;
		for (int j = 0; j < 2; j++)
		{
			JsonbValue *e = getIthJsonbValueFromContainer(arr, j);

			if (e == NULL || e->type != jbvNumeric)
				CutoffsError(key, "an array of two numbers [c1, c2]");
			c->cut[k][j] = NumericDouble(e->val.numeric);
		}
		if (!(c->cut[k][0] <= c->cut[k][1]))
			CutoffsError(key, "[c1, c2] with c1 <= c2");
		seen[k] = true;
	}
	for (int k = 0; k < HP_FEAT_NLEN; k++)
		if (!seen[k])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cutoffs has no \"%s\"", hp_feat_len_names[k]),
					 errhint("Pass the value returned by hp.feature_cutoffs.")));
}

/* Cutoffs of argument argno, parsed once per distinct value per call site. */
static const HpFeatCutoffs *
CutoffsArg(FunctionCallInfo fcinfo, int argno)
{
	Jsonb	   *jb;
	CutoffsCache *cc = (CutoffsCache *) fcinfo->flinfo->fn_extra;
	HpFeatCutoffs cut;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("cutoffs must not be NULL: length features are binned on percentiles of the dataset"),
				 errhint("Compute them once with SELECT hp.feature_cutoffs(hp.pair_stats(prompt, a, b)) over the dataset.")));
	jb = PG_GETARG_JSONB_P(argno);
	if (cc && cc->len == VARSIZE(jb) && memcmp(cc->bytes, jb, cc->len) == 0)
		return &cc->cut;
	ParseCutoffs(jb, &cut);
	if (cc == NULL)
		cc = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(CutoffsCache));
	else if (cc->bytes)
		pfree(cc->bytes);
	cc->bytes = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, VARSIZE(jb));
	memcpy(cc->bytes, jb, VARSIZE(jb));
	cc->len = VARSIZE(jb);
	cc->cut = cut;
	fcinfo->flinfo->fn_extra = cc;
	return &cc->cut;
}

/*
 * Elements of a one-dimensional text[] (empty allowed) as strings; NULL
 * elements and more dimensions are errors naming what.
 */
static HpFeatStr *
TextArrayStrs(ArrayType *arr, const char *what, int *n)
{
	Datum	   *d;
	bool	   *nulls;
	HpFeatStr  *out;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what),
				 errdetail("It has %d dimensions.", ARR_NDIM(arr))));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &d, &nulls, n);
	out = palloc(sizeof(HpFeatStr) * (*n + HP_FEAT_NSTAT + 1));
	for (int i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL elements", what)));
		out[i].s = VARDATA_ANY(DatumGetPointer(d[i]));
		out[i].len = VARSIZE_ANY_EXHDR(DatumGetPointer(d[i]));
	}
	return out;
}

/* text[] of strings, in the given order. */
static ArrayType *
StrsTextArray(const HpFeatStr *s, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * (n > 0 ? n : 1));

	for (int i = 0; i < n; i++)
		d[i] = PointerGetDatum(cstring_to_text_with_len(s[i].s, (int) s[i].len));
	return construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT);
}

/* Stat features and tags of one instance, sorted and de-duplicated. */
static Datum
FeaturesResult(const HpPairStats *st, const HpFeatCutoffs *cut, ArrayType *tags)
{
	char		names[HP_FEAT_NSTAT][HP_FEAT_NAME_MAX];
	HpFeatStr  *all;
	int			ntags = 0;
	int			n;

	if (tags)
		all = TextArrayStrs(tags, "tags", &ntags);
	else
		all = palloc(sizeof(HpFeatStr) * HP_FEAT_NSTAT);
	for (int i = 0; i < ntags; i++)
	{
		char	   *name;
		size_t		len;
		HpError		err;

		if (hp_feat_tag_name(all[i].s, all[i].len, &name, &len, &err) != HP_OK)
			HpReportError(&err);
		all[i].s = name;
		all[i].len = len;
	}
	hp_feat_stat_names(st, cut, names);
	for (int i = 0; i < HP_FEAT_NSTAT; i++)
	{
		all[ntags + i].s = names[i];
		all[ntags + i].len = strlen(names[i]);
	}
	n = (int) hp_feat_sort_unique(all, ntags + HP_FEAT_NSTAT);
	PG_RETURN_ARRAYTYPE_P(StrsTextArray(all, n));
}

/*
 * Statistics of (prompt, a, b) from arguments 0-2, with embeddings from
 * arguments ea and eb when both are given.
 */
static void
ComputeStats(FunctionCallInfo fcinfo, int ea, int eb, HpPairStats *st)
{
	text	   *p = PG_GETARG_TEXT_PP(0);
	text	   *a = PG_GETARG_TEXT_PP(1);
	text	   *b = PG_GETARG_TEXT_PP(2);
	const float *xa = NULL,
			   *xb = NULL;
	int			da = 0,
				db = 0;
	HpError		err;

	if (!PG_ARGISNULL(ea) && !PG_ARGISNULL(eb))
	{
		xa = HpArrayFloats(PG_GETARG_ARRAYTYPE_P(ea), "a_emb", &da);
		xb = HpArrayFloats(PG_GETARG_ARRAYTYPE_P(eb), "b_emb", &db);
		if (da != db)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("a_emb has %d dimensions but b_emb has %d", da, db)));
	}
	if (hp_feat_pair_stats(VARDATA_ANY(p), VARSIZE_ANY_EXHDR(p),
						   VARDATA_ANY(a), VARSIZE_ANY_EXHDR(a),
						   VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b),
						   xa, xb, da, st, &err) != HP_OK)
		HpReportError(&err);
}

/* hp.pair_stats(prompt, a, b, a_emb, b_emb) -> jsonb; NULL if a text is NULL. */
Datum
pair_stats(PG_FUNCTION_ARGS)
{
	HpPairStats st;
	HpBuf		b;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	ComputeStats(fcinfo, 3, 4, &st);

	/* Shortest round-trip decimals: jsonb keeps every double exactly. */
	hp_buf_init(&b);
	hp_buf_puts(&b, "{\"rouge1\":");
	hp_json_write_double(&b, st.rouge1);
	hp_buf_puts(&b, ",\"cosine\":");
	hp_json_write_double(&b, st.cosine);
	hp_buf_puts(&b, ",\"entity_overlap\":");
	hp_json_write_double(&b, st.entity_overlap);
	for (int k = 0; k < HP_FEAT_NLEN; k++)
	{
		hp_buf_puts(&b, ",\"");
		hp_buf_puts(&b, hp_feat_len_names[k]);
		hp_buf_puts(&b, "\":");
		hp_json_write_int64(&b, st.len[k]);
	}
	hp_buf_putc(&b, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(hp_buf_finish(&b, NULL))));
}

/*
 * hp.pair_features(prompt, a, b, tags, cutoffs, a_emb, b_emb) -> text[]:
 * statistics computed here, then binned.
 */
Datum
pair_features_texts(PG_FUNCTION_ARGS)
{
	const HpFeatCutoffs *cut;
	HpPairStats st;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	cut = CutoffsArg(fcinfo, 4);
	ComputeStats(fcinfo, 5, 6, &st);
	return FeaturesResult(&st, cut, PG_ARGISNULL(3) ? NULL : PG_GETARG_ARRAYTYPE_P(3));
}

/* hp.pair_features(stats, cutoffs, tags) -> text[]: the fast path. */
Datum
pair_features_stats(PG_FUNCTION_ARGS)
{
	const HpFeatCutoffs *cut;
	HpPairStats st;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	cut = CutoffsArg(fcinfo, 1);
	ParseStats(PG_GETARG_JSONB_P(0), "stats", &st);
	return FeaturesResult(&st, cut, PG_ARGISNULL(2) ? NULL : PG_GETARG_ARRAYTYPE_P(2));
}

/* Checked histogram state of an argument. */
static HpFeatHist *
HistArg(FunctionCallInfo fcinfo, int argno, bool writable, bool full)
{
	bytea	   *b = HpStateArg(fcinfo, argno, writable);
	HpError		err;

	if (hp_feat_hist_check((HpFeatHist *) b, VARSIZE(b), full, &err) != HP_OK)
		HpReportError(&err);
	return (HpFeatHist *) b;
}

/* A core-built state as a bytea datum (its length word set). */
static Datum
StateDatum(void *state, uint32 size)
{
	SET_VARSIZE(state, size);
	PG_RETURN_BYTEA_P((bytea *) state);
}

/* Transition of hp.feature_cutoffs(stats); NULL stats are skipped. */
Datum
feature_cutoffs_trans(PG_FUNCTION_ARGS)
{
	HpFeatHist *h = PG_ARGISNULL(0) ? NULL : HistArg(fcinfo, 0, true, false);
	HpPairStats st;
	HpError		err;

	if (PG_ARGISNULL(1))
	{
		if (h == NULL)
			PG_RETURN_NULL();
		PG_RETURN_BYTEA_P((bytea *) h);
	}
	ParseStats(PG_GETARG_JSONB_P(1), "stats", &st);
	if (h == NULL)
		h = hp_feat_hist_new(HP_FEAT_HIST_MIN_CAP);
	h = hp_feat_hist_add(h, st.len, &err);
	if (h == NULL)
		HpReportError(&err);
	return StateDatum(h, h->size);
}

/* Combine two histograms (strict: the executor adopts the first one). */
Datum
feature_cutoffs_combine(PG_FUNCTION_ARGS)
{
	HpFeatHist *a = HistArg(fcinfo, 0, true, true);
	HpFeatHist *b = HistArg(fcinfo, 1, false, true);
	HpError		err;

	a = hp_feat_hist_merge(a, b, &err);
	if (a == NULL)
		HpReportError(&err);
	return StateDatum(a, a->size);
}

/* {"n": rows, "len_prompt": [c1, c2], ...}; the state is left untouched. */
Datum
feature_cutoffs_final(PG_FUNCTION_ARGS)
{
	HpFeatHist *h = HistArg(fcinfo, 0, false, true);
	HpFeatCutoffs c;
	HpError		err;
	HpBuf		b;

	if (hp_feat_hist_cutoffs(h, &c, &err) != HP_OK)
		HpReportError(&err);
	hp_buf_init(&b);
	hp_buf_puts(&b, "{\"n\":");
	hp_json_write_int64(&b, h->n);
	for (int k = 0; k < HP_FEAT_NLEN; k++)
	{
		hp_buf_puts(&b, ",\"");
		hp_buf_puts(&b, hp_feat_len_names[k]);
		hp_buf_puts(&b, "\":[");
		hp_json_write_int64(&b, (int64) c.cut[k][0]);
		hp_buf_putc(&b, ',');
		hp_json_write_int64(&b, (int64) c.cut[k][1]);
		hp_buf_putc(&b, ']');
	}
	hp_buf_putc(&b, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(hp_buf_finish(&b, NULL))));
}

/* Checked vocabulary state of an argument. */
static HpFeatVocab *
VocabArg(FunctionCallInfo fcinfo, int argno, bool writable, bool full)
{
	bytea	   *b = HpStateArg(fcinfo, argno, writable);
	HpError		err;

	if (hp_feat_vocab_check((HpFeatVocab *) b, VARSIZE(b), full, &err) != HP_OK)
		HpReportError(&err);
	return (HpFeatVocab *) b;
}

/* Transition of hp.feature_vocab(features); NULL arrays are skipped. */
Datum
feature_vocab_trans(PG_FUNCTION_ARGS)
{
	HpFeatVocab *v = PG_ARGISNULL(0) ? NULL : VocabArg(fcinfo, 0, true, false);
	HpFeatStr  *f;
	int			n;
	HpError		err;

	if (PG_ARGISNULL(1))
	{
		if (v == NULL)
			PG_RETURN_NULL();
		PG_RETURN_BYTEA_P((bytea *) v);
	}
	f = TextArrayStrs(PG_GETARG_ARRAYTYPE_P(1), "features", &n);
	if (v == NULL)
		v = hp_feat_vocab_new(16, 256);
	for (int i = 0; i < n; i++)
	{
		/* Earlier copies are dropped with the per-row context. */
		v = hp_feat_vocab_add(v, f[i].s, f[i].len, &err);
		if (v == NULL)
			HpReportError(&err);
	}
	return StateDatum(v, v->size);
}

/* Combine: the sorted union, as a new state. */
Datum
feature_vocab_combine(PG_FUNCTION_ARGS)
{
	HpFeatVocab *a = VocabArg(fcinfo, 0, false, true);
	HpFeatVocab *b = VocabArg(fcinfo, 1, false, true);
	HpFeatVocab *u;
	HpError		err;

	if (b->n == 0)
		PG_RETURN_BYTEA_P((bytea *) a);
	u = hp_feat_vocab_union(a, b, &err);
	if (u == NULL)
		HpReportError(&err);
	return StateDatum(u, u->size);
}

/* The vocabulary as a sorted text[]. */
Datum
feature_vocab_final(PG_FUNCTION_ARGS)
{
	HpFeatVocab *v = VocabArg(fcinfo, 0, false, true);
	HpFeatStr  *s = palloc(sizeof(HpFeatStr) * (v->n > 0 ? v->n : 1));

	for (uint32 i = 0; i < v->n; i++)
		s[i] = hp_feat_vocab_item(v, i);
	PG_RETURN_ARRAYTYPE_P(StrsTextArray(s, (int) v->n));
}

/* The index of the vocab argument, rebuilt only when its value changes. */
static HpFeatIndex *
VocabIndex(FunctionCallInfo fcinfo, int argno)
{
	ArrayType  *arr;
	VocabCache *vc = (VocabCache *) fcinfo->flinfo->fn_extra;
	MemoryContext old;
	HpFeatStr  *strs;
	int			k;
	HpError		err;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("vocab must not be NULL")));
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	if (vc && vc->len == VARSIZE(arr) && memcmp(vc->bytes, arr, vc->len) == 0)
		return &vc->idx;
	if (vc)
	{
		MemoryContextDelete(vc->cxt);
		fcinfo->flinfo->fn_extra = NULL;
	}
	{
		MemoryContext cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
												  "hybridpref vocab index",
												  ALLOCSET_DEFAULT_SIZES);

		old = MemoryContextSwitchTo(cxt);
		vc = palloc0(sizeof(VocabCache));
		vc->cxt = cxt;
		vc->len = VARSIZE(arr);
		vc->bytes = palloc(vc->len);
		memcpy(vc->bytes, arr, vc->len);
		strs = TextArrayStrs((ArrayType *) vc->bytes, "vocab", &k);
		if (hp_feat_index_build(strs, k, &vc->idx, &err) != HP_OK)
		{
			MemoryContextSwitchTo(old);
			MemoryContextDelete(cxt);
			HpReportError(&err);
		}
		MemoryContextSwitchTo(old);
	}
	fcinfo->flinfo->fn_extra = vc;
	return &vc->idx;
}

/* Checked count-vector state of an argument. */
static HpFeatCounts *
CountsArg(FunctionCallInfo fcinfo, int argno, bool writable)
{
	bytea	   *b = HpStateArg(fcinfo, argno, writable);
	HpError		err;

	if (hp_feat_counts_check((HpFeatCounts *) b, VARSIZE(b), &err) != HP_OK)
		HpReportError(&err);
	return (HpFeatCounts *) b;
}

/*
 * Transition of hp.feature_counts(features, vocab).  A NULL features array
 * counts nothing but still fixes the vector's size.
 */
Datum
feature_counts_trans(PG_FUNCTION_ARGS)
{
	HpFeatCounts *c = PG_ARGISNULL(0) ? NULL : CountsArg(fcinfo, 0, true);
	HpFeatIndex *idx = VocabIndex(fcinfo, 2);

	if (c == NULL)
	{
		c = hp_feat_counts_new(idx);
		SET_VARSIZE(c, c->size);
	}
	else if (c->k != idx->k || c->vocab_hash != idx->hash)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("vocab must be the same in every row of hp.feature_counts")));
	if (!PG_ARGISNULL(1))
	{
		int			n;
		HpFeatStr  *f = TextArrayStrs(PG_GETARG_ARRAYTYPE_P(1), "features", &n);

		hp_feat_counts_add(c, idx, f, n);
	}
	PG_RETURN_BYTEA_P((bytea *) c);
}

/* Combine: elementwise sum, in place. */
Datum
feature_counts_combine(PG_FUNCTION_ARGS)
{
	HpFeatCounts *a = CountsArg(fcinfo, 0, true);
	HpFeatCounts *b = CountsArg(fcinfo, 1, false);
	HpError		err;

	if (hp_feat_counts_merge(a, b, &err) != HP_OK)
		HpReportError(&err);
	PG_RETURN_BYTEA_P((bytea *) a);
}

/* The count vector as float8[], aligned with the vocabulary. */
Datum
feature_counts_final(PG_FUNCTION_ARGS)
{
	HpFeatCounts *c = CountsArg(fcinfo, 0, false);
	Datum	   *d = palloc(sizeof(Datum) * (c->k > 0 ? c->k : 1));

	for (int j = 0; j < c->k; j++)
		d[j] = Float8GetDatum(c->counts[j]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, c->k, FLOAT8OID, sizeof(float8),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
