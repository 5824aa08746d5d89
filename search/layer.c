/* layer.c: one scope of a module as the search sees it (the layer graph, or the epilogue): one
 * DfProblem when it has at most DF_MAX_OPS ops, else its decode ops in topological order cut into
 * pieces of at most DF_MAX_OPS, each its own problem with its share of every channel's capacity (its
 * share of the scope's bytes), searched one after another so that the pieces' groups follow each
 * other (docs/dataflow.md §2.5). Used by the module's planning (plan.c); a problem can be moved to
 * another device (df_retarget). */
#include "search.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

void df_retarget(DfProblem *p, const CostModel *cm, const Hardware *hw, int batch) {
    double es_old = p->es;
    p->hw = *hw;
    p->nmp = (int)hw->nmp_channels;
    p->normal = (int)(hw->channels - hw->nmp_channels);
    p->es = precision_bytes((Precision)hw->precision);
    for (int i = 0; i < p->nops; i++)
        p->ops[i].footprint *= p->es / es_old;
    p->nmp_util = cm->nmp_util ? cm->nmp_util(hw, batch) : 1.0;
}

void df_layer_free(DfLayer *l) {
    h2c_raw_free(l->pieces, sizeof(DfProblem) * (size_t)l->npieces);
    h2c_raw_free(l->op, sizeof(int) * (size_t)l->npieces * DF_MAX_OPS);
    h2c_raw_free(l->local, sizeof(int) * (size_t)(l->nphase + 1));
    h2c_raw_free(l->pstart, sizeof(int) * (size_t)(l->nphase + 1));
    h2c_raw_free(l->plist, sizeof(int) * (size_t)(l->nedges + 1));
    memset(l, 0, sizeof *l);
}

bool df_layer_from_module(const Module *m, const CostModel *cm, const Hardware *hw, OpScope scope, DfLayer *l,
                          Diag *d) {
    const Phase *dc = &m->phases[PH_DECODE];
    memset(l, 0, sizeof *l);
    int n = 0;
    for (int i = 0; i < dc->nops; i++)
        n += dc->ops[i].scope == scope;
    l->nops = n;
    l->npieces = n <= DF_MAX_OPS ? 1 : (n + DF_MAX_OPS - 1) / DF_MAX_OPS;
    for (int i = 0; i < dc->nops; i++)
        l->nedges += dc->ops[i].ninputs;
    l->pieces = h2c_raw_alloc(sizeof(DfProblem) * (size_t)l->npieces);
    l->op = h2c_raw_alloc(sizeof(int) * (size_t)l->npieces * DF_MAX_OPS);
    l->pstart = h2c_raw_alloc(sizeof(int) * (size_t)(dc->nops + 1));
    l->plist = h2c_raw_alloc(sizeof(int) * (size_t)(l->nedges + 1));
    int *order = h2c_raw_alloc(sizeof(int) * (size_t)(dc->nops + 1));
    if (!l->pieces || !l->op || !l->pstart || !l->plist || !order) {
        h2c_raw_free(order, sizeof(int) * (size_t)(dc->nops + 1));
        df_layer_free(l);
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    /* the scope's ops numbered 0..n-1 in phase order (local), and their inputs in that numbering */
    l->local = h2c_raw_alloc(sizeof(int) * (size_t)(dc->nops + 1));
    if (!l->local) {
        h2c_raw_free(order, sizeof(int) * (size_t)(dc->nops + 1));
        df_layer_free(l);
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    l->nphase = dc->nops;
    for (int i = 0, k = 0; i < dc->nops; i++)
        l->local[i] = dc->ops[i].scope == scope ? k++ : -1;
    int e = 0;
    for (int i = 0; i < dc->nops; i++) {
        if (l->local[i] < 0)
            continue;
        l->pstart[l->local[i]] = e;
        for (int j = 0; j < dc->ops[i].ninputs; j++)
            if (dc->ops[i].inputs[j] >= 0 && l->local[dc->ops[i].inputs[j]] >= 0)
                l->plist[e++] = l->local[dc->ops[i].inputs[j]];
    }
    l->pstart[n] = e;
    bool ok = true;
    int topo;
    if (l->npieces == 1) {
        /* the whole scope, ops in their own order */
        int k = 0;
        for (int i = 0; i < dc->nops; i++)
            if (dc->ops[i].scope == scope)
                l->op[k++] = i;
        ok = df_problem_of_ops(m, cm, l->op, n, &l->pieces[0], d);
    } else if ((topo = ir_topo_order(dc, order)) != 1) {
        if (topo == 0)
            diag_error(d, dc->loc, "the ops of the decode phase form a cycle");
        else
            diag_error(d, NOLOC, "out of memory");
        ok = false;
    } else {
        /* the scope's ops in topological order, cut into runs */
        int k = 0;
        for (int i = 0; i < dc->nops; i++)
            if (dc->ops[order[i]].scope == scope)
                order[k++] = order[i];
        for (int c = 0; c < l->npieces && ok; c++) {
            int first = c * DF_MAX_OPS, count = n - first < DF_MAX_OPS ? n - first : DF_MAX_OPS;
            memcpy(&l->op[c * DF_MAX_OPS], &order[first], sizeof(int) * (size_t)count);
            ok = df_problem_of_ops(m, cm, &order[first], count, &l->pieces[c], d);
        }
    }
    h2c_raw_free(order, sizeof(int) * (size_t)(dc->nops + 1));
    if (!ok) {
        df_layer_free(l);
        return false;
    }
    for (int k = 0; k < l->npieces; k++) {
        l->pieces[k].scope = scope;
        l->pieces[k].layers = scope == SCOPE_LAYER ? m->model.layers : 1;
        if (hw)
            df_retarget(&l->pieces[k], cm, hw, m->work.batch);
    }
    if (l->npieces > 1) {
        /* each piece gets its share of every channel: its bytes over the layer's */
        double total = 0;
        for (int k = 0; k < l->npieces; k++)
            for (int i = 0; i < l->pieces[k].nops; i++)
                total += l->pieces[k].ops[i].footprint;
        for (int k = 0; k < l->npieces; k++) {
            double b = 0;
            for (int i = 0; i < l->pieces[k].nops; i++)
                b += l->pieces[k].ops[i].footprint;
            l->pieces[k].share = total > 0 ? b / total : 1.0 / l->npieces;
            l->pieces[k].hw.bank_capacity *= l->pieces[k].share;
        }
    }
    return true;
}

/* Every piece of l holds `bytes` per channel fewer (another scope's), in proportion to its share. */
void df_layer_reserve(DfLayer *l, double bytes) {
    for (int k = 0; k < l->npieces; k++)
        l->pieces[k].reserve = bytes * (l->npieces > 1 ? l->pieces[k].share : 1);
}

/* A piece with its identity removed (op names, module indices): two pieces with equal bytes here
 * are the same search problem. (Unequal padding or -0.0 against 0.0 only costs a repeated search.) */
static void piece_canon(const DfProblem *p, DfProblem *c) {
    memcpy(c, p, sizeof *c);
    for (int i = 0; i < DF_MAX_OPS; i++) {
        c->ops[i].name = NULL;
        c->index[i] = 0;
    }
}

static uint64_t piece_signature(const DfProblem *p) {
    DfProblem c;
    piece_canon(p, &c);
    const unsigned char *b = (const unsigned char *)&c;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < sizeof c; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static bool same_piece(const DfProblem *a, const DfProblem *b) {
    DfProblem x, y;
    piece_canon(a, &x);
    piece_canon(b, &y);
    return memcmp(&x, &y, sizeof x) == 0;
}

/* The pieces still to search, shared by the threads that search them. */
typedef struct PieceWork {
    const DfLayer *l;
    const CostModel *cm;
    const SearchOpts *o;
    const int *same;        /* per piece: an earlier equal piece, or -1 */
    SearchResult *res;
    bool *ok;
    atomic_int next;
} PieceWork;

static void *piece_worker(void *arg) {
    PieceWork *w = arg;
    Diag quiet;
    diag_init_quiet(&quiet);
    Arena scratch;
    arena_init(&scratch);
    SearchOpts so = *w->o;
    so.scratch = &scratch;
    for (;;) {
        int k = atomic_fetch_add(&w->next, 1);
        if (k >= w->l->npieces)
            break;
        if (w->same[k] < 0)
            w->ok[k] = df_search(&w->l->pieces[k], w->cm, &so, &w->res[k], &quiet);
    }
    arena_free(&scratch);
    return NULL;
}

bool df_search_layer(const DfLayer *l, const CostModel *cm, const SearchOpts *o, SearchResult *each, SearchResult *r,
                     Diag *d) {
    if (l->npieces == 1) {
        bool ok = df_search(&l->pieces[0], cm, o, r, d);
        if (ok && each)
            each[0] = *r;
        return ok;
    }
    /* the pieces share a few budgets' worth of steps */
    SearchOpts po = *o;
    long long work = o->work_budget > 0 ? o->work_budget : DF_WORK_BUDGET;
    po.work_budget = work / l->npieces > work / 16 ? work / l->npieces : work / 16;
    po.cutoff = 0;
    po.skip_bound = true;
    memset(r, 0, sizeof *r);
    int n = l->npieces;
    uint64_t *sig = h2c_raw_alloc(sizeof(uint64_t) * (size_t)n);
    int *same = h2c_raw_alloc(sizeof(int) * (size_t)n);
    bool *pok = h2c_raw_alloc(sizeof(bool) * (size_t)n);
    SearchResult *res = each ? each : h2c_raw_alloc(sizeof(SearchResult) * (size_t)n);
    bool ok = sig && same && pok && res;
    if (!ok)
        diag_error(d, NOLOC, "out of memory");
    /* a piece equal to an earlier one (a repeated block of the layer) gets that piece's plan: the
       search is a function of the problem alone */
    for (int k = 0; k < n && ok; k++) {
        sig[k] = piece_signature(&l->pieces[k]);
        same[k] = -1;
        pok[k] = true;
        for (int j = 0; j < k && same[k] < 0; j++)
            if (same[j] < 0 && sig[j] == sig[k] && same_piece(&l->pieces[j], &l->pieces[k]))
                same[k] = j;
    }
    /* the pieces are independent problems: searched by o->threads threads at once (each result
       lands in its piece's slot, so the plan does not depend on the thread count); a failed piece is
       searched again below to report why */
    int nthreads = o->threads > 1 && !h2c_allocator_hooked() ? o->threads : 1;
    if (nthreads > 64)
        nthreads = 64;
    if (ok && nthreads > 1) {
        PieceWork w = {l, cm, &po, same, res, pok, 0};
        pthread_t th[64];
        int started = 0;
        for (int i = 0; i < nthreads; i++)
            if (pthread_create(&th[i], NULL, piece_worker, &w) == 0)
                started++;
        if (started == 0)
            piece_worker(&w);
        for (int i = 0; i < started; i++)
            pthread_join(th[i], NULL);
    }
    for (int k = 0; k < n && ok; k++) {
        if (same[k] >= 0)
            res[k] = res[same[k]];
        else if ((nthreads == 1 || !pok[k]) && !df_search(&l->pieces[k], cm, &po, &res[k], d)) {
            ok = false;
            break;
        }
        const SearchResult *one = &res[k];
        r->cost.prefill += one->cost.prefill;
        r->cost.decode += one->cost.decode;
        r->cost.decode_step += one->cost.decode_step;
        r->cost.total += one->cost.total;
        r->cost.energy += one->cost.energy;
        r->configs += one->configs;
        r->chunks += one->chunks ? one->chunks : 1;
        r->repaired |= one->repaired;
    }
    h2c_raw_free(sig, sizeof(uint64_t) * (size_t)n);
    h2c_raw_free(same, sizeof(int) * (size_t)n);
    h2c_raw_free(pok, sizeof(bool) * (size_t)n);
    if (res != each)
        h2c_raw_free(res, sizeof(SearchResult) * (size_t)n);
    if (!ok)
        return false;
    r->pieces = l->npieces;
    r->exact = false; /* the pieces' boundaries are group boundaries: a restricted space */
    r->value = df_objective(o->objective, &r->cost);
    r->bound = NAN;
    if (o->objective == OBJ_LATENCY || !cm->has_energy)
        r->bound = df_layer_bound(l, cm, o) + (cm->fixed_time ? cm->fixed_time(&l->pieces[0]) : 0);
    return true;
}
