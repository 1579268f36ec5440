/* The FastCGI listening socket.
 *
 * Why not FCGX_OpenSocket(): libfcgi's version unlinks the unix path
 * unconditionally (it would steal the socket of a server still running),
 * binds IPv4 only, and reports failures on stderr (some versions exit()).
 * The worker threads only need a listening fd for FCGX_InitRequest(), so the
 * socket is made here, with errors that say what went wrong. */
#include "syncto/sy_listen.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define UNIX_PREFIX "unix:"

static bool valid_host_name(const char *h)
{
    for (; *h != '\0'; h++) {
        unsigned char c = (unsigned char)*h;
        if (!(isalnum(c) || c == '.' || c == '-' || c == '_'))
            return false;
    }
    return true;
}

static bool valid_ipv6(const char *h)
{
    for (; *h != '\0'; h++) {
        unsigned char c = (unsigned char)*h;
        if (!(isxdigit(c) || c == ':' || c == '.'))
            return false;
    }
    return true;
}

sy_rc_t sy_listen_parse(const char *spec, sy_listen_addr_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (spec == NULL || *spec == '\0') {
        snprintf(err, errlen, "empty (expected unix:/path or host:port)");
        return SY_ERR_CONFIG;
    }
    if (strncmp(spec, UNIX_PREFIX, strlen(UNIX_PREFIX)) == 0) {
        const char *path = spec + strlen(UNIX_PREFIX);
        if (path[0] != '/') {
            snprintf(err, errlen, "unix socket path must be absolute");
            return SY_ERR_CONFIG;
        }
        if (strlen(path) >= sizeof(out->path)) {
            snprintf(err, errlen, "unix socket path longer than %zu bytes", sizeof(out->path) - 1);
            return SY_ERR_CONFIG;
        }
        out->is_unix = true;
        snprintf(out->path, sizeof(out->path), "%s", path);
        return SY_OK;
    }

    const char *colon;
    const char *host = spec;
    size_t hlen;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (close == NULL || close[1] != ':') {
            snprintf(err, errlen, "expected [ipv6]:port");
            return SY_ERR_CONFIG;
        }
        host = spec + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(spec, ':');
        if (colon == NULL) {
            snprintf(err, errlen, "expected unix:/path or host:port");
            return SY_ERR_CONFIG;
        }
        hlen = (size_t)(colon - spec);
    }
    if (hlen == 0) {
        snprintf(err, errlen, "missing host (e.g. 127.0.0.1:port)");
        return SY_ERR_CONFIG;
    }
    if (hlen >= sizeof(out->host)) {
        snprintf(err, errlen, "host name too long");
        return SY_ERR_CONFIG;
    }
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    bool ok = spec[0] == '[' ? valid_ipv6(out->host) : valid_host_name(out->host);
    if (!ok) {
        snprintf(err, errlen, "invalid host%s", spec[0] == '[' ? "" : " (IPv6 needs [brackets])");
        return SY_ERR_CONFIG;
    }

    const char *port = colon + 1;
    size_t plen = strlen(port);
    long value = 0;
    bool digits = plen >= 1 && plen <= 5;
    for (size_t i = 0; digits && i < plen; i++) {
        if (!isdigit((unsigned char)port[i]))
            digits = false;
        else
            value = value * 10 + (port[i] - '0');
    }
    if (!digits || value < 1 || value > 65535) {
        snprintf(err, errlen, "port must be a number from 1 to 65535");
        return SY_ERR_CONFIG;
    }
    snprintf(out->port, sizeof(out->port), "%ld", value);
    return SY_OK;
}

void sy_listen_format(const sy_listen_addr_t *addr, char *out, size_t n)
{
    if (addr->is_unix)
        snprintf(out, n, "unix:%s", addr->path);
    else if (strchr(addr->host, ':') != NULL)
        snprintf(out, n, "[%s]:%s", addr->host, addr->port);
    else
        snprintf(out, n, "%s:%s", addr->host, addr->port);
}

/* Removes path when it is a socket nobody answers on (left by a server that
 * died); fails when it is something else or a live server. */
static bool clear_stale_socket(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return true;
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        return false;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket", path);
        return false;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return false;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    int saved = errno;
    close(fd);
    if (rc == 0 || saved == EAGAIN) {
        snprintf(err, errlen, "another server is listening on %s", path);
        return false;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot remove stale socket %s: %s", path, strerror(errno));
        return false;
    }
    return true;
}

static long long ctime_ns(const struct stat *st)
{
    return (long long)st->st_ctim.tv_sec * 1000000000LL + (long long)st->st_ctim.tv_nsec;
}

static int open_unix(sy_listen_addr_t *addr, int backlog, char *err, size_t errlen)
{
    if (!clear_stale_socket(addr->path, err, errlen))
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", addr->path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        snprintf(err, errlen, "cannot bind %s: %s", addr->path, strerror(errno));
        close(fd);
        return -1;
    }
    /* 0666: nginx runs as another user; who may connect is decided by the
     * permissions of the socket's directory (e.g. /run/syncto 0750
     * syncto:www-data), which is where operators already manage access. */
    struct stat st;
    if (chmod(addr->path, 0666) != 0 || stat(addr->path, &st) != 0 || listen(fd, backlog) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", addr->path, strerror(errno));
        unlink(addr->path);
        close(fd);
        return -1;
    }
    addr->file_dev = (unsigned long long)st.st_dev;
    addr->file_ino = (unsigned long long)st.st_ino;
    addr->file_ctime_ns = ctime_ns(&st);
    return fd;
}

static int open_tcp(const sy_listen_addr_t *addr, int backlog, char *err, size_t errlen)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(addr->host, addr->port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", addr->host, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    int saved = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, errlen, "cannot listen on %s:%s: %s", addr->host, addr->port,
                 strerror(saved));
    return fd;
}

int sy_listen_open(sy_listen_addr_t *addr, int backlog, char *err, size_t errlen)
{
    return addr->is_unix ? open_unix(addr, backlog, err, errlen)
                         : open_tcp(addr, backlog, err, errlen);
}

void sy_listen_unlink(const sy_listen_addr_t *addr)
{
    struct stat st;
    if (!addr->is_unix || addr->file_ino == 0 || lstat(addr->path, &st) != 0)
        return;
    if ((unsigned long long)st.st_dev == addr->file_dev &&
        (unsigned long long)st.st_ino == addr->file_ino && ctime_ns(&st) == addr->file_ctime_ns)
        unlink(addr->path);
}
