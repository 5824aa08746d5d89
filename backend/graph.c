/* graph.c: the schedule's `graph` section (docs/schedule.md §2.5): the model's op graph as the
 * runtime's reference forward pass reads it (runtime.h RtModel), written from the IR's decode
 * phase. The runtime cannot include the IR, so this is the one place the IR's ops become the
 * reference's: the op kinds, inputs, widths, activation and norm kinds, biases, tied heads,
 * epsilons, embedding scales and positions, windows, unit-offset norms, each op's weight tensor,
 * and the ops whose values feed the next layer, the first layer and the logits. */
#include "backend.h"

#include <cjson/cJSON.h>
#include <string.h>

static cJSON *num(double v) { return cJSON_CreateNumber(v); }
static void add_num(cJSON *o, const char *k, double v) { cJSON_AddItemToObject(o, k, num(v)); }
static void add_str(cJSON *o, const char *k, const char *v) { cJSON_AddItemToObject(o, k, cJSON_CreateString(v)); }
static void add_bool(cJSON *o, const char *k, bool v) { cJSON_AddItemToObject(o, k, cJSON_CreateBool(v)); }

/* The activation of an activation op, as the reference names it; "none" for other ops. */
static const char *act_name(const Op *o) {
    if (o->code != OP_ACTIVATION)
        return "none";
    if (o->fn && !strcmp(o->fn, "gelu"))
        return "gelu";
    if (o->fn && !strcmp(o->fn, "gelu_tanh"))
        return "gelu_tanh";
    if (o->fn && !strcmp(o->fn, "relu"))
        return "relu";
    return "silu";      /* silu and swish */
}

cJSON *be_graph_json(const Module *m, Arena *a) {
    const Phase *ph = &m->phases[PH_DECODE];
    const ModelShape *ms = &m->model;
    cJSON *g = cJSON_CreateObject();
    add_num(g, "norm_eps", ms->norm_eps);
    cJSON *r = cJSON_AddObjectToObject(g, "rope");
    add_num(r, "theta", ms->rope.theta);
    add_num(r, "fraction", ms->rope.fraction);
    add_str(r, "scaling", rope_scaling_names[ms->rope.scaling]);
    add_num(r, "factor", ms->rope.factor);
    add_num(r, "low_freq_factor", ms->rope.low_freq_factor);
    add_num(r, "high_freq_factor", ms->rope.high_freq_factor);
    add_num(r, "original_max", ms->rope.original_max);
    /* the layer op no layer op reads is the layer's output */
    bool *read = ARENA_ARRAY(a, bool, ph->nops + 1);
    int prologue_out = -1, epilogue_out = -1, layer_out = -1;
    cJSON *ops = cJSON_CreateArray();
    for (int i = 0; i < ph->nops; i++) {
        const Op *o = &ph->ops[i];
        cJSON *j = cJSON_CreateObject();
        add_str(j, "name", o->name);
        add_str(j, "kind", op_info[o->code].name);
        add_str(j, "scope", op_scope_names[o->scope]);
        cJSON *in = cJSON_AddArrayToObject(j, "inputs");
        for (int k = 0; k < o->ninputs; k++) {
            int x = o->inputs[k];
            cJSON_AddItemToArray(in, num(x));   /* -1: the layer input x, -2: the token ids */
            if (x >= 0 && ph->ops[x].scope == SCOPE_LAYER && o->scope == SCOPE_LAYER)
                read[x] = true;
        }
        add_num(j, "in_width", o->code == OP_FC ? (double)o->shape[DIM_K] : 0);
        add_num(j, "width", o->out_rank == 2 ? (double)o->out[1] : 0);
        add_str(j, "act", act_name(o));
        add_bool(j, "layer_norm", o->code == OP_NORM && o->fn && !strcmp(o->fn, "layer"));
        const Tensor *t = o->tensor >= 0 ? &m->tensors[o->tensor] : NULL;
        add_bool(j, "bias", t && t->bias && t->kind == TEN_WEIGHT);
        int tied = -1;
        if (o->tied)
            for (int k = 0; k < ph->nops; k++)
                if (ph->ops[k].code == OP_EMBEDDING && ph->ops[k].tensor == o->tensor)
                    tied = k;
        add_num(j, "tied", tied);
        add_num(j, "eps", o->eps);
        add_num(j, "scale", o->scale);
        add_num(j, "positions", o->positions);
        add_num(j, "offset", o->offset);
        add_num(j, "window", o->window);
        add_bool(j, "unit_offset", o->unit_offset);
        add_num(j, "tensor", o->tensor);
        cJSON_AddItemToArray(ops, j);
        if (o->scope == SCOPE_PROLOGUE)
            prologue_out = i;
        if (o->scope == SCOPE_EPILOGUE)
            epilogue_out = i;
    }
    for (int i = 0; i < ph->nops; i++)
        if (ph->ops[i].scope == SCOPE_LAYER && !read[i])
            layer_out = i;
    add_num(g, "layer_out", layer_out);
    add_num(g, "prologue_out", prologue_out);
    add_num(g, "epilogue_out", epilogue_out);
    cJSON_AddItemToObject(g, "ops", ops);
    return g;
}
