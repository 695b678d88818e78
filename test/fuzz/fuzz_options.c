/*
 * fuzz_options.c: libFuzzer target for hp_train_options_parse (the options
 * argument of the training aggregates).
 *
 * The whole input is the options text.  On success:
 *   - every option is within its documented range;
 *   - the canonical text is a fixed point of hp_json_canonical (models
 *     store it and hp_model_validate requires exactly that);
 *   - parsing the canonical text succeeds with the same options and the
 *     same canonical text;
 *   - parsing without asking for the canonical text gives the same options.
 * On failure: HP_EINVAL with a message, the options reset to the defaults
 * and no canonical text.
 */
#include "fuzz_common.h"
#include "hp_options.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FuzzSetup();
	return 0;
}

/* Options equal in every effective field (heads_given aside). */
static bool
SameOptions(const HpTrainOptions *a, const HpTrainOptions *b)
{
	if (memcmp(&a->lambda, &b->lambda, sizeof(double)) != 0 || a->heads != b->heads ||
		a->seed != b->seed || a->uncertainty != b->uncertainty || a->max_iter != b->max_iter ||
		memcmp(&a->tol, &b->tol, sizeof(double)) != 0 || a->arch != b->arch ||
		a->anchored != b->anchored || a->nhidden != b->nhidden || a->epochs != b->epochs ||
		memcmp(&a->lr, &b->lr, sizeof(double)) != 0 || a->batch_size != b->batch_size)
		return false;
	for (int i = 0; i < a->nhidden; i++)
		if (a->hidden[i] != b->hidden[i])
			return false;
	return true;
}

/* Same as SameOptions but -0.0 and 0.0 count as equal (canonical JSON folds them). */
static bool
SameValues(const HpTrainOptions *a, const HpTrainOptions *b)
{
	HpTrainOptions x = *a,
				y = *b;

	if (x.lambda == 0.0)
		x.lambda = 0.0;
	if (y.lambda == 0.0)
		y.lambda = 0.0;
	return SameOptions(&x, &y);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size ? size : 1);
	char	   *canon = (char *) 1,
			   *canon2 = NULL,
			   *canon3 = NULL;
	HpTrainOptions o,
				o2,
				o3,
				def;
	HpError		err;
	HpStatus	rc;

	if (size)
		memcpy(text, data, size);
	memset(&err, 0, sizeof(err));
	hp_train_options_default(&def);
	rc = hp_train_options_parse(text, size, &o, &canon, &err);
	if (rc != HP_OK)
	{
		FUZZ_CHECK(rc == HP_EINVAL && err.code == HP_EINVAL, "parse returned %d", (int) rc);
		FUZZ_CHECK(err.msg[0] != '\0', "error without a message");
		FUZZ_CHECK(canon == NULL, "canonical text set on failure");
		FUZZ_CHECK(SameOptions(&o, &def), "options not reset to defaults on failure");
		free(text);
		return 0;
	}

	FUZZ_CHECK(canon != NULL && canon[0] == '{', "no canonical text");
	FUZZ_CHECK(isfinite(o.lambda) && o.lambda >= 0, "lambda %g", o.lambda);
	FUZZ_CHECK(o.heads >= 1 && o.heads <= HP_MAX_HEADS, "heads %d", o.heads);
	FUZZ_CHECK(o.uncertainty == HP_UNC_ENSEMBLE || o.uncertainty == HP_UNC_LAPLACE, "uncertainty %d", o.uncertainty);
	FUZZ_CHECK(o.max_iter >= 1 && o.max_iter <= 10000, "max_iter %d", o.max_iter);
	FUZZ_CHECK(o.tol > 0 && o.tol < 1, "tol %g", o.tol);
	FUZZ_CHECK(o.arch == HP_KIND_LINEAR || o.arch == HP_KIND_MLP, "arch %d", o.arch);
	FUZZ_CHECK(o.nhidden >= 1 && o.nhidden <= 4, "nhidden %d", o.nhidden);
	for (int i = 0; i < o.nhidden; i++)
		FUZZ_CHECK(o.hidden[i] >= 1 && o.hidden[i] <= 4096, "hidden[%d] %d", i, o.hidden[i]);
	FUZZ_CHECK(o.epochs >= 1 && o.epochs <= 100000, "epochs %d", o.epochs);
	FUZZ_CHECK(isfinite(o.lr) && o.lr > 0, "lr %g", o.lr);
	FUZZ_CHECK(o.batch_size >= 1 && o.batch_size <= 1000000, "batch_size %d", o.batch_size);

	/* The stored form must be canonical JSON. */
	rc = hp_json_canonical(canon, strlen(canon), &canon3, &err);
	FUZZ_CHECK(rc == HP_OK, "canonical options are not JSON: %s\n%s", err.msg, canon);
	FUZZ_CHECK(strcmp(canon, canon3) == 0, "canonical options are not canonical:\n%s\n%s", canon, canon3);
	hp_free(canon3);

	/* Canonical text parses to the same options and itself. */
	rc = hp_train_options_parse(canon, strlen(canon), &o2, &canon2, &err);
	FUZZ_CHECK(rc == HP_OK, "canonical options do not parse: %s\n%s", err.msg, canon);
	FUZZ_CHECK(SameValues(&o, &o2), "canonical options parse to other values:\n%s", canon);
	FUZZ_CHECK(strcmp(canon, canon2) == 0, "canonical form not stable:\n%s\n%s", canon, canon2);
	hp_free(canon2);

	/* canonical == NULL is allowed and changes nothing else. */
	rc = hp_train_options_parse(text, size, &o3, NULL, &err);
	FUZZ_CHECK(rc == HP_OK && SameOptions(&o, &o3), "parse without canonical output differs");

	hp_free(canon);
	free(text);
	return 0;
}
