/* connections.h: the server's open connections and the deadlines that
 * libmicrohttpd has no option for. MHD's own timeout is an idle timeout, so a
 * client sending a byte a second never meets it (slowloris); here each
 * request must bring its whole head within HEADER_TIMEOUT seconds, and a
 * body must average MIN_BODY_RATE bytes a second once that long has passed.
 * A watcher thread shuts down the sockets that miss their deadline; MHD then
 * sees the connection end and frees it as usual.
 *
 * Thread-safety: every function may be called from any thread. */
#ifndef VSR_HTTP_CONNECTIONS_H
#define VSR_HTTP_CONNECTIONS_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

struct connections;
struct connection_state;

/* Starts the watcher. HEADER_TIMEOUT_SECONDS > 0; MIN_BODY_RATE in bytes per
 * second, 0 for no minimum. NULL when out of memory or threads. */
struct connections *connections_new(int header_timeout_seconds, int64_t min_body_rate);

/* Stops the watcher (after MHD_stop_daemon: no callbacks may come later).
 * NULL is a no-op. */
void connections_free(struct connections *all);

/* MHD_OPTION_NOTIFY_CONNECTION with CLS = the struct connections. */
void connections_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
                        enum MHD_ConnectionNotificationCode code);

/* The state of CONNECTION (NULL when MHD gave none: out of memory). */
struct connection_state *connections_state(struct MHD_Connection *connection);

/* A request's head arrived: its body (HAS_BODY) is now held to the minimum
 * rate, or, with none, the request is the server's to answer. */
void connections_head_received(struct connections *all, struct connection_state *state,
                               int has_body);
/* SIZE more bytes of the body arrived. */
void connections_body_received(struct connections *all, struct connection_state *state,
                               size_t size);
/* The whole request is in (or it was answered early): no deadline until the
 * response is sent. */
void connections_request_received(struct connections *all, struct connection_state *state);
/* The response was sent: the next request's head has HEADER_TIMEOUT from now. */
void connections_response_sent(struct connections *all, struct connection_state *state);

/* Request lines whose escapes decode to a NUL byte: libmicrohttpd would hand
 * the handler the string cut at it ("/jobs/ID%00/x" as "/jobs/ID"). The
 * unescape callback marks the connection; the handler refuses the request. */
void connections_mark_nul(struct connection_state *state);
/* Whether the request being read was marked; clears the mark. */
int connections_take_nul(struct connection_state *state);

#endif
