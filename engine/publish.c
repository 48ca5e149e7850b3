/*
 * publish.c — statistical disclosure control for outputs that leave the
 * office: small figures are withheld, and more figures beside them, so that
 * no withheld figure can be worked out from the published figures and
 * totals (the differencing attack).
 *
 * A table with its totals is a set of sums, and every figure appears in two
 * of them: a district's figure in its governorate's sum and as a term of
 * nothing else (the second end is node 0, "no sum"); a governorate's figure
 * in the country's sum and as its districts' total; an OD cell in its row's
 * and its column's sum. So each figure is an edge between two sum nodes.
 * With some figures withheld, the published ones pin a withheld figure
 * exactly when its edge is a bridge of the graph of withheld edges: an edge
 * on a cycle can carry +t, -t, +t ... round the cycle and every sum still
 * holds, while for a bridge, adding up the sums on one side of it gives it.
 * Node 0 has no sum to hold, so cycles pass through it freely.
 * The tables one by one leave figures that a third sum between them gives
 * away; df__publish_joint then checks all of a release's sums at once
 * (publish_joint.c) and writes the ledger. docs/publish.md has the rules.
 */
#include "df_job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- bridges of the graph of withheld figures -------------------------------------------- */

typedef struct {
    int *head, *next, *to; /* adjacency over edge ends: end 2e runs a -> b, end 2e + 1 b -> a */
    int *order, *low, *iter;
    int *stack_node, *stack_end; /* the depth-first path and the end each node was reached by */
} graph;

static void graph_free(graph *g)
{
    free(g->head), free(g->next), free(g->to), free(g->order), free(g->low), free(g->iter);
    free(g->stack_node), free(g->stack_end);
}

static int graph_build(graph *g, const df__sdc_cell *cells, int n, int nnodes)
{
    size_t nn = (size_t)nnodes + 1, ne = 2 * (size_t)n + 1;
    memset(g, 0, sizeof *g);
    g->head = malloc(nn * sizeof(int)), g->order = malloc(nn * sizeof(int)), g->low = malloc(nn * sizeof(int));
    g->iter = malloc(nn * sizeof(int)), g->stack_node = malloc(nn * sizeof(int)),
    g->stack_end = malloc(nn * sizeof(int));
    g->next = malloc(ne * sizeof(int)), g->to = malloc(ne * sizeof(int));
    if (!g->head || !g->order || !g->low || !g->iter || !g->stack_node || !g->stack_end || !g->next || !g->to)
        return -1;
    for (int v = 0; v < nnodes; v++) g->head[v] = -1, g->order[v] = -1;
    for (int e = 0; e < n; e++) {
        if (!cells[e].withheld) continue;
        int a = cells[e].a, b = cells[e].b;
        g->to[2 * e] = b, g->next[2 * e] = g->head[a], g->head[a] = 2 * e;
        g->to[2 * e + 1] = a, g->next[2 * e + 1] = g->head[b], g->head[b] = 2 * e + 1;
    }
    return 0;
}

int df__sdc_pinned(const df__sdc_cell *cells, int n, int nnodes, unsigned char *pinned)
{
    graph g;
    if (graph_build(&g, cells, n, nnodes) != 0) {
        graph_free(&g);
        return -1;
    }
    if (n > 0) memset(pinned, 0, (size_t)n);
    /* Tarjan's bridges, without recursion. Only the very edge a node was
     * reached by is skipped: a parallel edge is a cycle of two. */
    int counter = 0;
    for (int root = 0; root < nnodes; root++) {
        if (g.order[root] >= 0 || g.head[root] < 0) continue;
        int sp = 0;
        g.stack_node[0] = root, g.stack_end[0] = -1;
        g.order[root] = g.low[root] = counter++;
        g.iter[root] = g.head[root];
        while (sp >= 0) {
            int v = g.stack_node[sp], end = g.iter[v];
            if (end >= 0) {
                g.iter[v] = g.next[end];
                if (g.stack_end[sp] >= 0 && (end ^ 1) == g.stack_end[sp]) continue;
                int w = g.to[end];
                if (g.order[w] < 0) {
                    g.order[w] = g.low[w] = counter++;
                    g.iter[w] = g.head[w];
                    g.stack_node[++sp] = w, g.stack_end[sp] = end;
                } else if (g.order[w] < g.low[v]) {
                    g.low[v] = g.order[w];
                }
                continue;
            }
            int came = g.stack_end[sp--]; /* v is done */
            if (sp < 0) break;
            int parent = g.stack_node[sp];
            if (g.low[v] < g.low[parent]) g.low[parent] = g.low[v];
            if (g.low[v] > g.order[parent]) pinned[came / 2] = 1;
        }
    }
    graph_free(&g);
    return 0;
}

/* ---- withholding ------------------------------------------------------------------- */

/* Does cell c share a sum (other than node 0) with cell p? */
static int beside(const df__sdc_cell *c, const df__sdc_cell *p)
{
    return (p->a != 0 && (c->a == p->a || c->b == p->a)) || (p->b != 0 && (c->a == p->b || c->b == p->b));
}

/* side[v] = 1 for the nodes reached from `from` over withheld figures
 * other than `skip`. */
static void reach(const df__sdc_cell *cells, int n, int nnodes, int skip, int from, unsigned char *side, int *queue)
{
    memset(side, 0, (size_t)nnodes);
    int head = 0, tail = 0;
    side[from] = 1, queue[tail++] = from;
    while (head < tail) { /* the graph is small: scan the figures per node */
        int v = queue[head++];
        for (int e = 0; e < n; e++) {
            if (e == skip || !cells[e].withheld || (cells[e].a != v && cells[e].b != v)) continue;
            int w = cells[e].a == v ? cells[e].b : cells[e].a;
            if (!side[w]) side[w] = 1, queue[tail++] = w;
        }
    }
}

/* The published figure to withhold for pinned figure p: one that joins the
 * two sides of p (closing a cycle through it), else one beside it (in one of
 * its sums), else any; in each, a figure with people before a 0 (a 0 tells
 * least); the least support first. -1 when none is left. */
static int cover(const df__sdc_cell *cells, int n, int p, const unsigned char *side_a, const unsigned char *side_b)
{
    int best = -1, best_tier = 6;
    for (int e = 0; e < n; e++) {
        const df__sdc_cell *c = &cells[e];
        if (c->withheld || c->locked) continue;
        int joins = (side_a[c->a] && side_b[c->b]) || (side_b[c->a] && side_a[c->b]);
        int tier = (joins ? 0 : beside(c, &cells[p]) ? 2 : 4) + (c->support > 0 ? 0 : 1);
        if (tier < best_tier || (tier == best_tier && c->support < cells[best].support)) best = e, best_tier = tier;
    }
    return best;
}

int df__sdc_withhold(df__sdc_cell *cells, int n, int nnodes, int64_t k)
{
    unsigned char *pinned = malloc((size_t)n + 1), *hopeless = calloc((size_t)n + 1, 1);
    unsigned char *side_a = malloc((size_t)nnodes + 1), *side_b = malloc((size_t)nnodes + 1);
    int *queue = malloc(((size_t)nnodes + 1) * sizeof *queue), status = 0;
    if (!pinned || !hopeless || !side_a || !side_b || !queue) status = -1;
    for (int e = 0; e < n; e++) {
        df__sdc_cell *c = &cells[e];
        if (c->force) c->locked = 0, c->withheld = 1; /* a forced total is withheld, and covered */
        c->primary = !c->locked && (c->force || (c->support > 0 && c->support < k));
        if (!c->locked) c->withheld = c->primary;
    }
    /* While a small figure is pinned, withhold one more beside it. Each
     * round withholds one figure, so this ends. */
    while (status == 0) {
        if (df__sdc_pinned(cells, n, nnodes, pinned) != 0) {
            status = -1;
            break;
        }
        int p = 0; /* a small figure, or a withheld total another table decided (a withheld unit's figure) */
        while (p < n && !(pinned[p] && (cells[p].primary || (cells[p].locked && cells[p].withheld)) && !hopeless[p]))
            p++;
        if (p == n) break;
        reach(cells, n, nnodes, p, cells[p].a, side_a, queue);
        reach(cells, n, nnodes, p, cells[p].b, side_b, queue);
        int c = cover(cells, n, p, side_a, side_b);
        if (c < 0)
            hopeless[p] = 1; /* its sums hold it alone (a published total equals it) */
        else
            cells[c].withheld = 1;
    }
    /* A withheld figure that is not small and still pinned protects nothing
     * (its sums give it away): publish it. Taking out a bridge leaves every
     * cycle, so one pass is enough. */
    if (status == 0 && df__sdc_pinned(cells, n, nnodes, pinned) == 0)
        for (int e = 0; e < n; e++)
            if (pinned[e] && !cells[e].primary && !cells[e].locked) cells[e].withheld = 0;
    int count = 0;
    for (int e = 0; e < n; e++) {
        count += cells[e].withheld;
        if (hopeless[e] && status == 0) status = -2;
    }
    free(pinned), free(hopeless), free(side_a), free(side_b), free(queue);
    return status < 0 ? status : count;
}

/* ---- the tables of a bundle --------------------------------------------------------- */

/* A growing list of figures. */
typedef struct {
    df__sdc_cell *cells;
    int n, cap;
} cell_list;

static int push(cell_list *l, df__sdc_cell c)
{
    if (l->n == l->cap) {
        df__sdc_cell *grown = df__realloc_array(l->cells, (size_t)(l->cap = l->cap ? 2 * l->cap : 256), sizeof *grown);
        if (!grown) return -1;
        l->cells = grown;
    }
    l->cells[l->n++] = c;
    return 0;
}

/* The least positive of a unit's supports (still displaced = displaced -
 * returned), 0 when it has none: a unit is withheld whole when any of its
 * figures stands on fewer than k families. */
static int64_t unit_support(const df_join *j, int i)
{
    int64_t s[4], least = 0;
    df__join_support(j, i, s);
    s[3] = s[0] - s[1] > 0 ? s[0] - s[1] : 0;
    for (int k = 0; k < 4; k++)
        if (s[k] > 0 && (least == 0 || s[k] < least)) least = s[k];
    return least;
}

/* The four figures of unit i with the families behind each: displaced,
 * returned, returnees, still displaced. */
static const char *const unit_measures[4] = {"displaced", "returned", "returnees", "still"};

static void unit_figures(const df_join *j, int i, int64_t fam[4], int64_t ind[4])
{
    const df_figures *f = df_join_figures(j, i);
    df__join_support(j, i, fam);
    fam[3] = fam[0] - fam[1] > 0 ? fam[0] - fam[1] : 0;
    ind[0] = f->displaced, ind[1] = f->returned, ind[2] = f->returnees, ind[3] = f->still_displaced;
}

static void unit_cell(const df_boundaries *b, int level, int i, char *out, size_t cap)
{
    snprintf(out, cap, "adm%d:%s", level, df__boundaries_unit(b, level, i)->pcode);
}

/* Does any of the figures differ from a published one by fewer than k
 * families? (The unit is then withheld whole, as for a small figure.) */
static int changed(const df__ledger *l, const char *cell, const int64_t fam[4], const int64_t ind[4])
{
    int any = 0;
    for (int m = 0; m < 4 && !any; m++) any = df__ledger_small_change(l, cell, unit_measures[m], fam[m], ind[m]);
    return any;
}

static int record(df__ledger *l, const char *cell, const int64_t fam[4], const int64_t ind[4], const int published[4])
{
    int bad = 0;
    for (int m = 0; m < 4 && !bad; m++)
        bad = df__ledger_add(l, cell, unit_measures[m], fam[m], ind[m], published[m], m < 3);
    return bad;
}

/* The headline's figures as bits of df__publish_stats.total_withheld, in
 * unit_figures' order (returnees in all, published nowhere, goes with
 * returned, which it equals). */
static const int total_bit[4] = {DF__TOTAL_DISPLACED, DF__TOTAL_RETURNED, DF__TOTAL_RETURNED, DF__TOTAL_STILL};

/* The headline's figures that moved by fewer than k families since a
 * published value, as bits. */
static int totals_moved(const df__ledger *l, const int64_t fam[4], const int64_t ind[4])
{
    int bits = 0;
    for (int m = 0; l && m < 4; m++)
        if (df__ledger_small_change(l, "total", unit_measures[m], fam[m], ind[m])) bits |= total_bit[m];
    return bits;
}

/* The country's total: the headline's units added up, as the sitrep shows it. */
static void headline_totals(const df_join *headline, int64_t tfam[4], int64_t tind[4])
{
    int64_t fam[4], ind[4];
    for (int m = 0; m < 4; m++) tfam[m] = tind[m] = 0;
    for (int i = 0; i < df__join_units(headline); i++) {
        unit_figures(headline, i, fam, ind);
        for (int m = 0; m < 4; m++) tfam[m] += fam[m], tind[m] += ind[m];
    }
}

/* Unit i of level l moved by fewer than k families since a published value. */
static int unit_moved(const df__ledger *ledger, const df_boundaries *b, const df_join *j, int l, int i)
{
    int64_t fam[4], ind[4];
    char cell[64];
    if (!ledger) return 0;
    unit_figures(j, i, fam, ind);
    unit_cell(b, l, i, cell, sizeof cell);
    return changed(ledger, cell, fam, ind);
}

/* Nodes: 0 none, 1 the country, then one per unit of every published level
 * but the finest (the sum of its children). */
static int unit_node(const int *first, int level, int i) { return first[level] + i; }

df_status df__publish_units(df_ctx *ctx, df_join *const join[4], const df_boundaries *b, int64_t k,
                            const df_join *headline, df__ledger *ledger, df__publish_stats *stats)
{
    int levels[4], nl = 0, first[4] = {0}, nnodes = 2;
    for (int l = 1; l <= 3; l++)
        if (join[l]) levels[nl++] = l;
    if (!nl) return DF_OK;
    for (int q = 0; q + 1 < nl; q++) first[levels[q]] = nnodes, nnodes += df_boundaries_count(b, levels[q]);
    cell_list cl = {0};
    /* the country's total (the headline's units added up, as the sitrep
     * shows it): published, unless it moved by fewer than k families since an
     * earlier release */
    int64_t tfam[4], tind[4];
    headline_totals(headline, tfam, tind);
    int total_moved = totals_moved(ledger, tfam, tind);
    int bad = push(&cl, (df__sdc_cell){.a = 1, .b = 0, .locked = 1, .force = total_moved != 0});
    for (int q = 0; q < nl && !bad; q++) {
        int l = levels[q], n = df_boundaries_count(b, l);
        for (int i = 0; i < n && !bad; i++) {
            int up = q == 0 ? 1 : unit_node(first, levels[q - 1], df__boundaries_ancestor(b, l, i, levels[q - 1]));
            int own = q + 1 < nl ? unit_node(first, l, i) : 0;
            int moved = unit_moved(ledger, b, join[l], l, i);
            bad = push(&cl, (df__sdc_cell){.a = up, .b = own, .support = unit_support(join[l], i), .force = moved});
        }
    }
    int rc = bad ? -1 : df__sdc_withhold(cl.cells, cl.n, nnodes, k);
    if (rc == -1) {
        free(cl.cells);
        return df__error(ctx, DF_ENOMEM, "out of memory");
    }
    /* the ledger and the counts wait for the joint check (df__publish_joint), which may withhold more */
    stats->uncovered += rc == -2;
    stats->total_withheld = total_moved;
    for (int q = 0, e = 1; q < nl; q++)
        for (int i = 0; i < df_boundaries_count(b, levels[q]); i++, e++)
            df__join_withhold(join[levels[q]], i, cl.cells[e].withheld);
    free(cl.cells);
    return DF_OK;
}

/* Families behind a flow: its families, or individuals / household size
 * where the table has none. */
static int64_t flow_support(const df_flow *fl, double household_size)
{
    return fl->families > 0 ? fl->families : (int64_t)ceil((double)fl->individuals / household_size);
}

/* The OD matrix of one status. A cell is a term of its row's and its
 * column's sum; a row's total is published as the unit figure it is
 * (returned: people gone home from the district they had been displaced
 * in) and a column's (displaced into it; returnees into it), each withheld
 * as that unit is; rows and columns without a published total add up into
 * the grand total, which is published. */
static void flow_cell(const df_flows *f, const df_boundaries *b, const df_flow *fl, char *out, size_t cap)
{
    snprintf(out, cap, "flow:%s:%s>%s", fl->status == DF_RETURNED ? "returned" : "displaced",
             df__boundaries_unit(b, df__flows_origin_level(f), fl->origin)->pcode,
             df__boundaries_unit(b, df__flows_dest_level(f), fl->dest)->pcode);
}

/* The families and individuals of all flows of a status: the table's grand total. */
static void flows_total(const df_flows *f, df_movement status, double household_size, int64_t *fam, int64_t *ind)
{
    *fam = *ind = 0;
    for (int i = 0; i < df_flows_count(f); i++) {
        const df_flow *fl = df_flows_get(f, i);
        if (fl->status == status) *fam += flow_support(fl, household_size), *ind += fl->individuals;
    }
}

static const char *flows_total_cell(df_movement status)
{
    return status == DF_RETURNED ? "flows:returned" : "flows:displaced";
}

/* The grand total of a status moved by fewer than k families since a published value. */
static int flows_total_moved(const df_flows *f, df_movement status, double household_size, const df__ledger *ledger)
{
    int64_t fam, ind;
    if (!ledger) return 0;
    flows_total(f, status, household_size, &fam, &ind);
    return df__ledger_small_change(ledger, flows_total_cell(status), "total", fam, ind);
}

/* A flow moved by fewer than k families since a published value. */
static int flow_moved(const df__ledger *ledger, const df_flows *f, const df_boundaries *b, const df_flow *fl,
                      double household_size)
{
    char cell[160];
    if (!ledger) return 0;
    flow_cell(f, b, fl, cell, sizeof cell);
    return df__ledger_small_change(ledger, cell, "flow", flow_support(fl, household_size), fl->individuals);
}

static df_status publish_status(df_ctx *ctx, df_flows *f, const df_boundaries *b, const df_join *rows,
                                const df_join *cols, df_movement status, int64_t k, double household_size,
                                df__ledger *ledger, df__publish_stats *stats)
{
    int nflows = df_flows_count(f);
    int nrow = rows ? df__join_units(rows) : 0, ncol = cols ? df__join_units(cols) : 0;
    int TR = 1, TC = 2, nnodes = 3 + nrow + ncol; /* 0 none, TR, TC, rows, columns */
    cell_list cl = {0};
    int *index = malloc(((size_t)nflows + 1) * sizeof *index), bad = !index;
    int total_moved = flows_total_moved(f, status, household_size, ledger);
    if (!bad)
        bad = push(&cl, (df__sdc_cell){.a = TR, .b = TC, .locked = 1, .force = total_moved}); /* the grand total */
    for (int i = 0; i < nflows && !bad; i++) {
        const df_flow *fl = df_flows_get(f, i);
        index[i] = -1;
        if (fl->status != status) continue;
        index[i] = cl.n;
        int a = rows ? 3 + fl->origin : TR, bb = cols ? 3 + nrow + fl->dest : TC;
        bad = push(&cl, (df__sdc_cell){.a = a,
                                       .b = bb,
                                       .support = flow_support(fl, household_size),
                                       .force = flow_moved(ledger, f, b, fl, household_size)});
    }
    for (int u = 0; u < nrow && !bad; u++) { /* row totals: the unit table's returned */
        int64_t s[3];
        df__join_support(rows, u, s);
        bad = push(&cl, (df__sdc_cell){
                            .a = 3 + u, .b = TR, .support = s[1], .locked = 1, .withheld = df__join_withheld(rows, u)});
    }
    for (int u = 0; u < ncol && !bad; u++) { /* column totals: displaced or returnees */
        int64_t s[3];
        df__join_support(cols, u, s);
        bad = push(&cl, (df__sdc_cell){.a = 3 + nrow + u,
                                       .b = TC,
                                       .support = s[status == DF_RETURNED ? 2 : 0],
                                       .locked = 1,
                                       .withheld = df__join_withheld(cols, u)});
    }
    int rc = bad ? -1 : df__sdc_withhold(cl.cells, cl.n, nnodes, k);
    if (rc == -1) {
        free(index), free(cl.cells);
        return df__error(ctx, DF_ENOMEM, "out of memory");
    }
    stats->uncovered += rc == -2;
    if (status == DF_DISPLACED) stats->flows_total_withheld = cl.cells[0].withheld;
    for (int i = 0; i < nflows; i++)
        if (index[i] >= 0) df__flows_row(f, i)->withheld = cl.cells[index[i]].withheld;
    free(index), free(cl.cells);
    return DF_OK;
}

df_status df__publish_flows(df_ctx *ctx, df_flows *f, const df_boundaries *b, const df_join *origin_join,
                            const df_join *dest_join, int64_t k, double household_size, df__ledger *ledger,
                            df__publish_stats *stats)
{
    /* displacement: the origins' totals are published nowhere */
    df_status st = publish_status(ctx, f, b, NULL, dest_join, DF_DISPLACED, k, household_size, ledger, stats);
    return st == DF_OK
               ? publish_status(ctx, f, b, origin_join, dest_join, DF_RETURNED, k, household_size, ledger, stats)
               : st;
}

/* ---- all of a release's sums at once ---------------------------------------------------- */

/* The terms of the joint system (df__sdc_system). */
typedef struct {
    int *row, *var, *coef;
    int n, cap, nrows;
} terms;

static int term(terms *t, int row, int var, int coef)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * (size_t)t->cap : 1024;
        int *r = df__realloc_array(t->row, cap, sizeof *r);
        if (r) t->row = r;
        int *v = r ? df__realloc_array(t->var, cap, sizeof *v) : NULL;
        if (v) t->var = v;
        int *c = v ? df__realloc_array(t->coef, cap, sizeof *c) : NULL;
        if (!c) return -1;
        t->coef = c, t->cap = (int)cap;
    }
    t->row[t->n] = row, t->var[t->n] = var, t->coef[t->n++] = coef;
    return 0;
}

/* The variables: the totals (displaced, returned, still displaced, then
 * returnees in all, which is published nowhere), four per unit of every
 * published level (as unit_figures: displaced, returned, returnees, still),
 * the displacement flows' total, one per flow. A group withholds a unit's
 * four together, the headline's three together. */
enum { T_D, T_R, T_S, T_E, UNITS };
static const int total_var[4] = {T_D, T_R, T_E, T_S}; /* unit_figures' order -> the totals' variables */

/* Record what this release publishes in the ledger, for the next ones to be
 * checked against, and count what it withholds. */
static int record_release(df__ledger *ledger, df_join *const join[4], const int *levels, int nl, df_flows *f,
                          const df_boundaries *b, double household_size, const df_join *headline,
                          const df__sdc_group *g, int gfd, int gf0, df__publish_stats *stats)
{
    int64_t tfam[4], tind[4], fam[4], ind[4];
    char cell[160];
    int bad = 0, e = 4, shown[4], both[4];
    headline_totals(headline, tfam, tind);
    for (int m = 0; m < 4; m++) shown[m] = !(stats->total_withheld & total_bit[m]);
    if (ledger) bad = record(ledger, "total", tfam, tind, shown);
    stats->changed += g[T_D].primary + g[T_R].primary + g[T_S].primary;
    for (int q = 0; q < nl; q++)
        for (int i = 0; i < df_boundaries_count(b, levels[q]); i++, e++) {
            stats->units += g[e].withheld, stats->units_primary += g[e].primary;
            stats->changed += ledger && unit_moved(ledger, b, join[levels[q]], levels[q], i);
            if (!ledger || bad) continue;
            unit_figures(join[levels[q]], i, fam, ind);
            unit_cell(b, levels[q], i, cell, sizeof cell);
            for (int m = 0; m < 4; m++) both[m] = !g[e].withheld;
            bad = record(ledger, cell, fam, ind, both);
        }
    for (int s = 0; f && s < 2; s++) { /* displacement, then returns, as the tables were made */
        df_movement status = s ? DF_RETURNED : DF_DISPLACED;
        int moved = flows_total_moved(f, status, household_size, ledger);
        stats->changed += moved;
        if (ledger && !bad) {
            /* the returns' total is published nowhere; noted as published unless it moved */
            int published = s ? !moved : !g[gfd].withheld;
            flows_total(f, status, household_size, &fam[0], &ind[0]);
            bad = df__ledger_add(ledger, flows_total_cell(status), "total", fam[0], ind[0], published, 1);
        }
        for (int i = 0; i < df_flows_count(f); i++) {
            df_flow *fl = df__flows_row(f, i);
            if (fl->status != status) continue;
            const df__sdc_group *c = &g[gf0 + i];
            int64_t sup = flow_support(fl, household_size);
            stats->flows += c->withheld, stats->flows_primary += c->primary;
            stats->changed += ledger && flow_moved(ledger, f, b, fl, household_size);
            if (!ledger || bad) continue;
            flow_cell(f, b, fl, cell, sizeof cell);
            bad = df__ledger_add(ledger, cell, "flow", sup, fl->individuals, !c->withheld, 1);
        }
    }
    return bad;
}

/* The joint system's variables: the totals (UNITS), each published level's
 * units' four figures from base[q], the flows' total (fd) and each flow
 * (from f0); and its groups: the totals one by one, a unit's four figures
 * together, the flows' total (gfd), each flow (from gf0). */
typedef struct {
    int levels[4], nl, base[4], lq[4]; /* lq: a level's index in levels, -1 */
    int nvars, nflows, fd, f0, ol, dl; /* ol, dl: the flows' origin and destination levels */
    int ngroups, gfd, gf0;
} joint_layout;

/* The layout of the levels joined and the flows; 0 when no level is. */
static int joint_layout_of(joint_layout *L, df_join *const join[4], const df_flows *f, const df_boundaries *b)
{
    memset(L, 0, sizeof *L);
    L->nvars = UNITS;
    for (int l = 0; l < 4; l++) L->lq[l] = -1;
    for (int l = 1; l <= 3; l++)
        if (join[l]) L->lq[l] = L->nl, L->levels[L->nl++] = l;
    if (!L->nl) return 0;
    for (int q = 0; q < L->nl; q++) L->base[q] = L->nvars, L->nvars += 4 * df_boundaries_count(b, L->levels[q]);
    L->nflows = f ? df_flows_count(f) : 0, L->fd = L->nvars, L->f0 = L->fd + 1;
    L->ol = f ? df__flows_origin_level(f) : 0, L->dl = f ? df__flows_dest_level(f) : 0;
    L->ngroups = 4 + (L->nvars - UNITS) / 4 + (f ? 1 + L->nflows : 0);
    L->gfd = 4 + (L->nvars - UNITS) / 4, L->gf0 = L->gfd + 1;
    if (f) L->nvars = L->f0 + L->nflows;
    return 1;
}

/* The groups, as the tables one by one left them, and the variables exempt
 * (zero figures with zero support). */
static void joint_groups(const joint_layout *L, df__sdc_group *g, unsigned char *exempt, df_join *const join[4],
                         df_flows *f, const df_boundaries *b, int64_t k, double household_size, const df_join *headline,
                         df__ledger *ledger, const df__publish_stats *stats)
{
    int64_t tfam[4], tind[4], fam[4], ind[4];
    headline_totals(headline, tfam, tind);
    /* the headline's figures: without a ledger too, a total is withheld when only it would give a small
     * figure away (a country with one unit with returns) */
    int moved = totals_moved(ledger, tfam, tind);
    for (int m = 0; m < 4; m++) {
        int v = total_var[m];
        if (v == T_E) continue;
        g[v] = (df__sdc_group){.first = v,
                               .nvars = 1,
                               .support = tfam[m],
                               .withheld = (stats->total_withheld & total_bit[m]) != 0,
                               .primary = (moved & total_bit[m]) != 0,
                               .last_resort = 1};
    }
    g[T_E] = (df__sdc_group){.first = T_E, .nvars = 1, .withheld = 1, .locked = 1};
    exempt[T_E] = 1; /* returnees in all: published nowhere, and equal to returned in all */
    for (int m = 0; m < 4; m++) exempt[total_var[m]] |= tfam[m] == 0 && tind[m] == 0;
    for (int q = 0, e = 4; q < L->nl; q++) {
        const df_join *jq = join[L->levels[q]];
        for (int i = 0; i < df_boundaries_count(b, L->levels[q]); i++, e++) {
            int64_t sup = unit_support(jq, i);
            int v = L->base[q] + 4 * i;
            g[e] = (df__sdc_group){.first = v,
                                   .nvars = 4,
                                   .support = sup,
                                   .withheld = df__join_withheld(jq, i),
                                   .primary = (sup > 0 && sup < k) || unit_moved(ledger, b, jq, L->levels[q], i)};
            unit_figures(jq, i, fam, ind);
            for (int m = 0; m < 4; m++) exempt[v + m] = fam[m] == 0 && ind[m] == 0;
        }
    }
    if (!f) return;
    flows_total(f, DF_DISPLACED, household_size, &fam[0], &ind[0]);
    g[L->gfd] = (df__sdc_group){.first = L->fd,
                                .nvars = 1,
                                .support = fam[0],
                                .withheld = stats->flows_total_withheld,
                                .primary = flows_total_moved(f, DF_DISPLACED, household_size, ledger),
                                .last_resort = 1};
    exempt[L->fd] = fam[0] == 0 && ind[0] == 0;
    for (int i = 0; i < L->nflows; i++) {
        const df_flow *fl = df_flows_get(f, i);
        int64_t sup = flow_support(fl, household_size);
        int in = fl->status == DF_DISPLACED || fl->status == DF_RETURNED;
        g[L->gf0 + i] =
            (df__sdc_group){.first = L->f0 + i,
                            .nvars = 1,
                            .support = sup,
                            .withheld = in && fl->withheld,
                            .primary = in && ((sup > 0 && sup < k) || flow_moved(ledger, f, b, fl, household_size)),
                            .locked = !in};
        exempt[L->f0 + i] = fl->individuals == 0 && sup == 0;
    }
}

/* The sums of the tables' figures, each = 0, as rows of t; non-zero out of
 * memory. */
static int joint_sums(terms *t, const joint_layout *L, const df_flows *f, const df_boundaries *b)
{
    const int nl = L->nl, *levels = L->levels, *base = L->base, *lq = L->lq;
    int bad = 0;
    /* still displaced = displaced - returned, per unit */
    for (int q = 0; q < nl && !bad; q++)
        for (int i = 0; i < df_boundaries_count(b, levels[q]) && !bad; i++) {
            int v = base[q] + 4 * i, r = t->nrows++;
            bad = term(t, r, v + 3, 1) || term(t, r, v + 0, -1) || term(t, r, v + 1, 1);
        }
    /* each unit's four figures the sums of its children's at the next published level */
    for (int q = 0; q + 1 < nl && !bad; q++) {
        int np = df_boundaries_count(b, levels[q]), r0 = t->nrows;
        t->nrows += 4 * np;
        for (int i = 0; i < np && !bad; i++)
            for (int m = 0; m < 4 && !bad; m++) bad = term(t, r0 + 4 * i + m, base[q] + 4 * i + m, -1);
        for (int c = 0; c < df_boundaries_count(b, levels[q + 1]) && !bad; c++) {
            int p = df__boundaries_ancestor(b, levels[q + 1], c, levels[q]);
            for (int m = 0; m < 4 && p >= 0 && !bad; m++) bad = term(t, r0 + 4 * p + m, base[q + 1] + 4 * c + m, 1);
        }
    }
    /* the totals the sums of the top level's units; returnees in all = returned in all */
    for (int m = 0; m < 4 && !bad; m++) {
        int r = t->nrows++;
        bad = term(t, r, total_var[m], -1);
        for (int i = 0; i < df_boundaries_count(b, levels[0]) && !bad; i++) bad = term(t, r, base[0] + 4 * i + m, 1);
    }
    if (!bad) {
        int r = t->nrows++;
        bad = term(t, r, T_E, 1) || term(t, r, T_R, -1);
    }
    if (!f || bad) return bad;
    /* the displacement flows' total = the displaced in all (as if every record had a known origin: more
     * sums than the tables hold withhold more, never less) = the displacement flows added up */
    int fd = L->fd, f0 = L->f0, same = t->nrows++, sum = t->nrows++;
    bad = term(t, same, fd, 1) || term(t, same, T_D, -1) || term(t, sum, fd, -1);
    /* into a unit at the flows' destination level: displaced, returnees; from one at the origin level:
     * returned */
    int nd = lq[L->dl] >= 0 ? df_boundaries_count(b, L->dl) : 0,
        no = lq[L->ol] >= 0 ? df_boundaries_count(b, L->ol) : 0;
    int into = t->nrows, back = into + nd, from = back + nd;
    t->nrows += 2 * nd + no;
    for (int d = 0; d < nd && !bad; d++)
        bad = term(t, into + d, base[lq[L->dl]] + 4 * d + 0, -1) || term(t, back + d, base[lq[L->dl]] + 4 * d + 2, -1);
    for (int o = 0; o < no && !bad; o++) bad = term(t, from + o, base[lq[L->ol]] + 4 * o + 1, -1);
    for (int i = 0; i < L->nflows && !bad; i++) {
        const df_flow *fl = df_flows_get(f, i);
        if (fl->status == DF_DISPLACED) {
            bad = term(t, sum, f0 + i, 1) || (nd && term(t, into + fl->dest, f0 + i, 1));
        } else if (fl->status == DF_RETURNED) {
            bad = (nd && term(t, back + fl->dest, f0 + i, 1)) || (no && term(t, from + fl->origin, f0 + i, 1));
        }
    }
    return bad;
}

/* The fates the joint check decided, back into the joins, the flows and
 * the stats. */
static void joint_fates(const joint_layout *L, const df__sdc_group *g, int uncovered, df_join *const join[4],
                        df_flows *f, const df_boundaries *b, df__publish_stats *stats)
{
    stats->total_withheld = 0;
    for (int m = 0; m < 4; m++) /* returnees in all is published nowhere */
        stats->total_withheld |= total_var[m] != T_E && g[total_var[m]].withheld ? total_bit[m] : 0;
    stats->uncovered = uncovered != 0; /* the tables one by one may have left some the joint check covered */
    for (int q = 0, e = 4; q < L->nl; q++)
        for (int i = 0; i < df_boundaries_count(b, L->levels[q]); i++, e++)
            df__join_withhold(join[L->levels[q]], i, g[e].withheld);
    if (!f) return;
    stats->flows_total_withheld = g[L->gfd].withheld;
    for (int i = 0; i < L->nflows; i++)
        if (!g[L->gf0 + i].locked) df__flows_row(f, i)->withheld = g[L->gf0 + i].withheld;
}

df_status df__publish_joint(df_ctx *ctx, df_join *const join[4], df_flows *f, const df_boundaries *b, int64_t k,
                            double household_size, const df_join *headline, df__ledger *ledger,
                            df__publish_stats *stats)
{
    joint_layout L;
    if (!joint_layout_of(&L, join, f, b)) return DF_OK;
    terms t = {0};
    df__sdc_group *g = calloc((size_t)L.ngroups, sizeof *g);
    unsigned char *exempt = calloc((size_t)L.nvars, 1);
    int bad = !g || !exempt, uncovered = 0, rc = -1;
    if (!bad) joint_groups(&L, g, exempt, join, f, b, k, household_size, headline, ledger, stats);
    if (!bad) bad = joint_sums(&t, &L, f, b);
    if (!bad) {
        df__sdc_system s = {.nvars = L.nvars,
                            .nrows = t.nrows,
                            .nterms = t.n,
                            .row = t.row,
                            .var = t.var,
                            .coef = t.coef,
                            .exempt = exempt};
        rc = df__sdc_joint(&s, g, L.ngroups, &uncovered);
    }
    df_status st = DF_OK;
    if (rc == -3)
        st = df__error(ctx, DF_EINVAL,
                       "publish: the joint check of the release's sums overflowed 64-bit integers; nothing is "
                       "published (report this with the job file)");
    else if (rc < 0)
        st = df__error(ctx, DF_ENOMEM, "out of memory");
    else {
        joint_fates(&L, g, uncovered, join, f, b, stats);
        if (record_release(ledger, join, L.levels, L.nl, f, b, household_size, headline, g, L.gfd, L.gf0, stats))
            st = df__error(ctx, DF_ENOMEM, "out of memory");
    }
    free(t.row), free(t.var), free(t.coef), free(g), free(exempt);
    return st;
}

/* ---- rounding ([publish] round) ------------------------------------------------------- */

int64_t df__round_to(int64_t v, int64_t base)
{
    if (base <= 1) return v;
    int64_t r = (v >= 0 ? v + base / 2 : v - (base - 1) / 2) / base; /* halves up, for either sign */
    return r * base;
}

void df__publish_round(df_join *const join[4], df_flows *f, int64_t base)
{
    for (int l = 1; l <= 3; l++) {
        if (!join[l]) continue;
        for (int i = 0; i < df__join_units(join[l]); i++) {
            df_figures *g = df__join_figures_rw(join[l], i);
            g->displaced = df__round_to(g->displaced, base), g->returned = df__round_to(g->returned, base);
            g->still_displaced = df__round_to(g->still_displaced, base);
            g->returnees = df__round_to(g->returnees, base), g->families = df__round_to(g->families, base);
            g->records = (long)df__round_to(g->records, base);
        }
    }
    for (int i = 0; f && i < df_flows_count(f); i++) {
        df_flow *fl = df__flows_row(f, i);
        fl->individuals = df__round_to(fl->individuals, base), fl->families = df__round_to(fl->families, base);
        fl->cumulative = df__round_to(fl->cumulative, base);
    }
}
