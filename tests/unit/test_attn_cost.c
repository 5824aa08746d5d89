/* test_attn_cost.c: the h2c model's price of decode attention under a plan (cost/cost_attn.c),
 * against numbers worked out by hand, then the plan's layer classes on hand-written IR.
 *
 * The device: PEs of 8 FPUs x 16 MACs at 600 MHz (R = 76.8 GMAC/s) reading 25.6 GB/s from their
 * bank; channels of 12.8 GB/s at 70% (8.96 GB/s) to the NPU; transfer links of 12.8 GB/s; an NPU
 * of 128 TMAC/s at 70% (89.6 TMAC/s) with a vector unit of 1e12 operations/s; 2 NMP channels of 4
 * banks; fp16 (2 bytes); g = 4 query heads per KV head of d = 128. Energies, picked to add up by
 * hand: dram.read 0.5, hb.io 1, channel.io 2, dram.on_die 3, sram.access 0.1 pJ/bit; pe.mac 1,
 * npu.mac 0.5 pJ/MAC.
 *
 * One layer, two heads, batch 1, at a context of 1024 tokens:
 *   head 0 dense, 2 tiles in ch0.b0 and ch1.b0: 512 tokens each: 512 x 2 x 128 x 2 = 262144 B,
 *     10.24 us at 25.6 GB/s; 512 x 4 x 128 x 2 = 524288 MACs, 6.83 us: the tile takes 10.24 us;
 *   head 1 static (sink 64, window 192), 1 tile in ch0.b1: 256 tokens, 131072 B, 5.12 us.
 *   PE loads 10.24, 10.24, 5.12 us: makespan 10.24 us; mean over the 8 PEs 25.6 / 8 = 3.2 us; the
 *   bound max(3.2, 10.24) = 10.24 us.
 *   In, over the links: a query (4 x 128 x 2 = 1024 B) per stream and channel, the new K and V
 *   (2 x 128 x 2 = 512 B per stream) spread over its tiles: ch0 1024 + 256 + 1024 + 512 = 2816 B
 *   (0.22 us), ch1 1024 + 256 = 1280 B: t_in = 0.22 us.
 *   Out: a state of 4 x 129 x 4 = 2064 B per stream and PE: ch0 two (4128 B, 0.3225 us), ch1 one:
 *   t_out = 0.3225 us. Merge: 3 states x 4 x 130 x 3 = 4680 operations, 4.68 ns.
 *   Time 0.22 + 10.24 + 0.3225 + 0.00468 = 10.78718 us.
 *   Energy: read 655360 B from the banks and wrote 1024 B through the bonds: dram.read
 *   656384 x 8 x 0.5 = 2625536 pJ, hb.io 5251072 pJ; moved over the links 4096 + 6192 = 10288 B:
 *   channel.io 164608 pJ; 1310720 PE MACs: 1310720 pJ; 4680 merge operations at 0.5: 2340 pJ;
 *   SRAM: 3 states written and read, 2 x 3 x 2064 x 8 x 0.1 = 9907.2 pJ.
 * Head 1 dynamic instead (page 16, budget 128: 8 pages): 128 tokens and the bounds of all 64 pages
 * (each page's two key vectors cost what a token's K and V do): 192 x 512 = 98304 B, 3.84 us; the
 * scores out, 64 x 4 = 256 B (0.02 us), top-k 64 x 4 = 256 operations (0.256 ns), the list back,
 * 8 x 4 = 32 B (2.5 ns): t_select = 0.022756 us. Its new key goes again to its page's tile: ch0
 * gets 1024 + 256 + 1024 + 768 = 3072 B in (0.24 us). Time 0.24 + 10.24 + 0.022756 + 0.3225 +
 * 0.00468 = 10.829936 us.
 * Head 0 read by the NPU instead (the naive placement): each channel carries 262144 B of its tile
 * and 256 B of its new K and V: 262400 / 8.96 GB/s = 29.2857 us, far above its MACs on the NPU.
 *
 * Then the plan's rule for where each token lives (attn_token_tile: token t in tile t mod n, a
 * static head's window a ring of slots), checked with the reference runtime: attention computed
 * tile by tile over the tokens each tile holds and merged by the log-sum-exp rule equals attention
 * over the pattern's tokens in fp64 (every attended token in exactly one tile, for every query
 * head of the group). */
#include "passes.h"
#include "runtime.h"
#include "test.h"

#include <stdlib.h>

static EnergyEntry energies[EF_COUNT_];

static AttnDev device(void) {
    AttnDev d;
    memset(&d, 0, sizeof d);
    d.pe_rate = 8 * 16 * 600e6;
    d.pe_bw = 25.6e9;
    d.ch_bw = 12.8e9 * 0.7;
    d.xfer = 12.8e9;
    d.npu = 128e12 * 0.7;
    d.vec = 128e12 / 128;
    d.es = 2;
    d.g = 4;
    d.d = 128;
    d.channels = 2;
    d.banks = 4;
    d.pe_banks = 1;
    d.nmp = 2;
    d.pes = CHAN_BIT(0) | CHAN_BIT(1);
    energies[EF_dram_read].value = 0.5;
    energies[EF_hb_io].value = 1;
    energies[EF_channel_io].value = 2;
    energies[EF_dram_on_die].value = 3;
    energies[EF_sram_access].value = 0.1;
    energies[EF_npu_mac].value = 0.5;
    d.e = energies;
    d.e_pe_mac = 1;
    return d;
}

static void by_hand(void) {
    AttnDev dev = device();
    BankRef two[2] = {{0, 0}, {1, 0}}, one[1] = {{0, 1}};
    AttnStream s[2] = {{{PAT_DENSE, 0, 0, 0, 0}, 2, two, {EXEC_NONE, 0, -1}},
                       {{PAT_STATIC, 64, 192, 0, 0}, 1, one, {EXEC_NONE, 0, -1}}};
    AttnLayerCost c;
    attn_layer_cost(&dev, s, 2, 1024, &c);
    CHECK_NEAR(10.24e-6, c.makespan, 1e-15);
    CHECK_NEAR(3.2e-6, c.mean, 1e-15);
    CHECK_NEAR(10.24e-6, c.lower, 1e-15);
    CHECK_NEAR(0.22e-6, c.t_in, 1e-15);
    CHECK_NEAR(10.24e-6, c.t_main, 1e-15);
    CHECK_NEAR(0, c.t_select, 1e-18);
    CHECK_NEAR(0.3225e-6, c.t_out, 1e-15);
    CHECK_NEAR(4.68e-9, c.t_merge, 1e-18);
    CHECK_NEAR(10.78718e-6, c.time, 1e-14);
    CHECK_EQ(c.states, 3);
    CHECK_EQ(c.tiles, 3);
    CHECK_EQ(c.pes_used, 3);
    CHECK_NEAR(655360, c.kv_bytes, 1e-6);
    CHECK_NEAR(655360 + 1024 + 10288, c.bytes, 1e-6);
    CHECK_NEAR(2625536, c.pj[EF_dram_read], 1e-6);
    CHECK_NEAR(5251072, c.pj[EF_hb_io], 1e-6);
    CHECK_NEAR(0, c.pj[EF_dram_on_die], 1e-9);
    CHECK_NEAR(164608, c.pj[EF_channel_io], 1e-6);
    CHECK_NEAR(1310720, c.pj[EF_pe_mac], 1e-6);
    CHECK_NEAR(2340, c.pj[EF_npu_mac], 1e-9);
    CHECK_NEAR(9907.2, c.pj[EF_sram_access], 1e-6);

    /* head 1 dynamic */
    s[1].pat = (Pattern){PAT_DYNAMIC, 0, 0, 16, 128};
    attn_layer_cost(&dev, s, 2, 1024, &c);
    CHECK_NEAR(10.24e-6, c.makespan, 1e-15);
    CHECK_NEAR(0.24e-6, c.t_in, 1e-15);
    CHECK_NEAR(0.022756e-6, c.t_select, 1e-16);
    CHECK_NEAR(10.829936e-6, c.time, 1e-14);
    /* below its budget a dynamic head attends every token and scores nothing */
    attn_layer_cost(&dev, s, 2, 100, &c);
    CHECK_NEAR(0, c.t_select, 1e-18);

    /* head 0 read by the NPU */
    s[0].by = (Exec){EXEC_NPU, 0, -1};
    s[1].pat = (Pattern){PAT_STATIC, 64, 192, 0, 0};
    attn_layer_cost(&dev, s, 2, 1024, &c);
    CHECK_NEAR(262400 / 8.96e9, c.t_main, 1e-15);
    CHECK_NEAR(5.12e-6, c.makespan, 1e-15);
    CHECK_EQ(c.states, 2);  /* one of the NPU's for head 0, one from ch0.b1 */
}

/* A plan read from IR text: its layer classes, and every layer's cost the sum of theirs. */
static void classes(void) {
    Diag d;
    diag_init(&d, stderr);
    size_t len = 0;
    FILE *f = fopen("tests/ir/good/attention.h2ir", "rb");
    CHECK(f != NULL);
    if (!f)
        return;
    char *text = malloc(1 << 16);
    len = fread(text, 1, 1 << 16, f);
    fclose(f);
    Module *m = ir_parse("attention.h2ir", text, len, &d);
    free(text);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK(pass_shapes(m, &d));
    AttnCost *c = attn_cost_new(m, &m->attns[0]);
    CHECK(c != NULL);
    /* lines end at layers 0, 1 and 2: two classes, layer 0 and layer 1 */
    CHECK_EQ(attn_cost_classes(c), 2);
    AttnLayerCost all, one, sum;
    memset(&sum, 0, sizeof sum);
    for (int k = 0; k < attn_cost_classes(c); k++) {
        Range r;
        attn_cost_class(c, k, 48, &r, &one);
        CHECK_EQ(r.hi - r.lo, 1);
        attn_cost_add(&sum, &one, 1);
    }
    attn_cost_all(c, 48, &all);
    CHECK_NEAR(sum.time, all.time, 1e-18);
    CHECK_NEAR(sum.kv_bytes, all.kv_bytes, 1e-9);
    CHECK(attn_cost_uses_pes(c));
    attn_cost_free(c);
    ir_module_free(m);
}

static unsigned long long rng = 12345;
static float frand(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2 - 1);
}

/* Tiled attention over a pattern's tokens, each in the tile attn_token_tile gives it, against the
 * fp64 oracle over the same tokens. */
static void tokens_in_tiles(void) {
    enum { D = 16, G = 4, CTX = 700 };
    static float k[CTX * D], v[CTX * D], q[G * D];
    for (int i = 0; i < CTX * D; i++) {
        k[i] = frand();
        v[i] = frand();
    }
    for (int i = 0; i < G * D; i++)
        q[i] = frand();
    const Pattern pats[] = {{PAT_DENSE, 0, 0, 0, 0}, {PAT_STATIC, 4, 60, 0, 0}, {PAT_STATIC, 0, 33, 0, 0},
                            {PAT_DYNAMIC, 0, 0, 16, 128}};
    static int tokens[CTX], grouped[CTX], start[65];
    for (size_t pi = 0; pi < sizeof pats / sizeof pats[0]; pi++) {
        const Pattern *p = &pats[pi];
        /* the attended tokens: all, sink + window, or the pages Quest picks */
        int nt = 0;
        if (p->kind == PAT_STATIC) {
            nt = rt_static_tokens(CTX, p->sink, p->window, tokens);
        } else if (p->kind == PAT_DYNAMIC) {
            int pages = rt_pages(CTX, p->page);
            static float kmin[CTX * D], kmax[CTX * D], score[CTX];
            static int sel[CTX];
            rt_quest_meta_build(k, CTX, D, p->page, kmin, kmax);
            rt_quest_scores(q, G, D, kmin, kmax, pages, score);
            int ns = rt_quest_top_pages(score, pages, rt_quest_pages_for_budget(p->budget, p->page), sel);
            nt = rt_quest_tokens(sel, ns, p->page, CTX, tokens);
        } else {
            for (int t = 0; t < CTX; t++)
                tokens[nt++] = t;
        }
        double want_o[G * D], want_lse[G];
        rt_attn_f64(q, G, D, k, v, tokens, NULL, nt, rt_attn_scale(D), want_o, want_lse);
        for (int n = 1; n <= 64; n *= 4) {
            /* the tokens grouped by tile */
            int at = 0;
            for (int j = 0; j < n; j++) {
                start[j] = at;
                for (int i = 0; i < nt; i++)
                    if (attn_token_tile(p, tokens[i], n) == j)
                        grouped[at++] = tokens[i];
            }
            start[n] = at;
            CHECK_EQ(at, nt);
            float *work = malloc(sizeof(float) * rt_tiled_work(n, G, D));
            float o[G * D], lse[G];
            rt_attn_tiled(q, G, D, k, v, grouped, NULL, start, n, rt_attn_scale(D), RT_MERGE_TREE, work, o, lse);
            free(work);
            double err = 0;
            for (int i = 0; i < G * D; i++)
                err = fmax(err, fabs(o[i] - want_o[i]));
            for (int h = 0; h < G; h++)
                err = fmax(err, fabs(lse[h] - want_lse[h]) / fmax(1, fabs(want_lse[h])));
            CHECK(err < 1e-5);
        }
    }
    /* a static head's ring: the window's slots are reused as the context grows */
    Pattern st = {PAT_STATIC, 4, 60, 0, 0};
    CHECK_EQ(attn_token_tile(&st, 3, 8), 3);
    CHECK_EQ(attn_token_tile(&st, 64, 8), 4);      /* slot 4 + (64 - 4) mod 60 = 4 */
    CHECK_EQ(attn_token_tile(&st, 70, 8), 2);      /* slot 10 */
}

int main(void) {
    by_hand();
    classes();
    tokens_in_tiles();
    return test_done();
}
