/* h2c.c: the command-line driver, a thin layer over libh2c. Each subcommand parses its options,
 * calls the library, and maps failure to an exit status: 0 ok, 1 user error, 2 usage error. */
#include "artifact.h"
#include "backend.h"
#include "frontend.h"
#include "ir.h"
#include "passes.h"
#include "tools.h"
#include "runtime.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct Opts {
    const char *file;           /* the input */
    const char *output;         /* -o FILE, or NULL for stdout */
    const char *emit;           /* --emit=KIND */
    const char *passes;         /* --passes=a,b,c, or NULL for the default pipeline */
    const char *print_after;    /* --print-ir-after=a,b */
    const char *print_before;   /* --print-ir-before=a,b */
    bool print_after_all;       /* --print-ir-after-all */
    bool time_passes;           /* --time-passes */
    bool no_verify;             /* --no-verify */
    const char *report;         /* --report[=KIND]: "summary" for a bare --report; NULL: the command's default */
    bool pipeline_opts;         /* this command takes the options above */
    /* explore */
    int threads;                /* --threads N (0: one per processor) */
    double budget_seconds;      /* --budget SECONDS */
    long long budget_evals;     /* --evaluations N */
    const char *csv;            /* --csv FILE */
    const char *write_hw;       /* --write-hw FILE.h2 */
    const char *write_ir;       /* --write-ir FILE.h2ir */
    int top;                    /* --top K */
    const char *objective;      /* --objective NAME */
    const char *dataflow;       /* --dataflow NAME */
    const char *splits;         /* --splits SPACE */
    int progress;               /* --progress 1, --no-progress 0, default -1 (a terminal) */
    bool stream;                /* --stream */
    const char *checkpoint;     /* --checkpoint FILE */
    double checkpoint_every;    /* --checkpoint-every TIME (-1: not given) */
    long long chunk;            /* --chunk N */
    bool reproduce;             /* --reproduce-h2llm */
    const char *calib;          /* profile: --calib DIR */
    const char *files[8];       /* --reproduce-h2llm takes several model files */
    int nfiles;
    Selection sel;              /* --hardware/--model/--workload/--cost-model */
    const char *incs[16];       /* -I directories */
    int ninc;
    bool quiet;                 /* -q */
    bool werror;                /* -Werror */
    bool jit;                   /* compile: --jit */
} Opts;

typedef struct Command {
    const char *name;
    const char *summary;
    const char *usage;          /* options text for `h2c CMD --help` */
    int (*run)(int argc, char **argv);
} Command;

/* h2c-mpi: a rank other than 0 says nothing the first rank says too (usage errors, help, diagnostics
 * of the input). */
static bool silent_rank;

static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...) {
    if (silent_rank)
        return 2;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "h2c%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'h2c %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return 2;
}

static const char PIPELINE_OPTS[] =
    "  --passes=A,B,...    run these passes (compile: instead of the default pipeline; opt: none by default)\n"
    "  --print-ir-after=P  print the IR after pass P (a comma list is allowed), to stderr\n"
    "  --print-ir-before=P print the IR before pass P, to stderr\n"
    "  --print-ir-after-all  print the IR after every pass, to stderr\n"
    "  --time-passes       print a table of pass times to stderr\n"
    "  --no-verify         do not run the IR verifier between passes\n"
    "  --report[=KIND]     print the plan's cost to stderr: summary (prefill, decode, total, energy by\n"
    "                      component; compile prints it unless -q), ops (also a table of every op in\n"
    "                      each phase: time, bytes moved, energy, where it runs), attention (also the\n"
    "                      attention plans layer by layer and the dense/sparse, naive/co-placed/\n"
    "                      balanced ablation), none\n"
    "  -o PATH             write the output to PATH instead of stdout (a file is replaced only when\n"
    "                      complete; a symbolic link is followed; a device or FIFO is written in place); a\n"
    "                      directory, or a PATH ending in '/' (made if missing), gets one file per --emit kind,\n"
    "                      NAME.h2ir, NAME.schedule.json, NAME.kernels.c, ... (NAME: the input's base name)\n"
    "  --jit               JIT-compile every kernel of the schedule for this host, to check they build, and\n"
    "                      print how long it took on stderr (unless -q)\n"
    "  --threads N         compile the kernels of --jit on N threads (default: one per processor); the files\n"
    "                      written do not depend on it\n";

static const char COMMON_OPTS[] =
    "  -I DIR              also look for imports in DIR\n"
    "  --hardware NAME     use this hardware block (overrides `use hardware`)\n"
    "  --model NAME        use this model block\n"
    "  --workload NAME     use this workload block\n"
    "  --cost-model NAME   h2c (default) or h2llm-artifact\n"
    "  --batch N           run the chosen workload at batch size N\n"
    "  -Werror             treat warnings as errors\n"
    "  -q                  quiet: no summary (check's line, compile's cost, explore's table)\n";

static const char HELP_OPT[] = "  -h, --help          show this help\n";

const char *opt_value(int argc, char **argv, int *i, const char *name) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] == 0 && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static void print_passes(void) {
    printf("\npasses (default pipeline:");
    for (int i = 0; i < default_pipeline_len; i++)
        printf(" %s", default_pipeline[i]);
    printf("):\n");
    for (int i = 0; i < pass_count; i++)
        printf("  %-12s %s\n", pass_table[i].name, pass_table[i].summary);
}

/* A time such as 10, 10s or 2min, in seconds; -1 if it is not one. */
static double parse_time(const char *v) {
    char *end;
    double b = strtod(v, &end);
    if (end == v || !(b >= 0))
        return -1;
    if (strcmp(end, "min") == 0)
        return b * 60;
    return strcmp(end, "s") == 0 || !*end ? b : -1;
}

/* Parses the options every front-end command shares. Returns -1 to go on, else an exit code. */
static int parse_common(const Command *cmd, int argc, char **argv, Opts *o, bool pipeline) {
    memset(o, 0, sizeof *o);
    o->pipeline_opts = pipeline;
    o->progress = -1;
    o->checkpoint_every = -1;
    o->top = 10;
    bool explore = strcmp(cmd->name, "explore") == 0;
    bool profile = strcmp(cmd->name, "profile") == 0;
    bool front = strcmp(cmd->name, "opt") != 0;   /* reads .h2: imports, selection, warnings */
    bool backend = pipeline;                      /* compile and opt write schedules and kernels */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if ((explore || backend) && (v = opt_value(argc, argv, &i, "--threads"))) {
            char *end;
            long t = strtol(v, &end, 10);
            if (*end || t < 1 || t > 64)
                return usage_error(cmd->name, "--threads needs a number from 1 to 64, not '%s'", v);
            o->threads = (int)t;
            continue;
        }
        if (backend && strcmp(a, "--jit") == 0) {
            o->jit = true;
            continue;
        }
        if (explore) {
            if ((v = opt_value(argc, argv, &i, "--budget"))) {
                double b = parse_time(v);
                if (!(b > 0))
                    return usage_error(cmd->name, "--budget needs a time such as 10s or 2min, not '%s'", v);
                o->budget_seconds = b;
                continue;
            } else if (strcmp(a, "--stream") == 0) {
                o->stream = true;
                continue;
            } else if ((v = opt_value(argc, argv, &i, "--checkpoint-every"))) {
                double b = parse_time(v);
                if (b < 0)
                    return usage_error(cmd->name, "--checkpoint-every needs a time such as 60s, 5min or 0 (after "
                                                  "every chunk), not '%s'", v);
                o->checkpoint_every = b;
                continue;
            } else if ((v = opt_value(argc, argv, &i, "--checkpoint"))) {
                if (!*v)
                    return usage_error(cmd->name, "--checkpoint needs a file name");
                o->checkpoint = v;
                continue;
            } else if ((v = opt_value(argc, argv, &i, "--chunk"))) {
                char *end;
                long long c = strtoll(v, &end, 10);
                if (*end || c < 1 || c > 1000000000)
                    return usage_error(cmd->name, "--chunk needs a number of designs from 1 to 10^9, not '%s'", v);
                o->chunk = c;
                continue;
            } else if ((v = opt_value(argc, argv, &i, "--evaluations"))) {
                char *end;
                long long e = strtoll(v, &end, 10);
                if (*end || e < 1)
                    return usage_error(cmd->name, "--evaluations needs a positive number, not '%s'", v);
                o->budget_evals = e;
                continue;
            } else if ((v = opt_value(argc, argv, &i, "--top"))) {
                char *end;
                long t = strtol(v, &end, 10);
                if (*end || t < 1)
                    return usage_error(cmd->name, "--top needs a positive number, not '%s'", v);
                o->top = (int)t;
                continue;
            } else if ((v = opt_value(argc, argv, &i, "--csv"))) {
                o->csv = v;
                continue;
            } else if ((v = opt_value(argc, argv, &i, "--write-hw"))) {
                o->write_hw = v;
                continue;
            } else if ((v = opt_value(argc, argv, &i, "--write-ir"))) {
                o->write_ir = v;
                continue;
            } else if (strcmp(a, "--progress") == 0 || strcmp(a, "--no-progress") == 0) {
                o->progress = a[2] == 'p';
                continue;
            } else if (strcmp(a, "--reproduce-h2llm") == 0) {
                o->reproduce = true;
                continue;
            } else if (o->reproduce && a[0] != '-' && o->file) {
                if (o->nfiles + 1 >= 8) /* files[] also takes the first file */
                    return usage_error(cmd->name, "at most 8 model files");
                o->files[o->nfiles++] = a;
                continue;
            }
        }
        if (profile && (v = opt_value(argc, argv, &i, "--calib"))) {
            o->calib = v;
            continue;
        }
        if ((explore || pipeline) && (v = opt_value(argc, argv, &i, "--objective"))) {
            o->objective = v;
            o->sel.objective = v;
            continue;
        } else if ((explore || pipeline) && (v = opt_value(argc, argv, &i, "--dataflow"))) {
            o->dataflow = v;
            continue;
        } else if ((explore || pipeline) && (v = opt_value(argc, argv, &i, "--splits"))) {
            if (strcmp(v, "all") != 0 && strcmp(v, "artifact") != 0)
                return usage_error(cmd->name, "unknown --splits '%s' (all or artifact)", v);
            o->splits = v;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            if (silent_rank)
                return 0;
            printf("usage: h2c %s [options] %s\n%s\n\noptions:\n%s%s%s%s", cmd->name, front ? "FILE.h2" : "FILE.h2ir",
                   cmd->summary, front ? COMMON_OPTS : "", pipeline ? PIPELINE_OPTS : "", cmd->usage, HELP_OPT);
            if (pipeline)
                print_passes();
            return 0;
        } else if (pipeline && (v = opt_value(argc, argv, &i, "--passes"))) {
            o->passes = v;
        } else if (pipeline && (v = opt_value(argc, argv, &i, "--print-ir-after"))) {
            o->print_after = v;
        } else if (pipeline && (v = opt_value(argc, argv, &i, "--print-ir-before"))) {
            o->print_before = v;
        } else if (pipeline && strcmp(a, "--print-ir-after-all") == 0) {
            o->print_after_all = true;
        } else if (pipeline && strcmp(a, "--time-passes") == 0) {
            o->time_passes = true;
        } else if (pipeline && strcmp(a, "--no-verify") == 0) {
            o->no_verify = true;
        } else if (pipeline && (strcmp(a, "--report") == 0 || strncmp(a, "--report=", 9) == 0)) {
            o->report = a[8] ? a + 9 : "summary";
            if (strcmp(o->report, "summary") != 0 && strcmp(o->report, "ops") != 0 && strcmp(o->report, "none") != 0 &&
                strcmp(o->report, "attention") != 0)
                return usage_error(cmd->name, "unknown --report kind '%s' (summary, ops, attention or none)", o->report);
        } else if (pipeline && (v = opt_value(argc, argv, &i, "--emit"))) {
            o->emit = v;
        } else if ((pipeline || profile) && strcmp(a, "-o") == 0) {
            if (i + 1 >= argc)
                return usage_error(cmd->name, "-o needs a file name");
            o->output = argv[++i];
        } else if (front && strcmp(a, "-q") == 0) {
            o->quiet = true;
        } else if (front && strcmp(a, "-Werror") == 0) {
            o->werror = true;
        } else if (front && strncmp(a, "-I", 2) == 0) {
            const char *dir = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            if (!dir)
                return usage_error(cmd->name, "-I needs a directory");
            if (o->ninc == 16)
                return usage_error(cmd->name, "too many -I options");
            o->incs[o->ninc++] = dir;
        } else if (front && (v = opt_value(argc, argv, &i, "--hardware"))) {
            o->sel.hardware = v;
        } else if (front && (v = opt_value(argc, argv, &i, "--model"))) {
            o->sel.model = v;
        } else if (front && (v = opt_value(argc, argv, &i, "--workload"))) {
            o->sel.workload = v;
        } else if (front && (v = opt_value(argc, argv, &i, "--cost-model"))) {
            int k;
            for (k = 0; k < CM_COUNT_ && strcmp(v, cost_model_names[k]) != 0; k++) {
            }
            if (k == CM_COUNT_)
                return usage_error(cmd->name, "unknown --cost-model '%s' (h2c or h2llm-artifact)", v);
            o->sel.cost_model = v;
        } else if (front && (v = opt_value(argc, argv, &i, "--batch"))) {
            char *end;
            long b = strtol(v, &end, 10);
            if (*end || b < 1 || b > (1 << 20))
                return usage_error(cmd->name, "--batch needs a whole number from 1 to %d, not '%s'", 1 << 20, v);
            o->sel.batch = (int)b;
        } else if (a[0] == '-' && a[1]) {
            return usage_error(cmd->name, "unknown option '%s'", a);
        } else if (o->file) {
            return usage_error(cmd->name, "more than one input file ('%s')", a);
        } else {
            o->file = a;
        }
    }
    if (!o->file)
        return usage_error(cmd->name, "no input file");
    if (o->objective && o->sel.cost_model && strcmp(o->objective, "latency") != 0 &&
        !cost_model_get(strcmp(o->sel.cost_model, cost_model_names[CM_ARTIFACT]) == 0 ? CM_ARTIFACT : CM_H2C)->has_energy)
        /* (before reading the file; a cost model chosen in the file is checked once it is read) */
        return usage_error(cmd->name, "--objective %s needs a cost model with energy; %s has none (its energy is always "
                                      "0, so every plan would rank by latency): use --cost-model h2c or --objective "
                                      "latency", o->objective, o->sel.cost_model);
    if (o->checkpoint_every >= 0 && !o->checkpoint)
        return usage_error(cmd->name, "--checkpoint-every needs --checkpoint FILE");
    if (o->reproduce) {
        /* every file named is a model */
        memmove(o->files + 1, o->files, sizeof(char *) * (size_t)o->nfiles);
        o->files[0] = o->file;
        o->nfiles++;
    }
    return -1;
}

/* Applies --objective and --dataflow to a module; false (after a message) if a name is unknown. */
static bool apply_mode_opts(const char *cmd, const Opts *o, Module *m, int *rc) {
    if (o->objective) {
        int k;
        for (k = 0; k < OBJ_COUNT_ && strcmp(o->objective, objective_names[k]) != 0; k++) {
        }
        if (k == OBJ_COUNT_) {
            *rc = usage_error(cmd, "unknown --objective '%s' (latency, energy or edp)", o->objective);
            return false;
        }
        m->objective = (Objective)k;
        if (m->objective != OBJ_LATENCY && !cost_model_get(m->cost_model)->has_energy) {
            *rc = usage_error(cmd, "--objective %s needs a cost model with energy; %s has none (its energy is always 0, "
                                   "so every plan would rank by latency): use --cost-model h2c or --objective latency",
                              o->objective, cost_model_names[m->cost_model]);
            return false;
        }
    }
    if (o->dataflow) {
        int k;
        for (k = 0; k < DF_COUNT_ && strcmp(o->dataflow, dataflow_mode_names[k]) != 0; k++) {
        }
        if (k == DF_COUNT_) {
            *rc = usage_error(cmd, "unknown --dataflow '%s' (data-centric, compute-centric, npu-only, attn-nmp, "
                                   "attn-nmp-split, fc-nmp)", o->dataflow);
            return false;
        }
        m->dataflow = (DataflowMode)k;
    }
    if (o->splits)
        m->splits = strcmp(o->splits, "artifact") == 0 ? SPLITS_ARTIFACT : SPLITS_ALL;
    return true;
}

static void fmt_size(char *buf, size_t n, double b) {
    if (b >= 1024.0 * 1024 * 1024)
        snprintf(buf, n, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    else if (b >= 1024.0 * 1024)
        snprintf(buf, n, "%.2f MiB", b / (1024.0 * 1024));
    else
        snprintf(buf, n, "%.2f KiB", b / 1024.0);
}

static int cmd_check(int argc, char **argv);
static int cmd_dump_ast(int argc, char **argv);
static int cmd_compile(int argc, char **argv);
static int cmd_opt(int argc, char **argv);
static int cmd_explore(int argc, char **argv);
static int cmd_compat(int argc, char **argv);
static int cmd_import_hf(int argc, char **argv);
static int cmd_profile(int argc, char **argv);
static int cmd_validate(int argc, char **argv);
static int cmd_run(int argc, char **argv);

static const Command commands[] = {
    {"check", "Parse and check a .h2 file: syntax, names, units, ranges, the op graph, capacity.", "", cmd_check},
    {"dump-ast", "Print the syntax tree of a .h2 file and its imports (line:col, then the node).", "", cmd_dump_ast},
    {"compile", "Compile a .h2 file: lower it to the IR and run the pass pipeline.",
     "  --emit=KINDS        what to write, a comma list: ir (the IR text; the default with -o FILE or no -o),\n"
     "                      dot (the layer graph for Graphviz), ast, schedule (the JSON schedule,\n"
     "                      docs/schedule.md), c and llvm (its kernels as C or LLVM IR); with -o DIR the\n"
     "                      default is schedule,c: the schedule and its kernels in one folder\n"
     "  --dataflow=MODE     data-centric (default), compute-centric, or a baseline: npu-only, attn-nmp,\n"
     "                      attn-nmp-split, fc-nmp\n"
     "  --objective=NAME    latency (default), energy or edp\n"
     "  --splits=SPACE      the MIX splits the dataflow search may use: all (default), or artifact, only the\n"
     "                      H2-LLM artifact's quantised ratios (i/kv, i/B, i/N), to compare within its space\n",
     cmd_compile},
    {"opt", "Run passes on IR text (.h2ir) and print the result; with no --passes, verify and re-print.",
     "  --emit=KINDS        what to write, a comma list: ir (default), dot, schedule, c, llvm (as for compile)\n"
     "  --dataflow=MODE     the module's dataflow mode for the dataflow pass (as for compile)\n"
     "  --objective=NAME    the module's objective for the dataflow pass: latency, energy or edp\n"
     "  --splits=SPACE      the module's split space for the dataflow pass: all or artifact\n",
     cmd_opt},
    {"explore", "Co-explore hardware and dataflow over the file's explore {} space (exact dataflow search per design).",
     "  --threads N         worker threads (default: one per processor); results do not depend on it\n"
     "  --budget TIME       start no new design after TIME (10s, 2min); the best so far is reported\n"
     "  --evaluations N     search at most N distinct designs, in order\n"
     "  --top K             show the K best designs (default 10)\n"
     "  --csv FILE          write every design of the space, one line each\n"
     "  --write-hw FILE.h2  write the best design as a hardware block h2c compile can take\n"
     "  --write-ir FILE.h2ir  write the best design's IR (dataflow, attention plans and placement)\n"
     "  --objective NAME    latency, energy or edp (default: the explore block's, else latency)\n"
     "  --dataflow MODE     data-centric or compute-centric (default: the explore block's)\n"
     "  --splits SPACE      all (default) or artifact: only the artifact's MIX splits (also with --reproduce-h2llm)\n"
     "  --progress, --no-progress  a progress line on stderr (default: when stderr is a terminal)\n"
     "  --stream            keep only the --top table, the Pareto front and each sweep point's best, so memory\n"
     "                      does not grow with the space (up to 10^12 distinct designs; more with a budget);\n"
     "                      --csv then lists those designs, with their rank and whether they are on the front\n"
     "  --checkpoint FILE   resume from FILE if it is there (same input and options), and write the finished\n"
     "                      part of the visit order and the tables to it as the run goes and at the end\n"
     "  --checkpoint-every TIME  between checkpoints (default 60s; 0: after every chunk)\n"
     "  --chunk N           designs of the visit order handed out at a time (default: shrinking with what is\n"
     "                      left); results do not depend on it\n"
     "  --reproduce-h2llm   FILE... are the artifact's models: run its whole evaluation grid (3 models x 4\n"
     "                      workloads x batch 1, 4, 16 x 9 designs) under h2llm-artifact; --csv for the grid\n",
     cmd_explore},
    {"profile", "Measure each KV head's need for full context on calibration Q/K (.npy), or read a profile; the plan.",
     "  --calib DIR         measure: DIR holds q.L.npy [heads, queries, head_dim], k.L.npy and (optionally)\n"
     "                      v.L.npy [kv_heads, tokens, head_dim] for every layer L; writes the profile CSV a\n"
     "                      sparsity block's profile = \"...\" reads, and reports each head's plan and output\n"
     "                      error. Without it: read the sparsity block's profile and print the plan\n"
     "  -o FILE             write the CSV to FILE instead of stdout (replaced only when complete)\n",
     cmd_profile},
    {"compat", "Check the h2llm-artifact cost model against the artifact's test vectors or baseline table.",
     "  --configs DIR       the artifact's model configs: DIR/<model>/shape.json and operator_graph.json\n"
     "                      (default: h2llm-configs or config beside FILE, else ./config)\n",
     cmd_compat},
    {"import-hf", "Write a .h2 model block from a Hugging Face model folder or its config.json.",
     "  -o FILE             write the .h2 to FILE (default: standard output)\n"
     "  --name NAME         the model's name (default: the folder's name)\n"
     "  -Werror             treat the warning about fields h2c does not model as an error\n",
     cmd_import_hf},
    {"validate", "Read a schedule (FILE.schedule.json) with the runtime's reader and check all of it.",
     "  --dump FILE         write the schedule again from what the reader kept (- for stdout): the same bytes\n"
     "                      as a schedule h2c wrote\n"
     "  -q                  quiet: no summary line\n",
     cmd_validate},
    {"run", "Run a .h2 file or a schedule on the emulated device: real values, time, energy (docs/runtime.md).",
     RUN_USAGE, cmd_run},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static const Command *command_named(const char *name) {
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    h2c_unreachable("a command missing from the table");
}

/* Loads and (for check) checks a file; returns the exit status. */
static int front(const Command *cmd, int argc, char **argv, bool dump) {
    Opts o;
    int rc = parse_common(cmd, argc, argv, &o, false);
    if (rc >= 0)
        return rc;
    Diag d;
    diag_init(&d, stderr);
    d.werror = o.werror;
    Session s;
    session_init(&s, &d);
    s.include_dirs = o.incs;
    s.ninclude = o.ninc;
    AstFile *root = fe_load(&s, o.file);
    if (root && dump && d.errors == 0)
        ast_dump(stdout, root);
    if (root && !dump && !d.stop) {
        Config *c = fe_check(&s, root, &o.sel);
        if (c && !o.quiet) {
            printf("%s: ok", o.file);
            if (c->model) {
                double es = precision_bytes((Precision)c->hw->precision);
                char w[32], k[32], t[32];
                fmt_size(w, sizeof w, model_weight_bytes(c->model, es));
                fmt_size(k, sizeof k, model_kv_bytes(c->model, c->workload, es));
                fmt_size(t, sizeof t, c->hw->channels * c->hw->banks_per_channel * c->hw->bank_capacity);
                printf(": model %s (%d layer%s, %d op%s), hardware %s, workload %s (batch %d, %d+%d tokens); "
                       "weights %s + KV %s of %s",
                       c->model->name, c->model->layers, plural(c->model->layers), c->model->nops,
                       plural(c->model->nops), c->hw->name, c->workload->name,
                       c->workload->batch, c->workload->prompt, c->workload->generate, w, k, t);
            } else {
                printf(": %d hardware block%s, %d workload block%s, %d sparsity block%s, %d explore block%s",
                       c->nhardware, plural(c->nhardware), c->nworkloads, plural(c->nworkloads), c->nsparsity,
                       plural(c->nsparsity), c->nexplore, plural(c->nexplore));
            }
            printf("\n");
        }
    }
    rc = d.errors ? 1 : 0;
    session_free(&s);
    return rc;
}

static int cmd_check(int argc, char **argv) { return front(command_named("check"), argc, argv, false); }
static int cmd_dump_ast(int argc, char **argv) { return front(command_named("dump-ast"), argc, argv, true); }

/* Loads, checks and lowers o->file in a session the caller frees; applies --objective and --dataflow.
 * NULL on failure, with *rc the exit status to return (1, or 2 for a bad option). */
static Module *load_module(const Command *cmd, Opts *o, Session *s, Diag *d, Config **cfg, int *rc) {
    diag_init(d, stderr);
    d->werror = o->werror;
    d->quiet = silent_rank;
    session_init(s, d);
    s->include_dirs = o->incs;
    s->ninclude = o->ninc;
    *rc = 1;
    *cfg = NULL;
    AstFile *root = fe_load(s, o->file);
    Config *c = root && !d->stop ? fe_check(s, root, &o->sel) : NULL;
    Module *m = c ? ir_lower(c, d) : NULL;
    if (m && !apply_mode_opts(cmd->name, o, m, rc)) {
        ir_module_free(m);
        return NULL;
    }
    *cfg = c;
    return m;
}

/* ---------------------------------------------------------------- output */

/* Writes to stdout, or to `path` the safe way (support/outfile.c: a regular file is replaced only
 * when complete, a device or FIFO is written in place, a symbolic link is followed). */
static bool write_output(const char *path, OutfileFn fn, const void *ctx) {
    Diag d;
    diag_init(&d, stderr);
    return outfile_write(path, fn, ctx, &d);
}

static void write_ir(FILE *out, const void *m) { ir_print(out, m); }
static void write_dot(FILE *out, const void *m) { ir_print_dot(out, m); }
static void write_ast(FILE *out, const void *f) { ast_dump(out, f); }

/* ---------------------------------------------------------------- pipelines */

/* Splits a comma list into a NULL-terminated array (in `buf`, which it modifies). */
static int split_list(char *buf, const char **items, int max) {
    int n = 0;
    for (char *p = buf; p && *p && n < max - 1;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = 0;
        if (*p)
            items[n++] = p;
        p = comma ? comma + 1 : NULL;
    }
    items[n] = NULL;
    return n;
}

static int run_pipeline(const char *cmd, Module *m, const Opts *o, Diag *d, bool default_passes) {
    static char pbuf[1024], abuf[1024], bbuf[1024];
    const char *passes[65], *after[65], *before[65];
    int npasses;
    if (o->passes) {
        snprintf(pbuf, sizeof pbuf, "%s", o->passes);
        npasses = split_list(pbuf, passes, 65);
    } else if (default_passes) {
        npasses = default_pipeline_len;
        for (int i = 0; i < npasses; i++)
            passes[i] = default_pipeline[i];
    } else {
        npasses = 0;
    }
    for (int i = 0; i < npasses; i++)
        if (!pass_lookup(passes[i]))
            return usage_error(cmd, "unknown pass '%s' (see 'h2c %s --help')", passes[i], cmd);
    snprintf(abuf, sizeof abuf, "%s", o->print_after ? o->print_after : "");
    snprintf(bbuf, sizeof bbuf, "%s", o->print_before ? o->print_before : "");
    split_list(abuf, after, 65);
    split_list(bbuf, before, 65);
    for (int i = 0; after[i]; i++)
        if (!pass_lookup(after[i]))
            return usage_error(cmd, "--print-ir-after: unknown pass '%s'", after[i]);
    for (int i = 0; before[i]; i++)
        if (!pass_lookup(before[i]))
            return usage_error(cmd, "--print-ir-before: unknown pass '%s'", before[i]);
    PipelineOpts po = {after, before, o->print_after_all, o->time_passes, !o->no_verify, stderr};
    return pipeline_run(m, passes, npasses, &po, d) ? 0 : 1;
}

/* The cost report on stderr: --report's kind, else the command's default, which is skipped quietly
 * when the passes that ran leave nothing to price (compile --passes=shapes). */
static int print_report(const Opts *o, const Module *m, Diag *d, ReportKind def) {
    ReportKind k = !o->report ? def
                   : strcmp(o->report, "ops") == 0 ? REPORT_OPS
                   : strcmp(o->report, "summary") == 0 ? REPORT_SUMMARY
                   : strcmp(o->report, "attention") == 0 ? REPORT_ATTENTION
                   : REPORT_NONE;
    char why[200];
    if (k == REPORT_NONE || (!o->report && !report_ready(m, why, sizeof why)))
        return 0;
    return report_print(stderr, m, k, d) ? 0 : 1;
}

/* ---------------------------------------------------------------- --emit, output folders, the backend */

typedef enum EmitKind { EM_IR, EM_DOT, EM_AST, EM_SCHEDULE, EM_C, EM_LLVM, EM_COUNT_ } EmitKind;
static const char *const emit_names[EM_COUNT_] = {"ir", "dot", "ast", "schedule", "c", "llvm"};
static const char *const emit_exts[EM_COUNT_] = {".h2ir", ".dot", ".ast", ".schedule.json", ".kernels.c",
                                                 ".kernels.ll"};
#define EM_BIT(k) (1u << (k))
#define EM_BACKEND (EM_BIT(EM_SCHEDULE) | EM_BIT(EM_C) | EM_BIT(EM_LLVM))

/* -o names a folder: an existing directory, or a path ending in '/'. */
static bool output_is_dir(const char *p) {
    if (!p || !*p)
        return false;
    if (p[strlen(p) - 1] == '/')
        return true;
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* --emit's comma list as a mask of EM_BIT()s; 0 after a usage error (*rc set). */
static unsigned parse_emit(const char *cmd, const Opts *o, bool ast_ok, int *rc) {
    bool dir = output_is_dir(o->output);
    if (!o->emit)
        return dir ? EM_BIT(EM_SCHEDULE) | EM_BIT(EM_C) : EM_BIT(EM_IR);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", o->emit);
    unsigned mask = 0;
    for (char *p = buf, *next; p; p = next) {
        next = strchr(p, ',');
        if (next)
            *next++ = 0;
        int k;
        for (k = 0; k < EM_COUNT_ && strcmp(p, emit_names[k]) != 0; k++) {
        }
        if (k == EM_COUNT_ || (k == EM_AST && !ast_ok)) {
            *rc = usage_error(cmd, "unknown --emit kind '%s' (%s)", p,
                              ast_ok ? "ir, dot, ast, schedule, c or llvm" : "ir, dot, schedule, c or llvm");
            return 0;
        }
        mask |= EM_BIT(k);
    }
    if ((mask & EM_BIT(EM_AST)) && mask != EM_BIT(EM_AST)) {
        *rc = usage_error(cmd, "--emit=ast takes no other kind");
        return 0;
    }
    if (!dir && (mask & (mask - 1))) {
        *rc = usage_error(cmd, "--emit=%s names several kinds: -o must name a folder (a directory, or a path ending "
                               "in '/')", o->emit);
        return 0;
    }
    return mask;
}

/* The files' base name: the input's, without its folder and its .h2 or .h2ir. */
static void unit_name(const char *input, char *out, size_t n) {
    const char *slash = strrchr(input, '/'), *base = slash ? slash + 1 : input;
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".h2ir") == 0)
        len -= 5;
    else if (len > 3 && strcmp(base + len - 3, ".h2") == 0)
        len -= 3;
    snprintf(out, n, "%.*s", (int)len, base);
}

/* The folder of -o DIR/, made if missing, with its missing parents. */
static bool make_output_dir(const char *path, Diag *d) {
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return true;
        diag_error(d, NOLOC, "cannot write into '%s': not a directory", path);
        return false;
    }
    if (errno != ENOENT) {
        diag_error(d, NOLOC, "cannot write into '%s': %s", path, strerror(errno));
        return false;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
        dir[n - 1] = 0;
    /* each missing folder of the path, as mkdir -p does */
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != 0)
            continue;
        char c = *p;
        *p = 0;
        if (mkdir(dir, 0777) != 0 && !(errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))) {
            diag_error(d, NOLOC, "cannot make the directory '%s': %s", dir, strerror(errno));
            return false;
        }
        *p = c;
        if (!c)
            break;
    }
    return true;
}

typedef struct Text {
    const char *text;
    size_t len;
} Text;

static void write_text(FILE *out, const void *ctx) {
    const Text *t = ctx;
    fwrite(t->text, 1, t->len, out);
}

/* The kernels of a schedule through a target, into memory first, so that a file is written only
 * when the whole unit was made. */
static bool write_kernels(const KernelTarget *t, const char *path, const char *unit, const Schedule *s, Diag *d) {
    int n;
    const KernelDesc *descs = be_schedule_kernels(s, &n);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) {
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    KernelOptions ko = {0};
    bool ok = be_emit_kernels(t, mem, unit, descs, n, &ko, d);
    ok = fclose(mem) == 0 && ok;
    if (ok) {
        Text tx = {buf, len};
        ok = outfile_write(path, write_text, &tx, d);
    }
    free(buf);
    return ok;
}

typedef struct JitJob {
    KernelDesc *descs;
    int n, cap;
    double load;        /* the estimated work of its kernels */
    Diag d;
    char *msgs;         /* its diagnostics, printed after the join */
    size_t len;
    FILE *f;
    KernelJit *jit;
    pthread_t tid;
    bool started;
} JitJob;

typedef struct JitRun {
    JitJob jobs[64];
    int threads, n;
    double t0;
    bool ok;
} JitRun;

static void *jit_thread(void *p) {
    JitJob *j = p;
    KernelOptions ko = {0};
    j->jit = be_jit_compile(j->descs, j->n, &ko, &j->d);
    return NULL;
}

/* What a kernel costs the JIT, roughly (measured: attention ~6x a GEMV, a run-time-rows GEMM ~2x). */
static double jit_weight(const KernelDesc *k) {
    return k->kind == KK_ATTN ? 6 : k->kind == KK_GEMM && k->gemm.m == 0 ? 2 : 1;
}

/* --jit: every kernel of the schedule JIT-compiled for this host in `threads` modules, each on a thread
 * of its own, the kernels dealt out by their weight (the heaviest to the least loaded module). */
static void jit_start(JitRun *r, const Schedule *s, int threads, Diag *d) {
    const KernelDesc *descs = be_schedule_kernels(s, &r->n);
    memset(r->jobs, 0, sizeof r->jobs);
    r->threads = threads > r->n ? (r->n > 0 ? r->n : 1) : threads;
    r->t0 = h2c_seconds();
    r->ok = true;
    int *order = h2c_raw_alloc(sizeof(int) * (size_t)(r->n + 1));
    if (!order) {
        diag_error(d, NOLOC, "out of memory");
        r->ok = false;
        return;
    }
    for (int i = 0; i < r->n; i++) {   /* by weight, heaviest first; ties in table order */
        int k = i;
        while (k > 0 && jit_weight(&descs[order[k - 1]]) < jit_weight(&descs[i])) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
    for (int t = 0; t < r->threads && r->ok; t++) {
        JitJob *j = &r->jobs[t];
        j->cap = r->n;
        j->descs = h2c_raw_alloc(sizeof *j->descs * (size_t)(r->n + 1));
        j->f = open_memstream(&j->msgs, &j->len);
        if (!j->descs || !j->f) {
            diag_error(d, NOLOC, "out of memory");
            r->ok = false;
        } else {
            diag_init(&j->d, j->f);
        }
    }
    for (int i = 0; i < r->n && r->ok; i++) {
        JitJob *best = &r->jobs[0];
        for (int t = 1; t < r->threads; t++)
            if (r->jobs[t].load < best->load)
                best = &r->jobs[t];
        best->descs[best->n++] = descs[order[i]];
        best->load += jit_weight(&descs[order[i]]);
    }
    h2c_raw_free(order, sizeof(int) * (size_t)(r->n + 1));
    for (int t = 0; t < r->threads && r->ok; t++)
        r->jobs[t].started = pthread_create(&r->jobs[t].tid, NULL, jit_thread, &r->jobs[t]) == 0;
}

/* Waits for the modules (compiling on this thread what no thread took) and says how long it took. */
static bool jit_finish(JitRun *r, bool quiet, Diag *d) {
    bool ok = r->ok;
    for (int t = 0; t < r->threads; t++) {
        JitJob *j = &r->jobs[t];
        if (j->started)
            pthread_join(j->tid, NULL);
        else if (ok)
            jit_thread(j);
    }
    double wall = h2c_seconds() - r->t0;
    const char *host = NULL;
    for (int t = 0; t < r->threads; t++) {
        JitJob *j = &r->jobs[t];
        if (j->f)
            fclose(j->f);
        if (j->msgs && j->len)
            fputs(j->msgs, stderr);
        d->errors += j->d.errors;
        if (!j->jit)
            ok = false;
        else if (!host)
            host = be_jit_target(j->jit);
    }
    if (!quiet && ok)
        fprintf(stderr, "jit: %d kernel%s in %d module%s on %d thread%s: %.3f s wall (%s)\n", r->n, plural(r->n),
                r->threads, plural(r->threads), r->threads, plural(r->threads), wall, host ? host : "");
    for (int t = 0; t < r->threads; t++) {
        be_jit_free(r->jobs[t].jit);
        h2c_raw_free(r->jobs[t].descs, sizeof *r->jobs[t].descs * (size_t)(r->jobs[t].cap + 1));
        free(r->jobs[t].msgs);
    }
    return ok;
}

/* Writes what --emit asks for: to -o FILE or stdout, or one file per kind into -o DIR. */
static int write_outputs(const Opts *o, Module *m, unsigned mask, Diag *d) {
    bool dir = output_is_dir(o->output);
    if (dir && !make_output_dir(o->output, d))
        return 1;
    char name[256];
    unit_name(o->file, name, sizeof name);
    Schedule *s = NULL;
    if ((mask & EM_BACKEND) || o->jit) {
        s = be_schedule_build(m, name, d);
        if (!s)
            return 1;
    }
    /* the JIT works on its threads while the files are written */
    static JitRun jit;
    if (o->jit) {
        int threads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
        jit_start(&jit, s, threads < 1 ? 1 : threads > 64 ? 64 : threads, d);
    }
    bool ok = true;
    for (int k = 0; k < EM_COUNT_ && ok; k++) {
        if (!(mask & EM_BIT(k)))
            continue;
        char path[PATH_MAX];
        const char *p = o->output;
        if (dir) {
            size_t n = strlen(o->output);
            snprintf(path, sizeof path, "%s%s%s%s", o->output, n && o->output[n - 1] == '/' ? "" : "/", name,
                     emit_exts[k]);
            p = path;
        }
        switch ((EmitKind)k) {
        case EM_IR: ok = write_output(p, write_ir, m); break;
        case EM_DOT: ok = write_output(p, write_dot, m); break;
        case EM_SCHEDULE: {
            JsonText t;
            if (!be_schedule_render(s, &t)) {
                diag_error(d, NOLOC, "out of memory");
                ok = false;
                break;
            }
            Text tx = {t.text, t.len};
            ok = outfile_write(p, write_text, &tx, d);
            be_json_text_free(&t);
            break;
        }
        case EM_C: ok = write_kernels(&be_target_c, p, name, s, d); break;
        case EM_LLVM: ok = write_kernels(&be_target_llvm, p, name, s, d); break;
        case EM_AST:
        case EM_COUNT_: break;
        }
    }
    if (o->jit && !jit_finish(&jit, o->quiet, d))
        ok = false;
    be_schedule_free(s);
    return ok ? 0 : 1;
}

static int cmd_compile(int argc, char **argv) {
    const Command *cmd = command_named("compile");
    Opts o;
    int rc = parse_common(cmd, argc, argv, &o, true);
    if (rc >= 0)
        return rc;
    unsigned mask = parse_emit(cmd->name, &o, true, &rc);
    if (!mask)
        return rc;
    Diag d;
    Session s;
    if (mask == EM_BIT(EM_AST)) {
        diag_init(&d, stderr);
        session_init(&s, &d);
        s.include_dirs = o.incs;
        s.ninclude = o.ninc;
        AstFile *root = fe_load(&s, o.file);
        const char *path = o.output;
        char buf[PATH_MAX], name[256];
        if (output_is_dir(o.output)) {
            unit_name(o.file, name, sizeof name);
            size_t n = strlen(o.output);
            snprintf(buf, sizeof buf, "%s%s%s.ast", o.output, n && o.output[n - 1] == '/' ? "" : "/", name);
            path = buf;
        }
        rc = root && d.errors == 0 && (!output_is_dir(o.output) || make_output_dir(o.output, &d)) &&
                     write_output(path, write_ast, root)
                 ? 0
                 : 1;
        session_free(&s);
        return rc;
    }
    Config *c;
    Module *m = load_module(cmd, &o, &s, &d, &c, &rc);
    if (m) {
        rc = run_pipeline(cmd->name, m, &o, &d, true);
        if (rc == 0)
            rc = write_outputs(&o, m, mask, &d);
        if (rc == 0)
            rc = print_report(&o, m, &d, o.quiet ? REPORT_NONE : REPORT_SUMMARY);
        ir_module_free(m);
    }
    if (d.errors && rc == 0)
        rc = 1;
    session_free(&s);
    return rc;
}

static int cmd_opt(int argc, char **argv) {
    const Command *cmd = command_named("opt");
    Opts o;
    int rc = parse_common(cmd, argc, argv, &o, true);
    if (rc >= 0)
        return rc;
    unsigned mask = parse_emit(cmd->name, &o, false, &rc);
    if (!mask)
        return rc;
    Diag d;
    diag_init(&d, stderr);
    Arena text;
    arena_init(&text);
    SrcFile *src = srcfile_read(&text, &d, o.file, NOLOC, IR_MAX_FILE_BYTES);
    Module *m = src ? ir_parse(o.file, src->text, src->len, &d) : NULL;
    arena_free(&text);
    if (!m)
        return 1;
    if (!apply_mode_opts(cmd->name, &o, m, &rc)) {
        ir_module_free(m);
        return rc;
    }
    rc = run_pipeline(cmd->name, m, &o, &d, false);
    if (rc == 0)
        rc = write_outputs(&o, m, mask, &d);
    if (rc == 0)
        rc = print_report(&o, m, &d, REPORT_NONE);
    ir_module_free(m);
    return rc;
}

/* h2c compat FILE [--configs DIR]: the numbers of the artifact's files, recomputed (passes/compat.c). */
static int cmd_compat(int argc, char **argv) {
    const Command *cmd = command_named("compat");
    const char *file = NULL, *configs = NULL, *v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            if (silent_rank)
                return 0;
            printf("usage: h2c compat [options] FILE\n%s\n\n"
                   "FILE is the artifact's test-vector file (JSON, h2llm-testvectors.json) or its baseline table\n"
                   "(text, h2llm-baselines.txt). Each entry is recomputed with the h2llm-artifact cost model and\n"
                   "compared with the file: one line per entry, then the largest relative error. A computed\n"
                   "value is rounded to as many significant digits as the file writes its expected value with.\n"
                   "Exit status: 0 if every entry is within %g, 1 otherwise or on a malformed file, 2 on a bad\n"
                   "command line.\n\n"
                   "options:\n%s  -h, --help          show this help\n",
                   cmd->summary, COMPAT_TOLERANCE, cmd->usage);
            return 0;
        } else if ((v = opt_value(argc, argv, &i, "--configs"))) {
            configs = v;
        } else if (strcmp(a, "--configs") == 0) {
            return usage_error(cmd->name, "--configs needs a directory");
        } else if (a[0] == '-' && a[1]) {
            return usage_error(cmd->name, "unknown option '%s'", a);
        } else if (file) {
            return usage_error(cmd->name, "more than one input file ('%s')", a);
        } else {
            file = a;
        }
    }
    if (!file)
        return usage_error(cmd->name, "no input file");
    /* the configs beside the file (the reference layout: h2llm-testvectors.json next to h2llm-configs/,
       or the artifact's: config/), else ./config */
    static char beside[PATH_MAX];
    for (int k = 0; !configs && k < 2; k++) {
        const char *slash = strrchr(file, '/');
        snprintf(beside, sizeof beside, "%.*s%s", slash ? (int)(slash - file + 1) : 0, file,
                 k == 0 ? "h2llm-configs" : "config");
        struct stat st;
        if (stat(beside, &st) == 0 && S_ISDIR(st.st_mode))
            configs = beside;
    }
    if (!configs)
        configs = "config";
    Diag d;
    diag_init(&d, stderr);
    CompatSummary sum;
    if (!compat_check(file, configs, stdout, &sum, &d))
        return 1;
    return sum.failed == 0 && d.errors == 0 ? 0 : 1;
}


/* ---------------------------------------------------------------- import-hf */

static int cmd_import_hf(int argc, char **argv) {
    const Command *cmd = command_named("import-hf");
    const char *path = NULL, *output = NULL, *name = NULL, *v;
    bool werror = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            if (silent_rank)
                return 0;
            printf("usage: h2c import-hf [options] DIR | CONFIG.json\n%s\n\n"
                   "DIR is a Hugging Face model folder (its config.json is read), or give the config.json itself.\n"
                   "Architectures: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, OPTForCausalLM,\n"
                   "GemmaForCausalLM, Phi3ForCausalLM, GPTNeoXForCausalLM. The written file stands alone: h2c\n"
                   "compile takes it with the default device and workload when the model fits that device (32 GiB\n"
                   "of weights and KV cache); a larger model needs a hardware block of its own.\n\n"
                   "options:\n%s  -h, --help          show this help\n",
                   cmd->summary, cmd->usage);
            return 0;
        } else if ((v = opt_value(argc, argv, &i, "-o"))) {
            output = v;
        } else if ((v = opt_value(argc, argv, &i, "--name"))) {
            name = v;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--name") == 0) {
            return usage_error(cmd->name, "%s needs a value", a);
        } else if (strcmp(a, "-Werror") == 0) {
            werror = true;
        } else if (a[0] == '-' && a[1]) {
            return usage_error(cmd->name, "unknown option '%s'", a);
        } else if (path) {
            return usage_error(cmd->name, "more than one input ('%s')", a);
        } else {
            path = a;
        }
    }
    if (!path)
        return usage_error(cmd->name, "no model folder or config.json");
    if (name) {
        bool ok = (name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z');
        for (const char *p = name; *p && ok; p++)
            ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
        if (!ok)
            return usage_error(cmd->name, "--name '%s' is not a .h2 name (a letter, then letters, digits, '_')", name);
    }
    struct stat st;
    bool is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    Diag d;
    diag_init(&d, stderr);
    d.werror = werror;
    Arena a;
    arena_init(&a);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    int rc = 1;
    if (!mem) {
        fprintf(stderr, "h2c: error: out of memory\n");
    } else {
        bool ok = fe_import_hf(&a, path, is_dir, name, mem, &d);
        ok = fclose(mem) == 0 && ok && d.errors == 0;
        Text tb = {text, len};
        if (ok && outfile_write(output, write_text, &tb, &d))
            rc = 0;
    }
    free(text);
    arena_free(&a);
    return rc;
}

/* h2c validate FILE.schedule.json [--dump FILE] [-q]: the runtime's reader (runtime/sched_read.c). */
static int cmd_validate(int argc, char **argv) {
    const Command *cmd = command_named("validate");
    const char *file = NULL, *dump = NULL, *v;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            printf("usage: h2c validate [options] FILE.schedule.json\n%s\n\n"
                   "The reader checks every field's presence, type and range, the device's units and links, the\n"
                   "memory map, the kernel table, every command (its unit, its references, its kernel's ABI at every\n"
                   "context up to max_seq) and the dependencies; the first problem is reported with the JSON path of\n"
                   "what is wrong (docs/schedule.md). Exit status: 0 if the schedule is valid, 1 if not, 2 on a bad\n"
                   "command line.\n\noptions:\n%s  -h, --help          show this help\n",
                   cmd->summary, cmd->usage);
            return 0;
        } else if ((v = opt_value(argc, argv, &i, "--dump"))) {
            dump = v;
        } else if (strcmp(a, "--dump") == 0) {
            return usage_error(cmd->name, "--dump needs a file name");
        } else if (strcmp(a, "-q") == 0) {
            quiet = true;
        } else if (a[0] == '-' && a[1]) {
            return usage_error(cmd->name, "unknown option '%s'", a);
        } else if (file) {
            return usage_error(cmd->name, "more than one input file ('%s')", a);
        } else {
            file = a;
        }
    }
    if (!file)
        return usage_error(cmd->name, "no input file");
    Diag d;
    diag_init(&d, stderr);
    RtSchedule *s = rt_schedule_read(file, &d);
    if (!s)
        return 1;
    int rc = 0;
    if (!quiet) {
        int n[2] = {0, 0};
        for (int p = 0; p < 2; p++)
            for (int sc = 0; sc < RT_SCHED_SCOPE_COUNT_; sc++)
                n[p] += s->phase[p].body[sc].ncmds;
        printf("%s: ok: schedule v%d of %s (model %s on %s, workload %s): %d tensor%s, %d kernel%s; prefill %d "
               "commands, decode %d (one pass over each scope)\n", file, s->version, s->name, s->model_name,
               s->dev.name, s->workload_name, s->ntensors, plural(s->ntensors), s->nkernels, plural(s->nkernels), n[0],
               n[1]);
    }
    if (dump) {
        RtText t;
        if (!rt_schedule_render(s, &t)) {
            diag_error(&d, NOLOC, "out of memory");
            rc = 1;
        } else {
            Text tx = {t.text, t.len};
            if (!outfile_write(dump, write_text, &tx, &d))
                rc = 1;
            rt_text_free(&t);
        }
    }
    rt_schedule_free(s);
    return rc;
}

/* ---------------------------------------------------------------- explore */

static void write_grid_csv(FILE *out, const void *g) { grid_write_csv(out, g); }

/* h2c explore --reproduce-h2llm MODEL.h2...: the artifact's grid for these models. */
static int reproduce_h2llm_cmd(const Command *cmd, const Opts *o) {
    /* the grid fixes the devices, workloads, batch sizes, dataflows and cost model itself */
    if (o->sel.batch || o->sel.cost_model || o->sel.workload || o->sel.hardware || o->objective || o->dataflow ||
        o->write_hw || o->write_ir || o->budget_seconds || o->budget_evals || o->stream || o->checkpoint || o->chunk)
        return usage_error(cmd->name, "--reproduce-h2llm runs the artifact's own grid; it takes only model files, "
                                      "--csv, --splits, --threads and -q");
    Diag d;
    diag_init(&d, stderr);
    Session sessions[8];
    Config *configs[8];
    int n = 0, rc = 1;
    for (int i = 0; i < o->nfiles; i++) {
        session_init(&sessions[i], &d);
        sessions[i].include_dirs = (const char **)o->incs;
        sessions[i].ninclude = o->ninc;
        n = i + 1;
        AstFile *root = fe_load(&sessions[i], o->files[i]);
        configs[i] = root && !d.stop ? fe_check(&sessions[i], root, &o->sel) : NULL;
        if (!configs[i])
            goto done;
        if (!configs[i]->model) {
            diag_error(&d, NOLOC, "'%s' defines no model", o->files[i]);
            goto done;
        }
    }
    int threads = o->threads > 0 ? o->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    Grid g;
    SplitSpace splits = o->splits && strcmp(o->splits, "artifact") == 0 ? SPLITS_ARTIFACT : SPLITS_ALL;
    if (reproduce_h2llm(configs, n, threads, splits, &g, &d)) {
        rc = 0;
        if (!o->quiet)
            grid_print(stdout, &g);
        if (o->csv && !write_output(o->csv, write_grid_csv, &g))
            rc = 1;
    }
    grid_free(&g);
done:
    for (int i = 0; i < n; i++)
        session_free(&sessions[i]);
    (void)cmd;
    return rc;
}

/* The path of `target` relative to the directory of `from` (a file that may not exist yet). */
static void relative_path(const char *from, const char *target, char *out, size_t n) {
    char dir[PATH_MAX], abs_dir[PATH_MAX], abs_target[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", from);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    if (!realpath(dir, abs_dir) || !realpath(target, abs_target)) {
        snprintf(out, n, "%s", target);
        return;
    }
    /* common leading directories */
    size_t i = 0, last = 0;
    while (abs_dir[i] && abs_dir[i] == abs_target[i]) {
        if (abs_dir[i] == '/')
            last = i;
        i++;
    }
    if (!abs_dir[i] && abs_target[i] == '/')
        last = i;
    size_t k = 0;
    out[0] = 0;
    for (const char *q = abs_dir + last; *q && k < n; q++)
        if (*q == '/' && q[1])
            k += (size_t)snprintf(out + k, n - k, "../");
    if (k < n)
        snprintf(out + k, n - k, "%s", abs_target + last + 1);
}

typedef struct ExploreOut {
    const Module *m;
    const Explore *xp;
    const ExploreResult *r;
    const char *input;      /* the .h2 explored */
    const char *hw_path;    /* where the hardware block goes */
} ExploreOut;

static void write_explore_csv(FILE *out, const void *ctx) {
    const ExploreOut *e = ctx;
    explore_write_csv(out, e->m, e->xp, e->r);
}

static void write_best_hw(FILE *out, const void *ctx) {
    const ExploreOut *e = ctx;
    const Design *best = &e->r->designs[e->r->best];
    Hardware hw;
    explore_device(e->m, e->xp, best->index, &hw);
    char rel[PATH_MAX];
    relative_path(e->hw_path, e->input, rel, sizeof rel);
    fprintf(out, "// The best design h2c explore found for %s: model %s, workload %s, cost model %s, objective %s.\n",
            e->input, e->m->model.name, e->m->work.name, cost_model_names[e->m->cost_model],
            objective_names[e->m->objective]);
    const CostModel *cm = cost_model_get(e->m->cost_model);
    char energy[64];
    if (cm->has_energy)
        snprintf(energy, sizeof energy, "energy %.6g J", best->energy);
    else
        snprintf(energy, sizeof energy, "energy not modelled by %s", cm->name);
    fprintf(out, "// Latency %.9g s%s, %s. Compile it with: h2c compile %s\n", best->total,
            e->m->cost_model == CM_ARTIFACT ? " per layer" : "", energy, e->hw_path);
    fputs("import ", out);
    fe_write_string(out, rel);
    fputs(";\n\n", out);
    fe_write_hardware(out, &hw, "explored");
    /* everything else the plan depends on, so compiling this file gives the same plan */
    const Workload *w = &e->m->work;
    fprintf(out, "\nworkload explored_workload {\n  batch = %d;\n  prompt = %d tokens;\n  generate = %d tokens;\n"
                 "  max_seq = %d tokens;\n}\n", w->batch, w->prompt, w->generate, w->max_seq);
    fprintf(out, "\nexplore explored_setting {\n  dataflow = %s;\n  objective = %s;\n%s}\n",
            dataflow_mode_names[e->m->dataflow], objective_names[e->m->objective],
            e->m->splits == SPLITS_ARTIFACT ? "  splits = artifact;\n" : "");
    fprintf(out, "\nuse hardware explored;\nuse workload explored_workload;\nuse explore explored_setting;\n"
                 "use cost-model %s;\n", cost_model_names[e->m->cost_model]);
}

/* The fault injection of the kill-and-resume tests (docs/distributed.md, "Testing"):
 * H2C_TEST_KILL_AFTER_CHUNKS=N[:R] makes rank R (default 0, the process that merges; the only one
 * without MPI) kill itself with SIGKILL once it has merged (rank 0) or sent (another rank) N chunks. */
static long long kill_after(int *rank) {
    const char *v = getenv("H2C_TEST_KILL_AFTER_CHUNKS");
    *rank = 0;
    if (!v || !*v)
        return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end == ':')
        *rank = (int)strtol(end + 1, &end, 10);
    return *end || n < 1 ? 0 : n;
}

static void kill_on_merge(void *ctx, long long chunks) {
    if (chunks == *(const long long *)ctx)
        raise(SIGKILL);
}

/* A `models` sweep axis: each model of it lowered like the selected one (same device, workload and
 * modes), shapes filled. NULL with a diagnostic on failure. */
static Module **sweep_models(const Config *c, const Module *m, int *n, Diag *d) {
    const SweepAxis *ax = NULL;
    for (int i = 0; c->xp && i < c->xp->nsweeps; i++)
        if (c->xp->sweeps[i].field == SW_MODEL)
            ax = &c->xp->sweeps[i];
    *n = 0;
    if (!ax)
        return NULL;
    Module **mods = calloc((size_t)ax->nvalues, sizeof *mods);
    if (!mods) {
        diag_error(d, NOLOC, "out of memory");
        return NULL;
    }
    for (int k = 0; k < ax->nvalues; k++) {
        Config ck = *c;
        ck.model = c->models[(int)ax->values[k]];
        mods[k] = ir_lower(&ck, d);
        *n = k + 1;
        if (!mods[k] || !pass_shapes(mods[k], d)) {
            for (int i = 0; i < *n; i++)
                if (mods[i])
                    ir_module_free(mods[i]);
            free(mods);
            *n = 0;
            return NULL;
        }
        mods[k]->dataflow = m->dataflow;
        mods[k]->objective = m->objective;
        mods[k]->splits = m->splits;
    }
    return mods;
}

static int cmd_explore(int argc, char **argv) {
    const Command *cmd = command_named("explore");
    Opts o;
    int rc = parse_common(cmd, argc, argv, &o, false);
    if (rc >= 0)
        return rc;
    if (o.reproduce) {
#ifdef H2C_MPI
        (void)reproduce_h2llm_cmd;
        return usage_error(cmd->name, "h2c-mpi explores a file's space; run --reproduce-h2llm with h2c");
#else
        return reproduce_h2llm_cmd(cmd, &o);
#endif
    }
    Diag d;
    Session s;
    Config *c;
    Module *m = load_module(cmd, &o, &s, &d, &c, &rc);
    if (!m && rc == 2) {
        session_free(&s);
        return rc;
    }
    rc = 1;
    bool ready = m != NULL;
    if (ready && c->xp && c->xp->nsweeps > 0 && (o.write_hw || o.write_ir)) {
        /* a sweep has a best design per point, not one */
        diag_error(&d, c->xp->sweeps[0].loc, "%s writes the one best design of a space, but this explore block sweeps "
                   "'%s' (a best design per point): write the design of one point by exploring its workload without "
                   "the sweep", o.write_hw ? "--write-hw" : "--write-ir", sweep_fields[c->xp->sweeps[0].field].path);
        ready = false;
    }
    if (ready && m->dataflow != DF_DATA_CENTRIC && m->dataflow != DF_COMPUTE_CENTRIC) {
        if (o.dataflow) {
            ir_module_free(m);
            session_free(&s);
            return usage_error(cmd->name, "explore searches data-centric or compute-centric dataflows, not %s",
                               dataflow_mode_names[m->dataflow]);
        }
        diag_error(&d, c && c->xp ? c->xp->loc : NOLOC,
                   "explore searches data-centric or compute-centric dataflows; %s is a fixed mapping (try h2c "
                   "compile --dataflow %s)", dataflow_mode_names[m->dataflow], dataflow_mode_names[m->dataflow]);
        ready = false;
    }
    ready = ready && pass_shapes(m, &d);
    int nmodels = 0;
    Module **models = ready ? sweep_models(c, m, &nmodels, &d) : NULL;
    ready = ready && d.errors == 0;
#ifdef H2C_MPI
    bool root = mpi_rank() == 0;
    int ranks = mpi_size();
    int threads = o.threads > 0 ? o.threads : 1;    /* the ranks are the parallelism */
#else
    bool root = true;
    int ranks = 1;
    int threads = o.threads > 0 ? o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
#endif
    if (threads < 1)
        threads = 1;
    int kill_rank;
    long long kill_n = kill_after(&kill_rank);
    ExploreRun *run = NULL;
    ExploreResult r;
    memset(&r, 0, sizeof r);
    if (ready) {
        /* .ablation: the hook for a sweep's speedup and energy gain (search.h, ExploreAblationFn), to be
           connected to the sparsity passes' ablation (dense HB baseline vs the full plan); until then the
           sweep's ratios are 1 and say so */
        ExploreOpts eo = {.cm = cost_model_get(m->cost_model), .threads = threads, .budget_seconds = o.budget_seconds,
                          .budget_evals = o.budget_evals, .progress = root && (o.progress < 0 ? isatty(2) : o.progress),
                          .stream = o.stream, .top = o.top, .chunk = o.chunk,
                          .checkpoint = root ? o.checkpoint : NULL,
                          .checkpoint_every = o.checkpoint_every >= 0 ? o.checkpoint_every : 60,
                          .models = models, .nmodels = nmodels, .ranks = ranks,
                          .on_merge = root && kill_n && kill_rank == 0 ? kill_on_merge : NULL, .on_merge_ctx = &kill_n,
                          .ablation = report_ablation, .ablation_ctx = NULL};
        if (c->xp && !o.budget_seconds && c->xp->budget_seconds) {
            eo.budget_seconds = c->xp->budget_seconds;
            eo.budget_from_block = true;
        }
        if (c->xp && !o.budget_evals && c->xp->budget_evals) {
            eo.budget_evals = c->xp->budget_evals;
            eo.evals_from_block = true;
        }
        ready = explore_open(m, c->xp, &eo, &run, &d);
    }
    bool ok;
#ifdef H2C_MPI
    /* every rank must have read the same exploration before any of them starts */
    ready = mpi_agree(ready, ready ? explore_fingerprint(run) : 0, &d);
    ok = ready && explore_mpi(run, threads, o.progress < 0 ? isatty(2) : o.progress, kill_rank > 0 ? kill_n : 0,
                              kill_rank, &r, &d);
#else
    ok = ready && explore_drive(run, threads, NULL, &d) && explore_finish(run, &r, &d);
#endif
    explore_close(run);
    if (ok && !root)
        rc = 0;
    if (ok && root) {
        rc = 0;
        if (!o.quiet)
            explore_print(stdout, m, c->xp, &r, o.top, threads);
        ExploreOut eout = {m, c->xp, &r, o.file, o.write_hw};
        if (o.csv && !write_output(o.csv, write_explore_csv, &eout))
            rc = 1;
        if (o.write_hw && !write_output(o.write_hw, write_best_hw, &eout))
            rc = 1;
        if (o.write_ir) {
            /* the best device's full pipeline: the same search again (it is deterministic) */
            explore_device(m, c->xp, r.designs[r.best].index, &m->dev.hw);
            /* a new device: its fields no longer come from the lines of the original block */
            m->dev.hw.name = "explored";
            m->work.name = "explored_workload"; /* the names --write-hw gives them */
            m->dev.hw.loc = NOLOC;
            for (int i = 0; i < HWF_COUNT_; i++)
                m->dev.hw.locs[i] = NOLOC;
            ir_device_build(&m->arena, &m->dev);
            static const char *const passes[] = {"dataflow", "sparsity", "coplace", "balance", "placement"};
            PipelineOpts po = {NULL, NULL, false, false, true, stderr};
            if (!pipeline_run(m, passes, 5, &po, &d) || !write_output(o.write_ir, write_ir, m))
                rc = 1;
        }
    }
    explore_result_free(&r);
    for (int i = 0; i < nmodels; i++)
        ir_module_free(models[i]);
    free(models);
    if (m)
        ir_module_free(m);
    session_free(&s);
    return rc;
}

/* ---------------------------------------------------------------- profile */

typedef struct ProfileOut {
    const Model *md;
    const HeadProfile *heads;   /* measured (then `comments` too), or NULL */
    const char *const *comments;
    int ncomments;
    const double *scores;       /* read: the scores and their plan */
    const SparsePattern *plan;
} ProfileOut;

static void write_profile(FILE *out, const void *ctx) {
    const ProfileOut *p = ctx;
    if (p->heads) {
        sparse_profile_write(out, p->comments, p->ncomments, p->md->layers, p->md->kv_heads, p->heads);
        return;
    }
    fputs("layer,head,score,plan\n", out);
    for (int c = 0; c < p->md->layers * p->md->kv_heads; c++) {
        char sc[32];
        fmt_double(sc, sizeof sc, p->scores[c]);
        fprintf(out, "%d,%d,%s,%s\n", c / p->md->kv_heads, c % p->md->kv_heads, sc, sparse_pattern_names[p->plan[c]]);
    }
}

/* h2c profile FILE.h2 --calib DIR: measures the model's head profile and writes it; without --calib,
 * reads the profile the sparsity block names and prints the plan it gives. */
static int cmd_profile(int argc, char **argv) {
    const Command *cmd = command_named("profile");
    Opts o;
    int rc = parse_common(cmd, argc, argv, &o, false);
    if (rc >= 0)
        return rc;
    Diag d;
    diag_init(&d, stderr);
    d.werror = o.werror;
    Session s;
    session_init(&s, &d);
    s.include_dirs = o.incs;
    s.ninclude = o.ninc;
    AstFile *root = fe_load(&s, o.file);
    Config *c = root && !d.stop ? fe_check(&s, root, &o.sel) : NULL;
    rc = 1;
    if (c && !c->model) {
        diag_error(&d, NOLOC, "'%s' defines no model: h2c profile measures a model's KV heads", o.file);
    } else if (c) {
        const Model *md = c->model;
        const Sparsity *sp = c->sparse;
        int n = md->layers * md->kv_heads;
        Arena a;
        arena_init(&a);
        ProfileOut po = {md, NULL, NULL, 0, NULL, NULL};
        if (o.calib) {
            HeadProfile *heads = ARENA_ARRAY(&a, HeadProfile, n);
            CalibInfo info;
            if (profile_measure(o.calib, md, sp, heads, &info, &d)) {
                const char **lines = ARENA_ARRAY(&a, const char *, 4);
                po.heads = heads;
                po.ncomments = profile_comments(&a, o.calib, md, sp, heads, &info, lines);
                po.comments = lines;
                rc = write_output(o.output, write_profile, &po) ? 0 : 1;
                if (!o.quiet)
                    profile_report(stderr, o.calib, md, sp, heads, &info);
            }
        } else if (!sp || !sp->profile) {
            diag_error(&d, sp ? sp->loc : NOLOC, "no profile to read: %s names none (profile = \"FILE\"); give --calib "
                       "DIR to measure one", sp ? "the sparsity block" : "the file has no sparsity block, so it");
        } else {
            double *scores = ARENA_ARRAY(&a, double, n);
            SparsePattern *plan = ARENA_ARRAY(&a, SparsePattern, n);
            const char *path = sparse_profile_path(&a, sp->profile, sp->profile_loc);
            if (sparse_profile_load(path, md->layers, md->kv_heads, scores, sp->profile_loc, &d)) {
                int nstatic = sparse_assign(sp, md->layers, md->kv_heads, scores, plan);
                if (nstatic < 0) {
                    diag_error(&d, NOLOC, "out of memory");
                    arena_free(&a);
                    session_free(&s);
                    return 1;
                }
                po.scores = scores;
                po.plan = plan;
                rc = write_output(o.output, write_profile, &po) ? 0 : 1;
                if (!o.quiet) {
                    int dense = 0;
                    for (int i = 0; i < n; i++)
                        dense += plan[i] == SPAT_DENSE;
                    char share[32];
                    fmt_double(share, sizeof share, sp->static_heads * 100);
                    fprintf(stderr, "profile '%s' of model %s (%d layers x %d KV heads): sparsity '%s' (%s, "
                            "static_heads %s%%, dense_layers %d) gives %d static, %d dynamic, %d dense\n", path,
                            md->name, md->layers, md->kv_heads, sp->name, sparse_mode_names[sp->mode], share,
                            sp->dense_layers, nstatic, n - nstatic - dense, dense);
                }
            }
        }
        arena_free(&a);
    }
    if (d.errors)
        rc = 1;
    session_free(&s);
    return rc;
}

static void print_help(void) {
    if (silent_rank)
        return;
#ifdef H2C_MPI
    printf("usage: mpirun -np N h2c-mpi explore [options] FILE.h2\n\n"
           "h2c-mpi is h2c explore over MPI ranks: rank 0 hands out chunks of the design space and merges what\n"
           "every rank finds; the table, the Pareto front and the CSV are those of a one-process run.\n"
           "'h2c-mpi explore --help' lists the options (h2c explore's). Other commands: h2c.\n");
    return;
#endif
    printf("usage: h2c COMMAND [options] FILE\n\n"
           "h2c compiles LLM inference for hybrid-bonding accelerators.\n\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++)
        printf("  %-10s %s\n", commands[i].name, commands[i].summary);
    printf("\n'h2c COMMAND --help' describes a command's options. 'h2c --version' prints the version.\n"
           "Exit status: 0 success, 1 error in the input, 2 bad command line.\n");
}

/* h2c run FILE.h2 | FILE.schedule.json: the .h2 is compiled in memory into the very schedule
 * `h2c compile -o DIR/` writes, rendered and read back, so both inputs run the same code. */
static int cmd_run(int argc, char **argv) {
    const Command *cmd = command_named("run");
    RunArgs ra;
    run_defaults(&ra);
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    if (!rest)
        return 1;
    int nrest = 0;
    rest[nrest++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: h2c run [options] FILE.h2 | FILE.schedule.json\n%s\n\n"
                   "Runs prefill and the decode steps on the emulated device: every command of the schedule on real\n"
                   "data (the kernels JIT-compiled), time and energy from an event-driven model of the device's units\n"
                   "and links, and a summary. Exit status: 0, 1 on an error or a failed --check, 2 on a bad command\n"
                   "line.\n\noptions:\n%s%s%s",
                   cmd->summary, cmd->usage, COMMON_OPTS, HELP_OPT);
            free(rest);
            return 0;
        }
        int r = run_option(&ra, argc, argv, &i);
        if (r == 2) {
            free(rest);
            return 2;
        }
        if (r == 0)
            rest[nrest++] = argv[i];
    }
    /* a schedule is a .json input; anything else is a .h2 for the front end's options */
    const char *file = NULL;
    bool quiet = false;
    for (int i = 1; i < nrest; i++) {
        size_t n = strlen(rest[i]);
        if (rest[i][0] != '-' && n > 5 && strcmp(rest[i] + n - 5, ".json") == 0)
            file = rest[i];
        else if (strcmp(rest[i], "-q") == 0)
            quiet = true;
    }
    size_t fl = file ? strlen(file) : 0;
    Diag d;
    diag_init(&d, stderr);
    int rc = 1;
    if (file && fl > 5 && strcmp(file + fl - 5, ".json") == 0) {
        /* a schedule: only -q goes with it */
        for (int i = 1; i < nrest; i++)
            if (rest[i] != file && strcmp(rest[i], "-q") != 0) {
                rc = usage_error(cmd->name, "%s with a schedule: only the run options and -q apply", rest[i]);
                free(rest);
                return rc;
            }
        RtSchedule *s = rt_schedule_read(file, &d);
        rc = s ? run_schedule(s, &ra, quiet, &d) : 1;
        rt_schedule_free(s);
        free(rest);
        return rc;
    }
    Opts o;
    rc = parse_common(cmd, nrest, rest, &o, false);
    free(rest);
    if (rc >= 0)
        return rc;
    Session s;
    Config *c;
    Module *m = load_module(cmd, &o, &s, &d, &c, &rc);
    if (m) {
        rc = run_pipeline(cmd->name, m, &o, &d, true);
        char name[256];
        unit_name(o.file, name, sizeof name);
        Schedule *sc = rc == 0 ? be_schedule_build(m, name, &d) : NULL;
        JsonText t = {0};
        if (rc == 0 && !sc)
            rc = 1;
        if (sc && !be_schedule_render(sc, &t)) {
            diag_error(&d, NOLOC, "out of memory");
            rc = 1;
        }
        be_schedule_free(sc);
        ir_module_free(m);
        if (rc == 0) {
            RtSchedule *rs = rt_schedule_parse(o.file, t.text, t.len, &d);
            be_json_text_free(&t);
            rc = rs ? run_schedule(rs, &ra, o.quiet, &d) : 1;
            rt_schedule_free(rs);
        } else if (t.text) {
            be_json_text_free(&t);
        }
    }
    if (d.errors && rc == 0)
        rc = 1;
    session_free(&s);
    return rc;
}

static int run_command(int argc, char **argv) {
    if (argc < 2) {
        print_help();
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_help();
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("h2c %s\n", H2C_VERSION);
        return 0;
    }
    for (int i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
#ifdef H2C_MPI
        if (commands[i].run != cmd_explore)
            return usage_error(NULL, "h2c-mpi runs 'explore' on MPI ranks; run '%s' with h2c", argv[1]);
#endif
        int rc = commands[i].run(argc - 1, argv + 1);
        /* what went to stdout must have arrived (a full disk, a closed pipe); a command that wrote
           its output with write_output has already said so */
        if ((fflush(stdout) != 0 || ferror(stdout)) && rc == 0) {
            fprintf(stderr, "h2c: error: cannot write to standard output: %s\n", strerror(errno ? errno : EIO));
            rc = 1;
        }
        return rc;
    }
    return usage_error(NULL, "unknown command '%s'", argv[1]);
}

int main(int argc, char **argv) {
#ifdef H2C_MPI
    /* h2c-mpi: this file again, with explore spread over MPI ranks (tools/explore_mpi.c) */
    mpi_begin(&argc, &argv);
    silent_rank = mpi_rank() != 0;
    int rc = run_command(argc, argv);
    mpi_end();
    return rc;
#else
    return run_command(argc, argv);
#endif
}
