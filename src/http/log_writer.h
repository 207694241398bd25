/* log_writer.h: buffered JSON log lines for the HTTP server. One line per
 * request would cost a write system call each on the request's thread;
 * instead lines collect in a buffer that a background thread writes out
 * every LOG_WRITER_FLUSH_MS (or at once when it fills), so a burst of
 * requests costs one write. Lines are never split or interleaved. What is
 * buffered when the process is killed with SIGKILL (at most the last
 * LOG_WRITER_FLUSH_MS of lines) is lost; a clean stop flushes everything.
 *
 * Thread-safety: log_writer_line may be called from any thread; new and
 * free from one. */
#ifndef VSR_HTTP_LOG_WRITER_H
#define VSR_HTTP_LOG_WRITER_H

#include <stddef.h>

#define LOG_WRITER_FLUSH_MS 50

struct log_writer;

/* Writes to FD (not closed by the writer). NULL when out of memory. */
struct log_writer *log_writer_new(int fd);

/* Appends TEXT (LEN bytes, no newline) and a newline. */
void log_writer_line(struct log_writer *writer, const char *text, size_t len);

/* Flushes, stops the thread and frees. NULL is a no-op. */
void log_writer_free(struct log_writer *writer);

#endif
