/*
 * test_mpi.c — issue 12 item 4: dispflow-mpi under `mpirun -n 3` gives the
 * single-process results byte for byte: the Mosul job's bundle file by
 * file, and a hand-made table whose duplicate, rejected and held rows fall
 * in different ranks' shares (the balance, the messages with their lines,
 * the joined table). Skipped only when mpirun is absent (.ci/deps.sh
 * installs openmpi-bin with the test packages).
 */
#define _DEFAULT_SOURCE /* realpath */
#include "dfint.h"
#include "harness.h"

#include <dirent.h>
#include <gdal.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define ADM1_SHP SHARED_DATA "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm1_cso_20190603.shp"
#define ADM2_SHP SHARED_DATA "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp"
#define ET       SHARED_DATA "/synthetic_et_mosul/"

static char tmpdir[] = "/tmp/dispflow-mpi-XXXXXX";
static char cwd[1024];
static char dispflow[4096] = "build/dispflow", dispflow_mpi[4100];
static char out[1 << 16]; /* the last command's stdout and stderr */

/* Run a shell command in tmpdir; its exit status, its output in out. */
static int sh(const char *fmt, const char *a, const char *b)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd %s && (", tmpdir);
    size_t n = strlen(cmd);
    snprintf(cmd + n, sizeof cmd - n, fmt, a, b);
    n = strlen(cmd);
    snprintf(cmd + n, sizeof cmd - n, ") 2>&1");
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t got = fread(out, 1, sizeof out - 1, p);
    out[got] = '\0';
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* The bytes of tmpdir's files a and b: their length when the same, -1 when
 * not (or unreadable). */
static long same_files(const char *a, const char *b)
{
    char pa[8192], pb[8192];
    size_t la = 0, lb = 0;
    snprintf(pa, sizeof pa, "%s/%s", tmpdir, a);
    snprintf(pb, sizeof pb, "%s/%s", tmpdir, b);
    char *x = harness_slurp(pa, &la), *y = harness_slurp(pb, &lb);
    long n = x && y && la == lb && memcmp(x, y, la) == 0 ? (long)la : -1;
    free(x), free(y);
    return n;
}

/* Every file of folder a is in b with the same bytes, and b has no other;
 * returns the files compared (-1 on a difference, printed). */
static int same_folders(const char *a, const char *b)
{
    char pa[8192], pb[8192];
    int files = 0, bad = 0, in_b = 0;
    DIR *d = opendir(a);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(pa, sizeof pa, "%s/%s", a, e->d_name);
        snprintf(pb, sizeof pb, "%s/%s", b, e->d_name);
        size_t la = 0, lb = 0;
        char *x = harness_slurp(pa, &la), *y = harness_slurp(pb, &lb);
        if (!x || !y || la != lb || memcmp(x, y, (size_t)la) != 0) {
            printf("  %s differs from %s (%zu and %zu bytes)\n", pb, pa, la, lb);
            bad = 1;
        }
        free(x), free(y);
        files++;
    }
    if (d) closedir(d);
    if ((d = opendir(b)))
        while ((e = readdir(d))) in_b += e->d_name[0] != '.';
    if (d) closedir(d);
    if (in_b != files) printf("  %s holds %d files, %s %d\n", b, in_b, a, files), bad = 1;
    return bad ? -1 : files;
}

/* A table of seven governorates' rows, dated over 2016: rows rows, or
 * until it has min_bytes bytes. */
static int write_rows(const char *path, long rows, long min_bytes)
{
    static const char *const govs[] = {"Ninewa", "Erbil", "Dahuk", "Kirkuk", "Baghdad", "Anbar", "Basrah"};
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs("date,adm1,individuals\n", f);
    for (long i = 0; i < rows || ftell(f) < min_bytes; i++)
        fprintf(f, "2016-%02ld-%02ld,%s,%ld\n", 1 + i % 12, 1 + i % 28, govs[i % 7], 1 + i % 997);
    return fclose(f);
}

static int have_mpirun(void)
{
    if (sh("command -v mpirun", "", "") != 0) return 0;
    return 1;
}

#define MPIRUN "mpirun --allow-run-as-root --oversubscribe -n 3 "

/* The Mosul job (two levels, flows, density and its rasters per month) on
 * one process and on three ranks: the same bundle, file by file; the ranks
 * did exchange. */
TEST(mosul_bundle_byte_identical_on_3_ranks_item4)
{
    if (!have_mpirun()) SKIP("mpirun is absent (Debian openmpi-bin; make deps-test installs it)");
    EXPECT(access(dispflow_mpi, X_OK) == 0); /* make test builds it */
    NEED_FILE(ET "records.csv");
    NEED_FILE(ADM2_SHP);
    char text[8192], path[1200];
    snprintf(text, sizeof text,
             "[job]\ntitle = Mosul\noutput = bundle\nfrom = 2016-10-17\nas_of = 2017-05-02\nstep = month\n"
             "[records]\npath = %s/" ET "records.csv\n"
             "[boundaries]\nadm1 = %s/" ADM1_SHP "\nadm2 = %s/" ADM2_SHP "\n"
             "[density]\npixel = 1000\nstep = month\n",
             cwd, cwd, cwd);
    snprintf(path, sizeof path, "%s/mosul.ini", tmpdir);
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);

    EXPECT_INT(sh("%s run -q mosul.ini && mv bundle single", dispflow, ""), 0);
    /* the other ranks' scratch (their copy of the decision log) in scratch/, removed */
    EXPECT_INT(sh("mkdir scratch && TMPDIR=$PWD/scratch DF_MPI_STATS=1 " MPIRUN
                  "%s run -q mosul.ini && mv bundle multi",
                  dispflow_mpi, ""),
               0);
    /* every rank received the others' partials: the reads were split */
    for (int r = 0; r < 3; r++) {
        char want[64];
        snprintf(want, sizeof want, "rank %d of 3: sent ", r);
        const char *at = strstr(out, want);
        EXPECT(at != NULL);
        long long sent = 0, received = 0;
        if (at) sscanf(at + strlen(want), "%lld bytes, received %lld", &sent, &received);
        EXPECT(sent > 0 && received > 0);
    }
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s/single", tmpdir);
    snprintf(b, sizeof b, "%s/multi", tmpdir);
    int files = same_folders(a, b);
    EXPECT(files >= 15); /* tables, layers, rasters, maps, sitrep, project, manifest */
    /* the rasters per month too: each a grid per rank, summed (issue 12 item 4) */
    snprintf(path, sizeof path, "%s/multi/density_displaced_2016-11-01.tif", tmpdir);
    EXPECT(access(path, R_OK) == 0);
    snprintf(path, sizeof path, "%s/scratch", tmpdir);
    DIR *d = opendir(path);
    int left = 0;
    for (struct dirent *e; d && (e = readdir(d));) left += e->d_name[0] != '.';
    if (d) closedir(d);
    EXPECT(d != NULL);
    EXPECT_INT(left, 0);
    /* --publish: no decision log, so the headline level's join is split too */
    EXPECT_INT(sh("%s run -q --publish mosul.ini && mv bundle single_pub", dispflow, ""), 0);
    EXPECT_INT(sh(MPIRUN "%s run -q --publish mosul.ini && mv bundle multi_pub", dispflow_mpi, ""), 0);
    snprintf(a, sizeof a, "%s/single_pub", tmpdir);
    snprintf(b, sizeof b, "%s/multi_pub", tmpdir);
    EXPECT(same_folders(a, b) >= 10);
    /* and the figures are the truth (truth_totals.csv), not merely equal */
    snprintf(path, sizeof path, "%s/multi/sitrep.md", tmpdir);
    char *md = harness_slurp(path, NULL);
    EXPECT(md && strstr(md, "| Displaced since the start | 463,692 |"));
    EXPECT(md && strstr(md, "| Still displaced | 358,032 |"));
    free(md);
}

/* A hand-made table: a header and a data row held while the header is
 * looked for, a row repeated in another rank's share, rows rejected in the
 * middle and at the end. The join's balance, its messages (with lines) and
 * its table are the single process's. */
TEST(duplicates_and_rejections_across_ranks_item4)
{
    if (!have_mpirun()) SKIP("mpirun is absent (Debian openmpi-bin; make deps-test installs it)");
    static const char *const govs[] = {"Ninewa", "Erbil", "Dahuk", "Kirkuk", "Baghdad", "Anbar"};
    char path[1200];
    snprintf(path, sizeof path, "%s/hand.csv", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs("date,adm1,individuals\n", f);
    for (int i = 0; i < 60; i++) {
        if (i == 20) fputs("2017-13-45,Ninewa,60\n", f);  /* line 22: a bad date */
        if (i == 59) fputs("2016-11-01,Ninewa,600\n", f); /* line 62: the first data row again */
        fprintf(f, "2016-11-%02d,%s,%d\n", 1 + i % 28, i ? govs[i % 6] : "Ninewa", i ? 6 * (i + 1) : 600);
    }
    fputs("2016-12-01,Ninewa,many\n", f); /* the last line: a bad count */
    fclose(f);
    char args[2000];
    snprintf(args, sizeof args,
             "join --records hand.csv --boundaries %s/shapes/iraq_adm1_naturalearth.geojson --level adm1", cwd);
    EXPECT_INT(sh("%s %s -o out.csv && mv out.csv single.csv", dispflow, args), 0);
    char single[sizeof out];
    memcpy(single, out, sizeof out);
    EXPECT_INT(sh(MPIRUN "%s %s -o out.csv && mv out.csv multi.csv", dispflow_mpi, args), 0);
    EXPECT_STR(out, single);
    /* counted independently: 63 rows, 2 rejected, the repeat of line 2 on line 62 */
    EXPECT(strstr(single, "63 rows") != NULL);
    EXPECT(strstr(single, "rejected              2  (bad-date 1, bad-count 1)") != NULL);
    EXPECT(strstr(single, "62 (= line 2)") != NULL);
    EXPECT(same_files("single.csv", "multi.csv") >= 0);
}

/* Ranks x threads: a table of 17 MB gives each of 2 ranks a share past
 * the threads' 8 MB minimum, so each rank cuts its share again among its
 * threads; and a table of one row cannot give 3 ranks a record each, so
 * every rank reads it whole and nothing is merged. Both: the single
 * process's table and messages. */
TEST(ranks_times_threads_and_too_few_rows_item4)
{
    if (!have_mpirun()) SKIP("mpirun is absent (Debian openmpi-bin; make deps-test installs it)");
    char path[1200], args[2000];
    snprintf(path, sizeof path, "%s/big.csv", tmpdir);
    if (write_rows(path, 0, 17L << 20) != 0) return;
    FILE *f;
    snprintf(path, sizeof path, "%s/one.csv", tmpdir);
    if ((f = fopen(path, "w"))) fputs("date,adm1,individuals\n2016-11-01,Ninewa,6\n", f), fclose(f);
    for (int k = 0; k < 2; k++) {
        char cmd[4400];
        snprintf(args, sizeof args,
                 "join --records %s --boundaries %s/shapes/iraq_adm1_naturalearth.geojson --level adm1",
                 k ? "one.csv" : "big.csv", cwd);
        EXPECT_INT(sh("%s %s -o out.csv && mv out.csv single.csv", dispflow, args), 0);
        char single[sizeof out];
        memcpy(single, out, sizeof out);
        snprintf(cmd, sizeof cmd, "DF_MPI_STATS=1 mpirun --allow-run-as-root --oversubscribe -n %d %s", k ? 3 : 2,
                 dispflow_mpi);
        EXPECT_INT(sh("%s %s -o out.csv && mv out.csv multi.csv", cmd, args), 0);
        /* the ranks' byte counts apart, the output is the single process's */
        long long received = -1;
        char *stats = strstr(out, "dispflow-mpi: rank 0 of");
        if (stats) sscanf(strstr(stats, "received ") + 9, "%lld", &received);
        for (char *line; (line = strstr(out, "dispflow-mpi: rank "));) {
            char *end = strchr(line, '\n');
            memmove(line, end ? end + 1 : line + strlen(line), strlen(end ? end + 1 : line + strlen(line)) + 1);
        }
        EXPECT_STR(out, single);
        if (k == 0) EXPECT(received > 0);    /* split: rank 1's share came to rank 0 */
        if (k == 1) EXPECT_INT(received, 0); /* one row for 3 ranks: read whole by each, nothing exchanged */
        EXPECT(same_files("single.csv", "multi.csv") >= 0);
    }
}

/* The split on the one read (issue 12 item 4, ported onto the fan-out of
 * item 1): a join with a decision log and a density are split too, and
 * every record keeps its true line on every rank. A hand-made table with
 * points, 61 rows over 3 ranks: the table and the decision log of the join
 * and the density's raster are the single process's bytes; read as
 * snapshots, the last row (line 62, in rank 2's share) is a rival snapshot
 * of line 29 (rank 1's) on the last date, refused with both true lines. */
TEST(log_density_and_true_lines_across_ranks_item4)
{
    if (!have_mpirun()) SKIP("mpirun is absent (Debian openmpi-bin; make deps-test installs it)");
    static const char *const govs[] = {"Ninewa", "Erbil", "Dahuk", "Kirkuk", "Baghdad", "Anbar"};
    static const double at[][2] = {{36.34, 43.13}, {36.19, 44.01}, {36.87, 42.99},
                                   {35.47, 44.39}, {33.31, 44.37}, {33.42, 43.30}};
    char path[1200], args[2000];
    snprintf(path, sizeof path, "%s/points.csv", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs("date,adm1,lat,lon,individuals\n", f);
    for (int i = 0; i < 60; i++)
        fprintf(f, "2016-11-%02d,%s,%.4f,%.4f,%d\n", 1 + i % 28, govs[i % 6], at[i % 6][0] + 0.001 * i,
                at[i % 6][1] + 0.001 * i, 6 * (i + 1));
    fputs("2016-11-28,Kirkuk,35.4970,44.4170,66\n", f); /* line 62: line 29's place and date, another count */
    fclose(f);
    snprintf(args, sizeof args,
             "join --records points.csv --boundaries %s/shapes/iraq_adm1_naturalearth.geojson --level adm1", cwd);
    EXPECT_INT(
        sh("%s %s --log log.csv -o out.csv && mv out.csv single.csv && mv log.csv single_log.csv", dispflow, args), 0);
    EXPECT_INT(sh("DF_MPI_STATS=1 " MPIRUN "%s %s --log log.csv -o out.csv && mv out.csv multi.csv && "
                  "mv log.csv multi_log.csv",
                  dispflow_mpi, args),
               0);
    long long received = -1;
    char *stats = strstr(out, "dispflow-mpi: rank 0 of");
    if (stats) sscanf(strstr(stats, "received ") + 9, "%lld", &received);
    EXPECT(received > 0); /* split, with a decision log */
    static const char *const pairs[][2] = {{"single.csv", "multi.csv"}, {"single_log.csv", "multi_log.csv"}};
    for (int k = 0; k < 2; k++) {
        size_t la, lb;
        snprintf(path, sizeof path, "%s/%s", tmpdir, pairs[k][0]);
        char *x = harness_slurp(path, &la);
        snprintf(path, sizeof path, "%s/%s", tmpdir, pairs[k][1]);
        char *y = harness_slurp(path, &lb);
        EXPECT(x && y && la == lb && memcmp(x, y, (size_t)la) == 0);
        if (k == 1 && y) { /* a header and one row per record, 61 */
            long lines = 0;
            for (size_t i = 0; i < lb; i++) lines += y[i] == '\n';
            EXPECT_INT(lines, 62);
        }
        free(x), free(y);
    }
    /* snapshots: the rival on line 62 named with line 29, on one process and on 3 ranks */
    EXPECT(sh("%s %s --snapshots -o snap.csv", dispflow, args) != 0);
    EXPECT(strstr(out, "line 62 repeats line 29") != NULL);
    EXPECT(sh(MPIRUN "%s %s --snapshots -o snap.csv", dispflow_mpi, args) != 0);
    EXPECT(strstr(out, "line 62 repeats line 29") != NULL);
    /* the density: the same raster, byte for byte */
    EXPECT_INT(
        sh("%s density --records points.csv --pixel 5000 --radius 20000 -o d.tif && mv d.tif single.tif", dispflow, ""),
        0);
    EXPECT_INT(sh(MPIRUN "%s density --records points.csv --pixel 5000 --radius 20000 -o d.tif && mv d.tif multi.tif",
                  dispflow_mpi, ""),
               0);
    EXPECT(same_files("single.tif", "multi.tif") > 0);
    /* with -t_srs each rank's readers project the points as they read them
     * (issue 12 item 3): the same bytes on 3 ranks, and the same as the
     * zone the data choose (32638) projected after the read */
    EXPECT_INT(sh("%s density --records points.csv --pixel 5000 --radius 20000 -t_srs EPSG:32638 -o d.tif && "
                  "mv d.tif single_t.tif",
                  dispflow, ""),
               0);
    EXPECT_INT(sh(MPIRUN "%s density --records points.csv --pixel 5000 --radius 20000 -t_srs EPSG:32638 -o d.tif && "
                         "mv d.tif multi_t.tif",
                  dispflow_mpi, ""),
               0);
    static const char *const tifs[][2] = {{"single_t.tif", "multi_t.tif"}, {"single.tif", "single_t.tif"}};
    for (int k = 0; k < 2; k++) EXPECT(same_files(tifs[k][0], tifs[k][1]) > 0);
}

/* Rank r's "sent" less the duplicate check's, from DF_MPI_STATS=1 in out. */
static long long sent_by(int rank)
{
    char key[64];
    snprintf(key, sizeof key, "dispflow-mpi: rank %d of", rank);
    char *at = strstr(out, key);
    long long sent = -1, received, dup = -1;
    if (at &&
        sscanf(strstr(at, "sent ") + 5, "%lld bytes, received %lld bytes (of which the duplicate check: sent %lld",
               &sent, &received, &dup) == 3)
        return sent - dup;
    return -1;
}

/* The density under MPI (issue 12 item 4): each rank grids its own points
 * and the grids are summed (fixed point, MPI_Reduce to rank 0), so what a
 * rank sends is the grid, not its rows, and the raster is the single
 * process's, byte for byte: a UTM zone from every rank's points, a
 * Gaussian cut by -te (edge loss, points too far), a snapshot table whose
 * latest date is in rank 2's share only, and a bandwidth rule (the one case
 * that still gathers the projected points). */
TEST(density_grids_summed_not_points_item4)
{
    if (!have_mpirun()) SKIP("mpirun is absent (Debian openmpi-bin; make deps-test installs it)");
    char path[1200];
    snprintf(path, sizeof path, "%s/many.csv", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f) return;
    long rows = 60000;
    fputs("date,lat,lon,individuals\n", f);
    uint64_t s = 7;
    for (long i = 0; i < rows; i++) {
        double r[3];
        for (int k = 0; k < 3; k++) s = s * 6364136223846793005ULL + 1442695040888963407ULL, r[k] = (s >> 11) * 0x1p-53;
        if (i % 101 == 0) /* no point */
            fprintf(f, "2016-%02ld-01,,,%d\n", 1 + i * 12 / rows, 1 + (int)(r[2] * 900));
        else
            fprintf(f, "2016-%02ld-01,%.5f,%.5f,%d\n", 1 + i * 12 / rows, 36.1 + 0.6 * r[0], 42.8 + 0.8 * r[1],
                    1 + (int)(r[2] * 900));
    }
    fclose(f);
    static const char *const cases[] = {
        "--pixel 1000 --radius 8000 --kernel triweight",
        "--pixel 500 --radius 6000 --kernel gaussian -t_srs EPSG:32638 -te 320000 3990000 360000 4030000",
        "--pixel 1000 --radius 5000 --kind snapshots --duplicates keep",
        "--pixel 1000 --bandwidth silverman",
    };
    for (int c = 0; c < 4; c++) {
        int rc = sh("%s density --records many.csv %s -o d.tif && mv d.tif single.tif", dispflow, cases[c]);
        if (rc != 0) printf("%s\n", out);
        EXPECT_INT(rc, 0);
        /* the counts the CLI says (points, left out, without coordinates), of every rank */
        char said[512] = "", said_multi[512] = "";
        const char *line = strstr(out, "many.csv: 60000 rows");
        if (line) snprintf(said, sizeof said, "%.*s", (int)strcspn(line, "\n"), line);
        char cmd[4400];
        snprintf(cmd, sizeof cmd, "DF_MPI_STATS=1 " MPIRUN "%s density --records many.csv %s", dispflow_mpi, cases[c]);
        EXPECT_INT(sh("%s -o d.tif && mv d.tif multi.tif", cmd, ""), 0);
        if ((line = strstr(out, "many.csv: 60000 rows")))
            snprintf(said_multi, sizeof said_multi, "%.*s", (int)strcspn(line, "\n"), line);
        EXPECT(said[0] != 0);
        EXPECT_STR(said_multi, said);
        long long sent[3] = {sent_by(0), sent_by(1), sent_by(2)};
        EXPECT(same_files("single.tif", "multi.tif") > 0);
        snprintf(path, sizeof path, "%s/single.tif", tmpdir);
        GDALAllRegister();
        GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
        EXPECT(ds != NULL);
        if (!ds) continue;
        long long grid = 8LL * GDALGetRasterXSize(ds) * GDALGetRasterYSize(ds);
        GDALClose(ds);
        /* a rank's rows, 40 bytes each to each of the 2 others, were the exchange before */
        long long rows_bytes = 40LL * (rows / 3) * 2;
        printf("  %-90s rank 1 sent %lld bytes (grid %lld; its rows would be %lld)\n", cases[c], sent[1], grid,
               rows_bytes);
        for (int r = 1; r < 3; r++) {
            EXPECT(sent[r] >= grid);
            /* (a snapshot table's rival check sends its keys, one per place and date: here
             * every row is its own place, so case 2 is not bounded by the grid) */
            if (c < 2) EXPECT(sent[r] < grid + 120000 && sent[r] < grid + rows_bytes / 4);
            if (c == 3) EXPECT(sent[r] >= grid + 24LL * (rows / 4) * 2); /* the rule's gather: 24 bytes a point */
        }
    }
}

/* Rank r's "received" less the duplicate check's, from DF_MPI_STATS=1 in out. */
static long long received_by(int rank)
{
    char key[64];
    snprintf(key, sizeof key, "dispflow-mpi: rank %d of", rank);
    char *at = strstr(out, key);
    long long sent, received = -1, dup_sent, dup = -1;
    if (at && sscanf(strstr(at, "sent ") + 5,
                     "%lld bytes, received %lld bytes (of which the duplicate check: sent %lld, received %lld", &sent,
                     &received, &dup_sent, &dup) == 4)
        return received - dup;
    return -1;
}

/* The decision log's rows go to rank 0 alone (MPI_Gatherv; issue 12 item 4,
 * docs/scale.md): rank 0, which writes the log, receives ranks 1 and 2's
 * rows (2/3 of the log), ranks 1 and 2 receive none of them (the join's
 * bins only); the log is the single process's, byte for byte. */
TEST(decision_log_to_rank_0_only_item4)
{
    if (!have_mpirun()) SKIP("mpirun is absent (Debian openmpi-bin; make deps-test installs it)");
    char path[1200], args[2000];
    snprintf(path, sizeof path, "%s/logged.csv", tmpdir);
    if (write_rows(path, 30000, 0) != 0) return;
    snprintf(args, sizeof args,
             "join --records logged.csv --boundaries %s/shapes/iraq_adm1_naturalearth.geojson --level adm1", cwd);
    EXPECT_INT(sh("%s %s --log log.csv -o out.csv && mv log.csv single_log.csv", dispflow, args), 0);
    EXPECT_INT(
        sh("DF_MPI_STATS=1 " MPIRUN "%s %s --log log.csv -o out.csv && mv log.csv multi_log.csv", dispflow_mpi, args),
        0);
    long long got[3] = {received_by(0), received_by(1), received_by(2)};
    long la = same_files("single_log.csv", "multi_log.csv");
    EXPECT(la > 0);
    printf("  a log of %ld bytes: received (less the duplicate check) rank 0 %lld, rank 1 %lld, rank 2 %lld\n", la,
           got[0], got[1], got[2]);
    EXPECT(got[0] > (long long)la / 2);
    EXPECT(got[1] >= 0 && got[1] < (long long)la / 10);
    EXPECT(got[2] >= 0 && got[2] < (long long)la / 10);
}

int main(int argc, char **argv)
{
    harness_cli_path(argc, argv, dispflow, sizeof dispflow); /* BUILD/tests/NAME -> BUILD/dispflow */
    snprintf(dispflow_mpi, sizeof dispflow_mpi, "%s-mpi", dispflow);
    if (!getcwd(cwd, sizeof cwd) || !mkdtemp(tmpdir)) return 1;
    /* the commands run in tmpdir: the programs by their absolute paths */
    char abs[PATH_MAX];
    if (realpath(dispflow, abs)) {
        snprintf(dispflow, sizeof dispflow, "%s", abs);
        snprintf(dispflow_mpi, sizeof dispflow_mpi, "%s-mpi", dispflow);
    }
    RUN(mosul_bundle_byte_identical_on_3_ranks_item4);
    RUN(duplicates_and_rejections_across_ranks_item4);
    RUN(ranks_times_threads_and_too_few_rows_item4);
    RUN(log_density_and_true_lines_across_ranks_item4);
    RUN(density_grids_summed_not_points_item4);
    RUN(decision_log_to_rank_0_only_item4);
    harness_remove_dir(tmpdir);
    return harness_done();
}
