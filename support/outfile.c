/* outfile.c: every output file h2c writes goes through here (support/, the ground floor). A regular
 * file, or a new one, is written to a temporary file beside it and renamed over it only when every
 * byte is out, so a failed run leaves the old file whole; a symbolic link is followed and its
 * target replaced, never the link; a device, FIFO or socket is written in place, since renaming
 * over it would replace the node itself (as root, `-o /dev/null` would). Every write, flush and
 * close is checked, and a failure is reported with the path. */
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_LINK_HOPS = 40 };

/* Follows `path` through symbolic links (a relative link is relative to the link's directory) into
 * out. The last target may not exist yet. False, with errno set, on a loop or a name too long. */
static bool resolve_links(const char *path, char *out, size_t n) {
    if (strlen(path) >= n) {
        errno = ENAMETOOLONG;
        return false;
    }
    strcpy(out, path);
    for (int hop = 0;; hop++) {
        struct stat st;
        if (lstat(out, &st) != 0 || !S_ISLNK(st.st_mode))
            return true;    /* not a link (or not there): this is the file to write */
        if (hop == MAX_LINK_HOPS) {
            errno = ELOOP;
            return false;
        }
        char link[PATH_MAX];
        ssize_t len = readlink(out, link, sizeof link - 1);
        if (len < 0)
            return false;
        link[len] = 0;
        if (link[0] == '/') {
            if ((size_t)len >= n) {
                errno = ENAMETOOLONG;
                return false;
            }
            strcpy(out, link);
            continue;
        }
        char *slash = strrchr(out, '/');
        size_t dir = slash ? (size_t)(slash - out) + 1 : 0;    /* keep "dir/" */
        if (dir + (size_t)len >= n) {
            errno = ENAMETOOLONG;
            return false;
        }
        memmove(out + dir, link, (size_t)len + 1);
    }
}

/* Runs fn on f, then flushes; false with *err set if anything failed (f stays open). */
static bool write_all(FILE *f, OutfileFn fn, const void *ctx, int *err) {
    errno = 0;
    fn(f, ctx);
    if (ferror(f)) {
        *err = errno ? errno : EIO;
        return false;
    }
    if (fflush(f) != 0 || ferror(f)) {
        *err = errno ? errno : EIO;
        return false;
    }
    return true;
}

static bool fail(Diag *d, const char *path, int err) {
    diag_error(d, NOLOC, "cannot write '%s': %s", path, strerror(err));
    return false;
}

static bool replace_file(const char *path, const char *target, bool exists, const struct stat *st, OutfileFn fn,
                         const void *ctx, bool durable, Diag *d);

bool outfile_write(const char *path, OutfileFn fn, const void *ctx, Diag *d) {
    int err = 0;
    if (!path || strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0) {
        if (!write_all(stdout, fn, ctx, &err)) {
            diag_error(d, NOLOC, "cannot write to standard output: %s", strerror(err));
            return false;
        }
        return true;
    }
    /* the kernel follows the links (also /proc's, which name pipes and sockets) to what is there */
    struct stat st;
    bool exists = stat(path, &st) == 0;
    if (!exists && errno != ENOENT)
        return fail(d, path, errno);
    if (exists && S_ISDIR(st.st_mode))
        return fail(d, path, EISDIR);
    char target[PATH_MAX];
    if (exists && S_ISREG(st.st_mode) && !realpath(path, target))
        return fail(d, path, errno);
    if (!exists && !resolve_links(path, target, sizeof target))   /* a new file, maybe a dangling link's */
        return fail(d, path, errno);
    if (exists && !S_ISREG(st.st_mode)) {
        /* a device, FIFO or socket: written in place (opening a FIFO waits for its reader) */
        FILE *f = fopen(path, "w");
        if (!f)
            return fail(d, path, errno);
        bool ok = write_all(f, fn, ctx, &err);
        if (fclose(f) != 0 && ok) {
            err = errno;
            ok = false;
        }
        return ok ? true : fail(d, path, err);
    }
    return replace_file(path, target, exists, &st, fn, ctx, false, d);
}

bool outfile_replace(const char *path, OutfileFn fn, const void *ctx, Diag *d) {
    struct stat st;
    bool exists = stat(path, &st) == 0;
    if (!exists && errno != ENOENT)
        return fail(d, path, errno);
    if (exists && !S_ISREG(st.st_mode)) {
        diag_error(d, NOLOC, "cannot write '%s': it is not a regular file, and this file is replaced by renaming a "
                   "new one over it", path);
        return false;
    }
    char target[PATH_MAX];
    if (exists && !realpath(path, target))
        return fail(d, path, errno);
    if (!exists && !resolve_links(path, target, sizeof target))
        return fail(d, path, errno);
    return replace_file(path, target, exists, &st, fn, ctx, true, d);
}

/* A regular file or a new one: a temporary file in the target's directory, renamed over it (durable:
 * flushed to the disk first, so that after a crash the file is the old one or the new one). */
static bool replace_file(const char *path, const char *target, bool exists, const struct stat *st, OutfileFn fn,
                         const void *ctx, bool durable, Diag *d) {
    int err = 0;
    size_t n = strlen(target) + 16;
    char *tmp = h2c_raw_alloc(n);
    if (!tmp)
        return fail(d, path, ENOMEM);
    snprintf(tmp, n, "%s.tmp.XXXXXX", target);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        err = errno;
        h2c_raw_free(tmp, n);
        return fail(d, path, err);
    }
    /* mkstemp makes the file private: give it the mode of the file it replaces, or the mode a plain
       fopen would give a new file (0666 less the umask) */
    mode_t mode;
    if (exists) {
        mode = st->st_mode & 07777;
        if (fchown(fd, st->st_uid, st->st_gid) != 0) {
            /* not the owner: the new file is ours, as it would be with a plain copy */
        }
    } else {
        mode_t um = umask(0);
        umask(um);
        mode = 0666 & ~um;
    }
    bool ok = true;
    if (fchmod(fd, mode) != 0) {
        err = errno;
        ok = false;
    }
    FILE *f = ok ? fdopen(fd, "w") : NULL;
    if (ok && !f) {
        err = errno;
        ok = false;
    }
    if (!f)
        close(fd);
    if (ok)
        ok = write_all(f, fn, ctx, &err);
    if (ok && durable && fsync(fileno(f)) != 0) {
        err = errno;
        ok = false;
    }
    if (f && fclose(f) != 0 && ok) {
        err = errno;
        ok = false;
    }
    if (ok && rename(tmp, target) != 0) {
        err = errno;
        ok = false;
    }
    if (!ok)
        unlink(tmp);
    h2c_raw_free(tmp, n);
    return ok ? true : fail(d, path, err);
}
