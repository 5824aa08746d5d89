/* test_diag.c: diag.c. The exact text of a diagnostic (gcc format, source line, caret and ~
 * under the span), carets after tabs and UTF-8, long lines, the error cap and -Werror. Each
 * Diag writes to an open_memstream buffer. */
#include "support.h"

#include <stdlib.h>

#include "test.h"

typedef struct Capture {
    Diag d;
    FILE *f;
    char *buf;
    size_t len;
} Capture;

static void cap_open(Capture *c) {
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    diag_init(&c->d, c->f);
}

/* What was printed so far (valid until cap_close). */
static const char *cap_text(Capture *c) {
    fflush(c->f);
    return c->buf ? c->buf : "";
}

static void cap_close(Capture *c) {
    fclose(c->f);
    free(c->buf);
}

static SrcFile src_of(const char *name, const char *text) {
    SrcFile f = {name, text, strlen(text), false};
    return f;
}

static Loc at(const SrcFile *f, int line, int col, int len) {
    Loc l = {f, line, col, len};
    return l;
}

static void test_format(void) {
    SrcFile f = src_of("hw.h2", "hardware h {\n  pe.frequency = 25.6 GB/s;\n}\n");
    Capture c;
    cap_open(&c);
    diag_error(&c.d, at(&f, 2, 18, 9), "'%s' is a frequency, but this is a bandwidth", "pe.frequency");
    CHECK_STR(cap_text(&c), "hw.h2:2:18: error: 'pe.frequency' is a frequency, but this is a bandwidth\n"
                            "    2 |   pe.frequency = 25.6 GB/s;\n"
                            "      |                  ^~~~~~~~~\n");
    CHECK_EQ(c.d.errors, 1);
    CHECK_EQ(c.d.warnings, 0);
    CHECK(!c.d.stop);
    cap_close(&c);

    /* a point (len 0) gets a bare caret; a warning and a note are labelled so */
    cap_open(&c);
    diag_warning(&c.d, at(&f, 1, 12, 0), "look here");
    diag_note(&c.d, at(&f, 3, 1, 1), "and here");
    CHECK_STR(cap_text(&c), "hw.h2:1:12: warning: look here\n"
                            "    1 | hardware h {\n"
                            "      |            ^\n"
                            "hw.h2:3:1: note: and here\n"
                            "    3 | }\n"
                            "      | ^\n");
    CHECK_EQ(c.d.errors, 0);
    CHECK_EQ(c.d.warnings, 1);
    cap_close(&c);

    /* no location, a file without a line, a span that runs past the end of its line */
    cap_open(&c);
    diag_error(&c.d, NOLOC, "out of memory");
    diag_error(&c.d, at(&f, 0, 0, 0), "nothing to check");
    diag_error(&c.d, at(&f, 3, 1, 40), "clamped");
    CHECK_STR(cap_text(&c), "h2c: error: out of memory\n"
                            "hw.h2: error: nothing to check\n"
                            "hw.h2:3:1: error: clamped\n"
                            "    3 | }\n"
                            "      | ^\n");
    cap_close(&c);
}

static void test_tabs_utf8_crlf(void) {
    /* the caret line repeats the source line's tabs, so it lines up at any tab width */
    SrcFile f = src_of("t.h2", "hardware h {\n\tchannels =\t8 MiB;\n}\n");
    Capture c;
    cap_open(&c);
    diag_error(&c.d, at(&f, 2, 13, 5), "tab");
    CHECK_STR(cap_text(&c), "t.h2:2:13: error: tab\n"
                            "    2 | \tchannels =\t8 MiB;\n"
                            "      | \t          \t^~~~~\n");
    cap_close(&c);

    /* é and ü are two bytes each but one column: byte column 15 is display column 13 */
    SrcFile u = src_of("u.h2", "  /* \xc3\xa9 \xc3\xbc */ x = 1;\n");
    cap_open(&c);
    diag_error(&c.d, at(&u, 1, 15, 1), "utf8");
    CHECK_STR(cap_text(&c), "u.h2:1:15: error: utf8\n"
                            "    1 |   /* \xc3\xa9 \xc3\xbc */ x = 1;\n"
                            "      |             ^\n");
    cap_close(&c);

    /* a span over UTF-8 counts characters, not bytes */
    cap_open(&c);
    diag_error(&c.d, at(&u, 1, 6, 4), "span");
    CHECK_STR(cap_text(&c), "u.h2:1:6: error: span\n"
                            "    1 |   /* \xc3\xa9 \xc3\xbc */ x = 1;\n"
                            "      |      ^~~\n");
    cap_close(&c);

    /* control bytes are shown as '?'; a CRLF line does not show its CR */
    SrcFile b = src_of("b.h2", "a = \x01\x02;\r\nb = 1;\r\n");
    cap_open(&c);
    diag_error(&c.d, at(&b, 1, 5, 2), "bytes");
    diag_error(&c.d, at(&b, 2, 5, 1), "crlf");
    CHECK_STR(cap_text(&c), "b.h2:1:5: error: bytes\n"
                            "    1 | a = ??;\n"
                            "      |     ^~\n"
                            "b.h2:2:5: error: crlf\n"
                            "    2 | b = 1;\n"
                            "      |     ^\n");
    cap_close(&c);
}

/* A long line is shown as a window around the caret, and the caret stays under its byte. */
static void test_long_line(void) {
    char text[400];
    for (int i = 0; i < 300; i++)
        text[i] = (char)('a' + i % 26);
    text[250] = '@';
    text[300] = '\n';
    text[301] = 0;
    SrcFile f = src_of("long.h2", text);
    Capture c;
    cap_open(&c);
    diag_error(&c.d, at(&f, 1, 251, 1), "at");
    const char *out = cap_text(&c);
    const char *l1 = strchr(out, '\n') + 1, *l2 = strchr(l1, '\n') + 1;
    CHECK(strncmp(l1, "    1 | ...", 11) == 0);
    const char *caret = strchr(l2, '^');
    CHECK(caret != NULL);
    if (caret)
        CHECK_EQ(l1[caret - l2], '@');
    CHECK((size_t)(strchr(l1, '\n') - l1) < 140);   /* about 120 bytes of the line, not 300 */
    cap_close(&c);
}

static void test_cap_and_werror(void) {
    SrcFile f = src_of("e.h2", "x\n");
    Capture c;
    cap_open(&c);
    c.d.max_errors = 3;
    for (int i = 0; i < 5; i++)
        diag_error(&c.d, at(&f, 1, 1, 1), "error %d", i);
    const char *out = cap_text(&c);
    CHECK_EQ(c.d.errors, 3);
    CHECK(c.d.stop);
    CHECK(strstr(out, "error 2") != NULL);
    CHECK(strstr(out, "error 3") == NULL);
    CHECK(strstr(out, "h2c: fatal error: too many errors (3), stopping\n") != NULL);
    const char *fatal = strstr(out, "fatal");
    CHECK(fatal && strstr(fatal + 1, "fatal") == NULL);     /* said once */
    diag_warning(&c.d, at(&f, 1, 1, 1), "late warning");
    CHECK(strstr(cap_text(&c), "late warning") == NULL);  /* nothing after the stop */
    cap_close(&c);

    /* the default cap is 20 */
    cap_open(&c);
    for (int i = 0; i < 25; i++)
        diag_error(&c.d, NOLOC, "e");
    CHECK_EQ(c.d.errors, 20);
    CHECK(c.d.stop);
    cap_close(&c);

    /* with werror a warning is an error, counted and labelled as one */
    cap_open(&c);
    c.d.werror = true;
    diag_warning(&c.d, at(&f, 1, 1, 1), "strict");
    CHECK_EQ(c.d.errors, 1);
    CHECK_EQ(c.d.warnings, 0);
    CHECK(strncmp(cap_text(&c), "e.h2:1:1: error: strict\n", 24) == 0);
    diag_note(&c.d, at(&f, 1, 1, 1), "a note stays a note");
    CHECK_EQ(c.d.errors, 1);
    CHECK(strstr(cap_text(&c), "note: a note stays a note") != NULL);
    cap_close(&c);
}

static void test_loc_span(void) {
    SrcFile f = src_of("s.h2", "a = 1 + 2;\nb\n");
    Loc a = at(&f, 1, 5, 1), b = at(&f, 1, 9, 1), other = at(&f, 2, 1, 1);
    Loc s = loc_span(a, b);
    CHECK_EQ(s.line, 1);
    CHECK_EQ(s.col, 5);
    CHECK_EQ(s.len, 5);
    s = loc_span(a, other);     /* not on one line: the first */
    CHECK_EQ(s.col, 5);
    CHECK_EQ(s.len, 1);
}

int main(void) {
    test_format();
    test_tabs_utf8_crlf();
    test_long_line();
    test_cap_and_werror();
    test_loc_span();
    return test_done();
}
