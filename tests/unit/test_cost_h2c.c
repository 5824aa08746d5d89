/* test_cost_h2c.c: h2c's own cost model (cost/cost_h2c.c).
 * 1. Against numbers worked out by hand in the comments: fused causal prefill attention
 *    (memory-, MAC- and vector-bound), the unfused form, the embedding lookup, a scope run once
 *    (prologue, epilogue) against the layer graph run `layers` times.
 * 2. Its detail (the per-op report behind `h2c compile`'s summary and --report=ops) agrees with its
 *    evaluation on the examples, scope by scope: op times add up to prefill, the energy entries of
 *    every op add up to the plan's energy. */
#include "frontend.h"
#include "passes.h"
#include "test.h"

#include <string.h>

/* The artifact's H2-LLM device: 6 NMP + 2 normal channels of 12.8 GB/s x 0.7 = 8.96 GB/s usable,
 * the NPU at 128 TMAC/s x 0.7 = 89.6 TMAC/s, its vector unit at 128e12 / 128 = 1e12 ops/s, 128 MiB
 * of SRAM; fp16. */
static void device(DfProblem *p) {
    memset(p, 0, sizeof *p);
    hardware_defaults(&p->hw);
    p->nmp = 6;
    p->normal = 2;
    p->es = 2;
    p->nmp_util = 1;
    p->layers = 1;
    p->batch = 1;
    p->gen = 1;
}

static DfOp gemm_op(const char *name, OpCode code, DfKind kind, double B, double M, double N, double K) {
    DfOp o;
    memset(&o, 0, sizeof o);
    o.name = name;
    o.code = code;
    o.kind = kind;
    o.pre = (Gemm){B, M, N, K};
    o.dec = o.pre;
    o.fused = -1;
    o.ctx_dim = -1;
    return o;
}

/* score -> (softmax ->) value, one KV head with g query heads of width d, a prompt of s tokens */
static void attention(DfProblem *p, int s, int g, int d, bool softmax) {
    p->prompt = s;
    p->kv_heads = 1;
    p->heads = g;
    p->head_dim = d;
    int n = 0;
    p->ops[n++] = gemm_op("qk", OP_ATTN_SCORE, DFK_ATTN, 1, (double)s * g, s, d);
    if (softmax)
        p->ops[n++] = gemm_op("p", OP_SOFTMAX, DFK_OTHER, 1, (double)s * g, s, 1);
    p->ops[n++] = gemm_op("sv", OP_ATTN_VALUE, DFK_ATTN, 1, (double)s * g, d, s);
    p->nops = n;
    p->ops[0].fused = n - 1;
    for (int i = 1; i < n; i++)
        p->ops[i].fused = 0;
}

/* An op's prefill time on the NPU, its data on the normal channels. */
static double prefill(const DfProblem *p, int op) {
    OpCost c;
    cost_h2c.op_cost(p, op, 0, true, 0, &c);
    return c.prefill;
}

static void test_fused_memory_bound(void) {
    /* s = 1000, g = 1, d = 64, no softmax op. The causal share is 1001 / 2000 = 0.5005.
     * MACs 2 x 1000 x 1000 x 64 x 0.5005 = 6.4064e7: 7.15e-7 s at 89.6 TMAC/s.
     * K and V of the prompt: 2 x 1000 x 64 x 2 B = 256000 B from the 2 normal channels:
     * 256000 / 17.92e9 = 1.4285714e-5 s; the prompt's KV written (256000 B) over all 8 channels:
     * 256000 / 71.68e9 = 3.5714286e-6 s; Q and O (128000 B each) fit on chip. Memory-bound:
     * 1.7857143e-5 s, all on the score op; the value op is free. */
    DfProblem p;
    device(&p);
    attention(&p, 1000, 1, 64, false);
    CHECK_NEAR(256000.0 / 17.92e9 + 256000.0 / 71.68e9, prefill(&p, 0), 1e-15);
    CHECK_NEAR(0.0, prefill(&p, 1), 0);
}

static void test_fused_mac_bound(void) {
    /* s = 32768, g = 4, d = 128 (one Llama-3 KV head), no softmax op. Causal share 32769 / 65536.
     * MACs 2 x 131072 x 32768 x 128 x 32769 / 65536 = 5.497642e11: 6.13576e-3 s. Memory: K and V
     * 2 x 32768 x 128 x 2 B = 16 MiB over 17.92 GB/s = 9.36e-4 s; Q and O 32 MiB each (64 MiB < SRAM,
     * not streamed); the prompt's KV written 16 MiB over 71.68 GB/s = 2.34e-4 s. MAC-bound. */
    DfProblem p;
    device(&p);
    attention(&p, 32768, 4, 128, false);
    double macs = 2.0 * 131072 * 32768 * 128 * (32769.0 / 65536.0);
    CHECK_NEAR(macs / 89.6e12, prefill(&p, 0), 1e-12);
}

static void test_fused_vector_bound(void) {
    /* The same with a softmax op: 131072 x 32768 x 32769/65536 scores x 5 vector ops = 1.0737582e10
     * ops at 1e12 ops/s: 1.0737582e-2 s, which exceeds the MACs' 6.14e-3 s. The softmax and value
     * ops cost nothing on their own. */
    DfProblem p;
    device(&p);
    attention(&p, 32768, 4, 128, true);
    double ops = 131072.0 * 32768 * (32769.0 / 65536.0) * 5;
    CHECK_NEAR(ops / 1e12, prefill(&p, 0), 1e-12);
    CHECK_NEAR(0.0, prefill(&p, 1), 0);
    CHECK_NEAR(0.0, prefill(&p, 2), 0);
}

static void test_unfused(void) {
    /* s = 1000, g = 1, d = 64, unfused: the score op computes the whole matrix, 1000 x 1000 x 64 =
     * 6.4e7 MACs (7.142857e-7 s), reads K (128000 B from the normal channels: 7.142857e-6 s) and
     * writes the scores (2 MB) while its input q (128000 B) comes in: in + out = 2128000 B fits the
     * SRAM, no spill; it writes the prompt's K, 128000 B from the normal channels (the KV lives
     * where its op does): 7.142857e-6 s. Memory: 1.4285714e-5 s. */
    DfProblem p;
    device(&p);
    attention(&p, 1000, 1, 64, false);
    p.attention = ATTN_UNFUSED;
    CHECK_NEAR(2 * 128000.0 / 17.92e9, prefill(&p, 0), 1e-15);
    /* the value op is no longer free */
    CHECK(prefill(&p, 1) > 0);
}

static void test_embedding_and_scopes(void) {
    /* A lookup of 2 rows of 4096 fp16 values: 16384 B over all 8 channels at 71.68 GB/s. */
    DfProblem p;
    device(&p);
    p.hidden = 4096;
    p.prompt = 1;
    p.ops[0] = gemm_op("e", OP_EMBEDDING, DFK_OTHER, 1, 2, 4096, 1);
    p.nops = 1;
    CHECK_NEAR(16384.0 / 71.68e9, prefill(&p, 0), 1e-18);
    /* the same op in a layer graph run 32 times costs 32 times as much: layers is the repetition */
    p.layers = 32;
    CHECK_NEAR(32 * 16384.0 / 71.68e9, prefill(&p, 0), 1e-16);
}

/* Every scope of an example, planned by the default pipeline, priced two ways. */
static void check_file(const char *path) {
    Diag d;
    diag_init_quiet(&d);
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
    int scopes = 0;
    for (int sc = 0; sc < SCOPE_COUNT_; sc++) {
        static DfProblem p;
        static DfPlan plan;
        CHECK(df_problem_scope(m, cm, (OpScope)sc, &p, &d));
        if (p.nops == 0)
            continue;
        scopes++;
        CHECK(df_plan_from_module(m, &p, &plan, &d));
        CostResult r;
        cm->evaluate(&p, &plan, &r);
        static CostDetail det;
        cm->detail(&p, &plan, &det);
        double prefill = 0, energy = 0, bytes = 0;
        for (int ph = 0; ph < PH_COUNT_; ph++)
            for (int i = 0; i < p.nops; i++) {
                const OpDetail *od = &det.op[ph][i];
                for (int k = 0; k < EF_COUNT_; k++)
                    energy += od->energy[k];
                bytes += od->bytes;
                if (ph == PH_PREFILL)
                    prefill += od->time;
                else    /* an op's own time is that of its slower part */
                    CHECK(od->time >= od->npu && od->time >= od->nmp && od->time <= od->npu + od->nmp);
            }
        CHECK_NEAR(r.prefill, prefill, 1e-12 * r.prefill);
        CHECK_NEAR(r.energy, energy, 1e-9 * r.energy);
        CHECK(bytes > 0);
    }
    CHECK_EQ(scopes, 3);    /* the examples have a prologue and an epilogue */
    ir_module_free(m);
    session_free(&s);
}

int main(void) {
    test_fused_memory_bound();
    test_fused_mac_bound();
    test_fused_vector_bound();
    test_unfused();
    test_embedding_and_scopes();
    check_file("examples/tiny.h2");
    check_file("examples/llama3-8b.h2");
    check_file("examples/opt-6.7b.h2");
    check_file("examples/qwen2-7b.h2");
    return test_done();
}
