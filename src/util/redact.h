/* redact.h: server paths out of messages meant for clients. An error from
 * storage, FFmpeg or the engine names the files it was working on
 * ("storage: writing /srv/vsr/blobs/uploads/upl_1f2e.part-Xy12Zw: No space
 * left on device"); a client must not learn the server's layout, so each
 * path becomes the upload or job id it holds ("upl_1f2e"), or "(server
 * path)". The logs keep the message as it was.
 *
 * Thread-safety: pure functions. */
#ifndef VSR_UTIL_REDACT_H
#define VSR_UTIL_REDACT_H

#include <stddef.h>

/* Rewrites MESSAGE (a string in a buffer of SIZE bytes) in place. A path is
 * a word (after a space, a quote, '(', '[' or '=', or at the start) that
 * begins with "/", "./", "../", "~/" or, when DATA_DIR is a relative folder
 * such as "vsr-data", with "DATA_DIR/"; it ends at the closing quote after a
 * quote, else at a space, a quote, ')', ']', ',', ';' or ':'. URLs ("http://...") are no paths.
 * Returns 1 when anything changed. DATA_DIR may be NULL. */
int redact_paths(char *message, size_t size, const char *data_dir);

#endif
