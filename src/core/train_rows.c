/*
 * train_rows.c: row keys, canonical row order and bootstrap weights.
 *
 * The training aggregate sees rows in whatever order the plan delivers
 * them.  Keying rows by content and sorting by key makes training a
 * function of the multiset of rows, and deriving bootstrap weights from the
 * same keys makes every head reproducible wherever a row is processed.
 */
#include "hp_train.h"

#include <string.h>

#include "hp_rng.h"

/*
 * Row keys hash the float bits in 16 lanes (element i feeds lane i mod 16),
 * each lane a 32-bit FNV-style multiply, then fold the lanes and the label
 * with a 64-bit mixer.  Sixteen independent lanes in four 4-wide vectors keep
 * the hash off the multiply's latency chain, so keying a row costs about as
 * much as reading it.  GNU C vector extensions lower to plain scalar code on
 * targets without SIMD.
 */
#define KEY_PRIME 0x01000193u
#define KEY_LANES 16
#define EXP_BITS 0x7f800000u

typedef uint32_t HpLane4 __attribute__((vector_size(16)));
typedef float HpFloat4 __attribute__((vector_size(16)));

/*
 * Feed four values into one 4-lane accumulator: the lanes' hash step and
 * the finiteness flags.  An exponent of all ones (Inf or NaN) is the only
 * one for which adding 2^23 carries into the sign bit, which keeps the
 * check branch-free.
 */
#define LANE_STEP(h, bad, v) \
	do { \
		HpLane4		u_; \
		memcpy(&u_, &(v), 16); \
		(h) = ((h) ^ u_) * KEY_PRIME; \
		(bad) |= (u_ & EXP_BITS) + 0x00800000u; \
	} while (0)

/* Load four values of the row: a, or a - b stored to out. */
#define LANE_LOAD(v, off) \
	do { \
		memcpy(&(v), a + (off), 16); \
		if (b) \
		{ \
			HpFloat4	w_; \
			memcpy(&w_, b + (off), 16); \
			(v) = (v) - w_; \
			memcpy(out + (off), &(v), 16); \
		} \
	} while (0)

/*
 * One pass over a row: lanes of its hash and whether every value is
 * finite.  With b == NULL the row is a itself; otherwise it is a - b,
 * written to out.  Always inlined into its two callers, which pass b as a
 * constant, so each gets a loop without the test.  The four accumulators
 * are separate variables so they stay in registers.
 */
static inline __attribute__((always_inline)) bool
RowLanes(const float *a, const float *b, float *out, int dim, uint32_t lanes[KEY_LANES])
{
	HpLane4		h0 = {0x811c9dc5u, 0x811c9dc6u, 0x811c9dc7u, 0x811c9dc8u},
				h1 = {0x811c9dc9u, 0x811c9dcau, 0x811c9dcbu, 0x811c9dccu},
				h2 = {0x811c9dcdu, 0x811c9dceu, 0x811c9dcfu, 0x811c9dd0u},
				h3 = {0x811c9dd1u, 0x811c9dd2u, 0x811c9dd3u, 0x811c9dd4u},
				bad = {0, 0, 0, 0};
	uint32_t	any = 0;
	int			i = 0;

	for (; i + KEY_LANES <= dim; i += KEY_LANES)
	{
		HpFloat4	v0,
					v1,
					v2,
					v3;

		LANE_LOAD(v0, i);
		LANE_LOAD(v1, i + 4);
		LANE_LOAD(v2, i + 8);
		LANE_LOAD(v3, i + 12);
		LANE_STEP(h0, bad, v0);
		LANE_STEP(h1, bad, v1);
		LANE_STEP(h2, bad, v2);
		LANE_STEP(h3, bad, v3);
	}
	memcpy(lanes, &h0, 16);
	memcpy(lanes + 4, &h1, 16);
	memcpy(lanes + 8, &h2, 16);
	memcpy(lanes + 12, &h3, 16);
	for (int j = 0; j < 4; j++)
		any |= bad[j] >> 31;
	for (; i < dim; i++)
	{
		float		v = b ? a[i] - b[i] : a[i];
		uint32_t	u;

		if (b)
			out[i] = v;
		memcpy(&u, &v, 4);
		lanes[i % KEY_LANES] = (lanes[i % KEY_LANES] ^ u) * KEY_PRIME;
		any |= ((u & EXP_BITS) + 0x00800000u) >> 31;
	}
	return any == 0;
}

/* Fold the lanes, the dimension and the label into a 64-bit key. */
static uint64_t
FoldKey(const uint32_t lanes[KEY_LANES], int dim, float p)
{
	uint64_t	k = 0x243f6a8885a308d3ULL ^ (uint64_t) dim;
	uint32_t	u;

	for (int j = 0; j < KEY_LANES; j += 2)
		k = hp_mix64(k ^ (((uint64_t) lanes[j] << 32) | lanes[j + 1]));
	memcpy(&u, &p, 4);
	return hp_mix64(k ^ u);
}

/* Content key of a row of values and its label. */
uint64_t
hp_row_key(const float *x, int dim, float p)
{
	uint32_t	lanes[KEY_LANES];

	(void) RowLanes(x, NULL, NULL, dim, lanes);
	return FoldKey(lanes, dim, p);
}

/*
 * x = a - b with its key (equal to hp_row_key(x, dim, p)) in one pass over
 * the inputs; false when x has a value that is not finite.  Subtracting,
 * checking and hashing together reads each row once instead of three times.
 */
bool
hp_row_diff(const float *a, const float *b, float *x, int dim, float p, uint64_t *key)
{
	uint32_t	lanes[KEY_LANES];
	bool		finite = RowLanes(a, b, x, dim, lanes);

	*key = FoldKey(lanes, dim, p);
	return finite;
}

/* Order of two rows: key, then values, then label. */
static int
CompareRows(const HpRowRef *x, const HpRowRef *y, int dim)
{
	int			c;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	c = memcmp(x->x, y->x, sizeof(float) * dim);
	if (c != 0)
		return c;
	if (x->p != y->p)
		return x->p < y->p ? -1 : 1;
	return 0;
}

/*
 * Sort by key with a least-significant-digit radix sort (eight byte-wide
 * passes, skipping a pass whose byte is the same in every key), then order
 * each run of equal keys by values and label.  Keys are hashes, so such
 * runs are identical rows (or, rarely, collisions) and are short or
 * already in order, which insertion sort handles in one comparison a row.
 */
void
hp_sort_rows(HpRowRef *rows, int64_t n, int dim)
{
	HpRowRef   *tmp,
			   *src = rows,
			   *dst;

	if (n < 2)
		return;
	tmp = hp_alloc(sizeof(HpRowRef) * n);
	dst = tmp;
	for (int shift = 0; shift < 64; shift += 8)
	{
		int64_t		count[257] = {0};

		for (int64_t i = 0; i < n; i++)
			count[((src[i].key >> shift) & 0xff) + 1]++;
		if (count[((src[0].key >> shift) & 0xff) + 1] == n)
			continue;
		for (int d = 0; d < 256; d++)
			count[d + 1] += count[d];
		for (int64_t i = 0; i < n; i++)
			dst[count[(src[i].key >> shift) & 0xff]++] = src[i];
		{
			HpRowRef   *s = src;

			src = dst;
			dst = s;
		}
		hp_check_interrupts();
	}
	if (src != rows)
		memcpy(rows, src, sizeof(HpRowRef) * n);
	hp_free(tmp);
	for (int64_t i = 1; i < n; i++)
	{
		HpRowRef	r = rows[i];
		int64_t		j = i;

		while (j > 0 && rows[j - 1].key == r.key && CompareRows(&r, &rows[j - 1], dim) < 0)
		{
			rows[j] = rows[j - 1];
			j--;
		}
		rows[j] = r;
	}
}

/*
 * Sort contiguous rows canonically in place.  The permutation is applied by
 * following its cycles with one spare row, so ordering needs no second copy
 * of the data (which would double the memory the kernel must fault in).
 */
void
hp_canonical_order(float *X, float *p, uint64_t *key, int64_t n, int width)
{
	HpRowRef   *refs;
	int64_t    *src;
	float	   *tmp;

	if (n < 2)
		return;
	refs = hp_alloc(sizeof(HpRowRef) * n);
	src = hp_alloc(sizeof(int64_t) * n);
	tmp = hp_alloc(sizeof(float) * (width > 0 ? width : 1));
	for (int64_t i = 0; i < n; i++)
	{
		refs[i].key = key[i];
		refs[i].x = X + i * width;
		refs[i].p = p[i];
	}
	hp_sort_rows(refs, n, width);
	/* src[k]: the row that belongs at position k; refs carry only pointers. */
	for (int64_t k = 0; k < n; k++)
		src[k] = (refs[k].x - X) / width;
	hp_free(refs);
	for (int64_t s = 0, moved = 0; s < n; s++)
	{
		int64_t		k = s;
		float		ps = p[s];
		uint64_t	ks = key[s];

		if (src[s] == s)
			continue;
		memcpy(tmp, X + s * width, sizeof(float) * width);
		for (;;)
		{
			int64_t		from = src[k];

			src[k] = k;
			if (from == s)
			{
				memcpy(X + k * width, tmp, sizeof(float) * width);
				p[k] = ps;
				key[k] = ks;
				break;
			}
			{
				/* The cycle's next source row is known: fetch it meanwhile. */
				int64_t		next = src[from];
				const char *nx = (const char *) (X + next * width);

				for (size_t off = 0; off < sizeof(float) * width; off += 64)
					__builtin_prefetch(nx + off);
			}
			memcpy(X + k * width, X + from * width, sizeof(float) * width);
			p[k] = p[from];
			key[k] = key[from];
			k = from;
			/* One cycle can span every row: check inside it. */
			if ((++moved & 4095) == 0)
				hp_check_interrupts();
		}
	}
	hp_free(src);
	hp_free(tmp);
}

/* Poisson(1) weight of a row for one head, from its key and the seed. */
float
hp_boot_weight(uint64_t key, int64_t seed, int head)
{
	uint64_t	h = hp_mix64(key ^ hp_mix64((uint64_t) seed * 0x9e3779b97f4a7c15ULL + (uint64_t) head));

	return (float) hp_poisson1((double) (h >> 11) * 0x1.0p-53);
}
