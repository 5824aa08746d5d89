/* h2c.c: the command-line driver, a thin layer over libh2c. Each subcommand parses its options,
 * calls the library, and maps failure to an exit status: 0 ok, 1 user error, 2 usage error. */
#include "frontend.h"
#include "ir.h"
#include "passes.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
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
    bool pipeline_opts;         /* this command takes the options above */
    Selection sel;              /* --hardware/--model/--workload/--cost-model */
    const char *incs[16];       /* -I directories */
    int ninc;
    bool quiet;                 /* -q */
    bool werror;                /* -Werror */
} Opts;

typedef struct Command {
    const char *name;
    const char *summary;
    const char *usage;          /* options text for `h2c CMD --help` */
    int (*run)(int argc, char **argv);
} Command;

static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "h2c%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'h2c %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
    return 2;
}

static const char PIPELINE_OPTS[] =
    "  --passes=A,B,...    run these passes instead of the default pipeline ('' for none)\n"
    "  --print-ir-after=P  print the IR after pass P (a comma list is allowed), to stderr\n"
    "  --print-ir-before=P print the IR before pass P, to stderr\n"
    "  --print-ir-after-all  print the IR after every pass, to stderr\n"
    "  --time-passes       print a table of pass times to stderr\n"
    "  --no-verify         do not run the IR verifier between passes\n"
    "  -o FILE             write the output to FILE (atomically) instead of stdout\n";

static const char COMMON_OPTS[] =
    "  -I DIR              also look for imports in DIR\n"
    "  --hardware NAME     use this hardware block (overrides `use hardware`)\n"
    "  --model NAME        use this model block\n"
    "  --workload NAME     use this workload block\n"
    "  --cost-model NAME   h2c (default) or h2llm-artifact\n"
    "  --batch N           run the chosen workload at batch size N\n"
    "  -Werror             treat warnings as errors\n"
    "  -q                  print nothing on success\n"
    "  -h, --help          show this help\n";

/* Matches --name=value or --name value; returns the value or NULL. */
static const char *opt_value(int argc, char **argv, int *i, const char *name) {
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

/* Parses the options every front-end command shares. Returns -1 to go on, else an exit code. */
static int parse_common(const Command *cmd, int argc, char **argv, Opts *o, bool pipeline) {
    memset(o, 0, sizeof *o);
    o->pipeline_opts = pipeline;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            printf("usage: h2c %s [options] %s\n%s\n\noptions:\n%s%s%s", cmd->name,
                   strcmp(cmd->name, "opt") == 0 ? "FILE.h2ir" : "FILE.h2", cmd->summary,
                   strcmp(cmd->name, "opt") == 0 ? "" : COMMON_OPTS, pipeline ? PIPELINE_OPTS : "", cmd->usage);
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
        } else if (pipeline && (v = opt_value(argc, argv, &i, "--emit"))) {
            o->emit = v;
        } else if (pipeline && strcmp(a, "-o") == 0) {
            if (i + 1 >= argc)
                return usage_error(cmd->name, "-o needs a file name");
            o->output = argv[++i];
        } else if (strcmp(a, "-q") == 0) {
            o->quiet = true;
        } else if (strcmp(a, "-Werror") == 0) {
            o->werror = true;
        } else if (strncmp(a, "-I", 2) == 0) {
            const char *dir = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
            if (!dir)
                return usage_error(cmd->name, "-I needs a directory");
            if (o->ninc == 16)
                return usage_error(cmd->name, "too many -I options");
            o->incs[o->ninc++] = dir;
        } else if ((v = opt_value(argc, argv, &i, "--hardware"))) {
            o->sel.hardware = v;
        } else if ((v = opt_value(argc, argv, &i, "--model"))) {
            o->sel.model = v;
        } else if ((v = opt_value(argc, argv, &i, "--workload"))) {
            o->sel.workload = v;
        } else if ((v = opt_value(argc, argv, &i, "--cost-model"))) {
            o->sel.cost_model = v;
        } else if ((v = opt_value(argc, argv, &i, "--batch"))) {
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
    return -1;
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
static int cmd_compat(int argc, char **argv);

static const Command commands[] = {
    {"check", "Parse and check a .h2 file: syntax, names, units, ranges, the op graph, capacity.", "", cmd_check},
    {"dump-ast", "Print the syntax tree of a .h2 file and its imports (line:col, then the node).", "", cmd_dump_ast},
    {"compile", "Compile a .h2 file: lower it to the IR and run the pass pipeline.",
     "  --emit=KIND         what to write: ir (default), dot (the layer graph for Graphviz), ast\n", cmd_compile},
    {"opt", "Run passes on IR text (.h2ir) and print the result; with no --passes, verify and re-print.", "",
     cmd_opt},
    {"compat", "Check the h2llm-artifact cost model against the artifact's test vectors or baseline table.",
     "  --configs DIR       the artifact's model configs: DIR/<model>/shape.json and operator_graph.json\n"
     "                      (default: config, the artifact's layout)\n",
     cmd_compat},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

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
    if (root && !dump && d.errors == 0) {
        Config *c = fe_check(&s, root, &o.sel);
        if (c && !o.quiet) {
            printf("%s: ok", o.file);
            if (c->model) {
                double es = precision_bytes((Precision)c->hw->precision);
                char w[32], k[32], t[32];
                fmt_size(w, sizeof w, model_weight_bytes(c->model, es));
                fmt_size(k, sizeof k, model_kv_bytes(c->model, c->workload, es));
                fmt_size(t, sizeof t, c->hw->channels * c->hw->banks_per_channel * c->hw->bank_capacity);
                printf(": model %s (%d layers, %d ops), hardware %s, workload %s (batch %d, %d+%d tokens); "
                       "weights %s + KV %s of %s",
                       c->model->name, c->model->layers, c->model->nops, c->hw->name, c->workload->name,
                       c->workload->batch, c->workload->prompt, c->workload->generate, w, k, t);
            } else {
                printf(": %d hardware, %d workload, %d sparsity, %d explore block(s)", c->nhardware, c->nworkloads,
                       c->nsparsity, c->nexplore);
            }
            printf("\n");
        }
    }
    rc = d.errors ? 1 : 0;
    session_free(&s);
    return rc;
}

static int cmd_check(int argc, char **argv) { return front(&commands[0], argc, argv, false); }
static int cmd_dump_ast(int argc, char **argv) { return front(&commands[1], argc, argv, true); }

/* ---------------------------------------------------------------- output */

typedef void (*WriteFn)(FILE *out, const void *ctx);

/* Writes to stdout, or to `path` through a temporary file renamed into place only on success, so
 * a failed run never leaves a half-written output. */
static bool write_output(const char *path, WriteFn fn, const void *ctx) {
    if (!path || strcmp(path, "-") == 0) {
        fn(stdout, ctx);
        return fflush(stdout) == 0;
    }
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return false;
    snprintf(tmp, n, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "h2c: error: cannot write '%s': %s\n", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return false;
    }
    fn(f, ctx);
    bool ok = !ferror(f);
    ok = (fclose(f) == 0) && ok;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        fprintf(stderr, "h2c: error: cannot write '%s': %s\n", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok;
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

static int cmd_compile(int argc, char **argv) {
    const Command *cmd = &commands[2];
    Opts o;
    int rc = parse_common(cmd, argc, argv, &o, true);
    if (rc >= 0)
        return rc;
    const char *emit = o.emit ? o.emit : "ir";
    if (strcmp(emit, "ir") != 0 && strcmp(emit, "dot") != 0 && strcmp(emit, "ast") != 0)
        return usage_error(cmd->name, "unknown --emit kind '%s' (ir, dot or ast)", emit);
    Diag d;
    diag_init(&d, stderr);
    d.werror = o.werror;
    Session s;
    session_init(&s, &d);
    s.include_dirs = o.incs;
    s.ninclude = o.ninc;
    rc = 1;
    AstFile *root = fe_load(&s, o.file);
    if (root && d.errors == 0 && strcmp(emit, "ast") == 0) {
        rc = write_output(o.output, write_ast, root) ? 0 : 1;
    } else if (root && d.errors == 0) {
        Config *c = fe_check(&s, root, &o.sel);
        Module *m = c ? ir_lower(c, &d) : NULL;
        if (m) {
            rc = run_pipeline(cmd->name, m, &o, &d, true);
            if (rc == 0)
                rc = write_output(o.output, strcmp(emit, "dot") == 0 ? write_dot : write_ir, m) ? 0 : 1;
            ir_module_free(m);
        }
    }
    if (d.errors && rc == 0)
        rc = 1;
    session_free(&s);
    return rc;
}

/* Reads a whole file into malloc'd memory. */
static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int cmd_opt(int argc, char **argv) {
    const Command *cmd = &commands[3];
    Opts o;
    int rc = parse_common(cmd, argc, argv, &o, true);
    if (rc >= 0)
        return rc;
    if (o.emit && strcmp(o.emit, "ir") != 0 && strcmp(o.emit, "dot") != 0)
        return usage_error(cmd->name, "unknown --emit kind '%s' (ir or dot)", o.emit);
    Diag d;
    diag_init(&d, stderr);
    size_t len = 0;
    char *text = read_file(o.file, &len);
    if (!text) {
        fprintf(stderr, "h2c: error: cannot open '%s': %s\n", o.file, strerror(errno));
        return 1;
    }
    Module *m = ir_parse(o.file, text, len, &d);
    free(text);
    if (!m)
        return 1;
    rc = run_pipeline(cmd->name, m, &o, &d, false);
    if (rc == 0)
        rc = write_output(o.output, o.emit && strcmp(o.emit, "dot") == 0 ? write_dot : write_ir, m) ? 0 : 1;
    ir_module_free(m);
    return rc;
}

/* h2c compat FILE [--configs DIR]: the numbers of the artifact's files, recomputed (passes/compat.c). */
static int cmd_compat(int argc, char **argv) {
    const Command *cmd = &commands[4];
    const char *file = NULL, *configs = "config", *v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
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
    Diag d;
    diag_init(&d, stderr);
    CompatSummary sum;
    if (!compat_check(file, configs, stdout, &sum, &d))
        return 1;
    return sum.failed == 0 && d.errors == 0 ? 0 : 1;
}

static void print_help(void) {
    printf("usage: h2c COMMAND [options] FILE\n\n"
           "h2c compiles LLM inference for hybrid-bonding accelerators.\n\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++)
        printf("  %-10s %s\n", commands[i].name, commands[i].summary);
    printf("\n'h2c COMMAND --help' describes a command's options. 'h2c --version' prints the version.\n"
           "Exit status: 0 success, 1 error in the input, 2 bad command line.\n");
}

int main(int argc, char **argv) {
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
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    return usage_error(NULL, "unknown command '%s'", argv[1]);
}
