/*
 * options.c: training options from a JSON object.
 *
 * Options arrive from users as jsonb, so every mistake gets a message that
 * names the key and the accepted values; silently ignoring a misspelt key
 * would train a different model than the user asked for.
 */
#include "hp_options.h"
#include "hp_json.h"
#include "hp_model.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define VALID_OPTIONS "lambda, heads, seed, uncertainty, prior, max_iter, tol, arch, hidden, epochs, lr, batch_size"

/* Defaults documented in hp_options.h. */
void
hp_train_options_default(HpTrainOptions *o)
{
	memset(o, 0, sizeof(*o));
	o->lambda = 1e-3;
	o->heads = 8;
	o->seed = 0;
	o->uncertainty = HP_UNC_ENSEMBLE;
	o->anchored = true;
	o->max_iter = 100;
	o->tol = 1e-4;
	o->arch = HP_KIND_LINEAR;
	o->hidden[0] = 128;
	o->hidden[1] = 128;
	o->nhidden = 2;
	o->epochs = 50;
	o->lr = 1e-3;
	o->batch_size = 256;
}

/*
 * Integer option within [lo, hi].  An integral number written with a
 * fraction or exponent (8.0, 1e3) is accepted because JSON producers do
 * not always distinguish integers from floats.
 */
static HpStatus
GetInt(const HpJson *v, const char *key, int64_t lo, int64_t hi, int64_t *out, HpError *err)
{
	double		d;
	bool		inrange;

	if (v->type != HP_JSON_NUMBER)
		return hp_error(err, HP_EINVAL, "option \"%s\" must be an integer", key);
	if (hp_json_int64(v, out))
		inrange = *out >= lo && *out <= hi;
	else if (hp_json_is_integer(v) || !hp_json_double(v, &d))
		inrange = false;		/* beyond int64 or beyond double */
	else if (d != floor(d))
		return hp_error(err, HP_EINVAL, "option \"%s\" must be an integer", key);
	else if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
		inrange = false;
	else
	{
		*out = (int64_t) d;
		inrange = *out >= lo && *out <= hi;
	}
	if (!inrange)
		return hp_error(err, HP_EINVAL, "option \"%s\" must be between %" PRId64 " and %" PRId64,
						key, lo, hi);
	return HP_OK;
}

/* Finite number option. */
static HpStatus
GetNumber(const HpJson *v, const char *key, double *out, HpError *err)
{
	if (v->type != HP_JSON_NUMBER)
		return hp_error(err, HP_EINVAL, "option \"%s\" must be a number", key);
	if (!hp_json_double(v, out))
		return hp_error(err, HP_EINVAL, "option \"%s\" must be a finite number", key);
	return HP_OK;
}

/* "hidden": 1..4 layer widths. */
static HpStatus
GetHidden(const HpJson *v, HpTrainOptions *o, HpError *err)
{
	if (v->type != HP_JSON_ARRAY || v->len < 1 || v->len > 4)
		return hp_error(err, HP_EINVAL, "option \"hidden\" must be an array of 1 to 4 integers");
	for (uint32_t i = 0; i < v->len; i++)
	{
		int64_t		w;

		if (GetInt(&v->u.items[i], "hidden", 1, 4096, &w, err) != HP_OK)
		{
			if (v->u.items[i].type != HP_JSON_NUMBER)
				return hp_error(err, HP_EINVAL, "option \"hidden\" must be an array of 1 to 4 integers");
			return hp_error(err, HP_EINVAL, "option \"hidden\" layer widths must be integers between 1 and 4096");
		}
		o->hidden[i] = (int) w;
	}
	o->nhidden = (int) v->len;
	return HP_OK;
}

/* One of two string choices; returns 0 or 1 in *out. */
static HpStatus
GetChoice(const HpJson *v, const char *key, const char *a, const char *b, int *out, HpError *err)
{
	if (v->type == HP_JSON_STRING && strcmp(v->u.str, a) == 0)
		*out = 0;
	else if (v->type == HP_JSON_STRING && strcmp(v->u.str, b) == 0)
		*out = 1;
	else
		return hp_error(err, HP_EINVAL, "option \"%s\" must be \"%s\" or \"%s\"", key, a, b);
	return HP_OK;
}

/* The int-typed options and their ranges. */
static const struct
{
	const char *key;
	int64_t		lo;
	int64_t		hi;
	size_t		offset;
}			int_options[] =
{
	{"heads", 1, HP_MAX_HEADS, offsetof(HpTrainOptions, heads)},
	{"max_iter", 1, 10000, offsetof(HpTrainOptions, max_iter)},
	{"epochs", 1, 100000, offsetof(HpTrainOptions, epochs)},
	{"batch_size", 1, 1000000, offsetof(HpTrainOptions, batch_size)},
};

/* Apply one key/value pair over o. */
static HpStatus
ApplyOption(const char *key, const HpJson *v, HpTrainOptions *o, HpError *err)
{
	int64_t		i = 0;
	int			c = 0;
	HpStatus	rc;

	if (strcmp(key, "lambda") == 0)
	{
		o->lambda_auto = v->type == HP_JSON_STRING && strcmp(v->u.str, "auto") == 0;
		if (o->lambda_auto)
		{
			o->lambda = 1e-3;
			return HP_OK;
		}
		if (v->type == HP_JSON_STRING)
			return hp_error(err, HP_EINVAL, "option \"lambda\" must be a number or \"auto\"");
		if ((rc = GetNumber(v, key, &o->lambda, err)) == HP_OK && !(o->lambda >= 0))
			rc = hp_error(err, HP_EINVAL, "option \"lambda\" must be greater than or equal to 0");
		return rc;
	}
	if (strcmp(key, "tol") == 0)
	{
		if ((rc = GetNumber(v, key, &o->tol, err)) == HP_OK && !(o->tol > 0 && o->tol < 1))
			rc = hp_error(err, HP_EINVAL, "option \"tol\" must be greater than 0 and less than 1");
		return rc;
	}
	if (strcmp(key, "lr") == 0)
	{
		if ((rc = GetNumber(v, key, &o->lr, err)) == HP_OK && !(o->lr > 0))
			rc = hp_error(err, HP_EINVAL, "option \"lr\" must be greater than 0");
		return rc;
	}
	if (strcmp(key, "seed") == 0)
		return GetInt(v, key, INT64_MIN, INT64_MAX, &o->seed, err);
	if (strcmp(key, "uncertainty") == 0)
	{
		rc = GetChoice(v, key, "ensemble", "laplace", &c, err);
		o->uncertainty = c ? HP_UNC_LAPLACE : HP_UNC_ENSEMBLE;
		return rc;
	}
	if (strcmp(key, "prior") == 0)
	{
		rc = GetChoice(v, key, "anchored", "none", &c, err);
		o->anchored = (c == 0);
		return rc;
	}
	if (strcmp(key, "arch") == 0)
	{
		rc = GetChoice(v, key, "linear", "mlp", &c, err);
		o->arch = c ? HP_KIND_MLP : HP_KIND_LINEAR;
		return rc;
	}
	if (strcmp(key, "hidden") == 0)
		return GetHidden(v, o, err);
	if (strcmp(key, "heads") == 0)
		o->heads_given = true;	/* defaults differ by arch and uncertainty */
	for (size_t k = 0; k < sizeof(int_options) / sizeof(int_options[0]); k++)
		if (strcmp(key, int_options[k].key) == 0)
		{
			rc = GetInt(v, key, int_options[k].lo, int_options[k].hi, &i, err);
			if (rc == HP_OK)
				*(int *) ((char *) o + int_options[k].offset) = (int) i;
			return rc;
		}
	hp_error(err, HP_EINVAL, "unknown option \"%.64s\"", key);
	hp_error_detail(err, "Valid options are: " VALID_OPTIONS ".");
	return HP_EINVAL;
}

/* Canonical text of the effective options, keys in a fixed order. */
static char *
CanonicalOptions(const HpTrainOptions *o)
{
	HpBuf		b;

	hp_buf_init(&b);
	hp_buf_puts(&b, "{\"lambda\":");
	if (o->lambda_auto)
		hp_json_write_string(&b, "auto");
	else
		hp_json_write_double(&b, o->lambda);
	hp_buf_puts(&b, ",\"heads\":");
	hp_json_write_int64(&b, o->heads);
	hp_buf_puts(&b, ",\"seed\":");
	hp_json_write_int64(&b, o->seed);
	hp_buf_puts(&b, ",\"uncertainty\":");
	hp_json_write_string(&b, hp_uncertainty_name(o->uncertainty));
	hp_buf_puts(&b, ",\"prior\":");
	hp_json_write_string(&b, o->anchored ? "anchored" : "none");
	hp_buf_puts(&b, ",\"max_iter\":");
	hp_json_write_int64(&b, o->max_iter);
	hp_buf_puts(&b, ",\"tol\":");
	hp_json_write_double(&b, o->tol);
	hp_buf_puts(&b, ",\"arch\":");
	hp_json_write_string(&b, hp_model_kind_name(o->arch));
	hp_buf_puts(&b, ",\"hidden\":[");
	for (int i = 0; i < o->nhidden; i++)
	{
		if (i)
			hp_buf_putc(&b, ',');
		hp_json_write_int64(&b, o->hidden[i]);
	}
	hp_buf_puts(&b, "],\"epochs\":");
	hp_json_write_int64(&b, o->epochs);
	hp_buf_puts(&b, ",\"lr\":");
	hp_json_write_double(&b, o->lr);
	hp_buf_puts(&b, ",\"batch_size\":");
	hp_json_write_int64(&b, o->batch_size);
	hp_buf_putc(&b, '}');
	{
		/* Stored options use the sorted canonical form models require. */
		char	   *text = hp_buf_finish(&b, NULL);
		char	   *canon = NULL;

		if (hp_json_canonical(text, strlen(text), &canon, NULL) != HP_OK)
			canon = NULL;
		if (canon)
		{
			hp_free(text);
			return canon;
		}
		return text;
	}
}

/* See hp_options.h. */
HpStatus
hp_train_options_parse(const char *json, size_t len, HpTrainOptions *o,
					   char **canonical, HpError *err)
{
	HpJsonDoc  *doc = NULL;
	const HpJson *root;
	HpStatus	rc = HP_OK;

	hp_train_options_default(o);
	if (canonical)
		*canonical = NULL;
	if (json != NULL && len > 0)
	{
		if (hp_json_parse(json, len, &doc, err) != HP_OK)
		{
			if (err)
				snprintf(err->msg, sizeof(err->msg), "training options are not valid JSON");
			return HP_EINVAL;
		}
		root = hp_json_root(doc);
		if (root->type != HP_JSON_OBJECT)
			rc = hp_error(err, HP_EINVAL, "training options must be a JSON object");
		for (uint32_t i = 0; rc == HP_OK && i < root->len; i++)
			rc = ApplyOption(hp_json_key(root, i)->u.str, hp_json_value(root, i), o, err);
		hp_json_free(doc);
		if (rc != HP_OK)
		{
			hp_train_options_default(o);
			return rc;
		}
	}
	if (o->lambda_auto && o->arch != HP_KIND_LINEAR)
	{
		hp_train_options_default(o);
		return hp_error(err, HP_EINVAL, "option \"lambda\" \"auto\" is supported for linear models only");
	}
	/* The default ensemble size depends on what is being trained. */
	if (!o->heads_given)
		o->heads = o->uncertainty == HP_UNC_LAPLACE ? 1 : (o->arch == HP_KIND_MLP ? 20 : 8);
	if (canonical)
		*canonical = CanonicalOptions(o);
	return HP_OK;
}
