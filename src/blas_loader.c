/*
 * blas_loader.c: opens OpenBLAS and LAPACKE in a backend on first use.
 *
 * Linking OpenBLAS into the module would run its constructor, which starts a
 * thread pool, in whatever process loads the module first; with
 * shared_preload_libraries that is the postmaster, whose forked children
 * then inherit a pool that does not exist.  Loading lazily keeps the
 * postmaster clean and lets hybridpref.blas_threads bound the pool before
 * any BLAS call runs.
 */
#include "postgres.h"

#include <dlfcn.h>
#include <stdlib.h>

#include "miscadmin.h"

#include "hp_blas.h"
#include "hp_pg.h"

static const char *const OpenBlasNames[] = {
	"libopenblas.so.0", "libopenblas.so", "libblas.so.3", NULL
};
static const char *const LapackeNames[] = {
	"liblapacke.so.3", "liblapacke.so", NULL
};

/* dlopen the first library of a list that loads. */
static void *
OpenFirst(const char *const *names, const char **chosen)
{
	for (int i = 0; names[i]; i++)
	{
		void	   *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);

		if (h)
		{
			*chosen = names[i];
			return h;
		}
	}
	return NULL;
}

/* Resolve one symbol or fail with a clear error. */
static void *
Need(void *handle, const char *lib, const char *sym)
{
	void	   *p = dlsym(handle, sym);

	if (p == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("hybridpref: symbol \"%s\" not found in %s", sym, lib)));
	return p;
}

/* Load OpenBLAS/LAPACKE once per backend and apply the thread bound. */
void
HpBlasEnsure(void)
{
	void	   *blas,
			   *lapacke;
	const char *blasname = NULL,
			   *lapname = NULL;
	HpBlas		t;

	if (hp_blas.loaded)
		return;
	if (!IsUnderPostmaster && IsPostmasterEnvironment)
		elog(ERROR, "hybridpref: BLAS must not be loaded in the postmaster");

	{
		/*
		 * OpenBLAS starts its thread pool inside dlopen(), before any
		 * setter can run, sized from this variable; setting it first is
		 * the only way to bound the pool from the start.
		 */
		char		buf[16];

		snprintf(buf, sizeof(buf), "%d", hp_blas_threads);
		setenv("OPENBLAS_NUM_THREADS", buf, 1);
	}
	blas = OpenFirst(OpenBlasNames, &blasname);
	if (blas == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("hybridpref: could not load OpenBLAS"),
				 errdetail("%s", dlerror()),
				 errhint("Install the libopenblas0 package.")));
	lapacke = OpenFirst(LapackeNames, &lapname);
	if (lapacke == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("hybridpref: could not load LAPACKE"),
				 errdetail("%s", dlerror()),
				 errhint("Install the liblapacke package.")));

	memset(&t, 0, sizeof(t));
	t.set_num_threads = dlsym(blas, "openblas_set_num_threads");
	/* Bound threads before the first BLAS call can spawn any work. */
	if (t.set_num_threads)
		t.set_num_threads(hp_blas_threads);

	t.sdot = Need(blas, blasname, "cblas_sdot");
	t.saxpy = Need(blas, blasname, "cblas_saxpy");
	t.sscal = Need(blas, blasname, "cblas_sscal");
	t.snrm2 = Need(blas, blasname, "cblas_snrm2");
	t.sgemv = Need(blas, blasname, "cblas_sgemv");
	t.sgemm = Need(blas, blasname, "cblas_sgemm");
	t.ssyrk = Need(blas, blasname, "cblas_ssyrk");
	t.ddot = Need(blas, blasname, "cblas_ddot");
	t.daxpy = Need(blas, blasname, "cblas_daxpy");
	t.dscal = Need(blas, blasname, "cblas_dscal");
	t.dnrm2 = Need(blas, blasname, "cblas_dnrm2");
	t.dgemv = Need(blas, blasname, "cblas_dgemv");
	t.dgemm = Need(blas, blasname, "cblas_dgemm");
	t.dsyrk = Need(blas, blasname, "cblas_dsyrk");
	t.dposv = Need(lapacke, lapname, "LAPACKE_dposv");
	t.dsyevd = Need(lapacke, lapname, "LAPACKE_dsyevd");
	t.loaded = true;
	hp_blas = t;
}
