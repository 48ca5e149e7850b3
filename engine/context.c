/*
 * context.c — the context handle: GEOS and PROJ contexts, log and progress
 * callbacks, the last error, and the status table.
 */
#include "df_core.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cpl_error.h>
#include <gdal.h>
#include <ogr_api.h>
#include <geos_c.h>
#include <proj.h>

/* ---- status table -------------------------------------------------------- */

static const struct {
    const char *name;
    int exit_code;
    const char *message;
} status_table[] = {
#define DF_XX_ROW(name, code, msg) {#name, code, msg},
    DF_STATUS_MAP(DF_XX_ROW)
#undef DF_XX_ROW
};

const char *df_status_message(df_status s)
{
    return (unsigned)s < DF_STATUS_COUNT ? status_table[s].message : "unknown status";
}

const char *df_status_name(df_status s) { return (unsigned)s < DF_STATUS_COUNT ? status_table[s].name : "UNKNOWN"; }

int df_status_exit_code(df_status s) { return (unsigned)s < DF_STATUS_COUNT ? status_table[s].exit_code : 1; }

/* ---- library error handlers --------------------------------------------- */

/* Copy msg into dst; a message too long for it keeps its start and its end
 * with " ... " between: GDAL's SQLite errors quote a whole statement before
 * the reason ("sqlite3_exec(CREATE TABLE ...) failed: database or disk is
 * full"), and the reason is what the user needs. */
static void copy_ends(char *dst, size_t cap, const char *msg)
{
    size_t n = strlen(msg);
    if (n < cap) {
        memcpy(dst, msg, n + 1);
        return;
    }
    size_t head = (cap - 6) / 3, tail = cap - 6 - head; /* 5 for " ... ", 1 for the NUL */
    memcpy(dst, msg, head);
    memcpy(dst + head, " ... ", 5);
    memcpy(dst + head + 5, msg + n - tail, tail + 1);
}

/* GDAL reports through a per-thread handler stack, ours pushed for the
 * length of each public call (DF__GDAL_SCOPE); we keep the last failure
 * message in the context so that df__error can quote it with the input. */
static void gdal_handler(CPLErr level, CPLErrorNum num, const char *msg)
{
    df_ctx *ctx = CPLGetErrorHandlerUserData();
    (void)num;
    if (!ctx || !msg) return;
    if (level >= CE_Failure) {
        /* a full disk is the cause of whatever fails after it (GDAL's
         * GeoPackage creates a table late, then says "no such table") */
        if (strstr(ctx->gdal_error, "disk is full") || strstr(ctx->gdal_error, "No space left on device")) return;
        copy_ends(ctx->gdal_error, sizeof ctx->gdal_error, msg);
    } else if (level == CE_Warning) {
        df__log(ctx, DF_LOG_WARN, "GDAL: %s", msg);
    }
}

void df__gdal_push(df_ctx *ctx) { CPLPushErrorHandlerEx(gdal_handler, ctx); }

void df__gdal_pop(df_ctx **scope)
{
    (void)scope;
    CPLPopErrorHandler();
}

static void geos_handler(const char *msg, void *user)
{
    df_ctx *ctx = user;
    snprintf(ctx->geos_error, sizeof ctx->geos_error, "%s", msg);
}

static void geos_notice(const char *msg, void *user) { df__log(user, DF_LOG_DEBUG, "GEOS: %s", msg); }

static void proj_logger(void *user, int level, const char *msg)
{
    if (level <= PJ_LOG_ERROR) df__log(user, DF_LOG_DEBUG, "PROJ: %s", msg);
}

/* ---- context ------------------------------------------------------------- */

df_ctx *df_ctx_new(void)
{
    df_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->geos = GEOS_init_r();
    ctx->proj = proj_context_create();
    if (!ctx->geos || !ctx->proj) {
        df_ctx_free(ctx);
        return NULL;
    }
    GEOSContext_setErrorMessageHandler_r(ctx->geos, geos_handler, ctx);
    GEOSContext_setNoticeMessageHandler_r(ctx->geos, geos_notice, ctx);
    proj_log_func(ctx->proj, ctx, proj_logger);
    GDALAllRegister();
    return ctx;
}

void df_ctx_free(df_ctx *ctx)
{
    if (!ctx) return;
    if (ctx->geos) GEOS_finish_r(ctx->geos);
    if (ctx->proj) proj_context_destroy(ctx->proj);
    free(ctx);
}

void df_ctx_set_log(df_ctx *ctx, df_log_fn fn, void *user)
{
    ctx->log_fn = fn;
    ctx->log_user = user;
}

void df_ctx_set_progress(df_ctx *ctx, df_progress_fn fn, void *user)
{
    ctx->progress_fn = fn;
    ctx->progress_user = user;
}

df_status df_ctx_status(const df_ctx *ctx) { return ctx->status; }

const char *df_ctx_errmsg(const df_ctx *ctx) { return ctx->errmsg[0] ? ctx->errmsg : df_status_message(ctx->status); }

int df_version_number(void) { return DISPFLOW_VERSION_NUMBER; }

df_status df__opts_check(df_ctx *ctx, const char *type, size_t size, size_t known)
{
    if (size == 0)
        return df__error(ctx, DF_EINVAL, "%s: size is 0: fill the options with %s_init before setting them", type,
                         type);
    if (size < sizeof(size_t) || size > known)
        return df__error(ctx, DF_EINVAL,
                         "%s: size %zu, but this dispflow (%s) knows %zu bytes: options not made by %s_init, or "
                         "a program built against a newer dispflow.h than the library",
                         type, size, DISPFLOW_VERSION, known, type);
    return DF_OK;
}

const char *df_versions(df_ctx *ctx)
{
    PJ_INFO pi = proj_info();
    snprintf(ctx->versions, sizeof ctx->versions, "dispflow %s; GDAL %s; PROJ %s; GEOS %s", DISPFLOW_VERSION,
             GDALVersionInfo("RELEASE_NAME"), pi.release, GEOSversion());
    return ctx->versions;
}

/* The end of a conninfo value at v: quoted '...' (backslash escapes), or to
 * the next blank. */
static const char *conninfo_value_end(const char *v)
{
    if (*v != '\'') {
        while (*v && *v != ' ' && *v != '\t' && *v != '\n') v++;
        return v;
    }
    for (v++; *v && *v != '\''; v++)
        if (*v == '\\' && v[1]) v++;
    return *v ? v + 1 : v;
}

void df__scrub_secrets(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    const char *p = in;
#define PUT(c)                                                                                                         \
    do {                                                                                                               \
        char c_ = (c); /* evaluated when out is full too */                                                            \
        if (o + 1 < cap) out[o++] = c_;                                                                                \
    } while (0)
    while (*p) {
        const char *q = p + 8;
        if (strncasecmp(p, "password", 8) == 0) { /* libpq's password = value */
            while (*q == ' ') q++;
            if (*q == '=') {
                for (q++; *q == ' ';) q++;
                while (p < q) PUT(*p++);
                for (const char *m = "***"; *m; m++) PUT(*m);
                p = conninfo_value_end(q);
                continue;
            }
        }
        if (p[0] == ':' && p[1] == '/' && p[2] == '/') { /* a URI's user:password@host */
            const char *at = p + 3, *colon = NULL;
            for (; *at && *at != '@' && *at != '/' && *at != ' '; at++)
                if (*at == ':' && !colon) colon = at;
            if (*at == '@' && colon) {
                while (p <= colon) PUT(*p++);
                for (const char *m = "***"; *m; m++) PUT(*m);
                p = at;
                continue;
            }
        }
        PUT(*p);
        p++;
    }
#undef PUT
    if (cap) out[o < cap ? o : cap - 1] = '\0';
}

df_status df__error(df_ctx *ctx, df_status status, const char *fmt, ...)
{
    char text[sizeof ctx->errmsg];
    va_list ap;
    ctx->status = status;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    df__scrub_secrets(text, ctx->errmsg, sizeof ctx->errmsg);
    return status;
}

void df__log(df_ctx *ctx, df_log_level level, const char *fmt, ...)
{
    char text[1024], line[1024];
    va_list ap;
    if (!ctx || !ctx->log_fn) return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    df__scrub_secrets(text, line, sizeof line);
    ctx->log_fn(level, line, ctx->log_user);
}

int df__progress(df_ctx *ctx, double fraction, const char *stage)
{
    if (!ctx->progress_fn) return 1;
    return ctx->progress_fn(fraction, stage, ctx->progress_user);
}

const char *df__gdal_error(df_ctx *ctx)
{
    static _Thread_local char copy[512];
    copy_ends(copy, sizeof copy, ctx->gdal_error[0] ? ctx->gdal_error : CPLGetLastErrorMsg());
    ctx->gdal_error[0] = '\0';
    return copy;
}

/* ---- allocation ------------------------------------------------------------ */

void *df__malloc(size_t n) { return malloc(n ? n : 1); }

void *df__realloc_array(void *p, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) return NULL;
    size_t n = count * size;
    return realloc(p, n ? n : 1);
}

char *df__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
