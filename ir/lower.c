/* lower.c: the checked program's selection (model, hardware, workload, sparsity) becomes a Module:
 * the device with its units, one weight tensor per fc, norm and embedding and one KV tensor per
 * attention operand, and the model's ops (prologue, layer graph, epilogue) twice, for prefill
 * (prompt tokens) and decode (one token, context growing from prompt+1 to prompt+generate, capped at
 * max_seq). Shapes and placement are left to the passes. */
#include "ir.h"
#include "frontend.h"

#include <string.h>

/* The op that feeds a KV cache: attn_score(q, k) reads K from its second input, attn_value(p, v)
 * reads V from its second input. */
static int kv_source(const ModelOp *op) { return op->ninputs > 1 ? op->inputs[1] : -1; }

Module *ir_lower(const Config *c, Diag *d) {
    const Model *md = c->model;
    if (!md) {
        diag_error(d, NOLOC, "nothing to compile: the input defines no model");
        return NULL;
    }
    Module *m = ir_module_new();
    if (!m) {
        diag_error(d, NOLOC, "out of memory");
        return NULL;
    }
    jmp_buf jb;
    m->arena.oom = &jb;
    if (setjmp(jb)) {
        ir_module_free(m);
        diag_error(d, NOLOC, "out of memory");
        return NULL;
    }
    Arena *a = &m->arena;
    m->source = md->loc.file ? arena_strdup(a, md->loc.file->name) : "";
    m->cost_model = c->cost_model;
    m->dataflow = c->xp ? c->xp->dataflow : DF_DATA_CENTRIC;
    m->objective = c->xp ? c->xp->objective : OBJ_LATENCY;
    m->splits = c->xp ? c->xp->splits : SPLITS_ALL;

    m->dev.hw = *c->hw;
    m->dev.hw.name = arena_strdup(a, c->hw->name);
    m->dev.hw.loc = ir_own_loc(m, c->hw->loc);
    for (int i = 0; i < HWF_COUNT_; i++)
        m->dev.hw.locs[i] = ir_own_loc(m, c->hw->locs[i]);
    for (int i = 0; i < EF_COUNT_; i++) {
        EnergyEntry *e = &m->dev.hw.energy[i];
        e->source = arena_strdup(a, e->source ? e->source : "");
        e->loc = ir_own_loc(m, e->loc);
        if (e->table) {
            EnergyPoint *t = ARENA_ARRAY(a, EnergyPoint, e->ntable);
            memcpy(t, e->table, sizeof(EnergyPoint) * (size_t)e->ntable);
            e->table = t;
        }
    }
    ir_device_build(a, &m->dev);

    m->model = (ModelShape){arena_strdup(a, md->name), md->layers, md->hidden, md->intermediate, md->heads,
                            md->kv_heads, md->head_dim, md->vocab, ir_own_loc(m, md->loc), md->norm_eps, md->rope,
                            md->attention};
    m->work = *c->workload;
    m->work.name = arena_strdup(a, c->workload->name);
    m->work.loc = ir_own_loc(m, c->workload->loc);
    for (int i = 0; i < 4; i++)
        m->work.f_locs[i] = ir_own_loc(m, c->workload->f_locs[i]);
    if (c->sparse) {
        m->has_sparsity = true;
        m->sparsity = *c->sparse;
        m->sparsity.name = arena_strdup(a, c->sparse->name);
        m->sparsity.profile = c->sparse->profile ? arena_strdup(a, c->sparse->profile) : NULL;
        m->sparsity.loc = ir_own_loc(m, c->sparse->loc);
        m->sparsity.profile_loc = ir_own_loc(m, c->sparse->profile_loc);
    }

    /* tensors: weights of fc, norm and embedding ops (a prologue or epilogue op's has one copy, a
       layer op's one per layer), K/V caches of attention ops (one per producing op); a tied fc reads
       its embedding's table */
    int *tensor_of = ARENA_ARRAY(a, int, md->nops + 1);
    bool *k_cache_of = ARENA_ARRAY(a, bool, md->nops + 1);   /* source op (x: nops) -> has a "kv.NAME" */
    for (int i = 0; i < md->nops; i++) {
        const ModelOp *op = &md->ops[i];
        int copies = op->scope == SCOPE_LAYER ? md->layers : 1;
        tensor_of[i] = -1;
        if ((op->kind == OPK_FC && op->tied < 0) || op->kind == OPK_NORM || op->kind == OPK_EMBEDDING) {
            Tensor *t = ir_add_tensor(m);
            t->name = arena_printf(a, "w.%s", op->name);
            t->kind = TEN_WEIGHT;
            t->elem = (Precision)c->hw->precision;
            if (op->kind == OPK_FC) {
                int k = op->inputs[0] < 0 ? md->hidden : md->ops[op->inputs[0]].width;
                t->rank = 2;
                t->dims[0] = k;
                t->dims[1] = op->out;
            } else if (op->kind == OPK_NORM) {
                t->rank = 1;
                t->dims[0] = op->width;
            } else {
                t->rank = 2;
                t->dims[0] = op->positions > 0 ? op->positions : md->vocab;
                t->dims[1] = md->hidden;
            }
            t->bias = op->bias;
            t->layers = copies;
            t->loc = ir_own_loc(m, op->loc);
            tensor_of[i] = m->ntensors - 1;
        } else if (op->kind == OPK_ATTN_SCORE || op->kind == OPK_ATTN_VALUE) {
            /* the K cache of a score and the V cache of a value are separate tensors, named after
               the op that produces them; sema makes sure no two ops of one role share a source, so
               only an op feeding both K and V needs the ".v" to tell its V cache apart */
            int src = kv_source(op);
            const char *srcname = src < 0 ? "x" : md->ops[src].name;
            const char *name = arena_printf(a, "kv.%s", srcname);
            int slot = src < 0 ? md->nops : src;
            if (op->kind == OPK_ATTN_VALUE && k_cache_of[slot])
                name = arena_printf(a, "kv.%s.v", srcname);
            else if (op->kind == OPK_ATTN_SCORE)
                k_cache_of[slot] = true;
            Tensor *t = ir_add_tensor(m);
            t->name = name;
            t->kind = TEN_KV;
            t->elem = (Precision)c->hw->precision;
            t->rank = 4;
            t->dims[0] = md->kv_heads;
            t->dims[1] = c->workload->batch;
            t->dims[2] = c->workload->max_seq;
            t->dims[3] = md->head_dim;
            t->layers = md->layers;
            t->loc = ir_own_loc(m, src >= 0 ? md->ops[src].loc : op->loc);
            tensor_of[i] = m->ntensors - 1;
        }
    }
    for (int i = 0; i < md->nops; i++)
        if (md->ops[i].kind == OPK_FC && md->ops[i].tied >= 0)
            tensor_of[i] = tensor_of[md->ops[i].tied];

    ir_workload_phases(m);
    for (int p = 0; p < PH_COUNT_; p++) {
        Phase *ph = &m->phases[p];
        ph->kind = (PhaseKind)p;
        ph->loc = m->work.loc;
        for (int i = 0; i < md->nops; i++) {
            const ModelOp *mo = &md->ops[i];
            Op *op = ir_add_op(m, ph);
            op->name = arena_strdup(a, mo->name);
            op->loc = ir_own_loc(m, mo->loc);
            switch (mo->kind) {
            case OPK_FC: op->code = OP_FC; break;
            case OPK_ATTN_SCORE: op->code = OP_ATTN_SCORE; break;
            case OPK_ATTN_VALUE: op->code = OP_ATTN_VALUE; break;
            case OPK_SOFTMAX: op->code = OP_SOFTMAX; break;
            case OPK_NORM: op->code = OP_NORM; break;
            case OPK_ACTIVATION: op->code = OP_ACTIVATION; break;
            case OPK_ADD: op->code = OP_ADD; break;
            case OPK_MUL: op->code = OP_MUL; break;
            case OPK_EMBEDDING: op->code = OP_EMBEDDING; break;
            case OPK_ROPE: op->code = OP_ROPE; break;
            default: h2c_unreachable("op kind");
            }
            op->scope = mo->scope;
            op->fn = mo->fn ? arena_strdup(a, mo->fn) : NULL;
            op->tied = mo->kind == OPK_FC && mo->tied >= 0;
            op->eps = mo->kind == OPK_NORM ? mo->eps : 0;
            op->scale = mo->kind == OPK_EMBEDDING && mo->scale != 1 ? mo->scale : 0;
            op->positions = mo->positions;
            op->offset = mo->offset;
            op->window = mo->window;
            op->unit_offset = mo->unit_offset;
            op->tensor = tensor_of[i];
            op->ninputs = mo->ninputs;
            op->inputs = ARENA_ARRAY(a, int, mo->ninputs ? mo->ninputs : 1);
            memcpy(op->inputs, mo->inputs, sizeof(int) * (size_t)mo->ninputs);
            for (int j = 0; j < mo->ninputs; j++)
                if (mo->inputs[j] == MODEL_INPUT_TOKENS)
                    op->inputs[j] = IR_INPUT_TOKENS;
        }
        /* a sliding window is the attention's: the value op reading a windowed score has it too */
        for (int i = 0; i < ph->nops; i++) {
            Op *v = &ph->ops[i];
            int s = v->code == OP_ATTN_VALUE && v->ninputs > 0 ? v->inputs[0] : -1;
            if (s >= 0 && ph->ops[s].code == OP_SOFTMAX && ph->ops[s].ninputs > 0)
                s = ph->ops[s].inputs[0];
            if (s >= 0 && ph->ops[s].code == OP_ATTN_SCORE)
                v->window = ph->ops[s].window;
        }
    }
    m->arena.oom = NULL;
    return m;
}
