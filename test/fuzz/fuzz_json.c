/*
 * fuzz_json.c: libFuzzer target for the strict JSON reader and writer
 * (src/core/hp_json.h), which every model text and options value goes
 * through.
 *
 * The whole input is the text.  On success:
 *   - the DOM is well formed: strings have len == strlen (no NUL) and are
 *     valid UTF-8 (re-parse of their written form gives them back), object
 *     keys are distinct and hp_json_get finds each member, number accessors
 *     agree (an int64 is an integer token; a float that converts implies
 *     a finite double does too);
 *   - hp_json_canonical succeeds, its output parses, and is a fixed point
 *     (canonical(canonical(x)) == canonical(x)).
 * On failure: HP_EINVAL with a message and no document.
 */
#include "fuzz_common.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FuzzSetup();
	return 0;
}

/* A string survives hp_json_write_string + parse unchanged. */
static void
CheckStringRoundTrip(const HpJson *s)
{
	HpBuf		b;
	HpJsonDoc  *doc;
	HpError		err;
	const HpJson *v;

	hp_buf_init(&b);
	hp_json_write_string(&b, s->u.str);
	FUZZ_CHECK(hp_json_parse(b.data, b.len, &doc, &err) == HP_OK, "written string does not parse: %s", b.data);
	v = hp_json_root(doc);
	FUZZ_CHECK(v->type == HP_JSON_STRING && v->len == s->len && memcmp(v->u.str, s->u.str, s->len) == 0,
			   "string changed in a write/parse round trip");
	hp_json_free(doc);
	hp_buf_free(&b);
}

static void
CheckValue(const HpJson *v, int depth)
{
	FUZZ_CHECK(depth <= HP_JSON_MAX_DEPTH + 1, "DOM deeper than the limit");
	switch (v->type)
	{
		case HP_JSON_NULL:
		case HP_JSON_TRUE:
		case HP_JSON_FALSE:
			break;
		case HP_JSON_STRING:
			FUZZ_CHECK(strlen(v->u.str) == v->len, "string length %u but strlen %zu", v->len, strlen(v->u.str));
			CheckStringRoundTrip(v);
			break;
		case HP_JSON_NUMBER:
			{
				int64_t		i;
				double		d;
				float		f;

				FUZZ_CHECK(strlen(v->u.str) == v->len && v->len > 0, "number token length");
				if (hp_json_int64(v, &i))
					FUZZ_CHECK(hp_json_is_integer(v), "int64 from a non-integer token %s", v->u.str);
				if (hp_json_double(v, &d))
					FUZZ_CHECK(isfinite(d), "non-finite double from %s", v->u.str);
				if (hp_json_float(v, &f))
				{
					FUZZ_CHECK(isfinite(f), "non-finite float from %s", v->u.str);
					FUZZ_CHECK(hp_json_double(v, &d), "%s is a float but not a double", v->u.str);
				}
			}
			break;
		case HP_JSON_ARRAY:
			for (uint32_t k = 0; k < v->len; k++)
				CheckValue(&v->u.items[k], depth + 1);
			break;
		case HP_JSON_OBJECT:
			for (uint32_t k = 0; k < v->len; k++)
			{
				const HpJson *key = hp_json_key(v, k);

				FUZZ_CHECK(key->type == HP_JSON_STRING, "object key is not a string");
				CheckValue(key, depth + 1);
				FUZZ_CHECK(hp_json_get(v, key->u.str) == hp_json_value(v, k),
						   "hp_json_get does not find member %u", k);
				CheckValue(hp_json_value(v, k), depth + 1);
			}
			break;
		default:
			FUZZ_CHECK(0, "unknown node type %u", v->type);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size ? size : 1);
	HpJsonDoc  *doc = (HpJsonDoc *) 1;
	HpError		err;
	HpStatus	rc;
	char	   *c1 = NULL,
			   *c2 = NULL;

	if (size)
		memcpy(text, data, size);
	memset(&err, 0, sizeof(err));
	rc = hp_json_parse(text, size, &doc, &err);
	if (rc != HP_OK)
	{
		FUZZ_CHECK(rc == HP_EINVAL && err.code == HP_EINVAL && err.msg[0], "parse returned %d", (int) rc);
		FUZZ_CHECK(doc == NULL, "document set on failure");
		FUZZ_CHECK(hp_json_canonical(text, size, &c1, &err) == HP_EINVAL, "canonical accepts what parse refuses");
		free(text);
		return 0;
	}
	CheckValue(hp_json_root(doc), 0);
	hp_json_free(doc);

	rc = hp_json_canonical(text, size, &c1, &err);
	FUZZ_CHECK(rc == HP_OK, "canonical fails on valid JSON: %s", err.msg);
	rc = hp_json_canonical(c1, strlen(c1), &c2, &err);
	FUZZ_CHECK(rc == HP_OK, "canonical text does not parse: %s\n%s", err.msg, c1);
	FUZZ_CHECK(strcmp(c1, c2) == 0, "canonical form is not a fixed point:\n%s\n%s", c1, c2);
	hp_free(c1);
	hp_free(c2);
	free(text);
	return 0;
}
