/* fuzz_util.c: the harnesses' shared ground (fuzz.h): the scratch folder, inputs of several files,
 * the checking allocator hook, memory streams and the oracle's failure report. */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"

/* ---------------------------------------------------------------- the scratch folder */

static char scratch[PATH_MAX];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    if (ftw->level > 0)
        remove(path);
    return 0;
}

void fuzz_clear(void) {
    if (scratch[0])
        nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_scratch(void) {
    fuzz_clear();
    rmdir(scratch);
}

const char *fuzz_scratch(void) {
    if (scratch[0])
        return scratch;
    const char *tmp = getenv("TMPDIR");
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof tmpl, "%s/h2c-fuzz-XXXXXX", tmp && *tmp ? tmp : ".");
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "fuzz: cannot make a scratch folder %s: %s\n", tmpl, strerror(errno));
        abort();
    }
    if (!realpath(tmpl, scratch)) {
        fprintf(stderr, "fuzz: cannot resolve %s: %s\n", tmpl, strerror(errno));
        abort();
    }
    atexit(remove_scratch);
    return scratch;
}

const char *fuzz_path(const char *rel) {
    static char buf[PATH_MAX + 256];
    snprintf(buf, sizeof buf, "%s/%s", fuzz_scratch(), rel);
    return buf;
}

bool fuzz_name_ok(const char *rel, size_t n) {
    if (n == 0 || n > 120)
        return false;
    int parts = 1;
    bool start = true;
    for (size_t i = 0; i < n; i++) {
        char c = rel[i];
        if (c == '/') {
            if (start || ++parts > 4)
                return false;
            start = true;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == '.';
        if (!ok || (start && c == '.'))
            return false;
        start = false;
    }
    return !start;
}

bool fuzz_write(const char *rel, const void *data, size_t n) {
    if (!fuzz_name_ok(rel, strlen(rel)))
        return false;
    char path[PATH_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", fuzz_scratch(), rel);
    /* the folders on the way, each inside the scratch folder */
    for (char *p = path + strlen(scratch) + 1; (p = strchr(p, '/')); p++) {
        *p = 0;
        int rc = mkdir(path, 0777);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return false;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0)
        return false;
    const char *b = data;
    bool ok = true;
    while (ok && n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        if (ok) {
            b += w;
            n -= (size_t)w;
        }
    }
    return close(fd) == 0 && ok;
}

/* ---------------------------------------------------------------- inputs of several files */

/* Where the next "=== " header starts at or after i (at the input's start or after a newline). */
static size_t next_header(const uint8_t *d, size_t n, size_t i) {
    for (; i + 4 <= n; i++)
        if ((i == 0 || d[i - 1] == '\n') && memcmp(d + i, "=== ", 4) == 0)
            return i;
    return n;
}

int fuzz_split(const uint8_t *data, size_t size, FuzzPart *parts) {
    int np = 0;
    size_t h = next_header(data, size, 0);
    parts[np].name[0] = 0;
    parts[np].data = data;
    parts[np++].len = h;
    while (h < size && np < FUZZ_MAX_PARTS) {
        size_t name = h + 4, eol = name;
        while (eol < size && data[eol] != '\n')
            eol++;
        size_t start = eol < size ? eol + 1 : size;
        h = next_header(data, size, start);
        size_t nl = eol - name;
        if (!fuzz_name_ok((const char *)data + name, nl))
            continue;
        memcpy(parts[np].name, data + name, nl);
        parts[np].name[nl] = 0;
        parts[np].data = data + start;
        parts[np++].len = h - start;
    }
    return np;
}

bool fuzz_write_parts(const FuzzPart *parts, int n, const char *prefix) {
    bool ok = true;
    for (int i = 0; i < n; i++) {
        if (!parts[i].name[0])
            continue;
        char rel[300];
        snprintf(rel, sizeof rel, "%s%s%s", prefix ? prefix : "", prefix ? "/" : "", parts[i].name);
        ok = fuzz_write(rel, parts[i].data, parts[i].len) && ok;
    }
    return ok;
}

/* ---------------------------------------------------------------- memory */

typedef struct BlockHdr {
    size_t size;        /* bytes asked for */
    size_t magic;       /* BLOCK_MAGIC while allocated */
} BlockHdr;

enum { HDR = 16 };
#define BLOCK_MAGIC ((size_t)0x6832632d626c6bULL)

static size_t live_bytes;

static void *check_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)ud;
    BlockHdr *h = NULL;
    if (ptr) {
        h = (BlockHdr *)(void *)((char *)ptr - HDR);
        if (h->magic != BLOCK_MAGIC)
            fuzz_fail(NULL, "allocator: %s of a block h2c's hook did not allocate (or freed twice)",
                      nsize ? "realloc" : "free");
        if (h->size != osize)
            fuzz_fail(NULL, "allocator: a block of %zu bytes is %s as one of %zu bytes", h->size,
                      nsize ? "resized" : "freed", osize);
    }
    if (nsize == 0) {
        if (h) {
            live_bytes -= h->size;
            h->magic = 0;
            free(h);
        }
        return NULL;
    }
    if (nsize > SIZE_MAX - HDR)
        return NULL;
    size_t old = h ? h->size : 0;
    BlockHdr *nh = realloc(h, nsize + HDR);
    if (!nh)
        return NULL;
    nh->size = nsize;
    nh->magic = BLOCK_MAGIC;
    live_bytes = live_bytes - old + nsize;
    return (char *)nh + HDR;
}

void fuzz_alloc_install(void) {
    _Static_assert(sizeof(BlockHdr) <= HDR, "the block header fits its 16 bytes");
    h2c_set_allocator(check_alloc, NULL);
}

size_t fuzz_alloc_live(void) { return live_bytes; }

void fuzz_alloc_check(const char *where) {
    FUZZ_CHECK(live_bytes == 0, NULL, "%s: %zu bytes allocated through h2c's hook are not freed", where, live_bytes);
}

void fuzzbuf_open(FuzzBuf *b) {
    b->text = NULL;
    b->len = 0;
    b->f = open_memstream(&b->text, &b->len);
    if (!b->f) {
        fprintf(stderr, "fuzz: open_memstream: %s\n", strerror(errno));
        abort();
    }
}

const char *fuzzbuf_text(FuzzBuf *b) {
    fflush(b->f);
    return b->text ? b->text : "";
}

void fuzzbuf_close(FuzzBuf *b) {
    fclose(b->f);
    free(b->text);
    b->f = NULL;
    b->text = NULL;
    b->len = 0;
}

/* ---------------------------------------------------------------- the oracle */

void fuzz_check_same(const char *a, size_t alen, const char *b, size_t blen, const char *what) {
    if (alen == blen && memcmp(a, b, alen) == 0)
        return;
    size_t i = 0, line = 1, sol = 0;
    while (i < alen && i < blen && a[i] == b[i]) {
        if (a[i] == '\n') {
            line++;
            sol = i + 1;
        }
        i++;
    }
    const char *ea = memchr(a + sol, '\n', alen - sol), *eb = memchr(b + sol, '\n', blen - sol);
    int la = (int)((ea ? (size_t)(ea - a) : alen) - sol), lb = (int)((eb ? (size_t)(eb - b) : blen) - sol);
    fuzz_fail(NULL, "%s: line %zu differs:\n  first:  %.*s\n  second: %.*s", what, line, la, a + sol, lb, b + sol);
}

void fuzz_fail(const char *diag, const char *fmt, ...) {
    fflush(stdout);
    if (diag && *diag)
        fprintf(stderr, "---- diagnostics\n%s----\n", diag);
    fprintf(stderr, "fuzz oracle failed: ");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
