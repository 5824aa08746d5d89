/* fuzz_compat.c: `h2c compat` (artifact/compat.c): the H2-LLM artifact's test-vector JSON or baseline
 * table, and the model configs it reads. An input is the test-vector or baseline file, then the
 * configs as "=== MODEL/shape.json" and "=== MODEL/operator_graph.json" parts (fuzz.h), written to
 * a configs folder in the scratch folder.
 * Oracles (docs/fuzzing.md): compat_check either fails with an error and prints nothing, or prints
 * its header, one line per entry and the "max relative error" line, with the summary counting the
 * same entries; compat_problem on the same configs fails with an error or gives a problem whose
 * fixed-mapping baselines cost a finite, non-negative time; nothing is left allocated. */
#include "fuzz.h"

#include <math.h>
#include <string.h>

#include "artifact.h"

FUZZ_INITIALIZE(true)

static int count_lines(const char *t) {
    int n = 0;
    for (; *t; t++)
        n += *t == '\n';
    return n;
}

/* compat_problem for each of the artifact's model types, and its baselines. */
static void problems(const char *configs, FuzzBuf *diag) {
    static const char *const types[] = {"opt", "llama", "palm"};
    static const DataflowMode modes[] = {DF_ATTN_NMP, DF_ATTN_NMP_SPLIT, DF_FC_NMP};
    Hardware hw;
    hardware_defaults(&hw);
    for (int t = 0; t < 3; t++) {
        Diag d;
        diag_init(&d, diag->f);
        static DfProblem p;
        bool ok = compat_problem(configs, types[t], &hw, 4, 128, 32, 2048, &p, &d);
        FUZZ_CHECK(ok == (d.errors == 0), fuzzbuf_text(diag), "compat_problem(%s): %s with %d errors", types[t],
                   ok ? "true" : "false", d.errors);
        for (int k = 0; ok && k < 3; k++) {
            static CostResult r;
            if (!art_baseline(&p, modes[k], &r))
                continue;
            FUZZ_CHECK(isfinite(r.total) && r.total >= 0 && isfinite(r.prefill) && isfinite(r.decode), NULL,
                       "model type %s, baseline %d: total %g, prefill %g, decode %g", types[t], (int)modes[k],
                       r.total, r.prefill, r.decode);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FuzzPart parts[FUZZ_MAX_PARTS];
    int n = fuzz_split(data, size, parts);
    fuzz_clear();
    FUZZ_CHECK(fuzz_write("input", parts[0].data, parts[0].len), NULL, "cannot write the scratch file");
    fuzz_write_parts(parts, n, "configs");
    char configs[4200];
    snprintf(configs, sizeof configs, "%s", fuzz_path("configs"));
    FuzzBuf diag, out;
    fuzzbuf_open(&diag);
    fuzzbuf_open(&out);
    Diag d;
    diag_init(&d, diag.f);
    CompatSummary sum;
    bool ok = compat_check(fuzz_path("input"), configs, out.f, &sum, &d);
    const char *o = fuzzbuf_text(&out);
    if (!ok) {
        FUZZ_CHECK(d.errors > 0, o, "compat_check failed without an error");
        FUZZ_CHECK(out.len == 0, o, "compat_check failed but printed a report");
    } else {
        FUZZ_CHECK(d.errors == 0, fuzzbuf_text(&diag), "compat_check succeeded after an error");
        FUZZ_CHECK(sum.entries >= 0 && sum.failed >= 0 && sum.failed <= sum.entries, o, "a bad summary: %d of %d failed",
                   sum.failed, sum.entries);
        FUZZ_CHECK(count_lines(o) == sum.entries + 2 && strstr(o, "\nmax relative error: "), o,
                   "the report does not have a line per entry (%d entries)", sum.entries);
    }
    problems(configs, &diag);
    fuzzbuf_close(&out);
    fuzzbuf_close(&diag);
    fuzz_alloc_check("an input of compat");
    return 0;
}
