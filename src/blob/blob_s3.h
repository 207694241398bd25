/* blob_s3.h: what the files of the S3 file store share (blob_s3.c holds the
 * operations, blob_s3_sign.c the URL parsing and presigned URLs). Not part
 * of the public API: callers use blob.h. */
#ifndef VSR_BLOB_S3_H
#define VSR_BLOB_S3_H

#include <pthread.h>
#include <time.h>

#include <curl/curl.h>

#include "blob/blob.h"

#define S3_HANDLES 8 /* idle curl handles kept, each with its open connection */

struct s3_blob {
    struct blob base;
    char endpoint[512]; /* "http://127.0.0.1:7480", no trailing '/' */
    char host[256];     /* "127.0.0.1:7480": the signed Host header */
    char bucket[64];
    char prefix[128]; /* "" or "some/prefix/": put before every key */
    char region[64];
    char access_key[128];
    char secret_key[128];
    char sigv4[128];   /* CURLOPT_AWS_SIGV4: "aws:amz:REGION:s3" */
    char userpwd[260]; /* ACCESS:SECRET */
    pthread_mutex_t lock;
    CURL *idle[S3_HANDLES];
    int idle_count;
};

/* Fills S's endpoint, host, bucket, prefix and region from URL
 * "s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION" and its keys from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. VSR_E_USAGE when malformed. */
int s3_parse_url(struct s3_blob *s, const char *url, struct vsr_error *error);

/* A query-string SigV4 URL for METHOD on KEY valid EXPIRES seconds from NOW
 * (AWS "Authenticating Requests: Using Query Parameters"). CONTENT_LENGTH
 * >= 0 adds content-length to the signed headers: a request with another
 * length no longer matches the signature. CONTENT_TYPE and FILE_NAME (or
 * NULL) sign response-content-type and response-content-disposition (an
 * attachment of that name) in: S3 answers the GET with those headers. */
int s3_presign_at(const struct s3_blob *s, const char *key, const char *method, int expires,
                  int64_t content_length, const char *content_type, const char *file_name,
                  time_t now, char *url, size_t url_size);

#endif
