/* passes.h: the passes over the IR, one file each (passes/<name>.c exporting pass_<name>), the
 * pipeline that runs them in order with the verifier in between, the table of cost models the
 * passes choose from (pipeline.c), and the cost report of a finished plan (report.c). */
#ifndef H2C_PASSES_H
#define H2C_PASSES_H

#include "search.h"

typedef bool (*PassFn)(Module *m, Diag *d);

typedef struct Pass {
    const char *name;       /* as written in --passes and --print-ir-after */
    PassFn run;
    const char *summary;    /* one line, for --help */
} Pass;

/* ---------------------------------------------------------------- dataflow.c */
bool pass_dataflow(Module *m, Diag *d);
/* A fixed baseline mapping (DF_NPU_ONLY, DF_ATTN_NMP, DF_ATTN_NMP_SPLIT, DF_FC_NMP) as a plan. */
bool df_plan_preset(const DfProblem *p, DataflowMode mode, DfPlan *plan);
/* The plan a module's tiles and positions describe (ops without positions run one after another).
 * False (with a diagnostic) on a cycle or when memory runs out. */
bool df_plan_from_module(const Module *m, const DfProblem *p, DfPlan *plan, Diag *d);

/* ---------------------------------------------------------------- shapes.c */
bool pass_shapes(Module *m, Diag *d);

/* ---------------------------------------------------------------- placement.c */
bool pass_placement(Module *m, Diag *d);

/* ---------------------------------------------------------------- report.c (not a pass) */

typedef enum ReportKind {
    REPORT_NONE,        /* print nothing */
    REPORT_SUMMARY,     /* prefill, decode per step, total, energy by entry of the energy table */
    REPORT_OPS,         /* the summary, then a table per phase: each op's time, bytes, energy, units */
} ReportKind;

/* True if the module's plan can be priced (shapes, tiles on every op, every tensor placed); else
 * false with the reason in why. */
bool report_ready(const Module *m, char *why, size_t n);
/* Prices the module's own plan (its tiles and positions) with its cost model and prints the report.
 * False, with an error, if it cannot be priced. */
bool report_print(FILE *out, const Module *m, ReportKind kind, Diag *d);

/* ---------------------------------------------------------------- pipeline.c */

/* The cost model of a kind (h2c or the H2-LLM artifact's). */
const CostModel *cost_model_get(CostModelKind k);

extern const Pass pass_table[];
extern const int pass_count;
extern const char *const default_pipeline[];
extern const int default_pipeline_len;
const Pass *pass_lookup(const char *name);

typedef struct PipelineOpts {
    const char **print_after;   /* pass names whose output to print, NULL-terminated; or NULL */
    const char **print_before;  /* pass names whose input to print */
    bool print_after_all;
    bool time_passes;           /* print a timing table to `dump` at the end */
    bool verify;                /* run the verifier before the first pass and after each (default on) */
    FILE *dump;                 /* where printed IR and timings go (stderr in the CLI) */
} PipelineOpts;

/* Runs the named passes in order. Stops at the first pass or verifier failure. */
bool pipeline_run(Module *m, const char *const *names, int n, const PipelineOpts *o, Diag *d);

#endif

