/* fuzz_npy.c: the .npy reader (support/npy.c). An input is a .npy file.
 * Oracles (docs/fuzzing.md): npy_read_mem fails with exactly one error or succeeds, with
 * count = the product of the dims; its three conversions (f32, f64, raw bytes) agree with each
 * other and with the bytes after the header; npy_read_file on the same bytes written to the scratch
 * folder gives the same verdict and the same array; an accepted f2 or f4 array written back with
 * npy_write_file reads back as the same bytes (a NaN stays a NaN), an f8 array as its values
 * rounded to float; nothing is left allocated. */
#include "fuzz.h"

#include <math.h>
#include <string.h>

#include "support.h"

FUZZ_INITIALIZE(true)

static uint64_t load_le(const unsigned char *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* Element i of a raw array as a double, and as the reader's float. */
static double raw_f64(const NpyArray *a, size_t i) {
    const unsigned char *p = a->raw + i * a->itemsize;
    if (a->dtype == NPY_F16)
        return npy_f16_to_f32((uint16_t)load_le(p, 2));
    if (a->dtype == NPY_F32) {
        uint32_t b = (uint32_t)load_le(p, 4);
        float f;
        memcpy(&f, &b, sizeof f);
        return f;
    }
    uint64_t b = load_le(p, 8);
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static bool same_bits_or_nan(double a, double b) {
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0;
}

static bool same_shape(const NpyArray *a, const NpyArray *b) {
    return a->dtype == b->dtype && a->version == b->version && a->rank == b->rank && a->count == b->count &&
           a->itemsize == b->itemsize && memcmp(a->dims, b->dims, sizeof a->dims) == 0;
}

static bool read_one(Arena *ar, const char *diag_what, const uint8_t *data, size_t size, NpyConvert conv,
                     NpyArray *out, FuzzBuf *diag) {
    Diag d;
    diag_init(&d, diag->f);
    bool ok = npy_read_mem(ar, &d, "input.npy", data, size, conv, out);
    FUZZ_CHECK(ok ? d.errors == 0 : d.errors == 1, fuzzbuf_text(diag), "%s: %s with %d errors", diag_what,
               ok ? "accepted" : "refused", d.errors);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FuzzBuf diag;
    fuzzbuf_open(&diag);
    Arena ar;
    arena_init(&ar);
    NpyArray raw, f32, f64, file;
    bool ok = read_one(&ar, "npy_read_mem (raw)", data, size, NPY_RAW, &raw, &diag);
    FUZZ_CHECK(read_one(&ar, "npy_read_mem (f32)", data, size, NPY_TO_F32, &f32, &diag) == ok, fuzzbuf_text(&diag),
               "the f32 and raw reads disagree");
    FUZZ_CHECK(read_one(&ar, "npy_read_mem (f64)", data, size, NPY_TO_F64, &f64, &diag) == ok, fuzzbuf_text(&diag),
               "the f64 and raw reads disagree");
    /* the file reader on the same bytes */
    FUZZ_CHECK(fuzz_write("input.npy", data, size), NULL, "cannot write the scratch file");
    Diag d;
    diag_init(&d, diag.f);
    bool fok = npy_read_file(&ar, &d, fuzz_path("input.npy"), NPY_RAW, 0, &file);
    FUZZ_CHECK(fok == ok, fuzzbuf_text(&diag), "npy_read_file %s what npy_read_mem %s", fok ? "accepts" : "refuses",
               ok ? "accepts" : "refuses");
    FUZZ_CHECK(fok ? d.errors == 0 : d.errors == 1, fuzzbuf_text(&diag), "npy_read_file: %d errors", d.errors);
    if (ok) {
        FUZZ_CHECK(same_shape(&raw, &f32) && same_shape(&raw, &f64) && same_shape(&raw, &file), NULL,
                   "the reads give different shapes");
        size_t count = 1;
        for (int i = 0; i < raw.rank; i++)
            count *= (size_t)raw.dims[i];
        FUZZ_CHECK(raw.rank >= 0 && raw.rank <= NPY_MAX_RANK && count == raw.count, NULL, "count %zu, dims give %zu",
                   raw.count, count);
        size_t nbytes = raw.count * raw.itemsize;
        FUZZ_CHECK(nbytes <= size && memcmp(raw.raw, data + size - nbytes, nbytes) == 0, NULL,
                   "the raw data is not the bytes after the header");
        FUZZ_CHECK(memcmp(raw.raw, file.raw, nbytes) == 0, NULL, "npy_read_file read other bytes");
        for (size_t i = 0; i < raw.count; i++) {
            double v = raw_f64(&raw, i);
            FUZZ_CHECK(same_bits_or_nan(f64.f64[i], v), NULL, "element %zu: f64 %.17g, raw %.17g", i, f64.f64[i], v);
            FUZZ_CHECK(same_bits_or_nan(f32.f32[i], (float)v), NULL, "element %zu: f32 %.9g, raw %.17g", i,
                       (double)f32.f32[i], v);
        }
        /* written back from the floats, read back */
        const char *out = fuzz_path("written.npy");
        diag_init(&d, diag.f);
        FUZZ_CHECK(npy_write_file(&d, out, raw.dtype, raw.rank, raw.dims, f32.f32), fuzzbuf_text(&diag),
                   "npy_write_file refused what was read");
        NpyArray back;
        FUZZ_CHECK(npy_read_file(&ar, &d, out, NPY_TO_F64, 0, &back), fuzzbuf_text(&diag),
                   "what npy_write_file wrote does not read back");
        FUZZ_CHECK(back.dtype == raw.dtype && back.rank == raw.rank && back.count == raw.count &&
                       memcmp(back.dims, raw.dims, sizeof raw.dims) == 0,
                   NULL, "written and read back: another shape");
        for (size_t i = 0; i < raw.count; i++) {
            double want = raw.dtype == NPY_F64 ? (double)(float)f64.f64[i] : f64.f64[i];
            FUZZ_CHECK(same_bits_or_nan(back.f64[i], want), NULL, "written and read back: element %zu is %.17g, not %.17g",
                       i, back.f64[i], want);
        }
    }
    arena_free(&ar);
    fuzzbuf_close(&diag);
    fuzz_alloc_check("an input of the .npy reader");
    return 0;
}
