/*
 * gen_seeds.c: writes the seed corpora of the fuzz targets (except
 * fuzz_embed, whose seeds are hand-written) under the directory given as
 * argv[1], normally test/fuzz/corpus.  Built by build.sh (plain, no
 * sanitizers) as test/fuzz/build/gen_seeds; run it only to regenerate:
 *   test/fuzz/build/gen_seeds test/fuzz/corpus
 * Models are trained for real on tiny data, so seeds are valid encodings
 * and texts of each kind the core writes.  fuzz_route's seeds are byte
 * layouts (fitted and hand-built PPMs, each routing strategy).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hp_blas.h"
#include "hp_mlp.h"
#include "hp_model.h"
#include "hp_options.h"
#include "hp_train.h"

static const char *root;

static void
Die(const char *what)
{
	fprintf(stderr, "gen_seeds: %s\n", what);
	exit(1);
}

/* Write root/dir/name from a mode byte (or -1 for none) and bytes. */
static void
Put(const char *dir, const char *name, int mode, const void *data, size_t len)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", root, dir);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		Die(path);
	snprintf(path, sizeof(path), "%s/%s/%s", root, dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		Die(path);
	if (mode >= 0)
		fputc(mode, f);
	if (fwrite(data, 1, len, f) != len || fclose(f) != 0)
		Die(path);
}

static void
PutText(const char *dir, const char *name, const char *text)
{
	Put(dir, name, -1, text, strlen(text));
}

/* Train a model on a few fixed rows; options as a user would write them. */
static void
TrainModel(const char *options, int dim, HpModel *m)
{
	enum {N = 6};
	float		X[N * 2 * 4],
				p[N];
	uint64_t	key[N];
	HpTrainOptions o;
	char	   *canon;
	HpError		err;
	HpStatus	rc;

	if (hp_train_options_parse(options, strlen(options), &o, &canon, &err) != HP_OK)
		Die(err.msg);
	for (int i = 0; i < N * 2 * dim; i++)
		X[i] = (float) ((i * 7) % 11 - 5) / 4.0f;
	for (int i = 0; i < N; i++)
		p[i] = i % 3 == 2 ? 0.5f : (float) (i % 2);
	if (o.arch == HP_KIND_MLP)
	{
		float		A[N * 4],
					B[N * 4];
		HpPairSet	ps = {N, dim, A, B, p, key};

		for (int i = 0; i < N; i++)
		{
			memcpy(A + i * dim, X + i * 2 * dim, sizeof(float) * dim);
			memcpy(B + i * dim, X + i * 2 * dim + dim, sizeof(float) * dim);
			key[i] = hp_row_key(X + i * 2 * dim, 2 * dim, p[i]);
		}
		rc = hp_mlp_train(&ps, &o, canon, NULL, m, &err);
	}
	else
	{
		HpTrainSet	ts = {N, dim, X, p, key};

		for (int i = 0; i < N; i++)
			key[i] = hp_row_key(X + i * dim, dim, p[i]);
		rc = hp_bt_train(&ts, &o, canon, NULL, m, &err);
	}
	if (rc != HP_OK)
		Die(err.msg);
	hp_free(canon);
}

/* Binary (mode byte + encoding) and text seeds of one model. */
static void
PutModel(const HpModel *m, const char *name, int mode)
{
	size_t		sz = hp_model_binary_size(m);
	unsigned char *buf = malloc(sz);
	char	   *json = hp_model_to_json(m);

	hp_model_encode(m, buf);
	Put("model_binary", name, mode, buf, sz);
	PutText("model_text", name, json);
	free(buf);
	hp_free(json);
}

/*
 * Seed for fuzz_model_binary's mode 3 (byte 0 = mode): the encoding with
 * all tensor headers moved before all tensor data.
 */
static void
PutRepairSeed(const HpModel *m, const char *name, int mode)
{
	size_t		sz = hp_model_binary_size(m);
	unsigned char *buf = malloc(sz),
			   *out = malloc(sz);
	size_t		pos = 16 + 48,
				optlen,
				n,
				nd = 0;
	unsigned char *data = malloc(sz);

	hp_model_encode(m, buf);
	optlen = buf[pos] | buf[pos + 1] << 8 | buf[pos + 2] << 16 | (size_t) buf[pos + 3] << 24;
	pos += 4 + optlen + 4;
	memcpy(out, buf, pos);
	n = pos;
	for (uint32_t t = 0; t < m->ntensors; t++)
	{
		size_t		bytes = (size_t) m->tensors[t].rows * m->tensors[t].cols *
			(m->tensors[t].dtype == HP_F64 ? 8 : 4);

		memcpy(out + n, buf + pos, 28);
		n += 28;
		memcpy(data + nd, buf + pos + 28, bytes);
		nd += bytes;
		pos += 28 + bytes;
	}
	memcpy(out + n, data, nd);
	Put("model_binary", name, mode, out, n + nd);
	free(buf);
	free(out);
	free(data);
}

static void
ModelSeeds(void)
{
	HpModel		m;
	size_t		sz;
	unsigned char *buf;
	static const float wppm[3] = {0.25f, -1.5f, 3.0f};
	static const double bias[2] = {0.125, -2.0};

	TrainModel("{\"heads\":2,\"max_iter\":5}", 3, &m);
	PutModel(&m, "linear_ensemble", 0);
	PutRepairSeed(&m, "linear_ensemble_repair", 7);	/* mode 3, warm start */
	/* The same value truncated, in mode 2 (magic and checksum fixed). */
	sz = hp_model_binary_size(&m);
	buf = malloc(sz);
	hp_model_encode(&m, buf);
	Put("model_binary", "linear_truncated", 2, buf, sz - 5);
	free(buf);
	hp_model_free(&m);

	TrainModel("{\"uncertainty\":\"laplace\",\"lambda\":0.01,\"max_iter\":5}", 2, &m);
	PutModel(&m, "linear_laplace", 1);
	hp_model_free(&m);

	TrainModel("{\"heads\":1,\"lambda\":0,\"prior\":\"none\",\"max_iter\":3}", 1, &m);
	PutModel(&m, "linear_dim1", 0);
	hp_model_free(&m);

	TrainModel("{\"arch\":\"mlp\",\"heads\":2,\"hidden\":[2],\"epochs\":2,\"batch_size\":4}", 2, &m);
	PutModel(&m, "mlp", 0);
	hp_model_free(&m);

	TrainModel("{\"arch\":\"mlp\",\"heads\":1,\"hidden\":[2,1],\"epochs\":1}", 1, &m);
	PutModel(&m, "mlp_2layers", 1);
	PutRepairSeed(&m, "mlp_2layers_repair", 7);
	hp_model_free(&m);

	/* A hand-built model of kind ppm with an f64 tensor. */
	memset(&m, 0, sizeof(m));
	m.version = HP_MODEL_FORMAT_VERSION;
	m.kind = HP_KIND_PPM;
	m.dim = 3;
	m.heads = 1;
	m.lambda = 0.5;
	m.loss = 0.25;
	m.rows = 10;
	m.seed = -7;
	m.options = strdup("{\"a\":[1,2],\"b\":\"x\\u0001\"}");
	hp_model_add_tensor(&m, "w", HP_F32, 1, 3, wppm);
	hp_model_add_tensor(&m, "bias", HP_F64, 2, 1, bias);
	PutModel(&m, "ppm", 1);
	free(m.options);
	m.options = NULL;
	hp_model_free(&m);
}

static void
TextSeeds(void)
{
	PutText("options", "empty_object", "{}");
	PutText("options", "linear", "{\"lambda\": 0.01, \"heads\": 4, \"seed\": -3, \"max_iter\": 20, \"tol\": 1e-5}");
	PutText("options", "laplace", "{\"uncertainty\":\"laplace\",\"prior\":\"none\",\"lambda\":1e-3}");
	PutText("options", "mlp", "{\"arch\":\"mlp\",\"hidden\":[64,32,8,1],\"epochs\":3,\"lr\":0.01,\"batch_size\":128}");
	PutText("options", "integral_floats", "{\"heads\":8.0,\"max_iter\":1e2,\"seed\":-9223372036854775808}");
	PutText("options", "unknown_key", "{\"lamda\":1}");
	PutText("options", "not_object", "[1,2]");

	PutText("json", "object", "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}");
	PutText("json", "numbers", "[0,-0,-0.0,1.5e-3,1E+2,9223372036854775807,-9223372036854775808,"
			"9223372036854775808,1e999,3.4028235e38,4.9e-324,0.1]");
	PutText("json", "strings", "[\"\",\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"\\u00e9\\ud83d\\ude00\",\"caf\xc3\xa9\",\"\xe6\x97\xa5\"]");
	PutText("json", "nested", "[[[[[[[[{\"k\":[[[]]]}]]]]]]]]");
	PutText("json", "whitespace", " \t\r\n{ \"x\" : [ 1 , 2 ] } \n");
	PutText("json", "options", "{\"arch\":\"linear\",\"batch_size\":256,\"epochs\":50,\"heads\":8,\"hidden\":[128,128],"
			"\"lambda\":0.001,\"lr\":0.001,\"max_iter\":100,\"prior\":\"anchored\",\"seed\":0,\"tol\":1e-06,"
			"\"uncertainty\":\"ensemble\"}");
}

/* Binary seeds of fuzz_select (layout in fuzz_select.c). */
static void
SelectSeeds(void)
{
	/* method, n, beta tag, seed x8, then (id, mu, sigma) tags */
	static const unsigned char s1[] = {0, 4, 40, 1, 0, 0, 0, 0, 0, 0, 0,
		1, 40, 8, 2, 48, 8, 3, 32, 16, 4, 56, 0};
	static const unsigned char s2[] = {7, 5, 41, 9, 9, 9, 9, 9, 9, 9, 9,
		5, 40, 40, 4, 40, 40, 3, 40, 40, 2, 71, 64, 1, 40, 72};
	static const unsigned char s3[] = {3, 3, 65, 0, 0, 0, 0, 0, 0, 0, 0,
		0xC0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 71, 73,
		0xC0, 0, 0, 0, 0, 0, 0, 0, 0x80, 72, 75, 3, 77, 78};
	static const unsigned char s4[] = {4, 6, 48, 2, 0, 0, 0, 0, 0, 0, 0,
		1, 32, 4, 2, 32, 4, 3, 32, 4, 4, 32, 4, 5, 32, 4, 6, 32, 4};
	static const unsigned char s5[] = {6, 2, 84, 0, 0, 0, 0, 0, 0, 0xe8, 0x3f, 5, 0, 0, 0, 0, 0, 0, 0,
		1, 84, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 40, 2, 40, 40};
	static const unsigned char s6[] = {1, 3, 40, 0, 0, 0, 0, 0, 0, 0, 0, 1, 40, 40, 1, 40, 40, 2, 40, 40};

	Put("select", "random4", -1, s1, sizeof(s1));
	Put("select", "maxminlcb_ties", -1, s2, sizeof(s2));
	Put("select", "infomax_extremes", -1, s3, sizeof(s3));
	Put("select", "dts_equal", -1, s4, sizeof(s4));
	Put("select", "deltaucb_raw", -1, s5, sizeof(s5));
	Put("select", "duplicate_ids", -1, s6, sizeof(s6));
}

/* Binary seeds of fuzz_train (layout in fuzz_train.c). */
static void
TrainSeeds(void)
{
	unsigned char buf[600];
	int			len;
	/* flags, b1, b2, n-1, dim-1 */
	static const unsigned char hdr[][5] = {
		{0x00, 0x04 | 0x60, 0x00, 7, 2},	/* linear, 1 head, lambda 1e-3, max_iter 4 */
		{0x05, 0x07 | 0x20, 0x00, 11, 3},	/* linear, 4 heads, determinism */
		{0x28, 0x08 | 0x40, 0x00, 5, 1},	/* laplace, heads given 1, lambda 1 */
		{0x03, 0x05 | 0x80, 0x29, 5, 1},	/* mlp 2 heads, warm start, 2 epochs */
		{0x02, 0x1d, 0x00, 3, 0},			/* linear warm start, lambda 1e30 */
		{0x00, 0x01, 0x00, 2, 2},			/* huge values */
	};

	for (size_t s = 0; s < sizeof(hdr) / sizeof(hdr[0]); s++)
	{
		int			n = hdr[s][3] + 1,
					dim = hdr[s][4] + 1,
					width = (hdr[s][0] & 1) ? 2 * dim : dim;
		char		name[32];

		memcpy(buf, hdr[s], 5);
		len = 5;
		for (int k = 0; k < n * width; k++)
			buf[len++] = s == 5 ? (unsigned char) (0x80 + 2 + k % 4) : (unsigned char) ((k * 37 + s * 11) % 128);
		for (int i = 0; i < n; i++)
			buf[len++] = (unsigned char) (i * 5 + s);
		snprintf(name, sizeof(name), "seed%zu", s + 1);
		Put("train", name, -1, buf, len);
	}
}

/* Binary seeds of fuzz_route (layout in fuzz_route.c). */
static void
RouteRouting(unsigned char *buf, int *len, int n, int K, int strat)
{
	buf[(*len)++] = 0;			/* lookup names: empty, then "ab" */
	buf[(*len)++] = 2;
	buf[(*len)++] = 0;
	buf[(*len)++] = 1;
	buf[(*len)++] = (unsigned char) n;
	buf[(*len)++] = 2;			/* ids from 0 */
	for (int i = 0; i < n; i++)
	{
		int			nnz = i % 3;

		buf[(*len)++] = (unsigned char) nnz;
		buf[(*len)++] = (unsigned char) (i * 3);	/* id gap */
		for (int a = 0; a < nnz; a++)
			buf[(*len)++] = (unsigned char) ((i + a * 2) % (K + 1));
	}
	buf[(*len)++] = 64 + 3;		/* budget 0.5 */
	buf[(*len)++] = 40;			/* second budget 1.0 ... */
	buf[(*len)++] = 9;			/* ... of 9 rows */
	buf[(*len)++] = (unsigned char) strat;
	buf[(*len)++] = 3;			/* 10 candidates */
	for (int i = 0; i < 8; i++)
		buf[(*len)++] = (unsigned char) (i * 29);	/* seed */
	for (int j = 0; j < K; j++)
		buf[(*len)++] = (unsigned char) (36 + j);	/* predict vector */
	buf[(*len)++] = 5;			/* sort_unique list */
	buf[(*len)++] = 7;
	buf[(*len)++] = 3;
	buf[(*len)++] = 7;
	buf[(*len)++] = 0;
	buf[(*len)++] = 0xF5;
}

static void
RouteSeeds(void)
{
	/* flags, K, sel, max_bytes, fit?, nrows, strategy */
	static const struct
	{
		const char *name;
		unsigned char flags,
					K,
					sel,
					mb;
		int			nrows,
					n,
					strat;
	}			seeds[] = {
		{"fit_linear_topk", 0x00, 2, 0x00, 0, 8, 6, 0},
		{"fit_quad_dual_greedy", 0x82, 3, 0x8A, 0, 10, 9, 1},
		{"fit_auto_raw_simulated", 0x0C, 2, 0x40, 0, 12, 5, 2},
		{"fit_primal_random_scale", 0x50, 4, 0x00, 0, 6, 7, 3},
		{"fit_memory_limit", 0x02, 3, 0x00, 0xC3, 8, 4, 0},
		{"hand_quad_simulated", 0x03, 3, 0x00, 0, 0, 8, 2},
		{"hand_linear_greedy", 0x01, 2, 0x00, 0, 0, 5, 1},
		{"hand_corrupt_degree", 0x21, 2, 0x03, 0, 0, 3, 0},
		{"bad_strategy", 0x01, 1, 0x00, 0, 0, 3, 0x85},
	};
	unsigned char buf[2048];

	for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++)
	{
		int			len = 0,
					K = seeds[s].K;

		buf[len++] = seeds[s].flags;
		buf[len++] = (unsigned char) K;
		buf[len++] = seeds[s].sel;
		buf[len++] = seeds[s].mb;
		for (int j = 0; j < K; j++)
		{
			buf[len++] = (unsigned char) (j / 3);	/* names a, b, c, ab, ... */
			buf[len++] = (unsigned char) (j % 3);
			if (j >= 3)
				buf[len++] = (unsigned char) (j % 3 + 1);
		}
		if (seeds[s].flags & 1)
		{
			buf[len++] = 32;	/* intercept 0 */
			for (int j = 0; j < K + K * K; j++)
				buf[len++] = (unsigned char) ((j * 13 + 5) % 64);
		}
		else
		{
			buf[len++] = 64 + 17;	/* lambda 1e-4 */
			buf[len++] = 64 + 18;	/* n 1e4 */
			buf[len++] = (unsigned char) seeds[s].nrows;
			for (int i = 0; i < seeds[s].nrows; i++)
			{
				for (int j = 0; j < K; j++)
					buf[len++] = (unsigned char) ((i * (j + 2) + j) % 11);
				buf[len++] = (unsigned char) ((i * 7 + s) % 40);	/* score */
			}
		}
		RouteRouting(buf, &len, seeds[s].n, K, seeds[s].strat);
		Put("route", seeds[s].name, -1, buf, (size_t) len);
	}
}

int
main(int argc, char **argv)
{
	if (argc != 2)
	{
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	root = argv[1];
	hp_blas_bind_static();
	hp_blas.set_num_threads(1);
	ModelSeeds();
	TextSeeds();
	SelectSeeds();
	TrainSeeds();
	RouteSeeds();
	return 0;
}
