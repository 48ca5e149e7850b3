/*
 * test_postgis.c — issue 15 item 4, PostGIS in and out, against a real
 * server: the test starts its own PostgreSQL 15 + PostGIS 3 cluster in a
 * temporary folder (as the postgres user, a Unix socket there, no TCP) and
 * stops it at exit. The records loaded into it with ogr2ogr give the same
 * figures as the file (the Mosul truth); a job writes its layers and styles
 * into a schema that QGIS opens styled; a failure mid-write leaves the
 * previous schema as it was; a schema dispflow did not write is not replaced.
 */
#include "dfint.h"
#include "harness.h"

#include <gdal.h>
#include <ogr_api.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define PGBIN    "/usr/lib/postgresql/15/bin"
#define ET       SHARED_DATA "/synthetic_et_mosul/records.csv"
#define ADM2_SHP SHARED_DATA "/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp"

static char tmpdir[] = "/tmp/dispflow-pg-XXXXXX";
static char conn[256], cli[4200] = "build/dispflow";
static int server_up;

static void stop_server(void)
{
    char cmd[1024];
    if (server_up) {
        snprintf(cmd, sizeof cmd,
                 "runuser -u postgres -- " PGBIN "/pg_ctl -D %s/data -m immediate -w stop >/dev/null 2>&1", tmpdir);
        if (system(cmd) != 0) printf("  cannot stop the test's PostgreSQL in %s\n", tmpdir);
        server_up = 0;
    }
    harness_remove_dir(tmpdir);
}

/* A shell command built like printf; its exit status. */
static int sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* A cluster of our own; 0 when it is up, with the database dtm and PostGIS. */
static int start_server(void)
{
    if (access(PGBIN "/initdb", X_OK) != 0) return printf("  %s/initdb is absent (postgresql-15)\n", PGBIN), -1;
    if (!mkdtemp(tmpdir)) return -1;
    atexit(stop_server);
    chmod(tmpdir, 0755);
    /* tests run as root; the server will not: it runs as postgres */
    if (sh("chown postgres %s && runuser -u postgres -- " PGBIN
           "/initdb -D %s/data -A trust -U postgres >%s/initdb.log",
           tmpdir, tmpdir, tmpdir) != 0)
        return printf("  initdb failed in %s\n", tmpdir), -1;
    if (sh("runuser -u postgres -- " PGBIN "/pg_ctl -D %s/data -o \"-c listen_addresses='' -k %s\" -l %s/data/log -w "
           "start >/dev/null",
           tmpdir, tmpdir, tmpdir) != 0)
        return printf("  the server did not start: see %s/data/log\n", tmpdir), -1;
    server_up = 1;
    snprintf(conn, sizeof conn, "PG:host=%s user=postgres dbname=dtm", tmpdir);
    return sh("psql -q -h %s -U postgres -c 'CREATE DATABASE dtm' postgres && psql -q -h %s -U postgres -c 'CREATE "
              "EXTENSION postgis' dtm",
              tmpdir, tmpdir);
}

/* The first value of a query in the test's database, as text ("" for none). */
static void pg_text(const char *sql, char *out, size_t cap)
{
    out[0] = '\0';
    GDALDatasetH ds = GDALOpenEx(conn, GDAL_OF_VECTOR, (const char *const[]){"PostgreSQL", NULL}, NULL, NULL);
    OGRLayerH rs = ds ? GDALDatasetExecuteSQL(ds, sql, NULL, NULL) : NULL;
    OGRFeatureH f = rs ? OGR_L_GetNextFeature(rs) : NULL;
    if (f) snprintf(out, cap, "%s", OGR_F_IsFieldSetAndNotNull(f, 0) ? OGR_F_GetFieldAsString(f, 0) : "");
    if (f) OGR_F_Destroy(f);
    if (rs) GDALDatasetReleaseResultSet(ds, rs);
    if (ds) GDALClose(ds);
}

static long pg_long(const char *sql)
{
    char v[64];
    pg_text(sql, v, sizeof v);
    return v[0] ? atol(v) : -1;
}

/* Load the job text at tmpdir/job.ini and run it; the status, the message in msg. */
static df_status run_job(const char *text, char *msg, size_t cap)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/job.ini", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f) return DF_EIO;
    fputs(text, f);
    fclose(f);
    df_ctx *ctx = df_ctx_new();
    df_job *job = NULL;
    df_status st = df_job_load(ctx, path, "shapes/profiles", &job); /* the Iraq profile: its aliases */
    if (st == DF_OK) st = df_job_run(ctx, job);
    snprintf(msg, cap, "%s", st == DF_OK ? "" : df_ctx_errmsg(ctx));
    df_job_free(job);
    df_ctx_free(ctx);
    return st;
}

/* A connection string with a password (the test cluster trusts its socket:
 * libpq never sends it), to show it is in no message or manifest. */
#define SECRET " password=s3cret"

/* The job of the tests: the records from PostGIS, the layers into it. */
static void job_text(char *out, size_t cap, const char *schema, const char *from)
{
    char cwd[2048];
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
    snprintf(out, cap,
             "[job]\noutput = bundle\nfrom = %s\nas_of = 2017-05-02\ndatabase = %s" SECRET "\nschema = %s\n"
             "[records]\npath = %s" SECRET "\nlayer = rounds\nkind = increments\n"
             "[boundaries]\nadm2 = %s/" ADM2_SHP "\n",
             from, conn, schema, conn, cwd);
}

/* The sum of a field over a CSV column named name (the first row the header). */
static long csv_sum(const char *path, const char *name)
{
    char *text = harness_slurp(path, NULL);
    if (!text) return -1;
    long sum = 0;
    int col = -1;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') continue; /* the HXL row */
        char *s2 = NULL;
        int i = 0;
        for (char *c = strtok_r(line, ",", &s2); c; c = strtok_r(NULL, ",", &s2), i++) {
            if (col < 0 && !strcmp(c, name))
                col = i;
            else if (i == col)
                sum += atol(c);
        }
    }
    free(text);
    return col < 0 ? -1 : sum;
}

/* issue 15 item 4: records read from a PostgreSQL table through OGR give
 * the file's figures, to the byte, and the truth's totals */
TEST(records_from_postgis_equal_the_file)
{
    NEED_FILE(ET);
    NEED_FILE(ADM2_SHP);
    /* every column as text, as the CSV reader sees it */
    EXPECT_INT(sh("ogr2ogr -f PostgreSQL '%s' " ET " -nln rounds 2>&1", conn), 0);
    EXPECT_INT(pg_long("SELECT count(*) FROM rounds"), 3583);
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/pg.csv", tmpdir);
    snprintf(b, sizeof b, "%s/file.csv", tmpdir);
    EXPECT_INT(sh("%s join -q --records '%s' --records-layer rounds --boundaries " ADM2_SHP " -o %s", cli, conn, a), 0);
    EXPECT_INT(sh("%s join -q --records " ET " --boundaries " ADM2_SHP " -o %s", cli, b), 0);
    char *x = harness_slurp(a, NULL), *y = harness_slurp(b, NULL);
    EXPECT(x && y && strcmp(x, y) == 0);
    free(x);
    free(y);
    /* truth_totals.csv: displaced 463,692 and still displaced 358,032 on 2 May 2017 */
    EXPECT_INT(csv_sum(a, "displaced"), 463692);
    EXPECT_INT(csv_sum(a, "still_displaced"), 358032);
    /* the balance names the records: without the password (issue 17) */
    EXPECT_INT(sh("%s join --records '%s" SECRET "' --records-layer rounds --boundaries " ADM2_SHP " -o %s 2>%s/said",
                  cli, conn, a, tmpdir),
               0);
    char said[4200];
    snprintf(said, sizeof said, "%s/said", tmpdir);
    x = harness_slurp(said, NULL);
    EXPECT(x && strstr(x, "password=***") && !strstr(x, "s3cret"));
    free(x);
    /* a missing layer names the connection and the layers there */
    EXPECT(sh("%s join -q --records '%s' --records-layer nowhere --boundaries " ADM2_SHP " -o %s 2>%s/err", cli, conn,
              a, tmpdir) != 0);
    snprintf(a, sizeof a, "%s/err", tmpdir);
    x = harness_slurp(a, NULL);
    if (!x || !strstr(x, "no sheet or layer nowhere (it has: ")) HARNESS_FAIL("got: %s", x ? x : "(none)");
    free(x);
}

/* issue 15 item 4: the bundle's layers in the schema, as many features as
 * layers.gpkg, the Mosul figures, the styles in QGIS's layer_styles */
TEST(job_writes_the_layers_into_a_schema)
{
    NEED_FILE(ET);
    NEED_FILE(ADM2_SHP);
    char text[8192], msg[2048], gpkg[4200];
    job_text(text, sizeof text, "sitrep_{as_of}", "2016-10-17");
    EXPECT_INT(run_job(text, msg, sizeof msg), DF_OK);
    if (msg[0]) HARNESS_FAIL("%s", msg);
    EXPECT_INT(pg_long("SELECT count(*) FROM sitrep_20170502.adm2"), 101);
    EXPECT_INT(pg_long("SELECT sum(displaced) FROM sitrep_20170502.adm2"), 463692);
    EXPECT_INT(pg_long("SELECT sum(still_displaced) FROM sitrep_20170502.adm2"), 358032);
    EXPECT_INT(pg_long("SELECT count(*) FROM pg_namespace WHERE nspname LIKE '%\\_\\_tmp'"), 0);
    /* each layer of layers.gpkg, with its features */
    snprintf(gpkg, sizeof gpkg, "%s/bundle/layers.gpkg", tmpdir);
    GDALDatasetH ds = GDALOpenEx(gpkg, GDAL_OF_VECTOR, NULL, NULL, NULL);
    EXPECT(ds != NULL);
    int layers = 0;
    for (int i = 0; ds && i < GDALDatasetGetLayerCount(ds); i++) {
        OGRLayerH l = GDALDatasetGetLayer(ds, i);
        if (!strcmp(OGR_L_GetName(l), "layer_styles")) continue;
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM sitrep_20170502.%s", OGR_L_GetName(l));
        long want = (long)OGR_L_GetFeatureCount(l, TRUE), got = pg_long(sql);
        if (got != want) HARNESS_FAIL("%s: %ld features in PostGIS, %ld in layers.gpkg", OGR_L_GetName(l), got, want);
        layers++;
    }
    if (ds) GDALClose(ds);
    EXPECT(layers >= 4); /* adm1, adm2, flows, flow_nodes, records */
    EXPECT_INT(pg_long("SELECT count(*) FROM pg_tables WHERE schemaname = 'sitrep_20170502'"), layers);
    EXPECT_INT(pg_long("SELECT count(*) FROM public.layer_styles WHERE f_table_schema = 'sitrep_20170502' AND "
                       "useAsDefault AND f_table_catalog = 'dtm' AND f_geometry_column = 'geom'"),
               layers);
    /* a second run replaces the schema and its styles, not adds to them */
    EXPECT_INT(run_job(text, msg, sizeof msg), DF_OK);
    EXPECT_INT(pg_long("SELECT count(*) FROM public.layer_styles WHERE f_table_schema = 'sitrep_20170502'"), layers);
    EXPECT_INT(pg_long("SELECT sum(displaced) FROM sitrep_20170502.adm2"), 463692);
    /* the manifest names the database and the records, without the password */
    char path[4300];
    snprintf(path, sizeof path, "%s/bundle/manifest.json", tmpdir);
    char *m = harness_slurp(path, NULL);
    EXPECT(m && strstr(m, "password=***"));
    EXPECT(m && !strstr(m, "s3cret"));
    free(m);
}

/* issue 15 item 4: QGIS opens the layers from the database with their
 * styles (tests/peers/qgis_bundle.py --pg) */
TEST(qgis_opens_the_schema_styled)
{
    NEED_FILE(ET);
    if (system("/usr/bin/python3 -c 'import qgis.core' >/dev/null 2>&1") != 0)
        SKIP("the QGIS check: /usr/bin/python3 cannot import qgis");
    char log[4200];
    snprintf(log, sizeof log, "%s/qgis.log", tmpdir);
    if (sh("QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/peers/qgis_bundle.py --pg 'host=%s user=postgres "
           "dbname=dtm' sitrep_20170502 %s/bundle >%s 2>&1",
           tmpdir, tmpdir, log) != 0) {
        char *text = harness_slurp(log, NULL);
        HARNESS_FAIL("qgis_bundle.py --pg failed:\n%s", text ? text : "(no log)");
        free(text);
    }
}

/* issue 15 item 4: a failure in the middle of the write (the server refuses
 * the fourth table: an event trigger) leaves the previous schema, its
 * styles and the previous bundle as they were, and no temporary schema */
TEST(failure_mid_write_keeps_the_previous_schema)
{
    NEED_FILE(ET);
    char text[8192], msg[2048], manifest[4200];
    long before = pg_long("SELECT count(*) FROM sitrep_20170502.records");
    long styles = pg_long("SELECT count(*) FROM public.layer_styles");
    EXPECT(before > 0);
    snprintf(manifest, sizeof manifest, "%s/bundle/manifest.json", tmpdir);
    char *old_manifest = harness_slurp(manifest, NULL);
    EXPECT_INT(sh("psql -q -h %s -U postgres dtm -c \"CREATE FUNCTION refuse() RETURNS event_trigger LANGUAGE plpgsql "
                  "AS \\$\\$ BEGIN IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() WHERE object_identity = "
                  "'sitrep_20170502__tmp.records') THEN RAISE EXCEPTION 'injected: no records table'; END IF; END "
                  "\\$\\$\" -c 'CREATE EVENT TRIGGER refuse ON ddl_command_end EXECUTE FUNCTION refuse()'",
                  tmpdir),
               0);
    /* the round changes (from a later date), so a half-written one would show */
    job_text(text, sizeof text, "sitrep_{as_of}", "2017-01-01");
    EXPECT_INT(run_job(text, msg, sizeof msg), DF_EGDAL);
    if (!strstr(msg, "cannot write the layer records into schema sitrep_20170502__tmp") ||
        !strstr(msg, "injected: no records table"))
        HARNESS_FAIL("message: %s", msg);
    EXPECT_INT(pg_long("SELECT count(*) FROM sitrep_20170502.records"), before);
    EXPECT_INT(pg_long("SELECT sum(displaced) FROM sitrep_20170502.adm2"), 463692);
    EXPECT_INT(pg_long("SELECT count(*) FROM public.layer_styles"), styles);
    EXPECT_INT(pg_long("SELECT count(*) FROM pg_namespace WHERE nspname LIKE '%\\_\\_tmp'"), 0);
    char *new_manifest = harness_slurp(manifest, NULL);
    EXPECT(old_manifest && new_manifest && !strcmp(old_manifest, new_manifest)); /* the bundle is not swapped */
    free(old_manifest);
    free(new_manifest);
    EXPECT_INT(sh("psql -q -h %s -U postgres dtm -c 'DROP EVENT TRIGGER refuse'", tmpdir), 0);
}

/* issue 15 item 4: a schema that dispflow did not write is not replaced */
TEST(foreign_schema_is_not_replaced)
{
    NEED_FILE(ET);
    char text[8192], msg[2048];
    EXPECT_INT(
        sh("psql -q -h %s -U postgres dtm -c 'CREATE SCHEMA theirs' -c 'CREATE TABLE theirs.notes (t text)'", tmpdir),
        0);
    job_text(text, sizeof text, "theirs", "2016-10-17");
    EXPECT_INT(run_job(text, msg, sizeof msg), DF_EIO);
    if (!strstr(msg, "schema theirs exists and was not written by dispflow")) HARNESS_FAIL("message: %s", msg);
    EXPECT_INT(pg_long("SELECT count(*) FROM pg_tables WHERE schemaname = 'theirs'"), 1);
}

/* issue 15 item 4: the keys checked when the job is read */
TEST(job_keys_checked_at_load)
{
    static const struct {
        const char *schema, *want;
    } cases[] = {{"Sitrep-{as_of}", "[job] schema 'Sitrep-yyyymmdd' (from 'Sitrep-{as_of}'): a schema name is"},
                 {"public", "is not public or pg_*"}};
    char text[8192], path[4200], msg[2048];
    snprintf(path, sizeof path, "%s/job.ini", tmpdir);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        job_text(text, sizeof text, cases[i].schema, "2016-10-17");
        FILE *f = fopen(path, "w");
        if (!f) return;
        fputs(text, f);
        fclose(f);
        df_ctx *ctx = df_ctx_new();
        df_job *job = NULL;
        EXPECT_INT(df_job_load(ctx, path, NULL, &job), DF_EINVAL);
        snprintf(msg, sizeof msg, "%s", df_ctx_errmsg(ctx));
        if (!strstr(msg, cases[i].want)) HARNESS_FAIL("case %zu: got \"%s\", want \"%s\"", i, msg, cases[i].want);
        df_job_free(job);
        df_ctx_free(ctx);
    }
}

/* ---- no password in a message ---------------------------------------------- */

static char logged[8192];
static void keep_log(df_log_level level, const char *message, void *user)
{
    (void)level, (void)user;
    size_t n = strlen(logged);
    snprintf(logged + n, sizeof logged - n, "%s\n", message);
}

static int count_none(const df_record *r, void *user)
{
    (void)r, (void)user;
    return 0;
}

/* A password in a PG: connection string is never in a message: the error,
 * the log (libpq's forms: password=..., quoted or not; a URI's user:password@). */
TEST(password_is_never_in_a_message)
{
    char out[256];
    df__scrub_secrets("PG:dbname=iom password=s3cret host=/tmp", out, sizeof out);
    EXPECT_STR(out, "PG:dbname=iom password=*** host=/tmp");
    df__scrub_secrets("PG:dbname=iom PASSWORD = 'se cr\\'et' user=ann", out, sizeof out);
    EXPECT_STR(out, "PG:dbname=iom PASSWORD = *** user=ann");
    df__scrub_secrets("PG:postgresql://ann:s3cret@db.example/iom", out, sizeof out);
    EXPECT_STR(out, "PG:postgresql://ann:***@db.example/iom");
    df__scrub_secrets("see https://example.org/a:b@c and no password", out, sizeof out);
    EXPECT_STR(out, "see https://example.org/a:b@c and no password");
    df__scrub_secrets("password=s3cret", out, 8); /* cut short, still masked */
    EXPECT_STR(out, "passwor");

    /* the records of a server that is not there: the error names the
     * connection, without the password */
    df_ctx *ctx = df_ctx_new();
    df_ctx_set_log(ctx, keep_log, NULL);
    df_record_opts o;
    df_record_opts_init(&o);
    o.path = "PG:host=/nonexistent-dispflow dbname=iom user=ann password=s3cret";
    o.layer = "records";
    df_read_stats stats;
    EXPECT(df_records_read(ctx, &o, count_none, NULL, NULL, &stats) != DF_OK);
    const char *msg = df_ctx_errmsg(ctx);
    printf("  %s\n", msg);
    EXPECT(strstr(msg, "password=***") != NULL);
    EXPECT(strstr(msg, "s3cret") == NULL);
    EXPECT(strstr(logged, "s3cret") == NULL);
    df_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    harness_cli_path(argc, argv, cli, sizeof cli);
    GDALAllRegister();
    RUN(password_is_never_in_a_message); /* no server needed */
    if (start_server() != 0) {
        HARNESS_FAIL("no PostgreSQL 15 + PostGIS 3 server could be started (Debian postgresql-15-postgis-3)");
        printf("0 passed, 1 failed, 0 skipped\n");
        return 1;
    }
    RUN(records_from_postgis_equal_the_file);
    RUN(job_writes_the_layers_into_a_schema);
    RUN(qgis_opens_the_schema_styled);
    RUN(failure_mid_write_keeps_the_previous_schema);
    RUN(foreign_schema_is_not_replaced);
    RUN(job_keys_checked_at_load);
    return harness_done();
}
