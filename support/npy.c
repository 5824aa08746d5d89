/* npy.c: a strict .npy reader (little-endian f2/f4/f8, C order, versions 1.0-3.0) with a small
 * parser for the header's Python dict literal, and an atomic .npy writer. Errors go to a Diag,
 * located in the header (line 1, column = byte of the header dict) or naming the file alone.
 * docs/npy.md is the accepted subset; tests/unit/test_npy.c and tests/npy/ check it. */
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const unsigned char MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
enum { MAGIC_LEN = 6, CHUNK = 1 << 16, SHOWN_MAX = 8000 };

/* ---------------------------------------------------------------- binary16 */

float npy_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);      /* inf, or NaN with its payload */
    } else if (exp != 0) {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;                                     /* +-0 */
    } else {
        /* subnormal: mant * 2^-24; shift the leading 1 up to the implicit bit */
        int e = -14;
        while (!(mant & 0x400)) {
            mant <<= 1;
            e--;
        }
        bits = sign | ((uint32_t)(e + 127) << 23) | ((mant & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t npy_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000, exp = (x >> 23) & 0xff, mant = x & 0x7fffff;
    if (exp == 0xff)
        return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0));
    int e = (int)exp - 127 + 15;      /* the biased binary16 exponent */
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00);
    uint32_t half, rem, halfway;
    if (e <= 0) {
        /* a binary16 subnormal (or zero): count units of 2^-24 */
        if (e < -10)
            return (uint16_t)sign;        /* below 2^-25: rounds to zero */
        mant |= 0x800000;
        int shift = 14 - e;               /* 14..24 */
        half = mant >> shift;
        rem = mant & ((1u << shift) - 1);
        halfway = 1u << (shift - 1);
    } else {
        half = ((uint32_t)e << 10) | (mant >> 13);
        rem = mant & 0x1fff;
        halfway = 0x1000;
    }
    /* to nearest, ties to even; a carry out of the mantissa bumps the exponent, up to inf */
    if (rem > halfway || (rem == halfway && (half & 1)))
        half++;
    return (uint16_t)(sign | half);
}

const char *npy_dtype_name(NpyDtype t) {
    switch (t) {
    case NPY_F16: return "<f2";
    case NPY_F32: return "<f4";
    case NPY_F64: return "<f8";
    }
    return "?";
}

static size_t dtype_size(NpyDtype t) { return t == NPY_F16 ? 2 : t == NPY_F32 ? 4 : 8; }

/* ---------------------------------------------------------------- diagnostics */

/* One read in progress: where diagnostics point, and the header once it has been parsed. */
typedef struct Hdr {
    Diag *d;
    SrcFile src;                    /* the file; text: a printable copy of the header (caret lines) */
    char shown[SHOWN_MAX + 1];
    const unsigned char *text;      /* the header dict and its padding, len bytes */
    size_t len, pos;                /* header length; parse position */
    size_t start;                   /* file offset of the header: 10 or 12 */
    int version;                    /* 1, 2 or 3 */
    bool seen[3];                   /* 'descr', 'fortran_order', 'shape' */
    size_t key_pos[3];              /* where each key was */
    NpyDtype dtype;
    int rank;
    int64_t dims[NPY_MAX_RANK];
    size_t count, itemsize, nbytes; /* elements, bytes per element, data bytes */
    size_t shape_pos, shape_len;    /* the shape tuple, for data-size errors */
} Hdr;

static void hdr_init(Hdr *h, Diag *d, const char *name) {
    memset(h, 0, sizeof *h);
    h->d = d;
    h->src.name = name;
}

/* An error that names the file only (the preamble, the data, I/O). */
__attribute__((format(printf, 2, 3))) static bool file_error(Hdr *h, const char *fmt, ...) {
    Loc loc = {&h->src, 0, 0, 0};
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(h->d, DIAG_ERROR, loc, fmt, ap);
    va_end(ap);
    return false;
}

/* An error at byte `pos` of the header (column pos + 1 of line 1), spanning n bytes. */
__attribute__((format(printf, 4, 5))) static bool hdr_error(Hdr *h, size_t pos, size_t n, const char *fmt, ...) {
    Loc loc = {&h->src, 1, pos < INT_MAX ? (int)pos + 1 : INT_MAX, n < 1000 ? (int)n : 1000};
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(h->d, DIAG_ERROR, loc, fmt, ap);
    va_end(ap);
    return false;
}

/* Shows the header as the caret line: control bytes as '?', trailing padding dropped. */
static void hdr_show(Hdr *h, const unsigned char *text, size_t len) {
    size_t n = len < SHOWN_MAX ? len : SHOWN_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = text[i];
        h->shown[i] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
    }
    if (n == len)
        while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
            n--;
    h->shown[n] = 0;
    h->src.text = h->shown;
    h->src.len = n;
}

/* `s` (n bytes) for a message: printable ASCII kept, other bytes as \xNN, cut after 40 bytes. */
static const char *excerpt(char *buf, size_t cap, const unsigned char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 8 < cap; i++) {
        if (i == 40) {
            memcpy(buf + k, "...", 3);
            k += 3;
            break;
        }
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
            buf[k++] = (char)s[i];
        else
            k += (size_t)snprintf(buf + k, cap - k, "\\x%02x", s[i]);
    }
    buf[k] = 0;
    return buf;
}

/* The shape as Python prints it: (), (5,), (3, 4). */
static const char *shape_text(char *buf, size_t cap, const int64_t *dims, int rank) {
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < rank && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (k < cap)
        snprintf(buf + k, cap - k, rank == 1 ? ",)" : ")");
    return buf;
}

/* ---------------------------------------------------------------- the preamble */

/* magic string (6 bytes), major and minor version (1 byte each): `have` bytes of the file. */
static bool check_magic(Hdr *h, const unsigned char *p, size_t have) {
    size_t n = have < MAGIC_LEN ? have : MAGIC_LEN;
    if (have == 0)
        return file_error(h, "empty file, not a .npy file");
    if (memcmp(p, MAGIC, n) != 0)
        return file_error(h, "not a .npy file: it does not start with the magic string \"\\x93NUMPY\"");
    if (have < 8)
        return file_error(h, "truncated .npy file: %zu bytes, too short for the magic string and version", have);
    if ((p[6] != 1 && p[6] != 2 && p[6] != 3) || p[7] != 0)
        return file_error(h, "unsupported .npy format version %u.%u (byte 6): h2c reads versions 1.0, 2.0 and 3.0",
                          p[6], p[7]);
    h->version = p[6];
    return true;
}

/* Bytes of the little-endian header length after the version: 2 in 1.0, 4 in 2.0 and 3.0. */
static size_t hlen_size(const Hdr *h) { return h->version == 1 ? 2 : 4; }

/* The header length field (`have` of its bytes at p). */
static bool check_hlen(Hdr *h, const unsigned char *p, size_t have, size_t *hlen) {
    if (have < hlen_size(h))
        return file_error(h, "truncated .npy file: %zu bytes, too short for the header length", 8 + have);
    uint32_t n = (uint32_t)p[0] | (uint32_t)p[1] << 8;
    if (h->version > 1)
        n |= (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (n > NPY_MAX_HEADER)
        return file_error(h, "header length %lu (byte 8) is larger than h2c's limit of %u bytes (1 MiB)",
                          (unsigned long)n, NPY_MAX_HEADER);
    *hlen = n;
    h->start = 8 + hlen_size(h);
    return true;
}

static bool header_past_end(Hdr *h, size_t hlen, size_t file_bytes) {
    return file_error(h, "header length %zu (byte 8) runs past the end of the file (%zu bytes)", hlen, file_bytes);
}

/* ---------------------------------------------------------------- the header dict */

static int peek(const Hdr *h) { return h->pos < h->len ? h->text[h->pos] : -1; }

static void skip_ws(Hdr *h) {
    while (h->pos < h->len && (h->text[h->pos] == ' ' || h->text[h->pos] == '\t'))
        h->pos++;
}

/* "expected WHAT, found X" at the parse position. */
static bool unexpected(Hdr *h, const char *what) {
    int c = peek(h);
    char found[32];
    if (c < 0)
        snprintf(found, sizeof found, "the end of the header");
    else if (c == '\n')
        snprintf(found, sizeof found, "a newline");
    else if (c >= 0x20 && c < 0x7f)
        snprintf(found, sizeof found, "'%c'", c);
    else
        snprintf(found, sizeof found, "byte 0x%02x", (unsigned)c);
    return hdr_error(h, h->pos, 1, "expected %s, found %s", what, found);
}

/* string: '\'' {char} '\'' | '"' {char} '"'   (no escapes, no newline) */
static bool parse_string(Hdr *h, size_t *start, size_t *n, const char *what) {
    int q = peek(h);
    if (q != '\'' && q != '"')
        return unexpected(h, what);
    size_t open = h->pos++;
    while (h->pos < h->len && h->text[h->pos] != q) {
        unsigned char c = h->text[h->pos];
        if (c == '\\')
            return hdr_error(h, h->pos, 1, "escape sequences are not supported in header strings");
        if (c == '\n' || c == '\r')
            break;
        h->pos++;
    }
    if (h->pos >= h->len || h->text[h->pos] != q)
        return hdr_error(h, open, 1, "unterminated string in the header");
    *start = open + 1;
    *n = h->pos - open - 1;
    h->pos++;
    return true;
}

/* The extent of a word (anything up to a separator, at most 64 bytes), for messages about a
 * bad value; 0 at a separator or the end. */
static size_t word_len(const Hdr *h) {
    size_t n = 0;
    while (h->pos + n < h->len && !strchr(",}) \t\n", h->text[h->pos + n]) && n < 64)
        n++;
    return n;
}

static bool is_word(const Hdr *h, size_t pos, size_t n, const char *w) {
    size_t wl = strlen(w);
    return n == wl && memcmp(h->text + pos, w, wl) == 0;
}

/* What a numpy dtype string's kind letter means, for the message rejecting it. */
static const char *kind_name(char k) {
    switch (k) {
    case 'b': case '?': return "boolean";
    case 'i': return "signed integer";
    case 'u': return "unsigned integer";
    case 'f': return "floating point";
    case 'c': return "complex";
    case 'm': return "timedelta";
    case 'M': return "datetime";
    case 'S': case 'a': return "bytes";
    case 'U': return "unicode string";
    case 'V': return "void (raw records)";
    default: return "unknown";
    }
}

/* descr: the dtype string, content at pos, n bytes */
static bool check_descr(Hdr *h, size_t pos, size_t n) {
    const unsigned char *s = h->text + pos;
    static const char *const ok[] = {"<f2", "<f4", "<f8"};
    for (int t = 0; t < 3; t++)
        if (is_word(h, pos, n, ok[t])) {
            h->dtype = (NpyDtype)t;
            h->itemsize = dtype_size(h->dtype);
            return true;
        }
    char ex[200];
    excerpt(ex, sizeof ex, s, n);
    size_t k = n > 0 && strchr("<>|=", s[0]) ? 1 : 0;
    char kind = k < n ? (char)s[k] : 0;
    if (kind == 'O')
        return hdr_error(h, pos, n, "object arrays ('%s') are not supported: they hold pickled Python objects", ex);
    if (n > 1 && s[0] == '>')
        return hdr_error(h, pos, n, "big-endian data ('%s') is not supported; save it little-endian", ex);
    return hdr_error(h, pos, n, "unsupported dtype '%s' (%s): h2c reads only '<f4', '<f2' and '<f8'", ex,
                     n == 0 ? "empty" : kind_name(kind));
}

/* descr value: string   (a list would be a structured dtype) */
static bool parse_descr(Hdr *h) {
    if (peek(h) == '[')
        return hdr_error(h, h->pos, 1,
                         "structured dtypes (a list of fields in 'descr') are not supported; "
                         "h2c reads plain '<f4', '<f2' or '<f8' arrays");
    size_t s, n;
    if (!parse_string(h, &s, &n, "a dtype string such as '<f4' for 'descr'"))
        return false;
    return check_descr(h, s, n);
}

/* fortran_order value: 'True' | 'False'   (only False is accepted) */
static bool parse_fortran(Hdr *h) {
    size_t n = word_len(h);
    if (n == 0)
        return unexpected(h, "True or False for 'fortran_order'");
    if (is_word(h, h->pos, n, "True"))
        return hdr_error(h, h->pos, n,
                         "Fortran-order arrays are not supported; save a C-order array (np.ascontiguousarray)");
    if (!is_word(h, h->pos, n, "False")) {
        char ex[200];
        return hdr_error(h, h->pos, n, "'fortran_order' must be True or False, not '%s'",
                         excerpt(ex, sizeof ex, h->text + h->pos, n));
    }
    h->pos += n;
    return true;
}

/* dim: digit {digit} ['L' in versions 1.0 and 2.0]   (a '-' is parsed to reject it by name) */
static bool parse_dim(Hdr *h, int64_t *out) {
    size_t s = h->pos;
    bool neg = peek(h) == '-';
    if (neg)
        h->pos++;
    int c = peek(h);
    if (c < '0' || c > '9')
        return unexpected(h, "a dimension (a non-negative integer)");
    size_t digits = h->pos;
    uint64_t v = 0;
    bool big = false;
    while ((c = peek(h)) >= '0' && c <= '9') {
        if (v > (UINT64_C(0x7fffffffffffffff) - (uint64_t)(c - '0')) / 10)
            big = true;
        else
            v = v * 10 + (uint64_t)(c - '0');
        h->pos++;
    }
    char ex[200];
    if (h->text[digits] == '0' && h->pos - digits > 1)
        return hdr_error(h, s, h->pos - s, "a dimension with a leading zero ('%s') is not a Python integer",
                         excerpt(ex, sizeof ex, h->text + s, h->pos - s));
    if ((c == 'L' || c == 'l') && h->version < 3)
        h->pos++;   /* a Python 2 long, as numpy under Python 2 wrote it */
    c = peek(h);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_') {
        h->pos = s;
        size_t n = word_len(h);
        return hdr_error(h, s, n, "a dimension must be a non-negative decimal integer, not '%s'",
                         excerpt(ex, sizeof ex, h->text + s, n));
    }
    if (neg && (v != 0 || big))
        return hdr_error(h, s, h->pos - s, "negative dimension '%s' in 'shape'",
                         excerpt(ex, sizeof ex, h->text + s, h->pos - s));
    if (big)
        return hdr_error(h, s, h->pos - s, "dimension %s is too large", excerpt(ex, sizeof ex, h->text + s, h->pos - s));
    *out = (int64_t)v;
    return true;
}

/* shape value: '(' ')' | '(' dim ',' ')' | '(' dim {',' dim} [','] ')' */
static bool parse_shape(Hdr *h) {
    size_t open = h->pos;
    int c = peek(h);
    if (c == '[')
        return hdr_error(h, open, 1, "'shape' must be a tuple, not a list: write (3, 4)");
    if (c == '-' || (c >= '0' && c <= '9')) {
        int64_t v;
        if (!parse_dim(h, &v))
            return false;
        return hdr_error(h, open, h->pos - open, "'shape' must be a tuple: write (%lld,) for one dimension",
                         (long long)v);
    }
    if (c != '(')
        return unexpected(h, "a tuple of dimensions for 'shape'");
    h->pos++;
    skip_ws(h);
    int n = 0;
    bool trailing_comma = false;
    if (peek(h) != ')') {
        for (;;) {
            size_t at = h->pos;
            int64_t v;
            if (!parse_dim(h, &v))
                return false;
            if (n == NPY_MAX_RANK)
                return hdr_error(h, at, h->pos - at, "'shape' has more than %d dimensions, h2c's limit", NPY_MAX_RANK);
            h->dims[n++] = v;
            skip_ws(h);
            if (peek(h) == ',') {
                h->pos++;
                skip_ws(h);
                if (peek(h) == ')') {
                    trailing_comma = true;
                    break;
                }
                continue;
            }
            if (peek(h) == ')')
                break;
            return unexpected(h, "',' or ')' in 'shape'");
        }
    }
    h->pos++;
    if (n == 1 && !trailing_comma)
        return hdr_error(h, open, h->pos - open,
                         "'shape' must be a tuple: (%lld) is a number in Python, write (%lld,)",
                         (long long)h->dims[0], (long long)h->dims[0]);
    h->rank = n;
    h->shape_pos = open;
    h->shape_len = h->pos - open;
    return true;
}

static const char *const KEYS[3] = {"descr", "fortran_order", "shape"};

/* item: string ':' value */
static bool parse_item(Hdr *h) {
    size_t s, n;
    if (!parse_string(h, &s, &n, "a string key"))
        return false;
    int key = -1;
    for (int k = 0; k < 3; k++)
        if (is_word(h, s, n, KEYS[k]))
            key = k;
    char ex[200];
    if (key < 0)
        return hdr_error(h, s - 1, n + 2, "unknown key '%s' in the header (a .npy header has 'descr', "
                         "'fortran_order' and 'shape')", excerpt(ex, sizeof ex, h->text + s, n));
    if (h->seen[key])
        return hdr_error(h, s - 1, n + 2, "duplicate key '%s' in the header (first at column %zu)", KEYS[key],
                         h->key_pos[key] + 1);
    h->seen[key] = true;
    h->key_pos[key] = s - 1;
    skip_ws(h);
    if (peek(h) != ':')
        return unexpected(h, "':' after the key");
    h->pos++;
    skip_ws(h);
    return key == 0 ? parse_descr(h) : key == 1 ? parse_fortran(h) : parse_shape(h);
}

/* header: '{' [item {',' item} [',']] '}' {' '} '\n'   (the whole header length, no more) */
static bool parse_dict(Hdr *h) {
    skip_ws(h);
    if (peek(h) != '{')
        return unexpected(h, "'{' starting the header dict");
    h->pos++;
    for (;;) {
        skip_ws(h);
        if (peek(h) == '}')
            break;
        if (!parse_item(h))
            return false;
        skip_ws(h);
        if (peek(h) == ',') {
            h->pos++;
            continue;
        }
        if (peek(h) == '}')
            break;
        return unexpected(h, "',' or '}' after a header entry");
    }
    size_t close = h->pos++;
    for (int k = 0; k < 3; k++)
        if (!h->seen[k])
            return hdr_error(h, close, 1, "the header has no '%s' key", KEYS[k]);
    while (h->pos < h->len && h->text[h->pos] == ' ')
        h->pos++;
    if (h->pos == h->len)
        return hdr_error(h, h->len - 1, 1, "the header does not end with a newline");
    if (h->text[h->pos] != '\n')
        return unexpected(h, "only spaces and a newline after the header dict");
    if (h->pos + 1 != h->len)
        return hdr_error(h, h->pos + 1, 1, "%zu bytes of the header after the newline that ends it",
                         h->len - h->pos - 1);
    return true;
}

/* Checks the header's bytes, parses it, and works out the data size. */
static bool parse_header(Hdr *h, const unsigned char *text, size_t len) {
    h->text = text;
    h->len = len;
    h->pos = 0;
    hdr_show(h, text, len);
    if (h->version < 3) {
        for (size_t i = 0; i < len; i++)
            if (text[i] >= 0x80)
                return hdr_error(h, i, 1, "non-ASCII byte 0x%02x in a version %d.0 header (only 3.0 headers are UTF-8)",
                                 text[i], h->version);
    } else {
        for (size_t i = 0; i < len;) {
            unsigned char c = text[i];
            size_t n = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
            bool ok = n > 0 && i + n <= len;
            for (size_t j = 1; ok && j < n; j++)
                ok = (text[i + j] & 0xc0) == 0x80;
            if (!ok)
                return hdr_error(h, i, 1, "invalid UTF-8 in a version 3.0 header (byte 0x%02x)", c);
            i += n;
        }
    }
    if (!parse_dict(h))
        return false;
    if ((h->start + len) % 16 != 0)
        return hdr_error(h, len - 1, 1,
                         "the header ends at byte %zu, not on a 16-byte boundary (numpy pads it with spaces to a "
                         "multiple of 64, 16 in old files)", h->start + len);
    /* elements: the product of the non-zero dims must fit in bytes; any zero dim makes it empty */
    uint64_t limit = (SIZE_MAX < INT64_MAX ? (uint64_t)SIZE_MAX : (uint64_t)INT64_MAX) / h->itemsize, prod = 1;
    bool empty = false;
    for (int i = 0; i < h->rank; i++) {
        uint64_t v = (uint64_t)h->dims[i];
        if (v == 0)
            empty = true;
        else if (prod > limit / v) {
            char sh[256];
            return hdr_error(h, h->shape_pos, h->shape_len, "shape %s has too many elements to address",
                             shape_text(sh, sizeof sh, h->dims, h->rank));
        } else
            prod *= v;
    }
    h->count = empty ? 0 : (size_t)prod;
    h->nbytes = h->count * h->itemsize;
    return true;
}

/* The data size does not match the shape: `have` bytes follow the header (at least, if `more`). */
static bool data_size_error(Hdr *h, size_t have, bool more) {
    char sh[256];
    shape_text(sh, sizeof sh, h->dims, h->rank);
    if (have < h->nbytes)
        return hdr_error(h, h->shape_pos, h->shape_len,
                         "the data is truncated: shape %s of '%s' needs %zu bytes after the header, the file has %zu",
                         sh, npy_dtype_name(h->dtype), h->nbytes, have);
    if (more)
        return hdr_error(h, h->shape_pos, h->shape_len,
                         "bytes after the data: shape %s of '%s' needs %zu bytes after the header, the file has more",
                         sh, npy_dtype_name(h->dtype), h->nbytes);
    return hdr_error(h, h->shape_pos, h->shape_len,
                     "%zu bytes after the data: shape %s of '%s' needs %zu bytes after the header, the file has %zu",
                     have - h->nbytes, sh, npy_dtype_name(h->dtype), h->nbytes, have);
}

/* ---------------------------------------------------------------- the data */

/* arena_alloc that returns NULL instead of unwinding; *outer is then the caller's oom handler
 * (NULL if none), to be jumped to once the caller's own resources are released. */
static void *try_alloc(Arena *a, size_t count, size_t size, jmp_buf **outer) {
    jmp_buf jb;
    jmp_buf *saved = a->oom;
    *outer = saved;
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;   /* f2 data widened to double cannot be addressed */
    size_t n = count * size;
    a->oom = &jb;
    if (setjmp(jb)) {
        a->oom = saved;
        return NULL;
    }
    void *p = arena_alloc(a, n);
    a->oom = saved;
    return p;
}

static size_t out_size(NpyConvert conv, const Hdr *h) {
    return conv == NPY_TO_F32 ? sizeof(float) : conv == NPY_TO_F64 ? sizeof(double) : h->itemsize;
}

static uint64_t load_le(const unsigned char *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

/* Converts n elements at src (file bytes) into out, starting at element `first`. */
static void convert(const Hdr *h, NpyConvert conv, const unsigned char *src, size_t n, void *out, size_t first) {
    if (conv == NPY_RAW) {
        memcpy((unsigned char *)out + first * h->itemsize, src, n * h->itemsize);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = src + i * h->itemsize;
        double v;
        float f;
        if (h->dtype == NPY_F16) {
            f = npy_f16_to_f32((uint16_t)load_le(p, 2));
            v = f;
        } else if (h->dtype == NPY_F32) {
            uint32_t b = (uint32_t)load_le(p, 4);
            memcpy(&f, &b, sizeof f);
            v = f;
        } else {
            uint64_t b = load_le(p, 8);
            memcpy(&v, &b, sizeof v);
            f = (float)v;
        }
        if (conv == NPY_TO_F32)
            ((float *)out)[first + i] = f;
        else
            ((double *)out)[first + i] = v;
    }
}

static void fill_out(const Hdr *h, NpyConvert conv, void *data, NpyArray *out) {
    memset(out, 0, sizeof *out);
    out->dtype = h->dtype;
    out->version = h->version;
    out->rank = h->rank;
    memcpy(out->dims, h->dims, sizeof out->dims);
    out->count = h->count;
    out->itemsize = h->itemsize;
    if (conv == NPY_TO_F32)
        out->f32 = data;
    else if (conv == NPY_TO_F64)
        out->f64 = data;
    else
        out->raw = data;
}

static bool out_of_memory(Hdr *h) { return file_error(h, "out of memory reading the array"); }

bool npy_read_mem(Arena *a, Diag *d, const char *name, const void *buf, size_t len, NpyConvert conv,
                  NpyArray *out) {
    memset(out, 0, sizeof *out);
    const unsigned char *p = buf;
    Hdr hb, *h = &hb;
    hdr_init(h, d, name);
    size_t hlen;
    if (!check_magic(h, p, len < 8 ? len : 8) || !check_hlen(h, p + 8, len - 8 < 4 ? len - 8 : 4, &hlen))
        return false;
    if (hlen > len - h->start)
        return header_past_end(h, hlen, len);
    if (!parse_header(h, p + h->start, hlen))
        return false;
    size_t have = len - h->start - hlen;
    if (have != h->nbytes)
        return data_size_error(h, have, false);
    jmp_buf *outer;
    void *data = try_alloc(a, h->count, out_size(conv, h), &outer);
    if (!data) {
        if (outer)
            longjmp(*outer, 1);
        return out_of_memory(h);
    }
    convert(h, conv, p + h->start + hlen, h->count, data, 0);
    fill_out(h, conv, data, out);
    return true;
}

/* Reads up to n bytes (fewer only at end of file); the count, or -1 with errno set. */
static ssize_t read_full(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

bool npy_read_file(Arena *a, Diag *d, const char *path, NpyConvert conv, size_t max_bytes, NpyArray *out) {
    memset(out, 0, sizeof *out);
    Hdr hb, *h = &hb;
    hdr_init(h, d, path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        diag_error(d, NOLOC, "cannot open '%s': %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    unsigned char pre[12];
    unsigned char *text = NULL, *raw = NULL;
    size_t hlen = 0, raw_cap = 0;
    void *data = NULL;
    jmp_buf *outer = NULL;
    bool ok = false;
    ssize_t got = read_full(fd, pre, 8), got2 = 0;
    if (got < 0)
        goto io_error;
    if (!check_magic(h, pre, (size_t)got))
        goto done;
    got2 = read_full(fd, pre + 8, hlen_size(h));
    if (got2 < 0)
        goto io_error;
    if (!check_hlen(h, pre + 8, (size_t)got2, &hlen))
        goto done;
    if (regular && (uint64_t)st.st_size < h->start + hlen) {
        header_past_end(h, hlen, (size_t)st.st_size);
        goto done;
    }
    text = h2c_raw_alloc(hlen);
    if (!text) {
        out_of_memory(h);
        goto done;
    }
    got = read_full(fd, text, hlen);
    if (got < 0)
        goto io_error;
    if ((size_t)got < hlen) {
        header_past_end(h, hlen, h->start + (size_t)got);
        goto done;
    }
    if (!parse_header(h, text, hlen))
        goto done;
    size_t off = h->start + hlen;
    if (regular && (uint64_t)st.st_size - off != h->nbytes) {
        data_size_error(h, (size_t)((uint64_t)st.st_size - off), false);
        goto done;
    }
    if (max_bytes && h->nbytes > max_bytes) {
        file_error(h, "the data (%zu bytes) is larger than the limit of %zu bytes", h->nbytes, max_bytes);
        goto done;
    }
    if (regular) {
        /* the size is known to match: convert chunk by chunk straight into the result */
        data = try_alloc(a, h->count, out_size(conv, h), &outer);
        if (!data)
            goto oom;
        unsigned char chunk[CHUNK];
        for (size_t done_bytes = 0; done_bytes < h->nbytes;) {
            size_t want = h->nbytes - done_bytes < CHUNK ? h->nbytes - done_bytes : CHUNK;
            got = read_full(fd, chunk, want);
            if (got < 0)
                goto io_error;
            if ((size_t)got < want) {
                data_size_error(h, done_bytes + (size_t)got, false);   /* the file shrank */
                goto done;
            }
            convert(h, conv, chunk, want / h->itemsize, data, done_bytes / h->itemsize);
            done_bytes += want;
        }
    } else {
        /* a stream of unknown length: buffer what arrives, never more than the header promised */
        size_t have = 0;
        while (have < h->nbytes) {
            if (have == raw_cap) {
                size_t ncap = raw_cap ? raw_cap * 2 : CHUNK;
                if (ncap > h->nbytes || ncap < raw_cap)
                    ncap = h->nbytes;
                unsigned char *nr = h2c_raw_realloc(raw, raw_cap, ncap);
                if (!nr) {
                    out_of_memory(h);
                    goto done;
                }
                raw = nr;
                raw_cap = ncap;
            }
            got = read_full(fd, raw + have, raw_cap - have);
            if (got < 0)
                goto io_error;
            have += (size_t)got;
            if (have < raw_cap)
                break;
        }
        if (have < h->nbytes) {
            data_size_error(h, have, false);
            goto done;
        }
        data = try_alloc(a, h->count, out_size(conv, h), &outer);
        if (!data)
            goto oom;
        convert(h, conv, raw, h->count, data, 0);
    }
    unsigned char extra;
    got = read_full(fd, &extra, 1);
    if (got < 0)
        goto io_error;
    if (got > 0) {
        data_size_error(h, h->nbytes + 1, true);
        goto done;
    }
    fill_out(h, conv, data, out);
    ok = true;
    goto done;
oom:
    if (!outer) {
        out_of_memory(h);
        goto done;
    }
    close(fd);
    h2c_raw_free(text, hlen);
    h2c_raw_free(raw, raw_cap);
    longjmp(*outer, 1);
io_error:
    file_error(h, "cannot read: %s", strerror(errno));
done:
    close(fd);
    h2c_raw_free(text, hlen);
    h2c_raw_free(raw, raw_cap);
    return ok;
}

/* ---------------------------------------------------------------- the writer */

/* Writes all n bytes; false with errno set. */
static bool write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void store_le(unsigned char *p, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

/* The preamble and header as numpy 1.24 writes them (_write_array_header): the dict, room for
 * axis 0 to grow to 21 digits, then spaces and '\n' to a multiple of 64 bytes (at least one
 * space). Returns the length, or 0 if it does not fit cap. */
static size_t make_header(unsigned char *buf, size_t cap, NpyDtype dtype, int rank, const int64_t *dims) {
    char sh[256], dict[512];
    shape_text(sh, sizeof sh, dims, rank);
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     npy_dtype_name(dtype), sh);
    if (rank > 0) {
        char first[32];
        int grow = 21 - snprintf(first, sizeof first, "%lld", (long long)dims[0]);
        for (int i = 0; i < grow && n + 1 < (int)sizeof dict; i++)
            dict[n++] = ' ';
        dict[n] = 0;
    }
    size_t hlen = (size_t)n + 1;
    size_t pre = MAGIC_LEN + 2 + 2, pad = 64 - (pre + hlen) % 64;
    int version = 1;
    if (hlen + pad > 65535) {
        version = 2;    /* the length does not fit 1.0's two bytes */
        pre = MAGIC_LEN + 2 + 4;
        pad = 64 - (pre + hlen) % 64;
    }
    size_t total = pre + hlen + pad;
    if (total > cap)
        return 0;
    memcpy(buf, MAGIC, MAGIC_LEN);
    buf[6] = (unsigned char)version;
    buf[7] = 0;
    store_le(buf + 8, hlen + pad, pre - 8);
    memcpy(buf + pre, dict, (size_t)n);
    memset(buf + pre + (size_t)n, ' ', pad);
    buf[total - 1] = '\n';
    return total;
}

/* Header and data to fd; false with errno set. */
static bool write_array(int fd, NpyDtype dtype, int rank, const int64_t *dims, size_t count, const float *data) {
    unsigned char buf[CHUNK];
    size_t n = make_header(buf, sizeof buf, dtype, rank, dims);
    if (n == 0) {
        errno = EOVERFLOW;
        return false;
    }
    if (!write_all(fd, buf, n))
        return false;
    size_t size = dtype_size(dtype), per = CHUNK / size;
    for (size_t i = 0; i < count; i += per) {
        size_t k = count - i < per ? count - i : per;
        for (size_t j = 0; j < k; j++) {
            float f = data[i + j];
            uint64_t bits;
            if (dtype == NPY_F16) {
                bits = npy_f32_to_f16(f);
            } else if (dtype == NPY_F32) {
                uint32_t b;
                memcpy(&b, &f, sizeof b);
                bits = b;
            } else {
                double v = f;
                memcpy(&bits, &v, sizeof bits);
            }
            store_le(buf + j * size, bits, size);
        }
        if (!write_all(fd, buf, k * size))
            return false;
    }
    return true;
}

bool npy_write_file(Diag *d, const char *path, NpyDtype dtype, int rank, const int64_t *dims, const float *data) {
    SrcFile src = {.name = path};
    Loc loc = {&src, 0, 0, 0};
    if (dtype != NPY_F16 && dtype != NPY_F32 && dtype != NPY_F64) {
        diag_error(d, loc, "cannot write: unknown dtype %d", (int)dtype);
        return false;
    }
    if (rank < 0 || rank > NPY_MAX_RANK) {
        diag_error(d, loc, "cannot write an array of rank %d: h2c writes ranks 0 to %d", rank, NPY_MAX_RANK);
        return false;
    }
    uint64_t limit = (SIZE_MAX < INT64_MAX ? (uint64_t)SIZE_MAX : (uint64_t)INT64_MAX) / 8, prod = 1;
    bool empty = false;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) {
            diag_error(d, loc, "cannot write: dimension %d is negative (%lld)", i, (long long)dims[i]);
            return false;
        }
        uint64_t v = (uint64_t)dims[i];
        if (v == 0)
            empty = true;
        else if (prod > limit / v) {
            diag_error(d, loc, "cannot write: the shape has too many elements");
            return false;
        } else
            prod *= v;
    }
    size_t count = empty ? 0 : (size_t)prod;
    if (count > 0 && !data) {
        diag_error(d, loc, "cannot write: no data for %zu elements", count);
        return false;
    }

    struct stat st;
    bool exists = stat(path, &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) {
        /* a device, a pipe, a socket: no rename possible, write in place */
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            diag_error(d, loc, "cannot open for writing: %s", strerror(errno));
            return false;
        }
        bool ok = write_array(fd, dtype, rank, dims, count, data);
        int err = errno;
        if (close(fd) != 0 && ok) {
            ok = false;
            err = errno;
        }
        if (!ok)
            diag_error(d, loc, "cannot write: %s", strerror(err));
        return ok;
    }

    /* a regular or new file: write a temporary file next to it, then rename it into place; a
     * symbolic link is followed so that the link stays and its target is replaced */
    char resolved[PATH_MAX];
    const char *target = path;
    struct stat lst;
    if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
        if (!realpath(path, resolved)) {
            diag_error(d, loc, "cannot write: cannot resolve the symbolic link: %s", strerror(errno));
            return false;
        }
        target = resolved;
    }
    static atomic_uint serial;
    size_t cap = strlen(target) + 64;
    char *tmp = h2c_raw_alloc(cap);
    if (!tmp) {
        diag_error(d, loc, "cannot write: out of memory");
        return false;
    }
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        snprintf(tmp, cap, "%s.tmp%ld.%u", target, (long)getpid(), atomic_fetch_add(&serial, 1));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        diag_error(d, loc, "cannot create a temporary file next to it: %s", strerror(errno));
        h2c_raw_free(tmp, cap);
        return false;
    }
    if (exists)
        (void)fchmod(fd, st.st_mode & 07777);   /* keep the old file's permissions where allowed */
    const char *what = "cannot write";
    bool ok = write_array(fd, dtype, rank, dims, count, data);
    if (ok && fsync(fd) != 0 && errno != EINVAL && errno != ENOTSUP) {
        ok = false;
        what = "cannot sync";
    }
    int err = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        what = "cannot close";
        err = errno;
    }
    if (ok && rename(tmp, target) != 0) {
        ok = false;
        what = "cannot rename the temporary file into place";
        err = errno;
    }
    if (!ok) {
        unlink(tmp);
        diag_error(d, loc, "%s: %s", what, strerror(err));
    }
    h2c_raw_free(tmp, cap);
    return ok;
}
