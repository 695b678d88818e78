/*
 * hp_blas.h: the BLAS/LAPACK entry points the core uses, as a table of
 * function pointers.
 *
 * Why a table: in a PostgreSQL backend, OpenBLAS must not be loaded into the
 * postmaster (its constructor starts a thread pool that fork() then breaks),
 * so the glue dlopen()s it on first use in a backend and fills this table.
 * Test programs, fuzzers and benchmarks link OpenBLAS directly and bind the
 * table statically with hp_blas_bind_static().
 */
#ifndef HP_BLAS_H
#define HP_BLAS_H

#include <cblas.h>
#include <stdbool.h>

typedef struct HpBlas
{
	float		(*sdot) (const int n, const float *x, const int incx, const float *y, const int incy);
	void		(*saxpy) (const int n, const float alpha, const float *x, const int incx, float *y, const int incy);
	void		(*sscal) (const int n, const float alpha, float *x, const int incx);
	float		(*snrm2) (const int n, const float *x, const int incx);
	void		(*sgemv) (const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE trans, const int m, const int n,
						  const float alpha, const float *a, const int lda, const float *x, const int incx,
						  const float beta, float *y, const int incy);
	void		(*sgemm) (const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb,
						  const int m, const int n, const int k, const float alpha, const float *a, const int lda,
						  const float *b, const int ldb, const float beta, float *c, const int ldc);
	void		(*ssyrk) (const enum CBLAS_ORDER order, const enum CBLAS_UPLO uplo, const enum CBLAS_TRANSPOSE trans,
						  const int n, const int k, const float alpha, const float *a, const int lda,
						  const float beta, float *c, const int ldc);
	double		(*ddot) (const int n, const double *x, const int incx, const double *y, const int incy);
	void		(*daxpy) (const int n, const double alpha, const double *x, const int incx, double *y, const int incy);
	void		(*dscal) (const int n, const double alpha, double *x, const int incx);
	double		(*dnrm2) (const int n, const double *x, const int incx);
	void		(*dgemv) (const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE trans, const int m, const int n,
						  const double alpha, const double *a, const int lda, const double *x, const int incx,
						  const double beta, double *y, const int incy);
	void		(*dgemm) (const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta, const enum CBLAS_TRANSPOSE tb,
						  const int m, const int n, const int k, const double alpha, const double *a, const int lda,
						  const double *b, const int ldb, const double beta, double *c, const int ldc);
	void		(*dsyrk) (const enum CBLAS_ORDER order, const enum CBLAS_UPLO uplo, const enum CBLAS_TRANSPOSE trans,
						  const int n, const int k, const double alpha, const double *a, const int lda,
						  const double beta, double *c, const int ldc);
	/* LAPACKE (row or column major as the first argument says) */
	int			(*dposv) (int layout, char uplo, int n, int nrhs, double *a, int lda, double *b, int ldb);
	int			(*dsyevd) (int layout, char jobz, char uplo, int n, double *a, int lda, double *w);
	/* OpenBLAS thread control */
	void		(*set_num_threads) (int n);
	bool		loaded;
} HpBlas;

extern HpBlas hp_blas;

/* Bind the table to directly linked OpenBLAS/LAPACKE (non-server builds). */
void		hp_blas_bind_static(void);

#endif
