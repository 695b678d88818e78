/*
 * bench_core_train.c: the numerical core's training time on arrays already
 * in memory, the like-for-like counterpart of scikit-learn's .fit timing.
 *
 * bench_core_train X.npy Y.npy LAMBDA HEADS REPEATS
 * X.npy: float64 n x d (sign-flipped difference vectors), Y.npy: labels 0/1.
 * Prints core_fit_s=<t1>,<t2>,... and core_fit_median_s=<median>.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hp_blas.h"
#include "hp_options.h"
#include "hp_train.h"

/* Wall-clock seconds. */
static double
Now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Load a C-order float64 or int64 .npy file as doubles; shape into dims. */
static double *
LoadNpy(const char *path, long *rows, long *cols)
{
	FILE	   *f = fopen(path, "rb");
	unsigned char pre[10];
	char	   *hdr,
			   *p;
	unsigned	hlen;
	long		n = 0,
				d = 1,
				count;
	int			is_int;
	double	   *out;

	if (!f || fread(pre, 1, 10, f) != 10)
		exit(2);
	hlen = pre[8] | (pre[9] << 8);
	hdr = calloc(hlen + 1, 1);
	if (fread(hdr, 1, hlen, f) != hlen)
		exit(2);
	is_int = strstr(hdr, "'<i8'") != NULL;
	p = strstr(hdr, "'shape': (");
	if (!p || (!strstr(hdr, "'<f8'") && !is_int))
		exit(3);
	if (sscanf(p + 10, "%ld, %ld", &n, &d) < 1)
		exit(3);
	count = n * d;
	out = malloc(sizeof(double) * count);
	if (fread(out, 8, count, f) != (size_t) count)
		exit(4);
	if (is_int)
		for (long i = 0; i < count; i++)
			out[i] = (double) ((long long *) out)[i];
	fclose(f);
	free(hdr);
	*rows = n;
	*cols = d;
	return out;
}

/* Compare doubles for qsort. */
static int
Cmp(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	long		n,
				d,
				yn,
				yd;
	double	   *Xd,
			   *Yd,
				times[64];
	float	   *X,
			   *p;
	uint64_t   *key;
	int			heads,
				repeats;
	char		opts[128];
	HpTrainOptions o;
	HpError		err;

	if (argc != 6)
		return 1;
	Xd = LoadNpy(argv[1], &n, &d);
	Yd = LoadNpy(argv[2], &yn, &yd);
	heads = atoi(argv[4]);
	repeats = atoi(argv[5]);
	if (repeats > 64)
		repeats = 64;
	hp_blas_bind_static();
	hp_blas.set_num_threads(1);
	X = malloc(sizeof(float) * n * d);
	p = malloc(sizeof(float) * n);
	key = malloc(sizeof(uint64_t) * n);
	for (long i = 0; i < n * d; i++)
		X[i] = (float) Xd[i];
	for (long i = 0; i < n; i++)
	{
		p[i] = (float) Yd[i];
		key[i] = hp_row_key(X + i * d, (int) d, p[i]);
	}
	snprintf(opts, sizeof(opts), "{\"heads\":%d,\"lambda\":%s,\"seed\":1}", heads, argv[3]);
	hp_train_options_default(&o);
	if (hp_train_options_parse(opts, strlen(opts), &o, NULL, &err) != HP_OK)
		return 1;
	printf("core_fit_s=");
	for (int r = 0; r < repeats; r++)
	{
		HpTrainSet	ts = {n, (int) d, X, p, key};
		HpModel		m;
		double		t0 = Now();

		if (hp_bt_train(&ts, &o, "{}", NULL, &m, &err) != HP_OK)
			return 1;
		times[r] = Now() - t0;
		printf("%s%.4f", r ? "," : "", times[r]);
		hp_model_free(&m);
	}
	qsort(times, repeats, sizeof(double), Cmp);
	printf("\ncore_fit_median_s=%.4f\n", times[repeats / 2]);
	return 0;
}
