/*
 * fuzz_common.h: helpers shared by the libFuzzer targets in test/fuzz.
 *
 *  - FUZZ_CHECK: abort with a message when an invariant breaks, so libFuzzer
 *    records the input as a crash with a stack trace.
 *  - Poisoning allocation hooks: every block the core gets through hp_alloc
 *    starts filled with 0xFF bytes (a NaN as float or double; the first
 *    8 KB of larger blocks), so results computed from memory the core never
 *    wrote show up as NaN.  Blocks of 8 MB or more are mmap'ed (see below).
 *  - Every hp_blas call is bounds-checked (fuzz_blas_check.h), since ASan
 *    cannot see inside OpenBLAS.
 *  - FuzzReader: a byte reader that yields zeros once the input runs out.
 *  - FuzzCheckModel, FuzzCheckScorer, FuzzCheckWarmStart: the invariants
 *    every valid model must satisfy (binary and JSON round trips, scoring,
 *    use as a warm start).
 *  - FuzzIgnored: HP_FUZZ_IGNORE, to step over reported bugs in long runs.
 *
 * Header-only (static functions) so that each target stays one file.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fuzz_blas_check.h"
#include "hp_blas.h"
#include "hp_core.h"
#include "hp_json.h"
#include "hp_mlp.h"
#include "hp_model.h"
#include "hp_options.h"
#include "hp_score.h"
#include "hp_train.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int			LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			abort(); \
		} \
	} while (0)

/*
 * Known bugs: HP_FUZZ_IGNORE="id1,id2" makes the checks tagged with those
 * ids (printed as "[check-id id]" when they fail) skip the rest of the
 * input instead of aborting, so a long run can look for other bugs while a
 * reported one is being fixed.  CI never sets it.
 */
static inline bool
FuzzIgnored(const char *id)
{
	static const char *list;
	static bool init;
	const char *p;
	size_t		n = strlen(id);

	if (!init)
	{
		list = getenv("HP_FUZZ_IGNORE");
		init = true;
	}
	for (p = list; p && (p = strstr(p, id)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return true;
	return false;
}

/* Poison at most this many leading bytes of a block (keeps big blocks cheap). */
#define FUZZ_POISON_MAX 8192

/*
 * Blocks of FUZZ_BIG bytes or more bypass ASan's allocator: under ASan every
 * such allocation costs milliseconds of shadow poisoning, which would make a
 * core routine that allocates a large scratch block regardless of the data
 * size dominate the run.  They are mmap'ed with the block's end against a
 * PROT_NONE guard page (an overflow faults) and tracked, so a target can
 * check that none is left after an input (FuzzBigLive).
 */
#define FUZZ_BIG ((size_t) 8 << 20)
#define FUZZ_MAX_BIG 32

typedef struct FuzzBigBlock
{
	char	   *base;
	size_t		maplen;
	void	   *p;
} FuzzBigBlock;

static FuzzBigBlock fuzz_big[FUZZ_MAX_BIG];
static int	fuzz_nbig;

static inline void *
FuzzAllocBig(size_t size)
{
	size_t		pg = 4096,
				sz = (size + 15) & ~(size_t) 15,
				maplen = (sz + pg - 1) / pg * pg + pg;
	char	   *base = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
							MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (base == MAP_FAILED || mprotect(base + maplen - pg, pg, PROT_NONE) != 0)
	{
		fprintf(stderr, "fuzz: mmap of %zu bytes failed\n", size);
		abort();
	}
	fuzz_big[fuzz_nbig].base = base;
	fuzz_big[fuzz_nbig].maplen = maplen;
	fuzz_big[fuzz_nbig].p = base + maplen - pg - sz;
	return fuzz_big[fuzz_nbig++].p;
}

static inline int
FuzzBigLive(void)
{
	return fuzz_nbig;
}

static inline void *
FuzzAlloc(size_t size)
{
	void	   *p;

	if (size >= FUZZ_BIG && fuzz_nbig < FUZZ_MAX_BIG)
		p = FuzzAllocBig(size);
	else if ((p = malloc(size)) == NULL)
	{
		fprintf(stderr, "fuzz: out of memory (%zu bytes)\n", size);
		abort();
	}
	memset(p, 0xFF, size < FUZZ_POISON_MAX ? size : FUZZ_POISON_MAX);
	return p;
}

static inline void
FuzzRelease(void *p)
{
	for (int i = 0; i < fuzz_nbig; i++)
		if (fuzz_big[i].p == p)
		{
			munmap(fuzz_big[i].base, fuzz_big[i].maplen);
			fuzz_big[i] = fuzz_big[--fuzz_nbig];
			return;
		}
	free(p);
}

/* Common set-up: poisoning hooks, static checked BLAS, one BLAS thread. */
static inline void
FuzzSetup(void)
{
	hp_hooks.alloc = FuzzAlloc;
	hp_hooks.release = FuzzRelease;
	hp_hooks.interrupt = NULL;
	hp_blas_bind_static();
	if (hp_blas.set_num_threads)
		hp_blas.set_num_threads(1);
	FuzzBlasCheckInstall();		/* bounds checks on every BLAS call */
}

/* Input reader: bytes, then zeros once exhausted. */
typedef struct FuzzReader
{
	const uint8_t *p;
	size_t		left;
} FuzzReader;

static inline uint8_t
FuzzU8(FuzzReader *r)
{
	if (r->left == 0)
		return 0;
	r->left--;
	return *r->p++;
}

static inline uint64_t
FuzzU64(FuzzReader *r)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t) FuzzU8(r) << (8 * i);
	return v;
}

static inline uint32_t
FuzzU32(FuzzReader *r)
{
	uint32_t	v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t) FuzzU8(r) << (8 * i);
	return v;
}

/* Largest |value| over the tensors of a model (0 for none). */
static inline double
FuzzModelMaxAbs(const HpModel *m)
{
	double		mx = 0.0;

	for (uint32_t i = 0; i < m->ntensors; i++)
	{
		const HpTensor *t = &m->tensors[i];
		size_t		n = (size_t) t->rows * t->cols;

		for (size_t k = 0; k < n; k++)
		{
			double		v = t->dtype == HP_F32 ? fabs((double) ((const float *) t->data)[k])
				: fabs(((const double *) t->data)[k]);

			if (v > mx)
				mx = v;
		}
	}
	return mx;
}

/*
 * Scorer invariants.  A linear model scores a zero row as exactly 0 with
 * spread 0, prefers equal rows with probability 1/2 and flips them with
 * probability 1/2.  With bounded parameters, rewards are finite, flip
 * probabilities lie in [0, 1/2], and the reward alone (std NULL, a shortcut)
 * equals the reward computed with its std.  Other kinds must be refused
 * cleanly.
 */
static inline void
FuzzCheckScorer(const HpModel *m)
{
	HpScorer	s;
	HpError		err;
	HpStatus	rc;
	float	   *zero,
			   *ones;
	double		mean = NAN,
				sd = NAN;

	err.code = HP_OK;
	rc = hp_scorer_init(&s, m, &err);
	if (m->kind == HP_KIND_LINEAR)
		FUZZ_CHECK(rc == HP_OK, "scorer refused a valid linear model: %s", err.msg);
	else if (m->kind != HP_KIND_MLP)
		FUZZ_CHECK(rc != HP_OK, "scorer accepted a model of kind %u", m->kind);
	if (rc != HP_OK)
	{
		FUZZ_CHECK(err.code == rc && err.msg[0] != '\0', "scorer error without message");
		return;
	}
	zero = calloc(m->dim, sizeof(float));
	ones = malloc(sizeof(float) * m->dim);
	for (uint32_t j = 0; j < m->dim; j++)
		ones[j] = (j % 2) ? -0.5f : 1.0f;

	hp_score_reward(&s, zero, &mean, &sd);
	if (m->kind == HP_KIND_LINEAR)
	{
		FUZZ_CHECK(mean == 0.0 && sd == 0.0, "linear reward of a zero row is %g +- %g", mean, sd);
		hp_score_prefer(&s, zero, zero, &mean, &sd);
		FUZZ_CHECK(mean == 0.5 && sd == 0.0, "linear preference of equal rows is %g +- %g", mean, sd);
		hp_score_reward(&s, ones, &mean, &sd);
		if (FuzzModelMaxAbs(m) * m->dim < 1e30)
			FUZZ_CHECK(isfinite(mean) && isfinite(sd), "linear reward not finite: %g +- %g", mean, sd);
		hp_score_prefer(&s, ones, zero, &mean, &sd);
		FUZZ_CHECK(!(mean < 0.0) && !(mean > 1.0), "preference probability %g", mean);
		FUZZ_CHECK(hp_score_flip(&s, zero, zero) == 0.5, "flip probability of equal rows is not 1/2");
		if (FuzzModelMaxAbs(m) * m->dim < 1e30)
		{
			double		full,
						alone = NAN,
						flip = hp_score_flip(&s, ones, zero);

			FUZZ_CHECK(flip >= 0.0 && flip <= 0.5, "flip probability %g", flip);
			/* The reward alone (std NULL) takes a shortcut: same value. */
			hp_score_reward(&s, ones, &full, &sd);
			hp_score_reward(&s, ones, &alone, NULL);
			FUZZ_CHECK(fabs(full - alone) <= 1e-5 * (fabs(full) + fabs(alone)) + 1e-30,
					   "reward with and without std differ: %.9g vs %.9g", full, alone);
		}
	}
	else
	{
		bool		small = FuzzModelMaxAbs(m) <= 1.0;

		FUZZ_CHECK(s.is_mlp && s.mlp.nlayers >= 1 && s.mlp.nlayers <= HP_MLP_MAX_LAYERS,
				   "MLP view with %d layers", s.mlp.nlayers);
		if (small)
			FUZZ_CHECK(isfinite(mean) && isfinite(sd),
					   "MLP reward of a zero row not finite (%g +- %g) with parameters in [-1,1]", mean, sd);
		hp_score_prefer(&s, ones, zero, &mean, &sd);
		if (small)
		{
			double		flip = hp_score_flip(&s, ones, zero),
						alone = NAN;

			FUZZ_CHECK(mean >= 0.0 && mean <= 1.0 && isfinite(sd),
					   "MLP preference %g +- %g with parameters in [-1,1]", mean, sd);
			FUZZ_CHECK(flip >= 0.0 && flip <= 0.5, "MLP flip probability %g", flip);
			FUZZ_CHECK(hp_score_flip(&s, zero, zero) == 0.5, "MLP flip probability of equal rows is not 1/2");
			hp_score_reward(&s, ones, &mean, &sd);
			hp_score_reward(&s, ones, &alone, NULL);
			FUZZ_CHECK(fabs(mean - alone) <= 1e-5 * (fabs(mean) + fabs(alone)) + 1e-30,
					   "MLP reward with and without std differ: %.9g vs %.9g", mean, alone);
		}
	}
	hp_scorer_free(&s);
	free(zero);
	free(ones);
}

/*
 * Warm start from a valid model (the init argument of the training
 * aggregates): a tiny training run with init = m must succeed or fail
 * cleanly (EINVAL/EDIM for an unusable init, EINTERNAL on divergence,
 * EDATA for a non-finite loss), and
 * a model it returns must decode.
 */
static inline void
FuzzCheckWarmStart(const HpModel *m)
{
	enum {N = 3};
	int			d = (int) m->dim;
	bool		mlp = m->kind == HP_KIND_MLP;
	float	   *X,
				p[N] = {1.0f, 0.0f, 0.5f};
	uint64_t	key[N] = {1, 2, 3};
	char		json[256];
	int			len;
	HpTrainOptions o;
	char	   *canon = NULL;
	HpModel		out;
	HpError		err;
	HpStatus	rc;

	if ((m->kind != HP_KIND_LINEAR && !mlp) || d > 64)
		return;
	if (mlp)
	{
		HpMlp		v;

		if (hp_mlp_view(m, &v, &err) != HP_OK || v.heads > 8)
			return;
		len = snprintf(json, sizeof(json), "{\"arch\":\"mlp\",\"epochs\":1,\"heads\":%d,\"hidden\":[", v.heads);
		for (int l = 0; l < v.nlayers; l++)
			len += snprintf(json + len, sizeof(json) - len, "%s%d", l ? "," : "", v.width[l] < 1 ? 1 : v.width[l]);
		snprintf(json + len, sizeof(json) - len, "]}");
	}
	else
		snprintf(json, sizeof(json), "{\"max_iter\":2,\"heads\":%u}", m->heads <= 8 ? m->heads : 2);
	FUZZ_CHECK(hp_train_options_parse(json, strlen(json), &o, &canon, &err) == HP_OK, "options %s: %s", json, err.msg);

	X = malloc(sizeof(float) * 2 * N * d);
	for (int k = 0; k < 2 * N * d; k++)
		X[k] = (float) ((k * 5) % 7 - 3) / 4.0f;
	memset(&err, 0, sizeof(err));
	if (mlp)
	{
		HpPairSet	ps = {N, d, X, X + N * d, p, key};

		rc = hp_mlp_train(&ps, &o, canon, m, &out, &err);
	}
	else
	{
		HpTrainSet	ts = {N, d, X, p, key};

		rc = hp_bt_train(&ts, &o, canon, m, &out, &err);
	}
	FUZZ_CHECK(rc == HP_OK || ((rc == HP_EINVAL || rc == HP_EDIM || rc == HP_EINTERNAL || rc == HP_EDATA) &&
							   err.msg[0]),
			   "warm start from a valid model returned %d (%s)", (int) rc, err.msg);
	if (rc == HP_OK)
	{
		size_t		sz = hp_model_binary_size(&out);
		unsigned char *buf = malloc(sz);
		HpModel		dec;

		hp_model_encode(&out, buf);
		rc = hp_model_decode(buf, sz, &dec, &err);
		if (!(rc != HP_OK && FuzzIgnored("train_readback")))
			FUZZ_CHECK(rc == HP_OK, "[check-id train_readback] warm-started model cannot be read back: %s", err.msg);
		if (rc == HP_OK)
			hp_model_free(&dec);
		free(buf);
		hp_model_free(&out);
	}
	free(X);
	hp_free(canon);
}

/*
 * Invariants of a model that decoded or parsed successfully:
 *   - it validates;
 *   - its encoding has hp_model_binary_size bytes, equals orig when given
 *     (binary round trip), decodes again and re-encodes identically;
 *   - its JSON text parses back to a model with the same encoding, whose
 *     text is the same (text round trip, checksum included);
 *   - the scorer accepts or refuses it cleanly.
 */
static inline void
FuzzCheckModel(const HpModel *m, const unsigned char *orig, size_t origlen)
{
	HpError		err;
	HpModel		m2,
				m3;
	size_t		sz = hp_model_binary_size(m);
	unsigned char *buf,
			   *buf2;
	char	   *json,
			   *json2;
	HpStatus	rc;

	rc = hp_model_validate(m, &err);
	FUZZ_CHECK(rc == HP_OK, "valid model fails validation: %s", err.msg);

	buf = malloc(sz);
	hp_model_encode(m, buf);
	if (orig && (sz != origlen || memcmp(buf, orig, sz) != 0) && FuzzIgnored("binary_roundtrip"))
	{
		free(buf);
		return;
	}
	if (orig)
	{
		FUZZ_CHECK(sz == origlen, "[check-id binary_roundtrip] re-encoded size %zu differs from input size %zu",
				   sz, origlen);
		FUZZ_CHECK(memcmp(buf, orig, sz) == 0, "[check-id binary_roundtrip] binary round trip changed the bytes");
	}
	rc = hp_model_decode(buf, sz, &m2, &err);
	FUZZ_CHECK(rc == HP_OK, "encoded model does not decode: %s (%s)", err.msg, err.detail);
	FUZZ_CHECK(hp_model_binary_size(&m2) == sz, "size changed after decode");
	buf2 = malloc(sz);
	hp_model_encode(&m2, buf2);
	FUZZ_CHECK(memcmp(buf, buf2, sz) == 0, "encode(decode(encode(m))) differs");
	hp_model_free(&m2);

	json = hp_model_to_json(m);
	rc = hp_model_from_json(json, strlen(json), &m3, &err);
	if (rc == HP_OK && hp_model_binary_size(&m3) == sz)
		hp_model_encode(&m3, buf2);
	if ((rc != HP_OK || hp_model_binary_size(&m3) != sz || memcmp(buf, buf2, sz) != 0) &&
		FuzzIgnored("text_roundtrip"))
	{
		if (rc == HP_OK)
			hp_model_free(&m3);
		hp_free(json);
		free(buf);
		free(buf2);
		return;
	}
	FUZZ_CHECK(rc == HP_OK, "[check-id text_roundtrip] model text does not parse back: %s (%s)\n%s",
			   err.msg, err.detail, json);
	FUZZ_CHECK(hp_model_binary_size(&m3) == sz, "text round trip changed the size");
	FUZZ_CHECK(memcmp(buf, buf2, sz) == 0, "[check-id text_roundtrip] text round trip changed the model");
	FUZZ_CHECK(hp_model_stored_checksum(buf2, sz) == hp_model_stored_checksum(buf, sz),
			   "text round trip changed the checksum");
	json2 = hp_model_to_json(&m3);
	FUZZ_CHECK(strcmp(json, json2) == 0, "model text is not a fixed point:\n%s\n%s", json, json2);
	hp_free(json2);
	hp_model_free(&m3);
	hp_free(json);

	FuzzCheckScorer(m);
	free(buf);
	free(buf2);
}

#endif
