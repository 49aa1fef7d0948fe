/* diag_load.h — the start every diagnostic in tools/diag shares: a spec (with key=value overrides)
 * built into an experiment with the installed plugins, and a run's checkpoint loaded into it. */
#pragma once

#include <stdint.h>

#include "unigfn/host/experiment.h"
#include "unigfn/host/step.h"
#include "unigfn/host/loader.h"

typedef struct diag_run {
    ug_registry *reg;
    ug_experiment ex;
    int64_t step;  // the checkpoint's training step
    int built;     // ex needs ug_experiment_free
} diag_run;

/* 0 on success; otherwise prints "<tool>: <stage>: <message>" to stderr, frees what it made and
 * returns 1. */
int diag_load(diag_run *r, const char *tool, const char *spec_path, const char *const *ovr, int n_ovr,
              const char *ckpt);
void diag_free(diag_run *r);
