/* replay.c: the main of a harness built without libFuzzer (replay_NAME, in every build): each
 * argument, a file or a folder of files (in name order; not its sub-folders, not names starting with
 * '.'), is read whole and given to LLVMFuzzerTestOneInput, as libFuzzer would with -runs=0. So ctest
 * runs every harness on its committed corpus and its regression inputs under gcc, ASan and valgrind
 * alike. A failing oracle aborts; a file that cannot be read is an error (exit 1). */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int replayed;

static bool replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return false;
    }
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + len, 1, cap - len, f)) > 0;) {
        len += got;
        if (len == cap) {
            unsigned char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    bool ok = buf && !ferror(f);
    fclose(f);
    if (!ok) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(buf);
        return false;
    }
    /* a copy of exactly len bytes, so that ASan sees a read past the input */
    unsigned char *in = malloc(len ? len : 1);
    if (!in) {
        free(buf);
        return false;
    }
    memcpy(in, buf, len);
    free(buf);
    if (getenv("REPLAY_VERBOSE"))
        fprintf(stderr, "replay: %s\n", path);
    LLVMFuzzerTestOneInput(in, len);
    free(in);
    replayed++;
    return true;
}

static int skip_hidden(const struct dirent *e) { return e->d_name[0] != '.'; }

int main(int argc, char **argv) {
    LLVMFuzzerInitialize(&argc, &argv);
    bool ok = true;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            ok = false;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            ok = replay_file(argv[i]) && ok;
            continue;
        }
        struct dirent **names;
        int n = scandir(argv[i], &names, skip_hidden, alphasort);
        if (n < 0) {
            fprintf(stderr, "replay: cannot list %s: %s\n", argv[i], strerror(errno));
            ok = false;
            continue;
        }
        for (int k = 0; k < n; k++) {
            size_t len = strlen(argv[i]) + strlen(names[k]->d_name) + 2;
            char *path = malloc(len);
            if (path) {
                snprintf(path, len, "%s/%s", argv[i], names[k]->d_name);
                if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
                    ok = replay_file(path) && ok;
                free(path);
            }
            free(names[k]);
        }
        free(names);
    }
    printf("replayed %d input%s\n", replayed, replayed == 1 ? "" : "s");
    return ok ? 0 : 1;
}
