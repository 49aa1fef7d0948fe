/* diag_load.c — see diag_load.h. */
#include "diag_load.h"

#include <stdio.h>
#include <string.h>

#include "unigfn/host/spec.h"

static int fail(diag_run *r, const char *tool, const char *stage, const char *msg) {
    fprintf(stderr, "%s: %s: %s\n", tool, stage, msg);
    diag_free(r);
    return 1;
}

int diag_load(diag_run *r, const char *tool, const char *spec_path, const char *const *ovr, int n_ovr,
              const char *ckpt) {
    memset(r, 0, sizeof *r);
    ug_error err = {0};
    r->reg = ug_registry_new();
    if (!r->reg) return fail(r, tool, "plugins", "out of memory");
    if (ug_registry_scan_default(r->reg, &err)) return fail(r, tool, "plugins", err.msg);
    ug_spec_registry sreg;
    ug_registry_spec_view(r->reg, &sreg);
    ug_spec *spec = NULL;
    if (ug_spec_load(spec_path, ovr, n_ovr, &sreg, &spec, &err)) return fail(r, tool, "spec", err.msg);
    if (ug_experiment_build(&r->ex, spec, r->reg, &err)) return fail(r, tool, "experiment", err.msg);
    r->built = 1;
    if (ug_experiment_load(&r->ex, ckpt, &r->step, NULL, 0, &err)) return fail(r, tool, "checkpoint", err.msg);
    return 0;
}

void diag_free(diag_run *r) {
    if (r->built) ug_experiment_free(&r->ex);
    if (r->reg) ug_registry_free(r->reg);
    r->built = 0;
    r->reg = NULL;
}
