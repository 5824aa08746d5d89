/* test_cost_h2c.c: the h2c cost model's detail (the per-op report behind `h2c compile`'s summary and
 * --report=ops) agrees with its evaluation: op times add up to prefill, the energy entries of every op
 * and the LM head add up to the plan's energy; and the LM head's line, worked out by hand for
 * examples/tiny.h2 (batch 2, hidden 256, vocab 512, 8 generated tokens, fp16, default energies):
 *   MACs per pass   2 x 256 x 512 = 262144          weights 256 x 512 x 2 B = 262144 B
 *   npu.mac         262144 x 0.682 pJ = 178.782208 nJ per pass
 *   sram.access     262144 x 8 x 0.027 pJ = 56.623104 nJ
 *   channel path    262144 x 8 x (7 channel.io, 0.55 dram.read, 2.24 dram.on_die) pJ
 *   decode          8 passes, prefill 1. */
#include "frontend.h"
#include "passes.h"
#include "test.h"

static void check_file(const char *path, bool tiny) {
    Diag d;
    diag_init_quiet(&d);   /* llama3-8b's sparsity warning is not the subject here */
    Session s;
    session_init(&s, &d);
    AstFile *root = fe_load(&s, path);
    Config *c = root ? fe_check(&s, root, NULL) : NULL;
    Module *m = c ? ir_lower(c, &d) : NULL;
    if (!CHECK(m != NULL)) {
        session_free(&s);
        return;
    }
    PipelineOpts po = {NULL, NULL, false, false, true, stderr};
    CHECK(pipeline_run(m, default_pipeline, default_pipeline_len, &po, &d));
    const CostModel *cm = cost_model_get(CM_H2C);
    DfProblem p;
    DfPlan plan;
    CHECK(df_problem_from_module(m, cm, &p, &d));
    CHECK(df_plan_from_module(m, &p, &plan));
    CostResult r;
    cm->evaluate(&p, &plan, &r);
    static CostDetail det;
    cm->detail(&p, &plan, &det);

    double prefill = det.head[PH_PREFILL].time, energy = 0, bytes = 0;
    for (int ph = 0; ph < PH_COUNT_; ph++)
        for (int i = 0; i <= p.nops; i++) {
            const OpDetail *od = i < p.nops ? &det.op[ph][i] : &det.head[ph];
            for (int k = 0; k < EF_COUNT_; k++)
                energy += od->energy[k];
            bytes += od->bytes;
            if (ph == PH_PREFILL && i < p.nops)
                prefill += od->time;
            if (ph == PH_DECODE && i < p.nops)   /* an op's own time is that of its slower part */
                CHECK(od->time >= od->npu && od->time >= od->nmp && od->time <= od->npu + od->nmp);
        }
    CHECK_NEAR(r.prefill, prefill, 1e-12 * r.prefill);
    CHECK_NEAR(r.energy, energy, 1e-9 * r.energy);
    CHECK(bytes > 0);

    if (tiny) {
        const OpDetail *h = &det.head[PH_DECODE];
        CHECK_NEAR(8 * 178.782208e-9, h->energy[EF_npu_mac], 1e-18);
        CHECK_NEAR(8 * 56.623104e-9, h->energy[EF_sram_access], 1e-18);
        CHECK_NEAR(8 * 262144.0 * 8 * 7e-12, h->energy[EF_channel_io], 1e-15);
        CHECK_NEAR(8 * 262144.0 * 8 * 0.55e-12, h->energy[EF_dram_read], 1e-15);
        CHECK_NEAR(8 * 262144.0 * 8 * 2.24e-12, h->energy[EF_dram_on_die], 1e-15);
        CHECK_NEAR(0, h->energy[EF_pe_mac] + h->energy[EF_hb_io], 0);
        CHECK_NEAR(8 * 262144.0, h->bytes, 0);
        CHECK_NEAR(262144.0, det.head[PH_PREFILL].bytes, 0);
    }
    ir_module_free(m);
    session_free(&s);
}

int main(void) {
    check_file("examples/tiny.h2", true);
    check_file("examples/llama3-8b.h2", false);
    check_file("examples/opt-6.7b.h2", false);
    return test_done();
}
