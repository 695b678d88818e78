/*
 * rng.c: xoshiro256** generator, Poisson(1) draws and FNV-1a hashing.
 * Chosen because they are tiny, fast and give identical streams on every
 * platform, which the reproducibility guarantees rely on.
 */
#include "hp_rng.h"

#include <math.h>

static inline uint64_t
Rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* Seed all four words through splitmix64 so any seed (even 0) is usable. */
void
hp_rng_seed(HpRng *r, uint64_t seed)
{
	uint64_t	x = seed;

	for (int i = 0; i < 4; i++)
	{
		x = hp_mix64(x);
		r->s[i] = x;
	}
}

/* Next 64 random bits. */
uint64_t
hp_rng_next(HpRng *r)
{
	uint64_t   *s = r->s;
	uint64_t	result = Rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = Rotl(s[3], 45);
	return result;
}

/* Uniform double in [0,1). */
double
hp_rng_uniform(HpRng *r)
{
	return (double) (hp_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Unbiased integer in [0,n) by rejection. */
uint64_t
hp_rng_below(HpRng *r, uint64_t n)
{
	uint64_t	lim,
				x;

	if (n <= 1)
		return 0;
	lim = UINT64_MAX - (UINT64_MAX % n);
	do
		x = hp_rng_next(r);
	while (x >= lim);
	return x % n;
}

/* Standard normal by Box-Muller, using two fresh uniforms per draw. */
double
hp_rng_normal(HpRng *r)
{
	double		u1 = 1.0 - hp_rng_uniform(r);	/* (0,1] */
	double		u2 = hp_rng_uniform(r);

	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Poisson(1) by inverting its CDF at u in [0,1). */
int
hp_poisson1(double u)
{
	/* P(K=k) = e^-1 / k!; cumulate until u is covered (k <= 20 always). */
	double		p = 0.36787944117144233;
	double		cdf = p;
	int			k = 0;

	while (u >= cdf && k < 20)
	{
		k++;
		p /= k;
		cdf += p;
	}
	return k;
}

/* FNV-1a over a byte range, continuing from h. */
uint64_t
hp_fnv1a64(const void *data, size_t len, uint64_t h)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
	{
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
