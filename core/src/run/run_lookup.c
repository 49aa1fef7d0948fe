/* run_lookup.c — runs by id or unique prefix, run folders, and the run folder handed to plugins. */
#include "unigfn/host/run_lookup.h"

#include <stdio.h>
#include <string.h>

#include "unigfn/plugin.h"

void ug_run_folder(const char *db_path, const char *id, char *out, size_t cap) {
    const char *slash = strrchr(db_path, '/');
    if (slash) snprintf(out, cap, "%.*s/runs/%s", (int)(slash - db_path), db_path, id);
    else snprintf(out, cap, "runs/%s", id);
}

typedef struct { const char *prefix; char match[64]; int n; } find_ctx;
static int find_cb(void *user, const ug_run_row *row) {
    find_ctx *f = user;
    if (strncmp(row->id, f->prefix, strlen(f->prefix)) == 0) {
        if (strcmp(row->id, f->prefix) == 0) { snprintf(f->match, sizeof f->match, "%s", row->id); f->n = 1; return 1; }
        snprintf(f->match, sizeof f->match, "%s", row->id);
        f->n++;
    }
    return 0;
}

ug_status ug_find_run(ug_store *st, const char *prefix, char *id_out, size_t cap, ug_error *err) {
    find_ctx f = {.prefix = prefix};
    ug_status s = ug_store_list_runs(st, NULL, NULL, find_cb, &f, err);
    if (s) return s;
    if (f.n == 0) return ug_error_set(err, UG_ERR_ARG, "no run '%s' in the database", prefix);
    if (f.n > 1) return ug_error_set(err, UG_ERR_ARG, "run id prefix '%s' is ambiguous (%d runs)", prefix, f.n);
    snprintf(id_out, cap, "%s", f.match);
    return UG_OK;
}

static char g_run_dir[1024] = ".";

const char *ug_run_dir(void) { return g_run_dir; }
void ug_set_run_dir(const char *dir) { snprintf(g_run_dir, sizeof g_run_dir, "%s", dir ? dir : "."); }
