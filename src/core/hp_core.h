/*
 * hp_core.h: shared definitions of the hybridpref numerical core.
 *
 * The core is plain C11 with no PostgreSQL headers so it can be unit-tested,
 * fuzzed and benchmarked without a server.  The host (the fmgr glue, or a
 * test program) installs hooks for memory, interrupts and BLAS.
 */
#ifndef HP_CORE_H
#define HP_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Largest embedding dimension accepted anywhere (documented limit). */
#define HP_MAX_DIM 16384
/* Largest ensemble accepted. */
#define HP_MAX_HEADS 256

/* Error classes; the glue maps each to a SQLSTATE. */
typedef enum HpStatus
{
	HP_OK = 0,
	HP_EINVAL,		/* invalid parameter value (options, budget, ...) */
	HP_EDATA,		/* bad data: NaN/Inf, NULL element, empty array */
	HP_EDIM,		/* dimension mismatch */
	HP_ECORRUPT,	/* corrupted or foreign serialised value */
	HP_ELIMIT,		/* a documented limit (memory, dimension) exceeded */
	HP_EINTERNAL	/* solver failure or bug */
} HpStatus;

typedef struct HpError
{
	HpStatus	code;
	char		msg[256];
	char		detail[256];
} HpError;

/* Fill err and return its code; printf-style message, optional detail. */
HpStatus	hp_error(HpError *err, HpStatus code, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
void		hp_error_detail(HpError *err, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

/*
 * Host hooks.  Defaults are malloc/free and a no-op interrupt check.  In a
 * backend, alloc is palloc in the current memory context and interrupt is
 * CHECK_FOR_INTERRUPTS, which may longjmp: the core therefore allocates only
 * through these hooks, so nothing leaks when a query is cancelled.
 */
typedef struct HpHooks
{
	void	   *(*alloc) (size_t size);	/* never returns NULL */
	void		(*release) (void *ptr);
	void		(*interrupt) (void);
} HpHooks;

extern HpHooks hp_hooks;

static inline void *
hp_alloc(size_t size)
{
	return hp_hooks.alloc(size ? size : 1);
}

static inline void
hp_free(void *ptr)
{
	if (ptr)
		hp_hooks.release(ptr);
}

static inline void
hp_check_interrupts(void)
{
	if (hp_hooks.interrupt)
		hp_hooks.interrupt();
}

void	   *hp_alloc0(size_t size);

/* True when every value is finite. */
bool		hp_all_finite_f(const float *x, size_t n);
bool		hp_all_finite_d(const double *x, size_t n);

#endif
