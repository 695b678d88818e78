/*
 * model.c: the hp.model value: binary encoding, validation and text form.
 *
 * Stored models outlive the code that wrote them and may come from a dump,
 * a replica or a hand-edited text, so decoding trusts nothing: every count
 * is checked against the bytes actually present before anything is
 * allocated, and the checksum makes silent edits visible.
 */
#include "hp_model.h"
#include "hp_json.h"
#include "hp_rng.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Bytes of the fixed fields after the header, up to options_len. */
#define FIXED_BYTES (4 * 4 + 2 * 8 + 2 * 8)
#define TENSOR_HDR_BYTES (HP_TENSOR_NAME_LEN + 4 + 4 + 4)

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_IS_LE 1
#else
#define HOST_IS_LE 0
#endif

/* Destination of the body encoding: a buffer, or only a running hash. */
typedef struct Sink
{
	unsigned char *buf;
	size_t		pos;
	uint64_t	hash;
} Sink;

/* Bounds-checked little-endian reader. */
typedef struct Reader
{
	const unsigned char *p;
	size_t		left;
} Reader;

/* Kind name used in the text forms. */
const char *
hp_model_kind_name(int kind)
{
	switch (kind)
	{
		case HP_KIND_LINEAR:
			return "linear";
		case HP_KIND_MLP:
			return "mlp";
		case HP_KIND_PPM:
			return "ppm";
	}
	return NULL;
}

/* Bytes per element of a dtype, 0 for an unknown one. */
static size_t
DtypeSize(int dtype)
{
	return dtype == HP_F32 ? 4 : dtype == HP_F64 ? 8 : 0;
}

/* A tensor name is 1..15 printable ASCII characters without spaces. */
static bool
ValidTensorName(const char *name, size_t len)
{
	if (len == 0 || len >= HP_TENSOR_NAME_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] <= 0x20 || name[i] >= 0x7f)
			return false;
	return true;
}

/*
 * Replace -0 by +0: JSON numbers that pass through PostgreSQL's numeric
 * (jsonb) lose the sign of zero, so only +0 survives every text form.
 */
static void
NormaliseZeros(HpTensor *t)
{
	size_t		n = (size_t) t->rows * t->cols;

	for (size_t i = 0; i < n; i++)
	{
		if (t->dtype == HP_F32 && ((float *) t->data)[i] == 0.0f)
			((float *) t->data)[i] = 0.0f;
		else if (t->dtype == HP_F64 && ((double *) t->data)[i] == 0.0)
			((double *) t->data)[i] = 0.0;
	}
}

/* Store a copy of data (or zeros when data is NULL) as a new tensor. */
HpTensor *
hp_model_add_tensor(HpModel *m, const char *name, HpDtype dtype,
					uint32_t rows, uint32_t cols, const void *data)
{
	size_t		len = strlen(name);
	size_t		esize = DtypeSize(dtype);
	uint64_t	n = (uint64_t) rows * cols;
	HpTensor   *t;

	if (m->ntensors >= HP_MAX_TENSORS || !ValidTensorName(name, len) || esize == 0 ||
		n > SIZE_MAX / esize || hp_model_tensor(m, name) != NULL)
		return NULL;
	/*
	 * Tensors are kept sorted by name: the binary form (and so the checksum)
	 * must not depend on the order a writer, or jsonb, listed them in.
	 */
	{
		uint32_t	pos = m->ntensors;

		while (pos > 0 && strcmp(m->tensors[pos - 1].name, name) > 0)
		{
			m->tensors[pos] = m->tensors[pos - 1];
			pos--;
		}
		t = &m->tensors[pos];
	}
	memset(t, 0, sizeof(*t));
	memcpy(t->name, name, len);
	t->dtype = (uint8_t) dtype;
	t->rows = rows;
	t->cols = cols;
	t->data = hp_alloc((size_t) n * esize);
	if (data)
	{
		memcpy(t->data, data, (size_t) n * esize);
		NormaliseZeros(t);
	}
	else
		memset(t->data, 0, (size_t) n * esize);
	m->ntensors++;
	return t;
}

/* Tensor lookup by name. */
const HpTensor *
hp_model_tensor(const HpModel *m, const char *name)
{
	for (uint32_t i = 0; i < m->ntensors && i < HP_MAX_TENSORS; i++)
		if (strncmp(m->tensors[i].name, name, HP_TENSOR_NAME_LEN) == 0)
			return &m->tensors[i];
	return NULL;
}

/* Options text of a model; a model built without options has none. */
static const char *
ModelOptions(const HpModel *m)
{
	return m->options ? m->options : "{}";
}

/* Element count of a tensor. */
static size_t
TensorCount(const HpTensor *t)
{
	return (size_t) t->rows * t->cols;
}

/* Kind-independent checks of one tensor. */
static HpStatus
ValidateTensor(const HpModel *m, uint32_t i, HpError *err)
{
	const HpTensor *t = &m->tensors[i];
	size_t		n = TensorCount(t);
	size_t		len = strnlen(t->name, HP_TENSOR_NAME_LEN);

	if (!ValidTensorName(t->name, len))
		return hp_error(err, HP_ECORRUPT, "hybridpref model has an invalid tensor name");
	if (DtypeSize(t->dtype) == 0)
		return hp_error(err, HP_ECORRUPT, "tensor \"%s\" has unknown dtype %u", t->name, t->dtype);
	if (n > 0 && t->data == NULL)
		return hp_error(err, HP_ECORRUPT, "tensor \"%s\" has no data", t->name);
	if (t->dtype == HP_F32 ? !hp_all_finite_f(t->data, n) : !hp_all_finite_d(t->data, n))
		return hp_error(err, HP_ECORRUPT, "tensor \"%s\" contains NaN or infinite values", t->name);
	for (uint32_t j = 0; j < i; j++)
		if (strncmp(m->tensors[j].name, t->name, HP_TENSOR_NAME_LEN) == 0)
			return hp_error(err, HP_ECORRUPT, "hybridpref model has two tensors named \"%s\"", t->name);
	/* Canonical forms only, so the text form always reads back (jsonb too). */
	if (i > 0 && strncmp(m->tensors[i - 1].name, t->name, HP_TENSOR_NAME_LEN) > 0)
		return hp_error(err, HP_ECORRUPT, "hybridpref model tensors are not sorted by name");
	for (size_t k = 0; k < n; k++)
	{
		bool		negzero = t->dtype == HP_F32
			? (((const float *) t->data)[k] == 0.0f && signbit(((const float *) t->data)[k]))
			: (((const double *) t->data)[k] == 0.0 && signbit(((const double *) t->data)[k]));

		if (negzero)
			return hp_error(err, HP_ECORRUPT, "tensor \"%s\" contains -0, which is not canonical", t->name);
	}
	return HP_OK;
}

/* A required tensor must exist with this dtype and shape. */
static HpStatus
RequireTensor(const HpModel *m, const char *name, int dtype, uint32_t rows, uint32_t cols,
			  const HpTensor **out, HpError *err)
{
	const HpTensor *t = hp_model_tensor(m, name);

	if (t == NULL)
		return hp_error(err, HP_ECORRUPT, "%s model lacks tensor \"%s\"",
						hp_model_kind_name(m->kind), name);
	if (t->dtype != dtype || t->rows != rows || t->cols != cols)
	{
		hp_error(err, HP_ECORRUPT, "tensor \"%s\" has the wrong type or shape", name);
		hp_error_detail(err, "Expected %s [%u,%u], found %s [%u,%u].",
						dtype == HP_F32 ? "f32" : "f64", rows, cols,
						t->dtype == HP_F32 ? "f32" : "f64", t->rows, t->cols);
		return HP_ECORRUPT;
	}
	*out = t;
	return HP_OK;
}

/* Invariants of a linear model: heads x dim weights, Laplace variances. */
static HpStatus
ValidateLinear(const HpModel *m, HpError *err)
{
	const HpTensor *t;

	if (RequireTensor(m, "w", HP_F32, m->heads, m->dim, &t, err) != HP_OK)
		return err ? err->code : HP_ECORRUPT;
	if (hp_model_tensor(m, "center") != NULL &&
		RequireTensor(m, "center", HP_F32, 1, m->dim, &t, err) != HP_OK)
		return err ? err->code : HP_ECORRUPT;
	if (m->uncertainty == HP_UNC_LAPLACE)
	{
		if (RequireTensor(m, "var", HP_F32, 1, m->dim, &t, err) != HP_OK)
			return err ? err->code : HP_ECORRUPT;
		for (uint32_t i = 0; i < m->dim; i++)
			if (!(((const float *) t->data)[i] >= 0.0f))
				return hp_error(err, HP_ECORRUPT, "tensor \"var\" has a negative variance");
	}
	return HP_OK;
}

/* See hp_model.h: the invariants every stored model satisfies. */
HpStatus
hp_model_validate(const HpModel *m, HpError *err)
{
	const char *opt = ModelOptions(m);
	char	   *canon;
	HpStatus	rc;

	if (hp_model_kind_name(m->kind) == NULL)
		return hp_error(err, HP_ECORRUPT, "hybridpref model has unknown kind %u", m->kind);
	if (m->dim < 1 || m->dim > HP_MAX_DIM)
	{
		hp_error(err, HP_ECORRUPT, "hybridpref model dimension %u is out of range", m->dim);
		hp_error_detail(err, "The dimension must be between 1 and %d.", HP_MAX_DIM);
		return HP_ECORRUPT;
	}
	if (m->heads < 1 || m->heads > HP_MAX_HEADS)
	{
		hp_error(err, HP_ECORRUPT, "hybridpref model head count %u is out of range", m->heads);
		hp_error_detail(err, "The head count must be between 1 and %d.", HP_MAX_HEADS);
		return HP_ECORRUPT;
	}
	if (hp_uncertainty_name(m->uncertainty) == NULL)
		return hp_error(err, HP_ECORRUPT, "hybridpref model has unknown uncertainty method %u", m->uncertainty);
	if (!isfinite(m->lambda) || m->lambda < 0 || !isfinite(m->loss) ||
		(m->lambda == 0 && signbit(m->lambda)) || (m->loss == 0 && signbit(m->loss)))
		return hp_error(err, HP_ECORRUPT, "hybridpref model has an invalid lambda or loss");
	if (m->rows < 0)
		return hp_error(err, HP_ECORRUPT, "hybridpref model has a negative row count");
	if (m->ntensors > HP_MAX_TENSORS)
		return hp_error(err, HP_ECORRUPT, "hybridpref model has more than %d tensors", HP_MAX_TENSORS);

	/* Options must be canonical so that text and binary forms agree. */
	if (opt[0] != '{')
		return hp_error(err, HP_ECORRUPT, "hybridpref model options are not a JSON object");
	if (hp_json_canonical(opt, strlen(opt), &canon, err) != HP_OK)
		return hp_error(err, HP_ECORRUPT, "hybridpref model options are not valid JSON");
	rc = strcmp(canon, opt) == 0 ? HP_OK : HP_ECORRUPT;
	hp_free(canon);
	if (rc != HP_OK)
		return hp_error(err, HP_ECORRUPT, "hybridpref model options are not in canonical form");

	for (uint32_t i = 0; i < m->ntensors; i++)
		if ((rc = ValidateTensor(m, i, err)) != HP_OK)
			return rc;
	if (m->kind == HP_KIND_LINEAR)
		return ValidateLinear(m, err);
	return HP_OK;
}

/* Serialised size; see the layout in hp_model.h. */
size_t
hp_model_binary_size(const HpModel *m)
{
	size_t		sz = HP_MODEL_HEADER_BYTES + FIXED_BYTES + 4 + strlen(ModelOptions(m)) + 4;

	for (uint32_t i = 0; i < m->ntensors; i++)
		sz += TENSOR_HDR_BYTES + TensorCount(&m->tensors[i]) * DtypeSize(m->tensors[i].dtype);
	return sz;
}

/* Emit n bytes to the sink. */
static void
PutBytes(Sink *s, const void *data, size_t n)
{
	if (s->buf)
		memcpy(s->buf + s->pos, data, n);
	else
		s->hash = hp_fnv1a64(data, n, s->hash);
	s->pos += n;
}

/* Emit an unsigned integer of nbytes in little-endian order. */
static void
PutLE(Sink *s, uint64_t v, int nbytes)
{
	unsigned char b[8];

	for (int i = 0; i < nbytes; i++)
		b[i] = (unsigned char) (v >> (8 * i));
	PutBytes(s, b, nbytes);
}

/* Emit a double by its IEEE bits. */
static void
PutF64(Sink *s, double d)
{
	uint64_t	u;

	memcpy(&u, &d, 8);
	PutLE(s, u, 8);
}

/* Emit tensor values little-endian; a straight copy on little-endian hosts. */
static void
PutTensorData(Sink *s, const HpTensor *t)
{
	size_t		n = TensorCount(t);
	size_t		esize = DtypeSize(t->dtype);

	if (HOST_IS_LE)
	{
		PutBytes(s, t->data, n * esize);
		return;
	}
	for (size_t i = 0; i < n; i++)
	{
		const unsigned char *src = (const unsigned char *) t->data + i * esize;
		uint32_t	u32;
		uint64_t	u64;

		if (esize == 4)
		{
			memcpy(&u32, src, 4);
			PutLE(s, u32, 4);
		}
		else
		{
			memcpy(&u64, src, 8);
			PutLE(s, u64, 8);
		}
	}
}

/* Everything from byte 16 on: the part the checksum covers. */
static void
PutBody(Sink *s, const HpModel *m)
{
	const char *opt = ModelOptions(m);
	size_t		optlen = strlen(opt);

	PutLE(s, m->dim, 4);
	PutLE(s, m->heads, 4);
	PutLE(s, m->uncertainty, 4);
	PutLE(s, 0, 4);
	PutF64(s, m->lambda == 0.0 ? 0.0 : m->lambda);	/* no -0, as for tensors */
	PutF64(s, m->loss == 0.0 ? 0.0 : m->loss);
	PutLE(s, (uint64_t) m->rows, 8);
	PutLE(s, (uint64_t) m->seed, 8);
	PutLE(s, optlen, 4);
	PutBytes(s, opt, optlen);
	PutLE(s, m->ntensors, 4);
	for (uint32_t i = 0; i < m->ntensors; i++)
	{
		const HpTensor *t = &m->tensors[i];
		char		name[HP_TENSOR_NAME_LEN] = {0};

		strncpy(name, t->name, HP_TENSOR_NAME_LEN - 1);
		PutBytes(s, name, HP_TENSOR_NAME_LEN);
		PutLE(s, t->dtype, 4);	/* dtype byte then three zero pad bytes */
		PutLE(s, t->rows, 4);
		PutLE(s, t->cols, 4);
		PutTensorData(s, t);
	}
}

/* FNV state after the version and kind bytes, which the checksum covers too. */
static uint64_t
HeaderHash(unsigned version, unsigned kind)
{
	unsigned char vk[4] = {version & 0xff, (version >> 8) & 0xff, kind & 0xff, (kind >> 8) & 0xff};

	return hp_fnv1a64(vk, 4, HP_FNV_OFFSET);
}

/* Checksum of m's binary form without building it. */
static uint64_t
ModelChecksum(const HpModel *m)
{
	Sink		s = {NULL, HP_MODEL_HEADER_BYTES, HeaderHash(HP_MODEL_FORMAT_VERSION, m->kind)};

	PutBody(&s, m);
	return s.hash;
}

/* Write the binary form; see hp_model.h. */
void
hp_model_encode(const HpModel *m, unsigned char *buf)
{
	Sink		s = {buf, 0, 0};

	PutBytes(&s, HP_MODEL_MAGIC, 4);
	PutLE(&s, HP_MODEL_FORMAT_VERSION, 2);
	PutLE(&s, m->kind, 2);
	PutLE(&s, 0, 8);
	PutBody(&s, m);
	s.pos = 8;
	PutLE(&s, hp_fnv1a64(buf + HP_MODEL_HEADER_BYTES, hp_model_binary_size(m) - HP_MODEL_HEADER_BYTES,
						 hp_fnv1a64(buf + 4, 4, HP_FNV_OFFSET)), 8);
}

/* Little-endian unsigned integer of nbytes at p. */
static uint64_t
LoadLE(const unsigned char *p, int nbytes)
{
	uint64_t	v = 0;

	for (int i = nbytes - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Checksum stored in an encoded value. */
uint64_t
hp_model_stored_checksum(const unsigned char *buf, size_t len)
{
	return len < HP_MODEL_HEADER_BYTES ? 0 : LoadLE(buf + 8, 8);
}

/* Consume n bytes, or report truncation. */
static const unsigned char *
Take(Reader *r, size_t n, HpError *err)
{
	const unsigned char *p = r->p;

	if (r->left < n)
	{
		hp_error(err, HP_ECORRUPT, "hybridpref model is truncated");
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

/* Read one tensor, checking its size against the bytes left first. */
static HpStatus
DecodeTensor(Reader *r, HpModel *m, HpError *err)
{
	const unsigned char *h = Take(r, TENSOR_HDR_BYTES, err);
	const unsigned char *d;
	HpTensor   *t = &m->tensors[m->ntensors];
	size_t		namelen,
				esize;
	uint64_t	n;

	if (h == NULL)
		return HP_ECORRUPT;
	namelen = strnlen((const char *) h, HP_TENSOR_NAME_LEN);
	if (!ValidTensorName((const char *) h, namelen))
		return hp_error(err, HP_ECORRUPT, "hybridpref model has an invalid tensor name");
	for (size_t i = namelen; i < HP_TENSOR_NAME_LEN; i++)
		if (h[i] != 0)
			return hp_error(err, HP_ECORRUPT, "hybridpref model has an invalid tensor name");
	esize = DtypeSize(h[HP_TENSOR_NAME_LEN]);
	if (esize == 0 || h[HP_TENSOR_NAME_LEN + 1] || h[HP_TENSOR_NAME_LEN + 2] || h[HP_TENSOR_NAME_LEN + 3])
		return hp_error(err, HP_ECORRUPT, "tensor \"%.*s\" has an invalid dtype", (int) namelen, (const char *) h);
	memset(t, 0, sizeof(*t));
	memcpy(t->name, h, namelen);
	t->dtype = h[HP_TENSOR_NAME_LEN];
	t->rows = (uint32_t) LoadLE(h + HP_TENSOR_NAME_LEN + 4, 4);
	t->cols = (uint32_t) LoadLE(h + HP_TENSOR_NAME_LEN + 8, 4);
	n = (uint64_t) t->rows * t->cols;
	/* Never allocate more than the value actually carries. */
	if (n > r->left / esize)
		return hp_error(err, HP_ECORRUPT, "hybridpref model is truncated");
	d = Take(r, (size_t) n * esize, err);
	t->data = hp_alloc((size_t) n * esize);
	m->ntensors++;
	if (HOST_IS_LE)
		memcpy(t->data, d, (size_t) n * esize);
	else
		for (size_t i = 0; i < n; i++)
		{
			uint64_t	u = LoadLE(d + i * esize, (int) esize);

			if (esize == 4)
			{
				uint32_t	u32 = (uint32_t) u;

				memcpy((unsigned char *) t->data + 4 * i, &u32, 4);
			}
			else
				memcpy((unsigned char *) t->data + 8 * i, &u, 8);
		}
	return HP_OK;
}

/* Header checks that come before the checksum (magic, version). */
static HpStatus
DecodeHeader(const unsigned char *buf, size_t len, HpModel *m, HpError *err)
{
	size_t		cmp = len < 4 ? len : 4;

	if (len == 0 || memcmp(buf, HP_MODEL_MAGIC, cmp) != 0)
	{
		hp_error(err, HP_ECORRUPT, "not a hybridpref model");
		hp_error_detail(err, "The value does not start with the bytes \"%s\".", HP_MODEL_MAGIC);
		return HP_ECORRUPT;
	}
	if (len < HP_MODEL_HEADER_BYTES + FIXED_BYTES + 8)
	{
		hp_error(err, HP_ECORRUPT, "hybridpref model is truncated");
		hp_error_detail(err, "The value has only %zu bytes.", len);
		return HP_ECORRUPT;
	}
	m->version = (uint16_t) LoadLE(buf + 4, 2);
	m->kind = (uint16_t) LoadLE(buf + 6, 2);
	if (m->version > HP_MODEL_FORMAT_VERSION)
	{
		hp_error(err, HP_ECORRUPT, "hybridpref model was written by a newer hybridpref");
		hp_error_detail(err, "Its format version is %u; this build reads versions up to %d.",
						m->version, HP_MODEL_FORMAT_VERSION);
		return HP_ECORRUPT;
	}
	if (m->version == 0)
		return hp_error(err, HP_ECORRUPT, "hybridpref model has invalid format version 0");
	if (hp_model_stored_checksum(buf, len) !=
		hp_fnv1a64(buf + HP_MODEL_HEADER_BYTES, len - HP_MODEL_HEADER_BYTES,
				   hp_fnv1a64(buf + 4, 4, HP_FNV_OFFSET)))
	{
		hp_error(err, HP_ECORRUPT, "model checksum mismatch");
		hp_error_detail(err, "The stored value is corrupted or was modified.");
		return HP_ECORRUPT;
	}
	return HP_OK;
}

/* Body fields after a verified header. */
static HpStatus
DecodeBody(Reader *r, HpModel *m, HpError *err)
{
	const unsigned char *p = Take(r, FIXED_BYTES + 4, err);
	uint64_t	u;
	uint32_t	optlen,
				ntensors;

	if (p == NULL)
		return HP_ECORRUPT;
	m->dim = (uint32_t) LoadLE(p, 4);
	m->heads = (uint32_t) LoadLE(p + 4, 4);
	m->uncertainty = (uint32_t) LoadLE(p + 8, 4);
	if (LoadLE(p + 12, 4) != 0)
		return hp_error(err, HP_ECORRUPT, "hybridpref model has a non-zero reserved field");
	u = LoadLE(p + 16, 8);
	memcpy(&m->lambda, &u, 8);
	u = LoadLE(p + 24, 8);
	memcpy(&m->loss, &u, 8);
	m->rows = (int64_t) LoadLE(p + 32, 8);
	m->seed = (int64_t) LoadLE(p + 40, 8);
	optlen = (uint32_t) LoadLE(p + 48, 4);
	if ((p = Take(r, optlen, err)) == NULL)
		return HP_ECORRUPT;
	if (memchr(p, '\0', optlen) != NULL)
		return hp_error(err, HP_ECORRUPT, "hybridpref model options contain a NUL byte");
	m->options = hp_alloc((size_t) optlen + 1);
	memcpy(m->options, p, optlen);
	m->options[optlen] = '\0';
	if ((p = Take(r, 4, err)) == NULL)
		return HP_ECORRUPT;
	ntensors = (uint32_t) LoadLE(p, 4);
	if (ntensors > HP_MAX_TENSORS)
		return hp_error(err, HP_ECORRUPT, "hybridpref model has %u tensors, more than %d",
						ntensors, HP_MAX_TENSORS);
	for (uint32_t i = 0; i < ntensors; i++)
		if (DecodeTensor(r, m, err) != HP_OK)
			return HP_ECORRUPT;
	if (r->left != 0)
		return hp_error(err, HP_ECORRUPT, "hybridpref model has %zu trailing bytes", r->left);
	return HP_OK;
}

/* Parse and validate a binary value; see hp_model.h. */
HpStatus
hp_model_decode(const unsigned char *buf, size_t len, HpModel *m, HpError *err)
{
	Reader		r;

	memset(m, 0, sizeof(*m));
	if (DecodeHeader(buf, len, m, err) != HP_OK)
		return HP_ECORRUPT;
	r.p = buf + HP_MODEL_HEADER_BYTES;
	r.left = len - HP_MODEL_HEADER_BYTES;
	if (DecodeBody(&r, m, err) != HP_OK || hp_model_validate(m, err) != HP_OK)
	{
		hp_model_free(m);
		return HP_ECORRUPT;
	}
	return HP_OK;
}

/* Release what decode, from_json or add_tensor allocated. */
void
hp_model_free(HpModel *m)
{
	for (uint32_t i = 0; i < m->ntensors && i < HP_MAX_TENSORS; i++)
	{
		hp_free(m->tensors[i].data);
		m->tensors[i].data = NULL;
	}
	m->ntensors = 0;
	hp_free(m->options);
	m->options = NULL;
}

/* Append "key": to a JSON object under construction. */
static void
PutKey(HpBuf *b, const char *key)
{
	hp_buf_putc(b, ',');
	hp_json_write_string(b, key);
	hp_buf_putc(b, ':');
}

/* Text form; see hp_model.h. */
char *
hp_model_to_json(const HpModel *m)
{
	HpBuf		b;
	char		hex[20];
	const char *unc = hp_uncertainty_name(m->uncertainty);
	const char *kind = hp_model_kind_name(m->kind);

	hp_buf_init(&b);
	hp_buf_puts(&b, "{\"format\":\"hybridpref.model\"");
	PutKey(&b, "version");
	hp_json_write_int64(&b, HP_MODEL_FORMAT_VERSION);
	PutKey(&b, "kind");
	hp_json_write_string(&b, kind ? kind : "?");
	PutKey(&b, "dim");
	hp_json_write_int64(&b, m->dim);
	PutKey(&b, "heads");
	hp_json_write_int64(&b, m->heads);
	PutKey(&b, "uncertainty");
	hp_json_write_string(&b, unc ? unc : "?");
	PutKey(&b, "lambda");
	hp_json_write_double(&b, m->lambda);
	PutKey(&b, "loss");
	hp_json_write_double(&b, m->loss);
	PutKey(&b, "rows");
	hp_json_write_int64(&b, m->rows);
	PutKey(&b, "seed");
	hp_json_write_int64(&b, m->seed);
	PutKey(&b, "options");
	hp_buf_puts(&b, ModelOptions(m));
	PutKey(&b, "tensors");
	hp_buf_putc(&b, '{');
	for (uint32_t i = 0; i < m->ntensors; i++)
	{
		const HpTensor *t = &m->tensors[i];
		char		name[HP_TENSOR_NAME_LEN] = {0};
		size_t		n = TensorCount(t);

		strncpy(name, t->name, HP_TENSOR_NAME_LEN - 1);
		if (i)
			hp_buf_putc(&b, ',');
		hp_json_write_string(&b, name);
		hp_buf_puts(&b, t->dtype == HP_F64 ? ":{\"dtype\":\"f64\",\"shape\":[" : ":{\"dtype\":\"f32\",\"shape\":[");
		hp_json_write_int64(&b, t->rows);
		hp_buf_putc(&b, ',');
		hp_json_write_int64(&b, t->cols);
		hp_buf_puts(&b, "],\"data\":[");
		for (size_t j = 0; j < n; j++)
		{
			if (j)
				hp_buf_putc(&b, ',');
			if (t->dtype == HP_F64)
				hp_json_write_double(&b, ((const double *) t->data)[j]);
			else
				hp_json_write_float(&b, ((const float *) t->data)[j]);
		}
		hp_buf_puts(&b, "]}");
	}
	hp_buf_putc(&b, '}');
	PutKey(&b, "checksum");
	snprintf(hex, sizeof(hex), "%016" PRIx64, ModelChecksum(m));
	hp_json_write_string(&b, hex);
	hp_buf_putc(&b, '}');
	return hp_buf_finish(&b, NULL);
}

/* Article and name of a JSON type, for messages. */
static const char *
TypeName(int type)
{
	switch (type)
	{
		case HP_JSON_STRING:
			return "a string";
		case HP_JSON_NUMBER:
			return "a number";
		case HP_JSON_ARRAY:
			return "an array";
		case HP_JSON_OBJECT:
			return "an object";
	}
	return "a value";
}

/* A required member of the given type, or NULL with err set. */
static const HpJson *
Field(const HpJson *obj, const char *key, int type, HpError *err)
{
	const HpJson *v = hp_json_get(obj, key);

	if (v == NULL)
		hp_error(err, HP_ECORRUPT, "hybridpref model text lacks field \"%s\"", key);
	else if ((int) v->type != type)
		hp_error(err, HP_ECORRUPT, "field \"%s\" of hybridpref model text must be %s", key, TypeName(type));
	else
		return v;
	return NULL;
}

/* A required integer member within [lo, hi]. */
static bool
IntField(const HpJson *obj, const char *key, int64_t lo, int64_t hi, int64_t *out, HpError *err)
{
	const HpJson *v = Field(obj, key, HP_JSON_NUMBER, err);

	if (v == NULL)
		return false;
	if (!hp_json_int64(v, out) || *out < lo || *out > hi)
	{
		hp_error(err, HP_ECORRUPT,
				 "field \"%s\" of hybridpref model text must be an integer between %" PRId64 " and %" PRId64,
				 key, lo, hi);
		return false;
	}
	return true;
}

/* A required finite number member. */
static bool
DoubleField(const HpJson *obj, const char *key, double *out, HpError *err)
{
	const HpJson *v = Field(obj, key, HP_JSON_NUMBER, err);

	if (v && !hp_json_double(v, out))
	{
		hp_error(err, HP_ECORRUPT, "field \"%s\" of hybridpref model text must be a finite number", key);
		return false;
	}
	return v != NULL;
}

/* Read one entry of "tensors": {"dtype":..,"shape":[r,c],"data":[..]}. */
static HpStatus
TensorFromJson(HpModel *m, const HpJson *key, const HpJson *v, HpError *err)
{
	const HpJson *dtype,
			   *shape,
			   *data;
	int64_t		rows,
				cols;
	int			dt;
	HpTensor   *t;

	if (!ValidTensorName(key->u.str, key->len))
		return hp_error(err, HP_ECORRUPT, "hybridpref model text has an invalid tensor name");
	if (v->type != HP_JSON_OBJECT || v->len != 3 ||
		(dtype = hp_json_get(v, "dtype")) == NULL || dtype->type != HP_JSON_STRING ||
		(shape = hp_json_get(v, "shape")) == NULL || shape->type != HP_JSON_ARRAY ||
		(data = hp_json_get(v, "data")) == NULL || data->type != HP_JSON_ARRAY)
	{
		hp_error(err, HP_ECORRUPT, "tensor \"%s\" of hybridpref model text is malformed", key->u.str);
		hp_error_detail(err, "A tensor is an object with exactly the fields \"dtype\", \"shape\" and \"data\".");
		return HP_ECORRUPT;
	}
	dt = strcmp(dtype->u.str, "f32") == 0 ? HP_F32 : strcmp(dtype->u.str, "f64") == 0 ? HP_F64 : 0;
	if (dt == 0)
		return hp_error(err, HP_ECORRUPT, "tensor \"%s\" has unknown dtype \"%s\"", key->u.str, dtype->u.str);
	if (shape->len != 2 ||
		!hp_json_int64(&shape->u.items[0], &rows) || rows < 0 || rows > UINT32_MAX ||
		!hp_json_int64(&shape->u.items[1], &cols) || cols < 0 || cols > UINT32_MAX)
		return hp_error(err, HP_ECORRUPT, "tensor \"%s\" has an invalid shape", key->u.str);
	/* The data array exists in memory, so its length bounds the allocation. */
	if ((uint64_t) rows * (uint64_t) cols != data->len)
	{
		hp_error(err, HP_ECORRUPT, "tensor \"%s\" has %u values for shape [%" PRId64 ",%" PRId64 "]",
				 key->u.str, data->len, rows, cols);
		return HP_ECORRUPT;
	}
	t = hp_model_add_tensor(m, key->u.str, dt, (uint32_t) rows, (uint32_t) cols, NULL);
	if (t == NULL)
		return hp_error(err, HP_ECORRUPT, "hybridpref model text has too many tensors");
	for (uint32_t i = 0; i < data->len; i++)
	{
		bool		ok = dt == HP_F32 ? hp_json_float(&data->u.items[i], (float *) t->data + i)
			: hp_json_double(&data->u.items[i], (double *) t->data + i);

		if (!ok)
			return hp_error(err, HP_ECORRUPT, "tensor \"%s\" value %u is not a finite %s number",
							key->u.str, i, dtype->u.str);
	}
	NormaliseZeros(t);
	return HP_OK;
}

/* Header fields (everything but options, tensors and checksum). */
static HpStatus
ScalarsFromJson(const HpJson *root, HpModel *m, HpError *err)
{
	static const char *const known[] = {"format", "version", "kind", "dim", "heads", "uncertainty",
	"lambda", "loss", "rows", "seed", "options", "tensors", "checksum"};
	const HpJson *v;
	int64_t		i;

	for (uint32_t k = 0; k < root->len; k++)
	{
		const char *key = hp_json_key(root, k)->u.str;
		bool		found = false;

		for (size_t j = 0; j < sizeof(known) / sizeof(known[0]) && !found; j++)
			found = strcmp(key, known[j]) == 0;
		if (!found)
			return hp_error(err, HP_ECORRUPT, "unknown field \"%s\" in hybridpref model text", key);
	}
	if ((v = Field(root, "version", HP_JSON_NUMBER, err)) == NULL)
		return HP_ECORRUPT;
	if (hp_json_int64(v, &i) && i > HP_MODEL_FORMAT_VERSION)
	{
		hp_error(err, HP_ECORRUPT, "hybridpref model was written by a newer hybridpref");
		hp_error_detail(err, "Its format version is %" PRId64 "; this build reads versions up to %d.",
						i, HP_MODEL_FORMAT_VERSION);
		return HP_ECORRUPT;
	}
	if (!IntField(root, "version", 1, HP_MODEL_FORMAT_VERSION, &i, err))
		return HP_ECORRUPT;
	m->version = (uint16_t) i;
	if ((v = Field(root, "kind", HP_JSON_STRING, err)) == NULL)
		return HP_ECORRUPT;
	for (int k = HP_KIND_LINEAR; k <= HP_KIND_PPM; k++)
		if (strcmp(v->u.str, hp_model_kind_name(k)) == 0)
			m->kind = (uint16_t) k;
	if (m->kind == 0)
		return hp_error(err, HP_ECORRUPT, "unknown model kind \"%s\"", v->u.str);
	if (!IntField(root, "dim", 1, HP_MAX_DIM, &i, err))
		return HP_ECORRUPT;
	m->dim = (uint32_t) i;
	if (!IntField(root, "heads", 1, HP_MAX_HEADS, &i, err))
		return HP_ECORRUPT;
	m->heads = (uint32_t) i;
	if ((v = Field(root, "uncertainty", HP_JSON_STRING, err)) == NULL)
		return HP_ECORRUPT;
	if ((i = hp_uncertainty_from_name(v->u.str)) < 0)
		return hp_error(err, HP_ECORRUPT, "unknown uncertainty method \"%s\"", v->u.str);
	m->uncertainty = (uint32_t) i;
	if (!DoubleField(root, "lambda", &m->lambda, err) || !DoubleField(root, "loss", &m->loss, err) ||
		!IntField(root, "rows", 0, INT64_MAX, &m->rows, err) ||
		!IntField(root, "seed", INT64_MIN, INT64_MAX, &m->seed, err))
		return HP_ECORRUPT;
	return HP_OK;
}

/* Everything but the header scalars, then the checksum and invariants. */
static HpStatus
ModelFromJsonRoot(const HpJson *root, HpModel *m, HpError *err)
{
	const HpJson *v,
			   *tensors,
			   *sum;
	HpBuf		b;
	uint64_t	want = 0;

	v = hp_json_get(root, "format");
	if (root->type != HP_JSON_OBJECT || v == NULL || v->type != HP_JSON_STRING ||
		strcmp(v->u.str, "hybridpref.model") != 0)
	{
		hp_error(err, HP_ECORRUPT, "not a hybridpref model");
		hp_error_detail(err, "The text is not a JSON object with \"format\":\"hybridpref.model\".");
		return HP_ECORRUPT;
	}
	if (ScalarsFromJson(root, m, err) != HP_OK ||
		(v = Field(root, "options", HP_JSON_OBJECT, err)) == NULL ||
		(tensors = Field(root, "tensors", HP_JSON_OBJECT, err)) == NULL ||
		(sum = Field(root, "checksum", HP_JSON_STRING, err)) == NULL)
		return HP_ECORRUPT;
	hp_buf_init(&b);
	hp_json_write_value(&b, v);
	m->options = hp_buf_finish(&b, NULL);
	if (tensors->len > HP_MAX_TENSORS)
		return hp_error(err, HP_ECORRUPT, "hybridpref model text has more than %d tensors", HP_MAX_TENSORS);
	for (uint32_t i = 0; i < tensors->len; i++)
		if (TensorFromJson(m, hp_json_key(tensors, i), hp_json_value(tensors, i), err) != HP_OK)
			return HP_ECORRUPT;
	for (uint32_t i = 0; i < 16; i++)
	{
		int			h = sum->len == 16 ? sum->u.str[i] : -1;

		h = (h >= '0' && h <= '9') ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : -1;
		if (h < 0)
			return hp_error(err, HP_ECORRUPT, "field \"checksum\" of hybridpref model text must be 16 lowercase hexadecimal digits");
		want = (want << 4) | (uint64_t) h;
	}
	if (ModelChecksum(m) != want)
	{
		hp_error(err, HP_ECORRUPT, "model checksum mismatch");
		hp_error_detail(err, "The model text was truncated, edited or corrupted after it was written.");
		return HP_ECORRUPT;
	}
	return hp_model_validate(m, err);
}

/* Text form back to a model; see hp_model.h. */
HpStatus
hp_model_from_json(const char *text, size_t len, HpModel *m, HpError *err)
{
	HpJsonDoc  *doc;
	HpStatus	rc;

	memset(m, 0, sizeof(*m));
	if (hp_json_parse(text, len, &doc, err) != HP_OK)
	{
		/* Keep the parser's position detail under a model-level message. */
		if (err)
		{
			err->code = HP_ECORRUPT;
			snprintf(err->msg, sizeof(err->msg), "invalid hybridpref model text");
		}
		return HP_ECORRUPT;
	}
	rc = ModelFromJsonRoot(hp_json_root(doc), m, err);
	hp_json_free(doc);
	if (rc != HP_OK)
		hp_model_free(m);
	return rc;
}
