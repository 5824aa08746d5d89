/* verify.c: the IR's invariants (docs/ir.md, "Invariants"), checked between passes. Every
 * violation is reported with the Loc of the entity at fault, so a late error still points at the
 * .h2 line. Checks: device, model and workload sanity; phases agree with the workload and with
 * each other; tensor tiles cover their tensor exactly, are placed, fit their banks and do not
 * overlap; op arity, operands and shapes; op tiles cover the iteration space exactly, run on real
 * units and read data that lives where they run; and the dataflow legality rules of H2-LLM. */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct V {
    const Module *m;
    Diag *d;
    bool ok;
} V;


/* An error at an entity's Loc. For one read from IR text, that is its place in the text (an edited
 * .h2ir points at the edit) and a note gives the .h2 place it was compiled from. */
static void verr(V *v, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void verr(V *v, Loc loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(v->d, DIAG_ERROR, loc, fmt, ap);
    va_end(ap);
    v->ok = false;
    Loc origin = loc.file && loc.file->ir_text ? ir_origin(v->m, loc) : NOLOC;
    if (origin.file)
        diag_note(v->d, origin, "compiled from here");
}
#define VERR(v, loc, ...) verr((v), (loc), __VA_ARGS__)

/* Scratch memory through the allocator hook. Exhaustion is an error like any other (the module
 * is not known to be valid); the caller stops the check it was making. */
static void *vmalloc(V *v, size_t n) {
    void *p = h2c_raw_alloc(n);
    if (!p)
        VERR(v, NOLOC, "out of memory in the verifier");
    return p;
}

static Loc op_loc(const Phase *ph, const Op *op) { return op->loc.file ? op->loc : ph->loc; }

/* ---------------------------------------------------------------- device, model, workload */

static bool verify_device(V *v) {
    const Hardware *hw = &v->m->dev.hw;
    bool ok = true;
    for (int i = 0; i < HWF_COUNT_; i++) {
        const FieldDesc *f = &hw_fields[i];
        double x = *(const double *)((const char *)hw + f->offset);
        Loc at = hw->locs[i].file ? hw->locs[i] : hw->loc;
        if (!(x >= f->min && x <= f->max)) {
            VERR(v, at, "device field '%s' = %g is out of range [%g, %g]", f->path, x, f->min, f->max);
            ok = false;
        } else if ((f->flags & (F_INT | F_ENUM_PREC)) && x != floor(x)) {
            VERR(v, at, "device field '%s' = %g must be a whole number", f->path, x);
            ok = false;
        } else if ((f->flags & F_POW2) && x > 0) {
            int e;
            if (frexp(x, &e) != 0.5) {
                VERR(v, at, "device field '%s' = %g must be a power of two", f->path, x);
                ok = false;
            }
        }
    }
    char why[160];
    int bad = ok ? hardware_inconsistency(hw, why, sizeof why) : -1;
    if (bad >= 0) {
        VERR(v, hw->locs[bad].file ? hw->locs[bad] : hw->loc, "%s", why);
        ok = false;
    }
    for (int i = 0; i < EF_COUNT_; i++) {
        const EnergyEntry *e = &hw->energy[i];
        Loc at = e->loc.file ? e->loc : hw->loc;
        if (e->table) {
            for (int j = 0; j < e->ntable; j++) {
                if (!(e->table[j].pj >= 0) || !(e->table[j].freq > 0))
                    VERR(v, at, "energy %s: table entries must be positive", energy_names[i]);
                if (j && e->table[j].freq <= e->table[j - 1].freq)
                    VERR(v, at, "energy %s: table frequencies must increase", energy_names[i]);
            }
        } else if (!(e->value >= 0)) {
            VERR(v, at, "energy %s must not be negative", energy_names[i]);
        }
    }
    if (ok && (!v->m->dev.units || v->m->dev.nunits != 1 + dev_channels(&v->m->dev) * (1 + dev_banks(&v->m->dev)) +
                                                            dev_nmp_channels(&v->m->dev) * dev_banks(&v->m->dev)))
        h2c_unreachable("device units not built");
    return ok;
}

static bool verify_model(V *v) {
    const ModelShape *ms = &v->m->model;
    const Workload *w = &v->m->work;
    bool ok = true;
    if (ms->layers < 1 || ms->hidden < 1 || ms->intermediate < 1 || ms->heads < 1 || ms->kv_heads < 1 ||
        ms->head_dim < 1) {
        VERR(v, ms->loc, "model '%s': layers, hidden, intermediate, heads, kv_heads and head_dim must be positive",
             ms->name);
        ok = false;
    } else if (ms->heads % ms->kv_heads) {
        VERR(v, ms->loc, "model '%s': heads = %d is not a multiple of kv_heads = %d", ms->name, ms->heads, ms->kv_heads);
        ok = false;
    }
    const Sparsity *sp = &v->m->sparsity;
    if (v->m->has_sparsity && (sp->page < 1 || sp->budget < sp->page || sp->budget % sp->page != 0)) {
        VERR(v, sp->loc, "sparsity '%s': budget %d must be a whole number of pages of %d tokens, at least one",
             sp->name, sp->budget, sp->page);
        ok = false;
    }
    if (w->batch < 1 || w->prompt < 1 || w->generate < 1 || w->max_seq < w->prompt) {
        VERR(v, w->loc, "workload '%s': batch, prompt and generate must be positive and prompt <= max_seq", w->name);
        ok = false;
    }
    return ok;
}

/* The phases' parameters against the workload (their graphs are compared by verify_phases). */
static void verify_phase_counts(V *v) {
    const Module *m = v->m;
    const Workload *w = &m->work;
    const Phase *pf = &m->phases[PH_PREFILL], *dc = &m->phases[PH_DECODE];
    int last = w->prompt + w->generate < w->max_seq ? w->prompt + w->generate : w->max_seq;
    int first = w->prompt + 1 < last ? w->prompt + 1 : last;
    if (pf->tokens != w->prompt || pf->ctx_first != w->prompt || pf->ctx_last != w->prompt || pf->steps != 1)
        VERR(v, pf->loc, "phase prefill must have tokens %d context %d steps 1 (the workload's prompt)", w->prompt,
             w->prompt);
    if (dc->tokens != 1 || dc->ctx_first != first || dc->ctx_last != last || dc->steps != w->generate)
        VERR(v, dc->loc, "phase decode must have tokens 1 context %d..%d steps %d (from the workload)", first, last,
             w->generate);
}

static void verify_phases(V *v) {
    const Module *m = v->m;
    const Phase *pf = &m->phases[PH_PREFILL], *dc = &m->phases[PH_DECODE];
    verify_phase_counts(v);
    if (pf->nops != dc->nops) {
        VERR(v, dc->loc, "the phases differ: prefill has %d op%s, decode %d (both hold the same layer)", pf->nops,
             plural(pf->nops), dc->nops);
        return;
    }
    for (int i = 0; i < pf->nops; i++) {
        const Op *a = &pf->ops[i], *b = &dc->ops[i];
        bool same = strcmp(a->name, b->name) == 0 && a->code == b->code && a->ninputs == b->ninputs &&
                    a->tensor == b->tensor && ((!a->fn && !b->fn) || (a->fn && b->fn && strcmp(a->fn, b->fn) == 0)) &&
                    a->scope == b->scope && a->tied == b->tied && a->eps == b->eps && a->scale == b->scale &&
                    a->positions == b->positions && a->offset == b->offset && a->window == b->window &&
                    a->unit_offset == b->unit_offset;
        for (int j = 0; same && j < a->ninputs; j++)
            same = a->inputs[j] == b->inputs[j];
        if (!same)
            VERR(v, op_loc(dc, b), "%%%s differs between prefill and decode (name, kind, scope, inputs, tensor, fn, eps "
                 "or scale); both phases hold the same graph", b->name);
    }
}

/* ---------------------------------------------------------------- boxes */

static bool boxes_overlap(const Range *a, const Range *b, int rank) {
    for (int i = 0; i < rank; i++)
        if (a[i].hi <= b[i].lo || b[i].hi <= a[i].lo)
            return false;
    return true;
}

static void fmt_box(char *buf, size_t n, const Range *box, int rank) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "[");
    for (int i = 0; i < rank && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld:%lld", i ? ", " : "", box[i].lo, box[i].hi);
    if (k < n)
        snprintf(buf + k, n - k, "]");
}

/* Each box non-empty and inside dims, pairwise disjoint, together as large as dims: an exact cover.
 * `what` names the owner for messages; boxes[i] is box i. */
static void check_cover(V *v, Loc at, const char *what, const long long *dims, int rank, const Range *const *boxes,
                        int n) {
    long long total = 1;
    for (int i = 0; i < rank; i++)
        total *= dims[i];
    long long sum = 0;
    bool ok = true;
    for (int i = 0; i < n; i++) {
        char b[160];
        for (int j = 0; j < rank; j++) {
            if (boxes[i][j].lo < 0 || boxes[i][j].hi > dims[j] || boxes[i][j].lo >= boxes[i][j].hi) {
                fmt_box(b, sizeof b, boxes[i], rank);
                VERR(v, at, "%s: tile %d %s is empty or outside [0, %lld) in dimension %d", what, i, b, dims[j], j);
                ok = false;
                break;
            }
        }
        sum += ir_box_volume(boxes[i], rank);
    }
    if (!ok)
        return;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (boxes_overlap(boxes[i], boxes[j], rank)) {
                char a[160], b[160];
                fmt_box(a, sizeof a, boxes[i], rank);
                fmt_box(b, sizeof b, boxes[j], rank);
                VERR(v, at, "%s: tiles %d %s and %d %s overlap", what, i, a, j, b);
                return;
            }
    if (sum != total)
        VERR(v, at, "%s: the tiles cover %lld of %lld elements; they must cover all of it exactly once", what, sum,
             total);
}

/* ---------------------------------------------------------------- tensors */

typedef struct Interval {
    long long lo, hi;
    int tensor;         /* the owner: a tensor, or -1 for an attention's tiles line */
    int attn, line;     /* the attention and its tiles line, when tensor is -1 */
} Interval;

static int cmp_interval(const void *a, const void *b) {
    const Interval *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    if (x->tensor != y->tensor)
        return x->tensor - y->tensor;
    return x->attn != y->attn ? x->attn - y->attn : x->line - y->line;
}

/* What owns an interval, for messages: tensor '%w.q', or the tiles of attention %sv's stream. */
static void fmt_owner(char *buf, size_t n, const Module *m, const Interval *iv) {
    if (iv->tensor >= 0) {
        snprintf(buf, n, "tensor '%%%s'", m->tensors[iv->tensor].name);
        return;
    }
    const Attention *a = &m->attns[iv->attn];
    const AttnTiles *t = &a->tiles[iv->line];
    snprintf(buf, n, "the tiles of attention %%%s head %d batch %d (layers %lld:%lld)",
             m->phases[PH_DECODE].ops[a->value_op].name, t->head, t->batch, t->layers.lo, t->layers.hi);
}

/* The banks of every attention's tiles lines, bank by bank: entries start[u] .. start[u+1] of
 * bank u are (attention, tiles line, tiles of the line in that bank): a bank listed k times in a line
 * holds k regions of it, back to back. Lines with banks the device lacks are left out
 * (verify_attentions reports them). */
typedef struct BankLines {
    int *start;         /* [banks + 1] */
    int (*entry)[3];    /* (attention, tiles line, multiplicity) */
    int nentries;
} BankLines;

static bool bank_ok(const Device *dev, BankRef b) {
    return b.ch >= 0 && b.ch < dev_channels(dev) && b.bank >= 0 && b.bank < dev_banks(dev);
}

/* Calls fn for each distinct valid bank u of line (a, i) with its multiplicity. */
static void line_banks(const Module *m, int a, int i, int *stamp, int *cnt, int id,
                       void (*fn)(void *ctx, int u, int a, int i, int k), void *ctx) {
    const Device *dev = &m->dev;
    const AttnTiles *t = &m->attns[a].tiles[i];
    for (int j = 0; j < t->nbanks; j++) {
        if (!bank_ok(dev, t->banks[j]))
            continue;
        int u = t->banks[j].ch * dev_banks(dev) + t->banks[j].bank;
        if (stamp[u] != id) {
            stamp[u] = id;
            cnt[u] = 0;
        }
        cnt[u]++;
    }
    for (int j = 0; j < t->nbanks; j++) {
        if (!bank_ok(dev, t->banks[j]))
            continue;
        int u = t->banks[j].ch * dev_banks(dev) + t->banks[j].bank;
        if (cnt[u] > 0) {
            fn(ctx, u, a, i, cnt[u]);
            cnt[u] = 0;     /* once per bank */
        }
    }
}

static void count_entry(void *ctx, int u, int a, int i, int k) {
    (void)a;
    (void)i;
    (void)k;
    ((BankLines *)ctx)->start[u + 1]++;
}

typedef struct Fill {
    BankLines *bl;
    int *fill;
} Fill;

static void fill_entry(void *ctx, int u, int a, int i, int k) {
    Fill *f = ctx;
    int e = f->fill[u]++;
    f->bl->entry[e][0] = a;
    f->bl->entry[e][1] = i;
    f->bl->entry[e][2] = k;
}

static bool bank_lines_build(V *v, const Module *m, BankLines *bl) {
    const Device *dev = &m->dev;
    int nb = dev_channels(dev) * dev_banks(dev);
    memset(bl, 0, sizeof *bl);
    bl->start = vmalloc(v, sizeof(int) * (size_t)(nb + 1));
    int *stamp = vmalloc(v, sizeof(int) * (size_t)(2 * nb + 1)), *cnt = stamp ? stamp + nb : NULL;
    int *fill = vmalloc(v, sizeof(int) * (size_t)(nb + 1));
    if (!bl->start || !stamp || !fill)
        goto fail;
    memset(bl->start, 0, sizeof(int) * (size_t)(nb + 1));
    for (int u = 0; u < nb; u++)
        stamp[u] = -1;
    int id = 0;
    for (int a = 0; a < m->nattns; a++)
        for (int i = 0; i < m->attns[a].ntiles; i++)
            line_banks(m, a, i, stamp, cnt, id++, count_entry, bl);
    for (int u = 0; u < nb; u++)
        bl->start[u + 1] += bl->start[u];
    bl->nentries = bl->start[nb];
    bl->entry = vmalloc(v, sizeof(int[3]) * (size_t)(bl->nentries + 1));
    if (!bl->entry)
        goto fail;
    memcpy(fill, bl->start, sizeof(int) * (size_t)(nb + 1));
    Fill f = {bl, fill};
    for (int u = 0; u < nb; u++)
        stamp[u] = -1;
    for (int a = 0; a < m->nattns; a++)
        for (int i = 0; i < m->attns[a].ntiles; i++)
            line_banks(m, a, i, stamp, cnt, id++, fill_entry, &f);
    h2c_raw_free(fill, sizeof(int) * (size_t)(nb + 1));
    h2c_raw_free(stamp, sizeof(int) * (size_t)(2 * nb + 1));
    return true;
fail:
    h2c_raw_free(fill, sizeof(int) * (size_t)(nb + 1));
    h2c_raw_free(stamp, sizeof(int) * (size_t)(2 * nb + 1));
    h2c_raw_free(bl->start, sizeof(int) * (size_t)(nb + 1));
    h2c_raw_free(bl->entry, sizeof(int[3]) * (size_t)(bl->nentries + 1));
    memset(bl, 0, sizeof *bl);
    return false;
}

static void bank_lines_free(const Module *m, BankLines *bl) {
    int nb = dev_channels(&m->dev) * dev_banks(&m->dev);
    h2c_raw_free(bl->start, sizeof(int) * (size_t)(nb + 1));
    h2c_raw_free(bl->entry, sizeof(int[3]) * (size_t)(bl->nentries + 1));
}

/* A tensor tile in a bank's list. */
typedef struct TileRef {
    int t, i;
    long long bytes;    /* what the tile takes in each of its banks, all layers (computed once) */
    long long offset;   /* its place's offset (-1: none), here so the bank loop reads one array */
} TileRef;

static bool tileref_before(TileRef a, TileRef b) { return a.t < b.t || (a.t == b.t && a.i < b.i); }

/* Capacity and overlap, bank by bank. A tile on a set of channels lies in every bank of each (in a
 * channel's list); a tile on one bank, in that bank's list. Each bank merges its channel's list
 * with its own, in tensor order: the work is the number of (tile, bank) pairs, not tiles x banks. */
static void verify_banks(V *v) {
    const Module *m = v->m;
    const Device *dev = &m->dev;
    int C = dev_channels(dev), B = dev_banks(dev);
    size_t nb = (size_t)C * (size_t)B;
    size_t *cstart = vmalloc(v, sizeof(size_t) * (size_t)(C + 1));
    size_t *bstart = cstart ? vmalloc(v, sizeof(size_t) * (nb + 1)) : NULL;
    TileRef *clist = NULL, *blist = NULL;
    size_t *cfill = NULL, *bfill = NULL;
    Interval *iv = NULL;
    size_t ivcap = 0, ctotal = 0, btotal = 0;
    BankLines bl;
    bool have_bl = false;
    if (!bstart)
        goto out;
    have_bl = bank_lines_build(v, m, &bl);
    if (!have_bl)
        goto out;
    memset(cstart, 0, sizeof(size_t) * (size_t)(C + 1));
    memset(bstart, 0, sizeof(size_t) * (nb + 1));
    for (int pass = 0; pass < 2; pass++) {
        for (int t = 0; t < m->ntensors; t++) {
            const Tensor *T = &m->tensors[t];
            for (int i = 0; i < T->ntiles; i++) {
                const Place *p = &T->tiles[i].place;
                long long tb = pass ? tile_bank_bytes(dev, T, &T->tiles[i]) * T->layers : 0;
                for (int c = 0; c < C; c++) {
                    if (!(p->chans & CHAN_BIT(c)))
                        continue;
                    if (p->kind == PLACE_CHANNELS) {
                        if (pass == 0)
                            cstart[c + 1]++;
                        else
                            clist[cfill[c]++] = (TileRef){t, i, tb, p->offset};
                    } else if (p->kind == PLACE_BANK) {
                        size_t k = (size_t)c * (size_t)B + (size_t)p->bank;
                        if (pass == 0)
                            bstart[k + 1]++;
                        else
                            blist[bfill[k]++] = (TileRef){t, i, tb, p->offset};
                    }
                }
            }
        }
        if (pass == 1)
            break;
        for (int c = 0; c < C; c++)
            cstart[c + 1] += cstart[c];
        for (size_t k = 0; k < nb; k++)
            bstart[k + 1] += bstart[k];
        ctotal = cstart[C];
        btotal = bstart[nb];
        clist = vmalloc(v, sizeof(TileRef) * (ctotal + 1));
        blist = clist ? vmalloc(v, sizeof(TileRef) * (btotal + 1)) : NULL;
        cfill = blist ? vmalloc(v, sizeof(size_t) * (size_t)(C + 1)) : NULL;
        bfill = cfill ? vmalloc(v, sizeof(size_t) * (nb + 1)) : NULL;
        if (!bfill)
            goto out;
        memcpy(cfill, cstart, sizeof(size_t) * (size_t)(C + 1));
        memcpy(bfill, bstart, sizeof(size_t) * (nb + 1));
    }
    double cap = dev->hw.bank_capacity;
    for (int c = 0; c < C; c++) {
        for (int b = 0; b < B; b++) {
            size_t k = (size_t)c * (size_t)B + (size_t)b;
            size_t ci = cstart[c], ce = cstart[c + 1], bi = bstart[k], be = bstart[k + 1];
            size_t need = (ce - ci) + (be - bi) + (size_t)(bl.start[k + 1] - bl.start[k]);
            if (need > ivcap) {
                Interval *n2 = h2c_raw_realloc(iv, sizeof(Interval) * ivcap, sizeof(Interval) * need);
                if (!n2) {
                    VERR(v, NOLOC, "out of memory in the verifier");
                    goto out;
                }
                iv = n2;
                ivcap = need;
            }
            size_t niv = 0;
            double used = 0;
            while (ci < ce || bi < be) {
                TileRef r = bi >= be || (ci < ce && tileref_before(clist[ci], blist[bi])) ? clist[ci++] : blist[bi++];
                long long bytes = r.bytes, off = r.offset;
                used += (double)bytes;
                if (off < 0)
                    continue;
                iv[niv++] = (Interval){off, off + bytes, r.t, -1, -1};
                if ((double)(off + bytes) > cap) {
                    const Tensor *T = &m->tensors[r.t];
                    VERR(v, T->loc, "tensor '%%%s': tile %d ends at byte %lld of bank ch%d.b%d, past its capacity of %.0f",
                         T->name, r.i, off + bytes, c, b, cap);
                    goto out;
                }
            }
            /* the attention tiles lines with regions in this bank (k of them for a bank listed k times) */
            bool attn_here = false;
            for (int e = bl.start[k]; e < bl.start[k + 1]; e++) {
                int a = bl.entry[e][0], i = bl.entry[e][1];
                const AttnTiles *t = &m->attns[a].tiles[i];
                long long bytes = attn_line_region(m, &m->attns[a], t) * (t->layers.hi - t->layers.lo) * bl.entry[e][2];
                used += (double)bytes;
                attn_here = true;
                if (t->offset < 0)
                    continue;
                iv[niv++] = (Interval){t->offset, t->offset + bytes, -1, a, i};
                if ((double)(t->offset + bytes) > cap) {
                    VERR(v, t->loc.file ? t->loc : m->attns[a].loc,
                         "attention %%%s: the tiles of head %d batch %d (layers %lld:%lld) end at byte %lld of bank "
                         "ch%d.b%d, past its capacity of %.0f", m->phases[PH_DECODE].ops[m->attns[a].value_op].name,
                         t->head, t->batch, t->layers.lo, t->layers.hi, t->offset + bytes, c, b, cap);
                    goto out;
                }
            }
            if (used > cap) {
                char u[64], kb[64];
                unit_format(u, sizeof u, used, UK_BYTES);
                unit_format(kb, sizeof kb, cap, UK_BYTES);
                VERR(v, m->model.loc, "bank ch%d.b%d holds %s of tensors%s but has %s", c, b, u,
                     attn_here ? " and attention tiles" : "", kb);
                goto out;
            }
            if (niv > 1)
                qsort(iv, niv, sizeof *iv, cmp_interval);
            for (size_t i = 1; i < niv; i++)
                if (iv[i].lo < iv[i - 1].hi) {
                    char x[200], y[200];
                    fmt_owner(x, sizeof x, m, &iv[i]);
                    fmt_owner(y, sizeof y, m, &iv[i - 1]);
                    const Interval *w = &iv[i];
                    Loc at = w->tensor >= 0 ? m->tensors[w->tensor].loc
                             : m->attns[w->attn].tiles[w->line].loc.file ? m->attns[w->attn].tiles[w->line].loc
                                                                         : m->attns[w->attn].loc;
                    VERR(v, at, "%s overlaps %s in bank ch%d.b%d (bytes %lld..%lld)", x, y, c, b, iv[i].lo,
                         iv[i - 1].hi);
                    goto out;
                }
        }
    }
out:
    if (have_bl)
        bank_lines_free(m, &bl);
    h2c_raw_free(iv, sizeof(Interval) * ivcap);
    h2c_raw_free(bfill, sizeof(size_t) * (nb + 1));
    h2c_raw_free(cfill, sizeof(size_t) * (size_t)(C + 1));
    h2c_raw_free(blist, sizeof(TileRef) * (btotal + 1));
    h2c_raw_free(clist, sizeof(TileRef) * (ctotal + 1));
    h2c_raw_free(bstart, sizeof(size_t) * (nb + 1));
    h2c_raw_free(cstart, sizeof(size_t) * (size_t)(C + 1));
}

static void verify_tensors(V *v) {
    const Module *m = v->m;
    const Device *dev = &m->dev;
    const ModelShape *ms = &m->model;
    int C = dev_channels(dev), B = dev_banks(dev);
    /* the scope of the first op outside the layer graph that reads each tensor (-1: none) */
    int *outside = vmalloc(v, sizeof(int) * (size_t)(m->ntensors + 1));
    if (!outside)
        return;
    for (int t = 0; t < m->ntensors; t++)
        outside[t] = -1;
    for (int p = 0; p < PH_COUNT_; p++)
        for (int i = 0; i < m->phases[p].nops; i++) {
            const Op *op = &m->phases[p].ops[i];
            if (op->tensor >= 0 && op->tensor < m->ntensors && op->scope != SCOPE_LAYER && outside[op->tensor] < 0)
                outside[op->tensor] = (int)op->scope;
        }
    StrIndex names;
    strindex_init(&names);
    for (int t = 0; t < m->ntensors; t++) {
        const Tensor *T = &m->tensors[t];
        int had = strindex_add(&names, T->name, t);
        if (had == -2) {
            VERR(v, NOLOC, "out of memory in the verifier");
            break;
        }
        if (had >= 0)
            VERR(v, T->loc, "tensor '%%%s' is defined twice", T->name);
        /* weights are [K, N] (fc), [vocab, hidden] (embedding) or [width] (a norm's scale) */
        bool rank_ok = T->kind == TEN_WEIGHT ? (T->rank == 2 || T->rank == 1) : T->rank == 4;
        if (!rank_ok) {
            VERR(v, T->loc, "%s tensor '%%%s' has rank %d; it must have %s", T->kind == TEN_WEIGHT ? "weight" : "kv",
                 T->name, T->rank, T->kind == TEN_WEIGHT ? "2 (or 1 for a norm's scale)" : "4");
            continue;
        }
        if (T->kind == TEN_KV && T->bias)
            VERR(v, T->loc, "kv tensor '%%%s' cannot have a bias", T->name);
        bool dims_ok = true;
        for (int i = 0; i < T->rank; i++)
            dims_ok &= T->dims[i] > 0;
        if (!dims_ok) {
            VERR(v, T->loc, "tensor '%%%s' has an empty dimension", T->name);
            continue;
        }
        if (T->kind == TEN_KV && (T->dims[0] != ms->kv_heads || T->dims[1] != m->work.batch ||
                                  T->dims[2] != m->work.max_seq || T->dims[3] != ms->head_dim))
            VERR(v, T->loc, "kv tensor '%%%s' must be [kv_heads %d, batch %d, max_seq %d, head_dim %d]", T->name,
                 ms->kv_heads, m->work.batch, m->work.max_seq, ms->head_dim);
        /* one copy per layer for the layer graph's tensors, one for the prologue's and epilogue's */
        int want_layers = ms->layers;
        const char *who = NULL;
        if (outside[t] >= 0) {
            want_layers = 1;
            who = op_scope_names[outside[t]];
        }
        if (T->layers != want_layers) {
            if (who)
                VERR(v, T->loc, "tensor '%%%s' has %d layers; %s %s tensor has one copy", T->name, T->layers,
                     who[0] == 'e' ? "an" : "a", who);
            else
                VERR(v, T->loc, "tensor '%%%s' has %d layer%s; the model has %d", T->name, T->layers,
                     plural(T->layers), ms->layers);
        }
        if ((double)T->elem != dev->hw.precision)
            VERR(v, T->loc, "tensor '%%%s' is %s but the device computes in %s", T->name, precision_name(T->elem),
                 precision_name((Precision)dev->hw.precision));
        if (T->ntiles == 0)
            continue;
        const Range **boxes = vmalloc(v, sizeof(Range *) * (size_t)T->ntiles);
        if (!boxes)
            break;
        bool places_ok = true;
        for (int i = 0; i < T->ntiles; i++) {
            const TensorTile *tile = &T->tiles[i];
            boxes[i] = tile->box;
            const Place *p = &tile->place;
            if (p->kind == PLACE_NONE) {
                VERR(v, T->loc, "tensor '%%%s': tile %d is not placed", T->name, i);
                places_ok = false;
            } else if (p->chans == 0 || (p->chans & ~dev_all_set(dev))) {
                VERR(v, T->loc, "tensor '%%%s': tile %d is placed on channels the device does not have (it has %d)",
                     T->name, i, C);
                places_ok = false;
            } else if (p->kind == PLACE_BANK && (chanset_count(p->chans) != 1 || p->bank < 0 || p->bank >= B)) {
                VERR(v, T->loc, "tensor '%%%s': tile %d is placed on bank %d; channels have %d bank%s", T->name, i,
                     p->bank, B, plural(B));
                places_ok = false;
            }
        }
        char what[160];
        snprintf(what, sizeof what, "tensor '%%%s'", T->name);
        check_cover(v, T->loc, what, T->dims, T->rank, boxes, T->ntiles);
        h2c_raw_free(boxes, sizeof(Range *) * (size_t)T->ntiles);
        (void)places_ok;
    }
    strindex_free(&names);
    h2c_raw_free(outside, sizeof(int) * (size_t)(m->ntensors + 1));
    if (!v->ok)
        return;
    verify_banks(v);
}

/* ---------------------------------------------------------------- attention plans */

typedef struct Cover {
    int key1, key2;     /* head, batch (patterns: head, 0) */
    long long lo, hi;   /* layers */
    int line;
} Cover;

static int cmp_cover(const void *a, const void *b) {
    const Cover *x = a, *y = b;
    if (x->key1 != y->key1)
        return x->key1 - y->key1;
    if (x->key2 != y->key2)
        return x->key2 - y->key2;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    return x->line - y->line;
}

/* Every (key1, key2) of [0, n1) x [0, n2) has its layers [0, L) covered exactly once by the
 * entries. what: "pattern" or "tiles line"; Errors name the first few gaps and overlaps. */
static void check_streams(V *v, const Attention *a, const char *name, Cover *cv, int n, int n1, int n2, long long L,
                          bool tiles) {
    qsort(cv, (size_t)n, sizeof *cv, cmp_cover);
    int errors = 0;
    long long k1 = 0, k2 = 0;   /* the next (key1, key2) expected */
    for (int i = 0; i <= n && errors < 3; i++) {
        bool start = i == n || i == 0 || cv[i].key1 != cv[i - 1].key1 || cv[i].key2 != cv[i - 1].key2;
        if (i > 0 && start && cv[i - 1].hi < L) {
            /* the previous stream stops short */
            if (tiles)
                VERR(v, a->loc, "attention %%%s: head %d batch %d has no tiles line for layers %lld:%lld", name,
                     cv[i - 1].key1, cv[i - 1].key2, cv[i - 1].hi, L);
            else
                VERR(v, a->loc, "attention %%%s: head %d has no pattern for layers %lld:%lld", name, cv[i - 1].key1,
                     cv[i - 1].hi, L);
            errors++;
        }
        if (i == n)
            break;
        if (start) {
            /* streams skipped entirely before this one */
            if ((cv[i].key1 > k1 || (cv[i].key1 == k1 && cv[i].key2 > k2)) && k1 < n1) {
                if (tiles)
                    VERR(v, a->loc, "attention %%%s: head %lld batch %lld has no tiles line", name, k1, k2);
                else
                    VERR(v, a->loc, "attention %%%s: head %lld has no pattern", name, k1);
                errors++;
            }
            k1 = cv[i].key1;
            k2 = cv[i].key2 + 1;
            if (k2 == n2) {
                k1++;
                k2 = 0;
            }
            if (cv[i].lo > 0) {
                if (tiles)
                    VERR(v, a->loc, "attention %%%s: head %d batch %d has no tiles line for layers 0:%lld", name,
                         cv[i].key1, cv[i].key2, cv[i].lo);
                else
                    VERR(v, a->loc, "attention %%%s: head %d has no pattern for layers 0:%lld", name, cv[i].key1,
                         cv[i].lo);
                errors++;
            }
            continue;
        }
        const Cover *p = &cv[i - 1], *c = &cv[i];
        if (c->lo < p->hi) {
            if (tiles)
                VERR(v, a->tiles[c->line].loc.file ? a->tiles[c->line].loc : a->loc,
                     "attention %%%s: head %d batch %d layer %lld is covered by two tiles lines", name, c->key1,
                     c->key2, c->lo);
            else
                VERR(v, a->pats[c->line].loc.file ? a->pats[c->line].loc : a->loc,
                     "attention %%%s: head %d layer %lld has two patterns", name, c->key1, c->lo);
            errors++;
        } else if (c->lo > p->hi) {
            if (tiles)
                VERR(v, a->loc, "attention %%%s: head %d batch %d has no tiles line for layers %lld:%lld", name,
                     c->key1, c->key2, p->hi, c->lo);
            else
                VERR(v, a->loc, "attention %%%s: head %d has no pattern for layers %lld:%lld", name, c->key1, p->hi,
                     c->lo);
            errors++;
        }
    }
    if (errors == 0 && k1 < n1 && (n > 0 || n1 > 0)) {
        if (tiles)
            VERR(v, a->loc, "attention %%%s: head %lld batch %lld has no tiles line", name, k1, k2);
        else
            VERR(v, a->loc, "attention %%%s: head %lld has no pattern", name, k1);
    }
}

/* The NMP channels on which op runs near memory in decode (its nmp and pe tiles). */
static ChanSet op_nmp_exec(const Op *op) {
    ChanSet s = 0;
    for (int i = 0; i < op->ntiles; i++)
        if (op->tiles[i].exec.kind == EXEC_NMP || op->tiles[i].exec.kind == EXEC_PE)
            s |= op->tiles[i].exec.chans;
    return s;
}

static void verify_attention(V *v, int ai) {
    const Module *m = v->m;
    const Attention *a = &m->attns[ai];
    const Phase *dc = &m->phases[PH_DECODE], *pf = &m->phases[PH_PREFILL];
    const Device *dev = &m->dev;
    if (a->value_op < 0 || a->value_op >= dc->nops || a->value_op >= pf->nops || a->score_op < 0 ||
        a->score_op >= dc->nops || a->k_tensor < 0 || a->k_tensor >= m->ntensors || a->v_tensor < 0 ||
        a->v_tensor >= m->ntensors)
        h2c_unreachable("an attention names ops or tensors the module does not have");
    const Op *val = &dc->ops[a->value_op], *sc = &dc->ops[a->score_op];
    const char *name = val->name;
    if (val->code != OP_ATTN_VALUE || sc->code != OP_ATTN_SCORE) {
        VERR(v, a->loc, "attention %%%s: %%%s must be an attn_value and %%%s an attn_score", name, name, sc->name);
        return;
    }
    int src = val->ninputs > 0 ? val->inputs[0] : -1;
    if (src >= 0 && dc->ops[src].code == OP_SOFTMAX && dc->ops[src].ninputs == 1)
        src = dc->ops[src].inputs[0];
    if (src != a->score_op) {
        VERR(v, a->loc, "attention %%%s: it does not read %%%s (directly or through a softmax)", name, sc->name);
        return;
    }
    if (sc->tensor != a->k_tensor || val->tensor != a->v_tensor) {
        VERR(v, a->loc, "attention %%%s: its caches are %%%s (read by %%%s) and %%%s (read by %%%s)", name,
             sc->tensor >= 0 ? m->tensors[sc->tensor].name : "?", sc->name,
             val->tensor >= 0 ? m->tensors[val->tensor].name : "?", name);
        return;
    }
    for (int j = 0; j < ai; j++)
        if (m->attns[j].value_op == a->value_op || m->attns[j].score_op == a->score_op ||
            m->attns[j].k_tensor == a->k_tensor || m->attns[j].v_tensor == a->v_tensor)
            VERR(v, a->loc, "attention %%%s: its ops or caches belong to another attention too", name);
    for (int k = 0; k < 2 && a->ntiles > 0; k++) {   /* (no tiles yet: K and V keep their own) */
        const Tensor *T = &m->tensors[k ? a->v_tensor : a->k_tensor];
        if (T->ntiles)
            VERR(v, T->loc.file ? T->loc : a->loc, "tensor '%%%s' has tiles, but attention %%%s places it", T->name,
                 name);
    }
    long long L = m->model.layers;
    int H = m->model.kv_heads, Bt = m->work.batch;
    /* patterns */
    int ncv = 0;
    for (int i = 0; i < a->npats; i++)
        ncv += a->pats[i].nheads;
    Cover *cv = vmalloc(v, sizeof(Cover) * (size_t)(ncv + 1));
    if (!cv)
        return;
    int k = 0;
    bool lines_ok = true;
    for (int i = 0; i < a->npats; i++) {
        const AttnPatternLine *pl = &a->pats[i];
        Loc at = pl->loc.file ? pl->loc : a->loc;
        if (pl->layers.lo >= pl->layers.hi || pl->layers.hi > L) {
            VERR(v, at, "attention %%%s: pattern layers %lld:%lld are empty or outside the model's %lld", name,
                 pl->layers.lo, pl->layers.hi, L);
            lines_ok = false;
        }
        for (int j = 0; j < pl->nheads; j++)
            if (pl->heads[j] < 0 || pl->heads[j] >= H) {
                VERR(v, at, "attention %%%s: head %d is outside the model's %d KV heads", name, pl->heads[j], H);
                lines_ok = false;
                break;
            }
        const Pattern *p = &pl->pat;
        if (p->kind == PAT_STATIC && (p->sink < 0 || p->window < 0 || (long long)p->sink + p->window < 1))
            VERR(v, at, "attention %%%s: a static pattern keeps at least one token (sink %d, window %d)", name, p->sink,
                 p->window);
        if (p->kind == PAT_DYNAMIC && (p->page < 1 || p->budget < p->page))
            VERR(v, at, "attention %%%s: a dynamic pattern needs a page of at least 1 token and a budget of at least "
                 "one page (page %d, budget %d)", name, p->page, p->budget);
        for (int j = 0; j < pl->nheads; j++)
            cv[k++] = (Cover){pl->heads[j], 0, pl->layers.lo, pl->layers.hi, i};
    }
    if (lines_ok)
        check_streams(v, a, name, cv, k, H, 1, L, false);
    h2c_raw_free(cv, sizeof(Cover) * (size_t)(ncv + 1));
    /* tiles */
    ChanSet val_nmp = op_nmp_exec(val);
    cv = vmalloc(v, sizeof(Cover) * (size_t)(a->ntiles + 1));
    if (!cv)
        return;
    k = 0;
    lines_ok = true;
    for (int i = 0; i < a->ntiles; i++) {
        const AttnTiles *t = &a->tiles[i];
        Loc at = t->loc.file ? t->loc : a->loc;
        bool ok = true;
        if (t->layers.lo >= t->layers.hi || t->layers.hi > L) {
            VERR(v, at, "attention %%%s: tiles layers %lld:%lld are empty or outside the model's %lld", name,
                 t->layers.lo, t->layers.hi, L);
            ok = false;
        }
        if (t->head < 0 || t->head >= H || t->batch < 0 || t->batch >= Bt) {
            VERR(v, at, "attention %%%s: head %d batch %d is outside the model's %d KV heads and the batch of %d", name,
                 t->head, t->batch, H, Bt);
            ok = false;
        }
        if (t->nbanks < 1) {
            VERR(v, at, "attention %%%s: a tiles line needs at least one bank", name);
            ok = false;
        }
        for (int j = 0; j < t->nbanks && ok; j++) {
            BankRef b = t->banks[j];
            if (!bank_ok(dev, b)) {
                VERR(v, at, "attention %%%s: bank ch%d.b%d does not exist (the device has %d channels of %d banks)",
                     name, b.ch, b.bank, dev_channels(dev), dev_banks(dev));
                ok = false;
            } else if (t->by.kind == EXEC_NONE && b.ch >= dev_nmp_channels(dev)) {
                VERR(v, at, "attention %%%s: tile %d is in bank ch%d.b%d of a normal channel, which has no PE to "
                     "compute it (co-placed tiles live on NMP channels 0..%d; write `by npu` for a tile the NPU "
                     "reads)", name, j, b.ch, b.bank, dev_nmp_channels(dev) - 1);
                ok = false;
            } else if (t->by.kind == EXEC_NONE && val->ntiles > 0 && !(val_nmp & CHAN_BIT(b.ch))) {
                VERR(v, at, "attention %%%s: tile %d is computed by the PE under ch%d.b%d, but %%%s does not run near "
                     "memory on channel %d in decode", name, j, b.ch, b.bank, name, b.ch);
                ok = false;
            }
        }
        if (ok && t->by.kind == EXEC_PE) {
            int c = __builtin_ctzll(t->by.chans);
            if (chanset_count(t->by.chans) != 1 || c >= dev_nmp_channels(dev) || t->by.bank < 0 ||
                t->by.bank >= dev_banks(dev)) {
                VERR(v, at, "attention %%%s: `by ch%d.b%d` names a PE the device does not have", name, c, t->by.bank);
                ok = false;
            } else if (val->ntiles > 0 && !(val_nmp & t->by.chans)) {
                VERR(v, at, "attention %%%s: its tiles are computed by the PE under ch%d.b%d, but %%%s does not run "
                     "near memory on channel %d in decode", name, c, t->by.bank, name, c);
                ok = false;
            }
        }
        lines_ok &= ok;
        if (ok)
            cv[k++] = (Cover){t->head, t->batch, t->layers.lo, t->layers.hi, i};
    }
    if (lines_ok && a->ntiles > 0)     /* (no tiles lines: not tiled yet) */
        check_streams(v, a, name, cv, k, H, Bt, L, true);
    h2c_raw_free(cv, sizeof(Cover) * (size_t)(a->ntiles + 1));
}

static void verify_attentions(V *v) {
    for (int i = 0; i < v->m->nattns; i++)
        verify_attention(v, i);
}

/* ---------------------------------------------------------------- ops */

static const char *const act_fns[] = {"silu", "gelu", "gelu_tanh", "relu", "swish"};
static const char *const norm_kinds[] = {"rms", "layer"};

static bool in_list(const char *s, const char *const *list, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* The tensor box an op tile reads: fc reads weight columns N; attention reads the (head, batch)
 * pairs of its B range (B = head * batch + b) and, for attn_tile/page_select, its KV range. */
static bool ranges_meet(Range a, Range b) { return a.lo < b.hi && b.lo < a.hi; }

/* The tensor box an op tile reads. fc: weight columns N. Attention: the (KV head, batch) pairs of
 * its B range (B = head * batch + b), the KV positions of its context dimension (N of a score, K of
 * a value) and the head_dim columns of its other one. */
static bool tile_touches(const Module *m, const Op *op, const OpTile *ot, const TensorTile *tt) {
    const Tensor *T = &m->tensors[op->tensor];
    if (T->kind == TEN_WEIGHT && T->rank == 1)
        return true;
    if (T->kind == TEN_WEIGHT && op->code == OP_EMBEDDING)
        return true;    /* any row may be looked up */
    if (T->kind == TEN_WEIGHT)
        return ranges_meet(ot->box[DIM_N], tt->box[op->tied ? 0 : 1]);
    bool value = op->code == OP_ATTN_VALUE;
    Range pos = value ? ot->box[DIM_K] : ot->box[DIM_N], cols = value ? ot->box[DIM_N] : ot->box[DIM_K];
    if (!ranges_meet(pos, tt->box[2]) || !ranges_meet(cols, tt->box[3]))
        return false;
    long long batch = T->dims[1];
    if (batch <= 0)
        return false;   /* an empty KV tensor (reported with the tensors) holds nothing to read */
    for (long long bi = ot->box[DIM_B].lo; bi < ot->box[DIM_B].hi; bi++) {
        long long h = bi / batch, b = bi % batch;
        if (h >= tt->box[0].lo && h < tt->box[0].hi && b >= tt->box[1].lo && b < tt->box[1].hi)
            return true;
    }
    return false;
}

static void verify_op_tiles(V *v, const Phase *ph, const Op *op) {
    const Module *m = v->m;
    const Device *dev = &m->dev;
    Loc at = op_loc(ph, op);
    bool has_shape = op->shape[0] || op->shape[1] || op->shape[2] || op->shape[3];
    if (op->ntiles == 0)
        return;
    if (!has_shape) {
        VERR(v, at, "%%%s has tiles but no shape", op->name);
        return;
    }
    const Range **boxes = vmalloc(v, sizeof(Range *) * (size_t)op->ntiles);
    if (!boxes)
        return;
    for (int i = 0; i < op->ntiles; i++) {
        const OpTile *t = &op->tiles[i];
        boxes[i] = t->box;
        switch (t->exec.kind) {
        case EXEC_NONE:
            VERR(v, at, "%%%s: tile %d runs nowhere", op->name, i);
            break;
        case EXEC_NPU:
            break;
        case EXEC_NMP:
            if (t->exec.chans == 0 || (t->exec.chans & ~dev_nmp_set(dev)))
                VERR(v, at, "%%%s: tile %d runs on NMP channels the device does not have (NMP channels are 0..%d)",
                     op->name, i, dev_nmp_channels(dev) - 1);
            break;
        case EXEC_PE:
            if (chanset_count(t->exec.chans) != 1 || (t->exec.chans & ~dev_nmp_set(dev)) || t->exec.bank < 0 ||
                t->exec.bank >= dev_banks(dev))
                VERR(v, at, "%%%s: tile %d runs on a PE the device does not have", op->name, i);
            break;
        }
    }
    char what[160];
    snprintf(what, sizeof what, "%%%s in %s", op->name, phase_names[ph->kind]);
    check_cover(v, at, what, op->shape, 4, boxes, op->ntiles);
    h2c_raw_free(boxes, sizeof(Range *) * (size_t)op->ntiles);
    if (!v->ok || op->tensor < 0)
        return;
    /* memory-compute co-location: a near-memory tile reads only data stored where it runs */
    const Tensor *T = &m->tensors[op->tensor];
    for (int i = 0; i < op->ntiles; i++) {
        const OpTile *ot = &op->tiles[i];
        if (ot->exec.kind != EXEC_NMP && ot->exec.kind != EXEC_PE)
            continue;
        for (int j = 0; j < T->ntiles; j++) {
            const TensorTile *tt = &T->tiles[j];
            if (!tile_touches(m, op, ot, tt))
                continue;
            bool local = ot->exec.kind == EXEC_NMP
                             ? (tt->place.chans & ~ot->exec.chans) == 0
                             : tt->place.kind == PLACE_BANK && tt->place.chans == ot->exec.chans &&
                                   tt->place.bank == ot->exec.bank;
            if (!local) {
                VERR(v, at, "%%%s: tile %d runs near memory but reads tile %d of '%%%s', which is stored elsewhere",
                     op->name, i, j, T->name);
                return;
            }
        }
    }
}

/* The scopes come in order (prologue, layer graph, epilogue), and an op reads only what its scope
 * may: the prologue reads %tokens and the prologue; the layer reads %x and the layer; the epilogue
 * reads the epilogue and the layer's results (after the last layer). */
static void verify_scope(V *v, const Phase *ph, int i) {
    const Op *op = &ph->ops[i];
    Loc at = op_loc(ph, op);
    static const int rank[SCOPE_COUNT_] = {[SCOPE_PROLOGUE] = 0, [SCOPE_LAYER] = 1, [SCOPE_EPILOGUE] = 2};
    if (i > 0 && rank[ph->ops[i - 1].scope] > rank[op->scope]) {
        VERR(v, at, "%%%s is a %s op after a %s op; the prologue comes first, then the layer, then the epilogue",
             op->name, op_scope_names[op->scope], op_scope_names[ph->ops[i - 1].scope]);
        return;
    }
    for (int j = 0; j < op->ninputs; j++) {
        int k = op->inputs[j];
        if (k < IR_INPUT_TOKENS || k >= ph->nops || k == i)
            continue;   /* reported by verify_ops */
        OpScope from = k == IR_INPUT_X ? SCOPE_LAYER : k == IR_INPUT_TOKENS ? SCOPE_PROLOGUE : ph->ops[k].scope;
        bool ok = from == op->scope || (op->scope == SCOPE_EPILOGUE && from == SCOPE_LAYER);
        if (k < 0)
            ok = (k == IR_INPUT_X) == (op->scope == SCOPE_LAYER) && (k == IR_INPUT_TOKENS) == (op->scope == SCOPE_PROLOGUE);
        if (!ok)
            VERR(v, at, "%s op %%%s cannot read %%%s (%s)", op_scope_names[op->scope], op->name, ir_input_name(ph, k),
                 k < 0 ? "an input of another scope" : op_scope_names[from]);
    }
}

static void verify_ops(V *v, const Phase *ph) {
    const Module *m = v->m;
    StrIndex names;
    strindex_init(&names);
    for (int i = 0; i < ph->nops; i++) {
        const Op *op = &ph->ops[i];
        Loc at = op_loc(ph, op);
        const OpInfo *info = &op_info[op->code];
        int had = strindex_add(&names, op->name, i);
        if (had == -2) {
            VERR(v, NOLOC, "out of memory in the verifier");
            break;
        }
        if (had >= 0)
            VERR(v, at, "%%%s is defined twice in phase %s", op->name, phase_names[ph->kind]);
        if (op->ninputs < info->min_in || op->ninputs > info->max_in)
            {
            if (info->min_in == info->max_in)
                VERR(v, at, "%s takes %d input%s; %%%s has %d", info->name, info->min_in, info->min_in == 1 ? "" : "s",
                     op->name, op->ninputs);
            else
                VERR(v, at, "%s takes %d to %d inputs; %%%s has %d", info->name, info->min_in, info->max_in, op->name,
                     op->ninputs);
        }
        for (int j = 0; j < op->ninputs; j++)
            if (op->inputs[j] == i || op->inputs[j] < IR_INPUT_TOKENS || op->inputs[j] >= ph->nops)
                VERR(v, at, "%%%s: input %d is not another op of the phase", op->name, j);
        if (info->operand == OPND_NONE && op->tensor >= 0)
            VERR(v, at, "%s reads no tensor, but %%%s names one", info->name, op->name);
        if (info->operand != OPND_NONE) {
            if (op->tensor < 0 || op->tensor >= m->ntensors)
                VERR(v, at, "%%%s (%s) needs its %s tensor", op->name, info->name,
                     info->operand == OPND_WEIGHT ? "weight" : "kv");
            else if ((m->tensors[op->tensor].kind == TEN_WEIGHT) != (info->operand == OPND_WEIGHT))
                VERR(v, at, "%%%s (%s) reads '%%%s', which is not a %s tensor", op->name, info->name,
                     m->tensors[op->tensor].name, info->operand == OPND_WEIGHT ? "weight" : "kv");
        }
        if (op->code == OP_ACTIVATION && (!op->fn || !in_list(op->fn, act_fns, 5)))
            VERR(v, at, "%%%s: activation needs fn silu, gelu, gelu_tanh, relu or swish", op->name);
        else if (op->code == OP_NORM && (!op->fn || !in_list(op->fn, norm_kinds, 2)))
            VERR(v, at, "%%%s: norm needs fn rms or layer", op->name);
        else if (op->code != OP_ACTIVATION && op->code != OP_NORM && op->fn)
            VERR(v, at, "%%%s: %s takes no fn", op->name, info->name);
        if (op->eps > 0 && op->code != OP_NORM)
            VERR(v, at, "%%%s: only a norm takes eps", op->name);
        if (op->scale > 0 && op->code != OP_EMBEDDING)
            VERR(v, at, "%%%s: only an embedding takes scale", op->name);
        if (op->tied && op->code != OP_FC)
            VERR(v, at, "%%%s: only an fc reads a transposed weight (wT)", op->name);
        if (op->positions > 0 && op->code != OP_EMBEDDING)
            VERR(v, at, "%%%s: only an embedding looks up positions", op->name);
        if (op->window > 0 && op->code != OP_ATTN_SCORE && op->code != OP_ATTN_VALUE)
            VERR(v, at, "%%%s: only attention takes a window", op->name);
        if (op->unit_offset && op->code != OP_NORM)
            VERR(v, at, "%%%s: only a norm takes unit_offset", op->name);
        verify_scope(v, ph, i);
    }
    strindex_free(&names);
    if (!v->ok)
        return;
    int *order = vmalloc(v, sizeof(int) * (size_t)(ph->nops + 1));
    if (!order)
        return;
    int topo = ir_topo_order(ph, order);
    if (topo != 1) {
        if (topo == 0)
            VERR(v, ph->loc, "the ops of phase %s form a cycle", phase_names[ph->kind]);
        else
            VERR(v, NOLOC, "out of memory in the verifier");
        h2c_raw_free(order, sizeof(int) * (size_t)(ph->nops + 1));
        return;
    }
    /* shapes, in topological order so inputs are checked first; an op whose input is already wrong
       is not checked again (its errors would only echo the first) */
    bool *bad = vmalloc(v, sizeof(bool) * (size_t)(ph->nops + 1));
    if (!bad) {
        h2c_raw_free(order, sizeof(int) * (size_t)(ph->nops + 1));
        return;
    }
    memset(bad, 0, sizeof(bool) * (size_t)(ph->nops + 1));
    /* ops without a shape are inferred in a copy of the phase (the shapes pass will give them these
       shapes), so that their operands are checked too: an fc weight of the wrong K is the input's
       error, not one the shapes pass makes */
    Op *copy = vmalloc(v, sizeof(Op) * (size_t)(ph->nops + 1));
    if (!copy) {
        h2c_raw_free(bad, sizeof(bool) * (size_t)(ph->nops + 1));
        h2c_raw_free(order, sizeof(int) * (size_t)(ph->nops + 1));
        return;
    }
    if (ph->nops)
        memcpy(copy, ph->ops, sizeof(Op) * (size_t)ph->nops);
    Phase inferred = *ph;
    inferred.ops = copy;
    for (int k = 0; k < ph->nops; k++) {
        const Op *op = &ph->ops[order[k]];
        Loc at = op_loc(ph, op);
        bool has_shape = op->shape[0] || op->shape[1] || op->shape[2] || op->shape[3];
        bool inputs_bad = false;
        for (int j = 0; j < op->ninputs; j++)
            inputs_bad |= op->inputs[j] >= 0 && bad[op->inputs[j]];
        if (inputs_bad) {
            bad[order[k]] = true;
            continue;
        }
        int errors0 = v->d->errors;
        long long shape[4], out[3];
        int rank = 0;
        if (!has_shape && op->out_rank == 0) {
            Op *c = &copy[order[k]];
            if (!ir_infer_shape(m, &inferred, c, shape, &c->out_rank, c->out))
                continue;   /* the shapes pass says why */
        } else if (!ir_infer_shape(m, ph, op, shape, &rank, out)) {
            VERR(v, at, "%%%s has a shape, but the shapes of its inputs are not known", op->name);
            continue;
        }
        if (op->code == OP_FC && op->ninputs > 1) {
            for (int j = 1; j < op->ninputs; j++) {
                int src = op->inputs[j];
                long long w = src == IR_INPUT_X ? m->model.hidden : src == IR_INPUT_TOKENS ? 1 : copy[src].out[1];
                if (w != shape[DIM_K])
                    VERR(v, at, "%%%s: input %d is %lld wide, input 0 is %lld", op->name, j, w, shape[DIM_K]);
            }
        }
        const Tensor *W = op->tensor >= 0 ? &m->tensors[op->tensor] : NULL;
        if (op->code == OP_FC && W && (W->rank != 2 || W->dims[op->tied ? 1 : 0] != shape[DIM_K]))
            VERR(v, at, "%%%s: its input is %lld wide but the weight '%%%s' has %lld %s", op->name, shape[DIM_K],
                 W->name, W->dims[op->tied ? 1 : 0], op->tied ? "columns (it is read transposed)" : "rows");
        if (op->code == OP_NORM && W && (W->rank != 1 || W->dims[0] != shape[DIM_N]))
            VERR(v, at, "%%%s: a norm over %lld values needs a scale '%%%s' of [%lld]", op->name, shape[DIM_N],
                 W->name, shape[DIM_N]);
        long long rows = op->positions > 0 ? op->positions : m->model.vocab;
        if (op->code == OP_EMBEDDING && W && (W->rank != 2 || W->dims[0] != rows || W->dims[1] != m->model.hidden))
            VERR(v, at, "%%%s: the embedding table '%%%s' must be [%s %lld, hidden %d]", op->name, W->name,
                 op->positions > 0 ? "positions" : "vocab", rows, m->model.hidden);
        if (!has_shape && op->out_rank == 0) {
            bad[order[k]] = v->d->errors != errors0;
            continue;
        }
        if (has_shape && memcmp(shape, op->shape, sizeof shape) != 0)
            VERR(v, at, "%%%s: shape [%lld, %lld, %lld, %lld] should be [%lld, %lld, %lld, %lld] in phase %s", op->name,
                 op->shape[0], op->shape[1], op->shape[2], op->shape[3], shape[0], shape[1], shape[2], shape[3],
                 phase_names[ph->kind]);
        if (op->out_rank && (op->out_rank != rank || memcmp(out, op->out, sizeof(long long) * (size_t)rank) != 0))
            VERR(v, at, "%%%s: its result shape does not follow from its inputs in phase %s", op->name,
                 phase_names[ph->kind]);
        bad[order[k]] = v->d->errors != errors0;
    }
    h2c_raw_free(copy, sizeof(Op) * (size_t)(ph->nops + 1));
    h2c_raw_free(bad, sizeof(bool) * (size_t)(ph->nops + 1));
    h2c_raw_free(order, sizeof(int) * (size_t)(ph->nops + 1));
    for (int i = 0; i < ph->nops; i++)
        verify_op_tiles(v, ph, &ph->ops[i]);
}

/* ---------------------------------------------------------------- dataflow */

/* The channels an op's weight tensor is stored on (none without a tensor). */
static ChanSet tensor_channels(const Module *m, const Op *op) {
    ChanSet all = 0;
    if (op->tensor >= 0) {
        const Tensor *T = &m->tensors[op->tensor];
        for (int i = 0; i < T->ntiles; i++)
            all |= T->tiles[i].place.chans;
    }
    return all;
}

/* Whether op (of the decode phase, or a copy of one) belongs to an attention with a plan: its score
 * op, its value op or the softmax between them. */
static bool op_planned(const Module *m, const Op *op) {
    const Phase *dc = &m->phases[PH_DECODE];
    for (int i = 0; i < m->nattns; i++) {
        const Attention *a = &m->attns[i];
        if (a->ntiles == 0 || a->value_op < 0 || a->value_op >= dc->nops || a->score_op < 0 || a->score_op >= dc->nops)
            continue;
        const Op *v = &dc->ops[a->value_op];
        if (strcmp(op->name, v->name) == 0 || strcmp(op->name, dc->ops[a->score_op].name) == 0)
            return true;
        int sm = v->ninputs > 0 ? v->inputs[0] : -1;
        if (sm >= 0 && sm < dc->nops && dc->ops[sm].code == OP_SOFTMAX && strcmp(op->name, dc->ops[sm].name) == 0)
            return true;
    }
    return false;
}

/* The channels an op touches, storage and near-memory execution: its NMP channels, whether it
 * uses any normal channel, whether it uses any channel at all. */
static void op_channels(const Module *m, const Op *op, ChanSet *nmp, bool *normal, bool *any) {
    /* a norm's scale and the embedding table are read by the NPU wherever they are: they take no
       part in the hierarchy's channel rules */
    bool counts = op->code != OP_NORM && op->code != OP_EMBEDDING;
    /* an op of an attention with a plan keeps the channels its decode tiles give it: its near-memory
       channels, and the normal ones if a part runs on the NPU (the plan lives inside them) */
    bool planned = op_planned(m, op) && op->tensor >= 0;    /* (a softmax between uses none, as before) */
    ChanSet all = counts && !planned ? tensor_channels(m, op) : 0;
    for (int i = 0; i < op->ntiles; i++) {
        if (op->tiles[i].exec.kind == EXEC_NMP || op->tiles[i].exec.kind == EXEC_PE)
            all |= op->tiles[i].exec.chans;
        else if (planned && op->tiles[i].exec.kind == EXEC_NPU)
            all |= dev_normal_set(&m->dev);
    }
    *nmp = all & dev_nmp_set(&m->dev);
    *normal = (all & dev_normal_set(&m->dev)) != 0;
    *any = all != 0;
}

/* An op's dataflow position as a sort key: by (group, partition, op index), or with the stratum
 * before the index. */
typedef struct DfKey {
    int group, part, stratum, op;
} DfKey;
static int cmp_gpi(const void *a, const void *b) {
    const DfKey *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    if (x->part != y->part)
        return x->part < y->part ? -1 : 1;
    return x->op - y->op;
}
static int cmp_gpsi(const void *a, const void *b) {
    const DfKey *x = a, *y = b;
    if (x->group != y->group || x->part != y->part)
        return cmp_gpi(a, b);
    if (x->stratum != y->stratum)
        return x->stratum < y->stratum ? -1 : 1;
    return x->op - y->op;
}

/* The numbering without gaps and the channel rules, over the ops sorted by position (O(n log n):
 * a layer of 50,000 ops is checked in milliseconds). `byp` lists the ops by (group, partition,
 * index), `bys` by (group, partition, stratum, index); a (group, partition) run has the same ops in
 * both. */
static void verify_dataflow_sorted(V *v, const Phase *ph, const DfKey *byp, const DfKey *bys) {
    const Module *m = v->m;
    int n = ph->nops;
    /* numbering without gaps */
    for (int i = 0; i < n; i++) {
        const DfKey *d = &bys[i], *prev = i ? &bys[i - 1] : NULL;
        bool new_group = !prev || d->group != prev->group;
        bool new_part = new_group || d->part != prev->part;
        int want_group = prev ? prev->group + 1 : 0;
        if (new_group && d->group != want_group) {
            VERR(v, ph->loc, "dataflow group %d is empty (groups are numbered from 0 without gaps)", want_group);
            return;
        }
        if (new_part && d->part != (new_group ? 0 : prev->part + 1)) {
            VERR(v, ph->loc, "group %d has no partition %d (partitions are numbered from 0 without gaps)", d->group,
                 new_group ? 0 : prev->part + 1);
            return;
        }
        if (new_part ? d->stratum != 0 : d->stratum != prev->stratum && d->stratum != prev->stratum + 1) {
            VERR(v, ph->loc, "group %d partition %d has no stratum %d (strata are numbered from 0 without gaps)",
                 d->group, d->part, new_part ? 0 : prev->stratum + 1);
            return;
        }
    }
    /* order along edges */
    for (int i = 0; i < n; i++) {
        const Op *op = &ph->ops[i];
        for (int j = 0; j < op->ninputs; j++) {
            if (op->inputs[j] < 0)
                continue;
            const Op *src = &ph->ops[op->inputs[j]];
            Loc at = op_loc(ph, op);
            if (src->df.group > op->df.group)
                VERR(v, at, "%%%s is in group %d but its input %%%s runs later, in group %d", op->name, op->df.group,
                     src->name, src->df.group);
            else if (src->df.group == op->df.group && src->df.part != op->df.part)
                VERR(v, at, "%%%s and its input %%%s are in one group but different partitions; partitions of a group run "
                     "in parallel, so connected ops must share one", op->name, src->name);
            else if (src->df.group == op->df.group && src->df.stratum >= op->df.stratum)
                VERR(v, at, "%%%s is in stratum %d but its input %%%s is in stratum %d; an input must be in an earlier "
                     "stratum", op->name, op->df.stratum, src->name, src->df.stratum);
        }
    }
    if (!v->ok)
        return;
    /* channels, group by group */
    ChanSet nmpset = dev_nmp_set(&m->dev), normset = dev_normal_set(&m->dev);
    for (int g0 = 0; g0 < n;) {
        int g = byp[g0].group, g1 = g0;
        while (g1 < n && byp[g1].group == g)
            g1++;
        ChanSet used_nmp = 0;
        bool used_normal = false;
        Loc gat = op_loc(ph, &ph->ops[byp[g0].op]);
        for (int p0 = g0; p0 < g1;) {
            int p = byp[p0].part, p1 = p0;
            while (p1 < g1 && byp[p1].part == p)
                p1++;
            ChanSet pn = 0;
            bool pnorm = false;
            Loc pat = op_loc(ph, &ph->ops[byp[p0].op]); /* the partition's first op */
            for (int i = p0; i < p1; i++) {
                const Op *op = &ph->ops[byp[i].op];
                ChanSet cn;
                bool cx, any;
                op_channels(m, op, &cn, &cx, &any);
                pn |= cn;
                pnorm |= cx;
                bool planned = op_planned(m, op);
                ChanSet stored = op->code == OP_NORM || op->code == OP_EMBEDDING || planned
                                     ? 0 : tensor_channels(m, op) & normset;
                if (stored && stored != normset)
                    VERR(v, op_loc(ph, op), "%%%s uses some normal channels but not all; the normal channels "
                         "form one group", op->name);
                if (m->dataflow == DF_COMPUTE_CENTRIC && any && (cn != 0) == cx)
                    VERR(v, op_loc(ph, op), "%%%s uses both NMP and normal channels; in compute-centric mode each op "
                         "runs on one kind of unit", op->name);
            }
            /* the same ops, stratum by stratum */
            for (int s0 = p0; s0 < p1;) {
                int s = bys[s0].stratum, s1 = s0;
                while (s1 < p1 && bys[s1].stratum == s)
                    s1++;
                ChanSet sn = 0;
                bool snorm = false, any_in = false;
                for (int i = s0; i < s1; i++) {
                    const Op *op = &ph->ops[bys[i].op];
                    ChanSet cn;
                    bool cx, any;
                    op_channels(m, op, &cn, &cx, &any);
                    if (cn & sn)
                        VERR(v, op_loc(ph, op), "%%%s shares NMP channels with another op of its stratum (group %d, "
                             "partition %d, stratum %d)", op->name, g, p, s);
                    sn |= cn;
                    snorm |= cx;
                    any_in |= any;
                }
                if (any_in && (sn != pn || snorm != pnorm))
                    VERR(v, pat, "group %d partition %d: stratum %d does not use all of its partition's channels (every "
                         "stratum of a partition uses the same channels)", g, p, s);
                s0 = s1;
            }
            if ((pn & used_nmp) || (pnorm && used_normal))
                VERR(v, pat, "group %d: partition %d shares channels with another partition of the group", g, p);
            used_nmp |= pn;
            used_normal |= pnorm;
            p0 = p1;
        }
        /* (a group of ops that use no channels, norms and the like, is exempt, as such a stratum is) */
        if (m->dataflow == DF_DATA_CENTRIC && (used_nmp || used_normal) &&
            (used_nmp != nmpset || (normset && !used_normal)))
            VERR(v, gat, "group %d leaves channels unused; in data-centric mode the partitions of a group cover "
                 "every channel", g);
        g0 = g1;
    }
}

static void verify_dataflow(V *v, const Phase *ph) {
    int n = ph->nops, with = 0;
    for (int i = 0; i < n; i++)
        with += ph->ops[i].df.group >= 0;
    if (with == 0)
        return;
    if (ph->kind != PH_DECODE) {
        VERR(v, ph->loc, "dataflow positions (group/part/stratum) belong to the decode phase only");
        return;
    }
    if (with != n) {
        for (int i = 0; i < n; i++)
            if (ph->ops[i].df.group < 0)
                VERR(v, op_loc(ph, &ph->ops[i]), "%%%s has no dataflow position while other ops do", ph->ops[i].name);
        return;
    }
    for (int i = 0; i < n; i++)
        if (ph->ops[i].df.part < 0 || ph->ops[i].df.stratum < 0) {
            VERR(v, op_loc(ph, &ph->ops[i]), "%%%s has a negative partition or stratum", ph->ops[i].name);
            return;
        }
    DfKey *byp = vmalloc(v, sizeof(DfKey) * (size_t)n);
    DfKey *bys = byp ? vmalloc(v, sizeof(DfKey) * (size_t)n) : NULL;
    if (byp && bys) {
        for (int i = 0; i < n; i++)
            byp[i] = bys[i] = (DfKey){ph->ops[i].df.group, ph->ops[i].df.part, ph->ops[i].df.stratum, i};
        qsort(byp, (size_t)n, sizeof(DfKey), cmp_gpi);
        qsort(bys, (size_t)n, sizeof(DfKey), cmp_gpsi);
        verify_dataflow_sorted(v, ph, byp, bys);
    }
    h2c_raw_free(bys, sizeof(DfKey) * (size_t)n);
    h2c_raw_free(byp, sizeof(DfKey) * (size_t)n);
}

/* The dataflow rules hold within each scope: the layer graph, the prologue and the epilogue each
 * have their own hierarchy of groups (they run one after another). The scope's ops are checked as a
 * phase of their own, with inputs from other scopes read as outside inputs. */
static void verify_dataflow_scopes(V *v, const Phase *ph) {
    int *map = vmalloc(v, sizeof(int) * (size_t)(ph->nops + 1));
    if (!map)
        return;
    for (int sc = 0; sc < SCOPE_COUNT_; sc++) {
        int n = 0;
        for (int i = 0; i < ph->nops; i++)
            map[i] = ph->ops[i].scope == (OpScope)sc ? n++ : -1;
        if (n == 0)
            continue;
        Phase view = *ph;
        view.ops = vmalloc(v, sizeof(Op) * (size_t)n);
        view.nops = n;
        int total_in = 0;
        for (int i = 0; i < ph->nops; i++)
            if (map[i] >= 0)
                total_in += ph->ops[i].ninputs;
        int *ins = view.ops ? vmalloc(v, sizeof(int) * (size_t)(total_in + 1)) : NULL, used = 0;
        if (!ins) {
            h2c_raw_free(view.ops, sizeof(Op) * (size_t)n);
            break;
        }
        for (int i = 0; i < ph->nops; i++) {
            if (map[i] < 0)
                continue;
            Op *o = &view.ops[map[i]];
            *o = ph->ops[i];
            o->inputs = ins + used;
            for (int j = 0; j < o->ninputs; j++) {
                int k = ph->ops[i].inputs[j];
                o->inputs[j] = k >= 0 && map[k] >= 0 ? map[k] : IR_INPUT_X;
            }
            used += o->ninputs;
        }
        verify_dataflow(v, &view);
        h2c_raw_free(ins, sizeof(int) * (size_t)(total_in + 1));
        h2c_raw_free(view.ops, sizeof(Op) * (size_t)n);
    }
    h2c_raw_free(map, sizeof(int) * (size_t)(ph->nops + 1));
}

bool ir_verify(const Module *m, Diag *d) {
    V v = {m, d, true};
    if (!verify_device(&v))
        return false;
    if (!verify_model(&v))
        return false;
    verify_attentions(&v);
    verify_tensors(&v);
    for (int p = 0; p < PH_COUNT_; p++) {
        V one = {m, d, true};
        verify_ops(&one, &m->phases[p]);
        v.ok &= one.ok;
    }
    if (v.ok)
        verify_phases(&v);
    else
        verify_phase_counts(&v);
    if (v.ok)
        for (int p = 0; p < PH_COUNT_; p++)
            verify_dataflow_scopes(&v, &m->phases[p]);
    return v.ok;
}
