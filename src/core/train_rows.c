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

/* Hash of a row's float bits and label, two lanes for throughput. */
uint64_t
hp_row_key(const float *x, int dim, float p)
{
	uint64_t	a = 0x243f6a8885a308d3ULL ^ (uint64_t) dim,
				b = 0x13198a2e03707344ULL;
	int			i = 0;
	uint32_t	u,
				v;

	for (; i + 1 < dim; i += 2)
	{
		memcpy(&u, x + i, 4);
		memcpy(&v, x + i + 1, 4);
		a = (a ^ u) * 0x100000001b3ULL;
		b = (b ^ v) * 0x100000001b3ULL;
	}
	if (i < dim)
	{
		memcpy(&u, x + i, 4);
		a = (a ^ u) * 0x100000001b3ULL;
	}
	memcpy(&u, &p, 4);
	return hp_mix64(a ^ hp_mix64(b ^ u));
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

/* Bottom-up merge sort: stable, O(n log n), no recursion, no globals. */
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
	for (int64_t width = 1; width < n; width *= 2)
	{
		for (int64_t lo = 0; lo < n; lo += 2 * width)
		{
			int64_t		mid = lo + width < n ? lo + width : n;
			int64_t		hi = lo + 2 * width < n ? lo + 2 * width : n;
			int64_t		i = lo,
						j = mid,
						k = lo;

			while (i < mid && j < hi)
				dst[k++] = CompareRows(&src[j], &src[i], dim) < 0 ? src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
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
