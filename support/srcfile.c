/* srcfile.c: reading a whole input file into an arena as a SrcFile, bounded in size, without a
 * UTF-8 byte-order mark, with a located error when it cannot be read (or is a directory) and a clean
 * unwind when memory runs out (support/, the ground floor). */
#include "support.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

SrcFile *srcfile_read(Arena *a, Diag *d, const char *path, Loc from, size_t max_bytes) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        diag_error(d, from, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(fp);
        diag_error(d, from, "'%s' is a directory, not a file", path);
        return NULL;
    }
    /* read through the raw allocator so that running out of memory cannot unwind past fclose */
    char *buf = NULL;
    size_t len = 0, cap = 0;
    bool too_big = false, no_memory = false;
    for (;;) {
        if (len + 4096 + 2 > cap) {
            size_t ncap = cap ? cap * 2 : 8192;
            char *nb = h2c_raw_realloc(buf, cap, ncap);
            if (!nb) {
                no_memory = true;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len - 2, fp);
        len += got;
        if (got == 0)
            break;
        if (len > max_bytes) {
            too_big = true;
            break;
        }
    }
    bool err = ferror(fp);
    int eno = errno;
    fclose(fp);
    SrcFile *src = NULL;
    if (too_big)
        diag_error(d, from, "'%s' is larger than %zu MiB", path, max_bytes >> 20);
    else if (err)
        diag_error(d, from, "cannot read '%s': %s", path, strerror(eno));
    else if (!no_memory) {
        /* the arena may run out too: catch that here, free the read buffer, and pass it on */
        jmp_buf jb;
        jmp_buf *saved = a->oom;
        a->oom = &jb;
        if (setjmp(jb)) {
            a->oom = saved;
            h2c_raw_free(buf, cap);
            if (saved)
                longjmp(*saved, 1);
            diag_error(d, from, "out of memory reading '%s'", path);
            return NULL;
        }
        /* a UTF-8 byte-order mark is not part of the text (some editors write one) */
        size_t skip = len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
        len -= skip;
        char *text = arena_alloc(a, len + 2);
        if (buf)
            memcpy(text, buf + skip, len);
        text[len] = text[len + 1] = 0;
        src = ARENA_NEW(a, SrcFile);
        src->name = arena_strdup(a, path);
        src->text = text;
        src->len = len;
        a->oom = saved;
        h2c_raw_free(buf, cap);
        return src;
    }
    h2c_raw_free(buf, cap);
    if (no_memory) {
        if (a->oom)
            longjmp(*a->oom, 1);
        diag_error(d, from, "out of memory reading '%s'", path);
    }
    return NULL;
}
