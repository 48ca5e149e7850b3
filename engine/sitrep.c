/*
 * sitrep.c — the situation report of a run, written three times from one
 * text: sitrep.md (maps beside it), sitrep.html (self-contained: CSS inline,
 * maps as data: URIs, print styles) and sitrep.pdf (A4, pdf.c). Headline
 * figures, change since one step earlier, the trend, maps, top flows,
 * tables per unit, and the data-quality section.
 */
#define _GNU_SOURCE /* qsort_r */
#include "df_job.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cpl_conv.h>
#include <cpl_string.h>

/* ---- one text, two files ------------------------------------------------------- */

typedef struct {
    FILE *md, *html;
    df__pdf *pdf;
    const char *dir;
    int ncols;
} doc;

static void md_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (strchr("|*_`[]<>\\", *s)) fputc('\\', f);
        fputc(*s, f);
    }
}

static void heading(doc *d, int level, const char *text)
{
    fprintf(d->md, "\n%.*s ", level, "####");
    md_escaped(d->md, text);
    fputs("\n\n", d->md);
    fprintf(d->html, "<h%d>", level);
    df__xml_escape_put(d->html, text);
    fprintf(d->html, "</h%d>\n", level);
    df__pdf_heading(d->pdf, level, text);
}

static void para(doc *d, const char *fmt, ...) DF__PRINTF(2, 3);
static void para(doc *d, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    md_escaped(d->md, text);
    fputs("\n\n", d->md);
    fputs("<p>", d->html);
    df__xml_escape_put(d->html, text);
    fputs("</p>\n", d->html);
    df__pdf_para(d->pdf, text);
}

/* A table: the header cells separated by '|'; a leading '>' aligns a
 * column right (numbers). */
static void table_begin(doc *d, const char *header)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", header);
    d->ncols = 0;
    fputs("<table>\n<thead><tr>", d->html); /* thead: repeated on each printed page */
    fputs("|", d->md);
    char align[32] = {0};
    for (char *save = NULL, *c = strtok_r(buf, "|", &save); c; c = strtok_r(NULL, "|", &save)) {
        int right = c[0] == '>';
        if (d->ncols < 31) align[d->ncols] = right ? 'r' : 'l';
        d->ncols++;
        fputs(right ? "<th class=\"n\">" : "<th>", d->html);
        df__xml_escape_put(d->html, c + right);
        fputs("</th>", d->html);
        fputc(' ', d->md);
        md_escaped(d->md, c + right);
        fputs(" |", d->md);
    }
    fputs("</tr></thead>\n<tbody>\n", d->html);
    fputs("\n|", d->md);
    for (int i = 0; i < d->ncols; i++) fputs(align[i] == 'r' ? "---:|" : "---|", d->md);
    fputc('\n', d->md);
    df__pdf_table(d->pdf, header, d->ncols);
}

/* One row of ncols cells (strings). Cells that start with a digit, a sign
 * or an en dash are numbers and are aligned right in HTML. */
static void table_row(doc *d, const char *const *cells)
{
    fputs("<tr>", d->html);
    fputs("|", d->md);
    for (int i = 0; i < d->ncols; i++) {
        const char *c = cells[i] ? cells[i] : "";
        int number = (c[0] >= '0' && c[0] <= '9') || ((c[0] == '+' || c[0] == '-') && c[1] >= '0' && c[1] <= '9');
        fputs(number ? "<td class=\"n\">" : "<td>", d->html);
        df__xml_escape_put(d->html, c);
        fputs("</td>", d->html);
        fputc(' ', d->md);
        md_escaped(d->md, c);
        fputs(" |", d->md);
    }
    fputs("</tr>\n", d->html);
    fputc('\n', d->md);
    df__pdf_row(d->pdf, cells);
}

static void table_end(doc *d)
{
    fputs("</tbody></table>\n", d->html);
    fputc('\n', d->md);
}

/* A picture of the bundle: a link in Markdown, inline bytes in HTML. */
static df_status picture(df_ctx *ctx, doc *d, const char *file, const char *title)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", d->dir, file);
    fprintf(d->md, "![");
    md_escaped(d->md, title);
    fprintf(d->md, "](%s)\n\n", file);
    FILE *f = fopen(path, "rb");
    if (!f) return df__error(ctx, DF_EIO, "cannot read %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    GByte *bytes = n > 0 ? malloc((size_t)n) : NULL;
    if (!bytes) {
        fclose(f);
        return df__error(ctx, n > 0 ? DF_ENOMEM : DF_EIO, "cannot read %s: %s", path,
                         n > 0 ? "out of memory" : "empty");
    }
    int ok = fread(bytes, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    char *b64 = ok ? CPLBase64Encode((int)n, bytes) : NULL;
    free(bytes);
    if (!b64) return df__error(ctx, ok ? DF_ENOMEM : DF_EIO, "cannot read %s%s", path, ok ? ": out of memory" : "");
    fputs("<figure><img alt=\"", d->html);
    df__xml_escape_put(d->html, title);
    fprintf(d->html, "\" src=\"data:image/png;base64,%s\"><figcaption>", b64);
    df__xml_escape_put(d->html, title);
    fputs("</figcaption></figure>\n", d->html);
    CPLFree(b64);
    return DF_OK;
}

/* ---- numbers in words ----------------------------------------------------------- */

/* "+1,234" for a rise. */
static const char *signed_thousands(int64_t v, char *out)
{
    if (v <= 0) return df__thousands(v, out);
    out[0] = '+';
    df__thousands(v, out + 1);
    return out;
}

/* ---- credits and period, shared with the maps ------------------------------------ */

/* The file name of a path: what a report may say of a local file. */
static const char *base_name(const char *path)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    return slash ? slash + 1 : path ? path : "";
}

void df__report_credits(const df__report *r, char *out, size_t cap)
{
    const df_job *job = r->job;
    char boundaries[600];
    if (job->boundaries_credit)
        snprintf(boundaries, sizeof boundaries, "%s", job->boundaries_credit);
    else
        snprintf(boundaries, sizeof boundaries, "Boundaries: %s", base_name(job->adm[job->finest]));
    snprintf(out, cap, "Source: %s | %s%s%s | Made with dispflow %s",
             job->records_source ? job->records_source : base_name(job->opts.ro.path), boundaries,
             job->report_organisation ? " | " : "", job->report_organisation ? job->report_organisation : "",
             DISPFLOW_VERSION);
}

void df__report_period(const df__report *r, char *out, size_t cap)
{
    const df_join *j = r->join[r->level];
    const df_balance *bal = df_join_balance(j);
    char from[20], as_of[20];
    if (df_join_kind(j) != DF_SNAPSHOTS) {
        df__date_words(bal->from, from);
        df__date_words(bal->as_of, as_of);
        snprintf(out, cap, "%s to %s", from, as_of);
        return;
    }
    /* the snapshot of each operation counted: the date the figures are of */
    size_t k = (size_t)snprintf(out, cap, "Snapshot");
    int n = 0;
    for (int i = 0; i < df_join_operation_count(j); i++) {
        const df_operation_figure *op = df_join_operation(j, i);
        if (op->snapshot == DF_NO_DATE || k >= cap) continue;
        df__date_words(op->snapshot, as_of);
        k += (size_t)snprintf(out + k, cap - k, "%s of %s%s%s%s", n++ ? ";" : "", as_of,
                              op->name[0] ? " (operation: " : "", op->name, op->name[0] ? ")" : "");
    }
    if (!n) {
        df__date_words(bal->snapshot != DF_NO_DATE ? bal->snapshot : bal->as_of, as_of);
        snprintf(out + k, k < cap ? cap - k : 0, " of %s", as_of);
    }
}

/* ---- sections ------------------------------------------------------------------------ */

typedef struct {
    int64_t displaced, returned, still, families;
} totals;

#define NOT_IN_TABLE "not in the table"

static totals sum_join(const df_join *j, const df_boundaries *b)
{
    totals t = {0};
    for (int i = 0; i < df_boundaries_count(b, df_join_level(j)); i++) {
        const df_figures *f = df_join_figures(j, i);
        t.displaced += f->displaced, t.returned += f->returned, t.still += f->still_displaced,
            t.families += f->families;
    }
    return t;
}

static void key_figures(doc *d, const df__report *r)
{
    int level = r->level;
    const df_join *j = r->join[level];
    const df_balance *bal = df_join_balance(j);
    totals now = sum_join(j, r->b[level]), before = {0};
    char from[20], as_of[20], prev[20], a[32], b[32], header[160];
    df__date_words(bal->from, from);
    df__date_words(bal->as_of, as_of);
    /* snapshots: the change since the snapshot that was the latest then */
    df__date_words(r->has_prev && r->job->opts.ro.kind == DF_SNAPSHOTS ? r->prev_snapshot : r->prev_as_of, prev);
    if (r->has_prev) before = (totals){r->prev.displaced, r->prev.returned, r->prev.still_displaced, r->prev.families};
    heading(d, 2, "Key figures");
    if (r->has_prev)
        snprintf(header, sizeof header, "Measure|>Individuals as of %s|>Change since %s", as_of, prev);
    else
        snprintf(header, sizeof header, "Measure|>Individuals as of %s", as_of);
    table_begin(d, header);
    int snapshots = r->job->opts.ro.kind == DF_SNAPSHOTS;
    char snapshot[20], first[64];
    df__date_words(bal->snapshot, snapshot);
    snprintf(first, sizeof first, snapshots ? "Displaced, present on %s" : "Displaced since the start", snapshot);
    /* a figure the table does not carry is not 0 (issue 13 item 6) */
    int no_returns = bal->read.returns == 0, no_families = bal->read.with_families == 0;
    struct {
        const char *what;
        int64_t now, before;
        int missing;
    } rows[] = {{first, now.displaced, before.displaced, 0},
                {"Returned (of those displaced)", now.returned, before.returned, no_returns},
                {"Still displaced", now.still, before.still, 0},
                {"Families displaced", now.families, before.families, no_families}};
    /* publish mode with a ledger: totals that moved by fewer than k families since an earlier release,
     * and changes one of whose ends was not published, are withheld (docs/publish.md) */
    static const int bit[4] = {DF__TOTAL_DISPLACED, DF__TOTAL_RETURNED, DF__TOTAL_STILL, DF__TOTAL_DISPLACED};
    int change_out = r->publish && r->publish->change_withheld;
    for (int i = 0; i < 4; i++) {
        int out = r->publish && (r->publish->total_withheld & bit[i]);
        const char *cells[] = {rows[i].what,
                               rows[i].missing ? NOT_IN_TABLE
                               : out           ? "withheld"
                                               : df__thousands(rows[i].now, a),
                               rows[i].missing ? ""
                               : change_out    ? "withheld"
                                               : signed_thousands(rows[i].now - rows[i].before, b)};
        table_row(d, cells);
    }
    table_end(d);
    char m[32], u[32];
    char period[600], missing[160] = "";
    if (no_returns || no_families)
        snprintf(missing, sizeof missing, " The table does not count %s%s%s: \"%s\", not 0.",
                 no_returns ? "returns" : "", no_returns && no_families ? " or families" : "",
                 no_families && !no_returns ? "families" : "", NOT_IN_TABLE);
    if (snapshots)
        snprintf(period, sizeof period,
                 "The records are snapshots (people present at a date): each figure is that of the latest snapshot on "
                 "or before %s, never a sum across dates.%s",
                 as_of, missing);
    else if (missing[0])
        snprintf(period, sizeof period, "Displaced since %s, the start of the period.%s", from, missing);
    else
        snprintf(period, sizeof period, "Displaced since %s, the start of the period.", from);
    para(d,
         "%s The figures count the %s records matched to a unit; %s individuals in records that could not be placed "
         "in any unit are not in them (see Data quality).",
         period, df__thousands(bal->matched, m), df__thousands(bal->ind_unmatched, u));
    /* issue 13 item 7: the two words a reader confuses, defined where they
     * first appear (a table that counts no returns has neither) */
    if (!no_returns)
        para(d, "Returned: people displaced from a unit who have since gone home from it, counted in the unit they "
                "left; they are taken off the displaced to give the still displaced. Returnees (in the tables per "
                "unit): people who came home into a unit, counted where they returned to, whenever they had left.");
    for (int l = 1; l <= 3; l++) { /* a level no record reaches has no figures: not 0 */
        if (!(r->unreached & (1 << l))) continue;
        char words[64], at[64];
        df__level_words(r->fine, l, 1, 0, words, sizeof words);
        df__level_words(r->fine, level, 1, 0, at, sizeof at);
        para(d,
             "Unreached: no record names a place at admin %d (%s), so there are no figures, table or map for it; the "
             "figures above come from admin %d (%s), the finest level the records reach.",
             l, words, level, at);
    }
}

/* The trend (issue 13 item 7): the totals as of the end of each period, a
 * chart (trend.png for Markdown and HTML, vectors in the PDF) and its
 * numbers. Nothing when the run has fewer than two period ends. */
static df_status trend(df_ctx *ctx, doc *d, const df__report *r)
{
    df__trend_point pts[DF__TREND_MAX];
    int n = df__trend_series(r, pts, 60);
    if (n < 2) return DF_OK;
    char path[4200], date[20], a[32], b[32], c[32];
    snprintf(path, sizeof path, "%s/trend.png", d->dir);
    df_status st = df__trend_write_png(ctx, pts, n, path);
    if (st != DF_OK) return st;
    heading(d, 2, "Trend");
    if ((st = picture(ctx, d, "trend.png", "Displaced, returned and still displaced as of the end of each period")) !=
        DF_OK)
        return st;
    df__pdf_trend(d->pdf, pts, n);
    table_begin(d, "As of|>Displaced|>Returned|>Still displaced");
    for (int i = n - 1; i >= 0 && i >= n - 13; i--) { /* the latest 13 ends: a quarter of weeks, a year of months */
        df__date_words(pts[i].date, date);
        const char *cells[] = {date, df__thousands(pts[i].displaced, a), df__thousands(pts[i].returned, b),
                               df__thousands(pts[i].still, c)};
        table_row(d, cells);
    }
    table_end(d);
    para(d, "Each point counts the records of the period from its start to that date, as the key figures do%s.",
         r->job->opts.ro.kind == DF_SNAPSHOTS ? " (snapshots: the latest snapshot on or before the date)" : "");
    return DF_OK;
}

/* Flows of status DF_DISPLACED summed over the periods per pair. */
typedef struct {
    int origin, dest;
    int64_t individuals, families;
} pair_sum;

static int cmp_pair(const void *a, const void *b)
{
    const pair_sum *x = a, *y = b;
    if (x->origin != y->origin) return x->origin < y->origin ? -1 : 1;
    return x->dest < y->dest ? -1 : x->dest > y->dest;
}

static int cmp_individuals(const void *a, const void *b)
{
    const pair_sum *x = a, *y = b;
    if (x->individuals != y->individuals) return x->individuals > y->individuals ? -1 : 1;
    return cmp_pair(a, b);
}

static df_status top_flows(df_ctx *ctx, doc *d, const df__report *r)
{
    const df_flows *f = r->flows;
    int n = df_flows_count(f), np = 0, ol = df__flows_origin_level(f), dl = df__flows_dest_level(f);
    pair_sum *p = malloc(((size_t)n + 1) * sizeof *p);
    if (!p) return df__error(ctx, DF_ENOMEM, "out of memory");
    int64_t all = 0;
    long withheld = 0;
    for (int i = 0; i < n; i++) {
        const df_flow *fl = df_flows_get(f, i);
        if (fl->status != DF_DISPLACED) continue;
        all += fl->individuals; /* the total before withholding, as published */
        if (fl->withheld) {
            withheld++;
            continue;
        }
        p[np++] = (pair_sum){fl->origin, fl->dest, fl->individuals, fl->families};
    }
    qsort(p, (size_t)np, sizeof *p, cmp_pair);
    int m = 0;
    for (int i = 0; i < np; i++) {
        if (m && p[m - 1].origin == p[i].origin && p[m - 1].dest == p[i].dest) {
            p[m - 1].individuals += p[i].individuals, p[m - 1].families += p[i].families;
            continue;
        }
        p[m++] = p[i];
    }
    qsort(p, (size_t)m, sizeof *p, cmp_individuals);
    int top = r->job->top_flows > 0 ? (int)r->job->top_flows : 10;
    heading(d, 2, "Largest flows of displacement");
    char a[32], b[32], rank[16], share[16], origin[160], dest[160];
    if (!m)
        para(d, "No displacement flows in the period.");
    else {
        table_begin(d, ">#|From|To|>Individuals|>Families|>Share");
        for (int i = 0; i < m && i < top; i++) {
            const df_unit *o = df__boundaries_unit(r->fine, ol, p[i].origin),
                          *t = df__boundaries_unit(r->fine, dl, p[i].dest);
            snprintf(rank, sizeof rank, "%d", i + 1);
            snprintf(origin, sizeof origin, "%s (%s)", o->name, o->pcode);
            if (ol == dl && p[i].origin == p[i].dest)
                snprintf(dest, sizeof dest, "within %s", t->name);
            else
                snprintf(dest, sizeof dest, "%s (%s)", t->name, t->pcode);
            snprintf(share, sizeof share, "%.1f%%", all ? 100.0 * (double)p[i].individuals / (double)all : 0.0);
            if (r->publish && r->publish->flows_total_withheld) share[0] = 0; /* the shares would give the total */
            const char *cells[] = {
                rank, origin, dest, df__thousands(p[i].individuals, a), df__thousands(p[i].families, b), share};
            table_row(d, cells);
        }
        table_end(d);
        char more[96] = "";
        if (withheld) snprintf(more, sizeof more, " and %ld withheld (see Disclosure control)", withheld);
        para(d,
             "%d origin-destination pairs%s, %s individuals in all; each row sums the pair over the period. The "
             "full OD matrix is in flows.csv and the flows layer of layers.gpkg.",
             m, more, r->publish && r->publish->flows_total_withheld ? "withheld" : df__thousands(all, a));
    }
    free(p);
    return DF_OK;
}

/* Units with people, the largest first; withheld ones last, in the layer's
 * order (their rank would tell). */
static int cmp_unit_displaced(const void *a, const void *b, void *user)
{
    const df_join *j = user;
    int wa = df__join_withheld(j, *(const int *)a), wb = df__join_withheld(j, *(const int *)b);
    if (wa != wb) return wa - wb;
    if (wa) return *(const int *)a - *(const int *)b;
    int64_t x = df_join_figures(j, *(const int *)a)->displaced, y = df_join_figures(j, *(const int *)b)->displaced;
    if (x != y) return x > y ? -1 : 1;
    return *(const int *)a - *(const int *)b;
}

/* Units with figures, the largest first (a sort with a context: qsort_r). */
static df_status unit_table(df_ctx *ctx, doc *d, const df__report *r, int level)
{
    char names[64], plural[64], singular[64];
    df__level_words(r->fine, level, 1, 1, names, sizeof names);
    df__level_words(r->fine, level, 1, 0, plural, sizeof plural);
    df__level_words(r->fine, level, 0, 1, singular, sizeof singular);
    const df_join *j = r->join[level];
    const df_boundaries *b = r->b[level];
    int n = df_boundaries_count(b, level), k = 0;
    int *order = malloc(((size_t)n + 1) * sizeof *order);
    if (!order) return df__error(ctx, DF_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        const df_figures *f = df_join_figures(j, i);
        if (f->displaced || f->returned || f->returnees || f->records) order[k++] = i;
    }
    qsort_r(order, (size_t)k, sizeof *order, cmp_unit_displaced, (void *)j);
    /* issue 13 item 7: each unit's change in still displaced since one step
     * earlier, the date of the key figures' change column; not when
     * publishing: a unit's earlier figure, which the change gives away, was
     * never checked against k */
    int change = r->has_prev && !r->publish;
    df_figures *prev = change ? malloc(((size_t)df__join_units(j) + 1) * sizeof *prev) : NULL;
    if (change && (!prev || df__join_units_as_of(j, r->prev_as_of, prev) != 0)) {
        free(prev);
        free(order);
        return df__error(ctx, DF_ENOMEM, "out of memory");
    }
    char since[64] = "", prev_day[20];
    if (prev) {
        df__date_words(r->job->opts.ro.kind == DF_SNAPSHOTS ? r->prev_snapshot : r->prev_as_of, prev_day);
        snprintf(since, sizeof since, ">Change since %s|", prev_day);
    }
    heading(d, 2, names);
    char header[320], c[6][32], dens[32];
    /* a table that counts no returns: no columns of returns (not columns of 0) */
    int returns = df_join_balance(j)->read.returns > 0;
    snprintf(header, sizeof header, "P-code|%s|%s>Displaced|%s%s%s>Displaced per km²", singular, level > 1 ? "In|" : "",
             returns ? ">Returned|>Still displaced|" : "", since, returns ? ">Returnees|" : "");
    table_begin(d, header);
    for (int q = 0; q < k; q++) {
        const df_unit *u = df_boundaries_unit(b, level, order[q]);
        const df_figures *f = df_join_figures(j, order[q]);
        const df_unit *p = level > 1 && u->parent >= 0 ? df__boundaries_unit(b, level - 1, u->parent) : NULL;
        snprintf(dens, sizeof dens, "%.1f", u->area_km2 > 0 ? (double)f->displaced / u->area_km2 : 0.0);
        const char *row[10] = {u->pcode, u->name};
        int i = 2, out = df__join_withheld(j, order[q]);
        if (level > 1) row[i++] = p ? p->name : "";
        row[i++] = out ? "withheld" : df__thousands(f->displaced, c[0]);
        if (returns) {
            row[i++] = out ? "withheld" : df__thousands(f->returned, c[1]);
            row[i++] = out ? "withheld" : df__thousands(f->still_displaced, c[2]);
        }
        if (prev)
            row[i++] = out ? "withheld" : signed_thousands(f->still_displaced - prev[order[q]].still_displaced, c[4]);
        if (returns) row[i++] = out ? "withheld" : df__thousands(f->returnees, c[3]);
        row[i++] = out ? "withheld" : dens;
        table_row(d, row);
    }
    table_end(d);
    if (df_join_kind(j) != DF_SNAPSHOTS) {
        para(d,
             "%d of %d %s have records in the period; the others have none. Every unit is in adm%d.csv and in the "
             "layer adm%d of layers.gpkg.",
             k, n, plural, level, level);
    } else { /* a unit the snapshot does not cover was not assessed: not 0 (issue 13 item 6) */
        char list[1200] = "";
        int na = 0;
        size_t len = 0;
        for (int i = 0; i < n; i++) {
            if (df_join_figures(j, i)->assessed) continue;
            if (na++ < 40 && len < sizeof list)
                len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", na > 1 ? ", " : "",
                                        df_boundaries_unit(b, level, i)->name);
        }
        if (na > 40 && len < sizeof list) snprintf(list + len, sizeof list - len, " and %d more", na - 40);
        para(d,
             "%d of %d %s were assessed (have a record in the snapshot); every unit is in adm%d.csv and in the "
             "layer adm%d of layers.gpkg.",
             k, n, plural, level, level);
        if (na)
            para(d, "Not assessed (no record in the snapshot: not 0, hatched on the maps), %d %s: %s.", na, plural,
                 list);
    }
    if (prev)
        para(d, "The change is that of the still displaced.");
    else if (r->publish)
        para(d, "No change per unit in a published bundle: the earlier figures were not checked for disclosure.");
    free(prev);
    free(order);
    return DF_OK;
}

/* Where the displaced live (issue 13 item 7): in camps or out of camp, by
 * shelter type, and the main hosting locations (not in a published bundle).
 * Nothing when the table has neither shelters nor location names. */
static df_status hosting(df_ctx *ctx, doc *d, const df__report *r)
{
    df__hosting *h = NULL;
    df_status st = df__hosting_compute(ctx, r, &h);
    if (st != DF_OK) return st;
    if (!h->total || (!h->nshelter && !h->nloc)) {
        df__hosting_free(h);
        return DF_OK;
    }
    char a[32], b[32], c[32], e[32], f[32], share[16], rank[16];
    double t = (double)h->total;
    heading(d, 2, "Where the displaced live");
    if (r->publish) { /* a shelter type's or a location's figure may stand on a few families */
        para(d, "Shelters and hosting locations are not in a published bundle: a shelter type's or a location's "
                "figure may stand on a few families, and neither is checked for disclosure.");
        df__hosting_free(h);
        return DF_OK;
    }
    if (h->nshelter) {
        para(d,
             "In camps: %s individuals (%.1f%%); out of camp: %s (%.1f%%); shelter not stated: %s. Counted over "
             "every displaced record of the period, %s individuals, placed in a unit or not (the key figures count "
             "those placed in a unit, %s).",
             df__thousands(h->by_class[0], a), 100.0 * (double)h->by_class[0] / t, df__thousands(h->by_class[1], b),
             100.0 * (double)h->by_class[1] / t, df__thousands(h->by_class[2], c), df__thousands(h->total, e),
             df__thousands(sum_join(r->join[r->level], r->b[r->level]).displaced, f));
        table_begin(d, "Shelter, as written|Camp or out of camp|>Individuals|>Share");
        for (int i = 0; i < h->nshelter; i++) {
            snprintf(share, sizeof share, "%.1f%%", 100.0 * (double)h->shelter[i].individuals / t);
            const char *cells[] = {h->shelter[i].name, h->shelter[i].shelter,
                                   df__thousands(h->shelter[i].individuals, a), share};
            table_row(d, cells);
        }
        table_end(d);
    }
    if (h->nloc) {
        int top = h->nloc < 10 ? h->nloc : 10;
        heading(d, 3, "Main hosting locations");
        table_begin(d, ">#|Location|Admin area, as written|Shelter|>Individuals|>Share");
        for (int i = 0; i < top; i++) {
            snprintf(rank, sizeof rank, "%d", i + 1);
            snprintf(share, sizeof share, "%.1f%%", 100.0 * (double)h->loc[i].individuals / t);
            const char *cells[] = {
                rank, h->loc[i].name, h->loc[i].where, h->loc[i].shelter, df__thousands(h->loc[i].individuals, a),
                share};
            table_row(d, cells);
        }
        table_end(d);
        para(d,
             "The %d largest of %d locations named in the records; a location is its name within the admin area "
             "the record states.",
             top, h->nloc);
    }
    df__hosting_free(h);
    return DF_OK;
}

static void data_quality(doc *d, const df__report *r)
{
    int level = r->level;
    const df_join *j = r->join[level];
    const df_balance *b = df_join_balance(j);
    char a[32], bb[32], c[32], e[32], f[32], score[16], rows[32], lv[16];
    heading(d, 2, "Data quality");
    para(d,
         "%s rows read from %s: %s matched to a unit, %s unmatched, %s outside the period, %s rejected (%s + %s + %s + "
         "%s = %s).",
         df__thousands(b->read.rows, a), base_name(r->job->opts.ro.path), df__thousands(b->matched, bb),
         df__thousands(b->unmatched, c), df__thousands(b->out_of_period, e), df__thousands(b->read.rejected, f), bb, c,
         e, f, a);
    if (r->records_not_copied > 0) { /* issue 12 item 2: the bundle costs what its input costs */
        char why[160];
        if (r->job->records_layer_mode == DF__RECORDS_LAYER_NO)
            snprintf(why, sizeof why, "the job says records_layer = no");
        else
            snprintf(why, sizeof why, "%s records with coordinates are more than [report] records_layer_max (%s)",
                     df__thousands(r->records_not_copied, c), df__thousands(r->job->records_layer_max, e));
        para(d,
             "The records are not copied into layers.gpkg (it has no layer 'records'): %s. They are in %s, whose "
             "SHA-256 is in manifest.json; [report] records_layer = always copies them.",
             why, r->job->opts.ro.path);
    }
    if (b->read.rejected) {
        heading(d, 3, "Rows rejected, and why");
        table_begin(d, "Reason|>Rows");
        for (int k = 0; k < DF_REJECT_COUNT; k++) {
            if (!b->read.rejected_by[k]) continue;
            const char *cells[] = {df_reject_name((df_reject_reason)k), df__thousands(b->read.rejected_by[k], a)};
            table_row(d, cells);
        }
        table_end(d);
        para(d, "Each rejected row is in decisions.csv with its line, column and value.");
    }
    int n = df_join_decision_count(j), fuzzy = 0, unmatched = 0;
    for (int i = 0; i < n; i++) {
        const char *how = df_join_decision(j, i)->how;
        fuzzy += !strcmp(how, "fuzzy") || !strcmp(how, "skeleton");
        unmatched += !strcmp(how, "unmatched");
    }
    if (fuzzy) {
        heading(d, 3, "Names matched by spelling similarity");
        table_begin(d, "Level|Name as written|Matched to|How|>Score|>Rows");
        for (int i = 0; i < n; i++) {
            const df_name_decision *x = df_join_decision(j, i);
            if (strcmp(x->how, "fuzzy") && strcmp(x->how, "skeleton")) continue;
            char unit[160];
            snprintf(lv, sizeof lv, "adm%d", x->level);
            snprintf(unit, sizeof unit, "%s (%s)", x->unit, x->pcode);
            snprintf(score, sizeof score, "%.2f", x->score);
            const char *cells[] = {lv, x->name, unit, x->how, score, df__thousands(x->rows, rows)};
            table_row(d, cells);
        }
        table_end(d);
    }
    if (unmatched) {
        heading(d, 3, "Names not matched");
        table_begin(d, "Level|Name as written|In|>Rows|Closest units");
        for (int i = 0; i < n; i++) {
            const df_name_decision *x = df_join_decision(j, i);
            if (strcmp(x->how, "unmatched")) continue;
            snprintf(lv, sizeof lv, "adm%d", x->level);
            const char *cells[] = {lv, x->name, x->parent, df__thousands(x->rows, rows),
                                   x->ambiguous ? "fits several units" : x->candidates};
            table_row(d, cells);
        }
        table_end(d);
    }
    para(d,
         "Coordinates that contradict the stated names: %s rows (the %s won); latitude and longitude swapped and "
         "corrected: %s rows; rows with no unit at all: %s (%s individuals).",
         df__thousands(b->conflicts, a), r->job->opts.jo.prefer_points ? "coordinates" : "names",
         df__thousands(b->swapped, bb), df__thousands(b->unmatched, c), df__thousands(b->ind_unmatched, e));
    if (b->returns_unplaced)
        para(d, "Returns whose place of displacement is unknown: %s rows, %s individuals (not in 'returned').",
             df__thousands(b->returns_unplaced, a), df__thousands(b->ind_returns_unplaced, bb));
    para(d, "How every row was matched is in decisions.csv; the method is in docs/join.md and docs/reconcile.md.");
}

static void disclosure(doc *d, const df__report *r)
{
    const df__publish_stats *s = r->publish;
    char a[32], b[32], c[32], e[32], f[32];
    heading(d, 2, "Disclosure control");
    para(d,
         "This report is for publishing: every figure that stands on fewer than %s families is withheld, and "
         "enough figures beside it that none can be worked out from the published figures and totals "
         "(docs/publish.md). Totals are computed before withholding and include the withheld figures.",
         df__thousands(r->job->publish_k, a));
    para(d,
         "Withheld: %s units (%s of them small), %s flows (%s small); %s density pixels masked. Nothing row by row "
         "(record locations, the decision log) is in this bundle, and no figures per period (the periods layer and "
         "periods.csv) and no density raster per period: each period's cells would be more cells to protect.",
         df__thousands(s->units, a), df__thousands(s->units_primary, b), df__thousands(s->flows, c),
         df__thousands(s->flows_primary, e), df__thousands(s->pixels, f));
    if (s->release)
        para(d,
             "This is release %ld of series %ld of the office's release ledger: every figure that moved by fewer than "
             "%s families since a value an earlier release published is withheld too (%s such figures here), so that "
             "no two releases give a small group by difference. The density raster is left out of a series.",
             s->release, s->series, df__thousands(r->job->publish_k, a), df__thousands(s->changed, b));
    if (r->job->publish_round > 1)
        para(d, "Every count is rounded to a multiple of %s (halves up); rounded figures need not add up.",
             df__thousands(r->job->publish_round, a));
}

#define DEFAULT_DISCLAIMER                                                                                             \
    "The boundaries and names shown and the designations used on this map do not imply official endorsement or "       \
    "acceptance by the United Nations."

/* The disclaimer (the job's, or the UN's usual one) and the credits:
 * source, boundaries, organisation, contact, map ID and (HTML) the logo
 * inline: the job's words, never a local path. */
static df_status credits_section(df_ctx *ctx, doc *d, const df__report *r)
{
    const df_job *job = r->job;
    const df_balance *bal = df_join_balance(r->join[r->level]);
    char credits[1024], id[256];
    df__report_credits(r, credits, sizeof credits);
    df__job_expand(job->report_map_id ? job->report_map_id : "", bal->as_of, id, sizeof id);
    heading(d, 2, "Disclaimer and credits");
    para(d, "%s", job->report_disclaimer && job->report_disclaimer[0] ? job->report_disclaimer : DEFAULT_DISCLAIMER);
    para(d, "%s.", credits);
    if (job->report_organisation || job->report_contact)
        para(d, "%s%s%s%s", job->report_organisation ? job->report_organisation : "",
             job->report_organisation && job->report_contact ? ". " : "", job->report_contact ? "Contact: " : "",
             job->report_contact ? job->report_contact : "");
    if (id[0]) para(d, "Map ID: %s (the maps: %s-1, %s-2).", id, id, id);
    if (!job->report_logo) return DF_OK;
    FILE *f = fopen(job->report_logo, "rb");
    if (!f) return df__error(ctx, DF_EIO, "cannot read the logo %s: %s", job->report_logo, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    GByte *bytes = n > 0 ? malloc((size_t)n) : NULL;
    int ok = bytes && fread(bytes, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    char *b64 = ok ? CPLBase64Encode((int)n, bytes) : NULL;
    free(bytes);
    if (!b64) return df__error(ctx, DF_EIO, "cannot read the logo %s", job->report_logo);
    const char *dot = strrchr(job->report_logo, '.');
    fprintf(d->html, "<p><img class=\"logo\" alt=\"logo\" src=\"data:image/%s;base64,%s\"></p>\n",
            dot && !strcasecmp(dot, ".svg") ? "svg+xml" : "png", b64);
    CPLFree(b64);
    return DF_OK;
}

static const char *css =
    "body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}"
    "h1{font-size:1.6em;border-bottom:3px solid #bd0026}h2{font-size:1.25em;margin-top:1.6em;color:#7a0019}"
    "h3{font-size:1.05em}table{border-collapse:collapse;margin:.5em 0;font-size:.9em}"
    "th,td{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left}th{background:#f4f4f4}"
    ".n{text-align:right;font-variant-numeric:tabular-nums}figure{margin:1em 0}img{max-width:100%;"
    "border:1px solid #ccc}img.logo{max-height:4em;border:0}figcaption{font-size:.85em;color:#555}"
    "p.meta{color:#555;font-size:.9em}"
    /* printing (issue 13 item 5): A4, no heading stranded at a page's foot, pictures and rows whole (two maps a page),
     * the table header on every page */
    "@page{size:A4;margin:14mm 13mm 16mm}"
    "@media print{body{max-width:none;margin:0;padding:0;font-size:9.5pt;color:#000}"
    "h1,h2,h3{break-after:avoid;page-break-after:avoid}h2{margin-top:1.1em}"
    "figure,img,tr{break-inside:avoid;page-break-inside:avoid}img{max-height:118mm;border:none}"
    "thead{display:table-header-group}table{font-size:8.5pt}p{orphans:3;widows:3}}";

df_status df__sitrep_write(df_ctx *ctx, const df__report *r, const char *dir)
{
    char md_path[4200], html_path[4200];
    snprintf(md_path, sizeof md_path, "%s/sitrep.md", dir);
    snprintf(html_path, sizeof html_path, "%s/sitrep.html", dir);
    doc d = {fopen(md_path, "w"), fopen(html_path, "w"), df__pdf_new(r), dir, 0};
    df_status st = DF_OK;
    if (!d.md || !d.html)
        st = df__error(ctx, DF_EIO, "cannot write %s: %s", !d.md ? md_path : html_path, strerror(errno));
    else if (!d.pdf)
        st = df__error(ctx, DF_ENOMEM, "out of memory");
    const df_job *job = r->job;
    const df_balance *bal = st == DF_OK ? df_join_balance(r->join[r->level]) : NULL;
    if (st == DF_OK) {
        const char *title = job->title ? job->title : "Displacement situation report";
        char as_of[20], period[400], credits[1024];
        df__date_words(bal->as_of, as_of);
        df__report_period(r, period, sizeof period);
        df__report_credits(r, credits, sizeof credits);
        fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", d.html);
        df__xml_escape_put(d.html, title);
        fprintf(d.html, "</title>\n<style>%s</style>\n</head>\n<body>\n", css);
        fputs("# ", d.md);
        md_escaped(d.md, title);
        fputs("\n\n", d.md);
        fputs("<h1>", d.html);
        df__xml_escape_put(d.html, title);
        fputs("</h1>\n", d.html);
        para(&d, "Situation as of %s (%s). %s. Inputs, checksums and parameters are in manifest.json.", as_of, period,
             credits);
        key_figures(&d, r);
        st = trend(ctx, &d, r);
        if (st == DF_OK && r->nmaps) heading(&d, 2, "Maps");
        for (int k = 0; st == DF_OK && k < r->nmaps; k++) {
            st = picture(ctx, &d, r->map_file[k], r->map_title[k]);
            if (r->map_spec) df__pdf_map(d.pdf, &r->map_spec[k]); /* vectors, not the PNG */
        }
    }
    if (st == DF_OK && r->flows) st = top_flows(ctx, &d, r);
    for (int l = 1; st == DF_OK && l <= 3; l++)
        if (r->join[l]) st = unit_table(ctx, &d, r, l);
    if (st == DF_OK) st = hosting(ctx, &d, r);
    if (st == DF_OK) {
        if (r->publish) disclosure(&d, r);
        data_quality(&d, r);
        st = credits_section(ctx, &d, r);
        fputs("</body>\n</html>\n", d.html);
    }
    int bad = 0, err = 0;
    errno = 0;
    if (d.md) bad |= ferror(d.md) | (fclose(d.md) != 0);
    if (d.html) bad |= ferror(d.html) | (fclose(d.html) != 0);
    err = errno; /* the cause, from the last write that failed (a full disk: ENOSPC) */
    if (st == DF_OK && bad)
        st = df__error(ctx, DF_EIO, "cannot write the situation report in %s: %s", dir, strerror(err ? err : EIO));
    if (st == DF_OK) {
        char pdf_path[4200];
        snprintf(pdf_path, sizeof pdf_path, "%s/sitrep.pdf", dir);
        st = df__pdf_write(ctx, d.pdf, pdf_path);
    }
    df__pdf_free(d.pdf);
    return st;
}
