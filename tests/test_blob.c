/* test_blob.c: the file-system blob store in a scratch folder: streamed
 * writes appear only at commit, range reads, moves, deletes and key checks. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "blob/blob.h"
#include "test.h"

static int collect(void *opaque, const void *data, size_t size) {
    char *buf = opaque;
    size_t len = strlen(buf);
    if (len + size >= 256) return 1;
    memcpy(buf + len, data, size);
    buf[len + size] = '\0';
    return 0;
}

TEST(blob_fs) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/store", test_tmpdir());
    struct blob *blob = NULL;
    struct vsr_error error = {0};
    CHECK_INT(VSR_OK, blob_open(&blob, dir, &error));
    if (!blob) return;
    CHECK_INT(VSR_OK, blob_check(blob, &error));

    struct blob_writer *writer = NULL;
    CHECK_INT(VSR_OK, blob_writer_open(blob, "uploads/a.bin", &writer, &error));
    if (!writer) return;
    CHECK_INT(VSR_OK, blob_writer_write(writer, "hello ", 6, &error));
    CHECK_INT(VSR_OK, blob_writer_write(writer, "world", 5, &error));
    int64_t size = -1;
    CHECK_INT(0, blob_stat(blob, "uploads/a.bin", &size, &error)); /* not yet */
    CHECK_INT(VSR_OK, blob_writer_commit(writer, &error));
    CHECK_INT(1, blob_stat(blob, "uploads/a.bin", &size, &error));
    CHECK_INT(11, size);

    char got[256] = "";
    CHECK_INT(VSR_OK, blob_get(blob, "uploads/a.bin", collect, got, &error));
    CHECK_STR("hello world", got);

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

    /* An aborted writer leaves nothing behind. */
    CHECK_INT(VSR_OK, blob_writer_open(blob, "uploads/b.bin", &writer, &error));
    if (writer) {
        blob_writer_write(writer, "x", 1, &error);
        blob_writer_abort(writer);
    }
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
    struct stat st;
    CHECK(stat(src, &st) != 0);
    char local[1024];
    CHECK_INT(1, blob_local_path(blob, "results/r.mp4", local, sizeof local));
    CHECK(stat(local, &st) == 0 && st.st_size == 5);
    char url[256];
    CHECK_INT(0, blob_presign(blob, "results/r.mp4", "GET", 60, -1, url, sizeof url, &error));

    CHECK_INT(VSR_OK, blob_remove(blob, "results/r.mp4", &error));
    CHECK_INT(VSR_OK, blob_remove(blob, "results/r.mp4", &error)); /* already gone: fine */
    CHECK(blob_reader_open(blob, "results/r.mp4", &reader, &error) == VSR_E_INPUT);

    CHECK_INT(0, blob_key_valid("../etc/passwd"));
    CHECK_INT(0, blob_key_valid("/abs"));
    CHECK_INT(0, blob_key_valid("Upper"));
    CHECK_INT(1, blob_key_valid("uploads/upl_12ab.bin"));
    CHECK(blob_writer_open(blob, "a/../../x", &writer, &error) == VSR_E_USAGE);
    blob_close(blob);
}
