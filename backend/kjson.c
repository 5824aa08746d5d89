/* kjson.c: a kernel description as the schedule's `kernels` table writes it (docs/schedule.md §2.3):
 * its name, its kind and the kind's fields under their C names. The compiler's schedule renderer
 * and the runtime's schedule writer both call it, so a schedule read back is written the same. */
#include "kernels.h"

#include <cjson/cJSON.h>

static void add_num(cJSON *o, const char *k, double v) { cJSON_AddItemToObject(o, k, cJSON_CreateNumber(v)); }
static void add_str(cJSON *o, const char *k, const char *v) { cJSON_AddItemToObject(o, k, cJSON_CreateString(v)); }
static void add_bool(cJSON *o, const char *k, bool v) { cJSON_AddItemToObject(o, k, cJSON_CreateBool(v)); }

cJSON *be_kernel_json(const KernelDesc *k) {
    cJSON *j = cJSON_CreateObject();
    char name[KERNEL_NAME_MAX];
    be_kernel_name(k, name);
    add_str(j, "name", name);
    add_str(j, "kind", be_kernel_abi(k->kind)->name);
    switch (k->kind) {
    case KK_GEMM:
        add_num(j, "m", k->gemm.m);
        add_num(j, "k", k->gemm.k);
        add_num(j, "n", k->gemm.n);
        add_str(j, "wtype", be_dtype_name(k->gemm.wtype));
        add_num(j, "group", k->gemm.group);
        add_bool(j, "bias", k->gemm.bias);
        add_bool(j, "accumulate", k->gemm.accumulate);
        break;
    case KK_ATTN:
        add_num(j, "head_dim", k->attn.head_dim);
        add_num(j, "g", k->attn.g);
        add_str(j, "kv", be_dtype_name(k->attn.kv));
        add_num(j, "page", k->attn.page);
        add_bool(j, "causal", k->attn.causal);
        add_num(j, "scale", k->attn.scale);
        if (k->attn.window > 0)
            add_num(j, "window", k->attn.window);
        if (k->attn.interleave > 1)
            add_num(j, "interleave", k->attn.interleave);
        break;
    case KK_MERGE: add_num(j, "head_dim", k->merge.head_dim); break;
    case KK_PAGE_SCORE:
        add_num(j, "head_dim", k->score.head_dim);
        add_num(j, "g", k->score.g);
        add_num(j, "topk", k->score.topk);
        add_str(j, "meta", be_dtype_name(k->score.mtype));
        break;
    case KK_PAGE_META:
        add_num(j, "head_dim", k->meta.head_dim);
        add_num(j, "page", k->meta.page);
        add_str(j, "kv", be_dtype_name(k->meta.kv));
        add_str(j, "meta", be_dtype_name(k->meta.mtype));
        add_num(j, "interleave", be_meta_interleave(k));
        break;
    case KK_TOPK: add_num(j, "k", k->topk.k); break;
    case KK_PAGE_ROWS:
        add_num(j, "page", k->rows.page);
        add_num(j, "tiles", k->rows.tiles);
        add_num(j, "k", k->rows.k);
        break;
    case KK_RMSNORM:
    case KK_LAYERNORM:
        add_num(j, "n", k->row.n);
        add_num(j, "eps", k->row.eps);
        add_bool(j, "bias", k->row.bias);
        break;
    case KK_ROPE:
        add_num(j, "head_dim", k->rope.head_dim);
        add_num(j, "heads", k->rope.heads);
        add_num(j, "rot", k->rope.rot);
        add_num(j, "theta", k->rope.theta);
        if (k->rope.scaling != KR_SCALE_NONE) {
            add_str(j, "scaling", k->rope.scaling == KR_SCALE_LINEAR ? "linear" : "llama3");
            add_num(j, "factor", k->rope.factor);
        }
        if (k->rope.scaling == KR_SCALE_LLAMA3) {
            add_num(j, "low_freq_factor", k->rope.low_freq_factor);
            add_num(j, "high_freq_factor", k->rope.high_freq_factor);
            add_num(j, "original_max", k->rope.original_max);
        }
        break;
    case KK_EMBED:
        add_num(j, "hidden", k->embed.hidden);
        add_num(j, "vocab", k->embed.vocab);
        break;
    default: add_num(j, "n", k->row.n); break;
    }
    return j;
}
