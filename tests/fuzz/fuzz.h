/* fuzz.h: what the libFuzzer harnesses in tests/fuzz/ share (docs/fuzzing.md): a scratch folder
 * each process makes for the files a harness writes and the library reads, inputs made of several
 * named files, an allocator hook that checks the allocator's contract and counts what is still
 * allocated after each input, diagnostics into memory, and the oracle's failure report. Each
 * harness is built twice: with libFuzzer's main (fuzz_NAME, clang -fsanitize=fuzzer) and with
 * replay.c's (replay_NAME, in every build), which feeds it the files of a corpus. */
#ifndef H2C_FUZZ_H
#define H2C_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The harness's two entry points, as libFuzzer calls them. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Defines the harness's LLVMFuzzerInitialize: the scratch folder made, and, when `hook`, the
 * allocator hook installed (fuzz_alloc_install). */
#define FUZZ_INITIALIZE(hook)                                                                             \
    int LLVMFuzzerInitialize(int *argc, char ***argv) {                                                   \
        (void)argc;                                                                                       \
        (void)argv;                                                                                       \
        if (hook)                                                                                         \
            fuzz_alloc_install();                                                                         \
        fuzz_scratch();                                                                                   \
        return 0;                                                                                         \
    }

/* ---------------------------------------------------------------- the scratch folder */

/* The canonical path of this process's scratch folder: made on the first call under $TMPDIR, else
 * under the current directory (h2c-fuzz-XXXXXX), and removed with what it holds at exit. */
const char *fuzz_scratch(void);
/* scratch/rel, in a buffer that the next call reuses. */
const char *fuzz_path(const char *rel);
/* Removes everything in the scratch folder (not the folder). */
void fuzz_clear(void);
/* Writes n bytes to scratch/rel, making its folders; false if rel is not a plain relative name
 * (fuzz_name_ok) or the write fails. */
bool fuzz_write(const char *rel, const void *data, size_t n);
/* A name a harness may write under the scratch folder: 1 to 4 components of [A-Za-z0-9_.-], none
 * starting with '.', at most 120 bytes. */
bool fuzz_name_ok(const char *rel, size_t n);

/* ---------------------------------------------------------------- inputs of several files */

/* An input holds a main file, then files each introduced by a line "=== NAME" at the start of the
 * input or after a newline: "main text\n=== hw/dev.h2\nits text\n". The newline before "===" ends
 * the file before it. */
typedef struct FuzzPart {
    char name[128];         /* "" for the main file; a part whose name is not fuzz_name_ok is dropped */
    const uint8_t *data;    /* into the input */
    size_t len;
} FuzzPart;

enum { FUZZ_MAX_PARTS = 16 };

/* Splits an input into at most FUZZ_MAX_PARTS parts (the main one first, maybe empty); returns
 * the count. Parts past the last one that fits are dropped. */
int fuzz_split(const uint8_t *data, size_t size, FuzzPart *parts);
/* Writes every named part under the scratch folder (prefix/NAME); false if one could not be. */
bool fuzz_write_parts(const FuzzPart *parts, int n, const char *prefix);

/* ---------------------------------------------------------------- memory */

/* Installs an allocator hook (h2c_set_allocator) that keeps each block's size in a header and
 * stops the run when a realloc or free names another size, and counts the bytes allocated. With a
 * hook installed h2c runs single-threaded, so every input runs the same way. */
void fuzz_alloc_install(void);
/* Bytes allocated through h2c's hook and not freed. */
size_t fuzz_alloc_live(void);
/* Checks that an input left nothing allocated through the hook (what it allocated, it freed). */
void fuzz_alloc_check(const char *where);

/* A memory stream for diagnostics and printed IR. */
typedef struct FuzzBuf {
    FILE *f;
    char *text;
    size_t len;
} FuzzBuf;

void fuzzbuf_open(FuzzBuf *b);
/* Flushes and returns the text so far (NUL-terminated); the stream stays open. */
const char *fuzzbuf_text(FuzzBuf *b);
void fuzzbuf_close(FuzzBuf *b);

/* ---------------------------------------------------------------- the oracle */

/* An oracle failed: prints the message, and the diagnostics so far if diag is given, then aborts
 * (libFuzzer saves the input as a crash). */
_Noreturn void fuzz_fail(const char *diag, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Fails, showing the first line that differs, unless a and b are the same bytes. */
void fuzz_check_same(const char *a, size_t alen, const char *b, size_t blen, const char *what);
#define FUZZ_CHECK(cond, diag, ...)            \
    do {                                       \
        if (!(cond))                           \
            fuzz_fail((diag), __VA_ARGS__);    \
    } while (0)

/* ---------------------------------------------------------------- fuzz_irtext.c (needs h2c_lib) */

typedef struct Module Module;
/* The IR text of m reads back, gets ir_verify's verdict `verified` (what m got), and prints the
 * same text: parse(print(m)) is a fixed point of print. `stage` says where m comes from. */
void fuzz_ir_roundtrip(const Module *m, bool verified, const char *stage);

#endif
