/* import_hf.c: `h2c import-hf`: a Hugging Face config.json becomes a .h2 model block with the
 * whole forward pass of its architecture family (embedding, layers with their norms, rotary
 * positions, biases, attention and MLP, final norm and LM head). Every field that changes the
 * forward pass is mapped onto the language (docs/language.md §5.2); a value the language cannot
 * represent is an error naming the key; every field it does not model is listed in a warning. The
 * ops take Hugging Face's module names, which the weight loader maps to tensor names. Reads the
 * file strictly: bounded size, JSON errors and key errors located at file:line:col. */
#include "frontend.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_CONFIG_BYTES = 64 << 20, MAX_KEYS = 512, MAX_DEPTH = 32 };

/* ---------------------------------------------------------------- where keys are */

/* A key of the root object (path "k") or of an object one level down ("parent.k"), where its
 * name starts in the text. */
typedef struct KeyPos {
    char path[96];
    size_t off;
} KeyPos;

typedef struct Imp {
    Arena *a;
    Diag *d;
    const SrcFile *src;
    cJSON *root;
    KeyPos keys[MAX_KEYS];
    int nkeys;
    const char *used[MAX_KEYS];     /* paths the importer read */
    int nused;
    bool ok;
} Imp;

static Loc loc_at(const SrcFile *src, size_t off, int len) {
    int line = 1, col = 1;
    for (size_t i = 0; i < off && i < src->len; i++) {
        if (src->text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return (Loc){src, line, col, len};
}

/* Scans the text for the keys of the root object and of its child objects (tracking strings and
 * depth), to locate errors and to find keys given twice, which cJSON would keep silently. */
static bool scan_keys(Imp *im) {
    const char *t = im->src->text;
    size_t n = im->src->len;
    int depth = 0;
    char parent[64] = "";
    char last_key[64] = "";
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (c == '"') {
            size_t s = i + 1, j = s;
            while (j < n && t[j] != '"') {
                if (t[j] == '\\' && j + 1 < n)
                    j++;
                j++;
            }
            size_t k = j + 1;
            while (k < n && (t[k] == ' ' || t[k] == '\t' || t[k] == '\n' || t[k] == '\r'))
                k++;
            bool is_key = k < n && t[k] == ':';
            if (is_key && (depth == 1 || depth == 2) && j - s < 63) {
                char name[64];
                memcpy(name, t + s, j - s);
                name[j - s] = 0;
                char path[96];
                if (depth == 1)
                    snprintf(path, sizeof path, "%s", name);
                else
                    snprintf(path, sizeof path, "%s.%s", parent, name);
                for (int q = 0; q < im->nkeys; q++)
                    if (strcmp(im->keys[q].path, path) == 0) {
                        diag_error(im->d, loc_at(im->src, i, (int)(j - s + 2)), "'%s' is given twice", path);
                        diag_note(im->d, loc_at(im->src, im->keys[q].off, (int)(j - s + 2)), "first given here");
                        return false;
                    }
                if (im->nkeys < MAX_KEYS) {
                    snprintf(im->keys[im->nkeys].path, sizeof im->keys[im->nkeys].path, "%s", path);
                    im->keys[im->nkeys++].off = i;
                }
                if (depth == 1)
                    snprintf(last_key, sizeof last_key, "%s", name);
            }
            i = j;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
            if (depth == 2)
                snprintf(parent, sizeof parent, "%s", last_key);
            if (depth > MAX_DEPTH) {
                diag_error(im->d, loc_at(im->src, i, 1), "nested more than %d deep", MAX_DEPTH);
                return false;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return true;
}

static Loc key_loc(const Imp *im, const char *path) {
    for (int i = 0; i < im->nkeys; i++)
        if (strcmp(im->keys[i].path, path) == 0)
            return loc_at(im->src, im->keys[i].off, (int)strlen(strrchr(path, '.') ? strrchr(path, '.') + 1 : path) + 2);
    return loc_at(im->src, 0, 0);
}

static void mark(Imp *im, const char *path) {
    for (int i = 0; i < im->nused; i++)
        if (strcmp(im->used[i], path) == 0)
            return;
    if (im->nused < MAX_KEYS)
        im->used[im->nused++] = arena_strdup(im->a, path);
}

/* ---------------------------------------------------------------- reading fields */

static const cJSON *field(Imp *im, const cJSON *obj, const char *prefix, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v)
        mark(im, prefix ? arena_printf(im->a, "%s.%s", prefix, key) : key);
    return v;
}

static const char *path_of(Imp *im, const char *prefix, const char *key) {
    return prefix ? arena_printf(im->a, "%s.%s", prefix, key) : key;
}

/* A whole number in [lo, hi]; absent: def, or an error naming the key when required. */
static long long get_int(Imp *im, const cJSON *obj, const char *prefix, const char *key, bool required,
                         long long def, long long lo, long long hi) {
    const cJSON *v = field(im, obj, prefix, key);
    const char *p = path_of(im, prefix, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) {
            diag_error(im->d, v ? key_loc(im, p) : loc_at(im->src, 0, 0), "config has no '%s' (%s)", p,
                       "a whole number the model needs");
            im->ok = false;
        }
        return def;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble)) {
        diag_error(im->d, key_loc(im, p), "'%s' must be a whole number", p);
        im->ok = false;
        return def;
    }
    double x = v->valuedouble;
    if (x < (double)lo || x > (double)hi) {
        diag_error(im->d, key_loc(im, p), "'%s' = %.17g is out of range [%lld, %lld]", p, x, lo, hi);
        im->ok = false;
        return def;
    }
    return (long long)x;
}

static double get_num(Imp *im, const cJSON *obj, const char *prefix, const char *key, double def, double lo,
                      double hi) {
    const cJSON *v = field(im, obj, prefix, key);
    const char *p = path_of(im, prefix, key);
    if (!v || cJSON_IsNull(v))
        return def;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        diag_error(im->d, key_loc(im, p), "'%s' must be a number", p);
        im->ok = false;
        return def;
    }
    if (v->valuedouble < lo || v->valuedouble > hi) {
        diag_error(im->d, key_loc(im, p), "'%s' = %.17g is out of range [%g, %g]", p, v->valuedouble, lo, hi);
        im->ok = false;
        return def;
    }
    return v->valuedouble;
}

static bool get_bool(Imp *im, const cJSON *obj, const char *prefix, const char *key, bool def) {
    const cJSON *v = field(im, obj, prefix, key);
    if (!v || cJSON_IsNull(v))
        return def;
    if (!cJSON_IsBool(v)) {
        diag_error(im->d, key_loc(im, path_of(im, prefix, key)), "'%s' must be true or false", path_of(im, prefix, key));
        im->ok = false;
        return def;
    }
    return cJSON_IsTrue(v);
}

static const char *get_str(Imp *im, const cJSON *obj, const char *prefix, const char *key, const char *def) {
    const cJSON *v = field(im, obj, prefix, key);
    if (!v || cJSON_IsNull(v))
        return def;
    if (!cJSON_IsString(v)) {
        diag_error(im->d, key_loc(im, path_of(im, prefix, key)), "'%s' must be a string", path_of(im, prefix, key));
        im->ok = false;
        return def;
    }
    return v->valuestring;
}

/* ---------------------------------------------------------------- the model */

typedef enum Family { FAM_LLAMA, FAM_MISTRAL, FAM_QWEN2, FAM_OPT, FAM_GEMMA, FAM_PHI3, FAM_NEOX, FAM_COUNT_ } Family;

static const struct {
    const char *arch, *model_type;
} families[FAM_COUNT_] = {
    [FAM_LLAMA] = {"LlamaForCausalLM", "llama"},         [FAM_MISTRAL] = {"MistralForCausalLM", "mistral"},
    [FAM_QWEN2] = {"Qwen2ForCausalLM", "qwen2"},         [FAM_OPT] = {"OPTForCausalLM", "opt"},
    [FAM_GEMMA] = {"GemmaForCausalLM", "gemma"},         [FAM_PHI3] = {"Phi3ForCausalLM", "phi3"},
    [FAM_NEOX] = {"GPTNeoXForCausalLM", "gpt_neox"},
};

typedef struct Shape {
    Family fam;
    long long layers, hidden, inter, heads, kv, head_dim, vocab, max_pos;
    bool head_dim_given;
    double eps;
    const char *act;            /* .h2 activation fn */
    double theta, fraction;     /* rope */
    const char *scaling;        /* NULL, "linear", "llama3" */
    double factor, low, high;
    long long original_max;
    long long window;           /* 0: none */
    bool tied, qkv_bias, o_bias, mlp_bias, norm_bias, parallel;
} Shape;

/* The activation a config names, in .h2's terms; NULL (reported) if the language has none. */
static const char *map_act(Imp *im, const char *path, const char *name) {
    if (strcmp(name, "silu") == 0 || strcmp(name, "swish") == 0)
        return "silu";
    if (strcmp(name, "gelu") == 0)
        return "gelu";
    if (strcmp(name, "gelu_pytorch_tanh") == 0 || strcmp(name, "gelu_new") == 0 || strcmp(name, "gelu_fast") == 0)
        return "gelu_tanh";
    if (strcmp(name, "relu") == 0)
        return "relu";
    diag_error(im->d, key_loc(im, path),
               "'%s' = \"%s\" is not an activation h2c models (silu, gelu, gelu_pytorch_tanh, gelu_new, relu)", path,
               name);
    im->ok = false;
    return NULL;
}

/* rope_scaling: null, {"type"|"rope_type": "linear", "factor"} or Llama 3.1's "llama3". */
static void read_rope_scaling(Imp *im, Shape *s) {
    const cJSON *rs = field(im, im->root, NULL, "rope_scaling");
    if (!rs || cJSON_IsNull(rs))
        return;
    if (!cJSON_IsObject(rs)) {
        diag_error(im->d, key_loc(im, "rope_scaling"), "'rope_scaling' must be an object or null");
        im->ok = false;
        return;
    }
    const char *type = get_str(im, rs, "rope_scaling", "rope_type", NULL);
    const char *t2 = get_str(im, rs, "rope_scaling", "type", NULL);
    if (!type)
        type = t2;
    if (!type) {
        diag_error(im->d, key_loc(im, "rope_scaling"), "'rope_scaling' names no 'rope_type'");
        im->ok = false;
        return;
    }
    const char *tpath = get_str(im, rs, "rope_scaling", "rope_type", NULL) ? "rope_scaling.rope_type" : "rope_scaling.type";
    if (strcmp(type, "default") == 0)
        return;
    s->factor = get_num(im, rs, "rope_scaling", "factor", 1, 1, 1e6);
    if (strcmp(type, "linear") == 0) {
        s->scaling = "linear";
    } else if (strcmp(type, "llama3") == 0) {
        s->scaling = "llama3";
        s->low = get_num(im, rs, "rope_scaling", "low_freq_factor", 1, 1e-6, 1e6);
        s->high = get_num(im, rs, "rope_scaling", "high_freq_factor", 4, 1e-6, 1e6);
        s->original_max = get_int(im, rs, "rope_scaling", "original_max_position_embeddings", true, 8192, 1, 1 << 26);
        if (s->high <= s->low) {
            diag_error(im->d, key_loc(im, "rope_scaling.high_freq_factor"),
                       "'rope_scaling.high_freq_factor' (%g) must exceed 'rope_scaling.low_freq_factor' (%g)", s->high,
                       s->low);
            im->ok = false;
        }
    } else {
        diag_error(im->d, key_loc(im, tpath),
                   "'%s' = \"%s\": h2c models rotary scaling 'linear' and 'llama3' only (not dynamic NTK, YaRN or "
                   "LongRoPE)", tpath, type);
        im->ok = false;
    }
}

static bool read_shape(Imp *im, Family fam, Shape *s) {
    const cJSON *r = im->root;
    memset(s, 0, sizeof *s);
    s->fam = fam;
    bool opt = fam == FAM_OPT, neox = fam == FAM_NEOX;
    s->layers = get_int(im, r, NULL, "num_hidden_layers", true, 1, 1, 100000);
    s->hidden = get_int(im, r, NULL, "hidden_size", true, 1, 1, 1 << 20);
    s->inter = get_int(im, r, NULL, opt ? "ffn_dim" : "intermediate_size", true, 1, 1, 1 << 22);
    s->heads = get_int(im, r, NULL, "num_attention_heads", true, 1, 1, 4096);
    s->kv = opt || neox ? s->heads : get_int(im, r, NULL, "num_key_value_heads", false, s->heads, 1, 4096);
    s->vocab = get_int(im, r, NULL, "vocab_size", true, 1, 1, 1 << 24);
    s->max_pos = get_int(im, r, NULL, "max_position_embeddings", opt, 2048, 1, 1 << 26);
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(r, "head_dim");
    if (hd && !cJSON_IsNull(hd)) {
        s->head_dim = get_int(im, r, NULL, "head_dim", false, 0, 1, 65536);
        s->head_dim_given = true;
    }
    if (!im->ok)
        return false;
    if (s->heads % s->kv != 0) {
        diag_error(im->d, key_loc(im, "num_key_value_heads"),
                   "'num_key_value_heads' (%lld) does not divide 'num_attention_heads' (%lld)", s->kv, s->heads);
        return im->ok = false;
    }
    if (!s->head_dim_given) {
        if (s->hidden % s->heads != 0) {
            diag_error(im->d, key_loc(im, "num_attention_heads"),
                       "'num_attention_heads' (%lld) does not divide 'hidden_size' (%lld), and there is no 'head_dim'",
                       s->heads, s->hidden);
            return im->ok = false;
        }
        s->head_dim = s->hidden / s->heads;
    }
    /* norms */
    const char *eps_key = opt ? NULL : neox ? "layer_norm_eps" : "rms_norm_eps";
    s->eps = eps_key ? get_num(im, r, NULL, eps_key, 1e-6, 1e-30, 1) : 1e-5;
    /* rotary positions */
    s->theta = get_num(im, r, NULL, neox ? "rotary_emb_base" : "rope_theta", 10000, 1, 1e12);
    s->fraction = neox ? get_num(im, r, NULL, "rotary_pct", 1, 1e-6, 1) : 1;
    if (fam == FAM_PHI3 || fam == FAM_LLAMA)
        s->fraction = get_num(im, r, NULL, "partial_rotary_factor", s->fraction, 1e-6, 1);
    if (!opt && !neox)
        read_rope_scaling(im, s);
    /* activation */
    const char *act = "silu";
    if (opt) {
        act = get_str(im, r, NULL, "activation_function", "relu");
        act = map_act(im, "activation_function", act);
    } else if (fam == FAM_GEMMA) {
        /* Gemma's MLP uses hidden_activation; absent, transformers falls back to gelu_pytorch_tanh */
        const char *ha = get_str(im, r, NULL, "hidden_activation", NULL);
        act = ha ? map_act(im, "hidden_activation", ha) : "gelu_tanh";
    } else {
        act = map_act(im, "hidden_act", get_str(im, r, NULL, "hidden_act", "silu"));
    }
    s->act = act;
    /* biases, tying, windows, structure */
    s->tied = get_bool(im, r, NULL, "tie_word_embeddings", fam == FAM_GEMMA || opt);
    switch (fam) {
    case FAM_LLAMA:
        s->qkv_bias = s->o_bias = get_bool(im, r, NULL, "attention_bias", false);
        s->mlp_bias = get_bool(im, r, NULL, "mlp_bias", false);
        break;
    case FAM_QWEN2:
        s->qkv_bias = true;
        if (get_bool(im, r, NULL, "use_sliding_window", false))
            s->window = get_int(im, r, NULL, "sliding_window", true, 0, 1, 1 << 26);
        break;
    case FAM_MISTRAL:
    case FAM_PHI3:
        s->window = get_int(im, r, NULL, "sliding_window", false, 0, 1, 1 << 26);
        if (s->window >= s->max_pos)
            s->window = 0;  /* a window as long as the context is none */
        break;
    case FAM_GEMMA:
        s->qkv_bias = s->o_bias = get_bool(im, r, NULL, "attention_bias", false);
        break;
    case FAM_OPT:
        s->qkv_bias = s->o_bias = s->mlp_bias = s->norm_bias = get_bool(im, r, NULL, "enable_bias", true);
        if (!get_bool(im, r, NULL, "do_layer_norm_before", true)) {
            diag_error(im->d, key_loc(im, "do_layer_norm_before"),
                       "'do_layer_norm_before' = false: post-norm OPT (opt-350m) is not modelled; h2c takes the "
                       "pre-norm layers of every other OPT size");
            im->ok = false;
        }
        if (get_int(im, r, NULL, "word_embed_proj_dim", false, s->hidden, 1, 1 << 20) != s->hidden) {
            diag_error(im->d, key_loc(im, "word_embed_proj_dim"),
                       "'word_embed_proj_dim' differs from 'hidden_size': the embedding projections (opt-350m) are "
                       "not modelled");
            im->ok = false;
        }
        if (get_bool(im, r, NULL, "_remove_final_layer_norm", false)) {
            diag_error(im->d, key_loc(im, "_remove_final_layer_norm"),
                       "'_remove_final_layer_norm' = true is not modelled");
            im->ok = false;
        }
        break;
    case FAM_NEOX:
        s->qkv_bias = s->o_bias = s->mlp_bias = get_bool(im, r, NULL, "attention_bias", true);
        s->mlp_bias = true;
        s->norm_bias = true;
        s->parallel = get_bool(im, r, NULL, "use_parallel_residual", true);
        break;
    default:
        break;
    }
    if (fam == FAM_OPT || fam == FAM_NEOX)
        s->norm_bias = true;
    int rot = (int)(s->head_dim * s->fraction);
    if (!opt && (rot < 2 || rot % 2)) {
        diag_error(im->d, key_loc(im, neox ? "rotary_pct" : "partial_rotary_factor"),
                   "rotary dimensions head_dim x fraction = %d must be even and at least 2", rot);
        im->ok = false;
    }
    return im->ok;
}

/* ---------------------------------------------------------------- writing the .h2 */

static void wnum(FILE *out, double v) {
    char b[40];
    fmt_double(b, sizeof b, v);
    fputs(b, out);
}

/* The keys every config has that do not change the forward pass: not worth a warning each. */
static bool metadata_key(const char *k) {
    static const char *const meta[] = {"architectures", "model_type", "_name_or_path", "transformers_version",
                                       "torch_dtype", NULL};
    for (int i = 0; meta[i]; i++)
        if (strcmp(k, meta[i]) == 0)
            return true;
    return false;
}

static void write_model(FILE *out, const Shape *s, const char *name, const char *source, const char *arch) {
    bool opt = s->fam == FAM_OPT, neox = s->fam == FAM_NEOX, gemma = s->fam == FAM_GEMMA;
    const char *nk = opt || neox ? "layer" : "rms";
    fprintf(out, "// %s, imported by h2c import-hf from %s\n", arch, source);
    fprintf(out, "// (ops carry Hugging Face's module names; docs/language.md, \"Importing Hugging Face models\")\n");
    fprintf(out, "model %s {\n", name);
    fprintf(out, "  layers = %lld;\n  hidden = %lld;\n  intermediate = %lld;\n  heads = %lld;\n  kv_heads = %lld;\n",
            s->layers, s->hidden, s->inter, s->heads, s->kv);
    if (s->head_dim_given || s->head_dim != s->hidden / s->heads)
        fprintf(out, "  head_dim = %lld;\n", s->head_dim);
    fprintf(out, "  vocab = %lld;\n", s->vocab);
    fputs("  norm_eps = ", out);
    wnum(out, s->eps);
    fputs(";\n", out);
    if (!opt) {
        fputs("  rope { theta = ", out);
        wnum(out, s->theta);
        fputs(";", out);
        if (s->fraction != 1) {
            fputs(" fraction = ", out);
            wnum(out, s->fraction * 100);
            fputs("%;", out);
        }
        if (s->scaling) {
            fprintf(out, " scaling = %s; factor = ", s->scaling);
            wnum(out, s->factor);
            fputs(";", out);
            if (strcmp(s->scaling, "llama3") == 0) {
                fputs(" low_freq_factor = ", out);
                wnum(out, s->low);
                fputs("; high_freq_factor = ", out);
                wnum(out, s->high);
                fprintf(out, "; original_max = %lld tokens;", s->original_max);
            }
        }
        fputs(" }\n", out);
    }
    fputs("\n  prologue {\n    op embed_tokens = embedding(tokens", out);
    if (gemma) {
        fputs(", scale = ", out);
        wnum(out, sqrt((double)s->hidden));
    }
    fputs(");\n", out);
    if (opt)
        fprintf(out, "    op embed_positions = embedding(tokens, positions = %lld, offset = 2);\n"
                     "    op embed = add(embed_tokens, embed_positions);\n", s->max_pos + 2);
    fputs("  }\n\n", out);
    const char *uo = gemma ? ", unit_offset = true" : "";
    const char *b = s->norm_bias ? "" : (strcmp(nk, "layer") == 0 ? ", bias = false" : "");
    const char *n1 = opt ? "self_attn_layer_norm" : "input_layernorm";
    const char *n2 = opt ? "final_layer_norm" : "post_attention_layernorm";
    fprintf(out, "  op %s = norm(x, kind = %s%s%s);\n", n1, nk, uo, b);
    const char *qb = s->qkv_bias ? ", bias = true" : "";
    fprintf(out, "  op q_proj = fc(%s, out = heads * head_dim%s);\n", n1, qb);
    fprintf(out, "  op k_proj = fc(%s, out = kv_heads * head_dim%s);\n", n1, qb);
    fprintf(out, "  op v_proj = fc(%s, out = kv_heads * head_dim%s);\n", n1, qb);
    const char *q = "q_proj", *k = "k_proj";
    if (!opt) {
        fputs("  op q_rope = rope(q_proj);\n  op k_rope = rope(k_proj);\n", out);
        q = "q_rope";
        k = "k_rope";
    }
    fprintf(out, "  op scores = attn_score(%s, %s", q, k);
    if (s->window > 0)
        fprintf(out, ", window = %lld tokens", s->window);
    fputs(");\n  op probs = softmax(scores);\n  op attn = attn_value(probs, v_proj);\n", out);
    fprintf(out, "  op o_proj = fc(attn, out = hidden%s);\n", s->o_bias ? ", bias = true" : "");
    const char *mlp_in;
    if (s->parallel) {
        fprintf(out, "  op %s = norm(x, kind = %s%s%s);\n", n2, nk, uo, b);
    } else {
        fputs("  op attn_residual = add(x, o_proj);\n", out);
        fprintf(out, "  op %s = norm(attn_residual, kind = %s%s%s);\n", n2, nk, uo, b);
    }
    mlp_in = n2;
    const char *mb = s->mlp_bias ? ", bias = true" : "";
    const char *down;
    if (opt || neox) {
        fprintf(out, "  op fc1 = fc(%s, out = intermediate%s);\n", mlp_in, mb);
        fprintf(out, "  op act = activation(fc1, fn = %s);\n", s->act);
        fprintf(out, "  op fc2 = fc(act, out = hidden%s);\n", mb);
        down = "fc2";
    } else {
        fprintf(out, "  op gate_proj = fc(%s, out = intermediate%s);\n", mlp_in, mb);
        fprintf(out, "  op up_proj = fc(%s, out = intermediate%s);\n", mlp_in, mb);
        fprintf(out, "  op act = activation(gate_proj, fn = %s);\n", s->act);
        fputs("  op gated = mul(act, up_proj);\n", out);
        fprintf(out, "  op down_proj = fc(gated, out = hidden%s);\n", mb);
        down = "down_proj";
    }
    if (s->parallel)
        fprintf(out, "  op attn_residual = add(x, o_proj);\n  op residual = add(attn_residual, %s);\n", down);
    else
        fprintf(out, "  op residual = add(attn_residual, %s);\n", down);
    fputs("\n  epilogue {\n", out);
    fprintf(out, "    op final_norm = norm(residual, kind = %s%s%s);\n", nk, uo, b);
    fprintf(out, "    op lm_head = fc(final_norm, out = vocab%s);\n", s->tied ? ", tied = embed_tokens" : "");
    fputs("  }\n}\n", out);
}

/* A .h2 identifier from a directory or file name: letters, digits and '_' (others become '_'). */
static const char *model_name(Arena *a, const char *path, bool dir) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = 0;
    if (!dir) {     /* .../NAME/config.json: the folder's name */
        char *slash = strrchr(buf, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(buf, sizeof buf, "model");
    }
    const char *base = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
    char out[128];
    size_t k = 0;
    if (!((base[0] >= 'A' && base[0] <= 'Z') || (base[0] >= 'a' && base[0] <= 'z')))
        out[k++] = 'm';
    for (size_t i = 0; base[i] && k + 1 < sizeof out; i++) {
        char c = base[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        out[k++] = ok ? c : '_';
    }
    out[k] = 0;
    if (strcmp(out, "m") == 0 || k == 0)
        return "model";
    return arena_strdup(a, out);
}

bool fe_import_hf(Arena *a, const char *path, bool is_dir, const char *name, FILE *out, Diag *d) {
    const char *file = is_dir ? arena_printf(a, "%s/config.json", path) : path;
    SrcFile *src = srcfile_read(a, d, file, NOLOC, MAX_CONFIG_BYTES);
    if (!src)
        return false;
    Imp *im = arena_alloc(a, sizeof *im);
    im->a = a;
    im->d = d;
    im->src = src;
    im->ok = true;
    if (memchr(src->text, 0, src->len)) {
        diag_error(d, loc_at(src, (size_t)((const char *)memchr(src->text, 0, src->len) - src->text), 1),
                   "not a text file (it contains a NUL byte)");
        return false;
    }
    const char *end = NULL;
    im->root = cJSON_ParseWithLengthOpts(src->text, src->len + 1, &end, true);
    if (!im->root) {
        size_t off = end && end >= src->text && end <= src->text + src->len ? (size_t)(end - src->text) : src->len;
        diag_error(d, loc_at(src, off, 1), "invalid JSON%s", off >= src->len ? ": unexpected end of file" : "");
        return false;
    }
    bool ok = false;
    if (!cJSON_IsObject(im->root)) {
        diag_error(d, loc_at(src, 0, 1), "a config.json is a JSON object");
        goto done;
    }
    if (!scan_keys(im))
        goto done;
    /* the family: architectures[0], else model_type */
    const cJSON *archs = field(im, im->root, NULL, "architectures");
    const char *arch = NULL;
    if (archs && cJSON_IsArray(archs) && cJSON_GetArraySize(archs) >= 1 && cJSON_IsString(cJSON_GetArrayItem(archs, 0)))
        arch = cJSON_GetArrayItem(archs, 0)->valuestring;
    else if (archs && !cJSON_IsNull(archs)) {
        diag_error(d, key_loc(im, "architectures"), "'architectures' must be a list of class names");
        goto done;
    }
    const char *mtype = get_str(im, im->root, NULL, "model_type", NULL);
    int fam = -1;
    for (int f = 0; f < FAM_COUNT_ && fam < 0; f++)
        if ((arch && strcmp(arch, families[f].arch) == 0) || (!arch && mtype && strcmp(mtype, families[f].model_type) == 0))
            fam = f;
    if (fam < 0) {
        char list[512] = "";
        for (int f = 0; f < FAM_COUNT_; f++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", f ? ", " : "", families[f].arch);
        }
        if (arch)
            diag_error(d, key_loc(im, "architectures"), "'architectures' = \"%s\" is not an architecture h2c imports "
                       "(%s)", arch, list);
        else if (mtype)
            diag_error(d, key_loc(im, "model_type"), "'model_type' = \"%s\" is not a family h2c imports (%s)", mtype,
                       list);
        else
            diag_error(d, loc_at(src, 0, 1), "config names no 'architectures' or 'model_type'");
        goto done;
    }
    if (!im->ok)
        goto done;
    Shape s;
    if (!read_shape(im, (Family)fam, &s))
        goto done;
    /* what the importer did not read */
    char ignored[2048] = "";
    int nign = 0;
    for (const cJSON *c = im->root->child; c; c = c->next) {
        bool used = false;
        for (int i = 0; i < im->nused && !used; i++)
            used = strcmp(im->used[i], c->string) == 0 || (strncmp(im->used[i], c->string, strlen(c->string)) == 0 &&
                                                           im->used[i][strlen(c->string)] == '.');
        if (used || metadata_key(c->string))
            continue;
        size_t l = strlen(ignored);
        if (l < sizeof ignored - 80)
            snprintf(ignored + l, sizeof ignored - l, "%s%s", nign ? ", " : "", c->string);
        nign++;
    }
    if (nign)
        diag_warning(d, loc_at(src, 0, 0), "%d field%s of %s that h2c does not model (they do not change the shapes "
                     "and ops it compiles, or h2c ignores them): %s", nign, nign == 1 ? "" : "s",
                     families[fam].arch, ignored);
    if (d->werror && nign)
        goto done;
    write_model(out, &s, name ? name : model_name(a, path, is_dir), file, families[fam].arch);
    ok = true;
done:
    cJSON_Delete(im->root);
    return ok;
}
