/*
 * publish_joint.c — the joint check of a release (docs/publish.md): all the
 * sums a release publishes at once (the unit tables, both flow tables, the
 * totals, and the relations between them), and more figures withheld until
 * none of the withheld ones is determined by them.
 *
 * The sums are linear equations over the figures. With the published
 * figures moved to the right-hand side, a withheld figure x_i is determined
 * exactly when the unit vector e_i is a combination of the equations
 * restricted to the withheld figures: that combination of the sums then
 * gives x_i from published values alone. In the reduced row echelon form of
 * those rows this is a pivot row with no other withheld figure in it. The
 * elimination is exact: integers, each row kept divided by the gcd of its
 * entries, every product checked for overflow.
 *
 * To cover a determined figure, the rows are eliminated together with an
 * identity block, so each reduced row says which sums it combines (its
 * certificate y: y A_W = e_i). Withholding a published figure c breaks that
 * certificate only when y A_c != 0 (c takes part in the combination); and
 * it does so for certain, without c being determined in turn, when A_c lies
 * in the column space of the withheld figures (T A_c is 0 on the rows
 * eliminated to 0, and c is in no sum without a withheld figure).
 */
#include "dfint.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const df__sdc_system *s;
    int *rstart, *rvar, *rcoef; /* the sums by row */
    int *cstart, *crow, *ccoef; /* and by variable */
    int *group_of;              /* variable -> its group */
    /* one round: the withheld variables as columns, the sums they are in as rows */
    int nw, R, width, rank; /* width = nw + R: the withheld columns, then the identity block */
    int *wcol, *wvar;       /* variable -> column (-1: published), column -> variable */
    int *krow, *kept;       /* sum -> row (-1: no withheld figure in it), row -> sum */
    int *pivot_row;         /* column -> its pivot row, -1 */
    int *nz;                /* the pivot row's nonzero columns */
    int64_t *M;             /* R x width */
    size_t Mcap;
    unsigned char *det; /* variable: determined */
} joint;

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b, b = t;
    }
    return a;
}

static uint64_t mag(int64_t v) { return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v; }

/* *out = a * x - b * y; 1 on overflow (or INT64_MIN, which has no negation). */
static int mul_sub(int64_t a, int64_t x, int64_t b, int64_t y, int64_t *out)
{
    int64_t p, q;
    if (__builtin_mul_overflow(a, x, &p) || __builtin_mul_overflow(b, y, &q) || __builtin_sub_overflow(p, q, out))
        return 1;
    return *out == INT64_MIN;
}

/* The sums by row and by variable, from the terms. */
static int index_terms(joint *j)
{
    const df__sdc_system *s = j->s;
    size_t nr = (size_t)s->nrows + 1, nv = (size_t)s->nvars + 1, nt = (size_t)s->nterms + 1;
    j->rstart = calloc(nr, sizeof(int)), j->cstart = calloc(nv, sizeof(int));
    j->rvar = malloc(nt * sizeof(int)), j->rcoef = malloc(nt * sizeof(int));
    j->crow = malloc(nt * sizeof(int)), j->ccoef = malloc(nt * sizeof(int));
    int *fill = calloc(nr + nv, sizeof(int));
    if (!j->rstart || !j->cstart || !j->rvar || !j->rcoef || !j->crow || !j->ccoef || !fill) {
        free(fill);
        return -1;
    }
    for (int t = 0; t < s->nterms; t++) j->rstart[s->row[t] + 1]++, j->cstart[s->var[t] + 1]++;
    for (int r = 0; r < s->nrows; r++) j->rstart[r + 1] += j->rstart[r];
    for (int v = 0; v < s->nvars; v++) j->cstart[v + 1] += j->cstart[v];
    for (int t = 0; t < s->nterms; t++) { /* in term order: the same system, the same rows */
        int r = s->row[t], v = s->var[t];
        int a = j->rstart[r] + fill[r]++, b = j->cstart[v] + fill[nr + (size_t)v]++;
        j->rvar[a] = v, j->rcoef[a] = s->coef[t];
        j->crow[b] = r, j->ccoef[b] = s->coef[t];
    }
    free(fill);
    return 0;
}

/* The withheld variables and the sums they are in, in reduced row echelon
 * form with the identity block; det[] for every variable. 0, -1 out of
 * memory, -3 overflow. */
static int eliminate(joint *j, const df__sdc_group *g, int ngroups)
{
    const df__sdc_system *s = j->s;
    j->nw = 0, j->R = 0;
    for (int v = 0; v < s->nvars; v++) j->wcol[v] = -1, j->det[v] = 0;
    for (int q = 0; q < ngroups; q++)
        for (int v = g[q].first; g[q].withheld && v < g[q].first + g[q].nvars; v++)
            j->wvar[j->nw] = v, j->wcol[v] = j->nw++;
    for (int r = 0; r < s->nrows; r++) {
        j->krow[r] = -1;
        for (int t = j->rstart[r]; t < j->rstart[r + 1] && j->krow[r] < 0; t++)
            if (j->wcol[j->rvar[t]] >= 0) j->kept[j->R] = r, j->krow[r] = j->R++;
    }
    int R = j->R, W = j->width = j->nw + R;
    size_t need = (size_t)R * (size_t)W;
    if (need > j->Mcap) {
        free(j->M);
        j->M = malloc((need ? need : 1) * sizeof *j->M);
        j->Mcap = j->M ? need : 0;
        if (!j->M) return -1;
    }
    int64_t *M = j->M;
    if (need) memset(M, 0, need * sizeof *M);
    for (int i = 0; i < R; i++) {
        int r = j->kept[i];
        for (int t = j->rstart[r]; t < j->rstart[r + 1]; t++)
            if (j->wcol[j->rvar[t]] >= 0) M[(size_t)i * W + j->wcol[j->rvar[t]]] += j->rcoef[t];
        M[(size_t)i * W + j->nw + i] = 1;
    }
    j->rank = 0;
    for (int c = 0; c < j->nw; c++) j->pivot_row[c] = -1;
    for (int c = 0; c < j->nw && j->rank < R; c++) {
        int p = -1; /* the least magnitude, the first */
        for (int i = j->rank; i < R; i++) {
            int64_t v = M[(size_t)i * W + c];
            if (v && (p < 0 || mag(v) < mag(M[(size_t)p * W + c]))) p = i;
        }
        if (p < 0) continue;
        int r = j->rank++;
        int64_t *pr = M + (size_t)r * W;
        if (p != r)
            for (int q = 0; q < W; q++) {
                int64_t t = pr[q];
                pr[q] = M[(size_t)p * W + q], M[(size_t)p * W + q] = t;
            }
        if (pr[c] < 0)
            for (int q = 0; q < W; q++) pr[q] = -pr[q];
        int nnz = 0;
        for (int q = 0; q < W; q++)
            if (pr[q]) j->nz[nnz++] = q;
        int64_t pv = pr[c];
        for (int i = 0; i < R; i++) {
            int64_t *ri = M + (size_t)i * W, f = ri[c];
            if (i == r || !f) continue;
            if (pv == 1) { /* the common case: only the pivot row's nonzeros change */
                for (int t = 0; t < nnz; t++)
                    if (mul_sub(1, ri[j->nz[t]], f, pr[j->nz[t]], &ri[j->nz[t]])) return -3;
                continue;
            }
            int64_t d = (int64_t)gcd64(mag(pv), mag(f)), a = pv / d, b = f / d;
            uint64_t all = 0;
            for (int q = 0; q < W; q++) {
                if (mul_sub(a, ri[q], b, pr[q], &ri[q])) return -3;
                all = gcd64(all, mag(ri[q]));
            }
            if (all > 1)
                for (int q = 0; q < W; q++) ri[q] /= (int64_t)all;
        }
        j->pivot_row[c] = r;
    }
    for (int c = 0; c < j->nw; c++) {
        int r = j->pivot_row[c], alone = r >= 0;
        for (int q = 0; alone && q < j->nw; q++) alone = q == c || M[(size_t)r * W + q] == 0;
        j->det[j->wvar[c]] = (unsigned char)alone;
    }
    return 0;
}

/* y A_v for the row of the identity block y = T[r] (over the kept sums);
 * *overflow set when it does not fit. */
static int64_t row_times(const joint *j, int r, int v, int *overflow)
{
    const int64_t *y = j->M + (size_t)r * j->width + j->nw;
    int64_t dot = 0, p;
    for (int t = j->cstart[v]; t < j->cstart[v + 1]; t++) {
        int k = j->krow[j->crow[t]];
        if (k < 0 || !y[k]) continue;
        if (__builtin_mul_overflow(y[k], (int64_t)j->ccoef[t], &p) || __builtin_add_overflow(dot, p, &dot))
            *overflow = 1;
    }
    return dot;
}

/* Does withholding group q take part in the certificate of variable v? */
static int touches(const joint *j, const df__sdc_group *q, int v)
{
    int r = j->pivot_row[j->wcol[v]], overflow = 0;
    for (int u = q->first; u < q->first + q->nvars; u++)
        if (row_times(j, r, u, &overflow) != 0 || overflow) return 1;
    return 0;
}

/* Would group q, withheld, lie in the column space of the withheld figures
 * (so that it is not determined itself)? */
static int clean(const joint *j, const df__sdc_group *q)
{
    for (int u = q->first; u < q->first + q->nvars; u++) {
        for (int t = j->cstart[u]; t < j->cstart[u + 1]; t++)
            if (j->krow[j->crow[t]] < 0) return 0; /* a sum with no withheld figure would give it */
        for (int r = j->rank; r < j->R; r++) {
            int overflow = 0;
            if (row_times(j, r, u, &overflow) != 0 || overflow) return 0;
        }
    }
    return 1;
}

/* Every variable of a withheld group determined: it protects nothing. */
static int all_determined(const joint *j, const df__sdc_group *q)
{
    for (int u = q->first; u < q->first + q->nvars; u++)
        if (!j->det[u]) return 0;
    return 1;
}

static void joint_free(joint *j)
{
    free(j->rstart), free(j->rvar), free(j->rcoef), free(j->cstart), free(j->crow), free(j->ccoef);
    free(j->group_of), free(j->wcol), free(j->wvar), free(j->krow), free(j->kept), free(j->pivot_row), free(j->nz);
    free(j->M), free(j->det);
}

int df__sdc_joint(const df__sdc_system *s, df__sdc_group *g, int ngroups, int *uncovered)
{
    joint j = {.s = s};
    size_t nv = (size_t)s->nvars + 1, nr = (size_t)s->nrows + 1;
    int status = index_terms(&j);
    j.group_of = malloc(nv * sizeof(int)), j.wcol = malloc(nv * sizeof(int)), j.wvar = malloc(nv * sizeof(int));
    j.krow = malloc(nr * sizeof(int)), j.kept = malloc(nr * sizeof(int)), j.pivot_row = malloc(nv * sizeof(int));
    j.nz = malloc((nv + nr) * sizeof(int)), j.det = calloc(nv, 1);
    unsigned char *hopeless = calloc(nv, 1), *handled = calloc(nv, 1), *is_clean = calloc((size_t)ngroups + 1, 1);
    unsigned char *chosen = calloc((size_t)ngroups + 1, 1); /* covers chosen in this round */
    if (!j.group_of || !j.wcol || !j.wvar || !j.krow || !j.kept || !j.pivot_row || !j.nz || !j.det || !hopeless ||
        !handled || !is_clean || !chosen)
        status = -1;
    for (int q = 0; q < ngroups && status == 0; q++)
        for (int v = g[q].first; v < g[q].first + g[q].nvars; v++) j.group_of[v] = q;
    *uncovered = 0;
    /* Each round withholds at least one more group, or ends: so this ends. */
    while (status == 0 && (status = eliminate(&j, g, ngroups)) == 0) {
        int leaks = 0, added = 0;
        memset(handled, 0, nv), memset(chosen, 0, (size_t)ngroups);
        for (int c = 0; c < j.nw; c++) {
            int v = j.wvar[c];
            const df__sdc_group *q = &g[j.group_of[v]];
            /* a figure of value 0, or a group that protects nothing (published again below), is no leak */
            handled[v] =
                !j.det[v] || s->exempt[v] || hopeless[v] || (!q->primary && !q->locked && all_determined(&j, q));
            leaks += !handled[v];
        }
        if (!leaks) break;
        for (int q = 0; q < ngroups; q++) is_clean[q] = !g[q].withheld && !g[q].locked && clean(&j, &g[q]);
        for (int c = 0; c < j.nw; c++) {
            int v = j.wvar[c];
            if (handled[v]) continue;
            /* the published figure to withhold: one that takes part in v's certificate; one that breaks it
             * for certain first, a figure with people before a 0, a headline total last; the least support */
            int best = -1, best_tier = 8, pending = 0;
            for (int q = 0; q < ngroups; q++) {
                if (g[q].locked || (g[q].withheld && !chosen[q]) || !touches(&j, &g[q], v)) continue;
                if (g[q].withheld) { /* a cover chosen this round takes part: see in the next round */
                    pending = 1;
                    continue;
                }
                int tier = (is_clean[q] ? 0 : 2) + (g[q].support > 0 ? 0 : 1) + (g[q].last_resort ? 4 : 0);
                if (tier < best_tier || (tier == best_tier && g[q].support < g[best].support))
                    best = q, best_tier = tier;
            }
            if (best < 0) { /* only locked figures take part: it cannot be covered */
                if (!pending) hopeless[v] = 1, (*uncovered)++;
                continue;
            }
            g[best].withheld = chosen[best] = 1, added++;
            for (int d = c + 1; d < j.nw && is_clean[best]; d++) /* the leaks it breaks for certain */
                if (!handled[j.wvar[d]] && touches(&j, &g[best], j.wvar[d])) handled[j.wvar[d]] = 1;
        }
        if (!added) break;
    }
    /* A withheld group whose figures are all determined protects nothing:
     * publishing it tells what the published figures already tell, so every
     * one of them can be published at once. det[] is that of the last
     * elimination, which saw the groups as they are now. */
    int count = 0;
    for (int q = 0; q < ngroups && status == 0; q++) {
        if (g[q].withheld && !g[q].primary && !g[q].locked && all_determined(&j, &g[q])) g[q].withheld = 0;
        count += g[q].withheld;
    }
    joint_free(&j);
    free(hopeless), free(handled), free(is_clean), free(chosen);
    return status < 0 ? status : count;
}
