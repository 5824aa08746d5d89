/* npy.h: a strict reader and an atomic writer of NumPy .npy files, for weights, KV caches and
 * calibration data fed to h2c and its reference runtime. A section of support/support.h to be:
 * it needs only the base (Arena, Diag, Loc) and libc. The accepted subset is in docs/npy.md. */
#ifndef H2C_NPY_H
#define H2C_NPY_H

#include "frontend.h"

/* ---------------------------------------------------------------- npy.c */

#define NPY_MAX_RANK 8                  /* more dimensions are rejected */
#define NPY_MAX_HEADER (1u << 20)       /* a header longer than 1 MiB is rejected */

/* The element types h2c reads, all little-endian IEEE: '<f2', '<f4', '<f8'. */
typedef enum NpyDtype {
    NPY_F16,    /* '<f2', binary16 */
    NPY_F32,    /* '<f4', binary32 */
    NPY_F64,    /* '<f8', binary64 (oracles); written only from float data, exactly */
} NpyDtype;

/* What the reader does with the data. */
typedef enum NpyConvert {
    NPY_TO_F32,     /* to float: f16 and f32 exactly, f64 rounded to nearest (C conversion) */
    NPY_TO_F64,     /* to double: exactly, from any of the three */
    NPY_RAW,        /* the bytes as stored (little-endian, itemsize each), copied */
} NpyConvert;

/* An array read from a .npy file; every pointer lives in the Arena given to the reader. */
typedef struct NpyArray {
    NpyDtype dtype;                     /* element type in the file */
    int version;                        /* format major version read: 1, 2 or 3 */
    int rank;                           /* 0 (a scalar) .. NPY_MAX_RANK */
    int64_t dims[NPY_MAX_RANK];         /* C order, outermost first; unused entries 0 */
    size_t count;                       /* product of dims (1 for rank 0, 0 if a dim is 0) */
    size_t itemsize;                    /* bytes per element in the file: 2, 4 or 8 */
    float *f32;                         /* count floats (NPY_TO_F32), else NULL */
    double *f64;                        /* count doubles (NPY_TO_F64), else NULL */
    unsigned char *raw;                 /* count * itemsize bytes (NPY_RAW), else NULL */
} NpyArray;

/* Reads a .npy file. Regular files, pipes and devices are all read with read(2) as a stream,
 * so memory is the header (<= 1 MiB) plus the converted data, which is allocated only once the
 * header has been checked (against the file size, for a regular file) and is refused above
 * max_bytes (0: no limit but the address space). false, with one located error on `d`, for
 * anything outside the accepted subset; `out` is then zeroed. */
bool npy_read_file(Arena *a, Diag *d, const char *path, NpyConvert conv, size_t max_bytes, NpyArray *out);
/* The same from memory; `name` is the file name diagnostics print. */
bool npy_read_mem(Arena *a, Diag *d, const char *name, const void *buf, size_t len, NpyConvert conv,
                  NpyArray *out);

/* Writes `data` (count = product of dims floats, C order) as a version 1.0 file of `dtype`
 * (2.0 if the header would not fit 1.0), header laid out as numpy 1.24 writes it. f16 is
 * rounded to nearest even (overflow to inf, NaN kept a quiet NaN); f64 is exact. A regular or
 * new file is written to a temporary file in the same directory and renamed into place only
 * when every write, fsync and close succeeded (a symbolic link is followed, not replaced); a
 * device or pipe is written directly. false, with an error on `d`, on failure. */
bool npy_write_file(Diag *d, const char *path, NpyDtype dtype, int rank, const int64_t *dims, const float *data);

/* binary16 <-> binary32: half to float is exact (NaN payloads kept); float to half rounds to
 * nearest even, overflows to inf, and keeps a NaN a NaN (quiet, top payload bits kept). */
float npy_f16_to_f32(uint16_t h);
uint16_t npy_f32_to_f16(float f);
/* The numpy spelling of a dtype: "<f2", "<f4", "<f8". */
const char *npy_dtype_name(NpyDtype t);

#endif
