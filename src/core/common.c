/*
 * common.c: errors, host hooks and small helpers shared by the core.
 */
#include "hp_core.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Abort-free malloc wrapper for server-less programs. */
static void *
DefaultAlloc(size_t size)
{
	void	   *p = malloc(size);

	if (p == NULL)
	{
		fprintf(stderr, "hybridpref core: out of memory (%zu bytes)\n", size);
		abort();
	}
	return p;
}

HpHooks		hp_hooks = {DefaultAlloc, free, NULL};

/* Record an error; returns its code so callers can `return hp_error(...)`. */
HpStatus
hp_error(HpError *err, HpStatus code, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->detail[0] = '\0';
	return code;
}

/* Attach a detail line to the last error. */
void
hp_error_detail(HpError *err, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
}

/* Zeroed allocation through the host hook. */
void *
hp_alloc0(size_t size)
{
	void	   *p = hp_alloc(size);

	memset(p, 0, size ? size : 1);
	return p;
}

/*
 * True when no element is NaN or infinite.  An all-ones exponent marks
 * both; integer tests on the bits vectorise (GCC needs the hint at -O2), so
 * the check costs a fraction of the dot product it guards.
 */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("tree-vectorize")))
#endif
bool
hp_all_finite_f(const float *x, size_t n)
{
	uint32_t	bad = 0;

	for (size_t i = 0; i < n; i++)
	{
		uint32_t	u;

		memcpy(&u, x + i, 4);
		bad |= ((u & 0x7f800000u) == 0x7f800000u);
	}
	return bad == 0;
}

/* Double-precision variant of hp_all_finite_f. */
bool
hp_all_finite_d(const double *x, size_t n)
{
	double		acc = 0.0;

	for (size_t i = 0; i < n; i++)
		acc += x[i] * 0.0;
	return acc == 0.0;
}
