/* st_tool.c: opens a safetensors checkpoint with runtime/safetensors.c and prints its tensors
 * (name, dtype, shape, then every element as %.17g), or the error; exit 0 or 1. For
 * tests/runtime/safetensors_cases.py. usage: st_tool PATH */
#include "runtime.h"

#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2)
        return 2;
    StModel m;
    if (!st_open(argv[1], &m)) {
        printf("error: %s\n", m.err);
        st_close(&m);
        return 1;
    }
    printf("ok %d\n", m.n);
    for (int i = 0; i < m.n; i++) {
        const StTensor *t = &m.t[i];
        printf("%s %s", t->name, st_dtype_name(t->dtype));
        for (int k = 0; k < t->rank; k++)
            printf(" %lld", (long long)t->dims[k]);
        printf(" :");
        size_t n = st_count(t);
        for (size_t e = 0; e < n && e < 4096; e++)
            printf(" %.17g", st_element(&m, t, e));
        printf("\n");
    }
    st_close(&m);
    return 0;
}
