/* test_redact.c: redact_paths, which keeps server paths out of the messages
 * clients read (issue 23). The service's own errors are checked end to end
 * in test_http.c (http_errors_name_no_paths). */
#include <string.h>

#include "test.h"
#include "util/redact.h"

static void check_redact(const char *message, const char *data_dir, const char *expected) {
    char text[512];
    snprintf(text, sizeof text, "%s", message);
    int changed = redact_paths(text, sizeof text, data_dir);
    CHECK_STR(expected, text);
    CHECK_INT(strcmp(message, expected) != 0, changed);
}

TEST(redact_paths_cases) {
    check_redact("storage: writing /srv/vsr/blobs/uploads/upl_1f2e.part-Xy12Zw: No space left",
                 NULL, "storage: writing upl_1f2e: No space left");
    check_redact(
        "cannot create output '/d/work/job_ab12.mp4' in folder '/d/work/': Not a directory", NULL,
        "cannot create output 'job_ab12' in folder '(server path)': Not a directory");
    check_redact("the file is not a readable video (cannot open '/my data/x y/upl_9z': Invalid)",
                 NULL, "the file is not a readable video (cannot open 'upl_9z': Invalid)");
    check_redact("cannot write vsr-data/work/job_77.input", "vsr-data", "cannot write job_77");
    check_redact("cannot write ./vsr-data/probe-AbCdEf", "./vsr-data",
                 "cannot write (server path)");
    check_redact("cannot write ../up/x", NULL, "cannot write (server path)");
    /* Not paths. */
    check_redact("webhook_url \"http://example.com/hook\" is not allowed", NULL,
                 "webhook_url \"http://example.com/hook\" is not allowed");
    check_redact("upload SRT/WebVTT/ASS, or .mp4 / .mkv", "vsr-data",
                 "upload SRT/WebVTT/ASS, or .mp4 / .mkv");
    check_redact("", NULL, "");
}
