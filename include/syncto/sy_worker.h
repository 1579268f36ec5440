#ifndef SY_WORKER_H
#define SY_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "syncto/sy_rc.h"
#include "syncto/sy_settings.h"

/* One worker process of the FastCGI pool: `syncto.threads` threads that take
 * turns accepting on the listening socket inherited from the master (see
 * sy_master.h) and serve each request with sy_fcgi_handle(). The process
 * stops gracefully on SIGTERM/SIGINT, after syncto.worker_max_requests
 * requests, or when the master dies. docs/internals/process-model.md tells
 * the whole story. */

typedef struct sy_worker sy_worker_t;

/* Messages a worker writes to the master's notification pipe (one write of
 * sizeof(sy_worker_note_t) bytes, atomic on a pipe). */
enum { SY_WORKER_NOTE_READY = 1, SY_WORKER_NOTE_RETIRING = 2 };
typedef struct {
    int32_t pid;
    int32_t event; /* SY_WORKER_NOTE_* */
} sy_worker_note_t;

/* Exit statuses of a worker process. */
enum {
    SY_WORKER_EXIT_OK = 0,     /* stopped gracefully */
    SY_WORKER_EXIT_FAILED = 2, /* could not start, or lost its listening socket */
    SY_WORKER_EXIT_TIMEOUT = 3 /* graceful timeout: in-flight requests abandoned */
};

/* Body of a forked worker process: starts the threads on listen_fd, reports
 * READY and RETIRING on notify_fd (-1: none), serves until told to stop and
 * returns the process exit status (SY_WORKER_EXIT_*). It blocks every signal
 * in every thread and takes SIGTERM/SIGINT with sigwait in its main thread. */
int sy_worker_run(const sy_settings_t *s, int listen_fd, int notify_fd);

/* Requests this worker process has completed so far (0 when w is NULL). */
uint64_t sy_worker_nrequests(const sy_worker_t *w);

#endif
