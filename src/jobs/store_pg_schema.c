/* store_pg_schema.c: the PostgreSQL schema as numbered migrations, applied
 * in order at open (and by `vsr migrate`); the version reached is kept in
 * vsr_schema. The tables mirror store_sqlite.c column for column so that the
 * two backends answer alike. */
#include <stdio.h>
#include <stdlib.h>

#include "jobs/store_pg.h"

static const char *const migrations[] = {
    /* version 1: the schema of SQLite's version 2 */
    "CREATE TABLE api_keys("
    " id text PRIMARY KEY, name text NOT NULL, secret_hash text NOT NULL UNIQUE,"
    " prefix text NOT NULL, admin integer NOT NULL DEFAULT 0,"
    " jobs_per_day bigint NOT NULL DEFAULT 0, minutes_per_month bigint NOT NULL DEFAULT 0,"
    " rate_per_second double precision NOT NULL DEFAULT 0, created_at bigint NOT NULL,"
    " revoked_at bigint NOT NULL DEFAULT 0, webhook_secret text NOT NULL DEFAULT '');"
    "CREATE TABLE uploads("
    " id text PRIMARY KEY, key_id text NOT NULL, file_name text NOT NULL,"
    " mime_type text NOT NULL, declared_size bigint NOT NULL, size bigint NOT NULL DEFAULT 0,"
    " blob text NOT NULL, state integer NOT NULL DEFAULT 0,"
    " media_seconds double precision NOT NULL DEFAULT 0, width integer NOT NULL DEFAULT 0,"
    " height integer NOT NULL DEFAULT 0, error_code text NOT NULL DEFAULT '',"
    " error_message text NOT NULL DEFAULT '', created_at bigint NOT NULL,"
    " expires_at bigint NOT NULL);"
    "CREATE INDEX uploads_created ON uploads(created_at);"
    "CREATE TABLE jobs("
    " seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id text NOT NULL UNIQUE,"
    " key_id text NOT NULL, type text NOT NULL, state text NOT NULL,"
    " progress double precision NOT NULL DEFAULT 0, upload_id text NOT NULL DEFAULT '',"
    " input_blob text NOT NULL, output_blob text NOT NULL DEFAULT '',"
    " options text NOT NULL DEFAULT '{}', webhook_url text NOT NULL DEFAULT '',"
    " idempotency_key text, media_seconds double precision NOT NULL DEFAULT 0,"
    " attempts integer NOT NULL DEFAULT 0, max_attempts integer NOT NULL,"
    " cancel_requested integer NOT NULL DEFAULT 0, lease_owner text NOT NULL DEFAULT '',"
    " lease_expires_at bigint NOT NULL DEFAULT 0, not_before bigint NOT NULL DEFAULT 0,"
    " created_at bigint NOT NULL, started_at bigint NOT NULL DEFAULT 0,"
    " finished_at bigint NOT NULL DEFAULT 0, updated_at bigint NOT NULL,"
    " error_code text NOT NULL DEFAULT '', error_message text NOT NULL DEFAULT '');"
    "CREATE UNIQUE INDEX jobs_idempotency ON jobs(key_id, idempotency_key)"
    " WHERE idempotency_key IS NOT NULL;"
    "CREATE INDEX jobs_key ON jobs(key_id, seq);"
    "CREATE INDEX jobs_key_created ON jobs(key_id, created_at);"
    "CREATE INDEX jobs_queue ON jobs(seq) WHERE state = 'queued';"
    "CREATE INDEX jobs_lease ON jobs(lease_expires_at) WHERE state = 'processing';"
    "CREATE INDEX jobs_finished ON jobs(finished_at);"
    "CREATE TABLE webhook_outbox("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, job_id text NOT NULL,"
    " event text NOT NULL, url text NOT NULL, payload text NOT NULL,"
    " attempts integer NOT NULL DEFAULT 0, next_attempt_at bigint NOT NULL,"
    " delivered integer NOT NULL DEFAULT 0, last_status integer NOT NULL DEFAULT 0,"
    " last_error text NOT NULL DEFAULT '', created_at bigint NOT NULL);"
    "CREATE INDEX webhook_due ON webhook_outbox(next_attempt_at) WHERE delivered = 0;"
    "CREATE INDEX webhook_job ON webhook_outbox(job_id, id);"
    /* Idle workers LISTEN on vsr_jobs: every job that becomes queued (new,
     * retried, released, reclaimed) wakes them, at its transaction's commit. */
    "CREATE FUNCTION vsr_notify_jobs() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN PERFORM pg_notify('" PG_JOBS_CHANNEL "', ''); RETURN NULL; END$$;"
    "CREATE TRIGGER jobs_queued AFTER INSERT OR UPDATE OF state ON jobs"
    " FOR EACH ROW WHEN (NEW.state = 'queued') EXECUTE FUNCTION vsr_notify_jobs();",
    /* version 2: SQLite's version 3: retention marks rows whose files it
     * deleted; jobs remember the request that created them. */
    "ALTER TABLE jobs ADD COLUMN purged_at bigint NOT NULL DEFAULT 0;"
    "ALTER TABLE uploads ADD COLUMN purged_at bigint NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN request_id text NOT NULL DEFAULT '';"
    "CREATE INDEX jobs_upload ON jobs(upload_id);",
    /* version 3: SQLite's version 4: burn and replace jobs name their
     * subtitle upload in a column of its own, indexed for retention; jobs
     * made before get it from their options (JSON text the API wrote; the
     * CASE parses only the rows that can hold the key), and so do jobs that
     * a previous vsr, still running during a rolling deploy, inserts without
     * the column (the trigger). */
    "ALTER TABLE jobs ADD COLUMN subtitles_upload_id text;"
    "CREATE FUNCTION vsr_subtitles_from_options(options text) RETURNS text"
    " LANGUAGE sql IMMUTABLE AS $$SELECT CASE WHEN options NOT LIKE '%subtitles_upload_id%'"
    " THEN NULL WHEN jsonb_typeof(options::jsonb -> 'subtitles_upload_id') = 'string'"
    " THEN nullif(options::jsonb ->> 'subtitles_upload_id', '') END$$;"
    "UPDATE jobs SET subtitles_upload_id = vsr_subtitles_from_options(options)"
    " WHERE options LIKE '%subtitles_upload_id%';"
    "CREATE INDEX jobs_subtitles_upload ON jobs(subtitles_upload_id)"
    " WHERE subtitles_upload_id IS NOT NULL;"
    "CREATE FUNCTION vsr_jobs_subtitles_from_options() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN NEW.subtitles_upload_id := vsr_subtitles_from_options(NEW.options);"
    " RETURN NEW; END$$;"
    "CREATE TRIGGER jobs_subtitles_from_options BEFORE INSERT ON jobs FOR EACH ROW"
    " WHEN (NEW.subtitles_upload_id IS NULL AND NEW.options LIKE '%subtitles_upload_id%')"
    " EXECUTE FUNCTION vsr_jobs_subtitles_from_options();",
    /* version 4: SQLite's version 5: uploads remember their audio streams
     * (-1: probed before, not known). */
    "ALTER TABLE uploads ADD COLUMN audio_streams integer NOT NULL DEFAULT -1;",
};

#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

/* Every object the migrations above make; a new migration's objects go here
 * too, so that a restore of an older dump starts from nothing. */
const char pg_drop_schema_sql[] =
    "DROP TABLE IF EXISTS jobs, uploads, api_keys, webhook_outbox, vsr_schema CASCADE;"
    "DROP FUNCTION IF EXISTS vsr_notify_jobs(), vsr_subtitles_from_options(text),"
    " vsr_jobs_subtitles_from_options() CASCADE;";

static int exec_ok(PGconn *conn, const char *sql, PGresult **out) {
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (out && ok)
        *out = res;
    else
        PQclear(res);
    return ok;
}

int pg_migrate(PGconn *conn, int target, struct vsr_error *error) {
    PGresult *res = NULL;
    int rc = VSR_OK;
    /* 0x767372 ("vsr"): any constant shared by every vsr process works. */
    if (!exec_ok(conn, "BEGIN", NULL) ||
        !exec_ok(conn, "SELECT pg_advisory_xact_lock(7762802)", NULL) ||
        !exec_ok(conn, "CREATE TABLE IF NOT EXISTS vsr_schema(version integer NOT NULL)", NULL) ||
        !exec_ok(conn, "SELECT coalesce(max(version), 0) FROM vsr_schema", &res)) {
        rc = pg_fail(error, conn, "reading the schema version");
        goto done;
    }
    int version = atoi(PQgetvalue(res, 0, 0));
    if (version > SCHEMA_VERSION) {
        error->code = rc = VSR_E_USAGE;
        snprintf(error->message, sizeof error->message,
                 "database schema version %d is newer than this vsr understands (%d);"
                 " upgrade vsr",
                 version, SCHEMA_VERSION);
        goto done;
    }
    if (target <= 0 || target > SCHEMA_VERSION) target = SCHEMA_VERSION;
    for (int v = version; v < target; v++) {
        char record[96];
        snprintf(record, sizeof record, "DELETE FROM vsr_schema; INSERT INTO vsr_schema VALUES(%d)",
                 v + 1);
        if (!exec_ok(conn, migrations[v], NULL) || !exec_ok(conn, record, NULL)) {
            rc = pg_fail(error, conn, "migrating the schema");
            goto done;
        }
    }
    if (!exec_ok(conn, "COMMIT", NULL)) rc = pg_fail(error, conn, "committing the migration");
done:
    PQclear(res);
    if (rc != VSR_OK) exec_ok(conn, "ROLLBACK", NULL);
    return rc;
}
