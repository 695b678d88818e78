/*
 * toast_pairs.c: reading many TOASTed pairs of arrays in one pass.
 *
 * Embedding columns of 2 kB and more are stored out of line, and fetching
 * each value through the TOAST index costs an index descent and a heap
 * fetch per chunk: for a training set it costs more than training.  The
 * training aggregate instead hands over the TOAST pointers of a row's two
 * arrays; when the pending values are a large share of their TOAST table,
 * one sequential scan of that table assembles them all, and the index is
 * used only for the rest.  Chunks are matched by value OID, which is unique
 * within a TOAST table among all physically present tuples (new OIDs are
 * checked against dead ones too), so a chunk found under a wanted OID is
 * part of that value.  The scan applies the test PostgreSQL's own
 * detoasting does (the TOAST snapshot), and a value it does not find whole
 * (say, one stored after the scan passed its pages) is fetched the usual
 * way, so the result never depends on which path read it.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/heapam.h"
#include "access/heaptoast.h"
#include "access/toast_internals.h"
#include "access/relscan.h"
#include "access/table.h"
#include "catalog/pg_am_d.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "hp_pg.h"

/*
 * Scan the whole TOAST table when the pending values fill at least this
 * share of it.  A sequential scan reads a chunk several times cheaper than
 * an index fetch does, with room for the other columns' values it skips.
 */
#define SCAN_SHARE 0.25

/* The largest value deferred: its chunks must fit a 64-bit bitmap. */
#define MAX_CHUNKS 64

/* One pending value: where it lives and how much of it has arrived. */
typedef struct PendingValue
{
	varatt_external ptr;
	char	   *buf;			/* VARHDRSZ + extsize bytes while assembling */
	uint64		seen;			/* bitmap of chunks copied */
} PendingValue;

/* A pending row: its label and its two values. */
typedef struct PendingPair
{
	PendingValue v[2];
	float		p;
	int			done;			/* values complete */
} PendingPair;

/* Bytes of one serialised pair: its two TOAST pointers and its label. */
#define PAIR_BYTES (2 * sizeof(varatt_external) + sizeof(float))

struct HpToastPairs
{
	MemoryContext cxt;
	PendingPair *pairs;
	int64		n;
	int64		cap;
};

/* A fresh, empty batch living in cxt. */
HpToastPairs *
HpToastPairsCreate(MemoryContext cxt)
{
	HpToastPairs *tp = MemoryContextAllocZero(cxt, sizeof(HpToastPairs));

	tp->cxt = cxt;
	return tp;
}

/* Number of pairs waiting to be read. */
int64
HpToastPairsCount(const HpToastPairs *tp)
{
	return tp ? tp->n : 0;
}

/* Chunks a value of extsize bytes is stored in. */
static inline int
ChunkCount(Size extsize)
{
	return (int) ((extsize + TOAST_MAX_CHUNK_SIZE - 1) / TOAST_MAX_CHUNK_SIZE);
}

/* The on-disk, uncompressed TOAST pointer of d of exactly bytes, if it is one. */
static bool
PlainOnDisk(Datum d, Size bytes, varatt_external *ptr)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(d);

	if (!VARATT_IS_EXTERNAL_ONDISK(v))
		return false;
	VARATT_EXTERNAL_GET_POINTER(*ptr, v);
	return !VARATT_EXTERNAL_IS_COMPRESSED(*ptr) &&
		VARATT_EXTERNAL_GET_EXTSIZE(*ptr) == bytes &&
		(Size) ptr->va_rawsize == bytes + VARHDRSZ &&
		ChunkCount(bytes) <= MAX_CHUNKS;
}

/* Append a pending pair of two pointers and a label. */
static void
AddPair(HpToastPairs *tp, const varatt_external *pa, const varatt_external *pb, float p)
{
	PendingPair *pp;

	if (tp->n == tp->cap)
	{
		tp->cap = Max(64, tp->cap * 2);
		tp->pairs = tp->pairs == NULL
			? MemoryContextAllocHuge(tp->cxt, sizeof(PendingPair) * tp->cap)
			: repalloc_huge(tp->pairs, sizeof(PendingPair) * tp->cap);
	}
	pp = &tp->pairs[tp->n++];
	memset(pp, 0, sizeof(PendingPair));
	pp->v[0].ptr = *pa;
	pp->v[1].ptr = *pb;
	pp->p = p;
}

/*
 * Defer reading a and b (a row labelled p) when both are uncompressed
 * out-of-line values of bytes data bytes each; false (nothing kept) when
 * either must be read the usual way.
 */
bool
HpToastPairsDefer(HpToastPairs *tp, Datum a, Datum b, Size bytes, float p)
{
	varatt_external pa,
				pb;

	if (!PlainOnDisk(a, bytes, &pa) || !PlainOnDisk(b, bytes, &pb))
		return false;
	AddPair(tp, &pa, &pb, p);
	return true;
}

/* Move every pending pair of src to the end of dst; src is left empty. */
void
HpToastPairsMove(HpToastPairs *dst, HpToastPairs *src)
{
	for (int64 i = 0; i < src->n; i++)
		AddPair(dst, &src->pairs[i].v[0].ptr, &src->pairs[i].v[1].ptr, src->pairs[i].p);
	src->n = 0;
}

/* Bytes HpToastPairsSerialize writes for count pairs. */
Size
HpToastPairsSerialBytes(int64 count)
{
	return (Size) count * PAIR_BYTES;
}

/*
 * Write the pending pairs (pointers and labels, no data) at out; returns
 * the end.  Only for a reader with the same database and snapshot: a
 * partial aggregate's state on its way to the same query's Finalize
 * Aggregate.
 */
char *
HpToastPairsSerialize(const HpToastPairs *tp, char *out)
{
	for (int64 i = 0; i < HpToastPairsCount(tp); i++)
	{
		memcpy(out, &tp->pairs[i].v[0].ptr, sizeof(varatt_external));
		memcpy(out + sizeof(varatt_external), &tp->pairs[i].v[1].ptr, sizeof(varatt_external));
		memcpy(out + 2 * sizeof(varatt_external), &tp->pairs[i].p, sizeof(float));
		out += PAIR_BYTES;
	}
	return out;
}

/* Append count pairs written by HpToastPairsSerialize; returns the end. */
const char *
HpToastPairsDeserialize(HpToastPairs *tp, const char *in, int64 count)
{
	for (int64 i = 0; i < count; i++)
	{
		varatt_external pa,
					pb;
		float		p;

		memcpy(&pa, in, sizeof(varatt_external));
		memcpy(&pb, in + sizeof(varatt_external), sizeof(varatt_external));
		memcpy(&p, in + 2 * sizeof(varatt_external), sizeof(float));
		AddPair(tp, &pa, &pb, p);
		in += PAIR_BYTES;
	}
	return in;
}

/*
 * Copy one TOAST chunk into its pending value.  Chunks that do not fit
 * what the pointer promises are ignored: the value then stays incomplete
 * and is fetched through the index, which reports any corruption.
 */
static void
TakeChunk(PendingValue *pv, MemoryContext cxt, int32 seq, struct varlena *chunk)
{
	Size		extsize = VARATT_EXTERNAL_GET_EXTSIZE(pv->ptr);
	int32		nchunks = ChunkCount(extsize);
	Size		want,
				len;

	if (VARATT_IS_EXTENDED(chunk) && !VARATT_IS_SHORT(chunk))
		return;
	if (seq < 0 || seq >= nchunks || (pv->seen & (UINT64CONST(1) << seq)))
		return;
	want = seq < nchunks - 1 ? TOAST_MAX_CHUNK_SIZE : extsize - (Size) seq * TOAST_MAX_CHUNK_SIZE;
	len = VARSIZE_ANY_EXHDR(chunk);
	if (len != want)
		return;
	if (pv->buf == NULL)
	{
		pv->buf = MemoryContextAlloc(cxt, VARHDRSZ + extsize);
		SET_VARSIZE(pv->buf, VARHDRSZ + extsize);
	}
	memcpy(pv->buf + VARHDRSZ + (Size) seq * TOAST_MAX_CHUNK_SIZE, VARDATA_ANY(chunk), len);
	pv->seen |= UINT64CONST(1) << seq;
}

/* True once every chunk of the value has arrived. */
static inline bool
Complete(const PendingValue *pv)
{
	int			nchunks = ChunkCount(VARATT_EXTERNAL_GET_EXTSIZE(pv->ptr));

	return pv->seen == (nchunks == 64 ? ~UINT64CONST(0) : (UINT64CONST(1) << nchunks) - 1);
}

/* Hand a finished pair to the caller and release its buffers. */
static void
EmitPair(HpToastPairs *tp, PendingPair *pp, HpToastPairEmit emit, void *arg)
{
	emit(arg, pp - tp->pairs, pp->p, (struct varlena *) pp->v[0].buf, (struct varlena *) pp->v[1].buf);
	pfree(pp->v[0].buf);
	pfree(pp->v[1].buf);
	pp->v[0].buf = pp->v[1].buf = NULL;
	pp->done = 2;
}

/*
 * Lookup from value OID to pending values: bucket heads and chains (entry
 * 2 * pair + side, plus one; 0 ends a chain).  TOAST value OIDs come from
 * a counter, so the OIDs of one table's values are nearly consecutive and
 * arrive in about the order the rows did: indexing buckets by the OID's
 * offset from the smallest keeps both the table and the pending values
 * read in order.  Sparse OIDs (a wrapped counter) hash instead.
 */
typedef struct OidIndex
{
	Oid			base;
	uint32		mask;			/* hashing when nonzero */
	uint32		nbuckets;
	uint32	   *head;
	uint32	   *next;
} OidIndex;

/* Bucket of a value OID, or nbuckets when none can hold it. */
static inline uint32
OidBucket(const OidIndex *ix, Oid valueid)
{
	if (ix->mask)
		return (uint32) ((valueid * UINT64CONST(0x9e3779b97f4a7c15)) >> 32) & ix->mask;
	return valueid - ix->base < ix->nbuckets ? valueid - ix->base : ix->nbuckets;
}

/* Index the pending values stored in one TOAST table. */
static void
BuildOidIndex(OidIndex *ix, const HpToastPairs *tp, Oid toastrelid, int64 nvalues)
{
	Oid			lo = InvalidOid,
				hi = InvalidOid;
	bool		any = false;

	for (int64 i = 0; i < tp->n; i++)
		for (int s = 0; s < 2; s++)
		{
			const varatt_external *p = &tp->pairs[i].v[s].ptr;

			if (p->va_toastrelid != toastrelid)
				continue;
			lo = any ? Min(lo, p->va_valueid) : p->va_valueid;
			hi = any ? Max(hi, p->va_valueid) : p->va_valueid;
			any = true;
		}
	ix->base = lo;
	ix->mask = 0;
	if ((double) hi - lo < 8.0 * nvalues + 1024)
		ix->nbuckets = hi - lo + 1;
	else
	{
		uint32		size = 1;

		while (size < 2 * nvalues)
			size <<= 1;
		ix->nbuckets = size;
		ix->mask = size - 1;
	}
	ix->head = palloc_extended(sizeof(uint32) * (Size) ix->nbuckets, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	ix->next = palloc_extended(sizeof(uint32) * (Size) 2 * tp->n, MCXT_ALLOC_HUGE);
	/* Backwards, so each chain lists its entries in row order. */
	for (int64 e = 2 * tp->n - 1; e >= 0; e--)
	{
		const varatt_external *p = &tp->pairs[e / 2].v[e % 2].ptr;
		uint32		b;

		if (p->va_toastrelid != toastrelid)
			continue;
		b = OidBucket(ix, p->va_valueid);
		ix->next[e] = ix->head[b];
		ix->head[b] = (uint32) (e + 1);
	}
}

/*
 * Take the chunks one TOAST page holds for pending values.  Tuples pass
 * the test PostgreSQL's own detoasting applies (the TOAST snapshot): a
 * chunk is part of its value unless its insertion was aborted.
 */
static void
ScanToastPage(HpToastPairs *tp, const OidIndex *ix, Relation rel, Buffer buf,
			  Snapshot toastsnap, HpToastPairEmit emit, void *arg, MemoryContext cxt)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Page		page = BufferGetPage(buf);
	OffsetNumber maxoff;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	TestForOldSnapshot(toastsnap, rel, page);
	maxoff = PageGetMaxOffsetNumber(page);
	for (OffsetNumber off = FirstOffsetNumber; off <= maxoff; off++)
	{
		ItemId		lp = PageGetItemId(page, off);
		HeapTupleData tup;
		bool		isnull;
		Oid			valueid;
		uint32		b;

		if (!ItemIdIsNormal(lp))
			continue;
		tup.t_data = (HeapTupleHeader) PageGetItem(page, lp);
		tup.t_len = ItemIdGetLength(lp);
		tup.t_tableOid = RelationGetRelid(rel);
		ItemPointerSet(&tup.t_self, BufferGetBlockNumber(buf), off);
		valueid = DatumGetObjectId(fastgetattr(&tup, 1, desc, &isnull));
		b = OidBucket(ix, valueid);
		if (b >= ix->nbuckets || ix->head[b] == 0 ||
			!HeapTupleSatisfiesVisibility(&tup, toastsnap, buf))
			continue;
		/* Every pending entry of this value: one row may be read twice. */
		for (uint32 e = ix->head[b]; e != 0; e = ix->next[e - 1])
		{
			PendingPair *pp = &tp->pairs[(e - 1) / 2];
			PendingValue *pv = &pp->v[(e - 1) % 2];
			Datum		chunk;
			int32		seq;

			if (pv->ptr.va_valueid != valueid || Complete(pv))
				continue;
			seq = DatumGetInt32(fastgetattr(&tup, 2, desc, &isnull));
			chunk = fastgetattr(&tup, 3, desc, &isnull);
			if (isnull)
				break;
			TakeChunk(pv, cxt, seq, (struct varlena *) DatumGetPointer(chunk));
			if (Complete(pv) && ++pp->done == 2)
				EmitPair(tp, pp, emit, arg);
		}
	}
	LockBuffer(buf, BUFFER_LOCK_UNLOCK);
}

/*
 * One sequential pass over a TOAST table, when the pending values stored
 * there (bytes of them) fill at least SCAN_SHARE of it, filling those
 * values; finished pairs are emitted as soon as both values are
 * whole, so only the values in flight are held in memory.  The pages are
 * read in a loop of our own rather than by a heap scan: each next page is
 * pinned and its cache lines requested before the current one is read, so
 * the memory latency of a page, which the hardware prefetcher does not
 * hide across pages, overlaps the work on the one before.
 */
static void
ScanToastTable(HpToastPairs *tp, Oid toastrelid, int64 nvalues, double bytes,
			   HpToastPairEmit emit, void *arg, MemoryContext cxt)
{
	Relation	rel = try_table_open(toastrelid, AccessShareLock);
	OidIndex	ix;
	SnapshotData toastsnap;
	BufferAccessStrategy strategy;
	BlockNumber nblocks;
	Buffer		next = InvalidBuffer;

	if (rel == NULL)
		return;
	nblocks = RelationGetNumberOfBlocks(rel);
	if (rel->rd_rel->relam != HEAP_TABLE_AM_OID || RelationGetDescr(rel)->natts != 3 ||
		bytes < SCAN_SHARE * nblocks * (double) BLCKSZ)
	{
		table_close(rel, AccessShareLock);
		return;
	}
	BuildOidIndex(&ix, tp, toastrelid, nvalues);
	init_toast_snapshot(&toastsnap);
	/* As a heap scan does: only a table too big to cache reads through a ring. */
	strategy = !RelationUsesLocalBuffers(rel) && nblocks > (BlockNumber) NBuffers / 4
		? GetAccessStrategy(BAS_BULKREAD) : NULL;
	if (nblocks > 0)
		next = ReadBufferExtended(rel, MAIN_FORKNUM, 0, RBM_NORMAL, strategy);
	for (BlockNumber blk = 0; blk < nblocks; blk++)
	{
		Buffer		buf = next;

		if (blk + 1 < nblocks)
		{
			next = ReadBufferExtended(rel, MAIN_FORKNUM, blk + 1, RBM_NORMAL, strategy);
			HpPrefetch(BufferGetPage(next), BLCKSZ);
		}
		ScanToastPage(tp, &ix, rel, buf, &toastsnap, emit, arg, cxt);
		ReleaseBuffer(buf);
		if ((blk & 63) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	if (strategy)
		FreeAccessStrategy(strategy);
	table_close(rel, AccessShareLock);
	pfree(ix.head);
	pfree(ix.next);
}

/* Fetch one value through the TOAST index into a fresh buffer. */
static char *
FetchValue(const PendingValue *pv)
{
	char		ext[VARHDRSZ_EXTERNAL + sizeof(varatt_external)];

	SET_VARTAG_EXTERNAL(ext, VARTAG_ONDISK);
	memcpy(VARDATA_EXTERNAL(ext), &pv->ptr, sizeof(varatt_external));
	return (char *) detoast_external_attr((struct varlena *) ext);
}

/*
 * Read every pending pair and emit it (its index in the batch, its label,
 * and a and b: whole in-memory values with 4-byte headers, valid during
 * the call); the batch is empty after.
 * TOAST tables whose pending values fill a large share of them are read
 * by one sequential scan each; the other values go through the index.
 */
void
HpToastPairsResolve(HpToastPairs *tp, HpToastPairEmit emit, void *arg)
{
	MemoryContext cxt,
				old;
	int64		fetched = 0;

	if (tp == NULL || tp->n == 0)
		return;
	cxt = AllocSetContextCreate(CurrentMemoryContext, "hybridpref TOAST pairs",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	if (ActiveSnapshotSet())
	{
		/* The distinct TOAST tables, with their pending values and bytes. */
		Oid			rels[8];
		int64		count[8] = {0};
		double		bytes[8] = {0};
		int			nrels = 0;

		for (int64 i = 0; i < tp->n; i++)
			for (int s = 0; s < 2; s++)
			{
				const varatt_external *p = &tp->pairs[i].v[s].ptr;
				int			r = 0;

				while (r < nrels && rels[r] != p->va_toastrelid)
					r++;
				if (r == nrels && nrels < lengthof(rels))
					rels[nrels++] = p->va_toastrelid;
				if (r < nrels)
				{
					count[r]++;
					bytes[r] += VARATT_EXTERNAL_GET_EXTSIZE(*p);
				}
			}
		for (int r = 0; r < nrels; r++)
			ScanToastTable(tp, rels[r], count[r], bytes[r], emit, arg, cxt);
	}
	/* Whatever the scans did not finish goes through the index. */
	for (int64 i = 0; i < tp->n; i++)
	{
		PendingPair *pp = &tp->pairs[i];

		if (pp->done == 2)
			continue;
		for (int s = 0; s < 2; s++)
		{
			PendingValue *pv = &pp->v[s];

			if (!Complete(pv))
			{
				if (pv->buf)
					pfree(pv->buf);
				pv->buf = FetchValue(pv);
				fetched++;
			}
		}
		EmitPair(tp, pp, emit, arg);
		if ((i & 255) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	elog(DEBUG1, "hybridpref: read %lld TOASTed arrays, %lld of them through the TOAST index",
		 (long long) (2 * tp->n), (long long) fetched);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	tp->n = 0;
}
