/* sema.h: what the semantic checks share (private to frontend/): the checker's state, field slots
 * and scopes, values with units, and one entry point per kind of block. sema_names.c resolves names
 * and evaluates expressions; sema_hw.c, sema_model.c, sema_workload.c and sema_explore.c check one
 * kind of block each; sema.c picks the selection, checks capacity and runs them all (fe_check). */
#ifndef H2C_SEMA_H
#define H2C_SEMA_H

#include "frontend.h"

typedef struct Sema {
    Session *s;
    Diag *d;
    Arena *a;
    Config *cfg;
} Sema;

/* ---------------------------------------------------------------- sema_names.c: fields, scopes, expressions */

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

typedef struct Val {
    double v;
    UnitKind k;
} Val;

/* Called for each assignment whose path is not a slot; returns true if it handled it. */
typedef bool (*ExtraFn)(void *ctx, const char *path, const Stmt *st);


int sema_find_slot(const Scope *sc, const char *path);
const char **sema_slot_names(Scope *sc);
bool sema_slot_value(Scope *sc, int i, double *out, Loc use);
bool sema_eval(Scope *sc, const Expr *e, Val *out);
bool sema_check_value(Sema *S, const char *path, UnitKind want, int flags, double min, double max, Val v, const Expr *e);
void sema_collect(Scope *sc, const Stmt *body, const char *prefix, ExtraFn extra, void *ctx);
bool sema_eval_all(Scope *sc);
int sema_enum_value(Sema *S, const Expr *e, const char *what, const char *const *names, int n);

/* ---------------------------------------------------------------- one checker per kind of block */

Hardware *sema_hardware(Sema *S, const Item *it);
Model *sema_model(Sema *S, const Item *it);
Workload *sema_workload(Sema *S, const Item *it);
Sparsity *sema_sparsity(Sema *S, const Item *it);
Explore *sema_explore(Sema *S, const Item *it);

#endif
