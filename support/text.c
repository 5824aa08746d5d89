/* text.c: small text helpers of the ground floor: quoting a string the way .h2 and the IR read it,
 * the shortest decimal that reads back exactly, and "did you mean" suggestions. */
#include "support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void write_quoted(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

const char *plural(long long n) { return n == 1 ? "" : "s"; }

void fmt_double(char *buf, size_t n, double v) {
    if (isnan(v)) {
        snprintf(buf, n, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, n, v < 0 ? "-inf" : "inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 1000;
    int row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int prev = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cur = row[j];
            int sub = prev + (a[i - 1] != b[j - 1]);
            int del = row[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
            prev = cur;
        }
    }
    return row[lb];
}

const char *closest_word(const char *word, const char *const *cands) {
    const char *best = NULL;
    int bestd = 1000;
    for (; *cands; cands++) {
        int d = edit_distance(word, *cands);
        if (d < bestd) {
            bestd = d;
            best = *cands;
        }
    }
    size_t len = strlen(word);
    int limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    /* a candidate that shares no letter with the word ('x' -> 'B') is no suggestion */
    return bestd <= limit && (size_t)bestd < len ? best : NULL;
}
