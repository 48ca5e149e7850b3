/*
 * test_classes.c — the class breaks of a bundle's maps (issue 13 item 1):
 * the "nice" scheme worked out by hand on the Mosul districts, holding
 * still when every figure moves by up to 5% (where quantiles move), Jenks
 * on clusters whose breaks are plain, quantiles, a job's own breaks, the
 * class of a value on a break, and ColorBrewer's colours.
 */
#include "dfint.h"
#include "harness.h"

#include <stdlib.h>
#include <string.h>

/* The displaced of the 11 Mosul districts with people on 2 May 2017
 * (synthetic table), in no order. */
static const double mosul[] = {37038, 1728, 187902, 15276, 70746, 39648, 3000, 35184, 24504, 27258, 8500};
#define NMOSUL ((int)(sizeof mosul / sizeof *mosul))

/* The largest rung of the 1-2-5 ladder below the largest value (187,902)
 * is 100,000; the rung at or below the 20% quantile (8,500, the third of
 * 11) is 5,000, four rungs down: one rung a step, 10,000 to 100,000. */
TEST(nice_breaks_by_hand)
{
    double b[DF__MAX_BREAKS];
    int n = -1;
    EXPECT_INT(df__classes_for(NULL, mosul, NMOSUL, b, &n), 0);
    EXPECT_INT(n, 4);
    static const double want[4] = {10000, 20000, 50000, 100000};
    for (int i = 0; i < 4 && n == 4; i++) EXPECT(b[i] == want[i]);
    /* the whole country's districts span more: a step of two rungs */
    static const double wide[] = {120, 900, 2500, 4000, 8000, 30000, 70000, 150000, 302250};
    EXPECT_INT(df__classes_for(NULL, wide, 9, b, &n), 0);
    /* top 200,000 (rung 16); 20% quantile 900 -> 500 (rung 8); span 8: step 2 */
    static const double want_wide[4] = {2000, 10000, 50000, 200000};
    EXPECT_INT(n, 4);
    for (int i = 0; i < 4 && n == 4; i++) EXPECT(b[i] == want_wide[i]);
    /* densities below 1 (people per km2) use the ladder's small rungs */
    static const double small[] = {0.05, 0.2, 0.3, 0.7, 1.5, 3.2};
    EXPECT_INT(df__classes_for(NULL, small, 6, b, &n), 0);
    EXPECT_INT(n, 4);
    EXPECT(n == 4 && b[3] == 2 && b[2] == 1 && b[1] == 0.5 && b[0] == 0.2);
    /* nothing positive: no classes */
    static const double none[] = {0, -1, 0};
    EXPECT_INT(df__classes_for(NULL, none, 3, b, &n), 0);
    EXPECT_INT(n, 0);
}

/* Every figure moved by up to +-5% (a week's change), 1,000 times: the
 * nice breaks never move, the quantile breaks do. */
TEST(nice_breaks_hold_still_quantiles_move)
{
    df_job quantile;
    memset(&quantile, 0, sizeof quantile);
    quantile.classes = DF__CLASSES_QUANTILE;
    double base_nice[DF__MAX_BREAKS], base_q[DF__MAX_BREAKS], b[DF__MAX_BREAKS], v[NMOSUL];
    int n_nice, n_q, n, moved_nice = 0, moved_q = 0;
    df__classes_for(NULL, mosul, NMOSUL, base_nice, &n_nice);
    df__classes_for(&quantile, mosul, NMOSUL, base_q, &n_q);
    uint32_t seed = 12345;
    for (int t = 0; t < 1000; t++) {
        for (int i = 0; i < NMOSUL; i++) {
            seed = seed * 1664525u + 1013904223u;
            v[i] = round(mosul[i] * (0.95 + 0.1 * (seed >> 8) / 16777216.0));
        }
        df__classes_for(NULL, v, NMOSUL, b, &n);
        moved_nice += n != n_nice || memcmp(b, base_nice, (size_t)n * sizeof *b) != 0;
        df__classes_for(&quantile, v, NMOSUL, b, &n);
        moved_q += n != n_q || memcmp(b, base_q, (size_t)n * sizeof *b) != 0;
    }
    printf("  of 1,000 weeks of +-5%%: nice breaks moved %d times, quantile breaks %d times\n", moved_nice, moved_q);
    EXPECT_INT(moved_nice, 0);
    EXPECT(moved_q > 100);
}

/* Five clusters: Jenks breaks at the top of each but the last. */
TEST(jenks_finds_the_clusters)
{
    df_job job;
    memset(&job, 0, sizeof job);
    job.classes = DF__CLASSES_JENKS;
    static const double v[] = {52, 1, 2, 3, 10, 11, 12, 20, 21, 22, 50, 51, 100, 101, 102};
    double b[DF__MAX_BREAKS];
    int n = -1;
    EXPECT_INT(df__classes_for(&job, v, 15, b, &n), 0);
    EXPECT_INT(n, 4);
    EXPECT(n == 4 && b[0] == 3 && b[1] == 12 && b[2] == 22 && b[3] == 52);
    /* fewer values than classes: one class per value */
    EXPECT_INT(df__classes_for(&job, v, 3, b, &n), 0);
    EXPECT_INT(n, 2);
}

/* Quantiles of 1..10: 20% is between ranks 2 and 3 (2.5 -> 3 as whole
 * numbers), 40% between 4 and 5 ... */
TEST(quantiles_and_job_breaks)
{
    df_job job;
    memset(&job, 0, sizeof job);
    job.classes = DF__CLASSES_QUANTILE;
    static const double v[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    double b[DF__MAX_BREAKS];
    int n = -1;
    EXPECT_INT(df__classes_for(&job, v, 10, b, &n), 0);
    EXPECT_INT(n, 4);
    EXPECT(n == 4 && b[0] == 3 && b[1] == 5 && b[2] == 7 && b[3] == 9);
    /* the job's own breaks: whatever the data */
    job.nbreaks = 5;
    double own[5] = {1000, 5000, 20000, 50000, 100000};
    memcpy(job.breaks, own, sizeof own);
    EXPECT_INT(df__classes_for(&job, v, 10, b, &n), 0);
    EXPECT_INT(n, 5);
    EXPECT(memcmp(b, own, sizeof own) == 0);
}

/* A value on a break is in the class below; above the last, the last. */
TEST(class_of_and_colours)
{
    static const double b[4] = {10000, 20000, 50000, 100000};
    EXPECT_INT(df__class_of(1, b, 4), 0);
    EXPECT_INT(df__class_of(10000, b, 4), 0);
    EXPECT_INT(df__class_of(10001, b, 4), 1);
    EXPECT_INT(df__class_of(100000, b, 4), 3);
    EXPECT_INT(df__class_of(187902, b, 4), 4);
    EXPECT_STR(df__class_hex(4, 5), "#bd0026"); /* ColorBrewer YlOrRd 5 */
    EXPECT_STR(df__class_hex(0, 5), "#ffffb2");
    EXPECT_STR(df__class_hex(0, 9), "#ffffcc"); /* YlOrRd 9 */
    EXPECT_STR(df__class_hex(8, 9), "#800026");
    EXPECT_STR(df__class_hex(5, 6), "#bd0026"); /* 6 classes: the darkest on top */
}

int main(void)
{
    RUN(nice_breaks_by_hand);
    RUN(nice_breaks_hold_still_quantiles_move);
    RUN(jenks_finds_the_clusters);
    RUN(quantiles_and_job_breaks);
    RUN(class_of_and_colours);
    return harness_done();
}
