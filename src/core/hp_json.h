/*
 * hp_json.h: a small, strict JSON reader and writer for the core.
 *
 * The reader builds a read-only DOM in one arena so that a document is
 * released with a single call, whatever error path was taken.  It rejects
 * anything RFC 8259 does not allow (plus duplicate keys, \u0000 and nesting
 * deeper than HP_JSON_MAX_DEPTH) because its inputs are serialised models
 * and user options, where leniency would only hide mistakes.
 *
 * Numbers keep their raw token: integers convert exactly, floats are
 * converted with strtof/strtod after the grammar has been checked here, so
 * the only locale assumption is LC_NUMERIC=C (always true in a backend).
 */
#ifndef HP_JSON_H
#define HP_JSON_H

#include "hp_core.h"

#define HP_JSON_MAX_DEPTH 64

typedef enum HpJsonType
{
	HP_JSON_NULL,
	HP_JSON_FALSE,
	HP_JSON_TRUE,
	HP_JSON_NUMBER,
	HP_JSON_STRING,
	HP_JSON_ARRAY,
	HP_JSON_OBJECT
} HpJsonType;

typedef struct HpJson HpJson;

struct HpJson
{
	uint32_t	type;			/* HpJsonType */
	uint32_t	len;			/* bytes of str, or elements / members */
	union
	{
		const char *str;		/* STRING (UTF-8) or NUMBER token, NUL-ended */
		const HpJson *items;	/* ARRAY: len values; OBJECT: 2*len, key then value */
	}			u;
};

typedef struct HpJsonDoc HpJsonDoc;

/*
 * Parse text[0..len) (need not be NUL-terminated).  On success *doc owns
 * every node; on failure *doc is NULL and err says where parsing stopped.
 * Syntax errors are HP_EINVAL.
 */
HpStatus	hp_json_parse(const char *text, size_t len, HpJsonDoc **doc, HpError *err);
const HpJson *hp_json_root(const HpJsonDoc *doc);
void		hp_json_free(HpJsonDoc *doc);

/* Member lookup in an object, or NULL (also when v is not an object). */
const HpJson *hp_json_get(const HpJson *v, const char *key);

/* Key and value of member i of an object. */
static inline const HpJson *
hp_json_key(const HpJson *obj, uint32_t i)
{
	return &obj->u.items[2 * (size_t) i];
}

static inline const HpJson *
hp_json_value(const HpJson *obj, uint32_t i)
{
	return &obj->u.items[2 * (size_t) i + 1];
}

/* True when v is a number token without fraction or exponent. */
bool		hp_json_is_integer(const HpJson *v);
/* Exact int64 of an integer token; false if not one or out of range. */
bool		hp_json_int64(const HpJson *v, int64_t *out);
/* Nearest double / float; false if not a number or it overflows. */
bool		hp_json_double(const HpJson *v, double *out);
bool		hp_json_float(const HpJson *v, float *out);

/* Growable output buffer, allocated through the core hooks. */
typedef struct HpBuf
{
	char	   *data;			/* always NUL-terminated once non-NULL */
	size_t		len;
	size_t		cap;
} HpBuf;

void		hp_buf_init(HpBuf *b);
void		hp_buf_append(HpBuf *b, const char *s, size_t n);
void		hp_buf_puts(HpBuf *b, const char *s);
void		hp_buf_putc(HpBuf *b, char c);
/* Hand the text over to the caller (hook-allocated, never NULL). */
char	   *hp_buf_finish(HpBuf *b, size_t *len);
void		hp_buf_free(HpBuf *b);

/* Writers of JSON scalars; non-finite numbers are written as null. */
void		hp_json_write_string(HpBuf *b, const char *s);
void		hp_json_write_float(HpBuf *b, float f);
void		hp_json_write_double(HpBuf *b, double d);
void		hp_json_write_int64(HpBuf *b, int64_t v);
/* Compact canonical form of a parsed value (members in document order). */
void		hp_json_write_value(HpBuf *b, const HpJson *v);

/*
 * Parse text and return its compact canonical form (hook-allocated).  Two
 * texts with the same canonical form differ only in whitespace and escapes.
 */
HpStatus	hp_json_canonical(const char *text, size_t len, char **out, HpError *err);

/* Names of HpUncertainty values in the text forms, or NULL / -1. */
const char *hp_uncertainty_name(int unc);
int			hp_uncertainty_from_name(const char *name);

#endif
