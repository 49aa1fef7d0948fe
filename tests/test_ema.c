/* test_ema.c — the parameter moving average (ema.h) against a double-precision recurrence, the
 * exchange with the trained values (twice = the same bits), and refused decays. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "unigfn/host/ema.h"

static void test_ema_recurrence(void) {
    ug_params *P = ug_params_new();
    int64_t shape[1] = {5};
    ug_tensor *w = ug_param(P, "g", "w", 1, shape);  // [5]
    ug_params_finalize(P);
    float *v = ug_f32(w);
    const float v0[5] = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f};
    memcpy(v, v0, sizeof v0);
    ug_ema e;
    ug_error err = {0};
    CHECK(ug_ema_init(&e, P, 0, 0.9f, &err) == UG_OK, "init: %s", err.msg);
    double ref[5];
    for (int i = 0; i < 5; i++) ref[i] = v0[i];
    for (int t = 1; t <= 30; t++) {
        for (int i = 0; i < 5; i++) v[i] = v0[i] + 0.1f * (float)t * (float)(i + 1);  // the "trained" values
        ug_ema_update(&e);
        for (int i = 0; i < 5; i++) ref[i] = 0.9 * ref[i] + 0.1 * (double)v[i];
    }
    for (int i = 0; i < 5; i++) CHECK_CLOSE(e.shadow[i], ref[i], 1e-5, 1e-6);
    float before_v[5], before_s[5];
    memcpy(before_v, v, sizeof before_v);
    memcpy(before_s, e.shadow, sizeof before_s);
    ug_ema_swap(&e);
    CHECK(memcmp(v, before_s, sizeof before_s) == 0 && memcmp(e.shadow, before_v, sizeof before_v) == 0,
          "swap puts the averages in the group's block");
    CHECK(e.swapped == 1, "swapped flag");
    ug_ema_swap(&e);
    CHECK(memcmp(v, before_v, sizeof before_v) == 0 && memcmp(e.shadow, before_s, sizeof before_s) == 0,
          "a second swap restores both bit for bit");
    ug_ema_free(&e);
    ug_params_free(P);
}

static void test_ema_refusals(void) {
    ug_params *P = ug_params_new();
    int64_t shape[1] = {2};
    ug_param(P, "g", "w", 1, shape);
    ug_params_finalize(P);
    ug_ema e;
    ug_error err = {0};
    CHECK(ug_ema_init(&e, P, 0, 1.0f, &err) == UG_ERR_ARG && strstr(err.msg, "outside (0, 1)"), "decay 1: %s", err.msg);
    err = (ug_error){0};
    CHECK(ug_ema_init(&e, P, 0, 0.0f, &err) == UG_ERR_ARG, "decay 0 refused");
    err = (ug_error){0};
    CHECK(ug_ema_init(&e, P, 7, 0.5f, &err) == UG_ERR_ARG && strstr(err.msg, "no values"), "no such group: %s", err.msg);
    ug_ema_update(&e);  /* an unused average is a no-op */
    ug_ema_swap(&e);
    ug_params_free(P);
}

int main(void) {
    test_ema_recurrence();
    test_ema_refusals();
    return CHECK_DONE();
}
