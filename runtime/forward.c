/* forward.c: the reference forward pass of a whole model in double precision, from the model's op
 * graph (RtModel) and its weights (through a callback, a block of rows at a time, so a big model
 * runs in bounded memory): prefill and decode steps with a KV cache, causal attention with GQA,
 * rotary positions, norms, activations, the embedding and the LM head. The emulator's --check and
 * the Hugging Face oracle tests compare against it. Semantics of every op: docs/runtime.md. */
#include "runtime.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- synthetic weights */

static uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t rt_name_hash(const char *s) {
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The nearest binary16 value, as a double (round to nearest even; overflow to infinity). */
double rt_round_f16(double v) {
    if (!(fabs(v) < 65520.0))
        return isnan(v) ? v : (v < 0 ? -INFINITY : INFINITY);
    if (v == 0)
        return v;
    int e;
    frexp(v, &e);                       /* |v| = m 2^e, m in [0.5, 1) */
    int ulp_exp = e - 11;               /* 11 significant bits */
    if (ulp_exp < -24)
        ulp_exp = -24;                  /* subnormals: a fixed step of 2^-24 */
    double q = ldexp(1.0, ulp_exp);
    return nearbyint(v / q) * q;        /* the current rounding mode: to nearest, ties even */
}

double rt_synth_weight(uint64_t seed, uint64_t tensor, int layer, RtWeightPart part, uint64_t index, double scale) {
    uint64_t h = splitmix64(seed ^ splitmix64(tensor ^ splitmix64(((uint64_t)layer << 8) | (uint64_t)part)));
    uint64_t r = splitmix64(h ^ index);
    double u = (double)(r >> 11) * (1.0 / 9007199254740992.0) * 2 - 1;   /* [-1, 1) */
    double v;
    switch (part) {
    case RT_PART_SCALE: v = 1 + 0.25 * u; break;      /* a norm's scale, around 1 */
    case RT_PART_SHIFT:
    case RT_PART_BIAS: v = 0.05 * u; break;
    default: v = scale * u; break;
    }
    return rt_round_f16(v);
}

/* ---------------------------------------------------------------- the state */

struct RtForward {
    const RtModel *m;
    RtWeights w;
    int batch, max_seq;
    int pos;                    /* tokens of every sequence seen so far */
    int ncache;                 /* KV caches: one per (attention op, layer) */
    double **cache;             /* [op][layer] -> [batch][kv_heads][max_seq][head_dim] */
    int *cache_of;              /* op -> its first cache index (attn_score: K, attn_value: V), or -1 */
    double *const *attn;        /* rt_forward_capture_attention's, or NULL */
    int attn_op;                /* the layer's one attn_value op it copies, or -1 */
    double *block;              /* a block of weight rows */
    size_t block_cap;
    char err[200];
};

const char *rt_forward_error(const RtForward *f) { return f->err; }

static void *zalloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    return p;
}

RtForward *rt_forward_new(const RtModel *m, int batch, int max_seq, const RtWeights *w) {
    RtForward *f = zalloc(sizeof *f);
    if (!f)
        return NULL;
    f->m = m;
    f->w = *w;
    f->batch = batch;
    f->max_seq = max_seq;
    f->cache_of = zalloc(sizeof(int) * (size_t)(m->nops + 1));
    if (!f->cache_of) {
        rt_forward_free(f);
        return NULL;
    }
    for (int i = 0; i < m->nops; i++) {
        f->cache_of[i] = -1;
        if (m->ops[i].kind == RT_ATTN_SCORE || m->ops[i].kind == RT_ATTN_VALUE) {
            f->cache_of[i] = f->ncache;
            f->ncache += m->layers;
        }
    }
    f->cache = zalloc(sizeof(double *) * (size_t)(f->ncache + 1));
    if (!f->cache) {
        rt_forward_free(f);
        return NULL;
    }
    size_t per = (size_t)batch * (size_t)m->kv_heads * (size_t)max_seq * (size_t)m->head_dim;
    for (int c = 0; c < f->ncache; c++) {
        f->cache[c] = zalloc(sizeof(double) * per);
        if (!f->cache[c]) {
            rt_forward_free(f);
            return NULL;
        }
    }
    return f;
}

void rt_forward_free(RtForward *f) {
    if (!f)
        return;
    for (int c = 0; c < f->ncache && f->cache; c++)
        free(f->cache[c]);
    free(f->cache);
    free(f->cache_of);
    free(f->block);
    free(f);
}

/* ---------------------------------------------------------------- ops */

static double act(RtAct fn, double x) {
    switch (fn) {
    case RT_ACT_SILU: return x / (1 + exp(-x));
    case RT_ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case RT_ACT_GELU_TANH: {
        double c = sqrt(2.0 / 3.141592653589793);
        return 0.5 * x * (1 + tanh(c * (x + 0.044715 * x * x * x)));
    }
    case RT_ACT_RELU: return x > 0 ? x : 0;
    }
    return x;
}

static bool weights(RtForward *f, int op, int layer, RtWeightPart part, size_t row, size_t rows, size_t cols,
                    double *dst) {
    if (!f->w.get(f->w.ctx, op, layer, part, row, rows, cols, dst)) {
        snprintf(f->err, sizeof f->err, "no weights for op %s (layer %d, part %d)", f->m->ops[op].name, layer,
                 (int)part);
        return false;
    }
    return true;
}

/* y[rows x N] = x[rows x K] . W[K x N] (+ b), W read a block of rows at a time; a tied W is the
 * embedding table [N x K] of op `tied`, read transposed. */
static bool fc(RtForward *f, int op, int layer, const double *x, int rows, int K, int N, double *y) {
    const RtOp *o = &f->m->ops[op];
    memset(y, 0, sizeof(double) * (size_t)rows * (size_t)N);
    if (o->tied >= 0) {
        /* the table's row n is W's column n */
        size_t blk = 64;
        if (f->block_cap < blk * (size_t)K) {
            free(f->block);
            f->block_cap = blk * (size_t)K;
            f->block = malloc(sizeof(double) * f->block_cap);
            if (!f->block)
                return false;
        }
        for (size_t n0 = 0; n0 < (size_t)N; n0 += blk) {
            size_t nb = (size_t)N - n0 < blk ? (size_t)N - n0 : blk;
            if (!weights(f, o->tied, 0, RT_PART_WEIGHT, n0, nb, (size_t)K, f->block))
                return false;
            for (int r = 0; r < rows; r++)
                for (size_t j = 0; j < nb; j++) {
                    const double *e = f->block + j * (size_t)K, *xr = x + (size_t)r * (size_t)K;
                    double s = 0;
                    for (int k = 0; k < K; k++)
                        s += xr[k] * e[k];
                    y[(size_t)r * (size_t)N + n0 + j] = s;
                }
        }
        return true;
    }
    size_t blk = (size_t)(4 << 20) / ((size_t)N + 1) + 1;
    if (f->block_cap < blk * (size_t)N) {
        free(f->block);
        f->block_cap = blk * (size_t)N;
        f->block = malloc(sizeof(double) * f->block_cap);
        if (!f->block)
            return false;
    }
    for (size_t k0 = 0; k0 < (size_t)K; k0 += blk) {
        size_t kb = (size_t)K - k0 < blk ? (size_t)K - k0 : blk;
        if (!weights(f, op, layer, RT_PART_WEIGHT, k0, kb, (size_t)N, f->block))
            return false;
        for (int r = 0; r < rows; r++) {
            double *yr = y + (size_t)r * (size_t)N;
            const double *xr = x + (size_t)r * (size_t)K + k0;
            for (size_t k = 0; k < kb; k++) {
                double a = xr[k];
                const double *wr = f->block + k * (size_t)N;
                for (int n = 0; n < N; n++)
                    yr[n] += a * wr[n];
            }
        }
    }
    if (o->bias) {
        if (!weights(f, op, layer, RT_PART_BIAS, 0, 1, (size_t)N, f->block))
            return false;
        for (int r = 0; r < rows; r++)
            for (int n = 0; n < N; n++)
                y[(size_t)r * (size_t)N + n] += f->block[n];
    }
    return true;
}

static bool norm(RtForward *f, int op, int layer, const double *x, int rows, int W, double *y) {
    const RtOp *o = &f->m->ops[op];
    double *g = malloc(sizeof(double) * (size_t)W * 2);
    if (!g)
        return false;
    double *b = g + W;
    bool ok = weights(f, op, layer, RT_PART_SCALE, 0, 1, (size_t)W, g);
    if (ok && o->bias)
        ok = weights(f, op, layer, RT_PART_SHIFT, 0, 1, (size_t)W, b);
    else
        memset(b, 0, sizeof(double) * (size_t)W);
    double eps = o->eps > 0 ? o->eps : f->m->norm_eps;
    if (o->unit_offset)
        for (int i = 0; i < W; i++)
            g[i] += 1;
    for (int r = 0; ok && r < rows; r++) {
        const double *xr = x + (size_t)r * (size_t)W;
        double *yr = y + (size_t)r * (size_t)W;
        double mean = 0, ss = 0;
        if (o->layer_norm) {
            for (int i = 0; i < W; i++)
                mean += xr[i];
            mean /= W;
        }
        for (int i = 0; i < W; i++)
            ss += (xr[i] - mean) * (xr[i] - mean);
        double inv = 1 / sqrt(ss / W + eps);
        for (int i = 0; i < W; i++)
            yr[i] = (xr[i] - mean) * inv * g[i] + b[i];
    }
    free(g);
    return ok;
}

/* The inverse frequency of rotary pair i of rot dimensions, with the model's scaling. */
static double rope_inv_freq(const RtModel *m, int i, int rot) {
    double f = pow(m->rope_theta, -2.0 * i / rot);
    if (m->rope_scaling == RT_ROPE_LINEAR)
        return f / m->rope_factor;
    if (m->rope_scaling == RT_ROPE_LLAMA3) {
        /* Llama 3.1: long wavelengths divided by the factor, short ones kept, a ramp between */
        double wavelen = 2 * 3.141592653589793 / f;
        double low_wl = m->rope_original_max / m->rope_low_freq_factor;
        double high_wl = m->rope_original_max / m->rope_high_freq_factor;
        if (wavelen < high_wl)
            return f;
        if (wavelen > low_wl)
            return f / m->rope_factor;
        double smooth = (m->rope_original_max / wavelen - m->rope_low_freq_factor) /
                        (m->rope_high_freq_factor - m->rope_low_freq_factor);
        return (1 - smooth) * f / m->rope_factor + smooth * f;
    }
    return f;
}

/* Rotates every head of x's rows (row r at position pos0 + r % tokens) on its first rot dims:
 * pairs (i, i + rot/2), the rotate-half convention of Llama and GPT-NeoX. */
static void rope(const RtModel *m, const double *x, int rows, int W, int tokens, int pos0, double *y) {
    int d = m->head_dim, rot = (int)(d * m->rope_fraction), half = rot / 2;
    memcpy(y, x, sizeof(double) * (size_t)rows * (size_t)W);
    for (int r = 0; r < rows; r++) {
        int pos = pos0 + r % tokens;
        for (int h = 0; h < W / d; h++) {
            double *v = y + (size_t)r * (size_t)W + (size_t)h * (size_t)d;
            const double *u = x + (size_t)r * (size_t)W + (size_t)h * (size_t)d;
            for (int i = 0; i < half; i++) {
                double a = pos * rope_inv_freq(m, i, rot), c = cos(a), s = sin(a);
                v[i] = u[i] * c - u[i + half] * s;
                v[i + half] = u[i + half] * c + u[i] * s;
            }
        }
    }
}

/* Writes the step's keys or values (rows = batch x tokens, kv_heads x d wide) into a cache. */
static void cache_put(RtForward *f, double *cache, const double *x, int tokens) {
    const RtModel *m = f->m;
    int d = m->head_dim;
    for (int b = 0; b < f->batch; b++)
        for (int t = 0; t < tokens; t++)
            for (int h = 0; h < m->kv_heads; h++) {
                const double *src = x + ((size_t)(b * tokens + t) * (size_t)m->kv_heads + (size_t)h) * (size_t)d;
                double *dst = cache + (((size_t)b * (size_t)m->kv_heads + (size_t)h) * (size_t)f->max_seq +
                                       (size_t)(f->pos + t)) * (size_t)d;
                memcpy(dst, src, sizeof(double) * (size_t)d);
            }
}

/* The pages a Quest head reads in a decode step (docs/kernels.md, page score and top-k): the
 * newest page and the kk - 1 best others by sum over the g query heads of sum_i max(q_i kmax_i,
 * q_i kmin_i) (ties to the lower page), kmin/kmax the element-wise extrema of a page's keys 0..last.
 * keep[p] is set for the pages kept; the rest cleared. Needs pages = last / P + 1 doubles in score. */
static void quest_keep(const double *K, const double *q, int g, int d, int last, int P, int kk, double *score,
                       unsigned char *keep) {
    int pages = last / P + 1;
    for (int p = 0; p < pages; p++) {
        double sc = 0;
        int t0 = p * P, t1 = (p + 1) * P - 1 < last ? (p + 1) * P - 1 : last;
        for (int h = 0; h < g; h++)
            for (int i = 0; i < d; i++) {
                double lo = INFINITY, hi = -INFINITY;
                for (int t = t0; t <= t1; t++) {
                    double k = K[(size_t)t * (size_t)d + (size_t)i];
                    lo = k < lo ? k : lo;
                    hi = k > hi ? k : hi;
                }
                double qi = q[(size_t)h * (size_t)d + (size_t)i];
                sc += qi * hi > qi * lo ? qi * hi : qi * lo;
            }
        score[p] = sc;
        keep[p] = pages <= kk || p == pages - 1;
    }
    for (int n = 1; n < kk && pages > kk; n++) {
        int best = -1;
        for (int p = 0; p < pages - 1; p++)
            if (!keep[p] && (best < 0 || score[p] > score[best]))
                best = p;
        if (best >= 0)
            keep[best] = 1;
    }
}

/* Causal attention of the step's queries over the caches: scores scaled by 1/sqrt(d), softmax
 * over keys 0..position (the last `window` of them when window > 0), probabilities times values.
 * q and out are [batch x tokens, heads x d]. */
static void attend(RtForward *f, const double *kc, const double *vc, const double *q, int tokens, int window,
                   int layer, double *out) {
    const RtModel *m = f->m;
    int d = m->head_dim, g = m->heads / m->kv_heads, ctx = f->pos + tokens;
    double scale = 1 / sqrt((double)d);
    double *p = malloc(sizeof(double) * (size_t)ctx);
    double *pscore = malloc(sizeof(double) * (size_t)ctx);
    unsigned char *keep = malloc((size_t)ctx);
    if (!p || !pscore || !keep) {
        free(p);
        free(pscore);
        free(keep);
        return;
    }
    for (int b = 0; b < f->batch; b++)
        for (int t = 0; t < tokens; t++) {
            int last = f->pos + t;      /* sees keys first..last */
            int first = window > 0 && last - window + 1 > 0 ? last - window + 1 : 0;
            for (int h = 0; h < m->heads; h++) {
                int kvh = h / g;
                /* a decode step of a static head (StreamingLLM): the sink and the last `window` keys */
                int sink = -1, win = 0, hk = layer * m->kv_heads + kvh;
                if (tokens == 1 && m->static_sink && m->static_sink[hk] + m->static_window[hk] > 0) {
                    sink = m->static_sink[hk];
                    win = m->static_window[hk];
                }
                const double *qh = q + ((size_t)(b * tokens + t) * (size_t)m->heads + (size_t)h) * (size_t)d;
                const double *K = kc + ((size_t)b * (size_t)m->kv_heads + (size_t)kvh) * (size_t)f->max_seq * (size_t)d;
                const double *V = vc + ((size_t)b * (size_t)m->kv_heads + (size_t)kvh) * (size_t)f->max_seq * (size_t)d;
                /* a decode step of a dynamic head (Quest): the pages its group's queries select */
                int qpage = tokens == 1 && m->quest_page ? m->quest_page[hk] : 0;
                if (qpage > 0 && h % g == 0)
                    quest_keep(K, q + ((size_t)(b * tokens + t) * (size_t)m->heads + (size_t)h) * (size_t)d, g, d, last,
                               qpage, m->quest_pages[hk], pscore, keep);
                double mx = -INFINITY;
#define SKIP(j) ((sink >= 0 && (j) >= sink && (j) < last + 1 - win) || (qpage > 0 && !keep[(j) / qpage]))
                for (int j = first; j <= last; j++) {
                    if (SKIP(j))
                        continue;
                    double s = 0;
                    for (int i = 0; i < d; i++)
                        s += qh[i] * K[(size_t)j * (size_t)d + (size_t)i];
                    p[j] = s * scale;
                    mx = p[j] > mx ? p[j] : mx;
                }
                double sum = 0;
                for (int j = first; j <= last; j++) {
                    if (SKIP(j))
                        continue;
                    p[j] = exp(p[j] - mx);
                    sum += p[j];
                }
                double *o = out + ((size_t)(b * tokens + t) * (size_t)m->heads + (size_t)h) * (size_t)d;
                memset(o, 0, sizeof(double) * (size_t)d);
                for (int j = first; j <= last; j++) {
                    if (SKIP(j))
                        continue;
                    double w = p[j] / sum;
                    for (int i = 0; i < d; i++)
                        o[i] += w * V[(size_t)j * (size_t)d + (size_t)i];
                }
#undef SKIP
            }
        }
    free(p);
    free(pscore);
    free(keep);
}

/* ---------------------------------------------------------------- a step */

/* The value of every op for the current step: activations [rows x width]; attention scores are not
 * materialised (an attn_score stores its keys; the attn_value it feeds, directly or through a
 * softmax, runs the whole causal attention, softmax included). */
typedef struct Vals {
    double **v;
    int n;
} Vals;

static void vals_free(Vals *vs) {
    for (int i = 0; i < vs->n; i++)
        free(vs->v[i]);
    free(vs->v);
    vs->v = NULL;
    vs->n = 0;
}

/* Runs the ops of one scope (in the model's order, which sema keeps topological within a scope?
 * not necessarily: ops may refer forward, so ops run in a topological order computed here). */
static bool run_scope(RtForward *f, RtScope scope, int layer, Vals *vs, const double *x_in, const double *y_prev,
                      const int *tok, int tokens, int rows_epi) {
    const RtModel *m = f->m;
    int rows = f->batch * tokens;
    int n = m->nops;
    int *state = zalloc(sizeof(int) * (size_t)(n + 1));
    if (!state)
        return false;
    bool ok = true, progress = true;
    /* repeat sweeps until every op of the scope has run (inputs first) */
    while (ok && progress) {
        progress = false;
        for (int i = 0; i < n && ok; i++) {
            const RtOp *o = &m->ops[i];
            if (o->scope != scope || state[i])
                continue;
            bool ready = true;
            for (int j = 0; j < o->ninputs; j++) {
                int k = o->inputs[j];
                if (k >= 0 && m->ops[k].scope == scope && !state[k])
                    ready = false;
            }
            if (!ready)
                continue;
            progress = true;
            state[i] = 1;
            int r = scope == RT_SCOPE_EPILOGUE ? rows_epi : rows;
            int W = o->width;
            double *out = zalloc(sizeof(double) * (size_t)r * (size_t)(W > 0 ? W : 1));
            if (!out) {
                ok = false;
                break;
            }
            vs->v[i] = out;
            /* an input's value: another op's, x, or (in the epilogue) the layer's last-position rows */
            const double *in[16];
            for (int j = 0; j < o->ninputs && j < 16; j++) {
                int k = o->inputs[j];
                if (k == RT_INPUT_X)
                    in[j] = x_in;
                else if (k == RT_INPUT_TOKENS)
                    in[j] = NULL;
                else if (scope == RT_SCOPE_EPILOGUE && m->ops[k].scope == RT_SCOPE_LAYER)
                    in[j] = y_prev;
                else
                    in[j] = vs->v[k];
            }
            int K = o->in_width;
            switch (o->kind) {
            case RT_FC: {
                const double *src = in[0];
                double *gated = NULL;
                if (o->ninputs > 1) {
                    /* the gated FFN of the artifact's graphs: silu(in0) * in1 * ... */
                    gated = malloc(sizeof(double) * (size_t)r * (size_t)K);
                    if (!gated) {
                        ok = false;
                        break;
                    }
                    for (size_t e = 0; e < (size_t)r * (size_t)K; e++) {
                        double v = act(RT_ACT_SILU, in[0][e]);
                        for (int j = 1; j < o->ninputs; j++)
                            v *= in[j][e];
                        gated[e] = v;
                    }
                    src = gated;
                }
                ok = fc(f, i, layer, src, r, K, W, out);
                free(gated);
                break;
            }
            case RT_NORM: ok = norm(f, i, layer, in[0], r, W, out); break;
            case RT_ACT:
                for (size_t e = 0; e < (size_t)r * (size_t)W; e++)
                    out[e] = act(o->act, in[0][e]);
                break;
            case RT_ADD:
            case RT_MUL:
                for (size_t e = 0; e < (size_t)r * (size_t)W; e++)
                    out[e] = o->kind == RT_ADD ? in[0][e] + in[1][e] : in[0][e] * in[1][e];
                break;
            case RT_EMBED: {
                double *row = malloc(sizeof(double) * (size_t)W);
                if (!row) {
                    ok = false;
                    break;
                }
                for (int e = 0; e < r && ok; e++) {
                    int t = tok[e], rows_ = o->positions > 0 ? o->positions : m->vocab;
                    if (o->positions > 0)
                        t = f->pos + e % tokens + o->offset;    /* a learned position */
                    if (t < 0 || t >= rows_) {
                        snprintf(f->err, sizeof f->err, "%s %d is outside the table (%d rows)",
                                 o->positions > 0 ? "position" : "token id", t, rows_);
                        ok = false;
                        break;
                    }
                    ok = weights(f, i, 0, RT_PART_WEIGHT, (size_t)t, 1, (size_t)W, row);
                    for (int c = 0; ok && c < W; c++)
                        out[(size_t)e * (size_t)W + c] = row[c] * (o->scale > 0 ? o->scale : 1);
                }
                free(row);
                break;
            }
            case RT_ROPE: rope(m, in[0], r, W, tokens, f->pos, out); break;
            case RT_ATTN_SCORE:
                /* store the keys; the value op attends */
                cache_put(f, f->cache[f->cache_of[i] + layer], in[1], tokens);
                break;
            case RT_SOFTMAX: break;     /* inside the value op */
            case RT_ATTN_VALUE: {
                /* scores come from an attn_score, directly or through a softmax */
                int s = o->inputs[0];
                if (s >= 0 && m->ops[s].kind == RT_SOFTMAX)
                    s = m->ops[s].inputs[0];
                if (s < 0 || m->ops[s].kind != RT_ATTN_SCORE) {
                    snprintf(f->err, sizeof f->err, "attn_value %s does not read an attn_score", o->name);
                    ok = false;
                    break;
                }
                double *vc = f->cache[f->cache_of[i] + layer], *kc = f->cache[f->cache_of[s] + layer];
                cache_put(f, vc, in[1], tokens);
                const double *q = vs->v[m->ops[s].inputs[0]];
                if (m->ops[s].inputs[0] == RT_INPUT_X)
                    q = x_in;
                attend(f, kc, vc, q, tokens, o->window, layer, out);
                break;
            }
            }
        }
    }
    for (int i = 0; i < n && ok; i++)
        if (m->ops[i].scope == scope && !state[i]) {
            snprintf(f->err, sizeof f->err, "the ops of a scope form a cycle");
            ok = false;
        }
    free(state);
    return ok;
}

void rt_forward_capture_attention(RtForward *f, double *const *attn) {
    const RtModel *m = f->m;
    int nattn = 0;
    f->attn_op = -1;
    for (int i = 0; i < m->nops; i++)
        if (m->ops[i].scope == RT_SCOPE_LAYER && m->ops[i].kind == RT_ATTN_VALUE) {
            f->attn_op = i;
            nattn++;
        }
    f->attn = nattn == 1 ? attn : NULL;
}

bool rt_forward_step(RtForward *f, const int *tokens, int ntok, double *const *hidden, double *logits) {
    const RtModel *m = f->m;
    f->err[0] = 0;
    if (f->pos + ntok > f->max_seq) {
        snprintf(f->err, sizeof f->err, "%d tokens past the %d the KV cache holds", f->pos + ntok, f->max_seq);
        return false;
    }
    int rows = f->batch * ntok;
    size_t xs = (size_t)rows * (size_t)m->hidden;
    double *x = zalloc(sizeof(double) * xs);
    Vals vs = {zalloc(sizeof(double *) * (size_t)(m->nops + 1)), m->nops};
    bool ok = x && vs.v;
    /* the prologue's last op is the first layer's input */
    if (ok && m->has_prologue) {
        ok = run_scope(f, RT_SCOPE_PROLOGUE, 0, &vs, NULL, NULL, tokens, ntok, f->batch);
        if (ok)
            memcpy(x, vs.v[m->prologue_out], sizeof(double) * xs);
    } else if (ok) {
        /* no prologue: the token ids are not used; x starts at zero plus a position-dependent ramp */
        for (size_t e = 0; e < xs; e++)
            x[e] = 0.01 * (double)((e * 2654435761u) % 97) - 0.48;
    }
    for (int l = 0; ok && l < m->layers; l++) {
        for (int i = 0; i < m->nops; i++)
            if (m->ops[i].scope == RT_SCOPE_LAYER) {
                free(vs.v[i]);
                vs.v[i] = NULL;
            }
        ok = run_scope(f, RT_SCOPE_LAYER, l, &vs, x, NULL, tokens, ntok, f->batch);
        if (ok) {
            memcpy(x, vs.v[m->layer_out], sizeof(double) * xs);
            if (hidden && hidden[l])
                memcpy(hidden[l], x, sizeof(double) * xs);
            if (f->attn && f->attn[l] && vs.v[f->attn_op])
                memcpy(f->attn[l], vs.v[f->attn_op], sizeof(double) * (size_t)rows * (size_t)m->ops[f->attn_op].width);
        }
    }
    if (ok && m->has_epilogue && logits) {
        /* the last position of each sequence */
        double *last = malloc(sizeof(double) * (size_t)f->batch * (size_t)m->hidden);
        ok = last != NULL;
        for (int b = 0; ok && b < f->batch; b++)
            memcpy(last + (size_t)b * (size_t)m->hidden, x + (size_t)(b * ntok + ntok - 1) * (size_t)m->hidden,
                   sizeof(double) * (size_t)m->hidden);
        if (ok)
            ok = run_scope(f, RT_SCOPE_EPILOGUE, 0, &vs, NULL, last, tokens, ntok, f->batch);
        if (ok)
            memcpy(logits, vs.v[m->epilogue_out], sizeof(double) * (size_t)f->batch * (size_t)m->vocab);
        free(last);
    }
    if (ok)
        f->pos += ntok;
    if (!ok && !f->err[0])
        snprintf(f->err, sizeof f->err, "out of memory");
    vals_free(&vs);
    free(x);
    return ok;
}
