/* run.c: h2c run (tools.h): its options, a Hugging Face checkpoint bound to the schedule's graph
 * (runtime/safetensors.c, hfmap.c), the token ids from --prompt-tokens or --prompt-file, then the
 * emulator (runtime/emulate.c rt_run). tools/h2c.c reads or compiles the schedule first. */
#include "tools.h"
#include "runtime.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char RUN_USAGE[] =
    "  --steps N           decode steps (default: the workload's generate)\n"
    "  --layers N          run the first N layers only (the reference too)\n"
    "  --seed S            synthetic weights and token ids (default 1)\n"
    "  --weights DIR       a Hugging Face checkpoint (safetensors) for a model `h2c import-hf` wrote\n"
    "  --prompt-tokens L   token ids: \"1,2,3\" for every sequence, or \"1,2;3,4\" one list per sequence;\n"
    "                      ids past the prompt feed the decode steps, then synthetic ones\n"
    "  --prompt-file F     the same list from a file\n"
    "  --numerics on|off   off: time and energy only, no memory or kernels (default on)\n"
    "  --check             compare every layer's output and the logits with the fp64 reference\n"
    "  --tolerance X       --check's bound (default 4e-3)\n"
    "  --trace FILE.json   Chrome trace events (Perfetto): a track per unit and link, a slice per command\n"
    "  --dump-logits F.npy the logits [steps + 1][batch][vocab] (f32)\n"
    "  --dump-hidden F.npy the last layer's output at each sequence's last token [steps + 1][batch][hidden]\n"
    "  --lazy-weights, --no-lazy-weights  write the layers' weights one layer at a time into one window\n"
    "                      (default: when they pass 1 GiB)\n"
    "  --bench             the host-side figures of the decode steps and a STREAM triad (docs/runtime.md)\n"
    "  --huge-pages        the banks on transparent huge pages: faster weight streams, more resident memory\n"
    "  --progress, --no-progress  a progress line on stderr for runs longer than a second (default: when\n"
    "                      stderr is a terminal)\n";

void run_defaults(RunArgs *ra) {
    memset(ra, 0, sizeof *ra);
    ra->steps = -1;
    ra->seed = 1;
    ra->numerics = true;
}

static bool whole(const char *v, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

static int bad(const char *what, const char *v) {
    fprintf(stderr, "h2c run: %s, not '%s'\nTry 'h2c run --help'.\n", what, v);
    return 2;
}

int run_option(RunArgs *ra, int argc, char **argv, int *i) {
    const char *a = argv[*i], *v;
    long long x;
    if ((v = opt_value(argc, argv, i, "--steps"))) {
        if (!whole(v, 0, 1 << 24, &x))
            return bad("--steps needs a whole number from 0", v);
        ra->steps = (int)x;
    } else if ((v = opt_value(argc, argv, i, "--layers"))) {
        if (!whole(v, 1, 1 << 20, &x))
            return bad("--layers needs a positive whole number", v);
        ra->layers = (int)x;
    } else if ((v = opt_value(argc, argv, i, "--seed"))) {
        if (!whole(v, 0, 0x7fffffffffffffffLL, &x))
            return bad("--seed needs a whole number", v);
        ra->seed = (unsigned long long)x;
    } else if ((v = opt_value(argc, argv, i, "--numerics"))) {
        if (strcmp(v, "on") && strcmp(v, "off"))
            return bad("--numerics is on or off", v);
        ra->numerics = strcmp(v, "on") == 0;
    } else if ((v = opt_value(argc, argv, i, "--weights"))) {
        ra->weights = v;
    } else if ((v = opt_value(argc, argv, i, "--prompt-tokens"))) {
        ra->prompt_tokens = v;
    } else if ((v = opt_value(argc, argv, i, "--prompt-file"))) {
        ra->prompt_file = v;
    } else if ((v = opt_value(argc, argv, i, "--trace"))) {
        ra->trace = v;
    } else if ((v = opt_value(argc, argv, i, "--dump-logits"))) {
        ra->dump_logits = v;
    } else if ((v = opt_value(argc, argv, i, "--dump-hidden"))) {
        ra->dump_hidden = v;
    } else if ((v = opt_value(argc, argv, i, "--tolerance"))) {
        char *end;
        ra->tolerance = strtod(v, &end);
        if (end == v || *end || !(ra->tolerance > 0))
            return bad("--tolerance needs a positive number", v);
    } else if (strcmp(a, "--check") == 0) {
        ra->check = true;
    } else if (strcmp(a, "--bench") == 0) {
        ra->bench = true;
    } else if (strcmp(a, "--huge-pages") == 0) {
        ra->huge_pages = true;
    } else if (strcmp(a, "--lazy-weights") == 0) {
        ra->lazy_bytes = 1;
    } else if (strcmp(a, "--no-lazy-weights") == 0) {
        ra->lazy_bytes = -1;
    } else if (strcmp(a, "--progress") == 0 || strcmp(a, "--no-progress") == 0) {
        ra->progress_set = true;
        ra->progress = a[2] == 'p';
    } else if (!strcmp(a, "--steps") || !strcmp(a, "--layers") || !strcmp(a, "--seed") || !strcmp(a, "--numerics") ||
               !strcmp(a, "--weights") || !strcmp(a, "--prompt-tokens") || !strcmp(a, "--prompt-file") ||
               !strcmp(a, "--trace") || !strcmp(a, "--dump-logits") || !strcmp(a, "--dump-hidden") ||
               !strcmp(a, "--tolerance")) {
        return bad("the option needs a value", a);
    } else {
        return 0;
    }
    return 1;
}

/* "1,2,3" (every sequence) or "1,2;3,4" (one list per sequence) -> [batch][n]; false with a message. */
static bool parse_tokens(const char *text, int batch, int vocab, int **out, int *ncols, Diag *d, const char *what) {
    int rows = 1;
    for (const char *p = text; *p; p++)
        rows += *p == ';';
    if (rows != 1 && rows != batch) {
        diag_error(d, NOLOC, "%s: %d token lists for a batch of %d (give one list, or one per sequence)", what, rows,
                   batch);
        return false;
    }
    int cap = 0, row = 0, col = 0, cols = -1;
    for (const char *p = text; *p; p++)
        cap += *p == ',' || *p == ';';
    int *v = h2c_raw_alloc(sizeof(int) * (size_t)(cap + 2));
    if (!v) {
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    int n = 0;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\t')
            p++;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < 0 || (vocab > 0 && x >= vocab)) {
            diag_error(d, NOLOC, "%s: token %d of sequence %d is %s", what, col, row,
                       end == p ? "not a number" : "outside the vocabulary");
            h2c_raw_free(v, sizeof(int) * (size_t)(cap + 2));
            return false;
        }
        v[n++] = (int)x;
        col++;
        p = end;
        while (*p == ' ' || *p == '\n' || *p == '\t')
            p++;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p == ';' || !*p) {
            if (cols >= 0 && col != cols) {
                diag_error(d, NOLOC, "%s: sequence %d has %d tokens, sequence 0 %d", what, row, col, cols);
                h2c_raw_free(v, sizeof(int) * (size_t)(cap + 2));
                return false;
            }
            cols = col, col = 0, row++;
            if (!*p)
                break;
            p++;
            continue;
        }
        diag_error(d, NOLOC, "%s: unexpected '%c' after token %d of sequence %d", what, *p, col - 1, row);
        h2c_raw_free(v, sizeof(int) * (size_t)(cap + 2));
        return false;
    }
    int *t = h2c_raw_alloc(sizeof(int) * (size_t)batch * (size_t)cols + 1);
    if (!t) {
        h2c_raw_free(v, sizeof(int) * (size_t)(cap + 2));
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    for (int b = 0; b < batch; b++)
        memcpy(t + (size_t)b * (size_t)cols, v + (rows == 1 ? 0 : (size_t)b * (size_t)cols), sizeof(int) * (size_t)cols);
    h2c_raw_free(v, sizeof(int) * (size_t)(cap + 2));
    *out = t;
    *ncols = cols;
    return true;
}

static char *read_text(const char *path, Diag *d) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_error(d, NOLOC, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    while (b) {
        size_t n = fread(b + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (len + 1 == cap) {
            char *x = cap < (64u << 20) ? realloc(b, cap * 2) : NULL;
            if (!x) {
                free(b);
                b = NULL;
                break;
            }
            b = x;
            cap *= 2;
        }
    }
    fclose(f);
    if (!b) {
        diag_error(d, NOLOC, "%s: out of memory (or larger than 64 MiB)", path);
        return NULL;
    }
    b[len] = 0;
    return b;
}

int run_schedule(const RtSchedule *s, const RunArgs *ra, bool quiet, Diag *d) {
    RtRunOptions o = {0};
    o.steps = ra->steps;
    o.layers = ra->layers;
    o.seed = ra->seed;
    o.numerics = ra->numerics;
    o.check = ra->check;
    o.quiet = quiet;
    o.progress = ra->progress_set ? ra->progress : isatty(2);
    o.trace = ra->trace;
    o.dump_logits = ra->dump_logits;
    o.dump_hidden = ra->dump_hidden;
    o.tolerance = ra->tolerance;
    o.lazy_bytes = ra->lazy_bytes;
    o.bench = ra->bench;
    o.huge_pages = ra->huge_pages;
    if (!ra->numerics && (ra->check || ra->dump_logits || ra->dump_hidden || ra->weights)) {
        diag_error(d, NOLOC, "--numerics off computes no values: it takes no --check, --dump-*, --weights");
        return 1;
    }
    int *tokens = NULL, ncols = 0;
    if (ra->prompt_tokens || ra->prompt_file) {
        char *text = ra->prompt_file ? read_text(ra->prompt_file, d) : NULL;
        if (ra->prompt_file && !text)
            return 1;
        bool ok = parse_tokens(text ? text : ra->prompt_tokens, s->batch, s->vocab, &tokens, &ncols, d,
                               ra->prompt_file ? ra->prompt_file : "--prompt-tokens");
        free(text);
        if (!ok)
            return 1;
        o.tokens = tokens;
        o.ntokens = ncols;
    }
    StModel st;
    RtHfWeights hw;
    RtWeights w;
    bool st_opened = false;
    int rc = 0;
    if (ra->weights) {
        st_opened = true;
        if (!st_open(ra->weights, &st)) {
            diag_error(d, NOLOC, "%s", st.err);
            rc = 1;
        } else if (!rt_hf_bind(&hw, s->graph, &st)) {
            diag_error(d, NOLOC, "%s: %s", ra->weights, hw.err);
            rc = 1;
        } else {
            w = rt_hf_weights(&hw);
            o.weights = &w;
        }
    }
    if (rc == 0 && !rt_run(s, &o, stdout, d))
        rc = 1;
    if (st_opened)
        st_close(&st);
    if (tokens)
        h2c_raw_free(tokens, sizeof(int) * (size_t)s->batch * (size_t)ncols + 1);
    return rc;
}
