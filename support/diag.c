/* diag.c: diagnostics in the gcc format: `file:line:col: error: msg`, the source line, a caret.
 * Library code reports here and returns false; only the CLI turns errors into an exit status. */
#include "support.h"

#include <string.h>

const Loc NOLOC = {0};

void diag_init(Diag *d, FILE *out) {
    memset(d, 0, sizeof *d);
    d->out = out ? out : stderr;
    d->max_errors = 20;
}

void diag_init_quiet(Diag *d) {
    diag_init(d, NULL);
    d->quiet = true;
}

Loc loc_span(Loc a, Loc b) {
    if (a.file == b.file && a.line == b.line && b.col + b.len >= a.col) {
        a.len = b.col + b.len - a.col;
        return a;
    }
    return a;
}

/* Copies line `line` of the file into buf (without the newline); false if there is none, or if
 * the file's text is not in memory. */
static bool get_line(const SrcFile *f, int line, char *buf, size_t n) {
    if (!f || line <= 0)
        return false;
    if (f->text) {
        const char *p = f->text, *end = f->text + f->len;
        for (int l = 1; l < line; l++) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl)
                return false;
            p = nl + 1;
        }
        if (p > end || (p == end && line > 1))
            return false;
        size_t k = 0;
        while (p < end && *p != '\n' && k + 1 < n)
            buf[k++] = *p++;
        if (k > 0 && buf[k - 1] == '\r')
            k--;    /* a CRLF line ending */
        buf[k] = 0;
        return true;
    }
    /* a file that is only named (a .h2 location read back from IR text) is not opened: a location
       must not make h2c read a path it was not given, which may be a device or a FIFO */
    return false;
}

/* Length of a valid UTF-8 sequence at p (max n bytes), or 0. */
static int utf8_len(const unsigned char *p, size_t n) {
    int len = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 && p[0] < 0xe0 ? 2 : 0;
    if (len == 0 || (size_t)len > n)
        return 0;
    for (int i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

static void print_source(Diag *d, Loc loc) {
    char full[8192];
    if (!get_line(loc.file, loc.line, full, sizeof full))
        return;
    /* a long line is shown as a window of about 120 bytes around the caret */
    char line[1024];
    size_t flen = strlen(full);
    size_t start = 0;
    if (flen > 160 && loc.col > 80) {
        start = (size_t)loc.col - 60;
        if (start > flen)
            start = flen;
        while (start < flen && ((unsigned char)full[start] & 0xc0) == 0x80)
            start++;
        loc.col -= (int)start - 3;
    }
    snprintf(line, sizeof line, "%s%.*s%s", start ? "..." : "", 120, full + start, flen - start > 120 ? "..." : "");
    /* display form: valid UTF-8 kept, other control or high bytes shown as '?'; dcol maps a byte
     * column to its display column so the caret lands under the right character */
    char shown[4096];
    int dcol_of[1025];
    size_t n = strlen(line), k = 0;
    int dcol = 0;
    for (size_t i = 0; i < n && k + 8 < sizeof shown;) {
        unsigned char c = (unsigned char)line[i];
        int u = c >= 0x80 ? utf8_len((const unsigned char *)line + i, n - i) : 0;
        if (u > 0) {
            for (int j = 0; j < u; j++) {
                dcol_of[i + (size_t)j] = dcol;
                shown[k++] = line[i + (size_t)j];
            }
            i += (size_t)u;
            dcol++;
            continue;
        }
        dcol_of[i] = dcol;
        shown[k++] = (c == '\t' || (c >= 0x20 && c < 0x7f)) ? (char)c : '?';
        dcol++;
        i++;
    }
    shown[k] = 0;
    for (size_t i = n; i < sizeof dcol_of / sizeof dcol_of[0]; i++)
        dcol_of[i] = dcol + (int)(i - n);
    fprintf(d->out, "%5d | %s\n", loc.line, shown);
    if (loc.col <= 0)
        return;
    int c0 = loc.col - 1 < 1024 ? loc.col - 1 : 1024;
    fprintf(d->out, "      | ");
    /* pad with the line's own tabs so the caret lines up in any tab width */
    int want = dcol_of[c0];
    int pos = 0;
    for (size_t i = 0; i < n && pos < want;) {
        if (line[i] == '\t')
            fputc('\t', d->out);
        else
            fputc(' ', d->out);
        pos++;
        unsigned char c = (unsigned char)line[i];
        int u = c >= 0x80 ? utf8_len((const unsigned char *)line + i, n - i) : 0;
        i += u > 0 ? (size_t)u : 1;
    }
    while (pos++ < want)
        fputc(' ', d->out);
    fputc('^', d->out);
    int end = loc.col - 1 + (loc.len > 0 ? loc.len : 1);
    if (end > (int)n)
        end = (int)n;
    if (end > 1024)
        end = 1024;
    int width = end > c0 ? dcol_of[end - 1 < 1024 ? end - 1 : 1023] - dcol_of[c0] : 0;
    for (int i = 0; i < width; i++)
        fputc('~', d->out);
    fputc('\n', d->out);
}

void diag_vreport(Diag *d, DiagLevel lvl, Loc loc, const char *fmt, va_list ap) {
    if (lvl == DIAG_WARNING && d->werror)
        lvl = DIAG_ERROR;
    if (d->stop && lvl != DIAG_ERROR)
        return;
    if (d->stop)
        return;
    static const char *const names[] = {"error", "warning", "note"};
    if (!d->quiet) {
        if (loc.file && loc.line > 0)
            fprintf(d->out, "%s:%d:%d: %s: ", loc.file->name, loc.line, loc.col > 0 ? loc.col : 1, names[lvl]);
        else if (loc.file)
            fprintf(d->out, "%s: %s: ", loc.file->name, names[lvl]);
        else
            fprintf(d->out, "h2c: %s: ", names[lvl]);
        vfprintf(d->out, fmt, ap);
        fputc('\n', d->out);
        if (loc.file && loc.line > 0)
            print_source(d, loc);
    }
    if (lvl == DIAG_ERROR) {
        d->errors++;
        int max = d->max_errors > 0 ? d->max_errors : 20;
        if (d->errors >= max) {
            if (!d->quiet)
                fprintf(d->out, "h2c: fatal error: too many errors (%d), stopping\n", d->errors);
            d->stop = true;
        }
    } else if (lvl == DIAG_WARNING) {
        d->warnings++;
    }
}

void diag_report(Diag *d, DiagLevel lvl, Loc loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    diag_vreport(d, lvl, loc, fmt, ap);
    va_end(ap);
}
