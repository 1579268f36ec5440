#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "syncto/sy_listen.h"

static char tmpdir[PATH_MAX];

static const struct {
    const char *spec;
    bool is_unix;
    const char *path_or_host;
    const char *port;
    const char *formatted;
} good[] = {
    {"unix:/run/syncto/syncto.sock", true, "/run/syncto/syncto.sock", "",
     "unix:/run/syncto/syncto.sock"},
    {"unix:/a", true, "/a", "", "unix:/a"},
    {"127.0.0.1:9000", false, "127.0.0.1", "9000", "127.0.0.1:9000"},
    {"localhost:1", false, "localhost", "1", "localhost:1"},
    {"fcgi.internal:65535", false, "fcgi.internal", "65535", "fcgi.internal:65535"},
    {"[::1]:9000", false, "::1", "9000", "[::1]:9000"},
    {"[::ffff:127.0.0.1]:80", false, "::ffff:127.0.0.1", "80", "[::ffff:127.0.0.1]:80"},
    {"127.0.0.1:00080", false, "127.0.0.1", "80", "127.0.0.1:80"},
};

static const struct {
    const char *spec;
    const char *error;
} bad[] = {
    {"", "empty (expected unix:/path or host:port)"},
    {"unix:", "unix socket path must be absolute"},
    {"unix:relative.sock", "unix socket path must be absolute"},
    {"unix:/"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaa",
     "unix socket path longer than 107 bytes"},
    {"localhost", "expected unix:/path or host:port"},
    {"/run/syncto.sock", "expected unix:/path or host:port"},
    {":9000", "missing host (e.g. 127.0.0.1:port)"},
    {"127.0.0.1:", "port must be a number from 1 to 65535"},
    {"127.0.0.1:0", "port must be a number from 1 to 65535"},
    {"127.0.0.1:65536", "port must be a number from 1 to 65535"},
    {"127.0.0.1:123456", "port must be a number from 1 to 65535"},
    {"127.0.0.1:80a", "port must be a number from 1 to 65535"},
    {"127.0.0.1:-1", "port must be a number from 1 to 65535"},
    {"::1:9000", "invalid host (IPv6 needs [brackets])"},
    {"host name:80", "invalid host (IPv6 needs [brackets])"},
    {"[::1]9000", "expected [ipv6]:port"},
    {"[::1", "expected [ipv6]:port"},
    {"[zz::1]:80", "invalid host"},
    {"[]:80", "missing host (e.g. 127.0.0.1:port)"},
};

static void test_parse(void **state)
{
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        sy_listen_addr_t a;
        char err[160] = "", text[200];
        if (sy_listen_parse(good[i].spec, &a, err, sizeof(err)) != SY_OK)
            fail_msg("%s: %s", good[i].spec, err);
        assert_int_equal(a.is_unix, good[i].is_unix);
        assert_string_equal(a.is_unix ? a.path : a.host, good[i].path_or_host);
        assert_string_equal(a.port, good[i].port);
        sy_listen_format(&a, text, sizeof(text));
        assert_string_equal(text, good[i].formatted);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sy_listen_addr_t a;
        char err[160] = "";
        if (sy_listen_parse(bad[i].spec, &a, err, sizeof(err)) != SY_ERR_CONFIG)
            fail_msg("%s: accepted", bad[i].spec);
        if (strcmp(err, bad[i].error) != 0)
            fail_msg("%s:\n  got:  %s\n  want: %s", bad[i].spec, err, bad[i].error);
    }
}

static bool connects_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

static void test_open_unix(void **state)
{
    char spec[PATH_MAX + 32], err[PATH_MAX + 128] = "", want[PATH_MAX + 128];
    snprintf(spec, sizeof(spec), "unix:%s/s.sock", tmpdir);
    sy_listen_addr_t a, b;
    assert_int_equal(sy_listen_parse(spec, &a, err, sizeof(err)), SY_OK);

    int fd = sy_listen_open(&a, 16, err, sizeof(err));
    if (fd < 0)
        fail_msg("%s", err);
    struct stat st;
    assert_int_equal(stat(a.path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0666);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_true(connects_unix(a.path));

    /* a live server keeps its socket */
    b = a;
    assert_int_equal(sy_listen_open(&b, 16, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "another server is listening on %s", a.path);
    assert_string_equal(err, want);
    assert_true(connects_unix(a.path));

    /* a dead server's socket file is replaced */
    close(fd);
    assert_int_equal(stat(a.path, &st), 0);
    b = a;
    fd = sy_listen_open(&b, 16, err, sizeof(err));
    if (fd < 0)
        fail_msg("%s", err);
    assert_true(connects_unix(b.path));

    /* the old identity no longer matches: unlink leaves the new socket */
    sy_listen_unlink(&a);
    assert_int_equal(stat(b.path, &st), 0);
    sy_listen_unlink(&b);
    assert_int_equal(stat(b.path, &st), -1);
    assert_int_equal(errno, ENOENT);
    close(fd);

    /* something that is not a socket is never removed */
    FILE *f = fopen(a.path, "w");
    fclose(f);
    b = a;
    assert_int_equal(sy_listen_open(&b, 16, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s exists and is not a socket", a.path);
    assert_string_equal(err, want);
    assert_int_equal(stat(a.path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    unlink(a.path);

    /* a directory that does not exist */
    snprintf(spec, sizeof(spec), "unix:%s/missing/s.sock", tmpdir);
    assert_int_equal(sy_listen_parse(spec, &b, err, sizeof(err)), SY_OK);
    assert_int_equal(sy_listen_open(&b, 16, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "cannot bind %s/missing/s.sock: No such file or directory",
             tmpdir);
    assert_string_equal(err, want);
}

static void test_open_tcp(void **state)
{
    /* find a free port, then listen on it */
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    assert_int_equal(bind(probe, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(probe, (struct sockaddr *)&sin, &len), 0);
    close(probe);

    char spec[64], err[512] = "", want[128];
    snprintf(spec, sizeof(spec), "127.0.0.1:%d", ntohs(sin.sin_port));
    sy_listen_addr_t a, b;
    assert_int_equal(sy_listen_parse(spec, &a, err, sizeof(err)), SY_OK);
    int fd = sy_listen_open(&a, 16, err, sizeof(err));
    if (fd < 0)
        fail_msg("%s", err);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);

    int c = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(c, (struct sockaddr *)&sin, sizeof(sin)), 0);
    close(c);

    /* the port is taken now */
    b = a;
    assert_int_equal(sy_listen_open(&b, 16, err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "cannot listen on %s: Address already in use", spec);
    assert_string_equal(err, want);
    sy_listen_unlink(&a); /* no-op for TCP */
    close(fd);
}

static int setup(void **state)
{
    char tmpl[] = "/tmp/sy_listen_XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    assert_non_null(realpath(tmpl, tmpdir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_open_unix),
        cmocka_unit_test(test_open_tcp),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
