/* target.c: the driver common to both kernel targets: check the descs, drop duplicates, feed the
 * rest to a KernelTarget, and write its unit to a stream or (through a temporary file renamed into
 * place on success) to a path. */
#include "kernels.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool be_emit_kernels(const KernelTarget *t, FILE *out, const char *unit, const KernelDesc *descs, int n,
                     const KernelOptions *o, Diag *d) {
    int errors = d->errors;
    for (int i = 0; i < n; i++)
        be_kernel_check(&descs[i], d);
    if (d->errors > errors)
        return false;
    KernelOptions defaults = {0};
    void *u = t->open(unit, o ? o : &defaults, d);
    if (!u)
        return false;
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        bool dup = false;
        for (int j = 0; j < i && !dup; j++)
            dup = be_kernel_equal(&descs[i], &descs[j]);
        if (!dup)
            ok = t->add(u, &descs[i], d);
    }
    ok = ok && t->write(u, out, d);
    if (t->close)
        t->close(u);
    return ok;
}

bool be_write_kernels(const KernelTarget *t, const char *path, const char *unit, const KernelDesc *descs, int n,
                      const KernelOptions *o, Diag *d) {
    size_t len = strlen(path) + 16;
    char *tmp = h2c_raw_alloc(len);
    if (!tmp) {
        diag_error(d, NOLOC, "out of memory");
        return false;
    }
    snprintf(tmp, len, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd >= 0) {
        /* mkstemp makes the file private; give it the mode a plain fopen would (0666 less the umask) */
        mode_t um = umask(0);
        umask(um);
        fchmod(fd, 0666 & ~um);
    }
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        diag_error(d, NOLOC, "cannot write '%s': %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        h2c_raw_free(tmp, len);
        return false;
    }
    bool ok = be_emit_kernels(t, f, unit, descs, n, o, d);
    bool io = !ferror(f);
    io = (fclose(f) == 0) && io;
    if (ok && io && rename(tmp, path) != 0)
        io = false;
    if (ok && !io)
        diag_error(d, NOLOC, "cannot write '%s': %s", path, strerror(errno));
    if (!ok || !io)
        unlink(tmp);
    h2c_raw_free(tmp, len);
    return ok && io;
}
