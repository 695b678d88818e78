/*
 * blas_static.c: binds hp_blas to a directly linked OpenBLAS and LAPACKE.
 * Only compiled into server-less programs; the extension uses
 * src/blas_loader.c instead (HP_BLAS_DYNAMIC).
 */
#include "hp_blas.h"

HpBlas		hp_blas;

#ifndef HP_BLAS_DYNAMIC
#include <lapacke.h>

extern void openblas_set_num_threads(int num_threads);

/* Fill the table from the linked libraries. */
void
hp_blas_bind_static(void)
{
	hp_blas.sdot = cblas_sdot;
	hp_blas.saxpy = cblas_saxpy;
	hp_blas.sscal = cblas_sscal;
	hp_blas.snrm2 = cblas_snrm2;
	hp_blas.sgemv = cblas_sgemv;
	hp_blas.sgemm = cblas_sgemm;
	hp_blas.ssyrk = cblas_ssyrk;
	hp_blas.ddot = cblas_ddot;
	hp_blas.daxpy = cblas_daxpy;
	hp_blas.dscal = cblas_dscal;
	hp_blas.dnrm2 = cblas_dnrm2;
	hp_blas.dgemv = cblas_dgemv;
	hp_blas.dgemm = cblas_dgemm;
	hp_blas.dsyrk = cblas_dsyrk;
	hp_blas.dposv = (int (*) (int, char, int, int, double *, int, double *, int)) LAPACKE_dposv;
	hp_blas.dsyevd = (int (*) (int, char, char, int, double *, int, double *)) LAPACKE_dsyevd;
	hp_blas.set_num_threads = openblas_set_num_threads;
	hp_blas.loaded = true;
}
#else
/* In the extension the loader fills the table; nothing to bind here. */
void
hp_blas_bind_static(void)
{
}
#endif
