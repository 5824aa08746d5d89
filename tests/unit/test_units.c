/* test_units.c: units.c and the string helpers of base.c. unit_apply must scale a decimal
 * literal exactly (one rounding, as strtod of the scaled decimal would), unit_format must read
 * back to the same double, fmt_double must be the shortest round trip. */
#include "support.h"

#include <stdlib.h>

#include "test.h"

/* unit_apply(text, unit named `unit`), or NAN when it fails */
static double apply(const char *text, const char *unit) {
    const Unit *u = unit ? unit_lookup(unit) : NULL;
    double v;
    if (unit && !u)
        return NAN;
    return unit_apply(text, u, &v) ? v : NAN;
}

/* strtod of `text` with its decimal exponent raised by k: what unit_apply must equal */
static double scaled_strtod(const char *text, int k) {
    char buf[128];
    const char *e = strpbrk(text, "eE");
    long x = e ? strtol(e + 1, NULL, 10) : 0;
    int mlen = e ? (int)(e - text) : (int)strlen(text);
    snprintf(buf, sizeof buf, "%.*se%ld", mlen, text, x + k);
    return strtod(buf, NULL);
}

static void test_apply_exact(void) {
    /* the decimal scaling is exact: no 12.8 * 1e9 rounding twice */
    CHECK_EQ(apply("12.8", "GB/s"), 12.8e9);
    CHECK_EQ(apply("0.1", "GB/s"), 1e8);
    CHECK_EQ(apply("25.6", "GB/s"), 25.6e9);
    CHECK_EQ(apply("6.4", "GB/s"), 6.4e9);
    CHECK_EQ(apply("600", "MHz"), 600e6);
    CHECK_EQ(apply("0.8", "GHz"), 8e8);
    CHECK_EQ(apply("1e3", "MHz"), 1e9);
    CHECK_EQ(apply("128", "TMAC/s"), 128e12);
    CHECK_EQ(apply("0.682", "fJ/MAC"), 0.682e-3);
    CHECK_EQ(apply("7.5", "ns"), 7.5e-9);
    /* a hex literal scales as its decimal value would: 0x46 % is exactly 70 % */
    CHECK_EQ(apply("0x46", "%"), 0.7);
    CHECK_EQ(apply("0x46", "%"), apply("70", "%"));
    CHECK_EQ(apply("0x10", "MiB"), 16.0 * 1048576);
    CHECK_EQ(apply("70", "%"), 0.7);
    CHECK_EQ(apply("0.1", "%"), 0.001);
    /* binary prefixes are exact powers of two */
    CHECK_EQ(apply("256", "MiB"), 268435456.0);
    CHECK_EQ(apply("1.5", "KiB"), 1536.0);
    CHECK_EQ(apply("32", "KiB"), 32768.0);
    CHECK_EQ(apply("1", "TiB"), 1099511627776.0);
    CHECK_EQ(apply("0.11", "pJ/B"), 0.11 / 8);
    /* no unit, hex, factor units */
    CHECK_EQ(apply("4096", NULL), 4096.0);
    CHECK_EQ(apply("0x10", NULL), 16.0);
    CHECK_EQ(apply("0x10", "MiB"), 16777216.0);
    CHECK_EQ(apply("2", "min"), 120.0);
    CHECK_EQ(apply("2048", "tokens"), 2048.0);
    /* overflow to infinity is refused */
    CHECK(isnan(apply("1e400", NULL)));
    CHECK(isnan(apply("1e308", "GHz")));
    CHECK(isnan(apply("1e300", "TiB")));
    CHECK_EQ(apply("1e299", "GHz"), 1e308);
    /* an exponent past a long saturates: inf (refused) or 0, never an overflow of the exponent
       (found by fuzz_ir), and every digit of a long mantissa counts (it was cut at 80 bytes) */
    CHECK(isnan(apply("6e11111111111111111111111111111", "MHz")));
    CHECK_EQ(apply("6e-11111111111111111111111111111", "MHz"), 0.0);
    CHECK_EQ(apply("0.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001",
                   "GB"), 1e-83);
    CHECK_EQ(apply("1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
                   "kHz"), 1e93);
}

/* The result is strtod of the scaled decimal string, for many literals and every decimal unit. */
static void test_apply_is_strtod(void) {
    static const char *const units[] = {"KB", "MB", "GB", "TB", "kHz", "MHz", "GHz", "KB/s", "MB/s", "GB/s", "TB/s",
                                        "GMAC/s", "TMAC/s", "fJ/bit", "fJ/MAC", "nJ", "uJ", "%", "ns", "us", "ms"};
    unsigned seed = 12345;
    int bad = 0, n = 0;
    for (int i = 0; i < 2000; i++) {
        char text[64];
        seed = seed * 1103515245u + 12345u;
        unsigned a = (seed >> 8) % 100000;
        seed = seed * 1103515245u + 12345u;
        unsigned b = (seed >> 8) % 1000;
        if (i % 3 == 0)
            snprintf(text, sizeof text, "%u.%03u", a, b);
        else if (i % 3 == 1)
            snprintf(text, sizeof text, "0.%05u%03u", a, b);
        else
            snprintf(text, sizeof text, "%u.%ue%d", a % 100, b, (int)(b % 7) - 3);
        for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
            const Unit *u = unit_lookup(units[k]);
            double got = 0;
            n++;
            if (!unit_apply(text, u, &got) || got != scaled_strtod(text, u->pow10)) {
                if (bad++ < 5)
                    fprintf(stderr, "    unit_apply(\"%s\", %s) = %.17g, strtod gives %.17g\n", text, units[k], got,
                            scaled_strtod(text, u->pow10));
            }
        }
    }
    CHECK(n > 40000);
    CHECK_EQ(bad, 0);
}

/* unit_format(v) then reading it back (number and unit split, unit_apply) gives v again. */
static double read_back(const char *text, UnitKind k) {
    char num[64];
    size_t n = strspn(text, "0123456789.eE+-");
    if (n >= sizeof num)
        return NAN;
    memcpy(num, text, n);
    num[n] = 0;
    if (!text[n])
        return strtod(num, NULL);   /* a plain number: the base unit or a ratio */
    const Unit *u = unit_lookup(text + n);
    double v;
    if (!u || u->kind != k || !unit_apply(num, u, &v))
        return NAN;
    return v;
}

static void test_format_round_trip(void) {
    static const struct { double v; UnitKind k; const char *want; } cases[] = {
        {12.8e9, UK_BANDWIDTH, "12.8GB/s"},  {25.6e9, UK_BANDWIDTH, "25.6GB/s"}, {268435456.0, UK_BYTES, "256MiB"},
        {1536.0, UK_BYTES, "1.5KiB"},        {600e6, UK_FREQ, "600MHz"},         {1e9, UK_FREQ, "1GHz"},
        {128e12, UK_MACRATE, "128TMAC/s"},   {0.682, UK_ENERGY_MAC, "0.682pJ/MAC"}, {120.0, UK_TIME, "120s"},
        {2048.0, UK_TOKENS, "2048tokens"},   {0.7, UK_PERCENT, "0.7"},           {8.0, UK_NONE, "8"},
        {0.0, UK_BYTES, "0B"},               {1500.0, UK_BYTES, "1500B"},        {1.5, UK_ENERGY_MAC, "1.5pJ/MAC"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        unit_format(buf, sizeof buf, cases[i].v, cases[i].k);
        CHECK_STR(buf, cases[i].want);
        CHECK_EQ(read_back(buf, cases[i].k), cases[i].v);
    }
    /* many values of every kind: the printed form always reads back exactly */
    static const UnitKind kinds[] = {UK_BYTES, UK_FREQ, UK_BANDWIDTH, UK_MACRATE, UK_ENERGY_BIT, UK_ENERGY_MAC,
                                     UK_ENERGY, UK_TIME, UK_TOKENS, UK_PERCENT, UK_NONE};
    unsigned seed = 99;
    int bad = 0;
    for (int i = 0; i < 3000; i++) {
        seed = seed * 1103515245u + 12345u;
        double v = (double)((seed >> 4) % 100000) * pow(10.0, (int)(seed % 15) - 6);
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            char buf[64];
            unit_format(buf, sizeof buf, v, kinds[k]);
            if (read_back(buf, kinds[k]) != v && bad++ < 5)
                fprintf(stderr, "    unit_format(%.17g, kind %d) = \"%s\" does not read back\n", v, (int)kinds[k], buf);
        }
    }
    CHECK_EQ(bad, 0);
}

static void test_lookup(void) {
    const Unit *u = unit_lookup("GB/s");
    CHECK(u != NULL);
    if (u) {
        CHECK_EQ(u->kind, UK_BANDWIDTH);
        CHECK_EQ(u->pow10, 9);
        CHECK_EQ(u->pow2, 0);
    }
    u = unit_lookup("MiB");
    CHECK(u != NULL);
    if (u) {
        CHECK_EQ(u->kind, UK_BYTES);
        CHECK_EQ(u->pow10, 0);
        CHECK_EQ(u->pow2, 20);
    }
    CHECK(unit_lookup("%") != NULL && unit_lookup("%")->kind == UK_PERCENT);
    CHECK(unit_lookup("tokens") != NULL && unit_lookup("token") != NULL);
    CHECK(unit_lookup("furlongs") == NULL);
    CHECK(unit_lookup("") == NULL);
    CHECK(unit_lookup("gb/s") == NULL);    /* case matters: Mb is not MB */
    CHECK(unit_lookup("Mib") == NULL);
    CHECK_STR(unit_kind_name(UK_FREQ), "a frequency");
    CHECK_STR(unit_kind_example(UK_BYTES), "MiB");
}

static void fmt(char *buf, double v) { fmt_double(buf, 64, v); }

static void test_fmt_double(void) {
    char buf[64];
    fmt(buf, 0.1);
    CHECK_STR(buf, "0.1");
    fmt(buf, 0.1 + 0.2);
    CHECK_STR(buf, "0.30000000000000004");
    fmt(buf, 1.0 / 3);
    CHECK_STR(buf, "0.3333333333333333");
    fmt(buf, 12.8e9);
    CHECK_STR(buf, "12800000000");
    fmt(buf, 1e23);
    CHECK_STR(buf, "1e+23");
    fmt(buf, -2.5);
    CHECK_STR(buf, "-2.5");
    fmt(buf, 0);
    CHECK_STR(buf, "0");
    fmt(buf, NAN);
    CHECK_STR(buf, "nan");
    fmt(buf, -INFINITY);
    CHECK_STR(buf, "-inf");
    /* every double reads back exactly, and no shorter %g form would */
    unsigned long long x = 0x9e3779b97f4a7c15ull;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof v);
        if (isnan(v) || isinf(v))
            continue;
        fmt(buf, v);
        int prec = 15;
        char shorter[64];
        while (prec < 17) {
            snprintf(shorter, sizeof shorter, "%.*g", prec, v);
            if (strtod(shorter, NULL) == v)
                break;
            prec++;
        }
        snprintf(shorter, sizeof shorter, "%.*g", prec, v);
        if ((strtod(buf, NULL) != v || strcmp(buf, shorter) != 0) && bad++ < 5)
            fprintf(stderr, "    fmt_double(%a) = \"%s\", shortest is \"%s\"\n", v, buf, shorter);
    }
    CHECK_EQ(bad, 0);
}

static void test_edit_distance(void) {
    CHECK_EQ(edit_distance("", ""), 0);
    CHECK_EQ(edit_distance("abc", "abc"), 0);
    CHECK_EQ(edit_distance("", "abc"), 3);
    CHECK_EQ(edit_distance("abc", ""), 3);
    CHECK_EQ(edit_distance("kitten", "sitting"), 3);
    CHECK_EQ(edit_distance("sitting", "kitten"), 3);
    CHECK_EQ(edit_distance("flaw", "lawn"), 2);
    CHECK_EQ(edit_distance("chanels", "channels"), 1);
    CHECK_EQ(edit_distance("Mib", "MiB"), 1);
    char longer[80];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = 0;
    CHECK_EQ(edit_distance(longer, "a"), 1000);    /* past 64 bytes: "far" */
}

static void test_closest_word(void) {
    static const char *const fields[] = {"channels", "banks_per_channel", "bank_capacity", "pe.frequency", NULL};
    static const char *const units[] = {"B", "KiB", "MiB", "MHz", "GHz", "GB/s", "s", NULL};
    static const char *const modes[] = {"data-centric", "compute-centric", "npu-only", NULL};
    static const char *const none[] = {NULL};
    CHECK_STR(closest_word("chanels", fields), "channels");
    CHECK_STR(closest_word("pe.frequncy", fields), "pe.frequency");
    CHECK_STR(closest_word("bank_capacty", fields), "bank_capacity");
    CHECK_STR(closest_word("Mib", units), "MiB");
    CHECK_STR(closest_word("Mhz", units), "MHz");
    CHECK_STR(closest_word("data_centric", modes), "data-centric");
    CHECK_STR(closest_word("totally_unknown", fields), NULL);
    CHECK_STR(closest_word("furlongs", units), NULL);
    CHECK_STR(closest_word("x", units), NULL);     /* one letter off a one-letter unit is no suggestion */
    CHECK_STR(closest_word("chanels", none), NULL);
}

int main(void) {
    test_apply_exact();
    test_apply_is_strtod();
    test_format_round_trip();
    test_lookup();
    test_fmt_double();
    test_edit_distance();
    test_closest_word();
    return test_done();
}
