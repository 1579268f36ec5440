/* One worker process of the FastCGI pool.
 *
 * Threads take turns on the listening socket: a per-process mutex lets one
 * thread at a time wait for a connection (like libfcgi's threaded example),
 * the others wait for the mutex, and a thread that got a request releases
 * the mutex before serving it. The listening socket is non-blocking and the
 * waiting thread poll()s it together with a "stop" pipe:
 *   - several processes share the socket, so a connection announced by
 *     poll() may be taken by another worker; FCGX_Accept_r() then fails with
 *     EAGAIN instead of blocking, and the thread polls again;
 *   - to stop, the main thread makes the stop pipe readable: the waiting
 *     thread wakes up at once, every other thread sees the flag when it gets
 *     the mutex or finishes its request, so no thread is left blocked in
 *     accept() and a connection is either accepted and served or left in
 *     the kernel queue for another worker. Nothing is lost and there is no
 *     race between "accepted" and "counted".
 * The socket is shared with the master and the other workers, so it is never
 * shut down here (that would stop them too); a stopping worker only closes
 * its own descriptor.
 *
 * Signals: every thread blocks every asynchronous signal; the main thread
 * takes them with sigwaitinfo(). SIGTERM/SIGINT/SIGQUIT stop the worker,
 * SIGUSR2 comes from a thread of this process (served worker_max_requests,
 * or a fatal accept error). The worker tells the master it is retiring first,
 * so that the master starts a replacement at once. */
#include "syncto/sy_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "syncto/sy_cache.h"
#include "syncto/sy_memcache.h"
#include "syncto/sy_sentry.h"
#include "syncto/sy_statsd.h"

#include "syncto/sy_ctx.h"
#include "syncto/sy_fcgi.h"
#include "syncto/sy_http.h"
#include "syncto/sy_log.h"
#include "syncto/sy_pool.h"

#define THREAD_STACK_BYTES ((size_t)256 * 1024)
#define POOL_BLOCK_BYTES 16384
#define ACCEPT_RETRY_NS 100000000L /* 100 ms after a resource error */

enum { STOP_NONE = 0, STOP_SIGNAL, STOP_RECYCLE, STOP_FATAL };

struct sy_worker {
    const sy_settings_t *settings;
    int listen_fd;
    int notify_fd;
    int wake_rd, wake_wr; /* readable once the worker stops */
    pthread_t main_thread;
    pthread_mutex_t accept_lock;
    atomic_bool stopping;
    atomic_int stop_reason; /* STOP_*, set by the first thread asking */
    sy_load_t load;         /* threads running, and serving a request */
    atomic_uint_fast64_t nrequests;
    int nthreads;

    pthread_mutex_t done_lock;
    pthread_cond_t done_cond; /* signalled when a thread ends */
    int nrunning;

    pthread_t *tids;
    sy_ctx_t *ctxs;
    struct sy_cache *cache;
    struct sy_memcache *memcache;
};

uint64_t sy_worker_nrequests(const sy_worker_t *w)
{
    return w == NULL ? 0 : (uint64_t)atomic_load(&w->nrequests);
}

static void notify_master(const sy_worker_t *w, int event)
{
    if (w->notify_fd < 0)
        return;
    sy_worker_note_t note = {.pid = (int32_t)getpid(), .event = event};
    ssize_t n;
    do {
        n = write(w->notify_fd, &note, sizeof(note));
    } while (n < 0 && errno == EINTR);
}

/* Asks the main thread to stop the worker (from a request thread). */
static void ask_stop(sy_worker_t *w, int reason)
{
    int none = STOP_NONE;
    if (atomic_compare_exchange_strong(&w->stop_reason, &none, reason))
        pthread_kill(w->main_thread, SIGUSR2);
}

static void pause_briefly(void)
{
    struct timespec ts = {0, ACCEPT_RETRY_NS};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Waits for a request on the shared socket; called with accept_lock held.
 * True with an accepted request in req, false when the worker stops. */
static bool accept_one(sy_worker_t *w, FCGX_Request *req)
{
    struct pollfd fds[2] = {{.fd = w->listen_fd, .events = POLLIN},
                            {.fd = w->wake_rd, .events = POLLIN}};

    while (!atomic_load(&w->stopping)) {
        int n = poll(fds, 2, -1);
        if (n < 0) {
            if (errno != EINTR) {
                sy_log_error(NULL, "worker: poll: %s", strerror(errno));
                pause_briefly();
            }
            continue;
        }
        if (fds[1].revents != 0)
            break;
        if (fds[0].revents & (POLLERR | POLLNVAL)) {
            sy_log_error(NULL, "worker: listening socket failed (revents 0x%x)",
                         (unsigned)fds[0].revents);
            ask_stop(w, STOP_FATAL);
            break;
        }
        if ((fds[0].revents & POLLIN) == 0)
            continue;

        int rc = FCGX_Accept_r(req);
        if (rc == 0)
            return true;
        int err = -rc;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED)
            continue; /* another worker took it, or the client gave up */
        if (err > 0 && err < 4096)
            sy_log_warn(NULL, "worker: accept failed: %s; retrying", strerror(err));
        else
            sy_log_warn(NULL, "worker: accept failed (libfcgi error %d); retrying", rc);
        pause_briefly(); /* EMFILE and the like: don't spin */
    }
    return false;
}

static void thread_done(sy_worker_t *w)
{
    pthread_mutex_lock(&w->done_lock);
    w->nrunning--;
    pthread_cond_broadcast(&w->done_cond);
    pthread_mutex_unlock(&w->done_lock);
}

static void *thread_main(void *arg)
{
    sy_ctx_t *ctx = arg;
    sy_worker_t *w = ctx->worker;
    int max = w->settings->worker_max_requests;
    FCGX_Request req;

    if (FCGX_InitRequest(&req, w->listen_fd, 0) != 0) {
        sy_log_error(NULL, "worker: FCGX_InitRequest failed");
        ask_stop(w, STOP_FATAL);
        thread_done(w);
        return NULL;
    }
    for (;;) {
        pthread_mutex_lock(&w->accept_lock);
        bool got = accept_one(w, &req);
        pthread_mutex_unlock(&w->accept_lock);
        if (!got)
            break;

        atomic_fetch_add(&w->load.busy, 1);
        sy_fcgi_handle(&req, ctx);
        FCGX_Finish_r(&req);
        if (req.ipcFd >= 0)
            FCGX_Free(&req, 1); /* connections are not kept between requests */
        atomic_fetch_sub(&w->load.busy, 1);

        ctx->nrequests++;
        uint64_t n = (uint64_t)atomic_fetch_add(&w->nrequests, 1) + 1;
        if (max > 0 && n >= (uint64_t)max)
            ask_stop(w, STOP_RECYCLE);
    }
    FCGX_Free(&req, 1);
    sy_http_free(ctx->http); /* created on first use by sy_http_of() */
    ctx->http = NULL;
    thread_done(w);
    return NULL;
}

/* Starts the threads; false if one could not be created (the ones that were
 * are then stopped by the caller's normal stop path). */
static bool start_threads(sy_worker_t *w)
{
    pthread_attr_t attr;
    bool ok = true;

    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK_BYTES);
    for (int i = 0; i < w->nthreads; i++) {
        sy_ctx_t *ctx = &w->ctxs[i];
        ctx->settings = w->settings;
        ctx->worker = w;
        ctx->load = &w->load;
        ctx->cache = w->cache;
        ctx->memcache = w->memcache;
        ctx->http = NULL;
        ctx->pool = sy_pool_new(POOL_BLOCK_BYTES);
        ctx->thread_index = i;
        pthread_mutex_lock(&w->done_lock);
        w->nrunning++;
        pthread_mutex_unlock(&w->done_lock);
        int rc = pthread_create(&w->tids[i], &attr, thread_main, ctx);
        if (rc != 0) {
            sy_log_error(NULL, "worker: cannot start thread %d of %d: %s", i + 1, w->nthreads,
                         strerror(rc));
            pthread_mutex_lock(&w->done_lock);
            w->nrunning--;
            pthread_mutex_unlock(&w->done_lock);
            sy_pool_free(ctx->pool);
            ctx->pool = NULL;
            w->nthreads = i;
            atomic_store(&w->load.nthreads, i);
            ok = false;
            break;
        }
    }
    pthread_attr_destroy(&attr);
    return ok;
}

/* Waits until every thread has ended or the deadline passes; returns the
 * number of threads still running. */
static int wait_threads(sy_worker_t *w, int timeout_seconds)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_seconds;

    pthread_mutex_lock(&w->done_lock);
    while (w->nrunning > 0) {
        if (pthread_cond_timedwait(&w->done_cond, &w->done_lock, &deadline) == ETIMEDOUT)
            break;
    }
    int left = w->nrunning;
    pthread_mutex_unlock(&w->done_lock);
    return left;
}

/* The signal the main thread waits on; everything else asynchronous stays
 * blocked everywhere (faults are left alone so a crash is still a crash). */
static void block_signals(sigset_t *waitset)
{
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGABRT);
    sigdelset(&all, SIGTRAP);
    sigdelset(&all, SIGSYS);
    pthread_sigmask(SIG_BLOCK, &all, NULL);

    sigemptyset(waitset);
    sigaddset(waitset, SIGTERM);
    sigaddset(waitset, SIGINT);
    sigaddset(waitset, SIGQUIT);
    sigaddset(waitset, SIGHUP);
    sigaddset(waitset, SIGUSR1);
    sigaddset(waitset, SIGUSR2);
}

/* Waits for a reason to stop. Meanwhile, once a second, wipes the
 * in-memory credentials whose time is up, so that an idle worker does not
 * keep them until the next lookup. */
static int wait_for_stop(sy_worker_t *w, const sigset_t *waitset)
{
    const struct timespec tick = {1, 0};

    for (;;) {
        siginfo_t info;
        int sig = sigtimedwait(waitset, &info, &tick);
        if (sig < 0) {
            if (errno == EAGAIN)
                sy_memcache_sweep(w->memcache);
            continue; /* the tick, or EINTR */
        }
        switch (sig) {
        case SIGTERM:
        case SIGINT:
        case SIGQUIT:
            return STOP_SIGNAL;
        case SIGUSR2:
            if (atomic_load(&w->stop_reason) != STOP_NONE)
                return atomic_load(&w->stop_reason);
            break;
        default:
            break; /* SIGHUP/SIGUSR1: reloads are the master's business */
        }
    }
}

/* Descriptors one thread may hold at once: its FastCGI connection, the
 * Sync and tokenserver connections its libcurl handles keep (a batch runs
 * up to sync_max_concurrency at a time), and a margin. */
#define FDS_PER_THREAD 4
#define FDS_MARGIN 64

/* Raises the soft RLIMIT_NOFILE towards the hard one when the pool needs
 * more than the soft limit allows (1024 by default, which 256 threads
 * already exceed); warns when even the hard limit is short. */
static void raise_nofile(int nthreads)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)nthreads * FDS_PER_THREAD + FDS_MARGIN;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < need)
        sy_log_warn(NULL,
                    "worker: %d threads may need %lu file descriptors, the limit is %lu "
                    "(raise LimitNOFILE / ulimit -n)",
                    nthreads, (unsigned long)need, (unsigned long)rl.rlim_cur);
}

/* Allocations from this size on are mappings of their own, unmapped when
 * freed: the buffers of a large Sync answer and of its Kinto response go
 * back to the system after the request. glibc would otherwise raise its
 * threshold after the first such free, up to 32 MiB, and keep the memory
 * in the thread's arena for good, each of the threads that ever served a
 * large list holding its peak. A fixed value turns that adjustment off. */
#define MMAP_THRESHOLD (256 * 1024)

int sy_worker_run(const sy_settings_t *s, int listen_fd, int notify_fd)
{
    sy_worker_t *w = calloc(1, sizeof(*w));
    int pipefd[2];
    sigset_t waitset;

    if (w == NULL)
        abort();
    (void)signal(SIGPIPE, SIG_IGN); /* fails only for an invalid signal number */
    block_signals(&waitset);
    sy_log_init(s);
    raise_nofile(s->threads);
    if (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1)
        sy_log_warn(NULL, "worker: cannot set the malloc mmap threshold");

    w->settings = s;
    w->listen_fd = listen_fd;
    w->notify_fd = notify_fd;
    w->main_thread = pthread_self();
    w->nthreads = s->threads;
    atomic_init(&w->stopping, false);
    atomic_init(&w->stop_reason, STOP_NONE);
    atomic_init(&w->load.busy, 0);
    atomic_init(&w->load.nthreads, s->threads);
    atomic_init(&w->nrequests, 0);
    pthread_mutex_init(&w->accept_lock, NULL);
    pthread_mutex_init(&w->done_lock, NULL);
    pthread_condattr_t cattr;
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->done_cond, &cattr);
    pthread_condattr_destroy(&cattr);
    w->tids = calloc((size_t)w->nthreads, sizeof(*w->tids));
    w->ctxs = calloc((size_t)w->nthreads, sizeof(*w->ctxs));
    if (w->tids == NULL || w->ctxs == NULL)
        abort();

    if (FCGX_Init() != 0 || pipe2(pipefd, O_CLOEXEC) != 0) {
        sy_log_error(NULL, "worker: cannot initialise: %s", strerror(errno));
        /* Nothing else exists yet; released so that a leak check at exit
         * (sanitizer builds) finds nothing either. */
        pthread_mutex_destroy(&w->accept_lock);
        pthread_mutex_destroy(&w->done_lock);
        pthread_cond_destroy(&w->done_cond);
        free(w->tids);
        free(w->ctxs);
        free(w);
        return SY_WORKER_EXIT_FAILED;
    }
    w->wake_rd = pipefd[0];
    w->wake_wr = pipefd[1];

    /* Per-process services, created after fork() and shared by the threads:
     * the PostgreSQL cache (connections are opened lazily, so a database
     * that is down does not stop the worker), StatsD and Sentry (their
     * failures only turn them off). ctx->http is created per thread by
     * sy_http_of(). */
    w->cache = sy_cache_new(s);
    /* The in-memory layer mirrors what PostgreSQL holds: none without it. */
    if (w->cache != NULL)
        w->memcache = sy_memcache_new(s->cache_memory_entries);
    if (sy_statsd_init(s) != SY_OK)
        sy_log_warn(NULL, "worker %ld: StatsD disabled", (long)getpid());
    if (sy_sentry_init(s) != SY_OK)
        sy_log_warn(NULL, "worker %ld: Sentry disabled", (long)getpid());

    int reason;
    int exit_status = SY_WORKER_EXIT_OK;
    if (start_threads(w)) {
        sy_log_info(NULL, "worker %ld started with %d threads", (long)getpid(), w->nthreads);
        notify_master(w, SY_WORKER_NOTE_READY);
        reason = wait_for_stop(w, &waitset);
    } else {
        reason = STOP_FATAL;
    }
    if (reason == STOP_FATAL)
        exit_status = SY_WORKER_EXIT_FAILED;

    /* Stop: tell the master first (it starts a replacement now), then wake
     * the thread waiting for a connection; the others see the flag. */
    notify_master(w, SY_WORKER_NOTE_RETIRING);
    atomic_store(&w->stopping, true);
    ssize_t wr;
    do {
        wr = write(w->wake_wr, "x", 1);
    } while (wr < 0 && errno == EINTR);

    /* This worker accepts nothing more: once no thread is in accept_one()
     * (they all check the flag under the accept mutex), close its copy of
     * the listening socket. When the whole server stops, the socket then
     * closes as soon as the master and every worker have let go of it, and
     * new connections are refused rather than queued until the end of the
     * drain. During a reload the master and the new workers keep it open. */
    pthread_mutex_lock(&w->accept_lock);
    close(w->listen_fd); /* the number stays in w and the requests, never used again */
    pthread_mutex_unlock(&w->accept_lock);

    const char *why = reason == STOP_RECYCLE  ? "served worker_max_requests"
                      : reason == STOP_SIGNAL ? "asked to stop"
                                              : "fatal error";
    int in_flight = atomic_load(&w->load.busy);
    sy_log_info(NULL, "worker %ld stopping (%s); requests in flight: %d", (long)getpid(), why,
                in_flight);

    int left = wait_threads(w, s->graceful_timeout_seconds);
    if (left > 0) {
        sy_log_warn(NULL,
                    "worker %ld: graceful timeout (%d s) reached with %d requests in flight; "
                    "exiting",
                    (long)getpid(), s->graceful_timeout_seconds, atomic_load(&w->load.busy));
        sy_memcache_wipe(w->memcache); /* thread-safe, unlike the frees */
        _exit(SY_WORKER_EXIT_TIMEOUT); /* threads still run: no cleanup */
    }
    for (int i = 0; i < w->nthreads; i++) {
        pthread_join(w->tids[i], NULL);
        sy_pool_free(w->ctxs[i].pool);
    }
    sy_log_info(NULL, "worker %ld stopped after %llu requests", (long)getpid(),
                (unsigned long long)atomic_load(&w->nrequests));

    sy_sentry_shutdown(2000);
    sy_statsd_close();
    sy_memcache_free(w->memcache);
    sy_cache_free(w->cache);
    close(w->wake_rd);
    close(w->wake_wr);
    pthread_mutex_destroy(&w->accept_lock);
    pthread_mutex_destroy(&w->done_lock);
    pthread_cond_destroy(&w->done_cond);
    free(w->tids);
    free(w->ctxs);
    free(w);
    return exit_status;
}
