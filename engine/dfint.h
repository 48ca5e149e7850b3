/*
 * dfint.h — every internal header of the engine at once, for the tests and
 * the fuzzers. An engine module includes the one header of its area
 * (df_core.h, df_io.h, df_geo.h, df_products.h, df_job.h; naming rules in
 * df_core.h).
 */
#ifndef DFINT_H
#define DFINT_H

#include "df_job.h"

#include <geos_c.h>
#include <proj.h>

#endif /* DFINT_H */
