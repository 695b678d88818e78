/*
 * gen_pairs.c: reproducible synthetic preference pairs for the hybridpref
 * evaluation and benchmark scripts (test/eval, test/bench).
 *
 * Writes PostgreSQL binary COPY data to stdout with the columns
 *     id int4, chosen real[], rejected real[], margin float8
 * where margin = w* . (chosen - rejected) is the true reward difference
 * (Bradley-Terry label drawn with P(a wins) = sigmoid(w* . (a - b))).
 * Optionally also writes the same difference vectors (chosen - rejected,
 * computed in double from the float4 values actually stored), with random
 * sign flips so that a classifier sees two classes, as
 *     --npy-x FILE   float64 .npy, shape (n, dim), rows s_i * (chosen_i - rejected_i)
 *     --npy-y FILE   float64 .npy, shape (n,),      labels (s_i > 0) as 0/1
 *     --libsvm FILE  liblinear/libsvm text, label +1/-1, 1-based indices
 * The flipped logistic loss is identical, so all solvers share one optimum.
 *
 * Options:
 *   --n N            pairs (default 1000)
 *   --dim D          embedding dimension (default 64)
 *   --seed S         data seed (pairs, labels, flips)
 *   --wseed S        seed of the true reward w* and of the embedding mean
 *                    (train and held-out sets share it; default 12345)
 *   --start-id K     first id (default 0)
 *   --dist gauss|hh  gauss: a, b ~ N(0, I).
 *                    hh: unit-norm "sentence embedding"-like vectors,
 *                    x = normalize(mu + 0.8 c + 0.6 e) with a fixed mean mu,
 *                    a per-pair shared context c and per-side noise e.
 *   --margin-sd T    scale w* so that sd(w* . (a - b)) is about T (default 3)
 *   --no-copy        do not write COPY data (side files only)
 *
 * Build: cc -O2 -o gen_pairs gen_pairs.c -lm
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rs[4];

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
rng_seed(uint64_t s)
{
	for (int i = 0; i < 4; i++)
		rs[i] = splitmix64(&s);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(void)
{
	uint64_t	r = rotl(rs[1] * 5, 7) * 9;
	uint64_t	t = rs[1] << 17;

	rs[2] ^= rs[0];
	rs[3] ^= rs[1];
	rs[1] ^= rs[2];
	rs[0] ^= rs[3];
	rs[2] ^= t;
	rs[3] = rotl(rs[3], 45);
	return r;
}

/* uniform in (0, 1) */
static double
rng_unif(void)
{
	return ((rng_next() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* standard normal, Box-Muller */
static double
rng_norm(void)
{
	static int	have = 0;
	static double spare;
	double		u1, u2, r;

	if (have)
	{
		have = 0;
		return spare;
	}
	u1 = rng_unif();
	u2 = rng_unif();
	r = sqrt(-2.0 * log(u1));
	spare = r * sin(2.0 * M_PI * u2);
	have = 1;
	return r * cos(2.0 * M_PI * u2);
}

/* ---- binary output helpers ---- */
static void
put_i16(FILE *f, int16_t v)
{
	unsigned char b[2] = {(unsigned char) ((uint16_t) v >> 8), (unsigned char) v};

	fwrite(b, 1, 2, f);
}

static void
be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void
put_i32(FILE *f, int32_t v)
{
	unsigned char b[4];

	be32(b, (uint32_t) v);
	fwrite(b, 1, 4, f);
}

static void
put_f64(FILE *f, double d)
{
	uint64_t	u;
	unsigned char b[8];

	memcpy(&u, &d, 8);
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char) (u >> (56 - 8 * i));
	fwrite(b, 1, 8, f);
}

/* one float4[] field (length word included) */
static void
put_float4_array(FILE *f, const float *x, int dim, unsigned char *buf)
{
	unsigned char *p = buf;

	be32(p, 20 + 8 * dim);		/* field length */
	be32(p + 4, 1);				/* ndim */
	be32(p + 8, 0);				/* has nulls */
	be32(p + 12, 700);			/* element type oid: float4 */
	be32(p + 16, dim);			/* dim size */
	be32(p + 20, 1);			/* lower bound */
	p += 24;
	for (int i = 0; i < dim; i++)
	{
		uint32_t	u;

		memcpy(&u, &x[i], 4);
		be32(p, 4);
		be32(p + 4, u);
		p += 8;
	}
	fwrite(buf, 1, p - buf, f);
}

static FILE *
npy_open(const char *path, const char *shape)
{
	FILE	   *f = fopen(path, "wb");
	char		hdr[256];
	int			len;

	if (!f)
	{
		perror(path);
		exit(1);
	}
	len = snprintf(hdr, sizeof hdr,
				   "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }", shape);
	/* pad so that magic(6)+ver(2)+hlen(2)+header is a multiple of 64 */
	while ((10 + len + 1) % 64 != 0)
		hdr[len++] = ' ';
	hdr[len++] = '\n';
	fwrite("\x93NUMPY\x01\x00", 1, 8, f);
	fputc(len & 0xff, f);
	fputc(len >> 8, f);
	fwrite(hdr, 1, len, f);
	return f;
}

static void
gen_vec(float *out, int dim, int hh, const double *mu, const double *ctx)
{
	if (!hh)
	{
		for (int i = 0; i < dim; i++)
			out[i] = (float) rng_norm();
		return;
	}
	{
		double		v[8192];
		double		nrm = 0;

		for (int i = 0; i < dim; i++)
		{
			v[i] = mu[i] + 0.8 * ctx[i] + 0.6 * rng_norm();
			nrm += v[i] * v[i];
		}
		nrm = sqrt(nrm);
		for (int i = 0; i < dim; i++)
			out[i] = (float) (v[i] / nrm);
	}
}

int
main(int argc, char **argv)
{
	long		n = 1000;
	int			dim = 64;
	uint64_t	seed = 1,
				wseed = 12345;
	long		start_id = 0;
	int			hh = 0,
				do_copy = 1;
	double		margin_sd = 3.0;
	const char *npy_x = NULL,
			   *npy_y = NULL,
			   *libsvm = NULL;
	double	   *w,
			   *mu,
			   *ctx,
			   *diff;
	float	   *a,
			   *b;
	unsigned char *buf;
	FILE	   *fx = NULL,
			   *fy = NULL,
			   *fl = NULL,
			   *out = stdout;
	char		shape[64];

	for (int i = 1; i < argc; i++)
	{
#define ARG(name) (strcmp(argv[i], name) == 0 && i + 1 < argc)
		if (ARG("--n"))
			n = atol(argv[++i]);
		else if (ARG("--dim"))
			dim = atoi(argv[++i]);
		else if (ARG("--seed"))
			seed = strtoull(argv[++i], NULL, 10);
		else if (ARG("--wseed"))
			wseed = strtoull(argv[++i], NULL, 10);
		else if (ARG("--start-id"))
			start_id = atol(argv[++i]);
		else if (ARG("--dist"))
			hh = strcmp(argv[++i], "hh") == 0;
		else if (ARG("--margin-sd"))
			margin_sd = atof(argv[++i]);
		else if (ARG("--npy-x"))
			npy_x = argv[++i];
		else if (ARG("--npy-y"))
			npy_y = argv[++i];
		else if (ARG("--libsvm"))
			libsvm = argv[++i];
		else if (strcmp(argv[i], "--no-copy") == 0)
			do_copy = 0;
		else
		{
			fprintf(stderr, "gen_pairs: bad argument %s\n", argv[i]);
			return 2;
		}
	}
	if (dim < 1 || dim > 8192 || n < 0)
	{
		fprintf(stderr, "gen_pairs: bad sizes\n");
		return 2;
	}

	w = malloc(sizeof(double) * dim);
	mu = malloc(sizeof(double) * dim);
	ctx = malloc(sizeof(double) * dim);
	diff = malloc(sizeof(double) * dim);
	a = malloc(sizeof(float) * dim);
	b = malloc(sizeof(float) * dim);
	buf = malloc(24 + 8 * (size_t) dim);

	/* true reward and embedding mean, from wseed */
	rng_seed(wseed);
	{
		double		nw = 0,
					scale;

		for (int i = 0; i < dim; i++)
		{
			w[i] = rng_norm();
			nw += w[i] * w[i];
		}
		for (int i = 0; i < dim; i++)
			mu[i] = 0.6 * rng_norm();
		if (hh)
			/* a - b ~ 0.6 sqrt(2) N(0, I) / sqrt(dim (0.36 + 0.64 + 0.36)) */
			scale = margin_sd / (0.6 * sqrt(2.0) / sqrt(dim * 1.36));
		else
			scale = margin_sd / sqrt(2.0);
		scale /= sqrt(nw);
		for (int i = 0; i < dim; i++)
			w[i] *= scale;
	}

	rng_seed(seed * 0x100000001b3ULL + 7);

	if (npy_x)
	{
		snprintf(shape, sizeof shape, "(%ld, %d)", n, dim);
		fx = npy_open(npy_x, shape);
	}
	if (npy_y)
	{
		snprintf(shape, sizeof shape, "(%ld,)", n);
		fy = npy_open(npy_y, shape);
	}
	if (libsvm && !(fl = fopen(libsvm, "w")))
	{
		perror(libsvm);
		return 1;
	}

	if (do_copy)
	{
		fwrite("PGCOPY\n\377\r\n\0", 1, 11, out);
		put_i32(out, 0);
		put_i32(out, 0);
	}

	for (long k = 0; k < n; k++)
	{
		double		m = 0,
					p,
					u,
					s;
		int			a_wins;

		if (hh)
			for (int i = 0; i < dim; i++)
				ctx[i] = rng_norm();
		gen_vec(a, dim, hh, mu, ctx);
		gen_vec(b, dim, hh, mu, ctx);
		for (int i = 0; i < dim; i++)
			m += w[i] * ((double) a[i] - (double) b[i]);
		p = 1.0 / (1.0 + exp(-m));
		u = rng_unif();
		a_wins = u < p;
		s = rng_unif() < 0.5 ? -1.0 : 1.0;	/* sign flip for the side files */
		{
			const float *c = a_wins ? a : b;
			const float *r = a_wins ? b : a;
			double		margin = a_wins ? m : -m;

			if (do_copy)
			{
				put_i16(out, 4);
				put_i32(out, 4);
				put_i32(out, (int32_t) (start_id + k));
				put_float4_array(out, c, dim, buf);
				put_float4_array(out, r, dim, buf);
				put_i32(out, 8);
				put_f64(out, margin);
			}
			for (int i = 0; i < dim; i++)
				diff[i] = s * ((double) c[i] - (double) r[i]);
		}
		if (fx)
			fwrite(diff, sizeof(double), dim, fx);
		if (fy)
		{
			double		y = s > 0 ? 1.0 : 0.0;

			fwrite(&y, sizeof(double), 1, fy);
		}
		if (fl)
		{
			fputs(s > 0 ? "+1" : "-1", fl);
			for (int i = 0; i < dim; i++)
				fprintf(fl, " %d:%.10g", i + 1, diff[i]);
			fputc('\n', fl);
		}
	}
	if (do_copy)
		put_i16(out, -1);
	if (fflush(out) != 0 || (fx && fclose(fx) != 0) || (fy && fclose(fy) != 0) ||
		(fl && fclose(fl) != 0))
	{
		perror("gen_pairs: write");
		return 1;
	}
	return 0;
}
