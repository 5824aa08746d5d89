/* test_schedule.c: the backend's schedule and the runtime's reader on examples/tiny.h2, against
 * numbers worked out by hand: the memory map (whole rows and interleaved tokens per bank), the
 * context expression of a bank's tokens, a command's estimate; an attention plan's streams and rows
 * (tests/schedule/plan-tiny.h2: dense, static and dynamic heads); then the reader keeps every byte, and
 * both the backend and the reader survive running out of memory at any allocation (sampled; tiny's and
 * plan-tiny's), with nothing left allocated. Run from the repository root (ctest does). */
#include "backend.h"
#include "frontend.h"
#include "runtime.h"

#include <stdlib.h>
#include <string.h>

#include "oom_hook.h"
#include "test.h"

static Module *load(Session *s, Diag *d, const char *path) {
    session_init(s, d);
    AstFile *root = fe_load(s, path);
    Config *c = root ? fe_check(s, root, NULL) : NULL;
    Module *m = c ? ir_lower(c, d) : NULL;
    PipelineOpts po = {NULL, NULL, false, false, true, stderr};
    if (m && !pipeline_run(m, default_pipeline, default_pipeline_len, &po, d)) {
        ir_module_free(m);
        m = NULL;
    }
    return m;
}

/* The memory map of tiny (examples/tiny.h2: fp16, 2 channels of 4 banks, 4 MiB each). */
static void test_memmap(const Module *m) {
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d, stderr);
    MemMap map;
    CHECK(map_build(&a, m, &map, &d));
    /* %w.q [256, 256]: the dataflow keeps columns 0..215 on channel 0 (its 4 banks) and 216..255 on
       channel 1. Bank j of channel 0 holds 216 / 4 = 54 whole output rows of W, 256 fp16 each:
       54 x 512 = 27648 bytes a layer; channel 1's banks hold 10 rows, 5120 bytes. */
    int q = ir_find_tensor(m, "w.q");
    const MapTile *t = map_tile(&map, q, 0);
    CHECK_EQ(t->layout, MAP_ROWS);
    CHECK_EQ(t->nregions, 4);
    CHECK_EQ(t->row_bytes, 512);
    for (int j = 0; j < 4; j++) {
        CHECK_EQ(t->regions[j].lo, 54 * j);
        CHECK_EQ(t->regions[j].hi, 54 * (j + 1));
        CHECK_EQ(t->regions[j].bytes, 27648);
        CHECK_EQ(t->regions[j].stride, 27648);     /* already a multiple of 64 */
        CHECK_EQ(t->regions[j].addr % SCHED_ALIGN, 0);
    }
    CHECK_EQ(map_tile(&map, q, 1)->regions[0].bytes, 10 * 512);
    /* %w.f1 [256, 512], columns 0..432 on channel 0: 433 = 4 x 108 + 1, so bank 0 holds 109 rows */
    const MapTile *f1 = map_tile(&map, ir_find_tensor(m, "w.f1"), 0);
    CHECK_EQ(f1->regions[0].hi - f1->regions[0].lo, 109);
    CHECK_EQ(f1->regions[3].hi - f1->regions[3].lo, 108);
    CHECK_EQ(f1->regions[0].stride, 55808);     /* 109 x 512 = 55808 = 872 x 64 */
    /* the K cache [2 KV heads, 2 batch, 64 tokens, 64]: tile 0 is KV head 0, both sequences, on channel 0's
       4 banks: a bank holds ceil(64 / 4) = 16 tokens of each of the 2 pairs: 2 x 16 x 128 = 4096 bytes */
    const MapTile *k = map_tile(&map, ir_find_tensor(m, "kv.kr"), 0);
    CHECK_EQ(k->layout, MAP_TOKENS);
    CHECK_EQ(k->cap, 16);
    CHECK_EQ(k->nbanks, 4);
    CHECK_EQ(k->regions[2].lo, 2);      /* bank 2 holds tokens 2, 6, 10, ... */
    CHECK_EQ(k->regions[2].bytes, 4096);
    /* a norm's scale: 256 f32 over the 8 banks of both channels, 32 each */
    const MapTile *n1 = map_tile(&map, ir_find_tensor(m, "w.n1"), 0);
    CHECK_EQ(n1->layout, MAP_VECTOR);
    CHECK_EQ(n1->nregions, 8);
    CHECK_EQ(n1->regions[7].lo, 224);
    CHECK_EQ(n1->regions[7].bytes, 128);
    /* no two regions of a bank overlap, over all their layers */
    for (int i = 0; i < map.ntiles; i++)
        for (int r = 0; r < map.tiles[i].nregions; r++)
            for (int i2 = 0; i2 < map.ntiles; i2++)
                for (int r2 = 0; r2 < map.tiles[i2].nregions; r2++) {
                    const MapRegion *x = &map.tiles[i].regions[r], *y = &map.tiles[i2].regions[r2];
                    if ((i == i2 && r == r2) || x->channel != y->channel || x->bank != y->bank)
                        continue;
                    long long xe = x->addr + x->stride * m->tensors[map.tiles[i].tensor].layers;
                    long long ye = y->addr + y->stride * m->tensors[map.tiles[i2].tensor].layers;
                    if (!(xe <= y->addr || ye <= x->addr))
                        CHECK(!"two regions of a bank overlap");
                }
    arena_free(&a);
}

/* The schedule, read back by the runtime. */
static void test_schedule(const Module *m) {
    Diag d;
    diag_init(&d, stderr);
    Schedule *s = be_schedule_build(m, "tiny", &d);
    if (!CHECK(s != NULL))
        return;
    JsonText t;
    CHECK(be_schedule_render(s, &t));
    RtSchedule *r = rt_schedule_parse("tiny.schedule.json", t.text, t.len, &d);
    if (CHECK(r != NULL)) {
        /* the same bytes again */
        RtText again;
        CHECK(rt_schedule_render(r, &again));
        CHECK(again.len == t.len && memcmp(again.text, t.text, t.len) == 0);
        rt_text_free(&again);
        /* decode: one step per token, valid up to the cache's 64 tokens; the layer body runs twice */
        const RtPhase *dc = &r->phase[1];
        CHECK_EQ(dc->ctx_first, 17);
        CHECK_EQ(dc->ctx_last, 24);
        CHECK_EQ(dc->ctx_max, 64);
        CHECK_EQ(dc->body[RT_SCHED_LAYER].repeat, 2);
        /* each PE's attention reads the tokens of its bank: bank j of 4 holds the t < ctx with t mod 4 == j;
           at ctx 17 bank 0 holds 0, 4, 8, 12, 16 (5) and bank 3 holds 3, 7, 11, 15 (4) */
        int seen = 0;
        for (int st = 0; st < dc->body[RT_SCHED_LAYER].nstreams; st++) {
            const RtStream *str = &dc->body[RT_SCHED_LAYER].streams[st];
            for (int c = 0; c < str->ncmds; c++) {
                const RtCmd *cmd = &str->cmds[c];
                if (cmd->kind != RT_KERNEL || r->kernels[cmd->kernel].desc.kind != KK_ATTN || str->link ||
                    r->dev.units[str->id].kind != RT_UNIT_PE)
                    continue;
                int bank = r->dev.units[str->id].bank_lo;
                int64_t want17 = bank == 0 ? 5 : 4;
                CHECK_EQ(rt_expr_eval(cmd->args[2], 17), want17);
                CHECK_EQ(rt_expr_eval(cmd->args[2], 64), 16);
                seen++;
            }
        }
        CHECK(seen >= 4);
        /* a PE's GEMM over its 54 rows of %w.q at batch 2: 2 x 54 x 256 = 27648 MACs at 2 FPUs x 16 x 500 MHz
           (1.728 us), and 27648 bytes over the 12.8 GB/s bond (2.16 us): the bond decides */
        bool found = false;
        for (int st = 0; st < dc->body[RT_SCHED_LAYER].nstreams && !found; st++) {
            const RtStream *str = &dc->body[RT_SCHED_LAYER].streams[st];
            for (int c = 0; c < str->ncmds && !found; c++) {
                const RtCmd *cmd = &str->cmds[c];
                if (cmd->kind == RT_KERNEL && strcmp(r->kernels[cmd->kernel].name, "gemm_f16_m2_k256_n54") == 0) {
                    CHECK_NEAR(2.16e-6, cmd->est.plus, 1e-15);
                    CHECK_EQ(cmd->est.ctx, 0);
                    found = true;
                }
            }
        }
        CHECK(found);
        rt_schedule_free(r);
    }
    int n;
    const KernelDesc *k = be_schedule_kernels(s, &n);
    CHECK(n > 10);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            CHECK(!be_kernel_equal(&k[i], &k[j]));     /* one description per distinct op tile */
    be_json_text_free(&t);
    be_schedule_free(s);
}

/* tests/schedule/plan-tiny.h2: tiny's model at max_seq 2064 with a plan. Layer 0 is dense (each KV head
   over 2 banks), layer 1 has head 0 static (16 sink + 112 window tokens, one bank) and head 1 dynamic
   (pages of 16 tokens, over 3 banks). */
static void test_plan(const Module *m) {
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d, stderr);
    MemMap map;
    if (!CHECK(map_build(&a, m, &map, &d))) {
        arena_free(&a);
        return;
    }
    CHECK_EQ(map.nstreams, 4);
    /* dense: ceil(2064 / 2) = 1032 keys and values a bank, 128 bytes each: 2 x 1032 x 128 = 264192 */
    const MapStream *dn = map_stream_at(&map, m, 0, 0, 1, 0);
    if (CHECK(dn != NULL)) {
        CHECK_EQ(dn->n, 2);
        CHECK_EQ(dn->cap, 1032);
        CHECK_EQ(dn->pages, 0);
        CHECK_EQ(dn->bytes, 264192);
    }
    /* static: a ring of 16 + 112 = 128 slots on one bank: 2 x 128 x 128 = 32768 */
    const MapStream *st = map_stream_at(&map, m, 0, 1, 0, 0);
    if (CHECK(st != NULL)) {
        CHECK_EQ(st->n, 1);
        CHECK_EQ(st->cap, 128);
        CHECK_EQ(st->bytes, 32768);
    }
    /* dynamic: ceil(2064 / 3) = 688 tokens and ceil(ceil(2064 / 16) / 3) = 43 pages of min and max keys a
       bank: 2 x (688 + 43) x 128 = 187136 */
    const MapStream *dy = map_stream_at(&map, m, 0, 1, 1, 0);
    if (CHECK(dy != NULL)) {
        CHECK_EQ(dy->n, 3);
        CHECK_EQ(dy->cap, 688);
        CHECK_EQ(dy->pages, 43);
        CHECK_EQ(dy->bytes, 187136);
        CHECK_EQ(dy->regions[1].addr % SCHED_ALIGN, 0);
    }
    arena_free(&a);

    Schedule *s = be_schedule_build(m, "plan-tiny", &d);
    if (!CHECK(s != NULL))
        return;
    JsonText t;
    CHECK(be_schedule_render(s, &t));
    RtSchedule *r = rt_schedule_parse("plan-tiny.schedule.json", t.text, t.len, &d);
    if (CHECK(r != NULL)) {
        CHECK_EQ(r->nattns, 1);
        CHECK_EQ(r->nstreams, 4);
        /* decode's PE attention, per layer range: layer 0 over 1032-row banks (ceil(ctx / 2) rows on bank
           0), layer 1's static head over min(ctx, 128) slots, its dynamic head over Quest's selection: 3
           tiles do not divide pages of 16, so each PE reads floor(256 / 16) = 16 pages as its local rows,
           at most ceil(16 / 3) = 6 a page (96 entries), below the ceil(ctx / 3) rows bank 0 holds */
        const RtBody *b = &r->phase[1].body[RT_SCHED_LAYER];
        int dense = 0, ring = 0, dyn = 0, merges = 0, metas = 0, scores = 0, topks = 0, rowss = 0;
        for (int i = 0; i < b->nstreams; i++)
            for (int c = 0; c < b->streams[i].ncmds; c++) {
                const RtCmd *cmd = &b->streams[i].cmds[c];
                if (cmd->kind != RT_KERNEL)
                    continue;
                const KernelDesc *k = &r->kernels[cmd->kernel].desc;
                if (k->kind == KK_MERGE)
                    merges++;
                if (k->kind == KK_PAGE_META) {   /* the PE of page floor((ctx - 1) / 16) mod 3 (ctx 1921: page 120) */
                    metas++;
                    CHECK(cmd->has_when);
                    CHECK_EQ(cmd->when.div, 16);
                    CHECK_EQ(cmd->when.mod, 3);
                    CHECK_EQ(cmd->when_eq, r->dev.units[b->streams[i].id].bank_lo);
                    CHECK_EQ(k->meta.interleave, 3);
                    CHECK(rt_cmd_runs(cmd, 1, 1921 + 16 * cmd->when_eq));
                    CHECK(!rt_cmd_runs(cmd, 1, 1937 + 16 * cmd->when_eq));
                }
                if (k->kind == KK_PAGE_SCORE) {  /* tile j scores pages j, j + 3, ...: (ceil(ctx/16) + 2 - j) / 3 */
                    int j = r->dev.units[b->streams[i].id].bank_lo;
                    scores++;
                    CHECK_EQ(rt_expr_eval(cmd->args[0], 2049), (129 + 2 - j) / 3);
                }
                if (k->kind == KK_TOPK) {
                    topks++;
                    CHECK_EQ(k->topk.k, 16);
                    CHECK_EQ(rt_expr_eval(cmd->args[0], 2049), 129);
                }
                if (k->kind == KK_PAGE_ROWS) {
                    rowss++;
                    CHECK_EQ(rt_expr_eval(cmd->args[0], 0), r->dev.units[b->streams[i].id].bank_lo);
                }
                if (k->kind != KK_ATTN || b->streams[i].link || r->dev.units[b->streams[i].id].kind != RT_UNIT_PE)
                    continue;
                int bank = r->dev.units[b->streams[i].id].bank_lo;
                int64_t n2049 = rt_expr_eval(cmd->args[2], 2049), n64 = rt_expr_eval(cmd->args[2], 64);
                if (cmd->layers[0] == 0) {
                    CHECK_EQ(cmd->layers[1], 1);
                    CHECK_EQ(n2049, 1025 - bank % 2);
                    dense++;
                } else if (n2049 == 128) {
                    CHECK_EQ(n64, 64);
                    ring++;
                } else {
                    RtExpr rows = cmd->args[2];
                    rows.page_rows = 0;
                    CHECK(k->attn.page == 1 && !k->attn.causal);
                    CHECK_EQ(cmd->args[2].page_rows, 1);
                    CHECK_EQ(cmd->args[2].sel.bytes, 96 * 4);
                    if (bank == 0)
                        CHECK_EQ(rt_expr_eval(rows, 2050), 684);
                    CHECK_EQ(rt_expr_eval(rows, 2049), 683);
                    CHECK_EQ(n2049, 96);
                    dyn++;
                }
            }
        CHECK_EQ(dense, 4);
        CHECK_EQ(ring, 1);
        CHECK_EQ(dyn, 3);
        CHECK_EQ(metas, 3);
        CHECK_EQ(scores, 3);
        CHECK_EQ(topks, 1);
        CHECK_EQ(rowss, 3);
        CHECK(merges >= 4);     /* a stream's partials merged on the NPU */
        rt_schedule_free(r);
    }
    be_json_text_free(&t);
    be_schedule_free(s);
}

/* ---------------------------------------------------------------- running out of memory */

static const char *const oom_what[3] = {"build", "read", "write"};

/* Fails allocation n of a schedule build (what = 0), a read (1) or the reader's writing it again (2);
 * true if the run succeeded. */
static bool oom_once(const Module *m, const JsonText *t, int what, long n, long *calls) {
    Hook h = {0, n, 0, false};
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    Diag d;
    diag_init(&d, f);
    RtSchedule *read = what == 2 ? rt_schedule_parse("tiny.schedule.json", t->text, t->len, &d) : NULL;
    h2c_set_allocator(hook_alloc, &h);
    bool ok;
    if (what == 0) {
        Schedule *s = be_schedule_build(m, "tiny", &d);
        ok = s != NULL;
        be_schedule_free(s);
    } else if (what == 1) {
        RtSchedule *r = rt_schedule_parse("tiny.schedule.json", t->text, t->len, &d);
        ok = r != NULL;
        rt_schedule_free(r);
    } else {
        RtText again;
        ok = rt_schedule_render(read, &again);
        if (ok)
            rt_text_free(&again);
        else
            diag_error(&d, NOLOC, "out of memory");    /* as h2c validate --dump says it */
    }
    h2c_set_allocator(NULL, NULL);
    rt_schedule_free(read);
    fclose(f);
    if (h.failed && (ok || !strstr(out, "out of memory"))) {
        test_fail(__FILE__, __LINE__, "a failed allocation is reported as \"out of memory\"");
        fprintf(stderr, "    %s, allocation %ld: ok %d, output: %s\n", oom_what[what], n, ok, out);
    }
    if (!h.failed && !ok)
        test_fail(__FILE__, __LINE__, "with no failed allocation the run succeeds");
    if (h.live != 0) {
        test_fail(__FILE__, __LINE__, "every block is freed");
        fprintf(stderr, "    %s, allocation %ld failed: %ld blocks left\n", oom_what[what], n, h.live);
    }
    test_checks += 3;
    free(out);
    *calls = h.calls;
    return !h.failed;
}

static void test_oom(const Module *m) {
    Diag d;
    diag_init(&d, stderr);
    Schedule *s = be_schedule_build(m, "tiny", &d);
    JsonText t;
    if (!CHECK(s && be_schedule_render(s, &t)))
        return;
    be_schedule_free(s);
    for (int what = 0; what < 3; what++) {
        long total;
        oom_once(m, &t, what, 0, &total);   /* count the allocations of a whole run */
        /* every one of the first 300, then a sample spread over the rest */
        long step = total / 400 + 1, runs = 0;
        for (long n = 1; n <= total; n += n < 300 ? 1 : step, runs++) {
            long calls;
            oom_once(m, &t, what, n, &calls);
        }
        fprintf(stderr, "%s: %ld allocations, %ld runs with one failing\n", oom_what[what], total, runs);
        CHECK(total > 300);
    }
    be_json_text_free(&t);
}

/* The runtime's evaluation of what only a step knows (docs/schedule.md §4.2, §7): expressions with
 * `mod`, `when` predicates, and the rows a selection of pages gives a tile, by hand. */
static void test_runtime_exprs(void) {
    /* the PE of residue j of n = 3 tiles updates page floor((ctx - 1) / 16) when it is j mod 3 */
    RtExpr w = {.ctx = 1, .plus = -1, .div = 16, .mod = 3};
    CHECK_EQ(rt_expr_eval(w, 1), 0);     /* token 0: page 0 */
    CHECK_EQ(rt_expr_eval(w, 16), 0);    /* token 15: page 0 */
    CHECK_EQ(rt_expr_eval(w, 17), 1);    /* token 16: page 1 */
    CHECK_EQ(rt_expr_eval(w, 49), 0);    /* token 48: page 3 = 0 mod 3 */
    CHECK_EQ(rt_expr_eval(w, 0), 2);     /* floor(-1 / 16) = -1 = 2 mod 3: a floor modulo, never negative */
    RtExpr neg = {.ctx = 1, .plus = -10, .div = 1, .mod = 4};
    CHECK_EQ(rt_expr_eval(neg, 3), 1);   /* -7 mod 4 */
    RtCmd c;
    memset(&c, 0, sizeof c);
    c.has_when = true;
    c.when = w;
    c.when_eq = 1;
    CHECK(!rt_cmd_runs(&c, 0, 16));
    CHECK(rt_cmd_runs(&c, 0, 17));
    CHECK(rt_cmd_runs(&c, 0, 32));
    CHECK(!rt_cmd_runs(&c, 0, 33));
    c.layers[0] = 1;
    c.layers[1] = 2;
    CHECK(!rt_cmd_runs(&c, 0, 17));      /* both: its layers and its predicate */
    CHECK(rt_cmd_runs(&c, 1, 17));
    c.has_when = false;
    CHECK(rt_cmd_runs(&c, 1, 16));

    /* a tile of pages of 8 local rows (P = 16 over n = 2 tiles) holding 37 rows: pages 0..3 full, page 4
       has 5 rows */
    int32_t full[] = {0, 2, 4, -1, -1};
    CHECK_EQ(rt_sel_rows(full, 5, 8, 37), 8 + 8 + 5);
    int32_t all[] = {0, 1, 2, 3, 4};
    CHECK_EQ(rt_sel_rows(all, 5, 8, 37), 37);
    int32_t empty_last[] = {1, 5};       /* page 5 holds none of this tile's rows yet */
    CHECK_EQ(rt_sel_rows(empty_last, 2, 8, 40), 8);
    CHECK_EQ(rt_sel_rows(full, 0, 8, 37), 0);
    int32_t none[] = {-1, -1};
    CHECK_EQ(rt_sel_rows(none, 2, 8, 37), 0);
    int32_t unsorted[] = {2, 0};
    CHECK_EQ(rt_sel_rows(unsorted, 2, 8, 37), -1);
    int32_t twice[] = {2, 2};
    CHECK_EQ(rt_sel_rows(twice, 2, 8, 37), -1);
    int32_t hole[] = {0, -1, 3};
    CHECK_EQ(rt_sel_rows(hole, 3, 8, 37), -1);
    int32_t bad[] = {0, -2};
    CHECK_EQ(rt_sel_rows(bad, 2, 8, 37), -1);
    int32_t short_mid[] = {4, 5};        /* rows 32..36 then page 5: 38 rows would need page 4 full */
    CHECK_EQ(rt_sel_rows(short_mid, 2, 8, 37), 5);
    CHECK_EQ(rt_sel_rows(short_mid, 2, 8, 41), 8 + 1);
    int32_t gap_short[] = {3, 4, 5};
    CHECK_EQ(rt_sel_rows(gap_short, 3, 8, 44), 8 + 8 + 4);
    CHECK_EQ(rt_sel_rows(NULL, 3, 8, 44), -1);
    /* the sel form through rt_expr_value: rows = floor((ctx + 1 - 0) / 2), page_rows 8, 3 entries */
    RtExpr e = {.ctx = 1, .plus = 1, .div = 2, .page_rows = 8};
    e.sel.bytes = 12;
    int32_t pick[] = {0, 3, 4};
    CHECK_EQ(rt_expr_value(e, 73, pick), 8 + 8 + 5);     /* 37 rows */
    CHECK_EQ(rt_expr_eval(e, 73), 24);                   /* the bound: 3 pages of 8 */
    CHECK_EQ(rt_expr_eval(e, 9), 5);                     /* the bound: 5 rows */
    RtExpr plain = {.ctx = 1, .plus = 1, .div = 2};
    CHECK_EQ(rt_expr_value(plain, 73, NULL), 37);
}

int main(void) {
    Diag d;
    diag_init(&d, stderr);
    test_runtime_exprs();
    Session s;
    Module *m = load(&s, &d, "examples/tiny.h2");
    if (!CHECK(m != NULL))
        return test_done();
    test_memmap(m);
    test_schedule(m);
    test_oom(m);
    ir_module_free(m);
    session_free(&s);
    m = load(&s, &d, "tests/schedule/plan-tiny.h2");
    if (CHECK(m != NULL)) {
        test_plan(m);
        test_oom(m);    /* the plan's streams, rings and page selection, out of memory anywhere */
    }
    ir_module_free(m);
    session_free(&s);
    return test_done();
}
