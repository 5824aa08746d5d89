/* h2c.c: the command-line driver, a thin layer over libh2c. Each subcommand parses its options,
 * calls the library, and maps failure to an exit status: 0 ok, 1 user error, 2 usage error. */
#include "frontend.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct Opts {
    const char *file;           /* the input */
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

static const char COMMON_OPTS[] =
    "  -I DIR              also look for imports in DIR\n"
    "  --hardware NAME     use this hardware block (overrides `use hardware`)\n"
    "  --model NAME        use this model block\n"
    "  --workload NAME     use this workload block\n"
    "  --cost-model NAME   h2c (default) or h2llm-artifact\n"
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

/* Parses the options every front-end command shares. Returns -1 to go on, else an exit code. */
static int parse_common(const Command *cmd, int argc, char **argv, Opts *o) {
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            printf("usage: h2c %s [options] FILE.h2\n%s\n\noptions:\n%s%s", cmd->name, cmd->summary, COMMON_OPTS,
                   cmd->usage);
            return 0;
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

static const Command commands[] = {
    {"check", "Parse and check a .h2 file: syntax, names, units, ranges, the op graph, capacity.", "", cmd_check},
    {"dump-ast", "Print the syntax tree of a .h2 file and its imports (line:col, then the node).", "", cmd_dump_ast},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

/* Loads and (for check) checks a file; returns the exit status. */
static int front(const Command *cmd, int argc, char **argv, bool dump) {
    Opts o;
    int rc = parse_common(cmd, argc, argv, &o);
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
