/*
 * test_pdf.c — sitrep.pdf and the sitrep's trend, per-unit change and
 * print styles (issue 13 items 5 and 7): A4 pages counted by pdfinfo, the
 * headline figures, the disclaimer and the credit line found by pdftotext,
 * every font embedded (pdffonts), the same bytes on a second run from
 * another working directory; the trend and the change per district against
 * the synthetic Mosul table's ground truth.
 */
#include "dfint.h"
#include "harness.h"

#include <gdal.h>
#include <ogr_api.h>
#include <sys/stat.h>

static char tmpdir[] = "/tmp/dispflow-pdf-XXXXXX";
static char cwd[1024];

/* The output of a command (at most cap - 1 bytes); its exit status. */
static int command(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    if (!p) return -1;
    while (n + 1 < cap) {
        size_t got = fread(out + n, 1, cap - 1 - n, p);
        if (!got) break;
        n += got;
    }
    out[n] = 0;
    return pclose(p);
}

static int have_poppler(void)
{
    char out[256];
    return command("pdfinfo -v 2>&1", out, sizeof out) == 0 && command("pdftotext -v 2>&1", out, sizeof out) == 0 &&
           command("pdffonts -v 2>&1", out, sizeof out) == 0;
}

/* pdftotext's text with every run of white space made one space: a phrase
 * is found whatever line it was broken on. */
static char *pdf_text(const char *pdf)
{
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "pdftotext -q '%s' -", pdf);
    size_t cap = 1 << 20;
    char *t = malloc(cap);
    if (!t || command(cmd, t, cap) != 0) {
        free(t);
        return NULL;
    }
    char *w = t;
    for (const char *r = t; *r; r++) {
        int space = *r == ' ' || *r == '\n' || *r == '\t' || *r == '\f';
        if (space && w > t && w[-1] == ' ') continue;
        *w++ = space ? ' ' : *r;
    }
    *w = 0;
    return t;
}

static int run_job(const char *job_path, char *msg, size_t cap)
{
    df_ctx *ctx = df_ctx_new();
    df_job *job = NULL;
    char profiles[1200];
    snprintf(profiles, sizeof profiles, "%s/shapes/profiles", cwd);
    df_status st = df_job_load(ctx, job_path, profiles, &job);
    if (st == DF_OK) st = df_job_run(ctx, job);
    snprintf(msg, cap, "%s", st == DF_OK ? "" : df_ctx_errmsg(ctx));
    df_job_free(job);
    df_ctx_free(ctx);
    return st;
}

/* The checks of the acceptance on one bundle's sitrep.pdf: A4 pages (at
 * least min_pages), "Page 1 of N" with N the page count, every phrase of
 * want in the text, every font embedded; then the same bytes after the
 * job is run again from another working directory. */
static void check_pdf(const char *job, const char *bundle, int min_pages, const char *const *want)
{
    char pdf[1400], cmd[3000], out[8192], sha1[65], sha2[65], msg[1024];
    snprintf(pdf, sizeof pdf, "%s/sitrep.pdf", bundle);
    snprintf(cmd, sizeof cmd, "pdfinfo '%s'", pdf);
    EXPECT_INT(command(cmd, out, sizeof out), 0);
    const char *pages = strstr(out, "Pages:");
    int npages = pages ? atoi(pages + 6) : 0;
    if (npages < min_pages) HARNESS_FAIL("%s: %d pages, want at least %d", pdf, npages, min_pages);
    /* A4 is 595.276 x 841.89 points; pdfinfo names it */
    if (!strstr(out, "595.276 x 841.89 pts (A4)")) HARNESS_FAIL("%s is not A4:\n%s", pdf, out);
    if (strstr(out, "CreationDate:") && !strstr(out, "00:00:00")) HARNESS_FAIL("a clock time in the PDF:\n%s", out);

    char *text = pdf_text(pdf);
    EXPECT(text != NULL);
    for (int i = 0; text && want[i]; i++)
        if (!strstr(text, want[i])) HARNESS_FAIL("pdftotext %s: no \"%s\"", pdf, want[i]);
    if (text && strstr(text, "{as_of}")) HARNESS_FAIL("pdftotext %s: a placeholder left unexpanded", pdf);
    char last[64];
    snprintf(last, sizeof last, "Page %d of %d", npages, npages);
    if (text && (!strstr(text, "Page 1 of") || !strstr(text, last))) HARNESS_FAIL("no page numbers up to %s", last);
    free(text);

    /* pdffonts: a header, a rule, then one line per font whose "emb" column says yes */
    snprintf(cmd, sizeof cmd, "pdffonts '%s'", pdf);
    EXPECT_INT(command(cmd, out, sizeof out), 0);
    int fonts = 0, embedded = 0;
    char *line = strstr(out, "\n---");
    for (line = line ? strchr(line + 1, '\n') : NULL; line && line[1]; line = strchr(line + 1, '\n')) {
        fonts++;
        /* the columns after the name and type: "... yes yes yes  N  0" */
        if (strstr(line, " yes ") && !strstr(line, " no  ")) embedded++;
    }
    if (fonts == 0 || embedded != fonts) HARNESS_FAIL("%d of %d fonts embedded:\n%s", embedded, fonts, out);

    /* again, from another working directory (the job's path written the same) */
    EXPECT_INT(df__sha256_file(pdf, sha1), 0);
    char elsewhere[1400];
    snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", tmpdir);
    mkdir(elsewhere, 0755);
    EXPECT_INT(chdir(elsewhere), 0);
    EXPECT_INT(run_job(job, msg, sizeof msg), DF_OK);
    if (msg[0]) printf("  %s\n", msg);
    EXPECT_INT(chdir(cwd), 0);
    EXPECT_INT(df__sha256_file(pdf, sha2), 0);
    EXPECT_STR(sha2, sha1);

    /* the pages as pictures, to look at (DF_RENDER_DIR keeps them) */
    if (getenv("DF_RENDER_DIR")) {
        const char *slash = strrchr(bundle, '/');
        snprintf(cmd, sizeof cmd, "pdftoppm -png -r 60 '%s' '%s/%s'", pdf, getenv("DF_RENDER_DIR"),
                 slash ? slash + 1 : bundle);
        EXPECT_INT(command(cmd, out, sizeof out), 0);
    }
}

/* The default bundle: the embedded sample on the shipped governorates; the
 * headline figures are those of adm1.csv, added up here. */
TEST(default_bundle_pdf_item5)
{
    if (!have_poppler()) SKIP("pdfinfo, pdftotext or pdffonts missing (Debian poppler-utils)");
    char job[1200], text[4096], msg[1024], path[1400];
    snprintf(job, sizeof job, "%s/default.ini", tmpdir);
    snprintf(text, sizeof text,
             "[job]\ntitle = Test sitrep\noutput = bundle\nsource = the embedded sample\nstep = month\n"
             "[records]\npath = sample.csv\n[boundaries]\nadm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n"
             "credit = Boundaries: Natural Earth admin-1 (public domain)\n"
             "[density]\nenabled = no\n[report]\norganisation = Test Office\ncontact = gis@example.org\n",
             cwd);
    harness_write_file(job, text);
    EXPECT_INT(run_job(job, msg, sizeof msg), DF_OK);
    if (msg[0]) printf("  %s\n", msg);

    /* the displaced and still displaced of adm1.csv, added up (columns 4 and 6) */
    snprintf(path, sizeof path, "%s/bundle/adm1.csv", tmpdir);
    char *csv = harness_slurp(path, NULL);
    EXPECT(csv != NULL);
    if (!csv) return;
    int64_t displaced = 0, still = 0;
    char *line = strchr(csv, '\n');
    line = line ? strchr(line + 1, '\n') : NULL; /* past the HXL row */
    for (; line && line[1]; line = strchr(line + 1, '\n')) {
        char *c = line + 1;
        for (int k = 0; k < 3 && c; k++) c = strchr(c, ',') ? strchr(c, ',') + 1 : NULL;
        if (!c) break;
        displaced += strtoll(c, &c, 10);
        c = strchr(c + 1, ',');
        if (c) still += strtoll(c + 1, NULL, 10);
    }
    free(csv);
    char d[32], s[32];
    df__thousands(displaced, d);
    df__thousands(still, s);
    EXPECT(displaced > 0);
    const char *const want[] = {"Test sitrep",
                                "Test Office",
                                d,
                                s,
                                "Key figures",
                                "Trend",
                                "do not imply official endorsement or acceptance by the United Nations",
                                "Boundaries: Natural Earth admin-1 (public domain)",
                                "Made with dispflow " DISPFLOW_VERSION,
                                "Returnees (in the tables per unit)",
                                NULL};
    snprintf(path, sizeof path, "%s/bundle", tmpdir);
    check_pdf(job, path, 3, want);

    /* the HTML prints cleanly: print styles, headings kept with what follows, table headers repeated */
    snprintf(path, sizeof path, "%s/bundle/sitrep.html", tmpdir);
    char *html = harness_slurp(path, NULL);
    EXPECT(html && strstr(html, "@media print") && strstr(html, "h1,h2,h3{break-after:avoid") &&
           strstr(html, "@page{size:A4") && strstr(html, "<thead>"));
    EXPECT(html && strstr(html, "<h2>Trend</h2>") && strstr(html, "alt=\"Displaced, returned and still displaced"));
    free(html);
}

/* Individuals of truth_dest_adm2.csv (district, date, status) in the
 * district (NULL: all) from `from` to as_of, of one status. */
static int64_t truth(const char *pcode, const char *status, const char *from, const char *as_of)
{
    char *csv = harness_slurp(MOSUL_ET "truth_dest_adm2.csv", NULL);
    int64_t sum = 0;
    for (char *line = csv ? strchr(csv, '\n') : NULL; line && line[1]; line = strchr(line + 1, '\n')) {
        char pc[32], date[16], st[16];
        long long n;
        if (sscanf(line + 1, "%31[^,],%15[^,],%15[^,],%lld", pc, date, st, &n) != 4) continue;
        if ((!pcode || !strcmp(pc, pcode)) && !strcmp(st, status) && strcmp(date, from) >= 0 &&
            strcmp(date, as_of) <= 0)
            sum += n;
    }
    free(csv);
    return sum;
}

/* The Mosul bundle: the ground truth's headline in the PDF; the trend's
 * rows and the change of Al-Mosul since 2 Apr 2017 equal the truth counted
 * from truth_dest_adm2.csv (item 7). */
TEST(mosul_bundle_pdf_trend_and_change_item7)
{
    NEED_FILE(MOSUL_ET "records.csv");
    NEED_FILE(MOSUL_ET "truth_dest_adm2.csv");
    NEED_FILE(COD_ADM2_SHP);
    if (!have_poppler()) SKIP("pdfinfo, pdftotext or pdffonts missing (Debian poppler-utils)");
    char job[1200], msg[1024], path[1400];
    harness_mosul_job(job, sizeof job, tmpdir, cwd, "mosul", "[density]\nenabled = no\n");
    EXPECT_INT(run_job(job, msg, sizeof msg), DF_OK);
    if (msg[0]) printf("  %s\n", msg);
    /* truth_totals.csv: displaced 463,692, returned 105,660, still displaced 358,032 on 2 May 2017 */
    const char *const want[] = {"463,692",
                                "105,660",
                                "358,032",
                                "Districts",
                                "Al-Mosul",
                                "do not imply official endorsement or acceptance by the United Nations",
                                "Boundaries: irq_admbnda_adm2_cso_20190603.shp",
                                NULL};
    snprintf(path, sizeof path, "%s/mosul", tmpdir);
    check_pdf(job, path, 3, want);
    /* issue 13 item 4: the map's labels print at 7 pt or more: the Sinjar
     * label on the maps (the word, its figure 1,932 right under it; a table
     * row has them side by side) has word boxes at least 8.1 pt high
     * (DejaVu's box is 1.16 x the size: 7 pt type; the old labels were 3.9
     * pt, and outlines, not text) */
    char cmd[1600], line[512];
    double name[16][4], fig[16][4]; /* the word boxes of Sinjar and of 1,932 */
    int nname = 0, nfig = 0, seen = 0;
    snprintf(cmd, sizeof cmd, "pdftotext -bbox '%s/mosul/sitrep.pdf' - 2>/dev/null", tmpdir);
    FILE *bb = popen(cmd, "r");
    while (bb && fgets(line, sizeof line, bb)) {
        double q[4];
        char word[64];
        if (sscanf(line, " <word xMin=\"%lf\" yMin=\"%lf\" xMax=\"%lf\" yMax=\"%lf\">%63[^<]", &q[0], &q[1], &q[2],
                   &q[3], word) != 5)
            continue;
        if (!strcmp(word, "Sinjar") && nname < 16) memcpy(name[nname++], q, sizeof q);
        if (!strcmp(word, "1,932") && nfig < 16) memcpy(fig[nfig++], q, sizeof q);
    }
    if (bb) pclose(bb);
    for (int i = 0; i < nname; i++)
        for (int j = 0; j < nfig; j++) {
            double *n = name[i], *f = fig[j];
            if (f[1] - n[3] > 2 || n[3] - f[1] > 2 || f[0] > n[2] || f[2] < n[0]) continue; /* not right under */
            seen++;
            if (n[3] - n[1] < 8.1 || f[3] - f[1] < 8.1)
                HARNESS_FAIL("the map label Sinjar 1,932 is %.2f and %.2f pt high: under 7 pt type", n[3] - n[1],
                             f[3] - f[1]);
        }
    EXPECT(seen >= 1);

    snprintf(path, sizeof path, "%s/mosul/sitrep.md", tmpdir);
    char *md = harness_slurp(path, NULL);
    EXPECT(md != NULL);
    if (!md) return;
    /* the trend: as of 2 Apr and 2 May 2017, the truth's displaced, returned, still displaced */
    static const char *const ends[][2] = {{"2017-04-02", "2 Apr 2017"}, {"2017-05-02", "2 May 2017"}};
    for (int i = 0; i < 2; i++) {
        int64_t dis = truth(NULL, "displaced", "2016-10-17", ends[i][0]),
                ret = truth(NULL, "returned", "2016-10-17", ends[i][0]);
        char row[200], a[32], b[32], c[32];
        snprintf(row, sizeof row, "| %s | %s | %s | %s |", ends[i][1], df__thousands(dis, a), df__thousands(ret, b),
                 df__thousands(dis - ret, c));
        if (!strstr(md, row)) HARNESS_FAIL("sitrep.md has no trend row %s", row);
    }
    /* Al-Mosul (IQG15Q05): the change in still displaced since 2 Apr 2017 */
    int64_t now = truth("IQG15Q05", "displaced", "2016-10-17", "2017-05-02") -
                  truth("IQG15Q05", "returned", "2016-10-17", "2017-05-02");
    int64_t then = truth("IQG15Q05", "displaced", "2016-10-17", "2017-04-02") -
                   truth("IQG15Q05", "returned", "2016-10-17", "2017-04-02");
    char change[32], still[32], row[300];
    df__thousands(now - then, change + 1);
    change[0] = now >= then ? '+' : '\0';
    const char *ch = now >= then ? change : change + 1;
    EXPECT(strstr(md, "Change since 2 Apr 2017") != NULL);
    snprintf(row, sizeof row, "| %s | %s |", df__thousands(now, still), ch);
    const char *mosul = strstr(md, "| IQG15Q05 | Al-Mosul |");
    const char *eol = mosul ? strchr(mosul, '\n') : NULL;
    if (!mosul || !eol || !strstr(mosul, row) || strstr(mosul, row) > eol)
        HARNESS_FAIL("Al-Mosul's row has no \"%s\" (still displaced, change): %.*s", row,
                     mosul && eol ? (int)(eol - mosul) : 0, mosul ? mosul : "");
    free(md);
}

/* The shelter breakdown of the Mosul bundle against records.csv read by
 * GDAL's CSV driver (not dispflow's reader): individuals of the Displaced
 * rows from 17 Oct 2016 to 2 May 2017 by Shelter (Families x 6 where
 * Individuals is empty), leaving out the rows defects.csv says are
 * rejected (bad date, negative or non-numeric count, 0/0 coordinates). */
TEST(mosul_shelter_breakdown_item7)
{
    NEED_FILE(MOSUL_ET "records.csv");
    char path[1400];
    snprintf(path, sizeof path, "%s/mosul/sitrep.md", tmpdir);
    NEED_FILE(path); /* made by mosul_bundle_pdf_trend_and_change_item7 */
    GDALDatasetH ds = GDALOpenEx(MOSUL_ET "records.csv", GDAL_OF_VECTOR, NULL, NULL, NULL);
    EXPECT(ds != NULL);
    if (!ds) return;
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    OGRFeatureDefnH def = OGR_L_GetLayerDefn(l);
    int f_date = OGR_FD_GetFieldIndex(def, "Date"), f_status = OGR_FD_GetFieldIndex(def, "Status"),
        f_shelter = OGR_FD_GetFieldIndex(def, "Shelter"), f_fam = OGR_FD_GetFieldIndex(def, "Families"),
        f_ind = OGR_FD_GetFieldIndex(def, "Individuals");
    int64_t camp = 0, other = 0;
    OGRFeatureH feat;
    while ((feat = OGR_L_GetNextFeature(l))) {
        long line = (long)OGR_F_GetFID(feat) + 1; /* FID 1 is the first row after the header, line 2 */
        const char *date = OGR_F_GetFieldAsString(feat, f_date), *status = OGR_F_GetFieldAsString(feat, f_status);
        const char *ind = OGR_F_GetFieldAsString(feat, f_ind);
        int rejected = line == 3580 || line == 3581 || line == 3582 || line == 3584;
        if (!rejected && !strcmp(status, "Displaced") && strcmp(date, "2016-10-17") >= 0 &&
            strcmp(date, "2017-05-02") <= 0) {
            int64_t n = ind[0] ? atoll(ind) : 6 * atoll(OGR_F_GetFieldAsString(feat, f_fam));
            if (!strcmp(OGR_F_GetFieldAsString(feat, f_shelter), "Camp"))
                camp += n;
            else
                other += n;
        }
        OGR_F_Destroy(feat);
    }
    GDALClose(ds);
    char *md = harness_slurp(path, NULL);
    char want[200], a[32], b[32], row[200];
    snprintf(want, sizeof want, "In camps: %s individuals", df__thousands(camp, a));
    if (!md || !strstr(md, want)) HARNESS_FAIL("sitrep.md has no \"%s\"", want);
    snprintf(want, sizeof want, "out of camp: %s (", df__thousands(other, a));
    if (!md || !strstr(md, want)) HARNESS_FAIL("sitrep.md has no \"%s\"", want);
    snprintf(row, sizeof row, "| Camp | Camp | %s |", df__thousands(camp, b));
    if (!md || !strstr(md, row)) HARNESS_FAIL("sitrep.md has no \"%s\"", row);
    EXPECT(md && strstr(md, "### Main hosting locations") && strstr(md, "| 1 | Al-Alam-3 |"));
    free(md);
}

/* A published bundle: no change per unit (a unit's earlier figure, which
 * the change gives away, is not checked against k), no shelter breakdown
 * and no hosting locations (a figure may stand on a few families); the
 * sitrep says so. */
TEST(published_bundle_leaves_out_unit_change_and_locations_item7)
{
    char job[1200], text[4096], msg[1024], path[1400];
    snprintf(job, sizeof job, "%s/published.ini", tmpdir);
    snprintf(text, sizeof text,
             "[job]\noutput = published\nstep = month\n[records]\npath = sample.csv\n"
             "[boundaries]\nadm1 = %s/shapes/iraq_adm1_naturalearth.geojson\n[density]\nenabled = no\n"
             "[publish]\nenabled = yes\n",
             cwd);
    harness_write_file(job, text);
    EXPECT_INT(run_job(job, msg, sizeof msg), DF_OK);
    if (msg[0]) printf("  %s\n", msg);
    snprintf(path, sizeof path, "%s/published/sitrep.md", tmpdir);
    char *md = harness_slurp(path, NULL);
    EXPECT(md != NULL);
    if (!md) return;
    const char *head = strstr(md, "| P-code |"), *eol = head ? strchr(head, '\n') : NULL;
    EXPECT(head && eol);
    if (head && eol && strstr(head, "Change since") && strstr(head, "Change since") < eol)
        HARNESS_FAIL("a change column in a published unit table: %.*s", (int)(eol - head), head);
    EXPECT(strstr(md, "Change since") != NULL); /* the key figures' totals keep theirs */
    EXPECT(strstr(md, "No change per unit in a published bundle") != NULL);
    EXPECT(strstr(md, "Shelters and hosting locations are not in a published bundle") != NULL);
    EXPECT(strstr(md, "Main hosting locations") == NULL && strstr(md, "In camps:") == NULL);
    free(md);
}

/* The per-unit figures as of the join's own as-of date are the figures of
 * the join, unit by unit: the change column starts from the same numbers. */
TEST(units_as_of_equal_the_join_item7)
{
    df_ctx *ctx = df_ctx_new();
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
    if (j) {
        int n = df__join_units(j);
        df_figures *f = calloc((size_t)n + 1, sizeof *f);
        EXPECT(f && df__join_units_as_of(j, df_join_balance(j)->as_of, f) == 0);
        int64_t total = 0;
        for (int i = 0; f && i < n; i++) {
            EXPECT_INT(f[i].displaced, df_join_figures(j, i)->displaced);
            EXPECT_INT(f[i].returned, df_join_figures(j, i)->returned);
            EXPECT_INT(f[i].returnees, df_join_figures(j, i)->returnees);
            total += f[i].displaced;
        }
        EXPECT(total > 0);
        free(f);
    }
    df_join_free(j);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 13 items 3 and 7 through the job file: [maps] labels = en, ar puts
 * the COD's Arabic names on the maps of the PNG and the PDF (pdftotext
 * finds them), [maps] places = a hand-made CSV (relative to the job file)
 * draws its places, named where there is room; a bad row fails the run with file:line and column. */
TEST(bilingual_labels_and_places_job_item7)
{
    NEED_FILE(MOSUL_ET "records.csv");
    NEED_FILE(COD_ADM2_SHP);
    if (!have_poppler()) SKIP("pdfinfo, pdftotext or pdffonts missing (Debian poppler-utils)");
    char job[1200], text[8192], msg[1024], path[1400];
    snprintf(path, sizeof path, "%s/camps.csv", tmpdir);
    harness_write_file(path, "name,lat,lon,kind\nHasansham U3,36.29206,43.7345,camp\nAl-Hadar,35.58,42.72,town\n");
    snprintf(job, sizeof job, "%s/arabic.ini", tmpdir);
    snprintf(text, sizeof text,
             "[job]\ntitle = Mosul\noutput = arabic\nfrom = 2016-10-17\nas_of = 2017-05-02\n"
             "[records]\npath = %s/" MOSUL_ET "records.csv\n"
             "[boundaries]\nadm1 = %s/" COD_ADM1_SHP "\nadm2 = %s/" COD_ADM2_SHP "\n"
             "[density]\nenabled = no\n[maps]\nlabels = en, ar\nplaces = camps.csv\n",
             cwd, cwd, cwd);
    harness_write_file(job, text);
    EXPECT_INT(run_job(job, msg, sizeof msg), DF_OK);
    if (msg[0]) printf("  %s\n", msg);
    snprintf(path, sizeof path, "%s/arabic/sitrep.pdf", tmpdir);
    char *t = pdf_text(path);
    EXPECT(t != NULL);
    if (t) {
        EXPECT(strstr(t, "\xd8\xaa\xd9\x84\xd9\x83\xd9\x8a\xd9\x81") != NULL); /* تلكيف, Tilkaef's ADM2_AR */
        EXPECT(strstr(t, "Tilkaef") != NULL);
        EXPECT(strstr(t, "Al-Hadar") != NULL); /* the camp's name has no room beside Erbil's label: left out */
    }
    free(t);
    /* a bad row: the run fails, naming the file, the line and the column */
    snprintf(path, sizeof path, "%s/camps.csv", tmpdir);
    harness_write_file(path, "name,lat,lon\nHasansham U3,36.29206,43.7345\nDebaga,35.9,east\n");
    EXPECT(run_job(job, msg, sizeof msg) != DF_OK);
    if (!strstr(msg, "camps.csv:3: lon 'east' is not a number")) HARNESS_FAIL("the message: %s", msg);
}

int main(void)
{
    if (!getcwd(cwd, sizeof cwd) || !mkdtemp(tmpdir)) return 1;
    GDALAllRegister();
    char sample[1200];
    df_ctx *ctx = df_ctx_new();
    snprintf(sample, sizeof sample, "%s/sample.csv", tmpdir);
    if (df_sample_write(ctx, sample, 2016) != DF_OK) return 1;
    df_ctx_free(ctx);
    RUN(default_bundle_pdf_item5);
    RUN(mosul_bundle_pdf_trend_and_change_item7);
    RUN(mosul_shelter_breakdown_item7);
    RUN(bilingual_labels_and_places_job_item7);
    RUN(published_bundle_leaves_out_unit_change_and_locations_item7);
    RUN(units_as_of_equal_the_join_item7);
    return harness_done();
}
