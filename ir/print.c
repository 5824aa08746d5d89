/* print.c: the IR's text form (docs/ir.md). Canonical: every device field is printed, numbers use
 * the shortest text that reads back exactly, a full range prints as `*`, and an op or tensor with a
 * single tile covering everything prints it inline (`on npu`, `in ch{0-7} at 0x0`). parse.c reads
 * exactly this; parse(print(m)) prints the same text. */
#include "ir.h"

#include <string.h>


/* A path prints bare unless it holds characters the reader treats specially. */
static void print_path(FILE *out, const char *p) {
    for (const char *q = p; *q; q++)
        if (*q == ' ' || *q == '\t' || *q == '"' || *q == '\\' || *q == ':' || (unsigned char)*q < 0x20) {
            write_quoted(out, p);
            return;
        }
    fputs(p, out);
}

/* An entity's source: its .h2 place, or, for one read from IR text, the place its @loc named. */
static void print_loc(FILE *out, const Module *m, Loc loc) {
    if (loc.file && loc.file->ir_text)
        loc = ir_origin(m, loc);
    if (!loc.file || loc.line <= 0 || loc.file->ir_text)
        return;
    fputs(" @", out);
    print_path(out, loc.file->name);
    fprintf(out, ":%d:%d", loc.line, loc.col);
}

static void print_value(FILE *out, double v, UnitKind k) {
    char buf[64];
    unit_format(buf, sizeof buf, v, k);
    fputs(buf, out);
}

void ir_print_range_set(FILE *out, ChanSet s) {
    fputs("ch{", out);
    bool first = true;
    for (int c = 0; c < 64; c++) {
        if (!(s & CHAN_BIT(c)))
            continue;
        int e = c;
        while (e + 1 < 64 && (s & CHAN_BIT(e + 1)))
            e++;
        fprintf(out, "%s%d", first ? "" : ",", c);
        if (e > c)
            fprintf(out, "-%d", e);
        first = false;
        c = e;
    }
    fputs("}", out);
}

static int lowest_bit(ChanSet s) { return s ? __builtin_ctzll(s) : -1; }

void ir_print_exec(FILE *out, Exec e) {
    switch (e.kind) {
    case EXEC_NONE: fputs("none", out); break;
    case EXEC_NPU: fputs("npu", out); break;
    case EXEC_NMP: fputs("nmp ", out); ir_print_range_set(out, e.chans); break;
    case EXEC_PE: fprintf(out, "pe ch%d.b%d", lowest_bit(e.chans), e.bank); break;
    }
}

static void print_place(FILE *out, Place p) {
    if (p.kind == PLACE_BANK)
        fprintf(out, "ch%d.b%d", lowest_bit(p.chans), p.bank);
    else
        ir_print_range_set(out, p.chans);
    if (p.offset >= 0)
        fprintf(out, " at 0x%llx", (unsigned long long)p.offset);
}

static void print_box(FILE *out, const Range *box, const long long *dims, int rank) {
    fputc('[', out);
    for (int i = 0; i < rank; i++) {
        if (i)
            fputs(", ", out);
        if (box[i].lo == 0 && box[i].hi == dims[i])
            fputc('*', out);
        else
            fprintf(out, "%lld:%lld", box[i].lo, box[i].hi);
    }
    fputc(']', out);
}

static bool box_full(const Range *box, const long long *dims, int rank) {
    for (int i = 0; i < rank; i++)
        if (box[i].lo != 0 || box[i].hi != dims[i])
            return false;
    return true;
}

static void print_dims(FILE *out, const long long *d, int n) {
    fputc('[', out);
    for (int i = 0; i < n; i++)
        fprintf(out, "%s%lld", i ? ", " : "", d[i]);
    fputc(']', out);
}

static void print_device(FILE *out, const Module *m, const Device *dev) {
    const Hardware *hw = &dev->hw;
    fprintf(out, "device %s", hw->name);
    print_loc(out, m, hw->loc);
    fputs(" {\n", out);
    for (int i = 0; i < HWF_COUNT_; i++) {
        const FieldDesc *f = &hw_fields[i];
        double v = *(const double *)((const char *)hw + f->offset);
        fprintf(out, "  %s = ", f->path);
        if (f->flags & F_ENUM_PREC)
            fputs(precision_name((Precision)v), out);
        else
            print_value(out, v, f->kind);
        print_loc(out, m, hw->locs[i]);
        fputc('\n', out);
    }
    for (int i = 0; i < EF_COUNT_; i++) {
        const EnergyEntry *e = &hw->energy[i];
        fprintf(out, "  energy %s = ", energy_names[i]);
        if (e->table) {
            fputc('[', out);
            for (int j = 0; j < e->ntable; j++) {
                if (j)
                    fputs(", ", out);
                print_value(out, e->table[j].freq, UK_FREQ);
                fputc(' ', out);
                print_value(out, e->table[j].pj, UK_ENERGY_MAC);
            }
            fputc(']', out);
        } else {
            print_value(out, e->value, energy_kinds[i]);
        }
        fputs(" from ", out);
        write_quoted(out, e->source ? e->source : "");
        print_loc(out, m, e->loc);
        fputc('\n', out);
    }
    fputs("}\n", out);
}

/* The model's keys beyond its shape, each only when it differs from the default: the norms'
 * epsilon, the prefill attention form and the rotary embedding. */
static void print_model_extras(FILE *out, const ModelShape *ms) {
    char num[40];
    Rope d;
    rope_defaults(&d);
    if (ms->norm_eps != 1e-5) {
        fmt_double(num, sizeof num, ms->norm_eps);
        fprintf(out, " norm_eps %s", num);
    }
    if (ms->attention != ATTN_FUSED)
        fprintf(out, " attention %s", attn_form_names[ms->attention]);
    const Rope *r = &ms->rope;
    const struct {
        const char *key;
        double v, def;
    } keys[] = {{"rope_theta", r->theta, d.theta},
                {"rope_fraction", r->fraction, d.fraction},
                {"rope_factor", r->factor, d.factor},
                {"rope_low_freq_factor", r->low_freq_factor, d.low_freq_factor},
                {"rope_high_freq_factor", r->high_freq_factor, d.high_freq_factor},
                {"rope_original_max", r->original_max, d.original_max}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (i == 2 && r->scaling != ROPE_NONE)
            fprintf(out, " rope_scaling %s", rope_scaling_names[r->scaling]);
        if (keys[i].v != keys[i].def) {
            fmt_double(num, sizeof num, keys[i].v);
            fprintf(out, " %s %s", keys[i].key, num);
        }
    }
}

static const char *const tensor_kind_names[] = {"weight", "kv"};

static void print_tensor(FILE *out, const Module *m, const Tensor *t) {
    fprintf(out, "tensor %%%s %s %s ", t->name, tensor_kind_names[t->kind], precision_name(t->elem));
    print_dims(out, t->dims, t->rank);
    if (t->bias)
        fputs(" bias", out);
    fprintf(out, " layers %d", t->layers);
    bool inline_tile = t->ntiles == 1 && box_full(t->tiles[0].box, t->dims, t->rank);
    if (inline_tile) {
        fputs(" in ", out);
        print_place(out, t->tiles[0].place);
    }
    print_loc(out, m, t->loc);
    fputc('\n', out);
    if (inline_tile)
        return;
    for (int i = 0; i < t->ntiles; i++) {
        fputs("  tile ", out);
        print_box(out, t->tiles[i].box, t->dims, t->rank);
        fputs(" in ", out);
        print_place(out, t->tiles[i].place);
        fputc('\n', out);
    }
}

static void print_op(FILE *out, const Module *m, const Phase *ph, const Op *op, const char *indent) {
    fprintf(out, "%s%%%s", indent, op->name);
    if (op->out_rank > 0) {
        fputs(": ", out);
        print_dims(out, op->out, op->out_rank);
    }
    fprintf(out, " = %s(", op_info[op->code].name);
    for (int i = 0; i < op->ninputs; i++) {
        int k = op->inputs[i];
        fprintf(out, "%s%%%s", i ? ", " : "", ir_input_name(ph, k));
    }
    fputc(')', out);
    if (op->tensor >= 0)
        fprintf(out, " %s %%%s", m->tensors[op->tensor].kind == TEN_WEIGHT ? (op->tied ? "wT" : "w") : "kv",
                m->tensors[op->tensor].name);
    if (op->fn)
        fprintf(out, " fn %s", op->fn);
    char num[40];
    if (op->eps > 0) {
        fmt_double(num, sizeof num, op->eps);
        fprintf(out, " eps %s", num);
    }
    if (op->scale > 0) {
        fmt_double(num, sizeof num, op->scale);
        fprintf(out, " scale %s", num);
    }
    if (op->positions > 0)
        fprintf(out, " positions %d offset %d", op->positions, op->offset);
    if (op->window > 0)
        fprintf(out, " window %d", op->window);
    if (op->unit_offset)
        fputs(" unit_offset", out);
    if (op->kv_range.hi > op->kv_range.lo)
        fprintf(out, " kv_range %lld:%lld", op->kv_range.lo, op->kv_range.hi);
    if (op->heads.hi > op->heads.lo)
        fprintf(out, " heads %lld:%lld", op->heads.lo, op->heads.hi);
    bool has_shape = op->shape[0] || op->shape[1] || op->shape[2] || op->shape[3];
    if (has_shape) {
        fputs(" shape ", out);
        print_dims(out, op->shape, 4);
    }
    if (op->df.group >= 0)
        fprintf(out, " group %d part %d stratum %d", op->df.group, op->df.part, op->df.stratum);
    bool inline_tile = has_shape && op->ntiles == 1 && box_full(op->tiles[0].box, op->shape, 4);
    if (inline_tile) {
        fputs(" on ", out);
        ir_print_exec(out, op->tiles[0].exec);
    }
    print_loc(out, m, op->loc);
    fputc('\n', out);
    if (inline_tile)
        return;
    static const long long nodims[4] = {-1, -1, -1, -1};
    for (int i = 0; i < op->ntiles; i++) {
        fprintf(out, "%s  tile ", indent);
        print_box(out, op->tiles[i].box, has_shape ? op->shape : nodims, 4);
        fputs(" on ", out);
        ir_print_exec(out, op->tiles[i].exec);
        fputc('\n', out);
    }
}

/* A sorted set of small numbers: {0-11} or {0,2,4-7}, or the number alone when it has one. */
static void print_num_set(FILE *out, const int *v, int n, bool braces) {
    if (n == 1 && !braces) {
        fprintf(out, "%d", v[0]);
        return;
    }
    fputc('{', out);
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && v[j + 1] == v[j] + 1)
            j++;
        fprintf(out, "%s%d", i ? "," : "", v[i]);
        if (j > i)
            fprintf(out, "-%d", v[j]);
        i = j + 1;
    }
    fputc('}', out);
}

/* The bank list, in its order: runs of one channel with rising banks, and consecutive runs with the
 * same banks on rising channels written once, ch{0-5}.b{0-15} (channel-major). No allocation: a run
 * is at most 1024 banks (a channel has no more), a group at most IR_MAX_CHANNELS channels. */
void ir_print_banks(FILE *out, const BankRef *b, int n) {
    enum { MAX_RUN = 1024 };
    int chs[IR_MAX_CHANNELS], bks[MAX_RUN];
    bool first = true;
    for (int i = 0; i < n;) {
        /* the run of channel b[i].ch */
        int e = i + 1;
        while (e < n && e - i < MAX_RUN && b[e].ch == b[i].ch && b[e].bank > b[e - 1].bank)
            e++;
        int len = e - i, nch = 1;
        chs[0] = b[i].ch;
        /* more runs of the same banks on the next channels up */
        int k = e;
        while (nch < IR_MAX_CHANNELS && k + len <= n && b[k].ch > chs[nch - 1]) {
            bool same = true;
            for (int j = 0; j < len && same; j++)
                same = b[k + j].ch == b[k].ch && b[k + j].bank == b[i + j].bank;
            if (!same || (k + len < n && b[k + len].ch == b[k].ch && b[k + len].bank > b[k + len - 1].bank))
                break;
            chs[nch++] = b[k].ch;
            k += len;
        }
        for (int j = 0; j < len; j++)
            bks[j] = b[i + j].bank;
        if (!first)
            fputc(',', out);
        first = false;
        fputs("ch", out);
        print_num_set(out, chs, nch, false);
        fputs(".b", out);
        print_num_set(out, bks, len, false);
        i = k;
    }
}

static void print_layers(FILE *out, Range r) {
    if (r.hi == r.lo + 1)
        fprintf(out, "layers %lld", r.lo);
    else
        fprintf(out, "layers %lld:%lld", r.lo, r.hi);
}

/* heads: a range lo:hi when contiguous (two or more), else a comma list of numbers and ranges */
static void print_heads(FILE *out, const int *h, int n) {
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && h[j + 1] == h[j] + 1)
            j++;
        fprintf(out, "%s%d", i ? "," : "", h[i]);
        if (j > i)
            fprintf(out, ":%d", h[j] + 1);
        i = j + 1;
    }
}

static void print_attention(FILE *out, const Module *m, const Attention *a) {
    const Phase *dc = &m->phases[PH_DECODE];
    fprintf(out, "attention %%%s score %%%s kv %%%s %%%s", dc->ops[a->value_op].name, dc->ops[a->score_op].name,
            m->tensors[a->k_tensor].name, m->tensors[a->v_tensor].name);
    print_loc(out, m, a->loc);
    fputs(" {\n", out);
    for (int i = 0; i < a->npats; i++) {
        const AttnPatternLine *p = &a->pats[i];
        fputs("  pattern ", out);
        print_layers(out, p->layers);
        fputs(" heads ", out);
        print_heads(out, p->heads, p->nheads);
        fprintf(out, " %s", pat_kind_names[p->pat.kind]);
        if (p->pat.kind == PAT_STATIC)
            fprintf(out, " sink %d window %d", p->pat.sink, p->pat.window);
        else if (p->pat.kind == PAT_DYNAMIC)
            fprintf(out, " page %d budget %d", p->pat.page, p->pat.budget);
        fputc('\n', out);
    }
    for (int i = 0; i < a->ntiles; i++) {
        const AttnTiles *t = &a->tiles[i];
        fputs("  tiles ", out);
        print_layers(out, t->layers);
        fprintf(out, " head %d batch %d on ", t->head, t->batch);
        ir_print_banks(out, t->banks, t->nbanks);
        if (t->by.kind == EXEC_NPU)
            fputs(" by npu", out);
        else if (t->by.kind == EXEC_PE)
            fprintf(out, " by ch%d.b%d", lowest_bit(t->by.chans), t->by.bank);
        if (t->offset >= 0)
            fprintf(out, " at 0x%llx", (unsigned long long)t->offset);
        fputc('\n', out);
    }
    fputs("}\n", out);
}

void ir_print(FILE *out, const Module *m) {
    fprintf(out, "; h2c IR v%d\n", IR_VERSION);
    fputs("module ", out);
    write_quoted(out, m->source ? m->source : "");
    fprintf(out, " cost_model %s dataflow %s objective %s", cost_model_names[m->cost_model],
            dataflow_mode_names[m->dataflow], objective_names[m->objective]);
    if (m->splits != SPLITS_ALL) /* (the default is left out) */
        fprintf(out, " splits %s", split_space_names[m->splits]);
    fputs("\n\n", out);
    print_device(out, m, &m->dev);
    fputc('\n', out);
    const ModelShape *ms = &m->model;
    fprintf(out, "model %s layers %d hidden %d intermediate %d heads %d kv_heads %d head_dim %d vocab %d", ms->name,
            ms->layers, ms->hidden, ms->intermediate, ms->heads, ms->kv_heads, ms->head_dim, ms->vocab);
    print_model_extras(out, ms);
    print_loc(out, m, ms->loc);
    fputc('\n', out);
    const Workload *w = &m->work;
    fprintf(out, "workload %s batch %d prompt %d generate %d max_seq %d", w->name, w->batch, w->prompt, w->generate,
            w->max_seq);
    if (w->attention >= 0)
        fprintf(out, " attention %s", attn_form_names[w->attention]);
    print_loc(out, m, w->loc);
    fputc('\n', out);
    if (m->has_sparsity) {
        const Sparsity *sp = &m->sparsity;
        char sh[40];
        fmt_double(sh, sizeof sh, sp->static_heads);
        fprintf(out, "sparsity %s mode %s sink %d window %d page %d budget %d static_heads %s dense_layers %d",
                sp->name, sparse_mode_names[sp->mode], sp->sink, sp->window, sp->page, sp->budget, sh,
                sp->dense_layers);
        if (sp->profile) {
            fputs(" profile ", out);
            write_quoted(out, sp->profile);
        }
        print_loc(out, m, sp->loc);
        fputc('\n', out);
    }
    if (m->ntensors)
        fputc('\n', out);
    for (int i = 0; i < m->ntensors; i++)
        print_tensor(out, m, &m->tensors[i]);
    for (int i = 0; i < m->nattns; i++) {
        fputc('\n', out);
        print_attention(out, m, &m->attns[i]);
    }
    for (int p = 0; p < PH_COUNT_; p++) {
        const Phase *ph = &m->phases[p];
        fprintf(out, "\nphase %s tokens %d context %d", phase_names[p], ph->tokens, ph->ctx_first);
        if (ph->ctx_last != ph->ctx_first)
            fprintf(out, "..%d", ph->ctx_last);
        fprintf(out, " steps %d", ph->steps);
        print_loc(out, m, ph->loc);
        fputs(" {\n", out);
        /* the ops come scope by scope: prologue, layer graph, epilogue */
        for (int i = 0; i < ph->nops;) {
            OpScope sc = ph->ops[i].scope;
            if (sc != SCOPE_LAYER)
                fprintf(out, "  %s {\n", op_scope_names[sc]);
            for (; i < ph->nops && ph->ops[i].scope == sc; i++)
                print_op(out, m, ph, &ph->ops[i], sc == SCOPE_LAYER ? "  " : "    ");
            if (sc != SCOPE_LAYER)
                fputs("  }\n", out);
        }
        fputs("}\n", out);
    }
}
