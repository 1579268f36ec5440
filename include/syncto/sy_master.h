#ifndef SY_MASTER_H
#define SY_MASTER_H

#include "syncto/sy_settings.h"

/* The master process of the FastCGI pool (nginx/PgBouncer style): it owns
 * the listening socket for its whole life, pre-forks syncto.workers worker
 * processes (sy_worker.h) and supervises them:
 *   - a worker that dies is respawned, with a growing delay if it keeps
 *     dying young; one that retires (worker_max_requests) is replaced at once;
 *   - SIGHUP re-reads the settings file: new workers start with the new
 *     settings, the old ones stop gracefully once the new ones are ready; an
 *     invalid file is logged and the old settings stay;
 *   - SIGTERM/SIGINT/SIGQUIT stop the workers gracefully (SIGKILL after
 *     syncto.graceful_timeout_seconds), remove the unix socket and return;
 *     a second such signal kills the workers at once. */

/* Runs the master until it is told to stop; returns the process exit status
 * (0 after a clean stop, 1 when the socket cannot be opened). Takes
 * ownership of s (freed before returning). */
int sy_master_run(sy_settings_t *s);

#endif
