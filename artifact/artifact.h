/* artifact.h: everything that exists only to match the H2-LLM artifact (artifact/): its cost model,
 * number for number (cost_artifact.c); its own files read strictly and compared (compat.c, `h2c
 * compat`); and its evaluation grid (reproduce.c, `h2c explore --reproduce-h2llm`). */
#ifndef H2C_ARTIFACT_H
#define H2C_ARTIFACT_H

#include "search.h"
#include "frontend.h"

/* ---------------------------------------------------------------- cost_artifact.c
 * The H2-LLM artifact's evaluator, number for number (reference/h2llm-artifact.md §4): per layer,
 * decode at the last context times the generated tokens, energy 0. */
extern const CostModel cost_artifact;
double art_npu(const DfProblem *p, Gemm g, int cn, int cx);     /* §4.1, with the device's NPU */
double art_nmp(const DfProblem *p, Gemm g, int c);              /* §4.3, divided by p->nmp_util */
/* §2's capacity check: every NMP channel within its capacity, the normal group within its. */
bool art_capacity_ok(const DfProblem *p, const DfPlan *plan);
/* §1.3's utilisation table: the factor for (fpus, MHz, GB/s) at this batch, 1 elsewhere. */
double art_utilization(const Hardware *hw, int batch);
/* §4.7's fixed mappings (CP = DF_NPU_ONLY on a 0-NMP device, DF_ATTN_NMP, DF_ATTN_NMP_SPLIT,
 * DF_FC_NMP), in graph order, exactly as FixedMappingEvaluator computes them. */
bool art_baseline(const DfProblem *p, DataflowMode mode, CostResult *out);

/* ---------------------------------------------------------------- compat.c
 * `h2c compat`: the artifact's own inputs read strictly, with located errors: its model configs
 * (DIR/<model>/shape.json and operator_graph.json), its test vectors (JSON) and its baseline table
 * (text). Each entry is evaluated with cost_artifact and compared with the artifact's numbers. */

#define COMPAT_TOLERANCE 1e-9   /* the largest relative error accepted, at the file's precision */

/* The problem for the artifact model whose shape.json under `configs` says "type": type ("opt",
 * "llama" or "palm"), on device hw, for this workload; nmp_util is 1. Ops come in the
 * operator_graph's node order, with preds from its edges. False, with errors in d, if the configs
 * are missing or malformed. */
bool compat_problem(const char *configs, const char *type, const Hardware *hw, int batch, int prompt,
                    int gen, int max_seq, DfProblem *p, Diag *d);

typedef struct CompatSummary {
    int entries;        /* vectors or baseline lines compared */
    int failed;         /* entries whose error exceeds COMPAT_TOLERANCE */
    double max_err;     /* largest relative error at the file's precision */
    double max_raw;     /* largest raw relative error */
} CompatSummary;

/* Reads a test-vector file (JSON, it starts with '{') or a baseline table, evaluates every entry
 * and prints to `out` a header line, one line per entry and "max relative error: X". The error of
 * a number is taken after rounding the computed value to as many significant digits as the
 * expected one is written with. False, with errors in d and nothing printed, if the file or the
 * configs are malformed; otherwise `sum` says how the numbers compare. */
bool compat_check(const char *path, const char *configs, FILE *out, CompatSummary *sum, Diag *d);

/* ---------------------------------------------------------------- reproduce.c */

typedef enum GridDesign {
    GRID_CP, GRID_ID_NMP, GRID_ID_NMP_PLUS, GRID_H2LLM, GRID_ATTN_NMP, GRID_ATTN_NMP_SPLIT, GRID_FC_NMP, GRID_CC_NMP,
    GRID_FULL, GRID_DESIGNS
} GridDesign;
extern const char *const grid_design_names[GRID_DESIGNS];

typedef struct GridRow {
    const char *model, *dataset;
    int prompt, gen, batch;
    GridDesign design;
    bool ok;
    CostResult cost;        /* per layer, h2llm-artifact */
    double bound;
    Hardware hw;            /* the device (H2-LLM-Full: the best of its 64) */
} GridRow;

typedef struct Grid {
    GridRow *rows;          /* [point][design], points model-major, then dataset, then batch */
    int nmodels, npoints, searches;
    SplitSpace splits;      /* the MIX splits the searches used */
    double seconds;
} Grid;

/* The artifact's evaluation grid for these models (each Config's selected model). */
bool reproduce_h2llm(Config *const *models, int nmodels, int threads, SplitSpace splits, Grid *g, Diag *d);
void grid_print(FILE *out, const Grid *g);
void grid_write_csv(FILE *out, const Grid *g);
void grid_free(Grid *g);


#endif
