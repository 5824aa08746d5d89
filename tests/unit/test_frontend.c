/* test_frontend.c: the front end on in-memory text (fe_load_text + fe_check): resolved hardware
 * fields in base units, the model's op graph, workload, sparsity, explore, the selection, and
 * model_weight_bytes / model_kv_bytes against sizes worked out by hand. */
#include "frontend.h"

#include <stdlib.h>

#include "test.h"

/* One check run: a session whose diagnostics go to a memory buffer. */
typedef struct Run {
    Diag d;
    Session s;
    FILE *f;
    char *out;
    size_t len;
    Config *c;
} Run;

static Config *run(Run *r, const char *text, const Selection *sel) {
    r->out = NULL;
    r->f = open_memstream(&r->out, &r->len);
    diag_init(&r->d, r->f);
    session_init(&r->s, &r->d);
    AstFile *root = fe_load_text(&r->s, "test.h2", text, strlen(text));
    r->c = root && r->d.errors == 0 ? fe_check(&r->s, root, sel) : NULL;
    fflush(r->f);
    return r->c;
}

static void done(Run *r) {
    session_free(&r->s);
    fclose(r->f);
    free(r->out);
}

static int op_index(const Model *m, const char *name) {
    for (int i = 0; i < m->nops; i++)
        if (strcmp(m->ops[i].name, name) == 0)
            return i;
    return -2;
}

static const char hardware_text[] =
    "hardware dev {\n"
    "  precision = int8;\n"
    "  channels = 4 * 2;\n"
    "  bank_capacity = 256 MiB;\n"
    "  channel { bandwidth = 12.8 GB/s; utilization = 70%; }\n"
    "  npu.throughput = 128 TMAC/s;\n"
    "  nmp.channels = channels - 2;\n"
    "  pe { frequency = 600 MHz; bandwidth = 25.6 GB/s; fpus = 4; }\n"
    "  buffers.input = 32 KiB;\n"
    "  energy {\n"
    "    pe.mac = [(400 MHz, 1 pJ/MAC), (800 MHz, 2 pJ/MAC)] from \"table\";\n"
    "    hb.io = 880 fJ/bit from \"bond\";\n"
    "  }\n"
    "}\n";

static void test_hardware(void) {
    Run r;
    Config *c = run(&r, hardware_text, NULL);
    CHECK(c != NULL);
    CHECK_EQ(r.d.errors, 0);
    if (c) {
        const Hardware *hw = c->hw;
        CHECK_EQ(c->nhardware, 1);
        CHECK_STR(hw->name, "dev");
        CHECK_EQ(hw->precision, PREC_INT8);
        CHECK_EQ(hw->channels, 8);
        CHECK_EQ(hw->bank_capacity, 268435456.0);
        CHECK_EQ(hw->channel_bandwidth, 12.8e9);
        CHECK_EQ(hw->channel_utilization, 0.7);
        CHECK_EQ(hw->npu_throughput, 128e12);
        CHECK_EQ(hw->nmp_channels, 6);
        CHECK_EQ(hw->pe_frequency, 600e6);
        CHECK_EQ(hw->pe_bandwidth, 25.6e9);
        CHECK_EQ(hw->pe_fpus, 4);
        CHECK_EQ(hw->buffer_input, 32768.0);
        /* fields not written keep the artifact's defaults, with no location */
        CHECK_EQ(hw->banks_per_channel, 16);
        CHECK_EQ(hw->pe_simd, 16);
        CHECK_EQ(hw->npu_sram, 134217728.0);
        CHECK(hw->locs[HWF_banks_per_channel].file == NULL);
        CHECK_EQ(hw->locs[HWF_bank_capacity].line, 4);
        CHECK_EQ(hw->locs[HWF_bank_capacity].col, 19);
        /* the pe.mac table, and its value at the PE clock: halfway from 1 to 2 pJ */
        const EnergyEntry *pm = &hw->energy[EF_pe_mac];
        CHECK_EQ(pm->ntable, 2);
        CHECK_EQ(pm->table[0].freq, 400e6);
        CHECK_EQ(pm->table[1].pj, 2.0);
        CHECK_NEAR(1.5, pm->value, 1e-12);
        CHECK_STR(pm->source, "table");
        CHECK_EQ(energy_pe_mac(hw, 100e6), 1.0);    /* clamped at the ends */
        CHECK_EQ(energy_pe_mac(hw, 2e9), 2.0);
        CHECK_NEAR(1.25, energy_pe_mac(hw, 500e6), 1e-12);
        CHECK_EQ(hw->energy[EF_hb_io].value, 0.88);
        CHECK_STR(hw->energy[EF_hb_io].source, "bond");
        CHECK_EQ(hw->energy[EF_hb_io].loc.line, 12);
        /* an entry not written keeps its default and its source */
        CHECK_EQ(hw->energy[EF_npu_mac].value, 0.682);
        CHECK(hw->energy[EF_npu_mac].loc.file == NULL);
        /* no model: the defaults for the rest of the selection */
        CHECK(c->model == NULL);
        CHECK(c->workload != NULL && c->workload->batch == 4 && c->workload->max_seq == 2048);
    }
    done(&r);
}

/* Llama-3-8B as in examples/llama3-8b.h2, with the sg workload. */
static const char llama_text[] =
    "model llama3_8b {\n"
    "  layers = 32;\n"
    "  hidden = 4096;\n"
    "  intermediate = 14336;\n"
    "  heads = 32;\n"
    "  kv_heads = 8;\n"
    "  op q  = fc(x, out = heads * head_dim);\n"
    "  op k  = fc(x, out = kv_heads * head_dim);\n"
    "  op v  = fc(x, out = kv_heads * head_dim);\n"
    "  op qk = attn_score(q, k);\n"
    "  op sv = attn_value(qk, v);\n"
    "  op o  = fc(sv, out = hidden);\n"
    "  op f1 = fc(o, out = intermediate);\n"
    "  op f3 = fc(o, out = intermediate);\n"
    "  op f2 = fc(f1, f3, out = hidden);\n"
    "}\n"
    "workload sg { batch = 4; prompt = 783 tokens; generate = 209 tokens; max_seq = 2048 tokens; }\n"
    "workload he { batch = 1; prompt = 157 tokens; generate = 67 tokens; max_seq = 4096 tokens; }\n"
    "use workload sg;\n";

static void test_model(void) {
    Run r;
    Config *c = run(&r, llama_text, NULL);
    CHECK(c != NULL);
    CHECK_EQ(r.d.errors, 0);
    if (!c) {
        done(&r);
        return;
    }
    const Model *m = c->model;
    CHECK_STR(m->name, "llama3_8b");
    CHECK_EQ(m->layers, 32);
    CHECK_EQ(m->hidden, 4096);
    CHECK_EQ(m->intermediate, 14336);
    CHECK_EQ(m->heads, 32);
    CHECK_EQ(m->kv_heads, 8);
    CHECK_EQ(m->head_dim, 128);     /* not written: hidden / heads */
    CHECK_EQ(m->vocab, 0);
    CHECK_EQ(m->nops, 9);
    int q = op_index(m, "q"), k = op_index(m, "k"), v = op_index(m, "v"), qk = op_index(m, "qk"),
        sv = op_index(m, "sv"), o = op_index(m, "o"), f1 = op_index(m, "f1"), f3 = op_index(m, "f3"),
        f2 = op_index(m, "f2");
    CHECK(q == 0 && f2 == 8);
    /* inputs: -1 is the layer input x */
    CHECK(m->ops[q].ninputs == 1 && m->ops[q].inputs[0] == -1);
    CHECK(m->ops[qk].ninputs == 2 && m->ops[qk].inputs[0] == q && m->ops[qk].inputs[1] == k);
    CHECK(m->ops[sv].ninputs == 2 && m->ops[sv].inputs[0] == qk && m->ops[sv].inputs[1] == v);
    CHECK(m->ops[f2].ninputs == 2 && m->ops[f2].inputs[0] == f1 && m->ops[f2].inputs[1] == f3);
    /* kinds, value types and widths */
    CHECK_EQ(m->ops[q].kind, OPK_FC);
    CHECK_EQ(m->ops[qk].kind, OPK_ATTN_SCORE);
    CHECK_EQ(m->ops[qk].type, VT_SCORES);
    CHECK_EQ(m->ops[sv].type, VT_ACT);
    CHECK_EQ(m->ops[q].out, 4096);
    CHECK_EQ(m->ops[q].width, 4096);
    CHECK_EQ(m->ops[k].width, 1024);    /* 8 KV heads x 128 */
    CHECK_EQ(m->ops[v].width, 1024);
    CHECK_EQ(m->ops[sv].width, 4096);   /* heads x head_dim */
    CHECK_EQ(m->ops[o].width, 4096);
    CHECK_EQ(m->ops[f1].width, 14336);
    CHECK_EQ(m->ops[f3].width, 14336);
    CHECK_EQ(m->ops[f2].width, 4096);
    CHECK_EQ(m->ops[q].loc.line, 7);
    CHECK_EQ(m->ops[q].loc.col, 6);
    /* the workload chosen by `use` */
    CHECK_EQ(c->nworkloads, 2);
    CHECK_STR(c->workload->name, "sg");
    CHECK_EQ(c->workload->batch, 4);
    CHECK_EQ(c->workload->prompt, 783);
    CHECK_EQ(c->workload->generate, 209);
    CHECK_EQ(c->workload->max_seq, 2048);

    /* Weights, fp16 (2 bytes), per layer:
     *   q  4096 x 4096          = 16777216
     *   k  4096 x 1024          =  4194304
     *   v  4096 x 1024          =  4194304
     *   o  4096 x 4096          = 16777216
     *   f1 4096 x 14336         = 58720256
     *   f3 4096 x 14336         = 58720256
     *   f2 14336 x 4096         = 58720256   (one GEMM over silu(f1) * f3)
     *                     sum  = 218103808 weights
     * x 32 layers x 2 bytes = 13958643712 bytes (13 GiB); vocab 0: no embedding. */
    CHECK_EQ(model_weight_bytes(m, 2), 13958643712.0);
    CHECK_EQ(model_weight_bytes(m, 0.5), 13958643712.0 / 4);
    /* KV cache: K and V (2) x 1 attention x 32 layers x batch 4 x max_seq 2048 x 8 KV heads
     * x 128 x 2 bytes = 2 * 32 * 4 * 2048 * 1024 * 2 = 1073741824 bytes (1 GiB) */
    CHECK_EQ(model_kv_bytes(m, c->workload, 2), 1073741824.0);
    done(&r);

    /* --workload he: batch 1, max_seq 4096: 2 * 32 * 1 * 4096 * 1024 * 2 = 536870912 bytes */
    Selection sel = {.workload = "he"};
    c = run(&r, llama_text, &sel);
    CHECK(c != NULL);
    if (c) {
        CHECK_STR(c->workload->name, "he");
        CHECK_EQ(model_kv_bytes(c->model, c->workload, 2), 536870912.0);
    }
    done(&r);
}

/* The embedding and output matrices: 2 x vocab x hidden more weights. */
static void test_vocab_and_gqa(void) {
    Run r;
    Config *c = run(&r,
                    "model t {\n"
                    "  layers = 2; hidden = 256; intermediate = 512; heads = 4; kv_heads = 2; vocab = 512;\n"
                    "  op q = fc(x, out = heads * head_dim);\n"
                    "  op k = fc(x, out = kv_heads * head_dim);\n"
                    "  op v = fc(x, out = kv_heads * head_dim);\n"
                    "  op s = attn_score(q, k);\n"
                    "  op p = softmax(s);\n"
                    "  op a = attn_value(p, v);\n"
                    "  op n = norm(a);\n"
                    "  op g = activation(n, fn = gelu);\n"
                    "  op r = add(x, g);\n"
                    "}\n"
                    "workload w { batch = 2; prompt = 16 tokens; generate = 8 tokens; max_seq = 64 tokens; }\n",
                    NULL);
    CHECK(c != NULL);
    if (c) {
        const Model *m = c->model;
        CHECK_EQ(m->head_dim, 64);
        CHECK_STR(m->ops[op_index(m, "n")].fn, "rms");      /* the default norm */
        CHECK_STR(m->ops[op_index(m, "g")].fn, "gelu");
        CHECK_EQ(m->ops[op_index(m, "p")].type, VT_SCORES);
        CHECK_EQ(m->ops[op_index(m, "r")].width, 256);
        /* per layer q 256 x 256 + k, v 256 x 128 = 131072 weights, + the norm's scale 256 = 131328,
         * x 2 layers = 262656 weights, x 2 bytes = 525312 (no embedding or LM head: the model has no
         * prologue or epilogue, whatever its vocab) */
        CHECK_EQ(model_weight_bytes(m, 2), 525312.0);
        CHECK_EQ(m->layer_out, op_index(m, "r"));
        /* 2 x 2 layers x batch 2 x 64 x (2 x 64) x 2 bytes = 131072 */
        CHECK_EQ(model_kv_bytes(m, c->workload, 2), 131072.0);
    }
    done(&r);
}

/* The prologue and epilogue: ops in their own scopes, ordered prologue, layer, epilogue; the layer's
 * output; a tied LM head adds no weights. */
static void test_whole_model(void) {
    static const char head[] =
        "model t {\n"
        "  layers = 2; hidden = 256; intermediate = 512; heads = 4; kv_heads = 2; vocab = 512;\n"
        "  rope { theta = 500000; fraction = 50%; scaling = llama3; factor = 8; }\n"
        "  norm_eps = 1e-6;\n"
        "  epilogue { op nf = norm(r, eps = 1e-5); op logits = fc(nf, out = vocab";
    static const char tail[] =
        "); }\n"
        "  op n = norm(x);\n"
        "  op q = fc(n, out = heads * head_dim, bias = true);\n"
        "  op k = fc(n, out = kv_heads * head_dim);\n"
        "  op v = fc(n, out = kv_heads * head_dim);\n"
        "  op qr = rope(q);\n"
        "  op kr = rope(k);\n"
        "  op s = attn_score(qr, kr);\n"
        "  op p = softmax(s);\n"
        "  op a = attn_value(p, v);\n"
        "  op r = add(x, a);\n"
        "  prologue { op e = embedding(tokens, scale = 16); }\n"
        "}\n"
        "workload w { batch = 2; prompt = 16 tokens; generate = 8 tokens; max_seq = 64 tokens; attention = unfused; }\n";
    for (int tied = 0; tied < 2; tied++) {
        char text[2048];
        snprintf(text, sizeof text, "%s%s%s", head, tied ? ", tied = e" : "", tail);
        Run r;
        Config *c = run(&r, text, NULL);
        CHECK(c != NULL);
        if (!c) {
            done(&r);
            continue;
        }
        const Model *m = c->model;
        CHECK_EQ(m->nops, 13);
        CHECK_EQ(m->ops[0].scope, SCOPE_PROLOGUE);
        CHECK_STR(m->ops[0].name, "e");
        CHECK_EQ(m->ops[0].scale, 16.0);
        CHECK_EQ(m->ops[op_index(m, "q")].scope, SCOPE_LAYER);
        CHECK(m->ops[op_index(m, "q")].bias);
        CHECK_EQ(m->ops[11].scope, SCOPE_EPILOGUE);
        CHECK_STR(m->ops[11].name, "nf");
        CHECK_EQ(m->ops[11].eps, 1e-5);
        CHECK_EQ(m->layer_out, op_index(m, "r"));
        CHECK_EQ(m->ops[op_index(m, "logits")].tied, tied ? 0 : -1);
        CHECK_EQ(m->norm_eps, 1e-6);
        CHECK_EQ(m->rope.theta, 500000.0);
        CHECK_EQ(m->rope.fraction, 0.5);
        CHECK_EQ(m->rope.scaling, ROPE_LLAMA3);
        CHECK_EQ(m->rope.factor, 8.0);
        CHECK_EQ(c->workload->attention, ATTN_UNFUSED);
        /* embedding 512 x 256 = 131072; per layer: norm 256, q (256 + 1 bias row) x 256 = 65792, k and v
         * 256 x 128 = 32768 each: 131584, x 2 layers = 263168; the final norm 256; the LM head 256 x 512 =
         * 131072 unless tied. 394496 (+ 131072) weights, x 2 bytes */
        CHECK_EQ(model_weight_bytes(m, 2), tied ? 788992.0 : 1051136.0);
        done(&r);
    }
}

static void test_sparsity_and_explore(void) {
    Run r;
    Config *c = run(&r,
                    "sparsity sp {\n"
                    "  mode = dynamic;\n"
                    "  static { sink = 32 tokens; window = 128 tokens; }\n"
                    "  dynamic { page = 32 tokens; budget = 512 tokens; }\n"
                    "  static_heads = 25%;\n"
                    "  dense_layers = 1;\n"
                    "  profile = \"heads.csv\";\n"
                    "}\n"
                    "explore {\n"
                    "  nmp.channels = [2, 4, 6, 8];\n"
                    "  bank_capacity = [128 MiB, 256 MiB];\n"
                    "  pe = [(8, 600 MHz, 25.6 GB/s), (4, 1 GHz, 51.2 GB/s)];\n"
                    "  dataflow = fc-nmp;\n"
                    "  objective = energy;\n"
                    "  method = exhaustive;\n"
                    "  seed = 7;\n"
                    "  budget = 1.5 min;\n"
                    "  evaluations = 1e4;\n"
                    "}\n",
                    NULL);
    CHECK(c != NULL);
    CHECK_EQ(r.d.errors, 0);
    if (c) {
        CHECK_EQ(c->nsparsity, 1);
        const Sparsity *sp = c->sparsity[0];
        CHECK_STR(sp->name, "sp");
        CHECK_EQ(sp->mode, SP_DYNAMIC);
        CHECK_EQ(sp->sink, 32);
        CHECK_EQ(sp->window, 128);
        CHECK_EQ(sp->page, 32);
        CHECK_EQ(sp->budget, 512);
        CHECK_EQ(sp->static_heads, 0.25);
        CHECK_EQ(sp->dense_layers, 1);
        CHECK_STR(sp->profile, "heads.csv");
        CHECK_EQ(c->nexplore, 1);
        const Explore *xp = c->explore[0];
        CHECK_EQ(xp->naxes, 2);
        CHECK_EQ(xp->axes[0].field, HWF_nmp_channels);
        CHECK_EQ(xp->axes[0].nvalues, 4);
        CHECK_EQ(xp->axes[0].values[3], 8);
        CHECK_EQ(xp->axes[1].field, HWF_bank_capacity);
        CHECK_EQ(xp->axes[1].values[0], 134217728.0);
        CHECK_EQ(xp->axes[1].values[1], 268435456.0);
        CHECK_EQ(xp->npe_tuples, 2);
        CHECK_EQ(xp->pe_tuples[0][0], 8);
        CHECK_EQ(xp->pe_tuples[0][1], 600e6);
        CHECK_EQ(xp->pe_tuples[0][2], 25.6e9);
        CHECK_EQ(xp->pe_tuples[1][1], 1e9);
        CHECK_EQ(xp->pe_tuples[1][2], 51.2e9);
        CHECK_EQ(xp->dataflow, DF_FC_NMP);
        CHECK_EQ(xp->objective, OBJ_ENERGY);
        CHECK_EQ(xp->method, SM_EXHAUSTIVE);
        CHECK_EQ(xp->seed, 7);
        CHECK_EQ(xp->budget_seconds, 90.0);
        CHECK_EQ(xp->budget_evals, 10000);
        /* a lone sparsity and explore block is the selection */
        CHECK(c->sparse == sp && c->xp == xp);
    }
    done(&r);
}

/* Errors: fe_check returns NULL and the diagnostics name the problem; warnings do not fail. */
static void test_errors_and_warnings(void) {
    Run r;
    CHECK(run(&r, "hardware h { pe.frequency = 25.6 GB/s; }\n", NULL) == NULL);
    CHECK_EQ(r.d.errors, 1);
    CHECK(strstr(r.out, "test.h2:1:29: error: 'pe.frequency' is a frequency, but this is a bandwidth") != NULL);
    done(&r);

    CHECK(run(&r, "hardware h { channels = 8 }\n", NULL) == NULL);
    CHECK_EQ(r.d.errors, 1);
    CHECK(strstr(r.out, "test.h2:1:27: error: syntax error, unexpected '}', expecting ';'") != NULL);
    done(&r);

    /* at the end of a line, the missing ';' is reported after the line's last token */
    CHECK(run(&r, "hardware h {\n  channels = 8\n}\n", NULL) == NULL);
    CHECK_EQ(r.d.errors, 1);
    CHECK(strstr(r.out, "test.h2:2:15: error: syntax error, missing ';' before '}'") != NULL);
    done(&r);

    Config *c = run(&r, "workload w { batch = 1; prompt = 2000 tokens; generate = 100 tokens; }\n", NULL);
    CHECK(c != NULL);
    CHECK_EQ(r.d.errors, 0);
    CHECK_EQ(r.d.warnings, 1);
    CHECK(strstr(r.out, "warning: prompt + generate = 2100 tokens exceeds max_seq = 2048") != NULL);
    done(&r);

    /* the same with werror fails */
    r.out = NULL;
    r.f = open_memstream(&r.out, &r.len);
    diag_init(&r.d, r.f);
    r.d.werror = true;
    session_init(&r.s, &r.d);
    const char *t = "workload w { batch = 1; prompt = 2000 tokens; generate = 100 tokens; }\n";
    AstFile *root = fe_load_text(&r.s, "test.h2", t, strlen(t));
    CHECK(root != NULL && fe_check(&r.s, root, NULL) == NULL);
    CHECK_EQ(r.d.errors, 1);
    done(&r);

    /* an empty text has nothing to check */
    CHECK(run(&r, "", NULL) == NULL);
    CHECK(strstr(r.out, "nothing to check") != NULL);
    done(&r);

    /* NUL bytes: not a text file */
    Run b;
    b.out = NULL;
    b.f = open_memstream(&b.out, &b.len);
    diag_init(&b.d, b.f);
    session_init(&b.s, &b.d);
    fe_load_text(&b.s, "bin.h2", "hardware\0h {}", 13);
    fflush(b.f);
    CHECK_EQ(b.d.errors, 1);
    CHECK(strstr(b.out, "not a text file") != NULL);
    done(&b);
}

int main(void) {
    test_hardware();
    test_model();
    test_vocab_and_gqa();
    test_whole_model();
    test_sparsity_and_explore();
    test_errors_and_warnings();
    return test_done();
}
