/* fuzz_s3_url.c: libFuzzer target for the S3 store's URL parser
 * ("s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION"), then a presigned URL
 * from what it parsed. Parsing only: nothing connects. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blob/blob_s3.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    /* The parser also reads the keys from the environment. */
    setenv("AWS_ACCESS_KEY_ID", "AKIDFUZZ", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "fuzz-secret", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* blob_open sends only URLs that start with s3:// here. */
    char *url = malloc(size + 6);
    struct s3_blob *s = calloc(1, sizeof *s);
    if (!url || !s) goto done;
    memcpy(url, "s3://", 5);
    memcpy(url + 5, data, size);
    url[size + 5] = '\0';
    struct vsr_error error = {0};
    if (s3_parse_url(s, url, &error) == VSR_OK) {
        size_t prefix_len = strlen(s->prefix);
        if (!s->bucket[0] || !s->host[0] || !strstr(s->endpoint, "://") ||
            (prefix_len && s->prefix[prefix_len - 1] != '/'))
            __builtin_trap();
        char signed_url[4096];
        s3_presign_at(s, "jobs/job_1/out.mp4", "GET", 3600, -1, "video/mp4", "clip name.mp4",
                      1700000000, signed_url, sizeof signed_url);
        s3_presign_at(s, "uploads/upl_1", "PUT", 600, 12345, NULL, NULL, 1700000000, signed_url,
                      sizeof signed_url);
    } else if (!error.message[0]) {
        __builtin_trap(); /* a refusal always says why */
    }
done:
    free(url);
    free(s);
    return 0;
}
