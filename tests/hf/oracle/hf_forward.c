/* hf_forward.c: a Hugging Face checkpoint through h2c: `h2c import-hf` on its config.json, the .h2
 * checked and lowered, the model handed to the runtime (an RtModel built from the IR here), the
 * weights bound from model.safetensors (runtime/hfmap.c), and runtime/forward.c's reference forward
 * pass over a prefill and four decode steps; the logits go to DIR/logits.bin for hf_oracle.py check.
 * usage: hf_forward DIR */
#include "frontend.h"
#include "passes.h"
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 2, P = 5, STEPS = 4 };

/* The runtime's view of a lowered module (the schedule will carry the same). */
static bool rt_model_of(const Module *m, RtModel *rm) {
    const Phase *ph = &m->phases[PH_DECODE];
    memset(rm, 0, sizeof *rm);
    const ModelShape *ms = &m->model;
    rm->layers = ms->layers, rm->hidden = ms->hidden, rm->heads = ms->heads, rm->kv_heads = ms->kv_heads;
    rm->head_dim = ms->head_dim, rm->vocab = ms->vocab, rm->norm_eps = ms->norm_eps;
    rm->rope_theta = ms->rope.theta, rm->rope_fraction = ms->rope.fraction, rm->rope_factor = ms->rope.factor;
    rm->rope_low_freq_factor = ms->rope.low_freq_factor, rm->rope_high_freq_factor = ms->rope.high_freq_factor;
    rm->rope_original_max = ms->rope.original_max;
    rm->rope_scaling = ms->rope.scaling == ROPE_LLAMA3 ? RT_ROPE_LLAMA3 : ms->rope.scaling == ROPE_LINEAR ? RT_ROPE_LINEAR
                                                                                                        : RT_ROPE_NONE;
    rm->nops = ph->nops;
    rm->ops = calloc((size_t)ph->nops, sizeof(RtOp));
    if (!rm->ops)
        return false;
    bool *read = calloc((size_t)ph->nops, sizeof(bool));
    for (int i = 0; i < ph->nops; i++) {
        const Op *o = &ph->ops[i];
        RtOp *r = &rm->ops[i];
        r->name = o->name;
        r->scope = o->scope == SCOPE_PROLOGUE ? RT_SCOPE_PROLOGUE : o->scope == SCOPE_EPILOGUE ? RT_SCOPE_EPILOGUE
                                                                                              : RT_SCOPE_LAYER;
        switch (o->code) {
        case OP_FC: r->kind = RT_FC; break;
        case OP_ATTN_SCORE: r->kind = RT_ATTN_SCORE; break;
        case OP_SOFTMAX: r->kind = RT_SOFTMAX; break;
        case OP_ATTN_VALUE: r->kind = RT_ATTN_VALUE; break;
        case OP_NORM: r->kind = RT_NORM; break;
        case OP_ACTIVATION: r->kind = RT_ACT; break;
        case OP_ADD: r->kind = RT_ADD; break;
        case OP_MUL: r->kind = RT_MUL; break;
        case OP_EMBEDDING: r->kind = RT_EMBED; break;
        case OP_ROPE: r->kind = RT_ROPE; break;
        default: return false;
        }
        r->ninputs = o->ninputs;
        for (int j = 0; j < o->ninputs; j++) {
            int k = o->inputs[j];
            r->inputs[j] = k == IR_INPUT_X ? RT_INPUT_X : k == IR_INPUT_TOKENS ? RT_INPUT_TOKENS : k;
            if (k >= 0 && ph->ops[k].scope == SCOPE_LAYER && o->scope == SCOPE_LAYER)
                read[k] = true;
        }
        r->width = o->out_rank == 2 ? (int)o->out[1] : 0;
        r->in_width = o->code == OP_FC ? (int)o->shape[DIM_K] : 0;
        const Tensor *t = o->tensor >= 0 ? &m->tensors[o->tensor] : NULL;
        r->bias = t && t->bias && t->kind == TEN_WEIGHT;
        r->tied = -1;
        if (o->tied)
            for (int k = 0; k < ph->nops; k++)
                if (ph->ops[k].code == OP_EMBEDDING && ph->ops[k].tensor == o->tensor)
                    r->tied = k;
        if (o->fn && o->code == OP_ACTIVATION)
            r->act = !strcmp(o->fn, "gelu") ? RT_ACT_GELU : !strcmp(o->fn, "gelu_tanh") ? RT_ACT_GELU_TANH
                   : !strcmp(o->fn, "relu") ? RT_ACT_RELU : RT_ACT_SILU;
        r->layer_norm = o->fn && o->code == OP_NORM && !strcmp(o->fn, "layer");
        r->eps = o->eps, r->scale = o->scale, r->positions = o->positions, r->offset = o->offset;
        r->window = o->window, r->unit_offset = o->unit_offset;
        if (o->scope == SCOPE_PROLOGUE) {
            rm->has_prologue = true;
            rm->prologue_out = i;
        }
        if (o->scope == SCOPE_EPILOGUE) {
            rm->has_epilogue = true;
            rm->epilogue_out = i;
        }
    }
    rm->layer_out = -1;
    for (int i = 0; i < ph->nops; i++)
        if (ph->ops[i].scope == SCOPE_LAYER && !read[i])
            rm->layer_out = i;
    free(read);
    return rm->layer_out >= 0;
}

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    const char *dir = argv[1];
    Diag d;
    diag_init(&d, stderr);
    Arena a;
    arena_init(&a);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    Diag quiet;
    diag_init_quiet(&quiet);  /* the warning about unmodelled fields is not the subject */
    if (!fe_import_hf(&a, dir, true, "m", mem, &quiet)) {
        fprintf(stderr, "import-hf failed\n");
        return 1;
    }
    fclose(mem);
    Session s;
    session_init(&s, &d);
    AstFile *root = fe_load_text(&s, "imported.h2", text, len);
    Config *c = root ? fe_check(&s, root, NULL) : NULL;
    Module *m = c ? ir_lower(c, &d) : NULL;
    if (!m || !ir_fill_shapes(m, &d))
        return 1;
    RtModel rm;
    if (!rt_model_of(m, &rm)) {
        fprintf(stderr, "cannot hand the model to the runtime\n");
        return 1;
    }
    StModel st;
    if (!st_open(dir, &st)) {
        fprintf(stderr, "%s\n", st.err);
        return 1;
    }
    RtHfWeights hw;
    if (!rt_hf_bind(&hw, &rm, &st)) {
        fprintf(stderr, "%s\n", hw.err);
        return 1;
    }
    RtWeights w = rt_hf_weights(&hw);
    int toks[B * (P + STEPS)];
    char path[4096];
    snprintf(path, sizeof path, "%s/tokens.bin", dir);
    FILE *f = fopen(path, "rb");
    if (!f || fread(toks, sizeof(int), B * (P + STEPS), f) != B * (P + STEPS))
        return 1;
    fclose(f);
    RtForward *fw = rt_forward_new(&rm, B, 16, &w);
    double *logits = malloc(sizeof(double) * (size_t)(STEPS + 1) * B * (size_t)rm.vocab);
    int pre[B * P];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < P; t++)
            pre[b * P + t] = toks[b * (P + STEPS) + t];
    bool ok = fw && logits && rt_forward_step(fw, pre, P, NULL, logits);
    for (int st_ = 1; ok && st_ <= STEPS; st_++) {
        int next[B];
        for (int b = 0; b < B; b++)
            next[b] = toks[b * (P + STEPS) + P + st_ - 1];
        ok = rt_forward_step(fw, next, 1, NULL, logits + (size_t)st_ * B * (size_t)rm.vocab);
    }
    if (!ok) {
        fprintf(stderr, "forward: %s\n", fw ? rt_forward_error(fw) : "out of memory");
        return 1;
    }
    snprintf(path, sizeof path, "%s/logits.bin", dir);
    f = fopen(path, "wb");
    fwrite(logits, sizeof(double), (size_t)(STEPS + 1) * B * (size_t)rm.vocab, f);
    fclose(f);
    rt_forward_free(fw);
    st_close(&st);
    free(logits);
    free(rm.ops);
    ir_module_free(m);
    session_free(&s);
    free(text);
    arena_free(&a);
    return 0;
}
