/*
 * lib/envelope: a small fixed worker pool for sealing and opening chunks
 * in parallel.  The calling thread works too, so `threads` is the total.
 * One job at a time (the pool belongs to one sealer, opener or call):
 * run() publishes (fn, arg, n), wakes the workers, takes items from an
 * atomic counter like them, and waits until every item is done.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/internal.h"
#include "envelope/message.h"

struct aios__env_pool {
    pthread_mutex_t   mu;
    pthread_cond_t    work;      /* a new job or shutdown */
    pthread_cond_t    done;      /* a worker finished its share */
    pthread_t        *tids;
    uint32_t          nworkers;
    uint64_t          generation;
    int               shutdown;
    /* the job */
    aios__env_task_fn fn;
    void             *arg;
    size_t            n;
    atomic_size_t     next;
    atomic_int        status;
    uint32_t          busy;      /* workers still in this job */
};

static void run_items(aios__env_pool *p)
{
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        int rc;
        if (i >= p->n)
            return;
        rc = p->fn(p->arg, i);
        if (rc != AIOS_OK) {
            int expected = AIOS_OK;
            atomic_compare_exchange_strong(&p->status, &expected, rc);
        }
    }
}

static void *worker(void *arg)
{
    aios__env_pool *p = arg;
    uint64_t seen = 0;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->shutdown && p->generation == seen)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->shutdown)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_items(p);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int aios__env_pool_new(aios__env_pool **out, uint32_t threads)
{
    aios__env_pool *p;
    uint32_t i;

    *out = NULL;
    if (threads <= 1)
        return AIOS_OK;
    p = aios__calloc(1, sizeof(*p));
    if (p == NULL)
        return aios__fail(AIOS_E_NOMEM, "envelope worker pool: out of memory");
    p->tids = aios__calloc(threads - 1, sizeof(pthread_t));
    if (p->tids == NULL) {
        aios__free(p);
        return aios__fail(AIOS_E_NOMEM, "envelope worker pool: out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    for (i = 0; i < threads - 1; i++) {
        if (pthread_create(&p->tids[i], NULL, worker, p) != 0)
            break;
        p->nworkers++;
    }
    if (p->nworkers == 0) {
        aios__env_pool_free(p);
        return aios__fail(AIOS_E_INTERNAL, "envelope worker pool: cannot start a thread");
    }
    *out = p;
    return AIOS_OK;
}

void aios__env_pool_free(aios__env_pool *p)
{
    uint32_t i;
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->shutdown = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (i = 0; i < p->nworkers; i++)
        pthread_join(p->tids[i], NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    aios__free(p->tids);
    aios__free(p);
}

int aios__env_pool_run(aios__env_pool *p, size_t n, aios__env_task_fn fn, void *arg)
{
    int first = AIOS_OK;
    size_t i;

    if (n == 0)
        return AIOS_OK;
    if (p == NULL || n == 1) {
        for (i = 0; i < n; i++) {
            int rc = fn(arg, i);
            if (rc != AIOS_OK && first == AIOS_OK)
                first = rc;
        }
        return first;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n = n;
    atomic_store(&p->next, 0);
    atomic_store(&p->status, AIOS_OK);
    p->busy = p->nworkers;
    p->generation++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);

    run_items(p);

    pthread_mutex_lock(&p->mu);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return atomic_load(&p->status);
}
