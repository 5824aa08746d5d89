/* parse.c: reads the IR's text form (docs/ir.md) back into a Module: a hand-written scanner and a
 * recursive-descent reader. Newlines are not significant; every entity starts with a keyword. Names
 * may refer forward; they are resolved at the end. The first error is reported with its location
 * in the text and reading stops. The reader checks the syntax and names; ir_verify the rest. */
#include "ir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef enum TokKind {
    T_EOF,
    T_IDENT,    /* names, keywords, dotted paths, kebab-case words */
    T_VAR,      /* %name */
    T_NUM,      /* number, with an optional unit written right after it */
    T_STR,      /* "..." */
    T_LOC,      /* @path:line:col */
    T_DOTDOT,   /* .. */
    T_PUNCT,    /* one of = [ ] { } ( ) , : * - . */
} TokKind;

typedef struct Tok {
    TokKind kind;
    const char *start;  /* in the text */
    int len;
    char punct;
    char text[4160];    /* identifier, variable name, string contents, number literal, loc text (a path
                           of up to PATH_MAX bytes and its :line:col) */
    char unit[16];      /* T_NUM: its unit, or "" */
    Loc loc;
} Tok;

typedef struct Reader {
    Module *m;
    Diag *d;
    const SrcFile *src;
    const char *p, *end;
    int line, col;
    Tok tok;
    jmp_buf bail;
    /* forward references, resolved at the end */
    struct Ref { int phase, op, slot; const char *name; Loc loc; } *inrefs;
    int ninrefs, inrefs_cap;
    struct TRef { int phase, op; const char *name; Loc loc; bool weight; } *trefs;
    int ntrefs, trefs_cap;
    /* names to indices, so that a reference costs one hash lookup (on the heap: set before the
       setjmps, freed on every way out) */
    struct Index { StrIndex ops[PH_COUNT_], tensors; } *idx;
    /* an attention's ops and tensors: value, score, K, V */
    struct ARef { int attn; const char *name[4]; Loc loc[4]; } *arefs;
    int narefs, arefs_cap;
} Reader;

static _Noreturn void rd_error(Reader *r, Loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static _Noreturn void rd_error(Reader *r, Loc loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(r->d, DIAG_ERROR, loc, fmt, ap);
    va_end(ap);
    longjmp(r->bail, 1);
}

static const char *tok_desc(const Tok *t, char *buf, size_t n) {
    switch (t->kind) {
    case T_EOF: return "end of input";
    case T_IDENT: snprintf(buf, n, "'%.200s'", t->text); return buf;
    case T_VAR: snprintf(buf, n, "'%%%.200s'", t->text); return buf;
    case T_NUM: snprintf(buf, n, "number '%.200s%s'", t->text, t->unit); return buf;
    case T_STR: return "a string";
    case T_LOC: return "a location";
    case T_DOTDOT: return "'..'";
    case T_PUNCT: snprintf(buf, n, "'%c'", t->punct); return buf;
    }
    return "?";
}

static void index_add(Reader *r, StrIndex *x, const char *name, int value, Loc at) {
    if (strindex_add(x, name, value) == -2)
        rd_error(r, at, "out of memory");
}

static void free_index(struct Index *idx) {
    if (!idx)
        return;
    for (int p = 0; p < PH_COUNT_; p++)
        strindex_free(&idx->ops[p]);
    strindex_free(&idx->tensors);
    h2c_raw_free(idx, sizeof *idx);
}

/* ---------------------------------------------------------------- scanner */

static bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
}

static void advance(Reader *r, int n) {
    for (int i = 0; i < n && r->p < r->end; i++, r->p++) {
        if (*r->p == '\n') {
            r->line++;
            r->col = 1;
        } else {
            r->col++;
        }
    }
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes the quoted text at q (q[0] == '"') into r->tok.text from *o: the escapes write_quoted
 * makes (\\, \", \n, \t, \xHH), so strings and quoted locations read back what was printed.
 * Returns the index of the closing quote in q. */
static size_t quoted(Reader *r, const char *q, size_t *o, const char *what) {
    Tok *t = &r->tok;
    size_t k = 1, n = *o;
    while (q + k < r->end && q[k] != '"' && q[k] != '\n') {
        char ch = q[k];
        if (ch == '\\' && q + k + 1 < r->end) {
            k++;
            ch = q[k] == 'n' ? '\n' : q[k] == 't' ? '\t' : q[k];
            if (q[k] == 'x') {
                int hi = q + k + 1 < r->end ? hexval(q[k + 1]) : -1, lo = q + k + 2 < r->end ? hexval(q[k + 2]) : -1;
                if (hi < 0 || lo < 0)
                    rd_error(r, t->loc, "\\x in a %s needs two hexadecimal digits", what);
                ch = (char)(hi * 16 + lo);
                k += 2;
            }
        }
        if (ch == 0)
            rd_error(r, t->loc, "a %s cannot hold a NUL byte", what);
        if (n + 1 >= sizeof t->text)
            rd_error(r, t->loc, "%s too long", what);
        t->text[n++] = ch;
        k++;
    }
    if (q + k >= r->end || q[k] != '"')
        rd_error(r, t->loc, "unterminated %s", what);
    t->text[n] = 0;
    *o = n;
    return k;
}

static void next(Reader *r) {
    Tok *t = &r->tok;
    for (;;) {
        while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n'))
            advance(r, 1);
        if (r->p < r->end && *r->p == ';') {
            while (r->p < r->end && *r->p != '\n')
                advance(r, 1);
            continue;
        }
        break;
    }
    /* (the text buffer is long: clear its first byte, not all of it) */
    t->kind = 0;
    t->start = NULL;
    t->len = 0;
    t->punct = 0;
    t->text[0] = 0;
    t->unit[0] = 0;
    memset(&t->loc, 0, sizeof t->loc);
    t->loc = (Loc){r->src, r->line, r->col, 1};
    t->start = r->p;
    if (r->p >= r->end) {
        t->kind = T_EOF;
        return;
    }
    char c = *r->p;
    const char *s = r->p;
    size_t n = 0;
    if (c == '%' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
        size_t k = c == '%' ? 1 : 0;
        while (s + k < r->end && is_name_char(s[k]))
            k++;
        n = c == '%' ? k - 1 : k;
        if (c == '%' && n == 0)
            rd_error(r, t->loc, "'%%' must be followed by a name");
        if (n >= sizeof t->text)
            rd_error(r, t->loc, "name too long");
        memcpy(t->text, s + (c == '%'), n);
        t->text[n] = 0;
        t->kind = c == '%' ? T_VAR : T_IDENT;
        t->loc.len = (int)k;
        advance(r, (int)k);
        return;
    }
    if (c >= '0' && c <= '9') {
        size_t k = 0;
        if (c == '0' && s + 1 < r->end && (s[1] == 'x' || s[1] == 'X')) {
            k = 2;
            while (s + k < r->end && strchr("0123456789abcdefABCDEF", s[k]) && s[k])
                k++;
        } else {
            while (s + k < r->end && s[k] >= '0' && s[k] <= '9')
                k++;
            if (s + k + 1 < r->end && s[k] == '.' && s[k + 1] >= '0' && s[k + 1] <= '9') {
                k++;
                while (s + k < r->end && s[k] >= '0' && s[k] <= '9')
                    k++;
            }
            if (s + k < r->end && (s[k] == 'e' || s[k] == 'E')) {
                size_t j = k + 1;
                if (s + j < r->end && (s[j] == '+' || s[j] == '-'))
                    j++;
                if (s + j < r->end && s[j] >= '0' && s[j] <= '9') {
                    while (s + j < r->end && s[j] >= '0' && s[j] <= '9')
                        j++;
                    k = j;
                }
            }
        }
        size_t u = k;
        while (s + u < r->end && ((s[u] >= 'a' && s[u] <= 'z') || (s[u] >= 'A' && s[u] <= 'Z') || s[u] == '/' || s[u] == '%'))
            u++;
        if (k >= sizeof t->text || u - k >= sizeof t->unit)
            rd_error(r, t->loc, "number too long");
        memcpy(t->text, s, k);
        t->text[k] = 0;
        memcpy(t->unit, s + k, u - k);
        t->unit[u - k] = 0;
        t->kind = T_NUM;
        t->loc.len = (int)u;
        advance(r, (int)u);
        return;
    }
    if (c == '"') {
        size_t o = 0, k = quoted(r, s, &o, "string");
        t->kind = T_STR;
        t->loc.len = (int)k + 1;
        advance(r, (int)k + 1);
        return;
    }
    if (c == '@') {
        size_t k = 1, o = 0;
        if (s + 1 < r->end && s[1] == '"') {
            /* @"path with spaces or escapes":line:col, quoted as strings are */
            k = 1 + quoted(r, s + 1, &o, "location") + 1;
        }
        while (s + k < r->end && s[k] != ' ' && s[k] != '\t' && s[k] != '\n' && s[k] != '\r') {
            if (o + 1 >= sizeof t->text)
                rd_error(r, t->loc, "location too long");
            t->text[o++] = s[k++];
        }
        t->text[o] = 0;
        t->kind = T_LOC;
        t->loc.len = (int)k;
        advance(r, (int)k);
        return;
    }
    if (c == '.' && s + 1 < r->end && s[1] == '.') {
        t->kind = T_DOTDOT;
        t->loc.len = 2;
        advance(r, 2);
        return;
    }
    if (strchr("=[]{}(),:*-.", c) && c) {
        t->kind = T_PUNCT;
        t->punct = c;
        advance(r, 1);
        return;
    }
    if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
        rd_error(r, t->loc, "stray byte 0x%02x in IR text", (unsigned char)c);
    rd_error(r, t->loc, "unexpected character '%c'", c);
}

/* ---------------------------------------------------------------- helpers */

static bool is_kw(const Reader *r, const char *kw) { return r->tok.kind == T_IDENT && strcmp(r->tok.text, kw) == 0; }
static bool is_punct(const Reader *r, char c) { return r->tok.kind == T_PUNCT && r->tok.punct == c; }

static _Noreturn void expected(Reader *r, const char *what) {
    char buf[300];
    rd_error(r, r->tok.loc, "expected %s, found %s", what, tok_desc(&r->tok, buf, sizeof buf));
}

static void expect_punct(Reader *r, char c) {
    if (!is_punct(r, c)) {
        char w[8] = {'\'', c, '\'', 0};
        expected(r, w);
    }
    next(r);
}

static void expect_kw(Reader *r, const char *kw) {
    if (!is_kw(r, kw)) {
        char w[64];
        snprintf(w, sizeof w, "'%s'", kw);
        expected(r, w);
    }
    next(r);
}

static const char *take_ident(Reader *r, const char *what) {
    if (r->tok.kind != T_IDENT)
        expected(r, what);
    const char *s = arena_strdup(&r->m->arena, r->tok.text);
    next(r);
    return s;
}

static long long take_int(Reader *r, const char *what, long long lo, long long hi) {
    const char *t = r->tok.text;
    bool hex = t[0] == '0' && (t[1] == 'x' || t[1] == 'X');
    if (r->tok.kind != T_NUM || r->tok.unit[0] || (!hex && (strchr(t, '.') || strchr(t, 'e') || strchr(t, 'E'))))
        expected(r, what);
    errno = 0;
    char *end;
    /* decimal (leading zeros are not octal), or 0x hex */
    long long v = hex ? strtoll(t, &end, 16) : strtoll(t, &end, 10);
    if (*end)
        expected(r, what);
    if (errno == ERANGE || v < lo || v > hi)
        rd_error(r, r->tok.loc, "%s %s is out of range [%lld, %lld]", what, r->tok.text, lo, hi);
    next(r);
    return v;
}

static double take_value(Reader *r, UnitKind want, const char *what) {
    if (r->tok.kind != T_NUM)
        expected(r, what);
    const Unit *u = NULL;
    if (r->tok.unit[0]) {
        u = unit_lookup(r->tok.unit);
        if (!u)
            rd_error(r, r->tok.loc, "unknown unit '%s'", r->tok.unit);
        if (u->kind != want)
            rd_error(r, r->tok.loc, "%s is %s, not %s", what, unit_kind_name(want), unit_kind_name(u->kind));
    }
    double v;
    if (!unit_apply(r->tok.text, u, &v))
        rd_error(r, r->tok.loc, "number too large");
    next(r);
    return v;
}

/* The entity's Loc: `here`, its place in the IR text; an @file:line:col after it is recorded as its
 * .h2 origin (ir_set_origin). */
static Loc opt_loc_or(Reader *r, Loc here) {
    if (r->tok.kind != T_LOC)
        return here;
    /* path:line:col, the path may itself hold ':' */
    char *text = r->tok.text;
    char *c2 = strrchr(text, ':');
    char *c1 = NULL;
    if (c2) {
        *c2 = 0;
        c1 = strrchr(text, ':');
        *c2 = ':';
    }
    if (!c1 || c1 == text)
        rd_error(r, r->tok.loc, "a location is @file:line:col");
    char *end1, *end2;
    long line = strtol(c1 + 1, &end1, 10), col = strtol(c2 + 1, &end2, 10);
    if (end1 != c2 || *end2 || line <= 0 || col <= 0 || line > 100000000 || col > 100000000)
        rd_error(r, r->tok.loc, "a location is @file:line:col");
    *c1 = 0;
    Loc loc = {ir_intern_file(r->m, text, NULL, 0), (int)line, (int)col, 0};
    next(r);
    /* errors point at the IR text; the .h2 place is its origin, printed back and given as a note */
    ir_set_origin(r->m, here, loc);
    return here;
}

static ChanSet take_chanset(Reader *r) {
    Loc at = r->tok.loc;
    expect_kw(r, "ch");
    expect_punct(r, '{');
    ChanSet s = 0;
    for (;;) {
        long long a = take_int(r, "a channel number", 0, IR_MAX_CHANNELS - 1), b = a;
        if (is_punct(r, '-')) {
            next(r);
            b = take_int(r, "a channel number", a, IR_MAX_CHANNELS - 1);
        }
        for (long long c = a; c <= b; c++) {
            if (s & CHAN_BIT(c))
                rd_error(r, at, "channel %lld is listed twice", c);
            s |= CHAN_BIT(c);
        }
        if (is_punct(r, ',')) {
            next(r);
            continue;
        }
        break;
    }
    expect_punct(r, '}');
    return s;
}

/* chC.bB, as one identifier */
static void take_bankref(Reader *r, int *ch, int *bank) {
    int c, b, n = 0;
    if (r->tok.kind != T_IDENT || sscanf(r->tok.text, "ch%d.b%d%n", &c, &b, &n) != 2 || r->tok.text[n] || c < 0 ||
        c >= IR_MAX_CHANNELS || b < 0 || b > 1 << 20)
        expected(r, "a bank (chC.bB)");
    *ch = c;
    *bank = b;
    next(r);
}

static Place take_place(Reader *r) {
    Place p = {PLACE_CHANNELS, 0, -1, -1};
    if (is_kw(r, "ch")) {
        p.chans = take_chanset(r);
    } else {
        int c, b;
        take_bankref(r, &c, &b);
        p.kind = PLACE_BANK;
        p.chans = CHAN_BIT(c);
        p.bank = b;
    }
    if (is_kw(r, "at")) {
        next(r);
        p.offset = take_int(r, "a byte offset", 0, (long long)1 << 50);
    }
    return p;
}

static Exec take_exec(Reader *r) {
    Exec e = {EXEC_NONE, 0, -1};
    if (is_kw(r, "npu")) {
        next(r);
        e.kind = EXEC_NPU;
    } else if (is_kw(r, "nmp")) {
        next(r);
        e.kind = EXEC_NMP;
        e.chans = take_chanset(r);
    } else if (is_kw(r, "pe")) {
        next(r);
        int c, b;
        take_bankref(r, &c, &b);
        e.kind = EXEC_PE;
        e.chans = CHAN_BIT(c);
        e.bank = b;
    } else if (is_kw(r, "none")) {
        next(r);
    } else {
        expected(r, "a unit (npu, nmp ch{...}, pe chC.bB)");
    }
    return e;
}

static int take_dims(Reader *r, long long *dims, int max, const char *what) {
    expect_punct(r, '[');
    int n = 0;
    for (;;) {
        if (n == max)
            rd_error(r, r->tok.loc, "%s has more than %d dimensions", what, max);
        dims[n++] = take_int(r, "a dimension", 0, (long long)1 << 40);
        if (is_punct(r, ',')) {
            next(r);
            continue;
        }
        break;
    }
    expect_punct(r, ']');
    return n;
}

/* [r, r, ...] where r is `*` (the whole of dims[i]) or lo:hi. dims NULL: `*` not allowed. */
static void take_box(Reader *r, Range *box, int rank, const long long *dims) {
    Loc at = r->tok.loc;
    expect_punct(r, '[');
    for (int i = 0; i < rank; i++) {
        if (i)
            expect_punct(r, ',');
        if (is_punct(r, '*')) {
            if (!dims)
                rd_error(r, r->tok.loc, "'*' needs the op's shape, which is not given");
            box[i] = (Range){0, dims[i]};
            next(r);
        } else {
            box[i].lo = take_int(r, "a range start", 0, (long long)1 << 40);
            expect_punct(r, ':');
            box[i].hi = take_int(r, "a range end", 0, (long long)1 << 40);
        }
    }
    if (!is_punct(r, ']'))
        rd_error(r, at, "a tile has %d ranges here", rank);
    next(r);
}

/* ---------------------------------------------------------------- entities */

static void read_device(Reader *r) {
    Module *m = r->m;
    Hardware *hw = &m->dev.hw;
    hardware_defaults_named(hw, "");
    for (int i = 0; i < EF_COUNT_; i++)
        hw->energy[i].table = NULL;
    Loc dev_at = r->tok.loc;
    next(r);
    hw->name = take_ident(r, "the device's name");
    hw->loc = opt_loc_or(r, dev_at);
    expect_punct(r, '{');
    bool seen[HWF_COUNT_] = {false}, eseen[EF_COUNT_] = {false};
    while (!is_punct(r, '}')) {
        if (is_kw(r, "energy")) {
            next(r);
            Loc at = r->tok.loc;
            const char *name = take_ident(r, "an energy entry");
            int i;
            for (i = 0; i < EF_COUNT_; i++)
                if (strcmp(energy_names[i], name) == 0)
                    break;
            if (i == EF_COUNT_)
                rd_error(r, at, "unknown energy entry '%s'", name);
            if (eseen[i])
                rd_error(r, at, "energy entry '%s' is given twice", name);
            eseen[i] = true;
            expect_punct(r, '=');
            EnergyEntry *e = &hw->energy[i];
            if (is_punct(r, '[')) {
                if (i != EF_pe_mac)
                    rd_error(r, r->tok.loc, "only pe.mac may be a table");
                next(r);
                EnergyPoint *pts = NULL;
                int n = 0, cap = 0;
                for (;;) {
                    EnergyPoint pt;
                    pt.freq = take_value(r, UK_FREQ, "a frequency");
                    pt.pj = take_value(r, UK_ENERGY_MAC, "an energy per MAC");
                    VEC_PUSH(&m->arena, pts, n, cap, pt);
                    if (is_punct(r, ',')) {
                        next(r);
                        continue;
                    }
                    break;
                }
                expect_punct(r, ']');
                e->table = pts;
                e->ntable = n;
            } else {
                e->table = NULL;
                e->ntable = 0;
                e->value = take_value(r, energy_kinds[i], name);
            }
            expect_kw(r, "from");
            if (r->tok.kind != T_STR)
                expected(r, "the entry's source in quotes");
            e->source = arena_strdup(&m->arena, r->tok.text);
            next(r);
            e->loc = opt_loc_or(r, at);
            continue;
        }
        Loc at = r->tok.loc;
        const char *path = take_ident(r, "a device field or '}'");
        int i;
        for (i = 0; i < HWF_COUNT_; i++)
            if (strcmp(hw_fields[i].path, path) == 0)
                break;
        if (i == HWF_COUNT_)
            rd_error(r, at, "unknown device field '%s'", path);
        if (seen[i])
            rd_error(r, at, "device field '%s' is given twice", path);
        seen[i] = true;
        expect_punct(r, '=');
        double *dst = (double *)((char *)hw + hw_fields[i].offset);
        if (hw_fields[i].flags & F_ENUM_PREC) {
            Loc pat = r->tok.loc;
            const char *p = take_ident(r, "a precision");
            int k;
            for (k = 0; k < PREC_COUNT_; k++)
                if (strcmp(precision_name((Precision)k), p) == 0)
                    break;
            if (k == PREC_COUNT_)
                rd_error(r, pat, "unknown precision '%s'", p);
            *dst = k;
        } else {
            *dst = take_value(r, hw_fields[i].kind, path);
        }
        hw->locs[i] = opt_loc_or(r, at);
    }
    /* fields not given keep the default device's values (the printer always writes them all) */
    Hardware def;
    hardware_defaults_named(&def, "");
    for (int i = 0; i < EF_COUNT_; i++) {
        if (eseen[i])
            continue;
        EnergyEntry *e = &hw->energy[i];
        *e = def.energy[i];
        if (def.energy[i].table) {
            e->table = ARENA_ARRAY(&m->arena, EnergyPoint, def.energy[i].ntable);
            memcpy(e->table, def.energy[i].table, sizeof(EnergyPoint) * (size_t)def.energy[i].ntable);
        }
    }
    next(r);
}

/* key int pairs after a name: `model NAME layers 32 hidden 4096 ...` */
static void read_keyed_ints(Reader *r, const char *const *keys, int *const *dst, int n, const char *what) {
    bool seen[16] = {false};
    while (r->tok.kind == T_IDENT) {
        int i;
        for (i = 0; i < n; i++)
            if (strcmp(r->tok.text, keys[i]) == 0)
                break;
        if (i == n)
            break;
        if (seen[i])
            rd_error(r, r->tok.loc, "'%s' is given twice", keys[i]);
        seen[i] = true;
        next(r);
        *dst[i] = (int)take_int(r, keys[i], 0, 1 << 30);
    }
    for (int i = 0; i < n; i++)
        if (!seen[i]) {
            char buf[300];
            rd_error(r, r->tok.loc, "%s: expected '%s', found %s", what, keys[i], tok_desc(&r->tok, buf, sizeof buf));
        }
}

static void read_model(Reader *r) {
    ModelShape *ms = &r->m->model;
    Loc at = r->tok.loc;
    next(r);
    ms->name = take_ident(r, "the model's name");
    static const char *const keys[] = {"layers", "hidden", "intermediate", "heads", "kv_heads", "head_dim", "vocab"};
    int *const dst[] = {&ms->layers, &ms->hidden, &ms->intermediate, &ms->heads, &ms->kv_heads, &ms->head_dim, &ms->vocab};
    read_keyed_ints(r, keys, dst, 7, "model");
    /* then, in any order, the keys printed only when they differ from the defaults */
    Rope *rp = &ms->rope;
    static const char *const dkeys[] = {"norm_eps", "rope_theta", "rope_fraction", "rope_factor",
                                        "rope_low_freq_factor", "rope_high_freq_factor", "rope_original_max"};
    double *const ddst[] = {&ms->norm_eps, &rp->theta, &rp->fraction, &rp->factor, &rp->low_freq_factor,
                            &rp->high_freq_factor, NULL};
    bool seen[9] = {false};
    for (;;) {
        Loc kat = r->tok.loc;
        int i = -1;
        for (int j = 0; j < 7 && i < 0; j++)
            if (is_kw(r, dkeys[j]))
                i = j;
        if (i < 0 && is_kw(r, "attention"))
            i = 7;
        if (i < 0 && is_kw(r, "rope_scaling"))
            i = 8;
        if (i < 0)
            break;
        if (seen[i])
            rd_error(r, kat, "'%s' is given twice", r->tok.text);
        seen[i] = true;
        next(r);
        if (i == 6) {
            rp->original_max = (int)take_int(r, "rope_original_max", 1, 1 << 26);
        } else if (i < 6) {
            *ddst[i] = take_value(r, UK_NONE, dkeys[i]);
            if (!(*ddst[i] > 0))
                rd_error(r, kat, "'%s' must be positive", dkeys[i]);
        } else {
            Loc vat = r->tok.loc;
            const char *v = take_ident(r, i == 7 ? "an attention form" : "a rope scaling");
            const char *const *names = i == 7 ? attn_form_names : rope_scaling_names;
            int n = i == 7 ? ATTN_COUNT_ : ROPE_COUNT_, k;
            for (k = 0; k < n; k++)
                if (strcmp(v, names[k]) == 0)
                    break;
            if (k == n)
                rd_error(r, vat, "unknown %s '%s'", i == 7 ? "attention form" : "rope scaling", v);
            if (i == 7)
                ms->attention = (AttnForm)k;
            else
                rp->scaling = (RopeScaling)k;
        }
    }
    ms->loc = opt_loc_or(r, at);
}

static void read_workload(Reader *r) {
    Workload *w = &r->m->work;
    Loc at = r->tok.loc;
    next(r);
    w->name = take_ident(r, "the workload's name");
    static const char *const keys[] = {"batch", "prompt", "generate", "max_seq"};
    int *const dst[] = {&w->batch, &w->prompt, &w->generate, &w->max_seq};
    read_keyed_ints(r, keys, dst, 4, "workload");
    if (is_kw(r, "attention")) {
        next(r);
        Loc vat = r->tok.loc;
        const char *v = take_ident(r, "an attention form (fused, unfused)");
        int k;
        for (k = 0; k < ATTN_COUNT_; k++)
            if (strcmp(v, attn_form_names[k]) == 0)
                break;
        if (k == ATTN_COUNT_)
            rd_error(r, vat, "unknown attention form '%s' (fused, unfused)", v);
        w->attention = k;
    }
    w->loc = opt_loc_or(r, at);
}

static void read_sparsity(Reader *r) {
    Module *m = r->m;
    Sparsity *sp = &m->sparsity;
    m->has_sparsity = true;
    Loc sp_at = r->tok.loc;
    next(r);
    sp->name = take_ident(r, "the sparsity block's name");
    expect_kw(r, "mode");
    Loc at = r->tok.loc;
    const char *mode = take_ident(r, "a sparsity mode");
    int k;
    for (k = 0; k < SP_COUNT_; k++)
        if (strcmp(mode, sparse_mode_names[k]) == 0)
            break;
    if (k == SP_COUNT_)
        rd_error(r, at, "unknown sparsity mode '%s'", mode);
    sp->mode = (SparseMode)k;
    static const char *const keys[] = {"sink", "window", "page", "budget"};
    int *const dst[] = {&sp->sink, &sp->window, &sp->page, &sp->budget};
    read_keyed_ints(r, keys, dst, 4, "sparsity");
    expect_kw(r, "static_heads");
    sp->static_heads = take_value(r, UK_NONE, "static_heads");
    expect_kw(r, "dense_layers");
    sp->dense_layers = (int)take_int(r, "dense_layers", 0, 1 << 30);
    if (is_kw(r, "profile")) {
        next(r);
        if (r->tok.kind != T_STR)
            expected(r, "a profile file name in quotes");
        sp->profile = arena_strdup(&m->arena, r->tok.text);
        next(r);
    }
    sp->loc = opt_loc_or(r, sp_at);
}

static void read_tensor(Reader *r) {
    Module *m = r->m;
    next(r);
    if (r->tok.kind != T_VAR)
        expected(r, "a tensor name (%name)");
    Loc name_loc = r->tok.loc;
    if (strindex_find(&r->idx->tensors, r->tok.text) >= 0)
        rd_error(r, name_loc, "tensor '%%%s' is defined twice", r->tok.text);
    Tensor *t = ir_add_tensor(m);
    t->name = arena_strdup(&m->arena, r->tok.text);
    index_add(r, &r->idx->tensors, t->name, m->ntensors - 1, name_loc);
    next(r);
    if (is_kw(r, "weight"))
        t->kind = TEN_WEIGHT;
    else if (is_kw(r, "kv"))
        t->kind = TEN_KV;
    else
        expected(r, "a tensor kind (weight, kv)");
    next(r);
    Loc pat = r->tok.loc;
    const char *p = take_ident(r, "an element type");
    int k;
    for (k = 0; k < PREC_COUNT_; k++)
        if (strcmp(precision_name((Precision)k), p) == 0)
            break;
    if (k == PREC_COUNT_)
        rd_error(r, pat, "unknown element type '%s'", p);
    t->elem = (Precision)k;
    t->rank = take_dims(r, t->dims, IR_MAX_RANK, "a tensor");
    if (is_kw(r, "bias")) {
        next(r);
        t->bias = true;
    }
    expect_kw(r, "layers");
    t->layers = (int)take_int(r, "a layer count", 1, 1 << 20);
    if (is_kw(r, "in")) {
        next(r);
        TensorTile tile;
        memset(&tile, 0, sizeof tile);
        for (int i = 0; i < t->rank; i++)
            tile.box[i] = (Range){0, t->dims[i]};
        tile.place = take_place(r);
        ir_tensor_add_tile(m, t, tile);
    }
    t->loc = opt_loc_or(r, name_loc);
    while (is_kw(r, "tile")) {
        next(r);
        TensorTile tile;
        memset(&tile, 0, sizeof tile);
        take_box(r, tile.box, t->rank, t->dims);
        expect_kw(r, "in");
        tile.place = take_place(r);
        ir_tensor_add_tile(m, t, tile);
    }
}

/* ---------------------------------------------------------------- attention plans */

/* layers N or layers N:M */
static Range take_layers(Reader *r) {
    expect_kw(r, "layers");
    Range g;
    g.lo = take_int(r, "a layer", 0, 1 << 30);
    g.hi = g.lo + 1;
    if (is_punct(r, ':')) {
        next(r);
        g.hi = take_int(r, "a layer range end", 0, 1 << 30);
    }
    return g;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

/* N or N:M, comma separated: the heads of a pattern line, sorted */
static int take_heads(Reader *r, int **out) {
    Loc at = r->tok.loc;
    int *v = NULL, n = 0, cap = 0;
    for (;;) {
        long long a = take_int(r, "a head", 0, 1 << 20), b = a + 1;
        if (is_punct(r, ':')) {
            next(r);
            b = take_int(r, "a head range end", 0, 1 << 20);
            if (b <= a)
                rd_error(r, at, "head range %lld:%lld is empty", a, b);
        }
        for (long long h = a; h < b; h++)
            VEC_PUSH(&r->m->arena, v, n, cap, (int)h);
        if (!is_punct(r, ','))
            break;
        next(r);
    }
    qsort(v, (size_t)n, sizeof *v, cmp_int);
    for (int i = 1; i < n; i++)
        if (v[i] == v[i - 1])
            rd_error(r, at, "head %d is listed twice", v[i]);
    *out = v;
    return n;
}

/* {0-11} or {0,2,4-7}: rising numbers */
static int take_num_set(Reader *r, int *v, int max, long long hi, const char *what) {
    Loc at = r->tok.loc;
    expect_punct(r, '{');
    int n = 0;
    for (;;) {
        long long a = take_int(r, what, 0, hi), b = a;
        if (is_punct(r, '-')) {
            next(r);
            b = take_int(r, what, a, hi);
        }
        for (long long x = a; x <= b; x++) {
            if (n > 0 && x <= v[n - 1])
                rd_error(r, at, "a set is written in rising order without repeats");
            if (n == max)
                rd_error(r, at, "too many %ss in a set", what);
            v[n++] = (int)x;
        }
        if (!is_punct(r, ','))
            break;
        next(r);
    }
    expect_punct(r, '}');
    return n;
}

enum { MAX_BANK = 1 << 20 };

/* BANKLIST: items chC.bB, chC.b{SET}, ch{SET}.bB or ch{SET}.b{SET} (channel-major), comma separated */
static int take_banks(Reader *r, BankRef **out) {
    BankRef *v = NULL;
    int n = 0, cap = 0;
    int chs[IR_MAX_CHANNELS], nch;
    int *bks = ARENA_ARRAY(&r->m->arena, int, 1024);
    for (;;) {
        int nb = 0, c, b, k = 0;
        if (is_kw(r, "ch")) {
            next(r);
            nch = take_num_set(r, chs, IR_MAX_CHANNELS, IR_MAX_CHANNELS - 1, "channel");
            expect_punct(r, '.');
            if (r->tok.kind == T_IDENT && strcmp(r->tok.text, "b") == 0) {
                next(r);
                nb = take_num_set(r, bks, 1024, MAX_BANK, "bank");
            } else if (r->tok.kind == T_IDENT && sscanf(r->tok.text, "b%d%n", &b, &k) == 1 && !r->tok.text[k] &&
                       b >= 0 && b <= MAX_BANK) {
                next(r);
                bks[nb++] = b;
            } else {
                expected(r, "banks (b{...} or bN) after the channels");
            }
        } else if (r->tok.kind == T_IDENT && sscanf(r->tok.text, "ch%d.b%n", &c, &k) == 1 && !r->tok.text[k] &&
                   c >= 0 && c < IR_MAX_CHANNELS) {
            next(r);
            chs[0] = c;
            nch = 1;
            nb = take_num_set(r, bks, 1024, MAX_BANK, "bank");
        } else {
            take_bankref(r, &c, &b);
            chs[0] = c;
            nch = 1;
            bks[nb++] = b;
        }
        for (int i = 0; i < nch; i++)
            for (int j = 0; j < nb; j++) {
                BankRef br = {chs[i], bks[j]};
                VEC_PUSH(&r->m->arena, v, n, cap, br);
            }
        if (!is_punct(r, ','))
            break;
        next(r);
    }
    *out = v;
    return n;
}

static void read_attention(Reader *r) {
    Module *m = r->m;
    Loc at = r->tok.loc;
    next(r);
    Attention *a = ir_add_attention(m);
    struct ARef ref;
    memset(&ref, 0, sizeof ref);
    ref.attn = m->nattns - 1;
    static const char *const keys[4] = {NULL, "score", "kv", NULL};
    for (int i = 0; i < 4; i++) {
        if (keys[i])
            expect_kw(r, keys[i]);
        if (r->tok.kind != T_VAR)
            expected(r, i < 2 ? "an op (%name)" : "a kv tensor (%name)");
        ref.name[i] = arena_strdup(&m->arena, r->tok.text);
        ref.loc[i] = r->tok.loc;
        next(r);
    }
    VEC_PUSH(&m->arena, r->arefs, r->narefs, r->arefs_cap, ref);
    a->loc = opt_loc_or(r, at);
    expect_punct(r, '{');
    while (!is_punct(r, '}')) {
        Loc lat = r->tok.loc;
        if (is_kw(r, "pattern")) {
            next(r);
            AttnPatternLine pl;
            memset(&pl, 0, sizeof pl);
            pl.loc = lat;
            pl.layers = take_layers(r);
            expect_kw(r, "heads");
            pl.nheads = take_heads(r, &pl.heads);
            Loc kat = r->tok.loc;
            const char *kind = take_ident(r, "a pattern (dense, static, dynamic)");
            int k;
            for (k = 0; k < PAT_COUNT_; k++)
                if (strcmp(kind, pat_kind_names[k]) == 0)
                    break;
            if (k == PAT_COUNT_)
                rd_error(r, kat, "unknown pattern '%s' (dense, static, dynamic)", kind);
            pl.pat.kind = (PatKind)k;
            if (k == PAT_STATIC) {
                expect_kw(r, "sink");
                pl.pat.sink = (int)take_int(r, "a sink", 0, 1 << 30);
                expect_kw(r, "window");
                pl.pat.window = (int)take_int(r, "a window", 0, 1 << 30);
            } else if (k == PAT_DYNAMIC) {
                expect_kw(r, "page");
                pl.pat.page = (int)take_int(r, "a page size", 0, 1 << 30);
                expect_kw(r, "budget");
                pl.pat.budget = (int)take_int(r, "a budget", 0, 1 << 30);
            }
            ir_attn_add_pattern(&m->arena, a, pl);
        } else if (is_kw(r, "tiles")) {
            next(r);
            AttnTiles t;
            memset(&t, 0, sizeof t);
            t.loc = lat;
            t.offset = -1;
            t.layers = take_layers(r);
            expect_kw(r, "head");
            t.head = (int)take_int(r, "a head", 0, 1 << 20);
            expect_kw(r, "batch");
            t.batch = (int)take_int(r, "a batch row", 0, 1 << 20);
            expect_kw(r, "on");
            t.nbanks = take_banks(r, &t.banks);
            if (is_kw(r, "by")) {
                next(r);
                if (is_kw(r, "npu")) {
                    next(r);
                    t.by = (Exec){EXEC_NPU, 0, -1};
                } else {
                    int c, b;
                    take_bankref(r, &c, &b);
                    t.by = (Exec){EXEC_PE, CHAN_BIT(c), b};
                }
            }
            if (is_kw(r, "at")) {
                next(r);
                t.offset = take_int(r, "a byte offset", 0, (long long)1 << 50);
            }
            ir_attn_add_tiles(&m->arena, a, t);
        } else {
            expected(r, "'pattern', 'tiles' or '}'");
        }
    }
    next(r);
}

static void read_op(Reader *r, int p, OpScope scope) {
    Module *m = r->m;
    Phase *ph = &m->phases[p];
    Loc name_loc = r->tok.loc;
    if (strindex_find(&r->idx->ops[p], r->tok.text) >= 0)
        rd_error(r, name_loc, "op '%%%s' is defined twice in phase %s", r->tok.text, phase_names[p]);
    if (strcmp(r->tok.text, "x") == 0 || strcmp(r->tok.text, "tokens") == 0)
        rd_error(r, name_loc, "'%%%s' is the %s and cannot be defined", r->tok.text,
                 r->tok.text[0] == 'x' ? "layer input" : "prologue's token input");
    Op *op = ir_add_op(m, ph);
    op->scope = scope;
    int oi = ph->nops - 1;
    op->name = arena_strdup(&m->arena, r->tok.text);
    index_add(r, &r->idx->ops[p], op->name, oi, name_loc);
    next(r);
    if (is_punct(r, ':')) {
        next(r);
        op->out_rank = take_dims(r, op->out, 3, "a result");
    }
    expect_punct(r, '=');
    Loc code_loc = r->tok.loc;
    const char *code = take_ident(r, "an op kind");
    int k;
    for (k = 0; k < OP_COUNT_; k++)
        if (strcmp(op_info[k].name, code) == 0)
            break;
    if (k == OP_COUNT_)
        rd_error(r, code_loc, "unknown op kind '%s'", code);
    op->code = (OpCode)k;
    expect_punct(r, '(');
    int cap = 0;
    while (r->tok.kind == T_VAR) {
        struct Ref ref = {p, oi, op->ninputs, arena_strdup(&m->arena, r->tok.text), r->tok.loc};
        VEC_PUSH(&m->arena, r->inrefs, r->ninrefs, r->inrefs_cap, ref);
        VEC_PUSH(&m->arena, op->inputs, op->ninputs, cap, IR_INPUT_X);
        next(r);
        if (!is_punct(r, ','))
            break;
        next(r);
        if (r->tok.kind != T_VAR)
            expected(r, "an input (%name)");
    }
    expect_punct(r, ')');
    bool seen_shape = false, seen_df = false, seen_on = false, seen_t = false, seen_fn = false, seen_kv = false,
         seen_heads = false;
    for (;;) {
        Loc at = r->tok.loc;
        if (is_kw(r, "positions")) {
            if (op->positions > 0)
                rd_error(r, at, "'positions' is given twice");
            next(r);
            op->positions = (int)take_int(r, "a number of positions", 1, 1 << 24);
            expect_kw(r, "offset");
            op->offset = (int)take_int(r, "an offset", 0, 1 << 24);
        } else if (is_kw(r, "window")) {
            if (op->window > 0)
                rd_error(r, at, "'window' is given twice");
            next(r);
            op->window = (int)take_int(r, "a window in tokens", 1, 1 << 26);
        } else if (is_kw(r, "unit_offset")) {
            if (op->unit_offset)
                rd_error(r, at, "'unit_offset' is given twice");
            next(r);
            op->unit_offset = true;
        } else if (is_kw(r, "eps") || is_kw(r, "scale")) {
            double *dst = is_kw(r, "eps") ? &op->eps : &op->scale;
            const char *key = is_kw(r, "eps") ? "eps" : "scale";
            if (*dst > 0)
                rd_error(r, at, "'%s' is given twice", key);
            next(r);
            *dst = take_value(r, UK_NONE, key);
            if (!(*dst > 0))
                rd_error(r, at, "'%s' must be positive", key);
        } else if (is_kw(r, "w") || is_kw(r, "wT") || is_kw(r, "kv")) {
            if (seen_t)
                rd_error(r, at, "the op's tensor is given twice");
            seen_t = true;
            bool weight = !is_kw(r, "kv");
            op->tied = is_kw(r, "wT");
            next(r);
            if (r->tok.kind != T_VAR)
                expected(r, "a tensor (%name)");
            struct TRef tr = {p, oi, arena_strdup(&m->arena, r->tok.text), r->tok.loc, weight};
            VEC_PUSH(&m->arena, r->trefs, r->ntrefs, r->trefs_cap, tr);
            next(r);
        } else if (is_kw(r, "fn")) {
            if (seen_fn)
                rd_error(r, at, "'fn' is given twice");
            seen_fn = true;
            next(r);
            op->fn = take_ident(r, "a function name");
        } else if (is_kw(r, "kv_range") || is_kw(r, "heads")) {
            bool kv = is_kw(r, "kv_range");
            if (kv ? seen_kv : seen_heads)
                rd_error(r, at, "'%s' is given twice", kv ? "kv_range" : "heads");
            *(kv ? &seen_kv : &seen_heads) = true;
            next(r);
            Range *rg = kv ? &op->kv_range : &op->heads;
            rg->lo = take_int(r, "a range start", 0, (long long)1 << 40);
            expect_punct(r, ':');
            rg->hi = take_int(r, "a range end", 0, (long long)1 << 40);
        } else if (is_kw(r, "shape")) {
            if (seen_shape)
                rd_error(r, at, "'shape' is given twice");
            seen_shape = true;
            next(r);
            Loc sat = r->tok.loc;
            if (take_dims(r, op->shape, 4, "a shape") != 4)
                rd_error(r, sat, "a shape has 4 dimensions [B, M, N, K]");
        } else if (is_kw(r, "group")) {
            if (seen_df)
                rd_error(r, at, "the dataflow position is given twice");
            seen_df = true;
            next(r);
            op->df.group = (int)take_int(r, "a group number", 0, 1 << 20);
            expect_kw(r, "part");
            op->df.part = (int)take_int(r, "a partition number", 0, 1 << 20);
            expect_kw(r, "stratum");
            op->df.stratum = (int)take_int(r, "a stratum number", 0, 1 << 20);
        } else if (is_kw(r, "on")) {
            if (seen_on)
                rd_error(r, at, "'on' is given twice");
            seen_on = true;
            if (!seen_shape)
                rd_error(r, at, "'on' covers the op's whole shape, which must come first");
            next(r);
            OpTile t;
            memset(&t, 0, sizeof t);
            for (int i = 0; i < 4; i++)
                t.box[i] = (Range){0, op->shape[i]};
            t.exec = take_exec(r);
            ir_op_add_tile(m, op, t);
        } else {
            break;
        }
    }
    op->loc = opt_loc_or(r, name_loc);
    while (is_kw(r, "tile")) {
        next(r);
        OpTile t;
        memset(&t, 0, sizeof t);
        take_box(r, t.box, 4, seen_shape ? op->shape : NULL);
        expect_kw(r, "on");
        t.exec = take_exec(r);
        ir_op_add_tile(m, op, t);
    }
}

static void read_phase(Reader *r) {
    Module *m = r->m;
    Loc ph_at = r->tok.loc;
    next(r);
    Loc at = r->tok.loc;
    const char *name = take_ident(r, "a phase name (prefill, decode)");
    int p;
    for (p = 0; p < PH_COUNT_; p++)
        if (strcmp(name, phase_names[p]) == 0)
            break;
    if (p == PH_COUNT_)
        rd_error(r, at, "unknown phase '%s' (prefill or decode)", name);
    Phase *ph = &m->phases[p];
    if (ph->steps)
        rd_error(r, at, "phase %s is given twice", name);
    expect_kw(r, "tokens");
    ph->tokens = (int)take_int(r, "a token count", 1, 1 << 30);
    expect_kw(r, "context");
    ph->ctx_first = ph->ctx_last = (int)take_int(r, "a context length", 1, 1 << 30);
    if (r->tok.kind == T_DOTDOT) {
        next(r);
        ph->ctx_last = (int)take_int(r, "a context length", ph->ctx_first, 1 << 30);
    }
    expect_kw(r, "steps");
    ph->steps = (int)take_int(r, "a step count", 1, 1 << 30);
    ph->loc = opt_loc_or(r, ph_at);
    expect_punct(r, '{');
    /* the ops scope by scope: a prologue block, the layer graph, an epilogue block */
    if (is_kw(r, "prologue")) {
        next(r);
        expect_punct(r, '{');
        while (r->tok.kind == T_VAR)
            read_op(r, p, SCOPE_PROLOGUE);
        expect_punct(r, '}');
    }
    while (r->tok.kind == T_VAR)
        read_op(r, p, SCOPE_LAYER);
    if (is_kw(r, "epilogue")) {
        next(r);
        expect_punct(r, '{');
        while (r->tok.kind == T_VAR)
            read_op(r, p, SCOPE_EPILOGUE);
        expect_punct(r, '}');
    }
    expect_punct(r, '}');
}

static void resolve(Reader *r) {
    Module *m = r->m;
    for (int i = 0; i < r->ninrefs; i++) {
        struct Ref *ref = &r->inrefs[i];
        Phase *ph = &m->phases[ref->phase];
        int k = strcmp(ref->name, "x") == 0        ? IR_INPUT_X
                : strcmp(ref->name, "tokens") == 0 ? IR_INPUT_TOKENS
                                                   : strindex_find(&r->idx->ops[ref->phase], ref->name);
        if (k == -1 && strcmp(ref->name, "x") != 0)
            rd_error(r, ref->loc, "'%%%s' is not an op of phase %s", ref->name, phase_names[ref->phase]);
        ph->ops[ref->op].inputs[ref->slot] = k;
    }
    for (int i = 0; i < r->ntrefs; i++) {
        struct TRef *tr = &r->trefs[i];
        int k = strindex_find(&r->idx->tensors, tr->name);
        if (k < 0)
            rd_error(r, tr->loc, "'%%%s' is not a tensor", tr->name);
        if ((m->tensors[k].kind == TEN_WEIGHT) != tr->weight)
            rd_error(r, tr->loc, "'%%%s' is a %s tensor, not a %s one", tr->name,
                     m->tensors[k].kind == TEN_WEIGHT ? "weight" : "kv", tr->weight ? "weight" : "kv");
        m->phases[tr->phase].ops[tr->op].tensor = k;
    }
    for (int i = 0; i < r->narefs; i++) {
        struct ARef *ar = &r->arefs[i];
        Attention *a = &m->attns[ar->attn];
        int *dst[4] = {&a->value_op, &a->score_op, &a->k_tensor, &a->v_tensor};
        for (int k = 0; k < 4; k++) {
            int ix = k < 2 ? strindex_find(&r->idx->ops[PH_DECODE], ar->name[k])
                           : strindex_find(&r->idx->tensors, ar->name[k]);
            if (ix < 0)
                rd_error(r, ar->loc[k], "'%%%s' is not %s", ar->name[k], k < 2 ? "an op of phase decode" : "a tensor");
            *dst[k] = ix;
        }
    }
}

/* A .h2 file given where IR is expected: its name ends in .h2, or it starts as .h2 does (a `//` or
 * `/ *` comment, or an item's keyword), which IR text cannot. */
static bool looks_like_h2(const char *name, const char *text, size_t len) {
    size_t n = strlen(name);
    if (n >= 3 && strcmp(name + n - 3, ".h2") == 0)
        return true;
    const char *p = text, *end = text + len;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    if (end - p >= 2 && p[0] == '/' && (p[1] == '/' || p[1] == '*'))
        return true;
    static const char *const items[] = {"import", "use", "hardware", "model", "workload", "sparsity", "explore"};
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        size_t k = strlen(items[i]);
        if ((size_t)(end - p) > k && memcmp(p, items[i], k) == 0 && (p[k] == ' ' || p[k] == '\t' || p[k] == '"'))
            return true;
    }
    return false;
}

Module *ir_parse(const char *name, const char *text, size_t len, Diag *d) {
    Module *m = ir_module_new();
    if (!m) {
        diag_error(d, NOLOC, "out of memory");
        return NULL;
    }
    Reader rd;
    memset(&rd, 0, sizeof rd);
    rd.m = m;
    rd.d = d;
    struct Index *const idx = h2c_raw_alloc(sizeof *idx);
    if (!idx) {
        ir_module_free(m);
        diag_error(d, NOLOC, "out of memory");
        return NULL;
    }
    for (int p = 0; p < PH_COUNT_; p++)
        strindex_init(&idx->ops[p]);
    strindex_init(&idx->tensors);
    rd.idx = idx;
    jmp_buf oom;
    if (setjmp(oom)) {
        free_index(idx);
        ir_module_free(m);
        diag_error(d, NOLOC, "out of memory");
        return NULL;
    }
    m->arena.oom = &oom;
    rd.src = ir_intern_file(m, name, text, len);
    ((SrcFile *)rd.src)->ir_text = true;
    rd.p = rd.src->text;
    rd.end = rd.src->text + len;
    rd.line = rd.col = 1;
    if (setjmp(rd.bail)) {
        free_index(idx);
        ir_module_free(m);
        return NULL;
    }
    if (len > 0 && memchr(text, 0, len))
        rd_error(&rd, (Loc){rd.src, 0, 0, 0}, "not a text file (it contains NUL bytes)");
    if (looks_like_h2(name, text, len))
        rd_error(&rd, (Loc){rd.src, 0, 0, 0}, "this is a .h2 file, not IR text; use `h2c compile %s` (with -o FILE.h2ir "
                 "to write its IR)", name);
    next(&rd);
    expect_kw(&rd, "module");
    if (rd.tok.kind != T_STR)
        expected(&rd, "the source file name in quotes");
    m->source = arena_strdup(&m->arena, rd.tok.text);
    next(&rd);
    bool seen[4] = {false};
    for (;;) {
        const char *const names[4] = {"cost_model", "dataflow", "objective", "splits"};
        int i;
        for (i = 0; i < 4; i++)
            if (is_kw(&rd, names[i]))
                break;
        if (i == 4)
            break;
        if (seen[i])
            rd_error(&rd, rd.tok.loc, "'%s' is given twice", names[i]);
        seen[i] = true;
        next(&rd);
        Loc at = rd.tok.loc;
        const char *v = take_ident(&rd, names[i]);
        const char *const *table = i == 0   ? cost_model_names
                                   : i == 1 ? dataflow_mode_names
                                   : i == 2 ? objective_names
                                            : split_space_names;
        int n = i == 0 ? CM_COUNT_ : i == 1 ? DF_COUNT_ : i == 2 ? OBJ_COUNT_ : SPLITS_COUNT_, k;
        for (k = 0; k < n; k++)
            if (strcmp(table[k], v) == 0)
                break;
        if (k == n)
            rd_error(&rd, at, "unknown %s '%s'", names[i], v);
        if (i == 0) m->cost_model = (CostModelKind)k;
        else if (i == 1) m->dataflow = (DataflowMode)k;
        else if (i == 2) m->objective = (Objective)k;
        else m->splits = (SplitSpace)k;
    }
    bool have_dev = false, have_model = false, have_work = false;
    while (rd.tok.kind != T_EOF) {
        Loc at = rd.tok.loc;
        if (is_kw(&rd, "device")) {
            if (have_dev)
                rd_error(&rd, at, "the device is given twice");
            have_dev = true;
            read_device(&rd);
        } else if (is_kw(&rd, "model")) {
            if (have_model)
                rd_error(&rd, at, "the model is given twice");
            have_model = true;
            read_model(&rd);
        } else if (is_kw(&rd, "workload")) {
            if (have_work)
                rd_error(&rd, at, "the workload is given twice");
            have_work = true;
            read_workload(&rd);
        } else if (is_kw(&rd, "sparsity")) {
            if (m->has_sparsity)
                rd_error(&rd, at, "sparsity is given twice");
            read_sparsity(&rd);
        } else if (is_kw(&rd, "tensor")) {
            read_tensor(&rd);
        } else if (is_kw(&rd, "phase")) {
            read_phase(&rd);
        } else if (is_kw(&rd, "attention")) {
            read_attention(&rd);
        } else {
            expected(&rd, "device, model, workload, sparsity, tensor, attention or phase");
        }
    }
    Loc end = rd.tok.loc;
    if (!have_dev)
        rd_error(&rd, end, "the module has no device");
    if (!have_model)
        rd_error(&rd, end, "the module has no model");
    if (!have_work)
        rd_error(&rd, end, "the module has no workload");
    for (int p = 0; p < PH_COUNT_; p++)
        if (!m->phases[p].steps)
            rd_error(&rd, end, "the module has no %s phase", phase_names[p]);
    resolve(&rd);
    if (m->dev.hw.channels >= 1 && m->dev.hw.channels <= IR_MAX_CHANNELS && m->dev.hw.nmp_channels <= m->dev.hw.channels &&
        m->dev.hw.banks_per_channel >= 1 && m->dev.hw.banks_per_channel <= 1 << 16)
        ir_device_build(&m->arena, &m->dev);
    m->arena.oom = NULL;
    free_index(idx);
    return m;
}

Module *ir_module_copy(const Module *m, Diag *d) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        diag_error(d, NOLOC, "out of memory");
        return NULL;
    }
    ir_print(f, m);
    bool ok = fclose(f) == 0;
    /* the text's own name: not the .h2 source's, whose Locs the text names as origins */
    Module *c = ok ? ir_parse("(a copy of the module).h2ir", text, len, d) : NULL;
    if (!ok)
        diag_error(d, NOLOC, "out of memory");
    free(text);
    return c;
}
