/* sema_workload.c: checks `workload` blocks (batch, prompt, generated tokens, max_seq) and
 * `sparsity` blocks (mode, static sink/window, dynamic pages/budget, static-head share, profile). */
#include "sema.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- enum fields */

typedef struct EnumCtx {
    Sema *S;
    const char *path;       /* the enum field's path */
    const Stmt *st;         /* its assignment */
    const char *path2;      /* a second string-valued field (profile) */
    const Stmt *st2;
} EnumCtx;

static bool enum_extra(void *ctx, const char *path, const Stmt *st) {
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

/* ---------------------------------------------------------------- workload */

Workload *sema_workload(Sema *S, const Item *it) {
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
    EnumCtx ec = {S, "attention", NULL, "", NULL};
    sema_collect(&sc, it->block.body, NULL, enum_extra, &ec);
    bool ok = true;
    w->attention = -1;
    if (ec.st) {
        int k = sema_enum_value(S, ec.st->assign.value, "attention form", attn_form_names, ATTN_COUNT_);
        if (k < 0)
            ok = false;
        w->attention = k;
        w->attention_loc = ec.st->assign.value->loc;
    }
    for (int i = 0; i < 4; i++)
        if ((slots[i].flags & F_REQUIRED) && !slots[i].st) {
            diag_error(S->d, w->loc, "workload '%s' does not set '%s'", w->name, slots[i].path);
            slots[i].state = SLOT_BAD;
            ok = false;
        }
    if (!sema_eval_all(&sc))
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

Sparsity *sema_sparsity(Sema *S, const Item *it) {
    Sparsity *sp = ARENA_NEW(S->a, Sparsity);
    sp->name = it->block.name ? it->block.name : "default";
    sp->loc = it->block.name_loc;
    Sparsity def;
    sparsity_defaults(&def);
    Slot slots[6] = {
        {"static.sink", UK_TOKENS, F_INT, 0, 1 << 24, def.sink, NULL, SLOT_UNSEEN, 0, 0},
        {"static.window", UK_TOKENS, F_INT, 1, 1 << 24, def.window, NULL, SLOT_UNSEEN, 0, 0},
        {"dynamic.page", UK_TOKENS, F_INT | F_POW2, 1, 4096, def.page, NULL, SLOT_UNSEEN, 0, 0},
        {"dynamic.budget", UK_TOKENS, F_INT, 1, 1 << 24, def.budget, NULL, SLOT_UNSEEN, 0, 0},
        {"static_heads", UK_PERCENT, 0, 0, 1, def.static_heads, NULL, SLOT_UNSEEN, 0, 0},
        {"dense_layers", UK_NONE, F_INT, 0, 100000, def.dense_layers, NULL, SLOT_UNSEEN, 0, 0},
    };
    Scope sc = {S, "sparsity", slots, 6, NULL, 0, 0};
    EnumCtx ec = {S, "mode", NULL, "profile", NULL};
    sema_collect(&sc, it->block.body, NULL, enum_extra, &ec);
    bool ok = sema_eval_all(&sc);
    sp->sink = (int)slots[0].value;
    sp->window = (int)slots[1].value;
    sp->page = (int)slots[2].value;
    sp->budget = (int)slots[3].value;
    sp->static_heads = slots[4].value;
    sp->dense_layers = (int)slots[5].value;
    sp->dense_layers_loc = slots[5].st ? slots[5].st->assign.value->loc : sp->loc;
    sp->mode = SP_HYBRID;
    if (ec.st) {
        int k = sema_enum_value(S, ec.st->assign.value, "sparsity mode", sparse_mode_names, SP_COUNT_);
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
                   "dynamic.budget = %d token%s is smaller than one page (%d tokens)", sp->budget, plural(sp->budget),
                   sp->page);
        ok = false;
    }
    if (ok && sp->budget % sp->page != 0) {
        /* what the block and the IR carry from here on: whole pages */
        int rounded = sp->budget / sp->page * sp->page;
        diag_warning(S->d, slots[3].st ? slots[3].st->assign.value->loc : sp->loc,
                     "dynamic.budget = %d tokens is not a whole number of %d-token pages; it is rounded down to %d "
                     "tokens", sp->budget, sp->page, rounded);
        sp->budget = rounded;
    }
    return ok ? sp : NULL;
}

