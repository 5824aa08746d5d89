/* test_pieces.c: a scope of more than DF_MAX_OPS ops is searched in pieces (search/layer.c). The
 * pieces are independent problems: searched on several threads they give the very plans one thread
 * gives; a piece equal to an earlier one takes that piece's plan, which is the plan its own search
 * finds; and a scope past DF_MAX_SCOPE_OPS is refused before any search. Runs anywhere. */
#include "frontend.h"
#include "passes.h"
#include "test.h"

#include <stdlib.h>

/* A model whose layer is `blocks` blocks of five ops (a norm, an fc, an activation, a gated fc and a
 * residual add): with five-op blocks and 32-op pieces, pieces k and k + 5 hold the same ops. */
static char *model_text(int blocks) {
    size_t cap = 4096 + (size_t)blocks * 200, n = 0;
    char *t = malloc(cap);
    n += (size_t)snprintf(t + n, cap - n,
                          "hardware hw {\n  precision = fp16;\n  channels = 4;\n  banks_per_channel = 8;\n"
                          "  bank_capacity = 64 MiB;\n  nmp.channels = 2;\n"
                          "  pe { fpus = 2; simd = 16; frequency = 500 MHz; bandwidth = 12.8 GB/s; }\n"
                          "  buffers { input = 4 KiB; weight = 4 KiB; output = 8 KiB; }\n"
                          "  npu { throughput = 1 TMAC/s; sram = 1 MiB; }\n}\n"
                          "model m {\n  layers = 2;\n  hidden = 256;\n  intermediate = 512;\n  heads = 4;\n"
                          "  kv_heads = 2;\n");
    const char *prev = "x";
    char pbuf[32];
    for (int b = 0; b < blocks; b++) {
        n += (size_t)snprintf(t + n, cap - n,
                              "  op n%d = norm(%s, kind = rms);\n  op u%d = fc(n%d, out = intermediate);\n"
                              "  op a%d = activation(u%d, fn = silu);\n  op d%d = fc(a%d, out = hidden);\n"
                              "  op r%d = add(%s, d%d);\n",
                              b, prev, b, b, b, b, b, b, b, prev, b);
        snprintf(pbuf, sizeof pbuf, "r%d", b);
        prev = pbuf;
    }
    n += (size_t)snprintf(t + n, cap - n,
                          "}\nworkload w {\n  batch = 2;\n  prompt = 16 tokens;\n  generate = 8 tokens;\n"
                          "  max_seq = 64 tokens;\n}\n");
    return t;
}

static Module *lower(Session *s, const char *text) {
    AstFile *f = fe_load_text(s, "pieces.h2", text, strlen(text));
    Selection sel = {0};
    Config *c = f ? fe_check(s, f, &sel) : NULL;
    if (!CHECK(c != NULL))
        return NULL;
    Module *m = ir_lower(c, s->diag);
    if (!CHECK(m != NULL) || !CHECK(ir_fill_shapes(m, s->diag)))
        return NULL;
    return m;
}

static bool same_plan(const DfPlan *a, const DfPlan *b) {
    if (a->nops != b->nops)
        return false;
    for (int i = 0; i < a->nops; i++)
        if (memcmp(&a->a[i], &b->a[i], sizeof a->a[i]) != 0 || a->order[i] != b->order[i])
            return false;
    return true;
}

static void threads_and_repeats(void) {
    Diag d;
    diag_init(&d, stderr);
    Session s;
    session_init(&s, &d);
    char *text = model_text(45); /* 225 ops: 8 pieces, of which pieces 5 and 6 repeat pieces 0 and 1 */
    Module *m = lower(&s, text);
    if (!m)
        return;
    const CostModel *cm = cost_model_get(CM_H2C);
    ModulePlan *one = calloc(1, sizeof *one), *two = calloc(1, sizeof *two);
    SearchOpts o = {.mode = DF_DATA_CENTRIC, .objective = OBJ_LATENCY, .capacity = true, .threads = 1};
    CHECK(df_search_module(m, cm, NULL, &o, one, &d));
    o.threads = 2;
    CHECK(df_search_module(m, cm, NULL, &o, two, &d));
    const DfLayer *l = &one->part[SCOPE_LAYER];
    CHECK_EQ(l->nops, 225);
    CHECK_EQ(l->npieces, 8);
    CHECK_EQ(one->sum.value, two->sum.value);
    for (int k = 0; k < l->npieces; k++)
        CHECK(same_plan(&one->each[SCOPE_LAYER][k].plan, &two->each[SCOPE_LAYER][k].plan));
    /* the repeats: equal problems (but for names and op numbers), and each plan is the one a search
       of that piece alone finds */
    for (int k = 5; k < 7; k++) {
        const DfProblem *p = &l->pieces[k], *q = &l->pieces[k - 5];
        CHECK_EQ(p->nops, q->nops);
        for (int i = 0; i < p->nops; i++)
            CHECK(p->ops[i].code == q->ops[i].code && p->ops[i].preds == q->ops[i].preds);
        CHECK(same_plan(&one->each[SCOPE_LAYER][k].plan, &one->each[SCOPE_LAYER][k - 5].plan));
        SearchResult alone;
        SearchOpts po = {.mode = DF_DATA_CENTRIC, .objective = OBJ_LATENCY, .capacity = true};
        long long work = DF_WORK_BUDGET;
        po.work_budget = work / l->npieces > work / 16 ? work / l->npieces : work / 16;
        po.skip_bound = true;
        CHECK(df_search(p, cm, &po, &alone, &d));
        CHECK(same_plan(&alone.plan, &one->each[SCOPE_LAYER][k].plan));
        CHECK_EQ(alone.value, one->each[SCOPE_LAYER][k].value);
    }
    df_module_plan_free(one);
    df_module_plan_free(two);
    free(one);
    free(two);
    ir_module_free(m);
    free(text);
    session_free(&s);
}

static void scope_limit(void) {
    /* DF_MAX_SCOPE_OPS + 4 ops: refused by the search, with the count and the limit */
    char *text = model_text(DF_MAX_SCOPE_OPS / 5 + 1);
    Diag d;
    diag_init(&d, stderr);
    Session s;
    session_init(&s, &d);
    Module *m = lower(&s, text);
    if (m) {
        char *out = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&out, &len);
        Diag q;
        diag_init(&q, mem);
        ModulePlan *mp = calloc(1, sizeof *mp);
        SearchOpts o = {.mode = DF_DATA_CENTRIC, .objective = OBJ_LATENCY, .capacity = true};
        CHECK(!df_search_module(m, cost_model_get(CM_H2C), NULL, &o, mp, &q));
        fclose(mem);
        CHECK(strstr(out, "the layer has 4100 ops; the dataflow search takes at most 4096 ops per scope") != NULL);
        df_module_plan_free(mp);
        free(mp);
        free(out);
        ir_module_free(m);
    }
    session_free(&s);
    free(text);
}

int main(void) {
    threads_and_repeats();
    scope_limit();
    return test_done();
}
