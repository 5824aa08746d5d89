/* profile.c: head profiles (sparse/): reading DuoAttention's full_attention_heads.tsv, a
 * `layer,head,score` CSV and the CSV `h2c profile` writes, strictly and with located errors; writing
 * the latter; and turning scores into per-head patterns (the heads of lowest score become static).
 * pass_sparsity reads a sparsity block's `profile` here; `h2c profile` measures and writes one. */
#include "sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const sparse_pattern_names[SPAT_COUNT_] = {"dense", "static", "dynamic"};

enum {
    PROFILE_MAX_BYTES = 64 << 20,   /* a profile of a million heads is a few MiB */
    MAX_INDEX = 1000000000,         /* layer and head numbers above this are not read */
};
/* DuoAttention's gates are trained values, clipped to [0, 1] by its loader (np.clip); the released
 * ones stray below 0 by up to about 3e-4. Within this of [0, 1] a gate is clipped, further is an error. */
#define GATE_SLACK 0.01

/* A field of a line: bytes [at, at + len) of the text, on line `line` from column `col`. */
typedef struct Field {
    const char *at;
    int len, line, col;
} Field;

typedef struct Reader {
    const SrcFile *src;
    Diag *d;
    Loc named;              /* where the profile is named (for a note), or NOLOC */
    int layers, kv_heads;
    const char *p, *end;    /* the next line starts at p */
    int line;               /* the line p starts (1-based) */
} Reader;

static Loc field_loc(const Reader *r, const Field *f) {
    return (Loc){r->src, f->line, f->col, f->len};
}

static void note_named(Reader *r) {
    if (r->named.file)
        diag_note(r->d, r->named, "the profile is named here");
}

__attribute__((format(printf, 3, 4))) static bool fail(Reader *r, Loc at, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(r->d, DIAG_ERROR, at, fmt, ap);
    va_end(ap);
    note_named(r);
    return false;
}

/* The next line, without its '\n' (and a '\r' before it): false at the end of the text. */
static bool next_line(Reader *r, const char **s, int *len, int *line) {
    if (r->p >= r->end)
        return false;
    const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
    const char *e = nl ? nl : r->end;
    *s = r->p;
    *len = (int)(e - r->p);
    if (*len > 0 && (*s)[*len - 1] == '\r')
        (*len)--;
    *line = r->line++;
    r->p = nl ? nl + 1 : r->end;
    return true;
}

/* Splits a line at `sep` into at most max fields; returns the count (max + 1 if there are more). */
static int split(const char *s, int len, int line, char sep, Field *out, int max) {
    int n = 0, start = 0;
    for (int i = 0; i <= len; i++)
        if (i == len || s[i] == sep) {
            if (n == max)
                return max + 1;
            out[n++] = (Field){s + start, i - start, line, start + 1};
            start = i + 1;
        }
    return n;
}

/* A decimal number as numpy and C print them: [+-] digits [. digits] [e [+-] digits] (or .digits):
 * no hex, no inf or nan, no spaces. False if f is not one; *v its value (finite unless it overflows). */
static bool parse_number(const Field *f, double *v) {
    const char *s = f->at, *e = f->at + f->len;
    if (s < e && (*s == '+' || *s == '-'))
        s++;
    int digits = 0;
    while (s < e && *s >= '0' && *s <= '9')
        s++, digits++;
    if (s < e && *s == '.') {
        s++;
        while (s < e && *s >= '0' && *s <= '9')
            s++, digits++;
    }
    if (digits == 0)
        return false;
    if (s < e && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < e && (*s == '+' || *s == '-'))
            s++;
        int ed = 0;
        while (s < e && *s >= '0' && *s <= '9')
            s++, ed++;
        if (ed == 0)
            return false;
    }
    if (s != e || f->len > 400)
        return false;
    char buf[408];
    memcpy(buf, f->at, (size_t)f->len);
    buf[f->len] = 0;
    *v = strtod(buf, NULL);
    return true;
}

/* A layer or head number: decimal digits only. */
static bool parse_index(const Field *f, long *v) {
    if (f->len == 0 || f->len > 10)
        return false;
    long x = 0;
    for (int i = 0; i < f->len; i++) {
        if (f->at[i] < '0' || f->at[i] > '9')
            return false;
        x = x * 10 + (f->at[i] - '0');
    }
    *v = x;
    return true;
}

/* "'text'" of a field for a message (cut when long). */
static const char *shown(const Field *f, char *buf, size_t n) {
    snprintf(buf, n, "%.*s%s", f->len > 40 ? 40 : f->len, f->at, f->len > 40 ? "..." : "");
    return buf;
}

static bool is_blank_last(const Reader *r, int len) {
    return len == 0 && r->p >= r->end;
}

/* ---------------------------------------------------------------- DuoAttention's pattern */

/* full_attention_heads.tsv (np.savetxt(..., delimiter="\t")): a row of gates per layer, a gate per KV
 * head, each a decimal number, tabs between them, nothing else. */
static bool read_tsv(Reader *r, double *scores) {
    const char *s;
    int len, line, rows = 0, cols = 0, first_len = 0, last_line = 1, last_len = 0;
    int maxf = r->kv_heads > 4096 ? r->kv_heads : 4096;
    Field *f = h2c_raw_alloc(sizeof(Field) * (size_t)(maxf + 1));
    if (!f)
        return fail(r, NOLOC, "out of memory");
    bool ok = true;
    while (ok && next_line(r, &s, &len, &line)) {
        if (is_blank_last(r, len))
            break;
        if (len == 0) {
            ok = fail(r, (Loc){r->src, line, 1, 0}, "empty line in a DuoAttention pattern: it has one row of "
                      "tab-separated gates per layer");
            break;
        }
        int n = split(s, len, line, '\t', f, maxf);
        if (n > maxf) {
            ok = fail(r, (Loc){r->src, line, 1, len}, "more than %d gates in a row", maxf);
            break;
        }
        for (int k = 0; k < n && ok; k++) {
            double v;
            char b[64];
            if (f[k].len == 0) {
                Loc at = field_loc(r, &f[k]);
                at.len = 1;
                ok = fail(r, at, "empty gate (two tabs in a row, or a tab at the end of the line)");
            } else if (!parse_number(&f[k], &v)) {
                ok = fail(r, field_loc(r, &f[k]), "'%s' is not a number: a gate is a decimal number in [0, 1]",
                          shown(&f[k], b, sizeof b));
            } else if (!(v >= -GATE_SLACK && v <= 1 + GATE_SLACK)) {
                ok = fail(r, field_loc(r, &f[k]), "gate %s is outside [0, 1]", shown(&f[k], b, sizeof b));
            } else if (rows < r->layers && k < r->kv_heads) {
                scores[rows * r->kv_heads + k] = v < 0 ? 0 : v > 1 ? 1 : v;  /* DuoAttention's np.clip */
            }
        }
        if (ok && rows == 0) {
            cols = n;
            first_len = len;
        } else if (ok && n != cols) {
            ok = fail(r, (Loc){r->src, line, 1, len}, "row %d has %d gate%s, row 1 has %d: a DuoAttention pattern "
                      "has one gate per KV head in every row", rows + 1, n, plural(n), cols);
        }
        rows++;
        last_line = line;
        last_len = len;
    }
    h2c_raw_free(f, sizeof(Field) * (size_t)(maxf + 1));
    if (!ok)
        return false;
    if (rows == 0)
        return fail(r, (Loc){r->src, 1, 1, 0}, "empty profile: a DuoAttention pattern has one row of gates per layer");
    if (rows != r->layers || cols != r->kv_heads) {
        /* at the first row of the wrong width, the first extra row, or the last row when rows are missing */
        Loc at = cols != r->kv_heads ? (Loc){r->src, 1, 1, first_len}
                 : rows > r->layers  ? (Loc){r->src, r->layers + 1, 1, 0}
                                     : (Loc){r->src, last_line, last_len + 1, 0};
        return fail(r, at, "the profile is %d x %d (%d row%s of %d gate%s: layers x KV heads), but the model has %d "
                    "layer%s x %d KV head%s", rows, cols, rows, plural(rows), cols, plural(cols), r->layers,
                    plural(r->layers), r->kv_heads, plural(r->kv_heads));
    }
    return true;
}

/* ---------------------------------------------------------------- CSV */

typedef struct Row {
    long layer, head;
    int line;
} Row;

/* `layer,head,score` rows; an optional header line naming those three columns first and, in the
 * CSV h2c profile writes, more after them (ignored); `#` lines are comments. */
static bool read_csv(Reader *r, double *scores) {
    const char *s;
    int len, line, ncols = 0, header_line = 0, last_line = 0;
    Field f[65];
    long cells = (long)r->layers * r->kv_heads;
    int *first = h2c_raw_alloc(sizeof(int) * (size_t)cells);  /* the line of each (layer, head) (0: none yet) */
    if (!first)
        return fail(r, NOLOC, "out of memory");
    memset(first, 0, sizeof(int) * (size_t)cells);
    long seen = 0, max_layer = -1, max_head = -1;
    Row out_of_range = {-1, -1, 0};
    bool ok = true;
    while (ok && next_line(r, &s, &len, &line)) {
        if (is_blank_last(r, len))
            break;
        if (len > 0 && s[0] == '#')
            continue;
        if (len == 0) {
            ok = fail(r, (Loc){r->src, line, 1, 0}, "empty line in a CSV profile (comments start with '#')");
            break;
        }
        int n = split(s, len, line, ',', f, 64);
        if (n > 64) {
            ok = fail(r, (Loc){r->src, line, 1, len}, "more than 64 columns");
            break;
        }
        long lh;
        if (ncols == 0 && !parse_index(&f[0], &lh)) {
            /* a header: layer,head,score first */
            static const char *const want[3] = {"layer", "head", "score"};
            for (int k = 0; k < 3 && ok; k++)
                if (k >= n || f[k].len != (int)strlen(want[k]) || memcmp(f[k].at, want[k], (size_t)f[k].len) != 0) {
                    Loc at = k < n ? field_loc(r, &f[k]) : (Loc){r->src, line, len + 1, 0};
                    char b[64];
                    ok = k < n ? fail(r, at, "expected the column '%s' here, found '%s': a CSV profile's columns are "
                                      "layer,head,score (the header line may be left out)", want[k],
                                      shown(&f[k], b, sizeof b))
                               : fail(r, at, "expected the column '%s' here: a CSV profile's columns are "
                                      "layer,head,score", want[k]);
                }
            for (int k = 3; k < n && ok; k++)
                if (f[k].len == 0) {
                    Loc at = field_loc(r, &f[k]);
                    at.len = 1;
                    ok = fail(r, at, "empty column name in the header");
                }
            ncols = n;
            header_line = line;
            continue;
        }
        if (ncols == 0)
            ncols = 3;
        if (n != ncols) {
            ok = header_line ? fail(r, (Loc){r->src, line, 1, len}, "%d field%s in this row, %d in the header (line %d)",
                                    n, plural(n), ncols, header_line)
                             : fail(r, (Loc){r->src, line, 1, len}, "%d field%s in this row: a row is layer,head,score",
                                    n, plural(n));
            break;
        }
        long layer, head;
        double v;
        char b[64];
        if (!parse_index(&f[0], &layer) || layer > MAX_INDEX) {
            ok = fail(r, field_loc(r, &f[0]), "'%s' is not a layer number (0, 1, 2, ...)", shown(&f[0], b, sizeof b));
            break;
        }
        if (!parse_index(&f[1], &head) || head > MAX_INDEX) {
            ok = fail(r, field_loc(r, &f[1]), "'%s' is not a KV head number (0, 1, 2, ...)", shown(&f[1], b, sizeof b));
            break;
        }
        if (!parse_number(&f[2], &v) || !isfinite(v)) {
            ok = fail(r, field_loc(r, &f[2]), "'%s' is not a score: a score is a finite decimal number",
                      shown(&f[2], b, sizeof b));
            break;
        }
        last_line = line;
        max_layer = layer > max_layer ? layer : max_layer;
        max_head = head > max_head ? head : max_head;
        if (layer >= r->layers || head >= r->kv_heads) {
            if (!out_of_range.line)
                out_of_range = (Row){layer, head, line};
            continue;
        }
        long cell = layer * r->kv_heads + head;
        if (first[cell]) {
            Loc at = {r->src, line, 1, f[1].col + f[1].len - 1}, then = {r->src, first[cell], 1, 0};
            diag_error(r->d, at, "layer %ld head %ld is given twice", layer, head);
            diag_note(r->d, then, "first given here");
            note_named(r);
            ok = false;
            break;
        }
        first[cell] = line;
        scores[cell] = v;
        seen++;
    }
    if (ok && out_of_range.line) {
        /* the shape the file covers against the model's */
        Loc at = {r->src, out_of_range.line, 1, 0};
        ok = fail(r, at, "layer %ld head %ld is outside the model: the profile covers %ld layer%s x %ld KV head%s, the "
                  "model has %d layer%s x %d KV head%s", out_of_range.layer, out_of_range.head, max_layer + 1,
                  plural(max_layer + 1), max_head + 1, plural(max_head + 1), r->layers, plural(r->layers), r->kv_heads,
                  plural(r->kv_heads));
    } else if (ok && seen == 0) {
        ok = fail(r, (Loc){r->src, header_line ? header_line : 1, 1, 0}, "no scores: a CSV profile has a "
                  "layer,head,score row for each of the model's %d layer%s x %d KV head%s", r->layers,
                  plural(r->layers), r->kv_heads, plural(r->kv_heads));
    } else if (ok && seen < cells) {
        long miss = 0, first_miss = -1;
        for (long c = 0; c < cells; c++)
            if (!first[c]) {
                miss++;
                if (first_miss < 0)
                    first_miss = c;
            }
        Loc at = {r->src, last_line, 1, 0};
        if (max_layer + 1 != r->layers || max_head + 1 != r->kv_heads)
            ok = fail(r, at, "the profile covers %ld layer%s x %ld KV head%s, the model has %d layer%s x %d KV head%s",
                      max_layer + 1, plural(max_layer + 1), max_head + 1, plural(max_head + 1), r->layers,
                      plural(r->layers), r->kv_heads, plural(r->kv_heads));
        else
            ok = fail(r, at, "no score for layer %ld head %ld (%ld of the %ld (layer, head) pairs are missing)",
                      first_miss / r->kv_heads, first_miss % r->kv_heads, miss, cells);
    }
    h2c_raw_free(first, sizeof(int) * (size_t)cells);
    return ok;
}

/* ---------------------------------------------------------------- the entry points */

static const char *extension(const char *path) {
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash) ? dot + 1 : "";
}

bool sparse_profile_load(const char *path, int layers, int kv_heads, double *scores, Loc at, Diag *d) {
    if (layers < 1 || kv_heads < 1)
        h2c_unreachable("a profile for a model without heads");
    Arena a;
    arena_init(&a);
    bool ok = false;
    SrcFile *src = srcfile_read(&a, d, path, at, PROFILE_MAX_BYTES);
    if (!src) {
        arena_free(&a);
        return false;
    }
    Reader r = {src, d, at, layers, kv_heads, src->text, src->text + src->len, 1};
    /* the format: by its first line that is not a comment, and the extension if it has a telling one */
    const char *s = src->text, *e = src->text + src->len;
    bool comment = s < e && *s == '#';
    while (s < e && *s == '#') {
        const char *nl = memchr(s, '\n', (size_t)(e - s));
        s = nl ? nl + 1 : e;
    }
    const char *nl = memchr(s, '\n', (size_t)(e - s));
    const char *le = nl ? nl : e;
    bool comma = memchr(s, ',', (size_t)(le - s)) != NULL, tab = memchr(s, '\t', (size_t)(le - s)) != NULL;
    const char *ext = extension(path);
    if (memchr(src->text, 0, src->len)) {
        fail(&r, (Loc){src, 0, 0, 0}, "not a text file: a profile is a CSV or DuoAttention's TSV");
    } else if (strcmp(ext, "tsv") == 0 && (comma || comment)) {
        fail(&r, (Loc){src, 1, 1, 0}, "a .tsv profile is DuoAttention's pattern, tab-separated gates without "
             "comments; this one has %s (name a CSV profile .csv)", comma ? "commas" : "a comment");
    } else if (strcmp(ext, "csv") == 0 && tab && !comma) {
        fail(&r, (Loc){src, 1, 1, 0}, "a .csv profile is comma-separated; this one has tabs (DuoAttention's "
             "tab-separated pattern is read from a .tsv file)");
    } else if (strcmp(ext, "csv") == 0 || comma || comment) {
        ok = read_csv(&r, scores);
    } else {
        ok = read_tsv(&r, scores);
    }
    arena_free(&a);
    return ok;
}

const char *sparse_profile_path(Arena *a, const char *path, Loc at) {
    if (path[0] == '/' || !at.file || !at.file->name)
        return arena_strdup(a, path);
    const char *from = at.file->name, *slash = strrchr(from, '/');
    if (!slash)
        return arena_strdup(a, path);
    return arena_printf(a, "%.*s/%s", (int)(slash - from), from, path);
}

/* ---------------------------------------------------------------- patterns */

typedef struct Ranked {
    double score;
    int cell;               /* layer * kv_heads + head */
} Ranked;

/* Lowest score first; ties by (layer, head), i.e. by cell. */
static int cmp_ranked(const void *pa, const void *pb) {
    const Ranked *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    return (a->cell > b->cell) - (a->cell < b->cell);
}

int sparse_assign(const Sparsity *sp, int layers, int kv_heads, const double *scores, SparsePattern *out) {
    int cells = layers * kv_heads;
    for (int c = 0; c < cells; c++)
        out[c] = SPAT_DENSE;
    if (!sp || sp->mode == SP_DENSE)
        return 0;
    int dense = sp->dense_layers < layers ? sp->dense_layers : layers;
    int first = dense * kv_heads, eligible = cells - first;
    if (sp->mode == SP_STATIC || sp->mode == SP_DYNAMIC) {
        for (int c = first; c < cells; c++)
            out[c] = sp->mode == SP_STATIC ? SPAT_STATIC : SPAT_DYNAMIC;
        return sp->mode == SP_STATIC ? eligible : 0;
    }
    /* hybrid: the smallest count that meets the share (a hair below an integer is that integer) */
    int nstatic = (int)ceil(sp->static_heads * eligible - 1e-9);
    nstatic = nstatic < 0 ? 0 : nstatic > eligible ? eligible : nstatic;
    Ranked *order = h2c_raw_alloc(sizeof(Ranked) * (size_t)(eligible + 1));
    if (!order)
        return -1;
    for (int k = 0; k < eligible; k++)
        order[k] = (Ranked){scores ? scores[first + k] : 0, first + k};
    qsort(order, (size_t)eligible, sizeof(Ranked), cmp_ranked);
    for (int k = 0; k < eligible; k++)
        out[order[k].cell] = k < nstatic ? SPAT_STATIC : SPAT_DYNAMIC;
    h2c_raw_free(order, sizeof(Ranked) * (size_t)(eligible + 1));
    return nstatic;
}

/* ---------------------------------------------------------------- writing */

void sparse_profile_write(FILE *out, const char *const *comments, int ncomments, int layers, int kv_heads,
                          const HeadProfile *heads) {
    for (int i = 0; i < ncomments; i++)
        fprintf(out, "# %s\n", comments[i]);
    fputs("layer,head,score,kept,plan,max_rel_error\n", out);
    for (int l = 0; l < layers; l++)
        for (int h = 0; h < kv_heads; h++) {
            const HeadProfile *hp = &heads[l * kv_heads + h];
            char sc[32], kp[32], er[32] = "";
            fmt_double(sc, sizeof sc, hp->score);
            fmt_double(kp, sizeof kp, hp->kept);
            if (!isnan(hp->error))
                fmt_double(er, sizeof er, hp->error);
            fprintf(out, "%d,%d,%s,%s,%s,%s\n", l, h, sc, kp, sparse_pattern_names[hp->plan], er);
        }
}
