/*
 * model_import.c: hp.linear_model, building a linear reward model from
 * weights trained elsewhere (or written by hand for tests and demos).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"

#include "hp_pg.h"

PG_FUNCTION_INFO_V1(linear_model);

/* Model from a 1-D (one head) or 2-D (heads x dim) real[] of weights. */
Datum
linear_model(PG_FUNCTION_ARGS)
{
	ArrayType  *w = PG_GETARG_ARRAYTYPE_P(0);
	int			ndim = ARR_NDIM(w);
	int			heads,
				dim;
	HpModel		m;
	HpError		err;

	if (ARR_ELEMTYPE(w) != FLOAT4OID)
		ereport(ERROR, (errcode(ERRCODE_DATATYPE_MISMATCH), errmsg("w must be real[]")));
	if (ndim != 1 && ndim != 2)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("w must be a 1-D (one head) or 2-D (heads x dim) array")));
	if (ARR_HASNULL(w) && array_contains_nulls(w))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("w must not contain NULL elements")));
	heads = ndim == 2 ? ARR_DIMS(w)[0] : 1;
	dim = ARR_DIMS(w)[ndim - 1];
	if (dim < 1 || dim > HP_MAX_DIM || heads < 1 || heads > HP_MAX_HEADS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("w must have 1..%d heads of dimension 1..%d", HP_MAX_HEADS, HP_MAX_DIM)));
	if (!hp_all_finite_f((const float *) ARR_DATA_PTR(w), (size_t) heads * dim))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("w contains NaN or infinite values")));

	memset(&m, 0, sizeof(m));
	m.version = HP_MODEL_FORMAT_VERSION;
	m.kind = HP_KIND_LINEAR;
	m.dim = dim;
	m.heads = heads;
	m.uncertainty = HP_UNC_ENSEMBLE;
	m.options = pstrdup("{\"imported\":true}");
	hp_model_add_tensor(&m, "w", HP_F32, heads, dim, ARR_DATA_PTR(w));
	if (hp_model_validate(&m, &err) != HP_OK)
		HpReportError(&err);
	PG_RETURN_DATUM(HpModelToDatum(&m));
}
