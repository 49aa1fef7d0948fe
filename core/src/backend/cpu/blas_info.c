/* blas_info.c — which BLAS this is, which kernel set it chose, and the CPU's vector ISA (blas_info.h):
 * cpuid/xgetbv, the OpenBLAS queries, the corename → ISA table, the advice (warn? which
 * OPENBLAS_CORETYPE to try), the one-line description the run rows record, and the `doctor --probe`
 * line. Measuring is in blas_rate.c.
 *
 * The OpenBLAS entry points are declared weak: linked against another BLAS they are NULL and the
 * library reads as "unknown", so nothing here decides the build. Everything but ug_cpu_isa_get and
 * ug_blas_info_get is pure, so the tests run the tables without depending on this machine or on
 * OPENBLAS_CORETYPE. */
#include "unigfn/host/blas_info.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define UG_X86 1
#endif

/* OpenBLAS's own queries (cblas.h declares some of them, not as weak). */
extern char *openblas_get_corename(void) __attribute__((weak));
extern char *openblas_get_config(void) __attribute__((weak));
extern int openblas_get_num_threads(void) __attribute__((weak));
extern int openblas_get_parallel(void) __attribute__((weak));

const char *ug_isa_name(ug_isa isa) {
    switch (isa) {
    case UG_ISA_SSE: return "sse";
    case UG_ISA_AVX: return "avx";
    case UG_ISA_AVX2: return "avx2";
    case UG_ISA_AVX512: return "avx512";
    default: return "unknown";
    }
}

/* ---------------------------------------------------------------- the CPU */

#ifdef UG_X86
static unsigned long long xgetbv0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}
#endif

void ug_cpu_isa_get(ug_cpu_isa *c) {
    memset(c, 0, sizeof *c);
#ifdef UG_X86
    unsigned int a, b, cx, d;
    unsigned int max = __get_cpuid_max(0, NULL);
    if (max < 1) return;
    c->x86 = true;
    __cpuid(0, a, b, cx, d);
    memcpy(c->vendor, &b, 4);
    memcpy(c->vendor + 4, &d, 4);
    memcpy(c->vendor + 8, &cx, 4);
    c->vendor[12] = 0;
    __cpuid(1, a, b, cx, d);
    int fam = (int)((a >> 8) & 0xf), mod = (int)((a >> 4) & 0xf);
    c->family = fam == 15 ? fam + (int)((a >> 20) & 0xff) : fam;
    c->model = (fam == 6 || fam == 15) ? mod + (int)(((a >> 16) & 0xf) << 4) : mod;
    c->sse2 = d >> 26 & 1;
    c->sse3 = cx & 1;
    c->ssse3 = cx >> 9 & 1;
    c->fma = cx >> 12 & 1;
    c->sse41 = cx >> 19 & 1;
    c->sse42 = cx >> 20 & 1;
    c->avx = cx >> 28 & 1;
    if (cx >> 27 & 1) { /* OSXSAVE: xgetbv may be executed */
        unsigned long long xcr0 = xgetbv0();
        c->os_avx = (xcr0 & 0x6) == 0x6;
        c->os_avx512 = c->os_avx && (xcr0 & 0xe0) == 0xe0;
    }
    if (max >= 7) {
        __cpuid_count(7, 0, a, b, cx, d);
        c->avx2 = b >> 5 & 1;
        c->avx512f = b >> 16 & 1;
        c->avx512dq = b >> 17 & 1;
        c->avx512bw = b >> 30 & 1;
        c->avx512vl = b >> 31 & 1;
        c->avx512_vnni = cx >> 11 & 1;
        c->avx512_fp16 = d >> 23 & 1;
        c->amx = d >> 24 & 1;
        unsigned int sub = a;
        if (sub >= 1) {
            __cpuid_count(7, 1, a, b, cx, d);
            c->avx512_bf16 = a >> 5 & 1;
        }
    }
    if (__get_cpuid_max(0x80000000u, NULL) >= 0x80000004u) {
        unsigned int r[12];
        for (unsigned int i = 0; i < 3; i++) __cpuid(0x80000002u + i, r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]);
        char s[49];
        memcpy(s, r, 48);
        s[48] = 0;
        char *p = s;
        while (*p == ' ') p++;
        size_t n = strlen(p);
        while (n && p[n - 1] == ' ') p[--n] = 0;
        snprintf(c->brand, sizeof c->brand, "%s", p);
    }
#endif
}

ug_isa ug_cpu_isa_level(const ug_cpu_isa *c) {
    if (!c || !c->x86) return UG_ISA_UNKNOWN;
    if (c->avx512f && c->avx512dq && c->avx512bw && c->avx512vl && c->os_avx512 && c->avx2 && c->fma)
        return UG_ISA_AVX512;
    if (c->avx2 && c->fma && c->os_avx) return UG_ISA_AVX2;
    if (c->avx && c->os_avx) return UG_ISA_AVX;
    return c->sse2 ? UG_ISA_SSE : UG_ISA_UNKNOWN;
}

/* ---------------------------------------------------------------- the kernel sets */

/* OpenBLAS's x86 corenames (driver/others/dynamic.c) by the vector ISA their kernels use. */
static const struct {
    const char *name;
    ug_isa isa;
} CORES[] = {
    {"generic", UG_ISA_SSE},     {"Katmai", UG_ISA_SSE},       {"Coppermine", UG_ISA_SSE},
    {"Northwood", UG_ISA_SSE},   {"Prescott", UG_ISA_SSE},     {"Banias", UG_ISA_SSE},
    {"Atom", UG_ISA_SSE},        {"Core2", UG_ISA_SSE},        {"Penryn", UG_ISA_SSE},
    {"Dunnington", UG_ISA_SSE},  {"Nehalem", UG_ISA_SSE},      {"Athlon", UG_ISA_SSE},
    {"Opteron", UG_ISA_SSE},     {"Opteron_SSE3", UG_ISA_SSE}, {"Barcelona", UG_ISA_SSE},
    {"Nano", UG_ISA_SSE},        {"Bobcat", UG_ISA_SSE},       {"Sandybridge", UG_ISA_AVX},
    {"Bulldozer", UG_ISA_AVX},   {"Piledriver", UG_ISA_AVX},   {"Steamroller", UG_ISA_AVX},
    {"Excavator", UG_ISA_AVX},   {"Haswell", UG_ISA_AVX2},     {"Zen", UG_ISA_AVX2},
    {"SkylakeX", UG_ISA_AVX512}, {"Cooperlake", UG_ISA_AVX512}, {"SapphireRapids", UG_ISA_AVX512},
};

ug_isa ug_blas_core_isa(const char *corename) {
    if (!corename) return UG_ISA_UNKNOWN;
    for (size_t i = 0; i < sizeof CORES / sizeof CORES[0]; i++)
        if (strcasecmp(corename, CORES[i].name) == 0) return CORES[i].isa;
    return UG_ISA_UNKNOWN;
}

void ug_blas_advise(const char *corename, const ug_cpu_isa *cpu, ug_blas_advice *out) {
    memset(out, 0, sizeof *out);
    out->core_level = ug_blas_core_isa(corename);
    out->cpu_level = ug_cpu_isa_level(cpu);
    bool amd = cpu && strcmp(cpu->vendor, "AuthenticAMD") == 0;
    int n = 0;
    switch (out->cpu_level) {
    case UG_ISA_AVX512:
        if (cpu->avx512_bf16) out->candidates[n++] = "Cooperlake";
        out->candidates[n++] = "SkylakeX";
        out->candidates[n++] = amd ? "Zen" : "Haswell";
        break;
    case UG_ISA_AVX2:
        out->candidates[n++] = amd ? "Zen" : "Haswell";
        out->candidates[n++] = amd ? "Haswell" : "Zen";
        break;
    case UG_ISA_AVX:
        out->candidates[n++] = "Sandybridge";
        break;
    default:
        break;
    }
    out->n_candidates = n;
    out->warn = out->core_level != UG_ISA_UNKNOWN && out->cpu_level != UG_ISA_UNKNOWN &&
                (int)out->cpu_level - (int)out->core_level >= 2 && n > 0;
}

/* ---------------------------------------------------------------- the library */

static void copy_field(char *dst, size_t cap, const char *src, size_t n) {
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

void ug_blas_parse_config(const char *config, char *library, size_t lcap, char *version, size_t vcap) {
    snprintf(library, lcap, "unknown");
    if (vcap) version[0] = 0;
    if (!config) return;
    const char *p = config;
    while (*p == ' ') p++;
    const char *w = p;
    while (*p && *p != ' ') p++;
    if (p == w || strncasecmp(w, "OpenBLAS", 8) != 0 || p - w != 8) return;
    copy_field(library, lcap, w, (size_t)(p - w));
    while (*p == ' ') p++;
    w = p;
    while (*p && *p != ' ') p++;
    if (p > w && isdigit((unsigned char)*w)) copy_field(version, vcap, w, (size_t)(p - w));
}

static void env_copy(const char *name, char *dst, size_t cap) {
    const char *v = getenv(name);
    snprintf(dst, cap, "%s", v ? v : "");
}

void ug_blas_info_get(ug_blas_info *bi) {
    memset(bi, 0, sizeof *bi);
    const char *config = openblas_get_config ? openblas_get_config() : NULL;
    ug_blas_parse_config(config, bi->library, sizeof bi->library, bi->version, sizeof bi->version);
    snprintf(bi->config, sizeof bi->config, "%s", config ? config : "");
    const char *core = openblas_get_corename ? openblas_get_corename() : NULL;
    snprintf(bi->corename, sizeof bi->corename, "%s", core ? core : "");
    bi->threads = openblas_get_num_threads ? openblas_get_num_threads() : 0;
    bi->parallel = openblas_get_parallel ? openblas_get_parallel() : -1;
#ifdef _OPENMP
    bi->openmp = true;
#endif
    env_copy("OPENBLAS_CORETYPE", bi->coretype_env, sizeof bi->coretype_env);
    env_copy(UG_BLAS_CORE_ENV, bi->blas_core, sizeof bi->blas_core);
    ug_cpu_isa_get(&bi->cpu);
}

int ug_blas_describe(const ug_blas_info *bi, char *buf, size_t cap) {
    char thr[24] = "";
    if (bi->threads > 0) snprintf(thr, sizeof thr, " threads=%d", bi->threads);
    int n;
    if (strcmp(bi->library, "unknown") == 0)
        n = snprintf(buf, cap, "unknown BLAS%s cpu=%s", thr, ug_isa_name(ug_cpu_isa_level(&bi->cpu)));
    else
        n = snprintf(buf, cap, "%s%s%s %s%s cpu=%s", bi->library, bi->version[0] ? " " : "", bi->version,
                     bi->corename[0] ? bi->corename : "?", thr, ug_isa_name(ug_cpu_isa_level(&bi->cpu)));
    if (n >= 0 && (size_t)n < cap && bi->coretype_env[0])
        n += snprintf(buf + n, cap - (size_t)n, " OPENBLAS_CORETYPE=%s", bi->coretype_env);
    if (n >= 0 && (size_t)n < cap && bi->blas_core[0])
        n += snprintf(buf + n, cap - (size_t)n, " blas-core=%s", bi->blas_core);
    return n;
}

int ug_blas_warning_text(const ug_blas_info *bi, const ug_blas_advice *adv, double gflops, char *buf,
                         size_t cap) {
    char rate[64] = "";
    if (gflops > 0) snprintf(rate, sizeof rate, ": sgemm %.1f GFLOP/s on %d thread%s", gflops, bi->threads,
                             bi->threads == 1 ? "" : "s");
    return snprintf(buf, cap,
                    "%s%s%s runs its %s kernels (%s) on this %s CPU%s; try `export OPENBLAS_CORETYPE=%s` "
                    "(`unigfn doctor` measures and checks each candidate)",
                    bi->library, bi->version[0] ? " " : "", bi->version, bi->corename[0] ? bi->corename : "?",
                    ug_isa_name(adv->core_level), ug_isa_name(adv->cpu_level), rate,
                    adv->n_candidates ? adv->candidates[0] : "?");
}

/* ---------------------------------------------------------------- probe lines */

int ug_blas_probe_format(const ug_blas_probe *p, char *buf, size_t cap) {
    return snprintf(buf, cap, "probe core=%s gflops=%.3f max_err=%.3g threads=%d", p->core[0] ? p->core : "?",
                    p->gflops, p->max_err, p->threads);
}

/* The value of `key=` in the line [s, e), copied to out; false when absent or empty. */
static bool field(const char *s, const char *e, const char *key, char *out, size_t cap) {
    size_t kn = strlen(key);
    for (const char *p = s; p + kn < e; p++) {
        if ((p == s || p[-1] == ' ') && strncmp(p, key, kn) == 0 && p[kn] == '=') {
            const char *v = p + kn + 1, *w = v;
            while (w < e && *w != ' ') w++;
            if (w == v) return false;
            copy_field(out, cap, v, (size_t)(w - v));
            return true;
        }
    }
    return false;
}

static bool number(const char *s, const char *e, const char *key, double *out) {
    char v[64], *end;
    if (!field(s, e, key, v, sizeof v)) return false;
    *out = strtod(v, &end);
    return end != v && *end == 0;
}

bool ug_blas_probe_parse(const char *text, ug_blas_probe *out) {
    memset(out, 0, sizeof *out);
    if (!text) return false;
    for (const char *s = text; *s;) {
        const char *e = strchr(s, '\n');
        if (!e) e = s + strlen(s);
        if (strncmp(s, "probe ", 6) == 0 && e > s + 6) {
            double th;
            if (!field(s, e, "core", out->core, sizeof out->core) || !number(s, e, "gflops", &out->gflops) ||
                !number(s, e, "max_err", &out->max_err) || !number(s, e, "threads", &th))
                return false;
            out->threads = (int)th;
            return true;
        }
        s = *e ? e + 1 : e;
    }
    return false;
}

bool ug_blas_probe_usable(const char *requested, const ug_blas_probe *p) {
    return requested && strcasecmp(requested, p->core) == 0 && p->gflops > 0 && p->max_err >= 0 &&
           p->max_err <= UG_BLAS_ERR_TOL;
}

int ug_blas_pick(const char *const *cores, const double *gflops, const bool *usable, int n) {
    double top = 0;
    for (int i = 0; i < n; i++)
        if (usable[i] && gflops[i] > top) top = gflops[i];
    int pick = -1;
    for (int i = 0; i < n; i++) {
        if (!usable[i] || !(gflops[i] >= UG_BLAS_PICK_BAND * top)) continue;
        if (pick < 0 || ug_blas_core_isa(cores[i]) > ug_blas_core_isa(cores[pick])) pick = i;
    }
    return pick;
}

bool ug_blas_is_slow(const ug_blas_advice *adv, double current_gflops, const char *best_core, double best_gflops) {
    if (adv->warn) return true;
    return best_core && ug_blas_core_isa(best_core) > adv->core_level && best_gflops >= 1.25 * current_gflops;
}
