/* test_npy.c: the .npy reader and writer (support/npy.c). Malformed files are built byte by byte
 * and each must be rejected with its message at its place; every one is read three ways (from
 * memory, from a file, from a pipe) and the three must report the same thing. Then the binary16
 * conversions (all 65536 halves; floats against a brute-force nearest-half search), round trips
 * through the writer, the writer's targets (new file, existing file, symbolic link, device,
 * pipe, a directory), and out-of-memory at every allocation of a read.
 * numpy itself is checked against in tests/npy/ (numpy writes, h2c reads, and back). */
#include "support.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oom_hook.h"
#include "test.h"

static char tmpdir[] = "/tmp/h2c-test-npy-XXXXXX";

/* ---------------------------------------------------------------- building images */

typedef struct Img {
    unsigned char b[4096];
    size_t n;
} Img;

/* magic, version, the header `dict` padded with spaces and '\n' to a multiple of `align`
 * bytes (align 0: no padding, no newline), then `data` bytes of data (0x00, 0x3c repeating:
 * 1.0 as binary16). */
static Img build(int major, int minor, const char *dict, int align, size_t data) {
    Img m;
    memset(&m, 0, sizeof m);
    memcpy(m.b, "\x93NUMPY", 6);
    m.b[6] = (unsigned char)major;
    m.b[7] = (unsigned char)minor;
    size_t pre = major == 1 ? 10 : 12, len = strlen(dict);
    memcpy(m.b + pre, dict, len);
    size_t total = pre + len;
    if (align > 0) {
        total++;    /* the newline */
        while (total % (size_t)align)
            total++;
        memset(m.b + pre + len, ' ', total - pre - len);
        m.b[total - 1] = '\n';
    }
    size_t hlen = total - pre;
    for (size_t i = 0; i < pre - 8; i++)
        m.b[8 + i] = (unsigned char)(hlen >> (8 * i));
    for (size_t i = 0; i < data; i++)
        m.b[total + i] = i % 2 ? 0x3c : 0x00;
    m.n = total + data;
    return m;
}

#define DICT(descr, order, shape) "{'descr': '" descr "', 'fortran_order': " order ", 'shape': " shape ", }"

/* ---------------------------------------------------------------- reading three ways */

static char *diag_text;
static size_t diag_len;

/* Runs f with a Diag on a memstream; the text is in diag_text until the next call. */
static bool with_diag(bool (*f)(Arena *, Diag *, void *), void *arg, NpyArray *out, Arena *a) {
    free(diag_text);
    diag_text = NULL;
    FILE *fp = open_memstream(&diag_text, &diag_len);
    Diag d;
    diag_init(&d, fp);
    (void)out;
    bool ok = f(a, &d, arg);
    fclose(fp);
    if (ok != (d.errors == 0))
        test_fail(__FILE__, __LINE__, "a read fails exactly when it reports an error");
    return ok;
}

typedef struct ReadArgs {
    const Img *img;
    const char *path;
    NpyConvert conv;
    size_t max_bytes;
    NpyArray *out;
} ReadArgs;

static bool do_mem(Arena *a, Diag *d, void *arg) {
    ReadArgs *r = arg;
    return npy_read_mem(a, d, "x.npy", r->img->b, r->img->n, r->conv, r->out);
}

static bool do_file(Arena *a, Diag *d, void *arg) {
    ReadArgs *r = arg;
    return npy_read_file(a, d, r->path, r->conv, r->max_bytes, r->out);
}

/* Writes the image to tmpdir/x.npy. */
static char *image_file(const Img *m) {
    static char path[256];
    snprintf(path, sizeof path, "%s/x.npy", tmpdir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(m->b, 1, m->n, f) != m->n || fclose(f) != 0)
        test_fail(__FILE__, __LINE__, "writing a test image");
    return path;
}

/* `s` with every occurrence of `from` replaced by `to` (static buffer). */
static const char *replace(const char *s, const char *from, const char *to) {
    static char buf[8192];
    size_t k = 0, fl = strlen(from), tl = strlen(to);
    while (*s && k + tl + 1 < sizeof buf) {
        if (strncmp(s, from, fl) == 0) {
            memcpy(buf + k, to, tl);
            k += tl;
            s += fl;
        } else {
            buf[k++] = *s++;
        }
    }
    buf[k] = 0;
    return buf;
}

/* Reads m from memory, as a file and through a pipe. Returns the diagnostics of the memory read
 * (NULL when it succeeded); the other two must print the same (with their own file name), or
 * for a pipe with trailing bytes, say the file "has more". */
static const char *read3(const Img *m, const char *where) {
    Arena a;
    arena_init(&a);
    NpyArray out;
    ReadArgs r = {m, NULL, NPY_TO_F32, 0, &out};
    bool ok = with_diag(do_mem, &r, &out, &a);
    static char mem[8192];
    snprintf(mem, sizeof mem, "%s", diag_text);

    r.path = image_file(m);
    bool ok_file = with_diag(do_file, &r, &out, &a);
    const char *want = replace(mem, "x.npy", r.path);
    if (ok_file != ok || strcmp(diag_text, want) != 0) {
        test_fail(__FILE__, __LINE__, "a file reads as its bytes in memory do");
        fprintf(stderr, "    case %s\n    memory:\n%s    file:\n%s", where, mem, diag_text);
    }

    int fds[2];
    if (m->n < 60000 && pipe(fds) == 0) {
        if (write(fds[1], m->b, m->n) != (ssize_t)m->n)
            test_fail(__FILE__, __LINE__, "filling a pipe");
        close(fds[1]);
        char path[64];
        snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
        r.path = path;
        bool ok_pipe = with_diag(do_file, &r, &out, &a);
        close(fds[0]);
        char want_pipe[8192];
        snprintf(want_pipe, sizeof want_pipe, "%s", replace(mem, "x.npy", path));
        bool same = strcmp(diag_text, want_pipe) == 0;
        if (!same && strstr(mem, "bytes after the data"))
            same = strstr(diag_text, "bytes after the data") && strstr(diag_text, "the file has more");
        if (ok_pipe != ok || !same) {
            test_fail(__FILE__, __LINE__, "a pipe reads as the bytes in memory do");
            fprintf(stderr, "    case %s\n    memory:\n%s    pipe:\n%s", where, mem, diag_text);
        }
    }
    arena_free(&a);
    return ok ? NULL : mem;
}

/* The image is rejected with a message containing `want` (which may start with the location). */
static void reject(int line, const char *name, const Img *m, const char *want) {
    test_checks++;
    const char *got = read3(m, name);
    if (getenv("NPY_TEST_SHOW"))    /* to review the messages */
        fprintf(stderr, "--- %s\n%s", name, got ? got : "(accepted)\n");
    if (!got || !strstr(got, want)) {
        test_fail(__FILE__, line, name);
        fprintf(stderr, "    want a message containing: %s\n    got: %s\n", want, got ? got : "(accepted)\n");
    }
}
#define REJECT(name, img, want) reject(__LINE__, name, img, want)

static void test_malformed(void) {
    Img m;
    const char *ok = DICT("<f4", "False", "(3, 4)");

    m = build(1, 0, ok, 64, 48);
    CHECK(read3(&m, "the good file") == NULL);

    m.n = 0;
    REJECT("empty file", &m, "x.npy: error: empty file, not a .npy file");
    m = build(1, 0, ok, 64, 48);
    m.b[5] = 'Z';
    REJECT("wrong magic", &m, "x.npy: error: not a .npy file: it does not start with the magic string");
    memcpy(m.b, "hello, world\n", 13);
    m.n = 13;
    REJECT("a text file", &m, "not a .npy file");
    m = build(1, 0, ok, 64, 48);
    m.n = 4;
    REJECT("cut in the magic", &m, "x.npy: error: truncated .npy file: 4 bytes, too short for the magic string");
    m.n = 9;
    REJECT("cut in the header length", &m, "truncated .npy file: 9 bytes, too short for the header length");
    m = build(4, 0, ok, 64, 48);
    REJECT("version 4.0", &m, "x.npy: error: unsupported .npy format version 4.0 (byte 6)");
    m = build(1, 1, ok, 64, 48);
    REJECT("version 1.1", &m, "unsupported .npy format version 1.1");
    m = build(1, 0, ok, 64, 0);
    m.n = 40;
    REJECT("cut in the header", &m, "x.npy: error: header length 118 (byte 8) runs past the end of the file (40 bytes)");
    m = build(1, 0, ok, 64, 48);
    m.b[8] = 0xff;
    m.b[9] = 0xff;
    REJECT("header length lies", &m, "header length 65535 (byte 8) runs past the end of the file (176 bytes)");
    m = build(2, 0, ok, 64, 48);
    m.b[8] = m.b[9] = m.b[10] = 0xff;
    m.b[11] = 0x7f;
    REJECT("absurd header length", &m, "header length 2147483647 (byte 8) is larger than h2c's limit of 1048576 bytes");

    m = build(1, 0, DICT(">f4", "False", "(3, 4)"), 64, 48);
    REJECT("big-endian", &m, "x.npy:1:12: error: big-endian data ('>f4') is not supported; save it little-endian");
    m = build(1, 0, DICT("<f4", "True", "(3, 4)"), 64, 48);
    REJECT("Fortran order", &m, "x.npy:1:35: error: Fortran-order arrays are not supported");
    m = build(1, 0, DICT("|O", "False", "(3,)"), 64, 24);
    REJECT("object dtype", &m, "x.npy:1:12: error: object arrays ('|O') are not supported");
    m = build(1, 0, "{'descr': [('a', '<f4'), ('b', '<f4')], 'fortran_order': False, 'shape': (3,), }", 64, 24);
    REJECT("structured dtype", &m, "x.npy:1:11: error: structured dtypes (a list of fields in 'descr') are not supported");
    m = build(1, 0, DICT("<i4", "False", "(3, 4)"), 64, 48);
    REJECT("integer dtype", &m, "x.npy:1:12: error: unsupported dtype '<i4' (signed integer): h2c reads only '<f4', '<f2' and '<f8'");
    m = build(1, 0, DICT("<f16", "False", "(3,)"), 64, 48);
    REJECT("long double", &m, "unsupported dtype '<f16' (floating point)");
    m = build(1, 0, DICT("=f4", "False", "(3, 4)"), 64, 48);
    REJECT("native order", &m, "unsupported dtype '=f4' (floating point)");
    m = build(1, 0, DICT("", "False", "(3, 4)"), 64, 48);
    REJECT("empty dtype", &m, "unsupported dtype '' (empty)");

    m = build(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'foo': 1, }", 64, 48);
    REJECT("unknown key", &m, "x.npy:1:59: error: unknown key 'foo' in the header");
    m = build(1, 0, "{'descr': '<f4', 'fortran_order': False, }", 64, 48);
    REJECT("missing key", &m, "x.npy:1:42: error: the header has no 'shape' key");
    m = build(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'descr': '<f4'}", 64, 48);
    REJECT("duplicate key", &m, "x.npy:1:59: error: duplicate key 'descr' in the header (first at column 2)");
    m = build(1, 0, "{}", 64, 48);
    REJECT("empty dict", &m, "x.npy:1:2: error: the header has no 'descr' key");
    m = build(1, 0, "hello", 64, 48);
    REJECT("garbage dict", &m, "x.npy:1:1: error: expected '{' starting the header dict, found 'h'");
    m = build(1, 0, "{'descr' '<f4'}", 64, 48);
    REJECT("missing colon", &m, "x.npy:1:10: error: expected ':' after the key, found '''");
    m = build(1, 0, "{'descr': '<f4' 'shape': (3,)}", 64, 48);
    REJECT("missing comma", &m, "x.npy:1:17: error: expected ',' or '}' after a header entry, found '''");
    m = build(1, 0, "{descr: '<f4'}", 64, 48);
    REJECT("unquoted key", &m, "x.npy:1:2: error: expected a string key, found 'd'");
    m = build(1, 0, "{'descr': '<f4", 64, 48);
    REJECT("unterminated string", &m, "x.npy:1:11: error: unterminated string in the header");
    m = build(1, 0, "{'descr': '<f\\x34'}", 64, 48);
    REJECT("escape", &m, "x.npy:1:14: error: escape sequences are not supported in header strings");
    m = build(1, 0, DICT("<f4", "0", "(3, 4)"), 64, 48);
    REJECT("fortran_order 0", &m, "x.npy:1:35: error: 'fortran_order' must be True or False, not '0'");
    m = build(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } x", 64, 48);
    REJECT("text after the dict", &m, "x.npy:1:61: error: expected only spaces and a newline after the header dict, found 'x'");
    m = build(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }\n\n  ", 64, 48);
    REJECT("text after the newline", &m, "x.npy:1:61: error: 58 bytes of the header after the newline that ends it");
    m = build(1, 0, "{'descr': '<f4',# 'fortran_order': False, 'shape': (3, 4), }", 64, 48);
    m.b[10 + 16] = 0;
    REJECT("NUL byte", &m, "x.npy:1:17: error: expected a string key, found byte 0x00");
    m = build(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }\t\t", 64, 48);
    REJECT("tab in the padding", &m, "expected only spaces and a newline after the header dict, found byte 0x09");

    /* the padding and the newline */
    m = build(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }    ", 0, 0);
    m.n += 48;
    REJECT("no newline", &m, "x.npy:1:63: error: the header does not end with a newline");
    m = build(1, 0, ok, 17, 48);
    REJECT("misaligned", &m, "error: the header ends at byte 85, not on a 16-byte boundary");
    m = build(1, 0, ok, 16, 48);
    CHECK(read3(&m, "16-byte alignment (old numpy)") == NULL);

    /* bytes outside ASCII */
    m = build(1, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'caf\xc3\xa9': 1}", 64, 48);
    REJECT("non-ASCII in 1.0", &m, "x.npy:1:63: error: non-ASCII byte 0xc3 in a version 1.0 header (only 3.0 headers are UTF-8)");
    m = build(2, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'caf\xc3\xa9': 1}", 64, 48);
    REJECT("non-ASCII in 2.0", &m, "non-ASCII byte 0xc3 in a version 2.0 header");
    m = build(3, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'caf\xc3\xa9': 1}", 64, 48);
    REJECT("UTF-8 key in 3.0", &m, "x.npy:1:59: error: unknown key 'caf\\xc3\\xa9' in the header");
    m = build(3, 0, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'caf\xc3': 1}", 64, 48);
    REJECT("bad UTF-8 in 3.0", &m, "x.npy:1:63: error: invalid UTF-8 in a version 3.0 header (byte 0xc3)");

    /* the shape */
    m = build(1, 0, DICT("<f4", "False", "(3, -4)"), 64, 48);
    REJECT("negative dim", &m, "x.npy:1:55: error: negative dimension '-4' in 'shape'");
    m = build(1, 0, DICT("<f4", "False", "(99999999999999999999,)"), 64, 48);
    REJECT("huge dim", &m, "x.npy:1:52: error: dimension 99999999999999999999 is too large");
    m = build(1, 0, DICT("<f4", "False", "(9223372036854775807,)"), 64, 48);
    REJECT("dim times itemsize overflows", &m, "x.npy:1:51: error: shape (9223372036854775807,) has too many elements to address");
    m = build(1, 0, DICT("<f2", "False", "(1099511627776, 1099511627776)"), 64, 48);
    REJECT("product overflows", &m, "shape (1099511627776, 1099511627776) has too many elements to address");
    m = build(1, 0, DICT("<f4", "False", "(1099511627776, 1048576)"), 64, 48);
    REJECT("header lies about the size", &m, "x.npy:1:51: error: the data is truncated: shape (1099511627776, 1048576) of "
                                             "'<f4' needs 4611686018427387904 bytes after the header, the file has 48");
    m = build(1, 0, DICT("<f4", "False", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), 64, 4);
    REJECT("rank 9", &m, "x.npy:1:76: error: 'shape' has more than 8 dimensions, h2c's limit");
    m = build(1, 0, DICT("<f4", "False", "(5)"), 64, 20);
    REJECT("(5) is not a tuple", &m, "x.npy:1:51: error: 'shape' must be a tuple: (5) is a number in Python, write (5,)");
    m = build(1, 0, DICT("<f4", "False", "5"), 64, 20);
    REJECT("a number for a shape", &m, "x.npy:1:51: error: 'shape' must be a tuple: write (5,) for one dimension");
    m = build(1, 0, DICT("<f4", "False", "[3, 4]"), 64, 48);
    REJECT("a list for a shape", &m, "x.npy:1:51: error: 'shape' must be a tuple, not a list");
    m = build(1, 0, DICT("<f4", "False", "(3.0,)"), 64, 12);
    REJECT("float dim", &m, "x.npy:1:52: error: a dimension must be a non-negative decimal integer, not '3.0'");
    m = build(1, 0, DICT("<f4", "False", "(03,)"), 64, 12);
    REJECT("leading zero", &m, "x.npy:1:52: error: a dimension with a leading zero ('03') is not a Python integer");
    m = build(1, 0, DICT("<f4", "False", "(3,,)"), 64, 12);
    REJECT("double comma", &m, "x.npy:1:54: error: expected a dimension (a non-negative integer), found ','");
    m = build(1, 0, DICT("<f4", "False", "(3 4)"), 64, 12);
    REJECT("missing comma in shape", &m, "x.npy:1:54: error: expected ',' or ')' in 'shape', found '4'");
    m = build(3, 0, DICT("<f4", "False", "(3L,)"), 64, 12);
    REJECT("Python 2 long in 3.0", &m, "not '3L'");

    /* the data */
    m = build(1, 0, ok, 64, 40);
    REJECT("truncated data", &m, "x.npy:1:51: error: the data is truncated: shape (3, 4) of '<f4' needs 48 bytes after "
                                 "the header, the file has 40");
    m = build(1, 0, ok, 64, 60);
    REJECT("trailing bytes", &m, "x.npy:1:51: error: 12 bytes after the data: shape (3, 4) of '<f4' needs 48 bytes");
    m = build(1, 0, DICT("<f2", "False", "()"), 64, 0);
    REJECT("scalar without data", &m, "the data is truncated: shape () of '<f2' needs 2 bytes after the header, the file has 0");
    m = build(1, 0, DICT("<f2", "False", "(0,)"), 64, 2);
    REJECT("empty array with data", &m, "2 bytes after the data: shape (0,) of '<f2' needs 0 bytes");

    /* the list, case by case beyond the above (truncated, wrong magic, big-endian, Fortran
       order, object dtype, huge shape, a header that lies about the size) */
    m = build(1, 0, ok, 64, 48);
    m.b[0] = 0x92;
    REJECT("wrong first magic byte", &m, "x.npy: error: not a .npy file: it does not start with the magic string");
    m = build(1, 0, DICT(">f8", "False", "(3, 2)"), 64, 48);
    REJECT("big-endian f8", &m, "x.npy:1:12: error: big-endian data ('>f8') is not supported; save it little-endian");
    m = build(1, 0, DICT(">f2", "False", "(3, 8)"), 64, 48);
    REJECT("big-endian f2", &m, "x.npy:1:12: error: big-endian data ('>f2') is not supported; save it little-endian");
    m = build(1, 0, DICT("<f4", "True", "(12,)"), 64, 48);
    REJECT("Fortran order, one dimension", &m, "x.npy:1:35: error: Fortran-order arrays are not supported");
    m = build(1, 0, DICT("<O", "False", "(3,)"), 64, 24);
    REJECT("object dtype '<O'", &m, "x.npy:1:12: error: object arrays ('<O') are not supported");
    m = build(1, 0, DICT("<f8", "False", "(4611686018427387904,)"), 64, 48);
    REJECT("huge shape, f8", &m, "x.npy:1:51: error: shape (4611686018427387904,) has too many elements to address");
    m = build(1, 0, DICT("<f2", "False", "(65536, 65536, 65536)"), 64, 48);
    REJECT("huge shape that fits a size_t", &m, "x.npy:1:51: error: the data is truncated: shape (65536, 65536, "
                                                "65536) of '<f2' needs 562949953421312 bytes after the header, the file has 48");
    m = build(1, 0, ok, 64, 0);
    m.n = 70;
    REJECT("truncated in the header's padding", &m, "x.npy: error: header length 118 (byte 8) runs past the end of the file (70 bytes)");
    m = build(1, 0, ok, 64, 47);
    REJECT("one byte short", &m, "x.npy:1:51: error: the data is truncated: shape (3, 4) of '<f4' needs 48 bytes after "
                                 "the header, the file has 47");
    m = build(1, 0, DICT("<f8", "False", "(3, 4)"), 64, 48);
    REJECT("the dtype lies about the size", &m, "the data is truncated: shape (3, 4) of '<f8' needs 96 bytes after the header, "
                                                "the file has 48");
    /* the header length field lies: 16 bytes short (the dict is cut), 16 bytes long (data read as header) */
    m = build(1, 0, ok, 64, 48);
    m.b[8] = (unsigned char)(m.b[8] - 16);
    REJECT("header length 16 short", &m, "x.npy:1:102: error: the header does not end with a newline");
    m = build(1, 0, ok, 64, 48);
    m.b[8] = (unsigned char)(m.b[8] + 16);
    REJECT("header length 16 long", &m, "x.npy:1:119: error: 16 bytes of the header after the newline that ends it");
    m = build(1, 0, ok, 64, 48);
    m.b[8] = m.b[9] = 0;
    REJECT("header length 0", &m, "x.npy:1:1: error: expected '{' starting the header dict, found the end of the header");
}

/* A read refused for its size: the caller's limit, with the sizes in the message. */
static void test_limit(void) {
    Img m = build(1, 0, DICT("<f4", "False", "(3, 4)"), 64, 48);
    Arena a;
    arena_init(&a);
    NpyArray out;
    ReadArgs r = {&m, image_file(&m), NPY_TO_F32, 47, &out};
    CHECK(!with_diag(do_file, &r, &out, &a));
    CHECK(strstr(diag_text, "x.npy: error: the data (48 bytes) is larger than the limit of 47 bytes") != NULL);
    r.max_bytes = 48;
    CHECK(with_diag(do_file, &r, &out, &a));
    arena_free(&a);
}

/* The caret line shows the header, with control bytes as '?' and without the padding. */
static void test_caret(void) {
    Img m = build(1, 0, DICT(">f4", "False", "(3, 4)"), 64, 48);
    Arena a;
    arena_init(&a);
    NpyArray out;
    ReadArgs r = {&m, NULL, NPY_TO_F32, 0, &out};
    with_diag(do_mem, &r, &out, &a);
    CHECK_STR(diag_text, "x.npy:1:12: error: big-endian data ('>f4') is not supported; save it little-endian\n"
                         "    1 | {'descr': '>f4', 'fortran_order': False, 'shape': (3, 4), }\n"
                         "      |            ^~~\n");
    arena_free(&a);
}

/* ---------------------------------------------------------------- accepted files */

static void test_accepted(void) {
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d, stderr);
    NpyArray x;

    /* versions 2.0 and 3.0, a Python 2 long, odd spacing and quotes, keys in any order */
    Img m = build(2, 0, "{'shape': (2L, 3L), \"fortran_order\":False,'descr':\"<f2\"}", 64, 12);
    CHECK(npy_read_mem(&a, &d, "x.npy", m.b, m.n, NPY_TO_F32, &x));
    CHECK_EQ(x.version, 2);
    CHECK_EQ(x.dtype, NPY_F16);
    CHECK_EQ(x.rank, 2);
    CHECK_EQ(x.dims[0], 2);
    CHECK_EQ(x.dims[1], 3);
    CHECK_EQ(x.count, 6);
    CHECK_EQ(x.itemsize, 2);
    for (int i = 0; i < 6; i++)
        CHECK_EQ(x.f32[i], 1.0f);   /* 0x3c00 */
    CHECK(x.f64 == NULL && x.raw == NULL);

    m = build(3, 0, DICT("<f2", "False", "( 1 , 1 , 1 , 1 , 1 , 1 , 1 , 2 , )"), 64, 4);
    CHECK(npy_read_mem(&a, &d, "x.npy", m.b, m.n, NPY_RAW, &x));
    CHECK_EQ(x.version, 3);
    CHECK_EQ(x.rank, 8);
    CHECK_EQ(x.count, 2);
    CHECK(x.raw && x.raw[0] == 0x00 && x.raw[1] == 0x3c && x.f32 == NULL);

    m = build(1, 0, DICT("<f2", "False", "()"), 64, 2);
    CHECK(npy_read_mem(&a, &d, "x.npy", m.b, m.n, NPY_TO_F64, &x));
    CHECK_EQ(x.rank, 0);
    CHECK_EQ(x.count, 1);
    CHECK_EQ(x.f64[0], 1.0);

    m = build(1, 0, DICT("<f4", "False", "(2, 0, 1099511627776)"), 64, 0);
    CHECK(npy_read_mem(&a, &d, "x.npy", m.b, m.n, NPY_TO_F32, &x));
    CHECK_EQ(x.count, 0);
    CHECK_EQ(x.dims[2], 1099511627776LL);

    /* f64: rounded to float, exact to double; bytes are little-endian whatever the host */
    m = build(1, 0, DICT("<f8", "False", "(2,)"), 64, 16);
    double v[2] = {0.1, -3.5e300};
    for (int i = 0; i < 2; i++) {
        uint64_t b;
        memcpy(&b, &v[i], 8);
        for (int k = 0; k < 8; k++)
            m.b[m.n - 16 + (size_t)i * 8 + (size_t)k] = (unsigned char)(b >> (8 * k));
    }
    CHECK(npy_read_mem(&a, &d, "x.npy", m.b, m.n, NPY_TO_F64, &x));
    CHECK_EQ(x.f64[0], 0.1);
    CHECK_EQ(x.f64[1], -3.5e300);
    CHECK(npy_read_mem(&a, &d, "x.npy", m.b, m.n, NPY_TO_F32, &x));
    CHECK_EQ(x.f32[0], 0.1f);
    CHECK(isinf(x.f32[1]) && x.f32[1] < 0);

    /* a failed read leaves the result zeroed */
    m.n--;
    Diag q;
    diag_init_quiet(&q);
    CHECK(!npy_read_mem(&a, &q, "x.npy", m.b, m.n, NPY_TO_F32, &x));
    CHECK(x.f32 == NULL && x.count == 0 && x.rank == 0);
    CHECK(!npy_read_mem(&a, &q, "x.npy", NULL, 0, NPY_TO_F32, &x));
    CHECK_EQ(q.errors, 2);
    CHECK_EQ(d.errors, 0);
    arena_free(&a);
}

/* Random damage to good images, read from a heap block of exactly their size (so that ASan sees
 * any read past the end): every read must fail with one error or succeed with a consistent
 * array, and never crash. */
static void test_mutations(void) {
    const char *dicts[] = {DICT("<f4", "False", "(3, 4)"), "{'shape': (2L, 3L), \"fortran_order\":False,'descr':\"<f2\"}",
                           DICT("<f8", "False", "()"), DICT("<f2", "False", "(1, 1, 1, 1, 1, 1, 1, 2,)")};
    const size_t data[] = {48, 12, 8, 4};
    const char *alphabet = "{}()[],:'\" \n\t0123456789-LTFalseTrue<>|fO\\\x80\xc3\x00";
    size_t nalpha = strlen(alphabet) + 1;
    uint64_t s = 42;
    int bad = 0, accepted = 0;
    Arena a;
    arena_init(&a);
    for (int trial = 0; trial < 20000; trial++) {
        int which = trial % 4;
        Img m = build(which == 1 ? 2 : which == 3 ? 3 : 1, 0, dicts[which], 64, data[which]);
        int edits = 1 + trial % 4;
        for (int e = 0; e < edits; e++) {
            s = s * 6364136223846793005u + 1442695040888963407u;
            uint32_t r = (uint32_t)(s >> 33);
            size_t at = m.n ? r % m.n : 0;
            switch ((r >> 24) % 4) {
            case 0: m.b[at] = (unsigned char)alphabet[(r >> 8) % nalpha]; break;
            case 1: m.b[at] ^= (unsigned char)(1u << ((r >> 8) % 8)); break;
            case 2: m.n = at; break;   /* cut */
            default:                   /* insert a byte */
                if (m.n < sizeof m.b) {
                    memmove(m.b + at + 1, m.b + at, m.n - at);
                    m.b[at] = (unsigned char)alphabet[(r >> 8) % nalpha];
                    m.n++;
                }
            }
        }
        unsigned char *exact = malloc(m.n ? m.n : 1);
        memcpy(exact, m.b, m.n);
        Diag q;
        diag_init_quiet(&q);
        NpyArray x;
        bool ok = npy_read_mem(&a, &q, "x.npy", exact, m.n, trial % 3 == 0 ? NPY_RAW : NPY_TO_F32, &x);
        bad += ok ? q.errors != 0 || x.count * x.itemsize > m.n || x.rank > NPY_MAX_RANK : q.errors != 1;
        accepted += ok;
        free(exact);
        arena_reset(&a);
    }
    arena_free(&a);
    CHECK_EQ(bad, 0);
    CHECK(accepted > 0);   /* some damage is harmless (a digit of the data) */
}

/* ---------------------------------------------------------------- binary16 */

static uint32_t fbits(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

static float bitsf(uint32_t b) {
    float f;
    memcpy(&f, &b, 4);
    return f;
}

/* The nearest binary16 to a finite float by search over all positive finite halves (ties to
 * the even one), overflowing to inf past 65520 as IEEE rounding does. */
static uint16_t f16_reference(float f) {
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    double x = fabs((double)f);
    if (x >= 65520.0)
        return sign | 0x7c00;
    uint16_t lo = 0, hi = 0x7bff;   /* positive finite halves increase with their bits */
    while (lo < hi) {               /* the largest half <= x */
        uint16_t mid = (uint16_t)((lo + hi + 1) / 2);
        if ((double)npy_f16_to_f32(mid) <= x)
            lo = mid;
        else
            hi = (uint16_t)(mid - 1);
    }
    if (lo == 0x7bff)
        return sign | lo;           /* between max and 65520: rounds down */
    double below = npy_f16_to_f32(lo), above = npy_f16_to_f32((uint16_t)(lo + 1));
    if (x - below < above - x || (x - below == above - x && !(lo & 1)))
        return sign | lo;
    return sign | (uint16_t)(lo + 1);
}

static void test_f16(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = npy_f16_to_f32((uint16_t)h);
        bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (nan) {
            /* a NaN stays a NaN with its payload, quieted only on the way back */
            bad += !isnan(f) || (fbits(f) & 0x7fffff) != (h & 0x3ff) << 13 || (fbits(f) >> 31) != h >> 15;
            bad += npy_f32_to_f16(f) != (h | 0x200);
        } else {
            bad += npy_f32_to_f16(f) != h;   /* exact both ways */
        }
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(npy_f16_to_f32(0x0001), 0x1p-24f);
    CHECK_EQ(npy_f16_to_f32(0x03ff), 0x3ffp-24f);
    CHECK_EQ(npy_f16_to_f32(0x0400), 0x1p-14f);
    CHECK_EQ(npy_f16_to_f32(0x7bff), 65504.0f);
    CHECK_EQ(npy_f16_to_f32(0xc000), -2.0f);
    CHECK(isinf(npy_f16_to_f32(0x7c00)));
    CHECK_EQ(fbits(npy_f16_to_f32(0x8000)), 0x80000000u);

    /* floats to halves: edge cases, then a million random bit patterns, against the search */
    float edges[] = {65504.0f, 65519.99f, 65520.0f, 1e30f, 0x1p-24f, 0x1p-25f, 0x1.000002p-25f, 0x1.8p-24f,
                     0x1.4p-24f, 0x1p-149f, 0x1.ffep-15f, 0x1.ffcp-15f, 1.0f + 0x1p-11f, 1.0f + 0x3p-11f, -0.0f,
                     2049.0f, 2051.0f, 0x1.ffffffp-15f};
    bad = 0;
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        uint16_t want = f16_reference(edges[i]), got = npy_f32_to_f16(edges[i]);
        if (want != got) {
            bad++;
            fprintf(stderr, "    %a: want 0x%04x, got 0x%04x\n", (double)edges[i], want, got);
        }
    }
    uint64_t s = 12345;
    for (int i = 0; i < 1000000; i++) {
        s = s * 6364136223846793005u + 1442695040888963407u;
        uint32_t b = (uint32_t)(s >> 32);
        if (i % 2)
            b = (b & 0x80ffffffu) | ((0x60u + (b >> 24 & 0x1f)) << 24 >> 1);   /* near half's range */
        float f = bitsf(b);
        if (isnan(f))
            continue;
        if (f16_reference(f) != npy_f32_to_f16(f) && bad++ < 5)
            fprintf(stderr, "    %a: want 0x%04x, got 0x%04x\n", (double)f, f16_reference(f), npy_f32_to_f16(f));
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(npy_f32_to_f16(bitsf(0x7f800001u)) & 0x7e00, 0x7e00);   /* a signalling NaN comes out quiet */
}

/* ---------------------------------------------------------------- the writer */

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void test_writer(void) {
    Arena a;
    arena_init(&a);
    Diag d;
    diag_init(&d, stderr);
    char path[256], link[256];
    snprintf(path, sizeof path, "%s/w.npy", tmpdir);
    snprintf(link, sizeof link, "%s/link.npy", tmpdir);
    unlink(path);
    unlink(link);
    int before = count_entries(tmpdir);

    float v[12];
    for (int i = 0; i < 12; i++)
        v[i] = (float)i * 0.25f - 1.0f;
    v[5] = 1.0f / 3.0f;
    int64_t dims[2] = {3, 4};
    NpyArray x;
    CHECK(npy_write_file(&d, path, NPY_F32, 2, dims, v));
    CHECK(npy_read_file(&a, &d, path, NPY_TO_F32, 0, &x));
    CHECK(x.rank == 2 && x.dims[0] == 3 && x.dims[1] == 4 && x.version == 1 && x.dtype == NPY_F32);
    CHECK(memcmp(x.f32, v, sizeof v) == 0);

    /* the header numpy 1.24 writes for this array, byte for byte */
    FILE *f = fopen(path, "rb");
    unsigned char head[128];
    CHECK(f && fread(head, 1, sizeof head, f) == sizeof head);
    if (f)
        fclose(f);
    const char *want = "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
    CHECK(memcmp(head, want, 69) == 0);
    CHECK(head[127] == '\n' && head[126] == ' ' && head[69] == ' ');

    /* an existing file is replaced and keeps its permissions; no temporary file is left */
    chmod(path, 0640);
    CHECK(npy_write_file(&d, path, NPY_F16, 2, dims, v));
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
    CHECK(npy_read_file(&a, &d, path, NPY_TO_F32, 0, &x));
    CHECK(x.dtype == NPY_F16);
    for (int i = 0; i < 12; i++)
        CHECK_EQ(x.f32[i], npy_f16_to_f32(npy_f32_to_f16(v[i])));
    CHECK_EQ(count_entries(tmpdir), before + 1);

    /* through a symbolic link: the link stays, its target changes */
    CHECK(symlink("w.npy", link) == 0);
    CHECK(npy_write_file(&d, link, NPY_F64, 1, dims, v));
    struct stat lst;
    CHECK(lstat(link, &lst) == 0 && S_ISLNK(lst.st_mode));
    CHECK(npy_read_file(&a, &d, path, NPY_TO_F64, 0, &x));
    CHECK(x.dtype == NPY_F64 && x.rank == 1 && x.count == 3 && x.f64[1] == (double)v[1]);
    unlink(link);

    /* rank 0 and empty arrays */
    CHECK(npy_write_file(&d, path, NPY_F32, 0, NULL, v + 5));
    CHECK(npy_read_file(&a, &d, path, NPY_TO_F32, 0, &x));
    CHECK(x.rank == 0 && x.count == 1 && x.f32[0] == v[5]);
    int64_t zero[3] = {2, 0, 5};
    CHECK(npy_write_file(&d, path, NPY_F16, 3, zero, NULL));
    CHECK(npy_read_file(&a, &d, path, NPY_TO_F32, 0, &x));
    CHECK(x.rank == 3 && x.count == 0 && x.dims[2] == 5);

    /* a device is written in place; a pipe too, and reads back */
    CHECK(npy_write_file(&d, "/dev/null", NPY_F32, 2, dims, v));
    int fds[2];
    if (pipe(fds) == 0) {
        char wp[64], rp[64];
        snprintf(wp, sizeof wp, "/dev/fd/%d", fds[1]);
        snprintf(rp, sizeof rp, "/dev/fd/%d", fds[0]);
        CHECK(npy_write_file(&d, wp, NPY_F32, 2, dims, v));
        close(fds[1]);
        CHECK(npy_read_file(&a, &d, rp, NPY_TO_F32, 0, &x));
        CHECK(x.count == 12 && memcmp(x.f32, v, sizeof v) == 0);
        close(fds[0]);
    }
    /* the limit on the data's size */
    Diag q;
    diag_init_quiet(&q);
    CHECK(npy_write_file(&d, path, NPY_F32, 2, dims, v));
    CHECK(npy_read_file(&a, &d, path, NPY_TO_F32, 48, &x));
    CHECK(!npy_read_file(&a, &q, path, NPY_TO_F32, 47, &x));
    CHECK_EQ(d.errors, 0);

    /* failures: reported, nothing left behind */
    char *out = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&out, &len);
    Diag e;
    diag_init(&e, fp);
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no-such-dir/w.npy", tmpdir);
    CHECK(!npy_write_file(&e, bad, NPY_F32, 2, dims, v));
    CHECK(!npy_write_file(&e, tmpdir, NPY_F32, 2, dims, v));
    int64_t neg[1] = {-1};
    CHECK(!npy_write_file(&e, path, NPY_F32, 1, neg, v));
    CHECK(!npy_write_file(&e, path, NPY_F32, 9, dims, v));
    CHECK(!npy_write_file(&e, path, NPY_F32, 2, dims, NULL));
    CHECK(!npy_read_file(&a, &e, bad, NPY_TO_F32, 0, &x));
    CHECK(!npy_read_file(&a, &e, tmpdir, NPY_TO_F32, 0, &x));
    fclose(fp);
    CHECK(strstr(out, "no-such-dir/w.npy: error: cannot create a temporary file next to it: No such file or directory"));
    CHECK(strstr(out, "error: cannot open for writing: Is a directory"));
    CHECK(strstr(out, "w.npy: error: cannot write: dimension 0 is negative (-1)"));
    CHECK(strstr(out, "w.npy: error: cannot write an array of rank 9: h2c writes ranks 0 to 8"));
    CHECK(strstr(out, "w.npy: error: cannot write: no data for 12 elements"));
    CHECK(strstr(out, "h2c: error: cannot open '"));
    CHECK(strstr(out, "error: cannot read: Is a directory"));
    CHECK_EQ(e.errors, 7);
    free(out);
    CHECK_EQ(count_entries(tmpdir), before + 1);
    arena_free(&a);
}

/* ---------------------------------------------------------------- out of memory */

/* Fails the 1st, 2nd, ... allocation of a read from a file, a pipe and memory, with no handler
 * and with the caller's handler set: each reports "out of memory" (or unwinds to the handler)
 * and leaks nothing. */
static void test_oom(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/big.npy", tmpdir);
    enum { N = 50000 };   /* bigger than a chunk and than the pipe's first buffer */
    static float v[N];
    for (int i = 0; i < N; i++)
        v[i] = (float)i;
    int64_t dims[1] = {N};
    Diag d;
    diag_init(&d, stderr);
    CHECK(npy_write_file(&d, path, NPY_F32, 1, dims, v));
    Img small = build(1, 0, DICT("<f2", "False", "(3,)"), 64, 6);
    for (int way = 0; way < 6; way++) {
        int reached = 0;
        for (long n = 1; n < 100; n++) {
            Hook h = {0};
            h2c_set_allocator(hook_alloc, &h);
            h.fail_at = n;
            Arena a;
            arena_init(&a);
            char *out = NULL;
            size_t len = 0;
            FILE *fp = open_memstream(&out, &len);
            Diag e;
            diag_init(&e, fp);
            NpyArray x;
            jmp_buf jb;
            volatile bool unwound = false, ok = false;
            if (way >= 3) {
                a.oom = &jb;
                if (setjmp(jb))
                    unwound = true;
            }
            if (!unwound) {
                int kind = way % 3;
                if (kind == 0) {
                    ok = npy_read_file(&a, &e, path, NPY_TO_F32, 0, &x);
                } else if (kind == 1) {
                    int fds[2];
                    if (pipe(fds) == 0) {
                        pid_t pid = fork();
                        if (pid == 0) {
                            close(fds[0]);
                            FILE *src = fopen(path, "rb");
                            char buf[4096];
                            size_t k;
                            while (src && (k = fread(buf, 1, sizeof buf, src)) > 0)
                                if (write(fds[1], buf, k) != (ssize_t)k)
                                    break;
                            _exit(0);
                        }
                        close(fds[1]);
                        char rp[64];
                        snprintf(rp, sizeof rp, "/dev/fd/%d", fds[0]);
                        ok = npy_read_file(&a, &e, rp, NPY_TO_F32, 0, &x);
                        close(fds[0]);
                        int status;
                        waitpid(pid, &status, 0);
                    }
                } else {
                    ok = npy_read_mem(&a, &e, "x.npy", small.b, small.n, NPY_TO_F64, &x);
                }
            }
            a.oom = NULL;
            if (ok)
                CHECK(x.count == (way % 3 == 2 ? 3u : (size_t)N) && (way % 3 == 2 ? x.f64[2] == 1.0 : x.f32[N - 1] == N - 1));
            arena_free(&a);
            h2c_set_allocator(NULL, NULL);
            fclose(fp);
            if (h.failed) {
                reached++;
                CHECK(!ok);
                CHECK(unwound == (way >= 3) || strstr(out, "out of memory"));
                if (!unwound && !strstr(out, "out of memory"))
                    fprintf(stderr, "    way %d, allocation %ld: %s", way, n, out);
            } else {
                CHECK(ok);
            }
            CHECK_EQ(h.live, 0);
            free(out);
            if (!h.failed)
                break;
        }
        CHECK(reached >= 1);
    }
}

static void cleanup(void) {
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' || (e->d_name[1] && e->d_name[1] != '.')) {
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(tmpdir);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_malformed();
    test_limit();
    test_caret();
    test_accepted();
    test_mutations();
    test_f16();
    test_writer();
    test_oom();
    cleanup();
    free(diag_text);
    return test_done();
}
