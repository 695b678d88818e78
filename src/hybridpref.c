/*
 * hybridpref.c: module entry point, GUCs, core hooks and error mapping.
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "hp_blas.h"
#include "hp_pg.h"

PG_MODULE_MAGIC;

int			hp_blas_threads = 1;
int			hp_max_train_memory_kb = 1024 * 1024;
int			hp_keep_train_memory_kb = 256 * 1024;

void		_PG_init(void);

/* Core allocation: huge-capable palloc in the current memory context. */
static void *
PgAlloc(size_t size)
{
	return MemoryContextAllocHuge(CurrentMemoryContext, size);
}

/* Core release: pfree. */
static void
PgRelease(void *ptr)
{
	pfree(ptr);
}

/* Core interrupt check: lets cancel and terminate stop long loops. */
static void
PgInterrupt(void)
{
	CHECK_FOR_INTERRUPTS();
}

/* Apply a new thread bound to an already loaded OpenBLAS. */
static void
AssignBlasThreads(int newval, void *extra)
{
	if (hp_blas.loaded && hp_blas.set_num_threads)
		hp_blas.set_num_threads(newval);
}

/* Register GUCs and install the core hooks. */
void
_PG_init(void)
{
	hp_hooks.alloc = PgAlloc;
	hp_hooks.release = PgRelease;
	hp_hooks.interrupt = PgInterrupt;

	DefineCustomIntVariable("hybridpref.blas_threads",
							"Maximum OpenBLAS threads per backend.",
							"OpenBLAS is loaded lazily in backends, never in the postmaster.",
							&hp_blas_threads,
							1, 1, 64,
							PGC_USERSET, 0,
							NULL, AssignBlasThreads, NULL);

	DefineCustomIntVariable("hybridpref.max_train_memory",
							"Largest amount of memory one in-memory training aggregate may hold.",
							"Training above it fails with an error; use hp.train_reward_model_iterative for larger data.",
							&hp_max_train_memory_kb,
							1024 * 1024, 64, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("hybridpref.keep_train_memory",
							"Largest training row store a backend keeps mapped between trainings.",
							"Kept memory is marked MADV_FREE while idle, so the kernel reclaims it under memory pressure; 0 frees it after every training.",
							&hp_keep_train_memory_kb,
							256 * 1024, 0, MAX_KILOBYTES,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("hybridpref");
}

/* Map a core error class to a SQLSTATE and raise it. */
void
HpReportError(const HpError *err)
{
	int			code;

	switch (err->code)
	{
		case HP_EINVAL:
			code = ERRCODE_INVALID_PARAMETER_VALUE;
			break;
		case HP_EDATA:
			code = ERRCODE_DATA_EXCEPTION;
			break;
		case HP_EDIM:
			code = ERRCODE_ARRAY_SUBSCRIPT_ERROR;
			break;
		case HP_ECORRUPT:
			code = ERRCODE_DATA_CORRUPTED;
			break;
		case HP_ELIMIT:
			code = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			break;
		default:
			code = ERRCODE_INTERNAL_ERROR;
			break;
	}
	if (err->detail[0])
		ereport(ERROR, (errcode(code), errmsg("%s", err->msg), errdetail("%s", err->detail)));
	ereport(ERROR, (errcode(code), errmsg("%s", err->msg)));
	pg_unreachable();
}
