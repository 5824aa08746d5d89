/* gen_model.c: writes a synthetic .h2 file to stdout for the front-end benchmark: a hardware block,
 * a workload, and a model of N ops (default 10000). The ops are transformer blocks (norms, GQA
 * attention with softmax, residual adds, gated or parallel FFNs, an fc with two inputs) whose lines
 * are shuffled two blocks at a time, so many inputs refer forward. Widths agree and the device is
 * sized to hold the weights and KV cache, so the file checks cleanly.
 * usage: gen_model [N]          (N >= 1 ops; output is deterministic) */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    HIDDEN = 256,
    INTERMEDIATE = 512,
    HEADS = 8,
    KV_HEADS = 2,
    HEAD_DIM = HIDDEN / HEADS,
    LAYERS = 2,
    BATCH = 1,
    MAX_SEQ = 512,
    CHANNELS = 8,
    BANKS = 16,
    MAX_LINES = 64,     /* lines in one shuffled window: two blocks plus the tail */
    LINE_MAX_ = 160,
};

static unsigned long long rng_state = 0x2545F4914F6CDD1DULL;

/* xorshift64*: deterministic, so every run writes the same file */
static unsigned rng(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (unsigned)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

typedef struct Window {
    char lines[MAX_LINES][LINE_MAX_];
    int n;
} Window;

static double weight_params;  /* per layer: sum of K x N over the fc ops */
static long attn_ops;          /* attn_score ops, for the KV cache */
static long emitted;           /* ops written so far */

static void add_line(Window *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add_line(Window *w, const char *fmt, ...) {
    if (w->n == MAX_LINES) {
        fprintf(stderr, "gen_model: window overflow\n");
        exit(2);
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->lines[w->n++], LINE_MAX_, fmt, ap);
    va_end(ap);
    emitted++;
}

/* Writes the window's lines in a shuffled order (Fisher-Yates) and empties it. */
static void flush(Window *w, FILE *out) {
    for (int i = w->n - 1; i > 0; i--) {
        int j = (int)(rng() % (unsigned)(i + 1));
        char tmp[LINE_MAX_];
        memcpy(tmp, w->lines[i], LINE_MAX_);
        memcpy(w->lines[i], w->lines[j], LINE_MAX_);
        memcpy(w->lines[j], tmp, LINE_MAX_);
    }
    for (int i = 0; i < w->n; i++)
        fprintf(out, "  %s\n", w->lines[i]);
    w->n = 0;
}

/* A Llama-style block: pre-norm GQA attention, residual, pre-norm SwiGLU FFN, residual (16 ops). */
static void block_sequential(Window *w, int b, const char *in, char *out, size_t outn) {
    add_line(w, "op b%d_n1 = norm(%s, kind = rms);", b, in);
    add_line(w, "op b%d_q = fc(b%d_n1, out = heads * head_dim);", b, b);
    add_line(w, "op b%d_k = fc(b%d_n1, out = kv_heads * head_dim);", b, b);
    add_line(w, "op b%d_v = fc(b%d_n1, out = kv_heads * head_dim);", b, b);
    add_line(w, "op b%d_s = attn_score(b%d_q, b%d_k);", b, b, b);
    add_line(w, "op b%d_p = softmax(b%d_s);", b, b);
    add_line(w, "op b%d_a = attn_value(b%d_p, b%d_v);", b, b, b);
    add_line(w, "op b%d_o = fc(b%d_a, out = hidden);", b, b);
    add_line(w, "op b%d_r1 = add(%s, b%d_o);", b, in, b);
    add_line(w, "op b%d_n2 = norm(b%d_r1, kind = layer);", b, b);
    add_line(w, "op b%d_f1 = fc(b%d_n2, out = intermediate);", b, b);
    add_line(w, "op b%d_f3 = fc(b%d_n2, out = intermediate);", b, b);
    add_line(w, "op b%d_g = activation(b%d_f1, fn = silu);", b, b);
    add_line(w, "op b%d_m = mul(b%d_g, b%d_f3);", b, b, b);
    add_line(w, "op b%d_f2 = fc(b%d_m, out = hidden);", b, b);
    add_line(w, "op b%d_r2 = add(b%d_r1, b%d_f2);", b, b, b);
    weight_params += 2.0 * HIDDEN * HIDDEN + 2.0 * HIDDEN * KV_HEADS * HEAD_DIM + 3.0 * HIDDEN * INTERMEDIATE;
    attn_ops++;
    snprintf(out, outn, "b%d_r2", b);
}

/* A PaLM-style parallel block: attention and FFN both read the normed input; the FFN's down
 * projection takes two inputs (fan-in) (14 ops). */
static void block_parallel(Window *w, int b, const char *in, char *out, size_t outn) {
    add_line(w, "op b%d_n1 = norm(%s);", b, in);
    add_line(w, "op b%d_q = fc(b%d_n1, out = hidden);", b, b);
    add_line(w, "op b%d_k = fc(b%d_n1, out = kv_heads * head_dim);", b, b);
    add_line(w, "op b%d_v = fc(b%d_n1, out = kv_heads * head_dim);", b, b);
    add_line(w, "op b%d_s = attn_score(b%d_q, b%d_k);", b, b, b);
    add_line(w, "op b%d_p = softmax(b%d_s);", b, b);
    add_line(w, "op b%d_a = attn_value(b%d_p, b%d_v);", b, b, b);
    add_line(w, "op b%d_o = fc(b%d_a, out = hidden);", b, b);
    add_line(w, "op b%d_f1 = fc(b%d_n1, out = intermediate);", b, b);
    add_line(w, "op b%d_f3 = fc(b%d_n1, out = intermediate);", b, b);
    add_line(w, "op b%d_g = activation(b%d_f1, fn = gelu);", b, b);
    add_line(w, "op b%d_f2 = fc(b%d_g, b%d_f3, out = hidden);", b, b, b);
    add_line(w, "op b%d_r1 = add(%s, b%d_o);", b, in, b);
    add_line(w, "op b%d_r2 = add(b%d_r1, b%d_f2);", b, b, b);
    weight_params += 2.0 * HIDDEN * HIDDEN + 2.0 * HIDDEN * KV_HEADS * HEAD_DIM + 3.0 * HIDDEN * INTERMEDIATE;
    attn_ops++;
    snprintf(out, outn, "b%d_r2", b);
}

static void print_hardware(double bank_bytes) {
    printf("// synthetic input for bench/bench_frontend (written by bench/gen_model)\n"
           "hardware bench_hw {\n"
           "  precision = fp16;\n"
           "  channels = %d;\n"
           "  banks_per_channel = %d;\n"
           "  bank_capacity = %.0f MiB;\n"
           "  channel { bandwidth = 12.8 GB/s; utilization = 70%%; }\n"
           "  npu { throughput = 128 TMAC/s; utilization = 70%%; sram = 128 MiB; }\n"
           "  nmp { channels = 6; transfer_bandwidth = 12.8 GB/s; }\n"
           "  pe { fpus = 8; simd = 16; frequency = 600 MHz; bandwidth = 25.6 GB/s; banks = 1; }\n"
           "  buffers { input = 32 KiB; weight = 32 KiB; output = 64 KiB; }\n"
           "  energy {\n"
           "    npu.mac = 0.682 pJ/MAC from \"[H2LLM] 7.1\";\n"
           "    pe.mac = [(400 MHz, 0.974 pJ/MAC), (600 MHz, 1.075 pJ/MAC), (800 MHz, 1.148 pJ/MAC),\n"
           "              (1 GHz, 1.365 pJ/MAC)] from \"[H2LLM] 7.1\";\n"
           "    hb.io = 0.88 pJ/bit from \"[H2LLM] 7.1\";\n"
           "  }\n"
           "}\n\n",
           CHANNELS, BANKS, bank_bytes / (1024.0 * 1024.0));
    printf("workload bench_wl { batch = %d; prompt = 128 tokens; generate = 64 tokens; max_seq = %d tokens; }\n\n",
           BATCH, MAX_SEQ);
}

int main(int argc, char **argv) {
    long n = 10000;
    if (argc > 2 || (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))) {
        fprintf(stderr, "usage: gen_model [N]   writes a .h2 file with an N-op model (default 10000) to stdout\n");
        return 2;
    }
    if (argc == 2) {
        char *end;
        n = strtol(argv[1], &end, 10);
        if (*end || n < 1 || n > 50000000) {
            fprintf(stderr, "gen_model: N must be a whole number from 1 to 50000000, not '%s'\n", argv[1]);
            return 2;
        }
    }

    /* The ops are written to memory first: the device's size depends on them. */
    char *text = NULL;
    size_t text_len = 0;
    FILE *body = open_memstream(&text, &text_len);
    if (!body) {
        perror("gen_model: open_memstream");
        return 1;
    }
    static Window w;
    char prev[32] = "x", next[32];
    int b = 0;
    while (n - emitted >= 16) {
        if (rng() % 3 == 0)
            block_parallel(&w, b, prev, next, sizeof next);
        else
            block_sequential(&w, b, prev, next, sizeof next);
        memcpy(prev, next, sizeof prev);
        b++;
        if (b % 2 == 0)
            flush(&w, body);
    }
    /* the last few ops: a norm/add chain to reach exactly N */
    for (int t = 0; emitted < n; t++) {
        if (t % 2 == 0)
            add_line(&w, "op t%d = norm(%s);", t, prev);
        else
            add_line(&w, "op t%d = add(%s, t%d);", t, prev, t - 1);
        if (t % 2 == 1)
            snprintf(prev, sizeof prev, "t%d", t);
    }
    flush(&w, body);
    if (fclose(body) != 0) {
        perror("gen_model: open_memstream");
        return 1;
    }

    /* weights + KV cache at fp16, as sema's capacity check counts them, with 25% headroom */
    double weights = weight_params * LAYERS * 2;
    double kv = 2.0 * (double)attn_ops * LAYERS * BATCH * MAX_SEQ * KV_HEADS * HEAD_DIM * 2;
    double need = 1.25 * (weights + kv) / (CHANNELS * BANKS);
    double bank = 256.0 * 1024 * 1024;
    while (bank < need)
        bank *= 2;

    print_hardware(bank);
    printf("model synthetic {\n"
           "  layers = %d;\n"
           "  hidden = %d;\n"
           "  intermediate = %d;\n"
           "  heads = %d;\n"
           "  kv_heads = %d;               // GQA: %d query heads per KV head\n"
           "  // %ld ops\n",
           LAYERS, HIDDEN, INTERMEDIATE, HEADS, KV_HEADS, HEADS / KV_HEADS, n);
    fwrite(text, 1, text_len, stdout);
    free(text);
    printf("}\n");
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("gen_model: write");
        return 1;
    }
    return 0;
}
