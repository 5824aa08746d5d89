/* cost_artifact.c: the H2-LLM artifact's evaluator, number for number (reference/h2llm-artifact.md
 * §4): the NPU and NMP rooflines, the MAG/MPG/stratum aggregation, the fixed-mapping baselines, the
 * capacity check and the NMP utilisation table. Latencies are per layer; decode is one step at the
 * final context repeated gen times; energy is 0. Every expression keeps the artifact's order of
 * operations so that results agree bit for bit (docs/cost-models.md §2.8 lists the quirks). */
#include "artifact.h"

#include <math.h>
#include <math.h>
#include <string.h>

#define GIB 1073741824.0    /* the NMP transfer's "GB" (§4.3) */
#define MIB 1048576.0       /* the capacity check's "MB" (§2) */

/* The artifact's per-channel bandwidth in GB/s (12.8 for the default device). */
static double chan_gbps(const Hardware *hw) { return hw->channel_bandwidth / 1e9; }

/* §4.1. No work costs 0 (the artifact would divide 0 by 0); no bandwidth at all is infinitely slow
 * (the artifact would divide by zero). Both only arise from plans the artifact never builds. */
double art_npu(const DfProblem *p, Gemm g, int cn, int cx) {
    const Hardware *hw = &p->hw;
    if (!(g.B > 0 && g.M > 0 && g.N > 0 && g.K > 0))
        return 0;
    double ch = chan_gbps(hw);
    double bw = cn * ch + cx * ch;
    if (!(bw > 0))
        return INFINITY;
    double peak = hw->npu_throughput / 1e9;     /* GMAC/s: 128e12 -> 128000.0, as 128*1e3 */
    double thr = (peak * hw->npu_utilization) / (bw * hw->channel_utilization);
    double mac = g.B * g.M * g.K * g.N / 1e9;
    double ai = (g.M * g.K * g.N) / (p->es * (g.M * g.K + g.K * g.N));
    double cap = thr < ai ? peak * hw->npu_utilization : (bw * hw->channel_utilization) * ai;
    return mac / cap;
}

static long long gcd_ll(long long a, long long b) {
    while (b) {
        long long t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* §4.3. B == 0 is an assertion upstream and N == 0 a division by zero; here no work costs 0. An op
 * with work but no channel is infinitely slow. p->nmp_util <= 0 means "not set", i.e. 1. */
double art_nmp(const DfProblem *p, Gemm g, int c) {
    const Hardware *hw = &p->hw;
    if (!(g.B >= 1 && g.M > 0 && g.N > 0 && g.K > 0))
        return 0;
    if (c <= 0)
        return INFINITY;
    long long B = (long long)g.B, N = (long long)g.N, K = (long long)g.K;
    long long P, G;
    if (B > c) {            /* one GEMM per channel, G rounds */
        P = 1;
        G = (long long)ceil((double)B / (double)c);
    } else if (B > 1) {     /* P channels per GEMM */
        long long d = gcd_ll(B, c);
        P = c / d;
        G = B / d;
    } else {
        P = c;
        G = 1;
    }
    /* the factor of P closest to sqrt(K*P/N) splits K; ties go to the smaller (first) factor */
    double target = sqrt((double)(K * P) / (double)N);
    long long kd = 1;
    double best = fabs(1.0 - target);
    for (long long f = 2; f <= P; f++) {
        if (P % f == 0 && fabs((double)f - target) < best) {
            best = fabs((double)f - target);
            kd = f;
        }
    }
    long long nd = P / kd;
    double Mp = g.M, Kp = ceil((double)K / (double)kd), Np = ceil((double)N / (double)nd);
    double es = p->es;
    double xfer = hw->nmp_transfer_bandwidth / 1e9;
    double t_in = es * Mp * Kp / GIB / xfer;
    double t_out = es * Mp * Np / GIB / xfer;
    double pes = hw->banks_per_channel / hw->pe_banks;     /* PEs per channel (16) */
    double Pc = hw->pe_simd * hw->pe_fpus * (hw->pe_frequency / 1e6) * pes / 1e3;  /* GMAC/s */
    double Bc = (hw->pe_bandwidth / 1e9) * pes;                                   /* GB/s */
    double thr = Pc / Bc;
    double ai = Mp * Kp * Np / (es * (Mp * Kp + Kp * Np));
    double mac = Mp * Kp * Np / 1e9;
    double t_c = mac / (thr < ai ? Pc : Bc * ai);
    double util = p->nmp_util > 0 ? p->nmp_util : 1;
    return (t_in + t_c + t_out) * (double)G / util;
}

/* §1.3: the factors the artifact divides NMP latency by, for its ID-NMP+ and ID-NMP devices. */
double art_utilization(const Hardware *hw, int batch) {
    static const struct {
        double fpus, mhz, gbps;
        double util[3];     /* batch 1, 4, 16 */
    } table[] = {
        {1, 1000, 6.4, {0.71, 0.45, 0.52}},    /* ID-NMP+ */
        {1, 200, 6.4, {0.46, 0.71, 0.83}},     /* ID-NMP */
    };
    int bi = batch == 1 ? 0 : batch == 4 ? 1 : batch == 16 ? 2 : -1;
    if (bi < 0)
        return 1;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (hw->pe_fpus == table[i].fpus && hw->pe_frequency / 1e6 == table[i].mhz &&
            hw->pe_bandwidth / 1e9 == table[i].gbps)
            return table[i].util[bi];
    return 1;
}

/* ---------------------------------------------------------------- one op */

/* The NMP share of op as the artifact resolves it. A ratio r on a GEMM with B == 1 splits N (§4.5,
 * "MIX with B==1"), also for attention, whose usual split dimension is B: palm's single KV head at
 * batch 1. Everything else follows df_split_of. */
static long long art_split(const DfProblem *p, int op, const DfAssign *a) {
    const DfOp *o = &p->ops[op];
    if (a->ratio >= 0 && o->kind == DFK_ATTN && !(o->dec.B > 1))
        return (long long)(o->dec.N * a->ratio);
    return df_split_of(p, op, a);
}

/* §4.2/§4.5: one decode step of op on c NMP channels (+ the normal group) with NMP share split: the
 * NPU part and the NMP part. Non-GEMM ops are not in the artifact's graphs and cost nothing. */
static void decode_parts(const DfProblem *p, int op, int c, bool normal, long long split, DfExec ex, double *npu,
                         double *nmp) {
    const DfOp *o = &p->ops[op];
    *npu = *nmp = 0;
    if (o->kind == DFK_OTHER)
        return;
    Gemm g = o->dec;
    int cx = normal ? p->normal : 0;
    if (ex == DF_EXEC_NPU) {            /* NPU: streams from every channel holding the op (data-centric: normal only) */
        *npu = art_npu(p, g, c, cx);
    } else if (ex == DF_EXEC_NMP) {     /* NMP */
        *nmp = art_nmp(p, g, c);
    } else {                            /* MIX: the NPU part also streams from the NMP channels */
        Gemm gx = g, gn = g;
        if (g.B > 1) {
            gx.B = g.B - (double)split;
            gn.B = (double)split;
        } else {
            gx.N = g.N - (double)split;
            gn.N = (double)split;
        }
        *npu = art_npu(p, gx, c, cx);
        *nmp = art_nmp(p, gn, c);
    }
}

/* Prefill runs the whole op on the NPU, reading its NMP channels and, if mapped, the normal group;
 * the ratio plays no part (§4.2). */
static double prefill_time(const DfProblem *p, int op, int c, bool normal) {
    if (p->ops[op].kind == DFK_OTHER)
        return 0;
    return art_npu(p, p->ops[op].pre, c, normal ? p->normal : 0);
}

/* decoding_latency = [step] * gen, summed: a running sum, which differs from gen * step in the
 * last bits (the test vectors' decode_total is the running sum). */
static double repeat_sum(double step, int gen) {
    double s = 0;
    for (int i = 0; i < gen; i++)
        s += step;
    return s;
}

static void op_cost(const DfProblem *p, int op, int c, bool normal, long long split, OpCost *out) {
    double npu, nmp;
    out->prefill = prefill_time(p, op, c, normal);
    DfAssign a;
    memset(&a, 0, sizeof a);
    a.nmp = c > 0 ? 1 : 0;
    a.normal = normal;
    decode_parts(p, op, c, normal, split, df_exec_of(&a), &npu, &nmp);
    out->npu = p->gen * npu;
    out->nmp = p->gen * nmp;
    out->energy = 0;
}

/* ---------------------------------------------------------------- the plan */

static int cmp_pos(const DfAssign *x, const DfAssign *y) {
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    if (x->part != y->part)
        return x->part < y->part ? -1 : 1;
    if (x->stratum != y->stratum)
        return x->stratum < y->stratum ? -1 : 1;
    return 0;
}

static double max2(double a, double b) { return a < b ? b : a; }

/* §4.4-§4.6. Ops are visited MAG -> MPG -> stratum (ascending), and in plan->order inside a
 * stratum. Prefill is summed level by level (stratum, MPG, MAG, total) as the artifact does: a flat
 * sum differs in the last bit on some test vectors. Decode: stratum = max(max t_nmp, sum t_npu),
 * MPG = sum of strata, MAG = max of MPGs, step = sum of MAGs. */
static void evaluate(const DfProblem *p, const DfPlan *plan, CostResult *out) {
    memset(out, 0, sizeof *out);
    int n = 0, idx[DF_MAX_OPS];
    for (int i = 0; i < plan->nops && i < DF_MAX_OPS; i++) {    /* stable insertion sort by position */
        int op = plan->order[i], j = n++;
        if (op < 0 || op >= p->nops)
            h2c_unreachable("a plan's order names an op the problem does not have");
        while (j > 0 && cmp_pos(&plan->a[idx[j - 1]], &plan->a[op]) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = op;
    }
    double prefill = 0, step = 0;
    int i = 0;
    while (i < n) {
        int group = plan->a[idx[i]].group;
        double g_pre = 0, g_dec = 0;
        while (i < n && plan->a[idx[i]].group == group) {
            int part = plan->a[idx[i]].part;
            double p_pre = 0, p_dec = 0;
            while (i < n && plan->a[idx[i]].group == group && plan->a[idx[i]].part == part) {
                int first = idx[i];
                double s_pre = 0, s_nmp = 0, s_npu = 0;
                while (i < n && cmp_pos(&plan->a[idx[i]], &plan->a[first]) == 0) {
                    int op = idx[i++];
                    const DfAssign *a = &plan->a[op];
                    int c = chanset_count(a->nmp);
                    double pre = prefill_time(p, op, c, a->normal), npu, nmp;
                    decode_parts(p, op, c, a->normal, art_split(p, op, a), df_exec_of(a), &npu, &nmp);
                    s_pre += pre;
                    s_nmp = max2(s_nmp, nmp);
                    s_npu += npu;
                    out->op_prefill[op] = pre;
                    out->op_decode[op] = p->gen * max2(npu, nmp);   /* its parts overlap */
                }
                p_pre += s_pre;
                p_dec += max2(s_nmp, s_npu);
            }
            g_pre += p_pre;
            g_dec = max2(g_dec, p_dec);
        }
        prefill += g_pre;
        step += g_dec;
    }
    out->prefill = prefill;
    out->decode_step = step;
    out->decode = repeat_sum(step, p->gen);
    out->total = prefill + out->decode;
    out->energy = 0;
}

/* Where the NMP time of a MIX split does not fall as the split grows. A split along N (B == 1)
 * changes only N' = ceil(n / nd) and the factor kd = the factor of C nearest sqrt(K C / n); kd can
 * only step down as n grows, and between its steps the NMP time grows with n while the NPU time
 * (N - n columns) falls: each run of one kd is a monotone piece, found by binary search. A split
 * along B goes through gcd(b, C), which jumps around: every split is tried (B is small). */
static int factor_nearest(int c, double target) {
    int best = 1;
    double bd = 1e300;
    for (int f = 1; f <= c; f++)
        if (c % f == 0 && fabs((double)f - target) < bd) {
            bd = fabs((double)f - target);
            best = f;
        }
    return best;
}

static int split_pieces(const DfProblem *p, int op, int c, long long *breaks, int max) {
    const DfOp *o = &p->ops[op];
    long long S = df_split_len(p, op);
    if (o->kind == DFK_ATTN && o->dec.B > 1)
        return 0;
    double K = o->dec.K;
    int n = 0;
    long long lo = 1;
    breaks[n] = 1;
    while (lo < S && n + 1 < max) {
        int kd = factor_nearest(c, sqrt(K * c / (double)lo));
        long long a = lo, b = S; /* the first split with a smaller kd, or S */
        while (a < b) {
            long long mid = a + (b - a) / 2;
            if (factor_nearest(c, sqrt(K * c / (double)mid)) < kd)
                b = mid;
            else
                a = mid + 1;
        }
        breaks[++n] = a;
        lo = a;
    }
    if (breaks[n] != S)
        breaks[++n] = S;
    return n;
}

/* The artifact's prefill ignores the split, and it has no energy: these bounds are exact. */
static void mix_lower(const DfProblem *p, int op, int c, long long lo, long long hi, double *prefill,
                      double *energy) {
    (void)lo;
    (void)hi;
    *prefill = prefill_time(p, op, c, true);
    *energy = 0;
}

const CostModel cost_artifact = {
    .name = "h2llm-artifact",
    .op_cost = op_cost,
    .evaluate = evaluate,
    .split_pieces = split_pieces,
    .has_energy = false,
    .mix_lower = mix_lower,
    .costs_by_shape = true,
    .fixed_time = NULL,
    .nmp_util = art_utilization,
    .reads_sram = false,
    .whole_model = false,
};

/* ---------------------------------------------------------------- capacity */

/* §2: each op's footprint (MiB, all layers) goes ratio / |nmp| to each of its NMP channels and
 * 1 - ratio to the normal group; a pure NMP op has ratio 1, a pure NPU op 0. */
bool art_capacity_ok(const DfProblem *p, const DfPlan *plan) {
    const Hardware *hw = &p->hw;
    double chan_mb = hw->bank_capacity * hw->banks_per_channel / MIB;
    double nmp_mb[64] = {0}, normal_mb = 0;
    for (int i = 0; i < plan->nops && i < p->nops; i++) {
        const DfOp *o = &p->ops[i];
        const DfAssign *a = &plan->a[i];
        int c = chanset_count(a->nmp);
        if (o->kind == DFK_OTHER || (c == 0 && !a->normal))
            continue;
        double total = o->footprint / MIB, r;
        if (c == 0)
            r = 0;
        else if (!a->normal)
            r = 1;
        else if (a->ratio >= 0)
            r = a->ratio;
        else
            r = df_split_len(p, i) > 0 ? (double)a->split / (double)df_split_len(p, i) : 0;
        for (int ch = 0; ch < 64; ch++)
            if (a->nmp & CHAN_BIT(ch))
                nmp_mb[ch] += total * r / c;
        if (a->normal)
            normal_mb += total * (1 - r);
    }
    double sum = 0;
    for (int ch = 0; ch < 64; ch++) {
        if (nmp_mb[ch] > chan_mb)
            return false;
        sum += nmp_mb[ch];
    }
    sum += normal_mb;
    return normal_mb <= chan_mb * p->normal && sum <= chan_mb * hw->channels;
}

/* ---------------------------------------------------------------- fixed mappings */

/* Attn-NMP-Split splits the FFN ops. The artifact picks them by name; a problem built from other
 * names falls back to the shape: an FC that reads or writes something other than the hidden width
 * or the KV width is an FFN op. */
static bool is_ffn(const DfProblem *p, const DfOp *o) {
    static const char *const ffn[] = {"f1", "f2", "f3"}, *const attn[] = {"q", "k", "v", "o"};
    for (int i = 0; i < 3; i++)
        if (o->name && strcmp(o->name, ffn[i]) == 0)
            return true;
    for (int i = 0; i < 4; i++)
        if (o->name && strcmp(o->name, attn[i]) == 0)
            return false;
    double kvw = (double)p->kv_heads * p->head_dim;
    return o->kind == DFK_FC && (o->dec.K != p->hidden || (o->dec.N != p->hidden && o->dec.N != kvw));
}

/* §4.7, Attn-NMP-Split's decode FFN op: N is cut with ratio = int(nmp * per-PE bandwidth /
 * (normal * 12.8)), the NPU taking ceil(N*ratio/(ratio+1)) columns and the NMP ceil(N/(ratio+1)),
 * which overlap by one column when neither divides; they run in parallel. */
static double ffn_split(const DfProblem *p, Gemm g) {
    const Hardware *hw = &p->hw;
    long long ratio = (long long)((double)p->nmp * (hw->pe_bandwidth / 1e9) / ((double)p->normal * chan_gbps(hw)));
    long long N = (long long)g.N;
    Gemm gx = g, gn = g;
    gx.N = ceil((double)(N * ratio) / (double)(ratio + 1));
    gn.N = ceil((double)N / (double)(ratio + 1));
    return max2(art_npu(p, gx, p->nmp, p->normal), art_nmp(p, gn, p->nmp));
}

bool art_baseline(const DfProblem *p, DataflowMode mode, CostResult *out) {
    memset(out, 0, sizeof *out);
    int nm = p->nmp, no = p->normal;
    switch (mode) {
    case DF_NPU_ONLY:
        if (nm != 0 || no <= 0)     /* asserted upstream: the CP device has no NMP channel */
            return false;
        break;
    case DF_FC_NMP:
    case DF_ATTN_NMP:
        if (nm <= 0)
            return false;
        break;
    case DF_ATTN_NMP_SPLIT:
        if (nm <= 0 || no <= 0)
            return false;
        break;
    default:
        return false;
    }
    double prefill = 0, step = 0;
    for (int i = 0; i < p->nops; i++) {
        const DfOp *o = &p->ops[i];
        if (o->kind == DFK_OTHER)
            continue;
        bool attn = o->kind == DFK_ATTN;
        double tp, td;
        switch (mode) {
        case DF_NPU_ONLY:
            tp = art_npu(p, o->pre, 0, no);
            td = art_npu(p, o->dec, 0, no);
            break;
        case DF_FC_NMP:
            tp = attn ? art_npu(p, o->pre, nm, no) : art_npu(p, o->pre, nm, 0);
            td = attn ? art_npu(p, o->dec, nm, no) : art_nmp(p, o->dec, nm);
            break;
        default:    /* Attn-NMP and Attn-NMP-Split: the same prefill */
            tp = attn ? art_npu(p, o->pre, nm, 0) : art_npu(p, o->pre, nm, no);
            if (attn)
                td = art_nmp(p, o->dec, nm);
            else if (mode == DF_ATTN_NMP_SPLIT && is_ffn(p, o))
                td = ffn_split(p, o->dec);
            else
                td = art_npu(p, o->dec, nm, no);
            break;
        }
        prefill += tp;
        step += td;
        out->op_prefill[i] = tp;
        out->op_decode[i] = p->gen * td;
    }
    out->prefill = prefill;
    out->decode_step = step;
    out->decode = repeat_sum(step, p->gen);
    out->total = prefill + out->decode;
    return true;
}
