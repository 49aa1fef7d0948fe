/* cmd_tag.c — `unigfn tag RUN [TAG ...] [--rm TAG ...]`: words a person puts on a run to find it again
 * (`ls --tag`; shown by `ls`, `show` and `diff`). The change is one transaction (ug_store_tag), checked
 * first so that a tag to remove which the run lacks changes nothing and names the closest one it has;
 * given no change to make, it only reads. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unigfn/host/util.h"

#define MAX_TAGS 64

/* "run ID: tags a, b" / "run ID has no tags". */
static void print_tags(const ug_run_record *r) {
    char b[160];
    if (r->n_tags == 0) {
        printf("run %s has no tags\n", ug_shown_text(r->id, SIZE_MAX, b, sizeof b));
        return;
    }
    printf("run %s: tags ", ug_shown_text(r->id, SIZE_MAX, b, sizeof b));
    for (int i = 0; i < r->n_tags; i++) printf("%s%s", i ? ", " : "", ug_shown_text(r->tags[i], SIZE_MAX, b, sizeof b));
    printf("\n");
}

int cli_tag(cli_env *env, int argc, char **argv) {
    static const char usage[] =
        "usage: unigfn tag RUN [TAG ...] [--rm TAG ...]\n"
        "  adds the TAGs to the run and removes the --rm ones (one word each, no commas), then prints its\n"
        "  tags; with no TAG only prints them. `ls --tag TAG` lists the runs that have it\n"
        "examples:\n"
        "  unigfn tag RUN baseline lr-sweep\n"
        "  unigfn tag RUN --rm lr-sweep\n";
    static const struct option opts[] = {{"rm", required_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *rm[MAX_TAGS];
    int n_rm = 0, c;
    while ((c = cli_getopt(argc, argv, ":h", opts)) != -1) {
        if (c == 'h') { fputs(usage, stdout); return 0; }
        if (c != 'r') return cli_bad_option("tag", c, argv, usage);
        if (n_rm == MAX_TAGS) {
            fprintf(stderr, "unigfn tag: at most %d tags at once\n", MAX_TAGS);
            return 2;
        }
        rm[n_rm++] = optarg;
    }
    int n_ops;
    char **ops = cli_operands(argc, argv, &n_ops);
    if (n_ops < 1) return cli_usage_error("tag", usage, "which run? (RUN is a run id or a unique prefix of one)");
    const char *const *add = (const char *const *)ops + 1;
    int n_add = n_ops - 1;
    if (n_add > MAX_TAGS) {
        fprintf(stderr, "unigfn tag: at most %d tags at once\n", MAX_TAGS);
        return 2;
    }
    ug_error err = {0};
    for (int i = 0; i < n_add; i++)
        if (ug_store_tag_check(add[i], &err)) {
            fprintf(stderr, "unigfn tag: %s\n", err.msg);
            return 2;
        }
    bool change = n_add > 0 || n_rm > 0;
    ug_store *st = NULL;
    ug_run_record *r = cli_open_run(env, "tag", change ? UG_STORE_WRITE : UG_STORE_READ, ops[0], &st);
    int rc = r ? 0 : 1;
    /* a tag to remove that the run lacks: the closest one it has (did you mean), nothing changed */
    for (int i = 0; rc == 0 && i < n_rm; i++) {
        cli_names have = {.n = 0};
        for (int t = 0; t < r->n_tags; t++) cli_names_add(&have, r->tags[t]);
        if (!cli_names_has(&have, rm[i])) {
            char what[160], b[100];
            snprintf(what, sizeof what, "run %s has no tag", ug_shown_text(r->id, SIZE_MAX, b, sizeof b));
            cli_unknown_name("tag", what, rm[i], &have);
            rc = 1;
        }
        cli_names_free(&have);
    }
    if (rc == 0 && change) {
        char id[64];
        snprintf(id, sizeof id, "%s", r->id);
        ug_run_record_free(r);
        r = NULL;
        if (ug_store_tag(st, id, add, n_add, rm, n_rm, &err) || ug_store_get_run(st, id, &r, &err)) {
            fprintf(stderr, "unigfn tag: %s\n", err.msg);
            rc = 1;
        }
    }
    if (rc == 0) print_tags(r);
    ug_run_record_free(r);
    ug_store_close(st);
    return rc;
}
