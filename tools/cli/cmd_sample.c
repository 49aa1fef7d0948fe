/* cmd_sample.c — `unigfn sample RUN -n N [--seed S] [--decode] [-o FILE]`: rebuild the run's model from its
 * stored spec, load its last checkpoint (cli_run_load.c) and print N forward samples, one per line
 * (binary as 0/1 strings, categorical as integers, continuous as numbers).
 *
 * --decode shows them in the data's own terms, through the dataset's decode():
 *   - 2-D data (decoded_dim 2: the Gray-coded synthetic2d points, REPRODUCTION §4) prints "x y" per line;
 *   - pictures (unigfn/image_layout.h, the rule the sample_grid metric draws by) go to -o FILE.png as a
 *     grid of the N images (report_samples.h draws it);
 *   - any other dataset is refused, naming it, before anything is sampled. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "unigfn/host/report_samples.h"
#include "unigfn/host/step.h"
#include "unigfn/image_layout.h"

#define GRID_MAX 4096 /* images in one --decode picture (a 64 x 64 grid) */

typedef enum { OUT_RAW, OUT_POINTS, OUT_IMAGES } out_kind;

static void print_rows(FILE *f, const ug_tensor *x, uint32_t kind) {
    int64_t B = x->shape[0], D = x->ndim > 1 ? x->shape[1] : 1;
    const float *p = ug_f32(x);
    for (int64_t i = 0; i < B; i++) {
        for (int64_t j = 0; j < D; j++) {
            float v = p[i * D + j];
            if (kind == UG_SPACE_BINARY) fputc(v > 0.5f ? '1' : '0', f);
            else if (kind == UG_SPACE_CATEGORICAL) fprintf(f, j ? " %d" : "%d", (int)v);
            else fprintf(f, j ? " %.7g" : "%.7g", v);
        }
        fputc('\n', f);
    }
}

static bool ends_with_png(const char *p) {
    size_t n = strlen(p);
    return n > 4 && strcasecmp(p + n - 4, ".png") == 0;
}

/* What --decode makes of this run's samples, or 0 after saying why it cannot. */
static int decode_kind(const cli_loaded *r, const char *outp, long long n, out_kind *k, ug_image_layout *L) {
    const ug_dataset *d = &r->ex.data;
    char why[200];
    if (d->vt->decode && d->info.decoded_dim == 2) {
        if (outp && ends_with_png(outp)) {
            fprintf(stderr, "unigfn sample: --decode writes the 2-D points of run %s as text, not to %s "
                    "(`unigfn report samples %s -o %s` draws them)\n", r->id, outp, r->id, outp);
            return 0;
        }
        *k = OUT_POINTS;
        return 1;
    }
    if (ug_image_layout_of(d, L, why, sizeof why)) {
        if (!outp || !ends_with_png(outp)) {
            fprintf(stderr, "unigfn sample: --decode of run %s makes a picture of %lldx%lld images: give -o FILE.png\n", r->id,
                    (long long)L->H, (long long)L->W);
            return 0;
        }
        if (n > GRID_MAX) {
            fprintf(stderr, "unigfn sample: --decode draws at most %d images in one picture, got -n %lld\n", GRID_MAX, n);
            return 0;
        }
        *k = OUT_IMAGES;
        return 1;
    }
    fprintf(stderr, "unigfn sample: --decode: dataset '%s' of run %s has no decoder to 2-D points (decoded_dim %d) and %s; "
            "without --decode the samples print as the model makes them\n", d->name, r->id, (int)d->info.decoded_dim, why);
    return 0;
}

static const char SAMPLE_USAGE[] =
    "usage: unigfn sample RUN -n N [--seed S] [--decode] [-o FILE]\n"
    "  N samples from the run's last checkpoint, one per line (to FILE or stdout);\n"
    "  --seed S (default 0) picks another reproducible draw: the same S gives the same rows;\n"
    "  --decode: in the data's terms: 2-D points \"x y\" for Gray-coded 2-D data, a grid of the N images\n"
    "  for picture data (-o FILE.png, N <= 4096); refused for data with neither\n"
    "examples:\n"
    "  unigfn sample RUN -n 1000 --seed 1 -o samples.txt\n"
    "  unigfn sample RUN -n 64\n";

int cli_sample(cli_env *env, int argc, char **argv) {
    const char *run = NULL, *outp = NULL;
    long long n = 0, seed = 0;
    bool decode = false;
    enum { O_SEED = 256, O_DECODE };
    static const struct option opts[] = {{"seed", required_argument, NULL, O_SEED},
                                         {"decode", no_argument, NULL, O_DECODE},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = cli_getopt(argc, argv, ":hn:o:", opts)) != -1) {
        switch (c) {
        case 'h': fputs(SAMPLE_USAGE, stdout); return 0;
        case 'n': if (!cli_int_arg("sample", "-n", optarg, 1, 1000000000, &n)) return 2; break;
        case 'o': outp = optarg; break;
        case O_SEED: if (!cli_int_arg("sample", "--seed", optarg, 0, INT64_MAX / 2, &seed)) return 2; break;
        case O_DECODE: decode = true; break;
        default: return cli_bad_option("sample", c, argv, SAMPLE_USAGE);
        }
    }
    int n_ops;
    char **ops = cli_operands(argc, argv, &n_ops);
    if (n_ops == 0) return cli_usage_error("sample", SAMPLE_USAGE, "which run? (unigfn sample RUN -n N; `unigfn ls` lists them)");
    if (n_ops > 1) return cli_extra_operand("sample", SAMPLE_USAGE, "one RUN at a time", ops[1]);
    run = ops[0];
    if (n == 0) return cli_usage_error("sample", SAMPLE_USAGE, "-n is required: how many samples?");
    cli_loaded r;
    int rc = cli_load_run(env, "sample", run, NULL, 0, &r);
    if (rc) { cli_loaded_free(&r); return rc; }
    ug_experiment *ex = &r.ex;
    out_kind kind = OUT_RAW;
    ug_image_layout L = {0};
    if (decode && !decode_kind(&r, outp, n, &kind, &L)) { cli_loaded_free(&r); return 2; }
    rc = 1;
    int64_t chw = L.C * L.H * L.W;
    float *pix = kind == OUT_IMAGES ? malloc((size_t)(n * chw) * sizeof(float)) : NULL;   // [N, C*H*W]
    FILE *f = kind == OUT_IMAGES ? NULL : outp ? fopen(outp, "w") : stdout;
    if (kind == OUT_IMAGES && !pix) {
        fprintf(stderr, "unigfn sample: out of memory for %lld images\n", n);
        goto done;
    }
    if (kind != OUT_IMAGES && !f) {
        perror(outp);
        goto done;
    }
    ug_experiment_use_ema(ex, true);  /* samples from the parameter averages where `ema:` is on */
    ug_set_grad_enabled(ex->ctx, false);
    /* the sample stream at "step" S: S = 0 is the draw sample has always made, each S another */
    ug_rng rng = ug_experiment_rng(ex, UG_STREAM_SAMPLE, (int64_t)seed);
    for (long long done_n = 0; done_n < n;) {
        int64_t b = n - done_n > 4096 ? 4096 : n - done_n;
        ug_step_reset(ex->ctx);
        ug_traj_req req = {.size = sizeof req, .batch = b, .steps = -1, .flags = UG_TRAJ_NO_PB};
        ug_traj tr = {.size = sizeof tr};
        if (ex->model.vt->sample_forward(ex->model.self, ex->ctx, &rng, &req, &tr) || !tr.last) {
            fprintf(stderr, "unigfn sample: sampling failed: %s\n", ug_ctx_errmsg(ex->ctx));
            goto done;
        }
        ug_tensor *x = tr.last;   // [b, D]
        if (kind == OUT_POINTS || (kind == OUT_IMAGES && L.decode)) {
            if (ex->data.vt->decode(ex->data.self, ex->ctx, tr.last, &x) || !x) {
                fprintf(stderr, "unigfn sample: dataset '%s' could not decode the samples: %s\n", ex->data.name,
                        ug_ctx_errmsg(ex->ctx));
                goto done;
            }
        }
        x = ug_contiguous(ex->ctx, x);   // [b, 2], [b, C*H*W] or [b, D]
        if (kind == OUT_IMAGES) {
            if (!x || ug_numel(x) != b * chw || ug_tensor_get(ex->ctx, x, pix + done_n * chw, b * chw)) {
                fprintf(stderr, "unigfn sample: samples of dataset '%s' are not [%lld, %lld] images\n", ex->data.name,
                        (long long)b, (long long)chw);
                goto done;
            }
        } else {
            print_rows(f, x, kind == OUT_POINTS ? UG_SPACE_CONTINUOUS : ex->model.info.space.kind);
        }
        done_n += b;
        if (f && ferror(f)) break;  /* a full disk: stop sampling, the close below says why */
    }
    if (kind == OUT_IMAGES) {
        ug_error err = {0};
        if (ug_samples_grid(outp, pix, n, (int)L.C, (int)L.H, (int)L.W, &err)) {
            fprintf(stderr, "unigfn sample: %s\n", err.msg);
            goto done;
        }
        fprintf(stderr, "unigfn: wrote a grid of %lld %lldx%lld images of run %s (step %lld) to %s\n", n, (long long)L.H,
                (long long)L.W, r.id, (long long)r.step, outp);
        rc = 0;
        goto done;
    }
    FILE *closing = f;
    f = NULL;
    if (cli_close_output("sample", closing, outp)) goto done;
    if (outp) fprintf(stderr, "unigfn: wrote %lld %s of run %s (step %lld) to %s\n", n, kind == OUT_POINTS ? "decoded points" : "samples",
                      r.id, (long long)r.step, outp);
    rc = 0;
done:
    if (f && f != stdout) fclose(f);
    free(pix);
    cli_loaded_free(&r);
    return rc;
}
