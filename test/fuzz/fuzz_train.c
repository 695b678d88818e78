/*
 * fuzz_train.c: libFuzzer target for hp_bt_train and hp_mlp_train on tiny
 * data, driven the way src/train_agg.c drives them (options parsed by
 * hp_train_options_parse, row keys from hp_row_key, rows put in
 * hp_sort_rows order in place by hp_canonical_order, checked against it).
 *
 * Input layout (missing bytes read as 0):
 *   byte 0  flags: bit0 MLP, bit1 warm-start retrain, bit2 determinism
 *           check, bit3 uncertainty "laplace", bit4 prior "none",
 *           bit5 "heads" given explicitly, bit6-7 seed.  The determinism
 *           check also runs the text round trip and scorer checks.
 *   byte 1  bits0-1 heads-1 (1..4), bits2-4 lambda (0, 1e-3, 1, 1e-8, 1e3,
 *           1e-30, 0.1, 1e30), bits5-6 max_iter-1 (1..4), bit7 epochs-1
 *   byte 2  MLP: bits0-2 batch_size-1, bits3-4 lr (1e-3, 0.1, 10, 1e-8),
 *           bits5-6 first hidden width (1..3, 2 twice), bit7 second layer;
 *           linear: bit0 lambda "auto" (cross-validated) instead of byte 1's
 *   byte 3  n-1 (n = 1..32), byte 4  dim-1 (dim = 1..8)
 *   then    n rows of dim (linear: differences) or 2*dim (MLP: a then b)
 *           values, one tag byte each: < 0x80 small multiples of 1/16,
 *           else one of 0, -0, +-1e30, +-1e-30, +-FLT_MAX, FLT_MIN, the
 *           smallest subnormal, +-1e15, 1e-10, or 4 raw bytes (finite only;
 *           non-finite raw values become 0: the SQL layer rejects them);
 *   then    n labels, one tag byte each: 1, 0, 0.5 or k/63.
 *
 * Oracle: training returns HP_OK or a clean error (HP_EINVAL exactly for
 * the option combinations the core must refuse, otherwise only
 * HP_EINTERNAL for divergence or HP_EDATA for a non-finite loss on huge
 * values).  A trained model has the requested shape,
 * finite weights, and must survive encode -> hp_model_decode (which
 * validates: finite loss, canonical options) and the JSON round trip,
 * because the SQL layer stores it without re-validating.  Training twice is
 * bit-identical; a warm-started retrain behaves likewise.
 */
#include "fuzz_common.h"
#include "hp_mlp.h"
#include "hp_options.h"
#include "hp_train.h"

#define MAX_N 32
#define MAX_DIM 8

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FuzzSetup();
	return 0;
}

static float
ReadValue(FuzzReader *r)
{
	static const float special[] = {
		0.0f, -0.0f, 1e30f, -1e30f, 1e-30f, -1e-30f, FLT_MAX, -FLT_MAX, FLT_MIN,
		1.4e-45f, 1e15f, -1e15f, 1e-10f,
	};
	uint8_t		t = FuzzU8(r);
	uint32_t	u;
	float		f;

	if (t < 0x80)
		return (float) ((int) t - 64) / 16.0f;
	t -= 0x80;
	if (t < sizeof(special) / sizeof(special[0]))
		return special[t];
	u = FuzzU32(r);
	memcpy(&f, &u, sizeof(f));
	return isfinite(f) ? f : 0.0f;
}

static float
ReadLabel(FuzzReader *r)
{
	uint8_t		t = FuzzU8(r);

	switch (t & 3)
	{
		case 0:
			return 1.0f;
		case 1:
			return 0.0f;
		case 2:
			return 0.5f;
	}
	return (float) (t >> 2) / 63.0f;
}

typedef struct Data
{
	int			n,
				dim,
				width;			/* dim, or 2*dim for pairs */
	float	   *X;				/* sorted rows, n x width */
	float	   *p;
	uint64_t   *key;
	float	   *A,
			   *B;				/* MLP: the halves of X */
} Data;

/* Rows keyed and sorted like the training aggregate does. */
static void
BuildData(FuzzReader *r, Data *D, int n, int dim, bool pairs)
{
	float	   *raw,
			   *rawp;
	HpRowRef   *refs;

	D->n = n;
	D->dim = dim;
	D->width = pairs ? 2 * dim : dim;
	raw = malloc(sizeof(float) * n * D->width);
	rawp = malloc(sizeof(float) * n);
	for (int k = 0; k < n * D->width; k++)
		raw[k] = ReadValue(r);
	for (int i = 0; i < n; i++)
		rawp[i] = ReadLabel(r);

	/* In-place canonical order (as train_agg.c) must match hp_sort_rows. */
	D->X = malloc(sizeof(float) * n * D->width);
	D->p = malloc(sizeof(float) * n);
	D->key = malloc(sizeof(uint64_t) * n);
	memcpy(D->X, raw, sizeof(float) * n * D->width);
	memcpy(D->p, rawp, sizeof(float) * n);
	refs = malloc(sizeof(HpRowRef) * n);
	for (int i = 0; i < n; i++)
	{
		D->key[i] = hp_row_key(D->X + (size_t) i * D->width, D->width, rawp[i]);
		refs[i].x = raw + (size_t) i * D->width;
		refs[i].p = rawp[i];
		refs[i].key = D->key[i];
	}
	/* The aggregate's one-pass row (a - b, key, finiteness) against parts. */
	if (!pairs)
	{
		float	   *d = malloc(sizeof(float) * dim),
				   *e = malloc(sizeof(float) * dim);

		for (int i = 0; i < n; i++)
		{
			const float *a = raw + (size_t) i * dim,
					   *b = raw + (size_t) ((i + 1) % n) * dim;
			uint64_t	k;
			bool		finite = hp_row_diff(a, b, d, dim, rawp[i], &k);

			for (int j = 0; j < dim; j++)
				e[j] = a[j] - b[j];
			FUZZ_CHECK(memcmp(d, e, sizeof(float) * dim) == 0, "hp_row_diff row %d is not a - b", i);
			FUZZ_CHECK(k == hp_row_key(e, dim, rawp[i]), "hp_row_diff key of row %d differs", i);
			FUZZ_CHECK(finite == hp_all_finite_f(e, dim), "hp_row_diff finiteness of row %d", i);
		}
		free(d);
		free(e);
	}
	hp_sort_rows(refs, n, D->width);
	hp_canonical_order(D->X, D->p, D->key, n, D->width);
	for (int i = 0; i < n; i++)
		FUZZ_CHECK(memcmp(D->X + (size_t) i * D->width, refs[i].x, sizeof(float) * D->width) == 0 &&
				   D->key[i] == refs[i].key && memcmp(&D->p[i], &refs[i].p, sizeof(float)) == 0,
				   "row %d differs from hp_sort_rows order", i);
	D->A = D->B = NULL;
	if (pairs)
	{
		D->A = malloc(sizeof(float) * n * dim);
		D->B = malloc(sizeof(float) * n * dim);
		for (int i = 0; i < n; i++)
		{
			memcpy(D->A + (size_t) i * dim, D->X + (size_t) i * D->width, sizeof(float) * dim);
			memcpy(D->B + (size_t) i * dim, D->X + (size_t) i * D->width + dim, sizeof(float) * dim);
		}
	}
	free(refs);
	free(raw);
	free(rawp);
}

static void
FreeData(Data *D)
{
	free(D->X);
	free(D->p);
	free(D->key);
	free(D->A);
	free(D->B);
}

/* One training call. */
static HpStatus
Train(const Data *D, bool mlp, const HpTrainOptions *o, const char *canon,
	  const HpModel *init, HpModel *out, HpError *err)
{
	memset(err, 0, sizeof(*err));
	if (mlp)
	{
		HpPairSet	ps = {D->n, D->dim, D->A, D->B, D->p, D->key};

		return hp_mlp_train(&ps, o, canon, init, out, err);
	}
	else
	{
		HpTrainSet	ts = {D->n, D->dim, D->X, D->p, D->key};

		return hp_bt_train(&ts, o, canon, init, out, err);
	}
}

/* Encoded bytes of a model (malloc'd). */
static unsigned char *
Encode(const HpModel *m, size_t *sz)
{
	unsigned char *buf;

	*sz = hp_model_binary_size(m);
	buf = malloc(*sz);
	hp_model_encode(m, buf);
	return buf;
}

/* Invariants of a successfully trained model. */
static void
CheckTrained(const HpModel *m, const Data *D, bool mlp, const HpTrainOptions *o, const char *canon, bool full)
{
	HpModel		dec;
	HpError		err;
	HpStatus	rc;
	size_t		sz;
	unsigned char *buf;
	int			heads = o->uncertainty == HP_UNC_LAPLACE ? 1 : o->heads;

	FUZZ_CHECK(m->kind == (mlp ? HP_KIND_MLP : HP_KIND_LINEAR), "kind %u", m->kind);
	FUZZ_CHECK(m->dim == (uint32_t) D->dim && m->heads == (uint32_t) heads && m->rows == D->n,
			   "shape: dim %u heads %u rows %lld", m->dim, m->heads, (long long) m->rows);
	FUZZ_CHECK(strcmp(m->options, canon) == 0, "stored options differ from the canonical ones");
	for (uint32_t i = 0; i < m->ntensors; i++)
	{
		const HpTensor *t = &m->tensors[i];
		size_t		cnt = (size_t) t->rows * t->cols;

		FUZZ_CHECK(t->dtype == HP_F64 ? hp_all_finite_d(t->data, cnt) : hp_all_finite_f(t->data, cnt),
				   "tensor %s has non-finite values", t->name);
	}
	if (o->lambda_auto)
	{
		/* lambda "auto": the curve's argmin, or the default with no curve */
		const HpTensor *cv = hp_model_tensor(m, "lambda_cv");

		if (cv == NULL)
			FUZZ_CHECK(m->lambda == 1e-3, "auto without a curve chose %g", m->lambda);
		else
		{
			const double *v = cv->data;
			uint32_t	best = 0;

			for (uint32_t j = 1; j < cv->cols; j++)
				if (v[cv->cols + j] < v[cv->cols + best])
					best = j;
			FUZZ_CHECK(cv->rows == 2 && m->lambda == v[best], "auto chose %g, not the curve's argmin %g",
					   m->lambda, v[best]);
		}
	}
	if (mlp)
	{
		HpMlp		v;

		FUZZ_CHECK(hp_mlp_view(m, &v, &err) == HP_OK, "trained MLP has a bad shape: %s", err.msg);
		FUZZ_CHECK(v.nlayers == o->nhidden, "MLP has %d layers, asked %d", v.nlayers, o->nhidden);
	}
	else
	{
		const HpTensor *w = hp_model_tensor(m, "w");

		FUZZ_CHECK(w && w->rows == (uint32_t) heads && w->cols == (uint32_t) D->dim, "bad w tensor");
		if (o->uncertainty == HP_UNC_LAPLACE)
			FUZZ_CHECK(hp_model_tensor(m, "var") != NULL, "laplace model without var");
	}

	/* The SQL layer encodes without validating; every later read decodes. */
	buf = Encode(m, &sz);
	memset(&err, 0, sizeof(err));
	rc = hp_model_decode(buf, sz, &dec, &err);
	if (rc != HP_OK && FuzzIgnored("train_readback"))
	{
		free(buf);
		return;
	}
	FUZZ_CHECK(rc == HP_OK,
			   "[check-id train_readback] trained model cannot be read back: %s (%s); loss %g lambda %g",
			   err.msg, err.detail, m->loss, m->lambda);
	if (full)
		FuzzCheckModel(&dec, buf, sz);	/* text round trip and scorer too */
	else
	{
		unsigned char *buf2 = malloc(sz);

		FUZZ_CHECK(hp_model_binary_size(&dec) == sz, "decoded model has another size");
		hp_model_encode(&dec, buf2);
		FUZZ_CHECK(memcmp(buf, buf2, sz) == 0, "decode changed the trained model");
		free(buf2);
	}
	hp_model_free(&dec);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double lambdas[8] = {0, 1e-3, 1, 1e-8, 1e3, 1e-30, 0.1, 1e30};
	static const double lrs[4] = {1e-3, 0.1, 10, 1e-8};
	static const int widths[4] = {1, 2, 3, 2};
	FuzzReader	r = {data, size};
	uint8_t		flags = FuzzU8(&r),
				b1 = FuzzU8(&r),
				b2 = FuzzU8(&r);
	bool		mlp = flags & 1,
				laplace = flags & 8;
	int			heads = 1 + (b1 & 3);
	int			n = 1 + FuzzU8(&r) % MAX_N;
	int			dim = 1 + FuzzU8(&r) % MAX_DIM;
	char		json[512],
				lam[32];
	char	   *canon = NULL;
	HpTrainOptions o;
	HpError		err;
	HpModel		m;
	HpStatus	rc,
				want_einval;
	Data		D;
	int			len;

	/* Options text, as a user would pass it. */
	if (!mlp && (b2 & 1))
		snprintf(lam, sizeof(lam), "\"auto\"");
	else
		snprintf(lam, sizeof(lam), "%.17g", lambdas[(b1 >> 2) & 7]);
	len = snprintf(json, sizeof(json),
				   "{\"lambda\":%s,\"max_iter\":%d,\"seed\":%d,\"uncertainty\":\"%s\",\"prior\":\"%s\"",
				   lam, 1 + ((b1 >> 5) & 3), (flags >> 6) & 3,
				   laplace ? "laplace" : "ensemble", (flags & 16) ? "none" : "anchored");
	if (flags & 32)
		len += snprintf(json + len, sizeof(json) - len, ",\"heads\":%d", heads);
	if (mlp)
	{
		len += snprintf(json + len, sizeof(json) - len,
						",\"arch\":\"mlp\",\"epochs\":%d,\"batch_size\":%d,\"lr\":%.17g,\"hidden\":[%d",
						1 + (b1 >> 7), 1 + (b2 & 7), lrs[(b2 >> 3) & 3], widths[(b2 >> 5) & 3]);
		if (b2 & 0x80)
			len += snprintf(json + len, sizeof(json) - len, ",2");
		len += snprintf(json + len, sizeof(json) - len, "]");
	}
	snprintf(json + len, sizeof(json) - len, "}");
	rc = hp_train_options_parse(json, strlen(json), &o, &canon, &err);
	FUZZ_CHECK(rc == HP_OK, "options %s refused: %s", json, err.msg);
	if (!(flags & 32))
	{
		/* Defaults (8 or 20 heads) are too slow here: set it after parsing. */
		o.heads = heads;
	}

	BuildData(&r, &D, n, dim, mlp);
	if (getenv("HP_FUZZ_VERBOSE"))
	{
		/* Reproduction aid: the options and the rows in training order. */
		fprintf(stderr, "options %s (heads %d used)\n", canon, o.heads);
		for (int i = 0; i < n; i++)
		{
			fprintf(stderr, "row %d p=%.9g:", i, D.p[i]);
			for (int k = 0; k < D.width; k++)
				fprintf(stderr, " %.9g", D.X[(size_t) i * D.width + k]);
			fputc('\n', stderr);
		}
	}

	/* The combinations the core must refuse. */
	if (mlp)
		want_einval = laplace ? HP_EINVAL : HP_OK;
	else
		want_einval = (laplace && (flags & 32) && heads != 1) ? HP_EINVAL : HP_OK;

	rc = Train(&D, mlp, &o, canon, NULL, &m, &err);
	if (want_einval != HP_OK)
		FUZZ_CHECK(rc == HP_EINVAL && err.msg[0], "%s: expected EINVAL, got %d (%s)", json, (int) rc, err.msg);
	else
		FUZZ_CHECK(rc == HP_OK || ((rc == HP_EINTERNAL || rc == HP_EDATA) && err.code == rc && err.msg[0]),
				   "%s: returned %d (%s)", json, (int) rc, err.msg);

	if (rc == HP_OK)
	{
		CheckTrained(&m, &D, mlp, &o, canon, flags & 4);

		if (flags & 4)
		{
			/* Same input, same bits. */
			HpModel		m2;
			size_t		s1,
						s2;
			unsigned char *e1,
					   *e2;

			FUZZ_CHECK(Train(&D, mlp, &o, canon, NULL, &m2, &err) == HP_OK, "second run failed: %s", err.msg);
			e1 = Encode(&m, &s1);
			e2 = Encode(&m2, &s2);
			FUZZ_CHECK(s1 == s2 && memcmp(e1, e2, s1) == 0, "training is not deterministic");
			free(e1);
			free(e2);
			hp_model_free(&m2);
		}
		if (flags & 2)
		{
			/* Warm start from the trained model (linear: also another head count). */
			HpTrainOptions o2 = o;
			HpModel		m2;

			if (!mlp && !laplace)
				o2.heads = 1 + (heads % 4);
			rc = Train(&D, mlp, &o2, canon, &m, &m2, &err);
			FUZZ_CHECK(rc == HP_OK || ((rc == HP_EINTERNAL || rc == HP_EDATA) && err.msg[0]),
					   "%s: warm start returned %d (%s)", json, (int) rc, err.msg);
			if (rc == HP_OK)
			{
				CheckTrained(&m2, &D, mlp, &o2, canon, false);
				hp_model_free(&m2);
			}
			/* An init of the other kind is refused cleanly. */
			{
				HpModel		other;

				memset(&other, 0, sizeof(other));
				other.kind = mlp ? HP_KIND_LINEAR : HP_KIND_MLP;
				other.dim = (uint32_t) dim;
				other.heads = 1;
				hp_model_add_tensor(&other, "w", HP_F32, 1, (uint32_t) dim, NULL);
				rc = Train(&D, mlp, &o, canon, &other, &m2, &err);
				FUZZ_CHECK(rc == HP_EINVAL && err.msg[0], "init of the wrong kind gave %d", (int) rc);
				hp_model_free(&other);
			}
		}
		hp_model_free(&m);
	}
	FreeData(&D);
	hp_free(canon);
	FUZZ_CHECK(FuzzBigLive() == 0, "%d large blocks not released", FuzzBigLive());
	return 0;
}
