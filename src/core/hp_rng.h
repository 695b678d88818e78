/*
 * hp_rng.h: deterministic, platform-independent random numbers and hashes.
 * Everything that must give the same answer whatever the row order or the
 * plan derives its randomness from these, keyed by content or row ids.
 */
#ifndef HP_RNG_H
#define HP_RNG_H

#include <stdint.h>
#include <stddef.h>

typedef struct HpRng
{
	uint64_t	s[4];
} HpRng;

/* splitmix64 finaliser: a good 64-bit mixer. */
static inline uint64_t
hp_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void		hp_rng_seed(HpRng *r, uint64_t seed);
uint64_t	hp_rng_next(HpRng *r);
/* Uniform in [0,1) with 53 random bits. */
double		hp_rng_uniform(HpRng *r);
/* Uniform integer in [0, n). */
uint64_t	hp_rng_below(HpRng *r, uint64_t n);
/* Standard normal (Box-Muller, no caching so the stream is reproducible). */
double		hp_rng_normal(HpRng *r);
/* Poisson(1) draw from a single uniform (inverse CDF). */
int			hp_poisson1(double u);

/* FNV-1a 64-bit over bytes: used for checksums and content keys. */
uint64_t	hp_fnv1a64(const void *data, size_t len, uint64_t h);
#define HP_FNV_OFFSET 0xcbf29ce484222325ULL

#endif
