/* fuzz_hf.c: `h2c import-hf` (frontend/import_hf.c): an input is a Hugging Face config.json,
 * written as config.json in a folder of the scratch folder and imported from there.
 * Oracles (docs/fuzzing.md): a refusal says why (an error); an accepted config's .h2 text loads and
 * checks alone, as the command's help promises ("the written file stands alone"), without an error
 * but the one saying that the model does not fit the default device (32 GiB); nothing is left
 * allocated. */
#include "fuzz.h"

#include <string.h>

#include "frontend.h"

FUZZ_INITIALIZE(true)

/* The diagnostics say the model does not fit the device (sema's capacity check). */
static bool too_big(const char *diag) {
    const char *e = strstr(diag, ": error: model '");
    return e && strstr(e, "' does not fit: ") && strstr(e, " in hardware 'h2llm-default'");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_clear();
    FUZZ_CHECK(fuzz_write("imported/config.json", data, size), NULL, "cannot write the scratch file");
    FuzzBuf diag, text;
    fuzzbuf_open(&diag);
    fuzzbuf_open(&text);
    Diag d;
    diag_init(&d, diag.f);
    Arena a;
    arena_init(&a);
    bool ok = fe_import_hf(&a, fuzz_path("imported"), true, NULL, text.f, &d);
    FUZZ_CHECK(ok || d.errors > 0, fuzzbuf_text(&diag), "fe_import_hf failed without an error");
    FUZZ_CHECK(!ok || d.errors == 0, fuzzbuf_text(&diag), "fe_import_hf succeeded after an error");
    if (ok) {
        const char *t = fuzzbuf_text(&text);
        FuzzBuf checked;
        fuzzbuf_open(&checked);
        Diag d2;
        diag_init(&d2, checked.f);
        Session s;
        session_init(&s, &d2);
        s.import_root = fuzz_scratch();
        AstFile *root = fe_load_text(&s, fuzz_path("imported.h2"), t, text.len);
        Config *c = root && d2.errors == 0 ? fe_check(&s, root, NULL) : NULL;
        if (!c && (d2.errors != 1 || !too_big(fuzzbuf_text(&checked))))
            fuzz_fail(fuzzbuf_text(&checked), "the .h2 import-hf wrote does not check:\n%s", t);
        session_free(&s);
        fuzzbuf_close(&checked);
    }
    arena_free(&a);
    fuzzbuf_close(&text);
    fuzzbuf_close(&diag);
    fuzz_alloc_check("an input of import-hf");
    return 0;
}
