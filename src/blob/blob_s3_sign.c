/* blob_s3_sign.c: the S3 store's URL ("s3://BUCKET/PREFIX?endpoint=..."),
 * and presigned URLs: AWS Signature Version 4 carried in the query string,
 * which lets a client without keys GET or PUT one object until the URL
 * expires. Requests the service makes itself are signed by libcurl. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "blob/blob_s3.h"

static int usage(struct vsr_error *error, const char *url, const char *why) {
    error->code = VSR_E_USAGE;
    snprintf(error->message, sizeof error->message,
             "storage URL %.300s: %s; use s3://BUCKET[/PREFIX]?endpoint=URL&region=REGION", url,
             why);
    return VSR_E_USAGE;
}

/* Percent-decodes SRC[0..LEN) into OUT. 0, or -1 when it does not fit. */
static int decode(const char *src, size_t len, char *out, size_t size) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (n + 1 >= size) {
            out[n] = '\0';
            return -1;
        }
        if (src[i] == '%' && i + 2 < len) {
            char hex[3] = {src[i + 1], src[i + 2], 0};
            out[n++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            out[n++] = src[i];
        }
    }
    out[n] = '\0';
    return 0;
}

int s3_parse_url(struct s3_blob *s, const char *url, struct vsr_error *error) {
    const char *rest = url + 5; /* after "s3://" */
    const char *query = strchr(rest, '?');
    size_t path_len = query ? (size_t)(query - rest) : strlen(rest);
    const char *slash = memchr(rest, '/', path_len);
    size_t bucket_len = slash ? (size_t)(slash - rest) : path_len;
    if (bucket_len == 0 || bucket_len >= sizeof s->bucket) return usage(error, url, "no bucket");
    snprintf(s->bucket, sizeof s->bucket, "%.*s", (int)bucket_len, rest);
    if (slash) {
        size_t prefix_len = path_len - bucket_len - 1;
        while (prefix_len > 0 && slash[prefix_len] == '/')
            prefix_len--;
        /* Cut short, it would silently put objects under another prefix. */
        if (prefix_len + 2 > sizeof s->prefix) return usage(error, url, "the prefix is too long");
        if (prefix_len > 0)
            snprintf(s->prefix, sizeof s->prefix, "%.*s/", (int)prefix_len, slash + 1);
    }
    snprintf(s->region, sizeof s->region, "us-east-1");
    s->endpoint[0] = '\0';
    for (const char *p = query ? query + 1 : NULL; p && *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (strncmp(p, "endpoint=", 9) == 0) {
            if (decode(p + 9, len - 9, s->endpoint, sizeof s->endpoint) < 0)
                return usage(error, url, "the endpoint is too long");
        } else if (strncmp(p, "region=", 7) == 0) {
            if (decode(p + 7, len - 7, s->region, sizeof s->region) < 0)
                return usage(error, url, "the region is too long");
        } else
            return usage(error, url, "unknown parameter (endpoint and region are known)");
        p = end ? end + 1 : NULL;
    }
    if (!s->endpoint[0])
        snprintf(s->endpoint, sizeof s->endpoint, "https://s3.%s.amazonaws.com", s->region);
    size_t len = strlen(s->endpoint);
    while (len > 0 && s->endpoint[len - 1] == '/')
        s->endpoint[--len] = '\0';
    const char *host = strstr(s->endpoint, "://");
    if (!host || !host[3])
        return usage(error, url, "endpoint must be http://HOST[:PORT] or https://...");
    if (strlen(host + 3) >= sizeof s->host)
        return usage(error, url, "the endpoint's host is too long");
    snprintf(s->host, sizeof s->host, "%s", host + 3);
    const char *access = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (!access || !*access || !secret || !*secret)
        return usage(error, url, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    snprintf(s->access_key, sizeof s->access_key, "%s", access);
    snprintf(s->secret_key, sizeof s->secret_key, "%s", secret);
    snprintf(s->sigv4, sizeof s->sigv4, "aws:amz:%s:s3", s->region);
    snprintf(s->userpwd, sizeof s->userpwd, "%s:%s", access, secret);
    return VSR_OK;
}

static void hex(const unsigned char *data, size_t len, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
}

static void hmac(const unsigned char *key, size_t key_len, const char *data,
                 unsigned char out[32]) {
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)data, strlen(data), out, &len);
}

/* Appends "&NAME=VALUE" to QUERY, VALUE URI-encoded as SigV4 wants (every
 * byte but A-Z a-z 0-9 - . _ ~, which is what curl_easy_escape leaves). */
static void add_parameter(char *query, size_t size, const char *name, const char *value) {
    char *escaped = curl_easy_escape(NULL, value, 0);
    size_t len = strlen(query);
    if (escaped) snprintf(query + len, size - len, "&%s=%s", name, escaped);
    curl_free(escaped);
}

int s3_presign_at(const struct s3_blob *s, const char *key, const char *method, int expires,
                  int64_t content_length, const char *content_type, const char *file_name,
                  time_t now, char *url, size_t url_size) {
    char date[16], stamp[32], scope[128], query[1536], canonical[3072], to_sign[512];
    char headers[400];
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y%m%d", &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(scope, sizeof scope, "%s/%s/s3/aws4_request", date, s->region);
    /* Parameters in byte order, values URI-encoded ('/' as %2F). Keys hold
     * only [a-z0-9_./-] (blob_key_valid), which need no encoding. */
    snprintf(
        query, sizeof query,
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s%%2F%s%%2F%s%%2Fs3%%2Faws4_request"
        "&X-Amz-Date=%s&X-Amz-Expires=%d&X-Amz-SignedHeaders=%s",
        s->access_key, date, s->region, stamp, expires,
        content_length >= 0 ? "content-length%3Bhost" : "host");
    /* After the X-Amz-* ones in byte order ('X' < 'r'), disposition first. */
    if (file_name) {
        char disposition[300];
        snprintf(disposition, sizeof disposition, "attachment; filename=\"%.200s\"", file_name);
        add_parameter(query, sizeof query, "response-content-disposition", disposition);
    }
    if (content_type) add_parameter(query, sizeof query, "response-content-type", content_type);
    /* Canonical headers: lower-case names in order, each "name:value\n". */
    if (content_length >= 0)
        snprintf(headers, sizeof headers, "content-length:%lld\nhost:%s\n\ncontent-length;host",
                 (long long)content_length, s->host);
    else
        snprintf(headers, sizeof headers, "host:%s\n\nhost", s->host);
    snprintf(canonical, sizeof canonical, "%s\n/%s/%s%s\n%s\n%s\nUNSIGNED-PAYLOAD", method,
             s->bucket, s->prefix, key, query, headers);
    unsigned char digest[32], k_date[32], k_region[32], k_service[32], k_signing[32];
    unsigned int len = 32;
    char digest_hex[65], signature[65];
    EVP_Digest(canonical, strlen(canonical), digest, &len, EVP_sha256(), NULL);
    hex(digest, 32, digest_hex);
    snprintf(to_sign, sizeof to_sign, "AWS4-HMAC-SHA256\n%s\n%s\n%s", stamp, scope, digest_hex);
    char secret[160];
    snprintf(secret, sizeof secret, "AWS4%s", s->secret_key);
    hmac((const unsigned char *)secret, strlen(secret), date, k_date);
    hmac(k_date, 32, s->region, k_region);
    hmac(k_region, 32, "s3", k_service);
    hmac(k_service, 32, "aws4_request", k_signing);
    hmac(k_signing, 32, to_sign, digest);
    hex(digest, 32, signature);
    int n = snprintf(url, url_size, "%s/%s/%s%s?%s&X-Amz-Signature=%s", s->endpoint, s->bucket,
                     s->prefix, key, query, signature);
    return n > 0 && (size_t)n < url_size ? VSR_OK : VSR_E_USAGE;
}
