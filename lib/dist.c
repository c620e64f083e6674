/* dist: see dist.h. One file, two builds: the plain one (one process, no
 * MPI) and, with L1B_MPI (make MPI=1, compiled by mpicc), the MPI one. */
#include "dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#ifdef L1B_MPI

#include <mpi.h>

static int inited, rank, ranks = 1, local_ranks = 1;
static char host[MPI_MAX_PROCESSOR_NAME + 1];
static float *recv_buf;   /* dist_reduce_scatter_ordered's pieces */
static size_t recv_cap;

int dist_built_in(void) { return 1; }

const char *dist_library(char *out, size_t n)
{
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(v, &len);  /* callable before MPI_Init */
    v[len < (int)sizeof v ? len : (int)sizeof v - 1] = 0;
    size_t k = strcspn(v, ",\n");      /* "Open MPI v4.1.4, package: ..." */
    v[k] = 0;
    snprintf(out, n, "%s", v);
    return out;
}

int dist_init(int *argc, char ***argv)
{
    if (MPI_Init(argc, argv) != MPI_SUCCESS) return l1b_error("MPI_Init failed");
    inited = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
    MPI_Comm_size(local, &local_ranks);
    MPI_Comm_free(&local);
    int len = 0;
    MPI_Get_processor_name(host, &len);
    host[len] = 0;
    return 0;
}

void dist_finalize(void)
{
    if (!inited) return;
    free(recv_buf);
    recv_buf = NULL;
    recv_cap = 0;
    MPI_Finalize();
    inited = 0;
}

int dist_rank(void) { return rank; }
int dist_size(void) { return ranks; }
int dist_local_size(void) { return local_ranks; }
const char *dist_host(void) { return host; }

/* MPI counts are int: callers keep vectors below 2^31 values (train.c
 * refuses a larger model under MPI); bytes go as chunks of at most 1 GiB */
#define MAX_BYTES ((size_t)1 << 30)

void dist_bcast(void *buf, size_t bytes, int root)
{
    if (ranks == 1) return;
    for (size_t o = 0; o < bytes; o += MAX_BYTES) {
        size_t k = bytes - o < MAX_BYTES ? bytes - o : MAX_BYTES;
        MPI_Bcast((char *)buf + o, (int)k, MPI_BYTE, root, MPI_COMM_WORLD);
    }
}

void dist_allgather(const void *mine, void *all, size_t bytes)
{
    if (ranks == 1) {
        if (all != mine) memcpy(all, mine, bytes);
        return;
    }
    MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
}

void dist_max_i64(int64_t *v, int n)
{
    if (ranks == 1) return;
    MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
}

/* counts and displacements as MPI wants them */
static void to_ints(const size_t *off, const size_t *len, int *displs, int *counts)
{
    for (int r = 0; r < ranks; r++) {
        displs[r] = (int)off[r];
        counts[r] = (int)len[r];
    }
}

void dist_allgather_f32(float *buf, const size_t *off, const size_t *len)
{
    if (ranks == 1) return;
    int *d = xmalloc(2 * (size_t)ranks * sizeof *d), *c = d + ranks;
    to_ints(off, len, d, c);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, c, d, MPI_FLOAT, MPI_COMM_WORLD);
    free(d);
}

void dist_allgather_f64(const double *mine, double *all, const size_t *off, const size_t *len)
{
    int *d = xmalloc(2 * (size_t)ranks * sizeof *d), *c = d + ranks;
    to_ints(off, len, d, c);
    MPI_Allgatherv(mine, c[rank], MPI_DOUBLE, all, c, d, MPI_DOUBLE, MPI_COMM_WORLD);
    free(d);
}

void dist_gather_f32(const float *mine, float *all, const size_t *off, const size_t *len, int root)
{
    int *d = xmalloc(2 * (size_t)ranks * sizeof *d), *c = d + ranks;
    to_ints(off, len, d, c);
    MPI_Gatherv(mine, c[rank], MPI_FLOAT, all, c, d, MPI_FLOAT, root, MPI_COMM_WORLD);
    free(d);
}

void dist_scatter_f32(const float *all, float *mine, const size_t *off, const size_t *len, int root)
{
    int *d = xmalloc(2 * (size_t)ranks * sizeof *d), *c = d + ranks;
    to_ints(off, len, d, c);
    MPI_Scatterv(all, c, d, MPI_FLOAT, mine, c[rank], MPI_FLOAT, root, MPI_COMM_WORLD);
    free(d);
}

/* the receive buffer holds one chunk from every rank: about 4 MiB in all */
#define RECV_FLOATS ((size_t)1 << 20)
#define MIN_CHUNK ((size_t)1 << 14)

void dist_reduce_scatter_ordered(const float *g, float *acc, const size_t *off, const size_t *len, int n_active,
                                 int first)
{
    size_t longest = 0;
    for (int r = 0; r < ranks; r++)
        if (len[r] > longest) longest = len[r];
    size_t chunk = RECV_FLOATS / (size_t)ranks;
    if (chunk < MIN_CHUNK) chunk = MIN_CHUNK;
    if (chunk > longest) chunk = longest;
    if (!chunk) return;
    if (recv_cap < chunk * (size_t)ranks) {
        free(recv_buf);
        recv_cap = chunk * (size_t)ranks;
        recv_buf = xmalloc(recv_cap * sizeof *recv_buf);
    }
    int *sc = xmalloc(4 * (size_t)ranks * sizeof *sc), *sd = sc + ranks, *rc = sd + ranks, *rd = rc + ranks;
    int active = rank < n_active;
    size_t mine = len[rank];
    for (size_t c0 = 0; c0 < longest; c0 += chunk) {
        /* chunk c0 of every shard: to shard r's owner from every active rank */
        for (int r = 0; r < ranks; r++) {
            size_t k = len[r] > c0 ? (len[r] - c0 < chunk ? len[r] - c0 : chunk) : 0;
            sc[r] = active ? (int)k : 0;
            sd[r] = (int)(off[r] + (k ? c0 : 0));
            size_t got = mine > c0 ? (mine - c0 < chunk ? mine - c0 : chunk) : 0;
            rc[r] = r < n_active ? (int)got : 0;
            rd[r] = (int)(r * chunk);
        }
        MPI_Alltoallv(g, sc, sd, MPI_FLOAT, recv_buf, rc, rd, MPI_FLOAT, MPI_COMM_WORLD);
        size_t k = mine > c0 ? (mine - c0 < chunk ? mine - c0 : chunk) : 0;
        float *a = acc + c0;
        for (int r = 0; r < n_active; r++) {
            const float *p = recv_buf + (size_t)r * chunk;
            if (r == 0 && first) memcpy(a, p, k * sizeof *a);
            else
                for (size_t i = 0; i < k; i++) a[i] += p[i];
        }
    }
    free(sc);
}

#define MSG 512

void dist_share_error(int failed_here)
{
    char *all = rank == 0 ? xmalloc((size_t)ranks * (MSG + MPI_MAX_PROCESSOR_NAME + 1)) : NULL;
    char mine[MSG + MPI_MAX_PROCESSOR_NAME + 1];
    memset(mine, 0, sizeof mine);
    if (failed_here) snprintf(mine, MSG, "%s", l1b_last_error());
    else mine[0] = 0;
    snprintf(mine + MSG, MPI_MAX_PROCESSOR_NAME + 1, "%s", host);
    int sz = (int)sizeof mine;
    MPI_Gather(mine, sz, MPI_BYTE, all, sz, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        if (!failed_here)
            for (int r = 1; r < ranks; r++) {
                const char *m = all + (size_t)r * (size_t)sz;
                if (!m[0]) continue;
                l1b_error("rank %d (%s): %s", r, m + MSG, m);
                break;
            }
        free(all);
    } else {
        l1b_error("rank %d failed", rank);
    }
}

#else /* one process: the stand-in */

int dist_built_in(void) { return 0; }

const char *dist_library(char *out, size_t n)
{
    if (n) out[0] = 0;
    return out;
}

int dist_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

void dist_finalize(void) {}
int dist_rank(void) { return 0; }
int dist_size(void) { return 1; }
int dist_local_size(void) { return 1; }
const char *dist_host(void) { return ""; }

void dist_bcast(void *buf, size_t bytes, int root)
{
    (void)buf;
    (void)bytes;
    (void)root;
}

void dist_allgather(const void *mine, void *all, size_t bytes)
{
    if (all != mine) memcpy(all, mine, bytes);
}

void dist_max_i64(int64_t *v, int n)
{
    (void)v;
    (void)n;
}

void dist_allgather_f32(float *buf, const size_t *off, const size_t *len)
{
    (void)buf;
    (void)off;
    (void)len;
}

void dist_allgather_f64(const double *mine, double *all, const size_t *off, const size_t *len)
{
    if (all + off[0] != mine) memcpy(all + off[0], mine, len[0] * sizeof *all);
}

void dist_gather_f32(const float *mine, float *all, const size_t *off, const size_t *len, int root)
{
    (void)root;
    if (all + off[0] != mine) memcpy(all + off[0], mine, len[0] * sizeof *all);
}

void dist_scatter_f32(const float *all, float *mine, const size_t *off, const size_t *len, int root)
{
    (void)root;
    if (all + off[0] != mine) memcpy(mine, all + off[0], len[0] * sizeof *mine);
}

void dist_reduce_scatter_ordered(const float *g, float *acc, const size_t *off, const size_t *len, int n_active,
                                 int first)
{
    if (n_active < 1) return;
    const float *p = g + off[0];
    if (first) {
        if (acc != p) memcpy(acc, p, len[0] * sizeof *acc);
    } else
        for (size_t i = 0; i < len[0]; i++) acc[i] += p[i];
}

void dist_share_error(int failed_here) { (void)failed_here; }

#endif
