/* runner.c: runs the tests of test_list.h in order, or those whose names
 * contain one of the arguments, and ends with "N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test.h"

int test_failures;
const char *test_known_failure;

struct test_entry {
    const char *name;
    void (*fn)(void);
};

static const struct test_entry tests[] = {
#define X(name) {#name, test_##name},
#include "test_list.h"
#undef X
};

static int selected(const char *name, int argc, char **argv) {
    if (argc < 2) return 1;
    for (int i = 1; i < argc; i++)
        if (strstr(name, argv[i])) return 1;
    return 0;
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0, known = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *strict_env = getenv("VSR_STRICT");
    int strict = strict_env && strcmp(strict_env, "1") == 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (!selected(tests[i].name, argc, argv)) continue;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        test_failures = 0;
        test_known_failure = NULL;
        tests[i].fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (test_failures && test_known_failure && !strict) {
            known++; /* not a pass: reported apart, as "skipped" */
            printf("xfail %s (%.2fs): %s\n", tests[i].name, s, test_known_failure);
        } else if (test_failures) {
            failed++;
            printf("FAIL %s (%.2fs)\n", tests[i].name, s);
        } else {
            passed++;
            printf("ok   %s (%.2fs)\n", tests[i].name, s);
        }
    }
    if (known) printf("%d known failures (xfail above; VSR_STRICT=1 fails on them)\n", known);
    printf("%d passed, %d failed, %d skipped\n", passed, failed, known);
    return failed ? 1 : 0;
}
