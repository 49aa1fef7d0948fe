/* test_spec_corpus.c — every bad spec in tests/specs/bad must fail with exactly the line in its .expect.
 *
 * Run from the source root (meson sets workdir) so the paths in messages are the relative ones the
 * .expect files hold. A case NN-name.yaml may have NN-name.args: one override per line. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fake_registry.h"

#define CORPUS "tests/specs/bad"
#define MAX_ARGS 16

/* The file's text with trailing newlines removed, or NULL if it cannot be read. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 1024 + 1 > cap) {
            cap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, cap);
            if (!nb) break;
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    if (!buf) return NULL;
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
    buf[n] = 0;
    return buf;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void run_case(const char *stem) {
    char path[512], expect_path[512], args_path[512];
    snprintf(path, sizeof path, CORPUS "/%s.yaml", stem);
    snprintf(expect_path, sizeof expect_path, CORPUS "/%s.expect", stem);
    snprintf(args_path, sizeof args_path, CORPUS "/%s.args", stem);
    char *expect = slurp(expect_path);
    CHECK(expect != NULL, "%s: missing %s", stem, expect_path);
    if (!expect) return;
    char *args = slurp(args_path);
    const char *ov[MAX_ARGS];
    int n_ov = 0;
    for (char *line = args; line && *line && n_ov < MAX_ARGS;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        ov[n_ov++] = line;
        line = nl ? nl + 1 : NULL;
    }
    ug_error err = {0};
    ug_spec *spec = NULL;
    ug_status st = ug_spec_load(path, ov, n_ov, &fake_registry, &spec, &err);
    CHECK(st == UG_ERR_SPEC, "%s: status %s, expected spec error", stem, ug_status_name(st));
    CHECK(spec == NULL, "%s: a failed load returned a spec", stem);
    CHECK(strchr(err.msg, '\n') == NULL, "%s: message spans lines", stem);
    if (strcmp(err.msg, expect) != 0) {
        CHECK(0, "%s: message differs", stem);
        fprintf(stderr, "  expected: %s\n  actual:   %s\n", expect, err.msg);
    }
    ug_spec_free(spec);
    free(expect);
    free(args);
}

int main(void) {
    DIR *d = opendir(CORPUS);
    CHECK(d != NULL, "cannot open %s (run from the source root)", CORPUS);
    if (!d) return CHECK_DONE();
    char *stems[256];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) && n < 256;) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".yaml") == 0) stems[n++] = strndup(e->d_name, l - 5);
    }
    closedir(d);
    qsort(stems, (size_t)n, sizeof *stems, by_name);
    CHECK(n >= 25, "only %d cases in %s", n, CORPUS);
    for (int k = 0; k < n; k++) {
        run_case(stems[k]);
        free(stems[k]);
    }
    printf("%d corpus cases\n", n);
    return CHECK_DONE();
}
