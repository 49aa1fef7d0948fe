/* blas_info.h — what the BLAS under unigfn is and how fast it runs here: the library, its version, the
 * kernel set it chose (OpenBLAS's DYNAMIC_ARCH picks one at load time from the CPU), its threads, and
 * the CPU's vector ISA as cpuid and the OS's XSAVE state report it. A Debian OpenBLAS 0.3.21 on an
 * AVX-512 Xeon was seen picking its Prescott (SSE3) kernels: 17-22 GFLOP/s instead of 96-137 with
 * OPENBLAS_CORETYPE=SkylakeX, same results. The run rows record ug_blas_describe's line, the runner and
 * the benchmarks warn through ug_blas_check, and `unigfn doctor` measures each candidate core.
 *
 * Host header owned by backend (core/src/backend/cpu/blas_info.c): it is numerics-side code (cblas,
 * cpuid) that prints nothing. The OpenBLAS calls are weak symbols, so another BLAS still links and
 * reads as library "unknown". The classifying, advising, formatting and parsing functions are pure
 * (no cpuid, no BLAS, no environment) and table-tested in tests/test_blas_info.c. */
#ifndef UG_BLAS_INFO_H
#define UG_BLAS_INFO_H

#include <stdbool.h>
#include <stddef.h>

/* Vector ISA levels, ordered: a kernel set of a level runs on every CPU of that level or above. */
typedef enum ug_isa {
    UG_ISA_UNKNOWN = 0, /* not x86, or a kernel name not in the table */
    UG_ISA_SSE,         /* SSE2..SSE4.2: Prescott, Core2, Nehalem, Atom, generic, ... */
    UG_ISA_AVX,         /* AVX without FMA: Sandybridge, Bulldozer, ... */
    UG_ISA_AVX2,        /* AVX2 + FMA: Haswell, Zen */
    UG_ISA_AVX512,      /* AVX-512 F/DQ/BW/VL: SkylakeX, Cooperlake, SapphireRapids */
} ug_isa;

/* "sse", "avx", "avx2", "avx512", "unknown". */
const char *ug_isa_name(ug_isa isa);

/* What cpuid says (flags) and what the OS saves on a context switch (XGETBV's XCR0). */
typedef struct ug_cpu_isa {
    bool x86;             /* false: nothing below is known */
    char vendor[16];      /* "GenuineIntel", "AuthenticAMD", ... */
    char brand[64];       /* the processor brand string, trimmed */
    int family, model;    /* display family and model */
    bool sse2, sse3, ssse3, sse41, sse42, avx, fma, avx2;
    bool avx512f, avx512dq, avx512bw, avx512vl, avx512_vnni, avx512_bf16, avx512_fp16, amx;
    bool os_avx;          /* OSXSAVE and XCR0 has SSE and YMM state */
    bool os_avx512;       /* ... and opmask, ZMM_Hi256 and Hi16_ZMM state */
} ug_cpu_isa;

/* cpuid and xgetbv on this machine (x86 = false elsewhere). */
void ug_cpu_isa_get(ug_cpu_isa *out);
/* Pure: the highest level both the CPU and the OS support. */
ug_isa ug_cpu_isa_level(const ug_cpu_isa *c);

/* Pure: the ISA of an OpenBLAS kernel set by its corename (case-insensitive), UNKNOWN when not in the
 * table (non-x86 names included). */
ug_isa ug_blas_core_isa(const char *corename);

typedef struct ug_blas_info {
    char library[32];      /* "OpenBLAS", or "unknown" when the OpenBLAS calls are absent */
    char version[32];      /* "0.3.21"; "" when unknown */
    char corename[32];     /* openblas_get_corename(): the kernel set in use; "" when unknown */
    char config[192];      /* openblas_get_config(); "" when unknown */
    int threads;           /* openblas_get_num_threads(); 0 when unknown */
    int parallel;          /* openblas_get_parallel(): 0 sequential, 1 pthreads, 2 OpenMP; -1 unknown */
    bool openmp;           /* unigfn's own elementwise kernels were built with OpenMP */
    char coretype_env[32]; /* OPENBLAS_CORETYPE as found in the environment; "" unset */
    char blas_core[32];    /* UG_BLAS_CORE_ENV: how `--blas-core` chose it ("auto"); "" when not used */
    ug_cpu_isa cpu;
} ug_blas_info;

/* Set by `--blas-core auto` in the process it re-executes with OPENBLAS_CORETYPE chosen (recorded). */
#define UG_BLAS_CORE_ENV "UNIGFN_BLAS_CORE"
/* Set by a parent that has already checked the BLAS and warned (a sweep, for its jobs): ug_blas_check
 * then measures nothing and returns false. */
#define UG_BLAS_CHECKED_ENV "UNIGFN_BLAS_CHECKED"

/* Everything above, now (cheap: no measurement). */
void ug_blas_info_get(ug_blas_info *out);

/* Pure: library and version from openblas_get_config()'s text ("OpenBLAS 0.3.21 NO_LAPACKE ...").
 * library = "unknown", version = "" when the text is NULL or not of that form. */
void ug_blas_parse_config(const char *config, char *library, size_t lcap, char *version, size_t vcap);

/* Pure: the one-line description a run row records and the benchmarks print, e.g.
 * "OpenBLAS 0.3.21 SkylakeX threads=2 cpu=avx512" (+ " OPENBLAS_CORETYPE=X" when set,
 * + " blas-core=auto" when chosen by --blas-core). Returns what snprintf returns. */
int ug_blas_describe(const ug_blas_info *bi, char *buf, size_t cap);

#define UG_BLAS_MAX_CANDIDATES 4
typedef struct ug_blas_advice {
    ug_isa core_level, cpu_level;
    bool warn;     /* the kernel is far below the CPU (two levels or more: SSE on AVX2, AVX on AVX-512)
                      and there is a candidate to try */
    int n_candidates;
    const char *candidates[UG_BLAS_MAX_CANDIDATES]; /* OPENBLAS_CORETYPE values for this CPU, best first */
} ug_blas_advice;

/* Pure: whether to warn about `corename` on this CPU, and the cores to try for it (AVX-512: Cooperlake
 * when it has AVX512_BF16, SkylakeX, Haswell; AVX2: Haswell and Zen, vendor's first; AVX: Sandybridge).
 * Candidates are listed whatever the kernel in use; `unigfn doctor` measures them. */
void ug_blas_advise(const char *corename, const ug_cpu_isa *cpu, ug_blas_advice *out);

/* ---- measuring ---- */
/* The GEMMs of the project's MLP layers (M = 512 rows, N = K = 256): forward x w^T (NT), weight
 * gradient g^T x (TN, beta 1), input gradient g w (NN), run round for at least `seconds` on the current
 * thread count. With check, each shape and an odd-sized one are also compared against a float64
 * reference GEMM: max_err = max |c - ref| / sum_k |a||b| (a correct float32 GEMM stays below ~K u =
 * 1.5e-5; a broken kernel is O(1)). */
typedef struct ug_sgemm_rate {
    double gflops;
    double max_err;  /* NaN when not checked */
    double seconds;  /* measured */
    int calls;
} ug_sgemm_rate;
#define UG_BLAS_ERR_TOL 1e-4
/* 0, or -1 when out of memory. */
int ug_blas_sgemm_rate(double seconds, bool check, ug_sgemm_rate *out);

/* Pure: the warning text (no "unigfn: warning: " prefix, no newline), e.g. "OpenBLAS 0.3.21 runs its
 * Prescott kernels (sse) on this avx512 CPU: sgemm 18.2 GFLOP/s on 2 threads; try `export
 * OPENBLAS_CORETYPE=SkylakeX` (`unigfn doctor` measures and checks each candidate)". */
int ug_blas_warning_text(const ug_blas_info *bi, const ug_blas_advice *adv, double gflops, char *buf,
                         size_t cap);

/* The runner's and the benchmarks' start-up check: fills *bi (ug_blas_info_get); when the kernel is far
 * below the CPU (ug_blas_advise) and UG_BLAS_CHECKED_ENV is not set, measures the sgemm rate (a quarter
 * of a second), writes the warning text into `warning` and returns true. All is well: false, and no
 * time spent. The caller prints the text (ug_message(UG_LOG_WARN, ...)). */
bool ug_blas_check(ug_blas_info *bi, char *warning, size_t cap);

/* ---- `unigfn doctor --probe`: one machine-readable line from a child process ---- */
typedef struct ug_blas_probe {
    char core[32];   /* the kernel set the child's OpenBLAS chose */
    double gflops, max_err;
    int threads;
} ug_blas_probe;
/* "probe core=SkylakeX gflops=121.300 max_err=2.1e-07 threads=2" (no newline). */
int ug_blas_probe_format(const ug_blas_probe *p, char *buf, size_t cap);
/* Pure: finds the first line of `text` that starts with "probe " and reads it; false when there is none
 * or a field is missing or malformed. */
bool ug_blas_probe_parse(const char *text, ug_blas_probe *out);

/* Pure: a candidate is usable when its child ran, OpenBLAS took the core asked for (an unknown name
 * falls back to another core silently), and its results matched the reference. */
bool ug_blas_probe_usable(const char *requested, const ug_blas_probe *p);

/* Pure: which of n measured candidates to recommend: among the usable ones within 15% of the fastest,
 * the one of the highest ISA level (the earliest of those on a tie), so that noise between near-equal
 * rates on a busy machine never prefers a lower kernel set. -1 when none is usable. */
#define UG_BLAS_PICK_BAND 0.85
int ug_blas_pick(const char *const *cores, const double *gflops, const bool *usable, int n);

/* Pure: the doctor's verdict. Slow when the kernel in use is far below the CPU (adv->warn) or a usable
 * candidate of a higher ISA level measured at least 1.25 times the current rate. */
bool ug_blas_is_slow(const ug_blas_advice *adv, double current_gflops, const char *best_core, double best_gflops);

#endif
