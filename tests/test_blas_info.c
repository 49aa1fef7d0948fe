/* test_blas_info.c — the pure parts of blas_info.h, table by table: the CPU's ISA level from cpuid
 * flags and XSAVE state, corename → ISA, the advice (warn or not, which OPENBLAS_CORETYPE to try),
 * config parsing, the run row's description, the warning text, the doctor's probe line and verdict.
 * None of it reads this machine or the environment; the last part measures the real sgemm and checks
 * its results against the float64 reference, which holds for any correct kernel set, so nothing here
 * depends on OPENBLAS_CORETYPE being set or unset. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "unigfn/host/blas_info.h"

/* Feature sets of typical CPUs, each with the OS saving everything unless said otherwise. */
static ug_cpu_isa cpu_sse(void) {
    ug_cpu_isa c = {.x86 = true, .sse2 = true, .sse3 = true, .ssse3 = true, .sse41 = true, .sse42 = true};
    snprintf(c.vendor, sizeof c.vendor, "GenuineIntel");
    return c;
}
static ug_cpu_isa cpu_avx(void) {
    ug_cpu_isa c = cpu_sse();
    c.avx = c.os_avx = true;
    return c;
}
static ug_cpu_isa cpu_avx2(void) {
    ug_cpu_isa c = cpu_avx();
    c.avx2 = c.fma = true;
    return c;
}
static ug_cpu_isa cpu_avx512(bool bf16) {
    ug_cpu_isa c = cpu_avx2();
    c.avx512f = c.avx512dq = c.avx512bw = c.avx512vl = c.os_avx512 = true;
    c.avx512_bf16 = bf16;
    return c;
}

static void test_cpu_level(void) {
    struct {
        const char *what;
        ug_cpu_isa c;
        ug_isa want;
    } rows[] = {
        {"not x86", {0}, UG_ISA_UNKNOWN},
        {"SSE4.2", cpu_sse(), UG_ISA_SSE},
        {"AVX", cpu_avx(), UG_ISA_AVX},
        {"AVX2+FMA", cpu_avx2(), UG_ISA_AVX2},
        {"AVX-512", cpu_avx512(false), UG_ISA_AVX512},
        {"AVX-512+BF16", cpu_avx512(true), UG_ISA_AVX512},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        CHECK(ug_cpu_isa_level(&rows[i].c) == rows[i].want, "%s: level %s, want %s", rows[i].what,
              ug_isa_name(ug_cpu_isa_level(&rows[i].c)), ug_isa_name(rows[i].want));
    /* The OS's XSAVE state caps the level: AVX-512 flags without ZMM state are AVX2, AVX flags without
     * YMM state are SSE; AVX2 without FMA is AVX; AVX-512F without BW/VL is AVX2. */
    ug_cpu_isa c = cpu_avx512(true);
    c.os_avx512 = false;
    CHECK(ug_cpu_isa_level(&c) == UG_ISA_AVX2, "no ZMM state: %s", ug_isa_name(ug_cpu_isa_level(&c)));
    c.os_avx = false;
    CHECK(ug_cpu_isa_level(&c) == UG_ISA_SSE, "no YMM state: %s", ug_isa_name(ug_cpu_isa_level(&c)));
    c = cpu_avx2();
    c.fma = false;
    CHECK(ug_cpu_isa_level(&c) == UG_ISA_AVX, "AVX2 without FMA: %s", ug_isa_name(ug_cpu_isa_level(&c)));
    c = cpu_avx512(false);
    c.avx512bw = c.avx512vl = false;
    CHECK(ug_cpu_isa_level(&c) == UG_ISA_AVX2, "AVX-512F only: %s", ug_isa_name(ug_cpu_isa_level(&c)));
    CHECK(ug_cpu_isa_level(NULL) == UG_ISA_UNKNOWN, "NULL");
    CHECK(strcmp(ug_isa_name(UG_ISA_AVX512), "avx512") == 0 && strcmp(ug_isa_name(UG_ISA_UNKNOWN), "unknown") == 0,
          "names");
}

static void test_core_isa(void) {
    struct {
        const char *core;
        ug_isa want;
    } rows[] = {
        {"Prescott", UG_ISA_SSE},       {"Core2", UG_ISA_SSE},         {"Penryn", UG_ISA_SSE},
        {"Dunnington", UG_ISA_SSE},     {"Nehalem", UG_ISA_SSE},       {"Atom", UG_ISA_SSE},
        {"generic", UG_ISA_SSE},        {"Barcelona", UG_ISA_SSE},     {"Sandybridge", UG_ISA_AVX},
        {"Bulldozer", UG_ISA_AVX},      {"Haswell", UG_ISA_AVX2},      {"Zen", UG_ISA_AVX2},
        {"SkylakeX", UG_ISA_AVX512},    {"Cooperlake", UG_ISA_AVX512}, {"SapphireRapids", UG_ISA_AVX512},
        {"HASWELL", UG_ISA_AVX2},       {"skylakex", UG_ISA_AVX512},   {"ARMV8", UG_ISA_UNKNOWN},
        {"NEOVERSEN1", UG_ISA_UNKNOWN}, {"", UG_ISA_UNKNOWN},          {NULL, UG_ISA_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        CHECK(ug_blas_core_isa(rows[i].core) == rows[i].want, "%s: %s, want %s", rows[i].core ? rows[i].core : "NULL",
              ug_isa_name(ug_blas_core_isa(rows[i].core)), ug_isa_name(rows[i].want));
}

static void test_advice(void) {
    ug_cpu_isa amd2 = cpu_avx2();
    snprintf(amd2.vendor, sizeof amd2.vendor, "AuthenticAMD");
    ug_cpu_isa none = {0};
    struct {
        const char *what, *core;
        ug_cpu_isa cpu;
        bool warn;
        const char *cands; /* space-separated, best first */
    } rows[] = {
        /* the machine: Prescott on AVX-512 (with BF16) */
        {"Prescott on AVX-512+BF16", "Prescott", cpu_avx512(true), true, "Cooperlake SkylakeX Haswell"},
        {"Prescott on AVX-512", "Prescott", cpu_avx512(false), true, "SkylakeX Haswell"},
        {"Core2 on AVX2", "Core2", cpu_avx2(), true, "Haswell Zen"},
        {"generic on AVX2 (AMD)", "generic", amd2, true, "Zen Haswell"},
        {"Nehalem on AVX2", "Nehalem", cpu_avx2(), true, "Haswell Zen"},
        {"Sandybridge on AVX-512", "Sandybridge", cpu_avx512(false), true, "SkylakeX Haswell"},
        /* one level apart, or chosen well: no warning */
        {"SkylakeX on AVX-512", "SkylakeX", cpu_avx512(true), false, "Cooperlake SkylakeX Haswell"},
        {"Cooperlake on AVX-512", "Cooperlake", cpu_avx512(true), false, "Cooperlake SkylakeX Haswell"},
        {"Haswell on AVX-512", "Haswell", cpu_avx512(false), false, "SkylakeX Haswell"},
        {"Haswell on AVX2", "Haswell", cpu_avx2(), false, "Haswell Zen"},
        {"Zen on AVX2 (AMD)", "Zen", amd2, false, "Zen Haswell"},
        {"Sandybridge on AVX2", "Sandybridge", cpu_avx2(), false, "Haswell Zen"},
        {"Prescott on AVX", "Prescott", cpu_avx(), false, "Sandybridge"},
        {"Prescott on SSE", "Prescott", cpu_sse(), false, ""},
        /* nothing known: no warning */
        {"unknown core on AVX-512", "", cpu_avx512(true), false, "Cooperlake SkylakeX Haswell"},
        {"ARM core, no x86", "NEOVERSEN1", none, false, ""},
        {"no BLAS name, no cpu", NULL, none, false, ""},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        ug_blas_advice a;
        ug_blas_advise(rows[i].core, &rows[i].cpu, &a);
        char got[128] = "";
        for (int k = 0; k < a.n_candidates; k++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", k ? " " : "", a.candidates[k]);
        CHECK(a.warn == rows[i].warn, "%s: warn %d", rows[i].what, a.warn);
        CHECK(strcmp(got, rows[i].cands) == 0, "%s: candidates '%s', want '%s'", rows[i].what, got, rows[i].cands);
    }
}

static void test_config(void) {
    struct {
        const char *config, *lib, *ver;
    } rows[] = {
        {"OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64", "OpenBLAS", "0.3.21"},
        {"OpenBLAS 0.3.26.dev DYNAMIC_ARCH Haswell", "OpenBLAS", "0.3.26.dev"},
        {"  OpenBLAS 0.2.20 ", "OpenBLAS", "0.2.20"},
        {"OpenBLAS DYNAMIC_ARCH", "OpenBLAS", ""},
        {"OpenBLASX 1.0", "unknown", ""},
        {"BLIS 0.9", "unknown", ""},
        {"", "unknown", ""},
        {NULL, "unknown", ""},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char lib[32], ver[32];
        ug_blas_parse_config(rows[i].config, lib, sizeof lib, ver, sizeof ver);
        CHECK(strcmp(lib, rows[i].lib) == 0 && strcmp(ver, rows[i].ver) == 0, "'%s': '%s' '%s'",
              rows[i].config ? rows[i].config : "NULL", lib, ver);
    }
}

static ug_blas_info info_of(const char *core, ug_cpu_isa cpu, int threads) {
    ug_blas_info bi = {.threads = threads, .parallel = 1, .cpu = cpu};
    snprintf(bi.library, sizeof bi.library, "OpenBLAS");
    snprintf(bi.version, sizeof bi.version, "0.3.21");
    snprintf(bi.corename, sizeof bi.corename, "%s", core);
    return bi;
}

static void test_describe_and_warning(void) {
    char buf[256];
    ug_blas_info bi = info_of("SkylakeX", cpu_avx512(true), 2);
    ug_blas_describe(&bi, buf, sizeof buf);
    CHECK(strcmp(buf, "OpenBLAS 0.3.21 SkylakeX threads=2 cpu=avx512") == 0, "describe: %s", buf);
    snprintf(bi.coretype_env, sizeof bi.coretype_env, "SkylakeX");
    snprintf(bi.blas_core, sizeof bi.blas_core, "auto");
    ug_blas_describe(&bi, buf, sizeof buf);
    CHECK(strcmp(buf, "OpenBLAS 0.3.21 SkylakeX threads=2 cpu=avx512 OPENBLAS_CORETYPE=SkylakeX blas-core=auto") == 0,
          "describe with env: %s", buf);
    ug_blas_info unk = {.cpu = cpu_avx2()};
    snprintf(unk.library, sizeof unk.library, "unknown");
    ug_blas_describe(&unk, buf, sizeof buf);
    CHECK(strcmp(buf, "unknown BLAS cpu=avx2") == 0, "describe unknown: %s", buf);
    char small[12];
    int n = ug_blas_describe(&bi, small, sizeof small);
    CHECK(n > (int)sizeof small && strlen(small) == sizeof small - 1, "truncated: %d '%s'", n, small);

    ug_blas_info slow = info_of("Prescott", cpu_avx512(true), 2);
    ug_blas_advice a;
    ug_blas_advise(slow.corename, &slow.cpu, &a);
    ug_blas_warning_text(&slow, &a, 18.25, buf, sizeof buf);
    CHECK(strcmp(buf, "OpenBLAS 0.3.21 runs its Prescott kernels (sse) on this avx512 CPU: sgemm 18.2 GFLOP/s on 2 "
                      "threads; try `export OPENBLAS_CORETYPE=Cooperlake` (`unigfn doctor` measures and checks "
                      "each candidate)") == 0,
          "warning: %s", buf);
    slow.threads = 1;
    ug_blas_warning_text(&slow, &a, 0, buf, sizeof buf);
    CHECK(strstr(buf, "on this avx512 CPU; try") && !strstr(buf, "GFLOP/s"), "warning without a rate: %s", buf);
}

static void test_probe(void) {
    ug_blas_probe p = {.gflops = 121.25, .max_err = 2.1e-7, .threads = 2}, q;
    snprintf(p.core, sizeof p.core, "SkylakeX");
    char line[160];
    ug_blas_probe_format(&p, line, sizeof line);
    CHECK(strcmp(line, "probe core=SkylakeX gflops=121.250 max_err=2.1e-07 threads=2") == 0, "format: %s", line);
    CHECK(ug_blas_probe_parse(line, &q) && strcmp(q.core, "SkylakeX") == 0 && q.gflops == 121.25 &&
              fabs(q.max_err - 2.1e-7) < 1e-12 && q.threads == 2,
          "round trip");
    struct {
        const char *text;
        bool ok;
        const char *core;
        double gflops;
    } rows[] = {
        {"noise\nprobe core=Haswell gflops=80.5 max_err=1e-07 threads=1\nmore", true, "Haswell", 80.5},
        {"probe threads=1 max_err=0 gflops=3 core=Prescott", true, "Prescott", 3},
        {"probe core=Zen gflops=nan max_err=nan threads=2", true, "Zen", NAN},
        {"probe core=Zen gflops=80 threads=2", false, "", 0},        /* max_err missing */
        {"probe core= gflops=80 max_err=0 threads=2", false, "", 0}, /* empty core */
        {"probe core=Zen gflops=8x max_err=0 threads=2", false, "", 0},
        {"xprobe core=Zen gflops=8 max_err=0 threads=2", false, "", 0},
        {"probe", false, "", 0},
        {"", false, "", 0},
        {NULL, false, "", 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bool ok = ug_blas_probe_parse(rows[i].text, &q);
        CHECK(ok == rows[i].ok, "parse '%s': %d", rows[i].text ? rows[i].text : "NULL", ok);
        if (ok && rows[i].ok)
            CHECK(strcmp(q.core, rows[i].core) == 0 && (isnan(rows[i].gflops) ? isnan(q.gflops) : q.gflops == rows[i].gflops),
                  "parse '%s': core %s gflops %g", rows[i].text, q.core, q.gflops);
    }
    /* usable: ran, took the core asked for, results right */
    struct {
        const char *req, *core;
        double gflops, err;
        bool usable;
    } use[] = {
        {"SkylakeX", "SkylakeX", 120, 2e-7, true},
        {"skylakex", "SkylakeX", 120, 2e-7, true},
        {"SapphireRapids", "Cooperlake", 120, 2e-7, false}, /* this OpenBLAS has no such core */
        {"Haswell", "Haswell", 80, 0.5, false},             /* wrong results */
        {"Haswell", "Haswell", 80, NAN, false},
        {"Haswell", "Haswell", 0, 0, false},
        {NULL, "Haswell", 80, 0, false},
    };
    for (size_t i = 0; i < sizeof use / sizeof use[0]; i++) {
        ug_blas_probe r = {.gflops = use[i].gflops, .max_err = use[i].err};
        snprintf(r.core, sizeof r.core, "%s", use[i].core);
        CHECK(ug_blas_probe_usable(use[i].req, &r) == use[i].usable, "usable %s/%s", use[i].req ? use[i].req : "NULL",
              use[i].core);
    }
}

static void test_verdict(void) {
    ug_blas_advice bad, good, haswell;
    ug_cpu_isa c = cpu_avx512(true);
    ug_blas_advise("Prescott", &c, &bad);
    ug_blas_advise("SkylakeX", &c, &good);
    ug_blas_advise("Haswell", &c, &haswell);
    CHECK(ug_blas_is_slow(&bad, 18, "SkylakeX", 120), "Prescott on AVX-512 is slow");
    CHECK(ug_blas_is_slow(&bad, 18, NULL, 0), "slow even with no candidate verified");
    CHECK(!ug_blas_is_slow(&good, 120, "Cooperlake", 125), "SkylakeX: chosen well");
    CHECK(!ug_blas_is_slow(&good, 60, "Cooperlake", 125), "SkylakeX: noise between equal levels is no verdict");
    CHECK(!ug_blas_is_slow(&haswell, 100, "SkylakeX", 110), "Haswell within 25%% of SkylakeX: fine");
    CHECK(ug_blas_is_slow(&haswell, 80, "SkylakeX", 120), "Haswell at 2/3 of SkylakeX: slow");
    CHECK(!ug_blas_is_slow(&haswell, 80, NULL, 0), "Haswell and nothing better verified");
}

static void test_pick(void) {
    const char *cores[] = {"SkylakeX", "Cooperlake", "SkylakeX", "Haswell"};
    struct {
        const char *what;
        double rate[4];
        bool ok[4];
        int want;
    } rows[] = {
        {"clear winner", {120, 90, 100, 60}, {1, 1, 1, 1}, 0},
        {"noise: Haswell a hair faster", {65.8, 70.6, 70.3, 71.1}, {1, 1, 1, 1}, 0},
        {"Haswell far ahead", {50, 50, 50, 100}, {1, 1, 1, 1}, 3},
        {"the fastest unusable", {10, 12, 11, 300}, {1, 1, 1, 0}, 1},
        {"only the lowest usable", {100, 100, 100, 40}, {0, 0, 0, 1}, 3},
        {"none usable", {100, 100, 100, 40}, {0, 0, 0, 0}, -1},
        {"a NaN rate is never picked", {NAN, 50, 0, 0}, {1, 1, 0, 0}, 1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int got = ug_blas_pick(cores, rows[i].rate, rows[i].ok, 4);
        CHECK(got == rows[i].want, "%s: picked %d, want %d", rows[i].what, got, rows[i].want);
    }
}

/* The real sgemm: any correct kernel set stays far below the tolerance. */
static void test_rate(void) {
    ug_sgemm_rate r;
    CHECK(ug_blas_sgemm_rate(0.05, true, &r) == 0, "measure");
    CHECK(r.gflops > 0 && r.calls >= 6 && r.seconds > 0, "rate %.1f GFLOP/s, %d calls, %.3f s", r.gflops, r.calls,
          r.seconds);
    CHECK(r.max_err >= 0 && r.max_err < UG_BLAS_ERR_TOL, "max rel err %.3g", r.max_err);
    ug_blas_info bi;
    ug_blas_info_get(&bi);
    char d[256];
    ug_blas_describe(&bi, d, sizeof d);
    printf("this machine: %s (config: %s)\n", d, bi.config);
    CHECK(strstr(d, "cpu=") != NULL, "description: %s", d);
}

int main(void) {
    test_cpu_level();
    test_core_isa();
    test_advice();
    test_config();
    test_describe_and_warning();
    test_probe();
    test_verdict();
    test_pick();
    test_rate();
    return CHECK_DONE();
}
