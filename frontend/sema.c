/* sema.c: checks the parsed files and builds the Config: runs the block checks (sema_*.c), picks
 * the selection (`use`, the command line, or the only block of its kind) and checks that weights +
 * KV fit the device. Reports every error it finds in one run. Pipeline: AST -> Config -> ir/lower. */
#include "sema.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const op_kind_names[OPK_COUNT_] = {
#define X(id, name, doc) name,
    OP_KINDS(X)
#undef X
};

/* ---------------------------------------------------------------- selection and capacity */

static void fmt_bytes(char *buf, size_t n, double b) {
    if (b >= 1024.0 * 1024 * 1024)
        snprintf(buf, n, "%.2f GiB", b / (1024.0 * 1024 * 1024));
    else if (b >= 1024.0 * 1024)
        snprintf(buf, n, "%.2f MiB", b / (1024.0 * 1024));
    else
        snprintf(buf, n, "%.0f B", b);
}

/* A model or workload sweep axis: each name must be a block of its kind (of the file or its imports);
 * values[k] becomes the block's index, and a workload axis keeps a copy of each block (at --batch). */
static void resolve_sweep_names(Sema *S, Config *c, SweepAxis *ax, int batch) {
    bool models = ax->field == SW_MODEL;
    int n = models ? c->nmodels : c->nworkloads;
    const char **names = ARENA_ARRAY(S->a, const char *, n + 1);
    for (int j = 0; j < n; j++)
        names[j] = models ? c->models[j]->name : c->workloads[j]->name;
    names[n] = NULL;
    if (!models)
        ax->workloads = ARENA_ARRAY(S->a, Workload, ax->nvalues);
    for (int k = 0; k < ax->nvalues; k++) {
        int j;
        for (j = 0; j < n && strcmp(names[j], ax->names[k]) != 0; j++) {
        }
        if (j == n) {
            const char *sug = closest_word(ax->names[k], names);
            if (sug)
                diag_error(S->d, ax->value_locs[k], "no %s block named '%s'; did you mean '%s'?",
                           models ? "model" : "workload", ax->names[k], sug);
            else
                diag_error(S->d, ax->value_locs[k], "no %s block named '%s' (define it, or import the file that does)",
                           models ? "model" : "workload", ax->names[k]);
            continue;
        }
        ax->values[k] = j;
        if (models && c->sparse && c->sparse->dense_layers > c->models[j]->layers)
            diag_error(S->d, ax->value_locs[k], "model '%s' has %d layer%s, fewer than the sparsity block's "
                       "dense_layers = %d", ax->names[k], c->models[j]->layers, plural(c->models[j]->layers),
                       c->sparse->dense_layers);
        if (!models) {
            ax->workloads[k] = *c->workloads[j];
            if (batch > 0)
                ax->workloads[k].batch = batch;
        }
    }
}

/* The explore block's sweep axes against the selection: model and workload names must be blocks; a
 * sparsity axis needs a sparsity block (each point takes its other settings from it), and a budget is
 * whole pages of it (rounded down, as the block's own). (A context of at most 2^24 tokens plus at most
 * 2^24 generated always fits max_seq.) */
static void check_sweeps(Sema *S, Config *c, int batch) {
    for (int i = 0; i < c->xp->nsweeps; i++) {
        SweepAxis *ax = &c->xp->sweeps[i];
        const char *path = sweep_fields[ax->field].path;
        if (ax->names) {
            resolve_sweep_names(S, c, ax, batch);
            continue;
        }
        if (!sweep_is_work(ax->field) && !c->sparse) {
            diag_error(S->d, ax->loc, "sweeping '%s' needs a sparsity block: each point takes its other settings "
                       "from the selected one", path);
            continue;
        }
        int kept = 0;
        for (int k = 0; k < ax->nvalues; k++) {
            double v = ax->values[k];
            Loc at = ax->value_locs[k];
            if (ax->field == SW_BUDGET) {
                int page = c->sparse->page;
                if (v < page) {
                    diag_error(S->d, at, "dynamic.budget = %.0f token%s is smaller than one page (%d tokens)", v,
                               plural((long long)v), page);
                    continue;
                }
                if (fmod(v, page) != 0) {
                    double r = floor(v / page) * page;
                    diag_warning(S->d, at, "dynamic.budget = %.0f tokens is not a whole number of %d-token pages; it "
                                 "is rounded down to %.0f tokens", v, page, r);
                    v = r;
                }
                bool dup = false;
                for (int j = 0; j < kept; j++)
                    dup |= ax->values[j] == v;
                if (dup) {
                    diag_warning(S->d, at, "dynamic.budget = %.0f tokens is already in the list; ignored", v);
                    continue;
                }
            }
            ax->value_locs[kept] = at;
            ax->values[kept++] = v;
        }
        ax->nvalues = kept;
    }
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
        const char *sug = NULL;
        char all[256] = "";
        for (int i = 0; i < n; i++) {
            names[i] = c[i].name ? c[i].name : "";
            if (c[i].name && !sug && strcasecmp(c[i].name, want) == 0)
                sug = c[i].name;    /* --workload SG means sg */
            size_t l = strlen(all);
            if (c[i].name && l + strlen(c[i].name) + 8 < sizeof all)
                snprintf(all + l, sizeof all - l, "%s%s", l ? ", " : "", c[i].name);
            else if (c[i].name && !strstr(all, "..."))
                snprintf(all + l, sizeof all - l, ", ...");
        }
        if (!sug)
            sug = closest_word(want, names);
        Loc at = use && !cli ? use->use.name_loc : NOLOC;
        char from[160] = "";
        if (cli)
            snprintf(from, sizeof from, "--%s %s: ", kind, want);
        char known[300];
        if (n > 0)
            snprintf(known, sizeof known, " (the %s block%s: %s)", kind, n == 1 ? "" : "s", all);
        else
            snprintf(known, sizeof known, " (there is no %s block)", kind);
        if (sug)
            diag_error(S->d, at, "%sno %s named '%s'; did you mean '%s'?%s", from, kind, want, sug, known);
        else
            diag_error(S->d, at, "%sno %s named '%s'%s", from, kind, want, known);
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
    /* after errors in reading or parsing, the blocks that parsed whole are checked all the same (one
       run reports both kinds), but not the broken ones, nor the selection, which could only echo them */
    bool load_errors = errors0 > 0;
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
            if (it->block.broken) {
                Named n = {nm, it->block.name_loc, NULL};
                VEC_PUSH(S.a, names[bk], nnames[bk], caps[bk], n);
                continue;
            }
            void *p = NULL;
            switch (bk) {
            case BK_HARDWARE: p = sema_hardware(&S, it); break;
            case BK_MODEL: p = sema_model(&S, it); break;
            case BK_WORKLOAD: p = sema_workload(&S, it); break;
            case BK_SPARSITY: p = sema_sparsity(&S, it); break;
            case BK_EXPLORE: p = sema_explore(&S, it); break;
            default: h2c_unreachable("block kind");
            }
            Named n = {nm, it->block.name_loc, p};
            VEC_PUSH(S.a, names[bk], nnames[bk], caps[bk], n);
        }
    }
    if (nblocks == 0 && !load_errors) {
        Loc at = {root ? root->src : NULL, 0, 0, 0};
        diag_error(S.d, at, "nothing to check: no hardware, model, workload, sparsity or explore block");
    }
    if (load_errors || s->diag->errors != errors0 || s->diag->stop) {
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
        diag_error(S.d, c->sparse->dense_layers_loc, "dense_layers = %d exceeds the model's %d layer%s", c->sparse->dense_layers,
                   c->model->layers, plural(c->model->layers));
    if (!err && c->model && c->xp)
        check_sweeps(&S, c, pk->batch);
    if (!err && c->model)
        check_capacity(&S, c);
    if (!err && c->xp && c->xp->objective != OBJ_LATENCY && c->cost_model == CM_ARTIFACT && !pk->objective) {
        /* the artifact's model has no energy: every plan and design would score 0 and rank by latency */
        diag_error(S.d, c->xp->objective_loc.file ? c->xp->objective_loc : c->xp->loc,
                   "objective = %s needs a cost model with energy; h2llm-artifact has none (its energy is always 0), "
                   "so use objective = latency or the h2c cost model", objective_names[c->xp->objective]);
        if (c->cost_model_loc.file)
            diag_note(S.d, c->cost_model_loc, "the cost model is chosen here");
    }
    s->arena.oom = saved;
    return s->diag->errors == errors0 ? c : NULL;
}

double model_weight_bytes(const Model *m, double es) {
    double per_layer = 0, once = 0;
    for (int i = 0; i < m->nops; i++) {
        const ModelOp *op = &m->ops[i];
        double bytes = 0;
        int k = op->ninputs > 0 ? (op->inputs[0] < 0 ? m->hidden : m->ops[op->inputs[0]].width) : 0;
        if (op->kind == OPK_FC && op->tied < 0)
            bytes = ((double)k + (op->bias ? 1 : 0)) * op->out * es;    /* weights, and a bias row */
        else if (op->kind == OPK_NORM)
            bytes = (double)op->width * (op->bias ? 2 : 1) * es;        /* scale, and a shift */
        else if (op->kind == OPK_EMBEDDING)
            bytes = (double)(op->positions > 0 ? op->positions : m->vocab) * m->hidden * es;
        if (op->scope == SCOPE_LAYER)
            per_layer += bytes;
        else
            once += bytes;
    }
    return per_layer * m->layers + once;
}

double model_kv_bytes(const Model *m, const Workload *w, double es) {
    int attn = 0;
    for (int i = 0; i < m->nops; i++)
        attn += m->ops[i].kind == OPK_ATTN_SCORE;
    /* K and V for every attention of every layer, at the longest sequence */
    return 2.0 * attn * m->layers * (double)w->batch * w->max_seq * m->kv_heads * m->head_dim * es;
}
