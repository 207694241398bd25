/* test_blob_s3.c: the S3 file store against a real S3 server (radosgw from
 * scripts/s3-start.sh, named by VSR_TEST_STORAGE): streamed writes appear
 * only at commit, multipart uploads of blobs bigger than a part, range
 * reads, deletes, presigned URLs used by the curl program (and refused once
 * expired), and a clear error for wrong keys. Without VSR_TEST_STORAGE these
 * tests are skipped. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob/blob.h"
#include "blob/blob_s3.h"
#include "test.h"

static struct blob *open_s3(char *dir, size_t size) {
    if (!test_on_s3()) {
        test_skip_reason = "VSR_TEST_STORAGE is not an s3:// URL";
        return NULL;
    }
    snprintf(dir, size, "%s", test_tmpdir());
    char url[1024];
    test_storage_url(dir, url, sizeof url);
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, blob_open(&blob, url, &error));
    if (blob) CHECK_INT(VSR_OK, blob_check(blob, &error));
    if (error.message[0]) fprintf(stderr, "  %s\n", error.message);
    return blob;
}

static uint8_t pattern(int64_t i) {
    return (uint8_t)((i * 2654435761u) >> 13);
}

TEST(blob_s3_basics) {
    char dir[256];
    struct blob *blob = open_s3(dir, sizeof dir);
    if (!blob) return;
    struct vsr_error error = {0};
    struct blob_writer *writer = NULL;
    int64_t size = -1;
    CHECK_INT(VSR_OK, blob_writer_open(blob, "uploads/a.bin", &writer, &error));
    if (!writer) goto done;
    CHECK_INT(VSR_OK, blob_writer_write(writer, "hello ", 6, &error));
    CHECK_INT(VSR_OK, blob_writer_write(writer, "world", 5, &error));
    CHECK_INT(0, blob_stat(blob, "uploads/a.bin", &size, &error)); /* not yet */
    CHECK_INT(VSR_OK, blob_writer_commit(writer, &error));
    CHECK_INT(1, blob_stat(blob, "uploads/a.bin", &size, &error));
    CHECK_INT(11, size);
    struct blob_reader *reader = NULL;
    CHECK_INT(VSR_OK, blob_reader_open(blob, "uploads/a.bin", &reader, &error));
    if (reader) {
        char part[8] = {0};
        CHECK_INT(11, blob_reader_size(reader));
        CHECK_INT(5, blob_reader_read_at(reader, 6, part, 5, &error));
        CHECK_STR("world", part);
        CHECK_INT(0, blob_reader_read_at(reader, 11, part, 5, &error));
        blob_reader_close(reader);
    }
    /* An aborted writer, even one past its first part, leaves nothing. */
    static char chunk[1 << 20];
    CHECK_INT(VSR_OK, blob_writer_open(blob, "uploads/b.bin", &writer, &error));
    for (int i = 0; writer && i < 10; i++)
        CHECK_INT(VSR_OK, blob_writer_write(writer, chunk, sizeof chunk, &error));
    blob_writer_abort(writer);
    CHECK_INT(0, blob_stat(blob, "uploads/b.bin", &size, &error));

    /* put_file with move takes the file. */
    char src[600];
    snprintf(src, sizeof src, "%s/result.mp4", dir);
    FILE *f = fopen(src, "w");
    if (f) {
        fputs("video", f);
        fclose(f);
    }
    CHECK_INT(VSR_OK, blob_put_file(blob, "results/r.mp4", src, 1, &error));
    CHECK(access(src, F_OK) != 0);
    char local[1024];
    CHECK_INT(0, blob_local_path(blob, "results/r.mp4", local, sizeof local));
    CHECK_INT(1, blob_stat(blob, "results/r.mp4", &size, &error));
    CHECK_INT(5, size);
    CHECK_INT(VSR_OK, blob_remove(blob, "results/r.mp4", &error));
    CHECK_INT(VSR_OK, blob_remove(blob, "results/r.mp4", &error)); /* already gone: fine */
    CHECK(blob_reader_open(blob, "results/r.mp4", &reader, &error) == VSR_E_INPUT);
done:
    blob_close(blob);
}

/* 20 MiB written in 64 KiB pieces: three parts of a multipart upload; read
 * back at scattered offsets and whole. */
TEST(blob_s3_multipart) {
    char dir[256];
    struct blob *blob = open_s3(dir, sizeof dir);
    if (!blob) return;
    struct vsr_error error = {0};
    const int64_t total = 20 << 20;
    static uint8_t buf[65536];
    struct blob_writer *writer = NULL;
    CHECK_INT(VSR_OK, blob_writer_open(blob, "uploads/big.bin", &writer, &error));
    for (int64_t at = 0; writer && at < total; at += (int64_t)sizeof buf) {
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = pattern(at + (int64_t)i);
        if (blob_writer_write(writer, buf, sizeof buf, &error) != VSR_OK) {
            fprintf(stderr, "  %s\n", error.message);
            test_failures++;
            blob_writer_abort(writer);
            writer = NULL;
        }
    }
    if (writer) CHECK_INT(VSR_OK, blob_writer_commit(writer, &error));
    int64_t size = 0;
    CHECK_INT(1, blob_stat(blob, "uploads/big.bin", &size, &error));
    CHECK_INT(total, size);
    struct blob_reader *reader = NULL;
    CHECK_INT(VSR_OK, blob_reader_open(blob, "uploads/big.bin", &reader, &error));
    if (reader) {
        const int64_t offsets[] = {0, 1, 8 << 20, (8 << 20) - 3, total - 100, 12345678};
        int bad = 0;
        for (size_t k = 0; k < sizeof offsets / sizeof offsets[0]; k++) {
            int64_t got = blob_reader_read_at(reader, offsets[k], buf, 100, &error);
            CHECK_INT(100, got);
            for (int i = 0; i < 100 && got == 100; i++)
                bad += buf[i] != pattern(offsets[k] + i);
        }
        /* The whole object, in order, as blob_get reads it. */
        int64_t at = 0;
        for (;;) {
            int64_t got = blob_reader_read_at(reader, at, buf, sizeof buf, &error);
            if (got <= 0) break;
            for (int64_t i = 0; i < got; i++)
                bad += buf[i] != pattern(at + i);
            at += got;
        }
        CHECK_INT(total, at);
        CHECK_INT(0, bad);
        blob_reader_close(reader);
    }
    blob_remove(blob, "uploads/big.bin", &error);
    blob_close(blob);
}

/* Presigned URLs work with the plain curl program, without keys, and stop
 * working when they expire. */
TEST(blob_s3_presigned_curl) {
    char dir[256];
    struct blob *blob = open_s3(dir, sizeof dir);
    if (!blob) return;
    struct vsr_error error = {0};
    char file[600], back[600], url[2048], cmd[4096], out[4096];
    snprintf(file, sizeof file, "%s/upload.bin", dir);
    snprintf(back, sizeof back, "%s/download.bin", dir);
    snprintf(cmd, sizeof cmd, "head -c 3000000 /dev/urandom > '%s'", file);
    CHECK_INT(0, test_run(cmd, out, sizeof out));

    /* A PUT URL bound to 3,000,000 bytes (issue 23: the declared fileSize
     * was not enforced) refuses a file of any other length. */
    char longer[600];
    snprintf(longer, sizeof longer, "%s/longer.bin", dir);
    snprintf(cmd, sizeof cmd, "head -c 3000001 /dev/urandom > '%s'", longer);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK_INT(
        1, blob_presign(blob, "uploads/direct.bin", "PUT", 60, 3000000, url, sizeof url, &error));
    CHECK(strstr(url, "X-Amz-SignedHeaders=content-length%3Bhost") != NULL);
    snprintf(cmd, sizeof cmd, "curl -sS -o /dev/null -w '%%{http_code}' -T '%s' '%s'", longer, url);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK_STR("403", out);
    int64_t size = 0;
    CHECK_INT(0, blob_stat(blob, "uploads/direct.bin", &size, &error));
    snprintf(cmd, sizeof cmd, "curl -sS -o /dev/null -w '%%{http_code}' -T '%s' '%s'", file, url);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK_STR("200", out);
    CHECK_INT(1, blob_stat(blob, "uploads/direct.bin", &size, &error));
    CHECK_INT(3000000, size);

    CHECK_INT(1, blob_presign(blob, "uploads/direct.bin", "GET", 60, -1, url, sizeof url, &error));
    snprintf(cmd, sizeof cmd, "curl -sSf -o '%s' '%s' && cmp '%s' '%s'", back, url, file, back);
    CHECK_INT(0, test_run(cmd, out, sizeof out));

    /* A URL for GET does not allow PUT. */
    snprintf(cmd, sizeof cmd, "curl -sS -o /dev/null -w '%%{http_code}' -T '%s' '%s'", file, url);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK_STR("403", out);

    /* Expired: 1 s, then 2 s later. */
    CHECK_INT(1, blob_presign(blob, "uploads/direct.bin", "GET", 1, -1, url, sizeof url, &error));
    sleep(2);
    snprintf(cmd, sizeof cmd, "curl -sS -o /dev/null -w '%%{http_code}' '%s'", url);
    CHECK_INT(0, test_run(cmd, out, sizeof out));
    CHECK_STR("403", out);
    blob_remove(blob, "uploads/direct.bin", &error);
    blob_close(blob);
}

/* Wrong keys: the readiness check fails with the server's reason. */
TEST(blob_s3_wrong_keys) {
    if (!test_on_s3()) SKIP("VSR_TEST_STORAGE is not an s3:// URL");
    char *saved = strdup(getenv("AWS_SECRET_ACCESS_KEY") ? getenv("AWS_SECRET_ACCESS_KEY") : "");
    setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret", 1);
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, blob_open(&blob, getenv("VSR_TEST_STORAGE"), &error));
    if (blob) {
        CHECK_INT(VSR_E_OUTPUT, blob_check(blob, &error));
        CHECK(strstr(error.message, "HTTP 403") != NULL);
        blob_close(blob);
    }
    setenv("AWS_SECRET_ACCESS_KEY", saved, 1);
    free(saved);
    unsetenv("AWS_ACCESS_KEY_ID_UNUSED");
    CHECK_INT(VSR_E_USAGE, blob_open(&blob, "s3://?endpoint=http://127.0.0.1:1", &error));
    CHECK_INT(VSR_E_USAGE, blob_open(&blob, "s3://b?colour=blue", &error));
}

/* Parts of an s3:// URL longer than the store keeps are refused, not cut
 * short: a cut prefix would put objects under another prefix, a cut endpoint
 * or region would send them elsewhere. Parsing only: nothing connects. */
TEST(blob_s3_url_parts_too_long) {
    char *access = getenv("AWS_ACCESS_KEY_ID") ? strdup(getenv("AWS_ACCESS_KEY_ID")) : NULL;
    char *secret = getenv("AWS_SECRET_ACCESS_KEY") ? strdup(getenv("AWS_SECRET_ACCESS_KEY")) : NULL;
    setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "test-secret", 1);
    struct s3_blob *s = calloc(1, sizeof *s);
    struct vsr_error error = {0};
    char url[2048], part[1024];
    /* The longest prefix that fits, then one character more. */
    memset(part, 'p', sizeof s->prefix - 2);
    part[sizeof s->prefix - 2] = '\0';
    snprintf(url, sizeof url, "s3://b/%s///?endpoint=http://127.0.0.1:1", part);
    CHECK_INT(VSR_OK, s3_parse_url(s, url, &error));
    CHECK_INT((long long)sizeof s->prefix - 1, strlen(s->prefix));
    CHECK(s->prefix[strlen(s->prefix) - 1] == '/');
    memset(s, 0, sizeof *s);
    snprintf(url, sizeof url, "s3://b/%sq?endpoint=http://127.0.0.1:1", part);
    CHECK_INT(VSR_E_USAGE, s3_parse_url(s, url, &error));
    CHECK(strstr(error.message, "the prefix is too long") != NULL);

    memset(part, 'r', 100);
    part[100] = '\0';
    memset(s, 0, sizeof *s);
    snprintf(url, sizeof url, "s3://b?endpoint=http://127.0.0.1:1&region=%s", part);
    CHECK_INT(VSR_E_USAGE, s3_parse_url(s, url, &error));
    CHECK(strstr(error.message, "the region is too long") != NULL);

    memset(part, 'h', 600);
    part[600] = '\0';
    memset(s, 0, sizeof *s);
    snprintf(url, sizeof url, "s3://b?endpoint=http://%s", part);
    CHECK_INT(VSR_E_USAGE, s3_parse_url(s, url, &error));
    CHECK(strstr(error.message, "the endpoint is too long") != NULL);
    memset(s, 0, sizeof *s);
    snprintf(url, sizeof url, "s3://b?endpoint=http://%.300s", part);
    CHECK_INT(VSR_E_USAGE, s3_parse_url(s, url, &error));
    CHECK(strstr(error.message, "host is too long") != NULL);
    free(s);
    if (access)
        setenv("AWS_ACCESS_KEY_ID", access, 1);
    else
        unsetenv("AWS_ACCESS_KEY_ID");
    if (secret)
        setenv("AWS_SECRET_ACCESS_KEY", secret, 1);
    else
        unsetenv("AWS_SECRET_ACCESS_KEY");
    free(access);
    free(secret);
}
