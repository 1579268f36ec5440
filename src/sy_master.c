/* The master process: listening socket, worker supervision, signals.
 *
 * The master never serves requests. Its loop is poll() on two descriptors:
 * a signalfd (SIGCHLD, SIGHUP, SIGTERM, SIGINT, SIGQUIT, all blocked) and the
 * read end of a pipe the workers write short notes to (sy_worker_note_t:
 * READY once their threads run, RETIRING when they begin to stop). The poll
 * timeout is the nearest timer: a delayed respawn or a SIGKILL deadline.
 *
 * Workers belong to a generation; SIGHUP bumps it. The master keeps
 * `workers` non-retiring workers of the current generation alive; workers of
 * older generations get SIGTERM once the current generation is all READY, so
 * a reload never leaves the socket without workers and never cuts a request
 * (the socket itself stays open in the master throughout). */
#include "syncto/sy_master.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "syncto/sy_listen.h"
#include "syncto/sy_log.h"
#include "sy_version.h"
#include "syncto/sy_worker.h"

#define YOUNG_DEATH_SECONDS 10.0 /* a worker dying younger counts as a crash loop */
#define RESPAWN_DELAY_MAX 30.0
#define KILL_GRACE_SECONDS 5.0 /* on top of graceful_timeout before SIGKILL */

typedef struct {
    pid_t pid;
    unsigned gen;
    bool ready;    /* its threads are running */
    bool retiring; /* it announced its stop, or was told to stop */
    bool signaled; /* SIGTERM sent */
    double started;
    double kill_at; /* monotonic deadline for SIGKILL, 0 = none */
} child_t;

typedef struct {
    sy_settings_t *s;
    sy_listen_addr_t addr;
    char addr_text[160];
    int listen_fd;
    int sig_fd;
    int note_rd, note_wr;
    pid_t pid;

    child_t *kids;
    size_t nkids, cap;
    unsigned gen;
    bool announced; /* the current generation's "ready" line was logged */
    bool stopping;
    int crash_streak;
    double next_spawn;
} master_t;

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static child_t *find_child(master_t *m, pid_t pid)
{
    for (size_t i = 0; i < m->nkids; i++) {
        if (m->kids[i].pid == pid)
            return &m->kids[i];
    }
    return NULL;
}

static void remove_child(master_t *m, const child_t *c)
{
    size_t i = (size_t)(c - m->kids);
    m->kids[i] = m->kids[--m->nkids];
}

static void spawn_worker(master_t *m)
{
    if (m->nkids == m->cap) {
        size_t cap = m->cap == 0 ? 8 : m->cap * 2;
        child_t *k = realloc(m->kids, cap * sizeof(*k));
        if (k == NULL)
            abort();
        m->kids = k;
        m->cap = cap;
    }
    /* So that the child does not write what is buffered a second time; a
     * failure changes nothing to the fork. */
    (void)fflush(stdout);
    (void)fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        sy_log_error(NULL, "cannot fork a worker: %s; retrying in 1 s", strerror(errno));
        m->next_spawn = now_mono() + 1.0;
        return;
    }
    if (pid == 0) {
        /* The worker: it dies with the master (SIGTERM, so it still drains). */
        close(m->sig_fd);
        close(m->note_rd);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != m->pid)
            _exit(SY_WORKER_EXIT_OK); /* the master died before prctl */
        int status = sy_worker_run(m->s, m->listen_fd, m->note_wr);
#ifdef SY_CLEAN_EXIT
        /* Sanitizer builds: through exit(), so that LeakSanitizer checks
         * what the worker released (the master's own memory is still
         * reachable from this stack). stdio was flushed before fork(); the
         * atexit handlers inherited from the master (libraries' cleanups,
         * the sanitizers' own) run in a worker whose threads have all
         * ended. */
        exit(status);
#else
        /* The atexit handlers and stdio buffers are the master's. */
        _exit(status);
#endif
    }
    child_t *c = &m->kids[m->nkids++];
    *c = (child_t){.pid = pid, .gen = m->gen, .started = now_mono()};
    sy_log_debug(NULL, "started worker %ld (generation %u)", (long)pid, m->gen);
}

static void stop_child(master_t *m, child_t *c, int sig)
{
    if (sig == SIGTERM && c->signaled)
        return;
    kill(c->pid, sig);
    c->retiring = true;
    if (sig == SIGTERM) {
        c->signaled = true;
        double deadline = now_mono() + (double)m->s->graceful_timeout_seconds + KILL_GRACE_SECONDS;
        if (c->kill_at == 0 || deadline < c->kill_at)
            c->kill_at = deadline;
    }
}

static void describe_status(int status, char *out, size_t n)
{
    if (WIFEXITED(status))
        snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, n, "was killed by signal %d (%s)%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)), WCOREDUMP(status) ? ", core dumped" : "");
    else
        snprintf(out, n, "ended with wait status 0x%x", (unsigned)status);
}

static void reap_children(master_t *m)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        child_t *c = find_child(m, pid);
        if (c == NULL)
            continue;
        char how[128];
        describe_status(status, how, sizeof(how));
        double now = now_mono();
        double age = now - c->started;
        bool clean = WIFEXITED(status) && WEXITSTATUS(status) == SY_WORKER_EXIT_OK;

        if (c->retiring || m->stopping) {
            if (clean)
                sy_log_info(NULL, "worker %ld stopped", (long)pid);
            else
                sy_log_warn(NULL, "worker %ld %s while stopping", (long)pid, how);
        } else if (c->gen != m->gen) {
            sy_log_warn(NULL, "worker %ld of the previous settings %s", (long)pid, how);
        } else {
            m->crash_streak = age < YOUNG_DEATH_SECONDS ? m->crash_streak + 1 : 1;
            double delay = 0;
            if (m->crash_streak > 1) {
                delay = 0.25;
                for (int i = 2; i < m->crash_streak && delay < RESPAWN_DELAY_MAX; i++)
                    delay *= 2;
                if (delay > RESPAWN_DELAY_MAX)
                    delay = RESPAWN_DELAY_MAX;
            }
            sy_log_error(NULL, "worker %ld %s after %.1f s; respawning it in %.2f s", (long)pid,
                         how, age, delay);
            if (now + delay > m->next_spawn)
                m->next_spawn = now + delay;
        }
        remove_child(m, c);
    }
}

static void read_notes(master_t *m)
{
    sy_worker_note_t notes[64];
    for (;;) {
        ssize_t n = read(m->note_rd, notes, sizeof(notes));
        if (n <= 0)
            return; /* EAGAIN: drained */
        for (size_t i = 0; i < (size_t)n / sizeof(notes[0]); i++) {
            child_t *c = find_child(m, (pid_t)notes[i].pid);
            if (c == NULL)
                continue;
            if (notes[i].event == SY_WORKER_NOTE_READY) {
                c->ready = true;
            } else if (notes[i].event == SY_WORKER_NOTE_RETIRING && !c->retiring) {
                /* it stops by itself (worker_max_requests or a signal from
                 * elsewhere): replace it now, kill it if it hangs */
                c->retiring = true;
                c->kill_at =
                    now_mono() + (double)m->s->graceful_timeout_seconds + KILL_GRACE_SECONDS;
                sy_log_info(NULL, "worker %ld is retiring; starting a replacement", (long)c->pid);
            }
        }
    }
}

/* Removes the unix socket file (if it is still ours) and closes the master's
 * copy of the listening socket. */
static void close_listener(master_t *m)
{
    if (m->listen_fd < 0)
        return;
    sy_listen_unlink(&m->addr);
    close(m->listen_fd);
    m->listen_fd = -1;
}

static void begin_stop(master_t *m, int sig)
{
    if (m->stopping) {
        sy_log_warn(NULL, "signal %d (%s) again: killing the workers now", sig, strsignal(sig));
        for (size_t i = 0; i < m->nkids; i++)
            stop_child(m, &m->kids[i], SIGKILL);
        return;
    }
    m->stopping = true;
    /* From now on new connections are refused (nginx answers its 502 at
     * once) instead of waiting in the socket's queue, which nobody reads
     * any more, until the last worker has drained: the socket file goes and
     * the socket closes once each worker has closed its copy too. */
    close_listener(m);
    sy_log_info(NULL, "signal %d (%s): stopping %zu workers gracefully (at most %d s)", sig,
                strsignal(sig), m->nkids, m->s->graceful_timeout_seconds);
    for (size_t i = 0; i < m->nkids; i++)
        stop_child(m, &m->kids[i], SIGTERM);
}

static void reload(master_t *m)
{
    char err[1024];
    sy_settings_t *ns = NULL;
    if (sy_settings_load(m->s->ini_path, &ns, err, sizeof(err)) != SY_OK) {
        sy_log_error(NULL, "SIGHUP: settings not reloaded, keeping the current ones: %s", err);
        return;
    }
    if (strcmp(ns->listen, m->s->listen) != 0) {
        sy_log_warn(NULL, "SIGHUP: syncto.listen changed from %s to %s; restart syncto to apply it",
                    m->s->listen, ns->listen);
        free(ns->listen);
        ns->listen = strdup(m->s->listen);
        if (ns->listen == NULL)
            abort();
    }
    if (ns->listen_backlog != m->s->listen_backlog && listen(m->listen_fd, ns->listen_backlog) != 0)
        sy_log_warn(NULL, "SIGHUP: cannot change the listen backlog: %s", strerror(errno));

    sy_log_init(ns);
    sy_settings_free(m->s);
    m->s = ns;
    m->gen++;
    m->announced = false;
    m->crash_streak = 0;
    m->next_spawn = 0;
    sy_log_info(NULL, "SIGHUP: settings reloaded from %s; starting %d new workers", ns->ini_path,
                ns->workers);
}

static void handle_signals(master_t *m)
{
    struct signalfd_siginfo si;
    while (read(m->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            break; /* reaped below, every turn */
        case SIGHUP:
            if (!m->stopping)
                reload(m);
            break;
        case SIGTERM:
        case SIGINT:
        case SIGQUIT:
            begin_stop(m, (int)si.ssi_signo);
            break;
        default:
            break;
        }
    }
}

/* Starts missing workers, retires old generations once the current one is
 * ready and logs the ready line. */
static void maintain(master_t *m, double now)
{
    int live = 0, ready = 0;
    for (size_t i = 0; i < m->nkids; i++) {
        const child_t *c = &m->kids[i];
        if (c->gen == m->gen && !c->retiring) {
            live++;
            ready += c->ready;
        }
    }
    while (live < m->s->workers && now >= m->next_spawn) {
        spawn_worker(m);
        live++;
    }
    if (ready < m->s->workers)
        return;
    for (size_t i = 0; i < m->nkids; i++) {
        if (m->kids[i].gen != m->gen && !m->kids[i].signaled)
            stop_child(m, &m->kids[i], SIGTERM);
    }
    if (!m->announced) {
        m->announced = true;
        if (m->gen == 1)
            sy_log_info(NULL, "listening on %s with %d workers x %d threads", m->addr_text,
                        m->s->workers, m->s->threads);
        else
            sy_log_info(NULL, "reload complete: %d workers x %d threads (generation %u)",
                        m->s->workers, m->s->threads, m->gen);
    }
}

/* Kills children past their deadline; returns the poll timeout (ms) until
 * the nearest timer, -1 when there is none. */
static int timers(master_t *m, double now)
{
    double next = -1;
    for (size_t i = 0; i < m->nkids; i++) {
        child_t *c = &m->kids[i];
        if (c->kill_at == 0)
            continue;
        if (now >= c->kill_at) {
            sy_log_warn(NULL, "worker %ld did not stop in time: SIGKILL", (long)c->pid);
            kill(c->pid, SIGKILL);
            c->kill_at = 0;
            continue;
        }
        if (next < 0 || c->kill_at < next)
            next = c->kill_at;
    }
    if (!m->stopping && m->next_spawn > now && (next < 0 || m->next_spawn < next))
        next = m->next_spawn;
    if (next < 0)
        return -1;
    return (int)((next - now) * 1000.0) + 1;
}

static bool setup(master_t *m, char *err, size_t errlen)
{
    char why[256];
    if (sy_listen_parse(m->s->listen, &m->addr, why, sizeof(why)) != SY_OK) {
        snprintf(err, errlen, "syncto.listen: %s", why);
        return false;
    }
    sy_listen_format(&m->addr, m->addr_text, sizeof(m->addr_text));
    m->listen_fd = sy_listen_open(&m->addr, m->s->listen_backlog, err, errlen);
    if (m->listen_fd < 0)
        return false;

    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return false;
    }
    m->note_rd = p[0];
    m->note_wr = p[1];

    (void)signal(SIGPIPE, SIG_IGN); /* fails only for an invalid signal number */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    m->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (m->sig_fd < 0) {
        snprintf(err, errlen, "signalfd: %s", strerror(errno));
        return false;
    }
    return true;
}

int sy_master_run(sy_settings_t *s)
{
    master_t m = {.s = s,
                  .listen_fd = -1,
                  .sig_fd = -1,
                  .note_rd = -1,
                  .note_wr = -1,
                  .pid = getpid(),
                  .gen = 1};
    char err[1024];
    int status = 0;

    sy_log_init(s);
    if (!setup(&m, err, sizeof(err))) {
        sy_log_error(NULL, "cannot start: %s", err);
        status = 1;
        goto done;
    }
    sy_log_info(NULL, "syncto %s (%s) master %ld starting with settings from %s", SY_VERSION,
                SY_GIT_COMMIT, (long)m.pid, s->ini_path);

    for (;;) {
        double now = now_mono();
        if (!m.stopping)
            maintain(&m, now);
        if (m.stopping && m.nkids == 0)
            break;
        int timeout = timers(&m, now);
        struct pollfd fds[2] = {{.fd = m.sig_fd, .events = POLLIN},
                                {.fd = m.note_rd, .events = POLLIN}};
        if (poll(fds, 2, timeout) < 0 && errno != EINTR) {
            sy_log_error(NULL, "poll: %s", strerror(errno));
            struct timespec ts = {0, 100000000L};
            nanosleep(&ts, NULL);
        }
        read_notes(&m);
        handle_signals(&m);
        reap_children(&m);
    }
    sy_log_info(NULL, "all workers stopped; master exiting");

done:
    close_listener(&m);
    if (m.sig_fd >= 0)
        close(m.sig_fd);
    if (m.note_rd >= 0)
        close(m.note_rd);
    if (m.note_wr >= 0)
        close(m.note_wr);
    free(m.kids);
    sy_settings_free(m.s);
    return status;
}
