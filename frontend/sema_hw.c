/* sema_hw.c: checks a `hardware` block against the field schema (spec/schema.c): units, ranges,
 * powers of two, the energy table with its sources, and the device's consistency. */
#include "sema.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
            if (!sema_eval(&none, t->list.items[0], &f) || !sema_eval(&none, t->list.items[1], &p) ||
                !sema_check_value(S, "pe.mac frequency", UK_FREQ, 0, 1e6, 1e11, f, t->list.items[0]) ||
                !sema_check_value(S, "pe.mac", UK_ENERGY_MAC, 0, 0, 1e6, p, t->list.items[1])) {
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
    if (!sema_eval(&none, e, &v) || !sema_check_value(S, name, energy_kinds[i], 0, 0, 1e6, v, e)) {
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

Hardware *sema_hardware(Sema *S, const Item *it) {
    Hardware *hw = ARENA_NEW(S->a, Hardware);
    hardware_defaults_named(hw, it->block.name);
    hw->loc = it->block.name_loc;
    Scope sc = {S, arena_printf(S->a, "hardware '%s'", it->block.name), hw_slots(S), HWF_COUNT_, NULL, 0, 0};
    HwCtx hc = {S, hw, {0}, {{0}}, NULL, 0, 0, true};
    sema_collect(&sc, it->block.body, NULL, hw_extra, &hc);
    bool ok = sema_eval_all(&sc);
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

