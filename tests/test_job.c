/*
 * test_job.c — job files and `dispflow run`: every bad key, value and path
 * named with its file and line before any work; the bundle complete, its
 * figures equal to the stages' and to the synthetic table's truth, its
 * balance holding, byte-identical on a second run; a failed or cancelled
 * run leaving the previous bundle untouched and nothing behind.
 */
#include "dfint.h"
#include "harness.h"

#include <cairo.h>
#include <dirent.h>
#include <gdal.h>
#include <json-c/json.h>
#include <ogr_api.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char tmpdir[] = "/tmp/dispflow-job-XXXXXX";
static char cwd[1024];

/* Load a job written from text; returns the status and the message. */
static df_status load_text(const char *text, char *msg, size_t cap, df_job **out)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/job.ini", tmpdir);
    harness_write_file(path, text);
    df_ctx *ctx = df_ctx_new();
    df_job *job = NULL;
    df_status st = df_job_load(ctx, path, NULL, &job);
    snprintf(msg, cap, "%s", st == DF_OK ? "" : df_ctx_errmsg(ctx));
    if (out)
        *out = job;
    else
        df_job_free(job);
    df_ctx_free(ctx);
    return st;
}

/* A minimal valid job around the sample records and the shipped governorates. */
#define GOOD_HEAD                                                                                                      \
    "[job]\n"                                                                                                          \
    "output = bundle\n"                                                                                                \
    "[records]\n"                                                                                                      \
    "path = sample.csv\n"                                                                                              \
    "[boundaries]\n"

TEST(errors_name_file_line_and_key)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {GOOD_HEAD "adm1 = %s\n[flows]\ntop = ten\n", "job.ini:8: [flows] top: not a whole number >= 0: 'ten'"},
        {GOOD_HEAD "adm1 = %s\ncolour = red\n", "job.ini:7: [boundaries] colour: unknown key"},
        {GOOD_HEAD "adm1 = %s\n[styles]\nx = 1\n", "job.ini:7: unknown section [styles]"},
        {GOOD_HEAD "adm1 = %s\n[job]\nas_of = 2017-02-30\n", "job.ini:8: [job] as_of: not a date"},
        {GOOD_HEAD "adm1 = %s\n[job]\nstep = fortnight\n",
         "job.ini:8: [job] step: 'fortnight' is not none, day, week, month or round"},
        {GOOD_HEAD "adm1 = %s\n[density]\npixel = -5\n", "job.ini:8: [density] pixel: not a number > 0: '-5'"},
        {GOOD_HEAD "adm1 = %s\n[density]\nkernel = box\n", "job.ini:8: [density] kernel: 'box' is not quartic"},
        {GOOD_HEAD "adm1 = %s\nadm2 = nowhere.shp\n", "job.ini:7: [boundaries] adm2: no such file: "},
        {GOOD_HEAD "adm1 = %s\n[records]\npath = other.csv\n",
         "job.ini:8: [records] path: set twice (first on line 4)"},
        {GOOD_HEAD "adm1 = %s\nthis line has no equals sign\n", "job.ini:7: not a [section] or a key = value line"},
        {GOOD_HEAD
         "adm1 = %s\n[job]\ntitle = "
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
         "job.ini:8: line longer than 199 characters"},
        {"[records]\npath = sample.csv\n[boundaries]\nadm1 = %s\n", "job.ini: [job] output is required"},
        {"[job]\noutput = b\n[records]\npath = sample.csv\n", "job.ini: [boundaries] needs a boundary file"},
        {GOOD_HEAD "adm1 = %s\n[join]\nlevels = adm1, adm2\n",
         "job.ini: [join] levels: adm2 asked for, but the finest boundary file is adm1"},
        /* issue 17 item 22: with the lines */
        {GOOD_HEAD "adm1 = %s\n[job]\nfrom = 2017-01-01\nas_of = 2016-12-01\n",
         "job.ini:8: [job] from 2017-01-01 is after as_of 2016-12-01 (line 9)"},
        /* issue 17 item 22: an empty unknown section, an empty output, typos */
        {GOOD_HEAD "adm1 = %s\n[styles]\n", "job.ini:7: unknown section [styles]"},
        {GOOD_HEAD "adm1 = %s\n[flow]\nmin = 3\n", "job.ini:7: unknown section [flow] (did you mean [flows]?)"},
        {GOOD_HEAD "adm1 = %s\n[flows]\nmni = 3\n", "job.ini:8: [flows] mni: unknown key (did you mean min?)"},
        {"[job]\noutput =\n[records]\npath = sample.csv\n[boundaries]\nadm1 = %s\n",
         "job.ini:2: [job] output: empty: name the output folder"},
        {GOOD_HEAD "adm1 = %s\naliases =\n", "job.ini:7: [boundaries] aliases: empty: name a file"},
        {"[job]\noutput = no/such/folder/bundle\n[records]\npath = sample.csv\n[boundaries]\nadm1 = %s\n",
         "job.ini: [job] output: the folder above"},
        /* issue 13 items 1, 4 and 8: classes, credits, the output's placeholder */
        {GOOD_HEAD "adm1 = %s\n[maps]\nbreaks = 1000, 500\n",
         "job.ini:8: [maps] breaks: not ascending: 500 after 1000"},
        {GOOD_HEAD "adm1 = %s\n[maps]\nbreaks = 1000, lots\n", "job.ini:8: [maps] breaks: 'lots' is not a number > 0"},
        {GOOD_HEAD "adm1 = %s\n[maps]\nbreaks = 1,2,3,4,5,6,7,8,9\n", "job.ini:8: [maps] breaks: more than 8 breaks"},
        {GOOD_HEAD "adm1 = %s\n[maps]\nclasses = equal\n",
         "job.ini:8: [maps] classes: 'equal' is not nice, quantile or jenks"},
        {GOOD_HEAD "adm1 = %s\n[maps]\nclasses = jenks\nbreaks = 10, 100\n",
         "job.ini:8: [maps] classes and breaks (line 9): give one, not both"},
        {"[job]\noutput = bundle\nsource = A\n[records]\npath = sample.csv\nsource = B\n[boundaries]\nadm1 = %s\n",
         "job.ini:6: [records] source: already set as [job] source on line 3"},
        {GOOD_HEAD "adm1 = %s\n[report]\nlogo = nologo.png\n", "job.ini:8: [report] logo: no such file"},
        {"[job]\noutput = out_{week}\n[records]\npath = sample.csv\n[boundaries]\nadm1 = %s\n",
         "out_{week}: unknown placeholder {week} (the only one is {as_of})"},
    };
    char text[8192], msg[1024], shapes[4200];
    snprintf(shapes, sizeof shapes, "%s/shapes/iraq_adm1_naturalearth.geojson", cwd);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(text, sizeof text, cases[i].text, shapes);
        df_status st = load_text(text, msg, sizeof msg, NULL);
        EXPECT_INT(st, DF_EINVAL);
        if (!strstr(msg, cases[i].want)) HARNESS_FAIL("case %zu: got \"%s\", want \"%s\"", i, msg, cases[i].want);
    }
}

/* issue 17 item 20: a job file saved as UTF-16 (Windows Notepad's
 * "Unicode") said "line longer than 199 characters"; now the encoding and
 * the iconv line */
TEST(utf16_job_file_says_so)
{
    char path[8192], msg[1024];
    static const char text[] = "[job]\noutput = bundle\n";
    snprintf(path, sizeof path, "%s/job16.ini", tmpdir);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs("\xFF\xFE", f);
    for (const char *p = text; *p; p++) fputc(*p, f), fputc(0, f);
    fclose(f);
    df_ctx *ctx = df_ctx_new();
    df_job *job = NULL;
    EXPECT_INT(df_job_load(ctx, path, NULL, &job), DF_EINVAL);
    snprintf(msg, sizeof msg, "%s", df_ctx_errmsg(ctx));
    EXPECT(job == NULL);
    EXPECT(strstr(msg, "job16.ini: the job file is UTF-16LE text, not UTF-8: convert it with iconv -f UTF-16LE -t "
                       "UTF-8 ") != NULL);
    df_ctx_free(ctx);
}

/* issue 17 item 22: run --output '' became "." and failed only after the
 * whole run; an --output whose folder above is missing, likewise */
TEST(output_override_checked_upfront)
{
    char text[8192], msg[1024];
    df_job *job = NULL;
    snprintf(text, sizeof text, GOOD_HEAD "adm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n", cwd);
    EXPECT_INT(load_text(text, msg, sizeof msg, &job), DF_OK);
    if (!job) return;
    df_ctx *ctx = df_ctx_new();
    EXPECT_INT(df_job_set_output(ctx, job, ""), DF_EINVAL);
    EXPECT_STR(df_ctx_errmsg(ctx), "--output is empty: name the output folder");
    EXPECT_INT(df_job_set_output(ctx, job, "/no/such/folder/bundle"), DF_EINVAL);
    EXPECT(strstr(df_ctx_errmsg(ctx), "--output: the folder above /no/such/folder/bundle does not exist") != NULL);
    EXPECT_INT(df_job_set_output(ctx, job, "elsewhere/"), DF_OK);
    EXPECT_STR(df_job_output(job), "elsewhere");
    df_ctx_free(ctx);
    df_job_free(job);
}

TEST(paths_resolve_against_the_job_file)
{
    char text[8192], msg[1024];
    df_job *job = NULL;
    snprintf(text, sizeof text,
             "[job]\noutput = ./out/../bundle/\n[records]\npath = sample.csv\n"
             "[boundaries]\nadm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n; a comment\n# another\n",
             cwd);
    EXPECT_INT(load_text(text, msg, sizeof msg, &job), DF_OK);
    if (!job) return;
    char want[4200];
    snprintf(want, sizeof want, "%s/bundle", tmpdir);
    EXPECT_STR(df_job_output(job), want);
    snprintf(want, sizeof want, "%s/sample.csv", tmpdir);
    EXPECT_STR(job->opts.ro.path, want);
    EXPECT_INT(job->finest, 1);
    EXPECT_INT(job->levels, 1 << 1);
    EXPECT_INT(job->opts.fo.step, DF_STEP_MONTH);
    df_job_free(job);
}

/* ---- runs ------------------------------------------------------------------------ */

static df_status run_job(const char *job_path, df_progress_fn progress, char *msg, size_t cap)
{
    df_ctx *ctx = df_ctx_new();
    df_job *job = NULL;
    df_status st = df_job_load(ctx, job_path, "shapes/profiles", &job);
    if (progress) df_ctx_set_progress(ctx, progress, NULL);
    if (st == DF_OK) st = df_job_run(ctx, job);
    snprintf(msg, cap, "%s", st == DF_OK ? "" : df_ctx_errmsg(ctx));
    df_job_free(job);
    df_ctx_free(ctx);
    return st;
}

/* The SHA-256 of every file of a folder, "name sha\n" in name order. */
static void digest_folder(const char *dir, char *out, size_t cap)
{
    struct dirent **list = NULL;
    int n = scandir(dir, &list, NULL, alphasort);
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        char path[8192], hex[65] = "";
        snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
        if (list[i]->d_name[0] != '.' && df__sha256_file(path, hex) == 0 && k < cap)
            k += (size_t)snprintf(out + k, cap - k, "%s %s\n", list[i]->d_name, hex);
        free(list[i]);
    }
    free(list);
}

/* Nothing but the bundle itself beside it: no temporary folder left. */
static int leftovers(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp-")) n++;
    if (d) closedir(d);
    return n;
}

/* The real client: every layer and the project of a bundle open valid and
 * styled in QGIS, and the project renders (tests/peers/qgis_bundle.py). */
static void check_in_qgis(const char *bundle, const char *render)
{
    if (system("/usr/bin/python3 -c 'import qgis.core' >/dev/null 2>&1") != 0) {
        SKIP_MARK("the QGIS check: /usr/bin/python3 cannot import qgis");
        return;
    }
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/peers/qgis_bundle.py %s %s >%s.log 2>&1", bundle, render,
             render);
    if (system(cmd) != 0) {
        snprintf(cmd, sizeof cmd, "%s.log", render);
        char *log = harness_slurp(cmd, NULL);
        HARNESS_FAIL("qgis_bundle.py %s failed:\n%s", bundle, log ? log : "(no log)");
        free(log);
    }
}

static json_object *manifest(const char *bundle)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/manifest.json", bundle);
    return json_object_from_file(path);
}

static int64_t json_int(json_object *o, const char *const *keys)
{
    for (; *keys && o; keys++)
        if (!json_object_object_get_ex(o, *keys, &o)) return -1;
    return o ? json_object_get_int64(o) : -1;
}

TEST(run_default_bundle_complete_and_reproducible)
{
    char path[8192], job[4200], msg[1024], text[8192];
    df_ctx *ctx = df_ctx_new();
    snprintf(path, sizeof path, "%s/sample.csv", tmpdir);
    EXPECT_INT(df_sample_write(ctx, path, 2016), DF_OK);
    df_ctx_free(ctx);
    snprintf(job, sizeof job, "%s/default.ini", tmpdir);
    snprintf(text, sizeof text,
             "[job]\ntitle = Test\noutput = bundle\nsource = the embedded sample\n"
             "[records]\npath = sample.csv\n[boundaries]\nadm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n"
             "[density]\nradius = 10000\npixel = 2000\n",
             cwd);
    harness_write_file(job, text);
    EXPECT_INT(run_job(job, NULL, msg, sizeof msg), DF_OK);
    if (msg[0]) printf("  %s\n", msg);

    char bundle[1200];
    snprintf(bundle, sizeof bundle, "%s/bundle", tmpdir);
    static const char *const files[] = {"layers.gpkg",
                                        "project.qgs",
                                        "sitrep.html",
                                        "sitrep.md",
                                        "manifest.json",
                                        "adm1.csv",
                                        "flows.csv",
                                        "decisions.csv",
                                        "density_displaced.tif",
                                        "map_displaced.png",
                                        "map_still_displaced.png"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", bundle, files[i]);
        if (access(path, R_OK) != 0) HARNESS_FAIL("missing %s", files[i]);
    }
    /* the layers, with the counts the stages gave */
    snprintf(path, sizeof path, "%s/layers.gpkg", bundle);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, NULL, NULL);
    EXPECT(ds != NULL);
    static const char *const layers[] = {"adm1", "flows", "flow_nodes", "records", "layer_styles"};
    for (size_t i = 0; ds && i < sizeof layers / sizeof *layers; i++)
        if (!GDALDatasetGetLayerByName(ds, layers[i])) HARNESS_FAIL("layers.gpkg has no layer %s", layers[i]);
    if (ds) {
        EXPECT_INT(OGR_L_GetFeatureCount(GDALDatasetGetLayerByName(ds, "adm1"), TRUE), 18);
        GDALClose(ds);
    }
    /* the balance holds, in the manifest as in the join */
    json_object *m = manifest(bundle);
    EXPECT(m != NULL);
    static const char *const rows[] = {"balance", "adm1", "rows", NULL}, *const matched[] = {"balance", "adm1",
                                                                                             "matched", NULL};
    static const char *const unmatched[] = {"balance", "adm1", "unmatched", NULL},
                             *const outp[] = {"balance", "adm1", "out_of_period", NULL},
                             *const rej[] = {"balance", "adm1", "rejected", NULL};
    EXPECT(json_int(m, rows) > 2000);
    EXPECT_INT(json_int(m, matched) + json_int(m, unmatched) + json_int(m, outp) + json_int(m, rej), json_int(m, rows));
    json_object_put(m);

    /* a second run: the same bytes in every file */
    char first[8192], second[8192];
    digest_folder(bundle, first, sizeof first);
    EXPECT_INT(run_job(job, NULL, msg, sizeof msg), DF_OK);
    digest_folder(bundle, second, sizeof second);
    EXPECT_STR(second, first);
    EXPECT_INT(leftovers(tmpdir), 0);

    char render[1200];
    snprintf(render, sizeof render, "%s/default_render.png",
             getenv("DF_RENDER_DIR") ? getenv("DF_RENDER_DIR") : tmpdir);
    check_in_qgis(bundle, render);
}

/* issue 12 item 2: the manifest hashes the bundle's files on two threads
 * (manifest.c); every file of the bundle but the manifest is listed once,
 * in name order, with its size and the SHA-256 computed here again. */
TEST(manifest_lists_every_output_with_its_checksum_item2)
{
    char bundle[1200], path[1400], hex[65];
    snprintf(bundle, sizeof bundle, "%s/bundle", tmpdir); /* run_default_bundle_complete_and_reproducible's */
    snprintf(path, sizeof path, "%s/manifest.json", bundle);
    json_object *m = json_object_from_file(path), *outs = NULL;
    EXPECT(m && json_object_object_get_ex(m, "outputs", &outs));
    size_t n = outs ? json_object_array_length(outs) : 0;
    int files = 0, checked = 0;
    DIR *d = opendir(bundle);
    struct dirent *e;
    while (d && (e = readdir(d))) files += e->d_name[0] != '.' && strcmp(e->d_name, "manifest.json") != 0;
    if (d) closedir(d);
    EXPECT_INT((long)n, files);
    EXPECT(n >= 10); /* layers.gpkg, the raster, tables, maps, the sitrep, the project, the web map... */
    const char *prev = "";
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(outs, i), *file, *sha, *bytes;
        if (!json_object_object_get_ex(o, "file", &file) || !json_object_object_get_ex(o, "sha256", &sha) ||
            !json_object_object_get_ex(o, "bytes", &bytes)) {
            HARNESS_FAIL("output %zu lacks its file, sha256 or bytes", i);
            continue;
        }
        const char *name = json_object_get_string(file);
        EXPECT(strcmp(prev, name) < 0);
        prev = name;
        snprintf(path, sizeof path, "%s/%s", bundle, name);
        struct stat sb;
        EXPECT(stat(path, &sb) == 0 && (long)sb.st_size == (long)json_object_get_int64(bytes));
        EXPECT_INT(df__sha256_file(path, hex), 0);
        EXPECT_STR(json_object_get_string(sha), hex);
        checked++;
    }
    EXPECT_INT(checked, files);
    json_object_put(m);
}

/* issue 12 item 2: the bundle's large files are hashed on a thread as each
 * is finished; the manifest takes a digest only for a file still as it was
 * hashed, and hashes any other itself. */
TEST(digests_of_finished_files_issue12_item2)
{
    char dir[1200], path[1400], tmp[1400], hex[65], want[65];
    snprintf(dir, sizeof dir, "%s/digests", tmpdir);
    mkdir(dir, 0755);
    static const char *const names[] = {"a.csv", "b.csv", "c.csv"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        harness_write_file(path, i == 0 ? "first file\n" : i == 1 ? "second file\n" : "third file\n");
    }
    df__digests *d = df__digests_new(dir);
    EXPECT(d != NULL);
    df__digests_add(d, "a.csv");
    df__digests_add(d, "b.csv");
    df__digests_add(d, "missing.csv"); /* unreadable: no digest, the manifest says why */
    snprintf(path, sizeof path, "%s/a.csv", dir);
    EXPECT_INT(df__sha256_file(path, want), 0);
    EXPECT_INT(df__digests_get(d, "a.csv", hex), 1);
    EXPECT_STR(hex, want);
    EXPECT_INT(df__digests_get(d, "missing.csv", hex), 0);
    EXPECT_INT(df__digests_get(d, "c.csv", hex), 0); /* never given */
    df__digests_add(d, "c.csv");                     /* after a _get: no more are taken */
    EXPECT_INT(df__digests_get(d, "c.csv", hex), 0);
    /* b.csv replaced after it was hashed, as a commit does (a rename), with as many bytes */
    snprintf(tmp, sizeof tmp, "%s/b.tmp", dir);
    harness_write_file(tmp, "second FILE\n");
    snprintf(path, sizeof path, "%s/b.csv", dir);
    EXPECT_INT(rename(tmp, path), 0);
    EXPECT_INT(df__digests_get(d, "b.csv", hex), 0);
    /* a.csv grown in place */
    snprintf(path, sizeof path, "%s/a.csv", dir);
    FILE *f = fopen(path, "a");
    EXPECT(f && fputs("more\n", f) >= 0 && fclose(f) == 0);
    EXPECT_INT(df__digests_get(d, "a.csv", hex), 0);
    df__digests_free(d);
    df__digests_free(NULL);
    /* freed with files queued: its thread stops and is joined */
    d = df__digests_new(dir);
    for (int i = 0; i < 3; i++) df__digests_add(d, names[i]);
    df__digests_free(d);
    harness_remove_dir(dir);
}

static int cancel_at_sitrep(double fraction, const char *stage, void *user)
{
    (void)fraction, (void)user;
    return strncmp(stage, "situation report", 16) != 0;
}

static int cancel_at_web_map(double fraction, const char *stage, void *user)
{
    (void)fraction, (void)user;
    return strncmp(stage, "web map", 7) != 0;
}

/* issue 12 item 2: with a records layer, map.html is made on the records
 * layer's thread (beside the sitrep); its failure there fails the run as
 * anywhere else: the message says why, the previous bundle stays as it
 * was, and no temporary folder is left. */
TEST(web_map_failing_on_the_records_layer_thread_issue12_item2)
{
    char job[1200], bundle[1200], msg[1024], before[8192], after[8192], path[1400];
    snprintf(job, sizeof job, "%s/default.ini", tmpdir); /* written by the test before */
    snprintf(bundle, sizeof bundle, "%s/bundle", tmpdir);
    snprintf(path, sizeof path, "%s/manifest.json", bundle);
    char *m = harness_slurp(path, NULL);
    EXPECT(m && strstr(m, "\"records_layer\":{\n    \"written\":true") != NULL); /* the thread runs */
    free(m);
    digest_folder(bundle, before, sizeof before);
    EXPECT(before[0] != 0);
    setenv("DISPFLOW_LEAFLET", "/nonexistent/leaflet", 1);
    EXPECT_INT(run_job(job, NULL, msg, sizeof msg), DF_EIO);
    unsetenv("DISPFLOW_LEAFLET");
    EXPECT(strstr(msg, "map.html: cannot read Leaflet (/nonexistent/leaflet/leaflet.min.js)") != NULL);
    digest_folder(bundle, after, sizeof after);
    EXPECT_STR(after, before);
    EXPECT_INT(leftovers(tmpdir), 0);
    /* cancelled while the thread may be making it (the situation report), and at its stage */
    static const char *const stages[] = {"situation report", "web map"};
    for (int i = 0; i < 2; i++) {
        EXPECT_INT(run_job(job, i ? cancel_at_web_map : cancel_at_sitrep, msg, sizeof msg), DF_ECANCELLED);
        EXPECT(strstr(msg, stages[i]) != NULL);
        digest_folder(bundle, after, sizeof after);
        EXPECT_STR(after, before);
        EXPECT_INT(leftovers(tmpdir), 0);
    }
}

static int cancel_at_density(double fraction, const char *stage, void *user)
{
    (void)fraction, (void)user;
    return strncmp(stage, "density", 7) != 0;
}

TEST(failed_or_cancelled_run_keeps_the_previous_bundle)
{
    char job[1200], bundle[1200], msg[1024], before[8192], after[8192], text[8192];
    snprintf(job, sizeof job, "%s/default.ini", tmpdir); /* written by the test before */
    snprintf(bundle, sizeof bundle, "%s/bundle", tmpdir);
    digest_folder(bundle, before, sizeof before);
    EXPECT(before[0] != 0);

    /* cancelled half way (as Ctrl-C does through the progress callback) */
    EXPECT_INT(run_job(job, cancel_at_density, msg, sizeof msg), DF_ECANCELLED);
    digest_folder(bundle, after, sizeof after);
    EXPECT_STR(after, before);
    EXPECT_INT(leftovers(tmpdir), 0);

    /* an output naming someone's folder, not a bundle: refused before any work */
    char mine[1200], mine_job[1200];
    snprintf(mine, sizeof mine, "%s/mine", tmpdir);
    mkdir(mine, 0755);
    snprintf(text, sizeof text, "%s/notes.txt", mine);
    harness_write_file(text, "precious\n");
    snprintf(mine_job, sizeof mine_job, "%s/mine.ini", tmpdir);
    snprintf(text, sizeof text,
             "[job]\noutput = mine\n[records]\npath = sample.csv\n"
             "[boundaries]\nadm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n",
             cwd);
    harness_write_file(mine_job, text);
    EXPECT_INT(run_job(mine_job, NULL, msg, sizeof msg), DF_EIO);
    EXPECT(strstr(msg, "is not a dispflow bundle") != NULL);
    snprintf(text, sizeof text, "%s/notes.txt", mine);
    char *kept = harness_slurp(text, NULL);
    EXPECT(kept && !strcmp(kept, "precious\n"));
    free(kept);
    EXPECT_INT(leftovers(tmpdir), 0);

    /* failing in a stage: records without any count column */
    char bad[1200], badjob[1200];
    snprintf(bad, sizeof bad, "%s/nocount.csv", tmpdir);
    harness_write_file(bad, "Date,Governorate\n2017-01-01,Ninawa\n");
    snprintf(badjob, sizeof badjob, "%s/bad.ini", tmpdir);
    snprintf(text, sizeof text,
             "[job]\noutput = bundle\n[records]\npath = nocount.csv\n"
             "[boundaries]\nadm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n",
             cwd);
    harness_write_file(badjob, text);
    EXPECT_INT(run_job(badjob, NULL, msg, sizeof msg), DF_ESCHEMA);
    digest_folder(bundle, after, sizeof after);
    EXPECT_STR(after, before);
    EXPECT_INT(leftovers(tmpdir), 0);
}

/* issue 17 item 8 (and 16): the job checker refuses the density options the
 * stage would refuse, before any work, naming the file and the limit. */
TEST(job_checker_refuses_what_density_would_item8)
{
    char text[4096], msg[1024];
    const char *head = GOOD_HEAD "adm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n[density]\n%s";
    snprintf(text, sizeof text, head, cwd, "radius = 1000000000\npixel = 100\n");
    EXPECT_INT(load_text(text, msg, sizeof msg, NULL), DF_EINVAL);
    EXPECT(strstr(msg, "job.ini: [density]") && strstr(msg, "limit of 1000 pixels"));
    printf("  %s\n", msg);
    snprintf(text, sizeof text, head, cwd, "radius = 10\npixel = 1000\n");
    EXPECT_INT(load_text(text, msg, sizeof msg, NULL), DF_EINVAL);
    EXPECT(strstr(msg, "below the pixel size") != NULL);
    snprintf(text, sizeof text, head, cwd, "radius = 10\npixel = 1000\nsmall_radius = yes\n");
    EXPECT_INT(load_text(text, msg, sizeof msg, NULL), DF_OK);
    /* a density that is not made is not checked */
    snprintf(text, sizeof text, head, cwd, "enabled = no\nradius = 10\npixel = 1000\n");
    EXPECT_INT(load_text(text, msg, sizeof msg, NULL), DF_OK);
}

/* issue 17 item 22: what a later stage would refuse is refused by the job
 * checker, with its line: the density's t_srs (read after the join and the
 * flows, exit 9), the records' map, where and operation (read by the join),
 * each with the status the stage gives; and origins naming no unit, right
 * after the boundaries are loaded, before any stage reads the records. */
static int saw_join;

static int watch_join(double fraction, const char *stage, void *user)
{
    (void)fraction, (void)user;
    saw_join |= !strncmp(stage, "join", 4) || !strncmp(stage, "flows", 5);
    return 1;
}

TEST(job_checker_refuses_what_the_stages_would_item22)
{
    static const struct {
        const char *extra, *want;
        df_status st;
    } cases[] = {
        {"[density]\nt_srs = EPSG:99999\n", "job.ini:8: [density] t_srs: not a CRS GDAL can read: 'EPSG:99999'",
         DF_EINVAL},
        {"[density]\nt_srs = EPSG:4326\n", "job.ini:8: [density] t_srs: 'EPSG:4326' is not a projected CRS", DF_EINVAL},
        {"[records]\nmap = persons=Families\n", "job.ini:8: [records] map: --map: unknown field \"persons\"",
         DF_EINVAL},
        {"[records]\nmap = individuals=People\n", "job.ini:8: [records] map: ", DF_ESCHEMA},
        {"[records]\nwhere = Governorate\n", "job.ini:8: [records] where: --where \"Governorate\": not COLUMN=VALUE",
         DF_EINVAL},
        {"[records]\nwhere = Province=Ninewa\n", "--where Province=Ninewa: no column named \"Province\"", DF_ESCHEMA},
        {"[records]\noperation = Iraq\n", "job.ini:8: [records] operation: ", DF_ESCHEMA},
        {"[records]\nkind = snapshots\nmap = individuals=People\n", "job.ini:9: [records] map: ", DF_ESCHEMA},
    };
    char text[8192], msg[1024];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(text, sizeof text, GOOD_HEAD "adm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n%s", cwd,
                 cases[i].extra);
        EXPECT_INT(load_text(text, msg, sizeof msg, NULL), cases[i].st);
        if (!strstr(msg, cases[i].want)) HARNESS_FAIL("case %zu: got \"%s\", want \"%s\"", i, msg, cases[i].want);
    }
    /* the values that are right pass */
    snprintf(text, sizeof text,
             GOOD_HEAD "adm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n[density]\nt_srs = EPSG:32638\n[records]\n"
                       "map = individuals=Individuals\nwhere = Status=Displaced\n",
             cwd);
    EXPECT_INT(load_text(text, msg, sizeof msg, NULL), DF_OK);
    /* origins: after the boundaries, before the join */
    char path[8192];
    snprintf(path, sizeof path, "%s/origins.ini", tmpdir);
    snprintf(text, sizeof text,
             "[job]\noutput = origins-bundle\norigins = Atlantis\n[records]\npath = sample.csv\n[boundaries]\n"
             "adm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n",
             cwd);
    harness_write_file(path, text);
    saw_join = 0;
    EXPECT_INT(run_job(path, watch_join, msg, sizeof msg), DF_EINVAL);
    EXPECT(strstr(msg, "origins.ini: [job] origins: --origins: no unit with the P-code or name \"Atlantis\"") != NULL);
    EXPECT_INT(saw_join, 0);
    printf("  %s\n", msg);
}

/* issue 17 item 23: the progress of a whole run never goes back, also inside
 * the density stage (reading, then the grid; with publish, the support grid
 * too). */
static double progress_last;
static int progress_back, progress_density;

static int watch_progress(double fraction, const char *stage, void *user)
{
    (void)user;
    if (fraction < progress_last - 1e-12) {
        if (progress_back++ < 3) printf("  back: %.4f after %.4f (%s)\n", fraction, progress_last, stage);
    }
    progress_last = fraction;
    progress_density += !strncmp(stage, "density", 7);
    return 1;
}

TEST(progress_never_goes_back_item23)
{
    char job[1200], text[8192], msg[1024];
    snprintf(job, sizeof job, "%s/publish.ini", tmpdir);
    snprintf(text, sizeof text,
             "[job]\noutput = published\n[records]\npath = sample.csv\n"
             "[boundaries]\nadm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n"
             "[density]\nradius = 10000\npixel = 2000\n[publish]\nenabled = yes\n",
             cwd);
    harness_write_file(job, text);
    EXPECT_INT(run_job(job, watch_progress, msg, sizeof msg), DF_OK);
    if (msg[0]) printf("  %s\n", msg);
    EXPECT_INT(progress_back, 0);
    EXPECT(progress_density >= 4); /* reading and grid, twice */
    EXPECT_NEAR(progress_last, 1.0, 1e-12);
}

/* issue 17 item 16: manifest.json stays valid JSON whatever the figures: a
 * non-finite number (which json-c writes as a bare NaN) is written null. */
TEST(manifest_never_holds_nan_item16)
{
    char text[4096], msg[1024], dir[1200], path[1300];
    df_job *job = NULL;
    snprintf(text, sizeof text, GOOD_HEAD "adm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n", cwd);
    EXPECT_INT(load_text(text, msg, sizeof msg, &job), DF_OK);
    if (!job) return;
    df_ctx *ctx = df_ctx_new();
    df_density_opts o;
    df_density_opts_init(&o);
    o.radius = 5000, o.pixel = 1000;
    double lon = 43.1, lat = 36.3, w = 10;
    df_density *d = NULL;
    EXPECT_INT(df_density_points(ctx, &lon, &lat, &w, 1, NULL, &o, &d), DF_OK);
    if (d) {
        df_density_info *in = (df_density_info *)df_density_get_info(d); /* as a NaN from any cause would */
        in->edge_loss = NAN, in->mask_loss = INFINITY;
        /* the manifest reads the balance of the finest join */
        char rec[1200], adm1[1200];
        snprintf(rec, sizeof rec, "%s/sample.csv", tmpdir);
        snprintf(adm1, sizeof adm1, "%s/shapes/iraq_adm1_naturalearth.geojson", cwd);
        df_boundaries *b = harness_boundaries(ctx, adm1, 1);
        df_record_opts ro;
        df_record_opts_init(&ro);
        ro.path = rec;
        df_join_opts jo;
        df_join_opts_init(&jo);
        jo.level = 1;
        df_join *j = NULL;
        EXPECT(b && df_join_run(ctx, b, &ro, &jo, &j) == DF_OK);
        df__report rep = {.job = job, .density = d, .density_file = "density.tif", .level = 1, .fine = b};
        rep.join[1] = j, rep.b[1] = b;
        snprintf(dir, sizeof dir, "%s/nan", tmpdir);
        mkdir(dir, 0755);
        EXPECT_INT(df__manifest_write(ctx, &rep, dir), DF_OK);
        snprintf(path, sizeof path, "%s/manifest.json", dir);
        /* parsed strictly (json-c's default accepts a bare NaN; RFC 8259 does not) */
        char *body = harness_slurp(path, NULL);
        json_tokener *tok = json_tokener_new();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        json_object *m = body ? json_tokener_parse_ex(tok, body, (int)strlen(body)) : NULL, *den = NULL, *v = NULL;
        json_tokener_free(tok);
        free(body);
        EXPECT(m != NULL);
        EXPECT(m && json_object_object_get_ex(m, "density", &den));
        EXPECT(den && json_object_object_get_ex(den, "edge_loss", &v) && v == NULL);
        EXPECT(den && json_object_object_get_ex(den, "mask_loss", &v) && v == NULL);
        EXPECT(den && json_object_object_get_ex(den, "total_weight", &v) && json_object_get_double(v) == 10);
        json_object_put(m);
        df_join_free(j);
        df_boundaries_free(b);
    }
    df_density_free(d);
    df_job_free(job);
    df_ctx_free(ctx);
}

/* issue 17 item 31: every GeoPackage dispflow writes passes GDAL's own
 * validator (Req 15: gpkg_contents.last_change with milliseconds): the
 * bundle's layers.gpkg and a join written as GPKG. */
#define GPKG_VALIDATOR "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py"

static int gpkg_valid(const char *path)
{
    char cmd[2048], said[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 " GPKG_VALIDATOR " %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(said, 1, sizeof said - 1, p) : 0;
    said[n] = 0;
    int status = p ? pclose(p) : -1;
    if (status != 0 || n > 0) printf("  %s: %s\n", path, n > 400 ? said + n - 400 : said);
    return status == 0 && n == 0; /* silent when valid */
}

TEST(gpkg_passes_gdal_validator_item31)
{
    if (access(GPKG_VALIDATOR, R_OK) != 0) {
        printf("SKIPPED %s: %s is absent\n", __func__, GPKG_VALIDATOR);
        return;
    }
    char path[1300], rec[1200], adm1[1200];
    snprintf(path, sizeof path, "%s/bundle/layers.gpkg", tmpdir); /* run_default_bundle_complete_and_reproducible */
    EXPECT(gpkg_valid(path));
    df_ctx *ctx = df_ctx_new();
    snprintf(rec, sizeof rec, "%s/sample.csv", tmpdir);
    snprintf(adm1, sizeof adm1, "%s/shapes/iraq_adm1_naturalearth.geojson", cwd);
    df_boundaries *b = harness_boundaries(ctx, adm1, 1);
    df_record_opts ro;
    df_record_opts_init(&ro);
    ro.path = rec;
    df_join_opts jo;
    df_join_opts_init(&jo);
    jo.level = 1;
    df_join *j = NULL;
    EXPECT(b && df_join_run(ctx, b, &ro, &jo, &j) == DF_OK);
    snprintf(path, sizeof path, "%s/join.gpkg", tmpdir);
    EXPECT(j && df_join_write(ctx, j, b, path, "GPKG", NULL) == DF_OK);
    EXPECT(gpkg_valid(path));
    df_join_free(j);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* The synthetic Mosul table: the sitrep's headline equals the ground truth,
 * every level adds up, and the flows out of the corridor add up to the
 * displaced. */
TEST(mosul_bundle_equals_truth)
{
    NEED_FILE(MOSUL_ET "records.csv");
    NEED_FILE(COD_ADM2_SHP);
    char job[1200], text[8192], msg[1024], path[8192];
    harness_mosul_job(job, sizeof job, tmpdir, cwd, "mosul", "[density]\npixel = 1000\n");
    EXPECT_INT(run_job(job, NULL, msg, sizeof msg), DF_OK);
    if (msg[0]) printf("  %s\n", msg);
    snprintf(path, sizeof path, "%s/mosul/sitrep.md", tmpdir);
    char *md = harness_slurp(path, NULL);
    EXPECT(md != NULL);
    if (!md) return;
    /* truth_totals.csv: displaced 463,692 and still displaced 358,032 on 2 May 2017 */
    EXPECT(strstr(md, "| Displaced since the start | 463,692 |") != NULL);
    EXPECT(strstr(md, "| Returned (of those displaced) | 105,660 |") != NULL);
    EXPECT(strstr(md, "| Still displaced | 358,032 |") != NULL);
    /* the four rejected rows of defects.csv, by reason */
    EXPECT(strstr(md, "4 rejected") != NULL);
    EXPECT(strstr(md, "| bad-date | 1 |") != NULL);
    free(md);

    /* both levels add up to the same totals */
    char *csv[3] = {NULL};
    int64_t total[3] = {0};
    for (int l = 1; l <= 2; l++) {
        snprintf(path, sizeof path, "%s/mosul/adm%d.csv", tmpdir, l);
        csv[l] = harness_slurp(path, NULL);
        EXPECT(csv[l] != NULL);
        char *line = csv[l] ? strchr(csv[l], '\n') : NULL;
        line = line ? strchr(line + 1, '\n') : NULL; /* past the HXL row */
        for (; line && line[1]; line = strchr(line + 1, '\n')) {
            char *c = line + 1;
            for (int k = 0; k < 3; k++) c = strchr(c, ',') + 1; /* P-codes and name hold no commas */
            total[l] += strtoll(c, NULL, 10);
        }
        free(csv[l]);
    }
    EXPECT_INT(total[1], 463692);
    EXPECT_INT(total[2], 463692);
    EXPECT_INT(leftovers(tmpdir), 0);

    /* governorates only, from the district file: the same headline */
    snprintf(text, sizeof text,
             "[job]\noutput = mosul_adm1\nfrom = 2016-10-17\nas_of = 2017-05-02\n"
             "[records]\npath = %s/" MOSUL_ET "records.csv\n[boundaries]\nadm2 = %s/" COD_ADM2_SHP "\n"
             "[join]\nlevels = adm1\n[density]\nenabled = no\n",
             cwd, cwd);
    harness_write_file(job, text);
    EXPECT_INT(run_job(job, NULL, msg, sizeof msg), DF_OK);
    snprintf(path, sizeof path, "%s/mosul_adm1/sitrep.md", tmpdir);
    md = harness_slurp(path, NULL);
    EXPECT(md && strstr(md, "| Still displaced | 358,032 |"));
    free(md);

    char bundle[1200], render[1200];
    snprintf(bundle, sizeof bundle, "%s/mosul", tmpdir);
    snprintf(render, sizeof render, "%s/mosul_render.png", getenv("DF_RENDER_DIR") ? getenv("DF_RENDER_DIR") : tmpdir);
    check_in_qgis(bundle, render);
}

/* issue 13 item 6: a snapshot table (the DTM API's districts, no returns,
 * no families): figures it does not carry are "not in the table", never 0;
 * the districts with no record in the snapshot are "not assessed", listed
 * apart from 0; the subtitle gives the snapshot date and operation; one
 * map, not the same map twice. */
TEST(snapshot_wording_item6)
{
#define API SHARED_DATA "/dtm_irq_api/global-iom-dtm-from-api-admin2_IRQ-rows.csv"
    NEED_FILE(API);
    NEED_FILE(COD_ADM2_SHP);
    char job[1200], text[8192], msg[1024], path[8192];
    snprintf(job, sizeof job, "%s/snapshot.ini", tmpdir);
    snprintf(text, sizeof text,
             "[job]\noutput = snapshot\nas_of = 2017-05-31\n[records]\npath = %s/" API "\n"
             "[boundaries]\nadm2 = %s/" COD_ADM2_SHP "\n",
             cwd, cwd);
    harness_write_file(job, text);
    EXPECT_INT(run_job(job, NULL, msg, sizeof msg), DF_OK);
    if (msg[0]) printf("  %s\n", msg);
    /* the districts of the latest snapshot on or before 31 May 2017 (30 May), counted here */
    char *csv = harness_slurp(API, NULL), pcodes[128][16];
    int distinct = 0;
    for (char *line = csv; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (!strstr(line, ",2017-05-30") || strstr(line, ",2017-05-30") > strchr(line, '\n')) continue;
        char *c = line;
        for (int k = 0; k < 7 && c; k++) c = strchr(c, ',') ? strchr(c, ',') + 1 : NULL;
        char code[16];
        snprintf(code, sizeof code, "%.*s", c && strchr(c, ',') ? (int)(strchr(c, ',') - c) : 0, c ? c : "");
        int seen = 0;
        for (int i = 0; i < distinct; i++) seen |= !strcmp(pcodes[i], code);
        if (!seen && distinct < 128) snprintf(pcodes[distinct++], 16, "%s", code);
    }
    free(csv);
    EXPECT_INT(distinct, 98);
    snprintf(path, sizeof path, "%s/snapshot/sitrep.md", tmpdir);
    char *md = harness_slurp(path, NULL), want[160];
    EXPECT(md != NULL);
    if (!md) return;
    EXPECT(strstr(md, "| Returned (of those displaced) | not in the table |"));
    EXPECT(strstr(md, "| Families displaced | not in the table |"));
    EXPECT(!strstr(md, "| Returned (of those displaced) | 0 |") && !strstr(md, "| Families displaced | 0 |"));
    EXPECT(strstr(md, "Snapshot of 30 May 2017 (operation: Iraq conflict)"));
    EXPECT(!strstr(md, "30 May 2017 to 31 May 2017"));
    snprintf(want, sizeof want, "%d of 101 districts were assessed", distinct);
    EXPECT(strstr(md, want));
    snprintf(want, sizeof want,
             "Not assessed (no record in the snapshot: not 0, hatched on the maps), %d districts: ", 101 - distinct);
    EXPECT(strstr(md, want));
    EXPECT(!strstr(md, "Returnees")); /* no columns of 0 for what the table does not count */
    free(md);
    snprintf(path, sizeof path, "%s/snapshot/map_displaced.png", tmpdir);
    EXPECT(access(path, F_OK) == 0);
    snprintf(path, sizeof path, "%s/snapshot/map_still_displaced.png", tmpdir);
    EXPECT(access(path, F_OK) != 0); /* still displaced = displaced here: not drawn twice */
    snprintf(path, sizeof path, "%s/snapshot/manifest.json", tmpdir);
    char *m = harness_slurp(path, NULL);
    EXPECT(m && strstr(m, "\"returned\":null") && strstr(m, "\"families\":null"));
    free(m);
#undef API
}

/* Load and run a job with an as-of date given as `run --as-of` does. */
static df_status run_job_as_of(const char *job_path, const char *profiles, const char *as_of, char *msg, size_t cap)
{
    df_ctx *ctx = df_ctx_new();
    df_job *job = NULL;
    int32_t day = DF_NO_DATE;
    df_status st = df_job_load(ctx, job_path, profiles, &job);
    if (st == DF_OK && as_of && df_date_parse(as_of, &day) == 0) st = df_job_set_as_of(ctx, job, day);
    if (st == DF_OK) st = df_job_run(ctx, job);
    snprintf(msg, cap, "%s", st == DF_OK ? "" : df_ctx_errmsg(ctx));
    df_job_free(job);
    df_ctx_free(ctx);
    return st;
}

/* The breaks of a level in a bundle's manifest: their number, -1 when absent. */
static int manifest_breaks(const char *bundle, const char *level, double *breaks)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/manifest.json", bundle);
    json_object *m = json_object_from_file(path), *c, *l, *b;
    int n = -1;
    if (m && json_object_object_get_ex(m, "classes", &c) && json_object_object_get_ex(c, level, &l) &&
        json_object_object_get_ex(l, "breaks", &b)) {
        n = (int)json_object_array_length(b);
        for (int i = 0; i < n && i < DF__MAX_BREAKS; i++)
            breaks[i] = json_object_get_double(json_object_array_get_idx(b, i));
    }
    json_object_put(m);
    return n;
}

/* The displaced of every P-code of a bundle's adm2.csv (columns: pcode,
 * name, parent, displaced, ...), into pcodes/values; returns the count. */
static int csv_displaced(const char *bundle, char pcodes[][16], double *values, int cap)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/adm2.csv", bundle);
    char *csv = harness_slurp(path, NULL), *line = csv ? strchr(csv, '\n') : NULL;
    int n = 0;
    line = line ? strchr(line + 1, '\n') : NULL; /* past the HXL row */
    for (; line && line[1] && n < cap; line = strchr(line + 1, '\n')) {
        char *c = line + 1, *comma = strchr(c, ',');
        snprintf(pcodes[n], 16, "%.*s", comma ? (int)(comma - c) : 0, c);
        for (int k = 0; k < 3 && c; k++) c = strchr(c, ',') ? strchr(c, ',') + 1 : NULL;
        values[n++] = c ? strtod(c, NULL) : -1;
    }
    free(csv);
    return n;
}

/* issue 13 items 1 and 8: the Mosul job run weekly (output = .../{as_of},
 * --as-of 27 Apr then 2 May 2017): last week's bundle is kept, both weeks
 * use the same breaks, and a district whose figure stays in its class keeps
 * its colour (from the class assignment). */
TEST(weekly_bundles_keep_their_classes_item1_item8)
{
    NEED_FILE(MOSUL_ET "records.csv");
    NEED_FILE(COD_ADM2_SHP);
    char job[1200], text[8192], msg[1024], week[2][1200];
    snprintf(job, sizeof job, "%s/weekly.ini", tmpdir);
    snprintf(text, sizeof text,
             "[job]\ntitle = Mosul\noutput = weekly_{as_of}\nfrom = 2016-10-17\nstep = week\n"
             "[records]\npath = %s/" MOSUL_ET "records.csv\n"
             "[boundaries]\nadm1 = %s/" COD_ADM1_SHP "\nadm2 = %s/" COD_ADM2_SHP "\n[density]\nenabled = no\n",
             cwd, cwd, cwd);
    harness_write_file(job, text);
    /* no date: the output cannot be named, said before any work */
    EXPECT_INT(run_job(job, NULL, msg, sizeof msg), DF_EINVAL);
    EXPECT(strstr(msg, "needs the as-of date") && strstr(msg, "--as-of"));
    static const char *const dates[2] = {"2017-04-27", "2017-05-02"};
    double breaks[2][DF__MAX_BREAKS] = {{0}};
    int nb[2];
    for (int w = 0; w < 2; w++) {
        EXPECT_INT(run_job_as_of(job, "shapes/profiles", dates[w], msg, sizeof msg), DF_OK);
        if (msg[0]) printf("  %s\n", msg);
        snprintf(week[w], sizeof week[w], "%s/weekly_%s", tmpdir, dates[w]);
        nb[w] = manifest_breaks(week[w], "adm2", breaks[w]);
    }
    struct stat sb;
    EXPECT(stat(week[0], &sb) == 0 && S_ISDIR(sb.st_mode)); /* last week's bundle kept */
    /* the "nice" scheme: the rung of the 1-2-5 ladder below the largest
     * district (Al-Mosul, 187,902 on 2 May) is 100,000, one rung a step
     * down to the 20% quantile: 10,000 20,000 50,000 100,000 */
    EXPECT_INT(nb[0], 4);
    EXPECT_INT(nb[1], 4);
    for (int i = 0; i < 4 && nb[0] == 4 && nb[1] == 4; i++) {
        EXPECT(breaks[0][i] == breaks[1][i]);
        static const double want[4] = {10000, 20000, 50000, 100000};
        EXPECT(breaks[1][i] == want[i]);
    }
    /* every district: the same class, then the same colour */
    char pc[2][128][16];
    double v[2][128];
    int n0 = csv_displaced(week[0], pc[0], v[0], 128), n1 = csv_displaced(week[1], pc[1], v[1], 128);
    EXPECT_INT(n0, 101);
    EXPECT_INT(n1, 101);
    int stayed = 0, moved = 0;
    for (int i = 0; i < n0 && i < n1 && nb[0] == 4 && nb[1] == 4; i++) {
        EXPECT(strcmp(pc[0][i], pc[1][i]) == 0);
        if (!(v[0][i] > 0 && v[1][i] > 0)) continue;
        int c0 = df__class_of(v[0][i], breaks[0], nb[0]), c1 = df__class_of(v[1][i], breaks[1], nb[1]);
        if (c0 != c1) {
            moved++;
            continue;
        }
        stayed++;
        EXPECT(strcmp(df__class_hex(c0, nb[0] + 1), df__class_hex(c1, nb[1] + 1)) == 0);
    }
    printf("  districts with people: %d keep their class and colour, %d change class\n", stayed, moved);
    EXPECT(stayed >= 10);
    /* the QGIS style of adm2 has the same breaks: a range ends at each */
    char gpkg[8192];
    snprintf(gpkg, sizeof gpkg, "%s/layers.gpkg", week[1]);
    GDALDatasetH ds = GDALOpenEx(gpkg, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    OGRLayerH styles = ds ? GDALDatasetGetLayerByName(ds, "layer_styles") : NULL;
    int found = 0;
    OGRFeatureH f;
    if (styles) OGR_L_SetAttributeFilter(styles, "f_table_name = 'adm2'");
    while (styles && (f = OGR_L_GetNextFeature(styles))) {
        const char *qml = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "styleQML"));
        found = strstr(qml, "upper=\"10000\"") && strstr(qml, "upper=\"20000\"") && strstr(qml, "upper=\"50000\"") &&
                strstr(qml, "upper=\"100000\"") && strstr(qml, "189,0,38,255"); /* #bd0026, the map's top */
        OGR_F_Destroy(f);
    }
    if (ds) GDALClose(ds);
    EXPECT(found);
    /* quantiles when asked: the breaks then follow the data */
    char *q = strstr(text, "[density]");
    memmove(q + strlen("[maps]\nclasses = quantile\n"), q, strlen(q) + 1);
    memcpy(q, "[maps]\nclasses = quantile\n", strlen("[maps]\nclasses = quantile\n"));
    harness_write_file(job, text);
    EXPECT_INT(run_job_as_of(job, "shapes/profiles", dates[1], msg, sizeof msg), DF_OK);
    double qb[DF__MAX_BREAKS];
    int nq = manifest_breaks(week[1], "adm2", qb);
    EXPECT(nq >= 1 && (nq != 4 || qb[0] != 10000));
}

/* issue 13 item 4: the same job run from two working folders, its path
 * written two ways, gives byte-identical bundles; no file of the bundle
 * holds a local path (the manifest names inputs relative to the job
 * file); the job's credits are in the report. */
TEST(bundle_same_bytes_from_anywhere_no_local_path_item4)
{
    NEED_FILE(MOSUL_ET "records.csv");
    NEED_FILE(COD_ADM2_SHP);
    char dir[1200], data[1200], shared[1200], job[1400], msg[1024], profiles[1200];
    snprintf(dir, sizeof dir, "%s/office/jobs", tmpdir);
    snprintf(data, sizeof data, "%s/office/data", tmpdir);
    snprintf(shared, sizeof shared, "%s/" SHARED_DATA, cwd);
    snprintf(profiles, sizeof profiles, "%s/shapes/profiles", cwd);
    char office[1200];
    snprintf(office, sizeof office, "%s/office", tmpdir);
    EXPECT_INT(mkdir(office, 0755), 0);
    EXPECT_INT(mkdir(dir, 0755), 0);
    EXPECT_INT(symlink(shared, data), 0); /* the data where an office keeps it, not a copy */
    snprintf(job, sizeof job, "%s/mosul.ini", dir);
    harness_write_file(job, "[job]\ntitle = Mosul\noutput = ../bundle\nfrom = 2016-10-17\nas_of = 2017-05-02\n"
                            "[records]\npath = ../data/synthetic_et_mosul/records.csv\n"
                            "source = IOM DTM Emergency Tracking (synthetic test table)\n"
                            "[boundaries]\n"
                            "adm1 = ../data/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm1_cso_20190603.shp\n"
                            "adm2 = ../data/boundaries/irq_cod_ab_20190603_shp/irq_admbnda_adm2_cso_20190603.shp\n"
                            "credit = Boundaries: OCHA COD-AB (CSO, 2019)\n"
                            "[density]\nenabled = no\n"
                            "[report]\norganisation = IOM Iraq\ncontact = dtmiraq@example.org\nlogo = logo.png\n");
    /* a logo of the office: a small PNG beside the job */
    char logo[1400];
    snprintf(logo, sizeof logo, "%s/logo.png", dir);
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 60, 30);
    cairo_t *cr = cairo_create(img);
    cairo_set_source_rgb(cr, 0, 0.3, 0.6);
    cairo_paint(cr);
    cairo_destroy(cr);
    EXPECT_INT(cairo_surface_write_to_png(img, logo), CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(img);
    char first[1400], second[1400], here[1200], other[1400], a[16384], b[16384];
    snprintf(first, sizeof first, "%s/office/first", tmpdir);
    snprintf(second, sizeof second, "%s/office/bundle", tmpdir);
    EXPECT(getcwd(here, sizeof here) != NULL);
    EXPECT_INT(chdir(dir), 0);
    EXPECT_INT(run_job_as_of("mosul.ini", profiles, NULL, msg, sizeof msg), DF_OK);
    if (msg[0]) printf("  %s\n", msg);
    EXPECT_INT(chdir(here), 0);
    EXPECT_INT(rename(second, first), 0);
    EXPECT_INT(chdir("/"), 0);
    snprintf(other, sizeof other, "%s/office/./jobs/../jobs/mosul.ini", tmpdir + 1); /* relative to / */
    EXPECT_INT(run_job_as_of(other, profiles, NULL, msg, sizeof msg), DF_OK);
    if (msg[0]) printf("  %s\n", msg);
    EXPECT_INT(chdir(here), 0);
    digest_folder(first, a, sizeof a);
    digest_folder(second, b, sizeof b);
    EXPECT(a[0] && strstr(a, "manifest.json") && strstr(a, "map_displaced.png") && strstr(a, "sitrep.html"));
    EXPECT_STR(a, b);
    /* no local path in any file: neither where the data are nor where the
     * job is; the relative data path only in the manifest */
    struct dirent **list = NULL;
    int n = scandir(second, &list, NULL, alphasort), files = 0;
    for (int i = 0; i < n; i++) {
        char path[2400];
        snprintf(path, sizeof path, "%s/%s", second, list[i]->d_name);
        struct stat sb;
        if (list[i]->d_name[0] != '.' && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            FILE *f = fopen(path, "rb");
            char *bytes = malloc((size_t)sb.st_size + 1);
            size_t got = f && bytes ? fread(bytes, 1, (size_t)sb.st_size, f) : 0;
            if (f) fclose(f);
            files++;
            const char *bad[] = {cwd, tmpdir, "shared/data", "/work/", "../data/"};
            for (int k = 0; k < 5; k++) {
                if (k == 4 && !strcmp(list[i]->d_name, "manifest.json")) continue;
                size_t len = strlen(bad[k]);
                for (size_t q = 0; bytes && q + len <= got; q++)
                    if (!memcmp(bytes + q, bad[k], len)) {
                        HARNESS_FAIL("%s holds the path %s", list[i]->d_name, bad[k]);
                        break;
                    }
            }
            free(bytes);
        }
        free(list[i]);
    }
    free(list);
    EXPECT(files >= 9);
    char path[2400];
    snprintf(path, sizeof path, "%s/manifest.json", second);
    char *m = harness_slurp(path, NULL);
    EXPECT(m && strstr(m, "\"path\":\"../data/synthetic_et_mosul/records.csv\""));
    EXPECT(m && strstr(m, "\"path\":\"mosul.ini\""));
    EXPECT(m && strstr(m, "\"path\":\"shapes/profiles/irq.ini\""));
    free(m);
    snprintf(path, sizeof path, "%s/sitrep.html", second);
    char *md = harness_slurp(path, NULL);
    EXPECT(md && strstr(md, "Source: IOM DTM Emergency Tracking (synthetic test table) | Boundaries: OCHA COD-AB "
                            "(CSO, 2019) | IOM Iraq | Made with dispflow"));
    EXPECT(md && strstr(md, "Contact: dtmiraq@example.org"));
    EXPECT(md && strstr(md, "Map ID: DF-2017-05-02"));
    EXPECT(md && strstr(md, "do not imply official endorsement or acceptance by the United Nations"));
    EXPECT(md && strstr(md, "<img class=\"logo\" alt=\"logo\" src=\"data:image/png;base64,"));
    free(md);
}

/* issue 12 item 1 "One pass": a whole run reads the records once, in the
 * default bundle, with [density] step and in publish mode (counted where
 * the library opens a records source); no message about the records is
 * said twice now that the run's log_once filter is gone (the rejected rows
 * are told once, not once per stage); the manifest's SHA-256 of the records
 * comes from that read and equals sha256sum's. */
typedef struct {
    char lines[64][512];
    int n, repeated;
} said_list;

static void note_message(df_log_level level, const char *msg, void *user)
{
    said_list *s = user;
    if (level < DF_LOG_INFO || !strstr(msg, "records.csv")) return; /* what the read says about the records */
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->lines[i], msg)) {
            printf("  said twice: %s\n", msg);
            s->repeated++;
            return;
        }
    if (s->n < 64) snprintf(s->lines[s->n++], sizeof s->lines[0], "%s", msg);
}

TEST(one_read_of_the_records_item1)
{
    NEED_FILE(MOSUL_ET "records.csv");
    NEED_FILE(COD_ADM2_SHP);
    static const char *const variants[3] = {"", "step = month\n", "[publish]\nk = 1500\n"};
    char job[1200], text[8192], path[8192];
    snprintf(job, sizeof job, "%s/once.ini", tmpdir);
    for (int v = 0; v < 3; v++) {
        snprintf(text, sizeof text,
                 "[job]\ntitle = Once\noutput = once%d\nstep = month\n"
                 "[records]\npath = %s/" MOSUL_ET "records.csv\n"
                 "[boundaries]\nadm1 = %s/" COD_ADM1_SHP "\nadm2 = %s/" COD_ADM2_SHP "\n"
                 "[report]\nmaps = no\n[density]\npixel = 2000\n%s",
                 v, cwd, cwd, cwd, variants[v]);
        harness_write_file(job, text);
        df_ctx *ctx = df_ctx_new();
        df_job *jb = NULL;
        said_list *said = calloc(1, sizeof *said);
        EXPECT_INT(df_job_load(ctx, job, "shapes/profiles", &jb), DF_OK);
        df_ctx_set_log(ctx, note_message, said);
        long opens = df__records_opens, reads = df__fanout_reads;
        EXPECT_INT(jb ? df_job_run(ctx, jb) : DF_EINVAL, DF_OK);
        EXPECT_INT(df__records_opens - opens, 1); /* the records opened once */
        EXPECT_INT(df__fanout_reads - reads, 1);  /* and read once, for every stage */
        EXPECT_INT(said->repeated, 0);
        EXPECT(said->n > 0);
        df_ctx_set_log(ctx, NULL, NULL);
        free(said);
        df_job_free(jb);
        df_ctx_free(ctx);
        /* the products of a read are there: the density and its months, or the masked one */
        snprintf(path, sizeof path, "%s/once%d/density_displaced.tif", tmpdir, v);
        EXPECT(access(path, R_OK) == 0);
        snprintf(path, sizeof path, "%s/once%d/density_displaced_2016-10-01.tif", tmpdir, v);
        EXPECT_INT(access(path, R_OK) == 0, v == 1);
    }
    /* the manifest's checksum of the records, against sha256sum's */
    snprintf(path, sizeof path, "sha256sum %s/" MOSUL_ET "records.csv", cwd);
    FILE *p = popen(path, "r");
    char want[65] = "";
    if (p && fscanf(p, "%64s", want) != 1) want[0] = 0;
    if (p) pclose(p);
    EXPECT_INT((int)strlen(want), 64);
    char bundle[1200];
    snprintf(bundle, sizeof bundle, "%s/once0", tmpdir);
    json_object *m = manifest(bundle);
    const char *got = NULL;
    json_object *in = NULL;
    if (m && json_object_object_get_ex(m, "inputs", &in))
        for (size_t i = 0; i < json_object_array_length(in); i++) {
            json_object *o = json_object_array_get_idx(in, i), *role, *sha;
            if (json_object_object_get_ex(o, "role", &role) && !strcmp(json_object_get_string(role), "records") &&
                json_object_object_get_ex(o, "sha256", &sha))
                got = json_object_get_string(sha);
        }
    EXPECT(got != NULL);
    if (got) EXPECT_STR(got, want);
    json_object_put(m);
}

/* issue 12 item 1: `dispflow run` from a FIFO (refused before the one read:
 * each stage read the records again). The bundle's tables, decision log and
 * rasters are those of the same records from a file; the manifest says the
 * FIFO was read once, with no checksum. */
TEST(run_from_a_fifo_item1)
{
    NEED_FILE(MOSUL_ET "records.csv");
    NEED_FILE(COD_ADM2_SHP);
    char fifo[1200], job[1200], text[8192], msg[1024], a[1400], b[1400];
    snprintf(fifo, sizeof fifo, "%s/fifo.csv", tmpdir);
    EXPECT_INT(mkfifo(fifo, 0600), 0);
    snprintf(job, sizeof job, "%s/fifo.ini", tmpdir);
    for (int v = 0; v < 2; v++) {
        char records[1300];
        snprintf(records, sizeof records, "%s/" MOSUL_ET "records.csv", cwd);
        snprintf(text, sizeof text,
                 "[job]\ntitle = Fifo\noutput = fifo%d\nstep = month\n[records]\npath = %s\n"
                 "[boundaries]\nadm1 = %s/" COD_ADM1_SHP "\nadm2 = %s/" COD_ADM2_SHP "\n"
                 "[report]\nmaps = no\n[density]\npixel = 2000\nstep = month\n",
                 v, v ? fifo : records, cwd, cwd);
        harness_write_file(job, text);
        pid_t writer = -1;
        if (v) { /* a writer on the other end, as a shell's pipe would be */
            writer = fork();
            if (writer == 0) {
                alarm(120);
                char from[1200];
                snprintf(from, sizeof from, "%s/" MOSUL_ET "records.csv", cwd);
                FILE *in = fopen(from, "rb"), *out = fopen(fifo, "wb");
                char buf[65536];
                size_t got;
                int ok = in && out;
                while (ok && (got = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, got, out) == got;
                ok = out && fclose(out) == 0 && ok; /* _exit flushes nothing */
                _exit(ok ? 0 : 1);
            }
        }
        df_ctx *ctx = df_ctx_new();
        df_job *jb = NULL;
        EXPECT_INT(df_job_load(ctx, job, "shapes/profiles", &jb), DF_OK);
        long opens = df__records_opens;
        EXPECT_INT(jb ? df_job_run(ctx, jb) : DF_EINVAL, DF_OK);
        snprintf(msg, sizeof msg, "%s", df_ctx_errmsg(ctx));
        EXPECT_INT(df__records_opens - opens, 1);
        df_job_free(jb);
        df_ctx_free(ctx);
        if (writer > 0) {
            int status = 0;
            waitpid(writer, &status, 0);
            EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
    }
    static const char *const same[] = {"adm1.csv",
                                       "adm2.csv",
                                       "flows.csv",
                                       "decisions.csv",
                                       "density_displaced.tif",
                                       "density_displaced_2016-10-01.tif"};
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
        char ha[65] = "", hb[65] = "";
        snprintf(a, sizeof a, "%s/fifo0/%s", tmpdir, same[i]);
        snprintf(b, sizeof b, "%s/fifo1/%s", tmpdir, same[i]);
        EXPECT_INT(df__sha256_file(a, ha), 0);
        EXPECT_INT(df__sha256_file(b, hb), 0);
        if (strcmp(ha, hb)) HARNESS_FAIL("%s differs between the file and the FIFO", same[i]);
    }
    snprintf(a, sizeof a, "%s/fifo1/manifest.json", tmpdir);
    char *m = harness_slurp(a, NULL);
    EXPECT(m && strstr(m, "a FIFO, read once by the run: no checksum"));
    free(m);
}

int main(void)
{
    if (!getcwd(cwd, sizeof cwd) || !mkdtemp(tmpdir)) return 1;
    GDALAllRegister();
    char sample[1200];
    df_ctx *ctx = df_ctx_new();
    snprintf(sample, sizeof sample, "%s/sample.csv", tmpdir); /* the records of every job here */
    if (df_sample_write(ctx, sample, 2016) != DF_OK) return 1;
    df_ctx_free(ctx);
    RUN(errors_name_file_line_and_key);
    RUN(utf16_job_file_says_so);
    RUN(output_override_checked_upfront);
    RUN(paths_resolve_against_the_job_file);
    RUN(run_default_bundle_complete_and_reproducible);
    RUN(manifest_lists_every_output_with_its_checksum_item2);
    RUN(failed_or_cancelled_run_keeps_the_previous_bundle);
    RUN(digests_of_finished_files_issue12_item2);
    RUN(web_map_failing_on_the_records_layer_thread_issue12_item2);
    RUN(job_checker_refuses_what_density_would_item8);
    RUN(job_checker_refuses_what_the_stages_would_item22);
    RUN(progress_never_goes_back_item23);
    RUN(manifest_never_holds_nan_item16);
    RUN(gpkg_passes_gdal_validator_item31);
    RUN(mosul_bundle_equals_truth);
    RUN(weekly_bundles_keep_their_classes_item1_item8);
    RUN(bundle_same_bytes_from_anywhere_no_local_path_item4);
    RUN(snapshot_wording_item6);
    RUN(one_read_of_the_records_item1);
    RUN(run_from_a_fifo_item1);
    harness_remove_dir(tmpdir);
    return harness_done();
}
