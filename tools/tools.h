/* tools.h: what the files of the h2c command line share (tools/): tools/h2c.c parses the command
 * line and calls the library; the commands that need more than one call live in a file of their own.
 * The CLI sits on top of everything, so it may include any header (and links h2c_runtime). */
#ifndef H2C_TOOLS_H
#define H2C_TOOLS_H

#include "frontend.h"
#include "sparse.h"

/* ---------------------------------------------------------------- h2c.c */

/* Matches argv[*i] as --name=value or --name value (advancing *i past the value); returns the value
 * or NULL. */
const char *opt_value(int argc, char **argv, int *i, const char *name);

/* ---------------------------------------------------------------- profile.c
 * h2c profile: per (layer, KV head), the share of softmax mass the static pattern (sink + window)
 * keeps on calibration queries and keys, measured with the reference runtime (rt_static_mass); and,
 * for the plan those scores give, the attention-output error of each head's pattern against dense
 * attention. Calibration data is a directory of .npy files, for each layer L:
 *   q.L.npy  [heads, queries, head_dim]   the last `queries` positions of the calibration sequence
 *   k.L.npy  [kv_heads, tokens, head_dim] every position, queries <= tokens
 *   v.L.npy  [kv_heads, tokens, head_dim] optional (for every layer or none): the output error */

typedef struct CalibInfo {
    int tokens_min, tokens_max;     /* calibration tokens over the layers */
    int queries_min, queries_max;   /* queries per query head over the layers */
    bool has_v;                     /* V was given: the errors are measured */
} CalibInfo;

/* Measures the profile of `model` on the calibration directory `dir` and the plan `sp` gives it
 * (NULL: the language's default sparsity block): heads[layer * kv_heads + head]. False, with errors
 * (a missing or extra file, a shape that does not match the model, naming both shapes, a value that
 * is not finite), on failure. */
bool profile_measure(const char *dir, const Model *model, const Sparsity *sp, HeadProfile *heads, CalibInfo *info,
                     Diag *d);

/* The human-readable report of a profile: the model, the data, the plan and one line per head. */
void profile_report(FILE *out, const char *dir, const Model *model, const Sparsity *sp, const HeadProfile *heads,
                    const CalibInfo *info);

/* The comment lines of the CSV `h2c profile` writes (into lines[0..4), in arena a); returns their count. */
int profile_comments(Arena *a, const char *dir, const Model *model, const Sparsity *sp, const HeadProfile *heads,
                     const CalibInfo *info, const char **lines);

/* ---------------------------------------------------------------- explore_mpi.c
 * h2c-mpi (tools/h2c.c built with H2C_MPI, linked with Open MPI): `explore` over MPI ranks. Rank 0
 * hands out chunks of the visit order on request, merges the state each chunk comes back with, writes
 * the checkpoint and prints; every rank, rank 0 included, searches chunks on its threads. */

void mpi_begin(int *argc, char ***argv);
void mpi_end(void);
int mpi_rank(void);
int mpi_size(void);
/* Every rank calls this once, with whether it is ready to explore (its input read and checked, the run
 * opened) and the run's fingerprint: true on every rank if every rank is ready with the same
 * fingerprint; else false everywhere, and rank 0 says which rank was not. */
bool mpi_agree(bool ready, unsigned long long fingerprint, Diag *d);
/* Explores over every rank; on rank 0 the result is in r, and with stats what each rank did goes to
 * stderr (designs searched, designs/s, chunks and bytes sent, time waiting and merging). kill_after >
 * 0: rank kill_rank (> 0) kills itself after sending that many chunks (the kill-and-resume tests).
 * False (with a diagnostic on rank 0) on failure, on every rank. */
bool explore_mpi(ExploreRun *run, int threads, bool stats, long long kill_after, int kill_rank, ExploreResult *r,
                 Diag *d);

/* ---------------------------------------------------------------- run.c
 * h2c run: the emulator's command-line options, the checkpoint and the token ids, around rt_run. */

typedef struct RunArgs {
    int steps, layers;          /* -1 / 0: the workload's, all */
    unsigned long long seed;
    bool numerics, check, progress_set, progress, bench, huge_pages;
    const char *weights;        /* --weights DIR */
    const char *prompt_tokens;  /* --prompt-tokens "1,2,3;4,5,6" */
    const char *prompt_file;    /* --prompt-file F: the same text in a file */
    const char *trace, *dump_logits, *dump_hidden;
    double tolerance;
    long long lazy_bytes;       /* --lazy-weights: 1; --no-lazy-weights: -1; 0: the default threshold */
} RunArgs;

/* Consumes the run option at argv[*i] (advancing *i past its value). 1: consumed, 0: not a run
 * option, 2: a usage error (printed). */
int run_option(RunArgs *ra, int argc, char **argv, int *i);
void run_defaults(RunArgs *ra);
/* The options' help text. */
extern const char RUN_USAGE[];
struct RtSchedule;
/* Runs the schedule with the options; the exit code (0, or 1 with diagnostics). */
int run_schedule(const struct RtSchedule *s, const RunArgs *ra, bool quiet, Diag *d);

#endif
