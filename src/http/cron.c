/* cron.c: POST /api/v1/cron/daily, the daily maintenance run (daily.h) for
 * a cron job or scheduler, authorised by VSR_CRON_SECRET as a Bearer token
 * (not an API key: the scheduler needs no account). */
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "http/http_internal.h"
#include "service/daily.h"
#include "util/redact.h"

/* Compared in constant time, so that the answer's timing tells nothing of
 * how much of a guess was right. */
static int secret_matches(const char *header, const char *secret) {
    if (!header || !secret[0] || strncasecmp(header, "Bearer ", 7) != 0) return 0;
    const char *token = header + 7;
    while (*token == ' ')
        token++;
    size_t len = strlen(secret);
    return strlen(token) == len && CRYPTO_memcmp(token, secret, len) == 0;
}

enum MHD_Result api_cron_daily(struct request *req) {
    struct http_server *server = req->server;
    const char *header =
        MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Authorization");
    if (!secret_matches(header, server->config->cron_secret))
        return http_respond_json_with(
            req, MHD_HTTP_UNAUTHORIZED,
            json_pack("{s:{s:s, s:s}}", "error", "code", "unauthorized", "message",
                      server->config->cron_secret[0]
                          ? "send the cron secret as \"Authorization: Bearer $VSR_CRON_SECRET\""
                          : "this server has no VSR_CRON_SECRET: set it to use this endpoint"),
            (struct http_header[]){{"WWW-Authenticate", "Bearer"}}, 1);
    struct vsr_error error = {0};
    json_t *report = NULL;
    int rc = daily_run(server->config, server->store, server->blob, &report, &error);
    if (rc == 0)
        return http_respond_error(req, MHD_HTTP_CONFLICT, "maintenance_running",
                                  "another daily run is under way; it does the same work", NULL);
    if (rc < 0) {
        redact_paths(error.message, sizeof error.message, server->config->data_dir);
        return http_respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "maintenance_failed",
                                  error.message, NULL);
    }
    return http_respond_json(req, MHD_HTTP_OK, report);
}
