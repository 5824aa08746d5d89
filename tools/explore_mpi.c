/* explore_mpi.c: h2c-mpi's `explore` over MPI ranks (built only where Open MPI is found: the library
 * knows nothing of MPI). Rank 0 hands out chunks of the visit order on request, merges the state each
 * chunk comes back with and writes the checkpoint; every rank, rank 0 included, searches chunks on its
 * threads through explore_drive's hooks. Ranks ask for work when they need it, so a rank whose
 * designs take longer simply takes fewer chunks. Only one thread of a rank calls MPI at a time (under
 * the drive's lock): MPI_THREAD_SERIALIZED is enough. No rank waits in a blocking MPI call (Open MPI's
 * spin): it tests and sleeps, leaving the processor to the searches.
 *
 * Messages, all between rank 0 and another rank:
 *   REQ   rank -> 0   (empty) send me a chunk
 *   CHUNK 0 -> rank   two int64 [k0, k1), or k0 = -1: nothing is left, stop asking
 *   DONE  rank -> 0   three int64 k0, k1, kend (the chunk was searched up to kend), then the chunk's state
 *                     as explore_state_encode writes it
 *   FAIL  rank -> 0   text: the rank cannot go on (rank 0 stops handing out, and the run fails)
 *   BYE   rank -> 0   (empty) the rank's last message: everything it was given has come back
 * MPI keeps the order of the messages between two ranks, so rank 0 has every DONE of a rank before its
 * BYE. */
#include "tools.h"

#include <mpi.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { TAG_REQ = 1, TAG_CHUNK, TAG_DONE, TAG_FAIL, TAG_BYE };

static int rank_, size_ = 1;
static bool serialized;         /* MPI lets any one thread call it at a time */
static pid_t launcher;          /* the process that started this rank (mpirun, or its daemon) */

/* A rank whose launcher died (mpirun killed) would search on, orphaned, holding the checkpoint: it
 * stops as if killed too, so that the same command can resume at once. */
static void check_launcher(void) {
    if (getppid() != launcher) {
        fprintf(stderr, "h2c-mpi: rank %d: the MPI launcher is gone; stopping (the checkpoint, if any, is whole)\n",
                rank_);
        _exit(1);
    }
}

void mpi_begin(int *argc, char ***argv) {
    launcher = getppid();
    int provided = MPI_THREAD_SINGLE;
    MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
    serialized = provided >= MPI_THREAD_SERIALIZED;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

void mpi_end(void) { MPI_Finalize(); }
int mpi_rank(void) { return rank_; }
int mpi_size(void) { return size_; }

static void nap(void) {
    struct timespec ts = {0, 100 * 1000};
    nanosleep(&ts, NULL);
    check_launcher();
}

/* Waits for a request without spinning in MPI. */
static void wait_for(MPI_Request *req) {
    for (;;) {
        int flag = 0;
        MPI_Test(req, &flag, MPI_STATUS_IGNORE);
        if (flag)
            return;
        nap();
    }
}

bool mpi_agree(bool ready, unsigned long long fingerprint, Diag *d) {
    unsigned long long mine[2] = {ready, fingerprint};
    unsigned long long *all = NULL;
    if (rank_ == 0 && !(all = malloc(sizeof(unsigned long long) * 2 * (size_t)size_)))
        MPI_Abort(MPI_COMM_WORLD, 1);   /* (out of memory before anything started) */
    MPI_Gather(mine, 2, MPI_UNSIGNED_LONG_LONG, all, 2, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    int verdict = ready;
    if (rank_ == 0) {
        for (int r = 1; r < size_ && ready; r++) {
            if (!all[2 * r]) {
                diag_error(d, NOLOC, "rank %d could not read, check or open this exploration (run the same command "
                           "with h2c on its host to see why)", r);
                verdict = 0;
            } else if (all[2 * r + 1] != fingerprint) {
                diag_error(d, NOLOC, "rank %d read another exploration than rank 0: the input, its imports, the "
                           "options or h2c differ between their hosts", r);
                verdict = 0;
            }
        }
        free(all);
    }
    MPI_Bcast(&verdict, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return verdict != 0;
}

/* ---------------------------------------------------------------- rank 0 */

/* What a rank did, for the statistics line (--progress): rank 0 gathers them at the end. */
enum { ST_SEARCHED, ST_SECONDS, ST_CHUNKS, ST_BYTES, ST_WAIT, ST_MERGE, ST_COUNT_ };

typedef struct Root {
    ExploreRun *run;
    Diag *d;
    int workers;                /* threads of every rank */
    int byes;                   /* ranks that said BYE */
    bool failed;
    ExploreState *scratch;      /* a DONE's state, read */
    unsigned char *buf;         /* a message received */
    size_t cap;
    double stat[ST_COUNT_];     /* its own searches; ST_CHUNKS, ST_BYTES, ST_MERGE: the chunks merged from others */
} Root;

static bool root_next(void *ctx, long long *k0, long long *k1) {
    Root *rt = ctx;
    return !rt->failed && explore_next_chunk(rt->run, explore_chunk_size(rt->run, rt->workers), k0, k1);
}

static bool root_done(void *ctx, long long k0, long long k1, long long kend, const ExploreState *st) {
    Root *rt = ctx;
    long long visited, searched;
    double seconds;
    explore_state_counts(st, &visited, &searched, &seconds);
    rt->stat[ST_SEARCHED] += (double)searched;
    if (!rt->failed && !explore_chunk_done(rt->run, k0, k1, kend, st, rt->d))
        rt->failed = true;
    return !rt->failed;
}

static void root_fail(Root *rt) {
    rt->failed = true;
    explore_halt(rt->run);
}

/* A DONE from rank src: the chunk's bounds and state, merged as rank 0's own would be. */
static void root_merge(Root *rt, int src, const unsigned char *p, size_t len) {
    long long k[3];
    if (len < sizeof k) {
        diag_error(rt->d, NOLOC, "rank %d sent a chunk's result of %zu bytes, too short to be one", src, len);
        root_fail(rt);
        return;
    }
    memcpy(k, p, sizeof k);
    if (rt->failed)
        return;     /* (a run that failed merges nothing more) */
    char what[64];
    snprintf(what, sizeof what, "what rank %d sent", src);
    double t = MPI_Wtime();
    if (!explore_state_decode(rt->run, p + sizeof k, len - sizeof k, rt->scratch, what, rt->d) ||
        !explore_chunk_done(rt->run, k[0], k[1], k[2], rt->scratch, rt->d))
        root_fail(rt);
    rt->stat[ST_MERGE] += MPI_Wtime() - t;
    rt->stat[ST_CHUNKS]++;
    rt->stat[ST_BYTES] += (double)len;
}

/* Serves every message waiting: chunks for those who ask, merges for those who return one. */
static void root_poll(void *ctx) {
    Root *rt = ctx;
    check_launcher();
    for (;;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
        if (!flag)
            return;
        int count = 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        if ((size_t)count > rt->cap) {
            unsigned char *nb = realloc(rt->buf, (size_t)count);
            if (!nb) {
                diag_error(rt->d, NOLOC, "out of memory");
                MPI_Abort(MPI_COMM_WORLD, 1);   /* (the message cannot be taken, so nobody could go on) */
            }
            rt->buf = nb;
            rt->cap = (size_t)count;
        }
        int src = st.MPI_SOURCE, tag = st.MPI_TAG;
        MPI_Recv(rt->buf, count, MPI_BYTE, src, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        switch (tag) {
        case TAG_REQ: {
            long long c[2] = {-1, -1};
            if (!root_next(rt, &c[0], &c[1]))
                c[0] = c[1] = -1;
            MPI_Send(c, 2, MPI_LONG_LONG, src, TAG_CHUNK, MPI_COMM_WORLD);
            break;
        }
        case TAG_DONE:
            root_merge(rt, src, rt->buf, (size_t)count);
            break;
        case TAG_FAIL:
            diag_error(rt->d, NOLOC, "rank %d: %.*s", src, count, (const char *)rt->buf);
            root_fail(rt);
            break;
        case TAG_BYE:
            rt->byes++;
            break;
        default:
            diag_error(rt->d, NOLOC, "rank %d sent a message h2c-mpi does not know (tag %d)", src, tag);
            root_fail(rt);
        }
    }
}

static bool root_pending(void *ctx) {
    Root *rt = ctx;
    return rt->byes < size_ - 1;
}

/* ---------------------------------------------------------------- the other ranks */

typedef struct Sent {
    MPI_Request req;
    unsigned char *buf;
} Sent;

typedef struct Remote {
    bool stopped;               /* rank 0 has nothing left */
    bool failed;                /* this rank cannot go on (FAIL sent) */
    bool req_out;               /* a REQ is out whose CHUNK has not come */
    MPI_Request reply;
    long long rbuf[2];
    long long queue[4][2];      /* chunks given, not started */
    int nq;
    Sent *sent;                 /* DONEs under way */
    int nsent, sent_cap;
    long long done;             /* chunks returned */
    long long kill_after;       /* the tests' fault injection (0: none) */
    double stat[ST_COUNT_];     /* what it searched and sent, and how long it waited */
} Remote;

static void post_req(Remote *w) {
    MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_REQ, MPI_COMM_WORLD);
    MPI_Irecv(w->rbuf, 2, MPI_LONG_LONG, 0, TAG_CHUNK, MPI_COMM_WORLD, &w->reply);
    w->req_out = true;
}

/* Takes rank 0's answer to the REQ out, if it has come (or waiting for it). */
static void take_reply(Remote *w, bool wait) {
    if (!w->req_out)
        return;
    int flag = 0;
    if (wait) {
        double t = MPI_Wtime();
        wait_for(&w->reply);
        w->stat[ST_WAIT] += MPI_Wtime() - t;
        flag = 1;
    } else {
        MPI_Test(&w->reply, &flag, MPI_STATUS_IGNORE);
    }
    if (!flag)
        return;
    w->req_out = false;
    if (w->rbuf[0] < 0) {
        w->stopped = true;
        return;
    }
    w->queue[w->nq][0] = w->rbuf[0];
    w->queue[w->nq][1] = w->rbuf[1];
    w->nq++;
}

/* Frees the DONEs that have gone (all of them, waiting, if wait). */
static void reap_sent(Remote *w, bool wait) {
    int k = 0;
    for (int i = 0; i < w->nsent; i++) {
        int flag = 0;
        if (wait) {
            wait_for(&w->sent[i].req);
            flag = 1;
        } else {
            MPI_Test(&w->sent[i].req, &flag, MPI_STATUS_IGNORE);
        }
        if (flag)
            free(w->sent[i].buf);
        else
            w->sent[k++] = w->sent[i];
    }
    w->nsent = k;
}

static void remote_fail(Remote *w, const char *why) {
    if (w->failed)
        return;
    w->failed = true;
    MPI_Send(why, (int)strlen(why), MPI_BYTE, 0, TAG_FAIL, MPI_COMM_WORLD);
}

static bool remote_next(void *ctx, long long *k0, long long *k1) {
    Remote *w = ctx;
    for (;;) {
        if (w->nq > 0) {
            *k0 = w->queue[0][0];
            *k1 = w->queue[0][1];
            memmove(w->queue[0], w->queue[1], sizeof w->queue[0] * (size_t)--w->nq);
            if (!w->stopped && !w->req_out)
                post_req(w);    /* the next chunk comes while this one is searched */
            return true;
        }
        if (w->stopped || w->failed)
            return false;
        if (!w->req_out)
            post_req(w);
        take_reply(w, true);
    }
}

static bool remote_done(void *ctx, long long k0, long long k1, long long kend, const ExploreState *st) {
    Remote *w = ctx;
    size_t len = 0;
    unsigned char *state = explore_state_encode(st, &len);
    long long k[3] = {k0, k1, kend};
    unsigned char *msg = state ? malloc(sizeof k + len) : NULL;
    if (w->nsent == w->sent_cap) {
        int ncap = w->sent_cap ? w->sent_cap * 2 : 8;
        Sent *ns = realloc(w->sent, sizeof *ns * (size_t)ncap);
        if (ns) {
            w->sent = ns;
            w->sent_cap = ncap;
        }
    }
    if (!msg || w->nsent == w->sent_cap || len + sizeof k > (size_t)0x7fffffff) {
        free(msg);
        explore_bytes_free(state, len);
        remote_fail(w, "out of memory, or a chunk's result too large for one message");
        return false;
    }
    memcpy(msg, k, sizeof k);
    memcpy(msg + sizeof k, state, len);
    explore_bytes_free(state, len);
    long long visited, searched;
    double seconds;
    explore_state_counts(st, &visited, &searched, &seconds);
    w->stat[ST_SEARCHED] += (double)searched;
    w->stat[ST_CHUNKS]++;
    w->stat[ST_BYTES] += (double)(sizeof k + len);
    Sent *s = &w->sent[w->nsent++];
    s->buf = msg;
    MPI_Isend(msg, (int)(sizeof k + len), MPI_BYTE, 0, TAG_DONE, MPI_COMM_WORLD, &s->req);
    if (w->kill_after && ++w->done == w->kill_after)
        raise(SIGKILL);
    reap_sent(w, false);
    return true;
}

static void remote_poll(void *ctx) {
    Remote *w = ctx;
    check_launcher();
    reap_sent(w, false);
    take_reply(w, false);
}

/* ---------------------------------------------------------------- both */

/* Rank 0 prints what each rank did (stat: ST_COUNT_ values a rank). */
static void print_stats(const double *stat, int threads) {
    fprintf(stderr, "h2c-mpi: %d rank%s x %d thread%s\n", size_, size_ == 1 ? "" : "s", threads,
            threads == 1 ? "" : "s");
    for (int r = 0; r < size_; r++) {
        const double *s = &stat[r * ST_COUNT_];
        double rate = s[ST_SECONDS] > 0 ? s[ST_SEARCHED] / s[ST_SECONDS] : 0;
        fprintf(stderr, "  rank %d: %.0f designs searched in %.3f s, %.0f designs/s", r, s[ST_SEARCHED], s[ST_SECONDS],
                rate);
        if (r == 0)
            fprintf(stderr, "; merged %.0f chunks from the others (%.0f bytes) in %.4f s\n", s[ST_CHUNKS], s[ST_BYTES],
                    s[ST_MERGE]);
        else
            fprintf(stderr, "; sent %.0f chunks (%.0f bytes), waited %.4f s for chunks\n", s[ST_CHUNKS], s[ST_BYTES],
                    s[ST_WAIT]);
    }
}

/* Gathers every rank's statistics on rank 0 (without spinning). */
static void gather_stats(const double *mine, double *all) {
    MPI_Request req;
    MPI_Igather(mine, ST_COUNT_, MPI_DOUBLE, all, ST_COUNT_, MPI_DOUBLE, 0, MPI_COMM_WORLD, &req);
    wait_for(&req);
}

bool explore_mpi(ExploreRun *run, int threads, bool stats, long long kill_after, int kill_rank, ExploreResult *r,
                 Diag *d) {
    if (!serialized)
        threads = 1;    /* (only the first thread may call MPI) */
    /* the workers of every rank, for the size of the chunks */
    int workers = threads * size_;
    if (rank_ == 0) {
        Root rt = {run, d, workers, 0, false, explore_state_new(run), NULL, 0, {0}};
        if (!rt.scratch) {
            diag_error(d, NOLOC, "out of memory");
            root_fail(&rt);
        }
        ExploreHooks h = {root_next, root_done, root_poll, root_pending, &rt};
        double t = MPI_Wtime();
        bool ok = explore_drive(run, threads, &h, d) && !rt.failed;
        rt.stat[ST_SECONDS] = MPI_Wtime() - t;
        explore_state_free(rt.scratch);
        free(rt.buf);
        double *all = malloc(sizeof(double) * ST_COUNT_ * (size_t)size_);
        gather_stats(rt.stat, all);
        ok = ok && explore_finish(run, r, d);
        if (stats && all)
            print_stats(all, threads);
        free(all);
        /* the others wait to hear whether the run succeeded */
        int verdict = ok;
        MPI_Request req;
        MPI_Ibcast(&verdict, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
        wait_for(&req);
        return ok;
    }
    Remote w;
    memset(&w, 0, sizeof w);
    w.kill_after = kill_rank == rank_ ? kill_after : 0;
    ExploreHooks h = {remote_next, remote_done, remote_poll, NULL, &w};
    double t = MPI_Wtime();
    if (!explore_drive(run, threads, &h, d))
        remote_fail(&w, "out of memory");
    w.stat[ST_SECONDS] = MPI_Wtime() - t;
    take_reply(&w, true);   /* (a REQ still out: its answer, which is never searched) */
    reap_sent(&w, true);
    free(w.sent);
    MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_BYE, MPI_COMM_WORLD);
    gather_stats(w.stat, NULL);
    int verdict = 0;
    MPI_Request req;
    MPI_Ibcast(&verdict, 1, MPI_INT, 0, MPI_COMM_WORLD, &req);
    wait_for(&req);
    return verdict != 0;
}
