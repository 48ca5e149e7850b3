/*
 * pdf.c — sitrep.pdf (issue 13 item 5): the situation report on A4 pages,
 * drawn with cairo's PDF surface, text laid out by Pango (fonts embedded,
 * text selectable, Arabic shaped right to left). sitrep.c writes its one
 * text to Markdown, HTML and here: the blocks (headings, paragraphs, tables,
 * maps, the trend chart) are kept as they come and laid out at the end, twice:
 * once to count the pages ("Page 2 of 5"; the maps and the chart, boxes of a
 * fixed size, are not drawn then), once to write. The maps and the
 * chart are drawn again as vectors, not pasted as pictures. No clock: the
 * creation date is the as-of date, so one run gives the same bytes.
 */
#include "df_job.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <pango/pangocairo.h>

#define FONT     "DejaVu Sans"
#define PAGE_W   595.2756 /* A4 in points: 210 x 297 mm */
#define PAGE_H   841.8898
#define MARGIN   45.0
#define TOP      48.0
#define BOTTOM   62.0 /* the footer lives below PAGE_H - BOTTOM */
#define CONTENT  (PAGE_W - 2 * MARGIN)
#define BODY     9.0 /* points */
#define CELL     7.6
#define CELL_PAD 3.0

typedef enum { B_HEADING, B_PARA, B_TABLE, B_ROW, B_MAP, B_TREND } block_kind;

typedef struct {
    block_kind kind;
    int level, ncols;
    char **cells; /* B_HEADING, B_PARA: one; B_TABLE: the header (a leading '>' right-aligns); B_ROW: ncols */
    const df__map *map;
    df__trend_point *trend;
} block;

struct df__pdf {
    const df__report *r;
    block *b;
    int n, cap, oom;
    int ncols; /* of the table being filled */
};

/* ---- the recorded text ----------------------------------------------------------- */

df__pdf *df__pdf_new(const df__report *r)
{
    df__pdf *p = calloc(1, sizeof *p);
    if (p) p->r = r;
    return p;
}

void df__pdf_free(df__pdf *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) {
        for (int c = 0; p->b[i].cells && c < p->b[i].ncols; c++) free(p->b[i].cells[c]);
        free(p->b[i].cells);
        free(p->b[i].trend);
    }
    free(p->b);
    free(p);
}

static block *add(df__pdf *p, block_kind kind, int ncols)
{
    if (!p || p->oom) return NULL; /* no PDF: every call is a no-op */
    if (p->n == p->cap) {
        block *grown = df__realloc_array(p->b, p->cap = p->cap ? 2 * p->cap : 64, sizeof *grown);
        if (!grown) {
            p->oom = 1;
            return NULL;
        }
        p->b = grown;
    }
    block *b = &p->b[p->n];
    memset(b, 0, sizeof *b);
    b->kind = kind, b->ncols = ncols;
    if (ncols && !(b->cells = calloc((size_t)ncols, sizeof *b->cells))) {
        p->oom = 1;
        return NULL;
    }
    p->n++;
    return b;
}

static void set_cell(df__pdf *p, block *b, int c, const char *text)
{
    if (b && !(b->cells[c] = df__strdup(text ? text : ""))) p->oom = 1;
}

void df__pdf_heading(df__pdf *p, int level, const char *text)
{
    block *b = add(p, B_HEADING, 1);
    if (b) b->level = level;
    set_cell(p, b, 0, text);
}

void df__pdf_para(df__pdf *p, const char *text) { set_cell(p, add(p, B_PARA, 1), 0, text); }

void df__pdf_table(df__pdf *p, const char *header, int ncols)
{
    if (!p) return;
    block *b = add(p, B_TABLE, ncols);
    p->ncols = ncols;
    char *cut = df__strdup(header);
    if (!cut) p->oom = 1;
    char *save = NULL, *c = cut ? strtok_r(cut, "|", &save) : NULL;
    for (int i = 0; b && i < ncols; i++, c = c ? strtok_r(NULL, "|", &save) : NULL) set_cell(p, b, i, c);
    free(cut);
}

void df__pdf_row(df__pdf *p, const char *const *cells)
{
    block *b = add(p, B_ROW, p->ncols);
    for (int i = 0; b && i < p->ncols; i++) set_cell(p, b, i, cells[i]);
}

void df__pdf_map(df__pdf *p, const df__map *m)
{
    block *b = add(p, B_MAP, 0);
    if (b) b->map = m;
}

void df__pdf_trend(df__pdf *p, const df__trend_point *pts, int n)
{
    block *b = add(p, B_TREND, 0);
    if (!b) return;
    b->level = n;
    if (!(b->trend = malloc(((size_t)n + 1) * sizeof *pts))) {
        p->oom = 1;
        return;
    }
    memcpy(b->trend, pts, (size_t)n * sizeof *pts);
}

/* ---- laying out ------------------------------------------------------------------ */

typedef struct {
    df_ctx *ctx;
    const df__pdf *doc;
    cairo_t *cr;
    PangoLayout *lay;
    int page, pages; /* pages: the count of the first pass (0 during it) */
    double y;
    df_status st;
    char as_of[20], map_id[64];
} pen;

static void font(pen *p, double size, int bold)
{
    PangoFontDescription *fd = pango_font_description_new();
    pango_font_description_set_family(fd, FONT);
    pango_font_description_set_absolute_size(fd, size * PANGO_SCALE);
    pango_font_description_set_weight(fd, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_layout_set_font_description(p->lay, fd);
    pango_font_description_free(fd);
}

/* Lay text out width wide (<= 0: on one line); returns its height. */
static double set_text(pen *p, const char *text, double size, int bold, double width, PangoAlignment align)
{
    font(p, size, bold);
    pango_layout_set_width(p->lay, width > 0 ? (int)(width * PANGO_SCALE) : -1);
    pango_layout_set_wrap(p->lay, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_alignment(p->lay, align);
    pango_layout_set_text(p->lay, text, -1);
    int w, h;
    pango_layout_get_size(p->lay, &w, &h);
    return (double)h / PANGO_SCALE;
}

static double text_width(pen *p, const char *text, double size, int bold)
{
    set_text(p, text, size, bold, 0, PANGO_ALIGN_LEFT);
    int w, h;
    pango_layout_get_size(p->lay, &w, &h);
    return (double)w / PANGO_SCALE;
}

/* Draw the text laid out last at (x, y), top left. */
static void show(pen *p, double x, double y, double grey)
{
    cairo_set_source_rgb(p->cr, grey, grey, grey);
    cairo_move_to(p->cr, x, y);
    pango_cairo_show_layout(p->cr, p->lay);
}

static void footer(pen *p)
{
    const df_job *job = p->doc->r->job;
    char left[400], right[64];
    snprintf(left, sizeof left, "%s \u2014 as of %s \u2014 %s",
             job->title ? job->title : "Displacement situation report", p->as_of, p->map_id);
    if (p->pages)
        snprintf(right, sizeof right, "Page %d of %d", p->page, p->pages);
    else
        snprintf(right, sizeof right, "Page %d of 99", p->page);
    double y = PAGE_H - BOTTOM + 16;
    cairo_set_source_rgb(p->cr, 0.7, 0.7, 0.7);
    cairo_set_line_width(p->cr, 0.5);
    cairo_move_to(p->cr, MARGIN, y - 5);
    cairo_line_to(p->cr, PAGE_W - MARGIN, y - 5);
    cairo_stroke(p->cr);
    double rw = text_width(p, right, 7.5, 0);
    set_text(p, right, 7.5, 0, 0, PANGO_ALIGN_LEFT);
    show(p, PAGE_W - MARGIN - rw, y, 0.35);
    set_text(p, left, 7.5, 0, CONTENT - rw - 20, PANGO_ALIGN_LEFT);
    pango_layout_set_ellipsize(p->lay, PANGO_ELLIPSIZE_END);
    show(p, MARGIN, y, 0.35);
    pango_layout_set_ellipsize(p->lay, PANGO_ELLIPSIZE_NONE);
}

static void new_page(pen *p)
{
    if (p->page > 0) {
        footer(p);
        cairo_show_page(p->cr);
    }
    p->page++;
    p->y = TOP;
}

/* Room for h more points on this page, else the next page. */
static void ensure(pen *p, double h)
{
    if (p->y + h > PAGE_H - BOTTOM && p->y > TOP) new_page(p);
}

/* The logo (PNG) scaled into a box at its top right corner (x1, y0); the
 * width drawn, 0 when none. SVG needs librsvg: left out, and said. */
static double logo(pen *p, const char *path, double x1, double y0, double box_w, double box_h)
{
    if (!path) return 0;
    size_t n = strlen(path);
    if (n < 4 || strcasecmp(path + n - 4, ".png")) {
        if (p->pages == 0)
            df__log(p->ctx, DF_LOG_WARN, "sitrep.pdf: the logo %s is not a PNG: left out of the PDF", path);
        return 0;
    }
    cairo_surface_t *img = cairo_image_surface_create_from_png(path);
    double drawn = 0;
    if (cairo_surface_status(img) == CAIRO_STATUS_SUCCESS) {
        double w = cairo_image_surface_get_width(img), h = cairo_image_surface_get_height(img);
        double s = w > 0 && h > 0 ? fmin(box_w / w, box_h / h) : 0;
        if (s > 0) {
            cairo_save(p->cr);
            cairo_translate(p->cr, x1 - w * s, y0);
            cairo_scale(p->cr, s, s);
            cairo_set_source_surface(p->cr, img, 0, 0);
            cairo_paint(p->cr);
            cairo_restore(p->cr);
            drawn = w * s;
        }
    } else if (p->pages == 0)
        df__log(p->ctx, DF_LOG_WARN, "sitrep.pdf: cannot read the logo %s: %s", path,
                cairo_status_to_string(cairo_surface_status(img)));
    cairo_surface_destroy(img);
    return drawn;
}

/* The cover block: a band with the title, the date, the organisation and
 * the map ID, the logo at its right. */
static void cover(pen *p)
{
    const df_job *job = p->doc->r->job;
    const df_balance *bal = df_join_balance(p->doc->r->join[p->doc->r->level]);
    char from[20], line[600];
    df__date_words(bal->from, from);
    double lw = logo(p, job->report_logo, PAGE_W - MARGIN, p->y, 110, 56);
    double w = CONTENT - (lw > 0 ? lw + 12 : 0);
    double h = set_text(p, job->title ? job->title : "Displacement situation report", 19, 1, w, PANGO_ALIGN_LEFT);
    show(p, MARGIN, p->y, 0.08);
    p->y += h + 4;
    snprintf(line, sizeof line, "Situation report \u00b7 as of %s (counting from %s)", p->as_of, from);
    h = set_text(p, line, 11, 0, w, PANGO_ALIGN_LEFT);
    show(p, MARGIN, p->y, 0.25);
    p->y += h + 2;
    if (job->report_organisation || job->report_contact) {
        snprintf(line, sizeof line, "%s%s%s", job->report_organisation ? job->report_organisation : "",
                 job->report_organisation && job->report_contact ? " \u00b7 " : "",
                 job->report_contact ? job->report_contact : "");
        h = set_text(p, line, 9.5, 0, w, PANGO_ALIGN_LEFT);
        show(p, MARGIN, p->y, 0.25);
        p->y += h + 2;
    }
    snprintf(line, sizeof line, "Map and report ID: %s", p->map_id);
    h = set_text(p, line, 8, 0, w, PANGO_ALIGN_LEFT);
    show(p, MARGIN, p->y, 0.4);
    p->y = fmax(p->y + h, TOP + 58) + 6;
    cairo_set_source_rgb(p->cr, 0xbd / 255.0, 0, 0x26 / 255.0);
    cairo_rectangle(p->cr, MARGIN, p->y, CONTENT, 2.5);
    cairo_fill(p->cr);
    p->y += 10;
}

static int right_aligned(const char *c) { return c && c[0] == '>'; }
static const char *cell_text(const char *c) { return c ? c + right_aligned(c) : ""; }

/* A number cell: digits, a sign or "withheld" in a right-aligned column. */
static int numeric(const char *c)
{
    return (c[0] >= '0' && c[0] <= '9') || ((c[0] == '+' || c[0] == '-' || c[0] == '\xe2') && c[1]);
}

/* The widest word of text (a header wraps between words, never inside). */
static double widest_word(pen *p, const char *text, double size, int bold)
{
    char word[256];
    double w = 0;
    for (const char *s = text; *s;) {
        size_t n = strcspn(s, " ");
        snprintf(word, sizeof word, "%.*s", (int)(n < sizeof word ? n : sizeof word - 1), s);
        w = fmax(w, text_width(p, word, size, bold));
        s += n;
        while (*s == ' ') s++;
    }
    return w;
}

/* The widths of a table's columns: each its widest cell on one line. When
 * they do not fit, each column gives up room in proportion to what it can
 * spare: down to its widest number (numbers never wrap) or header word
 * (headers wrap between words); text cells wrap. Only when even that does
 * not fit are all columns scaled down. */
static void column_widths(pen *p, const block *head, const block *rows, int nrows, double *w)
{
    int nc = head->ncols;
    double min[32], sum = 0, min_sum = 0;
    for (int c = 0; c < nc; c++) {
        const char *h = cell_text(head->cells[c]);
        int num = right_aligned(head->cells[c]);
        w[c] = text_width(p, h, CELL, 1);
        min[c] = widest_word(p, h, CELL, 1);
        for (int i = 0; i < nrows; i++) {
            double cw = text_width(p, rows[i].cells[c], CELL, 0);
            w[c] = fmax(w[c], cw);
            min[c] = fmax(min[c], num ? cw : fmin(cw, 60));
        }
        w[c] += 2 * CELL_PAD + 1, min[c] += 2 * CELL_PAD + 1;
        sum += w[c], min_sum += min[c];
    }
    if (sum <= CONTENT) return;
    if (min_sum <= CONTENT) {
        double t = (sum - CONTENT) / (sum - min_sum); /* the share of each column's spare room given up */
        for (int c = 0; c < nc; c++) w[c] -= t * (w[c] - min[c]);
    } else
        for (int c = 0; c < nc; c++) w[c] = min[c] * CONTENT / min_sum;
}

static double row_height(pen *p, const block *row, const double *w, int bold, const block *head)
{
    double h = 0;
    for (int c = 0; c < row->ncols; c++)
        h = fmax(h, set_text(p, head == row ? cell_text(row->cells[c]) : row->cells[c], CELL, bold, w[c] - 2 * CELL_PAD,
                             right_aligned(head->cells[c]) ? PANGO_ALIGN_RIGHT : PANGO_ALIGN_LEFT));
    return h + 2 * CELL_PAD;
}

static void draw_row(pen *p, const block *row, const double *w, int is_head, const block *head)
{
    double h = row_height(p, row, w, is_head, head), x = MARGIN, total = 0;
    for (int c = 0; c < row->ncols; c++) total += w[c];
    if (is_head) {
        cairo_set_source_rgb(p->cr, 0.93, 0.93, 0.93);
        cairo_rectangle(p->cr, MARGIN, p->y, total, h);
        cairo_fill(p->cr);
    }
    for (int c = 0; c < row->ncols; c++) {
        const char *t = is_head ? cell_text(row->cells[c]) : row->cells[c];
        int right = right_aligned(head->cells[c]) && (is_head || numeric(t) || !strcmp(t, "withheld"));
        set_text(p, t, CELL, is_head, w[c] - 2 * CELL_PAD, right ? PANGO_ALIGN_RIGHT : PANGO_ALIGN_LEFT);
        show(p, x + CELL_PAD, p->y + CELL_PAD, 0.1);
        x += w[c];
    }
    cairo_set_source_rgb(p->cr, 0.8, 0.8, 0.8);
    cairo_set_line_width(p->cr, 0.4);
    cairo_move_to(p->cr, MARGIN, p->y + h);
    cairo_line_to(p->cr, MARGIN + total, p->y + h);
    cairo_stroke(p->cr);
    p->y += h;
}

/* A table: its rows are the B_ROW blocks after it. Breaks across pages,
 * the header repeated on each. Returns the blocks used. */
static int table(pen *p, int at)
{
    const block *head = &p->doc->b[at], *rows = head + 1;
    int nrows = 0;
    while (at + 1 + nrows < p->doc->n && rows[nrows].kind == B_ROW) nrows++;
    double w[32];
    if (head->ncols > 32) return 1 + nrows;
    column_widths(p, head, rows, nrows, w);
    double hh = row_height(p, head, w, 1, head);
    ensure(p, hh + (nrows ? row_height(p, &rows[0], w, 0, head) : 0));
    draw_row(p, head, w, 1, head);
    for (int i = 0; i < nrows; i++) {
        double h = row_height(p, &rows[i], w, 0, head);
        if (i == nrows - 2 && i > 0) /* never the last row alone at the top of a page */
            h += row_height(p, &rows[i + 1], w, 0, head);
        if (p->y + h > PAGE_H - BOTTOM) {
            new_page(p);
            draw_row(p, head, w, 1, head);
        }
        draw_row(p, &rows[i], w, 0, head);
    }
    p->y += 8;
    return 1 + nrows;
}

/* Two maps and their heading fit on one page. */
/* The map across the text's width, drawn 1600 x 1900 (as much of the page as the text has) and scaled to it
 * with its text x 1.8: labels of 14 px print at 8 pt, their figures at 7
 * (issue 13: the map's text was 5.5 pt). */
#define MAP_W    CONTENT
#define MAP_PX_W 1600
#define MAP_PX_H 1900
#define MAP_TEXT 1.8
static double map_height(void) { return MAP_W * MAP_PX_H / MAP_PX_W; }
static double trend_height(void) { return CONTENT * 0.375; }

/* The least a block needs on the page where its heading is: a heading is
 * never the last thing on a page. */
static double first_height(pen *p, int at)
{
    if (at >= p->doc->n) return 0;
    const block *b = &p->doc->b[at];
    switch (b->kind) {
    case B_PARA:
        return fmin(set_text(p, b->cells[0], BODY, 0, CONTENT, PANGO_ALIGN_LEFT), 60);
    case B_TABLE:
        return 40;
    case B_MAP:
        return map_height();
    case B_TREND:
        return trend_height();
    default:
        return 20;
    }
}

static void lay_out(pen *p)
{
    new_page(p);
    cover(p);
    for (int i = 0; i < p->doc->n && p->st == DF_OK;) {
        const block *b = &p->doc->b[i];
        double h;
        switch (b->kind) {
        case B_HEADING: {
            double size = b->level <= 2 ? 12.5 : 10;
            h = set_text(p, b->cells[0], size, 1, CONTENT, PANGO_ALIGN_LEFT);
            double before = b->level <= 2 ? 10 : 5;
            ensure(p, before + h + 4 + first_height(p, i + 1));
            if (p->y > TOP) p->y += before;
            set_text(p, b->cells[0], size, 1, CONTENT, PANGO_ALIGN_LEFT);
            cairo_set_source_rgb(p->cr, b->level <= 2 ? 0x7a / 255.0 : 0.1, b->level <= 2 ? 0 : 0.1,
                                 b->level <= 2 ? 0x19 / 255.0 : 0.1);
            cairo_move_to(p->cr, MARGIN, p->y);
            pango_cairo_show_layout(p->cr, p->lay);
            p->y += h + 4;
            i++;
            break;
        }
        case B_PARA:
            h = set_text(p, b->cells[0], BODY, 0, CONTENT, PANGO_ALIGN_LEFT);
            /* a paragraph that introduces a table stays with its first rows */
            ensure(p, h + (i + 1 < p->doc->n && p->doc->b[i + 1].kind == B_TABLE ? 6 + first_height(p, i + 1) : 0));
            set_text(p, b->cells[0], BODY, 0, CONTENT, PANGO_ALIGN_LEFT);
            set_text(p, b->cells[0], BODY, 0, CONTENT, PANGO_ALIGN_LEFT);
            show(p, MARGIN, p->y, 0.13);
            p->y += h + 6;
            i++;
            break;
        case B_TABLE:
            i += table(p, i);
            break;
        case B_ROW: /* a row with no table: cannot happen; skipped */
            i++;
            break;
        case B_MAP: {
            h = map_height();
            ensure(p, h);
            df__map pm = *b->map;
            pm.width = MAP_PX_W, pm.height = MAP_PX_H, pm.text_scale = MAP_TEXT;
            double x = MARGIN + (CONTENT - MAP_W) / 2;
            cairo_save(p->cr);
            cairo_translate(p->cr, x, p->y);
            cairo_scale(p->cr, MAP_W / MAP_PX_W, MAP_W / MAP_PX_W);
            if (p->pages) /* its box has its size drawn or not: the count of pages does without it */
                p->st = df__map_draw(p->ctx, &pm, p->cr);
            cairo_restore(p->cr);
            cairo_set_source_rgb(p->cr, 0.75, 0.75, 0.75);
            cairo_set_line_width(p->cr, 0.5);
            cairo_rectangle(p->cr, x, p->y, MAP_W, h);
            cairo_stroke(p->cr);
            p->y += h + 10;
            i++;
            break;
        }
        case B_TREND:
            h = trend_height();
            ensure(p, h);
            cairo_save(p->cr);
            cairo_translate(p->cr, MARGIN, p->y);
            cairo_scale(p->cr, CONTENT / 1600, CONTENT / 1600);
            if (p->pages) df__trend_draw(p->cr, b->trend, b->level, 1600, 600); /* as the map */
            cairo_restore(p->cr);
            p->y += h + 8;
            i++;
            break;
        }
    }
    footer(p);
    cairo_show_page(p->cr);
}

static cairo_status_t discard(void *closure, const unsigned char *data, unsigned int length)
{
    (void)closure, (void)data, (void)length;
    return CAIRO_STATUS_SUCCESS;
}

/* The PDF's file, and the errno of its first failed write. */
typedef struct {
    FILE *f;
    int err;
} pdf_file;

static cairo_status_t to_file(void *closure, const unsigned char *data, unsigned int length)
{
    pdf_file *o = closure;
    if (!o->err && fwrite(data, 1, length, o->f) != length) o->err = errno ? errno : EIO;
    return o->err ? CAIRO_STATUS_WRITE_ERROR : CAIRO_STATUS_SUCCESS;
}

/* One pass: the pages on surf; the page count, or -1 (p->st set). */
static int pass(pen *p, cairo_surface_t *surf)
{
    const df_job *job = p->doc->r->job;
    char date[40], creator[64];
    const df_balance *bal = df_join_balance(p->doc->r->join[p->doc->r->level]);
    df_date_format(bal->as_of != DF_NO_DATE ? bal->as_of : 0, date);
    strcat(date, "T00:00:00Z"); /* the as-of date, never the clock */
    snprintf(creator, sizeof creator, "dispflow %s", DISPFLOW_VERSION);
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_TITLE,
                                   job->title ? job->title : "Displacement situation report");
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_CREATOR, creator);
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_CREATE_DATE, date);
    cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_MOD_DATE, date);
    if (job->report_organisation)
        cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_AUTHOR, job->report_organisation);
    p->cr = cairo_create(surf);
    /* its own font map, freed at the end: the default one keeps its font
     * caches to the end of the process (valgrind's definite leaks) */
    PangoFontMap *fm = pango_cairo_font_map_new();
    PangoContext *pc = pango_font_map_create_context(fm);
    pango_cairo_update_context(p->cr, pc);
    p->lay = pango_layout_new(pc);
    pango_cairo_context_set_resolution(pc, 72); /* sizes in points */
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF); /* the same layout at any zoom */
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    pango_cairo_context_set_font_options(pc, fo);
    cairo_font_options_destroy(fo);
    pango_layout_context_changed(p->lay);
    p->page = 0;
    lay_out(p);
    g_object_unref(p->lay);
    g_object_unref(pc);
    g_object_unref(fm);
    cairo_destroy(p->cr);
    cairo_surface_finish(surf);
    cairo_status_t cs = cairo_surface_status(surf);
    if (p->st == DF_OK && cs != CAIRO_STATUS_SUCCESS)
        p->st = df__error(p->ctx, cs == CAIRO_STATUS_NO_MEMORY ? DF_ENOMEM : DF_EIO, "sitrep.pdf: cairo: %s",
                          cairo_status_to_string(cs));
    return p->st == DF_OK ? p->page : -1;
}

df_status df__pdf_write(df_ctx *ctx, const df__pdf *doc, const char *path)
{
    if (doc->oom) return df__error(ctx, DF_ENOMEM, "out of memory writing %s", path);
    const df_job *job = doc->r->job;
    const df_balance *bal = df_join_balance(doc->r->join[doc->r->level]);
    pen p = {.ctx = ctx, .doc = doc, .st = DF_OK};
    df__date_words(bal->as_of, p.as_of);
    /* as the maps and the print layout say it ({as_of} expanded) */
    df__job_expand(job->report_map_id ? job->report_map_id : DF__DEFAULT_MAP_ID, bal->as_of, p.map_id, sizeof p.map_id);
    cairo_surface_t *count = cairo_pdf_surface_create_for_stream(discard, NULL, PAGE_W, PAGE_H);
    int pages = pass(&p, count);
    cairo_surface_destroy(count);
    if (pages < 0) return p.st;
    char tmp[4096];
    df_status st = df__temp_path(ctx, path, tmp, sizeof tmp);
    if (st != DF_OK) return st;
    /* written through our stream, not cairo's own file: a failed write then
     * says its cause (a full disk), not only cairo's "error while writing" */
    pdf_file out = {fopen(tmp, "wb"), 0};
    if (!out.f) return df__error(ctx, DF_EIO, "cannot write %s: %s", path, strerror(errno));
    cairo_surface_t *surf = cairo_pdf_surface_create_for_stream(to_file, &out, PAGE_W, PAGE_H);
    cairo_pdf_surface_restrict_to_version(surf, CAIRO_PDF_VERSION_1_5);
    p.pages = pages;
    pages = pass(&p, surf);
    cairo_surface_destroy(surf);
    if (fclose(out.f) != 0 && !out.err) out.err = errno ? errno : EIO;
    if (pages < 0 || out.err) {
        unlink(tmp);
        return out.err ? df__error(ctx, DF_EIO, "cannot write %s: %s", path, strerror(out.err)) : p.st;
    }
    return df__commit(ctx, tmp, path);
}
