/* alloc.c: the allocator hook and arenas (support/, the ground floor). Everything h2c allocates
 * goes through h2c_raw_* so a test can fail the Nth allocation; arenas free a whole lifetime at once. */
#include "support.h"

#include <stdlib.h>
#include <string.h>

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

bool h2c_allocator_hooked(void) { return alloc_fn != default_alloc; }

/* A block asked for with 0 bytes has 1 (so that it is not NULL): the hook is told its size as 1
 * when it is resized or freed too, whatever size the caller gives. */
void *h2c_raw_alloc(size_t n) { return alloc_fn(alloc_ud, NULL, 0, n ? n : 1); }
void *h2c_raw_realloc(void *p, size_t osize, size_t nsize) {
    return alloc_fn(alloc_ud, p, p && !osize ? 1 : osize, nsize ? nsize : 1);
}
void h2c_raw_free(void *p, size_t osize) {
    if (p)
        alloc_fn(alloc_ud, p, osize ? osize : 1, 0);
}

bool h2c_sized_failed;

void *h2c_sized_alloc(size_t n) {
    size_t *h = n <= SIZE_MAX - 16 ? h2c_raw_alloc(n + 16) : NULL;
    if (!h) {
        h2c_sized_failed = true;
        return NULL;
    }
    h[0] = n + 16;
    return (char *)h + 16;
}

void h2c_sized_free(void *p) {
    if (!p)
        return;
    size_t *h = (size_t *)(void *)((char *)p - 16);
    h2c_raw_free(h, h[0]);
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
    if (a->limit && (n > a->limit || a->total > a->limit - n))
        arena_oom(a);
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
