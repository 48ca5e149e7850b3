/*
 * test_country_boundaries.c — issue 11, the boundary and naming side: any country's
 * COD-AB layers (Sudan's GeoJSON, Chad's shapefiles with 10-character
 * fields and French names), a boundary file given for the wrong level,
 * names in every language of the layer, levels the records never reach,
 * and country-neutral products (labels and presets from country profiles).
 */
#include "dfint.h"
#include "harness.h"

#include <ctype.h>
#include <strings.h>
#include <sys/stat.h>

#define SDN    SHARED_DATA "/sdn/"
#define SDN1   SDN "boundaries/sdn_admbnda_adm1_cbs_nic_ssa_20200831.json"
#define SDN2   SDN "boundaries/sdn_admbnda_adm2_cbs_nic_ssa_20200831.json"
#define SDNCSV SDN "dtm_api/global-iom-dtm-from-api-admin2_SDN-rows.csv"
#define TCD2   SHARED_DATA "/tcd/boundaries/tcd_admbnda_adm2_ocha_20170615.shp"
#define TCDV2  SHARED_DATA "/tcd/dtm_api/idpadmin2data-getadmin2datav2-admin0pcode-tcd.json"
#define IRQG   SHARED_DATA "/boundaries/irq_cod_ab_20190603_geojson/irq_admbnda_adm"
#define IRQCSV SHARED_DATA "/dtm_irq_api/global-iom-dtm-from-api-admin2_IRQ-rows.csv"

static char tmp[256];

static void make_tmp(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/dispflow_country_%ld", (long)getpid());
    mkdir(tmp, 0755);
}

/* The messages of a run, to look for words in. */
static char logbuf[1 << 16];
static void keep_log(df_log_level level, const char *msg, void *user)
{
    (void)level, (void)user;
    size_t n = strlen(logbuf);
    snprintf(logbuf + n, sizeof logbuf - n, "%s\n", msg);
}

static df_boundaries *load(df_ctx *ctx, const char *path, int level, const char *name_field, const char *labels)
{
    df_boundary_opts o;
    df_boundaries *b = NULL;
    df_boundary_opts_init(&o);
    o.path = path, o.level = level, o.name_field = name_field, o.labels = labels;
    o.profiles = "shapes/profiles";
    if (df_boundaries_load(ctx, &o, &b) != DF_OK) printf("  load %s: %s\n", path, df_ctx_errmsg(ctx));
    return b;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

/* Does the file hold the word, in any case? */
static int file_has(const char *path, const char *word)
{
    char *s = slurp(path);
    int has = 0;
    for (char *p = s; p && *p && !has; p++) has = strncasecmp(p, word, strlen(word)) == 0;
    free(s);
    return has;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);
}

/* ---- trap 4: a boundary file given for the wrong level -------------------------- */

/* issue 11 trap 4: a job whose adm2 key names the admin-3 file is refused
 * before any work (exit 2, with what was found) and the previous bundle is
 * untouched. */
TEST(adm2_key_naming_an_admin3_file_is_refused)
{
    NEED_FILE(IRQG "3_cso_20190603.geojson");
    NEED_FILE(IRQCSV);
    make_tmp();
    char job[512], text[8192], manifest[512];
    df_ctx *ctx = df_ctx_new();
    snprintf(job, sizeof job, "%s/good.ini", tmp);
    snprintf(text, sizeof text,
             "[job]\noutput = %s/bundle\n[records]\npath = %s/%s\nkind = snapshots\n[boundaries]\nadm2 = "
             "%s/%s2_cso_20190603.geojson\n[flows]\nenabled = no\n[density]\nenabled = no\n[report]\nmaps = no\n",
             tmp, getcwd((char[1024]){0}, 1024), IRQCSV, getcwd((char[1024]){0}, 1024), IRQG);
    write_file(job, text);
    df_job *j = NULL;
    EXPECT_INT(df_job_load(ctx, job, "shapes/profiles", &j), DF_OK);
    EXPECT_INT(j ? df_job_run(ctx, j) : DF_EINVAL, DF_OK);
    df_job_free(j);
    snprintf(manifest, sizeof manifest, "%s/bundle/manifest.json", tmp);
    char *before = slurp(manifest);
    EXPECT(before != NULL);

    snprintf(job, sizeof job, "%s/wrong.ini", tmp);
    snprintf(text, sizeof text,
             "[job]\noutput = %s/bundle\n[records]\npath = %s/%s\nkind = snapshots\n[boundaries]\nadm2 = "
             "%s/%s3_cso_20190603.geojson\n",
             tmp, getcwd((char[1024]){0}, 1024), IRQCSV, getcwd((char[1024]){0}, 1024), IRQG);
    write_file(job, text);
    j = NULL;
    EXPECT_INT(df_job_load(ctx, job, "shapes/profiles", &j), DF_OK);
    df_status st = j ? df_job_run(ctx, j) : DF_OK;
    EXPECT_INT(st, DF_EINVAL);
    EXPECT_INT(df_status_exit_code(st), 2);
    const char *msg = df_ctx_errmsg(ctx);
    if (!strstr(msg, "admin-3 layer") || !strstr(msg, "ADM3_PCODE") || !strstr(msg, "294 features"))
        HARNESS_FAIL("the refusal says what was found: %s", msg);
    df_job_free(j);
    char *after = slurp(manifest);
    EXPECT(before && after && strcmp(before, after) == 0); /* the previous bundle untouched */
    free(before), free(after);
    df_ctx_free(ctx);
    harness_remove_dir(tmp);
}

/* issue 11 trap 4: every verb loads through df_boundaries_load: a file
 * whose P-codes repeat at its level is refused, naming the count and an
 * example; one whose fields say another level than asked too. */
TEST(repeated_pcodes_and_wrong_level_are_refused_by_the_loader)
{
    make_tmp();
    char path[512];
    snprintf(path, sizeof path, "%s/dup.geojson", tmp);
    write_file(path, "{\"type\":\"FeatureCollection\",\"features\":["
                     "{\"type\":\"Feature\",\"properties\":{\"ADM2_PCODE\":\"XX01\",\"ADM2_EN\":\"A\"},"
                     "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]}},"
                     "{\"type\":\"Feature\",\"properties\":{\"ADM2_PCODE\":\"XX01\",\"ADM2_EN\":\"B\"},"
                     "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[1,0],[2,0],[2,1],[1,0]]]}},"
                     "{\"type\":\"Feature\",\"properties\":{\"ADM2_PCODE\":\"XX02\",\"ADM2_EN\":\"C\"},"
                     "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[2,0],[3,0],[3,1],[2,0]]]}}]}");
    df_ctx *ctx = df_ctx_new();
    df_boundary_opts o;
    df_boundaries *b = NULL;
    df_boundary_opts_init(&o);
    o.path = path;
    EXPECT_INT(df_boundaries_load(ctx, &o, &b), DF_EINVAL);
    EXPECT(b == NULL);
    if (!strstr(df_ctx_errmsg(ctx), "3 features hold 2 distinct admin-2 P-codes") ||
        !strstr(df_ctx_errmsg(ctx), "XX01 is both A and B"))
        HARNESS_FAIL("message: %s", df_ctx_errmsg(ctx));
    if (access(IRQG "1_cso_20190603.geojson", R_OK) == 0) {
        o.path = IRQG "1_cso_20190603.geojson", o.level = 2; /* admin 1 given as admin 2 */
        EXPECT_INT(df_boundaries_load(ctx, &o, &b), DF_EINVAL);
        EXPECT(strstr(df_ctx_errmsg(ctx), "an admin-1 layer (ADM1_PCODE, ADM1_EN; 18 features)") != NULL);
    }
    df_ctx_free(ctx);
    harness_remove_dir(tmp);
}

/* ---- trap 6: names in every language of the layer -------------------------------- */

/* Accents off the Latin letters Chad's names use (é è ë ê à â ï î ô ö ü û ç). */
static void ascii_fold(const char *in, char *out, size_t cap)
{
    static const char *const from[] = {"é", "è", "ë", "ê", "à", "â", "ï", "î", "ô", "ö", "ü", "û", "ç", "É", NULL};
    static const char to[] = "eeeeaaiioouucE";
    size_t o = 0;
    while (*in && o + 1 < cap) {
        int k = 0;
        while (from[k] && strncmp(in, from[k], strlen(from[k]))) k++;
        if (from[k])
            out[o++] = to[k], in += strlen(from[k]);
        else
            out[o++] = *in++;
    }
    out[o] = 0;
}

/* The decomposed form (NFD) of é, è, ï, ö: the letter, then the combining mark. */
static void nfd(const char *in, char *out, size_t cap)
{
    static const char *const from[] = {"é", "è", "ï", "ö", NULL}, *const to[] = {"e\xCC\x81", "e\xCC\x80", "i\xCC\x88",
                                                                                 "o\xCC\x88"};
    size_t o = 0;
    while (*in && o + 4 < cap) {
        int k = 0;
        while (from[k] && strncmp(in, from[k], strlen(from[k]))) k++;
        if (from[k])
            o += (size_t)snprintf(out + o, cap - o, "%s", to[k]), in += strlen(from[k]);
        else
            out[o++] = *in++;
    }
    out[o] = 0;
}

/* The unit's name in Arabic script among its other names, or NULL. */
static const char *arabic_name(const df_boundaries *b, int level, int i, char *out, size_t cap)
{
    for (const char *p = df__boundaries_alts(b, level, i); p && *p;) {
        size_t n = strcspn(p, "|");
        if (n > 2 && (unsigned char)p[2] >= 0xD8 && (unsigned char)p[2] <= 0xDB)
            return snprintf(out, cap, "%.*s", (int)(n - 2), p + 2), out;
        p += n + (p[n] == '|');
    }
    return NULL;
}

/* A stated name of a unit as field teams write it: other spellings,
 * accents, language, place-type words (style 0..4). */
static void variant(const df_boundaries *b, int level, int i, int style, char *out, size_t cap)
{
    const char *name = df_boundaries_unit(b, level, i)->name;
    char t[256];
    switch (style) {
    case 0: /* upper case, no accents */
        ascii_fold(name, t, sizeof t);
        for (char *c = t; *c; c++) *c = (char)toupper((unsigned char)*c);
        snprintf(out, cap, "%s", t);
        break;
    case 1:
        snprintf(out, cap, level == 1 ? "Province du %s" : "Département de %s", name);
        break;
    case 2:
        snprintf(out, cap, level == 1 ? "%s State" : "%s Locality", name);
        break;
    case 3: /* the Arabic name when the layer has one, else the decomposed accents */
        if (!arabic_name(b, level, i, out, cap)) nfd(name, out, cap);
        break;
    default: /* lower case, hyphens for spaces */
        snprintf(out, cap, "%s", name);
        for (char *c = out; *c; c++) *c = *c == ' ' ? '-' : (char)tolower((unsigned char)*c);
    }
}

/* Write the same rows twice, by P-code and by names only, join both at
 * admin 2 and compare unit by unit. Returns the units compared. */
static int names_match_as_pcodes_do(df_ctx *ctx, const char *layer)
{
    df_boundaries *b = load(ctx, layer, 0, NULL, NULL);
    if (!b) return 0;
    char pc[512], nm[512], a[256], p[256];
    snprintf(pc, sizeof pc, "%s/pcodes.csv", tmp);
    snprintf(nm, sizeof nm, "%s/names.csv", tmp);
    FILE *fp = fopen(pc, "w"), *fn = fopen(nm, "w");
    int n = df_boundaries_count(b, 2);
    fprintf(fp, "date,adm2_pcode,individuals\n");
    fprintf(fn, "date,adm1,adm2,individuals\n");
    for (int i = 0; i < n; i++) {
        const df_unit *u = df_boundaries_unit(b, 2, i);
        fprintf(fp, "2024-01-31,%s,%d\n", u->pcode, 1000 + i);
        variant(b, 1, u->parent, (i + 2) % 5, p, sizeof p);
        variant(b, 2, i, i % 5, a, sizeof a);
        fprintf(fn, "2024-01-31,\"%s\",\"%s\",%d\n", p, a, 1000 + i);
    }
    fclose(fp), fclose(fn);
    df_record_opts ro;
    df_join_opts jo;
    df_join *jp = NULL, *jn = NULL;
    df_record_opts_init(&ro);
    df_join_opts_init(&jo);
    jo.level = 2;
    ro.path = pc;
    EXPECT_INT(df_join_run(ctx, b, &ro, &jo, &jp), DF_OK);
    ro.path = nm;
    EXPECT_INT(df_join_run(ctx, b, &ro, &jo, &jn), DF_OK);
    int same = 0;
    for (int i = 0; jp && jn && i < n; i++) {
        int64_t want = df_join_figures(jp, i)->displaced, got = df_join_figures(jn, i)->displaced;
        if (got == want)
            same++;
        else
            HARNESS_FAIL("%s %s: by P-code %lld, by names %lld", df_boundaries_unit(b, 2, i)->pcode,
                         df_boundaries_unit(b, 2, i)->name, (long long)want, (long long)got);
    }
    if (jn) {
        EXPECT_INT(df_join_balance(jn)->unmatched, 0);
        EXPECT_INT(df_join_balance(jn)->matched, n);
        printf("  %s: %d of %d units matched by names as by P-code (fuzzy or skeleton: %ld rows)\n", layer, same, n,
               df_join_balance(jn)->matched_by_fuzzy);
    }
    df_join_free(jp), df_join_free(jn);
    df_boundaries_free(b);
    return same;
}

/* issue 11 acceptance: a table of names only matches every unit its P-code
 * version matches, with no wrong match, where the only difference is
 * spelling, accents, language or place-type words: all 189 Sudanese
 * localities (Arabic names among them; the two Ar Rahad told apart by their
 * state) and all 70 Chadian departments (French, accented, decomposed). */
TEST(names_only_table_matches_as_its_pcode_version)
{
    NEED_FILE(SDN2);
    NEED_FILE(TCD2);
    make_tmp();
    df_ctx *ctx = df_ctx_new();
    EXPECT_INT(names_match_as_pcodes_do(ctx, SDN2), 189);
    EXPECT_INT(names_match_as_pcodes_do(ctx, TCD2), 70);
    df_ctx_free(ctx);
    harness_remove_dir(tmp);
}

/* issue 11 trap 6: Sudan's two "Ar Rahad" are told apart by their state,
 * and the name alone, which fits both, is never guessed. */
TEST(a_name_of_two_units_is_told_apart_by_its_parent)
{
    NEED_FILE(SDN2);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = load(ctx, SDN2, 0, NULL, NULL);
    if (!b) return df_ctx_free(ctx);
    df__name_match m = df__reconcile_name(b, 2, "Ar Rahad", -1);
    EXPECT_INT(m.unit, -1);
    EXPECT(m.ambiguous);
    int gedaref = df__reconcile_name(b, 1, "Gedaref", -1).unit,
        kordofan = df__reconcile_name(b, 1, "North Kordofan", -1).unit;
    EXPECT(gedaref >= 0 && kordofan >= 0);
    m = df__reconcile_name(b, 2, "Ar Rahad", gedaref);
    EXPECT_STR(m.unit >= 0 ? df_boundaries_unit(b, 2, m.unit)->pcode : "", "SD12084");
    m = df__reconcile_name(b, 2, "Ar Rahad", kordofan);
    EXPECT_STR(m.unit >= 0 ? df_boundaries_unit(b, 2, m.unit)->pcode : "", "SD13030");
    /* a missing value is no name: a row whose locality is "Not available"
     * counts in its state, and "Not available" is not listed as an
     * unmatched name */
    m = df__reconcile_name(b, 2, "Not available", -1);
    EXPECT(m.unit == -1 && m.missing);
    make_tmp();
    char path[512];
    snprintf(path, sizeof path, "%s/na.csv", tmp);
    write_file(path, "date,adm1,adm2,individuals\n2024-01-31,Gedaref,Not available,7\n2024-01-31,Gedaref,N/A,5\n");
    df_record_opts ro;
    df_join_opts jo;
    df_join *j = NULL;
    df_record_opts_init(&ro);
    df_join_opts_init(&jo);
    ro.path = path, jo.level = 1;
    EXPECT_INT(df_join_run(ctx, b, &ro, &jo, &j), DF_OK);
    EXPECT_INT(j && gedaref >= 0 ? df_join_figures(j, gedaref)->displaced : -1, 12);
    for (int i = 0; j && i < df_join_decision_count(j); i++)
        if (strstr(df_join_decision(j, i)->name, "vailable") || !strcmp(df_join_decision(j, i)->name, "N/A"))
            HARNESS_FAIL("a missing value listed as a name: %s", df_join_decision(j, i)->name);
    df_join_free(j);
    harness_remove_dir(tmp);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 11 trap 6: Chad's shapefile with 10-character field names
 * (admin2Pcod, admin2Name, admin1Pcod) and French, accented names; the DTM
 * table joins by P-code; --name-field admin2Na_1 writes that field's names. */
TEST(chad_ten_character_fields_and_french_names)
{
    NEED_FILE(TCD2);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = load(ctx, TCD2, 0, NULL, NULL);
    if (!b) return df_ctx_free(ctx);
    EXPECT_INT(df_boundaries_finest_level(b), 2);
    EXPECT_INT(df_boundaries_count(b, 2), 70);
    EXPECT_INT(df_boundaries_count(b, 1), 23);
    int fouli = df_boundaries_find_pcode(b, 2, "TD0704");
    EXPECT_STR(fouli >= 0 ? df_boundaries_unit(b, 2, fouli)->name : "", "Fouli");
    EXPECT_STR(fouli >= 0 ? df_boundaries_unit(b, 1, df_boundaries_unit(b, 2, fouli)->parent)->pcode : "", "TD07");
    static const char *const accented[][2] = {
        {"MANGALME", "Mangalmé"}, {"Département d'AbouDéia", "Aboudéia"}, {"lac lere", "Lac Léré"}, {"Megri", "Mégri"}};
    for (int k = 0; k < 4; k++) {
        df__name_match m = df__reconcile_name(b, 2, accented[k][0], -1);
        EXPECT_STR(m.unit >= 0 ? df_boundaries_unit(b, 2, m.unit)->name : "(unmatched)", accented[k][1]);
    }
    EXPECT_STR(df__boundaries_label(b, 2), "admin 2"); /* no profile for Chad: the neutral label */
    if (access(TCDV2, R_OK) == 0) {
        df_record_opts ro;
        df_join_opts jo;
        df_join *j = NULL;
        df_record_opts_init(&ro);
        df_join_opts_init(&jo);
        ro.path = TCDV2, ro.kind = DF_SNAPSHOTS, jo.level = 2;
        EXPECT_INT(df_join_run(ctx, b, &ro, &jo, &j), DF_OK);
        if (j) EXPECT_INT(df_join_balance(j)->matched_by_pcode, 81);
        df_join_free(j);
    }
    df_boundaries_free(b);
    b = load(ctx, TCD2, 0, "admin2Na_1", NULL);
    fouli = b ? df_boundaries_find_pcode(b, 2, "TD0704") : -1;
    EXPECT_STR(fouli >= 0 ? df_boundaries_unit(b, 2, fouli)->name : "", "FOULI");
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 11 trap 6: --name-field ar writes the Arabic names at every level,
 * the derived one included; trap 7: labels from the profile or the caller. */
TEST(name_field_and_labels_for_every_level)
{
    NEED_FILE(SDN2);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = load(ctx, SDN2, 0, "ar", NULL);
    if (b) {
        int u = df_boundaries_find_pcode(b, 2, "SD12084");
        const df_unit *x = u >= 0 ? df_boundaries_unit(b, 2, u) : NULL;
        EXPECT_STR(x ? x->name : "", "الرهد");
        EXPECT_STR(x ? df_boundaries_unit(b, 1, x->parent)->name : "", "القضارف");
        /* still matched by the English name */
        EXPECT_INT(df__reconcile_name(b, 1, "Gedaref", -1).unit, x ? x->parent : -2);
        EXPECT_STR(df__boundaries_label(b, 1), "State"); /* shapes/profiles/sdn.ini */
        EXPECT_STR(df__boundaries_label(b, 2), "Locality");
        char w[64];
        df__level_words(b, 2, 1, 1, w, sizeof w);
        EXPECT_STR(w, "Localities");
    }
    df_boundaries_free(b);
    b = load(ctx, SDN2, 0, NULL, "Province, District");
    if (b) EXPECT_STR(df__boundaries_label(b, 1), "Province");
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* ---- trap 7: country-neutral products ------------------------------------------------ */

/* issue 11 trap 7: --origins corridor on Sudan says the preset is Iraq's
 * and lists the presets. */
TEST(corridor_preset_on_another_country)
{
    NEED_FILE(SDN2);
    NEED_FILE(SDNCSV);
    df_ctx *ctx = df_ctx_new();
    df_boundaries *b = load(ctx, SDN2, 0, NULL, NULL);
    df_record_opts ro;
    df_flow_opts fo;
    df_flows *f = NULL;
    df_record_opts_init(&ro);
    df_flow_opts_init(&fo);
    ro.path = SDNCSV;
    fo.origins = "corridor";
    EXPECT_INT(b ? df_flows_run(ctx, b, &ro, &fo, &f) : DF_OK, DF_EINVAL);
    const char *msg = df_ctx_errmsg(ctx);
    if (!strstr(msg, "preset is Iraq's") || !strstr(msg, "irq.ini") || !strstr(msg, "of Sudan") ||
        !strstr(msg, "corridor (Iraq)"))
        HARNESS_FAIL("message: %s", msg);
    df_flows_free(f);
    df_boundaries_free(b);
    df_ctx_free(ctx);
}

/* issue 11 acceptance: a job on Sudan's admin 1 + admin 2 files writes a
 * bundle with no Iraq wording, its key figure the admin-0 figure of the
 * operation and date (Armed Clashes round 46, 17 Apr 2024: 6,720,136, from
 * the DTM admin-0 file), maps in UTM zone 36N (Sudan's centre, 30 E). The
 * records are the admin-2 rows of that one operation, filtered here. */
TEST(sudan_bundle_is_country_neutral)
{
    NEED_FILE(SDN1);
    NEED_FILE(SDN2);
    NEED_FILE(SDNCSV);
    make_tmp();
    char rec[512], job[512], text[8192], line[1024], path[600];
    snprintf(rec, sizeof rec, "%s/armed_clashes.csv", tmp);
    FILE *in = fopen(SDNCSV, "r"), *out = fopen(rec, "w");
    long kept = 0;
    for (int k = 0; in && out && fgets(line, sizeof line, in); k++)
        if (k < 2 || strstr(line, ",Armed Clashes in Sudan,")) fputs(line, out), kept += k >= 2;
    if (in) fclose(in);
    if (out) fclose(out);
    EXPECT_INT(kept, 6945); /* PROVENANCE.md: the operation's admin-2 rows */
    snprintf(job, sizeof job, "%s/sdn.ini", tmp);
    char cwd[1024];
    snprintf(text, sizeof text,
             "[job]\ntitle = Sudan\noutput = %s/bundle\n[records]\npath = %s\nkind = snapshots\n[boundaries]\n"
             "adm1 = %s/%s\nadm2 = %s/%s\n[density]\nenabled = no\n",
             tmp, rec, getcwd(cwd, sizeof cwd), SDN1, cwd, SDN2);
    write_file(job, text);
    df_ctx *ctx = df_ctx_new();
    logbuf[0] = 0;
    df_ctx_set_log(ctx, keep_log, NULL);
    df_job *j = NULL;
    EXPECT_INT(df_job_load(ctx, job, "shapes/profiles", &j), DF_OK);
    EXPECT_INT(j ? df_job_run(ctx, j) : DF_EINVAL, DF_OK);
    df_job_free(j);
    static const char *const files[] = {"sitrep.md", "sitrep.html",   "project.qgs", "adm1.csv",
                                        "adm2.csv",  "manifest.json", NULL};
    for (int k = 0; files[k]; k++) {
        snprintf(path, sizeof path, "%s/bundle/%s", tmp, files[k]);
        EXPECT(access(path, R_OK) == 0);
        if (file_has(path, "governorate") || file_has(path, "district"))
            HARNESS_FAIL("%s has Iraq wording (governorate or district)", files[k]);
    }
    snprintf(path, sizeof path, "%s/bundle/sitrep.md", tmp);
    EXPECT(file_has(path, "| Displaced, present on 17 Apr 2024 | 6,720,136 |"));
    EXPECT(file_has(path, "## Localities") && file_has(path, "## States"));
    EXPECT(file_has(path, "People displaced by locality"));
    EXPECT(strstr(logbuf, "map: drawn in EPSG:32636") != NULL);
    EXPECT(strstr(logbuf, "Governorate") == NULL);
    snprintf(path, sizeof path, "%s/bundle/manifest.json", tmp);
    EXPECT(file_has(path, "profiles/sdn.ini"));
    df_ctx_free(ctx);
    harness_remove_dir(tmp);
}

/* issue 11 trap 7: the profile is chosen by the layer's P-codes (Natural
 * Earth's FIPS IZ01 is Iraq's as COD-AB IQG01 is), named, or none; an
 * unknown name lists the profiles; a layer's own type field gives its
 * label. */
TEST(profile_choice_and_labels_from_the_data)
{
    df_ctx *ctx = df_ctx_new();
    df_boundary_opts o;
    df_boundaries *b = NULL;
    df_boundary_opts_init(&o);
    o.path = "shapes/iraq_adm1_naturalearth.geojson", o.profiles = "shapes/profiles";
    EXPECT_INT(df_boundaries_load(ctx, &o, &b), DF_OK);
    const df__profile *p = b ? df__boundaries_profile(b) : NULL;
    EXPECT_STR(p ? p->country : "", "Iraq");
    EXPECT_STR(b ? df__boundaries_label(b, 1) : "", "Governorate");
    /* its aliases came with it: Natural Earth's Ninawa is Nineveh */
    int ninawa = b ? df__reconcile_name(b, 1, "Nineveh", -1).unit : -1;
    EXPECT_STR(ninawa >= 0 ? df_boundaries_unit(b, 1, ninawa)->name : "", "Ninawa");
    df_boundaries_free(b), b = NULL;
    o.profile = "none";
    EXPECT_INT(df_boundaries_load(ctx, &o, &b), DF_OK);
    EXPECT(b && !df__boundaries_profile(b));
    EXPECT_STR(b ? df__boundaries_label(b, 1) : "", "admin 1");
    EXPECT_INT(b ? df__reconcile_name(b, 1, "Nineveh", -1).unit : 0, -1); /* no aliases without the profile */
    df_boundaries_free(b), b = NULL;
    o.profile = "xyz";
    EXPECT_INT(df_boundaries_load(ctx, &o, &b), DF_EINVAL);
    EXPECT(strstr(df_ctx_errmsg(ctx), "no country profile xyz") && strstr(df_ctx_errmsg(ctx), "irq, sdn"));
    make_tmp();
    char path[512];
    snprintf(path, sizeof path, "%s/types.geojson", tmp);
    write_file(path, "{\"type\":\"FeatureCollection\",\"features\":["
                     "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"ZZ01\",\"ADM1_EN\":\"A\","
                     "\"ADM1_TYPE\":\"Province\"},"
                     "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,0]]]}},"
                     "{\"type\":\"Feature\",\"properties\":{\"ADM1_PCODE\":\"ZZ02\",\"ADM1_EN\":\"B\","
                     "\"ADM1_TYPE\":\"Province\"},"
                     "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[1,0],[2,0],[2,1],[1,0]]]}}]}");
    o.path = path, o.profile = NULL;
    EXPECT_INT(df_boundaries_load(ctx, &o, &b), DF_OK);
    EXPECT_STR(b ? df__boundaries_label(b, 1) : "", "Province");
    char w[64] = "";
    if (b) df__level_words(b, 1, 1, 0, w, sizeof w);
    EXPECT_STR(w, "provinces");
    df_boundaries_free(b);
    df_ctx_free(ctx);
    harness_remove_dir(tmp);
}

/* ---- trap 5: levels the records never reach -------------------------------------- */

/* The individuals of the latest date of the Iraq DTM admin-2 table, added
 * up here: the national figure the headline must show. */
static long long latest_total(const char *path, char latest[11])
{
    FILE *f = fopen(path, "r");
    char line[1024];
    long long sum = 0;
    latest[0] = 0;
    for (int pass = 0; f && pass < 2; pass++) {
        rewind(f);
        for (int k = 0; fgets(line, sizeof line, f); k++) {
            if (k < 2) continue;
            char *c[14];
            int n = 0;
            for (char *s = line, *save = NULL, *t; n < 14 && (t = strtok_r(s, ",", &save)); s = NULL) c[n++] = t;
            if (n < 10) continue;
            if (pass == 0 && strncmp(c[9], latest, 10) > 0) snprintf(latest, 11, "%.10s", c[9]);
            if (pass == 1 && !strncmp(c[9], latest, 10)) sum += atoll(c[8]);
        }
    }
    if (f) fclose(f);
    return sum;
}

/* issue 11 trap 5: adm1, adm2 and adm3 files on a table that stops at
 * admin 2: the key figures come from admin 2 (not 0 from admin 3), admin 3
 * is said to be unreached (log, sitrep, manifest) and has no table, layer
 * or map. */
TEST(unreached_level_gives_no_headline_and_no_map)
{
    NEED_FILE(IRQG "3_cso_20190603.geojson");
    NEED_FILE(IRQCSV);
    make_tmp();
    char latest[11], job[512], text[8192], path[600], want[64], cwd[1024];
    long long total = latest_total(IRQCSV, latest);
    EXPECT_INT(total, 1098913); /* the admin-0 file's figure for 2024-04-30 */
    snprintf(job, sizeof job, "%s/irq3.ini", tmp);
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
    snprintf(text, sizeof text,
             "[job]\noutput = %s/bundle\n[records]\npath = %s/%s\nkind = snapshots\n[boundaries]\n"
             "adm1 = %s/%s1_cso_20190603.geojson\nadm2 = %s/%s2_cso_20190603.geojson\nadm3 = "
             "%s/%s3_cso_20190603.geojson\n[flows]\nenabled = no\n[density]\nenabled = no\n",
             tmp, cwd, IRQCSV, cwd, IRQG, cwd, IRQG, cwd, IRQG);
    write_file(job, text);
    df_ctx *ctx = df_ctx_new();
    logbuf[0] = 0;
    df_ctx_set_log(ctx, keep_log, NULL);
    df_job *j = NULL;
    EXPECT_INT(df_job_load(ctx, job, "shapes/profiles", &j), DF_OK);
    EXPECT_INT(j ? df_job_run(ctx, j) : DF_EINVAL, DF_OK);
    df_job_free(j);
    snprintf(path, sizeof path, "%s/bundle/sitrep.md", tmp);
    snprintf(want, sizeof want, "| 1,098,913 |");
    EXPECT(file_has(path, want));
    EXPECT(file_has(path, "Unreached: no record names a place at admin 3 (sub-districts)"));
    EXPECT(!file_has(path, "## Sub-districts"));
    EXPECT(file_has(path, "People displaced by district"));
    EXPECT(strstr(logbuf, "admin 3 (sub-districts): no record reaches this level") != NULL);
    snprintf(path, sizeof path, "%s/bundle/adm3.csv", tmp);
    EXPECT(access(path, F_OK) != 0);
    snprintf(path, sizeof path, "%s/bundle/manifest.json", tmp);
    EXPECT(file_has(path, "\"unreached_levels\":[\n    3\n  ]") || file_has(path, "\"unreached_levels\":[3]"));
    EXPECT(file_has(path, "\"headline_level\":2"));
    /* the decision log is the headline level's: every row placed at admin 2 */
    snprintf(path, sizeof path, "%s/bundle/decisions.csv", tmp);
    EXPECT(!file_has(path, ",unmatched,"));
    df_ctx_free(ctx);
    harness_remove_dir(tmp);
}

int main(void)
{
    RUN(adm2_key_naming_an_admin3_file_is_refused);
    RUN(repeated_pcodes_and_wrong_level_are_refused_by_the_loader);
    RUN(names_only_table_matches_as_its_pcode_version);
    RUN(a_name_of_two_units_is_told_apart_by_its_parent);
    RUN(chad_ten_character_fields_and_french_names);
    RUN(name_field_and_labels_for_every_level);
    RUN(corridor_preset_on_another_country);
    RUN(profile_choice_and_labels_from_the_data);
    RUN(sudan_bundle_is_country_neutral);
    RUN(unreached_level_gives_no_headline_and_no_map);
    return harness_done();
}
