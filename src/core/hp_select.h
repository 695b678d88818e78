/*
 * hp_select.h: choosing the response pair worth annotating for one prompt
 * (ActiveUltraFeedback's acquisition functions).
 *
 * Every method sees the candidates in canonical order (sorted by id) and
 * draws from a generator seeded by the user's seed and the group's ids, so
 * the pair depends only on the candidate set and the seed, never on the
 * order rows arrived in or on the plan.
 */
#ifndef HP_SELECT_H
#define HP_SELECT_H

#include "hp_core.h"

typedef enum HpSelectMethod
{
	HP_SEL_RANDOM = 0,
	HP_SEL_ULTRAFEEDBACK,
	HP_SEL_MAXMIN,
	HP_SEL_INFOMAX,
	HP_SEL_DTS,
	HP_SEL_DRTS,
	HP_SEL_DELTAUCB,
	HP_SEL_MAXMINLCB,
	HP_SEL_NMETHODS
} HpSelectMethod;

typedef struct HpCandidate
{
	int64_t		id;
	double		mu;				/* predicted reward, or judge score */
	double		sigma;			/* epistemic std (0 for judge scores) */
} HpCandidate;

/* Method by name; by_score limits the choice to methods that need no model. */
HpStatus	hp_select_method(const char *name, bool by_score, HpSelectMethod *m, HpError *err);

/* Comma-separated list of valid method names (for error messages). */
const char *hp_select_method_names(bool by_score);

/*
 * Pick {first, second} among n candidates (n >= 2), first being the one
 * with the higher mu.  Sorts c by id in place; duplicate ids are HP_EINVAL.
 */
HpStatus	hp_select_pair(HpCandidate *c, int n, HpSelectMethod method, double beta,
						   int64_t seed, int64_t out[2], HpError *err);

#endif
