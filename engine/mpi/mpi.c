/*
 * mpi.c — dispflow-mpi: the same CLI, one process per MPI rank (issue 12
 * item 4). Built only by `make MPI=1` (mpicc, -DDF_MPI); every MPI call of
 * the project is in this file. The library splits a read across the ranks
 * and merges the partial aggregates through df__parts (engine/parts.c);
 * here are the rank, the count and the exchange: an MPI_Allgatherv of each
 * stage's packed partial, so that every rank holds the merged aggregates
 * and takes the same path through the run, and an MPI_Reduce of the
 * density's fixed-point grids into rank 0's. Rank 0 writes the bundle; the
 * other ranks write nothing and say nothing unless they fail.
 */
#include "df_io.h"

#include <fcntl.h>
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int saved_stderr = -1; /* a worker's own stderr, for its failure */

/* Wait for every rank without spinning: a rank that is done early (its
 * share read, or the other ranks' part of the run finished) would
 * otherwise busy-poll a core the others need. Polls a barrier every 2 ms. */
static void wait_for_all(void)
{
    MPI_Request req;
    int done = 0;
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    while (MPI_Test(&req, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

/* Every rank's byte count to every rank, so that all make the same
 * decisions from the same lengths: counts and displacements for the V
 * collective, and lens (0 where this rank receives nothing). NULL past
 * 2 GB in all (MPI's int counts: one exchange is at most INT_MAX bytes),
 * else a buffer for what this rank receives. */
static unsigned char *lengths(size_t len, size_t *lens, int *counts, int *displs, int receives)
{
    int n = df__parts.count;
    long long my = (long long)len, total = 0;
    long long *all = malloc((size_t)n * sizeof *all);
    if (!all) MPI_Abort(MPI_COMM_WORLD, 70);
    wait_for_all();
    MPI_Allgather(&my, 1, MPI_LONG_LONG, all, 1, MPI_LONG_LONG, MPI_COMM_WORLD);
    for (int k = 0; k < n; k++) {
        displs[k] = (int)total, counts[k] = (int)all[k], lens[k] = receives ? (size_t)all[k] : 0;
        total += all[k];
    }
    free(all);
    if (total > INT_MAX) return NULL;
    unsigned char *buf = malloc(receives && total ? (size_t)total : 1);
    if (!buf) MPI_Abort(MPI_COMM_WORLD, 70);
    return buf;
}

static unsigned char *allgather(const void *mine, size_t len, size_t *lens)
{
    int n = df__parts.count;
    int *counts = malloc((size_t)n * sizeof *counts), *displs = malloc((size_t)n * sizeof *displs);
    if (!counts || !displs) MPI_Abort(MPI_COMM_WORLD, 70);
    unsigned char *buf = lengths(len, lens, counts, displs, 1);
    if (buf) MPI_Allgatherv(mine, (int)len, MPI_BYTE, buf, counts, displs, MPI_BYTE, MPI_COMM_WORLD);
    free(counts), free(displs);
    return buf;
}

/* Each rank's bytes to rank 0 only (MPI_Gatherv): what only rank 0
 * writes. The lengths go to every rank, so that all make the same decision
 * on the 2 GB limit; the others get an empty buffer. */
static unsigned char *gather(const void *mine, size_t len, size_t *lens)
{
    int n = df__parts.count;
    int *counts = malloc((size_t)n * sizeof *counts), *displs = malloc((size_t)n * sizeof *displs);
    if (!counts || !displs) MPI_Abort(MPI_COMM_WORLD, 70);
    unsigned char *buf = lengths(len, lens, counts, displs, df__parts.index == 0);
    if (buf) MPI_Gatherv(mine, (int)len, MPI_BYTE, buf, counts, displs, MPI_BYTE, 0, MPI_COMM_WORLD);
    free(counts), free(displs);
    return buf;
}

/* The density's grids summed into rank 0's (MPI_Reduce: every rank sends
 * its grid once, whatever its number of points), in pieces of at most
 * INT_MAX elements (MPI's int counts). Integer sums: any order of the
 * reduction gives the same values. */
static int reduce_sum(int64_t *data, size_t n)
{
    wait_for_all();
    for (size_t at = 0; at < n;) {
        int k = n - at > INT_MAX ? INT_MAX : (int)(n - at);
        if (df__parts.index == 0)
            MPI_Reduce(MPI_IN_PLACE, data + at, k, MPI_INT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
        else
            MPI_Reduce(data + at, NULL, k, MPI_INT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
        at += (size_t)k;
    }
    return 0;
}

/* Before the CLI parses its arguments. */
void df__mpi_start(int *argc, char ***argv)
{
    int rank, size;
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    df__parts.index = rank, df__parts.count = size, df__parts.allgather = allgather;
    df__parts.reduce_sum = reduce_sum, df__parts.gather = gather;
    if (rank > 0) { /* rank 0 says what the run did */
        int null = open("/dev/null", O_WRONLY);
        saved_stderr = dup(2);
        if (null >= 0) dup2(null, 1), (getenv("DF_MPI_DEBUG") ? 0 : dup2(null, 2)), close(null);
    }
}

/* After the CLI: a rank that failed stops the others (which may wait for
 * it in an exchange); DF_MPI_STATS=1 prints the bytes each rank exchanged. */
int df__mpi_end(int rc)
{
    const char *stats = getenv("DF_MPI_STATS");
    if (stats && *stats == '1' && rc == 0) {
        char line[320];
        int n = snprintf(line, sizeof line,
                         "dispflow-mpi: rank %d of %d: sent %lld bytes, received %lld bytes (of which the duplicate "
                         "check: sent %lld, received %lld)\n",
                         df__parts.index, df__parts.count, df__parts.sent, df__parts.received, df__parts.dup_sent,
                         df__parts.dup_received);
        if (write(saved_stderr >= 0 ? saved_stderr : 2, line, (size_t)n) < 0) n = 0;
    }
    if (rc != 0) {
        if (df__parts.index > 0 && saved_stderr >= 0) {
            char line[160];
            int n = snprintf(line, sizeof line, "dispflow-mpi: rank %d failed (exit %d)\n", df__parts.index, rc);
            if (write(saved_stderr, line, (size_t)n) < 0) n = 0;
        }
        MPI_Abort(MPI_COMM_WORLD, rc);
    }
    wait_for_all(); /* rank 0 writes the bundle long after the others are done */
    MPI_Finalize();
    return rc;
}
