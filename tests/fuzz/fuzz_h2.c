/* fuzz_h2.c: the .h2 front end through to the IR, as `h2c compile` runs it: fe_load_text, fe_check,
 * ir_lower, the default pass pipeline with the verifier after each pass, then the IR text printed,
 * read back and printed again. An input is a .h2 file, maybe followed by files it imports
 * ("=== hw/dev.h2" lines, fuzz.h), written to the scratch folder; imports resolve only there.
 * Oracles (docs/fuzzing.md): a phase that fails says why (an error); the lowered IR and the IR after
 * each pass verify; the printed IR reads back, verifies, and prints the same text; every hardware
 * block written as .h2 (fe_write_hardware, as `h2c explore --write-hw` does) loads, checks and
 * reads back to the same values; nothing is left allocated. */
#include "fuzz.h"

#include <string.h>

#include "frontend.h"
#include "passes.h"

FUZZ_INITIALIZE(true)

static bool same_double(double a, double b) { return a == b || (a != a && b != b); }

/* fe_write_hardware's text for hw loads and checks alone, and reads back to the same device. */
static void hw_roundtrip(const Hardware *hw) {
    FuzzBuf text, diag;
    fuzzbuf_open(&text);
    fuzzbuf_open(&diag);
    fe_write_hardware(text.f, hw, "written");
    const char *t = fuzzbuf_text(&text);
    Diag d;
    diag_init(&d, diag.f);
    Session s;
    session_init(&s, &d);
    s.import_root = fuzz_scratch();
    AstFile *root = fe_load_text(&s, fuzz_path("written-hw.h2"), t, text.len);
    Config *c = root && d.errors == 0 ? fe_check(&s, root, NULL) : NULL;
    if (!c || d.errors || c->nhardware != 1)
        fuzz_fail(fuzzbuf_text(&diag), "the hardware block written for '%s' does not check:\n%s", hw->name, t);
    const Hardware *back = c->hardware[0];
    for (int i = 0; i < HWF_COUNT_; i++) {
        double v = *(const double *)((const char *)hw + hw_fields[i].offset);
        double w = *(const double *)((const char *)back + hw_fields[i].offset);
        FUZZ_CHECK(same_double(v, w), t, "hardware '%s' written and read back: %s was %.17g, is %.17g", hw->name,
                   hw_fields[i].path, v, w);
    }
    for (int i = 0; i < EF_COUNT_; i++) {
        const EnergyEntry *e = &hw->energy[i], *f = &back->energy[i];
        const char *want = e->source && *e->source ? e->source : "h2c default";
        FUZZ_CHECK(same_double(e->value, f->value) && e->ntable == f->ntable && !e->table == !f->table &&
                       strcmp(want, f->source ? f->source : "") == 0,
                   t, "hardware '%s' written and read back: energy %s differs", hw->name, energy_names[i]);
        for (int j = 0; j < e->ntable; j++)
            FUZZ_CHECK(same_double(e->table[j].freq, f->table[j].freq) && same_double(e->table[j].pj, f->table[j].pj),
                       t, "hardware '%s' written and read back: energy %s, point %d differs", hw->name, energy_names[i],
                       j);
    }
    session_free(&s);
    fuzzbuf_close(&text);
    fuzzbuf_close(&diag);
}

/* Lowering, the default pipeline with the verifier after each pass, and the IR's round trips. */
static void compile(const Config *c, Diag *d, FuzzBuf *diag) {
    int errors = d->errors;
    Module *m = ir_lower(c, d);
    if (!m) {
        FUZZ_CHECK(d->errors > errors, fuzzbuf_text(diag), "ir_lower failed without an error");
        return;
    }
    FUZZ_CHECK(ir_verify(m, d), fuzzbuf_text(diag), "the lowered IR does not verify");
    fuzz_ir_roundtrip(m, true, "after lowering");
    bool ok = true;
    for (int i = 0; i < default_pipeline_len && ok; i++) {
        const Pass *p = pass_lookup(default_pipeline[i]);
        errors = d->errors;
        ok = p->run(m, d);
        if (!ok) {
            FUZZ_CHECK(d->errors > errors, fuzzbuf_text(diag), "pass '%s' failed without an error", p->name);
            break;
        }
        FUZZ_CHECK(ir_verify(m, d), fuzzbuf_text(diag), "the IR after pass '%s' does not verify", p->name);
    }
    if (ok)
        fuzz_ir_roundtrip(m, true, "after the default pipeline");
    ir_module_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FuzzPart parts[FUZZ_MAX_PARTS];
    int n = fuzz_split(data, size, parts);
    fuzz_clear();
    fuzz_write("main.h2", parts[0].data, parts[0].len);   /* so that it can import itself */
    fuzz_write_parts(parts, n, NULL);
    FuzzBuf diag;
    fuzzbuf_open(&diag);
    Diag d;
    diag_init(&d, diag.f);
    Session s;
    session_init(&s, &d);
    s.import_root = fuzz_scratch();
    AstFile *root = fe_load_text(&s, fuzz_path("main.h2"), (const char *)parts[0].data, parts[0].len);
    Config *c = root && d.errors == 0 && !d.stop ? fe_check(&s, root, NULL) : NULL;
    if (c) {
        FUZZ_CHECK(d.errors == 0, fuzzbuf_text(&diag), "fe_check returned a Config after an error");
        for (int i = 0; i < c->nhardware; i++)
            hw_roundtrip(c->hardware[i]);
        if (c->model)
            compile(c, &d, &diag);
    }
    session_free(&s);
    fuzzbuf_close(&diag);
    fuzz_alloc_check("an input of the .h2 front end");
    return 0;
}
