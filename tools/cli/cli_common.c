/* cli_common.c — what the subcommands share: getopt_long and the messages of a refused command line,
 * opening the store, finding a run, time and width formatting, the path of this binary, and the check
 * that what a command wrote reached its file. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "unigfn/host/run_lookup.h"
#include "unigfn/host/util.h"

ug_store *cli_open_store(cli_env *env, ug_store_mode mode) {
    ug_store *st = NULL;
    ug_error err = {0};
    if (ug_store_open_as(env->db_path, mode, &st, &err)) {
        bool absent = mode != UG_STORE_CREATE && access(env->db_path, F_OK) != 0 && errno == ENOENT;
        fprintf(stderr, "unigfn: %s%s\n", err.msg,
                absent ? " (--db PATH names the database; `unigfn run` creates one)" : "");
        return NULL;
    }
    return st;
}

int cli_close_output(const char *cmd, FILE *f, const char *path) {
    if (!f) return 0;
    int e = 0;
    if (fflush(f) != 0) e = errno;
    bool bad = e != 0 || ferror(f);
    if (f != stdout && fclose(f) != 0 && !bad) {
        e = errno;
        bad = true;
    }
    if (!bad) return 0;
    fprintf(stderr, "unigfn%s%s: cannot write %s: %s\n", cmd ? " " : "", cmd ? cmd : "",
            f == stdout || !path ? "standard output" : path, e ? strerror(e) : "a write failed");
    return 1;
}

void cli_fmt_time(double t, char *buf, size_t cap) {
    if (t <= 0) { snprintf(buf, cap, "-"); return; }
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

void cli_self_exe(char *out, size_t cap) {
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);
    if (n <= 0) snprintf(out, cap, "/proc/self/exe");
    else out[n] = 0;
}

void cli_names_add(cli_names *ns, const char *name) {
    if (!name || cli_names_has(ns, name) || ns->n == CLI_NAMES_MAX) return;
    if ((ns->names[ns->n] = strdup(name))) ns->n++;
}

bool cli_names_has(const cli_names *ns, const char *name) {
    for (int k = 0; k < ns->n; k++)
        if (strcmp(ns->names[k], name) == 0) return true;
    return false;
}

void cli_names_free(cli_names *ns) {
    for (int k = 0; k < ns->n; k++) free(ns->names[k]);
    ns->n = 0;
}

static int add_metric_name(void *user, const ug_metric_summary *m) {
    cli_names_add(user, m->key);
    return 0;
}

void cli_metric_names(ug_store *st, const ug_rd_set *sel, cli_names *out) {
    ug_error err = {0};
    for (int i = 0; i < sel->n; i++) (void)ug_store_last_metrics(st, sel->runs[i].id, add_metric_name, out, &err);
}

void cli_unknown_name(const char *cmd, const char *what, const char *name, const cli_names *ns) {
    const char *near = ug_closest_name(name, (const char *const *)ns->names, ns->n);
    char shown[256], near_shown[256];
    ug_shown(name, SIZE_MAX, shown, sizeof shown);
    if (near)
        fprintf(stderr, "unigfn %s: %s '%s' (did you mean '%s'?)\n", cmd, what, shown,
                ug_shown(near, SIZE_MAX, near_shown, sizeof near_shown));
    else
        fprintf(stderr, "unigfn %s: %s '%s'\n", cmd, what, shown);
}

/* The vector being scanned and its long options: a new vector restarts getopt (optind = 0 is glibc's
 * full reset), and cli_bad_option names the options it could have meant. */
static char **g_scanning;
static const struct option *g_longopts;

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts) {
    if (argv != g_scanning) {
        optind = 0;
        g_scanning = argv;
    }
    g_longopts = longopts;
    opterr = 0;
    return getopt_long(argc + 1, argv - 1, shortopts, longopts, NULL);
}

char **cli_operands(int argc, char **argv, int *n) {
    int first = optind - 1;  /* getopt's index counts the command name argv[-1] */
    if (first < 0) first = 0;
    if (first > argc) first = argc;
    *n = argc - first;
    return argv + first;
}

/* The command a synopsis line starts ("usage: unigfn report table ..." or "       unigfn report curves"),
 * as a pointer to its "unigfn ", or NULL for a line that continues the one before. */
static const char *synopsis_head(const char *line, size_t n) {
    size_t i = strncmp(line, "usage: ", 7) == 0 ? 7 : 0;
    while (i < n && line[i] == ' ') i++;
    return n - i > 7 && strncmp(line + i, "unigfn ", 7) == 0 ? line + i : NULL;
}

void cli_synopsis(const char *cmd, const char *usage) {
    if (!usage) return;
    /* the "usage:" line and the lines continuing it (indented deeper than the two spaces of the text);
     * where it has one form per subcommand (report), only the form of cmd */
    char want[80];
    snprintf(want, sizeof want, "unigfn %s ", cmd);
    const char *end = usage;
    int heads = 0, matching = 0;
    for (bool first = true; *end; first = false) {
        size_t n = strcspn(end, "\n");
        if (!first && !(n >= 4 && strncmp(end, "    ", 4) == 0)) break;
        const char *h = synopsis_head(end, n);
        heads += h != NULL;
        matching += h && strncmp(h, want, strlen(want)) == 0;
        end += n + (end[n] == '\n');
    }
    bool has_form = matching > 0 && matching < heads;
    bool mine = !has_form;
    for (const char *p = usage; p < end;) {
        size_t n = strcspn(p, "\n");
        const char *h = synopsis_head(p, n);
        if (h && has_form) mine = strncmp(h, want, strlen(want)) == 0;
        if (mine && h && has_form) fprintf(stderr, "usage: %.*s\n", (int)(n - (size_t)(h - p)), h);
        else if (mine) fprintf(stderr, "%.*s\n", (int)n, p);
        p += n + (p[n] == '\n');
    }
    if (*end) fprintf(stderr, "(`unigfn %s -h` says more%s)\n", cmd, strstr(usage, "\nexamples:\n") ? ", with examples" : "");
}

int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "unigfn %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    cli_synopsis(cmd, usage);
    return 2;
}

int cli_extra_operand(const char *cmd, const char *usage, const char *what, const char *arg) {
    char shown[160];
    return cli_usage_error(cmd, usage, "unexpected argument '%s' (%s)", ug_shown(arg, SIZE_MAX, shown, sizeof shown),
                           what);
}

/* An unknown "--name": the long options it is a prefix of (ambiguous), or the closest one. */
static void say_unknown_long(const char *cmd, const char *opt) {
    const char *names[64];
    char dashed[64][40];
    int n = 0, n_prefix = 0;
    const char *name = opt + 2;
    size_t len = strcspn(name, "=");
    char prefixes[300] = "";
    for (const struct option *o = g_longopts; o && o->name && n < 64; o++) {
        snprintf(dashed[n], sizeof dashed[n], "--%s", o->name);
        names[n] = dashed[n];
        if (len > 0 && strncmp(o->name, name, len) == 0) {
            size_t l = strlen(prefixes);
            snprintf(prefixes + l, sizeof prefixes - l, "%s--%s", n_prefix++ ? ", " : "", o->name);
        }
        n++;
    }
    char shown[300], key[256];
    ug_shown(opt, SIZE_MAX, shown, sizeof shown);
    if (n_prefix > 1) {
        fprintf(stderr, "unigfn %s: option '%s' is ambiguous: %s\n", cmd, shown, prefixes);
        return;
    }
    snprintf(key, sizeof key, "%.*s", (int)(len + 2 < sizeof key ? len + 2 : sizeof key - 1), opt);
    const char *near = ug_closest_name(key, names, n);
    if (near) fprintf(stderr, "unigfn %s: unknown option '%s' (did you mean '%s'?)\n", cmd, shown, near);
    else fprintf(stderr, "unigfn %s: unknown option '%s'\n", cmd, shown);
}

int cli_bad_option(const char *cmd, int c, char **argv, const char *usage) {
    char opt[256], shown[300];
    /* the element getopt just stepped over, argv[optind - 1] of its vector (which starts at argv[-1]) */
    const char *elt = optind >= 2 ? argv[optind - 2] : "?";
    bool is_long = strncmp(elt, "--", 2) == 0;
    if (optopt > 0 && optopt < 128 && !is_long) snprintf(opt, sizeof opt, "-%c", optopt);
    else snprintf(opt, sizeof opt, "%s", elt);
    if (c == ':') {
        /* the option was right and only its value is missing: one line, no usage */
        opt[strcspn(opt, "=")] = 0;
        fprintf(stderr, "unigfn %s: %s needs a value\n", cmd, ug_shown(opt, SIZE_MAX, shown, sizeof shown));
        return 2;
    }
    if (is_long && optopt != 0 && strchr(opt, '=')) {
        opt[strcspn(opt, "=")] = 0;  /* glibc sets optopt only for a known option given a value it does not take */
        fprintf(stderr, "unigfn %s: option '%s' takes no value\n", cmd, ug_shown(opt, SIZE_MAX, shown, sizeof shown));
    } else if (is_long) {
        say_unknown_long(cmd, opt);
    } else {
        fprintf(stderr, "unigfn %s: unknown option '%s'\n", cmd, ug_shown(opt, SIZE_MAX, shown, sizeof shown));
    }
    cli_synopsis(cmd, usage);
    return 2;
}

typedef struct ids_ctx {
    cli_names ids;      /* every run id, or its first `n` characters */
    const char *prefix; /* the ambiguous prefix: the ids it names */
    size_t n;
} ids_ctx;

static int add_id(void *user, const ug_run_row *r) {
    ids_ctx *c = user;
    if (c->prefix && strncmp(r->id, c->prefix, strlen(c->prefix)) != 0) return 0;
    char cut[64];
    snprintf(cut, sizeof cut, "%.*s", (int)(c->n < sizeof cut - 1 ? c->n : sizeof cut - 1), r->id);
    cli_names_add(&c->ids, cut);
    return 0;
}

int cli_find_run(ug_store *st, const char *cmd, const char *db_path, const char *run, char *id, size_t cap) {
    ug_error err = {0};
    if (ug_find_run(st, run, id, cap, &err) == UG_OK) return 0;
    char shown[160];
    ug_shown(run, SIZE_MAX, shown, sizeof shown);
    ids_ctx c = {.n = strlen(run)};
    if (err.code != UG_ERR_ARG) {
        fprintf(stderr, "unigfn %s: %s\n", cmd, err.msg);
    } else if (strstr(err.msg, "ambiguous")) {
        c.prefix = run;
        c.n = 64;
        (void)ug_store_list_runs(st, NULL, NULL, add_id, &c, &err);
        fprintf(stderr, "unigfn %s: run id prefix '%s' is ambiguous: it begins %d runs (", cmd, shown, c.ids.n);
        for (int i = 0; i < c.ids.n && i < 4; i++) fprintf(stderr, "%s%s", i ? ", " : "", c.ids.names[i]);
        fprintf(stderr, "%s); give more of the id\n", c.ids.n > 4 ? ", ..." : "");
    } else {
        /* A mistyped id: the closest prefix of the same length (too short a prefix suggests noise). */
        if (c.n >= 4) (void)ug_store_list_runs(st, NULL, NULL, add_id, &c, &err);
        char what[400];
        snprintf(what, sizeof what, "no run in %s with an id beginning", db_path);
        cli_unknown_name(cmd, what, run, &c.ids);
    }
    cli_names_free(&c.ids);
    return 1;
}

size_t cli_width(const char *s) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) n += (*p & 0xc0) != 0x80;
    return n;
}

const char *cli_fit(const char *s, size_t width, char *out, size_t cap) {
    ug_shown_text(s ? s : "-", SIZE_MAX, out, cap);
    if (width == 0 || cli_width(out) <= width) return out;
    size_t chars = 0, i = 0;
    for (; out[i]; i++) {
        if (((unsigned char)out[i] & 0xc0) != 0x80 && chars++ == width - 1) break;
    }
    if (i + 4 <= cap) memcpy(out + i, "\xe2\x80\xa6", 4);  /* U+2026 HORIZONTAL ELLIPSIS and the NUL */
    return out;
}

void cli_fmt_duration(double t, char *buf, size_t cap) {
    if (!(t >= 0) || isinf(t)) { snprintf(buf, cap, "-"); return; }
    if (t < 9.95) { snprintf(buf, cap, "%.1fs", t); return; }
    long long s = llround(t);
    if (s < 60) snprintf(buf, cap, "%llds", s);
    else if (s < 3600) snprintf(buf, cap, "%lldm%02llds", s / 60, s % 60);
    else snprintf(buf, cap, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
}

ug_run_record *cli_open_run(cli_env *env, const char *cmd, ug_store_mode mode, const char *run, ug_store **st) {
    *st = cli_open_store(env, mode);
    if (!*st) return NULL;
    char id[64];
    ug_run_record *r = NULL;
    ug_error err = {0};
    if (cli_find_run(*st, cmd, env->db_path, run, id, sizeof id)) return NULL;
    if (ug_store_get_run(*st, id, &r, &err)) fprintf(stderr, "unigfn %s: %s\n", cmd, err.msg);
    return r;
}
