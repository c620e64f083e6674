/* dist: the exchange between processes — the ranks of one data-parallel
 * training run (l1b-train under mpirun), over MPI.
 *
 * Only this unit speaks MPI. Built plainly (the default) it is the stand-in
 * for one process: the rank is 0 of 1 and every collective is a copy or
 * nothing, so the default build has no MPI symbol anywhere. `make MPI=1`
 * compiles this same file a second time, with L1B_MPI, by mpicc, and links
 * that object into l1b-train alone, ahead of the library (whose stand-in it
 * then replaces); the other programs keep the stand-in.
 *
 * Every function below but dist_init, dist_finalize and the queries is
 * collective: every rank calls it at the same point of the run, in the same
 * order, with the same sizes. An exchange that fails (a rank that died, a
 * broken link) ends the whole job through MPI's default error handler
 * (MPI_ERRORS_ARE_FATAL, which aborts every rank): nothing here returns an
 * error after dist_init.
 *
 * Shards: a vector of n values split over the ranks as off[r], len[r]
 * (r = 0..ranks-1), contiguous and in rank order; both arrays are the same
 * on every rank. */
#ifndef L1B_DIST_H
#define L1B_DIST_H

#include <stddef.h>
#include <stdint.h>

/* 1 when this build speaks MPI (the object linked with make MPI=1). */
int dist_built_in(void);
/* The MPI library, as "Open MPI v4.1.4", into out (n bytes); "" without. */
const char *dist_library(char *out, size_t n);

/* MPI_Init (with MPI; the stand-in succeeds at once). Programs call it only
 * when launched by mpirun, which they tell from the environment. -1 with a
 * message on failure. */
int dist_init(int *argc, char ***argv);
/* MPI_Finalize, if dist_init ran. */
void dist_finalize(void);
int dist_rank(void);
int dist_size(void);
/* Ranks on this machine (sharing its memory), this one included. */
int dist_local_size(void);
/* This machine's name, as MPI knows it ("" alone). */
const char *dist_host(void);

/* ---- collectives ---------------------------------------------------------- */

/* root's bytes to every rank */
void dist_bcast(void *buf, size_t bytes, int root);
/* each rank's `bytes` bytes into all[r * bytes] on every rank */
void dist_allgather(const void *mine, void *all, size_t bytes);
/* v[i] = the largest v[i] over the ranks, on every rank (exact) */
void dist_max_i64(int64_t *v, int n);
/* every rank's shard of buf (n floats, the shard at off[rank]) to every
 * rank, in place */
void dist_allgather_f32(float *buf, const size_t *off, const size_t *len);
/* the same for doubles, mine holding this rank's len[rank] values */
void dist_allgather_f64(const double *mine, double *all, const size_t *off, const size_t *len);
/* every rank's shard (len[rank] floats in mine) into all at off[r] on
 * root (all is only written there) */
void dist_gather_f32(const float *mine, float *all, const size_t *off, const size_t *len, int root);
/* root's all, shard by shard, into each rank's mine */
void dist_scatter_f32(const float *all, float *mine, const size_t *off, const size_t *len, int root);

/* The reduce-scatter of a data-parallel step, with its order of addition
 * fixed. g holds this rank's whole vector; the sum of the first n_active
 * ranks' vectors over this rank's shard is folded into acc (len[rank]
 * floats), one rank after another in rank order:
 *
 *     acc = g_0 (first) or acc + g_0,  then acc += g_1, ..., acc += g_{n_active-1}
 *
 * so the result is the same to the bit as adding the vectors one by one in
 * that order in one process, whatever the MPI library or the network. The
 * pieces travel by MPI_Alltoallv (each rank sends each other rank that
 * rank's shard of g: (n - len[rank]) floats sent per rank, the volume of any
 * reduce-scatter), in chunks that bound the receive buffer to about 4 MiB,
 * and are added here. (MPI_Reduce_scatter and MPI_Reduce_scatter_block leave
 * the order of addition to the library, which may use a tree or a ring and
 * change it with the message size, so they cannot promise the bits.) Ranks
 * from n_active on send nothing (they had no micro-batch in this round).
 * With first, acc may be this rank's own shard of g (acc == g + off[rank]),
 * which then ends up holding the sum. */
void dist_reduce_scatter_ordered(const float *g, float *acc, const size_t *off, const size_t *len, int n_active,
                                 int first);

/* After a failure every rank knows of (an agreed flag), on rank 0: the
 * message of the lowest failing rank becomes the current error, as
 * "rank R (HOST): message" when R is not 0; on the others: "rank R
 * failed". failed_here: whether this rank failed (its own l1b_error holds
 * why). */
void dist_share_error(int failed_here);

#endif
