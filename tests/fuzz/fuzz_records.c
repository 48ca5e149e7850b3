/*
 * fuzz_records.c — libFuzzer harness: the CSV reader (csv.c) and the
 * records ingest (ingest.c, fields.c) on arbitrary bytes.
 *
 * The input is written to a temporary .csv file and read twice with
 * df_records_read: once with the defaults (header and delimiter detected,
 * columns by HXL row or header names) and once headerless with an explicit
 * --map, so that every value parser sees the bytes. Invariants checked:
 * rows == valid + rejected; a failed read sets a message.
 *
 * Built by `make fuzz`; test_hostile.c includes this file (with
 * DF_FUZZ_NO_ENTRY) to replay the seeds and regressions.
 */
#include "dfint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

static int fuzz_records_on_record(const df_record *r, void *user)
{
    int64_t *sum = user;
    FUZZ_CHECK(r->individuals >= 0);
    /* touch every string: ASan sees a dangling or unterminated one */
    const df_place *places[3] = {&r->location, &r->origin, &r->displacement};
    for (int p = 0; p < 3; p++)
        for (int l = 1; l <= 3; l++) {
            if (places[p]->name[l]) *sum += (int64_t)strlen(places[p]->name[l]);
            if (places[p]->pcode[l]) *sum += (int64_t)strlen(places[p]->pcode[l]);
        }
    if (r->location_name) *sum += (int64_t)strlen(r->location_name);
    if (r->shelter) *sum += (int64_t)strlen(r->shelter);
    return 0;
}

static void fuzz_records_on_reject(const df_rejection *rj, void *user)
{
    int64_t *sum = user;
    FUZZ_CHECK(rj->column != NULL && rj->detail != NULL);
    FUZZ_CHECK((unsigned)rj->reason < DF_REJECT_COUNT);
    *sum += (int64_t)strlen(rj->column) + (int64_t)strlen(rj->detail);
}

static void fuzz_records_read(df_ctx *ctx, const char *path, int header, const char *map)
{
    df_record_opts o;
    df_read_stats st;
    int64_t sum = 0;
    df_record_opts_init(&o);
    o.path = path;
    o.header = header;
    o.map = map;
    df_status s = df_records_read(ctx, &o, fuzz_records_on_record, fuzz_records_on_reject, &sum, &st);
    if (s == DF_OK) {
        FUZZ_CHECK(st.rows == st.valid + st.rejected);
        long by = 0;
        for (int k = 0; k < DF_REJECT_COUNT; k++) by += st.rejected_by[k];
        FUZZ_CHECK(by == st.rejected);
    } else {
        FUZZ_CHECK(df_ctx_errmsg(ctx)[0] != '\0');
        FUZZ_CHECK(s == DF_EFORMAT || s == DF_ESCHEMA || s == DF_ENOMEM || s == DF_EIO || s == DF_EINVAL);
    }
}

static int fuzz_records(const uint8_t *data, size_t size)
{
    static df_ctx *ctx;
    static char path[64];
    if (!ctx) {
        ctx = df_ctx_new();
        if (!ctx) abort();
        snprintf(path, sizeof path, "/tmp/dispflow-fuzz-%ld.csv", (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f) != 0) abort();
    fuzz_records_read(ctx, path, -1, NULL);
    fuzz_records_read(ctx, path, 0,
                      "date=1,status=2,adm1=3,adm2_pcode=4,location=5,lat=6,lon=7,families=8,individuals=9,"
                      "displacement_adm2=10");
    unlink(path);
    return 0;
}

#ifndef DF_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_records(data, size); }
#endif
