/* fuzz_spec.c — libFuzzer target for the spec loader (YAML parse, overrides, checks, emit).
 *
 * Input: the spec text, then optionally a NUL byte and NUL-separated overrides, so one corpus covers
 * both paths. Beyond "no crash, no leak" it asserts the loader's contracts: an error is exactly one
 * line, and a loaded spec's canonical text loads again to the same text and id. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fake_registry.h"

#define MAX_OVERRIDES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    const char *ov[MAX_OVERRIDES];
    int n_ov = 0;
    size_t text_len = strlen(buf);
    for (size_t at = text_len + 1; at < size && n_ov < MAX_OVERRIDES; at += strlen(buf + at) + 1)
        ov[n_ov++] = buf + at;

    ug_error err = {0};
    ug_spec *spec = NULL;
    ug_status st = ug_spec_load_string("fuzz.yaml", buf, ov, n_ov, &fake_registry, &spec, &err);
    if (st != UG_OK) {
        if (spec || strchr(err.msg, '\n') || !err.msg[0]) __builtin_trap();
    } else {
        ug_spec *again = NULL;
        ug_error err2 = {0};
        if (ug_spec_load_string("fuzz.yaml", ug_spec_canonical(spec), NULL, 0, &fake_registry, &again, &err2))
            __builtin_trap(); /* the canonical text must be a valid spec */
        if (strcmp(ug_spec_canonical(again), ug_spec_canonical(spec)) != 0 ||
            strcmp(ug_spec_id(again), ug_spec_id(spec)) != 0)
            __builtin_trap();
        ug_spec_free(again);
    }
    ug_spec_free(spec);
    free(buf);
    return 0;
}
