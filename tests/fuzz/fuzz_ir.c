/* fuzz_ir.c: the IR reader (ir/parse.c) and what `h2c opt` runs after it. An input is IR text.
 * Oracles (docs/fuzzing.md): what ir_parse accepts prints as text that reads back, gets the same
 * verdict from ir_verify, and prints the same text again (a fixed point); a module that verifies
 * goes through the default passes (shapes, dataflow, placement) with the verifier after each, and
 * its result round-trips too; a failure says why (an error); nothing is left allocated. */
#include "fuzz.h"

#include <string.h>

#include "passes.h"

FUZZ_INITIALIZE(true)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FuzzBuf diag;
    fuzzbuf_open(&diag);
    Diag d;
    diag_init(&d, diag.f);
    Module *m = ir_parse("input.h2ir", (const char *)data, size, &d);
    if (!m) {
        FUZZ_CHECK(d.errors > 0, fuzzbuf_text(&diag), "ir_parse failed without an error");
    } else {
        int errors = d.errors;
        bool verified = ir_verify(m, &d);
        FUZZ_CHECK(verified == (d.errors == errors), fuzzbuf_text(&diag),
                   "ir_verify said %s but reported %d error(s)", verified ? "valid" : "invalid", d.errors - errors);
        fuzz_ir_roundtrip(m, verified, "after reading");
        bool ok = verified;
        for (int i = 0; i < default_pipeline_len && ok && !d.stop; i++) {
            const Pass *p = pass_lookup(default_pipeline[i]);
            errors = d.errors;
            ok = p->run(m, &d);
            if (!ok) {
                FUZZ_CHECK(d.errors > errors, fuzzbuf_text(&diag), "pass '%s' failed without an error", p->name);
                break;
            }
            FUZZ_CHECK(ir_verify(m, &d), fuzzbuf_text(&diag), "the IR after pass '%s' does not verify", p->name);
        }
        if (ok && verified)
            fuzz_ir_roundtrip(m, true, "after the default pipeline");
        ir_module_free(m);
    }
    fuzzbuf_close(&diag);
    fuzz_alloc_check("an input of the IR reader");
    return 0;
}
