/*
 * test_model.c: the JSON reader/writer, the model value formats and the
 * training options.  Run under ASan/LSan too, so every path frees.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "hp_json.h"
#include "hp_model.h"
#include "hp_options.h"
#include "hp_rng.h"
#include "tests.h"

/* Byte offsets in an encoded model, used to craft corrupt values. */
#define OFF_DIM 16
#define OFF_HEADS 20
#define OFF_UNC 24
#define OFF_RESERVED 28
#define OFF_LAMBDA 32
#define OFF_OPTLEN 64
#define OFF_OPTIONS 68

/* Write v little-endian into n bytes at p. */
static void
StoreLE(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char) (v >> (8 * i));
}

/*
 * Recompute the checksum after a deliberate edit: FNV-1a 64 over bytes
 * [4,8) (version and kind) and then [16,end), as hp_model.h specifies.
 */
static void
Resum(unsigned char *b, size_t len)
{
	StoreLE(b + 8, hp_fnv1a64(b + 16, len - 16, hp_fnv1a64(b + 4, 4, HP_FNV_OFFSET)), 8);
}

/* Encode into a fresh hook buffer. */
static unsigned char *
Encode(const HpModel *m, size_t *len)
{
	unsigned char *b;

	*len = hp_model_binary_size(m);
	b = hp_alloc(*len + 8);
	hp_model_encode(m, b);
	return b;
}

/* A linear model with random weights (and variances for Laplace). */
static void
BuildLinear(HpModel *m, uint32_t dim, uint32_t heads, int unc, uint64_t seed)
{
	HpTrainOptions o;
	HpRng		r;
	HpTensor   *t;

	memset(m, 0, sizeof(*m));
	hp_rng_seed(&r, seed);
	m->version = HP_MODEL_FORMAT_VERSION;
	m->kind = HP_KIND_LINEAR;
	m->dim = dim;
	m->heads = heads;
	m->uncertainty = unc;
	m->lambda = 1e-3;
	m->loss = 0.52;
	m->rows = 1000;
	m->seed = 42;
	hp_train_options_parse(NULL, 0, &o, &m->options, NULL);
	t = hp_model_add_tensor(m, "w", HP_F32, heads, dim, NULL);
	for (size_t i = 0; i < (size_t) heads * dim; i++)
		((float *) t->data)[i] = (float) hp_rng_normal(&r);
	if (unc == HP_UNC_LAPLACE)
	{
		t = hp_model_add_tensor(m, "var", HP_F32, 1, dim, NULL);
		for (size_t i = 0; i < dim; i++)
			((float *) t->data)[i] = (float) hp_rng_uniform(&r);
	}
}

/* Decode must fail with HP_ECORRUPT (and leave nothing allocated). */
static bool
DecodeFails(const unsigned char *b, size_t len, const char *msg)
{
	HpModel		m;
	HpError		err;

	if (hp_model_decode(b, len, &m, &err) == HP_OK)
	{
		hp_model_free(&m);
		return false;
	}
	if (msg && strstr(err.msg, msg) == NULL)
	{
		fprintf(stderr, "  expected \"%s\", got \"%s\"\n", msg, err.msg);
		return false;
	}
	return err.code == HP_ECORRUPT && m.options == NULL && m.ntensors == 0;
}

/* Parse text; true when it is valid JSON. */
static bool
JsonOk(const char *text)
{
	HpJsonDoc  *doc;
	HpError		err;

	if (hp_json_parse(text, strlen(text), &doc, &err) != HP_OK)
		return false;
	hp_json_free(doc);
	return true;
}

/* Canonical form equals want. */
static bool
CanonicalIs(const char *text, const char *want)
{
	char	   *out;
	bool		ok;

	if (hp_json_canonical(text, strlen(text), &out, NULL) != HP_OK)
		return false;
	ok = strcmp(out, want) == 0;
	if (!ok)
		fprintf(stderr, "  canonical: %s\n", out);
	hp_free(out);
	return ok;
}

/* Parser accepts exactly RFC 8259 plus our restrictions. */
static void
TestJsonParser(void)
{
	HpJsonDoc  *doc;
	HpError		err;
	int64_t		i;
	double		d;
	float		f;
	char		deep[200];

	CHECK(JsonOk("{}") && JsonOk("[]") && JsonOk(" \t\r\n[1, -0, 2.5e-3, 1E+2, true, false, null, \"x\"] "));
	CHECK(JsonOk("\"\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\""));
	CHECK(JsonOk("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""));
	CHECK(!JsonOk("") && !JsonOk("   ") && !JsonOk("[1,]") && !JsonOk("{\"a\":1,}"));
	CHECK(!JsonOk("[1] x") && !JsonOk("[1]]") && !JsonOk("{\"a\" 1}") && !JsonOk("{1:2}"));
	CHECK(!JsonOk("01") && !JsonOk("1.") && !JsonOk(".5") && !JsonOk("-") && !JsonOk("1e") && !JsonOk("+1"));
	CHECK(!JsonOk("NaN") && !JsonOk("Infinity") && !JsonOk("tru") && !JsonOk("nul") && !JsonOk("'a'"));
	CHECK(!JsonOk("\"\\ud800\"") && !JsonOk("\"\\udc00\"") && !JsonOk("\"\\ud800\\u0041\""));
	CHECK(!JsonOk("\"\\u0000\"") && !JsonOk("\"\\x\"") && !JsonOk("\"\\u12\"") && !JsonOk("\"abc"));
	CHECK(!JsonOk("\"a\tb\"") && !JsonOk("\"\xc0\x80\"") && !JsonOk("\"\xed\xa0\x80\"") && !JsonOk("\"\xf5\x80\x80\x80\""));
	CHECK(!JsonOk("\"\xe2\x82\"") && !JsonOk("\"\x80\""));
	CHECK(!JsonOk("{\"a\":1,\"b\":2,\"a\":3}") && JsonOk("{\"a\":1,\"b\":{\"a\":2}}"));
	CHECK(hp_json_parse(NULL, 0, &doc, &err) == HP_EINVAL && doc == NULL);
	CHECK(hp_json_parse("[1]\0", 4, &doc, &err) == HP_EINVAL && doc == NULL);
	CHECK(strstr(err.detail, "byte offset 3") != NULL);

	/* Depth 64 is the limit. */
	memset(deep, '[', 64);
	memset(deep + 64, ']', 64);
	deep[128] = '\0';
	CHECK(JsonOk(deep));
	memset(deep, '[', 65);
	memset(deep + 65, ']', 65);
	deep[130] = '\0';
	CHECK(!JsonOk(deep));

	/* Numbers keep their token, so int64 is exact. */
	{
		const char *nums = "[9223372036854775807,-9223372036854775808,9223372036854775808,1.5,1e400,1e-400,3.4e38,3.5e38]";

		CHECK(hp_json_parse(nums, strlen(nums), &doc, &err) == HP_OK);
	}
	{
		const HpJson *a = hp_json_root(doc);

		CHECK(a->type == HP_JSON_ARRAY && a->len == 8);
		CHECK(hp_json_int64(&a->u.items[0], &i) && i == INT64_MAX);
		CHECK(hp_json_int64(&a->u.items[1], &i) && i == INT64_MIN);
		CHECK(!hp_json_int64(&a->u.items[2], &i));
		CHECK(!hp_json_int64(&a->u.items[3], &i) && hp_json_double(&a->u.items[3], &d) && d == 1.5);
		CHECK(!hp_json_double(&a->u.items[4], &d));
		CHECK(hp_json_double(&a->u.items[5], &d) && d == 0.0);
		CHECK(hp_json_float(&a->u.items[6], &f) && f == 3.4e38f);
		CHECK(!hp_json_float(&a->u.items[7], &f));
		CHECK(hp_json_get(a, "x") == NULL);
	}
	hp_json_free(doc);

	{
		const char *esc = "{\"k\\u00e9\":\"a\\u20acb\"}";

		CHECK(hp_json_parse(esc, strlen(esc), &doc, &err) == HP_OK);
	}
	{
		const HpJson *v = hp_json_get(hp_json_root(doc), "k\xc3\xa9");

		CHECK(v && v->type == HP_JSON_STRING && v->len == 5 && strcmp(v->u.str, "a\xe2\x82\xac" "b") == 0);
	}
	hp_json_free(doc);

	/*
	 * Canonical form: compact, escapes normalised, object members sorted
	 * by key (strcmp order, at every level), numbers written by value: an
	 * integer token that fits int64 as an integer, any other number as the
	 * shortest double that round-trips.  So a document that went through
	 * jsonb (keys reordered, numbers respelled) keeps its canonical form.
	 */
	CHECK(CanonicalIs(" { \"a\" : [ 1.0 , 2e3 ] , \"b\":\"\\u0041\\n\\u001f\\/\" } ",
					  "{\"a\":[1,2000],\"b\":\"A\\n\\u001f/\"}"));
	CHECK(CanonicalIs("{}", "{}"));
	CHECK(CanonicalIs("{\"b\":1,\"a\":{\"z\":[{\"y\":1,\"x\":2}],\"aa\":null},\"B\":true,\"\":false}",
					  "{\"\":false,\"B\":true,\"a\":{\"aa\":null,\"z\":[{\"x\":2,\"y\":1}]},\"b\":1}"));
	CHECK(CanonicalIs("{\"tol\":0.000001,\"lr\":1E-3,\"x\":-0.0,\"y\":1.5e+0,\"z\":-0}",
					  "{\"lr\":0.001,\"tol\":1e-06,\"x\":0,\"y\":1.5,\"z\":0}"));
	CHECK(CanonicalIs("[0.000001]", "[1e-06]") && CanonicalIs("[1e-06]", "[1e-06]") && CanonicalIs("[1e-6]", "[1e-06]"));
	/* Integers beyond int64 are written as doubles; int64 extremes stay exact. */
	CHECK(CanonicalIs("[9223372036854775807,-9223372036854775808,9223372036854775808]",
					  "[9223372036854775807,-9223372036854775808,9.223372036854776e+18]"));
	CHECK(CanonicalIs("[0.1,100.0,1e2,123456789012345678901234567890]",
					  "[0.1,100,100,1.2345678901234568e+29]"));
}

/* Writers: escapes, shortest exact floats, int64 extremes. */
static void
TestJsonWriter(void)
{
	HpBuf		b;
	char	   *s;

	hp_buf_init(&b);
	hp_json_write_string(&b, "q\"b\\n\n\x01\xc3\xa9");
	hp_buf_putc(&b, ' ');
	hp_json_write_float(&b, 0.1f);
	hp_buf_putc(&b, ' ');
	hp_json_write_double(&b, 0.1);
	hp_buf_putc(&b, ' ');
	hp_json_write_double(&b, 1.0 / 3.0);
	hp_buf_putc(&b, ' ');
	hp_json_write_float(&b, -0.0f);
	hp_buf_putc(&b, ' ');
	hp_json_write_double(&b, NAN);
	hp_buf_putc(&b, ' ');
	hp_json_write_int64(&b, INT64_MIN);
	s = hp_buf_finish(&b, NULL);
	CHECK(strcmp(s, "\"q\\\"b\\\\n\\n\\u0001\xc3\xa9\" 0.1 0.1 0.3333333333333333 0 null -9223372036854775808") == 0);
	hp_free(s);
	hp_buf_init(&b);
	hp_buf_free(&b);
	s = hp_buf_finish(&b, NULL);
	CHECK(s != NULL && s[0] == '\0');
	hp_free(s);
}

/* Two models are the same when their encodings are byte-identical. */
static bool
SameEncoding(const HpModel *a, const HpModel *b)
{
	size_t		la,
				lb;
	unsigned char *ea = Encode(a, &la);
	unsigned char *eb = Encode(b, &lb);
	bool		same = la == lb && memcmp(ea, eb, la) == 0;

	hp_free(ea);
	hp_free(eb);
	return same;
}

/* Binary and text round trips of a model are bit-exact. */
static void
CheckRoundTrips(const HpModel *m)
{
	HpModel		d,
				j;
	HpError		err;
	size_t		len;
	unsigned char *b = Encode(m, &len);
	char	   *text,
			   *text2;

	CHECK(hp_model_validate(m, &err) == HP_OK);
	CHECK(hp_model_decode(b, len, &d, &err) == HP_OK);
	CHECK(SameEncoding(m, &d));
	CHECK(d.version == HP_MODEL_FORMAT_VERSION && d.kind == m->kind && d.dim == m->dim);
	CHECK(hp_model_stored_checksum(b, len) != 0 && hp_model_stored_checksum(b, 15) == 0);
	text = hp_model_to_json(&d);
	CHECK(hp_model_from_json(text, strlen(text), &j, &err) == HP_OK);
	if (err.code != HP_OK)
		fprintf(stderr, "  %s / %s\n", err.msg, err.detail);
	CHECK(SameEncoding(m, &j));
	text2 = hp_model_to_json(&j);
	CHECK(strcmp(text, text2) == 0);
	hp_free(text);
	hp_free(text2);
	hp_model_free(&d);
	hp_model_free(&j);
	hp_free(b);
}

/* Special and random values survive both forms bit for bit. */
static void
TestRoundTrips(void)
{
	HpModel		m;
	HpRng		r;
	HpTensor   *t;
	static const float specials[] = {0.0f, -0.0f, FLT_MAX, -FLT_MAX, FLT_MIN, FLT_TRUE_MIN, -FLT_TRUE_MIN,
	FLT_MIN / 3, 0.1f, 1.0f / 3, 16777217.0f, 1e-38f, 3.4028e38f};
	static const double dspecials[] = {0.0, -0.0, DBL_MAX, -DBL_MAX, DBL_MIN, DBL_TRUE_MIN, 0.1, 1.0 / 3, 1e300, 5e-324};

	BuildLinear(&m, 4, 2, HP_UNC_ENSEMBLE, 1);
	CheckRoundTrips(&m);
	hp_model_free(&m);
	BuildLinear(&m, 37, 8, HP_UNC_LAPLACE, 2);
	CheckRoundTrips(&m);
	hp_model_free(&m);

	/* A PPM model (any tensors for now) carries f32 and f64 bit patterns. */
	BuildLinear(&m, 3, 1, HP_UNC_ENSEMBLE, 3);
	m.kind = HP_KIND_PPM;
	m.lambda = 0;
	m.loss = -1.5e-300;
	m.rows = INT64_MAX;
	m.seed = INT64_MIN;
	hp_rng_seed(&r, 99);
	t = hp_model_add_tensor(&m, "special", HP_F32, 1, sizeof(specials) / sizeof(float), specials);
	CHECK(t != NULL);
	t = hp_model_add_tensor(&m, "dspecial", HP_F64, 2, 5, dspecials);
	CHECK(t != NULL);
	t = hp_model_add_tensor(&m, "bits32", HP_F32, 100, 100, NULL);
	for (int i = 0; i < 10000; i++)
	{
		uint32_t	u;
		float		f;

		do
		{
			u = (uint32_t) hp_rng_next(&r);
			memcpy(&f, &u, 4);
		} while (!isfinite(f));
		((float *) t->data)[i] = f;
	}
	t = hp_model_add_tensor(&m, "bits64", HP_F64, 1000, 1, NULL);
	for (int i = 0; i < 1000; i++)
	{
		uint64_t	u;
		double		x;

		do
		{
			u = hp_rng_next(&r);
			memcpy(&x, &u, 8);
		} while (!isfinite(x));
		((double *) t->data)[i] = x;
	}
	CHECK(hp_model_add_tensor(&m, "empty", HP_F32, 0, 5, NULL) != NULL);
	CheckRoundTrips(&m);

	/* add_tensor refuses bad names, duplicates and too many tensors. */
	CHECK(hp_model_add_tensor(&m, "w", HP_F32, 1, 1, NULL) == NULL);
	CHECK(hp_model_add_tensor(&m, "", HP_F32, 1, 1, NULL) == NULL);
	CHECK(hp_model_add_tensor(&m, "has space", HP_F32, 1, 1, NULL) == NULL);
	CHECK(hp_model_add_tensor(&m, "sixteen_chars_xx", HP_F32, 1, 1, NULL) == NULL);
	CHECK(hp_model_add_tensor(&m, "fifteen_chars_x", 9, 1, 1, NULL) == NULL);
	CHECK(hp_model_add_tensor(&m, "fifteen_chars_x", HP_F64, 1, 1, NULL) != NULL);
	while (m.ntensors < HP_MAX_TENSORS)
	{
		char		name[16];

		snprintf(name, sizeof(name), "t%u", m.ntensors);
		CHECK(hp_model_add_tensor(&m, name, HP_F32, 1, 1, NULL) != NULL);
	}
	CHECK(hp_model_add_tensor(&m, "onemore", HP_F32, 1, 1, NULL) == NULL);
	CheckRoundTrips(&m);
	hp_model_free(&m);
}

/* Every single-bit flip, byte inversion and truncation is rejected. */
static void
TestCorruption(void)
{
	HpModel		m;
	size_t		len;
	unsigned char *b;
	int			accepted = 0,
				truncated_ok = 0;

	BuildLinear(&m, 3, 2, HP_UNC_LAPLACE, 5);
	b = Encode(&m, &len);
	for (size_t i = 0; i < len; i++)
	{
		for (int bit = 0; bit <= 8; bit++)
		{
			unsigned char mask = bit == 8 ? 0xFF : (unsigned char) (1 << bit);

			/* No exceptions: the checksum covers version and kind too. */
			b[i] ^= mask;
			accepted += !DecodeFails(b, len, NULL);
			b[i] ^= mask;
		}
	}
	CHECK(accepted == 0);
	for (size_t n = 0; n < len; n++)
		truncated_ok += DecodeFails(b, n, NULL);
	CHECK(truncated_ok == (int) len);
	CHECK(DecodeFails(NULL, 0, "not a hybridpref model"));
	CHECK(DecodeFails(b, 3, "truncated"));
	CHECK(DecodeFails(b, len - 1, "checksum mismatch"));
	/* Relabelling a linear model as ppm (kind 1 -> 3) is caught by the checksum. */
	b[6] ^= 0x02;
	CHECK(DecodeFails(b, len, "checksum mismatch"));
	b[6] ^= 0x02;
	hp_free(b);
	hp_model_free(&m);
}

/* Apply an edit to a fresh encoding, fix the checksum, expect msg. */
static bool
CraftFails(void (*edit) (unsigned char *b, size_t *len, size_t optlen), const char *msg)
{
	HpModel		m;
	size_t		len;
	unsigned char *b;
	bool		ok;

	BuildLinear(&m, 3, 2, HP_UNC_LAPLACE, 6);
	len = hp_model_binary_size(&m);
	b = hp_alloc(len + 64);
	hp_model_encode(&m, b);
	edit(b, &len, strlen(m.options));
	if (len >= 16)
		Resum(b, len);
	ok = DecodeFails(b, len, msg);
	hp_free(b);
	hp_model_free(&m);
	return ok;
}

/* Position of the tensor header named "w" (tensors are stored sorted by name). */
static size_t
WHeader(const unsigned char *b, size_t len)
{
	static const unsigned char name[16] = {'w'};

	for (size_t i = OFF_OPTIONS; i + 16 <= len; i++)
		if (memcmp(b + i, name, 16) == 0)
			return i;
	return OFF_OPTIONS;
}
#define TENSOR0(optlen) WHeader(b, *len)

/* Edits for CraftFails, each breaking one invariant of the encoding. */
static void EdMagic(unsigned char *b, size_t *len, size_t o) { b[0] = 'X'; }
static void EdVersion(unsigned char *b, size_t *len, size_t o) { b[4] = 2; }
static void EdVersion0(unsigned char *b, size_t *len, size_t o) { b[4] = 0; }
static void EdKind(unsigned char *b, size_t *len, size_t o) { b[6] = 9; }
static void EdTrailing(unsigned char *b, size_t *len, size_t o) { b[(*len)++] = 0; }
static void EdDim0(unsigned char *b, size_t *len, size_t o) { StoreLE(b + OFF_DIM, 0, 4); }
static void EdDimBig(unsigned char *b, size_t *len, size_t o) { StoreLE(b + OFF_DIM, HP_MAX_DIM + 1, 4); }
static void EdHeads(unsigned char *b, size_t *len, size_t o) { StoreLE(b + OFF_HEADS, HP_MAX_HEADS + 1, 4); }
static void EdUnc(unsigned char *b, size_t *len, size_t o) { StoreLE(b + OFF_UNC, 7, 4); }
static void EdReserved(unsigned char *b, size_t *len, size_t o) { b[OFF_RESERVED] = 1; }
static void EdLambdaInf(unsigned char *b, size_t *len, size_t o) { StoreLE(b + OFF_LAMBDA, 0x7FF0000000000000ULL, 8); }
static void EdLambdaNaN(unsigned char *b, size_t *len, size_t o) { StoreLE(b + OFF_LAMBDA, 0x7FF8000000000000ULL, 8); }
static void EdOptLen(unsigned char *b, size_t *len, size_t o) { StoreLE(b + OFF_OPTLEN, 0xFFFFFFFFu, 4); }
static void EdOptNul(unsigned char *b, size_t *len, size_t o) { b[OFF_OPTIONS + 1] = 0; }
static void EdOptSpace(unsigned char *b, size_t *len, size_t o) { b[OFF_OPTIONS + o - 1] = ' '; }
static void EdOptArray(unsigned char *b, size_t *len, size_t o) { b[OFF_OPTIONS] = '['; b[OFF_OPTIONS + o - 1] = ']'; }
static void EdNTensors(unsigned char *b, size_t *len, size_t o) { StoreLE(b + OFF_OPTIONS + o, 0xFFFFFFFFu, 4); }
static void EdNTensors0(unsigned char *b, size_t *len, size_t o) { StoreLE(b + OFF_OPTIONS + o, 0, 4); *len = OFF_OPTIONS + o + 4; }
static void EdName(unsigned char *b, size_t *len, size_t o) { b[TENSOR0(o)] = 0x01; }
static void EdNamePad(unsigned char *b, size_t *len, size_t o) { b[TENSOR0(o) + 15] = 'x'; }
static void EdNameEmpty(unsigned char *b, size_t *len, size_t o) { b[TENSOR0(o)] = 0; }
static void EdDtype(unsigned char *b, size_t *len, size_t o) { b[TENSOR0(o) + 16] = 3; }
static void EdPad(unsigned char *b, size_t *len, size_t o) { b[TENSOR0(o) + 17] = 1; }
static void EdHuge(unsigned char *b, size_t *len, size_t o) { StoreLE(b + TENSOR0(o) + 20, 0xFFFFFFFFu, 4); StoreLE(b + TENSOR0(o) + 24, 0xFFFFFFFFu, 4); }
static void EdShape(unsigned char *b, size_t *len, size_t o) { StoreLE(b + TENSOR0(o) + 20, 3, 4); StoreLE(b + TENSOR0(o) + 24, 2, 4); }
static void EdRename(unsigned char *b, size_t *len, size_t o) { b[TENSOR0(o)] = 'x'; }
static void EdNaN(unsigned char *b, size_t *len, size_t o) { StoreLE(b + TENSOR0(o) + 28, 0x7FC00000u, 4); }
static void EdInf(unsigned char *b, size_t *len, size_t o) { StoreLE(b + TENSOR0(o) + 28 + 4, 0xFF800000u, 4); }
/* "var" sorts before "w": its data ends where the "w" header starts. */
static void EdNegVar(unsigned char *b, size_t *len, size_t o) { b[TENSOR0(o) - 1] |= 0x80; }
static void EdDupName(unsigned char *b, size_t *len, size_t o)
{
	for (size_t i = OFF_OPTIONS; i + 4 <= *len; i++)
		if (memcmp(b + i, "var\0", 4) == 0)
		{
			memcpy(b + i, "w\0\0", 4);
			return;
		}
}

/* Overwrite the first from in the options bytes by to (same length). */
static void
OptPatch(unsigned char *b, size_t o, const char *from, const char *to)
{
	size_t		n = strlen(from);

	for (size_t i = 0; i + n <= o; i++)
		if (memcmp(b + OFF_OPTIONS + i, from, n) == 0)
		{
			memcpy(b + OFF_OPTIONS + i, to, n);
			return;
		}
	b[OFF_OPTIONS] = '?';		/* no match: make the test fail loudly */
}

/* Valid JSON with the same meaning, but not the canonical spelling or order. */
static void EdOptSpelling(unsigned char *b, size_t *len, size_t o) { OptPatch(b, o, "\"tol\":0.0001", "\"tol\":1E-4\x20\x20"); }
static void EdOptOrder(unsigned char *b, size_t *len, size_t o) { OptPatch(b, o, "\"lambda\":0.001,\"lr\":0.001", "\"lr\":0.001,\"lambda\":0.001"); }

/* Each corruption class has its own message even with a valid checksum. */
static void
TestCraftedValues(void)
{
	CHECK(CraftFails(EdMagic, "not a hybridpref model"));
	CHECK(CraftFails(EdVersion, "written by a newer hybridpref"));
	CHECK(CraftFails(EdVersion0, "invalid format version 0"));
	CHECK(CraftFails(EdKind, "unknown kind 9"));
	CHECK(CraftFails(EdTrailing, "1 trailing bytes"));
	CHECK(CraftFails(EdDim0, "dimension 0 is out of range"));
	CHECK(CraftFails(EdDimBig, "dimension 16385 is out of range"));
	CHECK(CraftFails(EdHeads, "head count 257 is out of range"));
	CHECK(CraftFails(EdUnc, "unknown uncertainty method 7"));
	CHECK(CraftFails(EdReserved, "non-zero reserved field"));
	CHECK(CraftFails(EdLambdaInf, "invalid lambda or loss"));
	CHECK(CraftFails(EdLambdaNaN, "invalid lambda or loss"));
	CHECK(CraftFails(EdOptLen, "truncated"));
	CHECK(CraftFails(EdOptNul, "NUL byte"));
	CHECK(CraftFails(EdOptSpace, "options are not valid JSON"));
	CHECK(CraftFails(EdOptArray, "not a JSON object"));
	CHECK(CraftFails(EdNTensors, "more than 64"));
	CHECK(CraftFails(EdNTensors0, "lacks tensor \"w\""));
	CHECK(CraftFails(EdName, "invalid tensor name"));
	CHECK(CraftFails(EdNamePad, "invalid tensor name"));
	CHECK(CraftFails(EdNameEmpty, "invalid tensor name"));
	CHECK(CraftFails(EdDtype, "invalid dtype"));
	CHECK(CraftFails(EdPad, "invalid dtype"));
	CHECK(CraftFails(EdHuge, "truncated"));
	CHECK(CraftFails(EdShape, "wrong type or shape"));
	CHECK(CraftFails(EdRename, "lacks tensor \"w\""));
	CHECK(CraftFails(EdNaN, "NaN or infinite"));
	CHECK(CraftFails(EdInf, "NaN or infinite"));
	CHECK(CraftFails(EdNegVar, "negative variance"));
	CHECK(CraftFails(EdDupName, "two tensors named \"w\""));
	CHECK(CraftFails(EdOptSpelling, "options are not in canonical form"));
	CHECK(CraftFails(EdOptOrder, "options are not in canonical form"));
}

/* Replace the first occurrence of from in text by to (text is malloc'd). */
static char *
Replace(const char *text, const char *from, const char *to)
{
	const char *p = strstr(text, from);
	size_t		n = strlen(text) - strlen(from) + strlen(to);
	char	   *s = hp_alloc(n + 1);

	if (p == NULL)
	{
		strcpy(s, "<no match>");
		return s;
	}
	memcpy(s, text, p - text);
	strcpy(s + (p - text), to);
	strcat(s, p + strlen(from));
	return s;
}

/* Text form with from -> to must fail with a message containing msg. */
static bool
TextFails(const char *text, const char *from, const char *to, const char *msg)
{
	char	   *s = from ? Replace(text, from, to) : (char *) text;
	HpModel		m;
	HpError		err;
	bool		ok;

	ok = hp_model_from_json(s, strlen(s), &m, &err) == HP_ECORRUPT &&
		strstr(err.msg, msg) != NULL && m.options == NULL && m.ntensors == 0;
	if (!ok)
		fprintf(stderr, "  expected \"%s\", got \"%s\"\n", msg, err.msg);
	if (from)
		hp_free(s);
	return ok;
}

/* The text form rejects truncation, edits and malformed fields. */
static void
TestTextErrors(void)
{
	HpModel		m,
				j;
	HpError		err;
	char	   *text;
	size_t		len;
	int			rejected = 0;

	BuildLinear(&m, 2, 1, HP_UNC_ENSEMBLE, 7);
	((float *) m.tensors[0].data)[0] = 0.5f;
	((float *) m.tensors[0].data)[1] = -1.25f;
	text = hp_model_to_json(&m);
	len = strlen(text);
	CHECK(strstr(text, "\"tensors\":{\"w\":{\"dtype\":\"f32\",\"shape\":[1,2],\"data\":[0.5,-1.25]}}") != NULL);
	for (size_t n = 0; n < len; n++)
	{
		if (hp_model_from_json(text, n, &j, &err) == HP_OK)
			hp_model_free(&j);
		else
			rejected++;
	}
	CHECK(rejected == (int) len);
	CHECK(TextFails(text, "[0.5,", "[0.50001,", "model checksum mismatch"));
	CHECK(TextFails(text, "\"rows\":1000", "\"rows\":1001", "model checksum mismatch"));
	CHECK(TextFails(text, "\"seed\":42", "\"seed\":42.0", "field \"seed\" of hybridpref model text must be an integer"));
	CHECK(TextFails(text, "[0.5,", "[NaN,", "invalid hybridpref model text"));
	CHECK(TextFails(text, "[0.5,", "[1e39,", "value 0 is not a finite f32 number"));
	CHECK(TextFails(text, "\"version\":1", "\"version\":2", "written by a newer hybridpref"));
	CHECK(TextFails(text, "\"version\":1", "\"version\":0", "field \"version\""));
	CHECK(TextFails(text, "\"kind\":\"linear\"", "\"kind\":\"cubic\"", "unknown model kind \"cubic\""));
	CHECK(TextFails(text, "\"uncertainty\":\"ensemble\"", "\"uncertainty\":\"vibes\"", "unknown uncertainty"));
	CHECK(TextFails(text, "\"dim\":2,", "", "lacks field \"dim\""));
	CHECK(TextFails(text, "\"dim\":2", "\"dim\":\"2\"", "field \"dim\" of hybridpref model text must be a number"));
	CHECK(TextFails(text, "\"dim\":2", "\"dim\":99999", "between 1 and 16384"));
	CHECK(TextFails(text, "\"heads\":1", "\"heads\":1,\"color\":1", "unknown field \"color\""));
	CHECK(TextFails(text, "\"heads\":1", "\"heads\":1,\"heads\":1", "invalid hybridpref model text"));
	CHECK(TextFails(text, "hybridpref.model", "other.model", "not a hybridpref model"));
	CHECK(TextFails("[]", NULL, NULL, "not a hybridpref model"));
	CHECK(TextFails(text, "\"shape\":[1,2]", "\"shape\":[2,2]", "has 2 values for shape [2,2]"));
	CHECK(TextFails(text, "\"shape\":[1,2]", "\"shape\":[1,-2]", "invalid shape"));
	CHECK(TextFails(text, "\"dtype\":\"f32\"", "\"dtype\":\"f16\"", "unknown dtype \"f16\""));
	CHECK(TextFails(text, "\"dtype\":\"f32\",", "", "malformed"));
	CHECK(TextFails(text, "{\"w\":", "{\"w x\":", "invalid tensor name"));
	CHECK(TextFails(text, "\"checksum\":\"", "\"checksum\":\"0", "16 lowercase hexadecimal digits"));
	CHECK(TextFails(text, "\"options\":{", "\"options\":[{", "invalid hybridpref model text"));
	CHECK(TextFails(text, "\"options\":{", "\"options\":{\"x\":1,", "model checksum mismatch"));
	CHECK(TextFails(text, "}}", "}},", "invalid hybridpref model text"));

	/* Whitespace and key order do not matter; the checksum still holds. */
	{
		char	   *a = Replace(text, "\"kind\":\"linear\",", "");
		char	   *b = Replace(a, "{\"format\"", " {\n  \"kind\" : \"linear\" ,\n\t\"format\"");
		char	   *c = Replace(b, "\"data\":[0.5,-1.25]", "\"data\" : [ 5e-1 , -1.250 ]");

		CHECK(hp_model_from_json(c, strlen(c), &j, &err) == HP_OK);
		CHECK(SameEncoding(&m, &j));
		hp_model_free(&j);
		hp_free(a);
		hp_free(b);
		hp_free(c);
	}
	hp_free(text);
	hp_model_free(&m);
}

static char *OptionCanon(const char *json);

/*
 * A number token as PostgreSQL's numeric (and so jsonb) prints it: plain
 * decimal notation, never an exponent (1e-06 -> 0.000001, 2.5e3 -> 2500).
 * Only the spelling changes, never the decimal value, except that numeric
 * has no negative zero; the models below avoid -0.
 */
static void
JsonbNumber(HpBuf *b, const char *tok)
{
	const char *p = tok;
	char		digits[512];
	size_t		nd = 0;
	long		point,
				exp = 0;
	size_t		start = 0;

	if (*p == '-')
		hp_buf_putc(b, *p++);
	while (*p >= '0' && *p <= '9' && nd < sizeof(digits))
		digits[nd++] = *p++;
	point = (long) nd;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9' && nd < sizeof(digits); p++)
			digits[nd++] = *p;
	if (*p == 'e' || *p == 'E')
		exp = strtol(p + 1, NULL, 10);
	point += exp;
	/* Leading zeros of the integer part go, but one digit stays before '.'. */
	while (start + 1 < nd && (long) start + 1 < point && digits[start] == '0')
		start++;
	if (point <= (long) start)
	{
		hp_buf_puts(b, "0.");
		for (long i = point; i < (long) start; i++)
			hp_buf_putc(b, '0');
		hp_buf_append(b, digits + start, nd - start);
	}
	else if (point >= (long) nd)
	{
		hp_buf_append(b, digits + start, nd - start);
		for (long i = (long) nd; i < point; i++)
			hp_buf_putc(b, '0');
	}
	else
	{
		hp_buf_append(b, digits + start, point - start);
		hp_buf_putc(b, '.');
		hp_buf_append(b, digits + point, nd - point);
	}
}

/* jsonb's object order: shorter keys first, then bytewise. */
static int
JsonbKeyCmp(const HpJson *x, const HpJson *y)
{
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->u.str, y->u.str, x->len);
}

/* Write v as jsonb's text output would: reordered keys, ", " and ": ". */
static void
JsonbValue(HpBuf *b, const HpJson *v)
{
	uint32_t	ord[64];

	switch (v->type)
	{
		case HP_JSON_NUMBER:
			if (hp_json_is_integer(v))
				hp_buf_puts(b, v->u.str);
			else
				JsonbNumber(b, v->u.str);
			return;
		case HP_JSON_ARRAY:
			hp_buf_putc(b, '[');
			for (uint32_t i = 0; i < v->len; i++)
			{
				if (i)
					hp_buf_puts(b, ", ");
				JsonbValue(b, &v->u.items[i]);
			}
			hp_buf_putc(b, ']');
			return;
		case HP_JSON_OBJECT:
			for (uint32_t i = 0; i < v->len && i < 64; i++)
			{
				uint32_t	j = i;

				while (j > 0 && JsonbKeyCmp(hp_json_key(v, ord[j - 1]), hp_json_key(v, i)) > 0)
				{
					ord[j] = ord[j - 1];
					j--;
				}
				ord[j] = i;
			}
			hp_buf_putc(b, '{');
			for (uint32_t i = 0; i < v->len && i < 64; i++)
			{
				if (i)
					hp_buf_puts(b, ", ");
				hp_json_write_string(b, hp_json_key(v, ord[i])->u.str);
				hp_buf_puts(b, ": ");
				JsonbValue(b, hp_json_value(v, ord[i]));
			}
			hp_buf_putc(b, '}');
			return;
		default:
			hp_json_write_value(b, v);
			return;
	}
}

/* text::jsonb::text, simulated (NULL if text is not JSON). */
static char *
JsonbLike(const char *text)
{
	HpJsonDoc  *doc;
	HpBuf		b;

	if (hp_json_parse(text, strlen(text), &doc, NULL) != HP_OK)
		return NULL;
	hp_buf_init(&b);
	JsonbValue(&b, hp_json_root(doc));
	hp_json_free(doc);
	return hp_buf_finish(&b, NULL);
}

/* text -> jsonb-like text -> model gives back m: same bytes, same text. */
static bool
SurvivesJsonb(const HpModel *m)
{
	HpModel		j;
	HpError		err;
	char	   *text = hp_model_to_json(m);
	char	   *jt = JsonbLike(text);
	char	   *text2;
	bool		ok;

	ok = jt != NULL && strcmp(jt, text) != 0 &&
		hp_model_from_json(jt, strlen(jt), &j, &err) == HP_OK;
	if (!ok)
		fprintf(stderr, "  jsonb-like text refused: %s / %s\n", err.msg, err.detail);
	else
	{
		text2 = hp_model_to_json(&j);
		ok = SameEncoding(m, &j) && strcmp(text, text2) == 0 && strcmp(j.options, m->options) == 0;
		hp_free(text2);
		hp_model_free(&j);
	}
	hp_free(jt);
	hp_free(text);
	return ok;
}

/*
 * jsonb reorders object keys and respells numbers; the options, and so the
 * checksum, must not care, so m::text::jsonb::text::hp.model works.
 */
static void
TestJsonbRoundTrip(void)
{
	HpModel		m,
				j;
	HpError		err;
	HpTrainOptions o;
	char	   *text,
			   *a,
			   *b;
	size_t		la,
				lb;
	unsigned char *ea,
			   *eb;
	static const char *jsonb_options =
		"{\"lr\": 0.001, \"tol\": 0.0001, \"arch\": \"linear\", \"seed\": 0, \"heads\": 8, \"prior\": \"anchored\", "
		"\"epochs\": 50, \"hidden\": [128, 128], \"lambda\": 0.001, \"max_iter\": 100, \"batch_size\": 256, "
		"\"uncertainty\": \"ensemble\"}";

	/* The simulation itself: numeric's spelling of a few tokens. */
	{
		char	   *s = JsonbLike("{\"bb\":[1e-06,2.5e3,-0.00125e2,1.5,12,1E+1,0.5e1,1.17549435e-38],\"a\":1}");

		CHECK(s && strcmp(s, "{\"a\": 1, \"bb\": [0.000001, 2500, -0.125, 1.5, 12, 10, 5, "
						  "0.0000000000000000000000000000000000000117549435]}") == 0);
		hp_free(s);
	}

	/* Options with keys in jsonb's order and 1e-06 spelled 0.000001. */
	BuildLinear(&m, 3, 2, HP_UNC_ENSEMBLE, 8);
	CHECK(strstr(m.options, "\"tol\":0.0001") != NULL);
	text = hp_model_to_json(&m);
	a = Replace(text, m.options, jsonb_options);
	CHECK(strstr(a, jsonb_options) != NULL);
	CHECK(hp_model_from_json(a, strlen(a), &j, &err) == HP_OK);
	CHECK(j.options != NULL && strcmp(j.options, m.options) == 0);
	ea = Encode(&m, &la);
	eb = Encode(&j, &lb);
	CHECK(la == lb && memcmp(ea, eb, la) == 0);
	CHECK(hp_model_stored_checksum(ea, la) == hp_model_stored_checksum(eb, lb));
	b = hp_model_to_json(&j);
	CHECK(strcmp(b, text) == 0);
	hp_free(ea);
	hp_free(eb);
	hp_free(b);
	hp_model_free(&j);
	hp_free(a);
	/* Respelling is not editing: a different value still breaks the checksum. */
	a = Replace(text, m.options, jsonb_options);
	CHECK(TextFails(a, "\"tol\": 0.0001", "\"tol\": 0.000002", "model checksum mismatch"));
	CHECK(TextFails(a, "\"prior\": \"anchored\"", "\"prior\": \"none\"", "model checksum mismatch"));
	hp_free(a);
	hp_free(text);

	/* The whole document through the simulated jsonb, a few kinds of model. */
	m.lambda = 1e-6;			/* top-level number respelled too */
	m.loss = 2.5e-5;
	CHECK(SurvivesJsonb(&m));
	hp_model_free(&m);
	BuildLinear(&m, 6, 1, HP_UNC_LAPLACE, 9);
	hp_free(m.options);
	{
		const char *opt = "{\"uncertainty\":\"laplace\",\"tol\":1e-7,\"seed\":-3,\"hidden\":[3,2]}";

		CHECK(hp_train_options_parse(opt, strlen(opt), &o, &m.options, &err) == HP_OK);
	}
	CHECK(strstr(m.options, "\"heads\":1,") != NULL);
	CHECK(SurvivesJsonb(&m));
	hp_model_free(&m);
	{
		static const float tiny[] = {FLT_TRUE_MIN, FLT_MIN, FLT_MAX, -FLT_MAX, 1e-30f, 3.4028e38f, 0.1f, -1.0f / 3};
		static const double dtiny[] = {DBL_TRUE_MIN, DBL_MIN, DBL_MAX, 1e300, 5e-324, 0.1, 1.0 / 3, -2.5e-8};

		BuildLinear(&m, 2, 1, HP_UNC_ENSEMBLE, 10);
		m.kind = HP_KIND_PPM;
		m.loss = -1.5e-300;
		/* Named so that jsonb's key order (w, x32, x64) keeps tensor order. */
		CHECK(hp_model_add_tensor(&m, "x32", HP_F32, 2, 4, tiny) != NULL);
		CHECK(hp_model_add_tensor(&m, "x64", HP_F64, 1, 8, dtiny) != NULL);
		CHECK(SurvivesJsonb(&m));
		hp_model_free(&m);
	}
	/* Options handed in as jsonb (any order or spelling) store the same text. */
	{
		char	   *c1 = OptionCanon("{\"heads\":4,\"lambda\":1e-4,\"seed\":7,\"tol\":0.0001}");
		char	   *c2 = OptionCanon("{\"tol\": 0.0001, \"seed\": 7, \"heads\": 4, \"lambda\": 0.0001}");

		CHECK(c1 && c2 && strcmp(c1, c2) == 0);
		hp_free(c1);
		hp_free(c2);
	}
}

/* Parse options text, expecting failure with msg in the message. */
static bool
OptionFails(const char *json, const char *msg)
{
	HpTrainOptions o;
	HpError		err;
	char	   *canon = (char *) 1;
	bool		ok;

	ok = hp_train_options_parse(json, strlen(json), &o, &canon, &err) == HP_EINVAL &&
		canon == NULL && strstr(err.msg, msg) != NULL;
	if (!ok)
		fprintf(stderr, "  options %s: expected \"%s\", got \"%s\"\n", json, msg, err.msg);
	return ok;
}

/* Parse options text, expecting success. */
static bool
OptionOk(const char *json, HpTrainOptions *o)
{
	HpError		err;

	if (hp_train_options_parse(json, strlen(json), o, NULL, &err) != HP_OK)
	{
		fprintf(stderr, "  options %s: %s\n", json, err.msg);
		return false;
	}
	return true;
}

/* Canonical options of json (hook-allocated), or NULL if it fails to parse. */
static char *
OptionCanon(const char *json)
{
	HpTrainOptions o;
	HpError		err;
	char	   *canon = NULL;

	if (hp_train_options_parse(json, strlen(json), &o, &canon, &err) != HP_OK)
	{
		fprintf(stderr, "  options %s: %s\n", json, err.msg);
		return NULL;
	}
	return canon;
}

/* Defaults, every key, and every class of error. */
static void
TestOptions(void)
{
	HpTrainOptions o;
	HpError		err;
	char	   *canon;
	/* The stored canonical form: members sorted by key, effective heads. */
	static const char *defaults =
		"{\"arch\":\"linear\",\"batch_size\":256,\"epochs\":50,\"heads\":8,\"hidden\":[128,128],\"lambda\":0.001,"
		"\"lr\":0.001,\"max_iter\":100,\"prior\":\"anchored\",\"seed\":0,\"tol\":0.0001,\"uncertainty\":\"ensemble\"}";

	CHECK(hp_train_options_parse(NULL, 0, &o, &canon, &err) == HP_OK);
	CHECK(strcmp(canon, defaults) == 0);
	CHECK(CanonicalIs(canon, defaults));
	hp_free(canon);
	CHECK(hp_train_options_parse("{}", 2, &o, &canon, &err) == HP_OK && strcmp(canon, defaults) == 0);
	hp_free(canon);
	CHECK(hp_train_options_parse("", 0, &o, NULL, &err) == HP_OK);
	CHECK(o.lambda == 1e-3 && o.heads == 8 && o.seed == 0 && o.uncertainty == HP_UNC_ENSEMBLE &&
		  o.max_iter == 100 && o.tol == 1e-4 && o.arch == HP_KIND_LINEAR && o.nhidden == 2 &&
		  o.hidden[0] == 128 && o.hidden[1] == 128 && o.epochs == 50 && o.lr == 1e-3 && o.batch_size == 256 &&
		  o.anchored && !o.heads_given);

	CHECK(OptionOk("{\"lambda\":0}", &o) && o.lambda == 0);
	CHECK(OptionOk("{\"lambda\":2.5}", &o) && o.lambda == 2.5);
	CHECK(OptionOk("{\"heads\":1}", &o) && o.heads == 1 && o.heads_given);
	CHECK(OptionOk("{\"heads\":256}", &o) && o.heads == 256);
	CHECK(OptionOk("{\"heads\":8.0}", &o) && o.heads == 8);
	CHECK(OptionOk("{\"heads\":1e2}", &o) && o.heads == 100);
	CHECK(OptionOk("{\"seed\":-9223372036854775808}", &o) && o.seed == INT64_MIN);
	CHECK(OptionOk("{\"seed\":9007199254740993}", &o) && o.seed == 9007199254740993LL);
	CHECK(OptionOk("{\"uncertainty\":\"laplace\"}", &o) && o.uncertainty == HP_UNC_LAPLACE);
	CHECK(OptionOk("{\"prior\":\"none\"}", &o) && !o.anchored);
	CHECK(OptionOk("{\"prior\":\"anchored\"}", &o) && o.anchored);
	CHECK(OptionOk("{\"max_iter\":10000}", &o) && o.max_iter == 10000);
	CHECK(OptionOk("{\"tol\":0.5}", &o) && o.tol == 0.5);
	CHECK(OptionOk("{\"arch\":\"mlp\"}", &o) && o.arch == HP_KIND_MLP);

	/* Default heads: 1 for Laplace, 20 for an MLP ensemble, else 8. */
	CHECK(OptionOk("{\"uncertainty\":\"laplace\"}", &o) && o.heads == 1 && !o.heads_given);
	CHECK(OptionOk("{\"arch\":\"mlp\"}", &o) && o.heads == 20 && !o.heads_given);
	CHECK(OptionOk("{\"arch\":\"mlp\",\"uncertainty\":\"laplace\"}", &o) && o.heads == 1 && !o.heads_given);
	CHECK(OptionOk("{\"arch\":\"linear\",\"uncertainty\":\"ensemble\"}", &o) && o.heads == 8 && !o.heads_given);
	CHECK(OptionOk("{\"arch\":\"mlp\",\"heads\":3}", &o) && o.heads == 3 && o.heads_given);
	CHECK(OptionOk("{\"heads\":8}", &o) && o.heads == 8 && o.heads_given);
	CHECK(OptionOk("{\"heads\":5,\"uncertainty\":\"laplace\"}", &o) && o.heads == 5 && o.heads_given);
	canon = OptionCanon("{\"arch\":\"mlp\",\"prior\":\"none\"}");
	CHECK(canon != NULL);
	CHECK(strcmp(canon, "{\"arch\":\"mlp\",\"batch_size\":256,\"epochs\":50,\"heads\":20,\"hidden\":[128,128],\"lambda\":0.001,"
				 "\"lr\":0.001,\"max_iter\":100,\"prior\":\"none\",\"seed\":0,\"tol\":0.0001,\"uncertainty\":\"ensemble\"}") == 0);
	hp_free(canon);
	canon = OptionCanon("{\"uncertainty\":\"laplace\"}");
	CHECK(canon != NULL && strstr(canon, "\"heads\":1,") != NULL && CanonicalIs(canon, canon));
	hp_free(canon);
	CHECK(OptionOk("{\"hidden\":[1,2,3,4096]}", &o) && o.nhidden == 4 && o.hidden[3] == 4096);
	CHECK(OptionOk("{\"epochs\":100000}", &o) && o.epochs == 100000);
	CHECK(OptionOk("{\"lr\":0.5}", &o) && o.lr == 0.5);
	CHECK(OptionOk("{\"batch_size\":1000000}", &o) && o.batch_size == 1000000);

	{
		const char *j = "{\"heads\":3,\"uncertainty\":\"laplace\",\"hidden\":[7],\"seed\":-1,\"tol\":0.1}";

		CHECK(hp_train_options_parse(j, strlen(j), &o, &canon, &err) == HP_OK);
	}
	CHECK(strcmp(canon, "{\"arch\":\"linear\",\"batch_size\":256,\"epochs\":50,\"heads\":3,\"hidden\":[7],\"lambda\":0.001,"
				 "\"lr\":0.001,\"max_iter\":100,\"prior\":\"anchored\",\"seed\":-1,\"tol\":0.1,\"uncertainty\":\"laplace\"}") == 0);
	hp_free(canon);
	/* Spelling and order of the input do not change the canonical options. */
	{
		const char *j = "{\"tol\":1e-1,\"seed\":-1.0,\"hidden\":[7.0],\"uncertainty\":\"laplace\",\"heads\":3e0,\"lambda\":0.0010}";
		char	   *canon2;

		canon2 = OptionCanon(j);
		canon = OptionCanon("{\"uncertainty\":\"laplace\",\"heads\":3,\"seed\":-1,\"tol\":0.1,\"hidden\":[7]}");
		CHECK(canon != NULL && canon2 != NULL && strcmp(canon, canon2) == 0);
		hp_free(canon);
		hp_free(canon2);
	}

	CHECK(OptionFails("{\"foo\":1}", "unknown option \"foo\""));
	CHECK(hp_train_options_parse("{\"foo\":1}", 9, &o, NULL, &err) == HP_EINVAL &&
		  strstr(err.detail, "Valid options are: lambda, heads,") != NULL &&
		  strstr(err.detail, "batch_size.") != NULL);
	CHECK(OptionFails("[]", "must be a JSON object"));
	CHECK(OptionFails("3", "must be a JSON object"));
	CHECK(OptionFails("{", "not valid JSON"));
	CHECK(OptionFails("{\"heads\":2,\"heads\":3}", "not valid JSON"));
	CHECK(OptionFails("{\"lambda\":\"big\"}", "option \"lambda\" must be a number"));
	CHECK(OptionFails("{\"lambda\":-1}", "option \"lambda\" must be greater than or equal to 0"));
	CHECK(OptionFails("{\"lambda\":1e999}", "option \"lambda\" must be a finite number"));
	CHECK(OptionFails("{\"heads\":\"8\"}", "option \"heads\" must be an integer"));
	CHECK(OptionFails("{\"heads\":null}", "option \"heads\" must be an integer"));
	CHECK(OptionFails("{\"heads\":8.5}", "option \"heads\" must be an integer"));
	CHECK(OptionFails("{\"heads\":0}", "option \"heads\" must be between 1 and 256"));
	CHECK(OptionFails("{\"heads\":257}", "option \"heads\" must be between 1 and 256"));
	CHECK(OptionFails("{\"heads\":99999999999999999999}", "must be between 1 and 256"));
	CHECK(OptionFails("{\"heads\":1e300}", "must be between 1 and 256"));
	CHECK(OptionFails("{\"seed\":9223372036854775808}", "option \"seed\" must be between"));
	CHECK(OptionFails("{\"seed\":1e19}", "option \"seed\" must be between"));
	CHECK(OptionFails("{\"seed\":true}", "option \"seed\" must be an integer"));
	CHECK(OptionFails("{\"uncertainty\":\"bayes\"}", "option \"uncertainty\" must be \"ensemble\" or \"laplace\""));
	CHECK(OptionFails("{\"uncertainty\":1}", "option \"uncertainty\" must be \"ensemble\" or \"laplace\""));
	CHECK(OptionFails("{\"prior\":\"flat\"}", "option \"prior\" must be \"anchored\" or \"none\""));
	CHECK(OptionFails("{\"max_iter\":0}", "option \"max_iter\" must be between 1 and 10000"));
	CHECK(OptionFails("{\"max_iter\":10001}", "option \"max_iter\" must be between 1 and 10000"));
	CHECK(OptionFails("{\"tol\":0}", "option \"tol\" must be greater than 0 and less than 1"));
	CHECK(OptionFails("{\"tol\":1}", "option \"tol\" must be greater than 0 and less than 1"));
	CHECK(OptionFails("{\"arch\":\"cnn\"}", "option \"arch\" must be \"linear\" or \"mlp\""));
	CHECK(OptionFails("{\"hidden\":[]}", "option \"hidden\" must be an array of 1 to 4 integers"));
	CHECK(OptionFails("{\"hidden\":[1,2,3,4,5]}", "option \"hidden\" must be an array of 1 to 4 integers"));
	CHECK(OptionFails("{\"hidden\":64}", "option \"hidden\" must be an array of 1 to 4 integers"));
	CHECK(OptionFails("{\"hidden\":[\"64\"]}", "option \"hidden\" must be an array of 1 to 4 integers"));
	CHECK(OptionFails("{\"hidden\":[0]}", "between 1 and 4096"));
	CHECK(OptionFails("{\"hidden\":[4097]}", "between 1 and 4096"));
	CHECK(OptionFails("{\"hidden\":[1.5]}", "between 1 and 4096"));
	CHECK(OptionFails("{\"epochs\":0}", "option \"epochs\" must be between 1 and 100000"));
	CHECK(OptionFails("{\"lr\":0}", "option \"lr\" must be greater than 0"));
	CHECK(OptionFails("{\"lr\":-0.1}", "option \"lr\" must be greater than 0"));
	CHECK(OptionFails("{\"batch_size\":1000001}", "option \"batch_size\" must be between 1 and 1000000"));
	/* A failed parse leaves the defaults, not a half-applied set. */
	CHECK(hp_train_options_parse("{\"heads\":3,\"foo\":1}", 19, &o, NULL, &err) == HP_EINVAL && o.heads == 8);
}

void
run_model_tests(void)
{
	TestJsonParser();
	TestJsonWriter();
	TestRoundTrips();
	TestCorruption();
	TestCraftedValues();
	TestTextErrors();
	TestOptions();
	TestJsonbRoundTrip();
}
