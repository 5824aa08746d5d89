/* sema.c: checks the parsed files and builds the Config: names, units, ranges, the op graph
 * (inputs defined, acyclic, widths consistent), the selection (`use`) and whether weights + KV
 * fit the device. Reports every error it finds in one run. Pipeline: AST -> Config -> ir/lower. */
#include "frontend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Sema {
    Session *s;
    Diag *d;
    Arena *a;
    Config *cfg;
} Sema;

/* ---------------------------------------------------------------- field slots */

enum { SLOT_UNSEEN, SLOT_BUSY, SLOT_DONE, SLOT_BAD };

typedef struct Slot {
    const char *path;       /* field name within the block */
    UnitKind kind;          /* what it measures */
    int flags;              /* F_INT, F_POW2, F_ENUM_PREC, F_REQUIRED */
    double min, max;        /* range in base units */
    double def;             /* default (when not F_REQUIRED) */
    const Stmt *st;         /* the assignment, or NULL */
    int state;
    double value;
    int seq;                /* 1 for the first field set in the text, 2 for the next, ...; 0: unset */
} Slot;

typedef struct Scope Scope;
struct Scope {
    Sema *S;
    const char *what;       /* "hardware 'h2llm'", for messages */
    Slot *slots;
    int nslots;
    /* a default that depends on other fields (model head_dim, kv_heads), or NULL. It leaves *out
     * (Slot.def) alone for a slot it does not derive, and returns false if a field it reads is
     * bad; use is where the value is needed, for a dependency cycle. */
    bool (*derived)(Scope *sc, int slot, double *out, Loc use);
    int nset;               /* fields set so far (the last Slot.seq) */
    int evaluating;         /* 1 + the slot whose value is being computed; 0: none */
};

static int find_slot(const Scope *sc, const char *path) {
    for (int i = 0; i < sc->nslots; i++)
        if (strcmp(sc->slots[i].path, path) == 0)
            return i;
    return -1;
}

static const char **slot_names(Scope *sc) {
    const char **names = arena_alloc(sc->S->a, sizeof(char *) * (size_t)(sc->nslots + 1));
    for (int i = 0; i < sc->nslots; i++)
        names[i] = sc->slots[i].path;
    return names;
}

static bool slot_value(Scope *sc, int i, double *out, Loc use);

/* ---------------------------------------------------------------- expressions */

typedef struct Val {
    double v;
    UnitKind k;
} Val;

static bool eval(Scope *sc, const Expr *e, Val *out);

static bool eval_num_lit(Sema *S, const Expr *e, Val *out) {
    const Unit *u = NULL;
    if (e->num.unit) {
        u = unit_lookup(e->num.unit);
        if (!u) {
            static const char *const known[] = {
                "B", "KB", "KiB", "MB", "MiB", "GB", "GiB", "TB", "TiB", "Hz", "kHz", "MHz", "GHz",
                "B/s", "KB/s", "MB/s", "GB/s", "GiB/s", "TB/s", "MAC/s", "GMAC/s", "TMAC/s", "pJ/bit",
                "fJ/bit", "pJ/B", "pJ/MAC", "fJ/MAC", "pJ", "nJ", "tokens", "ns", "us", "ms", "s", NULL};
            const char *sug = closest_word(e->num.unit, known);
            if (sug)
                diag_error(S->d, e->num.unit_loc, "unknown unit '%s'; did you mean '%s'?", e->num.unit, sug);
            else
                diag_error(S->d, e->num.unit_loc, "unknown unit '%s'", e->num.unit);
            return false;
        }
    }
    if (!unit_apply(e->num.text, u, &out->v)) {
        if (u)
            diag_error(S->d, e->loc, "'%s %s' is too large", e->num.text, e->num.unit);
        else
            diag_error(S->d, e->loc, "number '%s' is too large", e->num.text);
        return false;
    }
    out->k = u ? u->kind : UK_NONE;
    return true;
}

static bool eval(Scope *sc, const Expr *e, Val *out) {
    Sema *S = sc->S;
    switch (e->kind) {
    case EX_NUM:
        return eval_num_lit(S, e, out);
    case EX_NAME: {
        int i = find_slot(sc, e->name);
        if (i < 0) {
            const char *sug = closest_word(e->name, slot_names(sc));
            if (sug)
                diag_error(S->d, e->loc, "unknown name '%s' in %s; did you mean '%s'?", e->name, sc->what, sug);
            else
                diag_error(S->d, e->loc, "unknown name '%s' in %s", e->name, sc->what);
            return false;
        }
        if (sc->slots[i].flags & F_ENUM_PREC) {
            diag_error(S->d, e->loc, "'%s' is not a number", e->name);
            return false;
        }
        if (!slot_value(sc, i, &out->v, e->loc))
            return false;
        out->k = sc->slots[i].kind == UK_PERCENT ? UK_NONE : sc->slots[i].kind;
        return true;
    }
    case EX_NEG:
        if (!eval(sc, e->bin.lhs, out))
            return false;
        out->v = -out->v;
        return true;
    case EX_BIN: {
        Val a, b;
        bool oka = eval(sc, e->bin.lhs, &a);
        bool okb = eval(sc, e->bin.rhs, &b);
        if (!oka || !okb)
            return false;
        if (a.k == UK_PERCENT) {
            a.k = UK_NONE;
        }
        if (b.k == UK_PERCENT) {
            b.k = UK_NONE;
        }
        switch (e->bin.op) {
        case '+':
        case '-':
            if (a.k != b.k) {
                diag_error(S->d, e->bin.op_loc, "cannot %s %s and %s", e->bin.op == '+' ? "add" : "subtract",
                           unit_kind_name(a.k), unit_kind_name(b.k));
                return false;
            }
            out->v = e->bin.op == '+' ? a.v + b.v : a.v - b.v;
            out->k = a.k;
            break;
        case '*':
            if (a.k != UK_NONE && b.k != UK_NONE) {
                diag_error(S->d, e->bin.op_loc, "cannot multiply %s by %s", unit_kind_name(a.k), unit_kind_name(b.k));
                return false;
            }
            out->v = a.v * b.v;
            out->k = a.k != UK_NONE ? a.k : b.k;
            break;
        case '/':
            if (b.v == 0) {
                diag_error(S->d, e->bin.rhs->loc, "division by zero");
                return false;
            }
            if (b.k != UK_NONE && b.k != a.k) {
                diag_error(S->d, e->bin.op_loc, "cannot divide %s by %s", unit_kind_name(a.k), unit_kind_name(b.k));
                return false;
            }
            out->v = a.v / b.v;
            out->k = b.k == UK_NONE ? a.k : UK_NONE;
            break;
        default:
            h2c_unreachable("bad operator");
        }
        if (isinf(out->v) || isnan(out->v)) {
            diag_error(S->d, e->loc, "value out of range");
            return false;
        }
        return true;
    }
    case EX_STR:
        diag_error(S->d, e->loc, "expected a number, found a string");
        return false;
    case EX_LIST:
        diag_error(S->d, e->loc, "expected a number, found a list");
        return false;
    case EX_TUPLE:
        diag_error(S->d, e->loc, "expected a number, found a tuple");
        return false;
    }
    return false;
}

/* A value for a message, written as in the language: "600 MHz", "70%", "8". */
static void fmt_value(char *buf, size_t n, double v, UnitKind k) {
    if (k == UK_PERCENT) {
        /* unit_format prints a ratio as a fraction; a message shows what was most likely written */
        char num[40];
        double back;
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(num, sizeof num, "%.*g", prec, v * 100);
            if (unit_apply(num, unit_lookup("%"), &back) && back == v) {
                snprintf(buf, n, "%s%%", num);
                return;
            }
        }
    }
    if (k == UK_TOKENS) {
        char num[40];
        fmt_double(num, sizeof num, v);
        snprintf(buf, n, "%s token%s", num, v == 1 ? "" : "s");   /* not "0 token", "1 tokens" */
        return;
    }
    char t[64];
    unit_format(t, sizeof t, v, k);
    size_t digits = strspn(t, "0123456789.eE+-");
    if (t[digits] && k != UK_PERCENT)
        snprintf(buf, n, "%.*s %s", (int)digits, t, t + digits);   /* "600MHz" -> "600 MHz" */
    else
        snprintf(buf, n, "%s", t);
}

/* Checks a value against what a field accepts: unit kind, integrality, range, power of two. */
static bool check_value(Sema *S, const char *path, UnitKind want, int flags, double min, double max, Val v,
                        const Expr *e) {
    UnitKind got = v.k;
    if (want == UK_PERCENT && (got == UK_NONE || got == UK_PERCENT)) {
        /* fractions and percentages are the same thing */
    } else if (want == UK_TOKENS && (got == UK_NONE || got == UK_TOKENS)) {
        /* token counts may be written bare */
    } else if (got == UK_NONE && want != UK_NONE && v.v == 0) {
        /* zero needs no unit */
    } else if (want != got) {
        if (got == UK_NONE && e->kind == EX_NUM)
            diag_error(S->d, e->loc, "'%s' needs a unit: it is %s (e.g. %s)", path, unit_kind_name(want),
                       unit_kind_example(want));
        else if (want == UK_NONE)
            diag_error(S->d, e->loc, "'%s' is a plain number, but this is %s", path, unit_kind_name(got));
        else
            diag_error(S->d, e->loc, "'%s' is %s, but this is %s", path, unit_kind_name(want), unit_kind_name(got));
        return false;
    }
    char lo[64], hi[64], val[64];
    fmt_value(lo, sizeof lo, min, want);
    fmt_value(hi, sizeof hi, max, want);
    fmt_value(val, sizeof val, v.v, want);
    if (!(v.v >= min && v.v <= max)) {
        diag_error(S->d, e->loc, "'%s' = %s is out of range [%s, %s]", path, val, lo, hi);
        return false;
    }
    if ((flags & F_INT) && v.v != floor(v.v)) {
        diag_error(S->d, e->loc, "'%s' must be a whole number, not %s", path, val);
        return false;
    }
    if ((flags & F_POW2) && v.v > 0) {
        int ex;
        double m = frexp(v.v, &ex);
        if (m != 0.5) {
            diag_error(S->d, e->loc, "'%s' = %s must be a power of two", path, val);
            return false;
        }
    }
    return true;
}

/* The value of slot i: its assignment evaluated (once), or its default. */
static bool slot_value(Scope *sc, int i, double *out, Loc use) {
    Slot *sl = &sc->slots[i];
    switch (sl->state) {
    case SLOT_DONE:
        *out = sl->value;
        return true;
    case SLOT_BAD:
        return false;
    case SLOT_BUSY:
        if (sc->evaluating && sc->evaluating - 1 != i)
            diag_error(sc->S->d, use, "'%s' depends on itself (through '%s')", sl->path,
                       sc->slots[sc->evaluating - 1].path);
        else
            diag_error(sc->S->d, use, "'%s' depends on itself", sl->path);
        sl->state = SLOT_BAD;
        return false;
    }
    sl->state = SLOT_BUSY;
    int outer = sc->evaluating;
    sc->evaluating = i + 1;
    bool ok;
    if (!sl->st) {
        sl->value = sl->def;
        ok = !sc->derived || sc->derived(sc, i, &sl->value, use);
    } else {
        Val v;
        const Expr *e = sl->st->assign.value;
        if (sl->flags & F_ENUM_PREC) {
            ok = false;
            if (e->kind == EX_NAME) {
                for (int p = 0; p < PREC_COUNT_; p++)
                    if (strcmp(e->name, precision_name((Precision)p)) == 0) {
                        sl->value = p;
                        ok = true;
                    }
            }
            if (!ok)
                diag_error(sc->S->d, e->loc, "'%s' must be one of fp16, int8, int4, fp32", sl->path);
        } else {
            ok = eval(sc, e, &v) &&
                 check_value(sc->S, sl->path, sl->kind, sl->flags, sl->min, sl->max, v, e);
            if (ok)
                sl->value = v.v;
        }
    }
    sc->evaluating = outer;
    if (sl->state == SLOT_BAD)
        return false;
    sl->state = ok ? SLOT_DONE : SLOT_BAD;
    *out = sl->value;
    return ok;
}

/* ---------------------------------------------------------------- collecting assignments */

/* Called for each assignment whose path is not a slot; returns true if it handled it. */
typedef bool (*ExtraFn)(void *ctx, const char *path, const Stmt *st);

static void collect(Scope *sc, const Stmt *body, const char *prefix, ExtraFn extra, void *ctx) {
    Sema *S = sc->S;
    for (const Stmt *st = body; st; st = st->next) {
        if (S->d->stop)
            return;
        switch (st->kind) {
        case ST_ASSIGN: {
            const char *path = prefix ? arena_printf(S->a, "%s.%s", prefix, st->assign.path) : st->assign.path;
            if (extra && extra(ctx, path, st))
                break;
            int i = find_slot(sc, path);
            if (i < 0) {
                const char *sug = closest_word(path, slot_names(sc));
                if (sug)
                    diag_error(S->d, st->assign.path_loc, "unknown field '%s' in %s; did you mean '%s'?", path,
                               sc->what, sug);
                else
                    diag_error(S->d, st->assign.path_loc, "unknown field '%s' in %s", path, sc->what);
                break;
            }
            if (sc->slots[i].st) {
                diag_error(S->d, st->assign.path_loc, "'%s' is set twice", path);
                diag_note(S->d, sc->slots[i].st->assign.path_loc, "first set here");
                break;
            }
            sc->slots[i].st = st;
            sc->slots[i].seq = ++sc->nset;
            break;
        }
        case ST_BLOCK: {
            const char *path = prefix ? arena_printf(S->a, "%s.%s", prefix, st->block.name) : st->block.name;
            collect(sc, st->block.body, path, extra, ctx);
            break;
        }
        case ST_OP:
            if (extra && extra(ctx, NULL, st))
                break;
            diag_error(S->d, st->loc, "ops belong in a model block, not in %s", sc->what);
            break;
        }
    }
}

static bool eval_all(Scope *sc) {
    bool ok = true;
    double v;
    /* the fields set in the text first, in its order, so that errors come out in that order */
    for (int k = 1; k <= sc->nset; k++)
        for (int i = 0; i < sc->nslots; i++)
            if (sc->slots[i].seq == k && !slot_value(sc, i, &v, sc->slots[i].st->loc))
                ok = false;
    for (int i = 0; i < sc->nslots; i++)
        if (!sc->slots[i].st && !slot_value(sc, i, &v, NOLOC))
            ok = false;
    return ok;
}

/* An identifier value from a fixed list (enums written bare: data-centric, silu, ...). */
static int enum_value(Sema *S, const Expr *e, const char *what, const char *const *names, int n) {
    if (e->kind != EX_NAME && e->kind != EX_STR) {
        diag_error(S->d, e->loc, "'%s' takes a name", what);
        return -1;
    }
    const char *w = e->kind == EX_NAME ? e->name : e->str;
    for (int i = 0; i < n; i++)
        if (strcmp(w, names[i]) == 0)
            return i;
    const char *list[32];
    int k = 0;
    for (int i = 0; i < n && k < 31; i++)
        list[k++] = names[i];
    list[k] = NULL;
    const char *sug = closest_word(w, list);
    char all[256] = "";
    for (int i = 0; i < n; i++) {
        size_t l = strlen(all);
        snprintf(all + l, sizeof all - l, "%s%s", i ? ", " : "", names[i]);
    }
    if (sug)
        diag_error(S->d, e->loc, "unknown %s '%s'; did you mean '%s'?", what, w, sug);
    else
        diag_error(S->d, e->loc, "unknown %s '%s' (expected one of: %s)", what, w, all);
    return -1;
}

/* ---------------------------------------------------------------- hardware */

typedef struct EnergyStmt {
    const char *name;       /* the entry, e.g. "pe.mac" */
    const Stmt *st;
} EnergyStmt;

typedef struct HwCtx {
    Sema *S;
    Hardware *hw;
    bool energy_set[EF_COUNT_];
    Loc energy_first[EF_COUNT_];
    EnergyStmt *energy;     /* the energy entries in source order, checked after the fields */
    int nenergy, energy_cap;
    bool ok;
} HwCtx;

static bool energy_entry(HwCtx *hc, const char *name, const Stmt *st) {
    Sema *S = hc->S;
    int i;
    for (i = 0; i < EF_COUNT_; i++)
        if (strcmp(energy_names[i], name) == 0)
            break;
    if (i == EF_COUNT_) {
        const char *names[EF_COUNT_ + 1];   /* closest_word wants a NULL-terminated list */
        memcpy(names, energy_names, sizeof energy_names);
        names[EF_COUNT_] = NULL;
        const char *sug = closest_word(name, names);
        if (sug)
            diag_error(S->d, st->assign.path_loc, "unknown energy entry '%s'; did you mean '%s'?", name, sug);
        else
            diag_error(S->d, st->assign.path_loc, "unknown energy entry '%s'", name);
        hc->ok = false;
        return true;
    }
    if (hc->energy_set[i]) {
        diag_error(S->d, st->assign.path_loc, "energy entry '%s' is set twice", name);
        diag_note(S->d, hc->energy_first[i], "first set here");
        hc->ok = false;
        return true;
    }
    hc->energy_set[i] = true;
    hc->energy_first[i] = st->assign.path_loc;
    if (!st->assign.source) {
        diag_error(S->d, st->assign.path_loc, "energy entry '%s' must name its source: add from \"...\"", name);
        hc->ok = false;
    } else if (!st->assign.source[strspn(st->assign.source, " \t")]) {
        diag_error(S->d, st->assign.source_loc, "energy entry '%s' has an empty source: say where the number comes from",
                   name);
        hc->ok = false;
    }
    EnergyEntry *en = &hc->hw->energy[i];
    en->source = st->assign.source ? st->assign.source : "";
    en->loc = st->assign.path_loc;
    en->table = NULL;
    en->ntable = 0;
    const Expr *e = st->assign.value;
    Scope none = {S, "an energy table", NULL, 0, NULL, 0, 0};
    if (e->kind == EX_LIST && i == EF_pe_mac) {
        /* [(frequency, energy), ...] */
        en->table = ARENA_ARRAY(S->a, EnergyPoint, e->list.count ? e->list.count : 1);
        for (int j = 0; j < e->list.count; j++) {
            const Expr *t = e->list.items[j];
            Val f, p;
            if (t->kind != EX_TUPLE || t->list.count != 2) {
                diag_error(S->d, t->loc, "pe.mac table entries are (frequency, energy per MAC) pairs");
                hc->ok = false;
                return true;
            }
            if (!eval(&none, t->list.items[0], &f) || !eval(&none, t->list.items[1], &p) ||
                !check_value(S, "pe.mac frequency", UK_FREQ, 0, 1e6, 1e11, f, t->list.items[0]) ||
                !check_value(S, "pe.mac", UK_ENERGY_MAC, 0, 0, 1e6, p, t->list.items[1])) {
                hc->ok = false;
                return true;
            }
            if (j > 0 && f.v <= en->table[j - 1].freq) {
                diag_error(S->d, t->loc, "pe.mac table frequencies must increase");
                hc->ok = false;
                return true;
            }
            en->table[j].freq = f.v;
            en->table[j].pj = p.v;
        }
        en->ntable = e->list.count;
        if (en->ntable == 0) {
            diag_error(S->d, e->loc, "pe.mac table is empty");
            hc->ok = false;
        }
        return true;
    }
    Val v;
    if (!eval(&none, e, &v) || !check_value(S, name, energy_kinds[i], 0, 0, 1e6, v, e)) {
        hc->ok = false;
        return true;
    }
    en->value = v.v;
    return true;
}

static bool hw_extra(void *ctx, const char *path, const Stmt *st) {
    HwCtx *hc = ctx;
    if (!path)
        return false;
    if (strncmp(path, "energy.", 7) != 0)
        return false;
    EnergyStmt es = {path + 7, st};
    VEC_PUSH(hc->S->a, hc->energy, hc->nenergy, hc->energy_cap, es);
    return true;
}

static Slot *hw_slots(Sema *S) {
    Slot *slots = ARENA_ARRAY(S->a, Slot, HWF_COUNT_);
    for (int i = 0; i < HWF_COUNT_; i++) {
        const FieldDesc *f = &hw_fields[i];
        slots[i] = (Slot){f->path, f->kind, f->flags, f->min, f->max, f->def, NULL, SLOT_UNSEEN, 0, 0};
    }
    return slots;
}

static Hardware *check_hardware(Sema *S, const Item *it) {
    Hardware *hw = ARENA_NEW(S->a, Hardware);
    hardware_defaults_named(hw, it->block.name);
    hw->loc = it->block.name_loc;
    Scope sc = {S, arena_printf(S->a, "hardware '%s'", it->block.name), hw_slots(S), HWF_COUNT_, NULL, 0, 0};
    HwCtx hc = {S, hw, {0}, {{0}}, NULL, 0, 0, true};
    collect(&sc, it->block.body, NULL, hw_extra, &hc);
    bool ok = eval_all(&sc);
    /* after the fields: an energy {} block usually comes last, and errors should come in order */
    for (int i = 0; i < hc.nenergy && !S->d->stop; i++)
        energy_entry(&hc, hc.energy[i].name, hc.energy[i].st);
    ok = ok && hc.ok;
    for (int i = 0; i < HWF_COUNT_; i++) {
        *(double *)((char *)hw + hw_fields[i].offset) = sc.slots[i].value;
        hw->locs[i] = sc.slots[i].st ? sc.slots[i].st->assign.value->loc : NOLOC;
    }
    char why[160];
    int bad = ok ? hardware_inconsistency(hw, why, sizeof why) : -1;
    if (bad >= 0) {
        diag_error(S->d, hw->locs[bad].file ? hw->locs[bad] : hw->loc, "%s", why);
        ok = false;
    }
    if (!hc.energy_set[EF_pe_mac] || hw->energy[EF_pe_mac].table)
        hw->energy[EF_pe_mac].value = energy_pe_mac(hw, hw->pe_frequency);
    return ok ? hw : NULL;
}

/* ---------------------------------------------------------------- model */

enum { MF_LAYERS, MF_HIDDEN, MF_INTERMEDIATE, MF_HEADS, MF_KV_HEADS, MF_HEAD_DIM, MF_VOCAB, MF_COUNT_ };

static bool model_derived(Scope *sc, int i, double *out, Loc use) {
    double a, b;
    switch (i) {
    case MF_KV_HEADS:
        return slot_value(sc, MF_HEADS, out, use);
    case MF_HEAD_DIM:
        if (!slot_value(sc, MF_HIDDEN, &a, use) || !slot_value(sc, MF_HEADS, &b, use))
            return false;
        *out = floor(a / b);
        return true;
    default:
        return true;
    }
}

typedef struct ModelCtx {
    Sema *S;
    const Stmt **ops;
    int nops, cap;
} ModelCtx;

static bool model_extra(void *ctx, const char *path, const Stmt *st) {
    ModelCtx *mc = ctx;
    if (path)
        return false;
    VEC_PUSH(mc->S->a, mc->ops, mc->nops, mc->cap, st);
    return true;
}

static const char *width_desc(Sema *S, const Model *m, int w) {
    if (w == m->hidden)
        return arena_printf(S->a, "%d (hidden)", w);
    if (w == m->heads * m->head_dim)
        return arena_printf(S->a, "%d (heads x head_dim)", w);
    if (w == m->kv_heads * m->head_dim)
        return arena_printf(S->a, "%d (kv_heads x head_dim)", w);
    return arena_printf(S->a, "%d", w);
}

/* Evaluates an op's keyword argument as a positive whole number in the model's scope. */
static bool op_int_arg(Scope *sc, const Arg *a, int *out) {
    Val v;
    if (!eval(sc, a->value, &v))
        return false;
    if (!check_value(sc->S, a->name, UK_NONE, F_INT, 1, 1 << 24, v, a->value))
        return false;
    *out = (int)v.v;
    return true;
}

static const char *const act_fns[] = {"silu", "gelu", "relu", "swish", NULL};
static const char *const norm_kinds[] = {"rms", "layer", NULL};

/* Op names to indices: open addressing over a power-of-two table (models may have thousands of ops). */
typedef struct NameIndex {
    const char **names;     /* NULL: empty slot */
    int *idx;
    size_t cap;
} NameIndex;

static size_t name_hash(const char *s) {
    size_t h = 14695981039346656037u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The index of name, or -1; with insert, adds it as `value` if absent. */
static int name_find(NameIndex *ni, const char *name, bool insert, int value) {
    size_t i = name_hash(name) & (ni->cap - 1);
    while (ni->names[i]) {
        if (strcmp(ni->names[i], name) == 0)
            return ni->idx[i];
        i = (i + 1) & (ni->cap - 1);
    }
    if (insert) {
        ni->names[i] = name;
        ni->idx[i] = value;
    }
    return -1;
}

static bool check_ops(Sema *S, Scope *sc, Model *m, ModelCtx *mc) {
    bool ok = true;
    m->nops = mc->nops;
    m->ops = ARENA_ARRAY(S->a, ModelOp, mc->nops ? mc->nops : 1);
    NameIndex ni;
    ni.cap = 16;
    while (ni.cap < (size_t)mc->nops * 2)
        ni.cap *= 2;
    ni.names = ARENA_ARRAY(S->a, const char *, ni.cap);
    ni.idx = ARENA_ARRAY(S->a, int, ni.cap);
    /* names first, so inputs may refer to ops written later */
    for (int i = 0; i < mc->nops; i++) {
        const Stmt *st = mc->ops[i];
        ModelOp *op = &m->ops[i];
        op->name = st->op.name;
        op->loc = st->op.name_loc;
        op->kind_loc = st->op.callee_loc;
        if (strcmp(op->name, "x") == 0) {
            diag_error(S->d, op->loc, "'x' is the layer input and cannot be redefined");
            ok = false;
        }
        int first = name_find(&ni, op->name, true, i);
        if (first >= 0) {
            diag_error(S->d, op->loc, "op '%s' is defined twice", op->name);
            diag_note(S->d, m->ops[first].loc, "first defined here");
            ok = false;
        }
        op->kind = OPK_COUNT_;
        for (int k = 0; k < OPK_COUNT_; k++)
            if (strcmp(st->op.callee, op_kind_names[k]) == 0)
                op->kind = (OpKind)k;
        if (strcmp(st->op.callee, "linear") == 0)
            op->kind = OPK_FC;
        if (op->kind == OPK_COUNT_) {
            const char *sug = closest_word(st->op.callee, (const char *const[]){
                "fc", "linear", "attn_score", "attn_value", "softmax", "norm", "activation", "add", "mul", NULL});
            if (sug)
                diag_error(S->d, st->op.callee_loc, "unknown op kind '%s'; did you mean '%s'?", st->op.callee, sug);
            else
                diag_error(S->d, st->op.callee_loc,
                           "unknown op kind '%s' (known: fc, linear, attn_score, attn_value, softmax, norm, "
                           "activation, add, mul)",
                           st->op.callee);
            ok = false;
        }
    }
    if (!ok)
        return false;
    /* arguments */
    for (int i = 0; i < mc->nops; i++) {
        const Stmt *st = mc->ops[i];
        ModelOp *op = &m->ops[i];
        op->inputs = ARENA_ARRAY(S->a, int, st->op.nargs ? st->op.nargs : 1);
        bool seen_kw = false, out_given = false;
        int npos = 0;   /* inputs written, resolved or not: the arity check counts these */
        for (int j = 0; j < st->op.nargs; j++) {
            const Arg *a = &st->op.args[j];
            if (a->name) {
                seen_kw = true;
                if (strcmp(a->name, "out") == 0 && op->kind == OPK_FC) {
                    if (out_given) {
                        diag_error(S->d, a->name_loc, "'out' is given twice");
                        ok = false;
                    } else if (!op_int_arg(sc, a, &op->out)) {
                        ok = false;
                    }
                    out_given = true;
                } else if (strcmp(a->name, "fn") == 0 && op->kind == OPK_ACTIVATION) {
                    int k = enum_value(S, a->value, "activation function", act_fns, 4);
                    if (k < 0)
                        ok = false;
                    else
                        op->fn = act_fns[k];
                } else if (strcmp(a->name, "kind") == 0 && op->kind == OPK_NORM) {
                    int k = enum_value(S, a->value, "norm kind", norm_kinds, 2);
                    if (k < 0)
                        ok = false;
                    else
                        op->fn = norm_kinds[k];
                } else {
                    diag_error(S->d, a->name_loc, "%s takes no argument '%s'", op_kind_names[op->kind], a->name);
                    ok = false;
                }
                continue;
            }
            npos++;
            if (seen_kw) {
                diag_error(S->d, a->value->loc, "inputs come before keyword arguments");
                ok = false;
                continue;
            }
            if (a->value->kind != EX_NAME) {
                diag_error(S->d, a->value->loc, "an op input is the name of an op or 'x'");
                ok = false;
                continue;
            }
            int idx = -2;
            if (strcmp(a->value->name, "x") == 0)
                idx = -1;
            if (idx == -2) {
                int k = name_find(&ni, a->value->name, false, 0);
                if (k >= 0)
                    idx = k;
            }
            if (idx == -2) {
                const char **names = arena_alloc(S->a, sizeof(char *) * (size_t)(m->nops + 2));
                names[0] = "x";
                for (int k = 0; k < m->nops; k++)
                    names[k + 1] = m->ops[k].name;
                const char *sug = closest_word(a->value->name, names);
                if (sug)
                    diag_error(S->d, a->value->loc, "op '%s' uses '%s', which is not defined; did you mean '%s'?",
                               op->name, a->value->name, sug);
                else
                    diag_error(S->d, a->value->loc, "op '%s' uses '%s', which is not defined", op->name,
                               a->value->name);
                ok = false;
                continue;
            }
            if (idx == i) {
                diag_error(S->d, a->value->loc, "op '%s' uses itself", op->name);
                ok = false;
                continue;
            }
            op->inputs[op->ninputs++] = idx;
        }
        if (op->kind == OPK_FC && !out_given) {
            diag_error(S->d, st->op.callee_loc, "fc op '%s' needs its output width: out = N", op->name);
            ok = false;
        }
        if (op->kind == OPK_ACTIVATION && !op->fn)
            op->fn = "silu";
        if (op->kind == OPK_NORM && !op->fn)
            op->fn = "rms";
        int want_lo = 1, want_hi = 1;
        switch (op->kind) {
        case OPK_FC: want_lo = 1; want_hi = 16; break;
        case OPK_ATTN_SCORE: case OPK_ATTN_VALUE: case OPK_ADD: case OPK_MUL: want_lo = want_hi = 2; break;
        default: break;
        }
        if (npos < want_lo || npos > want_hi) {
            if (want_lo == want_hi)
                diag_error(S->d, st->op.callee_loc, "%s takes %d input%s, but '%s' has %d", op_kind_names[op->kind],
                           want_lo, want_lo == 1 ? "" : "s", op->name, npos);
            else
                diag_error(S->d, st->op.callee_loc, "%s takes %d to %d inputs, but '%s' has %d",
                           op_kind_names[op->kind], want_lo, want_hi, op->name, npos);
            ok = false;
        }
    }
    if (!ok)
        return false;
    /* cycles: depth-first search with colours; report one cycle, once */
    int n = m->nops;
    int *colour = ARENA_ARRAY(S->a, int, n + 1), *stack = ARENA_ARRAY(S->a, int, n + 1),
        *next = ARENA_ARRAY(S->a, int, n + 1), *order = ARENA_ARRAY(S->a, int, n + 1);
    int norder = 0;
    for (int r = 0; r < n && ok; r++) {
        if (colour[r])
            continue;
        int sp = 0;
        stack[sp++] = r;
        colour[r] = 1;
        next[r] = 0;
        while (sp > 0 && ok) {
            int v = stack[sp - 1];
            if (next[v] < m->ops[v].ninputs) {
                int w = m->ops[v].inputs[next[v]++];
                if (w < 0)
                    continue;
                if (colour[w] == 1) {
                    /* the cycle is w ... v on the stack, each using the next; print it the way
                       data flows, each feeding the next: w -> v -> ... -> w */
                    char buf[512];
                    snprintf(buf, sizeof buf, "%s", m->ops[w].name);
                    for (int k = sp - 1; k >= 0; k--) {
                        size_t l = strlen(buf);
                        snprintf(buf + l, sizeof buf - l, " -> %s", m->ops[stack[k]].name);
                        if (stack[k] == w)
                            break;
                    }
                    diag_error(S->d, m->ops[w].loc, "the ops form a cycle: %s (each is an input of the next)", buf);
                    ok = false;
                } else if (colour[w] == 0) {
                    colour[w] = 1;
                    next[w] = 0;
                    stack[sp++] = w;
                }
            } else {
                colour[v] = 2;
                order[norder++] = v;
                sp--;
            }
        }
    }
    if (!ok)
        return false;
    /* widths and value types, in topological order */
    for (int t = 0; t < n; t++) {
        ModelOp *op = &m->ops[order[t]];
        ValType it[16];
        int iw[16];
        for (int j = 0; j < op->ninputs; j++) {
            int k = op->inputs[j];
            it[j] = k < 0 ? VT_ACT : m->ops[k].type;
            iw[j] = k < 0 ? m->hidden : m->ops[k].width;
        }
        const char *in0 = op->ninputs > 0 ? (op->inputs[0] < 0 ? "x" : m->ops[op->inputs[0]].name) : "";
        const char *in1 = op->ninputs > 1 ? (op->inputs[1] < 0 ? "x" : m->ops[op->inputs[1]].name) : "";
        int qw = m->heads * m->head_dim, kvw = m->kv_heads * m->head_dim;
        switch (op->kind) {
        case OPK_FC:
            for (int j = 0; j < op->ninputs; j++) {
                if (it[j] != VT_ACT) {
                    diag_error(S->d, op->loc, "fc '%s' cannot take attention scores as input", op->name);
                    ok = false;
                } else if (iw[j] != iw[0]) {
                    diag_error(S->d, op->loc, "the inputs of fc '%s' differ in width: %s vs %s", op->name,
                               width_desc(S, m, iw[0]), width_desc(S, m, iw[j]));
                    ok = false;
                }
            }
            op->type = VT_ACT;
            op->width = op->out;
            break;
        case OPK_ATTN_SCORE:
            if (it[0] != VT_ACT || iw[0] != qw) {
                diag_error(S->d, op->loc, "attn_score '%s': the query '%s' must be %d wide (heads x head_dim), not %s",
                           op->name, in0, qw, it[0] == VT_ACT ? width_desc(S, m, iw[0]) : "scores");
                ok = false;
            }
            if (it[1] != VT_ACT || iw[1] != kvw) {
                diag_error(S->d, op->loc,
                           "attn_score '%s': the key '%s' must be %d wide (kv_heads x head_dim), not %s", op->name,
                           in1, kvw, it[1] == VT_ACT ? width_desc(S, m, iw[1]) : "scores");
                ok = false;
            }
            op->type = VT_SCORES;
            break;
        case OPK_ATTN_VALUE:
            if (it[0] != VT_SCORES) {
                diag_error(S->d, op->loc, "attn_value '%s': the first input '%s' must be attention scores", op->name,
                           in0);
                ok = false;
            }
            if (it[1] != VT_ACT || iw[1] != kvw) {
                diag_error(S->d, op->loc,
                           "attn_value '%s': the value '%s' must be %d wide (kv_heads x head_dim), not %s", op->name,
                           in1, kvw, it[1] == VT_ACT ? width_desc(S, m, iw[1]) : "scores");
                ok = false;
            }
            op->type = VT_ACT;
            op->width = qw;
            break;
        case OPK_SOFTMAX:
            if (it[0] != VT_SCORES) {
                diag_error(S->d, op->loc, "softmax '%s' applies to attention scores; '%s' is not", op->name, in0);
                ok = false;
            }
            op->type = VT_SCORES;
            break;
        case OPK_NORM:
        case OPK_ACTIVATION:
            if (it[0] != VT_ACT) {
                diag_error(S->d, op->loc, "%s '%s' cannot take attention scores", op_kind_names[op->kind], op->name);
                ok = false;
            }
            op->type = VT_ACT;
            op->width = iw[0];
            break;
        case OPK_ADD:
        case OPK_MUL:
            if (it[0] != VT_ACT || it[1] != VT_ACT) {
                diag_error(S->d, op->loc, "%s '%s' cannot take attention scores", op_kind_names[op->kind], op->name);
                ok = false;
            } else if (iw[0] != iw[1]) {
                diag_error(S->d, op->loc, "%s '%s': '%s' and '%s' differ in width (%d vs %d)",
                           op_kind_names[op->kind], op->name, in0, in1, iw[0], iw[1]);
                ok = false;
            }
            op->type = VT_ACT;
            op->width = iw[0];
            break;
        default:
            h2c_unreachable("op kind");
        }
    }
    return ok;
}

/* Each KV cache is read by one attention op: two scores (or two values) over the K (or V) of the same
 * op would share a cache, which h2c's dataflow cannot map. */
static bool check_kv_readers(Sema *S, const Model *m) {
    bool ok = true;
    for (int i = 0; i < m->nops; i++) {
        const ModelOp *a = &m->ops[i];
        if ((a->kind != OPK_ATTN_SCORE && a->kind != OPK_ATTN_VALUE) || a->ninputs < 2)
            continue;
        for (int j = 0; j < i; j++) {
            const ModelOp *b = &m->ops[j];
            if (b->kind == a->kind && b->ninputs >= 2 && b->inputs[1] == a->inputs[1]) {
                const char *src = a->inputs[1] < 0 ? "x" : m->ops[a->inputs[1]].name;
                diag_error(S->d, a->loc, "%s '%s' reads the same %s cache as '%s' (both from '%s'); each KV cache "
                           "must belong to one attention op", op_kind_names[a->kind], a->name,
                           a->kind == OPK_ATTN_SCORE ? "K" : "V", b->name, src);
                diag_note(S->d, b->loc, "'%s' is defined here", b->name);
                ok = false;
            }
        }
    }
    return ok;
}

static Model *check_model(Sema *S, const Item *it) {
    Model *m = ARENA_NEW(S->a, Model);
    m->name = it->block.name;
    m->loc = it->block.name_loc;
    static const struct {
        const char *path;
        int flags;
        double min, max;
    } mf[MF_COUNT_] = {
        {"layers", F_INT | F_REQUIRED, 1, 100000},        {"hidden", F_INT | F_REQUIRED, 1, 1 << 20},
        {"intermediate", F_INT | F_REQUIRED, 1, 1 << 22}, {"heads", F_INT | F_REQUIRED, 1, 4096},
        {"kv_heads", F_INT, 1, 4096},                     {"head_dim", F_INT, 1, 65536},
        {"vocab", F_INT, 0, 1 << 24},
    };
    Slot *slots = ARENA_ARRAY(S->a, Slot, MF_COUNT_);
    for (int i = 0; i < MF_COUNT_; i++)
        slots[i] = (Slot){mf[i].path, UK_NONE, mf[i].flags, mf[i].min, mf[i].max, 0, NULL, SLOT_UNSEEN, 0, 0};
    Scope sc = {S, arena_printf(S->a, "model '%s'", m->name), slots, MF_COUNT_, model_derived, 0, 0};
    ModelCtx mc = {S, NULL, 0, 0};
    collect(&sc, it->block.body, NULL, model_extra, &mc);
    bool ok = true;
    for (int i = 0; i < MF_COUNT_; i++) {
        if ((slots[i].flags & F_REQUIRED) && !slots[i].st) {
            diag_error(S->d, m->loc, "model '%s' does not set '%s'", m->name, slots[i].path);
            slots[i].state = SLOT_BAD;
            ok = false;
        }
    }
    if (!eval_all(&sc))
        ok = false;
    int *dst[MF_COUNT_] = {&m->layers, &m->hidden, &m->intermediate, &m->heads, &m->kv_heads, &m->head_dim,
                           &m->vocab};
    for (int i = 0; i < MF_COUNT_; i++) {
        *dst[i] = (int)slots[i].value;
        m->f_locs[i] = slots[i].st ? slots[i].st->assign.value->loc : m->loc;
    }
    if (!ok)
        return NULL;
    if (m->kv_heads > m->heads) {
        diag_error(S->d, m->f_locs[MF_KV_HEADS], "kv_heads = %d exceeds heads = %d", m->kv_heads, m->heads);
        ok = false;
    } else if (m->heads % m->kv_heads != 0) {
        diag_error(S->d, m->f_locs[MF_KV_HEADS], "heads = %d is not a multiple of kv_heads = %d", m->heads,
                   m->kv_heads);
        ok = false;
    }
    if (!slots[MF_HEAD_DIM].st && m->hidden % m->heads != 0) {
        diag_error(S->d, m->f_locs[MF_HEADS],
                   "hidden = %d is not a multiple of heads = %d; set head_dim explicitly", m->hidden, m->heads);
        ok = false;
    }
    if (mc.nops == 0) {
        diag_error(S->d, m->loc, "model '%s' has no ops (write them as: op q = fc(x, out = hidden);)", m->name);
        ok = false;
    }
    if (ok && !check_ops(S, &sc, m, &mc))
        ok = false;
    if (ok && !check_kv_readers(S, m))
        ok = false;
    return ok ? m : NULL;
}

/* ---------------------------------------------------------------- workload */

static Workload *check_workload(Sema *S, const Item *it) {
    Workload *w = ARENA_NEW(S->a, Workload);
    w->name = it->block.name;
    w->loc = it->block.name_loc;
    Slot slots[4] = {
        {"batch", UK_NONE, F_INT | F_REQUIRED, 1, 1 << 20, 0, NULL, SLOT_UNSEEN, 0, 0},
        {"prompt", UK_TOKENS, F_INT | F_REQUIRED, 1, 1 << 24, 0, NULL, SLOT_UNSEEN, 0, 0},
        {"generate", UK_TOKENS, F_INT | F_REQUIRED, 1, 1 << 24, 0, NULL, SLOT_UNSEEN, 0, 0},
        {"max_seq", UK_TOKENS, F_INT, 1, 1 << 26, 2048, NULL, SLOT_UNSEEN, 0, 0},
    };
    Scope sc = {S, arena_printf(S->a, "workload '%s'", w->name), slots, 4, NULL, 0, 0};
    collect(&sc, it->block.body, NULL, NULL, NULL);
    bool ok = true;
    for (int i = 0; i < 4; i++)
        if ((slots[i].flags & F_REQUIRED) && !slots[i].st) {
            diag_error(S->d, w->loc, "workload '%s' does not set '%s'", w->name, slots[i].path);
            slots[i].state = SLOT_BAD;
            ok = false;
        }
    if (!eval_all(&sc))
        ok = false;
    int *dst[4] = {&w->batch, &w->prompt, &w->generate, &w->max_seq};
    for (int i = 0; i < 4; i++) {
        *dst[i] = (int)slots[i].value;
        w->f_locs[i] = slots[i].st ? slots[i].st->assign.value->loc : w->loc;
    }
    if (!ok)
        return NULL;
    if (w->prompt > w->max_seq) {
        diag_error(S->d, w->f_locs[1], "prompt = %d tokens exceeds max_seq = %d", w->prompt, w->max_seq);
        return NULL;
    }
    if ((long)w->prompt + w->generate > w->max_seq)
        diag_warning(S->d, w->f_locs[2],
                     "prompt + generate = %ld tokens exceeds max_seq = %d; the context stops growing at max_seq",
                     (long)w->prompt + w->generate, w->max_seq);
    return w;
}

/* ---------------------------------------------------------------- sparsity */

typedef struct EnumCtx {
    Sema *S;
    const char *path;       /* the enum field's path */
    const Stmt *st;         /* its assignment */
    const char *path2;      /* a second string-valued field (profile) */
    const Stmt *st2;
} EnumCtx;

static bool sparsity_extra(void *ctx, const char *path, const Stmt *st) {
    EnumCtx *ec = ctx;
    if (!path)
        return false;
    if (strcmp(path, ec->path) == 0 || strcmp(path, ec->path2) == 0) {
        const Stmt **slot = strcmp(path, ec->path) == 0 ? &ec->st : &ec->st2;
        if (*slot) {
            diag_error(ec->S->d, st->assign.path_loc, "'%s' is set twice", path);
            diag_note(ec->S->d, (*slot)->assign.path_loc, "first set here");
        } else {
            *slot = st;
        }
        return true;
    }
    return false;
}

static Sparsity *check_sparsity(Sema *S, const Item *it) {
    Sparsity *sp = ARENA_NEW(S->a, Sparsity);
    sp->name = it->block.name ? it->block.name : "default";
    sp->loc = it->block.name_loc;
    Slot slots[6] = {
        {"static.sink", UK_TOKENS, F_INT, 0, 1 << 24, 64, NULL, SLOT_UNSEEN, 0, 0},
        {"static.window", UK_TOKENS, F_INT, 1, 1 << 24, 256, NULL, SLOT_UNSEEN, 0, 0},
        {"dynamic.page", UK_TOKENS, F_INT | F_POW2, 1, 4096, 16, NULL, SLOT_UNSEEN, 0, 0},
        {"dynamic.budget", UK_TOKENS, F_INT, 1, 1 << 24, 1024, NULL, SLOT_UNSEEN, 0, 0},
        {"static_heads", UK_PERCENT, 0, 0, 1, 0.5, NULL, SLOT_UNSEEN, 0, 0},
        {"dense_layers", UK_NONE, F_INT, 0, 100000, 2, NULL, SLOT_UNSEEN, 0, 0},
    };
    Scope sc = {S, "sparsity", slots, 6, NULL, 0, 0};
    EnumCtx ec = {S, "mode", NULL, "profile", NULL};
    collect(&sc, it->block.body, NULL, sparsity_extra, &ec);
    bool ok = eval_all(&sc);
    sp->sink = (int)slots[0].value;
    sp->window = (int)slots[1].value;
    sp->page = (int)slots[2].value;
    sp->budget = (int)slots[3].value;
    sp->static_heads = slots[4].value;
    sp->dense_layers = (int)slots[5].value;
    sp->dense_layers_loc = slots[5].st ? slots[5].st->assign.value->loc : sp->loc;
    sp->mode = SP_HYBRID;
    if (ec.st) {
        int k = enum_value(S, ec.st->assign.value, "sparsity mode", sparse_mode_names, SP_COUNT_);
        if (k < 0)
            ok = false;
        else
            sp->mode = (SparseMode)k;
    }
    if (ec.st2) {
        const Expr *e = ec.st2->assign.value;
        if (e->kind == EX_STR && e->str[0]) {
            sp->profile = e->str;
            sp->profile_loc = e->loc;
        } else if (e->kind == EX_NAME && strcmp(e->name, "uniform") == 0) {
            sp->profile = NULL;
        } else {
            diag_error(S->d, e->loc, "'profile' is a CSV file name in quotes, or uniform");
            ok = false;
        }
    }
    if (ok && sp->budget < sp->page) {
        diag_error(S->d, slots[3].st ? slots[3].st->assign.value->loc : sp->loc,
                   "dynamic.budget = %d tokens is smaller than one page (%d tokens)", sp->budget, sp->page);
        ok = false;
    }
    if (ok && sp->budget % sp->page != 0)
        diag_warning(S->d, slots[3].st ? slots[3].st->assign.value->loc : sp->loc,
                     "dynamic.budget = %d tokens is not a whole number of %d-token pages; it is rounded down",
                     sp->budget, sp->page);
    return ok ? sp : NULL;
}

/* ---------------------------------------------------------------- explore */

typedef struct XpCtx {
    Sema *S;
    Explore *xp;
    const Stmt *seen_fields[HWF_COUNT_];
    const Stmt *dataflow, *method, *objective, *seed, *budget, *evals, *pe;
    bool ok;
} XpCtx;

static bool xp_value(Sema *S, HwField f, const Expr *e, double *out) {
    Scope none = {S, "an explore list", NULL, 0, NULL, 0, 0};
    const FieldDesc *fd = &hw_fields[f];
    if (fd->flags & F_ENUM_PREC) {
        if (e->kind == EX_NAME)
            for (int p = 0; p < PREC_COUNT_; p++)
                if (strcmp(e->name, precision_name((Precision)p)) == 0) {
                    *out = p;
                    return true;
                }
        diag_error(S->d, e->loc, "'precision' must be one of fp16, int8, int4, fp32");
        return false;
    }
    Val v;
    if (!eval(&none, e, &v) || !check_value(S, fd->path, fd->kind, fd->flags, fd->min, fd->max, v, e))
        return false;
    *out = v.v;
    return true;
}

static bool xp_extra(void *ctx, const char *path, const Stmt *st) {
    XpCtx *xc = ctx;
    Sema *S = xc->S;
    if (!path) {
        diag_error(S->d, st->loc, "ops belong in a model block, not in explore");
        xc->ok = false;
        return true;
    }
    const Stmt **special = NULL;
    if (strcmp(path, "dataflow") == 0) special = &xc->dataflow;
    else if (strcmp(path, "method") == 0) special = &xc->method;
    else if (strcmp(path, "objective") == 0) special = &xc->objective;
    else if (strcmp(path, "seed") == 0) special = &xc->seed;
    else if (strcmp(path, "budget") == 0) special = &xc->budget;
    else if (strcmp(path, "evaluations") == 0) special = &xc->evals;
    else if (strcmp(path, "pe") == 0) special = &xc->pe;
    if (special) {
        if (*special) {
            diag_error(S->d, st->assign.path_loc, "'%s' is set twice", path);
            diag_note(S->d, (*special)->assign.path_loc, "first set here");
            xc->ok = false;
        } else {
            *special = st;
        }
        return true;
    }
    int f;
    for (f = 0; f < HWF_COUNT_; f++)
        if (strcmp(hw_fields[f].path, path) == 0)
            break;
    if (f == HWF_COUNT_) {
        const char *names[HWF_COUNT_ + 8];
        int k = 0;
        for (int i = 0; i < HWF_COUNT_; i++)
            names[k++] = hw_fields[i].path;
        static const char *const extra[] = {"dataflow", "method", "objective", "seed", "budget", "evaluations", "pe"};
        for (int i = 0; i < 7; i++)
            names[k++] = extra[i];
        names[k] = NULL;
        const char *sug = closest_word(path, names);
        if (sug)
            diag_error(S->d, st->assign.path_loc, "unknown field '%s' in explore; did you mean '%s'?", path, sug);
        else
            diag_error(S->d, st->assign.path_loc, "unknown field '%s' in explore (explore a hardware field, e.g. nmp.channels)", path);
        xc->ok = false;
        return true;
    }
    if (xc->seen_fields[f]) {
        diag_error(S->d, st->assign.path_loc, "'%s' is set twice", path);
        diag_note(S->d, xc->seen_fields[f]->assign.path_loc, "first set here");
        xc->ok = false;
        return true;
    }
    xc->seen_fields[f] = st;
    const Expr *e = st->assign.value;
    ExploreAxis ax = {(HwField)f, NULL, 0, st->assign.path_loc};
    int n = e->kind == EX_LIST ? e->list.count : 1;
    if (n == 0) {
        diag_error(S->d, e->loc, "the list of candidates for '%s' is empty", path);
        xc->ok = false;
        return true;
    }
    ax.values = ARENA_ARRAY(S->a, double, n);
    for (int i = 0; i < n; i++) {
        const Expr *item = e->kind == EX_LIST ? e->list.items[i] : e;
        double v;
        if (!xp_value(S, (HwField)f, item, &v)) {
            xc->ok = false;
            return true;
        }
        bool dup = false;
        for (int j = 0; j < ax.nvalues; j++)
            dup |= ax.values[j] == v;
        if (dup) {
            diag_warning(S->d, item->loc, "duplicate candidate for '%s' ignored", path);
            continue;
        }
        ax.values[ax.nvalues++] = v;
    }
    Explore *xp = xc->xp;
    int cap = xp->naxes;
    xp->axes = arena_realloc(S->a, xp->axes, sizeof(ExploreAxis) * (size_t)cap, sizeof(ExploreAxis) * (size_t)(cap + 1));
    xp->axes[xp->naxes++] = ax;
    return true;
}

static Explore *check_explore(Sema *S, const Item *it) {
    Explore *xp = ARENA_NEW(S->a, Explore);
    xp->name = it->block.name ? it->block.name : "default";
    xp->loc = it->block.name_loc;
    xp->seed = 1;
    XpCtx xc = {S, xp, {0}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, true};
    Scope sc = {S, "explore", NULL, 0, NULL, 0, 0};
    collect(&sc, it->block.body, NULL, xp_extra, &xc);
    Scope none = {S, "explore", NULL, 0, NULL, 0, 0};
    if (xc.dataflow) {
        int k = enum_value(S, xc.dataflow->assign.value, "dataflow", dataflow_mode_names, DF_COUNT_);
        if (k < 0) xc.ok = false; else xp->dataflow = (DataflowMode)k;
    }
    if (xc.method) {
        const Expr *mv = xc.method->assign.value;
        bool asks_ga = (mv->kind == EX_NAME && strcmp(mv->name, "ga") == 0) ||
                       (mv->kind == EX_STR && strcmp(mv->str, "ga") == 0);
        /* only exhaustive is offered; ga is named so a user asking for it gets a clear answer */
        int k = asks_ga ? SM_GA : enum_value(S, mv, "search method", search_method_names, 1);
        if (k == SM_GA) {
            /* named so a user asking for it gets a clear answer, not a silent exhaustive search */
            diag_error(S->d, xc.method->assign.value->loc,
                       "method = ga is not available: h2c searches every design exactly (method = exhaustive)");
            k = -1;
        }
        if (k < 0) xc.ok = false; else xp->method = (SearchMethod)k;
    }
    if (xc.objective) {
        int k = enum_value(S, xc.objective->assign.value, "objective", objective_names, OBJ_COUNT_);
        if (k < 0) xc.ok = false; else xp->objective = (Objective)k;
    }
    if (xc.seed) {
        Val v;
        if (!eval(&none, xc.seed->assign.value, &v) ||
            !check_value(S, "seed", UK_NONE, F_INT, 0, 9007199254740992.0, v, xc.seed->assign.value))
            xc.ok = false;
        else
            xp->seed = (unsigned long long)v.v;
    }
    if (xc.budget) {
        Val v;
        if (!eval(&none, xc.budget->assign.value, &v) ||
            !check_value(S, "budget", UK_TIME, 0, 0, 1e7, v, xc.budget->assign.value))
            xc.ok = false;
        else
            xp->budget_seconds = v.v;
    }
    if (xc.evals) {
        Val v;
        if (!eval(&none, xc.evals->assign.value, &v) ||
            !check_value(S, "evaluations", UK_NONE, F_INT, 1, 1e15, v, xc.evals->assign.value))
            xc.ok = false;
        else
            xp->budget_evals = (long long)v.v;
    }
    if (xc.pe) {
        const Expr *e = xc.pe->assign.value;
        int n = e->kind == EX_LIST ? e->list.count : 1;
        if (n == 0) {
            diag_error(S->d, e->loc, "the list of pe candidates is empty");
            xc.ok = false;
        }
        xp->pe_tuples = arena_alloc(S->a, sizeof(double[3]) * (size_t)(n ? n : 1));
        xp->pe_loc = xc.pe->assign.path_loc;
        for (int i = 0; i < n && xc.ok; i++) {
            const Expr *t = e->kind == EX_LIST ? e->list.items[i] : e;
            if (t->kind != EX_TUPLE || t->list.count != 3) {
                diag_error(S->d, t->loc, "'pe' candidates are (fpus, frequency, bandwidth) tuples, e.g. (8, 600 MHz, 25.6 GB/s)");
                xc.ok = false;
                break;
            }
            double v[3];
            HwField fs[3] = {HWF_pe_fpus, HWF_pe_frequency, HWF_pe_bandwidth};
            for (int j = 0; j < 3; j++)
                if (!xp_value(S, fs[j], t->list.items[j], &v[j]))
                    xc.ok = false;
            if (!xc.ok)
                break;
            bool dup = false;
            for (int j = 0; j < xp->npe_tuples; j++)
                dup |= xp->pe_tuples[j][0] == v[0] && xp->pe_tuples[j][1] == v[1] && xp->pe_tuples[j][2] == v[2];
            if (dup) {
                diag_warning(S->d, t->loc, "duplicate pe candidate ignored");
                continue;
            }
            memcpy(xp->pe_tuples[xp->npe_tuples++], v, sizeof v);
        }
        for (int i = 0; i < xp->naxes && xc.ok; i++) {
            HwField f = xp->axes[i].field;
            if (f == HWF_pe_fpus || f == HWF_pe_frequency || f == HWF_pe_bandwidth) {
                diag_error(S->d, xp->axes[i].loc, "'%s' is also set by 'pe' tuples; use one or the other",
                           hw_fields[f].path);
                xc.ok = false;
            }
        }
    }
    return xc.ok ? xp : NULL;
}

/* ---------------------------------------------------------------- selection and capacity */

static void fmt_bytes(char *buf, size_t n, double b) {
    if (b >= 1024.0 * 1024 * 1024)
        snprintf(buf, n, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    else if (b >= 1024.0 * 1024)
        snprintf(buf, n, "%.2f MiB", b / (1024.0 * 1024));
    else
        snprintf(buf, n, "%.0f B", b);
}

static void check_capacity(Sema *S, const Config *c) {
    const Hardware *hw = c->hw;
    double es = precision_bytes((Precision)hw->precision);
    double weights = model_weight_bytes(c->model, es);
    double kv = model_kv_bytes(c->model, c->workload, es);
    double cap = hw->channels * hw->banks_per_channel * hw->bank_capacity;
    if (weights + kv > cap) {
        char w[32], k[32], t[32];
        fmt_bytes(w, sizeof w, weights);
        fmt_bytes(k, sizeof k, kv);
        fmt_bytes(t, sizeof t, cap);
        diag_error(S->d, c->model->loc,
                   "model '%s' does not fit: %s of weights + %s of KV cache (batch %d, max_seq %d) > %s in hardware '%s'",
                   c->model->name, w, k, c->workload->batch, c->workload->max_seq, t, hw->name);
        if (c->workload->loc.file)
            diag_note(S->d, c->workload->loc, "workload '%s' is defined here", c->workload->name);
        if (hw->loc.file)
            diag_note(S->d, hw->loc, "hardware '%s' is defined here", hw->name);
    }
}

typedef struct Named {
    const char *name;
    Loc loc;
    void *p;
} Named;

/* Picks one of n candidates by CLI name, `use` name, or uniqueness. *err set when the choice
 * cannot be made. */
static void *pick(Sema *S, const char *kind, Named *c, int n, const char *cli, const Item *use, bool need,
                  bool *err) {
    const char *want = cli ? cli : use ? use->use.name : NULL;
    if (want) {
        for (int i = 0; i < n; i++)
            if (c[i].name && strcmp(c[i].name, want) == 0)
                return c[i].p;
        const char **names = arena_alloc(S->a, sizeof(char *) * (size_t)(n + 1));
        for (int i = 0; i < n; i++)
            names[i] = c[i].name ? c[i].name : "";
        const char *sug = closest_word(want, names);
        Loc at = use && !cli ? use->use.name_loc : NOLOC;
        if (sug)
            diag_error(S->d, at, "no %s named '%s'; did you mean '%s'?", kind, want, sug);
        else
            diag_error(S->d, at, "no %s named '%s'", kind, want);
        *err = true;
        return NULL;
    }
    if (n == 1)
        return c[0].p;
    if (n > 1 && need) {
        char all[256] = "";
        for (int i = 0; i < n; i++) {
            size_t l = strlen(all);
            snprintf(all + l, sizeof all - l, "%s%s", i ? ", " : "", c[i].name ? c[i].name : "(unnamed)");
        }
        if (strcmp(kind, "sparsity") == 0 || strcmp(kind, "explore") == 0)
            diag_error(S->d, c[1].loc, "%d %s blocks (%s): choose one with `use %s NAME;`", n, kind, all, kind);
        else
            diag_error(S->d, c[1].loc, "%d %s blocks (%s): choose one with `use %s NAME;` or --%s NAME", n, kind, all,
                       kind, kind);
        *err = true;
    }
    return NULL;
}

Config *fe_check(Session *s, AstFile *root, const Selection *sel) {
    Sema S = {s, s->diag, &s->arena, NULL};
    jmp_buf jb;
    jmp_buf *saved = s->arena.oom;
    s->arena.oom = &jb;
    if (setjmp(jb)) {
        s->arena.oom = saved;
        diag_error(s->diag, NOLOC, "out of memory");
        return NULL;
    }
    int errors0 = s->diag->errors;
    Config *c = ARENA_NEW(S.a, Config);
    S.cfg = c;
    Named *names[BK_COUNT_] = {0};
    int nnames[BK_COUNT_] = {0}, caps[BK_COUNT_] = {0};
    const Item *uses[6] = {0};
    static const char *const use_kinds[6] = {"hardware", "model", "workload", "sparsity", "explore", "cost-model"};
    int nblocks = 0;
    (void)root;
    for (int fi = 0; fi < s->nfiles && !s->diag->stop; fi++) {
        for (const Item *it = s->files[fi]->items; it && !s->diag->stop; it = it->next) {
            if (it->kind == IT_USE) {
                int k;
                for (k = 0; k < 6; k++)
                    if (strcmp(it->use.what, use_kinds[k]) == 0)
                        break;
                if (k == 6) {
                    diag_error(S.d, it->use.what_loc,
                               "cannot use '%s' (use hardware, model, workload, sparsity, explore or cost-model)",
                               it->use.what);
                    continue;
                }
                /* the file being checked decides: its `use` overrides those of the files it imports;
                   two imported files that disagree are a conflict */
                bool from_root = fi == 0, first_from_root = uses[k] && uses[k]->loc.file == s->files[0]->src;
                if (uses[k] && strcmp(uses[k]->use.name, it->use.name) != 0 && !first_from_root && !from_root) {
                    diag_error(S.d, it->loc, "conflicting `use %s`: '%s' and '%s'", it->use.what, uses[k]->use.name,
                               it->use.name);
                    diag_note(S.d, uses[k]->loc, "first chosen here");
                    continue;
                }
                if (uses[k] && strcmp(uses[k]->use.name, it->use.name) != 0 && from_root && first_from_root) {
                    diag_error(S.d, it->loc, "conflicting `use %s`: '%s' and '%s'", it->use.what, uses[k]->use.name,
                               it->use.name);
                    diag_note(S.d, uses[k]->loc, "first chosen here");
                    continue;
                }
                if (!uses[k] || (from_root && !first_from_root))
                    uses[k] = it;
                continue;
            }
            if (it->kind != IT_BLOCK)
                continue;
            nblocks++;
            BlockKind bk = it->block.bk;
            const char *nm = it->block.name;
            if (!nm && (bk == BK_HARDWARE || bk == BK_MODEL || bk == BK_WORKLOAD)) {
                diag_error(S.d, it->loc, "a %s block needs a name", block_kind_name(bk));
                continue;
            }
            bool dup = false;
            for (int j = 0; j < nnames[bk]; j++) {
                if ((nm == NULL) == (names[bk][j].name == NULL) && (!nm || strcmp(nm, names[bk][j].name) == 0)) {
                    if (nm)
                        diag_error(S.d, it->block.name_loc, "%s '%s' is defined twice", block_kind_name(bk), nm);
                    else
                        diag_error(S.d, it->loc, "more than one unnamed %s block", block_kind_name(bk));
                    diag_note(S.d, names[bk][j].loc, "first defined here");
                    dup = true;
                }
            }
            if (dup)
                continue;
            void *p = NULL;
            switch (bk) {
            case BK_HARDWARE: p = check_hardware(&S, it); break;
            case BK_MODEL: p = check_model(&S, it); break;
            case BK_WORKLOAD: p = check_workload(&S, it); break;
            case BK_SPARSITY: p = check_sparsity(&S, it); break;
            case BK_EXPLORE: p = check_explore(&S, it); break;
            default: h2c_unreachable("block kind");
            }
            Named n = {nm, it->block.name_loc, p};
            VEC_PUSH(S.a, names[bk], nnames[bk], caps[bk], n);
        }
    }
    if (nblocks == 0 && s->diag->errors == errors0) {
        Loc at = {root ? root->src : NULL, 0, 0, 0};
        diag_error(S.d, at, "nothing to check: no hardware, model, workload, sparsity or explore block");
    }
    if (s->diag->errors != errors0 || s->diag->stop) {
        s->arena.oom = saved;
        return NULL;
    }
    /* the Config's arrays */
    c->nhardware = nnames[BK_HARDWARE];
    c->hardware = ARENA_ARRAY(S.a, Hardware *, c->nhardware + 1);
    for (int i = 0; i < c->nhardware; i++) c->hardware[i] = names[BK_HARDWARE][i].p;
    c->nmodels = nnames[BK_MODEL];
    c->models = ARENA_ARRAY(S.a, Model *, c->nmodels + 1);
    for (int i = 0; i < c->nmodels; i++) c->models[i] = names[BK_MODEL][i].p;
    c->nworkloads = nnames[BK_WORKLOAD];
    c->workloads = ARENA_ARRAY(S.a, Workload *, c->nworkloads + 1);
    for (int i = 0; i < c->nworkloads; i++) c->workloads[i] = names[BK_WORKLOAD][i].p;
    c->nsparsity = nnames[BK_SPARSITY];
    c->sparsity = ARENA_ARRAY(S.a, Sparsity *, c->nsparsity + 1);
    for (int i = 0; i < c->nsparsity; i++) c->sparsity[i] = names[BK_SPARSITY][i].p;
    c->nexplore = nnames[BK_EXPLORE];
    c->explore = ARENA_ARRAY(S.a, Explore *, c->nexplore + 1);
    for (int i = 0; i < c->nexplore; i++) c->explore[i] = names[BK_EXPLORE][i].p;

    static const Selection no_selection;
    const Selection *pk = sel ? sel : &no_selection;
    bool err = false;
    c->model = pick(&S, "model", names[BK_MODEL], nnames[BK_MODEL], pk->model, uses[1], true, &err);
    bool need = c->model != NULL;
    c->hw = pick(&S, "hardware", names[BK_HARDWARE], nnames[BK_HARDWARE], pk->hardware, uses[0], need, &err);
    c->workload = pick(&S, "workload", names[BK_WORKLOAD], nnames[BK_WORKLOAD], pk->workload, uses[2], need, &err);
    c->sparse = pick(&S, "sparsity", names[BK_SPARSITY], nnames[BK_SPARSITY], NULL, uses[3], need, &err);
    c->xp = pick(&S, "explore", names[BK_EXPLORE], nnames[BK_EXPLORE], NULL, uses[4], need, &err);
    c->cost_model = CM_H2C;
    const char *cm = pk->cost_model ? pk->cost_model : uses[5] ? uses[5]->use.name : NULL;
    if (cm) {
        int k;
        for (k = 0; k < CM_COUNT_; k++)
            if (strcmp(cm, cost_model_names[k]) == 0)
                break;
        if (k == CM_COUNT_) {
            diag_error(S.d, pk->cost_model || !uses[5] ? NOLOC : uses[5]->use.name_loc,
                       "unknown cost model '%s' (known: h2c, h2llm-artifact)", cm);
            err = true;
        } else {
            c->cost_model = (CostModelKind)k;
            c->cost_model_loc = uses[5] && !pk->cost_model ? uses[5]->use.name_loc : NOLOC;
        }
    }
    if (!c->hw) {
        Hardware *hw = ARENA_NEW(S.a, Hardware);
        hardware_defaults(hw);
        c->hw = hw;
    }
    if (!c->workload) {
        Workload *w = ARENA_NEW(S.a, Workload);
        workload_defaults(w);
        c->workload = w;
    }
    if (pk->batch > 0) {
        /* --batch N: the chosen workload at another batch size (the artifact sweeps 1, 4, 16) */
        Workload *w = ARENA_NEW(S.a, Workload);
        *w = *c->workload;
        w->batch = pk->batch;
        c->workload = w;
    }
    if (!err && c->model && c->sparse && c->sparse->dense_layers > c->model->layers)
        diag_error(S.d, c->sparse->dense_layers_loc, "dense_layers = %d exceeds the model's %d layers", c->sparse->dense_layers,
                   c->model->layers);
    if (!err && c->model)
        check_capacity(&S, c);
    s->arena.oom = saved;
    return s->diag->errors == errors0 ? c : NULL;
}
