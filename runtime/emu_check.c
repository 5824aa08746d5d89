/* emu_check.c: h2c run --check (runtime.h): the reference forward pass (forward.c, fp64) of the
 * schedule's graph on the values the banks hold (emu_weights.c's stored view) and the same tokens,
 * step by step beside the emulator; per layer the layer's output and each KV head's attention
 * result (where the schedule names the attention's result: its g query heads' columns), and at the
 * end the logits, are compared norm-wise: max |emulated - reference| / max |reference| over the
 * step's rows, the worst step kept. Tolerances and why: docs/runtime.md §5.4. */
#include "runtime.h"

#include <math.h>
#include <string.h>

struct RtCheck {
    const RtSchedule *s;
    RtModel m;
    RtForward *f;
    int layers, batch;
    size_t rows_max;
    double **hid;           /* [layers] -> [rows x hidden] */
    double *logits;         /* [batch x vocab] */
    double *err;            /* per layer, the worst step */
    double err_logits;
    int steps;
    double **attn;          /* [layers] -> [rows x heads x head_dim]: the reference's attention results */
    double *err_head;       /* per layer * kv_heads + KV head, the worst step of its attention result */
    bool heads;             /* the schedule names the attention results (err_head is measured) */
    int *sink, *window;     /* the plan's static heads, per layer * kv_heads + KV head (the reference's) */
    int *qpage, *qpages;    /* its dynamic heads: page size and pages kept */
    size_t npat;
};

/* Values of one layer's attention result at the largest step. */
static size_t attn_values(const RtCheck *c) {
    return c->rows_max * (size_t)c->s->heads * (size_t)c->s->head_dim;
}

RtCheck *rt_check_new(const RtSchedule *s, int layers, RtWeights *stored) {
    RtCheck *c = h2c_raw_alloc(sizeof *c);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    c->s = s;
    c->m = *s->graph;
    c->m.layers = layers;
    c->layers = layers;
    c->batch = s->batch;
    c->rows_max = (size_t)s->batch * (size_t)s->prompt;
    c->hid = h2c_raw_alloc(sizeof(double *) * (size_t)layers);
    if (c->hid)
        memset(c->hid, 0, sizeof(double *) * (size_t)layers);
    c->err = h2c_raw_alloc(sizeof(double) * (size_t)layers);
    c->logits = h2c_raw_alloc(sizeof(double) * (size_t)s->batch * (size_t)(s->vocab > 0 ? s->vocab : 1));
    if (!c->hid || !c->err || !c->logits) {
        rt_check_free(c);
        return NULL;
    }
    memset(c->hid, 0, sizeof(double *) * (size_t)layers);
    memset(c->err, 0, sizeof(double) * (size_t)layers);
    for (int l = 0; l < layers; l++)
        if (!(c->hid[l] = h2c_raw_alloc(sizeof(double) * c->rows_max * (size_t)s->hidden))) {
            rt_check_free(c);
            return NULL;
        }
    /* the plan's static heads attend to their sink and window in decode, its dynamic heads to the
     * pages Quest selects (docs/schedule.md §7) */
    if (s->nattns > 0) {
        c->npat = (size_t)s->layers * (size_t)s->kv_heads;
        c->sink = h2c_raw_alloc(sizeof(int) * c->npat);
        c->window = h2c_raw_alloc(sizeof(int) * c->npat);
        c->qpage = h2c_raw_alloc(sizeof(int) * c->npat);
        c->qpages = h2c_raw_alloc(sizeof(int) * c->npat);
        if (!c->sink || !c->window || !c->qpage || !c->qpages) {
            rt_check_free(c);
            return NULL;
        }
        memset(c->sink, 0, sizeof(int) * c->npat);
        memset(c->window, 0, sizeof(int) * c->npat);
        memset(c->qpage, 0, sizeof(int) * c->npat);
        memset(c->qpages, 0, sizeof(int) * c->npat);
        for (int a = 0; a < s->nattns; a++)
            for (int k = 0; k < s->attns[a].npats; k++) {
                const RtPattern *pt = &s->attns[a].pats[k];
                if (pt->kind == RT_PAT_DENSE)
                    continue;
                for (int64_t l = pt->layers[0]; l < pt->layers[1]; l++)
                    for (int h = 0; h < pt->nheads; h++) {
                        size_t i = (size_t)l * (size_t)s->kv_heads + (size_t)pt->heads[h];
                        if (pt->kind == RT_PAT_STATIC) {
                            c->sink[i] = pt->sink;
                            c->window[i] = pt->window;
                        } else {
                            c->qpage[i] = pt->page;
                            c->qpages[i] = rt_quest_pages_for_budget(pt->budget, pt->page);
                        }
                    }
            }
        c->m.static_sink = c->sink;
        c->m.static_window = c->window;
        c->m.quest_page = c->qpage;
        c->m.quest_pages = c->qpages;
    }
    c->f = rt_forward_new(&c->m, s->batch, s->max_seq, stored);
    if (!c->f) {
        rt_check_free(c);
        return NULL;
    }
    /* the attention results, per KV head, where the schedule names them */
    if (s->phase[0].has_attn && s->phase[1].has_attn) {
        size_t nh = (size_t)layers * (size_t)s->kv_heads;
        c->attn = h2c_raw_alloc(sizeof(double *) * (size_t)layers);
        if (c->attn)
            memset(c->attn, 0, sizeof(double *) * (size_t)layers);
        c->err_head = h2c_raw_alloc(sizeof(double) * nh);
        if (!c->attn || !c->err_head) {
            rt_check_free(c);
            return NULL;
        }
        memset(c->err_head, 0, sizeof(double) * nh);
        for (int l = 0; l < layers; l++)
            if (!(c->attn[l] = h2c_raw_alloc(sizeof(double) * attn_values(c)))) {
                rt_check_free(c);
                return NULL;
            }
        c->heads = true;
        rt_forward_capture_attention(c->f, c->attn);
    }
    return c;
}

void rt_check_free(RtCheck *c) {
    if (!c)
        return;
    const RtSchedule *s = c->s;
    rt_forward_free(c->f);
    if (c->sink)
        h2c_raw_free(c->sink, sizeof(int) * c->npat);
    if (c->window)
        h2c_raw_free(c->window, sizeof(int) * c->npat);
    if (c->qpage)
        h2c_raw_free(c->qpage, sizeof(int) * c->npat);
    if (c->qpages)
        h2c_raw_free(c->qpages, sizeof(int) * c->npat);
    if (c->attn) {
        for (int l = 0; l < c->layers; l++)
            if (c->attn[l])
                h2c_raw_free(c->attn[l], sizeof(double) * attn_values(c));
        h2c_raw_free(c->attn, sizeof(double *) * (size_t)c->layers);
    }
    if (c->err_head)
        h2c_raw_free(c->err_head, sizeof(double) * (size_t)c->layers * (size_t)s->kv_heads);
    if (c->hid) {
        for (int l = 0; l < c->layers; l++)
            if (c->hid[l])
                h2c_raw_free(c->hid[l], sizeof(double) * c->rows_max * (size_t)s->hidden);
        h2c_raw_free(c->hid, sizeof(double *) * (size_t)c->layers);
    }
    if (c->err)
        h2c_raw_free(c->err, sizeof(double) * (size_t)c->layers);
    if (c->logits)
        h2c_raw_free(c->logits, sizeof(double) * (size_t)s->batch * (size_t)(s->vocab > 0 ? s->vocab : 1));
    h2c_raw_free(c, sizeof *c);
}

/* max |a - b| / max |b| (0 when b is all zeros and a equals it; NaN anywhere: infinity) */
static double rel_err(const float *a, const double *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d != d)
            return INFINITY;
        num = d > num ? d : num;
        den = fabs(b[i]) > den ? fabs(b[i]) : den;
    }
    return den > 0 ? num / den : num;
}

/* rel_err over a block: rows of `cols` values at a stride of `stride` */
static double rel_err_block(const float *a, const double *b, size_t rows, size_t cols, size_t stride) {
    double num = 0, den = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < cols; i++) {
            double x = (double)a[r * stride + i], y = b[r * stride + i], d = fabs(x - y);
            if (d != d)
                return INFINITY;
            num = d > num ? d : num;
            den = fabs(y) > den ? fabs(y) : den;
        }
    return den > 0 ? num / den : num;
}

bool rt_check_step(RtCheck *c, const int *tokens, int ntok, float *const *hidden, float *const *attn,
                   const float *logits, char *err, size_t errlen) {
    const RtSchedule *s = c->s;
    if (!rt_forward_step(c->f, tokens, ntok, c->hid, logits ? c->logits : NULL)) {
        snprintf(err, errlen, "%s", rt_forward_error(c->f));
        return false;
    }
    size_t n = (size_t)c->batch * (size_t)ntok * (size_t)s->hidden;
    for (int l = 0; l < c->layers; l++) {
        double e = rel_err(hidden[l], c->hid[l], n);
        c->err[l] = e > c->err[l] ? e : c->err[l];
    }
    /* per KV head: its g query heads' columns of every row */
    size_t gd = (size_t)(s->heads / s->kv_heads) * (size_t)s->head_dim, rows = (size_t)c->batch * (size_t)ntok;
    for (int l = 0; c->heads && attn && l < c->layers; l++)
        for (int h = 0; h < s->kv_heads; h++) {
            size_t i = (size_t)l * (size_t)s->kv_heads + (size_t)h;
            double e = rel_err_block(attn[l] + (size_t)h * gd, c->attn[l] + (size_t)h * gd, rows, gd,
                                     (size_t)s->heads * (size_t)s->head_dim);
            c->err_head[i] = e > c->err_head[i] ? e : c->err_head[i];
        }
    if (logits) {
        double e = rel_err(logits, c->logits, (size_t)c->batch * (size_t)s->vocab);
        c->err_logits = e > c->err_logits ? e : c->err_logits;
    }
    c->steps++;
    return true;
}

/* The pattern of KV head h in layer l, as the reference attends with it. */
static const char *head_kind(const RtCheck *c, int l, int h) {
    if (!c->sink)
        return "dense";
    size_t i = (size_t)l * (size_t)c->s->kv_heads + (size_t)h;
    return c->sink[i] + c->window[i] > 0 ? "static" : c->qpage[i] > 0 ? "dynamic" : "dense";
}

bool rt_check_report(const RtCheck *c, FILE *out, double tol, Diag *d, double *worst) {
    const RtSchedule *s = c->s;
    int wl = -1, wh = -1;
    double w = -1;
    if (out)
        fprintf(out, "check: %d steps against the fp64 reference (max |emulated - reference| / max |reference|):\n",
                c->steps);
    for (int l = 0; l < c->layers; l++) {
        if (out)
            fprintf(out, "  layer %-3d %.3e\n", l, c->err[l]);
        if (c->err[l] > w)
            w = c->err[l], wl = l, wh = -1;
        /* its KV heads' attention results, each with its pattern */
        for (int h = 0; c->heads && h < s->kv_heads; h++) {
            double e = c->err_head[(size_t)l * (size_t)s->kv_heads + (size_t)h];
            if (out)    /* (eight heads a line) */
                fprintf(out, "%s %d %s %.3e%s", h == 0 ? "    attention: head" : h % 8 ? "," : ",\n                   ", h,
                        head_kind(c, l, h), e, h + 1 == s->kv_heads ? "\n" : "");
            if (e > w)
                w = e, wl = l, wh = h;
        }
    }
    bool has_logits = s->phase[0].has_logits;
    if (out && has_logits)
        fprintf(out, "  logits    %.3e\n", c->err_logits);
    if (has_logits && c->err_logits > w)
        w = c->err_logits, wl = -1, wh = -1;
    *worst = w;
    if (!(w <= tol)) {
        if (wh >= 0)
            diag_error(d, NOLOC, "--check: layer %d's attention of KV head %d (%s) is %.3e from the reference "
                       "(tolerance %.1e)", wl, wh, head_kind(c, wl, wh), w, tol);
        else if (wl >= 0)
            diag_error(d, NOLOC, "--check: layer %d's output is %.3e from the reference (tolerance %.1e)", wl, w, tol);
        else
            diag_error(d, NOLOC, "--check: the logits are %.3e from the reference (tolerance %.1e)", w, tol);
        return false;
    }
    if (out)
        fprintf(out, "check: ok (worst %.3e, tolerance %.1e)\n", w, tol);
    return true;
}
