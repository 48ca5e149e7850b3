/*
 * test_csv.c — engine/csv.c against files written by the test itself: every
 * file is built together with the records and physical line numbers it must
 * read back as, by an RFC 4180 writer independent of the reader.
 */
#include "dfint.h"
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>

#define MiB          (1024 * 1024)
#define MAX_REPORTED 5

static char dir[64];
static char created[64][64]; /* names of the files written, removed at the end */
static int ncreated;

/* ---- a growable byte buffer ------------------------------------------------ */

typedef struct {
    char *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *data, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) abort();
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(bytes *b, const char *s) { put(b, s, strlen(s)); }

/* ---- expected records ---------------------------------------------------------- */

typedef struct {
    long line;
    size_t first, nf; /* fields [first, first + nf) of the pool */
} exp_rec;

typedef struct {
    exp_rec *recs;
    size_t nrecs, cap_recs;
    bytes *fields;
    size_t nfields, cap_fields;
} expected;

static void exp_record(expected *e, long line)
{
    if (e->nrecs == e->cap_recs) {
        e->cap_recs = e->cap_recs ? 2 * e->cap_recs : 64;
        e->recs = realloc(e->recs, e->cap_recs * sizeof *e->recs);
        if (!e->recs) abort();
    }
    e->recs[e->nrecs++] = (exp_rec){line, e->nfields, 0};
}

static void exp_field(expected *e, const char *data, size_t n)
{
    if (e->nfields == e->cap_fields) {
        e->cap_fields = e->cap_fields ? 2 * e->cap_fields : 256;
        e->fields = realloc(e->fields, e->cap_fields * sizeof *e->fields);
        if (!e->fields) abort();
    }
    bytes *f = &e->fields[e->nfields++];
    *f = (bytes){0};
    put(f, data, n);
    e->recs[e->nrecs - 1].nf++;
}

static void exp_free(expected *e)
{
    for (size_t i = 0; i < e->nfields; i++) free(e->fields[i].p);
    free(e->fields);
    free(e->recs);
    *e = (expected){0};
}

/* ---- an RFC 4180 writer that records what it wrote ---------------------------- */

typedef struct {
    bytes out;
    expected want;
    long line; /* physical line the next record starts on */
    char delim;
} writer;

static void writer_init(writer *w, char delim)
{
    *w = (writer){0};
    w->line = 1;
    w->delim = delim;
}

static void writer_free(writer *w)
{
    free(w->out.p);
    exp_free(&w->want);
}

static void count_lines(writer *w, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) w->line += s[i] == '\n';
}

/* Write one record. force_quote: quote every field even when not needed.
 * A field is quoted when it holds the delimiter, a quote, CR or LF, and a
 * record of one empty field is written "" so that it is not a blank line. */
static void write_record(writer *w, const char *const *f, const size_t *len, size_t nf, const char *eol,
                         int force_quote)
{
    exp_record(&w->want, w->line);
    size_t start = w->out.n;
    for (size_t k = 0; k < nf; k++) {
        exp_field(&w->want, f[k], len[k]);
        if (k > 0) put(&w->out, &w->delim, 1);
        int q = force_quote || (nf == 1 && len[k] == 0);
        for (size_t i = 0; i < len[k] && !q; i++)
            q = f[k][i] == w->delim || f[k][i] == '"' || f[k][i] == '\r' || f[k][i] == '\n';
        if (!q) {
            put(&w->out, f[k], len[k]);
            continue;
        }
        put(&w->out, "\"", 1);
        for (size_t i = 0; i < len[k]; i++) {
            if (f[k][i] == '"') put(&w->out, "\"", 1);
            put(&w->out, &f[k][i], 1);
        }
        put(&w->out, "\"", 1);
    }
    puts_(&w->out, eol);
    count_lines(w, w->out.p + start, w->out.n - start);
}

/* Convenience: a record of two NUL-terminated fields, LF-terminated. */
static void write_simple(writer *w, const char *a, const char *b)
{
    const char *f[2] = {a, b};
    size_t len[2] = {strlen(a), strlen(b)};
    write_record(w, f, len, 2, "\n", 0);
}

static void write_blank(writer *w, const char *eol)
{
    puts_(&w->out, eol);
    w->line++;
}

/* ---- files -------------------------------------------------------------------- */

static const char *path_of(const char *name)
{
    static char path[16][256];
    static int k;
    k = (k + 1) % 16;
    if (snprintf(path[k], sizeof path[k], "%s/%s", dir, name) >= (int)sizeof path[k]) abort();
    return path[k];
}

static const char *write_file(const char *name, const void *data, size_t n)
{
    const char *path = path_of(name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        printf("  cannot write %s\n", path);
        abort();
    }
    int known = 0;
    for (int i = 0; i < ncreated; i++) known |= strcmp(created[i], name) == 0;
    if (!known && ncreated < 64) snprintf(created[ncreated++], sizeof created[0], "%s", name);
    return path;
}

/* Printable rendering of a field for failure messages (bounded). */
static const char *show(const char *s, size_t n)
{
    static char out[2][200];
    static int k;
    char *o = out[k = !k];
    size_t j = 0;
    for (size_t i = 0; i < n && j < sizeof out[0] - 40; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n')
            j += (size_t)sprintf(o + j, "\\n");
        else if (c == '\r')
            j += (size_t)sprintf(o + j, "\\r");
        else if (c == '"')
            j += (size_t)sprintf(o + j, "\\\"");
        else if (c < 0x20 || c >= 0x7F)
            j += (size_t)sprintf(o + j, "\\x%02X", c);
        else
            o[j++] = (char)c;
    }
    if (j >= sizeof out[0] - 40) j += (size_t)sprintf(o + j, "...(%zu bytes)", n);
    o[j] = '\0';
    return o;
}

/* Read path with delimiter delim (0 = detect) and compare every record, its
 * fields and its line with want. want_delim: the delimiter the reader must
 * use. Returns the number of mismatches (each reported, up to a bound). */
static long check_file(const char *path, char delim, const expected *want, char want_delim)
{
    df_ctx *ctx = df_ctx_new();
    df__csv *csv = NULL;
    long bad = 0;
    df_status st = df__csv_open(ctx, path, delim, &csv);
    if (st != DF_OK) {
        HARNESS_FAIL("df__csv_open(%s): %s", path, df_ctx_errmsg(ctx));
        df_ctx_free(ctx);
        return 1;
    }
    if (df__csv_delimiter(csv) != want_delim) {
        HARNESS_FAIL("%s: delimiter got '%c' (0x%02X), want '%c'", path, df__csv_delimiter(csv),
                     (unsigned)df__csv_delimiter(csv), want_delim);
        bad++;
    }
    size_t r = 0;
    for (;; r++) {
        char **f;
        size_t *len;
        int nf;
        long line;
        int rc = df__csv_next(csv, &f, &len, &nf, &line);
        if (rc == 0) break;
        if (rc < 0) {
            HARNESS_FAIL("%s: record %zu: error: %s", path, r + 1, df_ctx_errmsg(ctx));
            bad++;
            break;
        }
        if (r >= want->nrecs) {
            if (bad++ < MAX_REPORTED)
                HARNESS_FAIL("%s: extra record %zu at line %ld (%d fields, first \"%s\")", path, r + 1, line, nf,
                             nf > 0 ? show(f[0], len[0]) : "");
            continue;
        }
        const exp_rec *e = &want->recs[r];
        int rec_bad = 0;
        if (line != e->line) {
            if (bad + rec_bad < MAX_REPORTED)
                HARNESS_FAIL("%s: record %zu: line got %ld, want %ld", path, r + 1, line, e->line);
            rec_bad++;
        }
        if ((size_t)nf != e->nf) {
            if (bad + rec_bad < MAX_REPORTED)
                HARNESS_FAIL("%s: record %zu (line %ld): got %d fields, want %zu", path, r + 1, e->line, nf, e->nf);
            rec_bad++;
        }
        for (size_t k = 0; k < e->nf && k < (size_t)nf; k++) {
            const bytes *w = &want->fields[e->first + k];
            if (len[k] != w->n || memcmp(f[k], w->p, w->n) != 0 || f[k][len[k]] != '\0') {
                if (bad + rec_bad < MAX_REPORTED) {
                    HARNESS_FAIL("%s: record %zu (line %ld) field %zu: got \"%s\" (%zu bytes)", path, r + 1, e->line,
                                 k + 1, show(f[k], len[k]), len[k]);
                    HARNESS_FAIL("    want \"%s\" (%zu bytes)%s", show(w->p, w->n), w->n,
                                 f[k][len[k]] != '\0' ? "; and the field is not NUL-terminated" : "");
                }
                rec_bad++;
            }
        }
        bad += rec_bad;
    }
    if (r != want->nrecs) {
        HARNESS_FAIL("%s: got %zu records, want %zu", path, r, want->nrecs);
        bad++;
    }
    df__csv_close(csv);
    df_ctx_free(ctx);
    return bad;
}

/* Write what w holds into name and check it reads back as written. */
static void round_trip(const char *name, writer *w, char delim, char want_delim)
{
    const char *path = write_file(name, w->out.p, w->out.n);
    long bad = check_file(path, delim, &w->want, want_delim);
    if (bad) HARNESS_FAIL("%s: %ld mismatches", path, bad);
}

/* A file given as text, expected records given as "f1|f2|f3" lines (no '|'
 * inside fields in these small cases) with their line numbers. */
typedef struct {
    long line;
    const char *fields; /* '|'-separated; NULL ends the list */
} small_rec;

static void check_small(const char *name, const char *data, size_t n, char delim, char want_delim,
                        const small_rec *recs)
{
    expected e = {0};
    for (; recs->fields; recs++) {
        exp_record(&e, recs->line);
        const char *s = recs->fields;
        for (;;) {
            const char *bar = strchr(s, '|');
            size_t len = bar ? (size_t)(bar - s) : strlen(s);
            exp_field(&e, s, len);
            if (!bar) break;
            s = bar + 1;
        }
    }
    const char *path = write_file(name, data, n);
    check_file(path, delim, &e, want_delim);
    exp_free(&e);
}

#define SMALL(name, text, delim, want_delim, ...)                                                                      \
    do {                                                                                                               \
        static const small_rec recs_[] = {__VA_ARGS__, {0, NULL}};                                                     \
        check_small((name), (text), sizeof(text) - 1, (delim), (want_delim), recs_);                                   \
    } while (0)

/* ---- tests ------------------------------------------------------------------- */

TEST(rfc4180_quoting)
{
    SMALL("quoting.csv",
          "id,name,note\n"
          "1,\"Mosul, Ninewa\",\"he said \"\"go\"\"\"\n"
          "2,\"\",\"\"\"\"\n"
          "3,plain,\"a\"\"\"\n",
          ',', ',', {1, "id|name|note"}, {2, "1|Mosul, Ninewa|he said \"go\""}, {3, "2||\""}, {4, "3|plain|a\""});
    /* a quote inside an unquoted field is a literal; a field is quoted only from its first byte */
    SMALL("literal_quotes.csv", "a,b\"c,d\n x\"y,\"q\"\"r\"\n", ',', ',', {1, "a|b\"c|d"}, {2, " x\"y|q\"r"});
}

TEST(line_breaks_inside_quotes)
{
    /* LF and CRLF inside quoted fields; the records after them carry the
     * physical line they start on */
    SMALL("multiline_lf.csv",
          "id,text\n"
          "1,\"line one\nline two\nline three\"\n"
          "2,after\n"
          "3,\"x\r\ny\"\n"
          "4,end\n",
          ',', ',', {1, "id|text"}, {2, "1|line one\nline two\nline three"}, {5, "2|after"}, {6, "3|x\r\ny"},
          {8, "4|end"});
    SMALL("multiline_crlf.csv",
          "id,text\r\n"
          "1,\"a\r\nb\r\n\r\nc\"\r\n"
          "2,\"\n\"\r\n"
          "3,z\r\n",
          ',', ',', {1, "id|text"}, {2, "1|a\r\nb\r\n\r\nc"}, {6, "2|\n"}, {8, "3|z"});
    /* a lone CR inside quotes is content */
    SMALL("lone_cr.csv", "a,\"x\ry\"\nb,c\n", ',', ',', {1, "a|x\ry"}, {2, "b|c"});
}

TEST(line_ends)
{
    SMALL("crlf.csv", "a,b\r\nc,d\r\ne,f\r\n", ',', ',', {1, "a|b"}, {2, "c|d"}, {3, "e|f"});
    SMALL("lf.csv", "a,b\nc,d\ne,f\n", ',', ',', {1, "a|b"}, {2, "c|d"}, {3, "e|f"});
    SMALL("no_final_newline.csv", "a,b\nc,d", ',', ',', {1, "a|b"}, {2, "c|d"});
    SMALL("no_final_newline_quoted.csv", "a,b\r\nc,\"d\"", ',', ',', {1, "a|b"}, {2, "c|d"});
    SMALL("no_final_newline_trailing_delim.csv", "a,b\nc,", ',', ',', {1, "a|b"}, {2, "c|"});
    SMALL("single_field.csv", "x", ',', ',', {1, "x"});
}

TEST(utf8_bom)
{
    SMALL("bom.csv", "\xEF\xBB\xBFid,name\n1,x\n", 0, ',', {1, "id|name"}, {2, "1|x"});
    SMALL("bom_quoted.csv", "\xEF\xBB\xBF\"id\";\"na;me\"\r\n1;x\r\n", 0, ';', {1, "id|na;me"}, {2, "1|x"});
    /* only a leading BOM is skipped; elsewhere the bytes are content */
    SMALL("bom_inside.csv", "a,b\n\xEF\xBB\xBFx,y\n", ',', ',', {1, "a|b"}, {2, "\xEF\xBB\xBFx|y"});
}

TEST(delimiter_detection)
{
    SMALL("comma.csv", "a,b,c\n1,2,3\n", 0, ',', {1, "a|b|c"}, {2, "1|2|3"});
    SMALL("semicolon.csv", "a;b;c\n1,5;2;3\n", 0, ';', {1, "a|b|c"}, {2, "1,5|2|3"});
    SMALL("tab.tsv", "a\tb\tc\n1\t2 2\t3\n", 0, '\t', {1, "a|b|c"}, {2, "1|2 2|3"});
    SMALL("pipe.txt", "a|b|c\n1|2|3\n", 0, '|', {1, "a|b|c"}, {2, "1|2|3"});
    /* commas inside quoted fields do not vote */
    SMALL("semicolon_quoted_commas.csv", "\"Mosul, Ninewa\";\"1,234,567\";\"x,y,z\"\n\"a,b\";2;3\n", 0, ';',
          {1, "Mosul, Ninewa|1,234,567|x,y,z"}, {2, "a,b|2|3"});
    /* a header whose only line break is inside quotes */
    SMALL("detect_multiline_header.csv", "\"a\nb,c,d\";e;f\n1;2;3\n", 0, ';', {1, "a\nb,c,d|e|f"}, {3, "1|2|3"});
    /* an explicit delimiter wins over detection */
    SMALL("explicit.csv", "a,b;c,d\n1,2;3,4\n", ';', ';', {1, "a,b|c,d"}, {2, "1,2|3,4"});
    SMALL("one_column.csv", "name\nx\n", 0, ',', {1, "name"}, {2, "x"});
}

/* Pipe-delimited fields holding the other delimiters, through the writer. */
TEST(pipe_fields)
{
    writer w;
    writer_init(&w, '|');
    write_simple(&w, "a", "b");
    write_simple(&w, "x,y", "z;w");
    write_simple(&w, "p|q", "");
    round_trip("pipe2.txt", &w, 0, '|');
    writer_free(&w);
}

TEST(blank_lines)
{
    SMALL("blank.csv", "\n\na,b\n\r\n\nc,d\n\n", ',', ',', {3, "a|b"}, {6, "c|d"});
    SMALL("blank_crlf.csv", "\r\na,b\r\n\r\n\r\nc,d\r\n\r\n", ',', ',', {2, "a|b"}, {5, "c|d"});
    SMALL("only_blank.csv", "\n\r\n\n", ',', ',', {0, NULL});
    SMALL("empty.csv", "", ',', ',', {0, NULL});
    /* a quoted empty field is a record, not a blank line */
    SMALL("quoted_empty.csv", "a\n\"\"\nb\n", ',', ',', {1, "a"}, {2, ""}, {3, "b"});
}

TEST(empty_fields)
{
    SMALL("trailing_delim.csv", "a,b,\n,,\n,x,\n", ',', ',', {1, "a|b|"}, {2, "||"}, {3, "|x|"});
    SMALL("trailing_delim_crlf.csv", "a,b,\r\n\"\",,\"\"\r\n", ',', ',', {1, "a|b|"}, {2, "||"});
}

TEST(nul_byte_in_field)
{
    static const char data[] = "a,b\0c,d\n\"x\0\",y\n";
    const char *path = write_file("nul.csv", data, sizeof data - 1);
    expected e = {0};
    exp_record(&e, 1);
    exp_field(&e, "a", 1);
    exp_field(&e, "b\0c", 3);
    exp_field(&e, "d", 1);
    exp_record(&e, 2);
    exp_field(&e, "x\0", 2);
    exp_field(&e, "y", 1);
    EXPECT_INT(check_file(path, ',', &e, ','), 0);
    exp_free(&e);
}

TEST(end_of_file_is_sticky)
{
    const char *path = write_file("sticky.csv", "a\n", 2);
    df_ctx *ctx = df_ctx_new();
    df__csv *csv = NULL;
    char **f;
    size_t *len;
    int nf;
    long line;
    EXPECT_INT(df__csv_open(ctx, path, 0, &csv), DF_OK);
    if (csv) {
        EXPECT_INT(df__csv_next(csv, &f, &len, &nf, &line), 1);
        EXPECT_INT(df__csv_next(csv, &f, &len, &nf, &line), 0);
        EXPECT_INT(df__csv_next(csv, &f, &len, &nf, &line), 0);
    }
    df__csv_close(csv);
    df_ctx_free(ctx);
}

TEST(missing_file)
{
    df_ctx *ctx = df_ctx_new();
    static int dummy;
    df__csv *csv = (df__csv *)&dummy; /* must be reset to NULL */
    const char *path = path_of("does-not-exist.csv");
    EXPECT_INT(df__csv_open(ctx, path, 0, &csv), DF_EIO);
    EXPECT(csv == NULL);
    EXPECT(strstr(df_ctx_errmsg(ctx), path) != NULL);
    df_ctx_free(ctx);
}

/* Read path until an error; check the error names the file and the line the
 * unterminated record starts on, and that the records before it came out. */
static void check_unterminated(const char *path, long good_records, long bad_line)
{
    df_ctx *ctx = df_ctx_new();
    df__csv *csv = NULL;
    char **f;
    size_t *len;
    int nf, rc;
    long line, n = 0;
    EXPECT_INT(df__csv_open(ctx, path, ',', &csv), DF_OK);
    if (!csv) {
        df_ctx_free(ctx);
        return;
    }
    while ((rc = df__csv_next(csv, &f, &len, &nf, &line)) == 1) n++;
    EXPECT_INT(rc, -1);
    EXPECT_INT(n, good_records);
    EXPECT_INT(df_ctx_status(ctx), DF_EFORMAT);
    const char *msg = df_ctx_errmsg(ctx);
    char at_line[64], word_line[64];
    snprintf(at_line, sizeof at_line, ":%ld:", bad_line);
    snprintf(word_line, sizeof word_line, "line %ld", bad_line);
    if (!strstr(msg, path) || !(strstr(msg, at_line) || strstr(msg, word_line)))
        HARNESS_FAIL("error message \"%s\" should name %s and line %ld", msg, path, bad_line);
    df__csv_close(csv);
    df_ctx_free(ctx);
}

TEST(unterminated_quote)
{
    static const char small[] = "a,b\nc,d\n\ne,\"never closed\nmore\n";
    check_unterminated(write_file("unterminated.csv", small, sizeof small - 1), 2, 4);

    /* the open quote 3 MB before the end: found after several refills */
    bytes b = {0};
    puts_(&b, "h1,h2\n1,2\n3,\"open");
    while (b.n < 3 * MiB) puts_(&b, " text, \"\"quoted\"\"\r\nline\n");
    check_unterminated(write_file("unterminated_big.csv", b.p, b.n), 2, 3);
    free(b.p);
}

/* Put pattern's byte at index crit exactly at file offset target, after
 * filler records, and check every record. */
typedef struct {
    const char *text; /* the pattern, followed by "end,1\n" */
    size_t crit;
    const char *name;
} boundary_case;

static long boundary_file(const boundary_case *bc, size_t target)
{
    writer w;
    writer_init(&w, ',');
    size_t start = target - bc->crit;
    char pad[2100];
    memset(pad, 'x', sizeof pad);
    /* filler records "<n>,xxx...\n" of about 1000 bytes, the last one sized
     * to end exactly at start */
    for (long n = 0; w.out.n < start;) {
        char id[32];
        int idn = snprintf(id, sizeof id, "%ld", n++);
        size_t left = start - w.out.n, body = 1000;
        if (left < 1000 + 1000) body = left - (size_t)idn - 2; /* id , body \n */
        const char *f[2] = {id, pad};
        size_t len[2] = {(size_t)idn, body};
        write_record(&w, f, len, 2, "\n", 0);
    }
    if (w.out.n != start) {
        HARNESS_FAIL("test bug: filler ends at %zu, not %zu", w.out.n, start);
        writer_free(&w);
        return 1;
    }
    puts_(&w.out, bc->text);
    puts_(&w.out, "end,1\n");

    /* the records of the pattern, parsed by hand below */
    long line = w.line;
    if (strcmp(bc->name, "doubled-quote") == 0) {
        exp_record(&w.want, line);
        exp_field(&w.want, "ab\"cd", 5), exp_field(&w.want, "e", 1);
        line += 1;
    } else if (strcmp(bc->name, "crlf-end") == 0 || strcmp(bc->name, "record-start") == 0) {
        exp_record(&w.want, line);
        exp_field(&w.want, "p", 1), exp_field(&w.want, "q", 1);
        exp_record(&w.want, line + 1);
        exp_field(&w.want, "r", 1), exp_field(&w.want, "s", 1);
        line += 2;
    } else if (strcmp(bc->name, "crlf-in-quotes") == 0) {
        exp_record(&w.want, line);
        exp_field(&w.want, "a\r\nb", 4), exp_field(&w.want, "c", 1);
        line += 2;
    } else if (strcmp(bc->name, "closing-quote") == 0) {
        exp_record(&w.want, line);
        exp_field(&w.want, "ab", 2), exp_field(&w.want, "c", 1);
        line += 1;
    } else if (strcmp(bc->name, "blank-crlf") == 0) {
        exp_record(&w.want, line + 1);
        exp_field(&w.want, "t", 1), exp_field(&w.want, "u", 1);
        line += 2;
    } else if (strcmp(bc->name, "delimiter") == 0) {
        exp_record(&w.want, line);
        exp_field(&w.want, "ab", 2), exp_field(&w.want, "cd", 2);
        line += 1;
    } else if (strcmp(bc->name, "quote-then-crlf") == 0) {
        exp_record(&w.want, line);
        exp_field(&w.want, "x", 1), exp_field(&w.want, "yz", 2);
        line += 1;
    }
    exp_record(&w.want, line);
    exp_field(&w.want, "end", 3), exp_field(&w.want, "1", 1);

    const char *path = write_file("boundary.csv", w.out.p, w.out.n);
    long bad = check_file(path, 0, &w.want, ',');
    if (bad) HARNESS_FAIL("case %s with byte %zu at offset %zu: %ld mismatches", bc->name, bc->crit, target, bad);
    writer_free(&w);
    return bad;
}

/* Each delicate byte (half of a doubled quote, CR of a CRLF, a closing
 * quote, a delimiter, a blank line) at and around the last byte of the
 * reader's first buffer and of a 1 MiB block. */
TEST(block_boundaries)
{
    static const boundary_case cases[] = {
        {"\"ab\"\"cd\",e\n", 3, "doubled-quote"}, {"p,q\r\nr,s\n", 3, "crlf-end"},
        {"\"a\r\nb\",c\n", 2, "crlf-in-quotes"},  {"\"ab\",c\n", 3, "closing-quote"},
        {"\r\nt,u\n", 0, "blank-crlf"},           {"ab,cd\n", 2, "delimiter"},
        {"x,\"yz\"\r\n", 5, "quote-then-crlf"},   {"p,q\r\nr,s\n", 0, "record-start"},
    };
    static const size_t blocks[] = {1 * MiB, 2 * MiB};
    long bad = 0;
    for (size_t b = 0; b < sizeof blocks / sizeof *blocks; b++)
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
            for (int shift = -2; shift <= 1; shift++)
                bad += boundary_file(&cases[c], (size_t)((long)blocks[b] - 1 + shift)) != 0;
    EXPECT_INT(bad, 0);
}

/* ---- random records ----------------------------------------------------------- */

static uint64_t rng_state = 0x243F6A8885A308D3u;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Du;
}

static size_t rnd_below(size_t n) { return (size_t)(rnd() % n); }

/* A random field: quotes, delimiters of every kind, LF and CRLF, NUL,
 * UTF-8 bytes, spaces; often empty. */
static void random_field(bytes *f, size_t maxlen)
{
    static const char *atoms[] = {"a",    "b",  "Mosul", ",", ";",        "\t",       "|", "\"",
                                  "\"\"", "\n", "\r\n",  " ", "\xd8\xa7", "\xc3\xa9", "1", "0"};
    f->n = 0;
    if (rnd_below(5) == 0) {
        put(f, "", 0);
        return;
    }
    size_t n = 1 + rnd_below(maxlen);
    while (f->n < n) {
        if (rnd_below(200) == 0)
            put(f, "\0", 1);
        else
            puts_(f, atoms[rnd_below(sizeof atoms / sizeof *atoms)]);
    }
}

/* Records with 1..8 random fields; blank lines between some; CRLF or LF. */
static void random_records(writer *w, size_t nrecs, size_t maxlen, int no_final_newline)
{
    bytes fb[8] = {{0}};
    for (size_t r = 0; r < nrecs; r++) {
        size_t nf = 1 + rnd_below(8);
        const char *f[8];
        size_t len[8];
        for (size_t k = 0; k < nf; k++) {
            random_field(&fb[k], maxlen);
            f[k] = fb[k].p, len[k] = fb[k].n;
        }
        const char *eol = rnd_below(2) ? "\r\n" : "\n";
        if (no_final_newline && r + 1 == nrecs) eol = "";
        write_record(w, f, len, nf, eol, rnd_below(10) == 0);
        if (rnd_below(20) == 0 && r + 1 < nrecs) write_blank(w, rnd_below(2) ? "\r\n" : "\n");
    }
    for (size_t k = 0; k < 8; k++) free(fb[k].p);
}

/* Thousands of random records per delimiter, written by the test's writer,
 * read back field by field. */
TEST(random_cross_check)
{
    static const char delims[] = {',', ';', '\t', '|'};
    for (size_t d = 0; d < sizeof delims; d++) {
        for (int variant = 0; variant < 2; variant++) {
            writer w;
            writer_init(&w, delims[d]);
            random_records(&w, 3000, 40, variant);
            char name[64];
            snprintf(name, sizeof name, "random_%zu_%d.csv", d, variant);
            round_trip(name, &w, delims[d], delims[d]);
            writer_free(&w);
        }
    }
}

/* About 3 MB of records with long quoted fields holding line breaks, so that
 * several records straddle the reader's buffer ends at arbitrary bytes. */
TEST(records_straddle_buffers)
{
    writer w;
    writer_init(&w, ',');
    bytes big = {0};
    for (long id = 0; w.out.n < 3 * MiB + 12345; id++) {
        char sid[32];
        snprintf(sid, sizeof sid, "%ld", id);
        big.n = 0;
        size_t n = rnd_below(60000);
        while (big.n < n) {
            size_t k = rnd_below(16);
            puts_(&big, k == 0 ? "\"" : k == 1 ? "\r\n" : k == 2 ? "\n" : k == 3 ? "," : "text ");
        }
        const char *f[3] = {sid, big.p ? big.p : "", "tail"};
        size_t len[3] = {strlen(sid), big.n, 4};
        write_record(&w, f, len, 3, rnd_below(2) ? "\r\n" : "\n", 1);
    }
    EXPECT(w.out.n > 3 * MiB);
    EXPECT(w.want.nrecs > 50);
    round_trip("straddle.csv", &w, 0, ',');
    free(big.p);
    writer_free(&w);
}

TEST(field_longer_than_3mb)
{
    writer w;
    writer_init(&w, ',');
    write_simple(&w, "id", "text");
    bytes big = {0};
    while (big.n < 3 * MiB + 777) puts_(&big, "Long field, with \"quotes\"\nand lines\r\n");
    const char *f[2] = {"1", big.p};
    size_t len[2] = {1, big.n};
    write_record(&w, f, len, 2, "\r\n", 0);
    write_simple(&w, "2", "after");
    /* and one unquoted field longer than 3 MB */
    memset(big.p, 'y', big.n);
    f[0] = "3";
    write_record(&w, f, len, 2, "\n", 0);
    write_simple(&w, "4", "end");
    round_trip("long_field.csv", &w, 0, ',');
    free(big.p);
    writer_free(&w);
}

/* ---- set-up ------------------------------------------------------------------------ */

static void remove_dir(void)
{
    for (int i = 0; i < ncreated; i++) remove(path_of(created[i]));
    if (remove(dir) != 0) printf("  note: %s not removed (a file was left in it)\n", dir);
}

int main(void)
{
    strcpy(dir, "/tmp/dispflow-test-csv-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(rfc4180_quoting);
    RUN(line_breaks_inside_quotes);
    RUN(line_ends);
    RUN(utf8_bom);
    RUN(delimiter_detection);
    RUN(pipe_fields);
    RUN(blank_lines);
    RUN(empty_fields);
    RUN(nul_byte_in_field);
    RUN(end_of_file_is_sticky);
    RUN(missing_file);
    RUN(unterminated_quote);
    RUN(block_boundaries);
    RUN(random_cross_check);
    RUN(records_straddle_buffers);
    RUN(field_longer_than_3mb);
    remove_dir();
    return harness_done();
}
