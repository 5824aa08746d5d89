/* units.c: the units values may carry (sizes, frequencies, bandwidths, energies, tokens, ...),
 * exact scaling of decimal literals, and printing a value back with a unit that re-reads exactly. */
#include "support.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const Unit units[] = {
    {"B", UK_BYTES, 0, 0, 1},          {"byte", UK_BYTES, 0, 0, 1},       {"bytes", UK_BYTES, 0, 0, 1},
    {"KB", UK_BYTES, 3, 0, 1},         {"MB", UK_BYTES, 6, 0, 1},         {"GB", UK_BYTES, 9, 0, 1},
    {"TB", UK_BYTES, 12, 0, 1},        {"KiB", UK_BYTES, 0, 10, 1},       {"MiB", UK_BYTES, 0, 20, 1},
    {"GiB", UK_BYTES, 0, 30, 1},       {"TiB", UK_BYTES, 0, 40, 1},       {"Hz", UK_FREQ, 0, 0, 1},
    {"kHz", UK_FREQ, 3, 0, 1},         {"MHz", UK_FREQ, 6, 0, 1},         {"GHz", UK_FREQ, 9, 0, 1},
    {"B/s", UK_BANDWIDTH, 0, 0, 1},    {"KB/s", UK_BANDWIDTH, 3, 0, 1},   {"MB/s", UK_BANDWIDTH, 6, 0, 1},
    {"GB/s", UK_BANDWIDTH, 9, 0, 1},   {"TB/s", UK_BANDWIDTH, 12, 0, 1},  {"KiB/s", UK_BANDWIDTH, 0, 10, 1},
    {"MiB/s", UK_BANDWIDTH, 0, 20, 1}, {"GiB/s", UK_BANDWIDTH, 0, 30, 1}, {"MAC/s", UK_MACRATE, 0, 0, 1},
    {"GMAC/s", UK_MACRATE, 9, 0, 1},   {"TMAC/s", UK_MACRATE, 12, 0, 1},  {"fJ/bit", UK_ENERGY_BIT, -3, 0, 1},
    {"pJ/bit", UK_ENERGY_BIT, 0, 0, 1},{"pJ/B", UK_ENERGY_BIT, 0, -3, 1}, {"fJ/MAC", UK_ENERGY_MAC, -3, 0, 1},
    {"pJ/MAC", UK_ENERGY_MAC, 0, 0, 1},{"fJ", UK_ENERGY, -3, 0, 1},       {"pJ", UK_ENERGY, 0, 0, 1},
    {"nJ", UK_ENERGY, 3, 0, 1},        {"uJ", UK_ENERGY, 6, 0, 1},        {"token", UK_TOKENS, 0, 0, 1},
    {"tokens", UK_TOKENS, 0, 0, 1},    {"%", UK_PERCENT, -2, 0, 1},       {"ns", UK_TIME, -9, 0, 1},
    {"us", UK_TIME, -6, 0, 1},         {"ms", UK_TIME, -3, 0, 1},         {"s", UK_TIME, 0, 0, 1},
    {"min", UK_TIME, 0, 0, 60},
};

const Unit *unit_lookup(const char *name) {
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(units[i].name, name) == 0)
            return &units[i];
    return NULL;
}

const char *unit_kind_name(UnitKind k) {
    static const char *const names[UK_COUNT_] = {
        "a plain number", "a size",        "a frequency",       "a bandwidth",
        "a MAC rate",     "an energy per bit", "an energy per MAC", "an energy",
        "a token count",  "a percentage",  "a time",
    };
    return k < UK_COUNT_ ? names[k] : "?";
}

const char *unit_kind_example(UnitKind k) {
    static const char *const ex[UK_COUNT_] = {
        "", "MiB", "MHz", "GB/s", "TMAC/s", "pJ/bit", "pJ/MAC", "pJ", "tokens", "%", "s",
    };
    return k < UK_COUNT_ ? ex[k] : "";
}

bool unit_apply(const char *text, const Unit *u, double *out) {
    double v;
    errno = 0;
    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        unsigned long long h = strtoull(text, NULL, 16);
        if (errno == ERANGE)
            return false;
        if (u && u->pow10 != 0) {
            /* through decimal text, so a power of ten scales it with one rounding, like a decimal */
            char buf[64];
            snprintf(buf, sizeof buf, "%llue%d", h, u->pow10);
            v = strtod(buf, NULL);
        } else {
            v = (double)h;
        }
        if (u)
            v = ldexp(v, u->pow2) * u->factor;
    } else if (!u || u->pow10 == 0) {
        v = strtod(text, NULL);
        if (u)
            v = ldexp(v, u->pow2) * u->factor;
    } else {
        /* rewrite "m[e x]" as "m e (x + pow10)" so strtod rounds once, exactly; the whole mantissa
           (its digits past the 80th count too: 0.<90 zeros>1 is not 0) */
        char small[128];
        const char *e = strpbrk(text, "eE");
        size_t mlen = e ? (size_t)(e - text) : strlen(text);
        long exp10 = e ? strtol(e + 1, NULL, 10) : 0;
        /* strtol saturates at LONG_MAX: with any mantissa such an exponent gives inf or 0, and
           halving it leaves room to add pow10 */
        if (exp10 > LONG_MAX / 2)
            exp10 = LONG_MAX / 2;
        else if (exp10 < LONG_MIN / 2)
            exp10 = LONG_MIN / 2;
        if (mlen > INT_MAX - 64)
            return false;
        size_t cap = mlen + 64;
        char *buf = cap <= sizeof small ? small : h2c_raw_alloc(cap);
        if (!buf)
            return false;
        snprintf(buf, cap, "%.*se%ld", (int)mlen, text, exp10 + u->pow10);
        v = strtod(buf, NULL);
        if (buf != small)
            h2c_raw_free(buf, cap);
        v = ldexp(v, u->pow2) * u->factor;
    }
    if (isinf(v) || isnan(v))
        return false;
    *out = v;
    return true;
}

void unit_format(char *buf, size_t n, double v, UnitKind k) {
    if (k == UK_NONE || v == 0 || isnan(v) || isinf(v)) {
        fmt_double(buf, n, v);
        if (k != UK_NONE && k != UK_PERCENT) {
            const Unit *base = NULL;
            for (size_t i = 0; i < sizeof units / sizeof units[0] && !base; i++)
                if (units[i].kind == k && units[i].pow10 == 0 && units[i].pow2 == 0 && units[i].factor == 1)
                    base = &units[i];
            if (base) {
                size_t l = strlen(buf);
                snprintf(buf + l, n - l, "%s", base->name);
            }
        } else if (k == UK_PERCENT) {
            size_t l = strlen(buf);
            snprintf(buf + l, n - l, "%s", "");
        }
        return;
    }
    if (k == UK_PERCENT) {
        /* ratios print as plain fractions: exact and unambiguous */
        fmt_double(buf, n, v);
        return;
    }
    char best[64] = "";
    size_t bestlen = (size_t)-1;
    double bestscale = 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        const Unit *u = &units[i];
        if (u->kind != k || u->factor != 1)
            continue;
        if (strcmp(u->name, "byte") == 0 || strcmp(u->name, "bytes") == 0 || strcmp(u->name, "token") == 0)
            continue;
        /* house units: energies in pJ, sizes in binary multiples (the way hardware is specified) */
        if ((k == UK_ENERGY_BIT || k == UK_ENERGY_MAC || k == UK_ENERGY) && strncmp(u->name, "pJ", 2) != 0)
            continue;
        if ((k == UK_ENERGY_BIT) && strcmp(u->name, "pJ/bit") != 0)
            continue;
        if (k == UK_BYTES && u->pow10 != 0)
            continue;
        double scale = pow(10.0, u->pow10) * ldexp(1.0, u->pow2);
        double c = v / scale;
        if (fabs(c) < 1 && !(u->pow10 == 0 && u->pow2 == 0))
            continue;
        char num[40], cand[64];
        fmt_double(num, sizeof num, c);
        double back;
        if (!unit_apply(num, u, &back) || back != v)
            continue;
        snprintf(cand, sizeof cand, "%s%s", num, u->name);
        size_t l = strlen(num);
        if (l < bestlen || (l == bestlen && scale > bestscale)) {
            bestlen = l;
            bestscale = scale;
            snprintf(best, sizeof best, "%s", cand);
        }
    }
    if (bestlen == (size_t)-1) {
        char num[40];
        fmt_double(num, sizeof num, v);
        snprintf(buf, n, "%s", num);
        return;
    }
    snprintf(buf, n, "%s", best);
}
