/* dot.c: the layer graph in Graphviz DOT (`h2c compile --emit=dot`): one cluster per phase, each op
 * a box coloured by where it runs (NPU blue, NMP orange, split purple) and labelled with its kind,
 * shape and the share of work on each kind of unit. Render with `dot -Tsvg`. */
#include "ir.h"

#include <string.h>

static const char *op_colour(const Op *op) {
    if (op->ntiles == 0)
        return "white";
    double nmp = ir_op_nmp_share(op);
    return nmp == 0 ? "lightblue" : nmp == 1 ? "orange" : "plum";
}

void ir_print_dot(FILE *out, const Module *m) {
    fprintf(out, "digraph \"%s\" {\n", m->model.name);
    fputs("  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n", out);
    fputs("  edge [color=gray40];\n", out);
    for (int p = 0; p < PH_COUNT_; p++) {
        const Phase *ph = &m->phases[p];
        fprintf(out, "  subgraph cluster_%s {\n", phase_names[p]);
        fprintf(out, "    label=\"%s: %d token%s, context %d", phase_names[p], ph->tokens, ph->tokens == 1 ? "" : "s",
                ph->ctx_first);
        if (ph->ctx_last != ph->ctx_first)
            fprintf(out, "..%d", ph->ctx_last);
        fprintf(out, ", %d step%s\";\n", ph->steps, ph->steps == 1 ? "" : "s");
        fprintf(out, "    %s_x [label=\"x\", shape=ellipse, fillcolor=gray90];\n", phase_names[p]);
        int last_pro = -1;
        for (int i = 0; i < ph->nops; i++)
            if (ph->ops[i].scope == SCOPE_PROLOGUE)
                last_pro = i;
        if (last_pro >= 0)
            fprintf(out, "    %s_tokens [label=\"tokens\", shape=ellipse, fillcolor=gray90];\n", phase_names[p]);
        for (int i = 0; i < ph->nops; i++) {
            const Op *op = &ph->ops[i];
            fprintf(out, "    %s_%d [fillcolor=%s, label=\"%s%s = %s", phase_names[p], i, op_colour(op),
                    op->scope == SCOPE_LAYER ? "" : op->scope == SCOPE_PROLOGUE ? "prologue: " : "epilogue: ", op->name,
                    op_info[op->code].name);
            if (op->shape[0] || op->shape[1])
                fprintf(out, "\\n[%lld, %lld, %lld, %lld]", op->shape[0], op->shape[1], op->shape[2], op->shape[3]);
            if (op->ntiles) {
                double nmp = ir_op_nmp_share(op);
                if (nmp == 0)
                    fputs("\\nNPU", out);
                else if (nmp == 1)
                    fputs("\\nNMP", out);
                else
                    fprintf(out, "\\nNPU %.1f%% | NMP %.1f%%", 100 * (1 - nmp), 100 * nmp);
            }
            if (op->df.group >= 0)
                fprintf(out, "\\ngroup %d part %d stratum %d", op->df.group, op->df.part, op->df.stratum);
            fputs("\"];\n", out);
        }
        for (int i = 0; i < ph->nops; i++) {
            const Op *op = &ph->ops[i];
            for (int j = 0; j < op->ninputs; j++) {
                if (op->inputs[j] == IR_INPUT_X)
                    fprintf(out, "    %s_x -> %s_%d;\n", phase_names[p], phase_names[p], i);
                else if (op->inputs[j] == IR_INPUT_TOKENS)
                    fprintf(out, "    %s_tokens -> %s_%d;\n", phase_names[p], phase_names[p], i);
                else
                    fprintf(out, "    %s_%d -> %s_%d;\n", phase_names[p], op->inputs[j], phase_names[p], i);
            }
        }
        /* the prologue's result is the first layer's input */
        if (last_pro >= 0)
            fprintf(out, "    %s_%d -> %s_x [style=dashed];\n", phase_names[p], last_pro, phase_names[p]);
        fputs("  }\n", out);
    }
    fputs("}\n", out);
}
