/*
 * bench_pip.c — point-in-polygon rate of df_boundaries_locate, one thread.
 *
 *   bench_pip [BOUNDARIES] [POINTS.csv]
 *
 * Loads the boundary layer (default: the OCHA COD-AB Iraq districts, 101
 * polygons) and the points CSV (id,lon,lat,individuals; default the standard
 * 1M-point benchmark input) into arrays, outside the timed part. Then times
 * df_boundaries_locate(b, 2, lon, lat) over every point, pass after pass,
 * until at least one second has gone by, and prints the rate in million
 * points per second on one core, against the target of 20, and a checksum
 * (points located in a unit, and the sum of their unit indices) that must be
 * the same on every pass and on every build. Also prints how long
 * df_boundaries_load took (read, repair, areas, dissolve, index), the fixed
 * cost every join pays before its first record.
 *
 * Uses the public header only.
 */
#include "dispflow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_BOUNDARIES "../shared/data/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp"
#define DEFAULT_POINTS     "benchmarks/data/points_1m.csv"
#define LEVEL              2
#define MIN_SECONDS        1.0
#define TARGET_MPPS        20.0

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Reads the lon and lat columns (2nd and 3rd) of every data row. Returns the
 * number of points, or -1 with a message on stderr. *lon and *lat are
 * malloc'ed; the caller frees them. */
static long read_points(const char *path, double **lon_out, double **lat_out)
{
    FILE *f = fopen(path, "r");
    char line[512];
    long n = 0, cap = 0, lineno = 0;
    double *lon = NULL, *lat = NULL;

    if (!f) {
        fprintf(stderr, "bench_pip: cannot open %s\n", path);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char *p, *end;
        double x, y;
        lineno++;
        if (lineno == 1 && strncmp(line, "id,", 3) == 0) continue; /* header */
        p = strchr(line, ',');
        if (!p) goto bad;
        x = strtod(p + 1, &end);
        if (end == p + 1 || *end != ',') goto bad;
        p = end;
        y = strtod(p + 1, &end);
        if (end == p + 1) goto bad;
        if (n == cap) {
            long ncap = cap ? cap * 2 : 1 << 16;
            double *nlon = realloc(lon, (size_t)ncap * sizeof *lon);
            double *nlat;
            if (!nlon) goto oom;
            lon = nlon;
            nlat = realloc(lat, (size_t)ncap * sizeof *lat);
            if (!nlat) goto oom;
            lat = nlat;
            cap = ncap;
        }
        lon[n] = x;
        lat[n] = y;
        n++;
    }
    fclose(f);
    *lon_out = lon;
    *lat_out = lat;
    return n;

bad:
    fprintf(stderr, "bench_pip: %s:%ld: expected id,lon,lat,...\n", path, lineno);
    goto fail;
oom:
    fprintf(stderr, "bench_pip: out of memory at %ld points\n", n);
fail:
    fclose(f);
    free(lon);
    free(lat);
    return -1;
}

/* One pass over every point: how many were located, and the sum of the
 * indices of their units (a checksum that also catches a wrong unit). */
static long locate_all(const df_boundaries *b, long n, const double *lon, const double *lat, long long *index_sum)
{
    long cnt = 0;
    long long sum = 0;
    for (long i = 0; i < n; i++) {
        int u = df_boundaries_locate(b, LEVEL, lon[i], lat[i]);
        if (u >= 0) {
            cnt++;
            sum += u;
        }
    }
    *index_sum = sum;
    return cnt;
}

int main(int argc, char **argv)
{
    const char *bpath = argc > 1 ? argv[1] : DEFAULT_BOUNDARIES;
    const char *ppath = argc > 2 ? argv[2] : DEFAULT_POINTS;
    df_ctx *ctx = NULL;
    df_boundaries *b = NULL;
    df_boundary_opts bopts;
    double *lon = NULL, *lat = NULL;
    long n, located;
    long long index_sum;
    int passes = 0, rc = 1;
    double t0, elapsed, load_s;
    df_status st;

    if (argc > 3) {
        fprintf(stderr, "usage: bench_pip [BOUNDARIES] [POINTS.csv]\n");
        return 2;
    }
    ctx = df_ctx_new();
    if (!ctx) {
        fprintf(stderr, "bench_pip: out of memory\n");
        return 1;
    }
    df_boundary_opts_init(&bopts);
    bopts.path = bpath;
    t0 = now_seconds();
    st = df_boundaries_load(ctx, &bopts, &b);
    load_s = now_seconds() - t0;
    if (st != DF_OK) {
        fprintf(stderr, "bench_pip: %s: %s\n", df_status_name(st), df_ctx_errmsg(ctx));
        goto done;
    }
    if (df_boundaries_count(b, LEVEL) <= 0) {
        fprintf(stderr, "bench_pip: %s has no admin level %d\n", bpath, LEVEL);
        goto done;
    }
    n = read_points(ppath, &lon, &lat);
    if (n <= 0) {
        if (n == 0) fprintf(stderr, "bench_pip: %s has no points\n", ppath);
        goto done;
    }

    /* One untimed pass warms caches and gives the reference checksum. */
    located = locate_all(b, n, lon, lat, &index_sum);

    t0 = now_seconds();
    do {
        long long sum;
        long cnt = locate_all(b, n, lon, lat, &sum);
        passes++;
        if (cnt != located || sum != index_sum) {
            fprintf(stderr, "bench_pip: pass %d located %ld (index sum %lld), the first %ld (%lld)\n", passes, cnt, sum,
                    located, index_sum);
            goto done;
        }
        elapsed = now_seconds() - t0;
    } while (elapsed < MIN_SECONDS);

    printf("point-in-polygon: %ld points, %.1f million points/s/core (target %.0f)\n", n,
           (double)n * passes / elapsed / 1e6, TARGET_MPPS);
    printf("checksum: %ld of %ld points located in %d districts, unit index sum %lld (%d passes in %.2f s)\n", located,
           n, df_boundaries_count(b, LEVEL), index_sum, passes, elapsed);
    printf("boundaries: loaded and indexed in %.3f s (df_boundaries_load, all levels)\n", load_s);
    rc = 0;

done:
    free(lon);
    free(lat);
    df_boundaries_free(b);
    df_ctx_free(ctx);
    return rc;
}
