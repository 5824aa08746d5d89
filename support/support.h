/* support.h: the ground floor of h2c, which every other folder builds on and which depends on
 * nothing but libc: the allocator hook and arenas, diagnostics with source locations, source
 * files, units, text formatting, the clock and NumPy's .npy files. One section per .c file. */
#ifndef H2C_SUPPORT_H
#define H2C_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define H2C_VERSION "0.3.0"

/* ---------------------------------------------------------------- base.c */

/* One allocator hook for the whole library (Lua's lua_Alloc): realloc semantics, nsize 0 frees.
 * Returns NULL on failure. Tests install a hook that fails the Nth call. */
typedef void *(*H2cAllocFn)(void *ud, void *ptr, size_t osize, size_t nsize);
void h2c_set_allocator(H2cAllocFn fn, void *ud);
/* A hook is installed: work that would run on several threads runs on one (a hook counting
 * allocations sees them in a repeatable order, and need not be thread-safe). */
bool h2c_allocator_hooked(void);
void *h2c_raw_alloc(size_t n);           /* NULL on failure */
void *h2c_raw_realloc(void *p, size_t osize, size_t nsize);
void h2c_raw_free(void *p, size_t osize);
/* malloc- and free-shaped allocation through the hook, for a library that takes such a pair (cJSON's
 * hooks): the block's size rides in a 16-byte header, since h2c_raw_free needs it. A failure sets
 * h2c_sized_failed, which its user clears before the calls it checks (one flag for the process, as
 * a library's allocator hook is). */
void *h2c_sized_alloc(size_t n);
void h2c_sized_free(void *p);
extern bool h2c_sized_failed;

/* An internal invariant failed: a bug in h2c, never a user error. */
_Noreturn void h2c_unreachable_at(const char *file, int line, const char *msg);
#define h2c_unreachable(msg) h2c_unreachable_at(__FILE__, __LINE__, (msg))

/* Arena: bump allocation in chunks, freed all at once. Lifetimes are named by who owns the arena
 * (a Session owns sources, ASTs and configs; a Module owns its IR). When an allocation fails the
 * arena longjmps to `oom` (set by the library entry point that is running), or, if none is set,
 * calls h2c_unreachable. A `limit` makes an arena run out early: the dataflow search's memory budget. */
typedef struct ArenaChunk ArenaChunk;
typedef struct Arena {
    ArenaChunk *head;   /* newest chunk first */
    ArenaChunk *spare;  /* chunks kept by arena_reset for reuse */
    size_t used;        /* bytes used in head */
    size_t total;       /* bytes handed out, for statistics */
    size_t limit;       /* bytes that may be handed out before it counts as running out (0: no limit) */
    jmp_buf *oom;       /* where to jump when memory runs out; NULL: fatal */
} Arena;

void arena_init(Arena *a);
void arena_free(Arena *a);
/* Forgets every allocation but keeps the memory for the next ones (no trip to the allocator). */
void arena_reset(Arena *a);
void *arena_alloc(Arena *a, size_t n);            /* zeroed, 16-byte aligned */
void *arena_realloc(Arena *a, void *p, size_t osize, size_t nsize);
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define ARENA_NEW(a, T) ((T *)arena_alloc((a), sizeof(T)))
#define ARENA_ARRAY(a, T, n) ((T *)arena_alloc((a), sizeof(T) * (size_t)(n)))

/* A growable array in an arena: `T *items; int count, cap;` next to each other. */
#define VEC_PUSH(arena, items, count, cap, value)                                              \
    do {                                                                                       \
        if ((count) == (cap)) {                                                                \
            int ncap_ = (cap) ? (cap) * 2 : 8;                                                 \
            (items) = arena_realloc((arena), (items), sizeof(*(items)) * (size_t)(cap),        \
                                    sizeof(*(items)) * (size_t)ncap_);                         \
            (cap) = ncap_;                                                                     \
        }                                                                                      \
        (items)[(count)++] = (value);                                                          \
    } while (0)

/* Writes s in double quotes with " \\ newline tab and control bytes escaped, as IR text reads them
 * (.h2 has no \x escape: fe_write_string writes its strings). */
void write_quoted(FILE *out, const char *s);
/* Shortest decimal text that reads back to exactly `v` (%.15g, %.16g or %.17g). */
void fmt_double(char *buf, size_t n, double v);
/* "s" unless n is 1: "%d layer%s" reads "1 layer", "2 layers". */
const char *plural(long long n);
/* Edit distance, for "did you mean" suggestions. */
int edit_distance(const char *a, const char *b);
/* The candidate closest to `word` (NULL-terminated list), or NULL if none is close. */
const char *closest_word(const char *word, const char *const *candidates);
/* Seconds on the monotonic clock, for timing passes and searches. */
double h2c_seconds(void);

/* ---------------------------------------------------------------- diag.c */

/* A source file kept in memory for the caret lines of diagnostics. `text` may be NULL for a file
 * that is only named (e.g. a .h2 location read back from IR text): it is never opened, and a
 * diagnostic at it gives the location without the source line. */
typedef struct SrcFile {
    const char *name;   /* path as given */
    const char *text;   /* whole contents, NUL-terminated (may contain NULs), or NULL */
    size_t len;         /* bytes in text */
    bool ir_text;       /* IR text being read: Locs into it point at errors but are not printed back */
} SrcFile;

/* Where something came from: every token, AST node and IR entity has one. line/col are 1-based,
 * col counts bytes; len is the span in bytes on that line (0: a point). file NULL: no location. */
typedef struct Loc {
    const SrcFile *file;
    int line, col, len;
} Loc;

extern const Loc NOLOC;

typedef enum DiagLevel { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } DiagLevel;

/* Counts and prints diagnostics in the gcc format. Phases return false on error; only the CLI
 * turns that into an exit status. */
typedef struct Diag {
    FILE *out;          /* where diagnostics go (stderr in the CLI, a memstream in tests) */
    int errors;         /* errors reported so far */
    int warnings;       /* warnings reported so far */
    int max_errors;     /* stop after this many (0: 20) */
    bool stop;          /* set once max_errors is reached: phases should give up */
    bool werror;        /* treat warnings as errors */
    bool quiet;         /* count diagnostics but print none (a search trying designs one by one) */
} Diag;

void diag_init(Diag *d, FILE *out);
/* A Diag that counts and prints nothing. */
void diag_init_quiet(Diag *d);
void diag_report(Diag *d, DiagLevel lvl, Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_vreport(Diag *d, DiagLevel lvl, Loc loc, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
#define diag_error(d, loc, ...) diag_report((d), DIAG_ERROR, (loc), __VA_ARGS__)
#define diag_warning(d, loc, ...) diag_report((d), DIAG_WARNING, (loc), __VA_ARGS__)
#define diag_note(d, loc, ...) diag_report((d), DIAG_NOTE, (loc), __VA_ARGS__)
/* Loc spanning from a's start to b's end when both are on one line, else a. */
Loc loc_span(Loc a, Loc b);

/* ---------------------------------------------------------------- srcfile.c */

/* Reads a whole file into the arena as a SrcFile (two NULs after the text). NULL, with a diagnostic
 * located at `from`, if it cannot be opened or read or is larger than max_bytes. */
SrcFile *srcfile_read(Arena *a, Diag *d, const char *path, Loc from, size_t max_bytes);

/* ---------------------------------------------------------------- outfile.c */

/* Writes what fn prints as the file `path` ("-" or NULL: standard output). A regular file or a new
 * one is written to a temporary file in the same directory and renamed over the target only when
 * every write, the flush and the close succeeded, so a failure leaves the target as it was; a new
 * file gets 0666 less the umask, a replaced one keeps its mode. A symbolic link is followed and its
 * target written (the link stays). A device, FIFO or socket is written in place, never replaced. On
 * failure the error is reported with the path and the result is false. */
typedef void (*OutfileFn)(FILE *out, const void *ctx);
bool outfile_write(const char *path, OutfileFn fn, const void *ctx, Diag *d);
/* The same for a file that must be replaced whole or not at all (a checkpoint): the temporary file
 * is flushed to the disk before the rename, and a path that is not a regular file (a device, a FIFO,
 * a directory) is an error rather than written in place. */
bool outfile_replace(const char *path, OutfileFn fn, const void *ctx, Diag *d);

/* ---------------------------------------------------------------- strindex.c */

/* Names (borrowed: they must outlive the index) to ints, by hashing. */
typedef struct StrIndex {
    const char **keys;      /* NULL: an empty slot */
    int *vals;
    size_t cap, n;
} StrIndex;

void strindex_init(StrIndex *x);
void strindex_free(StrIndex *x);
/* The value of key, or -1. */
int strindex_find(const StrIndex *x, const char *key);
/* Adds key -> value unless key is there: returns -1 when added, the existing value when it was
 * there already, -2 when memory ran out. */
int strindex_add(StrIndex *x, const char *key, int value);

/* ---------------------------------------------------------------- units.c */

/* What a value measures. Each field of the language accepts one kind. */
typedef enum UnitKind {
    UK_NONE,        /* a plain number (counts, ratios written without %) */
    UK_BYTES,       /* B, KB, KiB, MB, MiB, GB, GiB, TB, TiB; base: byte */
    UK_FREQ,        /* Hz, kHz, MHz, GHz; base: Hz */
    UK_BANDWIDTH,   /* B/s, KB/s, MB/s, GB/s, GiB/s, TB/s; base: byte/s */
    UK_MACRATE,     /* MAC/s, GMAC/s, TMAC/s; base: MAC/s */
    UK_ENERGY_BIT,  /* fJ/bit, pJ/bit, pJ/B; base: pJ/bit */
    UK_ENERGY_MAC,  /* fJ/MAC, pJ/MAC; base: pJ/MAC */
    UK_ENERGY,      /* fJ, pJ, nJ, uJ; base: pJ */
    UK_TOKENS,      /* token, tokens; base: token */
    UK_PERCENT,     /* %; stored as a fraction */
    UK_TIME,        /* ns, us, ms, s, min; base: s */
    UK_COUNT_
} UnitKind;

typedef struct Unit {
    const char *name;   /* spelling, e.g. "GB/s" */
    UnitKind kind;
    int pow10;          /* scale = 10^pow10 * 2^pow2 (exact scaling, see unit_apply) */
    int pow2;
    double factor;      /* any other scale (min = 60 s); 1 otherwise */
} Unit;

const Unit *unit_lookup(const char *name);
const char *unit_kind_name(UnitKind k);      /* "a size", "a frequency", ... */
const char *unit_kind_example(UnitKind k);   /* "MiB", "MHz", ... */
/* Scale the decimal literal `text` by `u` exactly (10^k by rewriting the exponent, 2^k exactly).
 * Returns false on overflow to infinity (or, for a literal of more than 64 bytes, when memory runs out). */
bool unit_apply(const char *text, const Unit *u, double *out);
/* Print v (base units of kind k) with the unit that gives the shortest number that reads back
 * exactly (the larger unit on a tie; a number below 1 only in the base unit), among the house
 * units: sizes in binary multiples (256MiB, 1.5KiB, else bytes), energies in pJ (0.682pJ/MAC),
 * the rest in any unit of the kind (12.8GB/s, 600MHz). No space before the unit; a percentage
 * prints as a fraction (0.7). */
void unit_format(char *buf, size_t n, double v, UnitKind k);

/* ---------------------------------------------------------------- npy.c
 * A strict reader and an atomic writer of NumPy .npy files (docs/npy.md), for calibration data,
 * weights and dumps. */

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
