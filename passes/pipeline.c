/* pipeline.c: the one table of passes, the default pipeline, and the runner: the verifier before
 * the first pass and after each, --print-ir-before/after(-all) dumps under a `; IR after <pass>`
 * header, and a --time-passes table (QBE main.c, LLVM's pass options). Also the table of cost
 * models, the one place that knows both h2c's and the artifact's by name. */
#include "passes.h"
#include "artifact.h"

#include <string.h>

const CostModel *cost_model_get(CostModelKind k) { return k == CM_ARTIFACT ? &cost_artifact : &cost_h2c; }

const Pass pass_table[] = {
    {"shapes", pass_shapes, "infer every op's iteration space and result shape in both phases"},
    {"dataflow", pass_dataflow, "choose each op's dataflow position, channels and NMP share (exact search), or a baseline mapping"},
    {"sparsity", pass_sparsity, "give every decode attention head-wise patterns from the sparsity block (dense, static, dynamic)"},
    {"coplace", pass_coplace, "put each attention's KV in the banks of the PEs that attend over it (co-placement)"},
    {"balance", pass_balance, "cut each head's KV into tiles and spread them over PEs to minimise each layer's attention time"},
    {"placement", pass_placement, "place unplaced tensors (striped over all channels), unmapped ops (NPU); allocate bank offsets"},
};
const int pass_count = sizeof pass_table / sizeof pass_table[0];

const char *const default_pipeline[] = {"shapes", "dataflow", "sparsity", "coplace", "balance", "placement"};
const int default_pipeline_len = sizeof default_pipeline / sizeof default_pipeline[0];

const Pass *pass_lookup(const char *name) {
    for (int i = 0; i < pass_count; i++)
        if (strcmp(pass_table[i].name, name) == 0)
            return &pass_table[i];
    return NULL;
}

static bool listed(const char **list, const char *name) {
    for (; list && *list; list++)
        if (strcmp(*list, name) == 0)
            return true;
    return false;
}

/* Runs one pass with the module's arena protected: running out of memory there is an error
 * ("out of memory"), not an abort. A pass that holds heap memory while it allocates in the arena
 * sets its own handler to free it (pass_dataflow). */
static bool run_protected(const Pass *p, Module *m, Diag *d) {
    jmp_buf jb, *const outer = m->arena.oom;
    if (setjmp(jb)) {
        m->arena.oom = outer;
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    m->arena.oom = &jb;
    bool ok = p->run(m, d);
    m->arena.oom = outer;
    return ok;
}

bool pipeline_run(Module *m, const char *const *names, int n, const PipelineOpts *o, Diag *d) {
    FILE *dump = o->dump ? o->dump : stderr;
    double times[64] = {0}, vtime = 0;
    if (n > 64) {
        diag_error(d, NOLOC, "more than 64 passes in one pipeline");
        return false;
    }
    for (int i = 0; i < n; i++)
        if (!pass_lookup(names[i])) {
            diag_error(d, NOLOC, "unknown pass '%s'", names[i]);
            return false;
        }
    if (o->verify) {
        double t0 = h2c_seconds();
        bool ok = ir_verify(m, d);
        vtime += h2c_seconds() - t0;
        if (!ok) {
            diag_note(d, NOLOC, "the input IR is invalid");
            return false;
        }
    }
    bool ok = true;
    int ran = 0;
    for (int i = 0; i < n && ok; i++) {
        const Pass *p = pass_lookup(names[i]);
        if (listed(o->print_before, p->name)) {
            fprintf(dump, "; IR before %s\n", p->name);
            ir_print(dump, m);
        }
        double t0 = h2c_seconds();
        ok = run_protected(p, m, d);
        times[i] = h2c_seconds() - t0;
        ran = i + 1;
        if (!ok) {
            diag_note(d, NOLOC, "pass '%s' failed", p->name);
            break;
        }
        if (o->print_after_all || listed(o->print_after, p->name)) {
            fprintf(dump, "; IR after %s\n", p->name);
            ir_print(dump, m);
        }
        if (o->verify) {
            t0 = h2c_seconds();
            ok = ir_verify(m, d);
            vtime += h2c_seconds() - t0;
            if (!ok)
                diag_note(d, NOLOC, "the IR is invalid after pass '%s' (a bug in h2c)", p->name);
        }
    }
    if (o->time_passes) {
        double total = vtime;
        for (int i = 0; i < ran; i++)
            total += times[i];
        fputs("===----------------------------------------------------------===\n", dump);
        fputs("                      h2c pass execution times\n", dump);
        fputs("===----------------------------------------------------------===\n", dump);
        fprintf(dump, "  %10s  %6s  %s\n", "wall (ms)", "%", "pass");
        for (int i = 0; i < ran; i++)
            fprintf(dump, "  %10.3f  %5.1f%%  %s\n", times[i] * 1e3, total > 0 ? 100 * times[i] / total : 0, names[i]);
        if (o->verify)
            fprintf(dump, "  %10.3f  %5.1f%%  %s\n", vtime * 1e3, total > 0 ? 100 * vtime / total : 0, "(verifier)");
        fprintf(dump, "  %10.3f  100.0%%  total\n", total * 1e3);
    }
    return ok;
}
