/*
 * model_type.c: the hp.model base type (text and binary I/O) and
 * hp.model_info.  All format logic lives in the core (src/core/model.c);
 * these functions only move bytes between PostgreSQL and it.
 */
#include "postgres.h"

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "hp_json.h"
#include "hp_pg.h"
#include "hp_train.h"

PG_FUNCTION_INFO_V1(model_in);
PG_FUNCTION_INFO_V1(model_out);
PG_FUNCTION_INFO_V1(model_recv);
PG_FUNCTION_INFO_V1(model_send);
PG_FUNCTION_INFO_V1(model_info);

/* Text input: the JSON document written by model_out. */
Datum
model_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	HpModel		m;
	HpError		err;

	if (hp_model_from_json(str, strlen(str), &m, &err) != HP_OK)
		HpReportError(&err);
	PG_RETURN_DATUM(HpModelToDatum(&m));
}

/* Text output: a JSON document whose checksum covers the binary form. */
Datum
model_out(PG_FUNCTION_ARGS)
{
	HpModel		m;

	HpModelFromDatum(PG_GETARG_DATUM(0), &m);
	PG_RETURN_CSTRING(hp_model_to_json(&m));
}

/* Binary input: the encoded bytes, fully validated before being stored. */
Datum
model_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			len = buf->len - buf->cursor;
	const char *data = pq_getmsgbytes(buf, len);
	HpModel		m;
	HpError		err;
	bytea	   *result;

	if (hp_model_decode((const unsigned char *) data, len, &m, &err) != HP_OK)
		HpReportError(&err);
	hp_model_free(&m);
	result = (bytea *) palloc(VARHDRSZ + len);
	SET_VARSIZE(result, VARHDRSZ + len);
	memcpy(VARDATA(result), data, len);
	PG_RETURN_BYTEA_P(result);
}

/* Binary output: the stored bytes verbatim. */
Datum
model_send(PG_FUNCTION_ARGS)
{
	bytea	   *v = (bytea *) PG_DETOAST_DATUM(PG_GETARG_DATUM(0));
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* Summary of a model as jsonb (everything but the tensors). */
Datum
model_info(PG_FUNCTION_ARGS)
{
	bytea	   *v = (bytea *) PG_DETOAST_DATUM(PG_GETARG_DATUM(0));
	HpModel		m;
	HpError		err;
	HpBuf		b;
	const HpTensor *cv;

	if (hp_model_decode((const unsigned char *) VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), &m, &err) != HP_OK)
		HpReportError(&err);
	hp_buf_init(&b);
	hp_buf_puts(&b, "{\"kind\":");
	hp_json_write_string(&b, hp_model_kind_name(m.kind));
	hp_buf_puts(&b, ",\"format_version\":");
	hp_json_write_int64(&b, m.version);
	hp_buf_puts(&b, ",\"dim\":");
	hp_json_write_int64(&b, m.dim);
	hp_buf_puts(&b, ",\"heads\":");
	hp_json_write_int64(&b, m.heads);
	hp_buf_puts(&b, ",\"uncertainty\":");
	hp_json_write_string(&b, hp_uncertainty_name(m.uncertainty));
	hp_buf_puts(&b, ",\"lambda\":");
	hp_json_write_double(&b, m.lambda);
	if ((cv = hp_model_tensor(&m, "lambda_cv")) != NULL && cv->dtype == HP_F64 && cv->rows == 2)
	{
		/* lambda "auto": the cross-validation curve it chose from */
		const double *v = (const double *) cv->data;

		hp_buf_puts(&b, ",\"lambda_cv\":{\"folds\":");
		hp_json_write_int64(&b, HP_CV_FOLDS);
		for (int r = 0; r < 2; r++)
		{
			hp_buf_puts(&b, r == 0 ? ",\"lambda\":[" : "],\"loss\":[");
			for (uint32_t j = 0; j < cv->cols; j++)
			{
				if (j)
					hp_buf_putc(&b, ',');
				hp_json_write_double(&b, v[r * cv->cols + j]);
			}
		}
		hp_buf_puts(&b, "]}");
	}
	hp_buf_puts(&b, ",\"rows\":");
	hp_json_write_int64(&b, m.rows);
	hp_buf_puts(&b, ",\"loss\":");
	hp_json_write_double(&b, m.loss);
	hp_buf_puts(&b, ",\"seed\":");
	hp_json_write_int64(&b, m.seed);
	hp_buf_puts(&b, ",\"options\":");
	hp_buf_puts(&b, m.options);
	hp_buf_puts(&b, ",\"size_bytes\":");
	hp_json_write_int64(&b, (int64_t) VARSIZE_ANY_EXHDR(v));
	hp_buf_putc(&b, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(hp_buf_finish(&b, NULL))));
}
