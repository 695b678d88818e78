/*
 * json.c: strict JSON parser (arena DOM) and writer helpers.
 *
 * Inputs may be hostile (fuzzed model texts), so every read is bounds
 * checked against the end pointer, nesting is capped so recursion is
 * bounded, and nothing is allocated from a count the input claims: node
 * arrays are sized from what was actually parsed.
 */
#include "hp_json.h"
#include "hp_model.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (64 * 1024)
#define STR_(x) #x
#define STR(x) STR_(x)

typedef struct Chunk
{
	struct Chunk *next;
	size_t		size;			/* usable bytes after the header */
	size_t		used;
} Chunk;

#define CHUNK_HDR ((sizeof(Chunk) + 15) & ~(size_t) 15)

struct HpJsonDoc
{
	Chunk	   *chunks;
	HpJson		root;
};

typedef struct Parser
{
	const char *start;
	const char *p;
	const char *end;
	HpJsonDoc  *doc;
	HpJson	   *stack;			/* values of the arrays/objects being built */
	size_t		nstack;
	size_t		capstack;
	int			depth;
	HpError    *err;
} Parser;

/* Bump allocation from the document arena (8-byte aligned). */
static void *
ArenaAlloc(HpJsonDoc *doc, size_t size)
{
	Chunk	   *c = doc->chunks;

	size = (size + 7) & ~(size_t) 7;
	if (c == NULL || c->size - c->used < size)
	{
		size_t		want = size > ARENA_CHUNK ? size : ARENA_CHUNK;

		c = hp_alloc(CHUNK_HDR + want);
		c->size = want;
		c->used = 0;
		c->next = doc->chunks;
		doc->chunks = c;
	}
	c->used += size;
	return (char *) c + CHUNK_HDR + c->used - size;
}

/* Record a syntax error at the current position; always returns false. */
static bool
SyntaxError(Parser *ps, const char *what)
{
	hp_error(ps->err, HP_EINVAL, "invalid JSON");
	hp_error_detail(ps->err, "%s at byte offset %zu.", what, (size_t) (ps->p - ps->start));
	return false;
}

/* Skip the four whitespace characters JSON allows. */
static void
SkipSpace(Parser *ps)
{
	while (ps->p < ps->end &&
		   (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

/* Push a finished value on the temporary stack, growing it by doubling. */
static void
StackPush(Parser *ps, const HpJson *v)
{
	if (ps->nstack == ps->capstack)
	{
		size_t		cap = ps->capstack ? ps->capstack * 2 : 64;
		HpJson	   *s = hp_alloc(cap * sizeof(HpJson));

		if (ps->nstack)
			memcpy(s, ps->stack, ps->nstack * sizeof(HpJson));
		hp_free(ps->stack);
		ps->stack = s;
		ps->capstack = cap;
	}
	ps->stack[ps->nstack++] = *v;
}

/* Move stack[base..] into the arena as the children of out. */
static bool
StackPop(Parser *ps, size_t base, HpJson *out, uint32_t count)
{
	size_t		n = ps->nstack - base;
	HpJson	   *items = ArenaAlloc(ps->doc, n * sizeof(HpJson));

	if (n)
		memcpy(items, ps->stack + base, n * sizeof(HpJson));
	ps->nstack = base;
	out->len = count;
	out->u.items = items;
	return true;
}

/* Value of one hex digit, or -1. */
static int
HexValue(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Read the 4 hex digits of a \u escape at p (bounds already checked). */
static int
Hex4(const char *p)
{
	int			v = 0;

	for (int i = 0; i < 4; i++)
	{
		int			h = HexValue(p[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* Length of the well-formed UTF-8 sequence at p, or 0 if it is not one. */
static int
Utf8Length(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80,
				hi = 0xBF;
	int			n;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
	{
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;			/* no overlong forms */
		else if (c == 0xED)
			hi = 0x9F;			/* no UTF-16 surrogates */
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;			/* nothing above U+10FFFF */
	}
	else
		return 0;
	if (end - p < n || p[1] < lo || p[1] > hi)
		return 0;
	for (int i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

/* Append code point cp as UTF-8 to out; returns bytes written. */
static int
PutUtf8(char *out, uint32_t cp)
{
	if (cp < 0x80)
	{
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800)
	{
		out[0] = (char) (0xC0 | (cp >> 6));
		out[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000)
	{
		out[0] = (char) (0xE0 | (cp >> 12));
		out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | (cp >> 18));
	out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/* Decode the \u escape(s) at ps->p (just after the backslash-u). */
static bool
ParseUnicodeEscape(Parser *ps, uint32_t *cp)
{
	int			hi,
				lo;

	if (ps->end - ps->p < 4 || (hi = Hex4(ps->p)) < 0)
		return SyntaxError(ps, "Invalid \\u escape");
	ps->p += 4;
	if (hi >= 0xDC00 && hi <= 0xDFFF)
		return SyntaxError(ps, "Unpaired UTF-16 low surrogate");
	if (hi >= 0xD800 && hi <= 0xDBFF)
	{
		if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
			(lo = Hex4(ps->p + 2)) < 0xDC00 || lo > 0xDFFF)
			return SyntaxError(ps, "Unpaired UTF-16 high surrogate");
		ps->p += 6;
		*cp = 0x10000 + (((uint32_t) hi - 0xD800) << 10) + ((uint32_t) lo - 0xDC00);
		return true;
	}
	if (hi == 0)
		return SyntaxError(ps, "\\u0000 is not allowed");
	*cp = (uint32_t) hi;
	return true;
}

/* Parse a string at ps->p (on the opening quote) into out. */
static bool
ParseString(Parser *ps, HpJson *out)
{
	const char *q = ps->p + 1;
	char	   *buf;
	size_t		n = 0;

	/* Find the closing quote first so the decoded copy is sized once. */
	while (q < ps->end && *q != '"')
		q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
	if (q >= ps->end)
		return SyntaxError(ps, "Unterminated string");
	if ((size_t) (q - ps->p) > UINT32_MAX)
		return SyntaxError(ps, "String too long");
	buf = ArenaAlloc(ps->doc, (size_t) (q - ps->p));
	ps->p++;
	while (ps->p < q)
	{
		unsigned char c = (unsigned char) *ps->p;

		if (c < 0x20)
			return SyntaxError(ps, "Unescaped control character in string");
		if (c == '\\')
		{
			char		e = ps->p[1];
			uint32_t	cp = 0;

			ps->p += 2;
			switch (e)
			{
				case '"':
				case '\\':
				case '/':
					buf[n++] = e;
					break;
				case 'b':
					buf[n++] = '\b';
					break;
				case 'f':
					buf[n++] = '\f';
					break;
				case 'n':
					buf[n++] = '\n';
					break;
				case 'r':
					buf[n++] = '\r';
					break;
				case 't':
					buf[n++] = '\t';
					break;
				case 'u':
					if (!ParseUnicodeEscape(ps, &cp))
						return false;
					n += PutUtf8(buf + n, cp);
					break;
				default:
					ps->p--;
					return SyntaxError(ps, "Invalid escape");
			}
			continue;
		}
		{
			int			k = Utf8Length((const unsigned char *) ps->p, (const unsigned char *) q);

			if (k == 0)
				return SyntaxError(ps, "Invalid UTF-8 in string");
			memcpy(buf + n, ps->p, k);
			n += k;
			ps->p += k;
		}
	}
	ps->p = q + 1;
	buf[n] = '\0';
	out->type = HP_JSON_STRING;
	out->len = (uint32_t) n;
	out->u.str = buf;
	return true;
}

/* Check the number grammar at ps->p and keep the token. */
static bool
ParseNumber(Parser *ps, HpJson *out)
{
	const char *s = ps->p;
	const char *p = s;
	char	   *tok;

	if (p < ps->end && *p == '-')
		p++;
	if (p < ps->end && *p == '0')
		p++;
	else if (p < ps->end && *p >= '1' && *p <= '9')
		while (p < ps->end && *p >= '0' && *p <= '9')
			p++;
	else
		return SyntaxError(ps, "Invalid number");
	if (p < ps->end && *p == '.')
	{
		if (++p >= ps->end || *p < '0' || *p > '9')
			return SyntaxError(ps, "Invalid number");
		while (p < ps->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < ps->end && (*p == 'e' || *p == 'E'))
	{
		p++;
		if (p < ps->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= ps->end || *p < '0' || *p > '9')
			return SyntaxError(ps, "Invalid number");
		while (p < ps->end && *p >= '0' && *p <= '9')
			p++;
	}
	if ((size_t) (p - s) > UINT32_MAX)
		return SyntaxError(ps, "Number too long");
	tok = ArenaAlloc(ps->doc, (size_t) (p - s) + 1);
	memcpy(tok, s, p - s);
	tok[p - s] = '\0';
	out->type = HP_JSON_NUMBER;
	out->len = (uint32_t) (p - s);
	out->u.str = tok;
	ps->p = p;
	return true;
}

/* Order of two string nodes by length then bytes (for duplicate checks). */
static int
CompareKeys(const void *a, const void *b)
{
	const HpJson *x = *(const HpJson *const *) a;
	const HpJson *y = *(const HpJson *const *) b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->u.str, y->u.str, x->len);
}

/* True when two keys of the object being built at stack[base..] are equal. */
static bool
HasDuplicateKey(Parser *ps, size_t base, size_t n)
{
	const HpJson **keys;
	bool		dup = false;

	if (n < 2)
		return false;
	keys = hp_alloc(n * sizeof(*keys));
	for (size_t i = 0; i < n; i++)
		keys[i] = &ps->stack[base + 2 * i];
	qsort(keys, n, sizeof(*keys), CompareKeys);
	for (size_t i = 1; i < n && !dup; i++)
		dup = CompareKeys(&keys[i - 1], &keys[i]) == 0;
	hp_free(keys);
	return dup;
}

static bool ParseValue(Parser *ps, HpJson *out);

/* Parse an array or object (ps->p on the opening bracket). */
static bool
ParseContainer(Parser *ps, HpJson *out, bool object)
{
	char		close = object ? '}' : ']';
	size_t		base = ps->nstack;
	size_t		count = 0;

	if (++ps->depth > HP_JSON_MAX_DEPTH)
		return SyntaxError(ps, "Nesting deeper than " STR(HP_JSON_MAX_DEPTH) " levels");
	ps->p++;
	SkipSpace(ps);
	if (ps->p < ps->end && *ps->p == close)
		ps->p++;
	else
		for (;;)
		{
			HpJson		v;

			if (object)
			{
				SkipSpace(ps);
				if (ps->p >= ps->end || *ps->p != '"')
					return SyntaxError(ps, ps->p >= ps->end ? "Unexpected end of input" : "Expected a string key");
				if (!ParseString(ps, &v))
					return false;
				StackPush(ps, &v);
				SkipSpace(ps);
				if (ps->p >= ps->end || *ps->p != ':')
					return SyntaxError(ps, ps->p >= ps->end ? "Unexpected end of input" : "Expected ':'");
				ps->p++;
			}
			if (!ParseValue(ps, &v))
				return false;
			StackPush(ps, &v);
			if (++count > UINT32_MAX)
				return SyntaxError(ps, "Too many elements");
			SkipSpace(ps);
			if (ps->p >= ps->end)
				return SyntaxError(ps, "Unexpected end of input");
			if (*ps->p == close)
			{
				ps->p++;
				break;
			}
			if (*ps->p != ',')
				return SyntaxError(ps, object ? "Expected ',' or '}'" : "Expected ',' or ']'");
			ps->p++;
		}
	if (object && HasDuplicateKey(ps, base, count))
	{
		ps->p--;
		return SyntaxError(ps, "Duplicate object key in the object ending");
	}
	ps->depth--;
	out->type = object ? HP_JSON_OBJECT : HP_JSON_ARRAY;
	return StackPop(ps, base, out, (uint32_t) count);
}

/* Match a literal keyword. */
static bool
ParseLiteral(Parser *ps, const char *word, HpJsonType type, HpJson *out)
{
	size_t		n = strlen(word);

	if ((size_t) (ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return SyntaxError(ps, "Unexpected character");
	ps->p += n;
	out->type = type;
	out->len = 0;
	out->u.str = NULL;
	return true;
}

/* Parse any value, skipping leading whitespace. */
static bool
ParseValue(Parser *ps, HpJson *out)
{
	SkipSpace(ps);
	if (ps->p >= ps->end)
		return SyntaxError(ps, "Unexpected end of input");
	switch (*ps->p)
	{
		case '{':
			return ParseContainer(ps, out, true);
		case '[':
			return ParseContainer(ps, out, false);
		case '"':
			return ParseString(ps, out);
		case 't':
			return ParseLiteral(ps, "true", HP_JSON_TRUE, out);
		case 'f':
			return ParseLiteral(ps, "false", HP_JSON_FALSE, out);
		case 'n':
			return ParseLiteral(ps, "null", HP_JSON_NULL, out);
		default:
			if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
				return ParseNumber(ps, out);
			return SyntaxError(ps, "Unexpected character");
	}
}

/* Parse a whole document; see hp_json.h. */
HpStatus
hp_json_parse(const char *text, size_t len, HpJsonDoc **doc, HpError *err)
{
	Parser		ps;
	bool		ok;

	memset(&ps, 0, sizeof(ps));
	if (text == NULL)
		text = "";				/* NULL + 0 is undefined behaviour */
	ps.start = ps.p = text;
	ps.end = text + len;
	ps.err = err;
	ps.doc = hp_alloc0(sizeof(HpJsonDoc));
	ok = ParseValue(&ps, &ps.doc->root);
	if (ok)
	{
		SkipSpace(&ps);
		if (ps.p != ps.end)
			ok = SyntaxError(&ps, "Unexpected characters after the value");
	}
	hp_free(ps.stack);
	if (!ok)
	{
		hp_json_free(ps.doc);
		*doc = NULL;
		return HP_EINVAL;
	}
	*doc = ps.doc;
	return HP_OK;
}

/* Root value of a parsed document. */
const HpJson *
hp_json_root(const HpJsonDoc *doc)
{
	return &doc->root;
}

/* Release a document and every node in it. */
void
hp_json_free(HpJsonDoc *doc)
{
	Chunk	   *c;

	if (doc == NULL)
		return;
	c = doc->chunks;
	while (c)
	{
		Chunk	   *next = c->next;

		hp_free(c);
		c = next;
	}
	hp_free(doc);
}

/* Linear member lookup: objects here have a handful of keys. */
const HpJson *
hp_json_get(const HpJson *v, const char *key)
{
	size_t		n = strlen(key);

	if (v == NULL || v->type != HP_JSON_OBJECT)
		return NULL;
	for (uint32_t i = 0; i < v->len; i++)
	{
		const HpJson *k = hp_json_key(v, i);

		if (k->len == n && memcmp(k->u.str, key, n) == 0)
			return hp_json_value(v, i);
	}
	return NULL;
}

/* An integer token has neither '.' nor an exponent. */
bool
hp_json_is_integer(const HpJson *v)
{
	return v && v->type == HP_JSON_NUMBER && strpbrk(v->u.str, ".eE") == NULL;
}

/* Exact conversion of an integer token, with overflow detection. */
bool
hp_json_int64(const HpJson *v, int64_t *out)
{
	const char *p;
	bool		neg;
	uint64_t	mag = 0,
				lim;

	if (!hp_json_is_integer(v))
		return false;
	p = v->u.str;
	neg = (*p == '-');
	if (neg)
		p++;
	lim = neg ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
	for (; *p; p++)
	{
		unsigned	d = (unsigned) (*p - '0');

		if (mag > (lim - d) / 10)
			return false;
		mag = mag * 10 + d;
	}
	/* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
	*out = neg ? (int64_t) (0 - mag) : (int64_t) mag;
	return true;
}

/* Double of a number token; false on overflow to infinity. */
bool
hp_json_double(const HpJson *v, double *out)
{
	char	   *end;
	double		d;

	if (v == NULL || v->type != HP_JSON_NUMBER)
		return false;
	d = strtod(v->u.str, &end);
	/* A short parse means a non-C LC_NUMERIC; refuse rather than misread. */
	if (end != v->u.str + v->len || isinf(d) || isnan(d))
		return false;
	*out = d;
	return true;
}

/* Float of a number token, rounded once (strtof) so f32 text is exact. */
bool
hp_json_float(const HpJson *v, float *out)
{
	char	   *end;
	float		f;

	if (v == NULL || v->type != HP_JSON_NUMBER)
		return false;
	f = strtof(v->u.str, &end);
	if (end != v->u.str + v->len || isinf(f) || isnan(f))
		return false;
	*out = f;
	return true;
}

/* Start an empty buffer (allocates lazily). */
void
hp_buf_init(HpBuf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* Make room for n more bytes plus the terminating NUL. */
static void
BufReserve(HpBuf *b, size_t n)
{
	size_t		need = b->len + n + 1;
	size_t		cap;
	char	   *d;

	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	d = hp_alloc(cap);
	if (b->len)
		memcpy(d, b->data, b->len);
	hp_free(b->data);
	b->data = d;
	b->cap = cap;
}

/* Append n bytes. */
void
hp_buf_append(HpBuf *b, const char *s, size_t n)
{
	BufReserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* Append a NUL-terminated string. */
void
hp_buf_puts(HpBuf *b, const char *s)
{
	hp_buf_append(b, s, strlen(s));
}

/* Append one character. */
void
hp_buf_putc(HpBuf *b, char c)
{
	hp_buf_append(b, &c, 1);
}

/* Give the text to the caller; the buffer is left empty. */
char *
hp_buf_finish(HpBuf *b, size_t *len)
{
	char	   *s;

	BufReserve(b, 0);
	b->data[b->len] = '\0';
	s = b->data;
	if (len)
		*len = b->len;
	hp_buf_init(b);
	return s;
}

/* Drop the buffer's contents. */
void
hp_buf_free(HpBuf *b)
{
	hp_free(b->data);
	hp_buf_init(b);
}

/* Quoted, escaped string; bytes >= 0x80 pass through as UTF-8. */
void
hp_json_write_string(HpBuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *run = p;

	hp_buf_putc(b, '"');
	for (; *p; p++)
	{
		char		esc[8];

		if (*p >= 0x20 && *p != '"' && *p != '\\')
			continue;
		hp_buf_append(b, (const char *) run, p - run);
		run = p + 1;
		switch (*p)
		{
			case '"':
				hp_buf_puts(b, "\\\"");
				break;
			case '\\':
				hp_buf_puts(b, "\\\\");
				break;
			case '\b':
				hp_buf_puts(b, "\\b");
				break;
			case '\f':
				hp_buf_puts(b, "\\f");
				break;
			case '\n':
				hp_buf_puts(b, "\\n");
				break;
			case '\r':
				hp_buf_puts(b, "\\r");
				break;
			case '\t':
				hp_buf_puts(b, "\\t");
				break;
			default:
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				hp_buf_puts(b, esc);
				break;
		}
	}
	hp_buf_append(b, (const char *) run, p - run);
	hp_buf_putc(b, '"');
}

/*
 * Shortest of %.6g..%.9g that reads back to the same float: as exact as
 * %.9g, but 0.1f prints as 0.1 rather than 0.100000001.
 */
void
hp_json_write_float(HpBuf *b, float f)
{
	char		s[32];

	if (f == 0.0f)
		f = 0.0f;				/* -0 would not survive jsonb's numeric */
	if (!isfinite(f))
	{
		hp_buf_puts(b, "null");
		return;
	}
	for (int prec = 6; prec <= 9; prec++)
	{
		float		back;

		snprintf(s, sizeof(s), "%.*g", prec, (double) f);
		back = strtof(s, NULL);
		if (memcmp(&back, &f, sizeof(f)) == 0)
			break;
	}
	hp_buf_puts(b, s);
}

/* Shortest of %.15g..%.17g that reads back to the same double. */
void
hp_json_write_double(HpBuf *b, double d)
{
	char		s[40];

	if (d == 0.0)
		d = 0.0;				/* -0 would not survive jsonb's numeric */
	if (!isfinite(d))
	{
		hp_buf_puts(b, "null");
		return;
	}
	for (int prec = 15; prec <= 17; prec++)
	{
		double		back;

		snprintf(s, sizeof(s), "%.*g", prec, d);
		back = strtod(s, NULL);
		if (memcmp(&back, &d, sizeof(d)) == 0)
			break;
	}
	hp_buf_puts(b, s);
}

/* Decimal int64. */
void
hp_json_write_int64(HpBuf *b, int64_t v)
{
	char		s[24];

	snprintf(s, sizeof(s), "%" PRId64, v);
	hp_buf_puts(b, s);
}

/* Compact serialisation of a parsed value (number tokens kept verbatim). */
void
hp_json_write_value(HpBuf *b, const HpJson *v)
{
	switch (v->type)
	{
		case HP_JSON_NULL:
			hp_buf_puts(b, "null");
			break;
		case HP_JSON_FALSE:
			hp_buf_puts(b, "false");
			break;
		case HP_JSON_TRUE:
			hp_buf_puts(b, "true");
			break;
		case HP_JSON_NUMBER:
			{
				/* Numbers by value, not by spelling: 1e-06 == 0.000001. */
				int64_t		iv;
				double		dv;

				if (hp_json_int64(v, &iv))
					hp_json_write_int64(b, iv);
				else if (hp_json_double(v, &dv))
					hp_json_write_double(b, dv);
				else
					hp_buf_append(b, v->u.str, v->len);
			}
			break;
		case HP_JSON_STRING:
			hp_json_write_string(b, v->u.str);
			break;
		case HP_JSON_ARRAY:
			hp_buf_putc(b, '[');
			for (uint32_t i = 0; i < v->len; i++)
			{
				if (i)
					hp_buf_putc(b, ',');
				hp_json_write_value(b, &v->u.items[i]);
			}
			hp_buf_putc(b, ']');
			break;
		case HP_JSON_OBJECT:
			{
				/*
				 * Members sorted by key, so documents that went through
				 * jsonb (which reorders keys) keep their canonical form.
				 */
				uint32_t   *ord = hp_alloc(sizeof(uint32_t) * (v->len ? v->len : 1));

				for (uint32_t i = 0; i < v->len; i++)
				{
					uint32_t	j = i;

					while (j > 0 && strcmp(hp_json_key(v, ord[j - 1])->u.str,
										   hp_json_key(v, i)->u.str) > 0)
					{
						ord[j] = ord[j - 1];
						j--;
					}
					ord[j] = i;
				}
				hp_buf_putc(b, '{');
				for (uint32_t i = 0; i < v->len; i++)
				{
					if (i)
						hp_buf_putc(b, ',');
					hp_json_write_string(b, hp_json_key(v, ord[i])->u.str);
					hp_buf_putc(b, ':');
					hp_json_write_value(b, hp_json_value(v, ord[i]));
				}
				hp_buf_putc(b, '}');
				hp_free(ord);
			}
			break;
	}
}

/* Parse and re-serialise compactly. */
HpStatus
hp_json_canonical(const char *text, size_t len, char **out, HpError *err)
{
	HpJsonDoc  *doc;
	HpBuf		b;

	if (hp_json_parse(text, len, &doc, err) != HP_OK)
		return err ? err->code : HP_EINVAL;
	hp_buf_init(&b);
	hp_json_write_value(&b, hp_json_root(doc));
	hp_json_free(doc);
	*out = hp_buf_finish(&b, NULL);
	return HP_OK;
}

/* Text name of an uncertainty method. */
const char *
hp_uncertainty_name(int unc)
{
	switch (unc)
	{
		case HP_UNC_ENSEMBLE:
			return "ensemble";
		case HP_UNC_LAPLACE:
			return "laplace";
	}
	return NULL;
}

/* Uncertainty method named name, or -1. */
int
hp_uncertainty_from_name(const char *name)
{
	if (strcmp(name, "ensemble") == 0)
		return HP_UNC_ENSEMBLE;
	if (strcmp(name, "laplace") == 0)
		return HP_UNC_LAPLACE;
	return -1;
}
