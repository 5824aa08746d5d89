/* test_sparse.c: head profiles (sparse/profile.c). The plan a profile gives (sparse_assign: modes,
 * dense layers, the static share rounded up, ties by (layer, head)); what h2c profile writes reads
 * back exactly; DuoAttention's pattern with its stray gates clipped; the format told by content and
 * extension; paths relative to the .h2 file; and one error per malformed profile, counted. The
 * messages themselves are pinned by the goldens in tests/profile/bad. */
#include "sparse.h"

#include <stdlib.h>
#include <unistd.h>

#include "test.h"

static char tmpdir[] = "/tmp/h2c-test-sparse-XXXXXX";

static const char *put(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        test_fail(__FILE__, __LINE__, "writing a test file");
    return path;
}

/* Loads text saved as `name` for a layers x kv model; the number of errors it reports. */
static int load(const char *name, const char *text, int layers, int kv, double *scores) {
    Diag d;
    diag_init_quiet(&d);
    bool ok = sparse_profile_load(put(name, text), layers, kv, scores, NOLOC, &d);
    if (ok != (d.errors == 0))
        test_fail(__FILE__, __LINE__, "a load fails exactly when it reports an error");
    return d.errors;
}

static void test_assign(void) {
    Sparsity sp;
    sparsity_defaults(&sp);
    SparsePattern p[12];
    /* 3 layers x 4 heads, the first 2 layers dense: 4 eligible heads, half static */
    double s[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0.9, 0.1, 0.5, 0.2};
    CHECK_EQ(sparse_assign(&sp, 3, 4, s, p), 2);
    for (int c = 0; c < 8; c++)
        CHECK_EQ(p[c], SPAT_DENSE);
    CHECK_EQ(p[8], SPAT_DYNAMIC);
    CHECK_EQ(p[9], SPAT_STATIC);
    CHECK_EQ(p[10], SPAT_DYNAMIC);
    CHECK_EQ(p[11], SPAT_STATIC);
    /* the share is met, not rounded: 30% of 4 is 1.2, so 2 heads */
    sp.static_heads = 0.3;
    CHECK_EQ(sparse_assign(&sp, 3, 4, s, p), 2);
    /* exactly representable shares are not pushed up by rounding: 25% of 4 is 1 */
    sp.static_heads = 0.25;
    CHECK_EQ(sparse_assign(&sp, 3, 4, s, p), 1);
    CHECK_EQ(p[9], SPAT_STATIC);
    /* 70% of 10 eligible heads is 7, though 0.7 * 10 is 7.000000000000001 */
    sp.static_heads = 0.7;
    sp.dense_layers = 0;
    double z[10] = {0};
    SparsePattern q[10];
    CHECK_EQ(sparse_assign(&sp, 5, 2, z, q), 7);
    /* a uniform profile (NULL) and equal scores: ties by (layer, head), the lowest first */
    CHECK_EQ(sparse_assign(&sp, 5, 2, NULL, q), 7);
    for (int c = 0; c < 10; c++)
        CHECK_EQ(q[c], c < 7 ? SPAT_STATIC : SPAT_DYNAMIC);
    /* dense_layers beyond the model: all dense */
    sp.dense_layers = 9;
    CHECK_EQ(sparse_assign(&sp, 3, 4, s, p), 0);
    CHECK_EQ(p[11], SPAT_DENSE);
    /* modes */
    sp.dense_layers = 1;
    sp.mode = SP_STATIC;
    CHECK_EQ(sparse_assign(&sp, 3, 4, s, p), 8);
    CHECK_EQ(p[3], SPAT_DENSE);
    CHECK_EQ(p[4], SPAT_STATIC);
    sp.mode = SP_DYNAMIC;
    CHECK_EQ(sparse_assign(&sp, 3, 4, s, p), 0);
    CHECK_EQ(p[4], SPAT_DYNAMIC);
    sp.mode = SP_DENSE;
    CHECK_EQ(sparse_assign(&sp, 3, 4, s, p), 0);
    CHECK_EQ(p[11], SPAT_DENSE);
    CHECK_EQ(sparse_assign(NULL, 3, 4, s, p), 0);
    /* 0% and 100% */
    sp.mode = SP_HYBRID;
    sp.static_heads = 0;
    CHECK_EQ(sparse_assign(&sp, 3, 4, s, p), 0);
    sp.static_heads = 1;
    CHECK_EQ(sparse_assign(&sp, 3, 4, s, p), 8);
}

static void test_roundtrip(void) {
    /* what h2c profile writes reads back to the same scores, bit for bit */
    HeadProfile h[6];
    double want[6] = {0.1, 1.0 / 3, 1e-300, 0.999999999999, 0, 1};
    for (int c = 0; c < 6; c++)
        h[c] = (HeadProfile){want[c], 1 - want[c], (SparsePattern)(c % 3), c == 5 ? NAN : want[c] / 7};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    const char *comments[2] = {"a comment, with a comma", "another"};
    sparse_profile_write(f, comments, 2, 3, 2, h);
    fclose(f);
    CHECK(strstr(text, "# a comment, with a comma\n# another\nlayer,head,score,kept,plan,max_rel_error\n0,0,0.1,") == text);
    CHECK(strstr(text, "\n2,1,1,0,dynamic,\n") != NULL);
    double got[6];
    CHECK_EQ(load("back.csv", text, 3, 2, got), 0);
    for (int c = 0; c < 6; c++)
        CHECK_EQ(got[c], want[c]);
    /* the same text under a name without an extension: still a CSV (it has commas) */
    CHECK_EQ(load("back", text, 3, 2, got), 0);
    free(text);
}

static void test_formats(void) {
    double s[4];
    /* DuoAttention's file: np.savetxt's %.18e and tabs; stray gates clipped to [0, 1] */
    CHECK_EQ(load("full_attention_heads.tsv",
                  "-9.250640869140625000e-05\t1.000000000000000000e+00\n"
                  "1.000976562500000000e+00\t5.000000000000000000e-01\n", 2, 2, s), 0);
    CHECK_EQ(s[0], 0);
    CHECK_EQ(s[1], 1);
    CHECK_EQ(s[2], 1);
    CHECK_EQ(s[3], 0.5);
    /* one KV head: no tab at all, still DuoAttention's (no comma), whatever the extension */
    CHECK_EQ(load("one", "0.25\n0.75\n", 2, 1, s), 0);
    CHECK_EQ(s[1], 0.75);
    /* no final newline; CRLF */
    CHECK_EQ(load("crlf.tsv", "0.25\t0.5\r\n0.75\t1", 2, 2, s), 0);
    CHECK_EQ(s[3], 1);
    /* a CSV with or without its header, in any row order */
    CHECK_EQ(load("h.csv", "layer,head,score\n1,1,4\n0,0,1\n1,0,3\n0,1,2\n", 2, 2, s), 0);
    CHECK_EQ(s[0] + 2 * s[1] + 4 * s[2] + 8 * s[3], 1 + 4 + 12 + 32);
    CHECK_EQ(load("n.csv", "1,1,-4e-3\n0,0,1\n1,0,3\n0,1,2\n", 2, 2, s), 0);
    CHECK_EQ(s[3], -4e-3);
    /* comment lines anywhere in a CSV */
    CHECK_EQ(load("c.csv", "# x\nlayer,head,score,note\n0,0,1,a\n# y\n0,1,2,b\n1,0,3,c\n1,1,4,d\n", 2, 2, s), 0);

    /* one error each */
    CHECK_EQ(load("e1.tsv", "0.5\t0.5\n0.5\n", 2, 2, s), 1);           /* ragged */
    CHECK_EQ(load("e2.tsv", "0.5\t0.5\n", 2, 2, s), 1);                /* a row short */
    CHECK_EQ(load("e3.tsv", "0.5\t0.5\n0.5\t-0.02\n", 2, 2, s), 1);     /* beyond the clipping */
    CHECK_EQ(load("e4.tsv", "0.5\t0.5\n0.5\t0x1p-2\n", 2, 2, s), 1);    /* hex: not a decimal number */
    CHECK_EQ(load("e5.tsv", "0.5\t0.5\n0.5\t inf\n", 2, 2, s), 1);
    CHECK_EQ(load("e6.tsv", "", 2, 2, s), 1);                          /* empty */
    CHECK_EQ(load("e7.tsv", "0.5\t0.5\n0.5\t.\n", 2, 2, s), 1);
    CHECK_EQ(load("e8.tsv", "0.5\t0.5\n0.5\t1e\n", 2, 2, s), 1);
    CHECK_EQ(load("e1.csv", "0,0,1\n0,1,2\n1,0,3\n", 2, 2, s), 1);     /* missing */
    CHECK_EQ(load("e2.csv", "0,0,1\n0,1,2\n1,0,3\n1,1,4\n0,0,5\n", 2, 2, s), 1);  /* duplicate */
    CHECK_EQ(load("e3.csv", "0,0,1\n0,1,2\n1,0,3\n1,1,4\n2,0,5\n", 2, 2, s), 1);  /* layer out of range */
    CHECK_EQ(load("e4.csv", "0,0,1\n0,1,2\n1,0,3\n1,1,nan\n", 2, 2, s), 1);
    CHECK_EQ(load("e5.csv", "0,0,1\n0,1,2\n\n1,0,3\n1,1,4\n", 2, 2, s), 1);       /* empty line */
    CHECK_EQ(load("e6.csv", "0,0,1\n0,1,2\n1,0,3\n1,1,4,5\n", 2, 2, s), 1);       /* four fields */
    CHECK_EQ(load("e7.csv", "layer,head\n0,0\n", 2, 2, s), 1);                    /* no score column */
    CHECK_EQ(load("e8.csv", "0,0,1\n0,1,2\n1,0,3\n1,01x,4\n", 2, 2, s), 1);
    CHECK_EQ(load("e9.csv", "0,0,1\n0,1,2\n1,0,3\n99999999999,1,4\n", 2, 2, s), 1);
    CHECK_EQ(load("e10.csv", "0\t0\n0\t0\n", 2, 2, s), 1);             /* tabs in a .csv */
    CHECK_EQ(load("e11.tsv", "# a\n0.5\t0.5\n0.5\t0.5\n", 2, 2, s), 1); /* a comment in a .tsv */
    Diag d;
    diag_init_quiet(&d);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none.csv", tmpdir);
    CHECK(!sparse_profile_load(missing, 2, 2, s, NOLOC, &d));
    CHECK_EQ(d.errors, 1);
}

static void test_path(void) {
    Arena a;
    arena_init(&a);
    SrcFile h2 = {"examples/sub/model.h2", NULL, 0, false}, bare = {"model.h2", NULL, 0, false};
    Loc at = {&h2, 3, 13, 10}, at_bare = {&bare, 1, 1, 1};
    CHECK_STR(sparse_profile_path(&a, "heads.csv", at), "examples/sub/heads.csv");
    CHECK_STR(sparse_profile_path(&a, "../p/heads.csv", at), "examples/sub/../p/heads.csv");
    CHECK_STR(sparse_profile_path(&a, "/abs/heads.csv", at), "/abs/heads.csv");
    CHECK_STR(sparse_profile_path(&a, "heads.csv", at_bare), "heads.csv");
    CHECK_STR(sparse_profile_path(&a, "heads.csv", NOLOC), "heads.csv");
    arena_free(&a);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_assign();
    test_roundtrip();
    test_formats();
    test_path();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        test_fail(__FILE__, __LINE__, "removing the temporary directory");
    return test_done();
}
