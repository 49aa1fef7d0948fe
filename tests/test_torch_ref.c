/* test_torch_ref.c — unigfn against PyTorch: ops and their gradients, second-order gradients, the image
 * ops (convolutions, pooling, upsampling, group norm) across stride / padding / dilation / groups with
 * first and second derivatives, an MLP trained 10 Adam steps with the real ug_mlp + ug_optim, and the
 * UNet parts (residual and attention blocks with copied weights), compared with fixtures written by
 * tools/reference/make_fixtures.py and make_unet_fixture.py (PyTorch 1.13, float32). CI never
 * runs PyTorch; the fixtures are committed. Their text format is documented in that script's docstring.
 *
 * Tolerance: |a - b| <= RTOL * max(s, |b|), RTOL = 1e-5 everywhere, with s = min(1, max |b| over the
 * tensor). For tensors of order 1 this is the plain |a-b| <= 1e-5*max(1,|b|); tensors with a small
 * overall scale (the MLP's gradients are ~1e-4) are compared relative to their own largest entry, so
 * the check keeps its meaning instead of passing anything below 1e-5. One exception, the Adam
 * parameter snapshots, uses s = 1 (see compare_params). Observed worst errors are ~4e-7 scaled. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "unigfn/nn.h"
#include "unigfn/host/optim.h"
#include "unigfn/tensor.h"

#define RTOL 1e-5

/* ---- Fixture reader ---------------------------------------------------------------------------- */

enum { FX_F32, FX_I32, FX_F64 };

typedef struct {
    char name[96];
    int dtype, ndim;
    int64_t shape[UG_MAX_DIMS];
    int64_t every;   /* values are flat elements 0, every, 2*every, ... */
    int64_t nvals;
    double *v;       /* every stored (or generated) value; float32 values are exact in double */
} fx_entry;

typedef struct {
    fx_entry *e;
    int n, cap;
} fixture;

static int64_t fx_numel(const fx_entry *e) {
    int64_t n = 1;
    for (int d = 0; d < e->ndim; d++) n *= e->shape[d];
    return n;
}

/* The "gen" generator of make_fixtures.py: splitmix64, top 24 bits, centred, times a power of two. */
static void fx_generate(fx_entry *e, uint64_t seed, double bound) {
    uint64_t state = seed;
    for (int64_t i = 0; i < e->nvals; i++) {
        state += 0x9E3779B97F4A7C15ull;
        uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        double u = (double)(z >> 40);
        e->v[i] = (u - 8388608.0) / 8388608.0 * bound;
    }
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    if (buf) buf[n] = 0;
    fclose(f);
    return buf;
}

/* Parse one header line's shape ("NDIM D0 ...") and return the rest of the line. */
static char *parse_shape(fx_entry *e, char *p) {
    e->ndim = (int)strtol(p, &p, 10);
    for (int d = 0; d < UG_MAX_DIMS; d++) e->shape[d] = 1;
    for (int d = 0; d < e->ndim && d < UG_MAX_DIMS; d++) e->shape[d] = strtoll(p, &p, 10);
    return p;
}

static bool fx_load(fixture *fx, const char *file) {
    char path[1024];
    const char *root = getenv("UG_SOURCE_ROOT");
    snprintf(path, sizeof path, "%s%stests/fixtures/%s", root ? root : "", root ? "/" : "", file);
    char *text = read_file(path);
    CHECK(text != NULL, "cannot read fixture %s", path);
    if (!text) return false;
    memset(fx, 0, sizeof *fx);
    char *save = NULL;
    bool ok = true;
    for (char *line = strtok_r(text, "\n", &save); line && ok; line = strtok_r(NULL, "\n", &save)) {
        bool gen = strncmp(line, "gen ", 4) == 0;
        if (!gen && strncmp(line, "tensor ", 7) != 0) continue;  /* comments, blank lines */
        if (fx->n == fx->cap) {
            fx->cap = fx->cap ? 2 * fx->cap : 64;
            fx->e = realloc(fx->e, sizeof(fx_entry) * (size_t)fx->cap);
        }
        fx_entry *e = &fx->e[fx->n++];
        memset(e, 0, sizeof *e);
        char *p = line + (gen ? 4 : 7);
        int used = 0;
        char dt[8] = "f32";
        if (gen) sscanf(p, "%95s%n", e->name, &used);
        else sscanf(p, "%95s %7s%n", e->name, dt, &used);
        p = parse_shape(e, p + used);
        e->dtype = strcmp(dt, "i32") == 0 ? FX_I32 : strcmp(dt, "f64") == 0 ? FX_F64 : FX_F32;
        e->every = 1;
        if (gen) {
            unsigned long long seed = 0;
            double bound = 0;
            ok = sscanf(p, " seed %llu bound %lf", &seed, &bound) == 2;
            e->nvals = fx_numel(e);
            e->v = malloc(sizeof(double) * (size_t)(e->nvals ? e->nvals : 1));
            if (ok) fx_generate(e, seed, bound);
            continue;
        }
        long long every;
        if (sscanf(p, " every %lld", &every) == 1) e->every = every;
        e->nvals = (fx_numel(e) + e->every - 1) / e->every;
        e->v = malloc(sizeof(double) * (size_t)(e->nvals ? e->nvals : 1));
        char *vals = strtok_r(NULL, "\n", &save);
        for (int64_t i = 0; ok && i < e->nvals; i++) {
            char *end;
            e->v[i] = vals ? strtod(vals, &end) : 0.0;
            ok = vals && end != vals;
            vals = end;
        }
        CHECK(ok, "%s: tensor %s: expected %" PRId64 " values", file, e->name, e->nvals);
    }
    free(text);
    CHECK(ok && fx->n > 0, "%s: malformed fixture", file);
    return ok;
}

static void fx_free(fixture *fx) {
    for (int i = 0; i < fx->n; i++) free(fx->e[i].v);
    free(fx->e);
}

/* The entry called printf(fmt, ...), or NULL. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static const fx_entry *fx_find(const fixture *fx, const char *fmt, ...) {
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    for (int i = 0; i < fx->n; i++)
        if (strcmp(fx->e[i].name, name) == 0) return &fx->e[i];
    return NULL;
}

/* A fresh tensor in the step arena holding a full (not sampled) fixture tensor. */
static ug_tensor *fx_tensor(ug_ctx *c, const fx_entry *e) {
    if (!e || e->every != 1) return NULL;
    ug_tensor *t = ug_new(c, e->dtype == FX_I32 ? UG_I32 : UG_F32, e->ndim, e->shape);
    if (!t) return NULL;
    for (int64_t i = 0; i < e->nvals; i++) {
        if (e->dtype == FX_I32) ug_i32(t)[i] = (int32_t)e->v[i];
        else ug_f32(t)[i] = (float)e->v[i];
    }
    return t;
}

/* ---- Comparison ----------------------------------------------------------------------------------- */

/* got: the full tensor (any layout), expected: a fixture entry, possibly sampled with its ":sum" and
 * ":asum" companions. s_fixed > 0 replaces the tensor scale s (see the top of the file). One CHECK per
 * tensor; the first few bad elements are printed. */
static void compare(ug_ctx *c, const fixture *fx, const char *what, ug_tensor *got, const fx_entry *exp,
                    double rtol, double s_fixed) {
    CHECK(got != NULL && exp != NULL, "%s: %s", what, !exp ? "missing in fixture" : ug_ctx_errmsg(c));
    if (!got || !exp) return;
    bool shape_ok = got->ndim == exp->ndim;
    for (int d = 0; shape_ok && d < got->ndim; d++) shape_ok = got->shape[d] == exp->shape[d];
    char sb[64];
    CHECK(shape_ok, "%s: shape %s differs from the fixture's", what, ug_shape_str(got, sb, sizeof sb));
    if (!shape_ok) return;
    got = ug_contiguous(c, got);
    const float *a = ug_f32(got);
    double maxb = 0, worst = 0;
    for (int64_t i = 0; i < exp->nvals; i++) maxb = fmax(maxb, fabs(exp->v[i]));
    double s = s_fixed > 0 ? s_fixed : fmin(1.0, maxb);
    int bad = 0;
    for (int64_t i = 0; i < exp->nvals; i++) {
        double av = a[i * exp->every], bv = exp->v[i], tol = rtol * fmax(s, fabs(bv));
        double err = fabs(av - bv) / fmax(s, fabs(bv));
        if (!(err <= worst)) worst = err;
        if (!(fabs(av - bv) <= tol) && bad++ < 3)
            fprintf(stderr, "  %s[%" PRId64 "]: unigfn %.9g, torch %.9g\n", what, i * exp->every, av, bv);
    }
    CHECK(bad == 0, "%s: %d of %" PRId64 " values off (worst scaled error %.3g)", what, bad, exp->nvals, worst);
    if (exp->every > 1) {
        /* Elements outside the sample: whole-tensor sums in double. Rounding errors of ~rtol per
         * element add up to at most rtol * sum|b|. */
        const fx_entry *es = fx_find(fx, "%s:sum", exp->name), *ea = fx_find(fx, "%s:asum", exp->name);
        CHECK(es && ea, "%s: fixture lacks the sums of a sampled tensor", what);
        if (!es || !ea) return;
        double sum = 0, asum = 0;
        for (int64_t i = 0; i < ug_numel(got); i++) {
            sum += a[i];
            asum += fabs(a[i]);
        }
        CHECK(fabs(sum - es->v[0]) <= rtol * ea->v[0], "%s: sum %.9g, torch %.9g", what, sum, es->v[0]);
        CHECK(fabs(asum - ea->v[0]) <= rtol * ea->v[0], "%s: sum|.| %.9g, torch %.9g", what, asum, ea->v[0]);
    }
}

/* ---- (a) ops -------------------------------------------------------------------------------------- */

typedef ug_tensor *(*op_fn)(ug_ctx *c, ug_tensor **x);

static ug_tensor *o_add(ug_ctx *c, ug_tensor **x) { return ug_add(c, x[0], x[1]); }
static ug_tensor *o_sub(ug_ctx *c, ug_tensor **x) { return ug_sub(c, x[0], x[1]); }
static ug_tensor *o_mul(ug_ctx *c, ug_tensor **x) { return ug_mul(c, x[0], x[1]); }
static ug_tensor *o_div(ug_ctx *c, ug_tensor **x) { return ug_div(c, x[0], x[1]); }
static ug_tensor *o_exp(ug_ctx *c, ug_tensor **x) { return ug_exp(c, x[0]); }
static ug_tensor *o_log(ug_ctx *c, ug_tensor **x) { return ug_log(c, x[0]); }
static ug_tensor *o_log1p(ug_ctx *c, ug_tensor **x) { return ug_log1p(c, x[0]); }
static ug_tensor *o_sqrt(ug_ctx *c, ug_tensor **x) { return ug_sqrt(c, x[0]); }
static ug_tensor *o_pows(ug_ctx *c, ug_tensor **x) { return ug_pow_scalar(c, x[0], 2.5f); }
static ug_tensor *o_tanh(ug_ctx *c, ug_tensor **x) { return ug_tanh(c, x[0]); }
static ug_tensor *o_sigmoid(ug_ctx *c, ug_tensor **x) { return ug_sigmoid(c, x[0]); }
static ug_tensor *o_softplus(ug_ctx *c, ug_tensor **x) { return ug_softplus(c, x[0]); }
static ug_tensor *o_gelu(ug_ctx *c, ug_tensor **x) { return ug_gelu(c, x[0]); }
static ug_tensor *o_silu(ug_ctx *c, ug_tensor **x) { return ug_silu(c, x[0]); }
static ug_tensor *o_elu(ug_ctx *c, ug_tensor **x) { return ug_elu(c, x[0], 0.7f); }
static ug_tensor *o_leaky(ug_ctx *c, ug_tensor **x) { return ug_leaky_relu(c, x[0], 0.2f); }
static ug_tensor *o_logsm(ug_ctx *c, ug_tensor **x) { return ug_log_softmax(c, x[0], -1); }
static ug_tensor *o_sm(ug_ctx *c, ug_tensor **x) { return ug_softmax(c, x[0], 0); }
static ug_tensor *o_lse(ug_ctx *c, ug_tensor **x) { return ug_logsumexp(c, x[0], 1, false); }
static ug_tensor *o_sum(ug_ctx *c, ug_tensor **x) { return ug_sum(c, x[0], 1, false); }
static ug_tensor *o_mean(ug_ctx *c, ug_tensor **x) { return ug_mean(c, x[0], -1, true); }
static ug_tensor *o_max(ug_ctx *c, ug_tensor **x) { return ug_max(c, x[0], 0, false); }
static ug_tensor *o_matmul(ug_ctx *c, ug_tensor **x) { return ug_matmul(c, x[0], x[1]); }
static ug_tensor *o_gather1(ug_ctx *c, ug_tensor **x) { return ug_gather(c, x[0], 1, x[1]); }
static ug_tensor *o_gather0(ug_ctx *c, ug_tensor **x) { return ug_gather(c, x[0], 0, x[1]); }
static ug_tensor *o_scatter(ug_ctx *c, ug_tensor **x) { return ug_scatter_add(c, x[0], 1, x[1], x[2]); }
static ug_tensor *o_where(ug_ctx *c, ug_tensor **x) { return ug_where(c, x[0], x[1], x[2]); }
/* make_ops_issue17() */
static ug_tensor *o_sin(ug_ctx *c, ug_tensor **x) { return ug_sin(c, x[0]); }
static ug_tensor *o_cos(ug_ctx *c, ug_tensor **x) { return ug_cos(c, x[0]); }
static ug_tensor *o_erf(ug_ctx *c, ug_tensor **x) { return ug_erf(c, x[0]); }
static ug_tensor *o_ge(ug_ctx *c, ug_tensor **x) { return ug_ge(c, x[0], x[1]); }
static ug_tensor *o_gt(ug_ctx *c, ug_tensor **x) { return ug_gt(c, x[0], x[1]); }
static ug_tensor *o_le(ug_ctx *c, ug_tensor **x) { return ug_le(c, x[0], x[1]); }
static ug_tensor *o_lt(ug_ctx *c, ug_tensor **x) { return ug_lt(c, x[0], x[1]); }
static ug_tensor *o_eq(ug_ctx *c, ug_tensor **x) { return ug_eq(c, x[0], x[1]); }
static ug_tensor *o_to_i32(ug_ctx *c, ug_tensor **x) { return ug_to_i32(c, x[0]); }
static ug_tensor *o_to_f32(ug_ctx *c, ug_tensor **x) { return ug_to_f32(c, x[0]); }
static ug_tensor *o_cumsum(ug_ctx *c, ug_tensor **x) { return ug_cumsum(c, x[0], 1, false); }
static ug_tensor *o_cumsum_rev(ug_ctx *c, ug_tensor **x) { return ug_cumsum(c, x[0], 0, true); }
static ug_tensor *o_cumprod(ug_ctx *c, ug_tensor **x) { return ug_cumprod(c, x[0], -1, false); }
static ug_tensor *o_cumprod_rev(ug_ctx *c, ug_tensor **x) { return ug_cumprod(c, x[0], 1, true); }
static ug_tensor *o_alpha_bar(ug_ctx *c, ug_tensor **x) {
    return ug_exp(c, ug_cumsum(c, ug_log1p(c, ug_neg(c, x[0])), 0, false));
}
static ug_tensor *o_pad(ug_ctx *c, ug_tensor **x) { return ug_pad(c, x[0], (int64_t[]){0, 1, 1, 2}, 0.5f); }
static ug_tensor *o_pad3(ug_ctx *c, ug_tensor **x) { return ug_pad(c, x[0], (int64_t[]){1, 0, 2, 1, 0, 0}, -1.0f); }
/* make_ops_issue19() */
static ug_tensor *o_lae(ug_ctx *c, ug_tensor **x) { return ug_logaddexp(c, x[0], x[1]); }

/* Same names, order and parameters as make_ops() in tools/reference/make_fixtures.py. */
static const struct {
    const char *name;
    op_fn fn;
} ops[] = {
    {"add", o_add},         {"sub", o_sub},           {"mul", o_mul},
    {"div", o_div},         {"exp", o_exp},           {"log", o_log},
    {"log1p", o_log1p},     {"sqrt", o_sqrt},         {"pow_scalar", o_pows},
    {"tanh", o_tanh},       {"sigmoid", o_sigmoid},   {"softplus", o_softplus},
    {"gelu", o_gelu},       {"silu", o_silu},         {"elu", o_elu},
    {"leaky_relu", o_leaky}, {"log_softmax", o_logsm}, {"softmax", o_sm},
    {"logsumexp", o_lse},   {"sum", o_sum},           {"mean", o_mean},
    {"max", o_max},         {"matmul", o_matmul},     {"bmm", o_matmul},
    {"bmm_bcast", o_matmul}, {"gather", o_gather1},   {"gather0", o_gather0},
    {"scatter_add", o_scatter}, {"where", o_where},
    /* make_ops_issue17(): comparisons and casts have no R and no gradient */
    {"sin", o_sin},         {"cos", o_cos},           {"erf", o_erf},
    {"ge", o_ge},           {"gt", o_gt},             {"le", o_le},
    {"lt", o_lt},           {"eq", o_eq},             {"to_i32", o_to_i32},
    {"to_f32", o_to_f32},   {"cumsum", o_cumsum},     {"cumsum_rev", o_cumsum_rev},
    {"cumprod", o_cumprod}, {"cumprod_rev", o_cumprod_rev}, {"alpha_bar", o_alpha_bar},
    {"pad", o_pad},         {"pad3", o_pad3},
    /* make_ops_issue19() */
    {"logaddexp", o_lae},
};

/* An I32 result against an i32 fixture entry: exactly. */
static void compare_i32(ug_ctx *c, const char *what, ug_tensor *got, const fx_entry *exp) {
    CHECK(exp != NULL && exp->dtype == FX_I32, "%s: missing in fixture or not i32", what);
    if (!exp || exp->dtype != FX_I32) return;
    bool shape_ok = got->ndim == exp->ndim;
    for (int d = 0; shape_ok && d < got->ndim; d++) shape_ok = got->shape[d] == exp->shape[d];
    char sb[64];
    CHECK(shape_ok, "%s: shape %s differs from the fixture's", what, ug_shape_str(got, sb, sizeof sb));
    if (!shape_ok) return;
    const int32_t *a = ug_i32(ug_contiguous(c, got));
    int bad = 0;
    for (int64_t i = 0; i < exp->nvals; i++)
        if ((double)a[i] != exp->v[i] && bad++ < 3)
            fprintf(stderr, "  %s[%" PRId64 "]: unigfn %d, torch %.0f\n", what, i, a[i], exp->v[i]);
    CHECK(bad == 0, "%s: %d of %" PRId64 " values differ", what, bad, exp->nvals);
}

static void test_ops(ug_ctx *c) {
    fixture fx;
    if (!fx_load(&fx, "torch_ops.txt")) return;
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        const char *nm = ops[k].name;
        ug_step_reset(c);
        ug_ctx_clear_error(c);
        ug_tensor *x[3] = {NULL, NULL, NULL}, *xg[3], *g[3];
        int nx = 0, ng = 0, gi[3];
        for (const fx_entry *e; nx < 3 && (e = fx_find(&fx, "%s.x%d", nm, nx)); nx++) {
            x[nx] = fx_tensor(c, e);
            if (fx_find(&fx, "%s.g%d", nm, nx)) {
                xg[ng] = ug_requires_grad(c, x[nx]);
                gi[ng++] = nx;
            }
        }
        CHECK(nx > 0, "%s: no inputs in the fixture", nm);
        ug_tensor *out = ops[k].fn(c, x);
        char what[128];
        snprintf(what, sizeof what, "%s: out", nm);
        if (out && out->dtype == UG_I32) compare_i32(c, what, out, fx_find(&fx, "%s.out", nm));
        else compare(c, &fx, what, out, fx_find(&fx, "%s.out", nm), RTOL, 0);
        if (ng == 0) {  /* no gradient (comparisons, casts): not even from inputs that require one */
            for (int i = 0; i < nx; i++)
                if (x[i] && x[i]->dtype == UG_F32) ug_requires_grad(c, x[i]);
            ug_tensor *again = ops[k].fn(c, x);
            CHECK(again && !again->node && !again->requires_grad, "%s: records a node: %s", nm, ug_ctx_errmsg(c));
            continue;
        }
        ug_tensor *R = fx_tensor(c, fx_find(&fx, "%s.R", nm));
        ug_tensor *f = ug_sum_all(c, ug_mul(c, out, R));
        ug_status st = ug_grad(c, f, xg, ng, g, false);
        CHECK(st == UG_OK, "%s: grad failed: %s", nm, ug_ctx_errmsg(c));
        if (st != UG_OK) continue;
        for (int i = 0; i < ng; i++) {
            snprintf(what, sizeof what, "%s: d/dx%d", nm, gi[i]);
            compare(c, &fx, what, g[i], fx_find(&fx, "%s.g%d", nm, gi[i]), RTOL, 0);
        }
    }
    fx_free(&fx);
}

/* ---- (c) second order ------------------------------------------------------------------------------ */

static ug_tensor *act2(ug_ctx *c, const char *name, ug_tensor *h) {
    if (!strcmp(name, "tanh")) return ug_tanh(c, h);
    if (!strcmp(name, "gelu")) return ug_gelu(c, h);
    if (!strcmp(name, "silu")) return ug_silu(c, h);
    if (!strcmp(name, "softplus")) return ug_softplus(c, h);
    if (!strcmp(name, "sigmoid")) return ug_sigmoid(c, h);
    return ug_elu(c, h, 1.0f);
}

static void test_grad2(ug_ctx *c) {
    static const char *acts[] = {"tanh", "gelu", "silu", "softplus", "sigmoid", "elu"};
    fixture fx;
    if (!fx_load(&fx, "torch_grad2.txt")) return;
    for (size_t k = 0; k < sizeof acts / sizeof acts[0]; k++) {
        const char *nm = acts[k];
        char what[128];
        ug_step_reset(c);
        ug_ctx_clear_error(c);
        ug_tensor *x = ug_requires_grad(c, fx_tensor(c, fx_find(&fx, "%s.x", nm)));
        ug_tensor *W = ug_requires_grad(c, fx_tensor(c, fx_find(&fx, "%s.W", nm)));
        ug_tensor *R = fx_tensor(c, fx_find(&fx, "%s.R", nm));
        ug_tensor *y = ug_sum_all(c, ug_mul(c, act2(c, nm, ug_matmul(c, x, W)), R));
        ug_tensor *gx = NULL;
        CHECK(ug_grad(c, y, &x, 1, &gx, true) == UG_OK, "%s: first grad: %s", nm, ug_ctx_errmsg(c));
        ug_tensor *z = ug_sum_all(c, ug_square(c, gx));
        ug_tensor *wrt[2] = {W, x}, *g[2] = {NULL, NULL};
        CHECK(ug_grad(c, z, wrt, 2, g, false) == UG_OK, "%s: second grad: %s", nm, ug_ctx_errmsg(c));
        snprintf(what, sizeof what, "%s: y", nm);
        compare(c, &fx, what, y, fx_find(&fx, "%s.y", nm), RTOL, 0);
        snprintf(what, sizeof what, "%s: dy/dx", nm);
        compare(c, &fx, what, gx, fx_find(&fx, "%s.gx", nm), RTOL, 0);
        snprintf(what, sizeof what, "%s: z", nm);
        compare(c, &fx, what, z, fx_find(&fx, "%s.z", nm), RTOL, 0);
        snprintf(what, sizeof what, "%s: dz/dW", nm);
        compare(c, &fx, what, g[0], fx_find(&fx, "%s.dz_dW", nm), RTOL, 0);
        snprintf(what, sizeof what, "%s: dz/dx", nm);
        compare(c, &fx, what, g[1], fx_find(&fx, "%s.dz_dx", nm), RTOL, 0);
    }
    fx_free(&fx);
}

/* ---- (d) image ops --------------------------------------------------------------------------------- */

#define CONV_CASES 27  /* make_conv() in make_fixtures.py */

/* The op of a torch_conv.txt case: p = [kind, second, parameters...] (the script's docstring). */
static ug_tensor *conv_case_op(ug_ctx *c, const int32_t *p, ug_tensor **x) {
    const int32_t *q = p + 2;
    switch (p[0]) {
    case 0:
    case 1: {
        ug_conv2d_opts o = {.stride = {q[0], q[1]}, .padding = {q[2], q[3]}, .dilation = {q[4], q[5]},
                            .groups = q[6], .output_padding = {q[7], q[8]}};
        return p[0] == 0 ? ug_conv2d(c, x[0], x[1], x[2], &o) : ug_conv_transpose2d(c, x[0], x[1], x[2], &o);
    }
    case 2: return ug_avg_pool2d(c, x[0], (int64_t[]){q[0], q[1]}, (int64_t[]){q[2], q[3]}, (int64_t[]){q[4], q[5]});
    case 3: return ug_upsample2d(c, x[0], q[0], q[1] ? UG_UPSAMPLE_BILINEAR : UG_UPSAMPLE_NEAREST);
    case 4: return ug_group_norm(c, x[0], q[0], x[1], x[2], 1e-5f);
    }
    return NULL;
}

/* Every case of torch_conv.txt (found by its ".p" entry): out and d sum(out * R) / d inputs; for the
 * second-order cases (out = tanh(op)) also dz/d inputs of z = sum((d/dx0)^2). */
static void test_conv(ug_ctx *c) {
    fixture fx;
    if (!fx_load(&fx, "torch_conv.txt")) return;
    int ncases = 0;
    for (int e = 0; e < fx.n; e++) {
        const char *full = fx.e[e].name;
        size_t len = strlen(full);
        if (len < 3 || strcmp(full + len - 2, ".p") != 0) continue;
        char nm[96];
        snprintf(nm, sizeof nm, "%.*s", (int)(len - 2), full);
        ncases++;
        ug_step_reset(c);
        ug_ctx_clear_error(c);
        int32_t p[16] = {0};
        for (int64_t i = 0; i < fx.e[e].nvals && i < 16; i++) p[i] = (int32_t)fx.e[e].v[i];
        ug_tensor *x[3] = {NULL, NULL, NULL}, *xg[3], *g[3];
        int ng = 0, gi[3];
        for (int k = 0; k < 3; k++) {
            const fx_entry *ek = fx_find(&fx, "%s.x%d", nm, k);
            if (!ek) continue;
            xg[ng] = x[k] = ug_requires_grad(c, fx_tensor(c, ek));
            gi[ng++] = k;
        }
        const bool second = p[1] != 0;
        ug_tensor *out = conv_case_op(c, p, x);
        if (second) out = ug_tanh(c, out);
        char what[128];
        snprintf(what, sizeof what, "%s: out", nm);
        compare(c, &fx, what, out, fx_find(&fx, "%s.out", nm), RTOL, 0);
        ug_tensor *R = fx_tensor(c, fx_find(&fx, "%s.R", nm));
        ug_tensor *f = ug_sum_all(c, ug_mul(c, out, R));
        ug_status st = ug_grad(c, f, xg, ng, g, second);
        CHECK(st == UG_OK, "%s: grad failed: %s", nm, ug_ctx_errmsg(c));
        if (st != UG_OK) continue;
        for (int i = 0; i < ng; i++) {
            snprintf(what, sizeof what, "%s: d/dx%d", nm, gi[i]);
            compare(c, &fx, what, g[i], fx_find(&fx, "%s.g%d", nm, gi[i]), RTOL, 0);
        }
        if (!second) continue;
        ug_tensor *z = ug_sum_all(c, ug_square(c, g[0])), *h[3];
        st = ug_grad(c, z, xg, ng, h, false);
        CHECK(st == UG_OK, "%s: second grad failed: %s", nm, ug_ctx_errmsg(c));
        for (int i = 0; st == UG_OK && i < ng; i++) {
            snprintf(what, sizeof what, "%s: dz/dx%d", nm, gi[i]);
            compare(c, &fx, what, h[i], fx_find(&fx, "%s.h%d", nm, gi[i]), RTOL, 0);
        }
    }
    CHECK(ncases == CONV_CASES, "torch_conv.txt has %d cases, test_torch_ref.c expects %d", ncases, CONV_CASES);
    fx_free(&fx);
}

/* ---- (b) MLP + Adam ------------------------------------------------------------------------------- */

#define MLP_STEPS 10

/* Gradients are compared relative to each tensor's scale. Parameter snapshots after Adam steps use the
 * plain |a-b| <= 1e-5*max(1,|b|) (s = 1: 1e-5 absolute, 1% of one step at lr 1e-3) because Adam
 * amplifies rounding where a gradient is near eps: the update lr*g/(|g|+eps) of an element with
 * |g| ~ 1e-8 depends on g's last bits (layer 0 bias 181 has g = 1.1e-8 and moves 5e-7 away from
 * torch's value after step 1, 4e-6 of that tensor's scale 0.0625 — too close to 1e-5 to be robust
 * across BLAS builds, while 5e-7 is 20x inside the absolute 1e-5). */
static void compare_params(ug_ctx *c, const fixture *fx, const ug_mlp *mlp, const char *prefix, bool grads) {
    char what[128];
    double s_fixed = grads ? 0.0 : 1.0;
    for (int i = 0; i < mlp->n_layers; i++) {
        const ug_linear_layer *L = &mlp->layers[i];
        ug_tensor *w = grads ? L->w->grad : L->w, *b = grads ? L->b->grad : L->b;
        snprintf(what, sizeof what, "mlp: %smlp.%d.w", prefix, i);
        compare(c, fx, what, w, fx_find(fx, "%smlp.%d.w", prefix, i), RTOL, s_fixed);
        snprintf(what, sizeof what, "mlp: %smlp.%d.b", prefix, i);
        compare(c, fx, what, b, fx_find(fx, "%smlp.%d.b", prefix, i), RTOL, s_fixed);
    }
}

static void test_mlp(ug_ctx *c) {
    fixture fx;
    if (!fx_load(&fx, "torch_mlp.txt")) return;
    const int64_t widths[] = {32, 256, 256, 256, 96};
    ug_params *P = ug_params_new();
    ug_rng rng = ug_rng_make(7, 0);
    ug_mlp mlp;
    CHECK(ug_mlp_init(&mlp, P, "forward", "mlp", widths, 5, UG_ACT_LEAKY_RELU, 0.01f, &rng) == UG_OK,
          "mlp init: %s", ug_params_errmsg(P));
    CHECK(ug_params_finalize(P) == UG_OK, "finalize: %s", ug_params_errmsg(P));
    int grp = ug_params_group_index(P, "forward");
    /* The fixture's initial weights replace ug_mlp's own init. */
    for (int i = 0; i < mlp.n_layers; i++) {
        ug_tensor *pt[2] = {mlp.layers[i].w, mlp.layers[i].b};
        for (int j = 0; j < 2; j++) {
            const fx_entry *e = fx_find(&fx, "%s", pt[j]->name);
            CHECK(e && e->nvals == ug_numel(pt[j]), "initial value of %s missing", pt[j]->name);
            for (int64_t k = 0; e && k < e->nvals; k++) ug_f32(pt[j])[k] = (float)e->v[k];
        }
    }
    ug_optim_config cfg = ug_optim_defaults(UG_OPTIM_ADAM);  /* lr 1e-3, (0.9, 0.999), eps 1e-8 */
    ug_optim opt;
    CHECK(ug_optim_init(&opt, P, grp, &cfg) == UG_OK, "optim init: %s", opt.err.msg);
    const fx_entry *losses = fx_find(&fx, "losses");
    CHECK(losses && losses->nvals == MLP_STEPS + 1, "fixture lacks the per-step losses");
    for (int step = 0; step <= MLP_STEPS && losses; step++) {
        ug_step_reset(c);
        ug_ctx_clear_error(c);
        ug_params_zero_grad(P, ~0ull);
        ug_tensor *x = fx_tensor(c, fx_find(&fx, "x")), *target = fx_tensor(c, fx_find(&fx, "target"));
        ug_tensor *out = ug_mlp_forward(c, &mlp, x);
        ug_tensor *loss = ug_mean_all(c, ug_square(c, ug_sub(c, out, target)));
        char what[64];
        snprintf(what, sizeof what, "mlp: loss before update %d", step + 1);
        CHECK(loss != NULL, "%s: %s", what, ug_ctx_errmsg(c));
        if (!loss) break;
        CHECK_CLOSE(ug_item(loss), losses->v[step], RTOL, 0.0);
        if (step == MLP_STEPS) break;
        CHECK(ug_backward(c, loss, 1ull << grp) == UG_OK, "backward: %s", ug_ctx_errmsg(c));
        if (step == 0) {
            compare(c, &fx, "mlp: out", out, fx_find(&fx, "out"), RTOL, 0);
            compare(c, &fx, "mlp: loss", loss, fx_find(&fx, "loss0"), RTOL, 0);
            compare_params(c, &fx, &mlp, "grad.", true);
        }
        CHECK(ug_optim_step(&opt, NULL) == UG_OK, "adam step %d: %s", step + 1, opt.err.msg);
        if (step + 1 == 1) compare_params(c, &fx, &mlp, "step1.", false);
        if (step + 1 == MLP_STEPS) compare_params(c, &fx, &mlp, "step10.", false);
    }
    ug_optim_free(&opt);
    ug_step_reset(c);  /* the tape must not outlive the parameters it points at */
    ug_params_free(P);
    fx_free(&fx);
}

/* ---- (e) UNet parts -------------------------------------------------------------------------------- */

/* torch_unet.txt (tools/reference/make_unet_fixture.py): a residual block with and without its 1x1 skip
 * and an attention block, with the weights of the fixture's flat "C.params" copied into the case's own
 * group block (torch declares them in unigfn's order); out and the gradients of sum(out * R) w.r.t. x,
 * temb and every parameter (the group's gradient block, filled by ug_backward). */
static void test_unet_parts(ug_ctx *c) {
    ug_step_reset(c);
    fixture fx;
    if (!fx_load(&fx, "torch_unet.txt")) return;
    static const char *cases[3] = {"rb", "rb2", "attn"};
    static const int64_t io[3][2] = {{8, 16}, {16, 16}, {16, 16}};
    ug_params *P = ug_params_new();
    ug_rng rng = ug_rng_make(1, 0);
    ug_resblock rb[2];
    ug_attn_block at;
    CHECK(ug_resblock_init(&rb[0], P, "rb", "rb", io[0][0], io[0][1], 12, 4, &rng) == UG_OK &&
              ug_resblock_init(&rb[1], P, "rb2", "rb2", io[1][0], io[1][1], 12, 4, &rng) == UG_OK &&
              ug_attn_block_init(&at, P, "attn", "attn", 16, 4, &rng) == UG_OK && ug_params_finalize(P) == UG_OK,
          "unet parts: %s", ug_params_errmsg(P));
    for (int k = 0; k < 3; k++) {
        const int g = ug_params_group_index(P, cases[k]);
        float *data = NULL, *grad = NULL;
        int64_t count = 0;
        ug_params_group_info(P, g, NULL, &data, &grad, &count);
        const fx_entry *ep = fx_find(&fx, "%s.params", cases[k]);
        CHECK(ep && ep->nvals == count, "%s: %lld parameters, fixture %lld", cases[k], (long long)count,
              ep ? (long long)ep->nvals : -1LL);
        if (!ep || ep->nvals != count) continue;
        for (int64_t i = 0; i < count; i++) data[i] = (float)ep->v[i];
        ug_tensor *x = ug_requires_grad(c, fx_tensor(c, fx_find(&fx, "%s.x", cases[k])));  // [N, C, H, W]
        ug_tensor *e = k < 2 ? ug_requires_grad(c, fx_tensor(c, fx_find(&fx, "%s.temb", cases[k]))) : NULL;  // [N, 12]
        ug_tensor *y = k < 2 ? ug_resblock_forward(c, &rb[k], x, e) : ug_attn_block_forward(c, &at, x);
        ug_tensor *R = fx_tensor(c, fx_find(&fx, "%s.R", cases[k]));
        ug_tensor *loss = ug_sum_all(c, ug_mul(c, y, R));  // []
        ug_tensor *wrt[2] = {x, e}, *gi[2] = {NULL, NULL};
        CHECK(loss && ug_grad(c, loss, wrt, k < 2 ? 2 : 1, gi, false) == UG_OK, "%s grad: %s", cases[k],
              ug_ctx_errmsg(c));
        ug_params_zero_grad(P, ~0ull);
        CHECK(ug_backward(c, loss, 1ull << g) == UG_OK, "%s backward: %s", cases[k], ug_ctx_errmsg(c));
        char what[64];
        snprintf(what, sizeof what, "%s.out", cases[k]);
        compare(c, &fx, what, y, fx_find(&fx, "%s.out", cases[k]), RTOL, 0);
        snprintf(what, sizeof what, "%s.gx", cases[k]);
        compare(c, &fx, what, gi[0], fx_find(&fx, "%s.gx", cases[k]), RTOL, 0);
        if (k < 2) {
            snprintf(what, sizeof what, "%s.gtemb", cases[k]);
            compare(c, &fx, what, gi[1], fx_find(&fx, "%s.gtemb", cases[k]), RTOL, 0);
        }
        snprintf(what, sizeof what, "%s.gparams", cases[k]);
        compare(c, &fx, what, ug_wrap(c, grad, UG_F32, 1, (int64_t[]){count}), fx_find(&fx, "%s.gparams", cases[k]),
                RTOL, 0);
        ug_step_reset(c);
    }
    ug_params_free(P);
    fx_free(&fx);
}

int main(void) {
    ug_ctx *c = ug_ctx_new(8u << 20);
    ug_set_threads(c, 1);
    test_ops(c);
    test_grad2(c);
    test_conv(c);
    test_mlp(c);
    test_unet_parts(c);
    ug_ctx_free(c);
    return CHECK_DONE();
}
