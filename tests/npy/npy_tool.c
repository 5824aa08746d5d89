/* npy_tool.c: a small driver of support/npy.c for tests/npy/numpy_roundtrip.py, which has numpy
 * write files for h2c to read and read the files h2c writes.
 *   npy_tool copy IN OUT f2|f4|f8   read IN as float, write OUT with that dtype
 *   npy_tool raw IN OUT             read IN as stored, write its data bytes alone to OUT
 *   npy_tool f64 IN OUT             read IN as double, write the doubles (little-endian) to OUT
 *   npy_tool gen OUT f2|f4|f8 D...  write element i = ((i * 37) % 1001 - 500) / 64 of shape D...
 *   npy_tool check IN               read IN; print its dtype and shape, or its error
 * Exit status 0 on success, 1 when h2c reports an error, 2 on a usage error. */
#include "support.h"

#include <stdlib.h>
#include <string.h>

static bool parse_dtype(const char *s, NpyDtype *t) {
    if (strcmp(s, "f2") == 0)
        *t = NPY_F16;
    else if (strcmp(s, "f4") == 0)
        *t = NPY_F32;
    else if (strcmp(s, "f8") == 0)
        *t = NPY_F64;
    else
        return false;
    return true;
}

static bool write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(p, 1, n, f) == n;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "npy_tool: cannot write '%s'\n", path);
    return ok;
}

static int usage(void) {
    fprintf(stderr, "usage: npy_tool copy IN OUT f2|f4|f8 | raw IN OUT | f64 IN OUT | gen OUT f2|f4|f8 DIMS... | check IN\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 3)
        return usage();
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d, stderr);
    NpyArray x;
    NpyDtype t;
    const char *cmd = argv[1];
    bool ok;
    if (strcmp(cmd, "copy") == 0 && argc == 5 && parse_dtype(argv[4], &t)) {
        ok = npy_read_file(&a, &d, argv[2], NPY_TO_F32, 0, &x) &&
             npy_write_file(&d, argv[3], t, x.rank, x.dims, x.f32);
    } else if (strcmp(cmd, "raw") == 0 && argc == 4) {
        ok = npy_read_file(&a, &d, argv[2], NPY_RAW, 0, &x) && write_bytes(argv[3], x.raw, x.count * x.itemsize);
    } else if (strcmp(cmd, "f64") == 0 && argc == 4) {
        ok = npy_read_file(&a, &d, argv[2], NPY_TO_F64, 0, &x);
        if (ok) {
            /* little-endian whatever the host */
            unsigned char *b = arena_alloc(&a, x.count * 8 + 1);
            for (size_t i = 0; i < x.count; i++) {
                uint64_t u;
                memcpy(&u, &x.f64[i], 8);
                for (int k = 0; k < 8; k++)
                    b[i * 8 + (size_t)k] = (unsigned char)(u >> (8 * k));
            }
            ok = write_bytes(argv[3], b, x.count * 8);
        }
    } else if (strcmp(cmd, "gen") == 0 && argc >= 4 && argc <= 4 + NPY_MAX_RANK && parse_dtype(argv[3], &t)) {
        int rank = argc - 4;
        int64_t dims[NPY_MAX_RANK];
        size_t count = 1;
        for (int i = 0; i < rank; i++) {
            dims[i] = strtoll(argv[4 + i], NULL, 10);
            count *= (size_t)dims[i];
        }
        float *v = arena_alloc(&a, count * sizeof(float) + 1);
        for (size_t i = 0; i < count; i++)
            v[i] = (float)((long)((i * 37) % 1001) - 500) / 64.0f;
        ok = npy_write_file(&d, argv[2], t, rank, dims, v);
    } else if (strcmp(cmd, "check") == 0 && argc == 3) {
        ok = npy_read_file(&a, &d, argv[2], NPY_RAW, 0, &x);
        if (ok) {
            printf("%s (", npy_dtype_name(x.dtype));
            for (int i = 0; i < x.rank; i++)
                printf("%s%lld", i ? ", " : "", (long long)x.dims[i]);
            printf("%s) version %d\n", x.rank == 1 ? "," : "", x.version);
        }
    } else {
        arena_free(&a);
        return usage();
    }
    arena_free(&a);
    return ok ? 0 : 1;
}
