/* sched_write.c: the runtime's writer of schedules (runtime.h): RtSchedule back to JSON, field by
 * field, in the compiler's order and text layout (backend/sched_json.c), so that reading a schedule
 * and writing it again shows that the reader kept everything: the round-trip test compares the
 * bytes. */
#include "runtime.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- building the tree */

static cJSON *num(double v) { return cJSON_CreateNumber(v); }
static void add_num(cJSON *o, const char *k, double v) { cJSON_AddItemToObject(o, k, num(v)); }
static void add_str(cJSON *o, const char *k, const char *v) { cJSON_AddItemToObject(o, k, cJSON_CreateString(v)); }
static void add_bool(cJSON *o, const char *k, bool v) { cJSON_AddItemToObject(o, k, cJSON_CreateBool(v)); }

static cJSON *pair(int64_t a, int64_t b) {
    cJSON *r = cJSON_CreateArray();
    cJSON_AddItemToArray(r, num((double)a));
    cJSON_AddItemToArray(r, num((double)b));
    return r;
}

static const char *dtype_name(KernelDType t) { return be_dtype_name(t); }

static cJSON *ref_json(const RtRef *r);

static cJSON *expr_json(RtExpr e) {
    if (e.page_rows > 0) {  /* the sel form */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "sel", ref_json(&e.sel));
        add_num(o, "page_rows", (double)e.page_rows);
        e.page_rows = 0;
        cJSON_AddItemToObject(o, "rows", expr_json(e));
        return o;
    }
    if (e.ctx == 0 && e.mod == 0)
        return num((double)rt_expr_eval(e, 0));
    cJSON *o = cJSON_CreateObject();
    add_num(o, "ctx", (double)e.ctx);
    if (e.clamp > 0)
        add_num(o, "max_ctx", (double)e.clamp);
    add_num(o, "plus", (double)e.plus);
    if (e.div != 1)
        add_num(o, "div", (double)e.div);
    if (e.mod > 0)
        add_num(o, "mod", (double)e.mod);
    return o;
}

static cJSON *est_json(RtEst e) {
    if (e.ctx == 0)
        return num(e.plus);
    cJSON *o = cJSON_CreateObject();
    add_num(o, "ctx", e.ctx);
    add_num(o, "plus", e.plus);
    return o;
}

static cJSON *ref_json(const RtRef *r) {
    if (r->null)
        return cJSON_CreateNull();
    static const char *const spaces[] = {"npu", "pe", "bank"};
    cJSON *o = cJSON_CreateObject();
    add_str(o, "at", spaces[r->at]);
    if (r->at == RT_AT_BANK) {
        add_num(o, "channel", r->channel);
        add_num(o, "bank", r->bank);
    }
    add_num(o, "addr", (double)r->addr);
    if (r->at == RT_AT_BANK)
        add_num(o, "layer_stride", (double)r->layer_stride);
    add_num(o, "bytes", (double)r->bytes);
    return o;
}

static void add_repeat(cJSON *o, const RtCmd *c) {
    if (c->repeat <= 1)
        return;
    cJSON *r = cJSON_CreateObject();
    add_num(r, "count", (double)c->repeat);
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < c->nstrides; i++)
        cJSON_AddItemToArray(a, num((double)c->strides[i]));
    cJSON_AddItemToObject(r, "strides", a);
    cJSON_AddItemToObject(o, "repeat", r);
}

static cJSON *cmd_json(const RtCmd *c) {
    cJSON *o = cJSON_CreateObject();
    add_num(o, "id", c->id);
    add_str(o, "cmd", rt_cmd_names[c->kind]);
    add_num(o, "op", c->op);
    if (c->layers[1] > c->layers[0])
        cJSON_AddItemToObject(o, "layers", pair(c->layers[0], c->layers[1]));
    if (c->has_when) {
        cJSON *w = expr_json(c->when);
        cJSON_AddItemToObject(w, "eq", num((double)c->when_eq));
        cJSON_AddItemToObject(o, "when", w);
    }
    cJSON *deps = cJSON_AddArrayToObject(o, "deps");
    for (int i = 0; i < c->ndeps; i++)
        cJSON_AddItemToArray(deps, num(c->deps[i]));
    cJSON_AddItemToObject(o, "est", est_json(c->est));
    switch (c->kind) {
    case RT_KERNEL: {
        add_num(o, "kernel", c->kernel);
        cJSON *b = cJSON_AddArrayToObject(o, "bufs");
        for (int i = 0; i < c->nbufs; i++)
            cJSON_AddItemToArray(b, ref_json(&c->bufs[i]));
        cJSON *a = cJSON_AddArrayToObject(o, "args");
        for (int i = 0; i < c->nargs; i++)
            cJSON_AddItemToArray(a, expr_json(c->args[i]));
        add_repeat(o, c);
        break;
    }
    case RT_KV_APPEND:
        if (c->tensor < 0) {    /* into an attention stream */
            add_num(o, "stream", c->stream);
            add_str(o, "part", c->part_v ? "v" : "k");
            cJSON_AddItemToObject(o, "src", ref_json(&c->src));
            add_num(o, "token_stride", (double)c->token_stride);
            cJSON_AddItemToObject(o, "first", expr_json(c->first));
            cJSON_AddItemToObject(o, "count", expr_json(c->count));
            if (c->ring) {
                cJSON *ring = cJSON_AddObjectToObject(o, "ring");
                add_num(ring, "sink", c->sink);
                add_num(ring, "window", c->window);
            }
            break;
        }
        add_num(o, "tensor", c->tensor);
        add_num(o, "tile", c->tile);
        cJSON_AddItemToObject(o, "src", ref_json(&c->src));
        add_num(o, "head_stride", (double)c->head_stride);
        add_num(o, "batch_stride", (double)c->batch_stride);
        add_num(o, "token_stride", (double)c->token_stride);
        cJSON_AddItemToObject(o, "first", expr_json(c->first));
        cJSON_AddItemToObject(o, "count", expr_json(c->count));
        break;
    case RT_KV_LOAD:
        if (c->stream >= 0) {
            add_num(o, "stream", c->stream);
            add_str(o, "part", c->part_v ? "v" : "k");
            cJSON_AddItemToObject(o, "dst", ref_json(&c->dst));
            cJSON_AddItemToObject(o, "first", expr_json(c->first));
            cJSON_AddItemToObject(o, "count", expr_json(c->count));
            break;
        }
        add_num(o, "tensor", c->tensor);
        add_num(o, "tile", c->tile);
        cJSON_AddItemToObject(o, "pairs", pair(c->pairs[0], c->pairs[1]));
        cJSON_AddItemToObject(o, "dst", ref_json(&c->dst));
        add_num(o, "pair_stride", (double)c->pair_stride);
        cJSON_AddItemToObject(o, "first", expr_json(c->first));
        cJSON_AddItemToObject(o, "count", expr_json(c->count));
        break;
    case RT_GATHER:
        add_num(o, "tensor", c->tensor);
        add_num(o, "tile", c->tile);
        cJSON_AddItemToObject(o, "ids", ref_json(&c->ids));
        if (c->id_offset != 0)
            add_num(o, "id_offset", (double)c->id_offset);
        cJSON_AddItemToObject(o, "dst", ref_json(&c->dst));
        add_num(o, "rows", (double)c->rows);
        break;
    default:
        cJSON_AddItemToObject(o, "src", ref_json(&c->src));
        cJSON_AddItemToObject(o, "dst", ref_json(&c->dst));
        if (c->kind == RT_TRANSFER) {
            cJSON *p = cJSON_AddArrayToObject(o, "pes");
            for (int i = 0; i < c->npes; i++)
                cJSON_AddItemToArray(p, num(c->pes[i]));
        }
        add_num(o, "rows", (double)c->rows);
        add_num(o, "row_bytes", (double)c->row_bytes);
        add_num(o, "src_stride", (double)c->src_stride);
        add_num(o, "dst_stride", (double)c->dst_stride);
        if (c->cvt)
            add_str(o, "cvt", "f16");
        add_repeat(o, c);
        break;
    }
    return o;
}

static cJSON *body_json(const RtBody *b) {
    cJSON *o = cJSON_CreateObject();
    add_num(o, "repeat", b->repeat);
    add_num(o, "commands", b->ncmds);
    cJSON *units = cJSON_AddArrayToObject(o, "units");
    for (int s = 0; s < b->nstreams; s++) {
        const RtStream *st = &b->streams[s];
        cJSON *u = cJSON_CreateObject();
        add_num(u, st->link ? "link" : "unit", st->id);
        cJSON *cmds = cJSON_AddArrayToObject(u, "commands");
        for (int k = 0; k < st->ncmds; k++)
            cJSON_AddItemToArray(cmds, cmd_json(&st->cmds[k]));
        cJSON_AddItemToArray(units, u);
    }
    return o;
}

static cJSON *phase_json(const RtPhase *ph) {
    cJSON *o = cJSON_CreateObject();
    add_num(o, "tokens", ph->tokens);
    add_num(o, "rows", ph->rows);
    add_num(o, "steps", ph->steps);
    cJSON *ctx = cJSON_AddObjectToObject(o, "ctx");
    add_num(ctx, "first", (double)ph->ctx_first);
    add_num(ctx, "last", (double)ph->ctx_last);
    add_num(ctx, "max", (double)ph->ctx_max);
    add_num(o, "npu_scratch", (double)ph->npu_scratch);
    add_num(o, "pe_scratch", (double)ph->pe_scratch);
    cJSON *in = cJSON_AddObjectToObject(o, "inputs");
    if (ph->has_tokens)
        cJSON_AddItemToObject(in, "tokens", ref_json(&ph->in_tokens));
    if (ph->has_x_in)
        cJSON_AddItemToObject(in, "x", ref_json(&ph->in_x));
    if (ph->has_positions)
        cJSON_AddItemToObject(in, "positions", ref_json(&ph->in_positions));
    cJSON *out = cJSON_AddObjectToObject(o, "outputs");
    if (ph->has_logits)
        cJSON_AddItemToObject(out, "logits", ref_json(&ph->out_logits));
    if (ph->has_x_out)
        cJSON_AddItemToObject(out, "x", ref_json(&ph->out_x));
    cJSON_AddItemToObject(out, "hidden", ref_json(&ph->out_hidden));
    if (ph->has_attn)
        cJSON_AddItemToObject(out, "attention", ref_json(&ph->out_attn));
    cJSON *cs = cJSON_AddArrayToObject(o, "constants");
    for (int i = 0; i < ph->nconsts; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToObject(c, "ref", ref_json(&ph->consts[i].ref));
        if (ph->consts[i].iota)
            add_str(c, "fill", "iota");
        else
            add_num(c, "fill", ph->consts[i].fill);
        cJSON_AddItemToArray(cs, c);
    }
    cJSON *ops = cJSON_AddArrayToObject(o, "ops");
    for (int i = 0; i < ph->nops; i++) {
        const RtSchedOp *x = &ph->ops[i];
        cJSON *j = cJSON_CreateObject();
        add_str(j, "name", x->name);
        add_str(j, "kind", x->kind);
        add_str(j, "scope", x->scope);
        add_str(j, "runs", x->runs);
        if (x->into >= 0)
            add_num(j, "into", x->into);
        if (x->has_est) {
            cJSON_AddItemToObject(j, "npu", est_json(x->npu));
            cJSON_AddItemToObject(j, "nmp", est_json(x->nmp));
            cJSON_AddItemToObject(j, "energy", est_json(x->energy));
        }
        cJSON_AddItemToArray(ops, j);
    }
    for (int sc = 0; sc < RT_SCHED_SCOPE_COUNT_; sc++)
        cJSON_AddItemToObject(o, rt_sched_scope_names[sc], body_json(&ph->body[sc]));
    return o;
}

static cJSON *device_json(const RtDevice *dv) {
    cJSON *d = cJSON_CreateObject();
    add_str(d, "name", dv->name);
    add_str(d, "precision", dv->precision);
    add_num(d, "channels", dv->channels);
    add_num(d, "nmp_channels", dv->nmp_channels);
    add_num(d, "banks_per_channel", dv->banks);
    add_num(d, "bank_capacity", (double)dv->bank_capacity);
    cJSON *o = cJSON_AddObjectToObject(d, "channel");
    add_num(o, "bandwidth", dv->channel_bandwidth);
    add_num(o, "utilization", dv->channel_utilization);
    o = cJSON_AddObjectToObject(d, "npu");
    add_num(o, "throughput", dv->npu_throughput);
    add_num(o, "utilization", dv->npu_utilization);
    add_num(o, "sram", dv->npu_sram);
    o = cJSON_AddObjectToObject(d, "nmp");
    add_num(o, "transfer_bandwidth", dv->transfer_bandwidth);
    o = cJSON_AddObjectToObject(d, "pe");
    add_num(o, "fpus", dv->pe_fpus);
    add_num(o, "simd", dv->pe_simd);
    add_num(o, "frequency", dv->pe_frequency);
    add_num(o, "bandwidth", dv->pe_bandwidth);
    add_num(o, "banks", dv->pe_banks);
    o = cJSON_AddObjectToObject(d, "buffers");
    add_num(o, "input", dv->buf_input);
    add_num(o, "weight", dv->buf_weight);
    add_num(o, "output", dv->buf_output);
    cJSON *en = cJSON_AddArrayToObject(d, "energy");
    for (int i = 0; i < RT_ENERGY_COUNT; i++) {
        const RtEnergy *e = &dv->energy[i];
        cJSON *j = cJSON_CreateObject();
        add_str(j, "name", e->name);
        add_num(j, "value", e->value);
        add_str(j, "unit", e->unit);
        if (e->ntable > 0) {
            cJSON *t = cJSON_AddArrayToObject(j, "table");
            for (int k = 0; k < e->ntable; k++)
                cJSON_AddItemToArray(t, cJSON_CreateDoubleArray(e->table[k], 2));
        }
        add_str(j, "source", e->source);
        cJSON_AddItemToArray(en, j);
    }
    cJSON *units = cJSON_AddArrayToObject(d, "units");
    for (int i = 0; i < dv->nunits; i++) {
        const RtUnit *u = &dv->units[i];
        cJSON *j = cJSON_CreateObject();
        switch (u->kind) {
        case RT_UNIT_NPU:
            add_str(j, "kind", "npu");
            add_num(j, "rate", u->rate);
            add_num(j, "sram", u->sram);
            break;
        case RT_UNIT_CHANNEL:
            add_str(j, "kind", "channel");
            add_num(j, "channel", u->channel);
            add_bool(j, "nmp", u->nmp);
            break;
        case RT_UNIT_BANK:
            add_str(j, "kind", "bank");
            add_num(j, "channel", u->channel);
            add_num(j, "bank", u->bank);
            add_num(j, "capacity", u->capacity);
            break;
        case RT_UNIT_PE:
            add_str(j, "kind", "pe");
            add_num(j, "channel", u->channel);
            add_num(j, "pe", u->pe);
            cJSON_AddItemToObject(j, "banks", pair(u->bank_lo, u->bank_hi));
            add_num(j, "rate", u->rate);
            break;
        }
        cJSON_AddItemToArray(units, j);
    }
    cJSON *links = cJSON_AddArrayToObject(d, "links");
    static const char *const lk[] = {"channel", "hb", "xfer"};
    for (int i = 0; i < dv->nlinks; i++) {
        const RtLink *l = &dv->links[i];
        cJSON *j = cJSON_CreateObject();
        add_str(j, "kind", lk[l->kind]);
        add_num(j, "channel", l->channel);
        if (l->kind == RT_LINK_HB)
            add_num(j, "bank", l->bank);
        add_num(j, "bandwidth", l->bandwidth);
        cJSON_AddItemToArray(links, j);
    }
    return d;
}

static cJSON *tensors_json(const RtSchedule *s) {
    static const char *const layouts[] = {"rows", "vector", "tokens"};
    cJSON *ts = cJSON_CreateArray();
    for (int i = 0; i < s->ntensors; i++) {
        const RtTensor *t = &s->tensors[i];
        cJSON *j = cJSON_CreateObject();
        add_str(j, "name", t->name);
        add_str(j, "kind", t->kv ? "kv" : "weight");
        cJSON *dims = cJSON_AddArrayToObject(j, "dims");
        for (int d = 0; d < t->rank; d++)
            cJSON_AddItemToArray(dims, num((double)t->dims[d]));
        add_num(j, "layers", t->layers);
        cJSON *tiles = cJSON_AddArrayToObject(j, "tiles");
        for (int k = 0; k < t->ntiles; k++) {
            const RtTile *x = &t->tiles[k];
            cJSON *tj = cJSON_CreateObject();
            cJSON *box = cJSON_AddArrayToObject(tj, "box");
            for (int d = 0; d < t->rank; d++)
                cJSON_AddItemToArray(box, pair(x->box[d][0], x->box[d][1]));
            add_str(tj, "layout", layouts[x->layout]);
            add_str(tj, "dtype", dtype_name(x->dtype));
            add_num(tj, "row_bytes", (double)x->row_bytes);
            switch (x->layout) {
            case RT_ROWS:
                add_num(tj, "k", (double)x->k);
                add_num(tj, "scale_bytes", (double)x->scale_bytes);
                add_num(tj, "group", (double)x->group);
                add_bool(tj, "bias", x->bias);
                cJSON_AddItemToObject(tj, "rows", pair(x->lo, x->hi));
                break;
            case RT_VECTOR:
                add_bool(tj, "bias", x->bias);
                cJSON_AddItemToObject(tj, "elements", pair(x->lo, x->hi));
                break;
            default:
                cJSON_AddItemToObject(tj, "heads", pair(x->heads[0], x->heads[1]));
                cJSON_AddItemToObject(tj, "batch", pair(x->batch[0], x->batch[1]));
                add_num(tj, "cap", (double)x->cap);
                break;
            }
            add_num(tj, "banks", x->nbanks);
            cJSON *regs = cJSON_AddArrayToObject(tj, "regions");
            for (int r = 0; r < x->nregions; r++) {
                const RtRegion *g = &x->regions[r];
                cJSON *rj = cJSON_CreateObject();
                add_num(rj, "channel", g->channel);
                add_num(rj, "bank", g->bank);
                add_num(rj, "addr", (double)g->addr);
                add_num(rj, "stride", (double)g->stride);
                add_num(rj, "bytes", (double)g->bytes);
                if (x->layout == RT_TOKENS)
                    add_num(rj, "residue", (double)g->lo);
                else
                    cJSON_AddItemToObject(rj, x->layout == RT_ROWS ? "rows" : "elements", pair(g->lo, g->hi));
                cJSON_AddItemToArray(regs, rj);
            }
            cJSON_AddItemToArray(tiles, tj);
        }
        cJSON_AddItemToArray(ts, j);
    }
    return ts;
}

static cJSON *attention_json(const RtSchedule *s) {
    static const char *const kinds[] = {"dense", "static", "dynamic"};
    cJSON *arr = cJSON_CreateArray();
    for (int a = 0; a < s->nattns; a++) {
        const RtAttention *at = &s->attns[a];
        cJSON *j = cJSON_CreateObject();
        add_num(j, "value", at->value);
        add_num(j, "score", at->score);
        add_num(j, "k", at->k);
        add_num(j, "v", at->v);
        cJSON *pats = cJSON_AddArrayToObject(j, "patterns");
        for (int i = 0; i < at->npats; i++) {
            const RtPattern *p = &at->pats[i];
            cJSON *pj = cJSON_CreateObject();
            cJSON_AddItemToObject(pj, "layers", pair(p->layers[0], p->layers[1]));
            cJSON *hs = cJSON_AddArrayToObject(pj, "heads");
            for (int k = 0; k < p->nheads; k++)
                cJSON_AddItemToArray(hs, num(p->heads[k]));
            add_str(pj, "kind", kinds[p->kind]);
            if (p->kind == RT_PAT_STATIC) {
                add_num(pj, "sink", p->sink);
                add_num(pj, "window", p->window);
            } else if (p->kind == RT_PAT_DYNAMIC) {
                add_num(pj, "page", p->page);
                add_num(pj, "budget", p->budget);
            }
            cJSON_AddItemToArray(pats, pj);
        }
        cJSON *sts = cJSON_AddArrayToObject(j, "streams");
        for (int i = at->first; i < at->first + at->nstreams; i++) {
            const RtKvStream *st = &s->streams[i];
            cJSON *sj = cJSON_CreateObject();
            cJSON_AddItemToObject(sj, "layers", pair(st->layers[0], st->layers[1]));
            add_num(sj, "head", st->head);
            add_num(sj, "batch", st->batch);
            add_str(sj, "dtype", dtype_name(st->dtype));
            add_num(sj, "row_bytes", (double)st->row_bytes);
            add_num(sj, "cap", (double)st->cap);
            add_num(sj, "pages", (double)st->pages);
            cJSON *regs = cJSON_AddArrayToObject(sj, "regions");
            for (int r = 0; r < st->nregions; r++) {
                const RtRegion *g = &st->regions[r];
                cJSON *rj = cJSON_CreateObject();
                add_num(rj, "channel", g->channel);
                add_num(rj, "bank", g->bank);
                add_num(rj, "addr", (double)g->addr);
                add_num(rj, "stride", (double)g->stride);
                add_num(rj, "bytes", (double)g->bytes);
                cJSON_AddItemToArray(regs, rj);
            }
            cJSON_AddItemToArray(sts, sj);
        }
        cJSON_AddItemToArray(arr, j);
    }
    return arr;
}

static cJSON *graph_json(const RtSchedule *s) {
    static const char *const kinds[] = {"fc", "attn_score", "softmax", "attn_value", "norm", "activation",
                                        "add", "mul", "embedding", "rope"};
    static const char *const acts[] = {"silu", "gelu", "gelu_tanh", "relu"};
    static const char *const scopes[] = {"layer", "prologue", "epilogue"};
    static const char *const scalings[] = {"none", "linear", "llama3"};
    const RtModel *m = s->graph;
    cJSON *g = cJSON_CreateObject();
    add_num(g, "norm_eps", m->norm_eps);
    cJSON *r = cJSON_AddObjectToObject(g, "rope");
    add_num(r, "theta", m->rope_theta);
    add_num(r, "fraction", m->rope_fraction);
    add_str(r, "scaling", scalings[m->rope_scaling]);
    add_num(r, "factor", m->rope_factor);
    add_num(r, "low_freq_factor", m->rope_low_freq_factor);
    add_num(r, "high_freq_factor", m->rope_high_freq_factor);
    add_num(r, "original_max", m->rope_original_max);
    add_num(g, "layer_out", m->layer_out);
    add_num(g, "prologue_out", m->has_prologue ? m->prologue_out : -1);
    add_num(g, "epilogue_out", m->has_epilogue ? m->epilogue_out : -1);
    cJSON *ops = cJSON_AddArrayToObject(g, "ops");
    for (int i = 0; i < m->nops; i++) {
        const RtOp *o = &m->ops[i];
        cJSON *j = cJSON_CreateObject();
        add_str(j, "name", o->name);
        add_str(j, "kind", kinds[o->kind]);
        add_str(j, "scope", scopes[o->scope]);
        cJSON *in = cJSON_AddArrayToObject(j, "inputs");
        for (int k = 0; k < o->ninputs; k++)
            cJSON_AddItemToArray(in, num(o->inputs[k]));
        add_num(j, "in_width", o->in_width);
        add_num(j, "width", o->width);
        add_str(j, "act", o->kind == RT_ACT ? acts[o->act] : "none");
        add_bool(j, "layer_norm", o->layer_norm);
        add_bool(j, "bias", o->bias);
        add_num(j, "tied", o->tied);
        add_num(j, "eps", o->eps);
        add_num(j, "scale", o->scale);
        add_num(j, "positions", o->positions);
        add_num(j, "offset", o->offset);
        add_num(j, "window", o->window);
        add_bool(j, "unit_offset", o->unit_offset);
        add_num(j, "tensor", s->graph_tensor[i]);
        cJSON_AddItemToArray(ops, j);
    }
    return g;
}

static cJSON *doc_json(const RtSchedule *s) {
    cJSON *root = cJSON_CreateObject();
    add_str(root, "format", "h2c-schedule");
    add_num(root, "version", s->version);
    add_str(root, "generator", s->generator);
    add_str(root, "name", s->name);
    add_str(root, "source", s->source);
    cJSON *o = cJSON_AddObjectToObject(root, "module");
    add_str(o, "cost_model", s->cost_model);
    add_str(o, "dataflow", s->dataflow);
    add_str(o, "objective", s->objective);
    o = cJSON_AddObjectToObject(root, "model");
    add_str(o, "name", s->model_name);
    add_num(o, "layers", s->layers);
    add_num(o, "hidden", s->hidden);
    add_num(o, "intermediate", s->intermediate);
    add_num(o, "heads", s->heads);
    add_num(o, "kv_heads", s->kv_heads);
    add_num(o, "head_dim", s->head_dim);
    add_num(o, "vocab", s->vocab);
    o = cJSON_AddObjectToObject(root, "workload");
    add_str(o, "name", s->workload_name);
    add_num(o, "batch", s->batch);
    add_num(o, "prompt", s->prompt);
    add_num(o, "generate", s->generate);
    add_num(o, "max_seq", s->max_seq);
    cJSON_AddItemToObject(root, "device", device_json(&s->dev));
    cJSON_AddItemToObject(root, "tensors", tensors_json(s));
    cJSON_AddItemToObject(root, "attention", attention_json(s));
    cJSON *k = cJSON_AddArrayToObject(root, "kernels");
    for (int i = 0; i < s->nkernels; i++)
        cJSON_AddItemToArray(k, be_kernel_json(&s->kernels[i].desc));
    o = cJSON_AddObjectToObject(root, "phases");
    for (int p = 0; p < 2; p++)
        cJSON_AddItemToObject(o, rt_phase_names[p], phase_json(&s->phase[p]));
    cJSON_AddItemToObject(root, "graph", graph_json(s));
    return root;
}

/* ---------------------------------------------------------------- the text layout (as backend/sched_json.c) */

static const char *const record_lists[] = {"commands", "kernels", "regions", "ops", "constants", "energy",
                                           "units", "links", "tiles", "tensors", "attention", "patterns",
                                           "streams", NULL};

static bool is_record_list(const char *key) {
    for (int i = 0; key && record_lists[i]; i++)
        if (strcmp(key, record_lists[i]) == 0)
            return true;
    return false;
}

static bool is_container(const cJSON *n) { return cJSON_IsObject(n) || cJSON_IsArray(n); }

static bool spread(const cJSON *n) {
    if (!is_container(n))
        return false;
    for (const cJSON *c = n->child; c; c = c->next) {
        if (cJSON_IsArray(c) && is_record_list(c->string))
            return true;
        if (is_container(c) && spread(c))
            return true;
    }
    return false;
}

static void put(RtText *o, const char *s, size_t n) {
    if (o->failed)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (o->len + n + 1 > cap)
            cap *= 2;
        char *t = h2c_raw_realloc(o->text, o->cap, cap);
        if (!t) {
            o->failed = true;
            return;
        }
        o->text = t;
        o->cap = cap;
    }
    memcpy(o->text + o->len, s, n);
    o->len += n;
    o->text[o->len] = 0;
}

static void puts_(RtText *o, const char *s) { put(o, s, strlen(s)); }

static void put_key(RtText *o, const char *s) {
    puts_(o, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': puts_(o, "\\\""); break;
        case '\\': puts_(o, "\\\\"); break;
        case '\b': puts_(o, "\\b"); break;
        case '\f': puts_(o, "\\f"); break;
        case '\n': puts_(o, "\\n"); break;
        case '\r': puts_(o, "\\r"); break;
        case '\t': puts_(o, "\\t"); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                puts_(o, esc);
            } else {
                put(o, (const char *)p, 1);
            }
        }
    }
    puts_(o, "\"");
}

/* A number: an integer as one, anything else in the shortest of %.15g, %.16g and %.17g that reads back
 * exactly (fmt_double); a string escaped as JSON wants. */
static void put_scalar(RtText *o, const cJSON *n) {
    char buf[64];
    if (cJSON_IsNumber(n)) {
        double v = n->valuedouble;
        if (!isfinite(v))
            snprintf(buf, sizeof buf, "null");
        else if (v == floor(v) && fabs(v) < 9007199254740992.0)
            snprintf(buf, sizeof buf, "%lld", (long long)v);
        else
            fmt_double(buf, sizeof buf, v);
        puts_(o, buf);
    } else if (cJSON_IsString(n)) {
        put_key(o, n->valuestring);
    } else {
        puts_(o, cJSON_IsTrue(n) ? "true" : cJSON_IsFalse(n) ? "false" : "null");
    }
}

/* A container on one line, ", " and ": " between its parts. */
static void put_compact(RtText *o, const cJSON *n) {
    if (!is_container(n)) {
        put_scalar(o, n);
        return;
    }
    bool obj = cJSON_IsObject(n);
    puts_(o, obj ? "{" : "[");
    for (const cJSON *c = n->child; c; c = c->next) {
        if (obj) {
            put_key(o, c->string);
            puts_(o, ": ");
        }
        put_compact(o, c);
        if (c->next)
            puts_(o, ", ");
    }
    puts_(o, obj ? "}" : "]");
}

static void put_indent(RtText *o, int n) {
    for (int i = 0; i < n; i++)
        puts_(o, "  ");
}

static void put_value(RtText *o, const cJSON *n, const char *key, int depth) {
    bool list = cJSON_IsArray(n) && is_record_list(key);
    if (!is_container(n) || (!list && !spread(n))) {
        put_compact(o, n);
        return;
    }
    bool obj = cJSON_IsObject(n);
    if (!n->child) {
        puts_(o, obj ? "{}" : "[]");
        return;
    }
    puts_(o, obj ? "{\n" : "[\n");
    for (const cJSON *c = n->child; c; c = c->next) {
        put_indent(o, depth + 1);
        if (obj) {
            put_key(o, c->string);
            puts_(o, ": ");
        }
        put_value(o, c, obj ? c->string : NULL, depth + 1);
        puts_(o, c->next ? ",\n" : "\n");
    }
    put_indent(o, depth);
    puts_(o, obj ? "}" : "]");
}

/* cJSON's blocks while the tree is built: a list, so that when an allocation fails (the tree would
 * miss parts, and items made but not yet attached would leak) every block can be freed. */
typedef struct JBlock {
    struct JBlock *prev, *next;
    size_t size, pad;   /* (32 bytes: the block after it stays 16-byte aligned) */
} JBlock;

static JBlock json_live = {&json_live, &json_live, 0, 0};
static bool json_oom;

static void *json_malloc(size_t n) {
    JBlock *b = n <= SIZE_MAX - sizeof(JBlock) ? h2c_raw_alloc(sizeof(JBlock) + n) : NULL;
    if (!b) {
        json_oom = true;
        return NULL;
    }
    b->size = sizeof(JBlock) + n;
    b->prev = &json_live;
    b->next = json_live.next;
    json_live.next->prev = b;
    json_live.next = b;
    return b + 1;
}

static void json_free(void *p) {
    if (!p)
        return;
    JBlock *b = (JBlock *)p - 1;
    b->prev->next = b->next;
    b->next->prev = b->prev;
    h2c_raw_free(b, b->size);
}

bool rt_schedule_render(const RtSchedule *s, RtText *out) {
    memset(out, 0, sizeof *out);
    cJSON_Hooks hooks = {json_malloc, json_free};
    cJSON_InitHooks(&hooks);
    json_oom = false;
    cJSON *root = doc_json(s);
    if (root && !json_oom) {
        put_value(out, root, NULL, 0);
        puts_(out, "\n");
    }
    while (json_live.next != &json_live)   /* the tree, and whatever a failure left unattached */
        json_free(json_live.next + 1);
    cJSON_InitHooks(NULL);
    if (!root || json_oom || out->failed) {
        rt_text_free(out);
        out->failed = true;
        return false;
    }
    return true;
}

void rt_text_free(RtText *t) {
    h2c_raw_free(t->text, t->cap);
    memset(t, 0, sizeof *t);
}
