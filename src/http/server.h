/* server.h: the HTTP API of `vsr serve` on libmicrohttpd: uploads, jobs,
 * results, health checks and metrics (routes in server.c, handlers in
 * api.c). The server runs its own thread pool (epoll, one event loop per
 * thread) and streams request bodies to the blob store, so an upload of any
 * size uses a fixed amount of memory.
 *
 * Thread-safety: start and stop from one thread; the store, blob store and
 * metrics passed in are borrowed, must outlive the server, and are used from
 * the server's threads. */
#ifndef VSR_HTTP_SERVER_H
#define VSR_HTTP_SERVER_H

#include "blob/blob.h"
#include "jobs/store.h"
#include "service/config.h"
#include "service/metrics.h"

struct http_server;

/* Binds config->listen and starts serving. VSR_E_USAGE for a malformed
 * address, VSR_E_OUTPUT when the port cannot be bound. */
int http_server_start(struct http_server **out, const struct service_config *config,
                      struct store *store, struct blob *blob, struct metrics *metrics,
                      struct vsr_error *error);

/* The TCP port served (useful with port 0). */
int http_server_port(const struct http_server *server);

/* Stops accepting, finishes the requests in flight, frees the server. NULL
 * is a no-op. */
void http_server_stop(struct http_server *server);

#endif
