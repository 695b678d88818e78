/*
 * embed_fn.c: SQL glue of hp.embed(text, dim), the built-in featurizer.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"

#include "hp_embed.h"
#include "hp_pg.h"

PG_FUNCTION_INFO_V1(embed);

/* hp.embed(t text, dim int) -> real[]: unit-norm hashed n-gram vector. */
Datum
embed(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	int32		dim = PG_GETARG_INT32(1);
	HpError		err;
	float	   *out;

	/* Above the maximum is a limit (54000), like every array dimension. */
	if (dim > HP_MAX_DIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("dim %d is more than the maximum of %d", dim, HP_MAX_DIM)));
	/* The core validates dim (one message); size the buffer only if valid. */
	out = palloc(sizeof(float) * ((dim >= 1 && dim <= HP_MAX_DIM) ? dim : 1));
	if (hp_embed(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), dim, out, &err) != HP_OK)
		HpReportError(&err);
	PG_RETURN_ARRAYTYPE_P(HpFloatsArray(out, dim));
}
