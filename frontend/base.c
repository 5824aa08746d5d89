/* base.c: the allocator hook, arenas and small string helpers shared by all of h2c.
 * Everything h2c allocates goes through h2c_raw_* so a test can fail the Nth allocation. */
#include "frontend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *default_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    (void)osize;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, nsize);
}

static H2cAllocFn alloc_fn = default_alloc;
static void *alloc_ud;

void h2c_set_allocator(H2cAllocFn fn, void *ud) {
    alloc_fn = fn ? fn : default_alloc;
    alloc_ud = fn ? ud : NULL;
}

void *h2c_raw_alloc(size_t n) { return alloc_fn(alloc_ud, NULL, 0, n ? n : 1); }
void *h2c_raw_realloc(void *p, size_t osize, size_t nsize) { return alloc_fn(alloc_ud, p, osize, nsize ? nsize : 1); }
void h2c_raw_free(void *p, size_t osize) {
    if (p)
        alloc_fn(alloc_ud, p, osize, 0);
}

_Noreturn void h2c_unreachable_at(const char *file, int line, const char *msg) {
    fprintf(stderr, "h2c: internal error at %s:%d: %s\n", file, line, msg);
    abort();
}

/* ---------------------------------------------------------------- arenas */

struct ArenaChunk {
    ArenaChunk *next;
    size_t size;        /* usable bytes after the header */
    _Alignas(16) unsigned char data[];
};

enum { ARENA_CHUNK = 64 * 1024 };

void arena_init(Arena *a) { memset(a, 0, sizeof *a); }

void arena_free(Arena *a) {
    for (int list = 0; list < 2; list++) {
        ArenaChunk *c = list ? a->spare : a->head;
        while (c) {
            ArenaChunk *next = c->next;
            h2c_raw_free(c, sizeof(ArenaChunk) + c->size);
            c = next;
        }
    }
    a->head = a->spare = NULL;
    a->used = 0;
    a->total = 0;
}

void arena_reset(Arena *a) {
    ArenaChunk *c = a->head;
    while (c) {
        ArenaChunk *next = c->next;
        c->next = a->spare;
        a->spare = c;
        c = next;
    }
    a->head = NULL;
    a->used = 0;
    a->total = 0;
}

/* A kept chunk of at least n bytes, unlinked from the spares, or NULL. */
static ArenaChunk *take_spare(Arena *a, size_t n) {
    for (ArenaChunk **p = &a->spare; *p; p = &(*p)->next)
        if ((*p)->size >= n) {
            ArenaChunk *c = *p;
            *p = c->next;
            return c;
        }
    return NULL;
}

static _Noreturn void arena_oom(Arena *a) {
    if (a->oom)
        longjmp(*a->oom, 1);
    h2c_unreachable("out of memory outside a protected call");
}

void *arena_alloc(Arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (n == 0)
        n = 16;
    if (!a->head || a->used + n > a->head->size) {
        size_t size = n > ARENA_CHUNK / 2 ? n : ARENA_CHUNK;
        if (size > SIZE_MAX / 2)
            arena_oom(a);
        ArenaChunk *c = take_spare(a, size);
        if (c) {
            size = c->size;
        } else {
            c = h2c_raw_alloc(sizeof(ArenaChunk) + size);
            if (!c)
                arena_oom(a);
            c->size = size;
        }
        if (size >= n && n > ARENA_CHUNK / 2 && a->head) {
            /* a big block: keep the current chunk open for small allocations */
            c->next = a->head->next;
            a->head->next = c;
            a->total += n;
            memset(c->data, 0, n);
            return c->data;
        }
        c->next = a->head;
        a->head = c;
        a->used = 0;
    }
    void *p = a->head->data + a->used;
    a->used += n;
    a->total += n;
    memset(p, 0, n);
    return p;
}

void *arena_realloc(Arena *a, void *p, size_t osize, size_t nsize) {
    if (nsize <= osize)
        return p;
    void *q = arena_alloc(a, nsize);
    if (p && osize)
        memcpy(q, p, osize);
    return q;
}

char *arena_strndup(Arena *a, const char *s, size_t n) {
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *arena_strdup(Arena *a, const char *s) { return arena_strndup(a, s, strlen(s)); }

char *arena_printf(Arena *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *p = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* ---------------------------------------------------------------- strings */

void fe_write_quoted(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

void fmt_double(char *buf, size_t n, double v) {
    if (isnan(v)) {
        snprintf(buf, n, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, n, v < 0 ? "-inf" : "inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 1000;
    int row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int prev = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cur = row[j];
            int sub = prev + (a[i - 1] != b[j - 1]);
            int del = row[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            prev = cur;
        }
    }
    return row[lb];
}

const char *closest_word(const char *word, const char *const *cands) {
    const char *best = NULL;
    int bestd = 1000;
    for (; *cands; cands++) {
        int d = edit_distance(word, *cands);
        if (d < bestd) {
            bestd = d;
            best = *cands;
        }
    }
    size_t len = strlen(word);
    int limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    /* a candidate that shares no letter with the word ('x' -> 'B') is no suggestion */
    return bestd <= limit && (size_t)bestd < len ? best : NULL;
}

double h2c_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
