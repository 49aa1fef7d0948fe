/* cli_args.c — the one strict parser of numeric command-line arguments (issue 20: `sample -n 3x` gave
 * 3, `-n 1e3` gave 1, `gc --stale abc` gave 0 s and marked live runs CRASHED). Every numeric option of
 * every command goes through cli_int_arg or cli_num_arg: the whole argument must be one number (no
 * leading space, no trailing junk, base 10; for numbers also no hex, nan or inf), within the range the
 * option states, without overflow (errno). A refusal prints one line saying what the option wants
 * and what it got, e.g.
 *     unigfn gc: --stale must be a number of seconds, got 'abc'
 *     unigfn sample: -n must be a whole number from 1 to 1000000000, got '99999999999999999999'
 * and the command exits 2. The echoed argument has its unprintable bytes escaped (ug_shown, which every
 * message that echoes a file's or the user's bytes uses). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unigfn/host/util.h"

/* The argument as it may be shown (ug_shown: unprintable bytes as \xNN), at most ~60 characters. */
static void shown(const char *s, char *out, size_t cap) {
    ug_shown(s, SIZE_MAX, out, cap < 64 ? cap : 64);
}

/* 1000000000, not 1e+09; 0.01 as %g writes it */
static const char *bound(double v, char *buf, size_t cap) {
    if (v == floor(v) && fabs(v) < 1e15) snprintf(buf, cap, "%.0f", v);
    else snprintf(buf, cap, "%g", v);
    return buf;
}

cli_parse cli_parse_ll(const char *s, long long lo, long long hi, long long *out) {
    if (!s || !*s || isspace((unsigned char)*s)) return CLI_PARSE_BAD;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end) return CLI_PARSE_BAD;
    if (errno == ERANGE || v < lo || v > hi) return CLI_PARSE_RANGE;
    *out = v;
    return CLI_PARSE_OK;
}

cli_parse cli_parse_double(const char *s, double lo, double hi, double *out) {
    if (!s || !*s) return CLI_PARSE_BAD;
    /* decimal notation only: strtod would also take " 5", "0x1p3", "nan" and "infinity" */
    for (const char *p = s; *p; p++)
        if (!(isdigit((unsigned char)*p) || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-'))
            return CLI_PARSE_BAD;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end) return CLI_PARSE_BAD;
    if (errno == ERANGE || !isfinite(v) || v < lo || v > hi) return CLI_PARSE_RANGE;
    *out = v;
    return CLI_PARSE_OK;
}

bool cli_int_arg(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out) {
    cli_parse r = cli_parse_ll(s, lo, hi, out);
    if (r == CLI_PARSE_OK) return true;
    char v[96];
    shown(s ? s : "", v, sizeof v);
    if (r == CLI_PARSE_BAD)
        fprintf(stderr, "unigfn %s: %s must be a whole number, got '%s'\n", cmd, opt, v);
    else
        fprintf(stderr, "unigfn %s: %s must be a whole number from %lld to %lld, got '%s'\n", cmd, opt, lo, hi, v);
    return false;
}

bool cli_int_arg_i(const char *cmd, const char *opt, const char *s, int lo, int hi, int *out) {
    long long v;
    if (!cli_int_arg(cmd, opt, s, lo, hi, &v)) return false;
    *out = (int)v;
    return true;
}

bool cli_num_arg(const char *cmd, const char *opt, const char *what, const char *s, double lo, double hi,
                 double *out) {
    cli_parse r = cli_parse_double(s, lo, hi, out);
    if (r == CLI_PARSE_OK) return true;
    char v[96];
    shown(s ? s : "", v, sizeof v);
    if (r == CLI_PARSE_BAD)
        fprintf(stderr, "unigfn %s: %s must be %s, got '%s'\n", cmd, opt, what, v);
    else {
        char a[40], b[40];
        fprintf(stderr, "unigfn %s: %s must be %s from %s to %s, got '%s'\n", cmd, opt, what, bound(lo, a, sizeof a),
                bound(hi, b, sizeof b), v);
    }
    return false;
}
