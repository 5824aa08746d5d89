/* compat.c: `h2c compat`, the bridge to the H2-LLM artifact's own files. It reads the artifact's
 * model configs (DIR/<model>/shape.json + operator_graph.json), its evaluator test vectors (JSON)
 * and its fixed-mapping baseline table (text), all strictly and with file:line:col errors, builds
 * DfProblems and DfPlans from them, evaluates them with cost_artifact and compares the numbers.
 * Library code: it reports through a Diag, never exits, and frees everything it allocates. */
#include "artifact.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_FILE_BYTES = 64 << 20, MAX_MODELS = 8 };

static const char *const model_types[] = {"opt", "llama", "palm", NULL};
static const char *const op_names[] = {"q", "k", "v", "qk", "sv", "o", "f1", "f3", "f2", NULL};

/* One artifact model: shape.json and operator_graph.json of one directory. */
typedef struct ArtModel {
    const char *type;                   /* one of model_types */
    const char *dir;                    /* its directory */
    int layers, hidden, ffn, heads, kv_heads;
    int nops;
    const char *names[DF_MAX_OPS];      /* op names (op_names entries), in the graph's node order */
    uint32_t preds[DF_MAX_OPS];         /* bit j: an edge from op j */
} ArtModel;

/* A parsed JSON file and, for every cJSON node, where its value (and key) starts in the text,
 * sorted by node address: cJSON keeps no positions, so they are found by walking the text. */
typedef struct JPos {
    const cJSON *node;
    int off;        /* the value's first byte */
    int key_off;    /* an object member's key, or -1 */
} JPos;

typedef struct JDoc {
    SrcFile *src;
    cJSON *root;
    JPos *pos;
    int npos, cap;
    size_t *lines;      /* the offset of each line's first byte, in order: locations by binary search */
    size_t nlines;
    struct JDoc *next;  /* every document of a Ctx, to delete the cJSON trees */
} JDoc;

typedef struct ModelSlot {
    const char *type;
    bool ok;            /* loaded; false: failed, and already reported */
    ArtModel m;
} ModelSlot;

typedef struct Ctx {
    Arena arena;            /* everything of one call; freed at its end */
    DIR *dir;               /* the same for the config directory */
    Diag *d;
    const char *configs;
    JDoc *docs;
    bool scanned, scan_ok;  /* the config directory has been read (successfully) */
    ArtModel *shapes;       /* every shape.json found there, graphs not read */
    int nshapes, shapes_cap;
    ModelSlot models[MAX_MODELS];   /* models asked for, with their graphs */
    int nmodels;
} Ctx;

/* ---------------------------------------------------------------- cJSON's allocator
 * cJSON has one global allocator. While compat runs it is pointed at h2c's hook (so allocation
 * failures can be tested like the rest of h2c: support's h2c_sized_alloc and h2c_sized_free), and
 * set back to the default before returning. */

static void json_hooks(bool on) {
    cJSON_Hooks hooks = {h2c_sized_alloc, h2c_sized_free};
    cJSON_InitHooks(on ? &hooks : NULL);
    h2c_sized_failed = false;
}

/* A Ctx lives on the heap, not in the frame that calls setjmp: everything it holds changes
 * between setjmp and a longjmp, and only the pointer to it must stay put. NULL: out of memory. */
static Ctx *ctx_new(Diag *d, const char *configs, jmp_buf *oom) {
    Ctx *c = h2c_raw_alloc(sizeof *c);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    arena_init(&c->arena);
    c->arena.oom = oom;
    c->d = d;
    c->configs = configs;
    json_hooks(true);
    return c;
}

static void ctx_free(Ctx *c) {
    for (JDoc *doc = c->docs; doc; doc = doc->next)
        cJSON_Delete(doc->root);
    if (c->dir)
        closedir(c->dir);
    arena_free(&c->arena);
    json_hooks(false);
    h2c_raw_free(c, sizeof *c);
}

static _Noreturn void ctx_oom(Ctx *c) { longjmp(*c->arena.oom, 1); }

/* ---------------------------------------------------------------- files and locations */

static SrcFile *read_src(Ctx *c, const char *path, Loc from) {
    return srcfile_read(&c->arena, c->d, path, from, MAX_FILE_BYTES);
}

static Loc mkloc(const SrcFile *src, int line, int col, int len) {
    Loc l = {src, line, col, len};
    return l;
}

/* The location of bytes [off, off+len) of src, on line `line` that starts at line_start (len clipped
 * at the line's end). */
static Loc loc_on_line(const SrcFile *src, int line, size_t line_start, size_t off, int len) {
    Loc l = {src, line, (int)(off - line_start) + 1, len};
    for (int i = 0; i < len; i++) {
        if (off + (size_t)i >= src->len || src->text[off + (size_t)i] == '\n') {
            l.len = i;
            break;
        }
    }
    return l;
}

/* The location of bytes [off, off+len) of src, its line found by counting from the start. */
static Loc loc_at(const SrcFile *src, size_t off, int len) {
    int line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < off && i < src->len; i++) {
        if (src->text[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    return loc_on_line(src, line, line_start, off, len);
}

/* ---------------------------------------------------------------- JSON positions */

static const char *skip_ws(const char *p, const char *e) {
    while (p < e && (unsigned char)*p <= 32)    /* what cJSON skips */
        p++;
    return p;
}

static const char *skip_string(const char *p, const char *e) {
    for (p++; p < e && *p != '"'; p++)
        if (*p == '\\')
            p++;
    return p < e ? p + 1 : e;
}

static const char *skip_scalar(const char *p, const char *e) {
    while (p < e && (unsigned char)*p > 32 && *p != ',' && *p != ']' && *p != '}')
        p++;
    return p;
}

static void add_pos(Ctx *c, JDoc *doc, const cJSON *n, int off, int key_off) {
    if (doc->npos == doc->cap) {
        int ncap = doc->cap ? doc->cap * 2 : 256;
        doc->pos = arena_realloc(&c->arena, doc->pos, sizeof(JPos) * (size_t)doc->cap, sizeof(JPos) * (size_t)ncap);
        doc->cap = ncap;
    }
    doc->pos[doc->npos++] = (JPos){n, off, key_off};
}

/* Walks text that cJSON accepted, in step with its tree, recording where each value starts. */
static const char *index_value(Ctx *c, JDoc *doc, const cJSON *n, const char *p, int key_off) {
    const char *t = doc->src->text, *e = t + doc->src->len;
    p = skip_ws(p, e);
    add_pos(c, doc, n, (int)(p - t), key_off);
    if (cJSON_IsObject(n) || cJSON_IsArray(n)) {
        p = skip_ws(p + 1, e);
        for (const cJSON *ch = n->child; ch && p < e; ch = ch->next) {
            int koff = -1;
            if (cJSON_IsObject(n)) {
                koff = (int)(p - t);
                p = skip_ws(skip_string(p, e), e);
                if (p < e && *p == ':')
                    p++;
            }
            p = skip_ws(index_value(c, doc, ch, p, koff), e);
            if (p < e && *p == ',')
                p = skip_ws(p + 1, e);
        }
        return p < e ? p + 1 : e;
    }
    return cJSON_IsString(n) ? skip_string(p, e) : skip_scalar(p, e);
}

static int cmp_pos(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)((const JPos *)a)->node, y = (uintptr_t)((const JPos *)b)->node;
    return x < y ? -1 : x > y;
}

static const JPos *find_pos(const JDoc *doc, const cJSON *n) {
    JPos key = {n, 0, 0};
    return bsearch(&key, doc->pos, (size_t)doc->npos, sizeof(JPos), cmp_pos);
}

/* loc_at for a document, in O(log lines): a document of many entries locates each one. */
static Loc doc_loc_at(const JDoc *doc, size_t off, int len) {
    if (!doc->lines)
        return loc_at(doc->src, off, len);
    size_t lo = 0, hi = doc->nlines;     /* the last line starting at or before off */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (doc->lines[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    return loc_on_line(doc->src, (int)lo + 1, doc->lines[lo], off, len);
}

/* Where a value is: a scalar's whole token, the first byte of an object or array. */
static Loc jloc(const JDoc *doc, const cJSON *n) {
    const JPos *ps = find_pos(doc, n);
    if (!ps)
        return mkloc(doc->src, 0, 0, 0);
    const char *t = doc->src->text, *e = t + doc->src->len, *p = t + ps->off;
    int len = 1;
    if (cJSON_IsString(n))
        len = (int)(skip_string(p, e) - p);
    else if (!cJSON_IsObject(n) && !cJSON_IsArray(n))
        len = (int)(skip_scalar(p, e) - p);
    return doc_loc_at(doc, (size_t)ps->off, len);
}

/* Where an object member's key is (its value if it has none). */
static Loc jkey_loc(const JDoc *doc, const cJSON *n) {
    const JPos *ps = find_pos(doc, n);
    if (!ps || ps->key_off < 0)
        return jloc(doc, n);
    const char *t = doc->src->text, *p = t + ps->key_off;
    return doc_loc_at(doc, (size_t)ps->key_off, (int)(skip_string(p, t + doc->src->len) - p));
}

/* A number's text as written. */
static const char *jnum_text(Ctx *c, const JDoc *doc, const cJSON *n) {
    const JPos *ps = find_pos(doc, n);
    if (!ps)
        return "?";
    const char *p = doc->src->text + ps->off;
    return arena_strndup(&c->arena, p, (size_t)(skip_scalar(p, doc->src->text + doc->src->len) - p));
}

/* Reports where cJSON gave up (off), saying what is wrong where that can be told: cJSON points
 * inside a string that never ends, or at the end of a truncated file. */
static void json_syntax_error(Ctx *c, const SrcFile *src, size_t off) {
    const char *t = src->text, *e = t + src->len, *str = NULL;
    for (const char *p = t; p < t + off && p < e; p++) {     /* is off inside a string? */
        if (str && *p == '\\')
            p++;
        else if (*p == '"')
            str = str ? NULL : p;
    }
    if (str) {
        const char *close = str + 1;
        while (close < e && *close != '"')
            close += *close == '\\' ? 2 : 1;
        if (close >= e)
            diag_error(c->d, loc_at(src, (size_t)(str - t), 1), "invalid JSON: a string that is never closed");
        else
            diag_error(c->d, loc_at(src, (size_t)(str - t), (int)(close + 1 - str)), "invalid JSON: a bad string");
        return;
    }
    const char *p = skip_ws(t + off, e);
    if (p == e)
        diag_error(c->d, loc_at(src, src->len, 0), "invalid JSON: unexpected end of file");
    else
        diag_error(c->d, loc_at(src, (size_t)(p - t), 1), "invalid JSON: unexpected '%c'",
                   (unsigned char)*p >= 32 && (unsigned char)*p < 127 ? *p : '?');
}

/* Reads and parses a JSON file. NULL (reported) when it cannot be read or is not JSON. */
static JDoc *json_load(Ctx *c, const char *path, Loc from) {
    SrcFile *src = read_src(c, path, from);
    if (!src)
        return NULL;
    if (memchr(src->text, 0, src->len)) {
        diag_error(c->d, loc_at(src, (size_t)((const char *)memchr(src->text, 0, src->len) - src->text), 1),
                   "not a text file (it contains a NUL byte)");
        return NULL;
    }
    /* the length includes the terminating NUL, which is how cJSON checks that nothing follows */
    JDoc *doc = ARENA_NEW(&c->arena, JDoc);     /* registered before parsing: nothing can leak */
    doc->src = src;
    doc->next = c->docs;
    c->docs = doc;
    const char *end = NULL;
    cJSON *root = doc->root = cJSON_ParseWithLengthOpts(src->text, src->len + 1, &end, true);
    if (!root) {
        if (h2c_sized_failed)
            ctx_oom(c);
        size_t off = end && end >= src->text && end <= src->text + src->len ? (size_t)(end - src->text) : 0;
        json_syntax_error(c, src, off);
        return NULL;
    }
    const char *start = src->text;
    if (src->len >= 3 && memcmp(start, "\xEF\xBB\xBF", 3) == 0)  /* cJSON skips a UTF-8 BOM */
        start += 3;
    index_value(c, doc, root, start, -1);
    qsort(doc->pos, (size_t)doc->npos, sizeof(JPos), cmp_pos);
    size_t nl = 1;
    for (size_t i = 0; i < src->len; i++)
        nl += src->text[i] == '\n';
    size_t *lines = arena_alloc(&c->arena, sizeof *lines * nl);
    lines[0] = 0;
    for (size_t i = 0, k = 1; i < src->len; i++)
        if (src->text[i] == '\n')
            lines[k++] = i + 1;
    doc->lines = lines;
    doc->nlines = nl;
    return doc;
}

/* ---------------------------------------------------------------- JSON checks */

static const char *jtype_name(const cJSON *n) {
    if (cJSON_IsObject(n))
        return "an object";
    if (cJSON_IsArray(n))
        return "an array";
    if (cJSON_IsString(n))
        return "a string";
    if (cJSON_IsNumber(n))
        return "a number";
    if (cJSON_IsBool(n))
        return "a boolean";
    return "null";
}

/* "'key'" for an object member, else the description of what it is. */
static const char *jwhat(Ctx *c, const cJSON *n, const char *what) {
    return n->string ? arena_printf(&c->arena, "'%s'", n->string) : what;
}

typedef enum JType { JT_OBJECT, JT_ARRAY, JT_STRING, JT_NUMBER, JT_BOOL } JType;

static bool jis(const cJSON *n, JType t) {
    switch (t) {
    case JT_OBJECT: return cJSON_IsObject(n);
    case JT_ARRAY: return cJSON_IsArray(n);
    case JT_STRING: return cJSON_IsString(n);
    case JT_NUMBER: return cJSON_IsNumber(n);
    case JT_BOOL: return cJSON_IsBool(n);
    }
    return false;
}

static const char *const jtype_names[] = {"an object", "an array", "a string", "a number", "true or false"};

static bool jexpect(Ctx *c, const JDoc *doc, const cJSON *n, JType t, const char *what) {
    if (jis(n, t))
        return true;
    diag_error(c->d, jloc(doc, n), "%s must be %s, not %s", jwhat(c, n, what), jtype_names[t], jtype_name(n));
    return false;
}

/* Checks that every key of obj is one of keys (NULL-terminated) and appears once. */
static bool jkeys(Ctx *c, const JDoc *doc, const cJSON *obj, const char *const *keys, const char *what) {
    bool ok = true;
    for (const cJSON *m = obj->child; m; m = m->next) {
        bool known = false;
        for (int i = 0; keys[i]; i++)
            known |= strcmp(m->string, keys[i]) == 0;
        if (!known) {
            const char *near = closest_word(m->string, keys);
            if (near)
                diag_error(c->d, jkey_loc(doc, m), "unknown key '%s' in %s; did you mean '%s'?", m->string, what, near);
            else
                diag_error(c->d, jkey_loc(doc, m), "unknown key '%s' in %s", m->string, what);
            ok = false;
            continue;
        }
        for (const cJSON *o = obj->child; o != m; o = o->next) {
            if (strcmp(o->string, m->string) == 0) {
                diag_error(c->d, jkey_loc(doc, m), "duplicate key '%s'", m->string);
                ok = false;
                break;
            }
        }
    }
    return ok;
}

/* The member `key` of obj, which must be there and of type t. */
static const cJSON *jget(Ctx *c, const JDoc *doc, const cJSON *obj, const char *key, JType t, const char *what) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!m) {
        diag_error(c->d, jloc(doc, obj), "missing key '%s' in %s", key, what);
        return NULL;
    }
    return jexpect(c, doc, m, t, key) ? m : NULL;
}

/* An integer, written as one (no fraction or exponent), within [lo, hi]. */
static bool jint(Ctx *c, const JDoc *doc, const cJSON *n, long long lo, long long hi, const char *what, long long *out) {
    if (!n || !jexpect(c, doc, n, JT_NUMBER, what))
        return false;
    const char *t = jnum_text(c, doc, n);
    const char *w = jwhat(c, n, what);
    if (strpbrk(t, ".eE")) {
        diag_error(c->d, jloc(doc, n), "%s must be an integer, not %s", w, t);
        return false;
    }
    if (!(n->valuedouble >= (double)lo && n->valuedouble <= (double)hi)) {
        diag_error(c->d, jloc(doc, n), "%s is %s; it must be from %lld to %lld", w, t, lo, hi);
        return false;
    }
    *out = (long long)n->valuedouble;
    return true;
}

/* A finite number in [lo, hi] (lo excluded if lo_open). */
static bool jnum(Ctx *c, const JDoc *doc, const cJSON *n, double lo, bool lo_open, double hi, const char *what,
                 double *out) {
    if (!n || !jexpect(c, doc, n, JT_NUMBER, what))
        return false;
    double v = n->valuedouble;
    if (!isfinite(v) || v < lo || (lo_open && v == lo) || v > hi) {
        char a[32], b[32];
        fmt_double(a, sizeof a, lo);
        fmt_double(b, sizeof b, hi);
        diag_error(c->d, jloc(doc, n), "%s is %s; it must be %s %s and at most %s", jwhat(c, n, what),
                   jnum_text(c, doc, n), lo_open ? "above" : "at least", a, b);
        return false;
    }
    *out = v;
    return true;
}

static bool jbool(Ctx *c, const JDoc *doc, const cJSON *n, const char *what, bool *out) {
    if (!n || !jexpect(c, doc, n, JT_BOOL, what))
        return false;
    *out = cJSON_IsTrue(n);
    return true;
}

/* Index of s in a NULL-terminated list, or -1. */
static int name_index(const char *s, const char *const *names) {
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* "a, b or c" (conj "or"), "a, b and c" (conj "and") */
static const char *name_list(Ctx *c, const char *const *names, int n, const char *conj) {
    const char *s = "";
    for (int i = 0; i < n; i++)
        s = arena_printf(&c->arena, "%s%s%s", s, i == 0 ? "" : i == n - 1 ? conj : ", ", names[i]);
    return s;
}

static int list_len(const char *const *names) {
    int n = 0;
    while (names[n])
        n++;
    return n;
}

/* "unknown X 'name' (a, b or c)" with a suggestion when one is close. */
static void unknown_name(Ctx *c, Loc loc, const char *kind, const char *name, const char *const *names) {
    const char *near = closest_word(name, names);
    const char *all = name_list(c, names, list_len(names), " or ");
    if (near)
        diag_error(c->d, loc, "unknown %s '%s'; did you mean '%s'? (%s)", kind, name, near, all);
    else
        diag_error(c->d, loc, "unknown %s '%s' (%s)", kind, name, all);
}

/* ---------------------------------------------------------------- model configs */

/* shape.json (§2). */
static bool read_shape(Ctx *c, const JDoc *doc, ArtModel *m) {
    static const char *const keys[] = {"type", "layer_num", "hidden_dim", "intermediate_dim", "q_head_num",
                                       "kv_head_num", NULL};
    const cJSON *r = doc->root;
    if (!jexpect(c, doc, r, JT_OBJECT, "a model shape"))
        return false;
    bool ok = jkeys(c, doc, r, keys, "a model shape");
    const cJSON *type = jget(c, doc, r, "type", JT_STRING, "a model shape");
    if (type) {
        int t = name_index(type->valuestring, model_types);
        if (t < 0) {
            unknown_name(c, jloc(doc, type), "model type", type->valuestring, model_types);
            ok = false;
        } else {
            m->type = model_types[t];
        }
    } else {
        ok = false;
    }
    long long v[5];
    for (int i = 0; i < 5; i++)
        ok &= jint(c, doc, jget(c, doc, r, keys[i + 1], JT_NUMBER, "a model shape"), 1, 1 << 20, keys[i + 1], &v[i]);
    if (!ok)
        return false;
    m->layers = (int)v[0];
    m->hidden = (int)v[1];
    m->ffn = (int)v[2];
    m->heads = (int)v[3];
    m->kv_heads = (int)v[4];
    if (m->hidden % m->heads != 0) {
        diag_error(c->d, jloc(doc, cJSON_GetObjectItemCaseSensitive(r, "q_head_num")),
                   "hidden_dim %d is not a multiple of q_head_num %d", m->hidden, m->heads);
        return false;
    }
    if (m->heads % m->kv_heads != 0) {
        diag_error(c->d, jloc(doc, cJSON_GetObjectItemCaseSensitive(r, "kv_head_num")),
                   "q_head_num %d is not a multiple of kv_head_num %d", m->heads, m->kv_heads);
        return false;
    }
    return true;
}

/* operator_graph.json: "node" maps op names to ids, "edge" lists [from, to] id pairs. */
static bool read_graph(Ctx *c, const JDoc *doc, ArtModel *m) {
    static const char *const keys[] = {"node", "edge", NULL};
    const cJSON *r = doc->root;
    if (!jexpect(c, doc, r, JT_OBJECT, "an operator graph"))
        return false;
    bool ok = jkeys(c, doc, r, keys, "an operator graph");
    const cJSON *node = jget(c, doc, r, "node", JT_OBJECT, "an operator graph");
    const cJSON *edge = jget(c, doc, r, "edge", JT_ARRAY, "an operator graph");
    if (!node || !edge)
        return false;
    long long ids[DF_MAX_OPS], bad_ids[DF_MAX_OPS];     /* of the ops read, of unknown ops */
    const cJSON *id_nodes[DF_MAX_OPS];
    int nbad = 0;
    m->nops = 0;
    for (const cJSON *n = node->child; n; n = n->next) {
        int k = name_index(n->string, op_names);
        if (k < 0) {
            unknown_name(c, jkey_loc(doc, n), "op", n->string, op_names);
            if (cJSON_IsNumber(n) && nbad < DF_MAX_OPS)
                bad_ids[nbad++] = (long long)n->valuedouble;
            ok = false;
            continue;
        }
        long long id;
        if (!jint(c, doc, n, 0, 1000000000, "an op id", &id)) {
            ok = false;
            continue;
        }
        bool dup = false;
        for (int j = 0; j < m->nops; j++) {
            if (strcmp(m->names[j], op_names[k]) == 0) {
                diag_error(c->d, jkey_loc(doc, n), "duplicate op '%s'", n->string);
                dup = true;
            } else if (ids[j] == id) {
                diag_error(c->d, jloc(doc, n), "op '%s' has id %lld, which is already the id of '%s'", n->string, id,
                           m->names[j]);
                dup = true;
            }
            if (dup)
                break;
        }
        if (dup) {
            ok = false;
            continue;
        }
        id_nodes[m->nops] = n;
        ids[m->nops] = id;
        m->preds[m->nops] = 0;
        m->names[m->nops++] = op_names[k];
    }
    if (ok && m->nops == 0) {
        diag_error(c->d, jloc(doc, node), "the operator graph has no ops");
        return false;
    }
    for (const cJSON *e = edge->child; e; e = e->next) {
        if (!jexpect(c, doc, e, JT_ARRAY, "an edge")) {
            ok = false;
            continue;
        }
        if (cJSON_GetArraySize(e) != 2) {
            diag_error(c->d, jloc(doc, e), "an edge must be [from, to], not %d ids", cJSON_GetArraySize(e));
            ok = false;
            continue;
        }
        int ends[2];
        for (int k = 0; k < 2; k++) {
            const cJSON *x = cJSON_GetArrayItem(e, k);
            long long id;
            ends[k] = -1;
            if (!jint(c, doc, x, 0, 1000000000, "an op id", &id))
                continue;
            bool bad = false;
            for (int j = 0; j < m->nops; j++)
                if (ids[j] == id)
                    ends[k] = j;
            for (int j = 0; j < nbad; j++)
                bad |= bad_ids[j] == id;
            if (ends[k] < 0 && !bad)    /* an unknown op's id is already reported */
                diag_error(c->d, jloc(doc, x), "no op has id %lld", id);
        }
        if (ends[0] < 0 || ends[1] < 0) {
            ok = false;
            continue;
        }
        if (ends[0] == ends[1]) {
            diag_error(c->d, jloc(doc, e), "an edge from '%s' to itself", m->names[ends[0]]);
            ok = false;
        } else if (m->preds[ends[1]] & (1u << ends[0])) {
            diag_error(c->d, jloc(doc, e), "duplicate edge from '%s' to '%s'", m->names[ends[0]], m->names[ends[1]]);
            ok = false;
        }
        m->preds[ends[1]] |= 1u << ends[0];
    }
    if (!ok)
        return false;
    /* acyclic: repeatedly remove ops whose preds are all removed */
    uint32_t done = 0, all = m->nops == 32 ? ~0u : (1u << m->nops) - 1;
    for (bool progress = true; progress && done != all;) {
        progress = false;
        for (int j = 0; j < m->nops; j++) {
            if (!(done & (1u << j)) && (m->preds[j] & ~done) == 0) {
                done |= 1u << j;
                progress = true;
            }
        }
    }
    if (done != all) {
        int j = 0;
        while (done & (1u << j))
            j++;
        diag_error(c->d, jkey_loc(doc, id_nodes[j]), "the operator graph has a cycle through '%s'", m->names[j]);
        return false;
    }
    return true;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Reads every DIR/<sub>/shape.json under c->configs once (a subdirectory without one is skipped)
 * into c->shapes. False (reported) if the directory cannot be read or a shape is malformed. */
static bool scan_configs(Ctx *c, Loc from) {
    if (c->scanned)
        return c->scan_ok;
    c->scanned = true;
    DIR *dir = c->dir = opendir(c->configs);
    if (!dir) {
        diag_error(c->d, from,
                   "cannot open the model config directory '%s': %s (it holds <model>/shape.json and "
                   "<model>/operator_graph.json; see --configs)",
                   c->configs, strerror(errno));
        return false;
    }
    const char **names = NULL;
    int n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        if (e->d_name[0] == '.')
            continue;
        const char *s = arena_strdup(&c->arena, e->d_name);
        VEC_PUSH(&c->arena, names, n, cap, s);
    }
    closedir(dir);
    c->dir = NULL;
    if (n > 1)
        qsort(names, (size_t)n, sizeof *names, cmp_str);
    bool ok = true;
    for (int i = 0; i < n; i++) {
        const char *sub = arena_printf(&c->arena, "%s/%s", c->configs, names[i]);
        const char *path = arena_printf(&c->arena, "%s/shape.json", sub);
        FILE *probe = fopen(path, "rb");
        if (!probe)
            continue;
        fclose(probe);
        JDoc *doc = json_load(c, path, from);
        ArtModel m = {0};
        if (!doc || !read_shape(c, doc, &m)) {
            ok = false;
            continue;
        }
        m.dir = sub;
        VEC_PUSH(&c->arena, c->shapes, c->nshapes, c->shapes_cap, m);
    }
    c->scan_ok = ok;
    return ok;
}

/* The model directory whose shape.json has this type, with its operator graph read. */
static bool load_model(Ctx *c, const char *type, Loc from, ArtModel *out) {
    if (!scan_configs(c, from))
        return false;
    const ArtModel *found = NULL;
    for (int i = 0; i < c->nshapes; i++) {
        if (strcmp(c->shapes[i].type, type) != 0)
            continue;
        if (found) {
            diag_error(c->d, from, "two model directories have type '%s': '%s' and '%s'", type, found->dir,
                       c->shapes[i].dir);
            return false;
        }
        found = &c->shapes[i];
    }
    if (!found) {
        diag_error(c->d, from, "no model of type '%s' in '%s' (no <model>/shape.json there has \"type\": \"%s\")", type,
                   c->configs, type);
        return false;
    }
    *out = *found;
    JDoc *graph = json_load(c, arena_printf(&c->arena, "%s/operator_graph.json", out->dir), from);
    return graph && read_graph(c, graph, out);
}

/* The model of this type, loaded once per call; a failure is reported once. */
static const ArtModel *get_model(Ctx *c, const char *type, Loc from) {
    for (int i = 0; i < c->nmodels; i++)
        if (strcmp(c->models[i].type, type) == 0)
            return c->models[i].ok ? &c->models[i].m : NULL;
    if (c->nmodels == MAX_MODELS)
        h2c_unreachable("more model types than model_types");
    ModelSlot *s = &c->models[c->nmodels++];
    s->type = type;
    s->ok = load_model(c, type, from, &s->m);
    return s->ok ? &s->m : NULL;
}

/* ---------------------------------------------------------------- problems */

/* §2's GEMM shape of op `name` for s tokens of b sequences at context ctx. B and M of attention
 * follow the model type string: opt counts query heads, the others fold the query heads of a KV
 * head into M. */
static Gemm op_shape(const ArtModel *m, const char *name, double b, double s, double ctx) {
    double dim = m->hidden, ffn = m->ffn, q = m->heads, kv = m->kv_heads;
    double hd = (double)(m->hidden / m->heads), qpk = (double)(m->heads / m->kv_heads);
    bool opt = strcmp(m->type, "opt") == 0;
    double B = opt ? q * b : kv * b, M = opt ? s : s * qpk;
    if (strcmp(name, "q") == 0 || strcmp(name, "o") == 0)
        return (Gemm){1, b * s, dim, dim};
    if (strcmp(name, "k") == 0 || strcmp(name, "v") == 0)
        return (Gemm){1, b * s, hd * kv, dim};
    if (strcmp(name, "f1") == 0 || strcmp(name, "f3") == 0)
        return (Gemm){1, b * s, ffn, dim};
    if (strcmp(name, "f2") == 0)
        return (Gemm){1, b * s, dim, ffn};
    if (strcmp(name, "qk") == 0)
        return (Gemm){B, M, ctx, hd};
    return (Gemm){B, M, hd, ctx};   /* sv */
}

static void build_problem(const ArtModel *m, const Hardware *hw, int batch, int prompt, int gen, int max_seq,
                          DfProblem *p) {
    memset(p, 0, sizeof *p);
    p->hw = *hw;
    p->nmp = (int)hw->nmp_channels;
    p->normal = (int)hw->channels - p->nmp;
    p->batch = batch;
    p->prompt = prompt;
    p->gen = gen;
    p->max_seq = max_seq;
    int dctx = prompt + gen < max_seq ? prompt + gen : max_seq;    /* the final context, for every step */
    p->ctx_first = prompt + 1;
    p->ctx_last = dctx;
    p->layers = m->layers;
    p->hidden = m->hidden;
    p->intermediate = m->ffn;
    p->heads = m->heads;
    p->kv_heads = m->kv_heads;
    p->head_dim = m->hidden / m->heads;
    p->es = precision_bytes((Precision)hw->precision);
    p->nmp_util = 1;
    p->nops = m->nops;
    for (int i = 0; i < m->nops; i++) {
        DfOp *o = &p->ops[i];
        const char *name = m->names[i];
        bool qk = strcmp(name, "qk") == 0, sv = strcmp(name, "sv") == 0;
        o->name = name;
        o->kind = qk || sv ? DFK_ATTN : DFK_FC;
        o->code = qk ? OP_ATTN_SCORE : sv ? OP_ATTN_VALUE : OP_FC;
        o->pre = op_shape(m, name, batch, prompt, prompt);
        o->dec = op_shape(m, name, batch, 1, dctx);
        o->ctx_dim = qk ? 2 : sv ? 3 : -1;
        o->preds = m->preds[i];
        /* §2: weights K*N, or the KV cache of all sequences at max_seq, for every layer */
        if (o->kind == DFK_FC)
            o->footprint = o->dec.B * o->dec.K * o->dec.N * p->es * m->layers;
        else
            o->footprint = (double)batch * m->kv_heads * max_seq * p->head_dim * p->es * m->layers;
    }
}

bool compat_problem(const char *configs, const char *type, const Hardware *hw, int batch, int prompt, int gen,
                    int max_seq, DfProblem *p, Diag *d) {
    jmp_buf jb;
    Ctx *const c = ctx_new(d, configs, &jb);
    if (!c || setjmp(jb)) {
        if (c)
            ctx_free(c);
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    bool ok = false;
    if (name_index(type, model_types) < 0) {
        unknown_name(c, NOLOC, "model", type, model_types);
    } else {
        const ArtModel *m = get_model(c, model_types[name_index(type, model_types)], NOLOC);
        if (m) {
            build_problem(m, hw, batch, prompt, gen, max_seq, p);
            ok = true;
        }
    }
    ctx_free(c);
    return ok;
}

/* Base units from a value in a scaled unit (MHz, GB/s), chosen so that dividing by the scale, as
 * cost_artifact does, gives the value back exactly. */
static double to_base(double v, double scale) {
    double w = v * scale;
    for (int k = 1; k <= 4 && w / scale != v; k++) {
        double up = w, down = w;
        for (int i = 0; i < k; i++) {
            up = nextafter(up, INFINITY);
            down = nextafter(down, -INFINITY);
        }
        if (up / scale == v)
            return up;
        if (down / scale == v)
            return down;
    }
    return w;
}

/* ---------------------------------------------------------------- entries */

/* One comparison: a problem (and a plan, for a test vector) and the artifact's numbers. */
typedef struct Entry {
    const char *name;
    DfProblem *p;
    DfPlan *plan;           /* test vector: the dataflow; NULL: a fixed-mapping baseline */
    DataflowMode mode;      /* baseline mode */
    int nexp;
    const char *what[4];    /* total, prefill, ... */
    const char *text[4];    /* the expected numbers as written */
    double want[4];
} Entry;

typedef struct Entries {
    Entry *items;
    int count, cap;
} Entries;

/* ---------------------------------------------------------------- test vectors */

static const char *chanset_text(Ctx *c, ChanSet s) {
    const char *t = "{";
    for (int ch = 0; ch < 64; ch++)
        if (s & CHAN_BIT(ch))
            t = arena_printf(&c->arena, "%s%s%d", t, t[1] ? ", " : "", ch);
    return arena_printf(&c->arena, "%s}", t);
}

/* A list of NMP channel ids, each below nmp and listed once. */
static bool read_chans(Ctx *c, const JDoc *doc, const cJSON *arr, int nmp, ChanSet *out) {
    *out = 0;
    bool ok = true;
    for (const cJSON *x = arr->child; x; x = x->next) {
        long long ch;
        if (!jint(c, doc, x, 0, 63, "an NMP channel id", &ch)) {
            ok = false;
        } else if (ch >= nmp) {
            if (nmp == 0)
                diag_error(c->d, jloc(doc, x), "NMP channel %lld does not exist: the device has no NMP channels", ch);
            else
                diag_error(c->d, jloc(doc, x), "NMP channel %lld does not exist: the device has %d (0 to %d)", ch, nmp,
                           nmp - 1);
            ok = false;
        } else if (*out & CHAN_BIT(ch)) {
            diag_error(c->d, jloc(doc, x), "NMP channel %lld is listed twice", ch);
            ok = false;
        } else {
            *out |= CHAN_BIT(ch);
        }
    }
    return ok;
}

/* The position of each op a vector maps, and the checks the artifact asserts (dataflow.py:179-192):
 * NMP channels disjoint within a stratum and, per stratum, covering the MPG's; normal flags
 * covering the MPG's; MPGs of a MAG on disjoint channels. */
typedef struct PlanCtx {
    const DfProblem *p;
    DfPlan *plan;
    const cJSON *seen[DF_MAX_OPS];  /* the op object that mapped op i, or NULL */
    int norder;
} PlanCtx;

static bool read_op(Ctx *c, const JDoc *doc, PlanCtx *pc, const cJSON *o, int gi, int pi, int si, ChanSet *used,
                    bool *any_normal) {
    static const char *const keys[] = {"op", "nmp_ch", "normal", "ratio", "decode_map", NULL};
    static const char *const maps[] = {"NPU", "NMP", "MIX", NULL};
    if (!jexpect(c, doc, o, JT_OBJECT, "an op mapping"))
        return false;
    bool ok = jkeys(c, doc, o, keys, "an op mapping");
    const cJSON *name = jget(c, doc, o, "op", JT_STRING, "an op mapping");
    const cJSON *chans = jget(c, doc, o, "nmp_ch", JT_ARRAY, "an op mapping");
    const cJSON *normal = jget(c, doc, o, "normal", JT_BOOL, "an op mapping");
    const cJSON *ratio = jget(c, doc, o, "ratio", JT_NUMBER, "an op mapping");
    const cJSON *map = jget(c, doc, o, "decode_map", JT_STRING, "an op mapping");
    if (!name || !chans || !normal || !ratio || !map)
        return false;
    const DfProblem *p = pc->p;
    int op = -1;
    for (int i = 0; i < p->nops; i++)
        if (strcmp(p->ops[i].name, name->valuestring) == 0)
            op = i;
    if (op < 0) {
        const char *names[DF_MAX_OPS + 1];
        for (int i = 0; i < p->nops; i++)
            names[i] = p->ops[i].name;
        names[p->nops] = NULL;
        const char *near = closest_word(name->valuestring, names);
        diag_error(c->d, jloc(doc, name), "unknown op '%s'%s%s%s; the model's ops are %s", name->valuestring,
                   near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "", name_list(c, names, p->nops, " and "));
        return false;
    }
    if (pc->seen[op]) {
        diag_error(c->d, jloc(doc, name), "op '%s' is mapped twice", name->valuestring);
        diag_note(c->d, jloc(doc, cJSON_GetObjectItemCaseSensitive(pc->seen[op], "op")), "first mapped here");
        return false;
    }
    pc->seen[op] = o;
    DfAssign *a = &pc->plan->a[op];
    ok &= read_chans(c, doc, chans, p->nmp, &a->nmp);
    ok &= jbool(c, doc, normal, "normal", &a->normal);
    ok &= jnum(c, doc, ratio, 0, false, 1, "ratio", &a->ratio);
    if (!ok)
        return false;
    a->group = gi;
    a->part = pi;
    a->stratum = si;
    a->split = df_split_of(p, op, a);
    pc->plan->order[pc->norder++] = op;
    if (a->normal && p->normal == 0) {
        diag_error(c->d, jloc(doc, normal),
                   "op '%s' is on the normal channels, but with %d NMP channels the device has none", p->ops[op].name,
                   p->nmp);
        return false;
    }
    if (!a->normal && a->nmp == 0) {
        diag_error(c->d, jloc(doc, o), "op '%s' is mapped to no channel (no NMP channel and not normal)",
                   p->ops[op].name);
        return false;
    }
    int want = a->nmp == 0 ? 0 : !a->normal ? 1 : 2;
    int got = name_index(map->valuestring, maps);
    if (got < 0) {
        unknown_name(c, jloc(doc, map), "decode_map", map->valuestring, maps);
        return false;
    }
    if (got != want) {
        static const char *const why[] = {"only on the normal channels", "only on NMP channels",
                                          "on NMP and normal channels"};
        diag_error(c->d, jloc(doc, map), "decode_map is '%s', but op '%s' is %s, which is '%s'", maps[got],
                   p->ops[op].name, why[want], maps[want]);
        return false;
    }
    if (*used & a->nmp) {
        diag_error(c->d, jloc(doc, chans), "NMP channels %s of op '%s' are used by another op of this stratum",
                   chanset_text(c, *used & a->nmp), p->ops[op].name);
        return false;
    }
    *used |= a->nmp;
    *any_normal |= a->normal;
    return true;
}

static bool read_mags(Ctx *c, const JDoc *doc, PlanCtx *pc, const cJSON *mags) {
    static const char *const mag_keys[] = {"mpgs", NULL};
    static const char *const mpg_keys[] = {"nmp_channels", "has_normal", "strats", NULL};
    bool ok = true;
    int gi = 0;
    for (const cJSON *mag = mags->child; mag; mag = mag->next, gi++) {
        if (!jexpect(c, doc, mag, JT_OBJECT, "a MAG") || !jkeys(c, doc, mag, mag_keys, "a MAG")) {
            ok = false;
            continue;
        }
        const cJSON *mpgs = jget(c, doc, mag, "mpgs", JT_ARRAY, "a MAG");
        if (!mpgs) {
            ok = false;
            continue;
        }
        ChanSet mag_chans = 0;
        bool mag_normal = false;
        int pi = 0;
        for (const cJSON *mpg = mpgs->child; mpg; mpg = mpg->next, pi++) {
            if (!jexpect(c, doc, mpg, JT_OBJECT, "an MPG") || !jkeys(c, doc, mpg, mpg_keys, "an MPG")) {
                ok = false;
                continue;
            }
            const cJSON *chans = jget(c, doc, mpg, "nmp_channels", JT_ARRAY, "an MPG");
            const cJSON *hn = jget(c, doc, mpg, "has_normal", JT_BOOL, "an MPG");
            const cJSON *strats = jget(c, doc, mpg, "strats", JT_ARRAY, "an MPG");
            ChanSet set;
            if (!chans || !hn || !strats || !read_chans(c, doc, chans, pc->p->nmp, &set)) {
                ok = false;
                continue;
            }
            bool has_normal = cJSON_IsTrue(hn);
            if (set & mag_chans) {
                diag_error(c->d, jloc(doc, chans), "NMP channels %s are also in another MPG of this MAG",
                           chanset_text(c, set & mag_chans));
                ok = false;
            }
            if (has_normal && mag_normal) {
                diag_error(c->d, jloc(doc, hn), "another MPG of this MAG already has the normal channels");
                ok = false;
            }
            mag_chans |= set;
            mag_normal |= has_normal;
            int si = 0;
            for (const cJSON *st = strats->child; st; st = st->next, si++) {
                if (!jexpect(c, doc, st, JT_ARRAY, "a stratum")) {
                    ok = false;
                    continue;
                }
                if (!st->child) {
                    diag_error(c->d, jloc(doc, st), "an empty stratum");
                    ok = false;
                    continue;
                }
                ChanSet used = 0;
                bool any_normal = false, sok = true;
                for (const cJSON *o = st->child; o; o = o->next)
                    sok &= read_op(c, doc, pc, o, gi, pi, si, &used, &any_normal);
                if (sok && used != set) {
                    diag_error(c->d, jloc(doc, st), "the ops of this stratum use NMP channels %s, but their MPG has %s",
                               chanset_text(c, used), chanset_text(c, set));
                    sok = false;
                }
                if (sok && any_normal != has_normal) {
                    diag_error(c->d, jloc(doc, st), "%s op of this stratum is on the normal channels, but its MPG's "
                                                    "has_normal is %s",
                               any_normal ? "an" : "no", has_normal ? "true" : "false");
                    sok = false;
                }
                ok &= sok;
            }
        }
    }
    return ok;
}

static bool read_vector(Ctx *c, const JDoc *doc, const cJSON *v, int index, Entries *es) {
    static const char *const keys[] = {"device", "prefill_latency", "decode_step_latency", "decode_total",
                                       "total_latency", "model", "batch", "prompt_len", "gen_len", "max_seq_len",
                                       "precision", "nmp_utilization", "mags", NULL};
    static const char *const dev_keys[] = {"nmp_channel_num", "fpu_num_per_pe", "pe_frequency", "pe_bandwidth",
                                           "input_global_buffer_size", "weight_buffer_size",
                                           "output_global_buffer_size", NULL};
    static const char *const precisions[] = {"fp16", "int8", "int4", NULL};
    static const Precision precs[] = {PREC_FP16, PREC_INT8, PREC_INT4};
    const char *what = "a test vector";
    if (!jexpect(c, doc, v, JT_OBJECT, what))
        return false;
    bool ok = jkeys(c, doc, v, keys, what);

    /* the device: the artifact's defaults with the vector's NMP design */
    Hardware hw;
    hardware_defaults_named(&hw, "artifact");
    const cJSON *dev = jget(c, doc, v, "device", JT_OBJECT, what);
    if (dev) {
        ok &= jkeys(c, doc, dev, dev_keys, "a device");
        long long nmp, fpus, buf[3];
        double mhz, gbps;
        const char *dw = "a device";
        bool dok = jint(c, doc, jget(c, doc, dev, "nmp_channel_num", JT_NUMBER, dw), 0, (long long)hw.channels,
                        "nmp_channel_num", &nmp);
        dok &= jint(c, doc, jget(c, doc, dev, "fpu_num_per_pe", JT_NUMBER, dw), 1, 1024, "fpu_num_per_pe", &fpus);
        dok &= jnum(c, doc, jget(c, doc, dev, "pe_frequency", JT_NUMBER, dw), 0, true, 1e5, "pe_frequency", &mhz);
        dok &= jnum(c, doc, jget(c, doc, dev, "pe_bandwidth", JT_NUMBER, dw), 0, true, 1e6, "pe_bandwidth", &gbps);
        for (int i = 0; i < 3; i++)
            dok &= jint(c, doc, jget(c, doc, dev, dev_keys[4 + i], JT_NUMBER, dw), 0, 1 << 20, dev_keys[4 + i], &buf[i]);
        if (dok) {
            hw.nmp_channels = (double)nmp;
            hw.pe_fpus = (double)fpus;
            hw.pe_frequency = to_base(mhz, 1e6);
            hw.pe_bandwidth = to_base(gbps, 1e9);
            hw.buffer_input = (double)buf[0] * 1024;        /* unused by the artifact's evaluator */
            hw.buffer_weight = (double)buf[1] * 1024;
            hw.buffer_output = (double)buf[2] * 1024;
        }
        ok &= dok;
    } else {
        ok = false;
    }

    const cJSON *prec = jget(c, doc, v, "precision", JT_STRING, what);
    if (prec) {
        int k = name_index(prec->valuestring, precisions);
        if (k < 0) {
            unknown_name(c, jloc(doc, prec), "precision", prec->valuestring, precisions);
            ok = false;
        } else {
            hw.precision = precs[k];
        }
    } else {
        ok = false;
    }
    long long batch, prompt, gen, max_seq;
    double util;
    ok &= jint(c, doc, jget(c, doc, v, "batch", JT_NUMBER, what), 1, 1 << 20, "batch", &batch);
    ok &= jint(c, doc, jget(c, doc, v, "prompt_len", JT_NUMBER, what), 1, 1 << 24, "prompt_len", &prompt);
    ok &= jint(c, doc, jget(c, doc, v, "gen_len", JT_NUMBER, what), 0, 1 << 24, "gen_len", &gen);
    ok &= jint(c, doc, jget(c, doc, v, "max_seq_len", JT_NUMBER, what), 1, 1 << 24, "max_seq_len", &max_seq);
    ok &= jnum(c, doc, jget(c, doc, v, "nmp_utilization", JT_NUMBER, what), 0, true, 1, "nmp_utilization", &util);

    Entry e = {0};
    e.nexp = 4;
    static const char *const exp_keys[] = {"total_latency", "prefill_latency", "decode_step_latency", "decode_total"};
    for (int i = 0; i < 4; i++) {
        const cJSON *x = jget(c, doc, v, exp_keys[i], JT_NUMBER, what);
        if (!x || !jnum(c, doc, x, 0, false, 1e30, exp_keys[i], &e.want[i])) {
            ok = false;
            continue;
        }
        e.what[i] = exp_keys[i];
        e.text[i] = jnum_text(c, doc, x);
    }

    const cJSON *model = jget(c, doc, v, "model", JT_STRING, what);
    const cJSON *mags = jget(c, doc, v, "mags", JT_ARRAY, what);
    if (!model || !mags || !ok)
        return false;
    int t = name_index(model->valuestring, model_types);
    if (t < 0) {
        unknown_name(c, jloc(doc, model), "model", model->valuestring, model_types);
        return false;
    }
    const ArtModel *m = get_model(c, model_types[t], jloc(doc, model));
    if (!m)
        return false;
    e.p = ARENA_NEW(&c->arena, DfProblem);
    build_problem(m, &hw, (int)batch, (int)prompt, (int)gen, (int)max_seq, e.p);
    e.p->nmp_util = util;
    e.plan = ARENA_NEW(&c->arena, DfPlan);
    e.plan->nops = e.p->nops;
    for (int i = 0; i < e.p->nops; i++)
        e.plan->a[i].ratio = -1;
    PlanCtx pc = {e.p, e.plan, {0}, 0};
    if (!read_mags(c, doc, &pc, mags))
        return false;
    for (int i = 0; i < e.p->nops; i++) {
        if (!pc.seen[i]) {
            diag_error(c->d, jkey_loc(doc, mags), "op '%s' of %s is not mapped", e.p->ops[i].name, m->type);
            ok = false;
        }
    }
    if (!ok)
        return false;
    if (!art_capacity_ok(e.p, e.plan))
        diag_warning(c->d, jloc(doc, v), "this dataflow fails the artifact's capacity check, which it never lets through");
    e.name = arena_printf(&c->arena, "vector %d %s b%lld", index, m->type, batch);
    VEC_PUSH(&c->arena, es->items, es->count, es->cap, e);
    return true;
}

static bool read_vectors(Ctx *c, const char *path, Entries *es) {
    static const char *const keys[] = {"note", "vectors", NULL};
    JDoc *doc = json_load(c, path, NOLOC);
    if (!doc)
        return false;
    const cJSON *r = doc->root;
    if (!jexpect(c, doc, r, JT_OBJECT, "a test-vector file"))
        return false;
    bool ok = jkeys(c, doc, r, keys, "a test-vector file");
    const cJSON *note = cJSON_GetObjectItemCaseSensitive(r, "note");
    if (note && !jexpect(c, doc, note, JT_STRING, "note"))
        ok = false;
    const cJSON *vs = jget(c, doc, r, "vectors", JT_ARRAY, "a test-vector file");
    if (!vs)
        return false;
    if (!vs->child) {
        diag_error(c->d, jloc(doc, vs), "no test vectors");
        return false;
    }
    int i = 0;
    for (const cJSON *v = vs->child; v && !c->d->stop; v = v->next)
        ok &= read_vector(c, doc, v, i++, es);
    return ok;
}

/* ---------------------------------------------------------------- baseline table */

typedef struct Field {
    const char *s;
    int col, len;       /* 1-based column and length on the line */
} Field;

/* A decimal number: [+-]digits[.digits][e[+-]digits], with at least one digit before the exponent. */
static bool decimal(const char *s, int n) {
    int i = 0, digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (digits == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        int ed = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, ed++;
        if (ed == 0)
            return false;
    }
    return i == n;
}

static Loc field_loc(const SrcFile *src, int line, Field f) { return mkloc(src, line, f.col, f.len); }

static bool read_baselines(Ctx *c, const char *path, Entries *es) {
    static const char *const header[] = {"model", "ds", "bs", "baseline", "total", "prefill", "decode_total"};
    static const char *const datasets[] = {"he", "sg", "lb", "lg", NULL};
    static const int ds_len[][2] = {{157, 67}, {783, 209}, {1886, 97}, {1971, 17}};   /* prompt, gen (§6.3) */
    static const char *const baselines[] = {"CP", "Attn-NMP", "Attn-NMP-Split", "FC-NMP", NULL};
    static const DataflowMode modes[] = {DF_NPU_ONLY, DF_ATTN_NMP, DF_ATTN_NMP_SPLIT, DF_FC_NMP};
    SrcFile *src = read_src(c, path, NOLOC);
    if (!src)
        return false;
    bool ok = true, have_header = false;
    int line = 0;
    for (const char *p = src->text, *end = src->text + src->len; p < end && !c->d->stop;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line++;
        Field f[9];
        int nf = 0, extra_col = 0;
        for (const char *q = p; q < le;) {
            while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
                q++;
            if (q == le)
                break;
            const char *s = q;
            while (q < le && *q != ' ' && *q != '\t' && *q != '\r')
                q++;
            if (nf < 8)
                f[nf++] = (Field){arena_strndup(&c->arena, s, (size_t)(q - s)), (int)(s - p) + 1, (int)(q - s)};
            else if (!extra_col)
                extra_col = (int)(s - p) + 1;
        }
        int eol_col = (int)(le - p) + 1;
        while (eol_col > 1 && p[eol_col - 2] == '\r')
            eol_col--;
        p = nl ? nl + 1 : end;
        if (nf == 0 || f[0].s[0] == '#')
            continue;
        if (!have_header) {
            have_header = true;
            for (int i = 0; i < 7; i++) {
                if (i >= nf) {
                    diag_error(c->d, mkloc(src, line, eol_col, 0), "the header ends early: expected '%s' (the header is "
                               "'model ds bs baseline total prefill decode_total')", header[i]);
                    ok = false;
                    break;
                }
                if (strcmp(f[i].s, header[i]) != 0) {
                    diag_error(c->d, field_loc(src, line, f[i]), "expected '%s' in the header, not '%s' (the header is "
                               "'model ds bs baseline total prefill decode_total')", header[i], f[i].s);
                    ok = false;
                    break;
                }
            }
            if (ok && nf > 7 && f[7].s[0] != '(') {
                diag_error(c->d, field_loc(src, line, f[7]), "unexpected '%s' after the header's 7 names (only a "
                           "parenthesised note may follow)", f[7].s);
                ok = false;
            }
            continue;
        }
        if (nf < 7) {
            diag_error(c->d, mkloc(src, line, eol_col, 0), "expected 7 fields (model ds bs baseline total prefill "
                       "decode_total), found %d", nf);
            ok = false;
            continue;
        }
        if (nf > 7) {
            diag_error(c->d, field_loc(src, line, f[7]), "unexpected field '%s': a line has 7 fields (model ds bs "
                       "baseline total prefill decode_total)", f[7].s);
            ok = false;
            continue;
        }
        bool lok = true;
        int mt = name_index(f[0].s, model_types), ds = name_index(f[1].s, datasets), bl = name_index(f[3].s, baselines);
        if (mt < 0) {
            unknown_name(c, field_loc(src, line, f[0]), "model", f[0].s, model_types);
            lok = false;
        }
        if (ds < 0) {
            unknown_name(c, field_loc(src, line, f[1]), "dataset", f[1].s, datasets);
            lok = false;
        }
        long long batch = 0;
        bool digits = f[2].len > 0 && f[2].len <= 7;
        for (int i = 0; i < f[2].len; i++)
            digits &= f[2].s[i] >= '0' && f[2].s[i] <= '9';
        if (digits)
            batch = strtoll(f[2].s, NULL, 10);
        if (!digits || batch < 1) {
            diag_error(c->d, field_loc(src, line, f[2]), "the batch size must be a positive integer, not '%s'", f[2].s);
            lok = false;
        }
        if (bl < 0) {
            unknown_name(c, field_loc(src, line, f[3]), "baseline", f[3].s, baselines);
            lok = false;
        }
        Entry e = {0};
        e.nexp = 3;
        static const char *const whats[] = {"total", "prefill", "decode_total"};
        for (int i = 0; i < 3; i++) {
            Field x = f[4 + i];
            char *endp;
            double v = decimal(x.s, x.len) ? strtod(x.s, &endp) : NAN;
            if (!isfinite(v) || v < 0) {
                diag_error(c->d, field_loc(src, line, x), "%s must be a non-negative decimal number of seconds, not '%s'",
                           whats[i], x.s);
                lok = false;
            }
            e.what[i] = whats[i];
            e.text[i] = x.s;
            e.want[i] = v;
        }
        if (!lok) {
            ok = false;
            continue;
        }
        const ArtModel *m = get_model(c, model_types[mt], field_loc(src, line, f[0]));
        if (!m) {
            ok = false;
            continue;
        }
        /* the devices of the baselines (§6.3): CP has no NMP channel and twice the NPU; the others
         * 6 NMP channels of (8 FPUs, 600 MHz, 25.6 GB/s) PEs */
        Hardware hw;
        hardware_defaults_named(&hw, "artifact");
        hw.precision = PREC_FP16;
        if (modes[bl] == DF_NPU_ONLY) {
            hw.nmp_channels = 0;
            hw.npu_throughput = 2 * hw.npu_throughput;
        } else {
            hw.nmp_channels = 6;
            hw.pe_fpus = 8;
            hw.pe_frequency = 600e6;
            hw.pe_bandwidth = 25.6e9;
        }
        e.p = ARENA_NEW(&c->arena, DfProblem);
        build_problem(m, &hw, (int)batch, ds_len[ds][0], ds_len[ds][1], 2048, e.p);
        e.mode = modes[bl];
        e.name = arena_printf(&c->arena, "%s %s %lld %s", f[0].s, f[1].s, batch, f[3].s);
        VEC_PUSH(&c->arena, es->items, es->count, es->cap, e);
    }
    if (ok && !have_header) {
        diag_error(c->d, mkloc(src, 0, 0, 0), "no header line 'model ds bs baseline total prefill decode_total'");
        return false;
    }
    if (ok && es->count == 0) {
        diag_error(c->d, mkloc(src, 0, 0, 0), "no baseline lines after the header");
        return false;
    }
    return ok;
}

/* ---------------------------------------------------------------- comparing */

/* Significant digits of a decimal as written: from the first non-zero digit to the exponent. */
static int sig_digits(const char *t) {
    int n = 0;
    bool lead = true;
    for (; *t && *t != 'e' && *t != 'E'; t++) {
        if (*t < '0' || *t > '9' || (lead && *t == '0'))
            continue;
        lead = false;
        n++;
    }
    return n;
}

static double round_sig(double v, int digits) {
    if (digits < 1 || digits > 17 || !isfinite(v))
        return v;
    char buf[64];
    snprintf(buf, sizeof buf, "%.*e", digits - 1, v);
    return strtod(buf, NULL);
}

static double rel_err(double got, double want) {
    double e = want == 0 ? (got == 0 ? 0 : INFINITY) : fabs(got - want) / fabs(want);
    return isnan(e) ? INFINITY : e;
}

static void fmt_err(char *buf, size_t n, double e) {
    if (e == 0)
        snprintf(buf, n, "0");
    else
        snprintf(buf, n, "%.3g", e);
}

static void compare(const char *path, const Entries *es, FILE *out, CompatSummary *sum) {
    fprintf(out, "# %s: %d entr%s. Columns: entry, computed total, expected total, relative error, raw relative "
            "error. An entry's error is the largest over its numbers (total, prefill, decode), each computed value "
            "first rounded to as many significant digits as its expected value is written with; the raw error "
            "skips the rounding. Tolerance %g.\n", path, es->count, es->count == 1 ? "y" : "ies", COMPAT_TOLERANCE);
    for (int k = 0; k < es->count; k++) {
        const Entry *e = &es->items[k];
        CostResult r;
        if (e->plan)
            cost_artifact.evaluate(e->p, e->plan, &r);
        else if (!art_baseline(e->p, e->mode, &r))
            h2c_unreachable("a baseline's device does not fit its mode");
        double got[4] = {r.total, r.prefill, e->plan ? r.decode_step : r.decode, r.decode};
        double err = 0, raw = 0;
        int worst = 0;
        for (int i = 0; i < e->nexp; i++) {
            double x = rel_err(round_sig(got[i], sig_digits(e->text[i])), e->want[i]);
            double y = rel_err(got[i], e->want[i]);
            if (x > err) {
                err = x;
                worst = i;
            }
            if (y > raw)
                raw = y;
        }
        char cbuf[32], ebuf[16], rbuf[16];
        fmt_double(cbuf, sizeof cbuf, got[0]);
        fmt_err(ebuf, sizeof ebuf, err);
        fmt_err(rbuf, sizeof rbuf, raw);
        bool fail = !(err <= COMPAT_TOLERANCE);
        fprintf(out, "%-28s %-22s %-22s %-8s %s", e->name, cbuf, e->text[0], ebuf, rbuf);
        if (fail)
            fprintf(out, "  FAIL (%s)", e->what[worst]);
        fputc('\n', out);
        sum->entries++;
        sum->failed += fail;
        if (!(err <= sum->max_err))
            sum->max_err = err;
        if (!(raw <= sum->max_raw))
            sum->max_raw = raw;
    }
    char ebuf[16], rbuf[16];
    fmt_err(ebuf, sizeof ebuf, sum->max_err);
    fmt_err(rbuf, sizeof rbuf, sum->max_raw);
    fprintf(out, "max relative error: %s (raw %s)\n", ebuf, rbuf);
}

/* JSON if the first byte after white space (and a UTF-8 byte-order mark) is '{'. */
static bool looks_json(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    int ch, n = 0;
    while ((ch = fgetc(fp)) != EOF && (ch <= 32 || (n < 3 && (ch == 0xEF || ch == 0xBB || ch == 0xBF))))
        n++;
    fclose(fp);
    return ch == '{';
}

bool compat_check(const char *path, const char *configs, FILE *out, CompatSummary *sum, Diag *d) {
    memset(sum, 0, sizeof *sum);
    jmp_buf jb;
    Ctx *const c = ctx_new(d, configs, &jb);
    if (!c || setjmp(jb)) {
        if (c)
            ctx_free(c);
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    Entries *es = ARENA_NEW(&c->arena, Entries);
    int errors = d->errors;
    bool ok = looks_json(path) ? read_vectors(c, path, es) : read_baselines(c, path, es);
    ok = ok && d->errors == errors;
    if (ok)
        compare(path, es, out, sum);
    ctx_free(c);
    return ok;
}
