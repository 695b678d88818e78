/*
 * fuzz_route.c: libFuzzer target for the routing core (hp_ppm.h: ppm.c,
 * route.c), driven the way ppm_fn.c and route_fn.c drive it.
 *
 * Input layout (missing bytes read as 0):
 *   byte 0   flags: bit 0 hand-built model (else fitted), bit 1 degree 2,
 *            bit 2 normalize false, bit 3 lambda "auto", bit 4 arbitrary
 *            routing scale (else the SQL layer's 1/n or 1), bit 5 corrupt
 *            the options (fit) or the model (hand), bits 6-7 solver
 *   byte 1   K = value % 9 (vocabulary size 0..8; at least 1 for a hand-built
 *            model, as for every model that decodes)
 *   byte 2   corruption kind / folds / n presence
 *   byte 3   max_bytes of the fit (< 0xC0: no bound, else 1 << (v % 24))
 *   K names  length byte (0xFF: empty, else 1 + v % 4), then one byte per
 *            character of a 16-character alphabet (duplicates are common)
 *   fit:     lambda, n (special doubles), nrows = byte % 65, then nrows x
 *            (K counts, score) "special doubles" (counts: mostly 0..15)
 *   hand:    intercept, K beta, K x K quad (special doubles)
 *   routing: n = byte % 65 instances, id start selector, per instance an
 *            id gap byte, nnz byte (% 6) and nnz feature bytes (v % (K+1):
 *            a vocabulary name or an unknown one, looked up by name);
 *            scale (if bit 4), budget, strategy name selector, k byte,
 *            candidates selector, 8 bytes seed, a second budget and its n
 *            (any int64), K values of a vector for hp_ppm_predict, two
 *            lookup names, and an index list for hp_ppm_sort_unique.
 * A special double is one tag byte picking a small value, NaN, +-Inf,
 * +-1e308, +-DBL_MAX, +-1e-308, the smallest subnormal, -0, or 8 raw bytes.
 *
 * Oracle: no crash, leak or UB, and
 *   - hp_ppm_options_parse succeeds exactly when the options are valid
 *     (else HP_EINVAL, message, vocabulary released); on success the fields
 *     are the ones written;
 *   - hp_ppm_fit: HP_EDATA for < 2 rows, non-finite values or constant
 *     scores; otherwise OK or HP_EDATA / HP_EINTERNAL / HP_ELIMIT (the last
 *     only with a memory bound), with a message and an empty model; a fitted
 *     model has kind ppm, dim K, the tensors of its degree, finite values,
 *     passes FuzzCheckModel (validates, binary and text round trips), is
 *     the same bytes when the rows are given in reverse order, and its
 *     encoding decodes and loads (what hp.route does with a stored value);
 *   - hp_ppm_load of a hand-built model: OK exactly when the model is a
 *     well-formed PPM (else HP_EINVAL for another kind, HP_ECORRUPT with a
 *     message otherwise); a loaded PPM has the model's K, degree, normalize,
 *     names, coefficients, a symmetric quad, and hp_ppm_lookup agrees with
 *     a brute-force search for any name;
 *   - hp_ppm_predict, hp_ppm_gain, hp_route_predict_set agree with the
 *     direct formulas (within rounding) and are finite when every term is
 *     bounded; gain(scale b) = f(scale b) - f(0); the gain of an empty set
 *     is 0; hp_route_gains equals hp_ppm_gain per instance;
 *   - hp_ppm_sort_unique: strictly ascending, the same set;
 *   - hp_route_strategy: OK exactly for the four names;
 *   - hp_route_budget: OK exactly for a fraction in [0, 1] or a whole count
 *     in (1, n]; k in [0, n], the nearest count, or the count itself;
 *   - hp_route_topk: exactly min(max(k, 0), n) rows, the best by (key, id)
 *     when no key is NaN, order independent, key and id untouched;
 *   - hp_route_select: HP_EINVAL for k outside [0, n], candidates < 1 or an
 *     unknown strategy; otherwise exactly k rows human, the same routing
 *     for the same input, greedy = top k without interactions (and for k 0
 *     or n), random nested in k.
 */
#include "fuzz_common.h"
#include "hp_ppm.h"

#define MAX_K 8
#define MAX_ROWS 64
#define MAX_INST 64
#define MAX_NAME 6
#define MAX_SORT 40

static const char alphabet[16] = {'a', 'b', 'c', 'x', 'y', 'z', '0', '1', '2', '_', ' ', '-', '.', '"', '\\', '/'};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FuzzSetup();
	return 0;
}

static double
ReadDouble(FuzzReader *r)
{
	static const double special[] = {
		0.0, 1.0, -1.0, 0.5, NAN, INFINITY, -INFINITY, 1e308, -1e308, DBL_MAX, -DBL_MAX,
		1e-308, -1e-308, 4.9406564584124654e-324, -0.0, 2.0, 3.0, 1e-4, 1e4, 1e154, -1e154, 1e30,
	};
	uint8_t		t = FuzzU8(r);
	uint64_t	u;
	double		d;

	if (t < 64)
		return (double) t / 8.0 - 4.0;	/* -4 .. 3.875: many ties */
	t -= 64;
	if (t < sizeof(special) / sizeof(special[0]))
		return special[t];
	u = FuzzU64(r);
	memcpy(&d, &u, sizeof(d));
	return d;
}

/* A count: mostly a small whole number, as hp.train_ppm sees them. */
static double
ReadCount(FuzzReader *r)
{
	if (r->left > 0 && r->p[0] < 0xA0)
		return (double) (FuzzU8(r) % 16);
	if (r->left > 0)
		FuzzU8(r);
	return ReadDouble(r);
}

static int
ReadName(FuzzReader *r, char *out)
{
	uint8_t		b = FuzzU8(r);
	int			len = b == 0xFF ? 0 : 1 + b % 4;

	for (int i = 0; i < len; i++)
		out[i] = alphabet[FuzzU8(r) % 16];
	out[len] = '\0';
	return len;
}

/* Number text for JSON: non-finite values are written as overflows or null. */
static void
PutNumber(HpBuf *b, double d)
{
	char		s[40];

	if (isnan(d))
		hp_buf_puts(b, "null");
	else if (isinf(d))
		hp_buf_puts(b, d > 0 ? "1e999" : "-1e999");
	else
	{
		snprintf(s, sizeof(s), "%.17g", d);
		hp_buf_puts(b, s);
	}
}

static void
Key(HpBuf *b, const char *k)
{
	if (b->len > 1)
		hp_buf_putc(b, ',');
	hp_json_write_string(b, k);
	hp_buf_putc(b, ':');
}

static bool
SameBits(double a, double b)
{
	return memcmp(&a, &b, sizeof(double)) == 0;
}

/* Brute-force vocabulary search. */
static int
BruteLookup(const HpPpm *p, const char *name, size_t len)
{
	for (int j = 0; j < p->K; j++)
		if (strlen(p->vocab[j]) == len && memcmp(p->vocab[j], name, len) == 0)
			return j;
	return -1;
}

static bool
AllFinite(const double *x, int n)
{
	for (int i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return false;
	return true;
}

static bool
PpmFinite(const HpPpm *p)
{
	return isfinite(p->intercept) && AllFinite(p->beta, p->K) &&
		(p->quad == NULL || AllFinite(p->quad, p->K * p->K));
}

/* f(v) by the formula, and the sum of the magnitudes of its terms. */
static double
BrutePredict(const HpPpm *p, const double *v, double *mag)
{
	double		f = p->intercept,
				m = fabs(p->intercept);

	for (int j = 0; j < p->K; j++)
	{
		f += p->beta[j] * v[j];
		m += fabs(p->beta[j] * v[j]);
		if (p->quad)
			for (int k = 0; k < p->K; k++)
			{
				f += p->quad[j * p->K + k] * v[j] * v[k];
				/* dgemv forms Q v first: its terms must be bounded too */
				m += fabs(p->quad[j * p->K + k] * v[j] * v[k]) + fabs(p->quad[j * p->K + k] * v[k]);
			}
	}
	*mag = m;
	return f;
}

/* Close enough when every term (and so the sum) is bounded. */
static void
CheckClose(double got, double want, double mag, const char *what)
{
	if (!(mag < 1e300))
		return;
	FUZZ_CHECK(isfinite(got), "%s not finite (%g) with bounded terms (%g)", what, got, mag);
	FUZZ_CHECK(fabs(got - want) <= 1e-10 * mag + 1e-300, "%s is %.17g, formula gives %.17g (terms %g)",
			   what, got, want, mag);
}

/* a ranks before b in hp_route_topk's order. */
static bool
Better(double ka, int64_t ia, double kb, int64_t ib)
{
	return ka > kb || (ka == kb && ia < ib);
}

static int64_t
CountTrue(const bool *h, int64_t n)
{
	int64_t		c = 0;

	for (int64_t i = 0; i < n; i++)
		c += h[i];
	return c;
}

/* ------------------------------------------------------------ the model */

typedef struct Setup
{
	uint8_t		flags;
	int			K;
	uint8_t		sel;
	char		names[MAX_K][MAX_NAME];
	int			nlen[MAX_K];
	bool		dup;			/* two equal names */
	bool		empty;			/* an empty name */
} Setup;

/*
 * Fit mode: options as hp.train_ppm's jsonb text, parsed by the core
 * parser, then a fit on arbitrary rows.  On success *m holds the fitted
 * model's decoded encoding (what a stored value reads back as).
 */
static bool
FitModel(FuzzReader *r, const Setup *s, uint8_t mb, HpModel *m)
{
	bool		deg2 = s->flags & 2,
				nonorm = s->flags & 4,
				lauto = s->flags & 8,
				corrupt = s->flags & 32;
	int			solver = s->flags >> 6,
				corr = s->sel % 6;
	double		lambda = ReadDouble(r),
				n = ReadDouble(r);
	bool		have_n = !(nonorm && (s->sel & 0x40)),
				valid;
	HpBuf		b;
	HpPpmOptions o;
	HpError		err;
	HpStatus	rc,
				rc2;
	int64_t		nrows;
	double	   *rows,
			   *rev;
	size_t		W = (size_t) s->K + 1,
				max_bytes = mb < 0xC0 ? 0 : (size_t) 1 << (mb % 24);
	HpModel		fit,
				fit2;

	hp_buf_init(&b);
	hp_buf_putc(&b, '{');
	if (!(corrupt && corr == 1))
	{
		Key(&b, "vocab");
		hp_buf_putc(&b, '[');
		for (int j = 0; j < s->K; j++)
		{
			if (j)
				hp_buf_putc(&b, ',');
			hp_json_write_string(&b, s->names[j]);
		}
		hp_buf_putc(&b, ']');
	}
	Key(&b, "degree");
	hp_buf_puts(&b, corrupt && corr == 3 ? ((s->sel & 8) ? "3" : "1.5") : deg2 ? "2.0" : "1");
	Key(&b, "lambda");
	if (lauto)
		hp_buf_puts(&b, "\"auto\"");
	else
		PutNumber(&b, lambda);
	if (have_n)
	{
		Key(&b, "n");
		PutNumber(&b, n);
	}
	Key(&b, "normalize");
	hp_buf_puts(&b, corrupt && corr == 2 ? "1" : nonorm ? "false" : "true");
	if (corrupt && corr == 4)
	{
		Key(&b, "folds");
		hp_buf_puts(&b, (s->sel & 8) ? "101" : "1");
	}
	else if (s->sel & 0x80)
	{
		Key(&b, "folds");
		PutNumber(&b, 2 + (s->sel >> 1) % 10);
	}
	if (corrupt && corr == 5)
	{
		Key(&b, "solver");
		hp_buf_puts(&b, "\"fast\"");
	}
	else if (solver)
	{
		Key(&b, "solver");
		hp_buf_puts(&b, solver == 1 ? "\"primal\"" : solver == 2 ? "\"dual\"" : "\"auto\"");
	}
	if (corrupt && corr == 0)
	{
		Key(&b, "lamda");
		hp_buf_puts(&b, "1");
	}
	hp_buf_putc(&b, '}');

	valid = !corrupt && s->K >= 1 && !s->dup && !s->empty &&
		(lauto || (isfinite(lambda) && lambda > 0)) &&
		(!have_n || (isfinite(n) && n > 0)) && (nonorm || have_n);
	if (getenv("HP_FUZZ_VERBOSE"))
		fprintf(stderr, "options: %s (valid %d)\n", b.data, (int) valid);

	memset(&err, 0, sizeof(err));
	rc = hp_ppm_options_parse(b.data, b.len, &o, &err);
	if (!valid)
	{
		FUZZ_CHECK(rc == HP_EINVAL, "invalid options %s accepted (%d)", b.data, (int) rc);
		FUZZ_CHECK(err.code == rc && err.msg[0] != '\0', "options error without a message");
		FUZZ_CHECK(o.vocab == NULL && o.nvocab == 0, "failed parse left a vocabulary");
		hp_buf_free(&b);
		return false;
	}
	FUZZ_CHECK(rc == HP_OK, "valid options %s refused: %s", b.data, err.msg);
	hp_buf_free(&b);
	FUZZ_CHECK(o.degree == (deg2 ? 2 : 1) && o.normalize == !nonorm && o.lambda_auto == lauto &&
			   o.nvocab == s->K && o.solver == (solver == 3 ? 0 : solver),
			   "parsed options differ from the text");
	FUZZ_CHECK(lauto || SameBits(o.lambda, lambda), "lambda %g parsed as %g", lambda, o.lambda);
	FUZZ_CHECK(nonorm ? o.n == 1.0 : SameBits(o.n, n), "n %g parsed as %g", n, o.n);
	FUZZ_CHECK(o.folds == ((s->sel & 0x80) ? 2 + (s->sel >> 1) % 10 : 5), "folds %d", o.folds);
	for (int j = 0; j < s->K; j++)
		FUZZ_CHECK(strcmp(o.vocab[j], s->names[j]) == 0, "vocab[%d] is \"%s\", not \"%s\"", j,
				   o.vocab[j], s->names[j]);

	/* Rows as the aggregate collects them, here with any double. */
	nrows = FuzzU8(r) % (MAX_ROWS + 1);
	rows = malloc(sizeof(double) * W * (nrows ? nrows : 1));
	rev = malloc(sizeof(double) * W * (nrows ? nrows : 1));
	for (int64_t i = 0; i < nrows; i++)
	{
		for (int j = 0; j < s->K; j++)
			rows[i * W + j] = ReadCount(r);
		rows[i * W + s->K] = ReadDouble(r);
	}
	for (int64_t i = 0; i < nrows; i++)
		memcpy(rev + i * W, rows + (nrows - 1 - i) * W, sizeof(double) * W);

	memset(&err, 0, sizeof(err));
	rc = hp_ppm_fit(&o, rows, nrows, max_bytes, &fit, &err);
	if (getenv("HP_FUZZ_VERBOSE"))
		fprintf(stderr, "fit of %lld rows: %d %s\n", (long long) nrows, (int) rc, rc ? err.msg : "");
	{
		bool		finite = true,
					constant = true;

		for (size_t i = 0; i < (size_t) nrows * W; i++)
			finite &= isfinite(rows[i]) != 0;
		for (int64_t i = 1; i < nrows; i++)
			constant &= rows[i * W + s->K] == rows[s->K];
		if (nrows < 2 || !finite || constant)
			FUZZ_CHECK(rc == HP_EDATA, "fit on %lld rows (finite %d, constant scores %d) returned %d: %s",
					   (long long) nrows, (int) finite, (int) constant, (int) rc, err.msg);
	}
	if (rc != HP_OK)
	{
		FUZZ_CHECK(rc == HP_EDATA || rc == HP_EINTERNAL || (rc == HP_ELIMIT && max_bytes > 0),
				   "fit returned %d: %s", (int) rc, err.msg);
		FUZZ_CHECK(err.code == rc && err.msg[0] != '\0', "fit error without a message");
		FUZZ_CHECK(fit.ntensors == 0 && fit.options == NULL, "failed fit left a model behind");
		rc2 = hp_ppm_fit(&o, rev, nrows, max_bytes, &fit2, &err);
		FUZZ_CHECK(rc2 == rc, "reversed rows: fit returned %d, not %d", (int) rc2, (int) rc);
		hp_ppm_options_free(&o);
		free(rows);
		free(rev);
		return false;
	}

	/* A complete PPM. */
	{
		const HpTensor *ti = hp_model_tensor(&fit, "intercept"),
				   *tb = hp_model_tensor(&fit, "beta"),
				   *tq = hp_model_tensor(&fit, "quad");
		size_t		sz = hp_model_binary_size(&fit),
					sz2;
		unsigned char *buf = malloc(sz),
				   *buf2;

		FUZZ_CHECK(fit.kind == HP_KIND_PPM && fit.dim == (uint32_t) s->K && fit.rows == nrows &&
				   fit.options != NULL, "fitted model header is wrong");
		FUZZ_CHECK(ti && ti->dtype == HP_F64 && ti->rows == 1 && ti->cols == 1 &&
				   tb && tb->dtype == HP_F64 && tb->rows == 1 && tb->cols == (uint32_t) s->K,
				   "fitted model lacks intercept or beta");
		FUZZ_CHECK(deg2 ? (tq && tq->dtype == HP_F64 && tq->rows == (uint32_t) s->K &&
						   tq->cols == (uint32_t) s->K) : tq == NULL, "quad tensor does not match the degree");
		FUZZ_CHECK(fit.ntensors == (deg2 ? 3u : 2u), "fitted model has %u tensors", fit.ntensors);
		FUZZ_CHECK(isfinite(fit.loss) && isfinite(fit.lambda) && fit.lambda > 0,
				   "fitted model has loss %g, lambda %g", fit.loss, fit.lambda);
		FuzzCheckModel(&fit, NULL, 0);

		/* The fit does not depend on the row order. */
		rc2 = hp_ppm_fit(&o, rev, nrows, max_bytes, &fit2, &err);
		FUZZ_CHECK(rc2 == HP_OK, "reversed rows: fit failed: %s", err.msg);
		sz2 = hp_model_binary_size(&fit2);
		buf2 = malloc(sz2);
		hp_model_encode(&fit, buf);
		hp_model_encode(&fit2, buf2);
		FUZZ_CHECK(sz == sz2 && memcmp(buf, buf2, sz) == 0, "reversed rows give another model");
		hp_model_free(&fit2);
		free(buf2);

		/* Stored, then read back like hp.route reads it. */
		rc2 = hp_model_decode(buf, sz, m, &err);
		FUZZ_CHECK(rc2 == HP_OK, "[check-id ppm_readback] fitted PPM does not decode: %s (%s)",
				   err.msg, err.detail);
		free(buf);
	}
	hp_model_free(&fit);
	hp_ppm_options_free(&o);
	free(rows);
	free(rev);
	return true;
}

/*
 * Hand mode: a PPM (or a broken one) built from arbitrary coefficients,
 * loaded directly.  Returns the status hp_ppm_load must give.
 */
static HpStatus
HandModel(FuzzReader *r, const Setup *s, HpModel *m)
{
	int			K = s->K;
	bool		deg2 = s->flags & 2,
				corrupt = s->flags & 32;
	int			corr = s->sel % 8;
	double		icpt,
				beta[MAX_K + 1],
				quad[MAX_K * MAX_K + 1];
	HpBuf		b;
	HpStatus	want = HP_OK;

	icpt = ReadDouble(r);
	for (int j = 0; j < K; j++)
		beta[j] = ReadDouble(r);
	for (int j = 0; j < K * K; j++)
		quad[j] = ReadDouble(r);

	memset(m, 0, sizeof(*m));
	m->version = HP_MODEL_FORMAT_VERSION;
	m->kind = corrupt && corr == 0 ? HP_KIND_LINEAR : HP_KIND_PPM;
	m->dim = (uint32_t) K;
	m->heads = 1;
	m->lambda = 1e-3;

	hp_buf_init(&b);
	hp_buf_putc(&b, '{');
	Key(&b, "degree");
	hp_buf_puts(&b, corrupt && corr == 3 ? "3" : (deg2 || (corrupt && corr == 7)) ? "2" : "1");
	Key(&b, "normalize");
	hp_buf_puts(&b, (s->flags & 4) ? "false" : "true");
	if (!(corrupt && corr == 4))
	{
		Key(&b, "vocab");
		hp_buf_putc(&b, '[');
		for (int j = 0; j < K; j++)
		{
			if (j)
				hp_buf_putc(&b, ',');
			if (corrupt && corr == 5 && j == K - 1)
				hp_buf_puts(&b, "1");
			else
				hp_json_write_string(&b, s->names[j]);
		}
		if (corrupt && corr == 5 && K == 0)
			hp_buf_puts(&b, "1");
		hp_buf_putc(&b, ']');
	}
	hp_buf_putc(&b, '}');
	if (corrupt && corr == 1)
		m->options = NULL;
	else if (corrupt && corr == 2)
	{
		m->options = hp_alloc(2);
		memcpy(m->options, "{", 2);
	}
	else
	{
		m->options = hp_alloc(b.len + 1);
		memcpy(m->options, b.data, b.len + 1);
	}
	hp_buf_free(&b);

	hp_model_add_tensor(m, "intercept", HP_F64, 1, 1, &icpt);
	if (corrupt && corr == 6)
		hp_model_add_tensor(m, "beta", HP_F64, 1, (uint32_t) K + 1, beta);
	else
		hp_model_add_tensor(m, "beta", HP_F64, 1, (uint32_t) K, beta);
	if (deg2 && !(corrupt && corr == 7))
		hp_model_add_tensor(m, "quad", HP_F64, (uint32_t) K, (uint32_t) K, quad);

	if (corrupt && corr == 0)
		want = HP_EINVAL;
	else if (corrupt || s->dup)
		want = HP_ECORRUPT;
	return want;
}

/* ------------------------------------------------------------- routing */

static void
CheckLookups(FuzzReader *r, const HpPpm *p)
{
	char		q[MAX_NAME];

	for (int j = 0; j < p->K; j++)
		FUZZ_CHECK(hp_ppm_lookup(p, p->vocab[j], strlen(p->vocab[j])) == j,
				   "lookup of vocab[%d] \"%s\" fails", j, p->vocab[j]);
	for (int t = 0; t < 2; t++)
	{
		uint8_t		b = FuzzU8(r);
		int			len = b % 6;

		for (int i = 0; i < len; i++)
			q[i] = alphabet[FuzzU8(r) % 16];
		/* a stored name passed with a shorter length */
		if ((b & 0x80) && p->K > 0)
		{
			const char *v = p->vocab[b % p->K];
			int			l = (int) strlen(v);

			FUZZ_CHECK(hp_ppm_lookup(p, v, l > 0 ? l - 1 : 0) == BruteLookup(p, v, l > 0 ? l - 1 : 0),
					   "lookup of a prefix of \"%s\"", v);
		}
		FUZZ_CHECK(hp_ppm_lookup(p, q, len) == BruteLookup(p, q, len), "lookup of \"%.*s\"", len, q);
	}
}

static void
CheckSortUnique(FuzzReader *r)
{
	int32_t		a[MAX_SORT + 1],
				orig[MAX_SORT + 1];
	int			n = FuzzU8(r) % (MAX_SORT + 1),
				m;

	for (int i = 0; i < n; i++)
	{
		uint8_t		t = FuzzU8(r);

		a[i] = t < 0xF0 ? (int32_t) (t % 24) - 4 : (int32_t) FuzzU32(r);
	}
	memcpy(orig, a, sizeof(int32_t) * n);
	m = hp_ppm_sort_unique(a, n);
	FUZZ_CHECK(m >= 0 && m <= n && (n == 0 || m >= 1), "sort_unique returned %d of %d", m, n);
	for (int i = 1; i < m; i++)
		FUZZ_CHECK(a[i - 1] < a[i], "sort_unique output not strictly ascending");
	for (int i = 0; i < n; i++)
	{
		bool		found = false;

		for (int k = 0; k < m && !found; k++)
			found = a[k] == orig[i];
		FUZZ_CHECK(found, "sort_unique lost %d", orig[i]);
	}
	for (int k = 0; k < m; k++)
	{
		bool		found = false;

		for (int i = 0; i < n && !found; i++)
			found = a[k] == orig[i];
		FUZZ_CHECK(found, "sort_unique invented %d", a[k]);
	}
}

static void
CheckBudget(double budget, int64_t n)
{
	int64_t		k = -12345;
	HpError		err;
	HpStatus	rc,
				want;
	bool		frac = isfinite(budget) && budget >= 0 && budget <= 1,
				whole = isfinite(budget) && budget > 1 && budget == floor(budget) && budget <= (double) n;

	/* Reported: k = (int64_t) of 2^63 (route.c:44, :51) for n near INT64_MAX. */
	if (n > ((int64_t) 1 << 62) && FuzzIgnored("budget_huge_n"))
		return;
	memset(&err, 0, sizeof(err));
	rc = hp_route_budget(budget, n, &k, &err);
	want = frac || whole ? HP_OK : HP_EINVAL;
	FUZZ_CHECK(rc == want, "budget %g of %lld returned %d, expected %d", budget, (long long) n, (int) rc,
			   (int) want);
	if (rc != HP_OK)
	{
		FUZZ_CHECK(err.code == rc && err.msg[0] != '\0', "budget error without a message");
		return;
	}
	if (n < 0)
		return;					/* no promise for a negative row count */
	FUZZ_CHECK(k >= 0 && k <= n, "[check-id budget_huge_n] budget %g of %lld gives k = %lld", budget,
			   (long long) n, (long long) k);
	if (frac && n < ((int64_t) 1 << 52))
		FUZZ_CHECK(fabs((double) k - budget * (double) n) <= 0.5, "budget %g of %lld gives k = %lld",
				   budget, (long long) n, (long long) k);
	else if (whole)
		FUZZ_CHECK((double) k == budget, "budget %g gives k = %lld", budget, (long long) k);
}

static void
Route(FuzzReader *r, const HpPpm *p, uint8_t flags)
{
	int			K = p->K;
	int64_t		n = FuzzU8(r) % (MAX_INST + 1),
				id[MAX_INST + 1],
				off[MAX_INST + 2],
				k,
				nextra;
	int32_t		idx[MAX_INST * 5 + 1];
	double		gain[MAX_INST + 1],
				scale,
				budget,
				v[MAX_K + 1],
				mag,
				want;
	bool		human[MAX_INST + 1],
				human2[MAX_INST + 1];
	uint8_t		t;
	int64_t		start;
	static const char *const names[] = {"topk", "greedy", "simulated", "random", "TOPK", "top", "", "greedy ",
	"simulate", "randomx"};
	static const int cands[] = {1, 2, 3, 10, 64, 0, -1, 1000};
	const char *sname;
	HpRouteStrategy strat;
	int			candidates;
	uint64_t	seed;
	HpRouteData d;
	HpError		err;
	HpStatus	rc,
				wantrc;
	char		unknown[] = "~unknown~";

	/* Ids: ascending and distinct, from anywhere in the int64 range. */
	t = FuzzU8(r);
	start = t % 4 == 0 ? INT64_MIN : t % 4 == 1 ? -3 : t % 4 == 2 ? 0 : INT64_MAX - 256 * (MAX_INST + 1);
	off[0] = 0;
	for (int64_t i = 0; i < n; i++)
	{
		int			nnz = FuzzU8(r) % 6;
		int32_t		raw[6];
		int			m = 0;

		id[i] = start;
		start += 1 + FuzzU8(r);
		/* features by name, as ReadFeatures maps them */
		for (int a = 0; a < nnz; a++)
		{
			int			j = FuzzU8(r) % (K + 1);
			const char *nm = j < K ? p->vocab[j] : unknown;
			int			got = hp_ppm_lookup(p, nm, strlen(nm));

			FUZZ_CHECK(got == (j < K ? j : -1), "lookup of \"%s\" gives %d", nm, got);
			if (got >= 0)
				raw[m++] = got;
		}
		m = hp_ppm_sort_unique(raw, m);
		memcpy(idx + off[i], raw, sizeof(int32_t) * m);
		off[i + 1] = off[i] + m;
	}
	scale = (flags & 16) ? ReadDouble(r) : p->normalize && n > 0 ? 1.0 / (double) n : 1.0;
	d.n = n;
	d.id = id;
	d.off = off;
	d.idx = idx;
	d.scale = scale;

	/* Gains, against hp_ppm_gain and the formula f(s b) - f(0). */
	hp_route_gains(p, &d, gain);
	for (int64_t i = 0; i < n; i++)
	{
		int			nnz = (int) (off[i + 1] - off[i]);
		double		g = hp_ppm_gain(p, idx + off[i], nnz, scale),
					f0,
					fs,
					m0,
					ms,
					lin = 0,
					q = 0,
					gm = 0;

		FUZZ_CHECK(SameBits(g, gain[i]), "route_gains[%lld] = %g, ppm_gain = %g", (long long) i, gain[i], g);
		if (nnz == 0)
			FUZZ_CHECK(g == 0.0, "gain of an empty feature set is %g", g);
		if (!isfinite(scale) || !PpmFinite(p))
			continue;
		for (int a = 0; a < nnz; a++)
		{
			/* every term is scaled before it is summed */
			lin += scale * p->beta[idx[off[i] + a]];
			gm += fabs(scale * p->beta[idx[off[i] + a]]);
			if (p->quad)
				for (int c = 0; c < nnz; c++)
				{
					q += (scale * p->quad[idx[off[i] + a] * K + idx[off[i] + c]]) * scale;
					gm += fabs((scale * p->quad[idx[off[i] + a] * K + idx[off[i] + c]]) * scale);
				}
		}
		CheckClose(g, lin + q, gm, "gain");
		memset(v, 0, sizeof(v));
		for (int a = 0; a < nnz; a++)
			v[idx[off[i] + a]] = scale;
		f0 = BrutePredict(p, (double[MAX_K + 1]) {0}, &m0);
		fs = BrutePredict(p, v, &ms);
		CheckClose(g, fs - f0, ms + m0, "gain as f(s b) - f(0)");
	}

	/* Budget as hp.route applies it, then any budget over any n. */
	budget = ReadDouble(r);
	CheckBudget(budget, n);
	{
		static const int64_t ns[] = {0, 1, 2, -1, INT64_MIN, INT64_MAX, (int64_t) 1 << 53,
		((int64_t) 1 << 53) + 1, (int64_t) 1 << 62, INT64_MAX - 511, 1000000007};
		double		b2 = ReadDouble(r);

		t = FuzzU8(r);
		nextra = t < 0xC0 ? t : t - 0xC0 < sizeof(ns) / sizeof(ns[0]) ? ns[t - 0xC0] : (int64_t) FuzzU64(r);
		CheckBudget(b2, nextra);
	}
	t = FuzzU8(r);
	sname = names[t % (sizeof(names) / sizeof(names[0]))];
	memset(&err, 0, sizeof(err));
	rc = hp_route_strategy(sname, &strat, &err);
	FUZZ_CHECK(rc == ((t % 10) < 4 ? HP_OK : HP_EINVAL), "strategy \"%s\" returned %d", sname, (int) rc);
	if (rc != HP_OK)
	{
		FUZZ_CHECK(err.code == rc && err.msg[0] != '\0', "strategy error without a message");
		strat = (t & 0x80) ? (HpRouteStrategy) (4 + t % 3) : (HpRouteStrategy) (t % 4);
	}
	else
		FUZZ_CHECK((int) strat == t % 10, "strategy \"%s\" is %d", sname, (int) strat);
	if (hp_route_budget(budget, n, &k, &err) != HP_OK)
	{
		t = FuzzU8(r);
		k = t < 0xF0 ? (int64_t) t % (n + 2) : (int64_t) t - 0xF8;	/* -8..7 sometimes */
	}
	candidates = cands[FuzzU8(r) % 8];
	seed = FuzzU64(r);

	wantrc = (k < 0 || k > n || candidates < 1 || (int) strat < 0 || (int) strat > 3) ? HP_EINVAL : HP_OK;
	memset(&err, 0, sizeof(err));
	memset(human, 0xAA, sizeof(human));
	rc = hp_route_select(p, &d, gain, strat, k, seed, candidates, human, &err);
	FUZZ_CHECK(rc == wantrc, "route_select(strategy %d, k %lld of %lld, candidates %d) returned %d: %s",
			   (int) strat, (long long) k, (long long) n, candidates, (int) rc, err.msg);
	if (rc != HP_OK)
		FUZZ_CHECK(err.code == rc && err.msg[0] != '\0', "route_select error without a message");
	else
	{
		int64_t		cnt = 0;

		for (int64_t i = 0; i < n; i++)
		{
			uint8_t		bv;

			memcpy(&bv, &human[i], 1);
			FUZZ_CHECK(bv == 0 || bv == 1, "human[%lld] not written (byte %u)", (long long) i, bv);
			cnt += bv;
		}
		if (strat == HP_ROUTE_SIMULATED && cnt != k && FuzzIgnored("simulated_count"))
			goto after_select;
		FUZZ_CHECK(cnt == k, "[check-id %s] strategy %d routed %lld rows to humans, budget %lld of %lld",
				   strat == HP_ROUTE_SIMULATED ? "simulated_count" : "route_count", (int) strat,
				   (long long) cnt, (long long) k, (long long) n);
		rc = hp_route_select(p, &d, gain, strat, k, seed, candidates, human2, &err);
		FUZZ_CHECK(rc == HP_OK && memcmp(human, human2, sizeof(bool) * n) == 0,
				   "strategy %d: another routing for the same input", (int) strat);
		if (strat == HP_ROUTE_GREEDY && (p->quad == NULL || k == 0 || k == n))
		{
			hp_route_topk(gain, id, n, k, human2);
			FUZZ_CHECK(memcmp(human, human2, sizeof(bool) * n) == 0, "greedy without interactions is not top k");
		}
		if (strat == HP_ROUTE_RANDOM && k > 0)
		{
			rc = hp_route_select(p, &d, gain, strat, k - 1, seed, candidates, human2, &err);
			FUZZ_CHECK(rc == HP_OK, "random k-1 failed");
			for (int64_t i = 0; i < n; i++)
				FUZZ_CHECK(!human2[i] || human[i], "random routing not nested in k");
		}
		/* f of the routing */
		if (isfinite(scale) && PpmFinite(p))
		{
			double		fset = hp_route_predict_set(p, &d, human);

			memset(v, 0, sizeof(v));
			for (int64_t i = 0; i < n; i++)
				if (human[i])
					for (int64_t a = off[i]; a < off[i + 1]; a++)
						v[idx[a]] += 1.0;
			for (int j = 0; j < K; j++)
				v[j] *= scale;
			want = BrutePredict(p, v, &mag);
			CheckClose(fset, want, mag, "predict_set");
			memset(human2, 0, sizeof(bool) * (n + 1));
			fset = hp_route_predict_set(p, &d, human2);
			FUZZ_CHECK(fset == p->intercept, "f of the empty routing is %g, intercept %g", fset, p->intercept);
		}
		else
			(void) hp_route_predict_set(p, &d, human);
	}
after_select:

	/* Top k of the gains directly: any k, order independence. */
	{
		double		keys[MAX_INST + 1],
					rkeys[MAX_INST + 1];
		int64_t		ids[MAX_INST + 1],
					rids[MAX_INST + 1],
					kk = k,
					cnt;
		bool		nan = false;

		memcpy(keys, gain, sizeof(double) * n);
		memcpy(ids, id, sizeof(int64_t) * n);
		hp_route_topk(gain, id, n, kk, human);
		FUZZ_CHECK(memcmp(keys, gain, sizeof(double) * n) == 0 && memcmp(ids, id, sizeof(int64_t) * n) == 0,
				   "topk modified its input");
		cnt = CountTrue(human, n);
		FUZZ_CHECK(cnt == (kk < 0 ? 0 : kk > n ? n : kk), "topk marked %lld rows for k %lld of %lld",
				   (long long) cnt, (long long) kk, (long long) n);
		for (int64_t i = 0; i < n; i++)
			nan |= isnan(gain[i]) != 0;
		if (!nan)
		{
			for (int64_t i = 0; i < n; i++)
				for (int64_t j = 0; j < n; j++)
					if (human[i] && !human[j])
						FUZZ_CHECK(Better(gain[i], id[i], gain[j], id[j]),
								   "topk chose %g (id %lld) over %g (id %lld)", gain[i], (long long) id[i],
								   gain[j], (long long) id[j]);
			for (int64_t i = 0; i < n; i++)
			{
				rkeys[i] = gain[n - 1 - i];
				rids[i] = id[n - 1 - i];
			}
			hp_route_topk(rkeys, rids, n, kk, human2);
			for (int64_t i = 0; i < n; i++)
				FUZZ_CHECK(human2[n - 1 - i] == human[i], "topk depends on the input order");
		}
	}

	/* hp.ppm_predict on any vector. */
	for (int j = 0; j < K; j++)
		v[j] = ReadDouble(r);
	{
		double		f = hp_ppm_predict(p, v);

		if (PpmFinite(p) && AllFinite(v, K))
		{
			want = BrutePredict(p, v, &mag);
			CheckClose(f, want, mag, "predict");
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzReader	r = {data, size};
	Setup		s;
	uint8_t		mb;
	HpModel		m;
	HpPpm		p;
	HpError		err;
	HpStatus	rc,
				want = HP_OK;
	bool		have;

	memset(&s, 0, sizeof(s));
	s.flags = FuzzU8(&r);
	s.K = FuzzU8(&r) % (MAX_K + 1);
	/*
	 * A stored model has dim >= 1 (hp_model_validate); hp_ppm_load does not
	 * check it, and a dim-0 PPM makes hp_ppm_predict call dgemv with lda 0.
	 * Hand-built models therefore keep K >= 1, like every decoded one.
	 */
	if ((s.flags & 1) && s.K == 0)
		s.K = 1;
	s.sel = FuzzU8(&r);
	mb = FuzzU8(&r);
	for (int j = 0; j < s.K; j++)
	{
		s.nlen[j] = ReadName(&r, s.names[j]);
		s.empty |= s.nlen[j] == 0;
		for (int i = 0; i < j; i++)
			s.dup |= strcmp(s.names[i], s.names[j]) == 0;
	}

	if (s.flags & 1)
	{
		want = HandModel(&r, &s, &m);
		have = true;
	}
	else
		have = FitModel(&r, &s, mb, &m);
	if (!have)
		goto tail;

	memset(&err, 0, sizeof(err));
	rc = hp_ppm_load(&m, &p, &err);
	FUZZ_CHECK(rc == want, "ppm_load returned %d, expected %d: %s", (int) rc, (int) want, err.msg);
	if (rc != HP_OK)
	{
		FUZZ_CHECK(err.code == rc && err.msg[0] != '\0', "ppm_load error without a message");
		FUZZ_CHECK(p.beta == NULL && p.vocab == NULL && p.slots == NULL, "failed load left allocations");
		hp_model_free(&m);
		goto tail;
	}
	{
		const HpTensor *tb = hp_model_tensor(&m, "beta"),
				   *ti = hp_model_tensor(&m, "intercept"),
				   *tq = hp_model_tensor(&m, "quad");

		FUZZ_CHECK(p.K == s.K && p.degree == ((s.flags & 2) ? 2 : 1) && p.normalize == !(s.flags & 4),
				   "loaded PPM: K %d degree %d normalize %d", p.K, p.degree, (int) p.normalize);
		FUZZ_CHECK((p.quad != NULL) == (p.degree == 2) && (p.qdiag != NULL) == (p.degree == 2),
				   "quad present %d for degree %d", p.quad != NULL, p.degree);
		FUZZ_CHECK(SameBits(p.intercept, ((const double *) ti->data)[0]), "intercept changed on load");
		FUZZ_CHECK(memcmp(p.beta, tb->data, sizeof(double) * s.K) == 0, "beta changed on load");
		for (int j = 0; j < s.K; j++)
		{
			FUZZ_CHECK(strcmp(p.vocab[j], s.names[j]) == 0 && p.vlen[j] == strlen(s.names[j]),
					   "loaded name %d is \"%s\", not \"%s\"", j, p.vocab[j], s.names[j]);
			if (p.quad)
			{
				const double *q = tq->data;

				FUZZ_CHECK(SameBits(p.qdiag[j], p.quad[j * s.K + j]), "qdiag differs from the diagonal");
				for (int k = 0; k < s.K; k++)
				{
					double		w = 0.5 * (q[j * s.K + k] + q[k * s.K + j]);

					FUZZ_CHECK(SameBits(p.quad[j * s.K + k], p.quad[k * s.K + j]) || isnan(w),
							   "loaded quad is not symmetric");
					FUZZ_CHECK(SameBits(p.quad[j * s.K + k], w) || (isnan(w) && isnan(p.quad[j * s.K + k])),
							   "loaded quad is not the symmetric part");
				}
			}
		}
	}
	CheckLookups(&r, &p);
	Route(&r, &p, s.flags);
	hp_ppm_free(&p);
	hp_model_free(&m);

tail:
	CheckSortUnique(&r);
	FUZZ_CHECK(FuzzBigLive() == 0, "%d big blocks not released", FuzzBigLive());
	return 0;
}
