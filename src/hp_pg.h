/*
 * hp_pg.h: helpers shared by the fmgr glue files.
 */
#ifndef HP_PG_H
#define HP_PG_H

#include "postgres.h"
#include "fmgr.h"
#include "utils/array.h"

#include "hp_core.h"
#include "hp_model.h"

/* GUCs (hybridpref.c) */
extern int	hp_blas_threads;
extern int	hp_max_train_memory_kb;
extern int	hp_keep_train_memory_kb;

/* The training row store's memory, kept between trainings (train_arena.c). */
void	   *HpArenaAcquire(MemoryContext ctx, Size bytes);
bool		HpArenaOwns(const void *ptr);
void	   *HpArenaResize(void *ptr, Size bytes);
void		HpArenaRelease(void *ptr);

/* Make sure OpenBLAS is loaded in this backend (never the postmaster). */
void		HpBlasEnsure(void);

/* Raise an ERROR for a core failure, mapping the class to a SQLSTATE. */
void		HpReportError(const HpError *err) pg_attribute_noreturn();

/*
 * Return the elements of a one-dimensional real[] as a float pointer,
 * raising an ERROR for NULLs, 2-D or empty arrays, NaN/Inf values and
 * dimensions above HP_MAX_DIM.  what names the argument in messages.
 * The pointer is into the (detoasted) array; *dim receives the length.
 */
const float *HpArrayFloats(ArrayType *arr, const char *what, int *dim);

/* Shape-checked float view whose values the caller checks for finiteness. */
const float *HpArrayFloatsShape(ArrayType *arr, const char *what, int *dim);

/* The error HpArrayFloats raises for a non-finite element in what. */
void		HpNonFiniteError(const char *what) pg_attribute_noreturn();

/* Same for float8[], returning doubles. */
const double *HpArrayDoubles(ArrayType *arr, const char *what, int *n);

/* Build a real[] from floats. */
ArrayType  *HpFloatsArray(const float *x, int n);

/* Decode a hp.model datum (detoasting) into *m, allocated in the current context. */
void		HpModelFromDatum(Datum d, HpModel *m);

/* A model decoded once per query and cached in fn_extra. */
typedef struct HpModelCache
{
	char		key[32];		/* toast pointer or length+checksum */
	int			keylen;
	HpModel		model;
	void	   *cxt;			/* MemoryContext holding this entry */
	void	   *scratch;		/* per-kind scoring scratch, in cxt */
} HpModelCache;

/* Return the cached decoded model for argument argno of this call. */
HpModelCache *HpModelCached(FunctionCallInfo fcinfo, int argno);

/* Encode a model as a hp.model datum (palloc'd varlena). */
Datum		HpModelToDatum(const HpModel *m);

/* A bytea aggregate state argument, in place only when that is allowed. */
bytea	   *HpStateArg(FunctionCallInfo fcinfo, int argno, bool writable);

/* Scorer of the reward model in argument argno, cached per call site. */
struct HpScorer;
struct HpScorer *HpCachedScorer(FunctionCallInfo fcinfo, int argno);

/* Embedding argument validated against the model's dimension. */
const float *HpModelInput(FunctionCallInfo fcinfo, int argno, int model_dim, const char *what);

/*
 * Split training options text into the options proper and an optional
 * "init" model (decoded into *init); returns the options without "init".
 */
char	   *HpSplitInit(const char *options, HpModel *init, bool *has_init);

/* Whether an aggregate's argument may change between rows (not a constant). */
bool		HpAggArgMayVary(FunctionCallInfo fcinfo, int argno);

/* Error: a per-row aggregate argument changed between rows. */
void		HpAggArgChanged(const char *arg, const char *aggname) pg_attribute_noreturn();

/* Error when a row's options jsonb differs from the text the state kept. */
void		HpAggCheckOptions(FunctionCallInfo fcinfo, int argno, const char *kept,
							  size_t keptlen, const char *aggname);

/* Text of a jsonb argument, for the core options parsers. */
char	   *HpJsonbText(Datum jsonb, size_t *len);

/*
 * Pairs of TOASTed arrays read in bulk (toast_pairs.c).  The training
 * aggregate defers a row whose two arrays are plain out-of-line values and
 * gets them back, whole, from HpToastPairsResolve; a partial aggregate
 * ships the pointers, not the arrays, to the same query's Finalize
 * Aggregate.
 */
typedef struct HpToastPairs HpToastPairs;
typedef void (*HpToastPairEmit) (void *arg, int64 index, float p, struct varlena *a, struct varlena *b);
HpToastPairs *HpToastPairsCreate(MemoryContext cxt);
int64		HpToastPairsCount(const HpToastPairs *tp);
bool		HpToastPairsDefer(HpToastPairs *tp, Datum a, Datum b, Size bytes, float p);
void		HpToastPairsMove(HpToastPairs *dst, HpToastPairs *src);
Size		HpToastPairsSerialBytes(int64 count);
char	   *HpToastPairsSerialize(const HpToastPairs *tp, char *out);
const char *HpToastPairsDeserialize(HpToastPairs *tp, const char *in, int64 count);
void		HpToastPairsResolve(HpToastPairs *tp, HpToastPairEmit emit, void *arg);

/*
 * Ask for every cache line of bytes at p before reading them.  Table and
 * TOAST pages lie anywhere in shared memory, so the hardware prefetcher
 * starts cold on each; requesting a page's lines up front overlaps those
 * misses with the work on the data before it.
 */
static inline void
HpPrefetch(const void *p, Size bytes)
{
	for (Size off = 0; off < bytes; off += 64)
		__builtin_prefetch((const char *) p + off);
}

#endif
