/* util.c: helpers shared by the tests: scratch folders, paths to the CLI and
 * to ../shared, and running a command to read what it printed. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
    if (env && *env)
        snprintf(dir, sizeof dir, "%s", env);
    else
        snprintf(dir, sizeof dir, "../shared");
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

int test_spawn(struct test_child *child, const char *cmd, const char *log_path) {
    int fds[2];
    memset(child, 0, sizeof *child);
    child->fd = -1;
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (log_path) {
            int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (log >= 0) dup2(log, 2);
        }
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    child->pid = pid;
    child->fd = fds[0];
    return 0;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int test_read_line(struct test_child *child, char *out, size_t out_size, int timeout_ms) {
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        char *newline = memchr(child->buffer, '\n', child->len);
        if (newline) {
            size_t n = (size_t)(newline - child->buffer);
            snprintf(out, out_size, "%.*s", (int)n, child->buffer);
            memmove(child->buffer, newline + 1, child->len - n - 1);
            child->len -= n + 1;
            return 0;
        }
        int64_t left = deadline - now_ms();
        if (left <= 0 || child->fd < 0 || child->len >= sizeof child->buffer) return -1;
        struct pollfd p = {.fd = child->fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0) return -1;
        ssize_t got =
            read(child->fd, child->buffer + child->len, sizeof child->buffer - child->len);
        if (got <= 0) return -1;
        child->len += (size_t)got;
    }
}

int test_child_stop(struct test_child *child) {
    int status = 0;
    if (child->pid <= 0) return -1;
    kill(child->pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(child->pid, &status, WNOHANG) == child->pid) goto done;
        usleep(10 * 1000);
    }
    kill(child->pid, SIGKILL);
    waitpid(child->pid, &status, 0);
done:
    if (child->fd >= 0) close(child->fd);
    child->fd = -1;
    child->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int test_have_program(const char *program) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", program);
    return test_run(cmd, NULL, 0) == 0;
}

int test_make_video(const char *path, const char *size, double seconds) {
    char cmd[2048], out[2048];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -v error -y -f lavfi -i testsrc=size=%s:rate=10 -t %g"
             " -vf \"drawbox=x=iw/8:y=ih*3/4:w=iw*3/4:h=ih/9:color=white:t=fill\""
             " -pix_fmt yuv420p -c:v libx264 -preset ultrafast '%s'",
             size, seconds, path);
    int rc = test_run(cmd, out, sizeof out);
    if (rc != 0) fprintf(stderr, "  ffmpeg: %s\n", out);
    return rc;
}
