/* The process model, end to end without nginx: a real master with its
 * workers on a unix socket in a scratch directory, driven by a minimal
 * FastCGI client. Checks that requests are served across worker recycling,
 * SIGHUP reloads and worker crashes, and that SIGTERM lets an in-flight
 * request finish, then removes the socket and exits 0. Waits are bounded by
 * generous deadlines; nothing asserts on timing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "syncto/sy_master.h"
#include "syncto/sy_settings.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

#define DEADLINE_SECONDS 30

extern char **environ;

static char tmpdir[64];
static char ini_path[96];
static char sock_path[96]; /* short: it must fit sun_path */
static pid_t master_pid;   /* the master of the running test, 0 when none */
static int tcp_port;       /* the master listens on 127.0.0.1:tcp_port, 0 = sock_path */

/* ---- a minimal FastCGI client ---- */

static void put_record(int fd, int type, const void *content, size_t len)
{
    unsigned char h[8] = {
        1, (unsigned char)type, 0, 1, (unsigned char)(len >> 8), (unsigned char)(len & 0xff), 0, 0};
    assert_int_equal(write(fd, h, 8), 8);
    if (len > 0)
        assert_int_equal(write(fd, content, len), (ssize_t)len);
}

static size_t put_pair(unsigned char *out, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value), n = 0;
    out[n++] = (unsigned char)nl; /* every name and value here is < 128 bytes */
    out[n++] = (unsigned char)vl;
    /* a FastCGI name-value pair: lengths, then bytes without NULs */
    memcpy(out + n, name, nl);       // NOLINT(bugprone-not-null-terminated-result)
    memcpy(out + n + nl, value, vl); // NOLINT(bugprone-not-null-terminated-result)
    return n + nl + vl;
}

static int connect_socket(void)
{
    int fd;
    if (tcp_port != 0) {
        struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)tcp_port)};
        in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&in, sizeof(in)) != 0) {
            close(fd);
            return -1;
        }
    } else {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            close(fd);
            return -1;
        }
    }
    struct timeval tv = {DEADLINE_SECONDS, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* Sends the begin record and the params of a request (stdin not closed). */
static int begin_request(const char *method, const char *path, size_t content_length)
{
    int fd = connect_socket();
    assert_true(fd >= 0);
    unsigned char begin[8] = {0, 1, 0, 0, 0, 0, 0, 0}; /* responder, no keep-alive */
    put_record(fd, 1, begin, sizeof(begin));
    unsigned char params[1024];
    char cl[32];
    snprintf(cl, sizeof(cl), "%zu", content_length);
    size_t n = 0;
    n += put_pair(params + n, "REQUEST_METHOD", method);
    n += put_pair(params + n, "REQUEST_URI", path);
    n += put_pair(params + n, "SCRIPT_NAME", "");
    n += put_pair(params + n, "PATH_INFO", path);
    n += put_pair(params + n, "QUERY_STRING", "");
    n += put_pair(params + n, "SERVER_PROTOCOL", "HTTP/1.1");
    n += put_pair(params + n, "SERVER_NAME", "localhost");
    n += put_pair(params + n, "SERVER_PORT", "8000");
    n += put_pair(params + n, "HTTP_HOST", "localhost:8000");
    n += put_pair(params + n, "CONTENT_TYPE", "application/json");
    n += put_pair(params + n, "CONTENT_LENGTH", cl);
    put_record(fd, 4, params, n);
    put_record(fd, 4, NULL, 0);
    return fd;
}

/* Reads the response's stdout until FCGI_END_REQUEST; NULL if the
 * connection ends (or times out) first. Caller frees. */
static char *read_response(int fd)
{
    char *out = calloc(1, 1);
    size_t len = 0;
    for (;;) {
        unsigned char h[8];
        if (recv(fd, h, 8, MSG_WAITALL) != 8)
            break;
        size_t clen = ((size_t)h[4] << 8) | h[5], total = clen + h[6];
        unsigned char body[65536 + 256];
        if (total > 0 && recv(fd, body, total, MSG_WAITALL) != (ssize_t)total)
            break;
        if (h[1] == 6) { /* FCGI_STDOUT */
            char *grown = realloc(out, len + clen + 1);
            if (grown == NULL)
                abort();
            out = grown;
            memcpy(out + len, body, clen);
            len += clen;
            out[len] = '\0';
        } else if (h[1] == 3) { /* FCGI_END_REQUEST */
            close(fd);
            return out;
        }
    }
    close(fd);
    free(out);
    return NULL;
}

/* One GET; returns the "Status: ..." line's code, or -1 without a response. */
static int get_status(const char *path)
{
    int fd = begin_request("GET", path, 0);
    put_record(fd, 5, NULL, 0);
    char *r = read_response(fd);
    int status = -1;
    if (r != NULL && strncmp(r, "Status: ", 8) == 0)
        status = (int)strtol(r + 8, NULL, 10);
    free(r);
    return status;
}

/* ---- the server under test ---- */

static void write_ini(int workers, const char *extra)
{
    char listen[128];
    if (tcp_port != 0)
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", tcp_port);
    else
        snprintf(listen, sizeof(listen), "unix:%s", sock_path);
    FILE *f = fopen(ini_path, "w");
    assert_non_null(f);
    fprintf(f,
            "[app:main]\n"
            "syncto.listen = %s\n"
            "syncto.workers = %d\n"
            "syncto.threads = 2\n"
            "syncto.graceful_timeout_seconds = %d\n"
            "syncto.log_level = error\n"
            "syncto.logging_renderer = text\n"
            "syncto.cache_hmac_secret = test-secret-0123456789\n"
            "%s",
            listen, workers, DEADLINE_SECONDS, extra);
    fclose(f);
}

static pid_t start_master(const char *extra)
{
    write_ini(2, extra);
    sy_settings_t *s = NULL;
    char err[1024];
    if (sy_settings_load(ini_path, &s, err, sizeof(err)) != SY_OK)
        fail_msg("%s", err);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* never outlive the test, even when it fails half-way */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        _exit(sy_master_run(s));
    }
    master_pid = pid;
    sy_settings_free(s);
    /* the socket exists once the master listens */
    for (int i = 0; i < DEADLINE_SECONDS * 20; i++) {
        int fd = connect_socket();
        if (fd >= 0) {
            close(fd);
            return pid;
        }
        sleep_ms(50);
    }
    fail_msg("the master did not listen on %s", sock_path);
    return -1;
}

static void stop_master(pid_t pid)
{
    int status;
    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    master_pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    struct stat st;
    assert_int_equal(stat(sock_path, &st), -1); /* the socket file is removed */
}

/* After each test: a master left by a failed test is killed (its workers
 * follow it), so that the next test starts clean. */
static int kill_leftover(void **state)
{
    (void)state;
    tcp_port = 0;
    if (master_pid > 0) {
        kill(master_pid, SIGKILL);
        waitpid(master_pid, NULL, 0);
        master_pid = 0;
        unlink(sock_path);
    }
    return 0;
}

/* The worker pids of master (its children), sorted; returns how many. */
static int workers_of(pid_t master, pid_t *pids, int max)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)master, (int)master);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    int count = 0;
    for (char *p = buf; *p != '\0' && count < max;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        pids[count++] = (pid_t)v;
        p = end;
    }
    return count;
}

static bool shares_pid(const pid_t *a, int na, const pid_t *b, int nb)
{
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            if (a[i] == b[j])
                return true;
    return false;
}

/* Waits until master's workers are exactly `want` processes, none of them
 * in old[]; fails after the deadline. */
static void wait_for_new_workers(pid_t master, const pid_t *old, int nold, int want)
{
    pid_t now[64];
    int n = 0;
    for (int i = 0; i < DEADLINE_SECONDS * 20; i++) {
        n = workers_of(master, now, 64);
        if (n == want && !shares_pid(now, n, old, nold))
            return;
        sleep_ms(50);
    }
    fail_msg("workers were not replaced (%d running)", n);
}

/* ---- tests ---- */

static void test_serves_across_recycling(void **state)
{
    pid_t m = start_master("syncto.worker_max_requests = 3\n");

    for (int i = 0; i < 30; i++)
        assert_int_equal(get_status("/v1/"), 200);

    /* more connections at once than threads */
    int fds[10];
    for (int i = 0; i < 10; i++) {
        fds[i] = begin_request("GET", "/v1/", 0);
        put_record(fds[i], 5, NULL, 0);
    }
    for (int i = 0; i < 10; i++) {
        char *r = read_response(fds[i]);
        assert_non_null(r);
        assert_true(strncmp(r, "Status: ", 8) == 0);
        free(r);
    }
    pid_t pids[64];
    assert_int_equal(workers_of(m, pids, 64) >= 2, 1);
    stop_master(m);
}

static void test_reload(void **state)
{
    pid_t m = start_master("");
    assert_int_equal(get_status("/v1/"), 200);
    pid_t old[64];
    int nold = workers_of(m, old, 64);
    assert_int_equal(nold, 2);

    /* valid new settings: a new set of workers (three now) replaces the old */
    write_ini(3, "");
    assert_int_equal(kill(m, SIGHUP), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(get_status("/v1/"), 200);
    wait_for_new_workers(m, old, nold, 3);
    nold = workers_of(m, old, 64);

    /* invalid settings: logged, nothing changes, still serving */
    FILE *f = fopen(ini_path, "a");
    fputs("syncto.batch_max_requests = many\n", f);
    fclose(f);
    assert_int_equal(kill(m, SIGHUP), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(get_status("/v1/"), 200);
    pid_t now[64];
    int n = workers_of(m, now, 64);
    assert_int_equal(n, 3);
    for (int i = 0; i < n; i++)
        assert_true(shares_pid(&now[i], 1, old, nold));
    stop_master(m);
}

static void test_respawn(void **state)
{
    pid_t m = start_master("");
    assert_int_equal(get_status("/v1/"), 200);
    pid_t old[64];
    int nold = workers_of(m, old, 64);
    assert_int_equal(nold, 2);
    for (int i = 0; i < nold; i++)
        assert_int_equal(kill(old[i], SIGKILL), 0);
    /* the connection waits in the socket's queue until a new worker runs */
    assert_int_equal(get_status("/v1/"), 200);
    wait_for_new_workers(m, old, nold, 2);
    stop_master(m);
}

static void test_graceful_stop(void **state)
{
    static const char body[] = "{\"requests\":[]}";
    pid_t m = start_master("");
    assert_int_equal(get_status("/v1/"), 200);

    /* a request whose body has not arrived yet is in flight in a worker */
    int fd = begin_request("POST", "/v1/batch", sizeof(body) - 1);
    sleep_ms(200);
    assert_int_equal(kill(m, SIGTERM), 0);
    sleep_ms(200);
    put_record(fd, 5, body, sizeof(body) - 1);
    put_record(fd, 5, NULL, 0);
    char *r = read_response(fd);
    assert_non_null(r);
    assert_true(strncmp(r, "Status: ", 8) == 0);
    free(r);

    int status;
    assert_int_equal(waitpid(m, &status, 0), m);
    master_pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    struct stat st;
    assert_int_equal(stat(sock_path, &st), -1);
}

/* A loopback TCP port that was free a moment ago. */
static int free_port(void)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    socklen_t len = sizeof(in);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&in, &len), 0);
    close(fd);
    return ntohs(in.sin_port);
}

/* After SIGTERM, new connections are refused at once, while a request in
 * flight still completes: over TCP that needs the master and every worker
 * to have closed the listening socket, not just the file to be gone. */
static void test_stop_refuses_new_connections(void **state)
{
    static const char body[] = "{\"requests\":[]}";
    (void)state;
    tcp_port = free_port();
    pid_t m = start_master("");
    assert_int_equal(get_status("/v1/"), 200);

    int fd = begin_request("POST", "/v1/batch", sizeof(body) - 1);
    sleep_ms(200);
    assert_int_equal(kill(m, SIGTERM), 0);
    bool refused = false;
    for (int i = 0; i < DEADLINE_SECONDS * 20 && !refused; i++) {
        int c = connect_socket();
        if (c < 0)
            refused = true;
        else
            close(c);
        sleep_ms(50);
    }
    assert_true(refused);

    put_record(fd, 5, body, sizeof(body) - 1);
    put_record(fd, 5, NULL, 0);
    char *r = read_response(fd);
    assert_non_null(r);
    assert_true(strncmp(r, "Status: ", 8) == 0);
    free(r);
    int status;
    assert_int_equal(waitpid(m, &status, 0), m);
    master_pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    tcp_port = 0;
}

static void test_cannot_listen(void **state)
{
    char bad[160];
    snprintf(bad, sizeof(bad), "syncto.listen = unix:%s/missing/s.sock\n", tmpdir);
    FILE *f = fopen(ini_path, "w");
    fprintf(f, "syncto.cache_hmac_secret = test-secret-0123456789\nsyncto.log_level = error\n%s",
            bad);
    fclose(f);
    sy_settings_t *s = NULL;
    char err[1024];
    assert_int_equal(sy_settings_load(ini_path, &s, err, sizeof(err)), SY_OK);
    assert_int_equal(sy_master_run(s), 1);
}

static int setup(void **state)
{
    /* settings come from the scratch file only */
    for (char **ep = environ; *ep != NULL;) {
        if (strncmp(*ep, "SYNCTO_", 7) == 0 || strncmp(*ep, "CLIQUET_", 8) == 0) {
            char name[256];
            snprintf(name, sizeof(name), "%.*s", (int)strcspn(*ep, "="), *ep);
            unsetenv(name);
            ep = environ; /* unsetenv moved the entries: start over */
        } else {
            ep++;
        }
    }
    char tmpl[] = "/tmp/sy_master_XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
    snprintf(ini_path, sizeof(ini_path), "%s/t.ini", tmpdir);
    snprintf(sock_path, sizeof(sock_path), "%s/s.sock", tmpdir);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_serves_across_recycling, kill_leftover),
        cmocka_unit_test_teardown(test_reload, kill_leftover),
        cmocka_unit_test_teardown(test_respawn, kill_leftover),
        cmocka_unit_test_teardown(test_graceful_stop, kill_leftover),
        cmocka_unit_test_teardown(test_stop_refuses_new_connections, kill_leftover),
        cmocka_unit_test_teardown(test_cannot_listen, kill_leftover),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
