/* sched_read.c: the runtime's reader of schedules (runtime.h, docs/schedule.md §8). It parses the JSON
 * with cJSON, then checks everything it reads into RtSchedule: a hand-edited or broken file gets one
 * error naming the file and the JSON path of the first thing wrong, never a crash. Sizes are bounded
 * before anything is allocated (the file, the nesting, every array), numbers must be finite, integral
 * where counts and addresses are meant, and in range; then come the cross-checks: units and links
 * against the device, the memory map, the kernel table, every command's unit, references and kernel
 * ABI at every context, and the dependency graph. */
#include "runtime.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *const rt_cmd_names[RT_CMD_COUNT_] = {"load",   "store",     "copy",    "transfer",
                                                 "kernel", "kv_append", "kv_load", "gather"};
const char *const rt_sched_scope_names[RT_SCHED_SCOPE_COUNT_] = {"prologue", "layer", "epilogue"};
const char *const rt_phase_names[2] = {"prefill", "decode"};
static const char *const layout_names[RT_LAYOUT_COUNT_] = {"rows", "vector", "tokens"};
static const char *const energy_names[RT_ENERGY_COUNT] = {"npu.mac",    "pe.mac",    "sram.access", "hb.io",
                                                         "channel.io", "dram.read", "dram.on_die"};

#define MAX_ADDR (1LL << 50)    /* addresses, sizes and strides */
#define MAX_DIM (1LL << 31)

/* ---------------------------------------------------------------- the reader's state and errors */

/* A region of a bank, with the layers it holds copies of and where the document has it. */
typedef struct BankRegion {
    const RtRegion *g;
    int64_t l0, l1;         /* its copies: layer l at g->addr + (l - l0) * g->stride */
    const char *owner;      /* "tensor NAME" or "the attention stream of NAME", for messages */
    const char *path;       /* its JSON path */
    bool per_layer;         /* a copy per layer (a layer's tensor, a stream), so messages name the layer */
} BankRegion;

typedef struct BankRegions {
    BankRegion *r;
    int n, cap;
} BankRegions;

typedef struct R {
    Diag *d;
    const char *name;
    Arena *a;
    RtSchedule *s;
    jmp_buf fail;
    char path[2048];
    size_t plen;
    BankRegions *banks;     /* [channel * banks + bank] */
    /* the phase and body being read */
    const RtPhase *ph;
    int phase, scope;
    int64_t ctx_lo, ctx_hi;
    int64_t lay0, lay1;     /* the layers the command being read runs in */
} R;

static _Noreturn void fail(R *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static _Noreturn void fail(R *r, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_error(r->d, NOLOC, "%s: %s: %s", r->name, r->path, msg);
    longjmp(r->fail, 1);
}

static size_t mark(const R *r) { return r->plen; }
static void reset(R *r, size_t m) {
    r->plen = m;
    r->path[m] = 0;
}
static void push_key(R *r, const char *k) {
    int n = snprintf(r->path + r->plen, sizeof r->path - r->plen, ".%s", k);
    if (n > 0 && r->plen + (size_t)n < sizeof r->path)
        r->plen += (size_t)n;
}
static void push_idx(R *r, long long i) {
    int n = snprintf(r->path + r->plen, sizeof r->path - r->plen, "[%lld]", i);
    if (n > 0 && r->plen + (size_t)n < sizeof r->path)
        r->plen += (size_t)n;
}

static const char *type_name(const cJSON *v) {
    if (!v)
        return "nothing";
    if (cJSON_IsObject(v))
        return "an object";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNull(v))
        return "null";
    return "a number";
}

/* ---------------------------------------------------------------- values at the current path */

static void need_type(R *r, const cJSON *v, bool ok, const char *what) {
    if (!v)
        fail(r, "missing");
    if (!ok)
        fail(r, "expected %s, found %s", what, type_name(v));
}

static double as_num(R *r, const cJSON *v, double lo, double hi) {
    need_type(r, v, cJSON_IsNumber(v), "a number");
    double x = v->valuedouble;
    if (!isfinite(x))
        fail(r, "%s is not a finite number", x != x ? "NaN" : "the number");
    if (x < lo || x > hi)
        fail(r, "%.17g is out of range (%.17g to %.17g)", x, lo, hi);
    return x;
}

static int64_t as_int(R *r, const cJSON *v, int64_t lo, int64_t hi) {
    need_type(r, v, cJSON_IsNumber(v), "an integer");
    double x = v->valuedouble;
    if (!isfinite(x))
        fail(r, "the number is not finite");
    if (x != floor(x))
        fail(r, "%.17g is not a whole number", x);
    if (x < (double)lo || x > (double)hi)
        fail(r, "%.17g is out of range (%lld to %lld)", x, (long long)lo, (long long)hi);
    return (int64_t)x;
}

static const char *as_str(R *r, const cJSON *v) {
    need_type(r, v, cJSON_IsString(v), "a string");
    return arena_strdup(r->a, v->valuestring);
}

static bool as_bool(R *r, const cJSON *v) {
    need_type(r, v, cJSON_IsBool(v), "true or false");
    return cJSON_IsTrue(v);
}

static int as_enum(R *r, const cJSON *v, const char *const *names, int n) {
    need_type(r, v, cJSON_IsString(v), "a string");
    for (int i = 0; i < n; i++)
        if (strcmp(v->valuestring, names[i]) == 0)
            return i;
    char list[512];
    size_t k = 0;
    list[0] = 0;
    for (int i = 0; i < n && k < sizeof list; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", names[i]);
    fail(r, "unknown value '%s' (one of %s)", v->valuestring, list);
}

/* Elements of an array at the current path, bounded. */
static int as_arr(R *r, const cJSON *v, int lo, int hi) {
    need_type(r, v, cJSON_IsArray(v), "an array");
    int n = 0;
    for (const cJSON *c = v->child; c; c = c->next)
        if (++n > RT_SCHED_MAX_COUNT)
            fail(r, "more than %d elements", RT_SCHED_MAX_COUNT);
    if (n < lo || n > hi)
        fail(r, "has %d element%s; expected %d%s%d", n, plural(n), lo, hi == lo ? "" : " to ", hi == lo ? lo : hi);
    return n;
}

/* ---------------------------------------------------------------- members of objects */

/* The object's keys: each known and once; every required one there. `keys` is NULL-terminated; a
 * name starting with '?' is optional. */
static void check_keys(R *r, const cJSON *o, const char *const *keys) {
    need_type(r, o, cJSON_IsObject(o), "an object");
    for (const cJSON *c = o->child; c; c = c->next) {
        bool known = false;
        for (int i = 0; keys[i] && !known; i++)
            known = strcmp(c->string, keys[i] + (keys[i][0] == '?')) == 0;
        if (!known)
            fail(r, "unknown key '%s'", c->string);
        for (const cJSON *e = o->child; e != c; e = e->next)
            if (strcmp(e->string, c->string) == 0)
                fail(r, "the key '%s' appears twice", c->string);
    }
    for (int i = 0; keys[i]; i++)
        if (keys[i][0] != '?' && !cJSON_GetObjectItemCaseSensitive(o, keys[i]))
            fail(r, "missing key '%s'", keys[i]);
}

static const cJSON *member(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

static int64_t get_int(R *r, const cJSON *o, const char *k, int64_t lo, int64_t hi) {
    size_t m = mark(r);
    push_key(r, k);
    int64_t v = as_int(r, member(o, k), lo, hi);
    reset(r, m);
    return v;
}

static double get_num(R *r, const cJSON *o, const char *k, double lo, double hi) {
    size_t m = mark(r);
    push_key(r, k);
    double v = as_num(r, member(o, k), lo, hi);
    reset(r, m);
    return v;
}

static const char *get_str(R *r, const cJSON *o, const char *k) {
    size_t m = mark(r);
    push_key(r, k);
    const char *v = as_str(r, member(o, k));
    reset(r, m);
    return v;
}

static bool get_bool(R *r, const cJSON *o, const char *k) {
    size_t m = mark(r);
    push_key(r, k);
    bool v = as_bool(r, member(o, k));
    reset(r, m);
    return v;
}

static int get_enum(R *r, const cJSON *o, const char *k, const char *const *names, int n) {
    size_t m = mark(r);
    push_key(r, k);
    int v = as_enum(r, member(o, k), names, n);
    reset(r, m);
    return v;
}

/* [lo, hi) as a two-element array with lo <= hi within [min, max]. */
static void get_range(R *r, const cJSON *o, const char *k, int64_t min, int64_t max, int64_t out[2]) {
    size_t m = mark(r);
    push_key(r, k);
    const cJSON *v = member(o, k);
    as_arr(r, v, 2, 2);
    size_t m2 = mark(r);
    push_idx(r, 0);
    out[0] = as_int(r, v->child, min, max);
    reset(r, m2);
    push_idx(r, 1);
    out[1] = as_int(r, v->child->next, min, max);
    reset(r, m2);
    if (out[1] < out[0])
        fail(r, "the range [%lld, %lld) ends before it starts", (long long)out[0], (long long)out[1]);
    reset(r, m);
}

/* An integer expression of the context (docs/schedule.md §4.2): its fields, the keys checked by the
 * caller. `mod` where predicates and kernel arguments may have it. */
enum { EXPR_MOD = 1, EXPR_SEL = 2 };
static RtExpr expr_fields(R *r, const cJSON *v, int allow) {
    RtExpr e;
    memset(&e, 0, sizeof e);
    e.ctx = get_int(r, v, "ctx", 1, 1 << 20);
    e.clamp = member(v, "max_ctx") ? get_int(r, v, "max_ctx", 1, MAX_DIM) : 0;
    e.plus = get_int(r, v, "plus", -MAX_ADDR, MAX_ADDR);
    e.div = member(v, "div") ? get_int(r, v, "div", 2, MAX_DIM) : 1;
    if (member(v, "mod")) {
        if (!(allow & EXPR_MOD)) {
            push_key(r, "mod");
            fail(r, "a count or a position grows with the context: 'mod' is for predicates ('when') and kernel "
                    "arguments");
        }
        e.mod = get_int(r, v, "mod", 2, MAX_DIM);
    }
    return e;
}

static RtRef as_ref(R *r, const cJSON *v);

static RtExpr as_expr_in(R *r, const cJSON *v, int allow) {
    if (cJSON_IsNumber(v)) {
        RtExpr e;
        memset(&e, 0, sizeof e);
        e.plus = as_int(r, v, -MAX_ADDR, MAX_ADDR);
        e.div = 1;
        return e;
    }
    need_type(r, v, cJSON_IsObject(v), "an integer or an expression of the context");
    if ((allow & EXPR_SEL) && member(v, "sel")) {   /* {"sel": REF, "page_rows": P, "rows": EXPR} */
        static const char *const keys[] = {"sel", "page_rows", "rows", NULL};
        check_keys(r, v, keys);
        size_t m = mark(r);
        push_key(r, "rows");
        RtExpr e = as_expr_in(r, member(v, "rows"), 0);
        reset(r, m);
        e.page_rows = get_int(r, v, "page_rows", 1, MAX_DIM);
        push_key(r, "sel");
        e.sel = as_ref(r, member(v, "sel"));
        if (e.sel.bytes % 4 != 0)
            fail(r, "a selection is a list of i32 page ids: %lld bytes is not a whole number of them",
                 (long long)e.sel.bytes);
        reset(r, m);
        return e;
    }
    static const char *const keys[] = {"ctx", "?max_ctx", "plus", "?div", "?mod", NULL};
    check_keys(r, v, keys);
    return expr_fields(r, v, allow);
}

static RtExpr as_expr(R *r, const cJSON *v) { return as_expr_in(r, v, 0); }

static RtExpr get_expr(R *r, const cJSON *o, const char *k) {
    size_t m = mark(r);
    push_key(r, k);
    RtExpr e = as_expr(r, member(o, k));
    reset(r, m);
    return e;
}

int64_t rt_expr_eval(RtExpr e, int64_t ctx) {
    if (e.clamp > 0 && ctx > e.clamp)
        ctx = e.clamp;
    int64_t n = e.ctx * ctx + e.plus, q = n / e.div;
    if (n % e.div != 0 && n < 0)
        q--;
    if (e.mod > 0) {
        q %= e.mod;
        if (q < 0)
            q += e.mod;
    }
    if (e.page_rows > 0) {  /* the most a selection of sel.bytes / 4 pages can give */
        int64_t most = e.sel.bytes / 4 * e.page_rows;
        if (q > most)
            q = most;
        if (q < 0)
            q = 0;
    }
    return q;
}

int64_t rt_sel_rows(const int32_t *sel, int64_t n, int64_t page_rows, int64_t rows) {
    if (page_rows < 1 || n < 0 || (n > 0 && !sel))
        return -1;
    int64_t hi = 0, prev = -1;
    bool ended = false, short_seen = false;
    for (int64_t i = 0; i < n; i++) {
        int64_t p = sel[i];
        if (p < 0) {
            if (p != -1)
                return -1;
            ended = true;
            continue;
        }
        if (ended || p <= prev)
            return -1;
        prev = p;
        int64_t have = rows - p * page_rows;
        have = have < 0 ? 0 : have > page_rows ? page_rows : have;
        if (short_seen && have > 0)
            return -1;  /* rows after a short page: the kernel's logical keys would skip some */
        short_seen |= have < page_rows;
        hi += have;
    }
    return hi;
}

int64_t rt_expr_value(RtExpr e, int64_t ctx, const int32_t *sel) {
    if (e.page_rows == 0)
        return rt_expr_eval(e, ctx);
    int64_t page_rows = e.page_rows;
    e.page_rows = 0;
    return rt_sel_rows(sel, e.sel.bytes / 4, page_rows, rt_expr_eval(e, ctx));
}

bool rt_cmd_runs(const RtCmd *c, int64_t layer, int64_t ctx) {
    if (c->layers[1] > c->layers[0] && (layer < c->layers[0] || layer >= c->layers[1]))
        return false;
    return !c->has_when || rt_expr_eval(c->when, ctx) == c->when_eq;
}

/* An estimate: seconds, a number or {ctx, plus}; never negative over the phase's contexts. */
static RtEst as_est(R *r, const cJSON *v) {
    RtEst e = {0, 0};
    if (cJSON_IsNumber(v)) {
        e.plus = as_num(r, v, 0, 1e12);
        return e;
    }
    static const char *const keys[] = {"ctx", "plus", NULL};
    check_keys(r, v, keys);
    e.ctx = get_num(r, v, "ctx", -1e12, 1e12);
    e.plus = get_num(r, v, "plus", -1e12, 1e12);
    if (e.ctx == 0)
        fail(r, "an estimate that does not depend on the context is written as a number");

    double lo = e.ctx * (double)r->ctx_lo + e.plus, hi = e.ctx * (double)r->ctx_hi + e.plus;
    if (lo < -1e-9 || hi < -1e-9)
        fail(r, "the estimate is negative at a context of %lld", (long long)(lo < -1e-9 ? r->ctx_lo : r->ctx_hi));
    return e;
}

static RtEst get_est(R *r, const cJSON *o, const char *k) {
    size_t m = mark(r);
    push_key(r, k);
    RtEst e = as_est(r, member(o, k));
    reset(r, m);
    return e;
}

/* ---------------------------------------------------------------- the device */

static double pow2ok(R *r, double v, const char *what) {
    if (v != floor(v) || v < 1 || (((int64_t)v) & ((int64_t)v - 1)))
        fail(r, "%s must be a power of two, not %.17g", what, v);
    return v;
}

static void read_units(R *r, const cJSON *arr, RtDevice *dv) {
    int C = dv->channels, B = dv->banks, N = dv->nmp_channels, pb = (int)dv->pe_banks, ppc = B / pb;
    int want = 1 + C + C * B + N * ppc;
    size_t m = mark(r);
    push_key(r, "units");
    as_arr(r, arr, want, want);
    dv->nunits = want;
    dv->units = ARENA_ARRAY(r->a, RtUnit, want);
    int i = 0;
    for (const cJSON *u = arr->child; u; u = u->next, i++) {
        size_t m2 = mark(r);
        push_idx(r, i);
        RtUnit *x = &dv->units[i];
        x->channel = x->bank = x->pe = x->bank_lo = x->bank_hi = -1;
        RtUnitKind want_kind = i == 0 ? RT_UNIT_NPU : i <= C ? RT_UNIT_CHANNEL : i <= C + C * B ? RT_UNIT_BANK : RT_UNIT_PE;
        static const char *const kinds[] = {"npu", "channel", "bank", "pe"};
        need_type(r, u, cJSON_IsObject(u), "an object");
        x->kind = (RtUnitKind)get_enum(r, u, "kind", kinds, 4);
        if (x->kind != want_kind)
            fail(r, "unit %d is %s %s, not %s %s (units are the NPU, the channels, the banks channel by channel, "
                    "then the PEs)", i, want_kind == RT_UNIT_NPU ? "the" : "a", kinds[want_kind],
                 x->kind == RT_UNIT_NPU ? "the" : "a", kinds[x->kind]);
        switch (x->kind) {
        case RT_UNIT_NPU: {
            static const char *const keys[] = {"kind", "rate", "sram", NULL};
            check_keys(r, u, keys);
            x->rate = get_num(r, u, "rate", dv->npu_throughput, dv->npu_throughput);
            x->sram = get_num(r, u, "sram", dv->npu_sram, dv->npu_sram);
            break;
        }
        case RT_UNIT_CHANNEL: {
            static const char *const keys[] = {"kind", "channel", "nmp", NULL};
            check_keys(r, u, keys);
            x->channel = (int)get_int(r, u, "channel", i - 1, i - 1);
            x->nmp = get_bool(r, u, "nmp");
            if (x->nmp != (x->channel < N))
                fail(r, "channel %d is %san NMP channel (channels 0..%d are)", x->channel, x->nmp ? "" : "not ", N - 1);
            break;
        }
        case RT_UNIT_BANK: {
            static const char *const keys[] = {"kind", "channel", "bank", "capacity", NULL};
            check_keys(r, u, keys);
            int k = i - 1 - C;
            x->channel = (int)get_int(r, u, "channel", k / B, k / B);
            x->bank = (int)get_int(r, u, "bank", k % B, k % B);
            x->capacity = get_num(r, u, "capacity", (double)dv->bank_capacity, (double)dv->bank_capacity);
            break;
        }
        case RT_UNIT_PE: {
            static const char *const keys[] = {"kind", "channel", "pe", "banks", "rate", NULL};
            check_keys(r, u, keys);
            int k = i - 1 - C - C * B;
            x->channel = (int)get_int(r, u, "channel", k / ppc, k / ppc);
            x->pe = (int)get_int(r, u, "pe", k % ppc, k % ppc);
            int64_t bk[2];
            get_range(r, u, "banks", 0, B, bk);
            if (bk[0] != (int64_t)x->pe * pb || bk[1] != bk[0] + pb)
                fail(r, "PE %d of a channel serves banks [%d, %d)", x->pe, x->pe * pb, (x->pe + 1) * pb);
            x->bank_lo = (int)bk[0];
            x->bank_hi = (int)bk[1];
            double rate = dv->pe_fpus * dv->pe_simd * dv->pe_frequency;
            x->rate = get_num(r, u, "rate", rate, rate);
            break;
        }
        }
        reset(r, m2);
    }
    reset(r, m);
}

static void read_links(R *r, const cJSON *arr, RtDevice *dv) {
    int C = dv->channels, B = dv->banks, N = dv->nmp_channels;
    int want = C + N * B + N;
    size_t m = mark(r);
    push_key(r, "links");
    as_arr(r, arr, want, want);
    dv->nlinks = want;
    dv->links = ARENA_ARRAY(r->a, RtLink, want);
    int i = 0;
    for (const cJSON *u = arr->child; u; u = u->next, i++) {
        size_t m2 = mark(r);
        push_idx(r, i);
        RtLink *x = &dv->links[i];
        static const char *const kinds[] = {"channel", "hb", "xfer"};
        need_type(r, u, cJSON_IsObject(u), "an object");
        RtLinkKind want_kind = i < C ? RT_LINK_CHANNEL : i < C + N * B ? RT_LINK_HB : RT_LINK_XFER;
        x->kind = (RtLinkKind)get_enum(r, u, "kind", kinds, 3);
        if (x->kind != want_kind)
            fail(r, "link %d is a %s link, not a %s link (links are the channels', the hybrid bonds' of every NMP bank, "
                    "then the NMP channels' transfer links)", i, kinds[want_kind], kinds[x->kind]);
        x->bank = -1;
        if (x->kind == RT_LINK_HB) {
            static const char *const keys[] = {"kind", "channel", "bank", "bandwidth", NULL};
            check_keys(r, u, keys);
            x->channel = (int)get_int(r, u, "channel", (i - C) / B, (i - C) / B);
            x->bank = (int)get_int(r, u, "bank", (i - C) % B, (i - C) % B);
            x->bandwidth = get_num(r, u, "bandwidth", dv->pe_bandwidth, dv->pe_bandwidth);
        } else {
            static const char *const keys[] = {"kind", "channel", "bandwidth", NULL};
            check_keys(r, u, keys);
            int c = x->kind == RT_LINK_CHANNEL ? i : i - C - N * B;
            x->channel = (int)get_int(r, u, "channel", c, c);
            double bw = x->kind == RT_LINK_CHANNEL ? dv->channel_bandwidth : dv->transfer_bandwidth;
            x->bandwidth = get_num(r, u, "bandwidth", bw, bw);
        }
        reset(r, m2);
    }
    reset(r, m);
}

static void read_device(R *r, const cJSON *o) {
    RtDevice *dv = &r->s->dev;
    size_t m = mark(r);
    push_key(r, "device");
    static const char *const keys[] = {"name", "precision", "channels", "nmp_channels", "banks_per_channel",
                                       "bank_capacity", "channel", "npu", "nmp", "pe", "buffers", "energy", "units",
                                       "links", NULL};
    check_keys(r, o, keys);
    dv->name = get_str(r, o, "name");
    static const char *const precs[] = {"fp16", "int8", "int4", "fp32"};
    dv->precision = precs[get_enum(r, o, "precision", precs, 4)];
    dv->channels = (int)get_int(r, o, "channels", 1, 64);
    dv->nmp_channels = (int)get_int(r, o, "nmp_channels", 0, dv->channels);
    dv->banks = (int)get_int(r, o, "banks_per_channel", 1, 1024);
    size_t m2 = mark(r);
    push_key(r, "banks_per_channel");
    pow2ok(r, dv->banks, "banks_per_channel");
    reset(r, m2);
    dv->bank_capacity = get_int(r, o, "bank_capacity", 1, 1LL << 40);
    const cJSON *c = member(o, "channel");
    push_key(r, "channel");
    static const char *const kch[] = {"bandwidth", "utilization", NULL};
    check_keys(r, c, kch);
    dv->channel_bandwidth = get_num(r, c, "bandwidth", 1, 1e18);
    dv->channel_utilization = get_num(r, c, "utilization", 1e-6, 1);
    reset(r, m2);
    c = member(o, "npu");
    push_key(r, "npu");
    static const char *const knpu[] = {"throughput", "utilization", "sram", NULL};
    check_keys(r, c, knpu);
    dv->npu_throughput = get_num(r, c, "throughput", 1, 1e21);
    dv->npu_utilization = get_num(r, c, "utilization", 1e-6, 1);
    dv->npu_sram = get_num(r, c, "sram", 0, 1e15);
    reset(r, m2);
    c = member(o, "nmp");
    push_key(r, "nmp");
    static const char *const knmp[] = {"transfer_bandwidth", NULL};
    check_keys(r, c, knmp);
    dv->transfer_bandwidth = get_num(r, c, "transfer_bandwidth", 1, 1e18);
    reset(r, m2);
    c = member(o, "pe");
    push_key(r, "pe");
    static const char *const kpe[] = {"fpus", "simd", "frequency", "bandwidth", "banks", NULL};
    check_keys(r, c, kpe);
    dv->pe_fpus = (double)get_int(r, c, "fpus", 1, 1 << 20);
    dv->pe_simd = (double)get_int(r, c, "simd", 1, 1 << 20);
    dv->pe_frequency = get_num(r, c, "frequency", 1, 1e15);
    dv->pe_bandwidth = get_num(r, c, "bandwidth", 1, 1e18);
    dv->pe_banks = (double)get_int(r, c, "banks", 1, dv->banks);
    if (dv->banks % (int)dv->pe_banks != 0) {
        push_key(r, "banks");
        fail(r, "a PE's %d banks do not divide the %d banks of a channel", (int)dv->pe_banks, dv->banks);
    }
    reset(r, m2);
    c = member(o, "buffers");
    push_key(r, "buffers");
    static const char *const kbuf[] = {"input", "weight", "output", NULL};
    check_keys(r, c, kbuf);
    dv->buf_input = (double)get_int(r, c, "input", 0, 1LL << 40);
    dv->buf_weight = (double)get_int(r, c, "weight", 0, 1LL << 40);
    dv->buf_output = (double)get_int(r, c, "output", 0, 1LL << 40);
    reset(r, m2);
    const cJSON *e = member(o, "energy");
    push_key(r, "energy");
    as_arr(r, e, RT_ENERGY_COUNT, RT_ENERGY_COUNT);
    int i = 0;
    for (const cJSON *x = e->child; x; x = x->next, i++) {
        size_t m3 = mark(r);
        push_idx(r, i);
        static const char *const ken[] = {"name", "value", "unit", "?table", "source", NULL};
        check_keys(r, x, ken);
        RtEnergy *en = &dv->energy[i];
        const char *nm = get_str(r, x, "name");
        if (strcmp(nm, energy_names[i]) != 0) {
            push_key(r, "name");
            fail(r, "entry %d of the energy table is '%s', not '%s'", i, energy_names[i], nm);
        }
        en->name = nm;
        en->value = get_num(r, x, "value", 0, 1e9);
        static const char *const units[] = {"pJ/MAC", "pJ/bit"};
        int u = get_enum(r, x, "unit", units, 2);
        if (u != (i <= 1 ? 0 : 1)) {
            push_key(r, "unit");
            fail(r, "%s is in %s", energy_names[i], units[i <= 1 ? 0 : 1]);
        }
        en->unit = units[u];
        const cJSON *t = member(x, "table");
        if (t) {
            size_t m4 = mark(r);
            push_key(r, "table");
            en->ntable = as_arr(r, t, 1, 1024);
            en->table = arena_alloc(r->a, sizeof *en->table * (size_t)en->ntable);
            int k = 0;
            for (const cJSON *p = t->child; p; p = p->next, k++) {
                size_t m5 = mark(r);
                push_idx(r, k);
                as_arr(r, p, 2, 2);
                en->table[k][0] = as_num(r, p->child, 1, 1e15);
                en->table[k][1] = as_num(r, p->child->next, 0, 1e9);
                if (k > 0 && en->table[k][0] <= en->table[k - 1][0])
                    fail(r, "the table's frequencies must increase");
                reset(r, m5);
            }
            reset(r, m4);
        }
        en->source = get_str(r, x, "source");
        reset(r, m3);
    }
    reset(r, m2);
    read_units(r, member(o, "units"), dv);
    read_links(r, member(o, "links"), dv);
    reset(r, m);
}

/* ---------------------------------------------------------------- tensors and the memory map */

static void add_bank_region(R *r, const RtRegion *g, int64_t l0, int64_t l1, bool per_layer, const char *owner) {
    BankRegions *b = &r->banks[g->channel * r->s->dev.banks + g->bank];
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 8;
        b->r = arena_realloc(r->a, b->r, sizeof *b->r * (size_t)b->cap, sizeof *b->r * (size_t)cap);
        b->cap = cap;
    }
    b->r[b->n++] = (BankRegion){g, l0, l1, owner, arena_strdup(r->a, r->path), per_layer};
}

static int64_t region_end(const RtRegion *g, int64_t layers) { return g->addr + (layers - 1) * g->stride + g->bytes; }

static void read_tile(R *r, const cJSON *o, RtTensor *t, RtTile *x) {
    const RtSchedule *s = r->s;
    static const char *const keys[] = {"box", "layout", "dtype", "row_bytes", "?k", "?scale_bytes", "?group", "?bias",
                                       "?rows", "?elements", "?heads", "?batch", "?cap", "banks", "regions", NULL};
    check_keys(r, o, keys);
    size_t m = mark(r);
    push_key(r, "box");
    const cJSON *box = member(o, "box");
    as_arr(r, box, t->rank, t->rank);
    int d = 0;
    for (const cJSON *b = box->child; b; b = b->next, d++) {
        size_t m2 = mark(r);
        push_idx(r, d);
        as_arr(r, b, 2, 2);
        x->box[d][0] = as_int(r, b->child, 0, t->dims[d]);
        x->box[d][1] = as_int(r, b->child->next, x->box[d][0] + 1, t->dims[d]);
        reset(r, m2);
    }
    reset(r, m);
    x->layout = (RtLayout)get_enum(r, o, "layout", layout_names, RT_LAYOUT_COUNT_);
    static const char *const dts[] = {"f32", "f16", "i8", "i4"};
    x->dtype = (KernelDType)get_enum(r, o, "dtype", dts, 4);
    x->row_bytes = get_int(r, o, "row_bytes", 1, MAX_ADDR);
    static const char *const only_rows[] = {"k", "scale_bytes", "group", "rows", NULL};
    static const char *const only_vec[] = {"elements", NULL};
    static const char *const only_tok[] = {"heads", "batch", "cap", NULL};
    const char *const *own[3] = {only_rows, only_vec, only_tok};
    for (int l = 0; l < 3; l++)
        for (int k = 0; own[l][k]; k++)
            if ((l == (int)x->layout) != (member(o, own[l][k]) != NULL))
                fail(r, l == (int)x->layout ? "missing key '%s' (a %s tile has it)" : "unknown key '%s' (a %s tile has "
                     "none)", own[l][k], layout_names[x->layout]);
    if ((x->layout == RT_TOKENS) == (member(o, "bias") != NULL))
        fail(r, x->layout == RT_TOKENS ? "unknown key 'bias' (a tokens tile has none)" : "missing key 'bias'");
    x->nbanks = (int)get_int(r, o, "banks", 1, s->dev.channels * s->dev.banks);
    int64_t rows = 0, per = 0;
    switch (x->layout) {
    case RT_ROWS: {
        if (t->rank != 2)
            fail(r, "a rows tile needs a tensor of rank 2");
        x->k = get_int(r, o, "k", 1, MAX_DIM);
        x->scale_bytes = get_int(r, o, "scale_bytes", 0, MAX_ADDR);
        x->group = get_int(r, o, "group", 0, MAX_DIM);
        x->bias = get_bool(r, o, "bias");
        int64_t rr[2];
        get_range(r, o, "rows", 0, MAX_DIM, rr);
        x->lo = rr[0];
        x->hi = rr[1];
        int64_t want_rb = x->dtype == KD_F32 ? 4 * x->k : x->dtype == KD_F16 ? 2 * x->k : x->dtype == KD_I8 ? x->k
                                                                                           : 16 * ((x->k + 31) / 32);
        if (x->row_bytes != want_rb)
            fail(r, "row_bytes is %lld, but a row of %lld %s elements takes %lld", (long long)x->row_bytes,
                 (long long)x->k, dts[x->dtype], (long long)want_rb);
        bool quant = x->dtype == KD_I8 || x->dtype == KD_I4;
        if (quant ? (x->group < 16 || x->group % (x->dtype == KD_I4 ? 32 : 16) != 0 ||
                     x->scale_bytes != 2 * ((x->k + x->group - 1) / x->group))
                  : (x->group != 0 || x->scale_bytes != 0))
            fail(r, "group %lld and scale_bytes %lld do not fit %s weights of %lld elements a row", (long long)x->group,
                 (long long)x->scale_bytes, dts[x->dtype], (long long)x->k);
        rows = x->hi - x->lo;
        per = x->row_bytes + x->scale_bytes + (x->bias ? 4 : 0);
        break;
    }
    case RT_VECTOR: {
        if (t->rank != 1 || x->dtype != KD_F32 || x->row_bytes != 4)
            fail(r, "a vector tile holds f32 elements (row_bytes 4) of a rank-1 tensor");
        x->bias = get_bool(r, o, "bias");
        int64_t rr[2];
        get_range(r, o, "elements", 0, MAX_DIM, rr);
        x->lo = rr[0];
        x->hi = rr[1];
        rows = x->hi - x->lo;
        per = x->bias ? 8 : 4;
        break;
    }
    case RT_TOKENS: {
        if (t->rank != 4 || !t->kv || (x->dtype != KD_F16 && x->dtype != KD_F32))
            fail(r, "a tokens tile holds f16 or f32 rows of a KV tensor");
        get_range(r, o, "heads", 0, t->dims[0], x->heads);
        get_range(r, o, "batch", 0, t->dims[1], x->batch);
        x->cap = get_int(r, o, "cap", 1, MAX_DIM);
        if (x->row_bytes != t->dims[3] * (x->dtype == KD_F16 ? 2 : 4))
            fail(r, "row_bytes is %lld, but a token's %lld %s elements take %lld", (long long)x->row_bytes,
                 (long long)t->dims[3], dts[x->dtype], (long long)(t->dims[3] * (x->dtype == KD_F16 ? 2 : 4)));
        if (x->cap != (t->dims[2] + x->nbanks - 1) / x->nbanks)
            fail(r, "cap is %lld, but %lld tokens over %d banks need %lld a bank", (long long)x->cap,
                 (long long)t->dims[2], x->nbanks, (long long)((t->dims[2] + x->nbanks - 1) / x->nbanks));
        break;
    }
    default: break;
    }
    const cJSON *regs = member(o, "regions");
    push_key(r, "regions");
    x->nregions = as_arr(r, regs, 1, x->nbanks);
    x->regions = ARENA_ARRAY(r->a, RtRegion, x->nregions);
    int i = 0;
    int64_t next = x->lo;
    for (const cJSON *g = regs->child; g; g = g->next, i++) {
        size_t m2 = mark(r);
        push_idx(r, i);
        RtRegion *y = &x->regions[i];
        static const char *const krows[] = {"channel", "bank", "addr", "stride", "bytes", "rows", NULL};
        static const char *const kvec[] = {"channel", "bank", "addr", "stride", "bytes", "elements", NULL};
        static const char *const ktok[] = {"channel", "bank", "addr", "stride", "bytes", "residue", NULL};
        check_keys(r, g, x->layout == RT_ROWS ? krows : x->layout == RT_VECTOR ? kvec : ktok);
        y->channel = (int)get_int(r, g, "channel", 0, s->dev.channels - 1);
        y->bank = (int)get_int(r, g, "bank", 0, s->dev.banks - 1);
        y->addr = get_int(r, g, "addr", 0, MAX_ADDR);
        y->bytes = get_int(r, g, "bytes", 1, MAX_ADDR);
        y->stride = get_int(r, g, "stride", 0, MAX_ADDR);
        if (t->layers > 1 && y->stride < y->bytes)
            fail(r, "stride %lld is less than the %lld bytes of a layer's copy: the layers would overlap",
                 (long long)y->stride, (long long)y->bytes);
        if (x->layout == RT_TOKENS) {
            y->lo = get_int(r, g, "residue", 0, x->nbanks - 1);
            y->hi = y->lo + 1;
            if (y->lo != i)
                fail(r, "region %d of an interleaved tile holds residue %d, not %lld", i, i, (long long)y->lo);
            int64_t want = (x->heads[1] - x->heads[0]) * (x->batch[1] - x->batch[0]) * x->cap * x->row_bytes;
            if (y->bytes != want)
                fail(r, "bytes is %lld; the tile's pairs take %lld a bank", (long long)y->bytes, (long long)want);
        } else {
            int64_t rr[2];
            get_range(r, g, x->layout == RT_ROWS ? "rows" : "elements", 0, MAX_DIM, rr);
            y->lo = rr[0];
            y->hi = rr[1];
            if (y->lo != next || y->hi <= y->lo || y->hi > x->hi)
                fail(r, "the regions must cut the tile's %s [%lld, %lld) in order: this one holds [%lld, %lld)",
                     layout_names[x->layout], (long long)x->lo, (long long)x->hi, (long long)y->lo, (long long)y->hi);
            next = y->hi;
            if (y->bytes != (y->hi - y->lo) * per)
                fail(r, "bytes is %lld; %lld %s take %lld", (long long)y->bytes, (long long)(y->hi - y->lo),
                     x->layout == RT_ROWS ? "rows" : "elements", (long long)((y->hi - y->lo) * per));
        }
        int64_t end = region_end(y, t->layers);
        if (end > s->dev.bank_capacity)
            fail(r, "bytes [%lld, %lld) lie outside bank ch%d.b%d (capacity %lld)", (long long)y->addr,
                 (long long)end, y->channel, y->bank, (long long)s->dev.bank_capacity);
        for (int k = 0; k < i; k++)
            if (x->regions[k].channel == y->channel && x->regions[k].bank == y->bank)
                fail(r, "the tile has two regions in bank ch%d.b%d", y->channel, y->bank);
        add_bank_region(r, y, 0, t->layers, t->layers > 1, arena_printf(r->a, "tensor '%s'", t->name));
        reset(r, m2);
    }
    if (x->layout != RT_TOKENS && next != x->hi)
        fail(r, "the regions hold %s [%lld, %lld) of the tile's [%lld, %lld)", layout_names[x->layout],
             (long long)x->lo, (long long)next, (long long)x->lo, (long long)x->hi);
    if (x->layout == RT_TOKENS && x->nregions != x->nbanks)
        fail(r, "an interleaved tile has a region in each of its %d banks, not %d", x->nbanks, x->nregions);
    (void)rows;
    reset(r, m);
}

/* One layer's copy of a region. */
typedef struct Copy {
    int64_t lo, hi, layer;
    const BankRegion *br;
} Copy;

static int copy_cmp(const void *a, const void *b) {
    const Copy *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    return x->hi < y->hi ? -1 : x->hi > y->hi;
}

/* No two regions of a bank share a byte at any layer (an attention stream's regions interleave their
 * layers with its other tiles' in the same bank, so copies are compared, not extents). */
static void check_overlaps(R *r) {
    const RtSchedule *s = r->s;
    int nb = s->dev.channels * s->dev.banks;
    for (int b = 0; b < nb; b++) {
        const BankRegions *br = &r->banks[b];
        int64_t n = 0;
        for (int i = 0; i < br->n; i++)
            n += br->r[i].l1 - br->r[i].l0;
        if (n < 2)
            continue;
        if (n > RT_SCHED_MAX_COUNT)
            fail(r, "bank ch%d.b%d holds more than %d layer copies", b / s->dev.banks, b % s->dev.banks,
                 RT_SCHED_MAX_COUNT);
        Copy *c = ARENA_ARRAY(r->a, Copy, n);
        int64_t k = 0;
        for (int i = 0; i < br->n; i++)
            for (int64_t l = br->r[i].l0; l < br->r[i].l1; l++) {
                int64_t lo = br->r[i].g->addr + (l - br->r[i].l0) * br->r[i].g->stride;
                c[k++] = (Copy){lo, lo + br->r[i].g->bytes, l, &br->r[i]};
            }
        qsort(c, (size_t)n, sizeof *c, copy_cmp);
        for (int64_t i = 1; i < n; i++)
            if (c[i].lo < c[i - 1].hi) {
                char la[48] = "", lb[48] = "";
                if (c[i].br->per_layer)
                    snprintf(la, sizeof la, " (its layer %lld)", (long long)c[i].layer);
                if (c[i - 1].br->per_layer)
                    snprintf(lb, sizeof lb, " (layer %lld)", (long long)c[i - 1].layer);
                snprintf(r->path, sizeof r->path, "%s", c[i].br->path);
                fail(r, "overlaps %s in bank ch%d.b%d: bytes [%lld, %lld)%s and [%lld, %lld) of %s%s",
                     c[i - 1].br->path, b / s->dev.banks, b % s->dev.banks, (long long)c[i].lo, (long long)c[i].hi, la,
                     (long long)c[i - 1].lo, (long long)c[i - 1].hi, c[i - 1].br->owner, lb);
            }
    }
}

static void read_tensors(R *r, const cJSON *arr) {
    RtSchedule *s = r->s;
    size_t m = mark(r);
    push_key(r, "tensors");
    s->ntensors = as_arr(r, arr, 0, 1 << 20);
    s->tensors = ARENA_ARRAY(r->a, RtTensor, s->ntensors + 1);
    r->banks = ARENA_ARRAY(r->a, BankRegions, s->dev.channels * s->dev.banks);
    int i = 0;
    for (const cJSON *o = arr->child; o; o = o->next, i++) {
        size_t m2 = mark(r);
        push_idx(r, i);
        RtTensor *t = &s->tensors[i];
        static const char *const keys[] = {"name", "kind", "dims", "layers", "tiles", NULL};
        check_keys(r, o, keys);
        t->name = get_str(r, o, "name");
        static const char *const kinds[] = {"weight", "kv"};
        t->kv = get_enum(r, o, "kind", kinds, 2) == 1;
        const cJSON *dims = member(o, "dims");
        size_t m3 = mark(r);
        push_key(r, "dims");
        t->rank = as_arr(r, dims, t->kv ? 4 : 1, t->kv ? 4 : 2);
        int d = 0;
        for (const cJSON *x = dims->child; x; x = x->next, d++) {
            size_t m4 = mark(r);
            push_idx(r, d);
            t->dims[d] = as_int(r, x, 1, MAX_DIM);
            reset(r, m4);
        }
        reset(r, m3);
        t->layers = (int)get_int(r, o, "layers", 1, 1 << 20);
        if (t->layers != 1 && t->layers != s->layers) {
            push_key(r, "layers");
            fail(r, "a tensor has one copy (1) or one per layer (%d), not %d", s->layers, t->layers);
        }
        const cJSON *tiles = member(o, "tiles");
        push_key(r, "tiles");
        t->ntiles = as_arr(r, tiles, t->kv ? 0 : 1, 1 << 20);   /* a KV cache an attention plan places has none */
        t->tiles = ARENA_ARRAY(r->a, RtTile, t->ntiles);
        int k = 0;
        for (const cJSON *x = tiles->child; x; x = x->next, k++) {
            size_t m4 = mark(r);
            push_idx(r, k);
            read_tile(r, x, t, &t->tiles[k]);
            reset(r, m4);
        }
        reset(r, m2);
    }
    reset(r, m);
}

/* ---------------------------------------------------------------- attention plans */

static const char *const pat_names[] = {"dense", "static", "dynamic"};

static int64_t pat_slots(const RtPattern *p, int64_t max_seq) {
    if (p->kind == RT_PAT_STATIC)
        return (int64_t)p->sink + p->window < max_seq ? (int64_t)p->sink + p->window : max_seq;
    return max_seq;
}

static int64_t pat_pages(const RtPattern *p, int64_t max_seq) {
    return p->kind == RT_PAT_DYNAMIC ? (max_seq + p->page - 1) / p->page : 0;
}

static void read_pattern(R *r, const cJSON *o, RtPattern *p) {
    const RtSchedule *s = r->s;
    need_type(r, o, cJSON_IsObject(o), "an object");
    p->kind = (RtPatKind)get_enum(r, o, "kind", pat_names, 3);
    static const char *const kd[] = {"layers", "heads", "kind", NULL};
    static const char *const ks[] = {"layers", "heads", "kind", "sink", "window", NULL};
    static const char *const ky[] = {"layers", "heads", "kind", "page", "budget", NULL};
    check_keys(r, o, p->kind == RT_PAT_STATIC ? ks : p->kind == RT_PAT_DYNAMIC ? ky : kd);
    get_range(r, o, "layers", 0, s->layers, p->layers);
    if (p->layers[0] == p->layers[1])
        fail(r, "a pattern of no layer");
    const cJSON *hs = member(o, "heads");
    size_t m = mark(r);
    push_key(r, "heads");
    p->nheads = as_arr(r, hs, 1, s->kv_heads);
    p->heads = ARENA_ARRAY(r->a, int, p->nheads);
    int i = 0;
    for (const cJSON *h = hs->child; h; h = h->next, i++) {
        size_t m2 = mark(r);
        push_idx(r, i);
        p->heads[i] = (int)as_int(r, h, 0, s->kv_heads - 1);
        if (i > 0 && p->heads[i] <= p->heads[i - 1])
            fail(r, "a pattern's heads ascend, each once");
        reset(r, m2);
    }
    reset(r, m);
    if (p->kind == RT_PAT_STATIC) {
        p->sink = (int)get_int(r, o, "sink", 0, MAX_DIM);
        p->window = (int)get_int(r, o, "window", 0, MAX_DIM);
        if (p->sink + p->window < 1)
            fail(r, "a static pattern keeps at least one token (sink + window >= 1)");
    } else if (p->kind == RT_PAT_DYNAMIC) {
        p->page = (int)get_int(r, o, "page", 1, MAX_DIM);
        p->budget = (int)get_int(r, o, "budget", p->page, MAX_DIM);
    }
}

static void read_kv_stream(R *r, const cJSON *o, const RtAttention *at, RtKvStream *st) {
    const RtSchedule *s = r->s;
    static const char *const keys[] = {"layers", "head", "batch", "dtype", "row_bytes", "cap", "pages", "regions", NULL};
    check_keys(r, o, keys);
    get_range(r, o, "layers", 0, s->layers, st->layers);
    if (st->layers[0] == st->layers[1])
        fail(r, "a stream of no layer");
    st->head = (int)get_int(r, o, "head", 0, s->kv_heads - 1);
    st->batch = (int)get_int(r, o, "batch", 0, s->batch - 1);
    static const char *const dts[] = {"f32", "f16"};
    st->dtype = (KernelDType)get_enum(r, o, "dtype", dts, 2);
    st->row_bytes = get_int(r, o, "row_bytes", 1, MAX_ADDR);
    if (st->row_bytes != (int64_t)s->head_dim * (st->dtype == KD_F16 ? 2 : 4)) {
        push_key(r, "row_bytes");
        fail(r, "a key of %d %s elements takes %lld bytes", s->head_dim, dts[st->dtype],
             (long long)s->head_dim * (st->dtype == KD_F16 ? 2 : 4));
    }
    st->cap = get_int(r, o, "cap", 1, MAX_DIM);
    st->pages = get_int(r, o, "pages", 0, MAX_DIM);
    const cJSON *regs = member(o, "regions");
    size_t m = mark(r);
    push_key(r, "regions");
    st->nregions = as_arr(r, regs, 1, s->dev.channels * s->dev.banks * 8);
    reset(r, m);
    int n = st->nregions;
    /* room for the largest of the patterns its layers have */
    int64_t cap = 0, pages = 0;
    for (int i = 0; i < at->npats; i++) {
        const RtPattern *p = &at->pats[i];
        bool has = false;
        for (int k = 0; k < p->nheads; k++)
            has |= p->heads[k] == st->head;
        if (!has || p->layers[1] <= st->layers[0] || st->layers[1] <= p->layers[0])
            continue;
        int64_t c = (pat_slots(p, s->max_seq) + n - 1) / n, g = (pat_pages(p, s->max_seq) + n - 1) / n;
        cap = c > cap ? c : cap;
        pages = g > pages ? g : pages;
    }
    if (st->cap != cap || st->pages != pages)
        fail(r, "cap %lld and pages %lld; the patterns of its layers, over %d tiles, need %lld and %lld",
             (long long)st->cap, (long long)st->pages, n, (long long)cap, (long long)pages);
    st->regions = ARENA_ARRAY(r->a, RtRegion, n);
    push_key(r, "regions");
    int j = 0;
    int64_t nl = st->layers[1] - st->layers[0];
    for (const cJSON *g = regs->child; g; g = g->next, j++) {
        size_t m2 = mark(r);
        push_idx(r, j);
        RtRegion *y = &st->regions[j];
        static const char *const kr[] = {"channel", "bank", "addr", "stride", "bytes", NULL};
        check_keys(r, g, kr);
        y->channel = (int)get_int(r, g, "channel", 0, s->dev.channels - 1);
        y->bank = (int)get_int(r, g, "bank", 0, s->dev.banks - 1);
        y->addr = get_int(r, g, "addr", 0, MAX_ADDR);
        y->stride = get_int(r, g, "stride", 0, MAX_ADDR);
        y->bytes = get_int(r, g, "bytes", 1, MAX_ADDR);
        y->lo = j;
        y->hi = j + 1;
        if (y->bytes != 2 * (st->cap + st->pages) * st->row_bytes)
            fail(r, "bytes is %lld; cap %lld keys and values and %lld pages of min and max keys take %lld",
                 (long long)y->bytes, (long long)st->cap, (long long)st->pages,
                 (long long)(2 * (st->cap + st->pages) * st->row_bytes));
        if (nl > 1 && y->stride < y->bytes)
            fail(r, "stride %lld is less than the %lld bytes of a layer's copy", (long long)y->stride,
                 (long long)y->bytes);
        if (region_end(y, nl) > s->dev.bank_capacity)
            fail(r, "bytes [%lld, %lld) lie outside bank ch%d.b%d (capacity %lld)", (long long)y->addr,
                 (long long)region_end(y, nl), y->channel, y->bank, (long long)s->dev.bank_capacity);
        add_bank_region(r, y, st->layers[0], st->layers[1], true,
                        arena_printf(r->a, "the attention stream of '%s'", s->tensors[at->k].name));
        reset(r, m2);
    }
    reset(r, m);
}

static void read_attention(R *r, const cJSON *arr) {
    RtSchedule *s = r->s;
    size_t m = mark(r);
    push_key(r, "attention");
    s->nattns = as_arr(r, arr, 0, 1 << 16);
    s->attns = ARENA_ARRAY(r->a, RtAttention, s->nattns + 1);
    int total = 0, i = 0;
    for (const cJSON *o = arr->child; o; o = o->next, i++) {
        size_t m2 = mark(r);
        push_idx(r, i);
        static const char *const keys[] = {"value", "score", "k", "v", "patterns", "streams", NULL};
        check_keys(r, o, keys);
        push_key(r, "streams");
        int ns = as_arr(r, member(o, "streams"), 1, RT_SCHED_MAX_COUNT);
        if (total > RT_SCHED_MAX_COUNT - ns)
            fail(r, "more than %d streams", RT_SCHED_MAX_COUNT);
        total += ns;
        reset(r, m2);
    }
    s->streams = ARENA_ARRAY(r->a, RtKvStream, total + 1);
    int64_t L = s->layers, H = s->kv_heads, Bt = s->batch;
    if (L * H * Bt > RT_SCHED_MAX_COUNT)
        fail(r, "the model has more than %d streams", RT_SCHED_MAX_COUNT);
    unsigned char *pat_seen = ARENA_ARRAY(r->a, unsigned char, L * H + 1);
    unsigned char *st_seen = ARENA_ARRAY(r->a, unsigned char, L * H * Bt + 1);
    i = 0;
    for (const cJSON *o = arr->child; o; o = o->next, i++) {
        size_t m2 = mark(r);
        push_idx(r, i);
        RtAttention *at = &s->attns[i];
        at->value = (int)get_int(r, o, "value", 0, MAX_DIM);
        at->score = (int)get_int(r, o, "score", 0, MAX_DIM);
        at->k = (int)get_int(r, o, "k", 0, s->ntensors - 1);
        at->v = (int)get_int(r, o, "v", 0, s->ntensors - 1);
        for (int w = 0; w < 2; w++) {
            const RtTensor *t = &s->tensors[w ? at->v : at->k];
            if (!t->kv || t->ntiles != 0 || (w && at->v == at->k)) {
                push_key(r, w ? "v" : "k");
                fail(r, "tensor '%s' is not a KV cache whose only placement is this plan's (a kv tensor with no "
                        "tiles, other than k)", t->name);
            }
        }
        const cJSON *pats = member(o, "patterns");
        push_key(r, "patterns");
        at->npats = as_arr(r, pats, 1, 1 << 16);
        at->pats = ARENA_ARRAY(r->a, RtPattern, at->npats);
        memset(pat_seen, 0, (size_t)(L * H));
        int k = 0;
        for (const cJSON *p = pats->child; p; p = p->next, k++) {
            size_t m3 = mark(r);
            push_idx(r, k);
            read_pattern(r, p, &at->pats[k]);
            for (int64_t l = at->pats[k].layers[0]; l < at->pats[k].layers[1]; l++)
                for (int h = 0; h < at->pats[k].nheads; h++)
                    if (pat_seen[l * H + at->pats[k].heads[h]]++)
                        fail(r, "layer %lld head %d has a pattern already", (long long)l, at->pats[k].heads[h]);
            reset(r, m3);
        }
        for (int64_t c = 0; c < L * H; c++)
            if (!pat_seen[c])
                fail(r, "layer %lld head %lld has no pattern", (long long)(c / H), (long long)(c % H));
        reset(r, m2);
        push_idx(r, i);
        const cJSON *sts = member(o, "streams");
        push_key(r, "streams");
        at->first = s->nstreams;
        memset(st_seen, 0, (size_t)(L * H * Bt));
        k = 0;
        for (const cJSON *x = sts->child; x; x = x->next, k++) {
            size_t m3 = mark(r);
            push_idx(r, k);
            RtKvStream *st = &s->streams[s->nstreams++];
            st->attn = i;
            read_kv_stream(r, x, at, st);
            for (int64_t l = st->layers[0]; l < st->layers[1]; l++)
                if (st_seen[(l * H + st->head) * Bt + st->batch]++)
                    fail(r, "layer %lld head %d batch %d has tiles already", (long long)l, st->head, st->batch);
            reset(r, m3);
        }
        at->nstreams = s->nstreams - at->first;
        for (int64_t c = 0; c < L * H * Bt; c++)
            if (!st_seen[c])
                fail(r, "layer %lld head %lld batch %lld has no tiles", (long long)(c / (H * Bt)),
                     (long long)(c / Bt % H), (long long)(c % Bt));
        reset(r, m2);
    }
    reset(r, m);
    /* a KV cache without tiles is one a plan places */
    for (int t = 0; t < s->ntensors; t++) {
        bool placed = false;
        for (int a = 0; a < s->nattns; a++)
            placed |= s->attns[a].k == t || s->attns[a].v == t;
        if (s->tensors[t].ntiles == 0 && !placed) {
            snprintf(r->path, sizeof r->path, "$.tensors[%d].tiles", t);
            fail(r, "tensor '%s' has no tiles and no attention plan places it", s->tensors[t].name);
        }
    }
    check_overlaps(r);
}

/* ---------------------------------------------------------------- kernels */

static int kernel_kind(R *r, const cJSON *o) {
    const char *names[KK_COUNT_];
    for (int k = 0; k < KK_COUNT_; k++)
        names[k] = be_kernel_abi((KernelKind)k)->name;
    return get_enum(r, o, "kind", names, KK_COUNT_);
}

static KernelDType get_dtype(R *r, const cJSON *o, const char *k, bool kv) {
    static const char *const dts[] = {"f32", "f16", "i8", "i4"};
    KernelDType t = (KernelDType)get_enum(r, o, k, dts, kv ? 2 : 4);
    return t;
}

static void read_kernels(R *r, const cJSON *arr) {
    RtSchedule *s = r->s;
    size_t m = mark(r);
    push_key(r, "kernels");
    s->nkernels = as_arr(r, arr, 0, 1 << 20);
    s->kernels = ARENA_ARRAY(r->a, RtKernel, s->nkernels + 1);
    int i = 0;
    for (const cJSON *o = arr->child; o; o = o->next, i++) {
        size_t m2 = mark(r);
        push_idx(r, i);
        need_type(r, o, cJSON_IsObject(o), "an object");
        RtKernel *k = &s->kernels[i];
        KernelDesc *d = &k->desc;
        memset(d, 0, sizeof *d);
        d->kind = (KernelKind)kernel_kind(r, o);
        const int64_t DM = 1 << 24;
        switch (d->kind) {
        case KK_GEMM: {
            static const char *const keys[] = {"name", "kind", "m", "k", "n", "wtype", "group", "bias", "accumulate", NULL};
            check_keys(r, o, keys);
            d->gemm.m = (int)get_int(r, o, "m", 0, 8);
            d->gemm.k = (int)get_int(r, o, "k", 1, DM);
            d->gemm.n = (int)get_int(r, o, "n", 1, DM);
            d->gemm.wtype = get_dtype(r, o, "wtype", false);
            d->gemm.group = (int)get_int(r, o, "group", 0, DM);
            d->gemm.bias = get_bool(r, o, "bias");
            d->gemm.accumulate = get_bool(r, o, "accumulate");
            break;
        }
        case KK_ATTN: {
            static const char *const keys[] = {"name", "kind", "head_dim", "g", "kv", "page", "causal", "scale", "?window",
                                               "?interleave", NULL};
            check_keys(r, o, keys);
            d->attn.head_dim = (int)get_int(r, o, "head_dim", 1, 1024);
            d->attn.g = (int)get_int(r, o, "g", 1, 64);
            d->attn.kv = get_dtype(r, o, "kv", true);
            d->attn.page = (int)get_int(r, o, "page", 0, DM);
            d->attn.causal = get_bool(r, o, "causal");
            d->attn.scale = (float)get_num(r, o, "scale", 0, 1e30);
            d->attn.window = member(o, "window") ? (int)get_int(r, o, "window", 1, DM) : 0;
            d->attn.interleave = member(o, "interleave") ? (int)get_int(r, o, "interleave", 2, 4096) : 0;
            break;
        }
        case KK_MERGE: {
            static const char *const keys[] = {"name", "kind", "head_dim", NULL};
            check_keys(r, o, keys);
            d->merge.head_dim = (int)get_int(r, o, "head_dim", 1, DM);
            break;
        }
        case KK_PAGE_SCORE: {
            static const char *const keys[] = {"name", "kind", "head_dim", "g", "topk", "meta", NULL};
            check_keys(r, o, keys);
            d->score.head_dim = (int)get_int(r, o, "head_dim", 1, 1024);
            d->score.g = (int)get_int(r, o, "g", 1, 64);
            d->score.topk = (int)get_int(r, o, "topk", 0, 4096);
            d->score.mtype = get_dtype(r, o, "meta", true);
            break;
        }
        case KK_PAGE_META: {
            static const char *const keys[] = {"name", "kind", "head_dim", "page", "kv", "meta", "interleave", NULL};
            check_keys(r, o, keys);
            d->meta.head_dim = (int)get_int(r, o, "head_dim", 1, 1024);
            d->meta.page = (int)get_int(r, o, "page", 1, DM);
            d->meta.kv = get_dtype(r, o, "kv", true);
            d->meta.mtype = get_dtype(r, o, "meta", true);
            d->meta.interleave = (int)get_int(r, o, "interleave", 1, 4096);
            break;
        }
        case KK_TOPK: {
            static const char *const keys[] = {"name", "kind", "k", NULL};
            check_keys(r, o, keys);
            d->topk.k = (int)get_int(r, o, "k", 1, 4096);
            break;
        }
        case KK_PAGE_ROWS: {
            static const char *const keys[] = {"name", "kind", "page", "tiles", "k", NULL};
            check_keys(r, o, keys);
            d->rows.page = (int)get_int(r, o, "page", 1, 1 << 16);
            d->rows.tiles = (int)get_int(r, o, "tiles", 1, 4096);
            d->rows.k = (int)get_int(r, o, "k", 1, 4096);
            break;
        }
        case KK_RMSNORM:
        case KK_LAYERNORM: {
            static const char *const keys[] = {"name", "kind", "n", "eps", "bias", NULL};
            check_keys(r, o, keys);
            d->row.n = (int)get_int(r, o, "n", 1, DM);
            d->row.eps = (float)get_num(r, o, "eps", 0, 1e30);
            d->row.bias = get_bool(r, o, "bias");
            if (d->kind == KK_RMSNORM && d->row.bias) {
                push_key(r, "bias");
                fail(r, "an RMS norm has no shift");
            }
            break;
        }
        case KK_ROPE: {
            static const char *const keys[] = {"name", "kind", "head_dim", "heads", "rot", "theta", "?scaling", "?factor",
                                               "?low_freq_factor", "?high_freq_factor", "?original_max", NULL};
            check_keys(r, o, keys);
            d->rope.head_dim = (int)get_int(r, o, "head_dim", 1, 4096);
            d->rope.heads = (int)get_int(r, o, "heads", 1, 4096);
            d->rope.rot = (int)get_int(r, o, "rot", 2, d->rope.head_dim);
            d->rope.theta = get_num(r, o, "theta", 1e-30, 1e30);
            static const char *const scalings[] = {"none", "linear", "llama3"};
            d->rope.scaling = member(o, "scaling") ? get_enum(r, o, "scaling", scalings, 3) : KR_SCALE_NONE;
            static const char *const need_lin[] = {"factor", NULL};
            static const char *const need_l3[] = {"factor", "low_freq_factor", "high_freq_factor", "original_max", NULL};
            static const char *const *const needs[] = {NULL, need_lin, need_l3};
            static const char *const all[] = {"factor", "low_freq_factor", "high_freq_factor", "original_max", NULL};
            for (int k2 = 0; all[k2]; k2++) {
                bool want = false;
                for (int w = 0; needs[d->rope.scaling] && needs[d->rope.scaling][w]; w++)
                    want |= strcmp(needs[d->rope.scaling][w], all[k2]) == 0;
                if (want != (member(o, all[k2]) != NULL))
                    fail(r, want ? "missing key '%s' (%s scaling has it)" : "unknown key '%s' (%s scaling has none)",
                         all[k2], scalings[d->rope.scaling]);
            }
            if (d->rope.scaling == KR_SCALE_NONE && member(o, "scaling"))
                fail(r, "a RoPE kernel without scaling leaves 'scaling' out");
            if (d->rope.scaling != KR_SCALE_NONE)
                d->rope.factor = get_num(r, o, "factor", 1e-30, 1e30);
            if (d->rope.scaling == KR_SCALE_LLAMA3) {
                d->rope.low_freq_factor = get_num(r, o, "low_freq_factor", 1e-30, 1e30);
                d->rope.high_freq_factor = get_num(r, o, "high_freq_factor", 1e-30, 1e30);
                d->rope.original_max = (int)get_int(r, o, "original_max", 1, 1 << 30);
            }
            break;
        }
        case KK_EMBED: {
            static const char *const keys[] = {"name", "kind", "hidden", "vocab", NULL};
            check_keys(r, o, keys);
            d->embed.hidden = (int)get_int(r, o, "hidden", 1, DM);
            d->embed.vocab = (int)get_int(r, o, "vocab", 1, DM);
            break;
        }
        default: {
            static const char *const keys[] = {"name", "kind", "n", NULL};
            check_keys(r, o, keys);
            d->row.n = (int)get_int(r, o, "n", 1, DM);
            break;
        }
        }
        /* the kernel library's own range checks, its first complaint as the message */
        char *msgs = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&msgs, &len);
        Diag kd;
        diag_init(&kd, f);
        if (!f)
            kd.quiet = true;
        bool ok = be_kernel_check(d, &kd);
        if (f)
            fclose(f);
        if (!ok) {
            char first[512] = "out of range";
            if (msgs) {
                const char *p = strstr(msgs, "error: ");
                snprintf(first, sizeof first, "%s", p ? p + 7 : msgs);
                char *nl = strchr(first, '\n');
                if (nl)
                    *nl = 0;
            }
            free(msgs);
            fail(r, "%s", first);
        }
        free(msgs);
        const char *name = get_str(r, o, "name");
        be_kernel_name(d, k->name);
        if (strcmp(name, k->name) != 0) {
            push_key(r, "name");
            fail(r, "'%s' is not the name of the kernel its fields describe ('%s')", name, k->name);
        }
        for (int j = 0; j < i; j++)
            if (be_kernel_equal(&s->kernels[j].desc, d))
                fail(r, "the same kernel as $.kernels[%d]", j);
        reset(r, m2);
    }
    reset(r, m);
}

/* ---------------------------------------------------------------- references */

static RtRef as_ref(R *r, const cJSON *v) {
    RtRef x;
    memset(&x, 0, sizeof x);
    need_type(r, v, cJSON_IsObject(v), "an object");
    static const char *const spaces[] = {"npu", "pe", "bank"};
    x.at = (RtSpace)get_enum(r, v, "at", spaces, 3);
    if (x.at == RT_AT_BANK) {
        static const char *const keys[] = {"at", "channel", "bank", "addr", "layer_stride", "bytes", NULL};
        check_keys(r, v, keys);
        x.channel = (int)get_int(r, v, "channel", 0, r->s->dev.channels - 1);
        x.bank = (int)get_int(r, v, "bank", 0, r->s->dev.banks - 1);
        x.layer_stride = get_int(r, v, "layer_stride", 0, MAX_ADDR);
    } else {
        static const char *const keys[] = {"at", "addr", "bytes", NULL};
        check_keys(r, v, keys);
        x.channel = x.bank = -1;
    }
    x.addr = get_int(r, v, "addr", 0, MAX_ADDR);
    x.bytes = get_int(r, v, "bytes", 1, MAX_ADDR);
    return x;
}

/* A reference's bytes [addr, addr + span) lie inside its space (and, in a bank, inside one region of
 * the memory map, at every layer). `span` covers the repetitions of a repeated command. */
static void check_ref(R *r, const RtRef *x, int64_t span) {
    const RtPhase *ph = r->ph;
    int64_t end = x->addr + span;
    switch (x->at) {
    case RT_AT_NPU:
        if (end > ph->npu_scratch)
            fail(r, "bytes [%lld, %lld) lie outside the NPU's scratch of %lld bytes", (long long)x->addr,
                 (long long)end, (long long)ph->npu_scratch);
        return;
    case RT_AT_PE:
        if (end > ph->pe_scratch)
            fail(r, "bytes [%lld, %lld) lie outside a PE's scratch of %lld bytes", (long long)x->addr, (long long)end,
                 (long long)ph->pe_scratch);
        return;
    case RT_AT_BANK: {
        /* the command runs in layers [lay0, lay1): at each, its bytes lie in that layer's copy of one
           region, and its layer stride is the region's */
        const RtSchedule *s = r->s;
        int64_t n = r->lay1 - r->lay0;
        if (x->addr + (n - 1) * x->layer_stride + span > s->dev.bank_capacity)
            fail(r, "bytes [%lld, %lld) lie outside bank ch%d.b%d (capacity %lld)", (long long)x->addr,
                 (long long)(x->addr + (n - 1) * x->layer_stride + span), x->channel, x->bank,
                 (long long)s->dev.bank_capacity);
        const BankRegions *br = &r->banks[x->channel * s->dev.banks + x->bank];
        const BankRegion *hit = NULL;
        for (int i = 0; i < br->n && !hit; i++) {
            const BankRegion *b = &br->r[i];
            if (b->l0 > r->lay0 || b->l1 < r->lay1)
                continue;
            int64_t copy = b->g->addr + (r->lay0 - b->l0) * b->g->stride;
            if (x->addr >= copy && end <= copy + b->g->bytes)
                hit = b;
        }
        if (!hit)
            fail(r, "bytes [%lld, %lld) of bank ch%d.b%d are in no region of the memory map%s", (long long)x->addr,
                 (long long)end, x->channel, x->bank,
                 n > 1 || r->lay0 > 0 ? " holding those layers" : "");
        int64_t want = hit->l1 - hit->l0 > 1 ? hit->g->stride : 0;
        if (x->layer_stride != want)
            fail(r, "layer_stride is %lld; the region it reads (%s) is %lld apart from one layer to the next",
                 (long long)x->layer_stride, hit->owner, (long long)want);
        return;
    }
    }
}

static RtRef get_ref(R *r, const cJSON *o, const char *k) {
    size_t m = mark(r);
    push_key(r, k);
    RtRef x = as_ref(r, member(o, k));
    reset(r, m);
    return x;
}

static void check_ref_at(R *r, const char *k, const RtRef *x, int64_t span) {
    size_t m = mark(r);
    push_key(r, k);
    check_ref(r, x, span);
    reset(r, m);
}

/* ---------------------------------------------------------------- commands */

/* The unit or link a stream belongs to. */
typedef struct Exec {
    bool link;
    int id;
    const RtUnit *unit;
    const RtLink *lk;
} Exec;

static int64_t expr_max(R *r, RtExpr e) { return rt_expr_eval(e, r->ctx_hi); }
static int64_t expr_min(R *r, RtExpr e) { return rt_expr_eval(e, r->ctx_lo); }

/* The reference must be in `space` (one of two with `or`). */
static void ref_space(R *r, const char *k, const RtRef *x, RtSpace space, int or_space) {
    static const char *const spaces[] = {"the NPU's scratch", "a PE's scratch", "a bank"};
    if (x->at != space && (int)x->at != or_space) {
        push_key(r, k);
        fail(r, "must be in %s%s%s, not in %s", spaces[space], or_space >= 0 ? " or " : "",
             or_space >= 0 ? spaces[or_space] : "", spaces[x->at]);
    }
}

static void read_move(R *r, const cJSON *o, RtCmd *c, const Exec *ex) {
    const RtDevice *dv = &r->s->dev;
    c->src = get_ref(r, o, "src");
    c->dst = get_ref(r, o, "dst");
    c->rows = get_int(r, o, "rows", 1, MAX_ADDR);
    c->row_bytes = get_int(r, o, "row_bytes", 1, MAX_ADDR);
    c->src_stride = get_int(r, o, "src_stride", 0, MAX_ADDR);
    c->dst_stride = get_int(r, o, "dst_stride", 0, MAX_ADDR);
    if (member(o, "cvt")) {
        static const char *const cv[] = {"f16"};
        get_enum(r, o, "cvt", cv, 1);
        c->cvt = true;
        if (c->kind != RT_COPY || c->row_bytes % 4 != 0)
            fail(r, "only a copy narrows (cvt), and its rows are whole fp32 values");
    }
    int64_t drb = c->cvt ? c->row_bytes / 2 : c->row_bytes;
    if (c->rows > 1 && c->dst_stride < drb)
        fail(r, "dst_stride %lld is less than a row's %lld bytes: the rows written would overlap",
             (long long)c->dst_stride, (long long)drb);
    c->repeat = 1;
    const cJSON *rep = member(o, "repeat");
    if (rep) {
        size_t m = mark(r);
        push_key(r, "repeat");
        static const char *const keys[] = {"count", "strides", NULL};
        check_keys(r, rep, keys);
        c->repeat = get_int(r, rep, "count", 2, RT_SCHED_MAX_COUNT);
        for (int a2 = 0; a2 < c->nargs; a2++)
            if (c->args[a2].page_rows > 0)
                fail(r, "a kernel over a selection ('sel') does not repeat");
        const cJSON *st = member(rep, "strides");
        push_key(r, "strides");
        c->nstrides = as_arr(r, st, 2, 2);
        c->strides[0] = as_int(r, st->child, 0, MAX_ADDR);
        c->strides[1] = as_int(r, st->child->next, 0, MAX_ADDR);
        reset(r, m);
    }
    int64_t sspan = (c->rows - 1) * c->src_stride + c->row_bytes, dspan = (c->rows - 1) * c->dst_stride + drb;
    if (sspan > c->src.bytes)
        fail(r, "the rows read span %lld bytes, more than src's %lld", (long long)sspan, (long long)c->src.bytes);
    if (dspan > c->dst.bytes)
        fail(r, "the rows written span %lld bytes, more than dst's %lld", (long long)dspan, (long long)c->dst.bytes);
    check_ref_at(r, "src", &c->src, (c->repeat - 1) * c->strides[0] + c->src.bytes);
    check_ref_at(r, "dst", &c->dst, (c->repeat - 1) * c->strides[1] + c->dst.bytes);
    switch (c->kind) {
    case RT_LOAD:
    case RT_STORE: {
        const RtRef *bank = c->kind == RT_LOAD ? &c->src : &c->dst;
        ref_space(r, c->kind == RT_LOAD ? "src" : "dst", bank, RT_AT_BANK, -1);
        ref_space(r, c->kind == RT_LOAD ? "dst" : "src", c->kind == RT_LOAD ? &c->dst : &c->src, RT_AT_NPU, -1);
        if (!ex->link || ex->lk->kind != RT_LINK_CHANNEL || ex->lk->channel != bank->channel)
            fail(r, "a %s of bank ch%d.b%d runs on channel %d's link (link %d)", rt_cmd_names[c->kind], bank->channel,
                 bank->bank, bank->channel, bank->channel);
        break;
    }
    case RT_COPY: {
        if (ex->link)
            fail(r, "a copy runs on the NPU or a PE, not on a link");
        RtSpace sp = ex->unit->kind == RT_UNIT_NPU ? RT_AT_NPU : RT_AT_PE;
        ref_space(r, "src", &c->src, sp, -1);
        ref_space(r, "dst", &c->dst, sp, -1);
        break;
    }
    case RT_TRANSFER: {
        if (!ex->link || ex->lk->kind != RT_LINK_XFER)
            fail(r, "a transfer runs on an NMP channel's transfer link");
        bool to_pe = c->src.at == RT_AT_NPU;
        ref_space(r, "src", &c->src, RT_AT_NPU, RT_AT_PE);
        ref_space(r, "dst", &c->dst, to_pe ? RT_AT_PE : RT_AT_NPU, -1);
        const cJSON *pes = member(o, "pes");
        size_t m = mark(r);
        push_key(r, "pes");
        if (!pes)
            fail(r, "missing");
        c->npes = as_arr(r, pes, 1, to_pe ? dv->banks : 1);
        c->pes = ARENA_ARRAY(r->a, int, c->npes);
        int i = 0;
        for (const cJSON *p = pes->child; p; p = p->next, i++) {
            size_t m2 = mark(r);
            push_idx(r, i);
            c->pes[i] = (int)as_int(r, p, 0, dv->nunits - 1);
            const RtUnit *u = &dv->units[c->pes[i]];
            if (u->kind != RT_UNIT_PE || u->channel != ex->lk->channel)
                fail(r, "unit %d is not a PE of channel %d, whose link this is", c->pes[i], ex->lk->channel);
            for (int j = 0; j < i; j++)
                if (c->pes[j] == c->pes[i])
                    fail(r, "PE %d is named twice", c->pes[i]);
            reset(r, m2);
        }
        reset(r, m);
        break;
    }
    default: break;
    }
}

/* Bytes a kernel needs from each of its buffers at a context; false where a buffer may be NULL. */
static void kernel_needs(R *r, const RtCmd *c, const KernelDesc *k, int64_t ctx, int64_t need[KERNEL_MAX_BUFS],
                         bool optional[KERNEL_MAX_BUFS]) {
    int64_t a[KERNEL_MAX_ARGS] = {0};
    for (int i = 0; i < c->nargs; i++) {
        /* an argument modulo m takes any value in [0, m) over the steps: the largest counts */
        a[i] = c->args[i].mod > 0 ? c->args[i].mod - 1 : rt_expr_eval(c->args[i], ctx);
        if (a[i] < 0) {
            push_key(r, "args");
            push_idx(r, i);
            fail(r, "is %lld at a context of %lld; arguments are not negative", (long long)a[i], (long long)ctx);
        }
    }
    for (int i = 0; i < KERNEL_MAX_BUFS; i++) {
        need[i] = 0;
        optional[i] = false;
    }
    int64_t rows = a[0];
    switch (k->kind) {
    case KK_GEMM: {
        if (k->gemm.m && rows != k->gemm.m) {
            push_key(r, "args");
            push_idx(r, 0);
            fail(r, "M is %lld, but the kernel is folded for %d rows", (long long)rows, k->gemm.m);
        }
        need[0] = rows * k->gemm.n * 4;
        need[1] = rows * k->gemm.k * 4;
        need[2] = (int64_t)k->gemm.n * be_gemm_row_bytes(k);
        need[3] = (int64_t)k->gemm.n * be_gemm_scale_row_bytes(k);
        optional[3] = need[3] == 0;
        need[4] = k->gemm.bias ? (int64_t)k->gemm.n * 4 : 0;
        optional[4] = !k->gemm.bias;
        break;
    }
    case KK_ATTN: {
        int64_t lo = a[1], hi = a[2], D = k->attn.head_dim, g = k->attn.g, es = k->attn.kv == KD_F16 ? 2 : 4;
        if (lo > hi && be_attn_interleave(k) == 1) {   /* (an interleaved tile's lo is its residue) */
            push_key(r, "args");
            fail(r, "lo %lld is after hi %lld at a context of %lld", (long long)lo, (long long)hi, (long long)ctx);
        }
        need[0] = rows * g * D * 4;
        need[1] = rows * g * 4;
        need[2] = rows * g * D * 4;
        if (k->attn.page && c->args[2].page_rows > 0) {
            /* a selection reads the listed pages' rows below the tile's `rows`, in the pool */
            RtExpr rows_e = c->args[2];
            rows_e.page_rows = 0;
            int64_t tile_rows = rt_expr_eval(rows_e, ctx);
            need[3] = need[4] = (tile_rows > 0 ? tile_rows : 0) * D * es;
            need[5] = c->args[2].sel.bytes;
        } else if (k->attn.page) {
            need[3] = need[4] = k->attn.page * D * es;
            need[5] = (hi + k->attn.page - 1) / k->attn.page * 4;
        } else {
            /* an interleaved tile: keys t = lo mod n at rows t / n, lo the residue */
            int64_t n = be_attn_interleave(k);
            if (n > 1 && lo >= n) {
                push_key(r, "args");
                fail(r, "lo %lld of a tile interleaved %lld ways is not a residue", (long long)lo, (long long)n);
            }
            need[3] = need[4] = (hi + n - 1) / n * D * es;
            optional[5] = true;
        }
        need[6] = k->attn.causal ? rows * 4 : 0;
        optional[6] = !k->attn.causal;
        break;
    }
    case KK_MERGE: {
        int64_t D = k->merge.head_dim, n = a[1];
        need[0] = rows * D * 4;
        need[1] = rows * 4;
        need[2] = n * rows * D * 4;
        need[3] = n * rows * 4;
        break;
    }
    case KK_PAGE_SCORE:
        need[0] = (int64_t)k->score.topk * 4;
        optional[0] = k->score.topk == 0;
        need[1] = rows * 4;
        need[2] = (int64_t)k->score.g * k->score.head_dim * 4;
        need[3] = rows * 2 * k->score.head_dim * (k->score.mtype == KD_F16 ? 2 : 4);
        break;
    case KK_PAGE_META: {
        /* keys [t, t + count): the last one's page entry is the furthest the kernel writes */
        int64_t count = a[1], last = rows + (count > 0 ? count - 1 : 0);
        need[0] = count > 0 ? (last / k->meta.page / be_meta_interleave(k) + 1) * 2 * k->meta.head_dim *
                                  (k->meta.mtype == KD_F16 ? 2 : 4)
                            : 0;
        need[1] = count * k->meta.head_dim * (k->meta.kv == KD_F16 ? 2 : 4);
        break;
    }
    case KK_TOPK:
        need[0] = (int64_t)k->topk.k * 4;
        need[1] = rows * 4;
        break;
    case KK_PAGE_ROWS:
        if (rows >= k->rows.tiles) {
            push_key(r, "args");
            push_idx(r, 0);
            fail(r, "tile %lld of %d does not exist", (long long)rows, k->rows.tiles);
        }
        need[0] = (int64_t)k->rows.k * ((k->rows.page + k->rows.tiles - 1) / k->rows.tiles) * 4;
        need[1] = (int64_t)k->rows.k * 4;
        break;
    case KK_RMSNORM:
    case KK_LAYERNORM:
        need[0] = need[1] = rows * k->row.n * 4;
        need[2] = (int64_t)k->row.n * 4;
        if (k->kind == KK_LAYERNORM) {
            need[3] = k->row.bias ? (int64_t)k->row.n * 4 : 0;
            optional[3] = !k->row.bias;
        }
        break;
    case KK_ADD:
    case KK_MUL: need[2] = rows * k->row.n * 4; /* fall through */
    case KK_SOFTMAX:
    case KK_SILU:
    case KK_GELU_TANH:
    case KK_GELU_ERF:
    case KK_RELU: need[0] = need[1] = rows * k->row.n * 4; break;
    case KK_ROPE:
        need[0] = need[1] = rows * k->rope.heads * k->rope.head_dim * 4;
        need[2] = rows * 4;
        break;
    case KK_EMBED:
        need[0] = rows * k->embed.hidden * 4;
        need[1] = (int64_t)k->embed.vocab * k->embed.hidden * 2;
        need[2] = rows * 4;
        break;
    default: break;
    }
}

static void read_kernel_cmd(R *r, const cJSON *o, RtCmd *c, const Exec *ex) {
    const RtSchedule *s = r->s;
    size_t m = mark(r);
    push_key(r, "kernel");
    c->kernel = (int)as_int(r, member(o, "kernel"), 0, MAX_DIM);
    if (c->kernel >= s->nkernels)
        fail(r, "kernel %d does not exist (the table has %d)", c->kernel, s->nkernels);
    reset(r, m);
    const KernelDesc *k = &s->kernels[c->kernel].desc;
    const KernelAbi *abi = be_kernel_abi(k->kind);
    if (ex->link)
        fail(r, "a kernel runs on the NPU or a PE, not on a link");
    const cJSON *bufs = member(o, "bufs"), *args = member(o, "args");
    push_key(r, "bufs");
    need_type(r, bufs, cJSON_IsArray(bufs), "an array");
    c->nbufs = as_arr(r, bufs, 0, KERNEL_MAX_BUFS);
    if (c->nbufs != abi->nbufs)
        fail(r, "%s takes %d buffers, not %d", k->kind == KK_GEMM ? "a GEMM" : abi->name, abi->nbufs, c->nbufs);
    int i = 0;
    for (const cJSON *b = bufs->child; b; b = b->next, i++) {
        size_t m2 = mark(r);
        push_idx(r, i);
        if (cJSON_IsNull(b))
            c->bufs[i].null = true;
        else
            c->bufs[i] = as_ref(r, b);
        reset(r, m2);
    }
    reset(r, m);
    push_key(r, "args");
    c->nargs = as_arr(r, args, 0, KERNEL_MAX_ARGS);
    if (c->nargs != abi->nargs)
        fail(r, "%s takes %d argument%s, not %d", abi->name, abi->nargs, plural(abi->nargs), c->nargs);
    i = 0;
    for (const cJSON *x = args->child; x; x = x->next, i++) {
        size_t m2 = mark(r);
        push_idx(r, i);
        c->args[i] = as_expr_in(r, x, EXPR_MOD | EXPR_SEL);
        if (c->args[i].page_rows > 0) {     /* the sel form: a paged attention's hi over a selection */
            const RtExpr *e = &c->args[i];
            if (k->kind != KK_ATTN || !k->attn.page || i != 2)
                fail(r, "a selection's rows ('sel') are the hi argument of a paged attention kernel only");
            if (e->page_rows != k->attn.page) {
                push_key(r, "page_rows");
                fail(r, "is %lld, but the kernel's pages have %d rows", (long long)e->page_rows, k->attn.page);
            }
            const RtRef *pg = &c->bufs[5];
            if (pg->null || pg->at != e->sel.at || pg->addr != e->sel.addr || pg->bytes != e->sel.bytes ||
                pg->channel != e->sel.channel || pg->bank != e->sel.bank || pg->layer_stride != e->sel.layer_stride) {
                push_key(r, "sel");
                fail(r, "must be the kernel's page list (bufs[5]): the keys it reads are the pages it lists");
            }
            if (e->mod > 0) {
                push_key(r, "rows");
                fail(r, "a tile's rows grow with the context: no 'mod'");
            }
        }
        reset(r, m2);
    }
    reset(r, m);
    if (c->nargs == 3 && c->args[2].page_rows > 0 && (c->args[1].ctx != 0 || c->args[1].plus != 0 ||
                                                       c->args[1].mod != 0)) {
        push_key(r, "args");
        push_idx(r, 1);
        fail(r, "a selection's keys start at logical key 0: lo must be 0");
    }
    c->repeat = 1;
    const cJSON *rep = member(o, "repeat");
    if (rep) {
        push_key(r, "repeat");
        static const char *const keys[] = {"count", "strides", NULL};
        check_keys(r, rep, keys);
        c->repeat = get_int(r, rep, "count", 2, RT_SCHED_MAX_COUNT);
        for (int a2 = 0; a2 < c->nargs; a2++)
            if (c->args[a2].page_rows > 0)
                fail(r, "a kernel over a selection ('sel') does not repeat");
        const cJSON *st = member(rep, "strides");
        push_key(r, "strides");
        c->nstrides = as_arr(r, st, c->nbufs, c->nbufs);
        i = 0;
        for (const cJSON *x = st->child; x; x = x->next, i++) {
            size_t m2 = mark(r);
            push_idx(r, i);
            c->strides[i] = as_int(r, x, 0, MAX_ADDR);
            reset(r, m2);
        }
        reset(r, m);
    }
    /* the buffers against the ABI, at the first and the largest context */
    for (int w = 0; w < 2; w++) {
        int64_t need[KERNEL_MAX_BUFS];
        bool optional[KERNEL_MAX_BUFS];
        kernel_needs(r, c, k, w ? r->ctx_hi : r->ctx_lo, need, optional);
        for (i = 0; i < c->nbufs; i++) {
            size_t m2 = mark(r);
            push_key(r, "bufs");
            push_idx(r, i);
            const char *what = abi->bufs[i];
            int wl = (int)strcspn(what, ":");
            if (c->bufs[i].null) {
                if (!optional[i])
                    fail(r, "%.*s may not be null (%s)", wl, what, what);
            } else if (c->bufs[i].bytes < need[i]) {
                fail(r, "%.*s needs %lld bytes at a context of %lld (%s), the reference has %lld", wl, what,
                     (long long)need[i], (long long)(w ? r->ctx_hi : r->ctx_lo), what, (long long)c->bufs[i].bytes);
            }
            reset(r, m2);
        }
    }
    for (i = 0; i < c->nbufs; i++) {
        const RtRef *b = &c->bufs[i];
        if (b->null)
            continue;
        size_t m2 = mark(r);
        push_key(r, "bufs");
        push_idx(r, i);
        bool npu = ex->unit->kind == RT_UNIT_NPU;
        if (npu && b->at != RT_AT_NPU)
            fail(r, "a kernel on the NPU reads the NPU's scratch only (loads bring the rest)");
        if (!npu && b->at == RT_AT_NPU)
            fail(r, "a kernel on a PE reads its own scratch and banks, not the NPU's");
        if (!npu && b->at == RT_AT_BANK &&
            (b->channel != ex->unit->channel || b->bank < ex->unit->bank_lo || b->bank >= ex->unit->bank_hi))
            fail(r, "PE %d of channel %d reads only its banks %d..%d of that channel, not ch%d.b%d", ex->unit->pe,
                 ex->unit->channel, ex->unit->bank_lo, ex->unit->bank_hi - 1, b->channel, b->bank);
        check_ref(r, b, (c->repeat - 1) * c->strides[i] + b->bytes);
        reset(r, m2);
    }
}

static const RtTile *kv_tile(R *r, const cJSON *o, RtCmd *c, RtLayout layout, const Exec *ex) {
    const RtSchedule *s = r->s;
    c->tensor = (int)get_int(r, o, "tensor", 0, s->ntensors - 1);
    c->tile = (int)get_int(r, o, "tile", 0, s->tensors[c->tensor].ntiles - 1);
    const RtTile *t = &s->tensors[c->tensor].tiles[c->tile];
    if (t->layout != layout)
        fail(r, "%s needs a %s tile; tile %d of '%s' is laid out as %s", rt_cmd_names[c->kind], layout_names[layout],
             c->tile, s->tensors[c->tensor].name, layout_names[t->layout]);
    if (!ex->link || ex->lk->kind != RT_LINK_CHANNEL)
        fail(r, "%s runs on a channel's link", rt_cmd_names[c->kind]);
    bool held = false;
    for (int i = 0; i < t->nregions; i++)
        held |= t->regions[i].channel == ex->lk->channel;
    if (!held)
        fail(r, "the tile has nothing on channel %d, whose link this is", ex->lk->channel);
    return t;
}

static void read_kv(R *r, const cJSON *o, RtCmd *c, const Exec *ex) {
    c->stream = -1;
    const RtTile *t = kv_tile(r, o, c, RT_TOKENS, ex);
    c->first = get_expr(r, o, "first");
    c->count = get_expr(r, o, "count");
    int64_t f0 = expr_min(r, c->first), f1 = expr_max(r, c->first), n0 = expr_min(r, c->count),
            n1 = expr_max(r, c->count);
    if (f0 < 0 || n0 < 0)
        fail(r, "first and count are not negative at any context");
    int64_t tokens = r->s->tensors[c->tensor].dims[2];
    if (f1 + n1 > tokens)
        fail(r, "tokens [%lld, %lld) at a context of %lld: the cache holds %lld", (long long)f1, (long long)(f1 + n1),
             (long long)r->ctx_hi, (long long)tokens);
    int64_t pairs = (t->heads[1] - t->heads[0]) * (t->batch[1] - t->batch[0]);
    int64_t D4 = r->s->tensors[c->tensor].dims[3] * 4;
    if (c->kind == RT_KV_APPEND) {
        c->src = get_ref(r, o, "src");
        ref_space(r, "src", &c->src, RT_AT_NPU, -1);
        c->head_stride = get_int(r, o, "head_stride", 0, MAX_ADDR);
        c->batch_stride = get_int(r, o, "batch_stride", 0, MAX_ADDR);
        c->token_stride = get_int(r, o, "token_stride", 0, MAX_ADDR);
        int64_t span = (t->heads[1] - t->heads[0] - 1) * c->head_stride + (t->batch[1] - t->batch[0] - 1) * c->batch_stride +
                       (n1 > 0 ? n1 - 1 : 0) * c->token_stride + D4;
        if (span > c->src.bytes)
            fail(r, "the rows read span %lld bytes, more than src's %lld", (long long)span, (long long)c->src.bytes);
        check_ref_at(r, "src", &c->src, c->src.bytes);
    } else {
        get_range(r, o, "pairs", 0, pairs, c->pairs);
        if (c->pairs[0] == c->pairs[1])
            fail(r, "no pair to load");
        c->dst = get_ref(r, o, "dst");
        ref_space(r, "dst", &c->dst, RT_AT_NPU, -1);
        c->pair_stride = get_int(r, o, "pair_stride", 0, MAX_ADDR);
        if (c->pairs[1] - c->pairs[0] > 1 && c->pair_stride < n1 * t->row_bytes)
            fail(r, "pair_stride %lld is less than %lld tokens of %lld bytes: the pairs written would overlap",
                 (long long)c->pair_stride, (long long)n1, (long long)t->row_bytes);
        int64_t span = (c->pairs[1] - c->pairs[0] - 1) * c->pair_stride + n1 * t->row_bytes;
        if (span > c->dst.bytes)
            fail(r, "the rows written span %lld bytes, more than dst's %lld", (long long)span, (long long)c->dst.bytes);
        check_ref_at(r, "dst", &c->dst, c->dst.bytes);
    }
}

static void read_gather(R *r, const cJSON *o, RtCmd *c, const Exec *ex) {
    const RtTile *t = kv_tile(r, o, c, RT_ROWS, ex);
    c->ids = get_ref(r, o, "ids");
    c->id_offset = member(o, "id_offset") ? get_int(r, o, "id_offset", -MAX_DIM, MAX_DIM) : 0;
    c->dst = get_ref(r, o, "dst");
    c->rows = get_int(r, o, "rows", 1, MAX_DIM);
    ref_space(r, "ids", &c->ids, RT_AT_NPU, -1);
    ref_space(r, "dst", &c->dst, RT_AT_NPU, -1);
    if (c->ids.bytes < c->rows * 4)
        fail(r, "%lld ids need %lld bytes, ids has %lld", (long long)c->rows, (long long)(c->rows * 4),
             (long long)c->ids.bytes);
    if (c->dst.bytes < c->rows * t->row_bytes)
        fail(r, "%lld rows of %lld bytes do not fit dst's %lld", (long long)c->rows, (long long)t->row_bytes,
             (long long)c->dst.bytes);
    check_ref_at(r, "ids", &c->ids, c->ids.bytes);
    check_ref_at(r, "dst", &c->dst, c->dst.bytes);
}

/* The part of a kv_append or kv_load naming a stream (`cmd`): the stream, its part, a channel link
 * that one of its tiles is on, layers it holds. */
static const RtKvStream *read_stream_ref(R *r, const cJSON *o, RtCmd *c, const Exec *ex, const char *cmd) {
    const RtSchedule *s = r->s;
    c->tensor = c->tile = -1;
    c->stream = (int)get_int(r, o, "stream", 0, s->nstreams - 1);
    const RtKvStream *st = &s->streams[c->stream];
    static const char *const parts[] = {"k", "v"};
    c->part_v = get_enum(r, o, "part", parts, 2) == 1;
    if (!ex->link || ex->lk->kind != RT_LINK_CHANNEL)
        fail(r, "%s runs on a channel's link", cmd);
    bool held = false;
    for (int i = 0; i < st->nregions; i++)
        held |= st->regions[i].channel == ex->lk->channel;
    if (!held)
        fail(r, "stream %d has no tile on channel %d, whose link this is", c->stream, ex->lk->channel);
    if (r->lay0 < st->layers[0] || r->lay1 > st->layers[1])
        fail(r, "it runs in layers [%lld, %lld), the stream holds [%lld, %lld)", (long long)r->lay0,
             (long long)r->lay1, (long long)st->layers[0], (long long)st->layers[1]);
    return st;
}

/* kv_append into an attention stream's tiles: token t (or its ring slot) in tile t mod n, row t / n. */
static void read_stream_append(R *r, const cJSON *o, RtCmd *c, const Exec *ex) {
    const RtSchedule *s = r->s;
    const RtKvStream *st = read_stream_ref(r, o, c, ex, "kv_append");
    c->src = get_ref(r, o, "src");
    ref_space(r, "src", &c->src, RT_AT_NPU, -1);
    c->token_stride = get_int(r, o, "token_stride", 0, MAX_ADDR);
    c->first = get_expr(r, o, "first");
    c->count = get_expr(r, o, "count");
    int64_t f0 = expr_min(r, c->first), f1 = expr_max(r, c->first), n1 = expr_max(r, c->count);
    if (f0 < 0 || expr_min(r, c->count) < 0)
        fail(r, "first and count are not negative at any context");
    if (f1 + n1 > s->max_seq)
        fail(r, "tokens [%lld, %lld) at a context of %lld: a sequence holds %d", (long long)f1, (long long)(f1 + n1),
             (long long)r->ctx_hi, s->max_seq);
    int64_t slots = f1 + n1;
    const cJSON *ring = member(o, "ring");
    if (ring) {
        size_t m = mark(r);
        push_key(r, "ring");
        static const char *const kr[] = {"sink", "window", NULL};
        check_keys(r, ring, kr);
        c->ring = true;
        c->sink = (int)get_int(r, ring, "sink", 0, MAX_DIM);
        c->window = (int)get_int(r, ring, "window", 0, MAX_DIM);
        if (c->sink + c->window < 1)
            fail(r, "a ring of no slot");
        reset(r, m);
        slots = (int64_t)c->sink + c->window < slots ? (int64_t)c->sink + c->window : slots;
    }
    /* a ring exactly where the stream's head keeps a static sink + window in the command's layers */
    const RtAttention *at = &s->attns[st->attn];
    for (int i = 0; i < at->npats; i++) {
        const RtPattern *p = &at->pats[i];
        bool has = false;
        for (int k = 0; k < p->nheads; k++)
            has |= p->heads[k] == st->head;
        if (!has || p->layers[1] <= r->lay0 || r->lay1 <= p->layers[0])
            continue;
        bool want = p->kind == RT_PAT_STATIC;
        if (want != c->ring || (want && (p->sink != c->sink || p->window != c->window))) {
            if (want)
                fail(r, "head %d keeps sink %d + window %d in layers [%lld, %lld) (pattern %d): the append needs "
                        "\"ring\": {\"sink\": %d, \"window\": %d}", st->head, p->sink, p->window,
                     (long long)p->layers[0], (long long)p->layers[1], i, p->sink, p->window);
            fail(r, "head %d keeps every token in layers [%lld, %lld) (pattern %d, %s): the append has no ring",
                 st->head, (long long)p->layers[0], (long long)p->layers[1], i, pat_names[p->kind]);
        }
    }
    if (slots > st->cap * st->nregions)
        fail(r, "%lld %s need more than the %d tiles x %lld rows the stream has", (long long)slots,
             c->ring ? "slots" : "tokens", st->nregions, (long long)st->cap);
    int64_t span = (n1 > 0 ? n1 - 1 : 0) * c->token_stride + (int64_t)s->head_dim * 4;
    if (span > c->src.bytes)
        fail(r, "the rows read span %lld bytes, more than src's %lld", (long long)span, (long long)c->src.bytes);
    check_ref_at(r, "src", &c->src, c->src.bytes);
}

/* kv_load from an attention stream (a tile computed away from its bank, `by npu`): slots [first, first +
 * count) of its keys or values, slot s from tile s mod n row s / n, densely into the NPU's scratch. */
static void read_stream_load(R *r, const cJSON *o, RtCmd *c, const Exec *ex) {
    const RtKvStream *st = read_stream_ref(r, o, c, ex, "kv_load");
    c->dst = get_ref(r, o, "dst");
    ref_space(r, "dst", &c->dst, RT_AT_NPU, -1);
    c->first = get_expr(r, o, "first");
    c->count = get_expr(r, o, "count");
    int64_t f1 = expr_max(r, c->first), n1 = expr_max(r, c->count);
    if (expr_min(r, c->first) < 0 || expr_min(r, c->count) < 0)
        fail(r, "first and count are not negative at any context");
    if (f1 + n1 > st->cap * st->nregions)
        fail(r, "slots [%lld, %lld) at a context of %lld: the stream's %d tile%s hold%s %lld", (long long)f1,
             (long long)(f1 + n1), (long long)r->ctx_hi, st->nregions, plural(st->nregions),
             st->nregions == 1 ? "s" : "", (long long)(st->cap * st->nregions));
    if (n1 * st->row_bytes > c->dst.bytes)
        fail(r, "%lld rows of %lld bytes do not fit dst's %lld", (long long)n1, (long long)st->row_bytes,
             (long long)c->dst.bytes);
    check_ref_at(r, "dst", &c->dst, c->dst.bytes);
}

static void read_cmd(R *r, const cJSON *o, RtCmd *c, const Exec *ex, int nops) {
    need_type(r, o, cJSON_IsObject(o), "an object");
    c->kind = (RtCmdKind)get_enum(r, o, "cmd", rt_cmd_names, RT_CMD_COUNT_);
    static const char *const kmove[] = {"id", "cmd", "op", "?layers", "?when", "deps", "est", "src", "dst", "rows",
                                        "row_bytes", "src_stride", "dst_stride", "?cvt", "?repeat", NULL};
    static const char *const kxfer[] = {"id", "cmd", "op", "?layers", "?when", "deps", "est", "src", "dst", "pes",
                                        "rows", "row_bytes", "src_stride", "dst_stride", "?repeat", NULL};
    static const char *const kkern[] = {"id", "cmd", "op", "?layers", "?when", "deps", "est", "kernel", "bufs",
                                        "args", "?repeat", NULL};
    static const char *const kapp[] = {"id", "cmd", "op", "?layers", "?when", "deps", "est", "tensor", "tile", "src",
                                       "head_stride", "batch_stride", "token_stride", "first", "count", NULL};
    static const char *const kapps[] = {"id", "cmd", "op", "?layers", "?when", "deps", "est", "stream", "part", "src",
                                        "token_stride", "first", "count", "?ring", NULL};
    static const char *const kload[] = {"id", "cmd", "op", "?layers", "?when", "deps", "est", "tensor", "tile",
                                        "pairs", "dst", "pair_stride", "first", "count", NULL};
    static const char *const kloads[] = {"id", "cmd", "op", "?layers", "?when", "deps", "est", "stream", "part",
                                         "dst", "first", "count", NULL};
    static const char *const kgat[] = {"id", "cmd", "op", "?layers", "?when", "deps", "est", "tensor", "tile", "ids",
                                       "?id_offset", "dst", "rows", NULL};
    bool to_stream = (c->kind == RT_KV_APPEND || c->kind == RT_KV_LOAD) && member(o, "stream");
    const char *const *keys = c->kind == RT_TRANSFER ? kxfer : c->kind == RT_KERNEL ? kkern
                              : to_stream ? (c->kind == RT_KV_LOAD ? kloads : kapps)
                              : c->kind == RT_KV_APPEND ? kapp : c->kind == RT_KV_LOAD ? kload
                              : c->kind == RT_GATHER ? kgat : kmove;
    check_keys(r, o, keys);
    /* the layers it runs in: its own range, else every layer of the layer body (one elsewhere) */
    r->lay0 = 0;
    r->lay1 = r->scope == RT_SCHED_LAYER ? r->s->layers : 1;
    if (member(o, "layers")) {
        if (r->scope != RT_SCHED_LAYER) {
            push_key(r, "layers");
            fail(r, "only the layer body's commands run in some layers");
        }
        get_range(r, o, "layers", 0, r->s->layers, c->layers);
        if (c->layers[0] == c->layers[1])
            fail(r, "a command that runs in no layer");
        r->lay0 = c->layers[0];
        r->lay1 = c->layers[1];
    }
    if (member(o, "when")) {  /* {ctx, [max_ctx,] plus, [div,] [mod,] eq}: runs in the steps where it holds */
        size_t m0 = mark(r);
        push_key(r, "when");
        const cJSON *w = member(o, "when");
        need_type(r, w, cJSON_IsObject(w), "an object");
        static const char *const wkeys[] = {"ctx", "?max_ctx", "plus", "?div", "?mod", "eq", NULL};
        check_keys(r, w, wkeys);
        c->has_when = true;
        c->when = expr_fields(r, w, EXPR_MOD);
        c->when_eq = get_int(r, w, "eq", 0, MAX_ADDR);
        if (c->when.mod > 0 && c->when_eq >= c->when.mod) {
            push_key(r, "eq");
            fail(r, "%lld is never a value modulo %lld: the command would never run", (long long)c->when_eq,
                 (long long)c->when.mod);
        }
        reset(r, m0);
    }
    c->id = (int)get_int(r, o, "id", 0, RT_SCHED_MAX_COUNT);
    c->op = (int)get_int(r, o, "op", -1, nops - 1);
    const cJSON *deps = member(o, "deps");
    size_t m = mark(r);
    push_key(r, "deps");
    c->ndeps = as_arr(r, deps, 0, 1 << 16);
    c->deps = ARENA_ARRAY(r->a, int, c->ndeps + 1);
    int i = 0;
    for (const cJSON *x = deps->child; x; x = x->next, i++) {
        size_t m2 = mark(r);
        push_idx(r, i);
        c->deps[i] = (int)as_int(r, x, 0, RT_SCHED_MAX_COUNT);
        reset(r, m2);
    }
    reset(r, m);
    c->est = get_est(r, o, "est");
    switch (c->kind) {
    case RT_KERNEL: read_kernel_cmd(r, o, c, ex); break;
    case RT_KV_APPEND:
    case RT_KV_LOAD:
        if (to_stream && c->kind == RT_KV_APPEND)
            read_stream_append(r, o, c, ex);
        else if (to_stream)
            read_stream_load(r, o, c, ex);
        else
            read_kv(r, o, c, ex);
        break;
    case RT_GATHER: read_gather(r, o, c, ex); break;
    default: read_move(r, o, c, ex); break;
    }
}

/* Every dependency names a command of the body, and together with the streams' order they form no
 * cycle. */
static void check_deps(R *r, RtBody *b, const char *bpath) {
    int n = b->ncmds;
    RtCmd **by_id = ARENA_ARRAY(r->a, RtCmd *, n + 1);
    int *where_s = ARENA_ARRAY(r->a, int, n + 1), *where_c = ARENA_ARRAY(r->a, int, n + 1);
    for (int s = 0; s < b->nstreams; s++)
        for (int k = 0; k < b->streams[s].ncmds; k++) {
            RtCmd *c = &b->streams[s].cmds[k];
            snprintf(r->path, sizeof r->path, "%s.units[%d].commands[%d].id", bpath, s, k);
            r->plen = strlen(r->path);
            if (c->id >= n)
                fail(r, "command ids are 0..%d (the body has %d commands), not %d", n - 1, n, c->id);
            if (by_id[c->id])
                fail(r, "id %d is taken by $%s.units[%d].commands[%d] too", c->id, bpath + 1, where_s[c->id],
                     where_c[c->id]);
            by_id[c->id] = c;
            where_s[c->id] = s;
            where_c[c->id] = k;
        }
    /* in-degrees over deps and stream order */
    int *indeg = ARENA_ARRAY(r->a, int, n + 1), *queue = ARENA_ARRAY(r->a, int, n + 1);
    for (int s = 0; s < b->nstreams; s++)
        for (int k = 0; k < b->streams[s].ncmds; k++) {
            RtCmd *c = &b->streams[s].cmds[k];
            for (int i = 0; i < c->ndeps; i++) {
                snprintf(r->path, sizeof r->path, "%s.units[%d].commands[%d].deps[%d]", bpath, s, k, i);
                r->plen = strlen(r->path);
                if (c->deps[i] >= n)
                    fail(r, "refers to command %d, which does not exist (the body has %d)", c->deps[i], n);
                if (c->deps[i] == c->id)
                    fail(r, "command %d waits for itself", c->id);
            }
            indeg[c->id] = c->ndeps + (k > 0);
        }
    /* successors: by dependency, and the next command of the stream */
    int *nsucc = ARENA_ARRAY(r->a, int, n + 1), *start = ARENA_ARRAY(r->a, int, n + 2);
    int64_t edges = 0;
    for (int s = 0; s < b->nstreams; s++)
        for (int k = 0; k < b->streams[s].ncmds; k++) {
            RtCmd *c = &b->streams[s].cmds[k];
            for (int i = 0; i < c->ndeps; i++)
                nsucc[c->deps[i]]++;
            if (k + 1 < b->streams[s].ncmds)
                nsucc[c->id]++;
            edges += c->ndeps + 1;
        }
    for (int i = 0; i < n; i++)
        start[i + 1] = start[i] + nsucc[i];
    int *succ = ARENA_ARRAY(r->a, int, edges + 1), *fill = ARENA_ARRAY(r->a, int, n + 1);
    for (int s = 0; s < b->nstreams; s++)
        for (int k = 0; k < b->streams[s].ncmds; k++) {
            RtCmd *c = &b->streams[s].cmds[k];
            for (int i = 0; i < c->ndeps; i++)
                succ[start[c->deps[i]] + fill[c->deps[i]]++] = c->id;
            if (k + 1 < b->streams[s].ncmds)
                succ[start[c->id] + fill[c->id]++] = b->streams[s].cmds[k + 1].id;
        }
    int head = 0, tail = 0;
    for (int i = 0; i < n; i++)
        if (indeg[i] == 0)
            queue[tail++] = i;
    while (head < tail) {
        int v = queue[head++];
        for (int e = start[v]; e < start[v + 1]; e++)
            if (--indeg[succ[e]] == 0)
                queue[tail++] = succ[e];
    }
    if (tail == n)
        return;
    /* a cycle: walk back from a command left over through waiting commands until one repeats */
    int v = 0;
    while (indeg[v] == 0)
        v++;
    int *seen = ARENA_ARRAY(r->a, int, n + 1), *chain = ARENA_ARRAY(r->a, int, n + 1), len = 0;
    for (int i = 0; i < n; i++)
        seen[i] = -1;
    while (seen[v] < 0) {
        seen[v] = len;
        chain[len++] = v;
        const RtCmd *c = by_id[v];
        int next = -1;
        for (int i = 0; i < c->ndeps && next < 0; i++)
            if (indeg[c->deps[i]] > 0)
                next = c->deps[i];
        int s = where_s[v], k = where_c[v];
        if (next < 0 && k > 0 && indeg[b->streams[s].cmds[k - 1].id] > 0)
            next = b->streams[s].cmds[k - 1].id;
        v = next;
    }
    char msg[512];
    size_t k = 0;
    for (int i = seen[v]; i < len && k < sizeof msg - 32; i++)
        k += (size_t)snprintf(msg + k, sizeof msg - k, "%d waits for ", chain[i]);
    snprintf(msg + k, sizeof msg - k, "%d", v);
    snprintf(r->path, sizeof r->path, "%s.units[%d].commands[%d]", bpath, where_s[v], where_c[v]);
    r->plen = strlen(r->path);
    fail(r, "the dependencies form a cycle (with the streams' order): %s", msg);
}

static void read_body(R *r, const cJSON *o, RtBody *b, int nops) {
    const RtSchedule *s = r->s;
    const RtDevice *dv = &s->dev;
    static const char *const keys[] = {"repeat", "commands", "units", NULL};
    check_keys(r, o, keys);
    b->repeat = (int)get_int(r, o, "repeat", 1, 1 << 20);
    if (b->repeat != (r->scope == RT_SCHED_LAYER ? s->layers : 1)) {
        push_key(r, "repeat");
        fail(r, "the %s runs %d time%s, not %d", rt_sched_scope_names[r->scope], r->scope == RT_SCHED_LAYER ? s->layers : 1,
             plural(r->scope == RT_SCHED_LAYER ? s->layers : 1), b->repeat);
    }
    b->ncmds = (int)get_int(r, o, "commands", 0, RT_SCHED_MAX_COUNT);
    const cJSON *units = member(o, "units");
    size_t m = mark(r);
    char bpath[1024];
    snprintf(bpath, sizeof bpath, "%.1000s", r->path);
    push_key(r, "units");
    b->nstreams = as_arr(r, units, 0, dv->nunits + dv->nlinks);
    b->streams = ARENA_ARRAY(r->a, RtStream, b->nstreams + 1);
    bool *seen = ARENA_ARRAY(r->a, bool, dv->nunits + dv->nlinks + 1);
    int i = 0, total = 0;
    for (const cJSON *u = units->child; u; u = u->next, i++) {
        size_t m2 = mark(r);
        push_idx(r, i);
        RtStream *st = &b->streams[i];
        need_type(r, u, cJSON_IsObject(u), "an object");
        static const char *const kunit[] = {"unit", "commands", NULL}, *const klink[] = {"link", "commands", NULL};
        st->link = member(u, "link") != NULL;
        check_keys(r, u, st->link ? klink : kunit);
        Exec ex = {st->link, 0, NULL, NULL};
        if (st->link) {
            st->id = ex.id = (int)get_int(r, u, "link", 0, dv->nlinks - 1);
            ex.lk = &dv->links[st->id];
            if (ex.lk->kind == RT_LINK_HB) {
                push_key(r, "link");
                fail(r, "link %d is a hybrid bond: a PE's kernels read its banks themselves", st->id);
            }
        } else {
            st->id = ex.id = (int)get_int(r, u, "unit", 0, dv->nunits - 1);
            ex.unit = &dv->units[st->id];
            if (ex.unit->kind != RT_UNIT_NPU && ex.unit->kind != RT_UNIT_PE) {
                push_key(r, "unit");
                fail(r, "unit %d is a %s: only the NPU, the PEs and the links run commands", st->id,
                     ex.unit->kind == RT_UNIT_BANK ? "bank" : "channel");
            }
        }
        int key = st->link ? dv->nunits + st->id : st->id;
        if (seen[key])
            fail(r, "a second stream for %s %d", st->link ? "link" : "unit", st->id);
        seen[key] = true;
        const cJSON *cmds = member(u, "commands");
        push_key(r, "commands");
        st->ncmds = as_arr(r, cmds, 1, RT_SCHED_MAX_COUNT);
        st->cmds = ARENA_ARRAY(r->a, RtCmd, st->ncmds);
        total += st->ncmds;
        if (total > b->ncmds) {
            reset(r, m);
            push_key(r, "commands");
            fail(r, "the body says it has %d commands; its streams have more", b->ncmds);
        }
        int k = 0;
        for (const cJSON *c = cmds->child; c; c = c->next, k++) {
            size_t m3 = mark(r);
            push_idx(r, k);
            read_cmd(r, c, &st->cmds[k], &ex, nops);
            reset(r, m3);
        }
        reset(r, m2);
    }
    reset(r, m);
    if (total != b->ncmds) {
        push_key(r, "commands");
        fail(r, "the body says it has %d commands; its streams have %d", b->ncmds, total);
    }
    check_deps(r, b, bpath);
    reset(r, m);
}

/* The refs of object k's keys names[0..n), each "?name" (optional; n <= 7), all in the NPU's scratch. */
static void read_io(R *r, const cJSON *o, const char *k, const char *const *names, RtRef *refs, bool *has, int n) {
    size_t m = mark(r);
    push_key(r, k);
    const cJSON *x = member(o, k);
    const char *keys[8];
    for (int i = 0; i < n; i++)
        keys[i] = names[i];
    keys[n] = NULL;
    check_keys(r, x, keys);
    for (int i = 0; i < n; i++) {
        has[i] = member(x, names[i] + 1) != NULL;
        if (has[i]) {
            refs[i] = get_ref(r, x, names[i] + 1);
            ref_space(r, names[i] + 1, &refs[i], RT_AT_NPU, -1);
            check_ref_at(r, names[i] + 1, &refs[i], refs[i].bytes);
        }
    }
    reset(r, m);
}

static void read_phase(R *r, const cJSON *o, int p) {
    RtSchedule *s = r->s;
    RtPhase *ph = &s->phase[p];
    r->ph = ph;
    r->phase = p;
    size_t m = mark(r);
    push_key(r, rt_phase_names[p]);
    static const char *const keys[] = {"tokens", "rows", "steps", "ctx", "npu_scratch", "pe_scratch", "inputs",
                                       "outputs", "constants", "ops", "prologue", "layer", "epilogue", NULL};
    check_keys(r, o, keys);
    ph->tokens = (int)get_int(r, o, "tokens", 1, 1 << 24);
    if (p == 0 ? ph->tokens != s->prompt : ph->tokens != 1) {
        push_key(r, "tokens");
        fail(r, "%s runs %d token%s per sequence a step", rt_phase_names[p], p == 0 ? s->prompt : 1,
             plural(p == 0 ? s->prompt : 1));
    }
    ph->rows = (int)get_int(r, o, "rows", (int64_t)s->batch * ph->tokens, (int64_t)s->batch * ph->tokens);
    ph->steps = (int)get_int(r, o, "steps", p == 0 ? 1 : 0, p == 0 ? 1 : 1 << 24);
    const cJSON *ctx = member(o, "ctx");
    size_t m2 = mark(r);
    push_key(r, "ctx");
    static const char *const kctx[] = {"first", "last", "max", NULL};
    check_keys(r, ctx, kctx);
    ph->ctx_first = get_int(r, ctx, "first", 1, s->max_seq);
    ph->ctx_last = get_int(r, ctx, "last", ph->ctx_first, s->max_seq);
    ph->ctx_max = get_int(r, ctx, "max", ph->ctx_last, s->max_seq);
    if (p == 0 && (ph->ctx_first != s->prompt || ph->ctx_max != ph->ctx_first))
        fail(r, "prefill's context is the prompt, %d", s->prompt);
    reset(r, m2);
    r->ctx_lo = ph->ctx_first;
    r->ctx_hi = ph->ctx_max;
    ph->npu_scratch = get_int(r, o, "npu_scratch", 0, MAX_ADDR);
    ph->pe_scratch = get_int(r, o, "pe_scratch", 0, MAX_ADDR);
    static const char *const in_names[] = {"?tokens", "?x", "?positions"};
    RtRef in[3];
    bool has_in[3];
    read_io(r, o, "inputs", in_names, in, has_in, 3);
    if (has_in[0] == has_in[1]) {
        push_key(r, "inputs");
        fail(r, "a phase takes token ids (tokens) or the first layer's input (x), one of them");
    }
    ph->has_tokens = has_in[0];
    ph->in_tokens = in[0];
    ph->has_x_in = has_in[1];
    ph->in_x = in[1];
    ph->has_positions = has_in[2];
    ph->in_positions = in[2];
    static const char *const out_names[] = {"?logits", "?x", "?hidden", "?attention"};
    RtRef out[4];
    bool has_out[4];
    read_io(r, o, "outputs", out_names, out, has_out, 4);
    if (!has_out[2]) {
        push_key(r, "outputs");
        fail(r, "missing key 'hidden'");
    }
    if (out[2].bytes != (int64_t)ph->rows * s->hidden * 4) {
        push_key(r, "outputs");
        push_key(r, "hidden");
        fail(r, "%lld bytes; the layer's output has %lld (rows x hidden fp32)", (long long)out[2].bytes,
             (long long)ph->rows * s->hidden * 4);
    }
    ph->out_hidden = out[2];
    if (has_out[3] && out[3].bytes != (int64_t)ph->rows * s->heads * s->head_dim * 4) {
        push_key(r, "outputs");
        push_key(r, "attention");
        fail(r, "%lld bytes; an attention's result has %lld (rows x heads x head_dim fp32)", (long long)out[3].bytes,
             (long long)ph->rows * s->heads * s->head_dim * 4);
    }
    ph->has_attn = has_out[3];
    ph->out_attn = out[3];
    if (has_out[0] == has_out[1]) {
        push_key(r, "outputs");
        fail(r, "a phase gives the logits or the last layer's output (x), one of them");
    }
    ph->has_logits = has_out[0];
    ph->out_logits = out[0];
    ph->has_x_out = has_out[1];
    ph->out_x = out[1];
    const cJSON *cs = member(o, "constants");
    push_key(r, "constants");
    ph->nconsts = as_arr(r, cs, 0, 1 << 16);
    ph->consts = ARENA_ARRAY(r->a, RtConst, ph->nconsts + 1);
    int i = 0;
    for (const cJSON *c = cs->child; c; c = c->next, i++) {
        size_t m3 = mark(r);
        push_idx(r, i);
        static const char *const kc[] = {"ref", "fill", NULL};
        check_keys(r, c, kc);
        RtConst *k = &ph->consts[i];
        k->ref = get_ref(r, c, "ref");
        ref_space(r, "ref", &k->ref, RT_AT_NPU, -1);
        check_ref_at(r, "ref", &k->ref, k->ref.bytes);
        const cJSON *f = member(c, "fill");
        push_key(r, "fill");
        if (cJSON_IsString(f)) {
            static const char *const fills[] = {"iota"};
            as_enum(r, f, fills, 1);
            k->iota = true;
        } else {
            k->fill = as_num(r, f, -1e30, 1e30);
        }
        reset(r, m3);
    }
    reset(r, m2);
    const cJSON *ops = member(o, "ops");
    push_key(r, "ops");
    ph->nops = as_arr(r, ops, 0, 1 << 20);
    ph->ops = ARENA_ARRAY(r->a, RtSchedOp, ph->nops + 1);
    i = 0;
    for (const cJSON *c = ops->child; c; c = c->next, i++) {
        size_t m3 = mark(r);
        push_idx(r, i);
        static const char *const ko[] = {"name", "kind", "scope", "runs", "?into", "?npu", "?nmp", "?energy", NULL};
        check_keys(r, c, ko);
        RtSchedOp *x = &ph->ops[i];
        x->name = get_str(r, c, "name");
        x->kind = get_str(r, c, "kind");
        x->scope = rt_sched_scope_names[get_enum(r, c, "scope", rt_sched_scope_names, RT_SCHED_SCOPE_COUNT_)];
        static const char *const runs[] = {"npu", "nmp", "mix", "fused"};
        x->runs = runs[get_enum(r, c, "runs", runs, 4)];
        bool fused = strcmp(x->runs, "fused") == 0;
        if (fused != (member(c, "into") != NULL))
            fail(r, fused ? "missing key 'into' (a fused op names the op it is computed in)"
                          : "unknown key 'into' (only a fused op has it)");
        x->into = fused ? (int)get_int(r, c, "into", 0, ph->nops - 1) : -1;
        int nest = (member(c, "npu") != NULL) + (member(c, "nmp") != NULL) + (member(c, "energy") != NULL);
        if (nest != 0 && nest != 3)
            fail(r, "an op's estimate has npu, nmp and energy, or none of them");
        x->has_est = nest == 3;
        if (x->has_est) {
            x->npu = get_est(r, c, "npu");
            x->nmp = get_est(r, c, "nmp");
            x->energy = get_est(r, c, "energy");
        }
        reset(r, m3);
    }
    reset(r, m2);
    for (int sc = 0; sc < RT_SCHED_SCOPE_COUNT_; sc++) {
        r->scope = sc;
        push_key(r, rt_sched_scope_names[sc]);
        read_body(r, member(o, rt_sched_scope_names[sc]), &ph->body[sc], ph->nops);
        reset(r, m2);
    }
    reset(r, m);
}

/* ---------------------------------------------------------------- the document */

static void read_graph(R *r, const cJSON *o);

static void read_doc(R *r, const cJSON *root) {
    RtSchedule *s = r->s;
    snprintf(r->path, sizeof r->path, "$");
    r->plen = 1;
    need_type(r, root, cJSON_IsObject(root), "an object");
    const cJSON *f = member(root, "format");
    if (!f || !cJSON_IsString(f) || strcmp(f->valuestring, "h2c-schedule") != 0) {
        push_key(r, "format");
        fail(r, "%s", !f ? "missing: this is not an h2c schedule" : "not \"h2c-schedule\": this is not an h2c schedule");
    }
    const cJSON *v = member(root, "version");
    if (!v) {
        push_key(r, "version");
        fail(r, "missing");
    }
    s->version = (int)get_int(r, root, "version", 0, 1 << 30);
    if (s->version != RT_SCHED_VERSION) {
        push_key(r, "version");
        fail(r, "version %d is not supported (this reader reads version %d)", s->version, RT_SCHED_VERSION);
    }
    static const char *const keys[] = {"format", "version", "generator", "name", "source", "module", "model",
                                       "workload", "device", "tensors", "attention", "kernels", "phases", "graph",
                                       NULL};
    check_keys(r, root, keys);
    s->generator = get_str(r, root, "generator");
    s->name = get_str(r, root, "name");
    s->source = get_str(r, root, "source");
    const cJSON *o = member(root, "module");
    push_key(r, "module");
    static const char *const kmod[] = {"cost_model", "dataflow", "objective", NULL};
    check_keys(r, o, kmod);
    s->cost_model = get_str(r, o, "cost_model");
    s->dataflow = get_str(r, o, "dataflow");
    s->objective = get_str(r, o, "objective");
    reset(r, 1);
    o = member(root, "model");
    push_key(r, "model");
    static const char *const kmodel[] = {"name", "layers", "hidden", "intermediate", "heads", "kv_heads", "head_dim",
                                         "vocab", NULL};
    check_keys(r, o, kmodel);
    s->model_name = get_str(r, o, "name");
    s->layers = (int)get_int(r, o, "layers", 1, 1 << 20);
    s->hidden = (int)get_int(r, o, "hidden", 1, 1 << 24);
    s->intermediate = (int)get_int(r, o, "intermediate", 1, 1 << 24);
    s->heads = (int)get_int(r, o, "heads", 1, 1 << 16);
    s->kv_heads = (int)get_int(r, o, "kv_heads", 1, s->heads);
    s->head_dim = (int)get_int(r, o, "head_dim", 1, 1 << 16);
    s->vocab = (int)get_int(r, o, "vocab", 0, 1 << 24);
    if (s->heads % s->kv_heads) {
        push_key(r, "kv_heads");
        fail(r, "%d KV heads do not divide %d heads", s->kv_heads, s->heads);
    }
    reset(r, 1);
    o = member(root, "workload");
    push_key(r, "workload");
    static const char *const kwork[] = {"name", "batch", "prompt", "generate", "max_seq", NULL};
    check_keys(r, o, kwork);
    s->workload_name = get_str(r, o, "name");
    s->batch = (int)get_int(r, o, "batch", 1, 1 << 20);
    s->max_seq = (int)get_int(r, o, "max_seq", 1, 1 << 24);
    s->prompt = (int)get_int(r, o, "prompt", 1, s->max_seq);
    s->generate = (int)get_int(r, o, "generate", 0, 1 << 24);
    reset(r, 1);
    read_device(r, member(root, "device"));
    read_tensors(r, member(root, "tensors"));
    read_attention(r, member(root, "attention"));
    read_kernels(r, member(root, "kernels"));
    o = member(root, "phases");
    push_key(r, "phases");
    static const char *const kph[] = {"prefill", "decode", NULL};
    check_keys(r, o, kph);
    for (int p = 0; p < 2; p++)
        read_phase(r, member(o, rt_phase_names[p]), p);
    reset(r, 1);
    s->graph_tensor = ARENA_ARRAY(r->a, int, s->phase[1].nops + 1);
    read_graph(r, member(root, "graph"));
    /* each plan names the attention ops it is the work of */
    const RtPhase *dc = &s->phase[1];
    for (int a = 0; a < s->nattns; a++) {
        const RtAttention *at = &s->attns[a];
        for (int w = 0; w < 2; w++) {
            int op = w ? at->score : at->value;
            if (op >= dc->nops || strcmp(dc->ops[op].kind, w ? "attn_score" : "attn_value") != 0) {
                snprintf(r->path, sizeof r->path, "$.attention[%d].%s", a, w ? "score" : "value");
                fail(r, "op %d is not an %s of the phases", op, w ? "attn_score" : "attn_value");
            }
        }
    }
}


/* ---------------------------------------------------------------- the model graph */

static const char *const graph_kinds[] = {"fc", "attn_score", "softmax", "attn_value", "norm", "activation",
                                          "add", "mul", "embedding", "rope"};
static const RtOpKind graph_kind_of[] = {RT_FC, RT_ATTN_SCORE, RT_SOFTMAX, RT_ATTN_VALUE, RT_NORM,
                                         RT_ACT, RT_ADD, RT_MUL, RT_EMBED, RT_ROPE};
static const char *const graph_acts[] = {"silu", "gelu", "gelu_tanh", "relu", "none"};
static const char *const graph_scopes[] = {"layer", "prologue", "epilogue"};
static const char *const rope_scalings[] = {"none", "linear", "llama3"};

/* The `graph` section (docs/schedule.md §2.5): what the reference forward pass needs, op for op
 * the decode phase's ops. */
static void read_graph(R *r, const cJSON *o) {
    RtSchedule *s = r->s;
    size_t entry = mark(r);
    const RtPhase *dc = &s->phase[1];
    push_key(r, "graph");
    static const char *const keys[] = {"norm_eps", "rope", "layer_out", "prologue_out", "epilogue_out", "ops", NULL};
    check_keys(r, o, keys);
    RtModel *m = ARENA_NEW(r->a, RtModel);
    s->graph = m;
    m->layers = s->layers, m->hidden = s->hidden, m->heads = s->heads, m->kv_heads = s->kv_heads;
    m->head_dim = s->head_dim, m->vocab = s->vocab;
    m->norm_eps = get_num(r, o, "norm_eps", 0, 1);
    size_t m0 = mark(r);
    const cJSON *rp = member(o, "rope");
    push_key(r, "rope");
    static const char *const krope[] = {"theta", "fraction", "scaling", "factor", "low_freq_factor",
                                        "high_freq_factor", "original_max", NULL};
    check_keys(r, rp, krope);
    m->rope_theta = get_num(r, rp, "theta", 0, 1e300);
    m->rope_fraction = get_num(r, rp, "fraction", 0, 1);
    m->rope_scaling = (RtRopeScaling)get_enum(r, rp, "scaling", rope_scalings, 3);
    m->rope_factor = get_num(r, rp, "factor", 0, 1e300);
    m->rope_low_freq_factor = get_num(r, rp, "low_freq_factor", 0, 1e300);
    m->rope_high_freq_factor = get_num(r, rp, "high_freq_factor", 0, 1e300);
    m->rope_original_max = (int)get_int(r, rp, "original_max", 0, 1 << 30);
    reset(r, m0);
    const cJSON *ops = member(o, "ops");
    push_key(r, "ops");
    m->nops = as_arr(r, ops, dc->nops, dc->nops);
    m->ops = ARENA_ARRAY(r->a, RtOp, m->nops + 1);
    int i = 0;
    for (const cJSON *x = ops->child; x; x = x->next, i++) {
        size_t m1 = mark(r);
        push_idx(r, i);
        static const char *const kop[] = {"name", "kind", "scope", "inputs", "in_width", "width", "act",
                                          "layer_norm", "bias", "tied", "eps", "scale", "positions", "offset",
                                          "window", "unit_offset", "tensor", NULL};
        check_keys(r, x, kop);
        RtOp *op = &m->ops[i];
        op->name = get_str(r, x, "name");
        int kind = get_enum(r, x, "kind", graph_kinds, 10);
        op->kind = graph_kind_of[kind];
        op->scope = (RtScope)get_enum(r, x, "scope", graph_scopes, 3);
        if (strcmp(op->name, dc->ops[i].name) != 0 || strcmp(graph_kinds[kind], dc->ops[i].kind) != 0 ||
            strcmp(graph_scopes[op->scope], dc->ops[i].scope) != 0)
            fail(r, "op '%s' (%s, %s) is not the decode phase's op %d ('%s', %s, %s)", op->name, graph_kinds[kind],
                 graph_scopes[op->scope], i, dc->ops[i].name, dc->ops[i].kind, dc->ops[i].scope);
        size_t m2 = mark(r);
        push_key(r, "inputs");
        const cJSON *in = member(x, "inputs");
        op->ninputs = as_arr(r, in, 0, 16);
        int k = 0;
        for (const cJSON *v = in->child; v; v = v->next, k++) {
            size_t m3 = mark(r);
            push_idx(r, k);
            op->inputs[k] = (int)as_int(r, v, -2, m->nops - 1);
            if (op->inputs[k] == i)
                fail(r, "op %d reads itself", i);
            reset(r, m3);
        }
        reset(r, m2);
        op->in_width = (int)get_int(r, x, "in_width", 0, 1 << 24);
        op->width = (int)get_int(r, x, "width", 0, 1 << 24);
        int act = get_enum(r, x, "act", graph_acts, 5);
        if ((act == 4) != (op->kind != RT_ACT)) {
            push_key(r, "act");
            fail(r, "%s", act == 4 ? "an activation needs its function" : "only an activation has a function");
        }
        op->act = act == 4 ? RT_ACT_SILU : (RtAct)act;
        op->layer_norm = get_bool(r, x, "layer_norm");
        op->bias = get_bool(r, x, "bias");
        op->tied = (int)get_int(r, x, "tied", -1, m->nops - 1);
        op->eps = get_num(r, x, "eps", 0, 1);
        op->scale = get_num(r, x, "scale", 0, 1e300);
        op->positions = (int)get_int(r, x, "positions", 0, 1 << 30);
        op->offset = (int)get_int(r, x, "offset", -(1 << 30), 1 << 30);
        op->window = (int)get_int(r, x, "window", 0, 1 << 30);
        op->unit_offset = get_bool(r, x, "unit_offset");
        int t = (int)get_int(r, x, "tensor", -1, s->ntensors - 1);
        s->graph_tensor[i] = t;
        if (op->kind == RT_FC && op->in_width == 0)
            fail(r, "an fc needs its in_width");
        if ((op->kind == RT_FC || op->kind == RT_NORM || op->kind == RT_EMBED) && t < 0 && op->tied < 0)
            fail(r, "the %s op needs its weight tensor", graph_kinds[kind]);
        if (op->scope == RT_SCOPE_PROLOGUE)
            m->has_prologue = true, m->prologue_out = i;
        if (op->scope == RT_SCOPE_EPILOGUE)
            m->has_epilogue = true, m->epilogue_out = i;
        reset(r, m1);
    }
    reset(r, m0);
    for (i = 0; i < m->nops; i++)
        if (m->ops[i].tied >= 0 && m->ops[m->ops[i].tied].kind != RT_EMBED) {
            snprintf(r->path, sizeof r->path, "$.graph.ops[%d].tied", i);
            fail(r, "op %d is not an embedding", m->ops[i].tied);
        }
    int lo = (int)get_int(r, o, "layer_out", 0, m->nops - 1);
    int po = (int)get_int(r, o, "prologue_out", -1, m->nops - 1);
    int eo = (int)get_int(r, o, "epilogue_out", -1, m->nops - 1);
    if (m->ops[lo].scope != RT_SCOPE_LAYER || po != (m->has_prologue ? m->prologue_out : -1) ||
        eo != (m->has_epilogue ? m->epilogue_out : -1)) {
        push_key(r, "layer_out");
        fail(r, "layer_out %d, prologue_out %d, epilogue_out %d are not the scopes' last ops", lo, po, eo);
    }
    m->layer_out = lo;
    reset(r, entry);
}

/* ---------------------------------------------------------------- entry points */

static void json_hooks(bool on) {
    cJSON_Hooks hooks = {h2c_sized_alloc, h2c_sized_free};
    cJSON_InitHooks(on ? &hooks : NULL);
}

/* The text's deepest nesting of [ and { outside strings, up to limit + 1. */
static int nesting(const char *t, size_t len, int limit) {
    int depth = 0, max = 0;
    bool str = false;
    for (size_t i = 0; i < len; i++) {
        char c = t[i];
        if (str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                str = false;
        } else if (c == '"') {
            str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max && (max = depth) > limit)
                return max;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return max;
}

/* The n bytes at p begin with lit. */
static bool starts_with(const char *p, size_t n, const char *lit) {
    size_t k = strlen(lit);
    return n >= k && memcmp(p, lit, k) == 0;
}

RtSchedule *rt_schedule_parse(const char *name, const char *text, size_t len, Diag *d) {
    if ((long long)len > RT_SCHED_MAX_BYTES) {
        diag_error(d, NOLOC, "'%s' is larger than %lld MiB", name, (long long)RT_SCHED_MAX_BYTES >> 20);
        return NULL;
    }
    if (nesting(text, len, RT_SCHED_MAX_DEPTH) > RT_SCHED_MAX_DEPTH) {
        diag_error(d, NOLOC, "%s: $: nested deeper than %d levels", name, RT_SCHED_MAX_DEPTH);
        return NULL;
    }
    json_hooks(true);
    h2c_sized_failed = false;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    json_hooks(false);
    if (root) {     /* nothing but white space after the document */
        size_t pos = end && end >= text ? (size_t)(end - text) : len;
        while (pos < len && (text[pos] == ' ' || text[pos] == '\n' || text[pos] == '\t' || text[pos] == '\r'))
            pos++;
        if (pos < len) {
            int line = 1, col = 1;
            for (size_t i = 0; i < pos; i++)
                text[i] == '\n' ? (line++, col = 1) : col++;
            diag_error(d, NOLOC, "%s: not valid JSON: more text after the document, at line %d, column %d", name, line,
                       col);
            json_hooks(true);
            cJSON_Delete(root);
            json_hooks(false);
            return NULL;
        }
    }
    if (!root) {
        if (h2c_sized_failed) {
            diag_error(d, NOLOC, "%s: out of memory", name);
            return NULL;
        }
        size_t pos = end && end >= text ? (size_t)(end - text) : 0;
        int line = 1, col = 1;
        for (size_t i = 0; i < pos && i < len; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        /* brackets left open at the end (outside strings): the text stops before the document does */
        int depth = 0;
        bool str = false;
        for (size_t i = 0; i < len; i++) {
            char c = text[i];
            if (str) {
                if (c == '\\')
                    i++;
                else if (c == '"')
                    str = false;
            } else if (c == '"') {
                str = true;
            } else if (c == '[' || c == '{') {
                depth++;
            } else if (c == ']' || c == '}') {
                depth--;
            }
        }
        const char *at = pos < len ? text + pos : "";
        size_t left = pos < len ? len - pos : 0;    /* the text need not end with a NUL */
        if (depth > 0 || str) {
            int eline = 1, ecol = 1;
            for (size_t i = 0; i < len; i++)
                text[i] == '\n' ? (eline++, ecol = 1) : ecol++;
            diag_error(d, NOLOC, "%s: not valid JSON: the text ends at line %d, column %d, inside %d unclosed "
                       "bracket%s (truncated?)", name, eline, ecol, depth, plural(depth));
        } else if (starts_with(at, left, "NaN") || starts_with(at, left, "nan") || starts_with(at, left, "Infinity") ||
                   starts_with(at, left, "-Infinity") || starts_with(at, left, "inf")) {
            diag_error(d, NOLOC, "%s: not valid JSON at line %d, column %d: NaN and Infinity are not JSON numbers",
                       name, line, col);
        } else {
            diag_error(d, NOLOC, "%s: not valid JSON at line %d, column %d", name, line, col);
        }
        return NULL;
    }
    RtSchedule *s = h2c_raw_alloc(sizeof *s);
    R *r = h2c_raw_alloc(sizeof *r);
    jmp_buf oom;
    if (!s || !r) {
        diag_error(d, NOLOC, "%s: out of memory", name);
        h2c_raw_free(s, sizeof *s);
        h2c_raw_free(r, sizeof *r);
        json_hooks(true);
        cJSON_Delete(root);
        json_hooks(false);
        return NULL;
    }
    memset(s, 0, sizeof *s);
    memset(r, 0, sizeof *r);
    arena_init(&s->arena);
    r->d = d;
    r->name = name;
    r->a = &s->arena;
    r->s = s;
    bool ok;
    if (setjmp(oom)) {
        diag_error(d, NOLOC, "%s: out of memory", name);
        ok = false;
    } else {
        s->arena.oom = &oom;
        ok = setjmp(r->fail) == 0;
        if (ok)
            read_doc(r, root);
    }
    s->arena.oom = NULL;
    json_hooks(true);
    cJSON_Delete(root);
    json_hooks(false);
    h2c_raw_free(r, sizeof *r);
    if (!ok) {
        rt_schedule_free(s);
        return NULL;
    }
    return s;
}

RtSchedule *rt_schedule_read(const char *path, Diag *d) {
    Arena a;
    arena_init(&a);
    SrcFile *f = srcfile_read(&a, d, path, NOLOC, (size_t)RT_SCHED_MAX_BYTES);
    RtSchedule *s = f ? rt_schedule_parse(path, f->text, f->len, d) : NULL;
    arena_free(&a);
    return s;
}

void rt_schedule_free(RtSchedule *s) {
    if (!s)
        return;
    arena_free(&s->arena);
    h2c_raw_free(s, sizeof *s);
}
