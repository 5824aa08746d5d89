/* fuzz_safetensors.c: the safetensors reader (runtime/safetensors.c), which maps files, so the
 * input is written to the scratch folder first. An input is a checkpoint folder: the main part is
 * its model.safetensors, and "=== NAME" parts (fuzz.h) are other files in it, such as
 * model.safetensors.index.json and its shards. The folder is opened with st_open, and its
 * model.safetensors as a file too.
 * Oracles (docs/fuzzing.md): a refusal says why (m->err); an accepted checkpoint's tensors each lie
 * inside their file's data, hold exactly shape x dtype bytes, tile the data without a gap or an
 * overlap, have distinct names that st_find finds, and every element can be read. */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "runtime.h"

FUZZ_INITIALIZE(false)

static int by_offset(const void *a, const void *b) {
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    return x->file != y->file ? (x->file > y->file) - (x->file < y->file)
                              : (x->offset > y->offset) - (x->offset < y->offset);
}

static void check_model(const StModel *m) {
    static const size_t esize[ST_DTYPE_COUNT_] = {4, 2, 2};
    for (int i = 0; i < m->n; i++) {
        const StTensor *t = &m->t[i];
        FUZZ_CHECK(t->file >= 0 && t->file < m->nfiles && t->dtype < ST_DTYPE_COUNT_ && t->rank >= 0 &&
                       t->rank <= ST_MAX_RANK,
                   NULL, "tensor '%s': a bad file, dtype or rank", t->name);
        const StFile *f = &m->files[t->file];
        FUZZ_CHECK(f->data >= (const unsigned char *)f->map && f->data + f->data_size == (const unsigned char *)f->map + f->size,
                   NULL, "file %s: the data is not the end of the mapping", f->path);
        FUZZ_CHECK(t->offset <= f->data_size && t->nbytes <= f->data_size - t->offset, NULL,
                   "tensor '%s': bytes %zu..+%zu outside the %zu bytes of data", t->name, t->offset, t->nbytes,
                   f->data_size);
        size_t count = st_count(t);
        FUZZ_CHECK(count * esize[t->dtype] == t->nbytes, NULL, "tensor '%s': %zu elements of %s in %zu bytes", t->name,
                   count, st_dtype_name(t->dtype), t->nbytes);
        FUZZ_CHECK(st_find(m, t->name) == t, NULL, "tensor '%s': st_find finds another", t->name);
        double sum = 0;
        for (size_t k = 0; k < count; k++)
            sum += st_element(m, t, k);
        (void)sum;
    }
    /* per file, sorted by offset, the tensors tile the data */
    const StTensor **byoff = malloc(sizeof *byoff * (size_t)(m->n + 1));
    FUZZ_CHECK(byoff, NULL, "out of memory");
    for (int i = 0; i < m->n; i++)
        byoff[i] = &m->t[i];
    qsort(byoff, (size_t)m->n, sizeof *byoff, by_offset);
    int k = 0;
    for (int f = 0; f < m->nfiles; f++) {
        size_t at = 0;
        for (; k < m->n && byoff[k]->file == f; k++) {
            FUZZ_CHECK(byoff[k]->offset == at, NULL, "file %s: tensor '%s' starts at %zu, not %zu", m->files[f].path,
                       byoff[k]->name, byoff[k]->offset, at);
            at += byoff[k]->nbytes;
        }
        FUZZ_CHECK(at == m->files[f].data_size, NULL, "file %s: tensors cover %zu of %zu bytes", m->files[f].path, at,
                   m->files[f].data_size);
    }
    free(byoff);
}

static void open_and_check(const char *path) {
    StModel m;
    if (st_open(path, &m))
        check_model(&m);
    else
        FUZZ_CHECK(m.err[0], NULL, "st_open(%s) failed without saying why", path);
    st_close(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FuzzPart parts[FUZZ_MAX_PARTS];
    int n = fuzz_split(data, size, parts);
    fuzz_clear();
    fuzz_write("ckpt/model.safetensors", parts[0].data, parts[0].len);
    fuzz_write_parts(parts, n, "ckpt");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", fuzz_path("ckpt"));
    open_and_check(dir);
    open_and_check(fuzz_path("ckpt/model.safetensors"));
    return 0;
}
