/*
 * hp_options.h: training options, parsed from a JSON object.
 * The glue hands jsonb over as text so that parsing is shared with fuzzing.
 */
#ifndef HP_OPTIONS_H
#define HP_OPTIONS_H

#include "hp_core.h"

typedef struct HpTrainOptions
{
	double		lambda;			/* L2 strength on mean loss; default 1e-3 */
	bool		lambda_auto;	/* "auto": lambda chosen by cross-validated
								 * log-loss (linear models only) */
	int			heads;			/* ensemble size; default 8 (1 with laplace) */
	bool		heads_given;	/* heads was set explicitly */
	int64_t		seed;			/* bootstrap seed; default 0 */
	int			uncertainty;	/* HP_UNC_ENSEMBLE or HP_UNC_LAPLACE */
	int			max_iter;		/* Newton iterations; default 100 */
	double		tol;			/* relative gradient-norm tolerance; default 1e-6 */
	int			arch;			/* HP_KIND_LINEAR or HP_KIND_MLP */
	bool		anchored;		/* prior "anchored": heads regularised toward
								 * random anchors drawn from the prior */
	/* MLP (issue 3) */
	int			hidden[4];
	int			nhidden;
	int			epochs;
	double		lr;
	int			batch_size;
} HpTrainOptions;

/* Defaults for every option. */
void		hp_train_options_default(HpTrainOptions *o);

/*
 * Parse a JSON object of options over the defaults.  Unknown keys and
 * ill-typed or out-of-range values are HP_EINVAL with a message naming the
 * key (and listing the valid keys for an unknown one).  Writes the
 * canonical JSON of the effective options to *canonical (hook-allocated)
 * when canonical is not NULL.
 */
HpStatus	hp_train_options_parse(const char *json, size_t len, HpTrainOptions *o,
								   char **canonical, HpError *err);

#endif
