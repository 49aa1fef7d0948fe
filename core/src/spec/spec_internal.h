/* spec_internal.h — what the spec_*.c files share: the ug_spec object, the load context, one-line
 * error formatting, scalar typing. Not for use outside the spec module. */
#ifndef UG_SPEC_INTERNAL_H
#define UG_SPEC_INTERNAL_H

#include "unigfn/host/spec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* Limits that keep hostile input (alias bombs, alias cycles, deep nesting) cheap to reject. */
#define SPEC_MAX_DEPTH 64
#define SPEC_MAX_NODES 100000
#define SPEC_MAX_FILE (16u << 20)
/* Includes: nesting (a chain of files) and files read in all (diamonds read a file once per path). */
#define SPEC_MAX_INCLUDE_DEPTH 32
#define SPEC_MAX_FILES 256

struct ug_spec {
    ug_cfg_pool *pool;
    ug_cfg *root;
    const char *path;
    const char **overrides;
    int n_overrides;
    const char *canonical;
    char id[17];
    const char **flat_keys, **flat_vals;
    int n_flat;
};

typedef struct spec_ctx {
    ug_spec *spec;
    const ug_spec_registry *reg;
    ug_error *err;
    int n_nodes; /* nodes made from YAML so far, against SPEC_MAX_NODES */
    int n_files; /* files included so far, against SPEC_MAX_FILES */
} spec_ctx;

/* One file of an include chain: its path as opened (what messages show) and its identity, so that a
 * file met again down its own chain is a cycle however its path was spelt. known is false for a spec
 * given as text. */
typedef struct spec_file {
    const char *path;
    bool known;
    dev_t dev;
    ino_t ino;
} spec_file;

/* Record the one error of this load: "<where>: <key>: <message>" on one line (key may be NULL or "").
 * `at` gives the place: a file position, an override (file UG_SPEC_FILE_CMDLINE, line = index + 1) or a
 * schema default. Returns UG_ERR_SPEC. */
ug_status ug_spec_fail(spec_ctx *c, const ug_cfg *at, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
ug_status ug_spec_nomem(spec_ctx *c);
/* How a value reads in a message: 'text' (shortened, escaped), "a list", "a map", "nothing". */
void ug_spec_describe(const ug_cfg *node, char *buf, size_t n);
/* "a.b" + "c" -> "a.b.c" (or "c" when prefix is empty), truncated to fit. */
void ug_spec_join(char *buf, size_t n, const char *prefix, const char *key);
void ug_spec_join_index(char *buf, size_t n, const char *prefix, int index);

/* Type a plain scalar the way YAML's core schema would (null, bool, int, float, else string);
 * sets type and b/i/f from node->text. */
void ug_spec_infer_scalar(ug_cfg *node);

/* Parse one YAML document. file/cmd_line give node positions: cmd_line > 0 marks every node as
 * coming from override number cmd_line (errors then name the override). `path` is the dotted key the
 * document will sit at (for messages; "" for a whole spec). *out is NULL for an empty document.
 * YAML errors become spec errors. */
ug_status ug_spec_parse_yaml(spec_ctx *c, const char *file, int cmd_line, const char *path,
                          const char *text, size_t len, ug_cfg **out);

/* The whole of an open file into a malloc'd buffer: 0, ENOMEM, EFBIG (over SPEC_MAX_FILE) or the
 * errno of a read error. */
int ug_spec_read_file(FILE *f, char **out, size_t *len);

/* Resolve the `include:` entry of `root`, the parsed map of file chain[depth - 1] (spec_include.c):
 * the entry is removed, the files it names are read and resolved in turn, and root's keys merged over
 * them; *out is the merged map (root itself, with the merged entries). */
ug_status ug_spec_include(spec_ctx *c, spec_file *chain, int depth, ug_cfg *root, ug_cfg **out);

/* Apply override `index` (spec_override.c): "key=value" sets, "+key=value" adds, "~key" deletes. */
ug_status ug_spec_apply_override(spec_ctx *c, int index);
/* The key an override names, without its '+' or '~' and the "=value": its start in o, length in *len. */
const char *ug_spec_override_key(const char *o, size_t *len);
/* Where a node was given, as messages write it: "file:line:col", "<command line> 'k=v'" or "<default>". */
void ug_spec_origin(spec_ctx *c, const ug_cfg *node, char *buf, size_t n);
/* Replace every ${a.b} inside the tree's values by the value at key a.b of the same tree (spec_interp.c). */
ug_status ug_spec_interpolate(spec_ctx *c);
ug_status ug_spec_check(spec_ctx *c);
/* Canonical text, id and flattened leaves of the resolved tree. */
ug_status ug_spec_emit(spec_ctx *c);

/* Shortest "%.*g" text that reads back to the same double (non-finite: .inf, -.inf, .nan). */
void ug_spec_fmt_double(double v, char *buf, size_t n);

#endif
