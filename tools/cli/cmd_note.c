/* cmd_note.c — `unigfn note RUN [TEXT ...]`: one free-text note per run (what it was for, what went
 * wrong), replaced as a whole by each call (ug_store_set_note) and shown by `show`, `ls` and `diff`;
 * given no text, it only reads. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unigfn/host/util.h"

int cli_note(cli_env *env, int argc, char **argv) {
    static const char usage[] =
        "usage: unigfn note RUN [TEXT ...]\n"
        "  replaces the run's note with TEXT (the words joined by spaces; \"\" removes it), shown by `show`\n"
        "  and `ls`; with no TEXT only prints the note\n"
        "examples:\n"
        "  unigfn note RUN 'lr too high: diverged at step 3000'\n"
        "  unigfn note RUN\n";
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    /* '+': the words of the note are not options, whatever they start with */
    while ((c = cli_getopt(argc, argv, "+:h", opts)) != -1) {
        if (c == 'h') { fputs(usage, stdout); return 0; }
        return cli_bad_option("note", c, argv, usage);
    }
    int n_ops;
    char **ops = cli_operands(argc, argv, &n_ops);
    if (n_ops < 1) return cli_usage_error("note", usage, "which run? (RUN is a run id or a unique prefix of one)");
    ug_sbuf text = {0};
    for (int i = 1; i < n_ops; i++) ug_sbuf_printf(&text, "%s%s", i > 1 ? " " : "", ops[i]);
    if (text.oom) {
        fprintf(stderr, "unigfn note: out of memory\n");
        return 1;
    }
    bool change = n_ops > 1;
    ug_store *st = NULL;
    ug_run_record *r = cli_open_run(env, "note", change ? UG_STORE_WRITE : UG_STORE_READ, ops[0], &st);
    int rc = r ? 0 : 1;
    ug_error err = {0};
    char b[160];
    if (rc == 0 && change) {
        if (ug_store_set_note(st, r->id, text.s, &err)) {
            fprintf(stderr, "unigfn note: %s\n", err.msg);
            rc = 1;
        } else {
            printf(text.s && *text.s ? "run %s: note set\n" : "run %s: note removed\n",
                   ug_shown_text(r->id, SIZE_MAX, b, sizeof b));
        }
    } else if (rc == 0) {
        if (r->note) {
            size_t cap = 4 * strlen(r->note) + 8;
            char *shown = malloc(cap);
            if (shown) printf("%s\n", ug_shown_text(r->note, SIZE_MAX, shown, cap));
            free(shown);
        } else {
            printf("run %s has no note\n", ug_shown_text(r->id, SIZE_MAX, b, sizeof b));
        }
    }
    free(text.s);
    ug_run_record_free(r);
    ug_store_close(st);
    return rc;
}
