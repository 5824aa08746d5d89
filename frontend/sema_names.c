/* sema_names.c: the machinery every block check uses: field slots and scopes (names within a
 * block, defaults, derived fields, dependency cycles), evaluating expressions with units, checking a
 * value against its field's kind and range, collecting a block's assignments, and enum names. */
#include "sema.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- field slots */

int sema_find_slot(const Scope *sc, const char *path) {
    for (int i = 0; i < sc->nslots; i++)
        if (strcmp(sc->slots[i].path, path) == 0)
            return i;
    return -1;
}

const char **sema_slot_names(Scope *sc) {
    const char **names = arena_alloc(sc->S->a, sizeof(char *) * (size_t)(sc->nslots + 1));
    for (int i = 0; i < sc->nslots; i++)
        names[i] = sc->slots[i].path;
    return names;
}


/* ---------------------------------------------------------------- expressions */



static bool eval_num_lit(Sema *S, const Expr *e, Val *out) {
    const Unit *u = NULL;
    if (e->num.unit) {
        u = unit_lookup(e->num.unit);
        const char *x = e->num.unit;
        if (!u && (!strcmp(x, "k") || !strcmp(x, "K") || !strcmp(x, "M") || !strcmp(x, "G"))) {
            /* 128k: a multiplier, not a unit */
            double mult = x[0] == 'M' ? 1048576.0 : x[0] == 'G' ? 1073741824.0 : 1024.0;
            double v = strtod(e->num.text, NULL);
            diag_error(S->d, e->num.unit_loc, "a number takes no '%s' suffix: write %.17g (%s x %.0f) or %.17g", x,
                       v * mult, e->num.text, mult, v * (mult == 1024.0 ? 1e3 : mult == 1048576.0 ? 1e6 : 1e9));
            return false;
        }
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

bool sema_eval(Scope *sc, const Expr *e, Val *out) {
    Sema *S = sc->S;
    switch (e->kind) {
    case EX_NUM:
        return eval_num_lit(S, e, out);
    case EX_NAME: {
        int i = sema_find_slot(sc, e->name);
        const char *dash = strchr(e->name, '-');
        if (i < 0 && dash) {
            /* channels-2: one identifier, since a '-' between name characters is part of the name */
            char *head = arena_strndup(S->a, e->name, (size_t)(dash - e->name));
            if (sema_find_slot(sc, head) >= 0) {
                diag_error(S->d, e->loc, "unknown name '%s' in %s: a '-' between name characters is part of the name; "
                           "to subtract, write '%s - %s'", e->name, sc->what, head, dash + 1);
                return false;
            }
        }
        if (i < 0) {
            const char *sug = closest_word(e->name, sema_slot_names(sc));
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
        if (!sema_slot_value(sc, i, &out->v, e->loc))
            return false;
        out->k = sc->slots[i].kind == UK_PERCENT ? UK_NONE : sc->slots[i].kind;
        return true;
    }
    case EX_NEG:
        if (!sema_eval(sc, e->bin.lhs, out))
            return false;
        out->v = -out->v;
        return true;
    case EX_BIN: {
        Val a, b;
        bool oka = sema_eval(sc, e->bin.lhs, &a);
        bool okb = sema_eval(sc, e->bin.rhs, &b);
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
bool sema_check_value(Sema *S, const char *path, UnitKind want, int flags, double min, double max, Val v,
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
            /* 256 MB is 256 x 10^6 bytes; 256 MiB (2^20) is what a power-of-two field usually means */
            static const char *const dec[] = {"KB", "MB", "GB", "TB"}, *const bin[] = {"KiB", "MiB", "GiB", "TiB"};
            for (int k = 0; k < 4 && e->kind == EX_NUM && e->num.unit; k++) {
                double b;
                if (strcmp(e->num.unit, dec[k]) == 0 && unit_apply(e->num.text, unit_lookup(bin[k]), &b) &&
                    frexp(b, &ex) == 0.5) {
                    diag_error(S->d, e->loc, "'%s' = %s must be a power of two; did you mean %s %s? (%s is 10^%d "
                               "bytes, %s is 2^%d)", path, val, e->num.text, bin[k], dec[k], 3 * (k + 1), bin[k],
                               10 * (k + 1));
                    return false;
                }
            }
            diag_error(S->d, e->loc, "'%s' = %s must be a power of two", path, val);
            return false;
        }
    }
    return true;
}

/* The value of slot i: its assignment evaluated (once), or its default. */
bool sema_slot_value(Scope *sc, int i, double *out, Loc use) {
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
            ok = sema_eval(sc, e, &v) &&
                 sema_check_value(sc->S, sl->path, sl->kind, sl->flags, sl->min, sl->max, v, e);
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

void sema_collect(Scope *sc, const Stmt *body, const char *prefix, ExtraFn extra, void *ctx) {
    Sema *S = sc->S;
    for (const Stmt *st = body; st; st = st->next) {
        if (S->d->stop)
            return;
        switch (st->kind) {
        case ST_ASSIGN: {
            const char *path = prefix ? arena_printf(S->a, "%s.%s", prefix, st->assign.path) : st->assign.path;
            if (extra && extra(ctx, path, st))
                break;
            int i = sema_find_slot(sc, path);
            if (i < 0) {
                const char *sug = closest_word(path, sema_slot_names(sc));
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
            sema_collect(sc, st->block.body, path, extra, ctx);
            break;
        }
        case ST_OP:
            if (prefix && strncmp(sc->what, "model", 5) == 0) {
                /* a model's prologue and epilogue are taken out before collecting (sema_model.c) */
                diag_error(S->d, st->loc, "ops belong at the top of a model block or in its prologue or epilogue, "
                           "not in '%s'", prefix);
                break;
            }
            if (extra && extra(ctx, NULL, st))
                break;
            diag_error(S->d, st->loc, "ops belong in a model block, not in %s", sc->what);
            break;
        }
    }
}

bool sema_eval_all(Scope *sc) {
    bool ok = true;
    double v;
    /* the fields set in the text first, in its order, so that errors come out in that order */
    for (int k = 1; k <= sc->nset; k++)
        for (int i = 0; i < sc->nslots; i++)
            if (sc->slots[i].seq == k && !sema_slot_value(sc, i, &v, sc->slots[i].st->loc))
                ok = false;
    for (int i = 0; i < sc->nslots; i++)
        if (!sc->slots[i].st && !sema_slot_value(sc, i, &v, NOLOC))
            ok = false;
    return ok;
}

/* An identifier value from a fixed list (enums written bare: data-centric, silu, ...). */
int sema_enum_value(Sema *S, const Expr *e, const char *what, const char *const *names, int n) {
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

