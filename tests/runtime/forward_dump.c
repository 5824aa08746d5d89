/* forward_dump.c: runs runtime/forward.c's reference forward pass on a small model with synthetic
 * weights and writes what an independent oracle needs (tests/runtime/forward_oracle.py): the
 * weights of every op and layer, the token ids, and the per-layer hidden states and logits of a
 * prefill and three decode steps, as raw little-endian float64 files in DIR.
 * usage: forward_dump VARIANT DIR   (VARIANT: llama, llama3-scaled, mistral, neox, opt, gemma) */
#include "runtime.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LAYERS = 2, HIDDEN = 48, HEADS = 4, KV = 2, HD = 12, VOCAB = 61, INTER = 80, BATCH = 2, PROMPT = 5,
       STEPS = 3, MAXSEQ = 16 };

static RtModel M;
static RtOp OPS[32];
static const char *DIR;
static uint64_t SEED = 7;

static int add(const char *name, RtOpKind kind, RtScope scope, int width, int in_width, int n, ...) {
    RtOp *o = &OPS[M.nops];
    memset(o, 0, sizeof *o);
    o->name = name;
    o->kind = kind;
    o->scope = scope;
    o->width = width;
    o->in_width = in_width;
    o->tied = -1;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        o->inputs[o->ninputs++] = va_arg(ap, int);
    va_end(ap);
    return M.nops++;
}

/* The weights: rt_synth_weight, element by element, with the fc scale 1/sqrt(K). */
static bool get(void *ctx, int op, int layer, RtWeightPart part, size_t row, size_t rows, size_t cols, double *dst) {
    (void)ctx;
    const RtOp *o = &OPS[op];
    double scale = o->kind == RT_EMBED ? 1.0 : 1.0 / sqrt((double)(o->in_width > 0 ? o->in_width : 1));
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            dst[r * cols + c] = rt_synth_weight(SEED, rt_name_hash(o->name), layer, part, (row + r) * cols + c, scale);
    return true;
}

static void dump(const char *name, const double *v, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.bin", DIR, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(v, sizeof(double), n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

static void dump_weights(void) {
    for (int i = 0; i < M.nops; i++) {
        const RtOp *o = &OPS[i];
        int layers = o->scope == RT_SCOPE_LAYER ? M.layers : 1;
        for (int l = 0; l < layers; l++) {
            char name[128];
            size_t rows = 0, cols = 0;
            if (o->kind == RT_FC && o->tied < 0)
                rows = (size_t)o->in_width, cols = (size_t)o->width;
            else if (o->kind == RT_EMBED)
                rows = o->positions > 0 ? (size_t)o->positions : VOCAB, cols = HIDDEN;
            else if (o->kind == RT_NORM)
                rows = 1, cols = (size_t)o->width;
            if (!rows)
                continue;
            double *w = malloc(sizeof(double) * rows * cols);
            RtWeightPart part = o->kind == RT_NORM ? RT_PART_SCALE : RT_PART_WEIGHT;
            get(NULL, i, l, part, 0, rows, cols, w);
            snprintf(name, sizeof name, "w.%s.%d", o->name, l);
            dump(name, w, rows * cols);
            if (o->bias) {
                get(NULL, i, l, o->kind == RT_NORM ? RT_PART_SHIFT : RT_PART_BIAS, 0, 1, cols, w);
                snprintf(name, sizeof name, "b.%s.%d", o->name, l);
                dump(name, w, cols);
            }
            free(w);
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 3)
        return 2;
    const char *variant = argv[1];
    DIR = argv[2];
    memset(&M, 0, sizeof M);
    M.layers = LAYERS, M.hidden = HIDDEN, M.heads = HEADS, M.kv_heads = KV, M.head_dim = HD, M.vocab = VOCAB;
    M.norm_eps = 1e-5;
    M.rope_theta = 10000, M.rope_fraction = 1, M.rope_factor = 1, M.rope_low_freq_factor = 1;
    M.rope_high_freq_factor = 4, M.rope_original_max = 8;
    M.ops = OPS;
    bool opt = strcmp(variant, "opt") == 0, neox = strcmp(variant, "neox") == 0, gemma = strcmp(variant, "gemma") == 0;
    if (strcmp(variant, "llama3-scaled") == 0) {
        M.rope_scaling = RT_ROPE_LLAMA3;
        M.rope_factor = 8;
        M.rope_theta = 500000;
    }
    if (neox)
        M.rope_fraction = 0.5;
    int e = add("embed", RT_EMBED, RT_SCOPE_PROLOGUE, HIDDEN, 0, 1, RT_INPUT_TOKENS);
    if (gemma)
        OPS[e].scale = sqrt((double)HIDDEN);
    int x0 = e;
    if (opt) {
        /* OPT's learned positions: a table of max positions + 2 rows, row = position + 2 */
        int pe = add("pos", RT_EMBED, RT_SCOPE_PROLOGUE, HIDDEN, 0, 1, RT_INPUT_TOKENS);
        OPS[pe].positions = MAXSEQ + 2;
        OPS[pe].offset = 2;
        x0 = add("x0", RT_ADD, RT_SCOPE_PROLOGUE, HIDDEN, 0, 2, e, pe);
    }
    int n1 = add("n1", RT_NORM, RT_SCOPE_LAYER, HIDDEN, HIDDEN, 1, RT_INPUT_X);
    OPS[n1].layer_norm = opt || neox;
    OPS[n1].bias = opt || neox;
    int q = add("q", RT_FC, RT_SCOPE_LAYER, HEADS * HD, HIDDEN, 1, n1);
    int k = add("k", RT_FC, RT_SCOPE_LAYER, KV * HD, HIDDEN, 1, n1);
    int v = add("v", RT_FC, RT_SCOPE_LAYER, KV * HD, HIDDEN, 1, n1);
    OPS[q].bias = OPS[k].bias = OPS[v].bias = true;
    int qr = q, kr = k;
    if (!opt) {
        qr = add("qr", RT_ROPE, RT_SCOPE_LAYER, HEADS * HD, 0, 1, q);
        kr = add("kr", RT_ROPE, RT_SCOPE_LAYER, KV * HD, 0, 1, k);
    }
    int s = add("s", RT_ATTN_SCORE, RT_SCOPE_LAYER, 0, 0, 2, qr, kr);
    int p = add("p", RT_SOFTMAX, RT_SCOPE_LAYER, 0, 0, 1, s);
    int a = add("a", RT_ATTN_VALUE, RT_SCOPE_LAYER, HEADS * HD, 0, 2, p, v);
    if (strcmp(variant, "mistral") == 0)
        OPS[a].window = 3;   /* sliding window: each query sees its last 3 keys */
    int o = add("o", RT_FC, RT_SCOPE_LAYER, HIDDEN, HEADS * HD, 1, a);
    OPS[o].bias = opt || neox;
    int mlp_in, r1 = -1;
    if (neox) {
        /* parallel attention and MLP from one more norm of x */
        mlp_in = add("n2", RT_NORM, RT_SCOPE_LAYER, HIDDEN, HIDDEN, 1, RT_INPUT_X);
    } else {
        r1 = add("r1", RT_ADD, RT_SCOPE_LAYER, HIDDEN, 0, 2, RT_INPUT_X, o);
        mlp_in = add("n2", RT_NORM, RT_SCOPE_LAYER, HIDDEN, HIDDEN, 1, r1);
    }
    OPS[mlp_in].layer_norm = opt || neox;
    OPS[mlp_in].bias = opt || neox;
    int down;
    if (opt || neox) {
        int f1 = add("f1", RT_FC, RT_SCOPE_LAYER, INTER, HIDDEN, 1, mlp_in);
        OPS[f1].bias = true;
        int g = add("g", RT_ACT, RT_SCOPE_LAYER, INTER, 0, 1, f1);
        OPS[g].act = opt ? RT_ACT_RELU : RT_ACT_GELU;
        down = add("f2", RT_FC, RT_SCOPE_LAYER, HIDDEN, INTER, 1, g);
        OPS[down].bias = true;
    } else {
        int f1 = add("f1", RT_FC, RT_SCOPE_LAYER, INTER, HIDDEN, 1, mlp_in);
        int f3 = add("f3", RT_FC, RT_SCOPE_LAYER, INTER, HIDDEN, 1, mlp_in);
        int g = add("g", RT_ACT, RT_SCOPE_LAYER, INTER, 0, 1, f1);
        OPS[g].act = gemma ? RT_ACT_GELU_TANH : RT_ACT_SILU;
        int gm = add("gm", RT_MUL, RT_SCOPE_LAYER, INTER, 0, 2, g, f3);
        down = add("f2", RT_FC, RT_SCOPE_LAYER, HIDDEN, INTER, 1, gm);
    }
    int out;
    if (neox) {
        int sum = add("r1", RT_ADD, RT_SCOPE_LAYER, HIDDEN, 0, 2, RT_INPUT_X, o);
        out = add("r2", RT_ADD, RT_SCOPE_LAYER, HIDDEN, 0, 2, sum, down);
    } else {
        out = add("r2", RT_ADD, RT_SCOPE_LAYER, HIDDEN, 0, 2, r1, down);
    }
    int nf = add("nf", RT_NORM, RT_SCOPE_EPILOGUE, HIDDEN, HIDDEN, 1, out);
    OPS[nf].layer_norm = opt || neox;
    OPS[nf].bias = opt || neox;
    int lm = add("lm", RT_FC, RT_SCOPE_EPILOGUE, VOCAB, HIDDEN, 1, nf);
    if (opt || gemma)
        OPS[lm].tied = e;
    if (gemma)
        OPS[n1].unit_offset = OPS[mlp_in].unit_offset = OPS[nf].unit_offset = true;
    M.layer_out = out;
    M.has_prologue = M.has_epilogue = true;
    M.prologue_out = x0;
    M.epilogue_out = lm;
    dump_weights();

    RtWeights w = {NULL, get};
    RtForward *f = rt_forward_new(&M, BATCH, MAXSEQ, &w);
    if (!f)
        return 1;
    int toks[BATCH * PROMPT];
    for (int i = 0; i < BATCH * PROMPT; i++)
        toks[i] = (i * 17 + 3) % VOCAB;
    double tokd[BATCH * PROMPT + BATCH * STEPS];
    for (int i = 0; i < BATCH * PROMPT; i++)
        tokd[i] = toks[i];
    double *hidden[LAYERS], logits[BATCH * VOCAB];
    for (int l = 0; l < LAYERS; l++)
        hidden[l] = malloc(sizeof(double) * BATCH * PROMPT * HIDDEN);
    if (!rt_forward_step(f, toks, PROMPT, hidden, logits)) {
        fprintf(stderr, "forward: %s\n", rt_forward_error(f));
        return 1;
    }
    char name[64];
    for (int l = 0; l < LAYERS; l++) {
        snprintf(name, sizeof name, "hidden.0.%d", l);
        dump(name, hidden[l], BATCH * PROMPT * HIDDEN);
    }
    dump("logits.0", logits, BATCH * VOCAB);
    for (int st = 1; st <= STEPS; st++) {
        int next[BATCH];
        for (int b = 0; b < BATCH; b++) {
            next[b] = (st * 29 + b * 11) % VOCAB;
            tokd[BATCH * PROMPT + (st - 1) * BATCH + b] = next[b];
        }
        if (!rt_forward_step(f, next, 1, hidden, logits)) {
            fprintf(stderr, "forward: %s\n", rt_forward_error(f));
            return 1;
        }
        for (int l = 0; l < LAYERS; l++) {
            snprintf(name, sizeof name, "hidden.%d.%d", st, l);
            dump(name, hidden[l], BATCH * HIDDEN);
        }
        snprintf(name, sizeof name, "logits.%d", st);
        dump(name, logits, BATCH * VOCAB);
    }
    dump("tokens", tokd, BATCH * PROMPT + BATCH * STEPS);
    for (int l = 0; l < LAYERS; l++)
        free(hidden[l]);
    rt_forward_free(f);
    return 0;
}
