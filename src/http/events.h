/* events.h: GET /api/v1/jobs/{id}/events, a job's state as Server-Sent
 * Events (the WHATWG HTML "text/event-stream" format), for the web page and
 * any client that would otherwise poll.
 *
 * A stream never holds one of libmicrohttpd's few threads while it waits:
 * its connection is suspended between looks at the job, and a ticker thread
 * resumes the waiting ones twice a second.
 *
 * Thread-safety: every function may be called from any thread. */
#ifndef VSR_HTTP_EVENTS_H
#define VSR_HTTP_EVENTS_H

#include <microhttpd.h>

struct events;
struct request;

/* Starts the ticker; NULL when out of memory or threads. */
struct events *events_new(void);

/* Ends every stream and stops the ticker: before MHD_stop_daemon, which
 * must find no connection suspended. NULL is a no-op. */
void events_shutdown(struct events *events);

/* Frees EVENTS, after MHD_stop_daemon (no reader runs any more). NULL is a
 * no-op. */
void events_free(struct events *events);

/* The handler: 404 for a job the key does not own, else a stream of
 * "event: job" messages whose data is the job as GET /api/v1/jobs/{id}
 * answers it, sent when its state, progress or queue position change (and
 * every 5 s for the ETA), ending after the job's final state. */
enum MHD_Result api_job_events(struct request *req);

#endif
