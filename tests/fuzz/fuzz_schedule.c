/* fuzz_schedule.c: the schedule reader (runtime/sched_read.c) and writer (runtime/sched_write.c).
 * An input is a schedule JSON file (docs/schedule.md).
 * Oracles (docs/fuzzing.md): rt_schedule_parse either accepts with no error or refuses with exactly
 * one (the first problem, named by its JSON path); rt_schedule_read of the same bytes written to the
 * scratch folder gives the same verdict and the same message but for the file's name; an accepted
 * schedule rendered again reads back, and renders to the same bytes (render . parse is a fixed
 * point); nothing is left allocated. */
#include "fuzz.h"

#include <string.h>

#include "runtime.h"

FUZZ_INITIALIZE(true)

/* The message after the file's name: "NAME: $.path: why" -> "$.path: why" (or the whole text). */
static const char *after_name(const char *text, const char *name) {
    const char *p = strstr(text, name);
    return p ? p + strlen(name) : text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_clear();
    FuzzBuf diag, fdiag;
    fuzzbuf_open(&diag);
    fuzzbuf_open(&fdiag);
    Diag d, fd;
    diag_init(&d, diag.f);
    diag_init(&fd, fdiag.f);

    RtSchedule *s = rt_schedule_parse("input.json", (const char *)data, size, &d);
    FUZZ_CHECK(s ? d.errors == 0 : d.errors == 1, fuzzbuf_text(&diag), "rt_schedule_parse: %s with %d errors",
               s ? "accepted" : "refused", d.errors);

    /* the file reader on the same bytes */
    FUZZ_CHECK(fuzz_write("input.json", data, size), NULL, "cannot write the scratch file");
    const char *path = fuzz_path("input.json");
    char fpath[4096];
    FUZZ_CHECK(strlen(path) < sizeof fpath, NULL, "scratch path too long");
    strcpy(fpath, path);
    RtSchedule *fs = rt_schedule_read(fpath, &fd);
    FUZZ_CHECK((fs != NULL) == (s != NULL), fuzzbuf_text(&fdiag), "rt_schedule_read and rt_schedule_parse disagree");
    if (!s) {
        const char *a = after_name(fuzzbuf_text(&diag), "input.json");
        const char *b = after_name(fuzzbuf_text(&fdiag), fpath);
        fuzz_check_same(a, strlen(a), b, strlen(b), "the memory and file readers' messages");
    }
    rt_schedule_free(fs);

    if (s) {
        RtText t1 = {0}, t2 = {0};
        bool r1 = rt_schedule_render(s, &t1);
        FUZZ_CHECK(r1, NULL, "rt_schedule_render failed (out of memory?)");
        FuzzBuf d2buf;
        fuzzbuf_open(&d2buf);
        Diag d2;
        diag_init(&d2, d2buf.f);
        RtSchedule *again = rt_schedule_parse("rendered.json", t1.text, t1.len, &d2);
        if (!again)
            fuzz_fail(fuzzbuf_text(&d2buf), "the rendered schedule does not read back:\n%.2000s", t1.text);
        FUZZ_CHECK(rt_schedule_render(again, &t2), NULL, "rt_schedule_render failed on the read-back schedule");
        fuzz_check_same(t1.text, t1.len, t2.text, t2.len, "render(parse(render(s))) vs render(s)");
        rt_schedule_free(again);
        rt_text_free(&t1);
        rt_text_free(&t2);
        fuzzbuf_close(&d2buf);
    }
    rt_schedule_free(s);
    fuzzbuf_close(&fdiag);
    fuzzbuf_close(&diag);
    fuzz_alloc_check("an input of the schedule reader");
    return 0;
}
