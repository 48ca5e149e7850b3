/*
 * bench_reconcile.c — names reconcile once per distinct (level, parent,
 * name), not once per row: a million rows with a few hundred distinct
 * spellings, names only (the coordinates are dropped, so every row is
 * matched by its names), joined to the COD-AB districts with the shipped
 * alias table. Prints rows, distinct names and the time of reading and of
 * reconciling; then the same rows as origin-destination flows per day:
 * the time to aggregate them, and to write the lines and the matrix.
 *
 *   build/bench/bench_reconcile [ROWS]     (from the repository root)
 */
#include "dispflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ET   "../shared/data/synthetic_et_mosul/records.csv"
#define ADM2 "../shared/data/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Rows of the synthetic table, Latitude and Longitude emptied, repeated. */
static int make_input(const char *out, long rows)
{
    FILE *in = fopen(ET, "r"), *f = fopen(out, "w");
    char line[1024], *lines[4096];
    int n = 0;
    if (!in || !f) return -1;
    if (!fgets(line, sizeof line, in)) return -1;
    fputs(line, f); /* the header */
    while (n < 4096 && fgets(line, sizeof line, in)) {
        /* fields 7 and 8 are Latitude and Longitude (no quotes in this file) */
        char *c = line, *o = malloc(strlen(line) + 1), *w = o;
        for (int field = 1; *c; c++) {
            if (*c == ',') field++;
            if ((field == 7 || field == 8) && *c != ',') continue;
            *w++ = *c;
        }
        *w = '\0';
        lines[n++] = o;
    }
    fclose(in);
    n -= 5; /* the last rows are the invalid ones */
    for (long r = 0; r < rows; r++) fputs(lines[r % n], f);
    for (int i = 0; i < n + 5; i++) free(lines[i]);
    return fclose(f);
}

static int count_only(const df_record *r, void *user)
{
    (void)r, (void)user;
    return 0;
}

int main(int argc, char **argv)
{
    long rows = argc > 1 ? atol(argv[1]) : 1000000;
    const char *input = "benchmarks/data/names_1m.csv";
    static const char *const aliases[] = {"shapes/aliases_iraq.csv", NULL};
    FILE *probe = fopen(ET, "r");
    if (!probe) {
        puts("reconcile: SKIPPED (../shared/data is not there)");
        return 0;
    }
    fclose(probe);
    if (make_input(input, rows) != 0) {
        fprintf(stderr, "reconcile: cannot write %s\n", input);
        return 1;
    }
    df_ctx *ctx = df_ctx_new();
    df_boundary_opts bo;
    df_record_opts ro;
    df_join_opts jo;
    df_boundaries *b = NULL;
    df_join *j = NULL;
    df_boundary_opts_init(&bo);
    df_record_opts_init(&ro);
    df_join_opts_init(&jo);
    bo.path = ADM2;
    bo.aliases = aliases;
    ro.path = input;
    if (df_boundaries_load(ctx, &bo, &b) != DF_OK || df_boundaries_prepare(ctx, b, 2) != DF_OK) {
        fprintf(stderr, "reconcile: %s\n", df_ctx_errmsg(ctx));
        return 1;
    }
    /* reading alone, then reading and reconciling: the difference is the
     * cost of reconciliation */
    df_read_stats rs;
    double t0 = now();
    df_status st = df_records_read(ctx, &ro, count_only, NULL, NULL, &rs);
    double t_read = now() - t0;
    t0 = now();
    if (st == DF_OK) st = df_join_run(ctx, b, &ro, &jo, &j);
    double t = now() - t0;
    if (st != DF_OK) {
        fprintf(stderr, "reconcile: %s\n", df_ctx_errmsg(ctx));
        return 1;
    }
    const df_balance *bal = df_join_balance(j);
    printf("reconcile: %ld rows by names only, %d distinct (level, parent, name), %ld matched, %ld unmatched: "
           "join %.3f s, of which reading the file %.3f s and reconciling %.3f s (target: well under 1 s)\n",
           bal->read.rows, df_join_decision_count(j), bal->matched, bal->unmatched, t, t_read, t - t_read);
    df_join_free(j);

    /* the same rows as flows: aggregate, then write lines and the matrix */
    df_flow_opts fo;
    df_flows *f = NULL;
    df_flow_opts_init(&fo);
    fo.step = DF_STEP_DAY;
    t0 = now();
    st = df_flows_run(ctx, b, &ro, &fo, &f);
    double t_agg = now() - t0;
    if (st == DF_OK)
        st = df_flows_write_lines(ctx, f, b, "benchmarks/data/flows_1m.gpkg", 0.15, DF_ENDPOINTS_INSIDE, NULL);
    if (st == DF_OK) st = df_flows_write_matrix(ctx, f, b, "benchmarks/data/od_1m.csv", 0);
    double t_all = now() - t0;
    if (st != DF_OK) {
        fprintf(stderr, "flows: %s\n", df_ctx_errmsg(ctx));
        return 1;
    }
    printf("flows: %ld rows aggregated into %d flows (pair x day x status) in %.3f s; with the lines (GeoPackage) and "
           "the matrix written: %.3f s (target: about 1 s)\n",
           df_flows_balance(f)->read.rows, df_flows_count(f), t_agg, t_all);
    df_flows_free(f);
    remove("benchmarks/data/flows_1m.gpkg");
    remove("benchmarks/data/od_1m.csv");
    df_boundaries_free(b);
    df_ctx_free(ctx);
    remove(input);
    return 0;
}
