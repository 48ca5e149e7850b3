/*
 * csv.c — a streaming RFC 4180 reader.
 *
 * Reads the file in blocks; memory is bounded by the longest record, not by
 * the file. Handles quoted fields (with delimiters, doubled quotes and line
 * breaks inside), CRLF or LF line ends, a UTF-8 byte-order mark, and a
 * delimiter detected from the first line (comma, semicolon, tab or pipe).
 * Blank lines are skipped. Fields are copied out unquoted and
 * NUL-terminated; their lengths are given too, so that a NUL byte inside a
 * field can be detected by the caller. A field over DF__CSV_MAX_FIELD is
 * not held whole: its record is an error, or skipped and told.
 */
#include "df_io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CSV_BLOCK (1 << 20)

struct df__csv {
    df_ctx *ctx;
    FILE *fp;
    const char *path;
    char delim;
    unsigned char stop[256]; /* bytes that end a run outside quotes: delimiter, quote, CR, LF */
    char *buf;               /* raw bytes [pos, len) not yet parsed */
    size_t cap, len, pos;
    uint64_t base;  /* file offset of buf[0] */
    uint64_t limit; /* a range read stops at the first record starting here (0: none) */
    int eof;
    long line; /* physical line of buf[pos] */
    char *rec; /* unquoted field bytes of the current record */
    size_t rec_cap;
    size_t *offs, *lens;
    char **fields;
    int fields_cap;
    int skip_long; /* a record with a field over DF__CSV_MAX_FIELD: skipped, not an error */
};

/* Move the unparsed tail to the front and read more. 0 ok, -1 error. */
static int refill(df__csv *c)
{
    if (c->pos > 0) {
        memmove(c->buf, c->buf + c->pos, c->len - c->pos);
        c->base += c->pos;
        c->len -= c->pos;
        c->pos = 0;
    }
    if (c->len + CSV_BLOCK > c->cap) { /* a record longer than the buffer */
        size_t cap = c->cap * 2;
        char *nb = realloc(c->buf, cap + 1);
        if (!nb) return df__error(c->ctx, DF_ENOMEM, "%s: out of memory reading line %ld", c->path, c->line), -1;
        c->buf = nb;
        c->cap = cap;
    }
    size_t got = fread(c->buf + c->len, 1, c->cap - c->len, c->fp);
    if (got == 0) {
        if (ferror(c->fp))
            return df__error(c->ctx, DF_EIO, "%s: read error near line %ld: %s", c->path, c->line, strerror(errno)), -1;
        c->eof = 1;
    }
    c->len += got;
    return 0;
}

static char detect_delimiter(const char *s, size_t n)
{
    static const char cands[] = {',', ';', '\t', '|'};
    size_t count[4] = {0};
    int quoted = 0;
    for (size_t i = 0; i < n && (quoted || (s[i] != '\n' && s[i] != '\r')); i++) {
        if (s[i] == '"') quoted = !quoted;
        for (int k = 0; k < 4 && !quoted; k++) count[k] += s[i] == cands[k];
    }
    int best = 0;
    for (int k = 1; k < 4; k++)
        if (count[k] > count[best]) best = k;
    return count[best] ? cands[best] : ',';
}

const char *df__utf16_name(const unsigned char *b, size_t n)
{
    if (n >= 2 && b[0] == 0xFF && b[1] == 0xFE) return "UTF-16LE";
    if (n >= 2 && b[0] == 0xFE && b[1] == 0xFF) return "UTF-16BE";
    /* no byte-order mark: ASCII text in UTF-16 is every other byte NUL */
    size_t pairs = n < 64 ? n / 2 : 32, even = 0, odd = 0;
    for (size_t i = 0; i < pairs; i++) even += b[2 * i] == 0, odd += b[2 * i + 1] == 0;
    if (pairs >= 4 && odd == pairs && even == 0) return "UTF-16LE";
    if (pairs >= 4 && even == pairs && odd == 0) return "UTF-16BE";
    return NULL;
}

/* Open path, positioned at byte `start` (0 = the beginning, where a BOM is
 * skipped and the delimiter detected), reading the records that start
 * before `end` (0 = to the end of the file). */
static df_status csv_open(df_ctx *ctx, const char *path, char delimiter, uint64_t start, uint64_t end, df__csv **out)
{
    df__csv *c = calloc(1, sizeof *c);
    const char *utf16;
    *out = NULL;
    if (!c) return df__error(ctx, DF_ENOMEM, "out of memory opening %s", path);
    c->ctx = ctx;
    c->path = path;
    c->line = 1;
    c->limit = end;
    c->cap = 2 * CSV_BLOCK;
    c->buf = malloc(c->cap + 1);
    c->rec_cap = 4096;
    c->rec = malloc(c->rec_cap);
    if (!c->buf || !c->rec) {
        df__csv_close(c);
        return df__error(ctx, DF_ENOMEM, "out of memory opening %s", path);
    }
    c->fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!c->fp || (start > 0 && fseeko(c->fp, (off_t)(start - 1), SEEK_SET) != 0)) {
        int e = errno;
        df__csv_close(c);
        return df__error(ctx, DF_EIO, "cannot open %s: %s", path, strerror(e));
    }
    c->base = start > 0 ? start - 1 : 0;
    if (refill(c) != 0) {
        df__csv_close(c);
        return ctx->status;
    }
    if (start > 0) {
        /* the record under way at start-1 belongs to the range before:
         * begin after the end of its line */
        while (!c->eof || c->pos < c->len) {
            char *nl = memchr(c->buf + c->pos, '\n', c->len - c->pos);
            if (nl) {
                c->pos = (size_t)(nl - c->buf) + 1;
                break;
            }
            c->pos = c->len;
            if (c->eof || refill(c) != 0) break;
        }
    } else if (c->len >= 3 && memcmp(c->buf, "\xEF\xBB\xBF", 3) == 0) {
        c->pos = 3;
    } else if ((utf16 = df__utf16_name((const unsigned char *)c->buf, c->len)) != NULL) {
        df__csv_close(c); /* issue 17 item 20: say the encoding, and how to convert */
        return df__error(ctx, DF_EFORMAT,
                         "%s: the file is %s text, not UTF-8: convert it with iconv -f %s -t UTF-8 %s > converted.csv",
                         path, utf16, utf16, path);
    }
    c->delim = delimiter ? delimiter : detect_delimiter(c->buf + c->pos, c->len - c->pos);
    c->stop[(unsigned char)c->delim] = c->stop['"'] = c->stop['\r'] = c->stop['\n'] = 1;
    *out = c;
    return DF_OK;
}

df_status df__csv_open(df_ctx *ctx, const char *path, char delimiter, df__csv **out)
{
    return csv_open(ctx, path, delimiter, 0, 0, out);
}

df_status df__csv_open_range(df_ctx *ctx, const char *path, char delimiter, uint64_t start, uint64_t end, long line,
                             df__csv **out)
{
    df_status st = csv_open(ctx, path, delimiter, start, end, out);
    if (st == DF_OK) (*out)->line = line; /* its errors and rows say the file's lines */
    return st;
}

uint64_t df__csv_offset(const df__csv *c) { return c->base + c->pos; }

long df__csv_line(const df__csv *c) { return c->line; }

char df__csv_delimiter(const df__csv *c) { return c->delim; }

static inline int push_field(df__csv *c, int *nf, size_t start, size_t end)
{
    if (*nf == c->fields_cap) {
        int cap = c->fields_cap ? c->fields_cap * 2 : 64;
        size_t *o = df__realloc_array(c->offs, (size_t)cap, sizeof *o);
        if (o) c->offs = o;
        size_t *l = df__realloc_array(c->lens, (size_t)cap, sizeof *l);
        if (l) c->lens = l;
        char **f = df__realloc_array(c->fields, (size_t)cap, sizeof *f);
        if (f) c->fields = f;
        if (!o || !l || !f) return df__error(c->ctx, DF_ENOMEM, "%s: out of memory at line %ld", c->path, c->line), -1;
        c->fields_cap = cap;
    }
    c->offs[*nf] = start;
    c->lens[*nf] = end - start;
    (*nf)++;
    return 0;
}

void df__csv_skip_long(df__csv *c) { c->skip_long = 1; }

/* The 1-based number of a field of the record under way (nf fields done,
 * the current one r - fstart bytes so far) longer than DF__CSV_MAX_FIELD,
 * or 0. */
static int long_field(const df__csv *c, int nf, size_t current)
{
    for (int k = 0; k < nf; k++)
        if (c->lens[k] > DF__CSV_MAX_FIELD) return k + 1;
    return current > DF__CSV_MAX_FIELD ? nf + 1 : 0;
}

/* Pass over the rest of a record from buf[i], by the same quoting rules,
 * reading on without keeping what was passed (the buffer does not grow).
 * 0 with c->pos after the record and *ln its last line + 1, -1 on error. */
static int skip_record(df__csv *c, size_t i, int in_quotes, int field_start, long *ln)
{
    for (;;) {
        const char *b = c->buf;
        while (i < c->len) {
            char ch = b[i];
            if (in_quotes) {
                if (ch == '"') {
                    if (i + 1 >= c->len && !c->eof) break; /* need the next byte */
                    if (i + 1 < c->len && b[i + 1] == '"') {
                        i += 2;
                        continue;
                    }
                    in_quotes = 0;
                }
                *ln += ch == '\n';
                i++;
                continue;
            }
            if (ch == '\n' || ch == '\r') {
                if (ch == '\r' && i + 1 >= c->len && !c->eof) break;
                c->pos = i + (ch == '\r' && i + 1 < c->len && b[i + 1] == '\n' ? 2 : 1);
                (*ln)++;
                return 0;
            }
            if (ch == '"' && field_start) in_quotes = 1;
            field_start = ch == c->delim;
            i++;
        }
        c->pos = i;
        if (c->eof) {
            if (!in_quotes) return 0; /* the last line, without a line end */
            df__error(c->ctx, DF_EFORMAT, "%s:%ld: unterminated quoted field (the file ends inside quotes)", c->path,
                      c->line);
            return -1;
        }
        if (refill(c) != 0) return -1;
        i = c->pos;
    }
}

/* A record with a field over the cap: an error, or skipped and told (2). */
static int too_long(df__csv *c, int field, size_t i, int done, int in_quotes, int field_start, long ln, int *nfields,
                    long *line)
{
    if (!c->skip_long) {
        df__error(c->ctx, DF_EFORMAT, "%s:%ld: field %d is longer than %zu MB", c->path, c->line, field,
                  DF__CSV_MAX_FIELD >> 20);
        return -1;
    }
    if (done)
        c->pos = i;
    else if (skip_record(c, i, in_quotes, field_start, &ln) != 0)
        return -1;
    *nfields = field;
    *line = c->line;
    c->line = ln;
    return 2;
}

/* Blank lines passed, and the buffer refilled when it is used up: 1 when
 * a record starts at buf[pos], 0 at the end of the input (or of the range),
 * -1 on error. */
static int record_start(df__csv *c)
{
    for (;;) {
        size_t i = c->pos;
        const char *b = c->buf;
        if (c->limit && c->base + i >= c->limit) return 0;  /* the next range's record */
        if (i < c->len && (b[i] == '\n' || b[i] == '\r')) { /* blank line */
            if (b[i] == '\r' && i + 1 >= c->len && !c->eof) {
                if (refill(c) != 0) return -1;
                continue;
            }
            c->pos = i + (b[i] == '\r' && i + 1 < c->len && b[i + 1] == '\n' ? 2 : 1);
            c->line++;
            continue;
        }
        if (i < c->len) return 1;
        if (c->eof) return 0;
        if (refill(c) != 0) return -1;
    }
}

/* A record under way: the next byte of buf, the bytes of rec so far and
 * where its current field starts, the fields done, the physical line. */
typedef struct {
    size_t i, r, fstart;
    long ln;
    int nf, quoted, in_quotes, complete;
} scan;

/* Parse from buf[s->i] into rec until the record ends (s->complete) or the
 * buffer does. 0, or -1 when memory runs out. rec holds at least what is
 * left of the buffer (fields unquoted are never longer than their bytes). */
static int scan_record(df__csv *c, scan *s)
{
    const char *b = c->buf;
    char d = c->delim, *rec = c->rec;
    size_t i = s->i, r = s->r;
    while (i < c->len) {
        char ch = b[i];
        if (s->in_quotes) {
            if (ch == '"') {
                if (i + 1 >= c->len && !c->eof) break; /* need the next byte */
                if (i + 1 < c->len && b[i + 1] == '"') {
                    rec[r++] = '"';
                    i += 2;
                    continue;
                }
                s->in_quotes = 0;
                i++;
                continue;
            }
            if (ch == '\n') s->ln++;
            rec[r++] = ch;
            i++;
            while (i < c->len && b[i] != '"' && b[i] != '\n') rec[r++] = b[i++];
        } else if (ch == d) {
            if (push_field(c, &s->nf, s->fstart, r) != 0) return -1;
            rec[r++] = '\0';
            s->fstart = r;
            s->quoted = 0;
            i++;
        } else if (ch == '\n' || ch == '\r') {
            if (ch == '\r' && i + 1 >= c->len && !c->eof) break;
            i += ch == '\r' && i + 1 < c->len && b[i + 1] == '\n' ? 2 : 1;
            s->ln++;
            s->complete = 1;
            break;
        } else if (ch == '"' && r == s->fstart && !s->quoted) {
            s->in_quotes = s->quoted = 1; /* a quote opens a field only at its start */
            i++;
        } else {
            /* a run of ordinary bytes, copied at once: the common case */
            size_t k = i + 1;
            while (k < c->len && !c->stop[(unsigned char)b[k]]) k++;
            memcpy(rec + r, b + i, k - i);
            r += k - i;
            i = k;
        }
    }
    s->i = i, s->r = r;
    return 0;
}

/* rec large enough for the rest of the buffer: 0, or -1 out of memory. */
static int rec_reserve(df__csv *c, long ln)
{
    size_t need = c->len - c->pos + 1;
    if (need <= c->rec_cap) return 0;
    size_t cap = c->rec_cap;
    while (cap < need) cap *= 2;
    char *nr = realloc(c->rec, cap);
    if (!nr) return df__error(c->ctx, DF_ENOMEM, "%s: out of memory at line %ld", c->path, ln), -1;
    c->rec = nr;
    c->rec_cap = cap;
    return 0;
}

int df__csv_next(df__csv *c, char ***fields, size_t **lengths, int *nfields, long *line)
{
    for (;;) {
        /* Parse one record from buf[pos..len) into rec. If the buffer ends
         * before the record does, refill and parse the record again. */
        int rc = record_start(c);
        if (rc <= 0) return rc;
        scan s = {.i = c->pos, .ln = c->line};
        if (rec_reserve(c, s.ln) != 0) return -1;
        if (scan_record(c, &s) != 0) goto nomem;
        if (!s.complete) {
            if (!c->eof) {
                int field = long_field(c, s.nf, s.r - s.fstart);
                if (field) /* stop holding it: the buffer would grow with it */
                    return too_long(c, field, s.i, 0, s.in_quotes, s.r == s.fstart && !s.quoted, s.ln, nfields, line);
                if (refill(c) != 0) return -1;
                continue;
            }
            if (s.in_quotes) {
                /* name the field too (issue 7: the message names file, line and field) */
                df__error(c->ctx, DF_EFORMAT,
                          "%s:%ld: field %d: unterminated quoted field (the file ends inside quotes)", c->path, c->line,
                          s.nf + 1);
                return -1;
            }
            /* last line without a line end */
        }
        if (push_field(c, &s.nf, s.fstart, s.r) != 0) goto nomem;
        int field = long_field(c, s.nf, 0);
        if (field) return too_long(c, field, s.i, 1, 0, 0, s.ln, nfields, line);
        c->rec[s.r] = '\0';
        for (int k = 0; k < s.nf; k++) c->fields[k] = c->rec + c->offs[k];
        *fields = c->fields;
        *lengths = c->lens;
        *nfields = s.nf;
        *line = c->line;
        c->pos = s.i;
        c->line = s.ln;
        return 1;
    nomem:
        df__error(c->ctx, DF_ENOMEM, "%s: out of memory at line %ld", c->path, s.ln);
        return -1;
    }
}

void df__csv_close(df__csv *c)
{
    if (!c) return;
    if (c->fp && c->fp != stdin) fclose(c->fp);
    free(c->buf);
    free(c->rec);
    free(c->offs);
    free(c->lens);
    free(c->fields);
    free(c);
}

/* A cell a spreadsheet would run as a formula (OWASP "CSV injection"): it
 * starts with = + - @ TAB or CR and is not a number (-5 stays -5). */
static int formula_like(const char *s)
{
    double v;
    return strchr("=+-@\t\r", *s) && df__parse_double(s, strlen(s), &v) != 0;
}

int df__csv_put(FILE *f, const char *s)
{
    if (!s || !*s) return 0;
    int formula = formula_like(s);
    if (!formula && !strpbrk(s, ",\"\r\n")) return fputs(s, f) == EOF ? -1 : 0;
    if (fputc('"', f) == EOF || (formula && fputc('\'', f) == EOF)) return -1; /* "'=1+2": text, quoted */
    for (; *s; s++)
        if ((*s == '"' && fputc('"', f) == EOF) || fputc(*s, f) == EOF) return -1;
    return fputc('"', f) == EOF ? -1 : 0;
}
