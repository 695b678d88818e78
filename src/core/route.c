/*
 * route.c: choosing which instances go to human annotators under a budget,
 * given a performance prediction model (hp_ppm.h).
 *
 * Every strategy works on instances in id order and breaks ties by id, so
 * a routing depends on the data, the model, the budget and the seed only,
 * never on the order the rows were read in.
 */
#include "hp_ppm.h"
#include "hp_blas.h"
#include "hp_rng.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

/* See hp_ppm.h. */
HpStatus
hp_route_strategy(const char *name, HpRouteStrategy *s, HpError *err)
{
	if (strcmp(name, "topk") == 0)
		*s = HP_ROUTE_TOPK;
	else if (strcmp(name, "greedy") == 0)
		*s = HP_ROUTE_GREEDY;
	else if (strcmp(name, "simulated") == 0)
		*s = HP_ROUTE_SIMULATED;
	else if (strcmp(name, "random") == 0)
		*s = HP_ROUTE_RANDOM;
	else
	{
		hp_error(err, HP_EINVAL, "unknown routing strategy \"%.64s\"", name);
		hp_error_detail(err, "Valid strategies are: topk, greedy, simulated, random.");
		return HP_EINVAL;
	}
	return HP_OK;
}

/* See hp_ppm.h. */
HpStatus
hp_route_budget(double budget, int64_t n, int64_t *k, HpError *err)
{
	/* Clamp in double before converting: (double) n can round above INT64_MAX. */
	if (isfinite(budget) && budget >= 0 && budget <= 1)
	{
		double		r = floor(budget * (double) n + 0.5);

		*k = r >= (double) n ? n : (int64_t) r;
		return HP_OK;
	}
	if (isfinite(budget) && budget > 1 && budget == floor(budget) && budget <= (double) n)
	{
		*k = budget >= (double) n ? n : (int64_t) budget;
		return HP_OK;
	}
	hp_error(err, HP_EINVAL,
			 "budget must be a fraction in [0, 1] or a whole row count in (1, %" PRId64 "], got %g",
			 n, budget);
	hp_error_detail(err, "The relation has %" PRId64 " rows to route.", n);
	return HP_EINVAL;
}

/* See hp_ppm.h. */
void
hp_route_gains(const HpPpm *p, const HpRouteData *d, double *gain)
{
	for (int64_t i = 0; i < d->n; i++)
	{
		gain[i] = hp_ppm_gain(p, d->idx + d->off[i], (int) (d->off[i + 1] - d->off[i]), d->scale);
		if ((i & 65535) == 0)
			hp_check_interrupts();
	}
}

/* ------------------------------------------------------------------ top k */

typedef struct KeyItem
{
	double		key;
	int64_t		id;
	int64_t		i;
} KeyItem;

/* a ranks before b: larger key, then smaller id. */
static inline bool
Better(const KeyItem *a, const KeyItem *b)
{
	return a->key > b->key || (a->key == b->key && a->id < b->id);
}

/* See hp_ppm.h. */
void
hp_route_topk(const double *key, const int64_t *id, int64_t n, int64_t k, bool *human)
{
	KeyItem    *it;
	int64_t		lo = 0,
				hi = n - 1;
	HpRng		rng;

	memset(human, 0, sizeof(bool) * n);
	if (k <= 0)
		return;
	if (k >= n)
	{
		memset(human, 1, sizeof(bool) * n);
		return;
	}
	it = hp_alloc(sizeof(KeyItem) * n);
	for (int64_t i = 0; i < n; i++)
	{
		it[i].key = key[i];
		it[i].id = id[i];
		it[i].i = i;
	}
	/*
	 * Quickselect for position k-1.  Keys are distinct once ids break ties,
	 * so the top-k set is unique and the random pivots only affect speed.
	 */
	hp_rng_seed(&rng, 0x9e3779b9u);
	while (lo < hi)
	{
		int64_t		pv = lo + (int64_t) hp_rng_below(&rng, (uint64_t) (hi - lo + 1));
		int64_t		store = lo;
		KeyItem		tmp = it[pv];

		it[pv] = it[hi];
		it[hi] = tmp;
		for (int64_t i = lo; i < hi; i++)
			if (Better(&it[i], &it[hi]))
			{
				tmp = it[i];
				it[i] = it[store];
				it[store] = tmp;
				store++;
			}
		tmp = it[store];
		it[store] = it[hi];
		it[hi] = tmp;
		if (store == k - 1)
			break;
		if (store < k - 1)
			lo = store + 1;
		else
			hi = store - 1;
		hp_check_interrupts();
	}
	for (int64_t i = 0; i < k; i++)
		human[it[i].i] = true;
	hp_free(it);
}

/* ----------------------------------------------------------------- greedy */

/* Instances grouped by identical feature signature. */
typedef struct Groups
{
	int64_t		G;
	int64_t    *rep;			/* an instance of the group (its signature) */
	int64_t    *moff;			/* G + 1 offsets into mem */
	int64_t    *mem;			/* members, in id order */
} Groups;

/* Signature hash of instance i. */
static inline uint64_t
SigHash(const HpRouteData *d, int64_t i)
{
	return hp_mix64(hp_fnv1a64(d->idx + d->off[i], sizeof(int32_t) * (d->off[i + 1] - d->off[i]),
							   HP_FNV_OFFSET));
}

/* Same signature? */
static inline bool
SameSig(const HpRouteData *d, int64_t a, int64_t b)
{
	int64_t		la = d->off[a + 1] - d->off[a];

	return la == d->off[b + 1] - d->off[b] &&
		memcmp(d->idx + d->off[a], d->idx + d->off[b], sizeof(int32_t) * la) == 0;
}

/* Group the instances by signature with an open-addressing table. */
static void
BuildGroups(const HpRouteData *d, Groups *g)
{
	uint64_t	size = 16;
	int64_t    *slot,
			   *gid = hp_alloc(sizeof(int64_t) * d->n),
			   *fill;

	while (size < 2 * (uint64_t) d->n)
		size <<= 1;
	slot = hp_alloc(sizeof(int64_t) * size);
	memset(slot, 0xff, sizeof(int64_t) * size);
	g->rep = hp_alloc(sizeof(int64_t) * (d->n > 0 ? d->n : 1));
	g->G = 0;
	for (int64_t i = 0; i < d->n; i++)
	{
		uint64_t	h = SigHash(d, i) & (size - 1);

		while (slot[h] >= 0 && !SameSig(d, g->rep[slot[h]], i))
			h = (h + 1) & (size - 1);
		if (slot[h] < 0)
		{
			slot[h] = g->G;
			g->rep[g->G++] = i;
		}
		gid[i] = slot[h];
		if ((i & 65535) == 0)
			hp_check_interrupts();
	}
	hp_free(slot);
	g->moff = hp_alloc0(sizeof(int64_t) * (g->G + 1));
	g->mem = hp_alloc(sizeof(int64_t) * (d->n > 0 ? d->n : 1));
	for (int64_t i = 0; i < d->n; i++)
		g->moff[gid[i] + 1]++;
	for (int64_t q = 0; q < g->G; q++)
		g->moff[q + 1] += g->moff[q];
	fill = hp_alloc(sizeof(int64_t) * (g->G + 1));
	memcpy(fill, g->moff, sizeof(int64_t) * (g->G + 1));
	for (int64_t i = 0; i < d->n; i++)
		g->mem[fill[gid[i]]++] = i;
	hp_free(fill);
	hp_free(gid);
}

/* Release the groups. */
static void
FreeGroups(Groups *g)
{
	hp_free(g->rep);
	hp_free(g->moff);
	hp_free(g->mem);
}

/* Sum of x over the signature of instance i. */
static inline double
SigSum(const HpRouteData *d, int64_t i, const double *x)
{
	double		s = 0;

	for (int64_t a = d->off[i]; a < d->off[i + 1]; a++)
		s += x[d->idx[a]];
	return s;
}

/*
 * Greedy maximisation of f under the quadratic model.  Adding one
 * instance of group h to the current v changes f by
 *   gain_h = s beta.b_h + s^2 b_h^T Q b_h + 2 s b_h^T Q v,
 * the same for every member, so groups stand for their members.  After m
 * instances of group g, every gain_h moves linearly by m * 2 s^2 b_h^T Q b_g;
 * so a whole run of picks from g is taken at once, up to the first point
 * another group could overtake it, and gains are then recomputed exactly
 * from u = Q v.  Cost per run: O(K nnz + groups nnz).
 */
static void
Greedy(const HpPpm *p, const HpRouteData *d, int64_t k, bool *human)
{
	Groups		g;
	int			K = p->K;
	double		s = d->scale;
	double	   *u = hp_alloc0(sizeof(double) * K);
	double	   *w = hp_alloc(sizeof(double) * K);
	double	   *gain,
			   *lin,
			   *qself;
	int64_t    *ptr;
	int64_t		taken = 0;

	BuildGroups(d, &g);
	gain = hp_alloc(sizeof(double) * g.G);
	lin = hp_alloc(sizeof(double) * g.G);
	qself = hp_alloc(sizeof(double) * g.G);
	ptr = hp_alloc0(sizeof(int64_t) * g.G);
	for (int64_t h = 0; h < g.G; h++)
	{
		int64_t		r = g.rep[h];
		int			nnz = (int) (d->off[r + 1] - d->off[r]);

		lin[h] = SigSum(d, r, p->beta);
		qself[h] = (hp_ppm_gain(p, d->idx + d->off[r], nnz, 1.0) - lin[h]);
		gain[h] = s * lin[h] + s * s * qself[h];
	}
	memset(human, 0, sizeof(bool) * d->n);
	while (taken < k)
	{
		int64_t		best = -1,
					m;
		double		sb;

		hp_check_interrupts();
		for (int64_t h = 0; h < g.G; h++)
		{
			if (ptr[h] == g.moff[h + 1] - g.moff[h])
				continue;
			if (best < 0 || gain[h] > gain[best] ||
				(gain[h] == gain[best] &&
				 d->id[g.mem[g.moff[h] + ptr[h]]] < d->id[g.mem[g.moff[best] + ptr[best]]]))
				best = h;
		}
		/* w = Q b_best: the sum of Q's rows over the signature */
		memset(w, 0, sizeof(double) * K);
		for (int64_t a = d->off[g.rep[best]]; a < d->off[g.rep[best] + 1]; a++)
			hp_blas.daxpy(K, 1.0, p->quad + (size_t) d->idx[a] * K, 1, w, 1);
		sb = 2 * s * s * SigSum(d, g.rep[best], w);
		m = g.moff[best + 1] - g.moff[best] - ptr[best];
		if (m > k - taken)
			m = k - taken;
		for (int64_t h = 0; h < g.G && m > 1; h++)
		{
			double		d0,
						dd;

			if (h == best || ptr[h] == g.moff[h + 1] - g.moff[h])
				continue;
			d0 = gain[best] - gain[h];
			dd = sb - 2 * s * s * SigSum(d, g.rep[h], w);
			if (dd < 0)
			{
				/* h may catch up after d0 / -dd picks: stop there, re-evaluate */
				double		lim = ceil(d0 / -dd);

				if (lim < (double) m)
					m = lim < 1 ? 1 : (int64_t) lim;
			}
			else if (dd == 0 && d0 == 0)
			{
				/* a lasting tie: ids decide, as they would one pick at a time */
				int64_t		lo = g.moff[best] + ptr[best],
							hi = g.moff[best + 1],
							hid = d->id[g.mem[g.moff[h] + ptr[h]]];

				while (lo < hi)
				{
					int64_t		mid = lo + (hi - lo) / 2;

					if (d->id[g.mem[mid]] < hid)
						lo = mid + 1;
					else
						hi = mid;
				}
				lo -= g.moff[best] + ptr[best];
				if (lo < m)
					m = lo < 1 ? 1 : lo;
			}
		}
		for (int64_t t = 0; t < m; t++)
			human[g.mem[g.moff[best] + ptr[best] + t]] = true;
		ptr[best] += m;
		taken += m;
		/* v += m s b_best, so u = Q v moves by m s w */
		hp_blas.daxpy(K, (double) m * s, w, 1, u, 1);
		for (int64_t h = 0; h < g.G; h++)
			gain[h] = s * (lin[h] + 2 * SigSum(d, g.rep[h], u)) + s * s * qself[h];
	}
	hp_free(u);
	hp_free(w);
	hp_free(gain);
	hp_free(lin);
	hp_free(qself);
	hp_free(ptr);
	FreeGroups(&g);
}

/* -------------------------------------------------------------- simulated */

/* Add instance i's features to the counts. */
static inline void
AddCounts(const HpRouteData *d, int64_t i, double *cnt, double sign)
{
	for (int64_t a = d->off[i]; a < d->off[i + 1]; a++)
		cnt[d->idx[a]] += sign;
}

/* Move pick random elements of list[0..len) to its front (partial Fisher-Yates). */
static void
PartialShuffle(HpRng *rng, int64_t *list, int64_t len, int64_t pick)
{
	for (int64_t t = 0; t < pick; t++)
	{
		int64_t		r = t + (int64_t) hp_rng_below(rng, (uint64_t) (len - t));
		int64_t		tmp = list[t];

		list[t] = list[r];
		list[r] = tmp;
	}
}

/*
 * The paper's search: evaluate candidate human sets of size k and keep the
 * one the PPM scores best.  Even candidates are uniform random sets; odd
 * ones are feature-correlated, for diversity: features are visited in
 * random order and every not yet chosen instance having the feature is
 * added, until the budget is reached (the last feature's instances, then
 * featureless ones, are subsampled to fill it exactly).
 */
static void
Simulated(const HpPpm *p, const HpRouteData *d, int64_t k, uint64_t seed, int candidates, bool *human)
{
	int64_t		n = d->n;
	int			K = p->K;
	int64_t    *perm = hp_alloc(sizeof(int64_t) * n);
	int64_t    *chosen = hp_alloc(sizeof(int64_t) * n);
	int64_t    *best = hp_alloc(sizeof(int64_t) * n);
	int64_t    *buf = hp_alloc(sizeof(int64_t) * n);
	uint32_t   *stamp = hp_alloc0(sizeof(uint32_t) * n);
	int64_t    *ioff = hp_alloc0(sizeof(int64_t) * (K + 1));
	int64_t    *inv = hp_alloc(sizeof(int64_t) * (d->off[n] > 0 ? d->off[n] : 1));
	int64_t    *fill = hp_alloc(sizeof(int64_t) * (K + 1));
	int64_t    *forder = hp_alloc(sizeof(int64_t) * K);
	double	   *total = hp_alloc0(sizeof(double) * K);
	double	   *cnt = hp_alloc(sizeof(double) * K);
	double		best_f = -INFINITY;
	int64_t		best_len = 0;
	bool		best_compl = false;

	for (int64_t i = 0; i < n; i++)
	{
		perm[i] = i;
		AddCounts(d, i, total, 1.0);
		for (int64_t a = d->off[i]; a < d->off[i + 1]; a++)
			ioff[d->idx[a] + 1]++;
	}
	for (int j = 0; j < K; j++)
		ioff[j + 1] += ioff[j];
	memcpy(fill, ioff, sizeof(int64_t) * (K + 1));
	for (int64_t i = 0; i < n; i++)
		for (int64_t a = d->off[i]; a < d->off[i + 1]; a++)
			inv[fill[d->idx[a]]++] = i;

	for (int c = 0; c < candidates; c++)
	{
		HpRng		rng;
		int64_t		len = 0;
		bool		compl = false;
		double		fv;

		hp_check_interrupts();
		hp_rng_seed(&rng, hp_mix64(seed) ^ hp_mix64((uint64_t) c + 1));
		memset(cnt, 0, sizeof(double) * K);
		if (c % 2 == 0)
		{
			/* uniform: draw the smaller of the set and its complement */
			compl = k > n - k;
			len = compl ? n - k : k;
			PartialShuffle(&rng, perm, n, len);
			memcpy(chosen, perm, sizeof(int64_t) * len);
			for (int64_t t = 0; t < len; t++)
				AddCounts(d, chosen[t], cnt, 1.0);
			if (compl)
				for (int j = 0; j < K; j++)
					cnt[j] = total[j] - cnt[j];
		}
		else
		{
			uint32_t	mark = (uint32_t) c + 1;

			for (int j = 0; j < K; j++)
				forder[j] = j;
			PartialShuffle(&rng, forder, K, K);
			for (int q = 0; q < K && len < k; q++)
			{
				int64_t		j = forder[q],
							L = 0;

				for (int64_t a = ioff[j]; a < ioff[j + 1]; a++)
					if (stamp[inv[a]] != mark)
						buf[L++] = inv[a];
				if (len + L > k)
				{
					PartialShuffle(&rng, buf, L, k - len);
					L = k - len;
				}
				for (int64_t t = 0; t < L; t++)
				{
					stamp[buf[t]] = mark;
					chosen[len++] = buf[t];
					AddCounts(d, buf[t], cnt, 1.0);
				}
			}
			if (len < k)
			{
				int64_t		L = 0;

				for (int64_t i = 0; i < n; i++)
					if (stamp[i] != mark)
						buf[L++] = i;
				PartialShuffle(&rng, buf, L, k - len);
				for (int64_t t = 0; len < k; t++)
				{
					stamp[buf[t]] = mark;
					chosen[len++] = buf[t];
					AddCounts(d, buf[t], cnt, 1.0);
				}
			}
		}
		for (int j = 0; j < K; j++)
			cnt[j] *= d->scale;
		fv = hp_ppm_predict(p, cnt);
		/* The first candidate always stands, so a PPM that predicts -inf or NaN everywhere still routes k rows. */
		if (c == 0 || fv > best_f)
		{
			best_f = fv;
			best_len = len;
			best_compl = compl;
			memcpy(best, chosen, sizeof(int64_t) * len);
		}
	}
	memset(human, best_compl ? 1 : 0, sizeof(bool) * n);
	for (int64_t t = 0; t < best_len; t++)
		human[best[t]] = !best_compl;
	hp_free(perm);
	hp_free(chosen);
	hp_free(best);
	hp_free(buf);
	hp_free(stamp);
	hp_free(ioff);
	hp_free(inv);
	hp_free(fill);
	hp_free(forder);
	hp_free(total);
	hp_free(cnt);
}

/* k seeded uniformly random instances; nested in k for a fixed seed. */
static void
RandomSet(const HpRouteData *d, int64_t k, uint64_t seed, bool *human)
{
	int64_t    *perm = hp_alloc(sizeof(int64_t) * (d->n > 0 ? d->n : 1));
	HpRng		rng;

	for (int64_t i = 0; i < d->n; i++)
		perm[i] = i;
	hp_rng_seed(&rng, seed);
	PartialShuffle(&rng, perm, d->n, k);
	memset(human, 0, sizeof(bool) * d->n);
	for (int64_t t = 0; t < k; t++)
		human[perm[t]] = true;
	hp_free(perm);
}

/* See hp_ppm.h. */
HpStatus
hp_route_select(const HpPpm *p, const HpRouteData *d, const double *gain,
				HpRouteStrategy s, int64_t k, uint64_t seed, int candidates,
				bool *human, HpError *err)
{
	if (k < 0 || k > d->n)
		return hp_error(err, HP_EINVAL, "cannot route %" PRId64 " of %" PRId64 " instances", k, d->n);
	if (candidates < 1)
		return hp_error(err, HP_EINVAL, "candidates must be at least 1, got %d", candidates);
	switch (s)
	{
		case HP_ROUTE_GREEDY:
			/* without interactions the marginal gains never change: top k */
			if (p->quad != NULL && k > 0 && k < d->n)
			{
				Greedy(p, d, k, human);
				break;
			}
			/* FALLTHROUGH */
		case HP_ROUTE_TOPK:
			hp_route_topk(gain, d->id, d->n, k, human);
			break;
		case HP_ROUTE_SIMULATED:
			Simulated(p, d, k, seed, candidates, human);
			break;
		case HP_ROUTE_RANDOM:
			RandomSet(d, k, seed, human);
			break;
		default:
			return hp_error(err, HP_EINVAL, "unknown routing strategy %d", (int) s);
	}
	return HP_OK;
}

/* See hp_ppm.h. */
double
hp_route_predict_set(const HpPpm *p, const HpRouteData *d, const bool *human)
{
	double	   *v = hp_alloc0(sizeof(double) * p->K);
	double		f;

	for (int64_t i = 0; i < d->n; i++)
		if (human[i])
			AddCounts(d, i, v, 1.0);
	for (int j = 0; j < p->K; j++)
		v[j] *= d->scale;
	f = hp_ppm_predict(p, v);
	hp_free(v);
	return f;
}
