/*
 * fuzz_blas_check.h: bounds-checking wrappers around the hp_blas table.
 *
 * OpenBLAS is not instrumented, so AddressSanitizer cannot see it read or
 * write outside a buffer the core hands it.  FuzzBlasCheckInstall() swaps
 * every hp_blas entry for a wrapper that first checks the arguments the way
 * the reference BLAS does (a leading dimension OpenBLAS would reject with
 * "parameter N had an illegal value" is a bug: the call then does nothing)
 * and asks ASan whether every byte the call may touch is addressable, then
 * calls OpenBLAS.  Included by fuzz_common.h.
 */
#ifndef FUZZ_BLAS_CHECK_H
#define FUZZ_BLAS_CHECK_H

#include <sanitizer/asan_interface.h>
#include <stdio.h>
#include <stdlib.h>

#include "hp_blas.h"

static HpBlas fuzz_blas_real;

/* Abort with a BLAS-level message (libFuzzer records the input). */
#define FUZZ_BLAS_FAIL(...) \
	do { \
		fprintf(stderr, "fuzz BLAS check: "); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} while (0)

/* Every byte of [p, p + bytes) must be addressable. */
static inline void
FuzzBlasRegion(const char *fn, const char *arg, const void *p, size_t bytes)
{
	void	   *bad;

	if (bytes == 0)
		return;
	if (p == NULL)
		FUZZ_BLAS_FAIL("%s: %s is NULL for %zu bytes", fn, arg, bytes);
	bad = __asan_region_is_poisoned((void *) p, bytes);
	if (bad)
	{
		fprintf(stderr, "fuzz BLAS check: %s: %s [%p, +%zu bytes) reaches unaddressable byte %p (offset %zu)\n",
				fn, arg, p, bytes, bad, (size_t) ((const char *) bad - (const char *) p));
		__asan_describe_address(bad);
		abort();
	}
}

/* A strided vector of n elements. */
static inline void
FuzzBlasVec(const char *fn, const char *arg, const void *x, int n, int inc, size_t esize)
{
	if (n < 0)
		FUZZ_BLAS_FAIL("%s: negative length %d", fn, n);
	if (n > 0 && inc == 0)
		FUZZ_BLAS_FAIL("%s: %s has increment 0", fn, arg);
	if (n > 0)
		FuzzBlasRegion(fn, arg, x, ((size_t) (n - 1) * (size_t) abs(inc) + 1) * esize);
}

/*
 * A rows x cols matrix stored with leading dimension ld (row-major: ld
 * separates rows, >= cols; column-major: ld separates columns, >= rows).
 */
static inline void
FuzzBlasMat(const char *fn, const char *arg, int layout_row, const void *a, int rows, int cols, int ld,
			size_t esize)
{
	int			minld = layout_row ? cols : rows;

	if (rows < 0 || cols < 0)
		FUZZ_BLAS_FAIL("%s: %s has negative shape %d x %d", fn, arg, rows, cols);
	if (ld < (minld > 1 ? minld : 1))
		FUZZ_BLAS_FAIL("%s: %s (%d x %d, %s) has illegal leading dimension %d", fn, arg, rows, cols,
					   layout_row ? "row-major" : "column-major", ld);
	if (rows > 0 && cols > 0)
	{
		size_t		outer = layout_row ? (size_t) rows : (size_t) cols,
					inner = layout_row ? (size_t) cols : (size_t) rows;

		FuzzBlasRegion(fn, arg, a, ((outer - 1) * (size_t) ld + inner) * esize);
	}
}

#define ROWMAJ(o) ((o) == CblasRowMajor)

/* Wrappers, float then double, generated for both precisions. */
#define FUZZ_BLAS_WRAPPERS(T, P) \
static T \
FuzzBlas_##P##dot(const int n, const T *x, const int incx, const T *y, const int incy) \
{ \
	FuzzBlasVec(#P "dot", "x", x, n, incx, sizeof(T)); \
	FuzzBlasVec(#P "dot", "y", y, n, incy, sizeof(T)); \
	return fuzz_blas_real.P##dot(n, x, incx, y, incy); \
} \
static void \
FuzzBlas_##P##axpy(const int n, const T alpha, const T *x, const int incx, T *y, const int incy) \
{ \
	FuzzBlasVec(#P "axpy", "x", x, n, incx, sizeof(T)); \
	FuzzBlasVec(#P "axpy", "y", y, n, incy, sizeof(T)); \
	fuzz_blas_real.P##axpy(n, alpha, x, incx, y, incy); \
} \
static void \
FuzzBlas_##P##scal(const int n, const T alpha, T *x, const int incx) \
{ \
	FuzzBlasVec(#P "scal", "x", x, n, incx, sizeof(T)); \
	fuzz_blas_real.P##scal(n, alpha, x, incx); \
} \
static T \
FuzzBlas_##P##nrm2(const int n, const T *x, const int incx) \
{ \
	FuzzBlasVec(#P "nrm2", "x", x, n, incx, sizeof(T)); \
	return fuzz_blas_real.P##nrm2(n, x, incx); \
} \
static void \
FuzzBlas_##P##gemv(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE trans, const int m, const int n, \
				   const T alpha, const T *a, const int lda, const T *x, const int incx, \
				   const T beta, T *y, const int incy) \
{ \
	bool		nt = trans == CblasNoTrans; \
	FuzzBlasMat(#P "gemv", "A", ROWMAJ(order), a, m, n, lda, sizeof(T)); \
	FuzzBlasVec(#P "gemv", "x", x, nt ? n : m, incx, sizeof(T)); \
	FuzzBlasVec(#P "gemv", "y", y, nt ? m : n, incy, sizeof(T)); \
	fuzz_blas_real.P##gemv(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy); \
} \
static void \
FuzzBlas_##P##gemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb, \
				   const int m, const int n, const int k, const T alpha, const T *a, const int lda, \
				   const T *b, const int ldb, const T beta, T *c, const int ldc) \
{ \
	bool		na = ta == CblasNoTrans, \
				nb = tb == CblasNoTrans; \
	FuzzBlasMat(#P "gemm", "A", ROWMAJ(order), a, na ? m : k, na ? k : m, lda, sizeof(T)); \
	FuzzBlasMat(#P "gemm", "B", ROWMAJ(order), b, nb ? k : n, nb ? n : k, ldb, sizeof(T)); \
	FuzzBlasMat(#P "gemm", "C", ROWMAJ(order), c, m, n, ldc, sizeof(T)); \
	fuzz_blas_real.P##gemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); \
} \
static void \
FuzzBlas_##P##syrk(const enum CBLAS_ORDER order, const enum CBLAS_UPLO uplo, const enum CBLAS_TRANSPOSE trans, \
				   const int n, const int k, const T alpha, const T *a, const int lda, \
				   const T beta, T *c, const int ldc) \
{ \
	bool		nt = trans == CblasNoTrans; \
	FuzzBlasMat(#P "syrk", "A", ROWMAJ(order), a, nt ? n : k, nt ? k : n, lda, sizeof(T)); \
	FuzzBlasMat(#P "syrk", "C", ROWMAJ(order), c, n, n, ldc, sizeof(T)); \
	fuzz_blas_real.P##syrk(order, uplo, trans, n, k, alpha, a, lda, beta, c, ldc); \
}

FUZZ_BLAS_WRAPPERS(float, s)
FUZZ_BLAS_WRAPPERS(double, d)

/* LAPACKE layouts: 101 row-major, 102 column-major. */
static int
FuzzBlas_dposv(int layout, char uplo, int n, int nrhs, double *a, int lda, double *b, int ldb)
{
	FuzzBlasMat("dposv", "A", layout == 101, a, n, n, lda, sizeof(double));
	FuzzBlasMat("dposv", "B", layout == 101, b, n, nrhs, ldb, sizeof(double));
	return fuzz_blas_real.dposv(layout, uplo, n, nrhs, a, lda, b, ldb);
}

static int
FuzzBlas_dsyevd(int layout, char jobz, char uplo, int n, double *a, int lda, double *w)
{
	FuzzBlasMat("dsyevd", "A", layout == 101, a, n, n, lda, sizeof(double));
	FuzzBlasVec("dsyevd", "w", w, n, 1, sizeof(double));
	return fuzz_blas_real.dsyevd(layout, jobz, uplo, n, a, lda, w);
}

/* Route every hp_blas call through the checks (after hp_blas_bind_static). */
static inline void
FuzzBlasCheckInstall(void)
{
	fuzz_blas_real = hp_blas;
	hp_blas.sdot = FuzzBlas_sdot;
	hp_blas.saxpy = FuzzBlas_saxpy;
	hp_blas.sscal = FuzzBlas_sscal;
	hp_blas.snrm2 = FuzzBlas_snrm2;
	hp_blas.sgemv = FuzzBlas_sgemv;
	hp_blas.sgemm = FuzzBlas_sgemm;
	hp_blas.ssyrk = FuzzBlas_ssyrk;
	hp_blas.ddot = FuzzBlas_ddot;
	hp_blas.daxpy = FuzzBlas_daxpy;
	hp_blas.dscal = FuzzBlas_dscal;
	hp_blas.dnrm2 = FuzzBlas_dnrm2;
	hp_blas.dgemv = FuzzBlas_dgemv;
	hp_blas.dgemm = FuzzBlas_dgemm;
	hp_blas.dsyrk = FuzzBlas_dsyrk;
	if (fuzz_blas_real.dposv)
		hp_blas.dposv = FuzzBlas_dposv;
	if (fuzz_blas_real.dsyevd)
		hp_blas.dsyevd = FuzzBlas_dsyevd;
}

#endif
