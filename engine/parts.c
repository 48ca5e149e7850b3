/*
 * parts.c — a process as one part of a larger read (issue 12 item 4).
 *
 * The plain build runs as one part; dispflow-mpi (engine/mpi.c) sets the
 * part index, the count and the exchange. The stages pack their partial
 * aggregates with the helpers here (no MPI in this file), so the library
 * has no MPI dependency.
 */
#include "df_io.h"

#include <stdlib.h>
#include <string.h>

df__parts_state df__parts = {0, 1, NULL, 0, 0, 0, 0, 0, NULL, NULL};

void df__pack_put(df__pack *p, const void *v, size_t n)
{
    if (p->failed) return;
    if (p->len + n > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->len + n) cap *= 2;
        unsigned char *d = realloc(p->data, cap);
        if (!d) return (void)(p->failed = 1);
        p->data = d, p->cap = cap;
    }
    if (n) memcpy(p->data + p->len, v, n);
    p->len += n;
}

void df__pack_str(df__pack *p, const char *s)
{
    if (!s) s = "";
    df__pack_put(p, s, strlen(s) + 1);
}

void df__pack_get(df__pack *p, void *v, size_t n)
{
    if (p->failed || p->at + n > p->len) {
        p->failed = 1;
        memset(v, 0, n);
        return;
    }
    memcpy(v, p->data + p->at, n);
    p->at += n;
}

const char *df__pack_get_str(df__pack *p)
{
    const unsigned char *end = p->failed ? NULL : memchr(p->data + p->at, 0, p->len - p->at);
    if (!end) return p->failed = 1, "";
    const char *s = (const char *)p->data + p->at;
    p->at = (size_t)(end - p->data) + 1;
    return s;
}

void df__pack_free(df__pack *p)
{
    free(p->data);
    memset(p, 0, sizeof *p);
}

df_status df__parts_exchange(df_ctx *ctx, const df__pack *mine, unsigned char **all, df__pack *out)
{
    size_t lens[4096];
    int n = df__parts.count;
    *all = NULL;
    if (mine->failed || n > 4096 || !df__parts.allgather || !(*all = df__parts.allgather(mine->data, mine->len, lens)))
        return df__error(ctx, DF_ENOMEM, "out of memory exchanging the partial aggregates of %d processes", n);
    size_t at = 0;
    for (int k = 0; k < n; k++) {
        out[k] = (df__pack){*all + at, lens[k], lens[k], 0, 0};
        at += lens[k];
        if (k != df__parts.index) df__parts.received += (long long)lens[k];
    }
    df__parts.sent += (long long)mine->len * (n - 1);
    return DF_OK;
}

df_status df__parts_gather(df_ctx *ctx, const df__pack *mine, unsigned char **all, df__pack *out)
{
    size_t lens[4096];
    int n = df__parts.count;
    *all = NULL;
    if (mine->failed || n > 4096 || !df__parts.gather || !(*all = df__parts.gather(mine->data, mine->len, lens)))
        return df__error(ctx, DF_ENOMEM, "out of memory gathering the partial aggregates of %d processes", n);
    size_t at = 0;
    for (int k = 0; k < n; k++) {
        out[k] = (df__pack){*all + at, lens[k], lens[k], 0, 0};
        at += lens[k];
        if (k != df__parts.index) df__parts.received += (long long)lens[k];
    }
    if (df__parts.index > 0) df__parts.sent += (long long)mine->len;
    return DF_OK;
}

df_status df__parts_reduce_sum(df_ctx *ctx, int64_t *data, size_t n)
{
    if (!df__parts.reduce_sum || df__parts.reduce_sum(data, n) != 0)
        return df__error(ctx, DF_ENOMEM, "out of memory summing %zu values over %d processes", n, df__parts.count);
    /* counted as a reduce straight to part 0 would send them (MPI's tree
     * sends as many bytes from each part, in other pairs) */
    if (df__parts.index > 0)
        df__parts.sent += (long long)(n * sizeof *data);
    else
        df__parts.received += (long long)(n * sizeof *data) * (df__parts.count - 1);
    return DF_OK;
}
