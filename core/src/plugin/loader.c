/* loader.c — finding plugin libraries, refusing unsafe or malformed ones, and holding the rest.
 *
 * Order of work for one file: permission checks (before dlopen: loading runs the library's
 * constructors, so an unsafe file must be refused before any of its code runs), dlopen, the entry
 * function, then every descriptor is checked; a library is registered whole or not at all.
 * Accepted descriptors and vtables are copied into zero-padded structs of the host's size, so host code
 * can read any field it knows: fields an older plugin lacks read as 0/NULL ("absent"). */
#include "unigfn/host/loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unigfn/host/sha256.h"
#include "unigfn/host/spec.h"
#include "unigfn/host/util.h"

#ifndef UG_PLUGIN_BUILD_DIR
#define UG_PLUGIN_BUILD_DIR ""
#endif
#ifndef UG_PLUGIN_INSTALL_DIR
#define UG_PLUGIN_INSTALL_DIR ""
#endif

#define SCAN_DEPTH 4          /* folders searched: dir, dir/a, dir/a/b, dir/a/b/c (plugins/<kind>s/<name>/ needs 3) */
#define SCHEMA_MAX 1024       /* a schema without its NULL terminator is caught here, not by a crash */
#define NAME_MAX_LEN 63
#define REASON_MAX (2 * PATH_MAX + 256)   /* a reason can hold two paths */

/* The 1.0 layouts: a plugin built against ABI 1.0 has at least these bytes. Later minors append. */
#define END_OF(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))
#define DESC_MIN_1_0 offsetof(ug_plugin_desc, required_caps)
#define DESC_HEADER_END END_OF(ug_plugin_desc, name)   /* frozen across majors: read before any check */

typedef struct lib {
    void *handle;
    char *path;       /* as given */
    char *real;       /* realpath, to skip a library reached twice */
    char sha256[65];  /* hex SHA-256 of the file, "" until ug_registry_sha256 asks */
} lib;

typedef struct entry {
    ug_plugin_ref ref;
    ug_plugin_desc desc;   /* host-size copy */
    void *vtable;          /* host-size copy of the plugin's vtable */
} entry;

struct ug_registry {
    lib *libs;
    int n_libs, cap_libs;
    entry **entries;       /* sorted by kind, then name */
    int n, cap;
    char **problems;
    int n_problems, cap_problems;
};

/* ---- small helpers ---------------------------------------------------------------------------- */

static char *dupstr(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int grow(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return 0;
    int nc = *cap ? *cap * 2 : 8;
    while (nc < need) nc *= 2;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p) return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

static void add_problem(ug_registry *reg, const char *msg) {
    if (grow((void **)&reg->problems, &reg->cap_problems, reg->n_problems + 1, sizeof(char *))) return;
    char *d = dupstr(msg);
    if (d) reg->problems[reg->n_problems++] = d;
}

const char *ug_kind_name(ug_plugin_kind kind) {
    switch (kind) {
    case UG_KIND_MODEL: return "model";
    case UG_KIND_OBJECTIVE: return "objective";
    case UG_KIND_DATASET: return "dataset";
    case UG_KIND_METRIC: return "metric";
    }
    return "unknown";
}

int ug_kind_from_name(const char *name) {
    if (!name) return 0;
    for (int k = UG_KIND_MODEL; k <= UG_KIND_METRIC; k++)
        if (strcmp(name, ug_kind_name((ug_plugin_kind)k)) == 0) return k;
    return 0;
}

/* ---- permissions --------------------------------------------------------------------------------- */

static const char *const k_rights = "a plugin is code that runs with your rights";

/* A group-writable path is still private when its group is the owner's user-private group (Debian and
 * Ubuntu give each user a group of their own and umask 002, so every build folder is 0775): no other
 * user is a member, as a supplementary member or by primary group. */
static int group_is_private(gid_t gid, uid_t owner) {
    struct passwd *pw = getpwuid(owner);
    struct group *gr = getgrgid(gid);
    if (!pw || !gr || pw->pw_gid != gid) return 0;
    const char *user = pw->pw_name;
    char name[256];
    snprintf(name, sizeof name, "%s", user);
    for (char **m = gr->gr_mem; m && *m; m++)
        if (strcmp(*m, name) != 0) return 0;
    int private_ = 1;
    setpwent();
    for (struct passwd *p; (p = getpwent()) != NULL;)
        if (p->pw_gid == gid && strcmp(p->pw_name, name) != 0) { private_ = 0; break; }
    endpwent();
    return private_;
}

/* Why `st` (a file or a directory on the way to one) lets another user change what gets loaded, or
 * NULL if it does not. A sticky world-writable directory (/tmp) is fine: others may add entries but
 * cannot rename or replace ours, and what they add fails the owner check. */
static int unsafe_reason(const char *what, const struct stat *st, int is_dir, char *buf, size_t cap) {
    uid_t me = geteuid();
    unsigned mode = (unsigned)(st->st_mode & 07777);
    if (st->st_uid != 0 && st->st_uid != me) {
        if (is_dir)
            snprintf(buf, cap, "refusing to load a plugin from a directory owned by another user (%s uid %u): %s",
                     what, (unsigned)st->st_uid, k_rights);
        else
            snprintf(buf, cap, "refusing to load a plugin owned by another user (uid %u): %s",
                     (unsigned)st->st_uid, k_rights);
        return 1;
    }
    int others_w = (st->st_mode & S_IWOTH) != 0;
    int group_w = (st->st_mode & S_IWGRP) != 0 && !group_is_private(st->st_gid, st->st_uid);
    if (is_dir && (st->st_mode & S_ISVTX)) others_w = group_w = 0;
    if (!others_w && !group_w) return 0;
    if (is_dir)
        snprintf(buf, cap, "refusing to load a plugin from a directory writable by other users (%s mode %04o): %s",
                 what, mode, k_rights);
    else
        snprintf(buf, cap, "refusing to load a plugin writable by other users (mode %04o): %s", mode, k_rights);
    return 1;
}

/* Check `dir` (a resolved absolute path) and every directory above it. 0 if safe; else the reason. */
static int check_dirs(const char *dir, char *buf, size_t cap) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s", dir);
    for (;;) {
        struct stat st;
        if (stat(p, &st) != 0) {
            snprintf(buf, cap, "cannot inspect directory %s: %s", p, strerror(errno));
            return 1;
        }
        if (unsafe_reason(p, &st, 1, buf, cap)) return 1;
        char *slash = strrchr(p, '/');
        if (!slash || slash == p) {
            if (strcmp(p, "/") == 0) return 0;
            snprintf(p, sizeof p, "/");
            continue;
        }
        *slash = '\0';
    }
}

/* ---- descriptor checks ----------------------------------------------------------------------------- */

static size_t vtable_min_1_0(uint32_t kind) {
    switch (kind) {
    case UG_KIND_MODEL: return END_OF(ug_model_vtable, load_state);
    case UG_KIND_OBJECTIVE: return END_OF(ug_objective_vtable, load_state);
    case UG_KIND_DATASET: return END_OF(ug_dataset_vtable, decode);
    case UG_KIND_METRIC: return END_OF(ug_metric_vtable, evaluate);
    }
    return 0;
}

static size_t vtable_host_size(uint32_t kind) {
    switch (kind) {
    case UG_KIND_MODEL: return sizeof(ug_model_vtable);
    case UG_KIND_OBJECTIVE: return sizeof(ug_objective_vtable);
    case UG_KIND_DATASET: return sizeof(ug_dataset_vtable);
    case UG_KIND_METRIC: return sizeof(ug_metric_vtable);
    }
    return 0;
}

/* The function without which a plugin of this kind means nothing; NULL when all are there. */
static const char *vtable_missing(uint32_t kind, const void *vt) {
    switch (kind) {
    case UG_KIND_MODEL: {
        const ug_model_vtable *v = vt;
        if (!v->info) return "info";
        if (!v->sample_forward) return "sample_forward";
        return NULL;
    }
    case UG_KIND_OBJECTIVE: return ((const ug_objective_vtable *)vt)->loss ? NULL : "loss";
    case UG_KIND_DATASET: {
        const ug_dataset_vtable *v = vt;
        if (!v->info) return "info";
        if (!v->train_batch) return "train_batch";
        if (!v->heldout) return "heldout";
        return NULL;
    }
    case UG_KIND_METRIC: return ((const ug_metric_vtable *)vt)->evaluate ? NULL : "evaluate";
    }
    return NULL;
}

static int ident_ok(const char *s, int allow_dot) {
    if (!s || !*s || strlen(s) > NAME_MAX_LEN) return 0;
    for (const char *c = s; *c; c++) {
        int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                 *c == '_' || *c == '-' || (allow_dot && *c == '.');
        if (!ok) return 0;
    }
    return 1;
}

/* Keys the spec itself puts into a plugin's section. */
static int key_reserved(uint32_t kind, const char *key) {
    if (strcmp(key, "plugin") == 0) return 1;
    return kind == UG_KIND_OBJECTIVE && (strcmp(key, "updates") == 0 || strcmp(key, "weight") == 0);
}

static int check_schema(const ug_plugin_desc *d, char *buf, size_t cap) {
    const ug_param_spec *ps = d->params;
    if (!ps) return 0;
    const char *kind = ug_kind_name((ug_plugin_kind)d->kind);
    for (int i = 0; i < SCHEMA_MAX; i++) {
        const char *key = ps[i].key;
        if (!key) return 0;
        if (!ident_ok(key, 0)) {
            char shown[3 * NAME_MAX_LEN];
            snprintf(buf, cap, "%s '%s': parameter %d has an invalid key '%s' (letters, digits, '_', '-')",
                     kind, d->name, i, ug_shown(key, SIZE_MAX, shown, sizeof shown));
            return 1;
        }
        if (key_reserved(d->kind, key)) {
            snprintf(buf, cap, "%s '%s': parameter key '%s' is reserved by the spec", kind, d->name, key);
            return 1;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(ps[j].key, key) == 0) {
                snprintf(buf, cap, "%s '%s': parameter key '%s' is declared twice", kind, d->name, key);
                return 1;
            }
        if (ps[i].type < UG_P_BOOL || ps[i].type > UG_P_STRING_LIST) {
            snprintf(buf, cap, "%s '%s': parameter '%s' has unknown type %d", kind, d->name, key, (int)ps[i].type);
            return 1;
        }
        if (ps[i].type == UG_P_ENUM && (!ps[i].choices || !*ps[i].choices)) {
            snprintf(buf, cap, "%s '%s': enum parameter '%s' has no choices", kind, d->name, key);
            return 1;
        }
    }
    snprintf(buf, cap, "%s '%s': schema has no terminating entry (key == NULL) within %d entries", kind,
             d->name, SCHEMA_MAX);
    return 1;
}

/* Check descriptor `i` of a library; 0 if acceptable, else the reason in buf. */
static int check_desc(const ug_plugin_desc *d, int i, char *buf, size_t cap) {
    if (!d) {
        snprintf(buf, cap, "descriptor %d is NULL", i);
        return 1;
    }
    if (d->size < DESC_HEADER_END) {
        snprintf(buf, cap, "descriptor %d is too small (%u bytes): not a unigfn plugin descriptor", i,
                 (unsigned)d->size);
        return 1;
    }
    /* not checked yet: shown escaped (a library's bytes must not reach the terminal raw) */
    char name[3 * NAME_MAX_LEN];
    ug_shown(d->name ? d->name : "?", SIZE_MAX, name, sizeof name);
    if (d->abi_major != UG_ABI_MAJOR) {
        snprintf(buf, cap, "plugin '%s' was built for ABI %u.%u, this unigfn has ABI %d.%d", name,
                 (unsigned)d->abi_major, (unsigned)d->abi_minor, UG_ABI_MAJOR, UG_ABI_MINOR);
        return 1;
    }
    if (d->abi_minor > UG_ABI_MINOR) {
        snprintf(buf, cap, "plugin '%s' needs ABI minor %u, this unigfn has %d.%d", name,
                 (unsigned)d->abi_minor, UG_ABI_MAJOR, UG_ABI_MINOR);
        return 1;
    }
    if (d->size < DESC_MIN_1_0) {
        snprintf(buf, cap, "plugin '%s': descriptor is %u bytes, ABI 1.0 needs at least %u", name,
                 (unsigned)d->size, (unsigned)DESC_MIN_1_0);
        return 1;
    }
    if (d->kind < UG_KIND_MODEL || d->kind > UG_KIND_METRIC) {
        snprintf(buf, cap, "plugin '%s' has unknown kind %u", name, (unsigned)d->kind);
        return 1;
    }
    const char *kind = ug_kind_name((ug_plugin_kind)d->kind);
    if (!d->name || !*d->name) {
        snprintf(buf, cap, "%s descriptor %d has no name", kind, i);
        return 1;
    }
    if (!ident_ok(d->name, 1)) {
        snprintf(buf, cap, "%s name '%s' is invalid (at most %d letters, digits, '_', '-', '.')", kind, name,
                 NAME_MAX_LEN);
        return 1;
    }
    if (!d->create || !d->destroy || !d->vtable) {
        snprintf(buf, cap, "%s '%s': descriptor has no %s", kind, d->name,
                 !d->create ? "create function" : !d->destroy ? "destroy function" : "vtable");
        return 1;
    }
    uint32_t vt_size = *(const uint32_t *)d->vtable;
    if (vt_size < vtable_min_1_0(d->kind)) {
        snprintf(buf, cap, "%s '%s': vtable is %u bytes, ABI 1.0 needs at least %u", kind, d->name,
                 (unsigned)vt_size, (unsigned)vtable_min_1_0(d->kind));
        return 1;
    }
    const char *missing = vtable_missing(d->kind, d->vtable);
    if (missing) {
        snprintf(buf, cap, "%s '%s': vtable has no %s function", kind, d->name, missing);
        return 1;
    }
    return check_schema(d, buf, cap);
}

/* ---- registry ----------------------------------------------------------------------------------------- */

ug_registry *ug_registry_new(void) { return calloc(1, sizeof(ug_registry)); }

void ug_registry_free(ug_registry *reg) {
    if (!reg) return;
    for (int i = 0; i < reg->n; i++) {
        free(reg->entries[i]->vtable);
        free(reg->entries[i]);
    }
    for (int i = reg->n_libs - 1; i >= 0; i--) {
        if (reg->libs[i].handle) dlclose(reg->libs[i].handle);
        free(reg->libs[i].path);
        free(reg->libs[i].real);
    }
    for (int i = 0; i < reg->n_problems; i++) free(reg->problems[i]);
    free(reg->entries);
    free(reg->libs);
    free(reg->problems);
    free(reg);
}

static int entry_cmp(uint32_t kind_a, const char *name_a, const entry *b) {
    if (kind_a != b->desc.kind) return kind_a < b->desc.kind ? -1 : 1;
    return strcmp(name_a, b->desc.name);
}

/* Index of (kind, name), or -(insertion point)-1. */
static int find_index(const ug_registry *reg, uint32_t kind, const char *name) {
    int lo = 0, hi = reg->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int c = entry_cmp(kind, name, reg->entries[mid]);
        if (c == 0) return mid;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return -lo - 1;
}

static entry *make_entry(const ug_plugin_desc *d, const char *path, const char *real) {
    entry *e = calloc(1, sizeof *e);
    size_t host_vt = vtable_host_size(d->kind);
    uint32_t vt_size = *(const uint32_t *)d->vtable;
    void *vt = calloc(1, host_vt);
    if (!e || !vt) {
        free(e);
        free(vt);
        return NULL;
    }
    memcpy(&e->desc, d, d->size < sizeof e->desc ? d->size : sizeof e->desc);
    e->desc.size = sizeof e->desc;
    memcpy(vt, d->vtable, vt_size < host_vt ? vt_size : host_vt);
    *(uint32_t *)vt = (uint32_t)host_vt;
    e->vtable = vt;
    e->desc.vtable = vt;
    e->ref.desc = &e->desc;
    e->ref.path = path;
    e->ref.real = real;
    return e;
}

static ug_status refuse(ug_error *err, const char *path, const char *reason) {
    return ug_error_set(err, UG_ERR_PLUGIN, "%s: %s", path, reason);
}

/* Hint for the commonest build mistake: calling host functions directly instead of through the table. */
static const char *dl_hint(const char *msg) {
    if (msg && strstr(msg, "undefined symbol: ug_"))
        return " (define UG_PLUGIN before including unigfn/plugin.h, and do not link libunigfn)";
    return "";
}

ug_status ug_registry_load_file(ug_registry *reg, const char *path, ug_error *err) {
    char reason[REASON_MAX];
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        snprintf(reason, sizeof reason, "cannot open: %s", strerror(errno));
        return refuse(err, path, reason);
    }
    for (int i = 0; i < reg->n_libs; i++)
        if (strcmp(reg->libs[i].real, real) == 0) return UG_OK;   /* reached twice: already loaded */

    struct stat st;
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(reason, sizeof reason, "not a regular file");
        return refuse(err, path, reason);
    }
    if (unsafe_reason(real, &st, 0, reason, sizeof reason)) return refuse(err, path, reason);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", real);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    if (check_dirs(dir, reason, sizeof reason)) return refuse(err, path, reason);

    dlerror();
    void *h = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *m = dlerror();
        snprintf(reason, sizeof reason, "cannot load: %s%s", m ? m : "unknown error", dl_hint(m));
        return refuse(err, path, reason);
    }
    ug_plugin_entry_fn fn;
    void *sym = dlsym(h, UG_PLUGIN_ENTRY_SYMBOL);
    memcpy(&fn, &sym, sizeof fn);   /* object pointer -> function pointer without a pedantic warning */
    if (!fn) {
        dlclose(h);
        snprintf(reason, sizeof reason, "no entry function '%s'", UG_PLUGIN_ENTRY_SYMBOL);
        return refuse(err, path, reason);
    }
    int count = 0;
    const ug_plugin_desc *const *list = fn(&ug_host_api, &count);
    if (!list || count <= 0) {
        dlclose(h);
        return refuse(err, path, "entry function returned no descriptors");
    }
    /* Check everything before registering anything: a library is taken whole or not at all. */
    for (int i = 0; i < count; i++) {
        const ug_plugin_desc *d = list[i];
        if (check_desc(d, i, reason, sizeof reason)) {
            dlclose(h);
            return refuse(err, path, reason);
        }
        const char *kind = ug_kind_name((ug_plugin_kind)d->kind);
        for (int j = 0; j < i; j++)
            if (list[j]->kind == d->kind && strcmp(list[j]->name, d->name) == 0) {
                snprintf(reason, sizeof reason, "%s '%s' is declared twice in this library", kind, d->name);
                dlclose(h);
                return refuse(err, path, reason);
            }
        int at = find_index(reg, d->kind, d->name);
        if (at >= 0) {
            snprintf(reason, sizeof reason, "%s '%s' is already provided by %s", kind, d->name,
                     reg->entries[at]->ref.path);
            dlclose(h);
            return refuse(err, path, reason);
        }
    }
    if (grow((void **)&reg->libs, &reg->cap_libs, reg->n_libs + 1, sizeof(lib)) ||
        grow((void **)&reg->entries, &reg->cap, reg->n + count, sizeof(entry *))) {
        dlclose(h);
        return ug_error_set(err, UG_ERR_NOMEM, "%s: out of memory", path);
    }
    lib *L = &reg->libs[reg->n_libs];
    L->handle = h;
    L->sha256[0] = '\0';
    L->path = dupstr(path);
    L->real = dupstr(real);
    entry **made = calloc((size_t)count, sizeof *made);
    int ok = L->path && L->real && made;
    for (int i = 0; ok && i < count; i++) ok = (made[i] = make_entry(list[i], L->path, L->real)) != NULL;
    if (!ok) {
        for (int i = 0; made && i < count; i++) {
            if (made[i]) free(made[i]->vtable);
            free(made[i]);
        }
        free(made);
        free(L->path);
        free(L->real);
        dlclose(h);
        return ug_error_set(err, UG_ERR_NOMEM, "%s: out of memory", path);
    }
    reg->n_libs++;
    for (int i = 0; i < count; i++) {
        int at = -find_index(reg, made[i]->desc.kind, made[i]->desc.name) - 1;
        memmove(&reg->entries[at + 1], &reg->entries[at], (size_t)(reg->n - at) * sizeof(entry *));
        reg->entries[at] = made[i];
        reg->n++;
    }
    free(made);
    return UG_OK;
}

static int has_so_suffix(const char *name) {
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".so") == 0;
}

static int skip_dirent(const struct dirent *e) { return e->d_name[0] != '.'; }

static void scan_rec(ug_registry *reg, const char *dir, int depth) {
    struct dirent **names = NULL;
    int n = scandir(dir, &names, skip_dirent, alphasort);
    if (n < 0) {
        char msg[PATH_MAX + 64];
        snprintf(msg, sizeof msg, "%s: cannot read directory: %s", dir, strerror(errno));
        add_problem(reg, msg);
        return;
    }
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        int len = snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        struct stat st;
        if (len > 0 && (size_t)len < sizeof path && stat(path, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                if (depth < SCAN_DEPTH) scan_rec(reg, path, depth + 1);
            } else if (S_ISREG(st.st_mode) && has_so_suffix(names[i]->d_name)) {
                ug_error e = {0};
                if (ug_registry_load_file(reg, path, &e) != UG_OK) add_problem(reg, e.msg);
            }
        }
        free(names[i]);
    }
    free(names);
}

ug_status ug_registry_scan_dir(ug_registry *reg, const char *dir, ug_error *err) {
    char real[PATH_MAX], reason[REASON_MAX];
    struct stat st;
    if (!realpath(dir, real) || stat(real, &st) != 0)
        return ug_error_set(err, UG_ERR_IO, "%s: cannot open plugin directory: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return ug_error_set(err, UG_ERR_IO, "%s: not a directory", dir);
    if (check_dirs(real, reason, sizeof reason)) return ug_error_set(err, UG_ERR_PLUGIN, "%s: %s", dir, reason);
    if (access(real, R_OK | X_OK) != 0)
        return ug_error_set(err, UG_ERR_IO, "%s: cannot read plugin directory: %s", dir, strerror(errno));
    size_t n = strlen(dir);
    char base[PATH_MAX];
    snprintf(base, sizeof base, "%.*s", (int)(n > 1 && dir[n - 1] == '/' ? n - 1 : n), dir);
    scan_rec(reg, base, 1);
    return UG_OK;
}

static int is_dir(const char *p) {
    struct stat st;
    return p && *p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The folder of plugins that belongs to the running program. */
static int default_dir(char *out, size_t cap) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        /* the uninstalled CLI: build/unigfn next to build/plugins/ */
        if (snprintf(out, cap, "%s/plugins", exe) < (int)cap && is_dir(out)) return 1;
        /* any other program of the build tree (tests, tools): the build's plugin folder */
        char root[PATH_MAX], rroot[PATH_MAX];
        snprintf(root, sizeof root, "%s", UG_PLUGIN_BUILD_DIR);
        char *s = strrchr(root, '/');
        if (s && s != root) {
            *s = '\0';
            size_t rl;
            if (realpath(root, rroot) && (rl = strlen(rroot)) > 0 && strncmp(exe, rroot, rl) == 0 &&
                (exe[rl] == '/' || exe[rl] == '\0') && is_dir(UG_PLUGIN_BUILD_DIR)) {
                snprintf(out, cap, "%s", UG_PLUGIN_BUILD_DIR);
                return 1;
            }
        }
#if defined(UG_BINDIR) && defined(UG_PLUGIN_SUBDIR)
        /* an installed CLI moved with its prefix (or installed with DESTDIR): PREFIX/bin/unigfn */
        size_t el = strlen(exe), bl = strlen(UG_BINDIR);
        if (UG_BINDIR[0] != '/' && el > bl && exe[el - bl - 1] == '/' && strcmp(exe + el - bl, UG_BINDIR) == 0) {
            if (snprintf(out, cap, "%.*s/%s", (int)(el - bl - 1), exe, UG_PLUGIN_SUBDIR) < (int)cap && is_dir(out))
                return 1;
        }
#endif
    }
    if (is_dir(UG_PLUGIN_BUILD_DIR)) {
        snprintf(out, cap, "%s", UG_PLUGIN_BUILD_DIR);
        return 1;
    }
    if (is_dir(UG_PLUGIN_INSTALL_DIR)) {
        snprintf(out, cap, "%s", UG_PLUGIN_INSTALL_DIR);
        return 1;
    }
    return 0;
}

ug_status ug_registry_scan_default(ug_registry *reg, ug_error *err) {
    char dir[PATH_MAX];
    if (default_dir(dir, sizeof dir)) {
        ug_status s = ug_registry_scan_dir(reg, dir, err);
        if (s != UG_OK) return s;
    }
    const char *env = getenv("UNIGFN_PLUGIN_PATH");
    if (!env) return UG_OK;
    char *copy = dupstr(env);
    if (!copy) return ug_error_set(err, UG_ERR_NOMEM, "out of memory");
    ug_status s = UG_OK;
    for (char *save = NULL, *d = strtok_r(copy, ":", &save); d && s == UG_OK; d = strtok_r(NULL, ":", &save)) {
        if (!is_dir(d)) {
            /* a stale entry should not stop the rest from loading, but must not vanish either */
            char msg[PATH_MAX + 64];
            snprintf(msg, sizeof msg, "%s: no such directory (from UNIGFN_PLUGIN_PATH)", d);
            add_problem(reg, msg);
            continue;
        }
        s = ug_registry_scan_dir(reg, d, err);
    }
    free(copy);
    return s;
}

int ug_registry_problem_count(const ug_registry *reg) { return reg->n_problems; }
const char *ug_registry_problem(const ug_registry *reg, int i) {
    return i >= 0 && i < reg->n_problems ? reg->problems[i] : NULL;
}

int ug_registry_count(const ug_registry *reg) { return reg->n; }
const ug_plugin_ref *ug_registry_at(const ug_registry *reg, int i) {
    return i >= 0 && i < reg->n ? &reg->entries[i]->ref : NULL;
}

const ug_plugin_ref *ug_registry_find(const ug_registry *reg, ug_plugin_kind kind, const char *name) {
    if (!name) return NULL;
    int at = find_index(reg, kind, name);
    return at >= 0 ? &reg->entries[at]->ref : NULL;
}

ug_status ug_registry_sha256(ug_registry *reg, const ug_plugin_ref *ref, const char **hex, ug_error *err) {
    *hex = NULL;
    lib *L = NULL;
    for (int i = 0; ref && i < reg->n_libs && !L; i++)
        if (reg->libs[i].path == ref->path) L = &reg->libs[i];
    if (!L) return ug_error_set(err, UG_ERR_ARG, "ug_registry_sha256: the plugin is not one of this registry's");
    if (!L->sha256[0]) {
        int e = ug_sha256_file(L->real, L->sha256, NULL);
        if (e) return ug_error_set(err, UG_ERR_IO, "%s: cannot read the plugin to hash it: %s", L->real, strerror(e));
    }
    *hex = L->sha256;
    return UG_OK;
}

/* ---- the spec loader's view ------------------------------------------------------------------------- */

static const ug_param_spec k_empty_schema[1] = {{0}};

static const ug_param_spec *view_schema(void *ud, const char *kind, const char *name) {
    int k = ug_kind_from_name(kind);
    const ug_plugin_ref *r = k ? ug_registry_find(ud, (ug_plugin_kind)k, name) : NULL;
    if (!r) return NULL;
    return r->desc->params ? r->desc->params : k_empty_schema;
}

static int view_names(void *ud, const char *kind, const char **out, int cap) {
    const ug_registry *reg = ud;
    int k = ug_kind_from_name(kind), w = 0;
    for (int i = 0; k && i < reg->n && w < cap; i++)
        if (reg->entries[i]->desc.kind == (uint32_t)k) out[w++] = reg->entries[i]->desc.name;
    return w;
}

void ug_registry_spec_view(ug_registry *reg, struct ug_spec_registry *out) {
    out->ud = reg;
    out->schema = view_schema;
    out->names = view_names;
}
