/* fuzz_irtext.c: the IR text round trip both the .h2 and the IR harness check (fuzz.h). */
#include "fuzz.h"

#include "ir.h"

/* print(m) reads back with the same verdict and prints the same text. */
void fuzz_ir_roundtrip(const Module *m, bool verified, const char *stage) {
    FuzzBuf first, second, diag;
    fuzzbuf_open(&first);
    fuzzbuf_open(&second);
    fuzzbuf_open(&diag);
    ir_print(first.f, m);
    const char *a = fuzzbuf_text(&first);
    Diag d;
    diag_init(&d, diag.f);
    Module *m2 = ir_parse("printed.h2ir", a, first.len, &d);
    if (!m2)
        fuzz_fail(fuzzbuf_text(&diag), "the IR printed %s does not read back:\n%s", stage, a);
    bool v2 = ir_verify(m2, &d);
    if (v2 != verified)
        fuzz_fail(fuzzbuf_text(&diag), "the IR printed %s %s, the module it was printed from %s:\n%s", stage,
                  v2 ? "verifies" : "does not verify", verified ? "did" : "did not", a);
    ir_print(second.f, m2);
    fuzzbuf_text(&second);
    fuzz_check_same(a, first.len, second.text, second.len, "printing the IR read back gives other text");
    ir_module_free(m2);
    fuzzbuf_close(&first);
    fuzzbuf_close(&second);
    fuzzbuf_close(&diag);
}
