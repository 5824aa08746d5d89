/* schedule.c: the backend's schedule (backend.h, docs/schedule.md). From a placed Module it builds,
 * per phase (prefill, one decode step) and per scope (the prologue, one layer's body repeated
 * `layers` times, the epilogue), the ordered command stream of every unit and link: loads and
 * stores over the channels, transfers between the NPU and the PEs, copies, KV appends and loads,
 * gathers, and kernel calls into a table of kernel descriptions, each command with its
 * dependencies and an estimate. The dense mapping of every op is in docs/schedule.md §5. It comes
 * after the passes and reads the module only. */
#include "backend.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- state */

typedef struct IdList {
    int *v;
    int n, cap;
} IdList;

/* A staging slot of the NPU: each op's temporaries live in one of two slots, alternately, so an
 * op's loads may overlap the op before it while nothing overwrites what an op still reads. */
typedef struct Slot {
    IdList acc;         /* commands that touched the slot in its current use */
    IdList fence;       /* those of its previous use: a write into the slot waits for them */
} Slot;

/* What a buffer's dependencies need: who wrote its value, who read it since, and who used it
 * before its current value (a write waits for those). */
typedef struct TBuf {
    IdList w, r, prev;
    Slot *slot;         /* the staging slot it lives in, or NULL */
} TBuf;

typedef struct NBuf {   /* a buffer of the NPU's scratch */
    int slot;           /* -1: a fixed address; 0, 1: in a staging slot, addr relative to its base */
    long long addr, bytes;
    TBuf tb;
} NBuf;

typedef struct PBuf {   /* a buffer at the same address in the scratch of every PE */
    long long addr, bytes;
    TBuf *tb;           /* per PE (index in the schedule's PE order) */
} PBuf;

typedef struct Reloc {  /* an address in a staging slot, fixed once the slots' bases are known */
    cJSON *item;
    int slot;
    long long rel;
} Reloc;

typedef struct Stream {
    cJSON *cmds;
    int n;
} Stream;

/* An op's role in the fused attention: attn_score -> [softmax ->] attn_value is one kernel. */
typedef enum Role { ROLE_OP, ROLE_FUSED, ROLE_ATTN } Role;

/* An integer expression of the context: floor((a * min(ctx, clamp) + b) / d) (mod `mod`); a constant when
 * a is 0 (docs/schedule.md §4.2). */
typedef struct Expr {
    long long a, b, d;
    long long clamp;    /* > 0: the context counts up to this much (min(ctx, clamp)) */
    long long mod;      /* > 0: the value modulo this (a `when` predicate) */
} Expr;

typedef struct Gen {
    Arena *a;
    const Module *m;
    const Device *dev;
    Diag *d;
    MemMap map;
    bool failed;
    /* the device's units as the schedule numbers them (docs/schedule.md §2) */
    int C, B, N, pb, pes_per_ch, npes, nunits, nlinks;
    /* estimates: the h2c cost model's device terms (docs/cost-models.md §3.1) */
    double F_npu, F_vec, B_ch, P_pe, B_hb, B_x;
    /* kernels */
    KernelDesc *kern;
    int nkern, kcap;
    /* the phase */
    const Phase *ph;
    PhaseKind pk;
    int batch, tokens, rows;
    long long ctx[2];           /* the contexts estimates are given at: first and last */
    Role *role;                 /* per op */
    int *score_of, *softmax_of; /* per attention (value) op */
    NBuf **act;                 /* per op: its result */
    NBuf *x, *tok, *pos, *iota;
    cJSON *constants;
    long long npu_top, slot_top[2], slot_max, pe_top, pe_max;
    int cur_slot, nslot_uses;
    Slot slots[2];
    Reloc *relocs;
    int nrelocs, relocs_cap;
    TBuf **persist;             /* buffers that outlive a body: their lists are cleared between bodies */
    int npersist, persist_cap;
    TBuf *kv_tb;                /* per map tile: the KV regions (written by appends, read by attention) */
    TBuf *stream_tb;            /* per attention stream: its tiles' regions */
    /* the body */
    Stream *streams;            /* per executor key: unit id, or nunits + link id */
    int *stream_of;             /* per command id: its executor key */
    int nids, ids_cap;
    /* the command being built */
    cJSON *cj, *cdeps;
    int cid, cexec, op;
    int lay0, lay1;             /* the layer iterations the next commands run in ([0, 0): every one) */
    bool when_on;               /* the next command runs only in the steps where `when` equals when_eq */
    Expr when;
    long long when_eq;
    IdList deps;
    int moved_pairs;            /* attention pairs of a near-memory plan run on the NPU (this op) */
    SchedStats stats;
} Gen;

/* cJSON's blocks while a schedule is built are kept in a list of the schedule's, so that running out
 * of memory halfway frees every block made so far (a tree cut short, or items not yet attached to it,
 * cannot be cJSON_Delete'd), and a failed allocation longjmps to the build's handler as the arena's do. */
typedef struct JBlock {
    struct JBlock *prev, *next;
    size_t size, pad;   /* (32 bytes: the block after it stays 16-byte aligned) */
} JBlock;

struct Schedule {
    Arena arena;
    JBlock json;            /* every block of root's tree (a circular list) */
    cJSON *root;
    KernelDesc *kernels;
    int nkernels;
    SchedStats stats;
};

static JBlock *json_list;       /* the list new blocks join: the schedule being built */
static jmp_buf *json_oom_jmp;   /* where a failed allocation jumps */

static void *json_malloc(size_t n) {
    JBlock *b = n <= SIZE_MAX - sizeof(JBlock) ? h2c_raw_alloc(sizeof(JBlock) + n) : NULL;
    if (!b) {
        if (json_oom_jmp)
            longjmp(*json_oom_jmp, 1);
        return NULL;
    }
    b->size = sizeof(JBlock) + n;
    b->prev = json_list;
    b->next = json_list->next;
    json_list->next->prev = b;
    json_list->next = b;
    return b + 1;
}

static void json_free(void *p) {
    if (!p)
        return;
    JBlock *b = (JBlock *)p - 1;
    b->prev->next = b->next;
    b->next->prev = b->prev;
    h2c_raw_free(b, b->size);
}

static void json_free_all(JBlock *head) {
    while (head->next != head)
        json_free(head->next + 1);
}

static void json_hooks(JBlock *list) {
    cJSON_Hooks hooks = {json_malloc, json_free};
    json_list = list;
    cJSON_InitHooks(list ? &hooks : NULL);
}

/* ---------------------------------------------------------------- small helpers */

static long long align_up(long long v) { return (v + SCHED_ALIGN - 1) / SCHED_ALIGN * SCHED_ALIGN; }

static void id_push(Gen *g, IdList *l, int id) { VEC_PUSH(g->a, l->v, l->n, l->cap, id); }

static void id_append(Gen *g, IdList *to, const IdList *from) {
    for (int i = 0; i < from->n; i++)
        id_push(g, to, from->v[i]);
}

static cJSON *num(double v) { return cJSON_CreateNumber(v); }

static void add_num(cJSON *o, const char *k, double v) { cJSON_AddItemToObject(o, k, num(v)); }
static void add_str(cJSON *o, const char *k, const char *v) { cJSON_AddItemToObject(o, k, cJSON_CreateString(v)); }
static void add_bool(cJSON *o, const char *k, bool v) { cJSON_AddItemToObject(o, k, cJSON_CreateBool(v)); }

static cJSON *pair(long long a, long long b) {
    cJSON *r = cJSON_CreateArray();
    cJSON_AddItemToArray(r, num((double)a));
    cJSON_AddItemToArray(r, num((double)b));
    return r;
}

static Expr konst(long long v) { return (Expr){0, v, 1, 0, 0}; }

static long long expr_eval(Expr e, long long ctx) {
    if (e.clamp > 0 && ctx > e.clamp)
        ctx = e.clamp;
    long long n = e.a * ctx + e.b, q = n / e.d;
    q = (n % e.d != 0 && n < 0) ? q - 1 : q;
    return e.mod > 0 ? ((q % e.mod) + e.mod) % e.mod : q;
}

static cJSON *expr_json(Expr e) {
    if (e.a == 0)
        return num((double)expr_eval(e, 0));
    cJSON *o = cJSON_CreateObject();
    add_num(o, "ctx", (double)e.a);
    if (e.clamp > 0)
        add_num(o, "max_ctx", (double)e.clamp);
    add_num(o, "plus", (double)e.b);
    if (e.d != 1)
        add_num(o, "div", (double)e.d);
    if (e.mod > 0)
        add_num(o, "mod", (double)e.mod);
    return o;
}

/* Tokens t < ctx with t mod n == j: the rows bank j of an interleaved KV tile holds. */
static Expr residue_count(int n, int j) { return (Expr){1, n - 1 - j, n, 0, 0}; }

/* ---------------------------------------------------------------- the device's numbering */

static int pe_index(const Gen *g, int c, int b) { return c * g->pes_per_ch + b / g->pb; }
static int unit_pe(const Gen *g, int c, int b) { return 1 + g->C + g->C * g->B + pe_index(g, c, b); }
static int link_channel(const Gen *g, int c) { (void)g; return c; }
static int link_xfer(const Gen *g, int c) { return g->C + g->N * g->B + c; }
static int exec_link(const Gen *g, int link) { return g->nunits + link; }
enum { EXEC_NPU_KEY = 0 };

/* ---------------------------------------------------------------- kernels */

static int kernel_id(Gen *g, const KernelDesc *k) {
    for (int i = 0; i < g->nkern; i++)
        if (be_kernel_equal(&g->kern[i], k))
            return i;
    if (!be_kernel_check(k, g->d))
        h2c_unreachable("the schedule made a kernel description out of range");
    VEC_PUSH(g->a, g->kern, g->nkern, g->kcap, *k);
    return g->nkern - 1;
}

/* ---------------------------------------------------------------- buffers */

static void persist(Gen *g, TBuf *t) { VEC_PUSH(g->a, g->persist, g->npersist, g->persist_cap, t); }

static NBuf *npu_fixed(Gen *g, long long bytes) {
    NBuf *b = ARENA_NEW(g->a, NBuf);
    b->slot = -1;
    b->addr = g->npu_top;
    b->bytes = bytes;
    g->npu_top = align_up(g->npu_top + bytes);
    persist(g, &b->tb);
    return b;
}

/* A temporary of the current op, in its staging slot. */
static NBuf *npu_temp(Gen *g, long long bytes) {
    NBuf *b = ARENA_NEW(g->a, NBuf);
    int s = g->cur_slot;
    b->slot = s;
    b->addr = g->slot_top[s];
    b->bytes = bytes;
    b->tb.slot = &g->slots[s];
    g->slot_top[s] = align_up(g->slot_top[s] + bytes);
    if (g->slot_top[s] > g->slot_max)
        g->slot_max = g->slot_top[s];
    return b;
}

/* The next op's temporaries go to the other slot; its writes there wait for that slot's last use. */
static void slot_next(Gen *g) {
    int s = g->cur_slot = (g->nslot_uses++) & 1;
    Slot *sl = &g->slots[s];
    sl->fence = sl->acc;
    memset(&sl->acc, 0, sizeof sl->acc);
    g->slot_top[s] = 0;
}

static PBuf *pe_buf(Gen *g, long long bytes) {
    PBuf *b = ARENA_NEW(g->a, PBuf);
    b->addr = g->pe_top;
    b->bytes = bytes;
    b->tb = ARENA_ARRAY(g->a, TBuf, g->npes > 0 ? g->npes : 1);
    g->pe_top = align_up(g->pe_top + bytes);
    if (g->pe_top > g->pe_max)
        g->pe_max = g->pe_top;
    return b;
}

/* ---------------------------------------------------------------- references (docs/schedule.md §4.1) */

static cJSON *ref_npu(Gen *g, const NBuf *b, long long off, long long bytes) {
    cJSON *r = cJSON_CreateObject();
    add_str(r, "at", "npu");
    cJSON *addr = num((double)(b->addr + off));
    cJSON_AddItemToObject(r, "addr", addr);
    add_num(r, "bytes", (double)bytes);
    if (b->slot >= 0 && addr)
        VEC_PUSH(g->a, g->relocs, g->nrelocs, g->relocs_cap, ((Reloc){addr, b->slot, b->addr + off}));
    return r;
}

static cJSON *ref_pe(const PBuf *b, long long off, long long bytes) {
    cJSON *r = cJSON_CreateObject();
    add_str(r, "at", "pe");
    add_num(r, "addr", (double)(b->addr + off));
    add_num(r, "bytes", (double)bytes);
    return r;
}

static cJSON *ref_bank(int c, int bank, long long addr, long long stride, long long bytes) {
    cJSON *r = cJSON_CreateObject();
    add_str(r, "at", "bank");
    add_num(r, "channel", c);
    add_num(r, "bank", bank);
    add_num(r, "addr", (double)addr);
    add_num(r, "layer_stride", (double)stride);
    add_num(r, "bytes", (double)bytes);
    return r;
}

/* ---------------------------------------------------------------- commands (docs/schedule.md §4) */

static void cmd_begin(Gen *g, int exec, const char *kind) {
    g->cid = g->nids;
    VEC_PUSH(g->a, g->stream_of, g->nids, g->ids_cap, exec);
    g->cexec = exec;
    g->deps.n = 0;
    g->cj = cJSON_CreateObject();
    add_num(g->cj, "id", g->cid);
    add_str(g->cj, "cmd", kind);
    add_num(g->cj, "op", g->op);
    if (g->lay1 > g->lay0)
        cJSON_AddItemToObject(g->cj, "layers", pair(g->lay0, g->lay1));
    if (g->when_on) {
        cJSON *w = expr_json(g->when);
        add_num(w, "eq", (double)g->when_eq);
        cJSON_AddItemToObject(g->cj, "when", w);
        g->when_on = false;     /* one command's */
    }
    g->cdeps = cJSON_CreateArray();
    cJSON_AddItemToObject(g->cj, "deps", g->cdeps);
    add_num(g->cj, "est", 0);   /* filled in by cmd_end */
}

static void slot_touch(Gen *g, TBuf *t) {
    if (t->slot)
        id_push(g, &t->slot->acc, g->cid);
}

static void rd(Gen *g, TBuf *t) {
    id_append(g, &g->deps, &t->w);
    id_push(g, &t->r, g->cid);
    slot_touch(g, t);
}

static void wr(Gen *g, TBuf *t) {
    id_append(g, &g->deps, &t->prev);
    id_append(g, &g->deps, &t->r);
    if (t->slot)
        id_append(g, &g->deps, &t->slot->fence);
    id_push(g, &t->w, g->cid);
    slot_touch(g, t);
}

/* The buffer gets a new value: its writers wait for everything that touched the old one. */
static void newgen(Gen *g, TBuf *t) {
    IdList prev = {0};
    id_append(g, &prev, &t->w);
    id_append(g, &prev, &t->r);
    t->prev = prev;
    memset(&t->w, 0, sizeof t->w);
    memset(&t->r, 0, sizeof t->r);
}

static int int_cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* An estimate: a number, or a line through its values at the first and last context. */
static cJSON *est_json(Gen *g, double e0, double e1) {
    if (g->ctx[0] == g->ctx[1] || e0 == e1)
        return num(e0);
    double a = (e1 - e0) / (double)(g->ctx[1] - g->ctx[0]);
    double b = e0 - a * (double)g->ctx[0];
    if (fabs(b) < 1e-9 * fabs(e0))
        b = 0;  /* a line through the origin, not the rounding of one */
    cJSON *o = cJSON_CreateObject();
    add_num(o, "ctx", a);
    add_num(o, "plus", b);
    return o;
}

static void cmd_end(Gen *g, double e0, double e1) {
    /* dependencies: sorted, once each, none on an earlier command of the same stream (implied) */
    if (g->deps.n > 1)
        qsort(g->deps.v, (size_t)g->deps.n, sizeof(int), int_cmp);
    for (int i = 0; i < g->deps.n; i++) {
        int id = g->deps.v[i];
        if ((i > 0 && id == g->deps.v[i - 1]) || id == g->cid || g->stream_of[id] == g->cexec)
            continue;
        cJSON_AddItemToArray(g->cdeps, num(id));
    }
    cJSON *est = est_json(g, e0, e1);
    if (est && !cJSON_ReplaceItemInObjectCaseSensitive(g->cj, "est", est))
        cJSON_Delete(est);
    Stream *s = &g->streams[g->cexec];
    if (!s->cmds)
        s->cmds = cJSON_CreateArray();
    cJSON_AddItemToArray(s->cmds, g->cj);
    s->n++;
    g->stats.commands[g->pk]++;
    g->cj = NULL;
}

/* A move's shape: `rows` rows of `row_bytes`, `src_stride` and `dst_stride` apart. */
static void add_rows(Gen *g, long long rows, long long row_bytes, long long ss, long long ds) {
    add_num(g->cj, "rows", (double)rows);
    add_num(g->cj, "row_bytes", (double)row_bytes);
    add_num(g->cj, "src_stride", (double)ss);
    add_num(g->cj, "dst_stride", (double)ds);
}

static double t_channel(const Gen *g, double bytes) { return bytes / g->B_ch; }
static double t_xfer(const Gen *g, double bytes) { return bytes / g->B_x; }
static double t_vec(const Gen *g, double ops) { return ops / g->F_vec; }

/* bank -> NPU scratch over the bank's channel */
static void emit_load(Gen *g, int c, int bank, long long addr, long long stride, long long bytes, NBuf *dst,
                      long long doff) {
    cmd_begin(g, exec_link(g, link_channel(g, c)), "load");
    wr(g, &dst->tb);
    cJSON_AddItemToObject(g->cj, "src", ref_bank(c, bank, addr, stride, bytes));
    cJSON_AddItemToObject(g->cj, "dst", ref_npu(g, dst, doff, bytes));
    add_rows(g, 1, bytes, bytes, bytes);
    double t = t_channel(g, (double)bytes);
    cmd_end(g, t, t);
}

static void add_repeat(Gen *g, long long count, const long long *strides, int n);

/* Strided copy in the NPU's scratch, `reps` times (each src_rep and dst_rep further); cvt narrows fp32
 * rows to fp16 (row_bytes is the source's). */
static void emit_copy_rep(Gen *g, NBuf *src, long long soff, NBuf *dst, long long doff, long long rows, long long rb,
                          long long ss, long long ds, bool cvt, long long reps, long long src_rep, long long dst_rep) {
    cmd_begin(g, EXEC_NPU_KEY, "copy");
    rd(g, &src->tb);
    wr(g, &dst->tb);
    long long drb = cvt ? rb / 2 : rb;
    cJSON_AddItemToObject(g->cj, "src", ref_npu(g, src, soff, (rows - 1) * ss + rb));
    cJSON_AddItemToObject(g->cj, "dst", ref_npu(g, dst, doff, (rows - 1) * ds + drb));
    add_rows(g, rows, rb, ss, ds);
    if (cvt)
        add_str(g->cj, "cvt", "f16");
    long long st[2] = {src_rep, dst_rep};
    add_repeat(g, reps, st, 2);
    double t = t_vec(g, (double)(reps * rows * rb) / 4);
    cmd_end(g, t, t);
}

static void emit_copy(Gen *g, NBuf *src, long long soff, NBuf *dst, long long doff, long long rows, long long rb,
                      long long ss, long long ds, bool cvt) {
    emit_copy_rep(g, src, soff, dst, doff, rows, rb, ss, ds, cvt, 1, 0, 0);
}

/* NPU -> the PEs of channel c (every PE of the channel gets the same bytes at the same address). */
static void emit_to_pes(Gen *g, int c, NBuf *src, long long soff, long long bytes, PBuf *dst) {
    cmd_begin(g, exec_link(g, link_xfer(g, c)), "transfer");
    rd(g, &src->tb);
    for (int p = 0; p < g->pes_per_ch; p++)
        wr(g, &dst->tb[c * g->pes_per_ch + p]);
    cJSON_AddItemToObject(g->cj, "src", ref_npu(g, src, soff, bytes));
    cJSON_AddItemToObject(g->cj, "dst", ref_pe(dst, 0, bytes));
    cJSON *pes = cJSON_CreateArray();
    for (int p = 0; p < g->pes_per_ch; p++)
        cJSON_AddItemToArray(pes, num(unit_pe(g, c, p * g->pb)));
    cJSON_AddItemToObject(g->cj, "pes", pes);
    add_rows(g, 1, bytes, bytes, bytes);
    double t = t_xfer(g, (double)bytes);
    cmd_end(g, t, t);
}

/* One PE (under bank b of channel c) -> the NPU, strided. */
static void emit_to_npu(Gen *g, int c, int b, PBuf *src, long long soff, NBuf *dst, long long doff, long long rows,
                        long long rb, long long ss, long long ds) {
    cmd_begin(g, exec_link(g, link_xfer(g, c)), "transfer");
    rd(g, &src->tb[pe_index(g, c, b)]);
    wr(g, &dst->tb);
    cJSON_AddItemToObject(g->cj, "src", ref_pe(src, soff, (rows - 1) * ss + rb));
    cJSON_AddItemToObject(g->cj, "dst", ref_npu(g, dst, doff, (rows - 1) * ds + rb));
    cJSON *pes = cJSON_CreateArray();
    cJSON_AddItemToArray(pes, num(unit_pe(g, c, b)));
    cJSON_AddItemToObject(g->cj, "pes", pes);
    add_rows(g, rows, rb, ss, ds);
    double t = t_xfer(g, (double)(rows * rb));
    cmd_end(g, t, t);
}

/* A kernel call: bufs and args are filled by the caller after kernel_begin. */
static void kernel_begin(Gen *g, int exec, const KernelDesc *k) {
    cmd_begin(g, exec, "kernel");
    add_num(g->cj, "kernel", kernel_id(g, k));
}

static void kernel_bufs(Gen *g, cJSON **bufs, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, bufs[i] ? bufs[i] : cJSON_CreateNull());
    cJSON_AddItemToObject(g->cj, "bufs", a);
}

static void kernel_args(Gen *g, const Expr *args, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, expr_json(args[i]));
    cJSON_AddItemToObject(g->cj, "args", a);
}

/* The command stands for `count` commands, the i-th with each reference (src and dst of a move, the
 * bufs of a kernel) advanced by i times its stride. */
static void add_repeat(Gen *g, long long count, const long long *strides, int n) {
    if (count <= 1)
        return;
    cJSON *r = cJSON_CreateObject();
    add_num(r, "count", (double)count);
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, num((double)strides[i]));
    cJSON_AddItemToObject(r, "strides", a);
    cJSON_AddItemToObject(g->cj, "repeat", r);
}

/* A row-wise kernel on the NPU: y = f(x[, b][, w]). */
static void emit_rowwise(Gen *g, const KernelDesc *k, NBuf *y, NBuf *x, long long xoff, NBuf *b2, NBuf *w,
                         NBuf *wb, long long R, long long n, double ops) {
    kernel_begin(g, EXEC_NPU_KEY, k);
    rd(g, &x->tb);
    if (b2)
        rd(g, &b2->tb);
    if (w)
        rd(g, &w->tb);
    if (wb)
        rd(g, &wb->tb);
    wr(g, &y->tb);
    long long bytes = R * n * 4;
    cJSON *bufs[4] = {ref_npu(g, y, 0, bytes), ref_npu(g, x, xoff, bytes), NULL, NULL};
    int nb = 2;
    if (k->kind == KK_ADD || k->kind == KK_MUL) {
        bufs[2] = ref_npu(g, b2, 0, bytes);
        nb = 3;
    } else if (k->kind == KK_RMSNORM || k->kind == KK_LAYERNORM) {
        bufs[2] = ref_npu(g, w, 0, n * 4);
        nb = 3;
        if (k->kind == KK_LAYERNORM) {
            bufs[3] = wb ? ref_npu(g, wb, 0, n * 4) : NULL;
            nb = 4;
        }
    }
    kernel_bufs(g, bufs, nb);
    Expr args[1] = {konst(R)};
    kernel_args(g, args, 1);
    double t = t_vec(g, (double)(R * n) * ops);
    cmd_end(g, t, t);
}

/* ---------------------------------------------------------------- op helpers */

static long long width_of(const Gen *g, int src) {
    if (src == IR_INPUT_X)
        return g->m->model.hidden;
    if (src == IR_INPUT_TOKENS)
        return 1;
    return g->ph->ops[src].out[1];
}

static NBuf *buf_of(Gen *g, int src) {
    if (src == IR_INPUT_X)
        return g->x;
    if (src == IR_INPUT_TOKENS)
        return g->tok;
    return g->act[src];
}

/* Input k of op o as an NPU buffer of rows x width fp32. In prefill the epilogue sees each sequence's
 * last position only: a layer value it reads is gathered first (one row per sequence). */
static NBuf *input_of(Gen *g, const Op *o, int k, long long *rows) {
    int src = o->inputs[k];
    NBuf *b = buf_of(g, src);
    *rows = g->rows;
    if (g->pk == PH_PREFILL && o->scope == SCOPE_EPILOGUE &&
        (src == IR_INPUT_X || (src >= 0 && g->ph->ops[src].scope == SCOPE_LAYER))) {
        long long w = width_of(g, src) * 4, s = g->tokens;
        NBuf *t = npu_temp(g, g->batch * w);
        emit_copy(g, b, (s - 1) * w, t, 0, g->batch, w, s * w, w, false);
        *rows = g->batch;
        return t;
    }
    if (src >= 0 && o->scope == SCOPE_EPILOGUE && g->ph->ops[src].scope != SCOPE_EPILOGUE)
        *rows = g->batch;
    return b;
}

static NBuf *result_of(Gen *g, int i, long long rows, long long width) {
    if (!g->act[i])
        g->act[i] = npu_fixed(g, rows * width * 4);
    return g->act[i];
}

/* ---------------------------------------------------------------- fc (docs/schedule.md §5.2) */

/* The IR tensor tile rows (weight columns / table rows) a tile covers. */
static void tile_rows(const MapTile *t, long long *lo, long long *hi) {
    *lo = t->lo;
    *hi = t->hi;
}

static KernelDesc gemm_desc(const Module *m, const MapTile *t, long long M, long long n) {
    KernelDesc k;
    memset(&k, 0, sizeof k);
    k.kind = KK_GEMM;
    k.gemm.m = M <= 8 ? (int)M : 0;
    k.gemm.k = t->k;
    k.gemm.n = (int)n;
    k.gemm.wtype = t->dtype;
    k.gemm.group = t->group;
    k.gemm.bias = t->bias;
    (void)m;
    return k;
}

/* The NPU's share [n0, n1) of fc o: the weight rows streamed through two staging buffers of at most a
 * quarter of the SRAM each, chunk by chunk (the loads of one chunk overlap the GEMM of the one before),
 * each chunk's columns into y. */
static void fc_npu(Gen *g, const Op *o, NBuf *x, long long M, long long n0, long long n1, NBuf *y) {
    const Tensor *T = &g->m->tensors[o->tensor];
    long long n = n1 - n0, N = o->shape[2];
    const MapTile *t0 = map_tile(&g->map, o->tensor, 0);
    long long rb = t0->row_bytes, sb = t0->scale_bytes, per = rb + sb + (t0->bias ? 4 : 0);
    long long budget = (long long)(g->m->dev.hw.npu_sram / 4), nc = budget / per;
    if (nc < 1)
        nc = 1;
    if (nc > n)
        nc = n;
    long long nch = (n + nc - 1) / nc;
    nc = (n + nch - 1) / nch;
    bool direct = M == 1 || (nch == 1 && n == N);   /* the GEMM writes y itself */
    NBuf *W[2] = {0}, *S[2] = {0}, *Bi[2] = {0}, *Out[2] = {0};
    for (int k = 0; k < 2 && k < nch; k++) {
        W[k] = npu_temp(g, nc * rb);
        S[k] = sb ? npu_temp(g, nc * sb) : NULL;
        Bi[k] = t0->bias ? npu_temp(g, nc * 4) : NULL;
        Out[k] = direct ? NULL : npu_temp(g, M * nc * 4);
    }
    for (long long ci = 0; ci < nch; ci++) {
        long long c0 = n0 + ci * nc, c1 = c0 + nc < n1 ? c0 + nc : n1, cn = c1 - c0;
        int k = (int)(ci & 1);
        if (ci >= 2) {
            newgen(g, &W[k]->tb);
            if (S[k])
                newgen(g, &S[k]->tb);
            if (Bi[k])
                newgen(g, &Bi[k]->tb);
            if (Out[k])
                newgen(g, &Out[k]->tb);
        }
        for (int tk = 0; tk < T->ntiles; tk++) {
            const MapTile *t = map_tile(&g->map, o->tensor, tk);
            long long lo, hi;
            tile_rows(t, &lo, &hi);
            if (hi <= c0 || lo >= c1)
                continue;
            for (int r = 0; r < t->nregions; r++) {
                const MapRegion *gr = &t->regions[r];
                long long a = gr->lo > c0 ? gr->lo : c0, b = gr->hi < c1 ? gr->hi : c1;
                if (a >= b)
                    continue;
                long long stride = T->layers > 1 ? gr->stride : 0;
                emit_load(g, gr->channel, gr->bank, gr->addr + map_row_offset(t, gr, a), stride, (b - a) * rb, W[k],
                          (a - c0) * rb);
                if (S[k])
                    emit_load(g, gr->channel, gr->bank, gr->addr + map_scale_offset(t, gr, a), stride, (b - a) * sb,
                              S[k], (a - c0) * sb);
                if (Bi[k])
                    emit_load(g, gr->channel, gr->bank, gr->addr + map_bias_offset(t, gr, a), stride, (b - a) * 4,
                              Bi[k], (a - c0) * 4);
            }
        }
        KernelDesc kd = gemm_desc(g->m, t0, M, cn);
        NBuf *out = direct ? y : Out[k];
        long long ooff = direct ? c0 * 4 : 0;
        kernel_begin(g, EXEC_NPU_KEY, &kd);
        rd(g, &x->tb);
        rd(g, &W[k]->tb);
        if (S[k])
            rd(g, &S[k]->tb);
        if (Bi[k])
            rd(g, &Bi[k]->tb);
        wr(g, &out->tb);
        cJSON *bufs[5] = {ref_npu(g, out, ooff, M * cn * 4), ref_npu(g, x, 0, M * t0->k * 4), ref_npu(g, W[k], 0, cn * rb),
                          S[k] ? ref_npu(g, S[k], 0, cn * sb) : NULL, Bi[k] ? ref_npu(g, Bi[k], 0, cn * 4) : NULL};
        kernel_bufs(g, bufs, 5);
        Expr args[1] = {konst(M)};
        kernel_args(g, args, 1);
        double t = (double)(M * cn * t0->k) / g->F_npu;
        cmd_end(g, t, t);
        if (!direct)
            emit_copy(g, out, 0, y, c0 * 4, M, cn * 4, cn * 4, N * 4, false);
    }
}

/* The NMP share [n0, n1) on channels `chans`: x to every PE of those channels, a GEMM per bank over
 * the columns it holds, each bank's columns back into y. */
static bool fc_nmp(Gen *g, const Op *o, NBuf *x, long long M, long long n0, long long n1, ChanSet chans, NBuf *y) {
    const Tensor *T = &g->m->tensors[o->tensor];
    long long N = o->shape[2];
    const MapTile *t0 = map_tile(&g->map, o->tensor, 0);
    long long K = t0->k, rb = t0->row_bytes, sb = t0->scale_bytes;
    /* the widest slice of a bank, for the PEs' output buffers */
    long long widest = 0;
    for (int k = 0; k < T->ntiles; k++) {
        const MapTile *t = map_tile(&g->map, o->tensor, k);
        for (int r = 0; r < t->nregions; r++)
            if (t->regions[r].hi - t->regions[r].lo > widest)
                widest = t->regions[r].hi - t->regions[r].lo;
    }
    PBuf *xp = pe_buf(g, M * K * 4);
    PBuf *yp = pe_buf(g, (long long)g->pb * M * widest * 4);
    for (int c = 0; c < g->N; c++)
        if (chans & CHAN_BIT(c))
            emit_to_pes(g, c, x, 0, M * K * 4, xp);
    for (int k = 0; k < T->ntiles; k++) {
        const MapTile *t = map_tile(&g->map, o->tensor, k);
        long long lo, hi;
        tile_rows(t, &lo, &hi);
        if (hi <= n0 || lo >= n1)
            continue;
        for (int r = 0; r < t->nregions; r++) {
            const MapRegion *gr = &t->regions[r];
            long long a = gr->lo > n0 ? gr->lo : n0, b = gr->hi < n1 ? gr->hi : n1;
            if (a >= b)
                continue;
            if (!(chans & CHAN_BIT(gr->channel)) || gr->channel >= g->N) {
                diag_error(g->d, o->loc, "%%%s: its near-memory tile on channels the weight's columns %lld..%lld do "
                           "not live on (ch%d)", o->name, a, b, gr->channel);
                return false;
            }
            long long cnt = b - a, stride = T->layers > 1 ? gr->stride : 0;
            long long yoff = (long long)(gr->bank % g->pb) * M * widest * 4;
            KernelDesc kd = gemm_desc(g->m, t, M, cnt);
            int pe = unit_pe(g, gr->channel, gr->bank), pi = pe_index(g, gr->channel, gr->bank);
            kernel_begin(g, pe, &kd);
            rd(g, &xp->tb[pi]);
            wr(g, &yp->tb[pi]);
            cJSON *bufs[5] = {ref_pe(yp, yoff, M * cnt * 4), ref_pe(xp, 0, M * K * 4),
                              ref_bank(gr->channel, gr->bank, gr->addr + map_row_offset(t, gr, a), stride, cnt * rb),
                              sb ? ref_bank(gr->channel, gr->bank, gr->addr + map_scale_offset(t, gr, a), stride, cnt * sb)
                                 : NULL,
                              t->bias ? ref_bank(gr->channel, gr->bank, gr->addr + map_bias_offset(t, gr, a), stride,
                                                 cnt * 4)
                                      : NULL};
            kernel_bufs(g, bufs, 5);
            Expr args[1] = {konst(M)};
            kernel_args(g, args, 1);
            double macs = (double)(M * cnt * K), bytes = (double)(cnt * (rb + sb + (t->bias ? 4 : 0)));
            double tc = macs / g->P_pe, tb = bytes / g->B_hb, te = tc > tb ? tc : tb;
            cmd_end(g, te, te);
            emit_to_npu(g, gr->channel, gr->bank, yp, yoff, y, a * 4, M, cnt * 4, cnt * 4, N * 4);
        }
    }
    return true;
}

static bool emit_fc(Gen *g, int i) {
    const Op *o = &g->ph->ops[i];
    long long M = o->shape[1], K = o->shape[3], N = o->shape[2];
    long long rows;
    NBuf *x = input_of(g, o, 0, &rows);
    if (o->ninputs > 1) {   /* a gated product: silu(in0) * in1 * ... element by element first (docs/ir.md) */
        NBuf *t = npu_temp(g, M * K * 4);
        KernelDesc ks = {.kind = KK_SILU};
        ks.row.n = (int)K;
        emit_rowwise(g, &ks, t, x, 0, NULL, NULL, NULL, M, K, 4);
        KernelDesc kd = {.kind = KK_MUL};
        kd.row.n = (int)K;
        for (int k = 1; k < o->ninputs; k++) {
            NBuf *b = input_of(g, o, k, &rows);
            newgen(g, &t->tb);
            emit_rowwise(g, &kd, t, t, 0, b, NULL, NULL, M, K, 1);
        }
        x = t;
    }
    NBuf *y = result_of(g, i, M, N);
    for (int k = 0; k < o->ntiles; k++) {
        const OpTile *ot = &o->tiles[k];
        if (ot->box[DIM_B].lo != 0 || ot->box[DIM_B].hi != o->shape[0] || ot->box[DIM_M].lo != 0 ||
            ot->box[DIM_M].hi != M || ot->box[DIM_K].lo != 0 || ot->box[DIM_K].hi != K) {
            diag_error(g->d, o->loc, "%%%s: the schedule splits an fc along N (its weight's columns) only", o->name);
            return false;
        }
        long long n0 = ot->box[DIM_N].lo, n1 = ot->box[DIM_N].hi;
        if (ot->exec.kind == EXEC_NPU)
            fc_npu(g, o, x, M, n0, n1, y);
        else if (ot->exec.kind == EXEC_NMP) {
            if (!fc_nmp(g, o, x, M, n0, n1, ot->exec.chans, y))
                return false;
        } else {
            diag_error(g->d, o->loc, "%%%s: an fc tile on a single PE is not scheduled yet (docs/schedule.md §6)",
                       o->name);
            return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- row-wise ops */

static bool emit_norm(Gen *g, int i) {
    const Op *o = &g->ph->ops[i];
    const Tensor *T = &g->m->tensors[o->tensor];
    long long rows, n = o->shape[2];
    NBuf *x = input_of(g, o, 0, &rows);
    bool layer = o->fn && strcmp(o->fn, "layer") == 0;
    if (T->bias && !layer) {
        diag_error(g->d, o->loc, "%%%s: an RMS norm with a shift has no kernel", o->name);
        return false;
    }
    NBuf *w = npu_temp(g, n * 4), *b = T->bias ? npu_temp(g, n * 4) : NULL;
    for (int k = 0; k < T->ntiles; k++) {
        const MapTile *t = map_tile(&g->map, o->tensor, k);
        for (int r = 0; r < t->nregions; r++) {
            const MapRegion *gr = &t->regions[r];
            long long cnt = gr->hi - gr->lo, stride = T->layers > 1 ? gr->stride : 0;
            emit_load(g, gr->channel, gr->bank, gr->addr, stride, cnt * 4, w, gr->lo * 4);
            if (b)
                emit_load(g, gr->channel, gr->bank, gr->addr + map_bias_offset(t, gr, gr->lo), stride, cnt * 4, b,
                          gr->lo * 4);
        }
    }
    if (o->unit_offset) {   /* the scale is 1 + the stored weight (Gemma): add a constant row of ones */
        NBuf *ones = npu_fixed(g, n * 4);
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToObject(c, "ref", ref_npu(g, ones, 0, n * 4));
        add_num(c, "fill", 1);
        cJSON_AddItemToArray(g->constants, c);
        KernelDesc ka = {.kind = KK_ADD};
        ka.row.n = (int)n;
        emit_rowwise(g, &ka, w, w, 0, ones, NULL, NULL, 1, n, 1);   /* in place, after the loads */
    }
    KernelDesc kd = {.kind = layer ? KK_LAYERNORM : KK_RMSNORM};
    kd.row.n = (int)n;
    kd.row.eps = (float)(o->eps > 0 ? o->eps : g->m->model.norm_eps);
    kd.row.bias = b != NULL;
    NBuf *y = result_of(g, i, rows, n);
    emit_rowwise(g, &kd, y, x, 0, NULL, w, b, rows, n, 4);
    return true;
}

static bool emit_eltwise(Gen *g, int i) {
    const Op *o = &g->ph->ops[i];
    long long rows, n = o->shape[2];
    NBuf *x = input_of(g, o, 0, &rows), *b = NULL;
    KernelDesc kd;
    memset(&kd, 0, sizeof kd);
    double ops = 1;
    switch (o->code) {
    case OP_ADD: kd.kind = KK_ADD; break;
    case OP_MUL: kd.kind = KK_MUL; break;
    case OP_SOFTMAX: kd.kind = KK_SOFTMAX; ops = 5; n = o->shape[2]; rows = o->shape[0] * o->shape[1]; break;
    case OP_ACTIVATION:
        ops = 4;
        kd.kind = strcmp(o->fn, "gelu") == 0 ? KK_GELU_ERF
                  : strcmp(o->fn, "gelu_tanh") == 0 ? KK_GELU_TANH
                  : strcmp(o->fn, "relu") == 0 ? KK_RELU
                  : KK_SILU;   /* silu, and swish (beta = 1) */
        break;
    default: h2c_unreachable("not an element-wise op");
    }
    if (o->ninputs > 1) {
        long long r2;
        b = input_of(g, o, 1, &r2);
    }
    kd.row.n = (int)n;
    NBuf *y = result_of(g, i, rows, n);
    emit_rowwise(g, &kd, y, x, 0, b, NULL, NULL, rows, n, ops);
    return true;
}

static bool emit_rope(Gen *g, int i) {
    const Op *o = &g->ph->ops[i];
    const ModelShape *ms = &g->m->model;
    long long rows, n = o->shape[2], D = ms->head_dim;
    NBuf *x = input_of(g, o, 0, &rows);
    KernelDesc kd = {.kind = KK_ROPE};
    kd.rope.head_dim = (int)D;
    kd.rope.heads = (int)(n / D);
    int rot = (int)((double)D * ms->rope.fraction);
    kd.rope.rot = rot - rot % 2;
    kd.rope.theta = ms->rope.theta;
    if (ms->rope.scaling == ROPE_LINEAR) {
        kd.rope.scaling = KR_SCALE_LINEAR;
        kd.rope.factor = ms->rope.factor;
    } else if (ms->rope.scaling == ROPE_LLAMA3) {
        kd.rope.scaling = KR_SCALE_LLAMA3;
        kd.rope.factor = ms->rope.factor;
        kd.rope.low_freq_factor = ms->rope.low_freq_factor;
        kd.rope.high_freq_factor = ms->rope.high_freq_factor;
        kd.rope.original_max = ms->rope.original_max;
    }
    NBuf *y = result_of(g, i, rows, n);
    kernel_begin(g, EXEC_NPU_KEY, &kd);
    rd(g, &x->tb);
    rd(g, &g->pos->tb);
    wr(g, &y->tb);
    cJSON *bufs[3] = {ref_npu(g, y, 0, rows * n * 4), ref_npu(g, x, 0, rows * n * 4), ref_npu(g, g->pos, 0, rows * 4)};
    kernel_bufs(g, bufs, 3);
    Expr args[1] = {konst(rows)};
    kernel_args(g, args, 1);
    double t = t_vec(g, (double)(rows * n) * 4);
    cmd_end(g, t, t);
    return true;
}

/* ---------------------------------------------------------------- embedding (§5.1) */

static bool emit_embedding(Gen *g, int i) {
    const Op *o = &g->ph->ops[i];
    const Tensor *T = &g->m->tensors[o->tensor];
    long long R = g->rows, H = o->shape[2], rb = H * 2;
    NBuf *rowsbuf = npu_temp(g, R * rb);
    for (int k = 0; k < T->ntiles; k++) {
        const MapTile *t = map_tile(&g->map, o->tensor, k);
        for (int c = 0; c < g->C; c++) {
            long long held = 0;
            for (int r = 0; r < t->nregions; r++)
                if (t->regions[r].channel == c)
                    held += t->regions[r].hi - t->regions[r].lo;
            if (held == 0)
                continue;
            /* a table of learned positions is looked up at each row's position + offset */
            NBuf *ids = o->positions > 0 ? g->pos : g->tok;
            cmd_begin(g, exec_link(g, link_channel(g, c)), "gather");
            rd(g, &ids->tb);
            wr(g, &rowsbuf->tb);
            add_num(g->cj, "tensor", o->tensor);
            add_num(g->cj, "tile", k);
            cJSON_AddItemToObject(g->cj, "ids", ref_npu(g, ids, 0, R * 4));
            if (o->positions > 0 && o->offset != 0)
                add_num(g->cj, "id_offset", o->offset);
            cJSON_AddItemToObject(g->cj, "dst", ref_npu(g, rowsbuf, 0, R * rb));
            add_num(g->cj, "rows", (double)R);
            /* expected bytes: the share of the table this channel holds */
            double e = t_channel(g, (double)(R * rb) * (double)held / (double)T->dims[0]);
            cmd_end(g, e, e);
        }
    }
    KernelDesc kd = {.kind = KK_EMBED};
    kd.embed.hidden = (int)H;
    kd.embed.vocab = (int)R;
    NBuf *y = result_of(g, i, R, H);
    kernel_begin(g, EXEC_NPU_KEY, &kd);
    rd(g, &rowsbuf->tb);
    rd(g, &g->iota->tb);
    wr(g, &y->tb);
    cJSON *bufs[3] = {ref_npu(g, y, 0, R * H * 4), ref_npu(g, rowsbuf, 0, R * rb), ref_npu(g, g->iota, 0, R * 4)};
    kernel_bufs(g, bufs, 3);
    Expr args[1] = {konst(R)};
    kernel_args(g, args, 1);
    double tt = t_vec(g, (double)(R * H));
    cmd_end(g, tt, tt);
    if (o->scale > 0) {     /* rows times a constant: a multiplication by a buffer filled with it */
        NBuf *f = npu_fixed(g, R * H * 4);
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToObject(c, "ref", ref_npu(g, f, 0, R * H * 4));
        add_num(c, "fill", o->scale);
        cJSON_AddItemToArray(g->constants, c);
        KernelDesc km = {.kind = KK_MUL};
        km.row.n = (int)H;
        newgen(g, &y->tb);
        emit_rowwise(g, &km, y, y, 0, f, NULL, NULL, R, H, 1);
    }
    return true;
}

/* ---------------------------------------------------------------- attention (§5.3) */

/* The tile of a KV tensor holding pair (h, b). */
static int kv_tile_of(const Gen *g, int tensor, int h, int b) {
    const Tensor *T = &g->m->tensors[tensor];
    for (int k = 0; k < T->ntiles; k++) {
        const MapTile *t = map_tile(&g->map, tensor, k);
        if (h >= t->h0 && h < t->h1 && b >= t->b0 && b < t->b1)
            return k;
    }
    h2c_unreachable("a KV pair no tile holds");
}

static long long pair_index(const MapTile *t, int h, int b) { return (long long)(h - t->h0) * (t->b1 - t->b0) + (b - t->b0); }

static bool same_place(const Place *a, const Place *b) {
    return a->kind == b->kind && a->chans == b->chans && (a->kind != PLACE_BANK || a->bank == b->bank);
}

/* Appends this step's new K or V rows (the rows of `src`, [rows][kv_heads * D] fp32) to every tile of a
 * KV tensor: one command per tile and channel, each writing the tokens that land on its channel. */
static void emit_kv_append(Gen *g, int tensor, NBuf *src) {
    const Tensor *T = &g->m->tensors[tensor];
    long long D = T->dims[3], W = T->dims[0] * D * 4, s = g->tokens;
    Expr first = g->pk == PH_DECODE ? (Expr){1, -1, 1, 0, 0} : konst(0), count = konst(s);
    for (int k = 0; k < T->ntiles; k++) {
        const MapTile *t = map_tile(&g->map, tensor, k);
        long long pairs = (long long)(t->h1 - t->h0) * (t->b1 - t->b0);
        for (int c = 0; c < g->C; c++) {
            int held = 0;
            for (int r = 0; r < t->nregions; r++)
                held += t->regions[r].channel == c;
            if (held == 0)
                continue;
            cmd_begin(g, exec_link(g, link_channel(g, c)), "kv_append");
            rd(g, &src->tb);
            wr(g, &g->kv_tb[g->map.first[tensor] + k]);
            add_num(g->cj, "tensor", tensor);
            add_num(g->cj, "tile", k);
            long long off = t->h0 * D * 4 + (long long)t->b0 * s * W;
            cJSON_AddItemToObject(g->cj, "src", ref_npu(g, src, off, g->rows * W - off));
            add_num(g->cj, "head_stride", (double)(D * 4));
            add_num(g->cj, "batch_stride", (double)(s * W));
            add_num(g->cj, "token_stride", (double)W);
            cJSON_AddItemToObject(g->cj, "first", expr_json(first));
            cJSON_AddItemToObject(g->cj, "count", expr_json(count));
            double e = t_channel(g, (double)(pairs * s * t->row_bytes) * held / t->nbanks);
            cmd_end(g, e, e);
        }
    }
}

/* Prefill attention on the NPU from the activations, a KV head at a time: the batch's queries, keys
 * (narrowed to the cache's type) and values copied dense, one causal kernel per sequence, the output
 * copied into the result. */
static void attention_prefill(Gen *g, NBuf *q, NBuf *kk, NBuf *vv, NBuf *y, const KernelDesc *ka, long long es) {
    const ModelShape *ms = &g->m->model;
    long long D = ms->head_dim, kvh = ms->kv_heads, G = ms->heads / kvh, batch = g->batch, S = g->tokens;
    long long qrow = ms->heads * D * 4, kvrow = kvh * D * 4, qb = S * G * D * 4, kb = S * D * es;
    NBuf *Qt = npu_temp(g, batch * qb), *Kt = npu_temp(g, batch * kb), *Vt = npu_temp(g, batch * kb);
    NBuf *Ot = npu_temp(g, batch * qb), *Lt = npu_temp(g, batch * S * G * 4);
    for (long long h = 0; h < kvh; h++) {
        if (h > 0) {
            newgen(g, &Qt->tb);
            newgen(g, &Kt->tb);
            newgen(g, &Vt->tb);
            newgen(g, &Ot->tb);
            newgen(g, &Lt->tb);
        }
        emit_copy_rep(g, q, h * G * D * 4, Qt, 0, S, G * D * 4, qrow, G * D * 4, false, batch, S * qrow, qb);
        emit_copy_rep(g, kk, h * D * 4, Kt, 0, S, D * 4, kvrow, D * es, es == 2, batch, S * kvrow, kb);
        emit_copy_rep(g, vv, h * D * 4, Vt, 0, S, D * 4, kvrow, D * es, es == 2, batch, S * kvrow, kb);
        kernel_begin(g, EXEC_NPU_KEY, ka);
        rd(g, &Qt->tb);
        rd(g, &Kt->tb);
        rd(g, &Vt->tb);
        rd(g, &g->pos->tb);
        wr(g, &Ot->tb);
        wr(g, &Lt->tb);
        cJSON *bufs[7] = {ref_npu(g, Ot, 0, qb), ref_npu(g, Lt, 0, S * G * 4), ref_npu(g, Qt, 0, qb),
                          ref_npu(g, Kt, 0, kb), ref_npu(g, Vt, 0, kb), NULL, ref_npu(g, g->pos, 0, S * 4)};
        kernel_bufs(g, bufs, 7);
        Expr args[3] = {konst(S), konst(0), konst(S)};
        kernel_args(g, args, 3);
        long long st[7] = {qb, S * G * 4, qb, kb, kb, 0, 0};
        add_repeat(g, batch, st, 7);
        double keys = (double)S * (double)(S + 1) / 2;  /* the causal triangle */
        long long W = ka->attn.window;
        if (W > 0 && W < S)     /* (rows past the window see W keys) */
            keys = (double)W * (double)(W + 1) / 2 + (double)(S - W) * (double)W;
        double t = (double)batch * (keys * (double)(G * D * 2) / g->F_npu + t_vec(g, keys * (double)G * 5));
        cmd_end(g, t, t);
        emit_copy_rep(g, Ot, 0, y, h * G * D * 4, S, G * D * 4, G * D * 4, qrow, false, batch, qb, S * qrow);
    }
}

/* Decode attention of the pairs (KV head h, batch row b; p = h * batch + b) with where[p] == gi, near the
 * banks of their K and V (group gi: the pairs whose K and V tiles share those banks). Each bank's PE
 * computes every pair over the tokens its bank holds (t mod n == j); the partial states cross to the NPU,
 * which merges them and puts each pair's result in place. */
static void attention_near(Gen *g, const Op *s, const Op *v, const int *where, int gi, NBuf *q, NBuf *y,
                           const KernelDesc *ka, long long es) {
    const ModelShape *ms = &g->m->model;
    long long D = ms->head_dim, kvh = ms->kv_heads, G = ms->heads / kvh, batch = g->batch, P = kvh * batch;
    long long qrow = ms->heads * D * 4, gd = G * D * 4;
    long long np = 0;
    int kt0 = -1;
    for (long long p = 0; p < P; p++)
        if (where[p] == gi) {
            if (kt0 < 0)
                kt0 = kv_tile_of(g, s->tensor, (int)(p / batch), (int)(p % batch));
            np++;
        }
    const MapTile *tk0 = map_tile(&g->map, s->tensor, kt0);
    int n = tk0->nbanks;
    ChanSet chans = 0;
    for (int r = 0; r < tk0->nregions; r++)
        chans |= CHAN_BIT(tk0->regions[r].channel);
    /* the group's queries in pair order, then their positions, to every PE of its channels */
    long long qb = np * gd + np * 4;
    NBuf *Qg = npu_temp(g, qb);
    long long i = 0;
    for (long long p = 0; p < P;) {
        if (where[p] != gi) {
            p++;
            continue;
        }
        long long p1 = p + 1;
        while (p1 < P && where[p1] == gi && p1 / batch == p / batch)
            p1++;
        long long h = p / batch, b = p % batch;
        emit_copy(g, q, b * qrow + h * gd, Qg, i * gd, p1 - p, gd, qrow, gd, false);
        emit_copy(g, g->pos, b * 4, Qg, np * gd + i * 4, 1, (p1 - p) * 4, (p1 - p) * 4, (p1 - p) * 4, false);
        i += p1 - p;
        p = p1;
    }
    PBuf *Qp = pe_buf(g, qb);
    PBuf *Opp = pe_buf(g, (long long)g->pb * np * gd), *Lp = pe_buf(g, (long long)g->pb * np * G * 4);
    for (int c = 0; c < g->N; c++)
        if (chans & CHAN_BIT(c))
            emit_to_pes(g, c, Qg, 0, qb, Qp);
    NBuf *Os = npu_temp(g, n * np * gd), *Ls = npu_temp(g, n * np * G * 4);
    /* the group's pairs in order, with their tiles */
    int *kt = ARENA_ARRAY(g->a, int, np), *vt = ARENA_ARRAY(g->a, int, np);
    long long *kp = ARENA_ARRAY(g->a, long long, np), *vp = ARENA_ARRAY(g->a, long long, np);
    i = 0;
    for (long long p = 0; p < P; p++)
        if (where[p] == gi) {
            int h = (int)(p / batch), b = (int)(p % batch);
            kt[i] = kv_tile_of(g, s->tensor, h, b);
            vt[i] = kv_tile_of(g, v->tensor, h, b);
            kp[i] = pair_index(map_tile(&g->map, s->tensor, kt[i]), h, b);
            vp[i] = pair_index(map_tile(&g->map, v->tensor, vt[i]), h, b);
            i++;
        }
    /* a sliding window: the kernel takes the tile's tokens, [j, ctx) with its residue j, and maps
       token t to row t / n (the window is in tokens) */
    KernelDesc kw = *ka;
    if (ka->attn.window > 0)
        kw.attn.interleave = n > 1 ? n : 0;
    for (int j = 0; j < n; j++) {
        const MapRegion *rk0 = &tk0->regions[j];
        int c = rk0->channel, bank = rk0->bank, pe = unit_pe(g, c, bank), pi = pe_index(g, c, bank);
        long long sub = (long long)(bank % g->pb), ob = sub * np * gd, lb = sub * np * G * 4;
        Expr cnt = residue_count(n, j);
        /* runs of pairs that sit next to each other in both caches: one command each */
        for (long long a = 0; a < np;) {
            long long e = a + 1;
            while (e < np && kt[e] == kt[a] && vt[e] == vt[a] && kp[e] == kp[a] + (e - a) && vp[e] == vp[a] + (e - a))
                e++;
            const MapTile *tk = map_tile(&g->map, s->tensor, kt[a]), *tv = map_tile(&g->map, v->tensor, vt[a]);
            const MapRegion *rk = &tk->regions[j], *rv = &tv->regions[j];
            long long kstr = g->m->tensors[s->tensor].layers > 1 ? rk->stride : 0;
            long long vstr = g->m->tensors[v->tensor].layers > 1 ? rv->stride : 0;
            long long kcap = tk->cap * tk->row_bytes, vcap = tv->cap * tv->row_bytes;
            kernel_begin(g, pe, &kw);
            rd(g, &Qp->tb[pi]);
            rd(g, &g->kv_tb[g->map.first[s->tensor] + kt[a]]);
            rd(g, &g->kv_tb[g->map.first[v->tensor] + vt[a]]);
            wr(g, &Opp->tb[pi]);
            wr(g, &Lp->tb[pi]);
            cJSON *bufs[7] = {ref_pe(Opp, ob + a * gd, gd), ref_pe(Lp, lb + a * G * 4, G * 4), ref_pe(Qp, a * gd, gd),
                              ref_bank(c, bank, rk->addr + kp[a] * kcap, kstr, kcap),
                              ref_bank(c, bank, rv->addr + vp[a] * vcap, vstr, vcap), NULL,
                              ref_pe(Qp, np * gd + a * 4, 4)};
            kernel_bufs(g, bufs, 7);
            Expr args[3] = {konst(1), konst(0), cnt};
            if (kw.attn.window > 0) {   /* tokens [j, ctx): the window's last W of them, 1 in n here */
                args[1] = konst(n > 1 ? j : 0);
                args[2] = (Expr){1, 0, 1, 0, 0};
            }
            kernel_args(g, args, 3);
            long long st[7] = {gd, G * 4, gd, kcap, vcap, 0, 4};
            add_repeat(g, e - a, st, 7);
            Expr seen = cnt;    /* (the keys it reads: the window's share) */
            if (kw.attn.window > 0)
                seen.clamp = kw.attn.window;
            double et[2];
            for (int w = 0; w < 2; w++) {
                double tok = (double)expr_eval(seen, g->ctx[w]);
                double tc = tok * (double)(G * D * 2) / g->P_pe, tb = tok * (double)(2 * D * es) / g->B_hb;
                et[w] = (double)(e - a) * (tc > tb ? tc : tb);
            }
            cmd_end(g, et[0], et[1]);
            a = e;
        }
        emit_to_npu(g, c, bank, Opp, ob, Os, (long long)j * np * gd, 1, np * gd, np * gd, np * gd);
        emit_to_npu(g, c, bank, Lp, lb, Ls, (long long)j * np * G * 4, 1, np * G * 4, np * G * 4, np * G * 4);
    }
    /* the merge: every bank's partial states of the group's pairs, at once */
    KernelDesc km = {.kind = KK_MERGE};
    km.merge.head_dim = (int)D;
    NBuf *Om = npu_temp(g, np * gd), *Lm = npu_temp(g, np * G * 4);
    kernel_begin(g, EXEC_NPU_KEY, &km);
    rd(g, &Os->tb);
    rd(g, &Ls->tb);
    wr(g, &Om->tb);
    wr(g, &Lm->tb);
    cJSON *bufs[4] = {ref_npu(g, Om, 0, np * gd), ref_npu(g, Lm, 0, np * G * 4), ref_npu(g, Os, 0, n * np * gd),
                      ref_npu(g, Ls, 0, n * np * G * 4)};
    kernel_bufs(g, bufs, 4);
    Expr args[2] = {konst(np * G), konst(n)};
    kernel_args(g, args, 2);
    double tm = t_vec(g, (double)(np * G * n * (D + 2) * 3));
    cmd_end(g, tm, tm);
    /* each KV head's run of batch rows into the result */
    i = 0;
    for (long long p = 0; p < P;) {
        if (where[p] != gi) {
            p++;
            continue;
        }
        long long p1 = p + 1;
        while (p1 < P && where[p1] == gi && p1 / batch == p / batch)
            p1++;
        long long h = p / batch, b = p % batch;
        emit_copy(g, Om, i * gd, y, b * qrow + h * gd, p1 - p, gd, gd, qrow, false);
        i += p1 - p;
        p = p1;
    }
}

/* Decode attention of the pairs with where[p] < 0 on the NPU: their K and V loaded over the channels
 * into dense buffers, one kernel per run of batch rows of a KV head. */
static void attention_npu(Gen *g, const Op *s, const Op *v, const int *where, NBuf *q, NBuf *y, const KernelDesc *ka,
                          long long es) {
    const ModelShape *ms = &g->m->model;
    long long D = ms->head_dim, kvh = ms->kv_heads, G = ms->heads / kvh, batch = g->batch, P = kvh * batch;
    long long qrow = ms->heads * D * 4, gd = G * D * 4;
    long long nnpu = 0;
    for (long long p = 0; p < P; p++)
        nnpu += where[p] < 0;
    if (nnpu == 0)
        return;
    long long kvb = (long long)g->m->work.max_seq * D * es;
    NBuf *Kb = npu_temp(g, nnpu * kvb), *Vb = npu_temp(g, nnpu * kvb), *Lt = npu_temp(g, nnpu * G * 4);
    long long *slot = ARENA_ARRAY(g->a, long long, P);
    long long i = 0;
    for (long long p = 0; p < P; p++)
        slot[p] = where[p] < 0 ? i++ : -1;
    for (int side = 0; side < 2; side++) {
        int tensor = side ? v->tensor : s->tensor;
        NBuf *dst = side ? Vb : Kb;
        const Tensor *T = &g->m->tensors[tensor];
        for (int k = 0; k < T->ntiles; k++) {
            const MapTile *t = map_tile(&g->map, tensor, k);
            int nb = t->b1 - t->b0;
            long long tp = (long long)(t->h1 - t->h0) * nb;
            /* runs of the tile's pairs that run on the NPU and sit next to each other in the buffer */
            for (long long a = 0; a < tp;) {
                long long p = (long long)(t->h0 + a / nb) * batch + t->b0 + a % nb;
                if (slot[p] < 0) {
                    a++;
                    continue;
                }
                long long e = a + 1;
                while (e < tp && slot[(t->h0 + e / nb) * batch + t->b0 + e % nb] == slot[p] + (e - a))
                    e++;
                for (int c = 0; c < g->C; c++) {
                    int held = 0;
                    for (int r = 0; r < t->nregions; r++)
                        held += t->regions[r].channel == c;
                    if (held == 0)
                        continue;
                    cmd_begin(g, exec_link(g, link_channel(g, c)), "kv_load");
                    rd(g, &g->kv_tb[g->map.first[tensor] + k]);
                    wr(g, &dst->tb);
                    add_num(g->cj, "tensor", tensor);
                    add_num(g->cj, "tile", k);
                    cJSON_AddItemToObject(g->cj, "pairs", pair(a, e));
                    cJSON_AddItemToObject(g->cj, "dst", ref_npu(g, dst, slot[p] * kvb, (e - a) * kvb));
                    add_num(g->cj, "pair_stride", (double)kvb);
                    cJSON_AddItemToObject(g->cj, "first", expr_json(konst(0)));
                    cJSON_AddItemToObject(g->cj, "count", expr_json((Expr){1, 0, 1, 0, 0}));
                    double ee[2];
                    for (int w = 0; w < 2; w++)
                        ee[w] = t_channel(g, (double)((e - a) * g->ctx[w] * t->row_bytes) * held / t->nbanks);
                    cmd_end(g, ee[0], ee[1]);
                }
                a = e;
            }
        }
    }
    for (long long p = 0; p < P;) {
        if (slot[p] < 0) {
            p++;
            continue;
        }
        long long p1 = p + 1;
        while (p1 < P && slot[p1] == slot[p] + (p1 - p) && p1 / batch == p / batch)
            p1++;
        long long h = p / batch, b = p % batch;
        kernel_begin(g, EXEC_NPU_KEY, ka);
        rd(g, &q->tb);
        rd(g, &Kb->tb);
        rd(g, &Vb->tb);
        wr(g, &y->tb);
        wr(g, &Lt->tb);
        rd(g, &g->pos->tb);
        cJSON *bufs[7] = {ref_npu(g, y, b * qrow + h * gd, gd), ref_npu(g, Lt, slot[p] * G * 4, G * 4),
                          ref_npu(g, q, b * qrow + h * gd, gd), ref_npu(g, Kb, slot[p] * kvb, kvb),
                          ref_npu(g, Vb, slot[p] * kvb, kvb), NULL, ref_npu(g, g->pos, b * 4, 4)};
        kernel_bufs(g, bufs, 7);
        Expr args[3] = {konst(1), konst(0), (Expr){1, 0, 1, 0, 0}};
        kernel_args(g, args, 3);
        long long st[7] = {qrow, G * 4, qrow, kvb, kvb, 0, 4};
        add_repeat(g, p1 - p, st, 7);
        double e[2];
        for (int w = 0; w < 2; w++) {
            double keys = (double)g->ctx[w];    /* (a window: its last W) */
            if (ka->attn.window > 0 && keys > ka->attn.window)
                keys = ka->attn.window;
            e[w] = (double)(p1 - p) * (keys * (double)(G * D * 2) / g->F_npu + t_vec(g, keys * (double)G * 5));
        }
        cmd_end(g, e[0], e[1]);
        p = p1;
    }
}

/* ---------------------------------------------------------------- attention plans (§5.4) */

/* The pattern sub-ranges of a stream's layers: [p0, p1) with one pattern each, in layer order. */
typedef struct PatRange {
    int p0, p1;
    const Pattern *pat;
} PatRange;

static int pattern_ranges(const Attention *at, const MapStream *st, PatRange *out) {
    int n = 0;
    for (int l = st->l0; l < st->l1;) {
        const AttnPatternLine *pl = attn_pattern_at(at, l, st->head);
        int e = l + 1;
        while (e < st->l1 && attn_pattern_at(at, e, st->head) == pl)
            e++;
        if (pl)
            out[n++] = (PatRange){l, e, &pl->pat};
        l = e;
    }
    return n;
}

/* The new tokens' K or V rows appended to a stream's tiles, a command per channel its banks are on. */
static void emit_stream_append(Gen *g, int si, const PatRange *pr, bool v, NBuf *src) {
    const MapStream *st = &g->map.streams[si];
    const ModelShape *ms = &g->m->model;
    long long D = ms->head_dim, W = (long long)ms->kv_heads * D * 4, s = g->tokens;
    Expr first = g->pk == PH_DECODE ? (Expr){1, -1, 1, 0, 0} : konst(0), count = konst(s);
    g->lay0 = pr->p0;
    g->lay1 = pr->p1;
    for (int c = 0; c < g->C; c++) {
        int held = 0;
        for (int r = 0; r < st->n; r++)
            held += st->regions[r].channel == c;
        if (held == 0)
            continue;
        cmd_begin(g, exec_link(g, link_channel(g, c)), "kv_append");
        rd(g, &src->tb);
        wr(g, &g->stream_tb[si]);
        add_num(g->cj, "stream", si);
        add_str(g->cj, "part", v ? "v" : "k");
        long long off = (long long)st->batch * s * W + (long long)st->head * D * 4;
        cJSON_AddItemToObject(g->cj, "src", ref_npu(g, src, off, (s - 1) * W + D * 4));
        add_num(g->cj, "token_stride", (double)W);
        cJSON_AddItemToObject(g->cj, "first", expr_json(first));
        cJSON_AddItemToObject(g->cj, "count", expr_json(count));
        if (pr->pat->kind == PAT_STATIC) {
            cJSON *ring = cJSON_CreateObject();
            add_num(ring, "sink", pr->pat->sink);
            add_num(ring, "window", pr->pat->window);
            cJSON_AddItemToObject(g->cj, "ring", ring);
        }
        double e = t_channel(g, (double)(s * st->row_bytes) * held / st->n);
        cmd_end(g, e, e);
    }
    g->lay0 = g->lay1 = 0;
}

/* Quest page selection (docs/schedule.md §7). Tile j of a stream's n holds token t = j (mod n) at
 * local row t / n. When n divides the page of P tokens, the tile holds P / n rows of every page, at
 * local rows [p P/n, (p+1) P/n): the paged attention kernel reads the selected pages with pages of P / n
 * rows. Otherwise a page's rows in a tile vary in number and start, and each PE expands the selection
 * into its local rows (pagerows), which the kernel reads as pages of one row. */
static bool quest_selects(const Pattern *p) { return p->kind == PAT_DYNAMIC; }
static long long quest_page_rows(const MapStream *st, const Pattern *p) {
    return p->page % st->n == 0 ? p->page / st->n : 1;
}

/* A PE's tile j of n: the region's page metadata rows (after cap key and cap value rows). */
static cJSON *ref_meta(const MapStream *st, const MapRegion *rg, const PatRange *pr) {
    long long base = rg->addr + (long long)(pr->p0 - st->l0) * rg->stride + 2 * st->cap * st->row_bytes;
    long long lstride = st->l1 - st->l0 > 1 ? rg->stride : 0;
    return ref_bank(rg->channel, rg->bank, base, lstride, st->pages * 2 * st->row_bytes);
}

/* Prefill of a dynamic stream range that selects pages: the prompt's keys narrowed on the NPU, their
 * pages' min and max (pagemeta over the whole prompt), stored into each tile's metadata rows (page p
 * in tile p mod n, entry p / n). */
static void quest_prefill_meta(Gen *g, int si, const PatRange *pr, NBuf *kk, KernelDType kvt, long long es) {
    const MapStream *st = &g->map.streams[si];
    const ModelShape *ms = &g->m->model;
    long long D = ms->head_dim, W = (long long)ms->kv_heads * D * 4, S = g->tokens, P = pr->pat->page, n = st->n;
    long long rb = st->row_bytes, np = (S + P - 1) / P;
    g->lay0 = pr->p0;
    g->lay1 = pr->p1;
    NBuf *Kh = npu_temp(g, S * D * es), *M = npu_temp(g, np * 2 * rb);
    emit_copy(g, kk, (long long)st->batch * S * W + (long long)st->head * D * 4, Kh, 0, S, D * 4, W, D * es, es == 2);
    KernelDesc km = {.kind = KK_PAGE_META};
    km.meta.head_dim = (int)D;
    km.meta.page = (int)P;
    km.meta.kv = kvt;
    km.meta.mtype = kvt;
    km.meta.interleave = 1;
    kernel_begin(g, EXEC_NPU_KEY, &km);
    rd(g, &Kh->tb);
    wr(g, &M->tb);
    cJSON *bufs[2] = {ref_npu(g, M, 0, np * 2 * rb), ref_npu(g, Kh, 0, S * D * es)};
    kernel_bufs(g, bufs, 2);
    Expr args[2] = {konst(0), konst(S)};
    kernel_args(g, args, 2);
    double t = t_vec(g, (double)(S * D * 2));
    cmd_end(g, t, t);
    for (long long j = 0; j < n && j < np; j++) {
        const MapRegion *rg = &st->regions[j];
        long long rows = (np - j + n - 1) / n;  /* the prompt's pages p = j mod n */
        cmd_begin(g, exec_link(g, link_channel(g, rg->channel)), "store");
        rd(g, &M->tb);
        wr(g, &g->stream_tb[si]);
        cJSON_AddItemToObject(g->cj, "src", ref_npu(g, M, j * 2 * rb, (rows - 1) * n * 2 * rb + 2 * rb));
        cJSON *dst = ref_meta(st, rg, pr);
        cJSON_ReplaceItemInObjectCaseSensitive(dst, "bytes", num((double)(rows * 2 * rb)));
        cJSON_AddItemToObject(g->cj, "dst", dst);
        add_rows(g, rows, 2 * rb, n * 2 * rb, 2 * rb);
        double e = t_channel(g, (double)(rows * 2 * rb));
        cmd_end(g, e, e);
    }
    g->lay0 = g->lay1 = 0;
}

/* Decode page selection of one dynamic stream range (docs/schedule.md §7 steps 1-4): the PE holding the
 * page of token ctx-1 folds its key into the page's min and max (a `when` predicate picks it); every PE
 * scores its pages; the scores cross to the NPU in page order; `topk` picks floor(B/P) pages (the newest
 * always); the list goes back to the stream's PEs. Returns the list's PE buffer. */
static PBuf *quest_select(Gen *g, int si, const PatRange *pr, PBuf *Qp, PBuf *Kp, KernelDType kvt, long long es) {
    const MapStream *st = &g->map.streams[si];
    const ModelShape *ms = &g->m->model;
    long long D = ms->head_dim, G = ms->heads / ms->kv_heads, P = pr->pat->page, n = st->n;
    long long K = pr->pat->budget / P, h = st->head, b = st->batch, gd = G * D * 4, qrow = ms->heads * D * 4;
    long long rb = st->row_bytes;
    PBuf *Sc = pe_buf(g, st->pages * 4), *Lp = pe_buf(g, K * 4);
    NBuf *Sn = npu_temp(g, st->pages * n * 4), *Ln = npu_temp(g, K * 4);
    /* 1. metadata: the new key into its page, on the PE of tile floor((ctx - 1) / P) mod n */
    KernelDesc km = {.kind = KK_PAGE_META};
    km.meta.head_dim = (int)D;
    km.meta.page = (int)P;
    km.meta.kv = kvt;
    km.meta.mtype = kvt;
    km.meta.interleave = (int)n;
    for (long long j = 0; j < n; j++) {
        const MapRegion *rg = &st->regions[j];
        int pe = unit_pe(g, rg->channel, rg->bank), pi = pe_index(g, rg->channel, rg->bank);
        if (n > 1) {
            g->when_on = true;
            g->when = (Expr){1, -1, P, 0, n};
            g->when_eq = j;
        }
        kernel_begin(g, pe, &km);
        rd(g, &Kp->tb[pi]);
        wr(g, &g->stream_tb[si]);
        cJSON *bufs[2] = {ref_meta(st, rg, pr), ref_pe(Kp, (b * ms->kv_heads + h) * D * es, D * es)};
        kernel_bufs(g, bufs, 2);
        Expr args[2] = {(Expr){1, -1, 1, 0, 0}, konst(1)};
        kernel_args(g, args, 2);
        double t = (double)(4 * rb) / g->B_hb;
        cmd_end(g, t, t);
    }
    /* 2. scores: tile j holds pages p = j mod n, floor((ceil(ctx / P) + n - 1 - j) / n) of them */
    KernelDesc ks = {.kind = KK_PAGE_SCORE};
    ks.score.head_dim = (int)D;
    ks.score.g = (int)G;
    ks.score.topk = 0;
    ks.score.mtype = kvt;
    for (long long j = 0; j < n; j++) {
        const MapRegion *rg = &st->regions[j];
        int c = rg->channel, bank = rg->bank, pe = unit_pe(g, c, bank), pi = pe_index(g, c, bank);
        Expr np = {1, P - 1 + P * (n - 1 - j), P * n, 0, 0};
        kernel_begin(g, pe, &ks);
        rd(g, &Qp->tb[pi]);
        rd(g, &g->stream_tb[si]);
        wr(g, &Sc->tb[pi]);
        cJSON *bufs[4] = {NULL, ref_pe(Sc, 0, st->pages * 4), ref_pe(Qp, b * qrow + h * gd, gd), ref_meta(st, rg, pr)};
        kernel_bufs(g, bufs, 4);
        kernel_args(g, &np, 1);
        double et[2];
        for (int w = 0; w < 2; w++) {
            double pg = (double)expr_eval(np, g->ctx[w]);
            double tc = pg * (double)(G * D * 2) / g->P_pe, tb = pg * (double)(2 * rb) / g->B_hb;
            et[w] = tc > tb ? tc : tb;
        }
        cmd_end(g, et[0], et[1]);
        /* 3. into page order on the NPU: page p = i n + j at p * 4 (every page the tile can hold: rows is
           a number, the entries past the context's pages are not read) */
        emit_to_npu(g, c, bank, Sc, 0, Sn, j * 4, st->pages, 4, 4, n * 4);
    }
    KernelDesc kt = {.kind = KK_TOPK};
    kt.topk.k = (int)K;
    kernel_begin(g, EXEC_NPU_KEY, &kt);
    rd(g, &Sn->tb);
    wr(g, &Ln->tb);
    cJSON *bufs[2] = {ref_npu(g, Ln, 0, K * 4), ref_npu(g, Sn, 0, st->pages * n * 4)};
    kernel_bufs(g, bufs, 2);
    Expr pages = {1, P - 1, P, 0, 0};
    kernel_args(g, &pages, 1);
    double et[2];
    for (int w = 0; w < 2; w++)
        et[w] = t_vec(g, 2.0 * (double)expr_eval(pages, g->ctx[w]) + (double)K);
    cmd_end(g, et[0], et[1]);
    /* 4. the list to every PE of the stream's channels */
    ChanSet chans = 0;
    for (long long j = 0; j < n; j++)
        chans |= CHAN_BIT(st->regions[j].channel);
    for (int c = 0; c < g->N; c++)
        if (chans & CHAN_BIT(c))
            emit_to_pes(g, c, Ln, 0, K * 4, Lp);
    return Lp;
}

/* Decode attention of a stream computed on the NPU (`by npu`, a naive placement): per pattern range, its
 * slots' keys and values loaded over the channels of its banks (kv_load of a stream: slot s from tile
 * s mod n, row s / n; every token of a dense head, the ring's min(ctx, S + W) slots of a static one, in
 * slot order: attention does not depend on the keys' order), then the causal kernel on the NPU with the
 * query at ctx - 1 straight into the result. */
static void stream_on_npu(Gen *g, int si, const Attention *at, NBuf *q, NBuf *y, NBuf *Lt, const KernelDesc *ka,
                          long long es, PatRange *prs) {
    const MapStream *st = &g->map.streams[si];
    const ModelShape *ms = &g->m->model;
    long long D = ms->head_dim, G = ms->heads / ms->kv_heads, qrow = ms->heads * D * 4, gd = G * D * 4;
    long long h = st->head, b = st->batch, rb = st->row_bytes;
    int npr = pattern_ranges(at, st, prs);
    for (int k = 0; k < npr; k++) {
        const PatRange *pr = &prs[k];
        long long slots = attn_slots(pr->pat, g->m->work.max_seq);
        if (slots > st->cap * st->n)
            slots = st->cap * st->n;
        Expr cnt = {1, 0, 1, pr->pat->kind == PAT_STATIC ? slots : 0, 0};
        g->lay0 = pr->p0;
        g->lay1 = pr->p1;
        NBuf *Kb = npu_temp(g, slots * rb), *Vb = npu_temp(g, slots * rb);
        for (int part = 0; part < 2; part++)
            for (int c = 0; c < g->C; c++) {
                int held = 0;
                for (int j = 0; j < st->n; j++)
                    held += st->regions[j].channel == c;
                if (held == 0)
                    continue;
                NBuf *dst = part ? Vb : Kb;
                cmd_begin(g, exec_link(g, link_channel(g, c)), "kv_load");
                rd(g, &g->stream_tb[si]);
                wr(g, &dst->tb);
                add_num(g->cj, "stream", si);
                add_str(g->cj, "part", part ? "v" : "k");
                cJSON_AddItemToObject(g->cj, "dst", ref_npu(g, dst, 0, slots * rb));
                cJSON_AddItemToObject(g->cj, "first", expr_json(konst(0)));
                cJSON_AddItemToObject(g->cj, "count", expr_json(cnt));
                double e[2];
                for (int w = 0; w < 2; w++)
                    e[w] = t_channel(g, (double)(expr_eval(cnt, g->ctx[w]) * rb) * held / st->n);
                cmd_end(g, e[0], e[1]);
            }
        kernel_begin(g, EXEC_NPU_KEY, ka);
        rd(g, &q->tb);
        rd(g, &Kb->tb);
        rd(g, &Vb->tb);
        rd(g, &g->pos->tb);
        wr(g, &y->tb);
        wr(g, &Lt->tb);
        cJSON *bufs[7] = {ref_npu(g, y, b * qrow + h * gd, gd), ref_npu(g, Lt, 0, G * 4), ref_npu(g, q, b * qrow + h * gd, gd),
                          ref_npu(g, Kb, 0, slots * rb), ref_npu(g, Vb, 0, slots * rb), NULL, ref_npu(g, g->pos, b * 4, 4)};
        kernel_bufs(g, bufs, 7);
        Expr args[3] = {konst(1), konst(0), cnt};
        kernel_args(g, args, 3);
        double e[2];
        for (int w = 0; w < 2; w++) {
            double tok = (double)expr_eval(cnt, g->ctx[w]);
            e[w] = tok * (double)(G * D * 2) / g->F_npu + t_vec(g, tok * (double)G * 5);
        }
        cmd_end(g, e[0], e[1]);
        (void)es;
    }
    g->lay0 = g->lay1 = 0;
}

/* Decode attention of an attention plan: every stream, for each range of its layers with one pattern,
 * on the PE under each of its tiles' banks over the tokens that tile holds (a dynamic range: over its
 * share of the pages Quest selects), the partial states merged on the NPU into the stream's place in the
 * result. */
static bool attention_plan_decode(Gen *g, const Op *v, int ai, NBuf *q, NBuf *kk, NBuf *y, const KernelDesc *ka,
                                  long long es) {
    const Attention *at = &g->m->attns[ai];
    const ModelShape *ms = &g->m->model;
    long long D = ms->head_dim, G = ms->heads / ms->kv_heads, batch = g->batch, kvh = ms->kv_heads;
    long long qrow = ms->heads * D * 4, gd = G * D * 4;
    int s0 = g->map.attn_first[ai], s1 = g->map.attn_first[ai + 1];
    KernelDType kvt = ka->attn.kv;
    PatRange *prs = ARENA_ARRAY(g->a, PatRange, g->m->model.layers + 1);
    for (int si = s0; si < s1; si++) {
        const MapStream *st = &g->map.streams[si];
        if (st->by.kind == EXEC_NONE)
            continue;
        const AttnTiles *tl = &at->tiles[st->line];
        if (st->by.kind != EXEC_NPU) {
            diag_error(g->d, tl->loc.file ? tl->loc : at->loc,
                       "%%%s: tiles computed by a PE away from their banks (`by chC.bK`) are not scheduled: the PE "
                       "would load them over the channel into its scratch, which format v1 has no command for "
                       "(docs/schedule.md §6, §7)", v->name);
            return false;
        }
        int npr = pattern_ranges(at, st, prs);
        for (int k = 0; k < npr; k++)
            if (prs[k].pat->kind == PAT_DYNAMIC) {
                diag_error(g->d, tl->loc.file ? tl->loc : at->loc,
                           "%%%s: a dynamic (Quest) stream computed on the NPU (`by npu`) is not scheduled: its page "
                           "metadata lives in its banks and is kept by their PEs (docs/schedule.md §6, §7)", v->name);
                return false;
            }
    }
    /* a dynamic range: the PEs need the new keys for the page metadata, in the layers [q0, q1) that
       cover the dynamic patterns */
    bool any_quest = false;
    long long q0 = g->m->model.layers, q1 = 0;
    for (int pi = 0; pi < at->npats; pi++)
        if (quest_selects(&at->pats[pi].pat)) {
            any_quest = true;
            q0 = at->pats[pi].layers.lo < q0 ? at->pats[pi].layers.lo : q0;
            q1 = at->pats[pi].layers.hi > q1 ? at->pats[pi].layers.hi : q1;
        }
    /* the queries and their positions (and, for page selection, the new keys in the cache's type) to every
       PE of the plan's channels */
    ChanSet chans = 0;
    for (int si = s0; si < s1; si++)
        for (int j = 0; j < g->map.streams[si].n && g->map.streams[si].by.kind == EXEC_NONE; j++)
            chans |= CHAN_BIT(g->map.streams[si].regions[j].channel);
    PBuf *Qp = pe_buf(g, batch * qrow), *Pp = pe_buf(g, batch * 4), *Kp = NULL;
    NBuf *Kn = NULL;
    if (any_quest) {
        Kp = pe_buf(g, batch * kvh * D * es);
        Kn = kk;
        if (es == 2) {
            Kn = npu_temp(g, batch * kvh * D * es);
            if (q1 - q0 < g->m->model.layers) {
                g->lay0 = (int)q0;
                g->lay1 = (int)q1;
            }
            emit_copy(g, kk, 0, Kn, 0, batch, kvh * D * 4, kvh * D * 4, kvh * D * es, true);
            g->lay0 = g->lay1 = 0;
        }
    }
    for (int c = 0; c < g->N; c++)
        if (chans & CHAN_BIT(c)) {
            emit_to_pes(g, c, q, 0, batch * qrow, Qp);
            emit_to_pes(g, c, g->pos, 0, batch * 4, Pp);
            if (Kp) {
                if (q1 - q0 < g->m->model.layers) {
                    g->lay0 = (int)q0;
                    g->lay1 = (int)q1;
                }
                emit_to_pes(g, c, Kn, 0, batch * kvh * D * es, Kp);
                g->lay0 = g->lay1 = 0;
            }
        }
    NBuf *Lt = npu_temp(g, G * 4);
    for (int si = s0; si < s1; si++) {
        const MapStream *st = &g->map.streams[si];
        if (st->by.kind == EXEC_NPU) {
            stream_on_npu(g, si, at, q, y, Lt, ka, es, prs);
            continue;
        }
        int n = st->n, npr = pattern_ranges(at, st, prs);
        long long h = st->head, b = st->batch;
        PBuf *Ob = pe_buf(g, n * gd), *Lb = pe_buf(g, n * G * 4);
        NBuf *Os = npu_temp(g, n * gd), *Ls = npu_temp(g, n * G * 4);
        for (int k = 0; k < npr; k++) {
            const PatRange *pr = &prs[k];
            g->lay0 = pr->p0;
            g->lay1 = pr->p1;
            long long slots = attn_slots(pr->pat, g->m->work.max_seq);
            bool quest = quest_selects(pr->pat);
            PBuf *Lp = quest ? quest_select(g, si, pr, Qp, Kp, kvt, es) : NULL;
            long long K = quest ? pr->pat->budget / pr->pat->page : 0, prow = quest ? quest_page_rows(st, pr->pat) : 0;
            long long nsel = K;     /* entries of the list the kernel reads: pages, or a tile's rows */
            if (quest && prow == 1 && pr->pat->page > 1)
                nsel = K * ((pr->pat->page + n - 1) / n);
            PBuf *Lrows = quest && nsel != K ? pe_buf(g, nsel * 4) : NULL;     /* a tile's rows of the pages */
            KernelDesc kq = *ka;    /* over the selected pages: a tile's share of a page is P / n rows (or 1) */
            kq.attn.page = (int)prow;
            kq.attn.causal = false;
            for (int j = 0; j < n; j++) {
                const MapRegion *rg = &st->regions[j];
                int c = rg->channel, bank = rg->bank, pe = unit_pe(g, c, bank), pi = pe_index(g, c, bank);
                Expr cnt = residue_count(n, j);
                if (pr->pat->kind == PAT_STATIC)
                    cnt.clamp = slots;  /* the ring holds sink + window tokens at most */
                long long base = rg->addr + (long long)(pr->p0 - st->l0) * rg->stride;
                long long lstride = st->l1 - st->l0 > 1 ? rg->stride : 0;
                long long kvbytes = st->cap * st->row_bytes;
                PBuf *Lj = Lp;
                if (Lrows) {    /* the selection as this tile's local rows */
                    KernelDesc kr = {.kind = KK_PAGE_ROWS};
                    kr.rows.page = pr->pat->page;
                    kr.rows.tiles = n;
                    kr.rows.k = (int)K;
                    Lj = Lrows;
                    kernel_begin(g, pe, &kr);
                    rd(g, &Lp->tb[pi]);
                    wr(g, &Lj->tb[pi]);
                    cJSON *rb2[2] = {ref_pe(Lj, 0, nsel * 4), ref_pe(Lp, 0, K * 4)};
                    kernel_bufs(g, rb2, 2);
                    Expr ja = konst(j);
                    kernel_args(g, &ja, 1);
                    double tr = t_vec(g, (double)nsel);
                    cmd_end(g, tr, tr);
                }
                kernel_begin(g, pe, quest ? &kq : ka);
                rd(g, &Qp->tb[pi]);
                if (quest)
                    rd(g, &Lj->tb[pi]);
                else
                    rd(g, &Pp->tb[pi]);
                rd(g, &g->stream_tb[si]);
                wr(g, &Ob->tb[pi]);
                wr(g, &Lb->tb[pi]);
                cJSON *bufs[7] = {ref_pe(Ob, j * gd, gd), ref_pe(Lb, j * G * 4, G * 4), ref_pe(Qp, b * qrow + h * gd, gd),
                                  ref_bank(c, bank, base, lstride, kvbytes),
                                  ref_bank(c, bank, base + kvbytes, lstride, kvbytes),
                                  quest ? ref_pe(Lj, 0, nsel * 4) : NULL, quest ? NULL : ref_pe(Pp, b * 4, 4)};
                kernel_bufs(g, bufs, 7);
                if (quest) {    /* hi: the selected pages' rows in this tile, {sel, page_rows, rows} */
                    cJSON *a = cJSON_CreateArray();
                    cJSON_AddItemToArray(a, num(1));
                    cJSON_AddItemToArray(a, num(0));
                    cJSON *hi = cJSON_CreateObject();
                    cJSON_AddItemToObject(hi, "sel", ref_pe(Lj, 0, nsel * 4));
                    add_num(hi, "page_rows", (double)prow);
                    cJSON_AddItemToObject(hi, "rows", expr_json(cnt));
                    cJSON_AddItemToArray(a, hi);
                    cJSON_AddItemToObject(g->cj, "args", a);
                } else {
                    Expr args[3] = {konst(1), konst(0), cnt};
                    kernel_args(g, args, 3);
                }
                double et[2];
                for (int w = 0; w < 2; w++) {
                    double tok = (double)expr_eval(cnt, g->ctx[w]);
                    if (quest) {    /* floor(B / P) pages of about P / n rows, fewer while the context is short */
                        double most = (double)(K * pr->pat->page) / (double)n;
                        tok = tok < most ? tok : most;
                    }
                    double tc = tok * (double)(G * D * 2) / g->P_pe, tb = tok * (double)(2 * D * es) / g->B_hb;
                    et[w] = tc > tb ? tc : tb;
                }
                cmd_end(g, et[0], et[1]);
                emit_to_npu(g, c, bank, Ob, j * gd, Os, j * gd, 1, gd, gd, gd);
                emit_to_npu(g, c, bank, Lb, j * G * 4, Ls, j * G * 4, 1, G * 4, G * 4, G * 4);
            }
            KernelDesc km = {.kind = KK_MERGE};
            km.merge.head_dim = (int)D;
            kernel_begin(g, EXEC_NPU_KEY, &km);
            rd(g, &Os->tb);
            rd(g, &Ls->tb);
            wr(g, &y->tb);
            wr(g, &Lt->tb);
            cJSON *bufs[4] = {ref_npu(g, y, b * qrow + h * gd, gd), ref_npu(g, Lt, 0, G * 4), ref_npu(g, Os, 0, n * gd),
                              ref_npu(g, Ls, 0, n * G * 4)};
            kernel_bufs(g, bufs, 4);
            Expr args[2] = {konst(G), konst(n)};
            kernel_args(g, args, 2);
            double tm = t_vec(g, (double)(G * n * (D + 2) * 3));
            cmd_end(g, tm, tm);
        }
        g->lay0 = g->lay1 = 0;
    }
    return true;
}

/* Fused attention of the value op v (score op s): the new tokens' K and V appended to the caches, then
 * prefill on the NPU; decode per (KV head, batch) pair near the memory holding its K and V, or on the
 * NPU. */
static bool emit_attention(Gen *g, int vi) {
    const Op *v = &g->ph->ops[vi], *s = &g->ph->ops[g->score_of[vi]];
    const ModelShape *ms = &g->m->model;
    long long D = ms->head_dim, kvh = ms->kv_heads, G = ms->heads / kvh, batch = g->batch, rows;
    for (int w = 0; w < 2; w++) {
        const Op *o = w ? v : s;
        /* a window of max_seq tokens or more never hides a key: plain causal attention */
        if (o->window > 0 && o->window < g->m->work.max_seq && ir_attention_of_op(g->m, vi) >= 0) {
            diag_error(g->d, o->loc, "%%%s: an attention plan over a sliding-window attention (window %d, shorter "
                       "than max_seq %lld) is not scheduled: its streams' tiles do not know their keys' positions, "
                       "which the window needs (docs/schedule.md §6)", o->name, o->window,
                       (long long)g->m->work.max_seq);
            return false;
        }
        for (int k = 0; k < o->ntiles; k++) {
            const OpTile *t = &o->tiles[k];
            for (int dim = DIM_M; dim <= DIM_K; dim++)
                if (t->box[dim].lo != 0 || t->box[dim].hi != o->shape[dim]) {
                    diag_error(g->d, o->loc, "%%%s: attention split along the context or a head's dimensions is not "
                               "scheduled (only whole (KV head, batch) pairs are)", o->name);
                    return false;
                }
            if (g->pk == PH_PREFILL && t->exec.kind != EXEC_NPU) {
                diag_error(g->d, o->loc, "%%%s: prefill attention runs on the NPU in the schedule", o->name);
                return false;
            }
        }
    }
    NBuf *q = input_of(g, s, 0, &rows), *kk = input_of(g, s, 1, &rows), *vv = input_of(g, v, 1, &rows);
    NBuf *y = result_of(g, vi, g->rows, ms->heads * D);
    KernelDType kvt = map_kv_dtype(g->m);
    long long es = kvt == KD_F16 ? 2 : 4;
    emit_kv_append(g, s->tensor, kk);
    emit_kv_append(g, v->tensor, vv);
    int ai = ir_attention_of_op(g->m, vi);     /* a plan places K and V in its streams' tiles instead */
    if (ai >= 0) {
        PatRange *prs = ARENA_ARRAY(g->a, PatRange, g->m->model.layers + 1);
        for (int si = g->map.attn_first[ai]; si < g->map.attn_first[ai + 1]; si++) {
            int npr = pattern_ranges(&g->m->attns[ai], &g->map.streams[si], prs);
            for (int k = 0; k < npr; k++) {
                emit_stream_append(g, si, &prs[k], false, kk);
                emit_stream_append(g, si, &prs[k], true, vv);
                if (g->pk == PH_PREFILL && quest_selects(prs[k].pat))
                    quest_prefill_meta(g, si, &prs[k], kk, kvt, es);
            }
        }
    }
    KernelDesc ka = {.kind = KK_ATTN};
    ka.attn.head_dim = (int)D;
    ka.attn.g = (int)G;
    ka.attn.kv = kvt;
    /* causal in both phases: one kernel to compile. In decode every query sits at ctx - 1 (the
       positions input), so every key it reads is visible and causal equals plain attention */
    ka.attn.causal = true;
    /* a sliding window shorter than the cache: row i sees keys (qpos[i] - window, qpos[i]] */
    int window = s->window > v->window ? s->window : v->window;
    ka.attn.window = window > 0 && window < g->m->work.max_seq ? window : 0;
    if (g->pk == PH_PREFILL) {
        attention_prefill(g, q, kk, vv, y, &ka, es);
        return true;
    }
    if (ai >= 0)
        return attention_plan_decode(g, v, ai, q, kk, y, &ka, es);
    /* which pairs run near memory, grouped by the banks that hold them */
    long long P = kvh * batch;
    int *where = ARENA_ARRAY(g->a, int, P);     /* -1: the NPU; else a group */
    const Place **gplace = ARENA_ARRAY(g->a, const Place *, P);
    int ngroups = 0, moved = 0;
    for (long long p = 0; p < P; p++) {
        int h = (int)(p / batch), b = (int)(p % batch);
        AttnPairAt at = attn_pair_at(g->m, s, v, h, b);
        where[p] = -1;
        moved += at == PAIR_MOVED;
        if (at != PAIR_NEAR)
            continue;
        const Place *pk = &attn_kv_tile(&g->m->tensors[s->tensor], h, b)->place;
        int gi = 0;
        while (gi < ngroups && !same_place(gplace[gi], pk))
            gi++;
        if (gi == ngroups)
            gplace[ngroups++] = pk;
        where[p] = gi;
    }
    if (moved) {
        diag_warning(g->d, v->loc, "%%%s: %d of %lld (KV head, batch) pairs the plan computes near memory run on the "
                     "NPU: the fused attention kernel needs a pair's K and V in the same banks, and %%%s's K cache and "
                     "%%%s's V cache are placed apart (docs/schedule.md §5.3)", v->name, moved, P, s->name, v->name);
        g->stats.npu_attn_pairs += moved;
    }
    for (int gi = 0; gi < ngroups; gi++)
        attention_near(g, s, v, where, gi, q, y, &ka, es);
    attention_npu(g, s, v, where, q, y, &ka, es);
    return true;
}

/* ---------------------------------------------------------------- ops and bodies */

static bool emit_op(Gen *g, int i) {
    const Op *o = &g->ph->ops[i];
    g->op = i;
    slot_next(g);
    if (g->role[i] == ROLE_FUSED)
        return true;
    if (g->role[i] == ROLE_ATTN)
        return emit_attention(g, i);
    if (o->code != OP_FC && o->code != OP_ATTN_VALUE)
        for (int k = 0; k < o->ntiles; k++)
            if (o->tiles[k].exec.kind != EXEC_NPU) {
                diag_error(g->d, o->loc, "%%%s: only fc and attention run near memory in the schedule; %s runs on the "
                           "NPU", o->name, op_info[o->code].name);
                return false;
            }
    switch (o->code) {
    case OP_FC: return emit_fc(g, i);
    case OP_NORM: return emit_norm(g, i);
    case OP_ADD:
    case OP_MUL:
    case OP_ACTIVATION:
    case OP_SOFTMAX: return emit_eltwise(g, i);
    case OP_ROPE: return emit_rope(g, i);
    case OP_EMBEDDING: return emit_embedding(g, i);
    case OP_ATTN_TILE:
    case OP_ATTN_MERGE:
    case OP_PAGE_SELECT:
        diag_error(g->d, o->loc, "%%%s: %s comes with the sparse attention plans, which the schedule does not take yet "
                   "(docs/schedule.md §7)", o->name, op_info[o->code].name);
        return false;
    default:
        diag_error(g->d, o->loc, "%%%s: %s has no schedule", o->name, op_info[o->code].name);
        return false;
    }
}

/* Finds the fused attentions: attn_score -> [softmax ->] attn_value, each read only along the chain. */
static bool find_attention(Gen *g) {
    const Phase *ph = g->ph;
    int *uses = ARENA_ARRAY(g->a, int, ph->nops + 1);
    for (int i = 0; i < ph->nops; i++)
        for (int k = 0; k < ph->ops[i].ninputs; k++)
            if (ph->ops[i].inputs[k] >= 0)
                uses[ph->ops[i].inputs[k]]++;
    bool ok = true;
    for (int i = 0; i < ph->nops; i++) {
        const Op *v = &ph->ops[i];
        if (v->code != OP_ATTN_VALUE)
            continue;
        int sm = -1, s = v->inputs[0];
        if (s >= 0 && ph->ops[s].code == OP_SOFTMAX) {
            sm = s;
            s = ph->ops[sm].inputs[0];
        }
        if (s < 0 || ph->ops[s].code != OP_ATTN_SCORE || uses[s] != 1 || (sm >= 0 && uses[sm] != 1) ||
            g->role[s] != ROLE_OP) {
            diag_error(g->d, v->loc, "%%%s: the schedule runs attention as one kernel, attn_score -> [softmax ->] "
                       "attn_value, with the scores and probabilities read by nothing else", v->name);
            ok = false;
            continue;
        }
        g->role[i] = ROLE_ATTN;
        g->role[s] = ROLE_FUSED;
        if (sm >= 0)
            g->role[sm] = ROLE_FUSED;
        g->score_of[i] = s;
        g->softmax_of[i] = sm;
    }
    for (int i = 0; i < ph->nops && ok; i++)
        if (ph->ops[i].code == OP_ATTN_SCORE && g->role[i] == ROLE_OP) {
            diag_error(g->d, ph->ops[i].loc, "%%%s: attn_score without the attn_value it belongs to", ph->ops[i].name);
            ok = false;
        }
    return ok;
}

/* The layer's output: the layer op no other layer op reads (the last such, when there are several). */
static int layer_output(const Gen *g) {
    const Phase *ph = g->ph;
    int out = -1;
    for (int i = 0; i < ph->nops; i++) {
        if (ph->ops[i].scope != SCOPE_LAYER)
            continue;
        bool read = false;
        for (int j = 0; j < ph->nops && !read; j++)
            if (ph->ops[j].scope == SCOPE_LAYER)
                for (int k = 0; k < ph->ops[j].ninputs; k++)
                    read |= ph->ops[j].inputs[k] == i;
        if (!read && g->role[i] != ROLE_FUSED && ph->ops[i].out_rank == 2 && ph->ops[i].out[1] == g->m->model.hidden)
            out = i;
    }
    return out;
}

static int scope_last(const Phase *ph, OpScope sc) {
    int last = -1;
    for (int i = 0; i < ph->nops; i++)
        if (ph->ops[i].scope == sc)
            last = i;
    return last;
}

static void body_begin(Gen *g) {
    int nexec = g->nunits + g->nlinks;
    g->streams = ARENA_ARRAY(g->a, Stream, nexec);
    g->nids = 0;
    for (int i = 0; i < g->npersist; i++) {
        TBuf *t = g->persist[i];
        t->w.n = t->r.n = t->prev.n = 0;
    }
    const MemMap *mp = &g->map;
    for (int i = 0; i < mp->ntiles; i++)
        g->kv_tb[i].w.n = g->kv_tb[i].r.n = g->kv_tb[i].prev.n = 0;
    for (int i = 0; i < mp->nstreams; i++)
        g->stream_tb[i].w.n = g->stream_tb[i].r.n = g->stream_tb[i].prev.n = 0;
    for (int s = 0; s < 2; s++)
        g->slots[s].acc.n = g->slots[s].fence.n = 0;
    g->pe_top = 0;
}

static cJSON *body_end(Gen *g, int repeat) {
    cJSON *b = cJSON_CreateObject();
    add_num(b, "repeat", repeat);
    add_num(b, "commands", g->nids);
    cJSON *units = cJSON_CreateArray();
    for (int e = 0; e < g->nunits + g->nlinks; e++) {
        Stream *s = &g->streams[e];
        if (!s->cmds)
            continue;
        cJSON *u = cJSON_CreateObject();
        add_num(u, e < g->nunits ? "unit" : "link", e < g->nunits ? e : e - g->nunits);
        cJSON_AddItemToObject(u, "commands", s->cmds);
        cJSON_AddItemToArray(units, u);
        g->stats.streams++;
    }
    cJSON_AddItemToObject(b, "units", units);
    return b;
}

/* ---------------------------------------------------------------- estimates of the cost model */

typedef struct OpEst {
    bool has;
    double npu[2], nmp[2], energy[2];   /* per layer and step (decode) at the two contexts */
} OpEst;

/* The module's cost model op by op, one layer and one step at context `ctx` (decode) or the prompt. */
static void cost_ops(Gen *g, PhaseKind pk, OpEst *est) {
    const CostModel *cm = cost_model_get(g->m->cost_model);
    Diag quiet;
    diag_init_quiet(&quiet);
    for (int sc = 0; sc < SCOPE_COUNT_; sc++) {
        if (sc != SCOPE_LAYER && !cm->whole_model)
            continue;
        DfProblem *p = ARENA_NEW(g->a, DfProblem);
        DfPlan *plan = ARENA_NEW(g->a, DfPlan);
        if (!df_problem_scope(g->m, cm, (OpScope)sc, p, &quiet) || p->nops == 0)
            continue;
        if (!df_plan_from_module(g->m, p, plan, &quiet))
            longjmp(*g->a->oom, 1);     /* it fails only out of memory here: build_phase checked the graph is acyclic */
        p->layers = 1;
        for (int w = 0; w < 2; w++) {
            p->ctx_first = p->ctx_last = (int)g->ctx[w];
            p->gen = 1;
            if (cm->detail) {
                CostDetail *det = ARENA_NEW(g->a, CostDetail);
                cm->detail(p, plan, det);
                for (int k = 0; k < p->nops; k++) {
                    const OpDetail *od = &det->op[pk][k];
                    OpEst *e = &est[p->index[k]];
                    e->has = true;
                    e->npu[w] = pk == PH_PREFILL ? od->time : od->npu;
                    e->nmp[w] = pk == PH_PREFILL ? 0 : od->nmp;
                    double en = 0;
                    for (int f = 0; f < EF_COUNT_; f++)
                        en += od->energy[f];
                    e->energy[w] = en;
                }
            } else {
                CostResult r;
                cm->evaluate(p, plan, &r);
                for (int k = 0; k < p->nops; k++) {
                    OpEst *e = &est[p->index[k]];
                    e->has = true;
                    e->npu[w] = pk == PH_PREFILL ? r.op_prefill[k] : r.op_decode[k];
                    e->nmp[w] = 0;
                    e->energy[w] = 0;
                }
            }
        }
    }
}

static const char *runs_on(const Gen *g, int i) {
    const Op *o = &g->ph->ops[i];
    if (g->role[i] == ROLE_FUSED)
        return "fused";
    bool npu = false, near = false;
    for (int k = 0; k < o->ntiles; k++) {
        if (o->tiles[k].exec.kind == EXEC_NPU)
            npu = true;
        else
            near = true;
    }
    return npu && near ? "mix" : near ? "nmp" : "npu";
}

static cJSON *ops_json(Gen *g) {
    const Phase *ph = g->ph;
    OpEst *est = ARENA_ARRAY(g->a, OpEst, ph->nops + 1);
    cost_ops(g, g->pk, est);
    cJSON *ops = cJSON_CreateArray();
    for (int i = 0; i < ph->nops; i++) {
        const Op *o = &ph->ops[i];
        cJSON *j = cJSON_CreateObject();
        add_str(j, "name", o->name);
        add_str(j, "kind", op_info[o->code].name);
        add_str(j, "scope", op_scope_names[o->scope]);
        add_str(j, "runs", runs_on(g, i));
        if (g->role[i] == ROLE_FUSED) {
            for (int k = 0; k < ph->nops; k++)
                if (g->role[k] == ROLE_ATTN && (g->score_of[k] == i || g->softmax_of[k] == i))
                    add_num(j, "into", k);
        }
        if (est[i].has) {
            cJSON_AddItemToObject(j, "npu", est_json(g, est[i].npu[0], est[i].npu[1]));
            cJSON_AddItemToObject(j, "nmp", est_json(g, est[i].nmp[0], est[i].nmp[1]));
            cJSON_AddItemToObject(j, "energy", est_json(g, est[i].energy[0], est[i].energy[1]));
        }
        cJSON_AddItemToArray(ops, j);
    }
    return ops;
}

/* ---------------------------------------------------------------- a phase */

static bool emit_scope(Gen *g, OpScope sc, const int *order) {
    for (int k = 0; k < g->ph->nops; k++) {
        int i = order[k];
        if (g->ph->ops[i].scope == sc && !emit_op(g, i))
            return false;
    }
    return true;
}

static cJSON *io_entry(Gen *g, const NBuf *b) { return ref_npu(g, b, 0, b->bytes); }

static cJSON *build_phase(Gen *g, PhaseKind pk) {
    const Module *m = g->m;
    const Phase *ph = &m->phases[pk];
    g->ph = ph;
    g->pk = pk;
    g->batch = m->work.batch;
    g->tokens = ph->tokens;
    g->rows = g->batch * ph->tokens;
    g->ctx[0] = ph->ctx_first;
    g->ctx[1] = ph->ctx_last;
    g->role = ARENA_ARRAY(g->a, Role, ph->nops + 1);
    g->score_of = ARENA_ARRAY(g->a, int, ph->nops + 1);
    g->softmax_of = ARENA_ARRAY(g->a, int, ph->nops + 1);
    g->act = ARENA_ARRAY(g->a, NBuf *, ph->nops + 1);
    g->npu_top = g->slot_max = g->pe_max = 0;
    g->slot_top[0] = g->slot_top[1] = 0;
    g->nrelocs = 0;
    g->npersist = 0;
    g->nslot_uses = 0;
    memset(g->slots, 0, sizeof g->slots);
    if (!find_attention(g))
        return NULL;
    int *order = ARENA_ARRAY(g->a, int, ph->nops + 1);
    int topo = ir_topo_order(ph, order);
    if (topo <= 0) {
        diag_error(g->d, ph->loc, topo < 0 ? "out of memory" : "phase %s: the op graph has a cycle", phase_names[pk]);
        return NULL;
    }
    bool has_pro = scope_last(ph, SCOPE_PROLOGUE) >= 0, has_epi = scope_last(ph, SCOPE_EPILOGUE) >= 0;
    bool has_rope = false, has_embed = false;   /* (attention reads the positions too: causal) */
    for (int i = 0; i < ph->nops; i++) {
        has_rope |= ph->ops[i].code == OP_ROPE || ph->ops[i].code == OP_ATTN_VALUE ||
                    (ph->ops[i].code == OP_EMBEDDING && ph->ops[i].positions > 0);
        has_embed |= ph->ops[i].code == OP_EMBEDDING;
    }
    int R = g->rows;
    long long H = m->model.hidden;
    g->constants = cJSON_CreateArray();
    g->tok = has_pro ? npu_fixed(g, (long long)R * 4) : NULL;
    g->pos = has_rope || pk == PH_PREFILL ? npu_fixed(g, (long long)R * 4) : NULL;
    g->iota = has_embed ? npu_fixed(g, (long long)R * 4) : NULL;
    if (g->iota) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToObject(c, "ref", io_entry(g, g->iota));
        add_str(c, "fill", "iota");
        cJSON_AddItemToArray(g->constants, c);
    }
    g->x = npu_fixed(g, (long long)R * H * 4);
    int out = layer_output(g);
    if (out < 0) {
        diag_error(g->d, ph->loc, "phase %s: the layer has no output (an op %lld wide that no other layer op reads)",
                   phase_names[pk], H);
        return NULL;
    }
    cJSON *phj = cJSON_CreateObject();
    add_num(phj, "tokens", ph->tokens);
    add_num(phj, "rows", R);
    add_num(phj, "steps", ph->steps);
    cJSON *ctx = cJSON_CreateObject();
    add_num(ctx, "first", (double)ph->ctx_first);
    add_num(ctx, "last", (double)ph->ctx_last);
    add_num(ctx, "max", pk == PH_DECODE ? m->work.max_seq : ph->ctx_last);
    cJSON_AddItemToObject(phj, "ctx", ctx);
    cJSON *npu_scratch = cJSON_AddNumberToObject(phj, "npu_scratch", 0);
    cJSON *pe_scratch = cJSON_AddNumberToObject(phj, "pe_scratch", 0);
    /* the bodies */
    cJSON *bodies[SCOPE_COUNT_] = {0};
    static const OpScope order3[3] = {SCOPE_PROLOGUE, SCOPE_LAYER, SCOPE_EPILOGUE};
    for (int k = 0; k < 3; k++) {
        OpScope sc = order3[k];
        body_begin(g);
        if (sc == SCOPE_PROLOGUE && has_pro)
            g->act[scope_last(ph, SCOPE_PROLOGUE)] = g->x;  /* the prologue's result is the first layer's x */
        if (!emit_scope(g, sc, order))
            return NULL;
        if (sc == SCOPE_LAYER) {    /* the layer's output becomes the next layer's x */
            g->op = out;
            newgen(g, &g->x->tb);
            emit_copy(g, g->act[out], 0, g->x, 0, 1, (long long)R * H * 4, (long long)R * H * 4,
                      (long long)R * H * 4, false);
            g->op = -1;
        }
        bodies[sc] = body_end(g, sc == SCOPE_LAYER ? m->model.layers : 1);
    }
    /* inputs and outputs */
    cJSON *inputs = cJSON_CreateObject();
    if (g->tok)
        cJSON_AddItemToObject(inputs, "tokens", io_entry(g, g->tok));
    else
        cJSON_AddItemToObject(inputs, "x", io_entry(g, g->x));
    if (g->pos)
        cJSON_AddItemToObject(inputs, "positions", io_entry(g, g->pos));
    cJSON *outputs = cJSON_CreateObject();
    if (has_epi) {
        int last = scope_last(ph, SCOPE_EPILOGUE);
        cJSON_AddItemToObject(outputs, "logits", io_entry(g, g->act[last]));
    } else {
        cJSON_AddItemToObject(outputs, "x", io_entry(g, g->x));
    }
    /* the layer's output, which holds layer l's result after iteration l (the runtime's --check) */
    cJSON_AddItemToObject(outputs, "hidden", io_entry(g, g->x));
    /* and the result of its attention, when it has one: layer l's attention output after iteration l
       (--check's error per head) */
    int nattn = 0, attn = -1;
    for (int i = 0; i < ph->nops; i++)
        if (g->role[i] == ROLE_ATTN && ph->ops[i].scope == SCOPE_LAYER && g->act[i]) {
            nattn++;
            attn = i;
        }
    if (nattn == 1 && g->act[attn]->bytes == (long long)R * m->model.heads * m->model.head_dim * 4)
        cJSON_AddItemToObject(outputs, "attention", io_entry(g, g->act[attn]));
    cJSON_AddItemToObject(phj, "inputs", inputs);
    cJSON_AddItemToObject(phj, "outputs", outputs);
    cJSON_AddItemToObject(phj, "constants", g->constants);
    cJSON_AddItemToObject(phj, "ops", ops_json(g));
    cJSON_AddItemToObject(phj, "prologue", bodies[SCOPE_PROLOGUE]);
    cJSON_AddItemToObject(phj, "layer", bodies[SCOPE_LAYER]);
    cJSON_AddItemToObject(phj, "epilogue", bodies[SCOPE_EPILOGUE]);
    /* the staging slots go after the fixed buffers */
    long long base0 = align_up(g->npu_top), base1 = base0 + g->slot_max;
    for (int i = 0; i < g->nrelocs; i++)
        cJSON_SetNumberValue(g->relocs[i].item, (double)((g->relocs[i].slot ? base1 : base0) + g->relocs[i].rel));
    if (npu_scratch)
        cJSON_SetNumberValue(npu_scratch, (double)(base1 + g->slot_max));
    if (pe_scratch)
        cJSON_SetNumberValue(pe_scratch, (double)g->pe_max);
    return phj;
}

/* ---------------------------------------------------------------- the document */

static cJSON *energy_json(const Hardware *hw) {
    cJSON *a = cJSON_CreateArray();
    for (int k = 0; k < EF_COUNT_; k++) {
        const EnergyEntry *e = &hw->energy[k];
        cJSON *j = cJSON_CreateObject();
        add_str(j, "name", energy_names[k]);
        add_num(j, "value", e->value);
        add_str(j, "unit", energy_kinds[k] == UK_ENERGY_MAC ? "pJ/MAC" : "pJ/bit");
        if (e->ntable > 0) {
            cJSON *t = cJSON_CreateArray();
            for (int i = 0; i < e->ntable; i++) {
                cJSON *p = cJSON_CreateArray();
                cJSON_AddItemToArray(p, num(e->table[i].freq));
                cJSON_AddItemToArray(p, num(e->table[i].pj));
                cJSON_AddItemToArray(t, p);
            }
            cJSON_AddItemToObject(j, "table", t);
        }
        add_str(j, "source", e->source ? e->source : "");
        cJSON_AddItemToArray(a, j);
    }
    return a;
}

static cJSON *device_json(const Gen *g) {
    const Hardware *hw = &g->m->dev.hw;
    cJSON *d = cJSON_CreateObject();
    add_str(d, "name", hw->name ? hw->name : "default");
    add_str(d, "precision", precision_name((Precision)hw->precision));
    add_num(d, "channels", g->C);
    add_num(d, "nmp_channels", g->N);
    add_num(d, "banks_per_channel", g->B);
    add_num(d, "bank_capacity", hw->bank_capacity);
    cJSON *o = cJSON_AddObjectToObject(d, "channel");
    add_num(o, "bandwidth", hw->channel_bandwidth);
    add_num(o, "utilization", hw->channel_utilization);
    o = cJSON_AddObjectToObject(d, "npu");
    add_num(o, "throughput", hw->npu_throughput);
    add_num(o, "utilization", hw->npu_utilization);
    add_num(o, "sram", hw->npu_sram);
    o = cJSON_AddObjectToObject(d, "nmp");
    add_num(o, "transfer_bandwidth", hw->nmp_transfer_bandwidth);
    o = cJSON_AddObjectToObject(d, "pe");
    add_num(o, "fpus", hw->pe_fpus);
    add_num(o, "simd", hw->pe_simd);
    add_num(o, "frequency", hw->pe_frequency);
    add_num(o, "bandwidth", hw->pe_bandwidth);
    add_num(o, "banks", hw->pe_banks);
    o = cJSON_AddObjectToObject(d, "buffers");
    add_num(o, "input", hw->buffer_input);
    add_num(o, "weight", hw->buffer_weight);
    add_num(o, "output", hw->buffer_output);
    cJSON_AddItemToObject(d, "energy", energy_json(hw));
    cJSON *units = cJSON_AddArrayToObject(d, "units");
    cJSON *u = cJSON_CreateObject();
    add_str(u, "kind", "npu");
    add_num(u, "rate", hw->npu_throughput);
    add_num(u, "sram", hw->npu_sram);
    cJSON_AddItemToArray(units, u);
    for (int c = 0; c < g->C; c++) {
        u = cJSON_CreateObject();
        add_str(u, "kind", "channel");
        add_num(u, "channel", c);
        add_bool(u, "nmp", c < g->N);
        cJSON_AddItemToArray(units, u);
    }
    for (int c = 0; c < g->C; c++)
        for (int b = 0; b < g->B; b++) {
            u = cJSON_CreateObject();
            add_str(u, "kind", "bank");
            add_num(u, "channel", c);
            add_num(u, "bank", b);
            add_num(u, "capacity", hw->bank_capacity);
            cJSON_AddItemToArray(units, u);
        }
    for (int c = 0; c < g->N; c++)
        for (int p = 0; p < g->pes_per_ch; p++) {
            u = cJSON_CreateObject();
            add_str(u, "kind", "pe");
            add_num(u, "channel", c);
            add_num(u, "pe", p);
            cJSON_AddItemToObject(u, "banks", pair(p * g->pb, (p + 1) * g->pb));
            add_num(u, "rate", g->P_pe);
            cJSON_AddItemToArray(units, u);
        }
    cJSON *links = cJSON_AddArrayToObject(d, "links");
    for (int c = 0; c < g->C; c++) {
        u = cJSON_CreateObject();
        add_str(u, "kind", "channel");
        add_num(u, "channel", c);
        add_num(u, "bandwidth", hw->channel_bandwidth);
        cJSON_AddItemToArray(links, u);
    }
    for (int c = 0; c < g->N; c++)
        for (int b = 0; b < g->B; b++) {
            u = cJSON_CreateObject();
            add_str(u, "kind", "hb");
            add_num(u, "channel", c);
            add_num(u, "bank", b);
            add_num(u, "bandwidth", hw->pe_bandwidth);
            cJSON_AddItemToArray(links, u);
        }
    for (int c = 0; c < g->N; c++) {
        u = cJSON_CreateObject();
        add_str(u, "kind", "xfer");
        add_num(u, "channel", c);
        add_num(u, "bandwidth", hw->nmp_transfer_bandwidth);
        cJSON_AddItemToArray(links, u);
    }
    return d;
}

static cJSON *box_json(const Tensor *T, const TensorTile *tt) {
    cJSON *b = cJSON_CreateArray();
    for (int k = 0; k < T->rank; k++)
        cJSON_AddItemToArray(b, pair(tt->box[k].lo, tt->box[k].hi));
    return b;
}

static cJSON *placement_json(const Gen *g) {
    const Module *m = g->m;
    cJSON *ts = cJSON_CreateArray();
    for (int ti = 0; ti < m->ntensors; ti++) {
        const Tensor *T = &m->tensors[ti];
        cJSON *j = cJSON_CreateObject();
        add_str(j, "name", T->name);
        add_str(j, "kind", T->kind == TEN_KV ? "kv" : "weight");
        cJSON *dims = cJSON_CreateArray();
        for (int k = 0; k < T->rank; k++)
            cJSON_AddItemToArray(dims, num((double)T->dims[k]));
        cJSON_AddItemToObject(j, "dims", dims);
        add_num(j, "layers", T->layers);
        cJSON *tiles = cJSON_AddArrayToObject(j, "tiles");
        for (int k = 0; k < T->ntiles; k++) {
            const MapTile *t = map_tile(&g->map, ti, k);
            cJSON *tj = cJSON_CreateObject();
            cJSON_AddItemToObject(tj, "box", box_json(T, &T->tiles[k]));
            add_str(tj, "layout", map_layout_names[t->layout]);
            add_str(tj, "dtype", be_dtype_name(t->dtype));
            add_num(tj, "row_bytes", (double)t->row_bytes);
            switch (t->layout) {
            case MAP_ROWS:
                add_num(tj, "k", t->k);
                add_num(tj, "scale_bytes", (double)t->scale_bytes);
                add_num(tj, "group", t->group);
                add_bool(tj, "bias", t->bias);
                cJSON_AddItemToObject(tj, "rows", pair(t->lo, t->hi));
                break;
            case MAP_VECTOR:
                add_bool(tj, "bias", t->bias);
                cJSON_AddItemToObject(tj, "elements", pair(t->lo, t->hi));
                break;
            case MAP_TOKENS:
                cJSON_AddItemToObject(tj, "heads", pair(t->h0, t->h1));
                cJSON_AddItemToObject(tj, "batch", pair(t->b0, t->b1));
                add_num(tj, "cap", (double)t->cap);
                break;
            default: break;
            }
            add_num(tj, "banks", t->nbanks);
            cJSON *regs = cJSON_AddArrayToObject(tj, "regions");
            for (int r = 0; r < t->nregions; r++) {
                const MapRegion *gr = &t->regions[r];
                cJSON *rj = cJSON_CreateObject();
                add_num(rj, "channel", gr->channel);
                add_num(rj, "bank", gr->bank);
                add_num(rj, "addr", (double)gr->addr);
                add_num(rj, "stride", (double)gr->stride);
                add_num(rj, "bytes", (double)gr->bytes);
                if (t->layout == MAP_TOKENS)
                    add_num(rj, "residue", (double)gr->lo);
                else
                    cJSON_AddItemToObject(rj, t->layout == MAP_ROWS ? "rows" : "elements", pair(gr->lo, gr->hi));
                cJSON_AddItemToArray(regs, rj);
            }
            cJSON_AddItemToArray(tiles, tj);
        }
        cJSON_AddItemToArray(ts, j);
    }
    return ts;
}

/* The attention plans' part of the memory map: patterns and streams (§3.1). */
static cJSON *attention_json(const Gen *g) {
    const Module *m = g->m;
    cJSON *arr = cJSON_CreateArray();
    for (int ai = 0; ai < m->nattns; ai++) {
        const Attention *at = &m->attns[ai];
        if (at->ntiles == 0)
            continue;
        cJSON *j = cJSON_CreateObject();
        add_num(j, "value", at->value_op);
        add_num(j, "score", at->score_op);
        add_num(j, "k", at->k_tensor);
        add_num(j, "v", at->v_tensor);
        cJSON *pats = cJSON_AddArrayToObject(j, "patterns");
        for (int pi = 0; pi < at->npats; pi++) {
            const AttnPatternLine *pl = &at->pats[pi];
            cJSON *pj = cJSON_CreateObject();
            cJSON_AddItemToObject(pj, "layers", pair(pl->layers.lo, pl->layers.hi));
            cJSON *hs = cJSON_AddArrayToObject(pj, "heads");
            for (int k = 0; k < pl->nheads; k++)
                cJSON_AddItemToArray(hs, num(pl->heads[k]));
            add_str(pj, "kind", pat_kind_names[pl->pat.kind]);
            if (pl->pat.kind == PAT_STATIC) {
                add_num(pj, "sink", pl->pat.sink);
                add_num(pj, "window", pl->pat.window);
            } else if (pl->pat.kind == PAT_DYNAMIC) {
                add_num(pj, "page", pl->pat.page);
                add_num(pj, "budget", pl->pat.budget);
            }
            cJSON_AddItemToArray(pats, pj);
        }
        cJSON *sts = cJSON_AddArrayToObject(j, "streams");
        for (int si = g->map.attn_first[ai]; si < g->map.attn_first[ai + 1]; si++) {
            const MapStream *st = &g->map.streams[si];
            cJSON *sj = cJSON_CreateObject();
            cJSON_AddItemToObject(sj, "layers", pair(st->l0, st->l1));
            add_num(sj, "head", st->head);
            add_num(sj, "batch", st->batch);
            add_str(sj, "dtype", be_dtype_name(st->dtype));
            add_num(sj, "row_bytes", (double)st->row_bytes);
            add_num(sj, "cap", (double)st->cap);
            add_num(sj, "pages", (double)st->pages);
            cJSON *regs = cJSON_AddArrayToObject(sj, "regions");
            for (int r = 0; r < st->n; r++) {
                const MapRegion *gr = &st->regions[r];
                cJSON *rj = cJSON_CreateObject();
                add_num(rj, "channel", gr->channel);
                add_num(rj, "bank", gr->bank);
                add_num(rj, "addr", (double)gr->addr);
                add_num(rj, "stride", (double)gr->stride);
                add_num(rj, "bytes", (double)gr->bytes);
                cJSON_AddItemToArray(regs, rj);
            }
            cJSON_AddItemToArray(sts, sj);
        }
        cJSON_AddItemToArray(arr, j);
    }
    return arr;
}

static void init_gen(Gen *g, const Module *m, Arena *a, Diag *d) {
    memset(g, 0, sizeof *g);
    const Hardware *hw = &m->dev.hw;
    g->a = a;
    g->m = m;
    g->dev = &m->dev;
    g->d = d;
    g->C = dev_channels(&m->dev);
    g->B = dev_banks(&m->dev);
    g->N = dev_nmp_channels(&m->dev);
    g->pb = (int)hw->pe_banks;
    g->pes_per_ch = g->B / g->pb;
    g->npes = g->N * g->pes_per_ch;
    g->nunits = 1 + g->C + g->C * g->B + g->npes;
    g->nlinks = g->C + g->N * g->B + g->N;
    g->F_npu = hw->npu_throughput * hw->npu_utilization;
    g->F_vec = hw->npu_throughput / 128;
    g->B_ch = hw->channel_bandwidth * hw->channel_utilization;
    g->P_pe = hw->pe_fpus * hw->pe_simd * hw->pe_frequency;
    g->B_hb = hw->pe_bandwidth;
    g->B_x = hw->nmp_transfer_bandwidth;
    g->op = -1;
}

static cJSON *build(Gen *g, const char *name) {
    const Module *m = g->m;
    if (!map_build(g->a, m, &g->map, g->d))
        return NULL;
    g->kv_tb = ARENA_ARRAY(g->a, TBuf, g->map.ntiles + 1);
    g->stream_tb = ARENA_ARRAY(g->a, TBuf, g->map.nstreams + 1);
    cJSON *root = cJSON_CreateObject();
    add_str(root, "format", SCHED_FORMAT);
    add_num(root, "version", SCHED_VERSION);
    add_str(root, "generator", "h2c " H2C_VERSION);
    add_str(root, "name", name);
    add_str(root, "source", m->source ? m->source : "");
    cJSON *o = cJSON_AddObjectToObject(root, "module");
    add_str(o, "cost_model", cost_model_names[m->cost_model]);
    add_str(o, "dataflow", dataflow_mode_names[m->dataflow]);
    add_str(o, "objective", objective_names[m->objective]);
    o = cJSON_AddObjectToObject(root, "model");
    add_str(o, "name", m->model.name ? m->model.name : "");
    add_num(o, "layers", m->model.layers);
    add_num(o, "hidden", m->model.hidden);
    add_num(o, "intermediate", m->model.intermediate);
    add_num(o, "heads", m->model.heads);
    add_num(o, "kv_heads", m->model.kv_heads);
    add_num(o, "head_dim", m->model.head_dim);
    add_num(o, "vocab", m->model.vocab);
    o = cJSON_AddObjectToObject(root, "workload");
    add_str(o, "name", m->work.name ? m->work.name : "");
    add_num(o, "batch", m->work.batch);
    add_num(o, "prompt", m->work.prompt);
    add_num(o, "generate", m->work.generate);
    add_num(o, "max_seq", m->work.max_seq);
    cJSON_AddItemToObject(root, "device", device_json(g));
    cJSON_AddItemToObject(root, "tensors", placement_json(g));
    cJSON_AddItemToObject(root, "attention", attention_json(g));
    cJSON *kernels = cJSON_AddArrayToObject(root, "kernels");
    cJSON *phases = cJSON_AddObjectToObject(root, "phases");
    for (int p = 0; p < PH_COUNT_; p++) {
        cJSON *ph = build_phase(g, (PhaseKind)p);
        if (!ph)
            return NULL;    /* the caller frees every block */
        cJSON_AddItemToObject(phases, phase_names[p], ph);
    }
    for (int i = 0; i < g->nkern; i++)
        cJSON_AddItemToArray(kernels, be_kernel_json(&g->kern[i]));
    g->stats.kernels = g->nkern;
    cJSON_AddItemToObject(root, "graph", be_graph_json(m, g->a));
    return root;
}

Schedule *be_schedule_build(const Module *m, const char *name, Diag *d) {
    Schedule *s = h2c_raw_alloc(sizeof *s);
    Gen *g = s ? h2c_raw_alloc(sizeof *g) : NULL;
    if (!g) {
        diag_error(d, NOLOC, "out of memory");
        h2c_raw_free(s, sizeof *s);
        return NULL;
    }
    memset(s, 0, sizeof *s);
    arena_init(&s->arena);
    s->json.prev = s->json.next = &s->json;
    jmp_buf oom;
    if (setjmp(oom)) {
        /* the arena or cJSON ran out: drop every block made so far */
        json_oom_jmp = NULL;
        json_free_all(&s->json);
        json_hooks(NULL);
        diag_error(d, NOLOC, "out of memory");
        h2c_raw_free(g, sizeof *g);
        arena_free(&s->arena);
        h2c_raw_free(s, sizeof *s);
        return NULL;
    }
    s->arena.oom = &oom;
    init_gen(g, m, &s->arena, d);
    json_hooks(&s->json);
    json_oom_jmp = &oom;
    int errors = d->errors;
    cJSON *root = build(g, name);
    json_oom_jmp = NULL;
    if (!root || d->errors > errors) {
        json_free_all(&s->json);
        root = NULL;
    }
    json_hooks(NULL);
    s->arena.oom = NULL;
    if (!root) {
        h2c_raw_free(g, sizeof *g);
        be_schedule_free(s);
        return NULL;
    }
    s->root = root;
    s->kernels = g->kern;
    s->nkernels = g->nkern;
    s->stats = g->stats;
    h2c_raw_free(g, sizeof *g);
    return s;
}

void be_schedule_free(Schedule *s) {
    if (!s)
        return;
    if (s->root) {
        json_hooks(&s->json);
        cJSON_Delete(s->root);
        json_hooks(NULL);
    }
    arena_free(&s->arena);
    h2c_raw_free(s, sizeof *s);
}

const KernelDesc *be_schedule_kernels(const Schedule *s, int *n) {
    *n = s->nkernels;
    return s->kernels;
}

const SchedStats *be_schedule_stats(const Schedule *s) { return &s->stats; }

bool be_schedule_render(const Schedule *s, JsonText *out) { return be_json_render(s->root, out); }
