/* hfmap.c: the weights of a model imported by `h2c import-hf`, from its Hugging Face checkpoint.
 * The imported ops carry Hugging Face's module names (q_proj, o_proj, input_layernorm, ...); this
 * file knows, per family (found from the checkpoint's tensor names), which tensor holds each op's
 * weights, including the fused ones (Phi-3's qkv_proj and gate_up_proj, GPT-NeoX's per-head
 * interleaved query_key_value), and hands them out through the RtWeights callback: a Linear's
 * [out x in] transposed to [in x out] rows, converted to double. rt_hf_bind checks first that every
 * tensor the graph needs is there with the right shape, naming the first that is missing or wrong. */
#include "runtime.h"

#include <stdlib.h>
#include <string.h>

static const char *const family_names[RT_HF_COUNT_] = {"llama", "opt", "gpt_neox", "phi3"};

/* Where an op's part lives: a tensor and, for a fused one, how the op's output rows sit in it. */
typedef struct Source {
    char name[160];
    int64_t row0;       /* first output row in the tensor (Phi-3 slices) */
    int interleave;     /* GPT-NeoX query_key_value: 0 none; else 1 + which of q, k, v */
} Source;

/* The tensor behind (op, layer, part), or false when the family has no such op. */
static bool source(const RtHfWeights *w, int op, int layer, RtWeightPart part, Source *s) {
    const RtModel *m = w->m;
    const char *n = m->ops[op].name;
    const char *suffix = part == RT_PART_BIAS || part == RT_PART_SHIFT ? "bias" : "weight";
    memset(s, 0, sizeof *s);
    char pre[64];
    switch (w->family) {
    case RT_HF_OPT: snprintf(pre, sizeof pre, "model.decoder.layers.%d.", layer); break;
    case RT_HF_NEOX: snprintf(pre, sizeof pre, "gpt_neox.layers.%d.", layer); break;
    default: snprintf(pre, sizeof pre, "model.layers.%d.", layer); break;
    }
    const char *mod = NULL;
    bool top = m->ops[op].scope != RT_SCOPE_LAYER;
    if (strcmp(n, "embed_tokens") == 0)
        mod = w->family == RT_HF_OPT ? "model.decoder.embed_tokens" : w->family == RT_HF_NEOX ? "gpt_neox.embed_in"
                                                                                             : "model.embed_tokens";
    else if (strcmp(n, "embed_positions") == 0 && w->family == RT_HF_OPT)
        mod = "model.decoder.embed_positions";
    else if (strcmp(n, "final_norm") == 0)
        mod = w->family == RT_HF_OPT ? "model.decoder.final_layer_norm"
              : w->family == RT_HF_NEOX ? "gpt_neox.final_layer_norm" : "model.norm";
    else if (strcmp(n, "lm_head") == 0)
        mod = w->family == RT_HF_NEOX ? "embed_out" : "lm_head";
    if (top) {
        if (!mod)
            return false;
        snprintf(s->name, sizeof s->name, "%s.%s", mod, suffix);
        return true;
    }
    int64_t d = m->head_dim, q = (int64_t)m->heads * d, kv = (int64_t)m->kv_heads * d;
    bool qkv = strcmp(n, "q_proj") == 0 || strcmp(n, "k_proj") == 0 || strcmp(n, "v_proj") == 0;
    int which = n[0] == 'q' ? 0 : n[0] == 'k' ? 1 : 2;
    switch (w->family) {
    case RT_HF_LLAMA:
    case RT_HF_PHI3:
        if (qkv && w->family == RT_HF_PHI3) {
            snprintf(s->name, sizeof s->name, "%sself_attn.qkv_proj.%s", pre, suffix);
            s->row0 = which == 0 ? 0 : which == 1 ? q : q + kv;
        } else if (qkv || strcmp(n, "o_proj") == 0) {
            snprintf(s->name, sizeof s->name, "%sself_attn.%s.%s", pre, n, suffix);
        } else if ((strcmp(n, "gate_proj") == 0 || strcmp(n, "up_proj") == 0) && w->family == RT_HF_PHI3) {
            snprintf(s->name, sizeof s->name, "%smlp.gate_up_proj.%s", pre, suffix);
            s->row0 = n[0] == 'g' ? 0 : m->ops[op].width;
        } else if (strcmp(n, "gate_proj") == 0 || strcmp(n, "up_proj") == 0 || strcmp(n, "down_proj") == 0) {
            snprintf(s->name, sizeof s->name, "%smlp.%s.%s", pre, n, suffix);
        } else if (strcmp(n, "input_layernorm") == 0 || strcmp(n, "post_attention_layernorm") == 0) {
            snprintf(s->name, sizeof s->name, "%s%s.%s", pre, n, suffix);
        } else {
            return false;
        }
        return true;
    case RT_HF_OPT:
        if (qkv)
            snprintf(s->name, sizeof s->name, "%sself_attn.%s.%s", pre, n, suffix);
        else if (strcmp(n, "o_proj") == 0)
            snprintf(s->name, sizeof s->name, "%sself_attn.out_proj.%s", pre, suffix);
        else if (strcmp(n, "self_attn_layer_norm") == 0 || strcmp(n, "final_layer_norm") == 0 ||
                 strcmp(n, "fc1") == 0 || strcmp(n, "fc2") == 0)
            snprintf(s->name, sizeof s->name, "%s%s.%s", pre, n, suffix);
        else
            return false;
        return true;
    case RT_HF_NEOX:
        if (qkv) {
            snprintf(s->name, sizeof s->name, "%sattention.query_key_value.%s", pre, suffix);
            s->interleave = 1 + which;
        } else if (strcmp(n, "o_proj") == 0) {
            snprintf(s->name, sizeof s->name, "%sattention.dense.%s", pre, suffix);
        } else if (strcmp(n, "fc1") == 0 || strcmp(n, "fc2") == 0) {
            snprintf(s->name, sizeof s->name, "%smlp.%s.%s", pre, n[2] == '1' ? "dense_h_to_4h" : "dense_4h_to_h",
                     suffix);
        } else if (strcmp(n, "input_layernorm") == 0 || strcmp(n, "post_attention_layernorm") == 0) {
            snprintf(s->name, sizeof s->name, "%s%s.%s", pre, n, suffix);
        } else {
            return false;
        }
        return true;
    default:
        return false;
    }
}

/* The row of the checkpoint tensor that holds output row `o` of the op (fused tensors). */
static int64_t out_row(const RtHfWeights *w, const Source *s, int64_t o) {
    if (!s->interleave)
        return s->row0 + o;
    /* GPT-NeoX: [heads, 3, head_dim, hidden]: head h's q, k and v rows follow each other */
    int64_t d = w->m->head_dim, h = o / d, r = o % d;
    return (h * 3 + (s->interleave - 1)) * d + r;
}

/* The shape the stored tensor of an op's part must have: rank and dims. A fused tensor holds more
 * rows than the op reads: Phi-3's qkv_proj (heads + 2 kv_heads) x head_dim, its gate_up_proj twice
 * the intermediate width, GPT-NeoX's query_key_value 3 x heads x head_dim. */
static int expected(const RtHfWeights *w, int op, RtWeightPart part, const Source *s, int64_t dims[2]) {
    const RtModel *m = w->m;
    const RtOp *o = &m->ops[op];
    int64_t d = m->head_dim, rows = o->width;
    if (s->interleave)
        rows = (int64_t)m->heads * 3 * d;
    else if (strstr(s->name, "qkv_proj"))
        rows = (int64_t)(m->heads + 2 * m->kv_heads) * d;
    else if (strstr(s->name, "gate_up_proj"))
        rows = 2 * (int64_t)o->width;
    if (o->kind == RT_EMBED) {
        dims[0] = o->positions > 0 ? o->positions : m->vocab;
        dims[1] = m->hidden;
        return 2;
    }
    if (o->kind == RT_FC && part == RT_PART_WEIGHT) {
        dims[0] = rows;
        dims[1] = o->in_width;
        return 2;
    }
    dims[0] = o->kind == RT_FC ? rows : o->width;
    return 1;
}

bool rt_hf_bind(RtHfWeights *w, const RtModel *m, const StModel *st) {
    memset(w, 0, sizeof *w);
    w->m = m;
    w->st = st;
    if (st_find(st, "model.decoder.embed_tokens.weight"))
        w->family = RT_HF_OPT;
    else if (st_find(st, "gpt_neox.embed_in.weight"))
        w->family = RT_HF_NEOX;
    else if (st_find(st, "model.layers.0.self_attn.qkv_proj.weight"))
        w->family = RT_HF_PHI3;
    else if (st_find(st, "model.embed_tokens.weight"))
        w->family = RT_HF_LLAMA;
    else {
        snprintf(w->err, sizeof w->err, "the checkpoint has none of the embeddings h2c knows (model.embed_tokens, "
                 "model.decoder.embed_tokens, gpt_neox.embed_in)");
        return false;
    }
    /* every tensor the graph reads, with its shape */
    for (int i = 0; i < m->nops; i++) {
        const RtOp *o = &m->ops[i];
        bool has = (o->kind == RT_FC && o->tied < 0) || o->kind == RT_EMBED || o->kind == RT_NORM;
        if (!has)
            continue;
        int layers = o->scope == RT_SCOPE_LAYER ? m->layers : 1;
        for (int l = 0; l < layers; l++)
            for (int p = 0; p < 2; p++) {
                RtWeightPart part = o->kind == RT_NORM ? (p ? RT_PART_SHIFT : RT_PART_SCALE)
                                                       : (p ? RT_PART_BIAS : RT_PART_WEIGHT);
                if (p && !o->bias)
                    continue;
                Source s;
                if (!source(w, i, l, part, &s)) {
                    snprintf(w->err, sizeof w->err, "op '%s' has no tensor in a %s checkpoint (the names of h2c "
                             "import-hf are expected)", o->name, family_names[w->family]);
                    return false;
                }
                const StTensor *t = st_find(st, s.name);
                if (!t) {
                    snprintf(w->err, sizeof w->err, "the checkpoint has no '%s' (op '%s'%s)", s.name, o->name,
                             o->scope == RT_SCOPE_LAYER ? ", a layer's" : "");
                    return false;
                }
                int64_t dims[2];
                int rank = expected(w, i, part, &s, dims);
                bool ok = t->rank == rank && t->dims[0] == dims[0] && (rank == 1 || t->dims[1] == dims[1]);
                if (!ok) {
                    char have[80] = "[", want[80];
                    for (int k = 0; k < t->rank; k++) {
                        size_t n = strlen(have);
                        snprintf(have + n, sizeof have - n, "%s%lld", k ? ", " : "", (long long)t->dims[k]);
                    }
                    strncat(have, "]", sizeof have - strlen(have) - 1);
                    if (rank == 2)
                        snprintf(want, sizeof want, "[%lld, %lld]", (long long)dims[0], (long long)dims[1]);
                    else
                        snprintf(want, sizeof want, "[%lld]", (long long)dims[0]);
                    snprintf(w->err, sizeof w->err, "'%s' is %s; op '%s' needs %s", s.name, have, o->name, want);
                    return false;
                }
            }
    }
    return true;
}

/* The RtWeights callback: rows row..row+rows-1 of the op's part, each `cols` values, in h2c's
 * layout ([K x N] for an fc, the table's rows for an embedding, a vector otherwise). */
static bool get(void *ctx, int op, int layer, RtWeightPart part, size_t row, size_t rows, size_t cols, double *dst) {
    RtHfWeights *w = ctx;
    const RtOp *o = &w->m->ops[op];
    Source s;
    if (!source(w, op, layer, part, &s))
        return false;
    const StTensor *t = st_find(w->st, s.name);
    if (!t)
        return false;
    if (o->kind == RT_FC && part == RT_PART_WEIGHT) {
        /* a Linear stores [out x in]: element (k, n) of [K x N] is its (row of n, k) */
        int64_t K = t->dims[1];
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < cols; c++)
                dst[r * cols + c] = st_element(w->st, t, (size_t)(out_row(w, &s, (int64_t)c) * K + (int64_t)(row + r)));
        return true;
    }
    if (part == RT_PART_BIAS) {
        for (size_t c = 0; c < cols; c++)
            dst[c] = st_element(w->st, t, (size_t)out_row(w, &s, (int64_t)c));
        return true;
    }
    /* embeddings (row-major tables) and norm vectors */
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            dst[r * cols + c] = st_element(w->st, t, (row + r) * cols + c);
    return true;
}

RtWeights rt_hf_weights(RtHfWeights *w) { return (RtWeights){w, get}; }
