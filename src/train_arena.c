/*
 * train_arena.c: the memory an in-memory training's rows live in.
 *
 * The row store of hp.train_reward_model (hundreds of MB) is written once
 * and then read by every solver pass.  Fresh anonymous memory costs a page
 * fault and a zeroed page per 4 kB (per 2 MB with huge pages), and virtual
 * machines that hand freed memory back to their host fault it back in far
 * more slowly still: measured on the development VM, 50-300 ms per 100 MB,
 * more than PostgreSQL takes to scan the rows.  So a backend keeps one
 * mapping between trainings, up to hybridpref.keep_train_memory, the way
 * jemalloc keeps dirty pages: while idle it is marked MADV_FREE, so the
 * kernel takes its pages back whenever it needs memory (the next training
 * then faults them in as before) and otherwise the next training reuses
 * them without a fault.
 *
 * One aggregate state owns the arena at a time; any other (a second
 * training in the same query) allocates with palloc as usual.  Ownership
 * ends when the owner gives it back or its memory context is reset or
 * deleted, which covers errors and cancels too.
 */
#include "postgres.h"

#include <sys/mman.h>

#include "utils/memutils.h"

#include "hp_pg.h"

#define ARENA_UNIT ((Size) 2 * 1024 * 1024)	/* one huge page */

static char *arena_base = NULL;
static Size arena_mapped = 0;
static bool arena_busy = false;
static uint64 arena_lease = 0;	/* which acquisition currently owns it */

/* Bytes the arena may keep while idle (hybridpref.keep_train_memory). */
static inline Size
KeepBytes(void)
{
	return (Size) hp_keep_train_memory_kb * 1024;
}

/* Unmap the arena. */
static void
ArenaUnmap(void)
{
	if (arena_base != NULL)
		(void) munmap(arena_base, arena_mapped);
	arena_base = NULL;
	arena_mapped = 0;
}

/* End the current lease: keep the pages lazily freed, or unmap if too big. */
static void
ArenaEndLease(void)
{
	arena_busy = false;
	arena_lease++;
	if (arena_base == NULL)
		return;
	if (arena_mapped > KeepBytes())
		ArenaUnmap();
	else
	{
#ifdef MADV_FREE
		(void) madvise(arena_base, arena_mapped, MADV_FREE);
#else
		(void) madvise(arena_base, arena_mapped, MADV_DONTNEED);
#endif
	}
}

/* Reset callback of the owner's context: the lease ends with it. */
static void
ArenaContextGone(void *arg)
{
	uint64		lease = *(uint64 *) arg;

	if (arena_busy && lease == arena_lease)
		ArenaEndLease();
}

/* Map or grow the arena to at least bytes; false when the kernel refuses. */
static bool
ArenaMap(Size bytes)
{
	Size		want = TYPEALIGN(ARENA_UNIT, bytes);
	void	   *p;

	if (arena_base != NULL && want <= arena_mapped)
		return true;
	if (arena_base == NULL)
		p = mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		p = mremap(arena_base, arena_mapped, want, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		return false;
#ifdef MADV_HUGEPAGE
	(void) madvise(p, want, MADV_HUGEPAGE);
#endif
	arena_base = p;
	arena_mapped = want;
	return true;
}

/*
 * At least bytes of the backend's arena, owned until HpArenaRelease or the
 * reset of ctx; NULL when it is in use, disabled (keep_train_memory 0) or
 * cannot be mapped, and the caller should palloc instead.
 */
void *
HpArenaAcquire(MemoryContext ctx, Size bytes)
{
	MemoryContextCallback *cb;
	uint64	   *lease;

	if (KeepBytes() == 0)
		return NULL;
	if (arena_busy)
	{
		elog(DEBUG2, "hybridpref: kept training memory is in use; rows go to palloc");
		return NULL;
	}
	if (arena_base != NULL && arena_mapped > KeepBytes())
		ArenaUnmap();			/* the limit was lowered since */
	elog(DEBUG2, "hybridpref: training rows in kept memory (%s %zu kB)",
		 arena_base ? "reusing" : "mapping", (arena_base ? arena_mapped : TYPEALIGN(ARENA_UNIT, bytes)) / 1024);
	if (!ArenaMap(bytes))
		return NULL;
	cb = MemoryContextAlloc(ctx, sizeof(MemoryContextCallback) + sizeof(uint64));
	lease = (uint64 *) (cb + 1);
	arena_busy = true;
	*lease = ++arena_lease;
	cb->func = ArenaContextGone;
	cb->arg = lease;
	MemoryContextRegisterResetCallback(ctx, cb);
	return arena_base;
}

/* Whether ptr is the arena (so HpArenaResize/HpArenaRelease apply). */
bool
HpArenaOwns(const void *ptr)
{
	return ptr != NULL && arena_busy && ptr == arena_base;
}

/* Grow the owned arena to bytes, possibly moving it (like repalloc). */
void *
HpArenaResize(void *ptr, Size bytes)
{
	Assert(HpArenaOwns(ptr));
	if (!ArenaMap(bytes))
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on request of size %zu for training rows.", bytes)));
	return arena_base;
}

/* Give the owned arena back before its context goes. */
void
HpArenaRelease(void *ptr)
{
	Assert(HpArenaOwns(ptr));
	ArenaEndLease();
}
