/* cmd_ls.c — `unigfn ls`: one line per run in the database: id, status, steps done of the spec's
 * train.steps, wall time, experiment, the last value of one metric, tags, note, and the params that
 * tell the run apart from the other listed runs of its experiment (keys every one of them has with
 * the same value are left out: they would repeat on every line). Strings of the database are escaped
 * (ug_shown_text) and long ones cut with an ellipsis, so one run stays one line. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unigfn/host/util.h"

/* How wide a cell may get before it is cut with an ellipsis. */
#define W_EXPERIMENT 28
#define W_TAGS 24
#define W_NOTE 24
#define W_VALUE 20   /* one param value */
#define W_PARAMS 72  /* all of them */

enum { C_ID, C_STATUS, C_STEPS, C_DURATION, C_EXPERIMENT, C_METRIC, C_TAGS, C_NOTE, C_PARAMS, N_COLS };
static const char *const HEADERS[N_COLS] = {"id", "status", "steps", "duration", "experiment", NULL,
                                            "tags", "note", "params"};

typedef struct ls_item {
    char *id;
    bool has_metric;
    double metric;
    ug_run_record *r;
    char cell[N_COLS][512];
} ls_item;

typedef struct ls_list {
    ls_item *v;
    int n, cap;
    bool oom;
} ls_list;

static int collect(void *user, const ug_run_row *row) {
    ls_list *l = user;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        ls_item *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) { l->oom = true; return 1; }
        l->v = v, l->cap = cap;
    }
    ls_item *it = &l->v[l->n];
    memset(it, 0, sizeof *it);
    if (!(it->id = strdup(row->id))) { l->oom = true; return 1; }
    it->has_metric = row->has_metric;
    it->metric = row->metric_last;
    l->n++;
    return 0;
}

static void free_list(ls_list *l) {
    for (int i = 0; i < l->n; i++) {
        free(l->v[i].id);
        ug_run_record_free(l->v[i].r);
    }
    free(l->v);
}

/* The value of param `key` of r: 1 and *v when it has the key (*v may be NULL), 0 when not. */
static int param_of(const ug_run_record *r, const char *key, const char **v) {
    int lo = 0, hi = r->n_params - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(r->param_keys[mid], key);
        if (c == 0) { *v = r->param_values[mid]; return 1; }
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return 0;
}

static bool same_value(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

typedef struct kv_ref { const char *k, *v; } kv_ref;
static int by_key(const void *a, const void *b) { return strcmp(((const kv_ref *)a)->k, ((const kv_ref *)b)->k); }
static int str_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }
static int key_cmp(const void *key, const void *elt) { return strcmp(key, *(const char *const *)elt); }

/* A key that varies in an experiment, with how it splits the experiment's runs: sig[i] is the number
 * of the i-th run's value in order of first appearance (absent included), so two keys with the same
 * sig change together. */
typedef struct vkey {
    const char *k;
    int *sig;
    bool hidden;   /* stood for by another key of its group */
} vkey;

/* qsort has no context argument: the values being ranked (one per run; `absent` marks a missing key). */
static const char *const *g_vals;
static const char g_absent[] = "";
static int by_value(const void *a, const void *b) {
    const char *x = g_vals[*(const int *)a], *y = g_vals[*(const int *)b];
    if (x == y) return *(const int *)a - *(const int *)b;
    if (x == g_absent || y == g_absent) return x == g_absent ? -1 : 1;
    if (!x || !y) return !x ? -1 : 1;
    int c = strcmp(x, y);
    return c ? c : *(const int *)a - *(const int *)b;
}
static int g_group;
static int by_sig(const void *a, const void *b) {
    const vkey *x = a, *y = b;
    int c = memcmp(x->sig, y->sig, (size_t)g_group * sizeof *x->sig);
    return c ? c : strcmp(x->k, y->k);
}

/* Keys that change together in more than GROUP_SHOWN of them (an objective swapped for another swaps
 * its dozens of settings) are shown by one of them, the shortest, and a note says so. */
#define GROUP_SHOWN 3

/* Fills the params cell of each run of experiment `ex`: the keys whose value is not the same in every
 * listed run of it (a key some of them lack counts as differing), sorted by key. "X.plugin" is left out
 * when X holds the same name (model: ddpm and model.plugin: ddpm say one thing). Notes on keys that
 * stand for others go to *notes. */
static bool fill_params(ls_list *l, const char *ex, ug_sbuf *notes) {
    size_t total = 0;
    int group = 0;
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->v[i].r->experiment, ex) == 0) total += (size_t)l->v[i].r->n_params, group++;
    kv_ref *all = malloc((total ? total : 1) * sizeof *all);
    vkey *vk = malloc((total ? total : 1) * sizeof *vk);
    int *runs = malloc((size_t)group * sizeof *runs), *order = malloc((size_t)group * sizeof *order);
    const char **vals = malloc((size_t)group * sizeof *vals), **shown = malloc((total ? total : 1) * sizeof *shown);
    int *sigs = NULL;
    bool ok = all && vk && runs && order && vals && shown;
    size_t n = 0, n_vk = 0, n_shown = 0;
    for (int i = 0, g = 0; ok && i < l->n; i++) {
        const ug_run_record *r = l->v[i].r;
        if (strcmp(r->experiment, ex) != 0) continue;
        runs[g++] = i;
        for (int p = 0; p < r->n_params; p++) all[n++] = (kv_ref){r->param_keys[p], r->param_values[p]};
    }
    if (ok) qsort(all, n, sizeof *all, by_key);
    for (size_t a = 0, b; ok && a < n; a = b) {
        bool differ = false;
        for (b = a + 1; b < n && strcmp(all[b].k, all[a].k) == 0; b++) differ |= !same_value(all[b].v, all[a].v);
        if (differ || (int)(b - a) < group) vk[n_vk++] = (vkey){all[a].k, NULL, false};
    }
    ok = ok && (sigs = malloc((n_vk ? n_vk : 1) * (size_t)group * sizeof *sigs));
    for (size_t k = 0; ok && k < n_vk; k++) {
        int *sig = vk[k].sig = sigs + k * (size_t)group;
        for (int g = 0; g < group; g++) {
            order[g] = g;
            if (!param_of(l->v[runs[g]].r, vk[k].k, &vals[g])) vals[g] = g_absent;
        }
        g_vals = vals;
        qsort(order, (size_t)group, sizeof *order, by_value);
        for (int g = 0, cls = -1; g < group; g++) {  /* sig holds the class of equal values first */
            const char *x = g ? vals[order[g - 1]] : NULL, *y = vals[order[g]];
            if (g == 0 || !(x == y || (x != g_absent && y != g_absent && same_value(x, y)))) cls++;
            sig[order[g]] = cls;
        }
        for (int g = 0; g < group; g++) order[g] = -1;  /* then the classes renumbered by first appearance */
        for (int g = 0, next = 0; g < group; g++) {
            if (order[sig[g]] < 0) order[sig[g]] = next++;
            sig[g] = order[sig[g]];
        }
    }
    if (ok) {
        g_group = group;
        qsort(vk, n_vk, sizeof *vk, by_sig);
    }
    for (size_t a = 0, b; ok && a < n_vk; a = b) {
        for (b = a + 1; b < n_vk && memcmp(vk[a].sig, vk[b].sig, (size_t)group * sizeof *vk[a].sig) == 0; b++) {}
        if (b - a > GROUP_SHOWN) {
            size_t rep = a;
            for (size_t k = a + 1; k < b; k++)
                if (strlen(vk[k].k) < strlen(vk[rep].k)) rep = k;
            for (size_t k = a; k < b; k++) vk[k].hidden = k != rep;
            char ks[256], es[256];
            ug_sbuf_printf(notes, "params: %s stands for the %zu keys of %s that change with it (`unigfn diff` "
                                  "lists them)\n", ug_shown_text(vk[rep].k, SIZE_MAX, ks, sizeof ks), b - a - 1,
                           ug_shown_text(ex, SIZE_MAX, es, sizeof es));
        }
        for (size_t k = a; k < b; k++)
            if (!vk[k].hidden) shown[n_shown++] = vk[k].k;
    }
    if (ok) qsort(shown, n_shown, sizeof *shown, str_cmp);
    for (int g = 0; ok && g < group; g++) {
        ls_item *it = &l->v[runs[g]];
        const ug_run_record *r = it->r;
        ug_sbuf line = {0};
        for (int p = 0; p < r->n_params; p++) {
            const char *k = r->param_keys[p], *v = r->param_values[p], *owner;
            if (!bsearch(k, shown, n_shown, sizeof *shown, key_cmp)) continue;
            size_t kl = strlen(k);
            if (kl > 7 && strcmp(k + kl - 7, ".plugin") == 0) {
                char base[512];
                snprintf(base, sizeof base, "%.*s", (int)(kl - 7), k);
                if (param_of(r, base, &owner) && same_value(owner, v)) continue;
            }
            char ks[256], vs[256];
            ug_sbuf_printf(&line, "%s%s=%s", line.n ? " " : "", ug_shown_text(k, SIZE_MAX, ks, sizeof ks),
                           cli_fit(v ? v : "", W_VALUE, vs, sizeof vs));
        }
        cli_fit(line.s ? line.s : "", W_PARAMS, it->cell[C_PARAMS], sizeof it->cell[C_PARAMS]);
        free(line.s);
    }
    free(all);
    free(vk);
    free(runs);
    free(order);
    free(vals);
    free(shown);
    free(sigs);
    return ok;
}

static void fill_cells(ls_item *it) {
    const ug_run_record *r = it->r;
    ug_shown_text(r->id, SIZE_MAX, it->cell[C_ID], sizeof it->cell[C_ID]);
    snprintf(it->cell[C_STATUS], sizeof it->cell[C_STATUS], "%s", ug_run_status_name(r->status));
    const char *total = NULL;
    char tot[40];
    if (param_of(r, "train.steps", &total) && total)
        snprintf(it->cell[C_STEPS], sizeof it->cell[C_STEPS], "%lld/%s", (long long)r->step,
                 cli_fit(total, 16, tot, sizeof tot));
    else
        snprintf(it->cell[C_STEPS], sizeof it->cell[C_STEPS], "%lld", (long long)r->step);
    /* wall time from the start to the end, or to the last heartbeat of a run not ended */
    double end = r->ended > 0 ? r->ended : r->heartbeat;
    cli_fmt_duration(r->started > 0 && end > 0 ? end - r->started : NAN, it->cell[C_DURATION],
                     sizeof it->cell[C_DURATION]);
    cli_fit(r->experiment, W_EXPERIMENT, it->cell[C_EXPERIMENT], sizeof it->cell[C_EXPERIMENT]);
    if (it->has_metric) snprintf(it->cell[C_METRIC], sizeof it->cell[C_METRIC], "%.6g", it->metric);
    ug_sbuf tags = {0};
    for (int t = 0; t < r->n_tags; t++) ug_sbuf_printf(&tags, "%s%s", t ? "," : "", r->tags[t]);
    if (tags.s) cli_fit(tags.s, W_TAGS, it->cell[C_TAGS], sizeof it->cell[C_TAGS]);
    free(tags.s);
    if (r->note) cli_fit(r->note, W_NOTE, it->cell[C_NOTE], sizeof it->cell[C_NOTE]);
}

static bool has_tags(const ug_run_record *r, char **want, int n_want) {
    for (int w = 0; w < n_want; w++) {
        bool found = false;
        for (int t = 0; t < r->n_tags && !found; t++) found = strcmp(r->tags[t], want[w]) == 0;
        if (!found) return false;
    }
    return true;
}

static int add_experiment(void *user, const ug_run_row *r) {
    cli_names_add(user, r->experiment);
    return 0;
}

static int add_metric(void *user, const ug_metric_summary *m) {
    cli_names_add(user, m->key);
    return 0;
}

#define MAX_TAG_FILTERS 16

int cli_ls(cli_env *env, int argc, char **argv) {
    const char *metric = "loss", *experiment = NULL;
    bool metric_given = false;
    char *want_tags[MAX_TAG_FILTERS];
    int n_want = 0;
    static const char usage[] =
        "usage: unigfn ls [--metric KEY] [--experiment NAME] [--tag TAG ...]\n"
        "  one line per run: id, status, steps done/of train.steps, wall time, experiment, the last value\n"
        "  of KEY (default loss), tags, note, and the params that differ between the listed runs of its\n"
        "  experiment (keys they all share are left out); --tag: only the runs with every TAG given.\n"
        "  Exit 1 when no run is of --experiment NAME or has every --tag (the closest names are given).\n"
        "examples:\n"
        "  unigfn ls --experiment first-run-ddpm-checkerboard --metric nll\n"
        "  unigfn ls --tag baseline\n";
    static const struct option opts[] = {{"metric", required_argument, NULL, 'm'},
                                         {"experiment", required_argument, NULL, 'e'},
                                         {"tag", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = cli_getopt(argc, argv, ":h", opts)) != -1) {
        switch (c) {
        case 'm': metric = optarg, metric_given = true; break;
        case 'e': experiment = optarg; break;
        case 't':
            if (n_want == MAX_TAG_FILTERS) {
                fprintf(stderr, "unigfn ls: at most %d --tag filters\n", MAX_TAG_FILTERS);
                return 2;
            }
            want_tags[n_want++] = optarg;
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: return cli_bad_option("ls", c, argv, usage);
        }
    }
    int n_ops;
    char **ops = cli_operands(argc, argv, &n_ops);
    if (n_ops) return cli_extra_operand("ls", usage, "ls takes options only; `unigfn show RUN` shows one run", ops[0]);
    ug_store *st = cli_open_store(env, UG_STORE_READ);
    if (!st) return 1;
    ug_error err = {0};
    ls_list l = {0};
    int rc = 0;
    if (ug_store_list_runs(st, experiment, metric, collect, &l, &err)) {
        fprintf(stderr, "unigfn ls: %s\n", err.msg);
        rc = 1;
    }
    for (int i = 0; rc == 0 && !l.oom && i < l.n; i++)
        if (ug_store_get_run(st, l.v[i].id, &l.v[i].r, &err)) {
            fprintf(stderr, "unigfn ls: %s\n", err.msg);
            rc = 1;
        }
    if (rc == 0 && l.oom) {
        fprintf(stderr, "unigfn ls: out of memory\n");
        rc = 1;
    }
    if (rc == 0 && experiment && l.n == 0) {  /* a misspelt name, not an empty experiment: say which exist */
        cli_names ns = {.n = 0};
        (void)ug_store_list_runs(st, NULL, NULL, add_experiment, &ns, &err);
        cli_unknown_name("ls", "no run of experiment", experiment, &ns);
        cli_names_free(&ns);
        rc = 1;
    }
    if (rc == 0 && n_want > 0) {
        int kept = 0;
        cli_names all_tags = {.n = 0};
        for (int i = 0; i < l.n; i++) {
            for (int t = 0; t < l.v[i].r->n_tags; t++) cli_names_add(&all_tags, l.v[i].r->tags[t]);
            if (has_tags(l.v[i].r, want_tags, n_want)) l.v[kept++] = l.v[i];
            else free(l.v[i].id), ug_run_record_free(l.v[i].r);
        }
        int listed = l.n;
        l.n = kept;
        for (int w = 0; kept == 0 && w < n_want; w++)
            if (!cli_names_has(&all_tags, want_tags[w])) {   /* a tag no listed run has: perhaps mistyped */
                cli_unknown_name("ls", experiment ? "no run of the experiment has the tag" : "no run has the tag",
                                 want_tags[w], &all_tags);
                rc = 1;
                break;
            }
        if (kept == 0 && rc == 0 && listed > 0) {
            fprintf(stderr, "unigfn ls: no run has all the tags given\n");
            rc = 1;
        }
        cli_names_free(&all_tags);
    }
    if (rc == 0 && metric_given) {   /* --metric of a name no listed run logged: say which they did */
        cli_names ns = {.n = 0};
        bool any = false;
        for (int i = 0; i < l.n && !any; i++) any = l.v[i].has_metric;
        for (int i = 0; i < l.n && !any; i++) (void)ug_store_last_metrics(st, l.v[i].id, add_metric, &ns, &err);
        if (!any && l.n > 0) {
            cli_unknown_name("ls", "no listed run logged metric", metric, &ns);
            rc = 1;
        }
        cli_names_free(&ns);
    }
    ug_sbuf notes = {0};
    for (int i = 0; rc == 0 && i < l.n; i++) {
        fill_cells(&l.v[i]);
        bool done = false;
        for (int j = 0; j < i && !done; j++) done = strcmp(l.v[j].r->experiment, l.v[i].r->experiment) == 0;
        if (!done && !fill_params(&l, l.v[i].r->experiment, &notes)) {
            fprintf(stderr, "unigfn ls: out of memory\n");
            rc = 1;
        }
    }
    if (rc == 0) {
        char metric_shown[160];
        const char *headers[N_COLS];
        memcpy(headers, HEADERS, sizeof headers);
        headers[C_METRIC] = cli_fit(metric, 24, metric_shown, sizeof metric_shown);
        size_t width[N_COLS];
        bool shown[N_COLS];
        int last = 0;
        for (int k = 0; k < N_COLS; k++) {
            width[k] = cli_width(headers[k]);
            shown[k] = k <= C_METRIC;  /* the optional columns only when a run has something in them */
            for (int i = 0; i < l.n; i++) {
                size_t w = cli_width(l.v[i].cell[k]);
                if (w > width[k]) width[k] = w;
                if (w > 0) shown[k] = true;
            }
            if (shown[k]) last = k;
        }
        for (int i = -1; i < l.n; i++) {
            ug_sbuf line = {0};
            for (int k = 0; k <= last; k++) {
                if (!shown[k]) continue;
                const char *s = i < 0 ? headers[k] : l.v[i].cell[k];
                ug_sbuf_put(&line, s);
                for (size_t w = cli_width(s); k < last && w < width[k] + 2; w++) ug_sbuf_put(&line, " ");
            }
            while (line.n > 0 && line.s[line.n - 1] == ' ') line.s[--line.n] = 0;  /* empty cells at the end */
            printf("%s\n", line.s ? line.s : "");
            free(line.s);
        }
        if (notes.s) printf("\n%s", notes.s);
    }
    free(notes.s);
    free_list(&l);
    ug_store_close(st);
    return rc;
}
