/* Throughput of the records list rewrite, without the network: a Sync
 * answer shaped like the large benchmark's (5,000 BSOs whose payload is the
 * JSON text of {ciphertext: base64 of 420 random bytes, IV, hmac}, as the
 * test Sync server writes them) turned into the Kinto list by
 * sy_kinto_rewrite_list() and, for comparison, by the tree path
 * (sy_json_parse_pool + sy_kinto_write_list). Each run starts from an empty
 * output buffer and ends with it freed, as a request does; the rewrite's
 * buffer is prepared as records_finish() prepares the response body (no
 * secret, sized once from the answer), and malloc is set up as in a worker
 * (M_MMAP_THRESHOLD). Prints the median and best time of each, in ms and in
 * MB/s of Sync text read.
 *
 *   build/bench_rewrite [--records N] [--runs R]
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "syncto/sy_buf.h"
#include "syncto/sy_json.h"
#include "syncto/sy_kinto.h"
#include "syncto/sy_pool.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1DULL;
}

static void must(sy_rc_t rc)
{
    if (rc != SY_OK) {
        fprintf(stderr, "bench_rewrite: unexpected rc %d\n", (int)rc);
        exit(1);
    }
}

static void base64(sy_buf_t *b, size_t nbytes)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t nchars = (nbytes + 2) / 3 * 4, pad = (3 - nbytes % 3) % 3;

    for (size_t i = 0; i < nchars - pad; i++)
        must(sy_buf_append(b, &A[rnd() % 64], 1));
    for (size_t i = 0; i < pad; i++)
        must(sy_buf_append(b, "=", 1));
}

static void answer(sy_buf_t *b, int n)
{
    must(sy_buf_append(b, "[", 1));
    for (int i = 0; i < n; i++) {
        char id[16];

        for (int k = 0; k < 12; k++)
            id[k] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[rnd() % 64];
        id[12] = '\0';
        must(sy_buf_printf(b, "%s{\"id\":\"%s\",\"modified\":%d.%02d,\"payload\":",
                           i > 0 ? "," : "", id, 1441868927 + i, i % 100));
        must(sy_buf_appends(b, "\"{\\\"ciphertext\\\":\\\""));
        base64(b, 420);
        must(sy_buf_appends(b, "\\\",\\\"IV\\\":\\\"x\\\",\\\"hmac\\\":\\\"y\\\"}\""));
        if (i > 0)
            must(sy_buf_printf(b, ",\"sortindex\":%d", i));
        must(sy_buf_append(b, "}", 1));
    }
    must(sy_buf_append(b, "]", 1));
}

static double now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, double *ms, int runs, size_t in_len, size_t out_len)
{
    qsort(ms, (size_t)runs, sizeof(*ms), cmp_double);
    printf("| %s | %.2f | %.2f | %.0f | %.0f | %zu |\n", what, ms[runs / 2], ms[0],
           (double)in_len / 1e6 / (ms[runs / 2] / 1e3), (double)in_len / 1e6 / (ms[0] / 1e3),
           out_len);
}

int main(int argc, char **argv)
{
    int n = 5000, runs = 50;
    sy_buf_t in, ref;
    sy_kinto_list_t p;
    sy_pool_t *pool = sy_pool_new(0);
    double *ms;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--records") == 0)
            n = (int)strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = (int)strtol(argv[i + 1], NULL, 10);
    }
    if (n < 1 || runs < 1) {
        fprintf(stderr, "usage: bench_rewrite [--records N] [--runs R]\n");
        return 2;
    }
    if (mallopt(M_MMAP_THRESHOLD, 256 * 1024) != 1) /* as sy_worker_run() */
        return 1;
    ms = calloc((size_t)runs, sizeof(*ms));
    if (ms == NULL)
        sy_pool_oom((size_t)runs * sizeof(*ms));
    memset(&p, 0, sizeof(p));
    p.fields = SY_KINTO_F_ALL;
    sy_buf_init(&in, SIZE_MAX);
    answer(&in, n);

    /* The outputs are compared once, outside the timed runs; a timed run
     * includes freeing what it built, as the end of a request does. */
    {
        sy_buf_t out;
        size_t nsync, count;
        json_object *arr = sy_json_parse_pool(pool, in.data, in.len);

        if (arr == NULL) {
            fprintf(stderr, "bench_rewrite: the answer does not parse\n");
            exit(1);
        }
        sy_buf_init(&ref, SIZE_MAX);
        sy_buf_init(&out, SIZE_MAX);
        must(sy_kinto_write_list(&ref, arr, &p, &count));
        must(sy_kinto_rewrite_list(&out, in.data, in.len, &p, &nsync, &count));
        if (out.len != ref.len || memcmp(out.data, ref.data, out.len) != 0 || nsync != (size_t)n) {
            fprintf(stderr, "bench_rewrite: the two paths differ\n");
            exit(1);
        }
        sy_buf_free(&out);
        sy_pool_reset(pool);
    }
    printf("%d records, %zu bytes of Sync JSON, %d runs\n\n", n, in.len, runs);
    printf("| path | median ms | best ms | median MB/s | best MB/s | output bytes |\n");
    printf("| --- | --- | --- | --- | --- | --- |\n");
    for (int r = 0; r < runs; r++) {
        sy_buf_t out;
        size_t count;
        double t0 = now_ms();
        json_object *arr = sy_json_parse_pool(pool, in.data, in.len);

        sy_buf_init(&out, SIZE_MAX);
        must(sy_kinto_write_list(&out, arr, &p, &count));
        sy_buf_free(&out);
        sy_pool_reset(pool);
        ms[r] = now_ms() - t0;
    }
    report("json-c tree + sy_kinto_write_list", ms, runs, in.len, ref.len);
    for (int r = 0; r < runs; r++) {
        sy_buf_t out;
        size_t nsync, count;
        double t0 = now_ms();

        sy_buf_init(&out, SIZE_MAX);
        sy_buf_no_secret(&out);
        sy_buf_reserve(&out, in.len + in.len / 8 + 64);
        must(sy_kinto_rewrite_list(&out, in.data, in.len, &p, &nsync, &count));
        sy_buf_free(&out);
        ms[r] = now_ms() - t0;
    }
    report("sy_kinto_rewrite_list", ms, runs, in.len, ref.len);
    sy_buf_free(&in);
    sy_buf_free(&ref);
    sy_pool_free(pool);
    free(ms);
    return 0;
}
