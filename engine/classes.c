/*
 * classes.c — the class breaks of a bundle's choropleths, one scheme for
 * every map of the report and for the QGIS styles (issue 13 item 1):
 * the job's own breaks ([maps] breaks), or a scheme ([maps] classes):
 * "nice" (the default), "quantile" or "jenks". Maps of one office are
 * compared week after week, so the default must not move when the data
 * move a little: its breaks are round numbers of the 1-2-5 ladder that
 * depend on the data only through the ladder rungs of the largest value
 * and of a low quantile. Colours are ColorBrewer's YlOrRd of as many
 * classes as there are.
 */
#include "df_job.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- the 1-2-5 ladder --------------------------------------------------------- */

/* Rung p of the ladder: ..., 0.5 (p = -1), 1 (0), 2 (1), 5 (2), 10 (3), ... */
static double rung(int p)
{
    static const double mant[3] = {1, 2, 5};
    int d = p >= 0 ? p / 3 : -((-p + 2) / 3);
    return d >= 0 ? mant[p - 3 * d] * pow(10, d) : mant[p - 3 * d] / pow(10, -d); /* 0.2, not 2 x 0.1 */
}

/* The position of the largest rung <= v (v > 0); strictly below v when
 * below is set. */
static int rung_at(double v, int below)
{
    int p = 3 * (int)floor(log10(v)) - 3;
    while (rung(p + 1) < v || (!below && rung(p + 1) == v)) p++;
    return p;
}

/* Four rungs: the largest below the maximum, and down the ladder in equal
 * steps (one rung at least) that stay at or above the rung of the 20%
 * quantile: the lowest class holds the smallest fifth at least. Only
 * crossing a rung moves a break; the rungs are a factor 2 to 2.5 apart. */
static int nice_breaks(const double *v, int m, double *breaks)
{
    int top = rung_at(v[m - 1], 1), low = rung_at(v[(m - 1) / 5], 0);
    int span = top - low, step = span < 6 ? 1 : span / 3, k = 0;
    for (int i = 3; i >= 0; i--) breaks[k++] = rung(top - i * step);
    return k;
}

/* ---- quantiles ---------------------------------------------------------------- */

/* v rounded to two significant figures (whole numbers stay whole). */
static double round2(double v, int whole)
{
    if (!(v > 0)) return v;
    double p = pow(10, floor(log10(v)) - 1);
    if (whole && p < 1) p = 1;
    return round(v / p) * p;
}

/* The 20/40/60/80% quantiles (the value of rank ceil(q m / 5); halfway
 * between ranks r and r + 1 when q m / 5 is the whole rank r, so that a
 * break falls between units), rounded to two significant figures, kept
 * while increasing and below the maximum. */
static int quantile_breaks(const double *v, int m, int whole, double *breaks)
{
    int k = 0;
    for (int q = 1; q < 5; q++) {
        int r = (int)ceil((double)q * m / 5);
        double b = q * m % 5 == 0 && r < m ? (v[r - 1] + v[r]) / 2 : v[r - 1];
        b = round2(b, whole);
        if (b >= v[m - 1] || (k > 0 && b <= breaks[k - 1]) || b < v[0]) continue;
        breaks[k++] = b;
    }
    return k;
}

/* ---- Jenks natural breaks (Fisher's exact optimisation) ------------------------- */

/* The 5 classes of the sorted values that minimise the sum of squared
 * deviations within classes (dynamic programming, O(k m^2)); a break is
 * the largest value of its class. Fewer classes when fewer values. */
static int jenks_breaks(const double *v, int m, double *breaks)
{
    int k = m < 5 ? m : 5;
    if (k < 2) return 0;
    double *pre = malloc(((size_t)m + 1) * sizeof *pre), *pre2 = malloc(((size_t)m + 1) * sizeof *pre2);
    double *cost = malloc((size_t)k * ((size_t)m + 1) * sizeof *cost);
    int *from = malloc((size_t)k * ((size_t)m + 1) * sizeof *from);
    int n = -1;
    if (!pre || !pre2 || !cost || !from) goto done;
    pre[0] = pre2[0] = 0;
    for (int i = 0; i < m; i++) pre[i + 1] = pre[i] + v[i], pre2[i + 1] = pre2[i] + v[i] * v[i];
#define SSD(a, b) (pre2[b] - pre2[a] - (pre[b] - pre[a]) * (pre[b] - pre[a]) / ((b) - (a))) /* values a..b-1 */
#define AT(c, i)  ((size_t)(c) * ((size_t)m + 1) + (size_t)(i))
    for (int i = 1; i <= m; i++) cost[AT(0, i)] = SSD(0, i), from[AT(0, i)] = 0;
    for (int c = 1; c < k; c++)
        for (int i = c + 1; i <= m; i++) {
            double best = INFINITY;
            int arg = c;
            for (int j = c; j < i; j++) { /* the last class is j..i-1 */
                double x = cost[AT(c - 1, j)] + SSD(j, i);
                if (x < best) best = x, arg = j;
            }
            cost[AT(c, i)] = best, from[AT(c, i)] = arg;
        }
    n = k - 1;
    for (int c = k - 1, i = m; c > 0; c--) {
        i = from[AT(c, i)];
        breaks[c - 1] = v[i - 1];
    }
#undef SSD
#undef AT
done:
    free(pre);
    free(pre2);
    free(cost);
    free(from);
    return n;
}

/* ---- the scheme of a job ------------------------------------------------------- */

int df__classes_for(const df_job *job, const double *values, int n, double *breaks, int *nbreaks)
{
    *nbreaks = 0;
    if (job && job->nbreaks > 0) { /* the job's own: the same whatever the data */
        memcpy(breaks, job->breaks, (size_t)job->nbreaks * sizeof *breaks);
        *nbreaks = job->nbreaks;
        return 0;
    }
    double *v = df__malloc((size_t)n * sizeof *v + 1);
    int m = 0, whole = 1;
    if (!v) return -1;
    for (int i = 0; i < n; i++)
        if (values[i] > 0 && isfinite(values[i])) {
            v[m++] = values[i];
            whole &= values[i] == floor(values[i]);
        }
    if (m > 0) {
        qsort(v, (size_t)m, sizeof *v, cmp_double);
        int scheme = job ? job->classes : DF__CLASSES_NICE;
        *nbreaks = scheme == DF__CLASSES_QUANTILE ? quantile_breaks(v, m, whole, breaks)
                   : scheme == DF__CLASSES_JENKS  ? jenks_breaks(v, m, breaks)
                                                  : nice_breaks(v, m, breaks);
    }
    free(v);
    if (*nbreaks < 0) return *nbreaks = 0, -1;
    return 0;
}

int df__class_of(double v, const double *breaks, int nbreaks)
{
    int c = 0;
    while (c < nbreaks && v > breaks[c]) c++;
    return c;
}

/* ColorBrewer YlOrRd (Cynthia Brewer, Apache 2.0 licence), the scheme of k
 * classes for k = 3 .. 9; 1 and 2 classes take middle colours. */
const char *df__class_hex(int c, int k)
{
    static const char *const schemes[10][9] = {
        {NULL},
        {"#fd8d3c"},
        {"#fecc5c", "#f03b20"},
        {"#ffeda0", "#feb24c", "#f03b20"},
        {"#ffffb2", "#fecc5c", "#fd8d3c", "#e31a1c"},
        {"#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"},
        {"#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"},
        {"#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"},
        {"#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"},
        {"#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026", "#800026"}};
    if (k < 1) k = 1;
    if (k > 9) k = 9;
    if (c < 0) c = 0;
    if (c >= k) c = k - 1;
    return schemes[k][c];
}
