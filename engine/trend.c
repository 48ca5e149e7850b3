/*
 * trend.c — the trend of a run (issue 13 item 7): displaced, returned and
 * still displaced as of the end of each period, from the join's own
 * (unit, date) bins (no second read), and its chart, drawn with cairo on
 * any surface: a PNG for the HTML, vectors in the PDF.
 */
#include "df_job.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cairo.h>

#define FONT "DejaVu Sans"
#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static int32_t step_back(int32_t day, int step)
{
    int y, m, d;
    switch (step) {
    case DF_STEP_DAY:
        return day - 1;
    case DF_STEP_WEEK:
        return day - 7;
    default: { /* a month: 31 Mar -> 28 Feb */
        df__civil_from_days(day, &y, &m, &d);
        if (--m == 0) m = 12, y--;
        int32_t first = df__days_from_civil(y, m, 1), next = df__days_from_civil(m == 12 ? y + 1 : y, m % 12 + 1, 1);
        return first + (d - 1 < next - first ? d - 1 : next - first - 1);
    }
    }
}

int df__trend_series(const df__report *r, df__trend_point *out, int cap)
{
    const df_join *j = r->join[r->level];
    const df_balance *bal = df_join_balance(j);
    if (bal->as_of == DF_NO_DATE || bal->from == DF_NO_DATE || cap < 2) return 0;
    /* the job's step; without one, the finest that gives at most cap points */
    int step = r->job->opts.fo.step, span = bal->as_of - bal->from;
    if (step == DF_STEP_NONE) step = span <= 21 ? DF_STEP_DAY : span <= 7 * 26 ? DF_STEP_WEEK : DF_STEP_MONTH;
    int32_t ends[DF__TREND_MAX];
    int n = 0;
    if (cap > DF__TREND_MAX) cap = DF__TREND_MAX;
    for (int32_t d = bal->as_of; d >= bal->from && n < cap; d = step_back(d, step)) ends[n++] = d;
    for (int i = 0; i < n; i++) {
        int32_t snap;
        df_figures f = df__join_totals_as_of(j, ends[n - 1 - i], &snap);
        out[i] = (df__trend_point){ends[n - 1 - i], f.displaced, f.returned, f.still_displaced};
    }
    return n;
}

/* A round step for about `want` ticks up to max (1, 2, 5 x 10^k). */
static double nice_step(double max, int want)
{
    double raw = max / want, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

static const double colours[3][3] = {{0xbd, 0x00, 0x26}, {0x1a, 0x98, 0x50}, {0x1f, 0x3a, 0x5f}};
static const char *const names[3] = {"Displaced", "Returned", "Still displaced"};

static int64_t value(const df__trend_point *p, int k)
{
    return k == 0 ? p->displaced : k == 1 ? p->returned : p->still;
}

void df__trend_draw(cairo_t *cr, const df__trend_point *p, int n, double w, double h)
{
    double fs = h / 26, left = 5.2 * fs, right = 3.6 * fs, top = 2.6 * fs, bottom = 2.6 * fs; /* right: half a date */
    double pw = w - left - right, ph = h - top - bottom;
    int64_t max = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            if (value(&p[i], k) > max) max = value(&p[i], k);
    double tick = nice_step(max > 0 ? (double)max : 1, 4), top_v = ceil((max > 0 ? max : 1) / tick) * tick;
    char buf[64];
    cairo_save(cr);
    cairo_rectangle(cr, 0, 0, w, h);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_fill(cr);
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, fs);
    /* the value axis: grid lines and their labels */
    for (double v = 0; v <= top_v + tick / 2; v += tick) {
        double y = top + ph - ph * v / top_v;
        cairo_set_source_rgb(cr, 0.85, 0.85, 0.85);
        cairo_set_line_width(cr, fs / 12);
        cairo_move_to(cr, left, y);
        cairo_line_to(cr, left + pw, y);
        cairo_stroke(cr);
        cairo_text_extents_t e;
        df__thousands((int64_t)v, buf);
        cairo_text_extents(cr, buf, &e);
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
        cairo_move_to(cr, left - e.x_advance - fs / 2, y + fs / 3);
        cairo_show_text(cr, buf);
    }
    /* the time axis: every period end, labelled where there is room */
    double dx = n > 1 ? pw / (n - 1) : 0;
    cairo_text_extents_t e;
    cairo_text_extents(cr, "30 May 2017", &e);
    int every = n > 1 ? (int)ceil((e.x_advance + fs) / dx) : 1;
    if (every < 1) every = 1;
    for (int i = 0; i < n; i++) {
        if ((n - 1 - i) % every) continue; /* the last date always */
        double x = left + (n > 1 ? dx * i : pw / 2);
        df__date_words(p[i].date, buf);
        cairo_text_extents(cr, buf, &e);
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
        cairo_move_to(cr, fmin(fmax(x - e.x_advance / 2, 0), w - e.x_advance), top + ph + 1.4 * fs);
        cairo_show_text(cr, buf);
    }
    /* the three lines, dots at each period end */
    for (int k = 0; k < 3; k++) {
        cairo_set_source_rgb(cr, colours[k][0] / 255, colours[k][1] / 255, colours[k][2] / 255);
        cairo_set_line_width(cr, fs / 5);
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
        for (int i = 0; i < n; i++) {
            double x = left + (n > 1 ? dx * i : pw / 2), y = top + ph - ph * (double)value(&p[i], k) / top_v;
            if (i == 0)
                cairo_move_to(cr, x, y);
            else
                cairo_line_to(cr, x, y);
        }
        cairo_stroke(cr);
        for (int i = 0; i < n; i++) {
            double x = left + (n > 1 ? dx * i : pw / 2), y = top + ph - ph * (double)value(&p[i], k) / top_v;
            cairo_new_sub_path(cr);
            cairo_arc(cr, x, y, fs / 4, 0, 2 * M_PI);
            cairo_fill(cr);
        }
    }
    /* the key, above the plot */
    double x = left;
    for (int k = 0; k < 3; k++) {
        cairo_set_source_rgb(cr, colours[k][0] / 255, colours[k][1] / 255, colours[k][2] / 255);
        cairo_rectangle(cr, x, top - 1.6 * fs, 1.6 * fs, fs / 3);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
        cairo_move_to(cr, x + 2 * fs, top - 1.1 * fs);
        cairo_show_text(cr, names[k]);
        cairo_text_extents(cr, names[k], &e);
        x += 2 * fs + e.x_advance + 1.5 * fs;
    }
    cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
    cairo_set_line_width(cr, fs / 10);
    cairo_move_to(cr, left, top);
    cairo_line_to(cr, left, top + ph);
    cairo_line_to(cr, left + pw, top + ph);
    cairo_stroke(cr);
    cairo_restore(cr);
}

df_status df__trend_write_png(df_ctx *ctx, const df__trend_point *p, int n, const char *path)
{
    char tmp[4096];
    df_status s = df__temp_path(ctx, path, tmp, sizeof tmp);
    if (s != DF_OK) return s;
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1600, 600);
    cairo_t *cr = cairo_create(surf);
    df__trend_draw(cr, p, n, 1600, 600);
    cairo_destroy(cr);
    cairo_status_t cs = cairo_surface_status(surf);
    errno = 0;
    if (cs == CAIRO_STATUS_SUCCESS) cs = cairo_surface_write_to_png(surf, tmp);
    int err = errno; /* cairo says "error while writing"; the write said why (a full disk) */
    cairo_surface_destroy(surf);
    if (cs != CAIRO_STATUS_SUCCESS) {
        unlink(tmp);
        return df__error(ctx, cs == CAIRO_STATUS_NO_MEMORY ? DF_ENOMEM : DF_EIO,
                         "cannot write the trend chart %s: %s%s%s", path, cairo_status_to_string(cs),
                         cs == CAIRO_STATUS_WRITE_ERROR && err ? ": " : "",
                         cs == CAIRO_STATUS_WRITE_ERROR && err ? strerror(err) : "");
    }
    return df__commit(ctx, tmp, path);
}
