/* profile.c: `h2c profile` (tools/): head scores measured on calibration Q and K in .npy files with
 * the reference runtime (rt_static_mass), the plan they give (sparse_assign), and per head the
 * attention-output error of that plan's pattern against dense attention (with V). The CSV it writes
 * is what a sparsity block's `profile = "..."` reads (sparse/profile.c). */
#include "tools.h"
#include "runtime.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A file-level location: diagnostics print "path: error: ...". */
static Loc file_loc(Arena *a, const char *path) {
    SrcFile *f = ARENA_NEW(a, SrcFile);
    f->name = arena_strdup(a, path);
    return (Loc){f, 0, 0, 0};
}

/* "(4, 512, 64)" */
static void shape_text(char *buf, size_t n, const NpyArray *x) {
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < x->rank && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)x->dims[i]);
    if (k < n)
        snprintf(buf + k, n - k, "%s)", x->rank == 1 ? "," : "");
}

/* Checks one file's shape: rank 3, dims[0] = rows, dims[2] = head_dim; `what` names the axes. */
static bool check_shape(Arena *a, Diag *d, const char *path, const NpyArray *x, int rows, const char *rows_name,
                        int head_dim, const char *what, const Model *md) {
    if (x->rank == 3 && x->dims[0] == rows && x->dims[2] == head_dim && x->dims[1] >= 1)
        return true;
    char got[128];
    shape_text(got, sizeof got, x);
    diag_error(d, file_loc(a, path), "shape %s, but model '%s' needs (%d, %s, %d): %s", got, md->name, rows, what,
               head_dim, rows_name);
    return false;
}

static bool all_finite(Arena *a, Diag *d, const char *path, const NpyArray *x) {
    for (size_t i = 0; i < x->count; i++)
        if (!isfinite(x->f32[i])) {
            diag_error(d, file_loc(a, path), "element %zu is %s: calibration data must be finite", i,
                       isnan(x->f32[i]) ? "NaN" : "infinite");
            return false;
        }
    return true;
}

/* The files of one layer. */
typedef struct Layer {
    NpyArray q, k, v;
    int nq, ctx;
} Layer;

static bool read_layer(Arena *a, Diag *d, const char *dir, int l, const Model *md, bool with_v, Layer *ly) {
    char path[3][4096];
    const char *names = "qkv";
    for (int i = 0; i < 3; i++)
        snprintf(path[i], sizeof path[i], "%s/%c.%d.npy", dir, names[i], l);
    memset(ly, 0, sizeof *ly);
    if (!npy_read_file(a, d, path[0], NPY_TO_F32, 0, &ly->q) ||
        !check_shape(a, d, path[0], &ly->q, md->heads, "[heads, queries, head_dim]", md->head_dim, "queries", md) ||
        !all_finite(a, d, path[0], &ly->q))
        return false;
    if (!npy_read_file(a, d, path[1], NPY_TO_F32, 0, &ly->k) ||
        !check_shape(a, d, path[1], &ly->k, md->kv_heads, "[kv_heads, tokens, head_dim]", md->head_dim, "tokens", md) ||
        !all_finite(a, d, path[1], &ly->k))
        return false;
    ly->nq = (int)ly->q.dims[1];
    ly->ctx = (int)ly->k.dims[1];
    if (ly->q.dims[1] > ly->k.dims[1] || ly->k.dims[1] > INT32_MAX / 2) {
        char qs[128], ks[128];
        shape_text(qs, sizeof qs, &ly->q);
        shape_text(ks, sizeof ks, &ly->k);
        diag_error(d, file_loc(a, path[0]), "%lld queries but %s has %lld tokens (shape %s against %s): the queries are "
                   "the last positions of the tokens, so there are at most as many", (long long)ly->q.dims[1], path[1],
                   (long long)ly->k.dims[1], qs, ks);
        return false;
    }
    if (!with_v)
        return true;
    if (!npy_read_file(a, d, path[2], NPY_TO_F32, 0, &ly->v) || !all_finite(a, d, path[2], &ly->v))
        return false;
    if (ly->v.rank != 3 || memcmp(ly->v.dims, ly->k.dims, sizeof ly->k.dims) != 0) {
        char vs[128], ks[128];
        shape_text(vs, sizeof vs, &ly->v);
        shape_text(ks, sizeof ks, &ly->k);
        diag_error(d, file_loc(a, path[2]), "shape %s, but %s is %s: V has one row per token of K", vs, path[1], ks);
        return false;
    }
    return true;
}

/* Which q.L/k.L/v.L files the directory holds: a file of a layer the model does not have is an error
 * (calibration data of another model), and so is V for some layers only. */
static bool scan_dir(Arena *a, Diag *d, const char *dir, const Model *md, bool *with_v) {
    DIR *dp = opendir(dir);
    if (!dp) {
        diag_error(d, NOLOC, "cannot open the calibration directory '%s': %s", dir, strerror(errno));
        return false;
    }
    int nv = 0, bad = 0;
    unsigned char *has_v = arena_alloc(a, (size_t)md->layers);
    struct dirent *e;
    while ((e = readdir(dp))) {
        const char *n = e->d_name;
        if (!(n[0] == 'q' || n[0] == 'k' || n[0] == 'v') || n[1] != '.')
            continue;
        char *end;
        errno = 0;
        long l = strtol(n + 2, &end, 10);
        if (end == n + 2 || strcmp(end, ".npy") != 0 || n[2] == '-' || n[2] == '+' || n[2] == ' ')
            continue;
        if (errno || l >= md->layers) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, n);
            if (!bad++)
                diag_error(d, file_loc(a, path), "layer %.*s, but model '%s' has %d layer%s (0..%d): calibration data "
                           "of another model?", (int)(end - (n + 2)), n + 2, md->name, md->layers, plural(md->layers),
                           md->layers - 1);
            continue;
        }
        if (n[0] == 'v' && !has_v[l]) {
            has_v[l] = 1;
            nv++;
        }
    }
    closedir(dp);
    if (bad)
        return false;
    *with_v = nv > 0;
    if (nv > 0 && nv < md->layers)
        for (int l = 0; l < md->layers; l++)
            if (!has_v[l]) {
                char path[4096];
                snprintf(path, sizeof path, "%s/v.%d.npy", dir, l);
                diag_error(d, file_loc(a, path), "missing: V is given for %d of the %d layers; give it for every layer "
                           "(to measure the output error) or for none", nv, md->layers);
                return false;
            }
    for (int l = 0; l < md->layers; l++)
        for (int i = 0; i < 2; i++) {
            char path[4096];
            struct stat st;
            snprintf(path, sizeof path, "%s/%c.%d.npy", dir, "qk"[i], l);
            if (stat(path, &st) != 0) {
                diag_error(d, file_loc(a, path), "missing: a calibration directory has q.L.npy and k.L.npy for every "
                           "layer L of the model (0..%d)", md->layers - 1);
                return false;
            }
        }
    return true;
}

/* The query of position i of the group of KV head j: out [g x d] from q [heads x nq x d]. */
static void group_query(const Layer *ly, int j, int g, int d, int i, float *out) {
    for (int h = 0; h < g; h++)
        memcpy(out + (size_t)h * d, ly->q.f32 + (((size_t)(j * g + h) * ly->nq + i) * d), sizeof(float) * (size_t)d);
}

/* The largest error of head j's pattern against dense attention over the layer's queries: per query,
 * the largest |o_plan - o_dense| over the group's query heads and dimensions, over the largest |v|
 * the query sees (O is a convex combination of those rows, so this is its scale); fp64 both ways. */
static double head_error(const Layer *ly, int j, int g, int d, SparsePattern pat, const Sparsity *sp, double scale) {
    if (pat == SPAT_DENSE)
        return 0;
    int ctx = ly->ctx, nq = ly->nq;
    const float *K = ly->k.f32 + (size_t)j * ctx * d, *V = ly->v.f32 + (size_t)j * ctx * d;
    float *q = h2c_raw_alloc(sizeof(float) * (size_t)g * d);
    double *od = h2c_raw_alloc(sizeof(double) * (size_t)g * d), *op = h2c_raw_alloc(sizeof(double) * (size_t)g * d);
    int *tok = h2c_raw_alloc(sizeof(int) * (size_t)ctx);
    int pages = rt_pages(ctx, sp->page);
    float *kmin = h2c_raw_alloc(sizeof(float) * (size_t)pages * d), *kmax = h2c_raw_alloc(sizeof(float) * (size_t)pages * d);
    float *score = h2c_raw_alloc(sizeof(float) * (size_t)pages);
    int *sel = h2c_raw_alloc(sizeof(int) * (size_t)pages);
    double worst = NAN;
    if (q && od && op && tok && kmin && kmax && score && sel) {
        worst = 0;
        double vmax = 0;
        int seen = 0; /* rows of V whose |v| is in vmax */
        for (int i = 0; i < nq; i++) {
            int t = ctx - nq + i, n = t + 1;
            for (; seen < n; seen++)
                for (int c = 0; c < d; c++)
                    vmax = fabs(V[(size_t)seen * d + c]) > vmax ? fabs(V[(size_t)seen * d + c]) : vmax;
            group_query(ly, j, g, d, i, q);
            rt_attn_f64(q, g, d, K, V, NULL, NULL, n, scale, od, NULL);
            int m;
            if (pat == SPAT_STATIC) {
                m = rt_static_tokens(n, sp->sink, sp->window, tok);
            } else {
                int np = rt_pages(n, sp->page);
                rt_quest_meta_build(K, n, d, sp->page, kmin, kmax);
                rt_quest_scores(q, g, d, kmin, kmax, np, score);
                int ns = rt_quest_top_pages(score, np, rt_quest_pages_for_budget(sp->budget, sp->page), sel);
                m = rt_quest_tokens(sel, ns, sp->page, n, tok);
            }
            rt_attn_f64(q, g, d, K, V, tok, NULL, m, scale, op, NULL);
            for (int k = 0; k < g * d; k++) {
                double e = fabs(op[k] - od[k]);
                e = vmax > 0 ? e / vmax : e;
                worst = e > worst ? e : worst;
            }
        }
    }
    h2c_raw_free(q, sizeof(float) * (size_t)g * d);
    h2c_raw_free(od, sizeof(double) * (size_t)g * d);
    h2c_raw_free(op, sizeof(double) * (size_t)g * d);
    h2c_raw_free(tok, sizeof(int) * (size_t)ctx);
    h2c_raw_free(kmin, sizeof(float) * (size_t)pages * d);
    h2c_raw_free(kmax, sizeof(float) * (size_t)pages * d);
    h2c_raw_free(score, sizeof(float) * (size_t)pages);
    h2c_raw_free(sel, sizeof(int) * (size_t)pages);
    return worst;
}

bool profile_measure(const char *dir, const Model *md, const Sparsity *sp_in, HeadProfile *heads, CalibInfo *info,
                     Diag *d) {
    Sparsity def;
    sparsity_defaults(&def);
    const Sparsity *sp = sp_in ? sp_in : &def;
    int L = md->layers, H = md->kv_heads, g = md->heads / md->kv_heads, hd = md->head_dim;
    double scale = 1.0 / sqrt((double)hd);
    memset(info, 0, sizeof *info);
    Arena a;
    arena_init(&a);
    bool ok = scan_dir(&a, d, dir, md, &info->has_v);
    /* first the scores, layer by layer (each layer's files are freed before the next are read) */
    for (int l = 0; l < L && ok; l++) {
        Arena la;
        arena_init(&la);
        Layer ly;
        ok = read_layer(&la, d, dir, l, md, false, &ly);
        if (ok) {
            info->tokens_min = l == 0 || ly.ctx < info->tokens_min ? ly.ctx : info->tokens_min;
            info->tokens_max = ly.ctx > info->tokens_max ? ly.ctx : info->tokens_max;
            info->queries_min = l == 0 || ly.nq < info->queries_min ? ly.nq : info->queries_min;
            info->queries_max = ly.nq > info->queries_max ? ly.nq : info->queries_max;
            for (int j = 0; j < H; j++) {
                HeadProfile *hp = &heads[l * H + j];
                hp->kept = rt_static_mass(ly.q.f32 + (size_t)j * g * ly.nq * hd, g, ly.nq,
                                          ly.k.f32 + (size_t)j * ly.ctx * hd, ly.ctx, hd, sp->sink, sp->window, scale);
                hp->score = 1 - hp->kept;
                hp->error = NAN;
            }
        }
        arena_free(&la);
    }
    /* then the plan, and each head's error under it (reading the layers again, now with V) */
    double *scores = ok ? h2c_raw_alloc(sizeof(double) * (size_t)(L * H)) : NULL;
    SparsePattern *plan = ok ? h2c_raw_alloc(sizeof(SparsePattern) * (size_t)(L * H)) : NULL;
    if (ok && (!scores || !plan)) {
        diag_error(d, NOLOC, "out of memory");
        ok = false;
    }
    if (ok) {
        for (int c = 0; c < L * H; c++)
            scores[c] = heads[c].score;
        if (sparse_assign(sp, L, H, scores, plan) < 0) {
            diag_error(d, NOLOC, "out of memory");
            ok = false;
        }
        for (int c = 0; c < L * H && ok; c++)
            heads[c].plan = plan[c];
    }
    for (int l = 0; l < L && ok && info->has_v; l++) {
        Arena la;
        arena_init(&la);
        Layer ly;
        ok = read_layer(&la, d, dir, l, md, true, &ly);
        for (int j = 0; j < H && ok; j++) {
            HeadProfile *hp = &heads[l * H + j];
            hp->error = head_error(&ly, j, g, hd, hp->plan, sp, scale);
            if (isnan(hp->error)) {
                diag_error(d, NOLOC, "out of memory");
                ok = false;
            }
        }
        arena_free(&la);
    }
    h2c_raw_free(scores, sizeof(double) * (size_t)(L * H));
    h2c_raw_free(plan, sizeof(SparsePattern) * (size_t)(L * H));
    arena_free(&a);
    return ok;
}

/* "4 static, 4 dynamic, 0 dense" and the largest error of each kind. */
static void counts(const HeadProfile *heads, int n, int cnt[SPAT_COUNT_], double worst[SPAT_COUNT_], int at[SPAT_COUNT_]) {
    for (int k = 0; k < SPAT_COUNT_; k++) {
        cnt[k] = 0;
        worst[k] = -1;
        at[k] = -1;
    }
    for (int c = 0; c < n; c++) {
        int k = heads[c].plan;
        cnt[k]++;
        if (!isnan(heads[c].error) && heads[c].error > worst[k]) {
            worst[k] = heads[c].error;
            at[k] = c;
        }
    }
}

static const char *plan_text(Arena *a, const Sparsity *sp, const int cnt[SPAT_COUNT_]) {
    char share[32];
    fmt_double(share, sizeof share, sp->static_heads * 100);
    return arena_printf(a, "sparsity '%s' (%s, static_heads %s%%, dense_layers %d): %d static (sink %d + window %d "
                        "tokens), %d dynamic (page %d, budget %d tokens), %d dense", sp->name, sparse_mode_names[sp->mode],
                        share, sp->dense_layers, cnt[SPAT_STATIC], sp->sink, sp->window, cnt[SPAT_DYNAMIC], sp->page,
                        sp->budget, cnt[SPAT_DENSE]);
}

static const char *data_text(Arena *a, const char *dir, const CalibInfo *info) {
    const char *tok = info->tokens_min == info->tokens_max ? arena_printf(a, "%d", info->tokens_min)
                                                           : arena_printf(a, "%d..%d", info->tokens_min, info->tokens_max);
    const char *qs = info->queries_min == info->queries_max ? arena_printf(a, "%d", info->queries_min)
                                                            : arena_printf(a, "%d..%d", info->queries_min, info->queries_max);
    return arena_printf(a, "calibration '%s': %s tokens, the last %s as queries, %s", dir, tok, qs,
                        info->has_v ? "with V (output errors measured)" : "without V (no output errors)");
}

int profile_comments(Arena *a, const char *dir, const Model *md, const Sparsity *sp_in, const HeadProfile *heads,
                     const CalibInfo *info, const char **lines) {
    Sparsity def;
    sparsity_defaults(&def);
    const Sparsity *sp = sp_in ? sp_in : &def;
    int cnt[SPAT_COUNT_], at[SPAT_COUNT_];
    double worst[SPAT_COUNT_];
    counts(heads, md->layers * md->kv_heads, cnt, worst, at);
    lines[0] = arena_printf(a, "h2c profile of model %s (%d layers x %d KV heads, %d query heads each); %s", md->name,
                            md->layers, md->kv_heads, md->heads / md->kv_heads, data_text(a, dir, info));
    lines[1] = arena_printf(a, "kept: the share of softmax mass the static pattern (sink %d + window %d tokens) keeps; "
                            "score = 1 - kept (low = static, as DuoAttention's gates)", sp->sink, sp->window);
    lines[2] = arena_printf(a, "plan: %s", plan_text(a, sp, cnt));
    lines[3] = "max_rel_error: the plan's pattern against dense attention, the largest |o - o_dense| over the head's "
               "queries, query heads and dimensions, over the largest |v| the query sees (fp64)";
    return 4;
}

void profile_report(FILE *out, const char *dir, const Model *md, const Sparsity *sp_in, const HeadProfile *heads,
                    const CalibInfo *info) {
    Sparsity def;
    sparsity_defaults(&def);
    const Sparsity *sp = sp_in ? sp_in : &def;
    Arena a;
    arena_init(&a);
    int n = md->layers * md->kv_heads, cnt[SPAT_COUNT_], at[SPAT_COUNT_];
    double worst[SPAT_COUNT_];
    counts(heads, n, cnt, worst, at);
    fprintf(out, "profile: model %s, %d layer%s x %d KV head%s (%d query head%s each); %s\n", md->name, md->layers,
            plural(md->layers), md->kv_heads, plural(md->kv_heads), md->heads / md->kv_heads,
            plural(md->heads / md->kv_heads), data_text(&a, dir, info));
    fprintf(out, "plan: %s%s\n", plan_text(&a, sp, cnt), sp_in ? "" : " (no sparsity block: the defaults)");
    fprintf(out, "%6s %5s %12s %12s  %-8s %s\n", "layer", "head", "score", "kept", "plan", "max rel. error");
    for (int c = 0; c < n; c++) {
        const HeadProfile *hp = &heads[c];
        char err[32] = "-";
        if (!isnan(hp->error))
            snprintf(err, sizeof err, "%.3g", hp->error);
        fprintf(out, "%6d %5d %12.6g %12.6g  %-8s %s\n", c / md->kv_heads, c % md->kv_heads, hp->score, hp->kept,
                sparse_pattern_names[hp->plan], err);
    }
    for (int k = SPAT_STATIC; k < SPAT_COUNT_ && info->has_v; k++)
        if (at[k] >= 0)
            fprintf(out, "largest error of a %s head: %.3g (layer %d head %d)\n", sparse_pattern_names[k], worst[k],
                    at[k] / md->kv_heads, at[k] % md->kv_heads);
    arena_free(&a);
}
