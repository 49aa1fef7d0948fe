/* store_annot.c — what a person adds to or takes from the results store by hand: a run's tags and note
 * (`unigfn tag`, `unigfn note`) and deleting a run (`unigfn rm`). Each call is one write transaction
 * (ug__store_write_txn), so a refused tag or a missing run leaves the database as it was. */
#include "unigfn/host/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

ug_status ug_store_tag_check(const char *tag, ug_error *err) {
    if (!tag || !*tag) return ug_error_set(err, UG_ERR_ARG, "a tag cannot be empty");
    size_t n = strlen(tag);
    if (n > UG_TAG_MAX)
        return ug_error_set(err, UG_ERR_ARG, "tag '%.20s...' is %zu bytes long; at most %d", tag, n, UG_TAG_MAX);
    if (tag[0] == '-')
        return ug_error_set(err, UG_ERR_ARG, "tag '%s' starts with '-', which reads as an option", tag);
    for (const unsigned char *p = (const unsigned char *)tag; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == ',')
            return ug_error_set(err, UG_ERR_ARG, "tag '%s' holds %s; a tag is one word without commas", tag,
                                *p == ',' ? "a comma" : *p == ' ' ? "a space" : "a control character");
    return UG_OK;
}

/* "no run ID in PATH" unless the run is there (inside a transaction). */
static int need_run(ug_store *s, const char *id, ug_error *e) {
    sqlite3_stmt *st;
    int rc = ug__store_prep(s, "SELECT 1 FROM runs WHERE id = ?1", &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) rc = SQLITE_OK;
    else if (rc == SQLITE_DONE) {
        ug_error_set(e, UG_ERR_STORE, "no run %s in %s", id, s->path);
        rc = UG__STORE_APP_ERR;
    } else ug__store_fail(s, e, rc, "reading run");
    sqlite3_finalize(st);
    return rc;
}

typedef struct tag_ctx {
    const char *id;
    const char *const *add, *const *rm;
    int n_add, n_rm;
} tag_ctx;

static int tag_body(ug_store *s, void *vctx, ug_error *e) {
    tag_ctx *c = vctx;
    int rc = need_run(s, c->id, e);
    if (rc != SQLITE_OK) return rc;
    for (int i = 0; i < c->n_rm; i++) {
        if ((rc = ug__store_exec_bound(s, "DELETE FROM tags WHERE run = ?1 AND tag = ?2", c->id, c->rm[i], 0, 0, e,
                                       "removing a tag")) != SQLITE_OK)
            return rc;
        if (sqlite3_changes(s->db) == 0) {
            ug_error_set(e, UG_ERR_ARG, "run %s has no tag '%s'", c->id, c->rm[i]);
            return UG__STORE_APP_ERR;
        }
    }
    for (int i = 0; i < c->n_add; i++)
        if ((rc = ug__store_exec_bound(s, "INSERT OR IGNORE INTO tags(run, tag) VALUES(?1, ?2)", c->id, c->add[i], 0,
                                       0, e, "adding a tag")) != SQLITE_OK)
            return rc;
    return SQLITE_OK;
}

ug_status ug_store_tag(ug_store *s, const char *id, const char *const *add, int n_add, const char *const *rm,
                       int n_rm, ug_error *err) {
    ug_status st = ug__store_need(s, id, "ug_store_tag", err);
    if (st != UG_OK) return st;
    if (n_add < 0 || n_rm < 0 || (n_add > 0 && !add) || (n_rm > 0 && !rm))
        return ug_error_set(err, UG_ERR_ARG, "ug_store_tag: bad tag lists (%d to add, %d to remove)", n_add, n_rm);
    for (int i = 0; i < n_add; i++)
        if ((st = ug_store_tag_check(add[i], err)) != UG_OK) return st;
    for (int i = 0; i < n_rm; i++)
        if (!rm[i]) return ug_error_set(err, UG_ERR_ARG, "ug_store_tag: tag %d to remove is NULL", i);
    tag_ctx c = {id, add, rm, n_add, n_rm};
    pthread_mutex_lock(&s->mu);
    st = ug__store_write_txn(s, tag_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}

typedef struct note_ctx {
    const char *id, *note;
} note_ctx;

static int note_body(ug_store *s, void *vctx, ug_error *e) {
    note_ctx *c = vctx;
    int rc = need_run(s, c->id, e);
    if (rc != SQLITE_OK) return rc;
    return ug__store_exec_bound(s, "UPDATE runs SET note = ?2 WHERE id = ?1", c->id, c->note, 0, 0, e,
                                "writing the note");
}

ug_status ug_store_set_note(ug_store *s, const char *id, const char *note, ug_error *err) {
    ug_status st = ug__store_need(s, id, "ug_store_set_note", err);
    if (st != UG_OK) return st;
    /* ?2 is left unbound (NULL) for no note */
    note_ctx c = {id, note && *note ? note : NULL};
    pthread_mutex_lock(&s->mu);
    st = ug__store_write_txn(s, note_body, &c, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}

static int delete_body(ug_store *s, void *vctx, ug_error *e) {
    const char *id = vctx;
    sqlite3_stmt *st;
    int rc = ug__store_prep(s, "SELECT experiment FROM runs WHERE id = ?1", &st, e);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    char *experiment = NULL;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rc = (experiment = ug__store_col_dup(st, 0)) ? SQLITE_OK : SQLITE_NOMEM;
        if (rc != SQLITE_OK) ug_error_set(e, UG_ERR_NOMEM, "deleting run %s: out of memory", id);
    } else if (rc == SQLITE_DONE) {
        ug_error_set(e, UG_ERR_STORE, "no run %s in %s", id, s->path);
        rc = UG__STORE_APP_ERR;
    } else {
        ug__store_fail(s, e, rc, "reading run");
    }
    sqlite3_finalize(st);
    /* Each table by name rather than through ON DELETE CASCADE alone: the cascade needs foreign_keys on
     * this connection. The experiment goes last (runs refer to it) and only when no run is left in it. */
    static const char *const del[] = {
        "DELETE FROM tags WHERE run = ?1",      "DELETE FROM params WHERE run = ?1",
        "DELETE FROM metrics WHERE run = ?1",   "DELETE FROM summary WHERE run = ?1",
        "DELETE FROM artifacts WHERE run = ?1", "DELETE FROM provenance WHERE run = ?1",
        "DELETE FROM runs WHERE id = ?1"};
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof del / sizeof del[0]; i++)
        rc = ug__store_exec_bound(s, del[i], id, NULL, 0, 0, e, "deleting the run");
    if (rc == SQLITE_OK)
        rc = ug__store_exec_bound(s, "DELETE FROM experiments WHERE name = ?1 AND "
                                     "NOT EXISTS (SELECT 1 FROM runs WHERE experiment = ?1)",
                                  experiment, NULL, 0, 0, e, "deleting the experiment");
    free(experiment);
    return rc;
}

ug_status ug_store_delete_run(ug_store *s, const char *id, ug_error *err) {
    ug_status st = ug__store_need(s, id, "ug_store_delete_run", err);
    if (st != UG_OK) return st;
    pthread_mutex_lock(&s->mu);
    st = ug__store_write_txn(s, delete_body, (void *)id, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}
