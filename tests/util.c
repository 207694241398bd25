/* util.c: helpers shared by the tests: scratch folders, paths to the CLI and
 * to ../shared, and running a command to read what it printed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "test.h"

const char *test_tmpdir(void) {
    static char dir[256];
    snprintf(dir, sizeof dir, "/tmp/vsr-test-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    return dir;
}

const char *test_shared_dir(void) {
    static char dir[4096];
    const char *env = getenv("VSR_SHARED");
    struct stat st;
    if (env && *env) snprintf(dir, sizeof dir, "%s", env);
    else snprintf(dir, sizeof dir, "../shared");
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/bench/burn-fixture.sh", dir);
    return stat(probe, &st) == 0 ? dir : NULL;
}

const char *test_vsr_bin(void) {
    const char *env = getenv("VSR_BIN");
    return env && *env ? env : "build/asan/vsr";
}

int test_run(const char *cmd, char *out, size_t out_size) {
    char full[8192];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t n = 0;
    char sink[4096];
    for (;;) {
        char *dst = out && n + 1 < out_size ? out + n : sink;
        size_t cap = out && n + 1 < out_size ? out_size - n - 1 : sizeof sink;
        size_t got = fread(dst, 1, cap, p);
        if (got == 0) break;
        if (dst != sink) n += got;
    }
    if (out && out_size) out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
