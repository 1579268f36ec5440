#ifndef SY_LISTEN_H
#define SY_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include "syncto/sy_rc.h"

/* The FastCGI listening socket: parsing of syncto.listen and opening. */

/* A parsed syncto.listen value: "unix:/abs/path" or "host:port" (host may be
 * a name, an IPv4 address or a bracketed IPv6 address). */
typedef struct {
    bool is_unix;
    char path[108]; /* unix socket path (fits sun_path) */
    char host[256]; /* TCP host, brackets removed */
    char port[6];   /* TCP port, 1..65535 */
    /* set by sy_listen_open for a unix socket: identity of the socket file
     * (inode numbers are reused, so the change time is part of it) */
    unsigned long long file_dev, file_ino;
    long long file_ctime_ns;
} sy_listen_addr_t;

/* Parses a syncto.listen value into out. On error writes the reason (without
 * the value) into err and returns SY_ERR_CONFIG. */
SY_MUST_CHECK sy_rc_t sy_listen_parse(const char *spec, sy_listen_addr_t *out, char *err,
                                      size_t errlen);

/* Binds and listens (backlog) on addr, close-on-exec and non-blocking. A unix
 * socket file left by a dead server is removed first; one that a live server
 * still answers on is an error. The socket file gets mode 0666: access is
 * controlled by the permissions of its directory. Returns the fd, or -1 with
 * one line in err. */
int sy_listen_open(sy_listen_addr_t *addr, int backlog, char *err, size_t errlen);

/* Removes the unix socket file that sy_listen_open created, unless another
 * file has replaced it since (a newer server); no-op for TCP. */
void sy_listen_unlink(const sy_listen_addr_t *addr);

/* Writes the address back in syncto.listen form ("unix:/p", "h:p", "[v6]:p"). */
void sy_listen_format(const sy_listen_addr_t *addr, char *out, size_t n);

#endif
