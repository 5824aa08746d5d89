/* source.c: sessions, reading files, resolving `import` (relative to the importing file, then -I
 * directories; each file once; cycles reported), and running the scanner and parser on a buffer.
 * fe_load is a protected entry point: running out of memory unwinds here and is reported. */
#include "frontend.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lexstate.h"
#include "parser.h"
#include "lexer.h"

enum { MAX_FILE_BYTES = 64 << 20, MAX_IMPORT_DEPTH = 32 };

void session_init(Session *s, Diag *d) {
    memset(s, 0, sizeof *s);
    arena_init(&s->arena);
    s->diag = d;
}

void session_free(Session *s) {
    arena_free(&s->arena);
    memset(s, 0, sizeof *s);
}

bool fe_parse(Session *s, SrcFile *src, AstFile *out) {
    LexState ls = {0};
    ls.session = s;
    ls.diag = s->diag;
    ls.src = src;
    ls.file = out;
    ls.tail = &out->items;
    while (*ls.tail)
        ls.tail = &(*ls.tail)->next;
    ls.line = 1;
    ls.col = 1;
    yyscan_t scanner;
    if (yylex_init_extra(&ls, &scanner) != 0)
        h2c_unreachable("yylex_init_extra failed");
    /* flex writes into the buffer it scans; give it a copy so src->text stays whole for carets */
    yy_scan_bytes(src->text, (int)src->len, scanner);
    int errors = s->diag->errors;
    int rc = yyparse(scanner, &ls);
    yylex_destroy(scanner);
    return rc == 0 && s->diag->errors == errors;
}

static SrcFile *read_source(Session *s, const char *path, Loc from) {
    return srcfile_read(&s->arena, s->diag, path, from, MAX_FILE_BYTES);
}

/* A file that holds NUL bytes in its first block is not text: say so once instead of reporting
 * every byte. */
static bool looks_binary(const SrcFile *src) {
    size_t n = src->len < 8192 ? src->len : 8192;
    return memchr(src->text, 0, n) != NULL;
}

/* IR text (`h2c compile -o x.h2ir` writes it; `h2c opt` reads it) given where .h2 is expected: its
 * name ends in .h2ir, or it starts as IR does (a `;` comment or `module "..."`, neither of which can
 * start a .h2 file). */
static bool looks_like_ir(const SrcFile *src) {
    size_t n = strlen(src->name);
    if (n >= 5 && strcmp(src->name + n - 5, ".h2ir") == 0)
        return true;
    const char *p = src->text, *end = src->text + src->len;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return (p < end && *p == ';') || (end - p > 8 && memcmp(p, "module \"", 8) == 0);
}

typedef struct LoadCtx {
    const char *stack[MAX_IMPORT_DEPTH + 1];  /* canonical paths being loaded, for cycles */
    const char *paths[MAX_IMPORT_DEPTH + 1];  /* the same files as opened, for messages */
    int depth;
} LoadCtx;

static const char *canonical(Session *s, const char *path) {
    char buf[PATH_MAX];
    if (realpath(path, buf))
        return arena_strdup(&s->arena, buf);
    return arena_strdup(&s->arena, path);
}

static AstFile *find_loaded(Session *s, const char *canon) {
    for (int i = 0; i < s->nfiles; i++)
        if (strcmp(s->files[i]->canon, canon) == 0)
            return s->files[i];
    return NULL;
}

static AstFile *new_file(Session *s, SrcFile *src, const char *canon) {
    AstFile *f = ARENA_NEW(&s->arena, AstFile);
    f->src = src;
    f->canon = canon;
    VEC_PUSH(&s->arena, s->files, s->nfiles, s->files_cap, f);
    return f;
}

static AstFile *load_rec(Session *s, LoadCtx *ctx, const char *path, Loc from);

/* Under an import root: path names a regular file inside it, once symbolic links and '..' are
 * resolved. Nothing is opened to find out (opening a FIFO would block). */
static bool inside_root(const Session *s, const char *path) {
    char buf[PATH_MAX];
    struct stat st;
    if (!realpath(path, buf) || stat(buf, &st) != 0 || !S_ISREG(st.st_mode))
        return false;
    size_t n = strlen(s->import_root);
    return strncmp(buf, s->import_root, n) == 0 && buf[n] == '/';
}

static void load_imports(Session *s, LoadCtx *ctx, AstFile *f) {
    const char *dir_end = strrchr(f->src->name, '/');
    for (Item *it = f->items; it; it = it->next) {
        if (it->kind != IT_IMPORT || s->diag->stop)
            continue;
        const char *p = it->import.path;
        if (!*p) {
            diag_error(s->diag, it->import.path_loc, "empty import path");
            continue;
        }
        const char *full = p;
        if (p[0] != '/' && dir_end)
            full = arena_printf(&s->arena, "%.*s/%s", (int)(dir_end - f->src->name), f->src->name, p);
        if (s->import_root) {
            if (!inside_root(s, full)) {
                diag_error(s->diag, it->import.path_loc, "cannot import '%s': not a regular file inside '%s'", p,
                           s->import_root);
                continue;
            }
        } else {
            FILE *probe = fopen(full, "rb");
            for (int i = 0; !probe && i < s->ninclude && p[0] != '/'; i++) {
                const char *cand = arena_printf(&s->arena, "%s/%s", s->include_dirs[i], p);
                probe = fopen(cand, "rb");
                if (probe)
                    full = cand;
            }
            if (probe)
                fclose(probe);
        }
        AstFile *g = load_rec(s, ctx, full, it->import.path_loc);
        if (g)
            VEC_PUSH(&s->arena, f->imports, f->nimports, f->imports_cap, g);
    }
}

static AstFile *load_rec(Session *s, LoadCtx *ctx, const char *path, Loc from) {
    const char *canon = canonical(s, path);
    for (int i = 0; i < ctx->depth; i++) {
        if (strcmp(ctx->stack[i], canon) == 0) {
            if (i == ctx->depth - 1) {
                diag_error(s->diag, from, "import cycle: '%s' imports itself", path);
                return NULL;
            }
            char chain[1024] = "";
            for (int k = i; k < ctx->depth; k++) {
                size_t l = strlen(chain);
                snprintf(chain + l, sizeof chain - l, "%s -> ", ctx->paths[k]);
            }
            size_t l = strlen(chain);
            snprintf(chain + l, sizeof chain - l, "%s", path);
            diag_error(s->diag, from, "import cycle: %s (each imports the next)", chain);
            return NULL;
        }
    }
    AstFile *f = find_loaded(s, canon);
    if (f)
        return f;
    if (ctx->depth >= MAX_IMPORT_DEPTH) {
        diag_error(s->diag, from, "imports nested more than %d deep", MAX_IMPORT_DEPTH);
        return NULL;
    }
    SrcFile *src = read_source(s, path, from);
    if (!src)
        return NULL;
    f = new_file(s, src, canon);
    if (looks_binary(src)) {
        Loc at = {src, 0, 0, 0};
        diag_error(s->diag, at, "not a text file (it contains NUL bytes)");
        return f;
    }
    if (looks_like_ir(src)) {
        Loc at = {src, 0, 0, 0};
        if (ctx->depth == 0)
            diag_error(s->diag, at, "this is IR text, not a .h2 file; use `h2c opt %s`", path);
        else
            diag_error(s->diag, at, "this is IR text, not a .h2 file; only .h2 files can be imported");
        return f;
    }
    fe_parse(s, src, f);
    ctx->paths[ctx->depth] = src->name;
    ctx->stack[ctx->depth++] = canon;
    load_imports(s, ctx, f);
    ctx->depth--;
    return f;
}

AstFile *fe_load(Session *s, const char *path) {
    jmp_buf jb;
    jmp_buf *saved = s->arena.oom;
    s->arena.oom = &jb;
    AstFile *volatile root = NULL;
    if (setjmp(jb)) {
        s->arena.oom = saved;
        diag_error(s->diag, NOLOC, "out of memory");
        return NULL;
    }
    LoadCtx ctx = {{0}, {0}, 0};
    root = load_rec(s, &ctx, path, NOLOC);
    s->arena.oom = saved;
    return root;
}

AstFile *fe_load_text(Session *s, const char *name, const char *text, size_t len) {
    jmp_buf jb;
    jmp_buf *saved = s->arena.oom;
    s->arena.oom = &jb;
    if (setjmp(jb)) {
        s->arena.oom = saved;
        diag_error(s->diag, NOLOC, "out of memory");
        return NULL;
    }
    SrcFile *src = ARENA_NEW(&s->arena, SrcFile);
    src->name = arena_strdup(&s->arena, name);
    char *buf = arena_alloc(&s->arena, len + 2);
    memcpy(buf, text, len);
    src->text = buf;
    src->len = len;
    AstFile *f = new_file(s, src, src->name);
    if (looks_binary(src)) {
        Loc at = {src, 0, 0, 0};
        diag_error(s->diag, at, "not a text file (it contains NUL bytes)");
    } else {
        LoadCtx ctx = {{0}, {0}, 0};
        fe_parse(s, src, f);
        ctx.paths[ctx.depth] = src->name;
        ctx.stack[ctx.depth++] = src->name;
        load_imports(s, &ctx, f);
    }
    s->arena.oom = saved;
    return f;
}
