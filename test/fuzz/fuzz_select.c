/*
 * fuzz_select.c: libFuzzer target for hp_select_pair (hp.select_pair and
 * hp.select_pair_by_score).
 *
 * Input layout (missing bytes read as 0):
 *   byte 0      method: value % (HP_SEL_NMETHODS + 1); the last is invalid
 *   byte 1      n = value % 65 (0..64 candidates)
 *   beta        a "special double" (see ReadDouble)
 *   8 bytes     seed
 *   n times:    id (1 tag byte: < 0xC0 is a small id 0..15, so duplicates
 *               are common; else 8 raw bytes), mu and sigma (special doubles)
 * A special double is one tag byte picking 0, +-1, 0.5, NaN, +-Inf, +-1e308,
 * +-DBL_MAX, +-1e-308, the smallest subnormal, -0.0, small integers, or 8
 * raw bytes.
 *
 * Oracle: the call succeeds exactly when n >= 2, beta is finite and >= 0,
 * every mu and sigma is finite, ids are distinct and the method is valid;
 * then it returns two distinct ids of the input, the first with the higher
 * (or equal) mu, maxmin picks the extremes, and the pair does not depend on
 * the order of the candidates (checked on a reversed and a rotated copy).
 */
#include "fuzz_common.h"
#include "hp_select.h"

#define MAX_CAND 64

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
		1e-308, -1e-308, 4.9406564584124654e-324, -0.0, 2.0, 3.0, 1e-4, 1e4, 1e154,
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

static int64_t
ReadId(FuzzReader *r)
{
	uint8_t		t = FuzzU8(r);

	if (t < 0xC0)
		return t % 16;
	return (int64_t) FuzzU64(r);
}

static int
Find(const HpCandidate *c, int n, int64_t id)
{
	for (int k = 0; k < n; k++)
		if (c[k].id == id)
			return k;
	return -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzReader	r = {data, size};
	HpCandidate orig[MAX_CAND],
			   *c;
	int			method,
				n;
	double		beta;
	int64_t		seed,
				out[2] = {-1, -1},
				out2[2];
	HpError		err;
	HpStatus	rc,
				want = HP_OK;

	method = FuzzU8(&r) % (HP_SEL_NMETHODS + 1);
	n = FuzzU8(&r) % (MAX_CAND + 1);
	beta = ReadDouble(&r);
	seed = (int64_t) FuzzU64(&r);
	for (int k = 0; k < n; k++)
	{
		orig[k].id = ReadId(&r);
		orig[k].mu = ReadDouble(&r);
		orig[k].sigma = ReadDouble(&r);
	}

	/* What the call must return, in the order the core checks. */
	if (n < 2 || !(beta >= 0.0) || !isfinite(beta))
		want = HP_EINVAL;
	for (int k = 0; k < n && want == HP_OK; k++)
		if (!isfinite(orig[k].mu) || !isfinite(orig[k].sigma))
			want = HP_EDATA;
	for (int k = 0; k < n && want == HP_OK; k++)
		for (int l = k + 1; l < n; l++)
			if (orig[k].id == orig[l].id)
				want = HP_EINVAL;
	if (want == HP_OK && method >= HP_SEL_NMETHODS)
		want = HP_EINVAL;

	/* Exact-size heap copy so ASan catches any access past the array. */
	c = malloc(sizeof(HpCandidate) * (n ? n : 1));
	memcpy(c, orig, sizeof(HpCandidate) * n);
	memset(&err, 0, sizeof(err));
	rc = hp_select_pair(c, n, (HpSelectMethod) method, beta, seed, out, &err);
	FUZZ_CHECK(rc == want, "returned %d, expected %d (%s)", (int) rc, (int) want, err.msg);
	if (rc != HP_OK)
	{
		FUZZ_CHECK(err.code == rc && err.msg[0] != '\0', "error without a message");
		free(c);
		return 0;
	}

	{
		int			i = Find(orig, n, out[0]),
					j = Find(orig, n, out[1]);

		FUZZ_CHECK(i >= 0 && j >= 0, "returned ids %lld, %lld not in the input",
				   (long long) out[0], (long long) out[1]);
		FUZZ_CHECK(i != j, "returned the same id twice (%lld)", (long long) out[0]);
		FUZZ_CHECK(orig[i].mu >= orig[j].mu, "first (mu %g) is worse than second (mu %g)",
				   orig[i].mu, orig[j].mu);
		if (method == HP_SEL_MAXMIN)
		{
			double		lo = orig[0].mu,
						hi = orig[0].mu;

			for (int k = 1; k < n; k++)
			{
				lo = fmin(lo, orig[k].mu);
				hi = fmax(hi, orig[k].mu);
			}
			FUZZ_CHECK(orig[i].mu == hi && (hi == lo || orig[j].mu == lo),
					   "maxmin did not pick the extremes");
		}
	}

	/* Order independence: reversed, then rotated by seed. */
	for (int k = 0; k < n; k++)
		c[k] = orig[n - 1 - k];
	rc = hp_select_pair(c, n, (HpSelectMethod) method, beta, seed, out2, &err);
	FUZZ_CHECK(rc == HP_OK && out2[0] == out[0] && out2[1] == out[1],
			   "reversed input gives another pair");
	for (int k = 0; k < n; k++)
		c[k] = orig[(k + (int) ((uint64_t) seed % (uint64_t) n)) % n];
	rc = hp_select_pair(c, n, (HpSelectMethod) method, beta, seed, out2, &err);
	FUZZ_CHECK(rc == HP_OK && out2[0] == out[0] && out2[1] == out[1],
			   "rotated input gives another pair");
	free(c);
	return 0;
}
