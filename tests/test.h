/* test.h: the few macros the tests use. A failed check prints where it is and
 * what it saw, marks the running test failed, and the test goes on. */
#ifndef VSR_TEST_H
#define VSR_TEST_H

#include <stdio.h>
#include <string.h>

extern int test_failures; /* failed checks in the running test */

/* Set by a test (through KNOWN_FAILURE) whose checks fail today because of a
 * known defect of the code under test: the runner reports it as "xfail", an
 * expected failure (never a pass). If its checks then all pass, the runner
 * says XPASS: the defect is gone and the mark must go. VSR_STRICT=1 fails
 * the run on both. */
extern const char *test_known_failure;
#define KNOWN_FAILURE(why) (test_known_failure = (why))

/* A test that cannot run here (a tool or ../shared is missing) says why and
 * returns: the runner counts it as skipped, not passed. */
extern const char *test_skip_reason;
#define SKIP(why)                                                                                  \
    do {                                                                                           \
        test_skip_reason = (why);                                                                  \
        return;                                                                                    \
    } while (0)

/* A test that takes more than a few seconds (real clips, real servers)
 * starts with SLOW_TEST(): `make check-quick` (VSR_QUICK=1) skips it. */
int test_quick_tier(void);
#define SLOW_TEST()                                                                                \
    do {                                                                                           \
        if (test_quick_tier()) SKIP("slow: left to the full `make check`");                        \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);             \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

#define CHECK_INT(expected, actual)                                                                \
    do {                                                                                           \
        long long e_ = (long long)(expected), a_ = (long long)(actual);                            \
        if (e_ != a_) {                                                                            \
            fprintf(stderr, "  %s:%d: %s: expected %lld, got %lld\n", __FILE__, __LINE__, #actual, \
                    e_, a_);                                                                       \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

#define CHECK_STR(expected, actual)                                                                \
    do {                                                                                           \
        const char *e_ = (expected), *a_ = (actual);                                               \
        if (strcmp(e_, a_) != 0) {                                                                 \
            fprintf(stderr, "  %s:%d: %s: expected \"%s\", got \"%s\"\n", __FILE__, __LINE__,      \
                    #actual, e_, a_);                                                              \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

/* actual >= minimum, for measured figures such as PSNR. */
#define CHECK_AT_LEAST(minimum, actual)                                                            \
    do {                                                                                           \
        double m_ = (double)(minimum), a_ = (double)(actual);                                      \
        if (!(a_ >= m_)) {                                                                         \
            fprintf(stderr, "  %s:%d: %s: expected at least %g, got %g\n", __FILE__, __LINE__,     \
                    #actual, m_, a_);                                                              \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

#define CHECK_AT_MOST(maximum, actual)                                                             \
    do {                                                                                           \
        double m_ = (double)(maximum), a_ = (double)(actual);                                      \
        if (!(a_ <= m_)) {                                                                         \
            fprintf(stderr, "  %s:%d: %s: expected at most %g, got %g\n", __FILE__, __LINE__,      \
                    #actual, m_, a_);                                                              \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

/* Declares every test of tests/test_list.h. */
#define TEST(name) void test_##name(void)
#define X(name)    TEST(name);
#include "test_list.h"
#undef X

/* Helpers shared by the tests (tests/util.c). */
const char *test_tmpdir(void);     /* a fresh folder for the running test */
const char *test_shared_dir(void); /* ../shared, or $VSR_SHARED; NULL when absent */
const char *test_vsr_bin(void);    /* the CLI under test ($VSR_BIN) */
int test_run(const char *cmd, char *out, size_t out_size); /* exit status; stdout+stderr */

/* A child process whose stdout the test reads line by line. */
struct test_child {
    int pid;
    int fd; /* the read end of its stdout */
    char buffer[8192];
    size_t len;
};
/* Starts "sh -c CMD" (stderr to LOG_PATH, or inherited when NULL); 0 or -1. */
int test_spawn(struct test_child *child, const char *cmd, const char *log_path);
/* Reads the next line of its stdout into OUT (newline dropped) within
 * TIMEOUT_MS; 0, or -1 on timeout or end of output. */
int test_read_line(struct test_child *child, char *out, size_t out_size, int timeout_ms);
/* SIGTERM, then SIGKILL after a second; returns its exit status. */
int test_child_stop(struct test_child *child);
/* The job store and file store a test in scratch folder DIR uses
 * (tests/backends.c): SQLite and a folder in DIR, or a fresh PostgreSQL
 * database when VSR_TEST_DB=postgres://... and a fresh S3 prefix when
 * VSR_TEST_STORAGE=s3://... */
int test_on_postgres(void);
int test_on_s3(void);
void test_database_url(const char *dir, char *out, size_t size);
void test_storage_url(const char *dir, char *out, size_t size);
/* Makes the database at URL unusable (SQLite: the file replaced by text;
 * PostgreSQL: connections refused and cut), then usable again. */
void test_database_break(const char *url);
void test_database_restore(const char *url);
/* Opens the job store at DB and the file store at STORAGE; 0, or -1 with
 * the reason reported as a failed check (then whichever opened is NULL or
 * open, for the caller's cleanup). */
struct store;
struct blob;
int test_open_backends(const char *db, const char *storage, struct store **store,
                       struct blob **blob);
/* "--database URL --storage URL" for a `vsr` command line. */
void test_backend_args(const char *dir, char *out, size_t size);
/* Writes a test video to PATH: SIZE ("160x120") frames at 10 fps for
 * SECONDS, H.264, with a white bar like a burned-in subtitle line. 0 or the
 * ffmpeg exit status (its message printed). */
int test_make_video(const char *path, const char *size, double seconds);
/* Whether PROGRAM is found on PATH. */
int test_have_program(const char *program);

#endif
