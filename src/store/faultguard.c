/*
 * faultguard.c — a fault while reading a KB's map becomes an error, not a
 * crash, where that is safe.
 *
 * LMDB reads pages straight from the memory map. A page beyond the end of
 * the file (data.mdb truncated, also while a process has it open) raises
 * SIGBUS when touched, and no check made before the access can rule that
 * out, since the file may shrink between the check and the access. So the
 * store registers the address range of every open map here, and a caller
 * that can abandon its work arms a guard (hk_fault_guard, a sigjmp_buf on
 * its own stack) around it. The SIGBUS/SIGSEGV handler jumps back to the
 * innermost guard of the faulting thread only when both hold:
 *
 *   1. the faulting address lies inside a registered map, and
 *   2. the thread has armed a guard.
 *
 * Any other fault (a bug in our code, a wild pointer, a fault on a thread
 * without a guard) is never swallowed: the handler puts the previous
 * disposition back and returns, the instruction faults again and the
 * process dies as it would have (or ASan reports it).
 *
 * Why jumping is safe here. A fault inside the map happens while reading
 * a page: inside LMDB's page search or cursor step, or in our code reading
 * a value. Neither takes a lock or calls malloc while touching the map
 * (read transactions hold no lock after begin; allocation happens before
 * or after the page accesses, never in the middle of one), so no lock is
 * left held and the allocator is consistent. What is left is a
 * transaction and cursors in an unknown position: the code that armed the
 * guard must treat them as dead — close its cursors, abort the
 * transaction, and report HK_ERR_CORRUPT — and must not touch anything
 * the guarded code was half-way through changing. Memory allocated inside
 * the guarded code and not yet recorded anywhere is leaked; the guard is
 * for damaged files, not for a hot path. Write transactions keep their
 * dirty pages in memory and write the file only at commit, so jumping out
 * of one before commit leaves the file as it was (the CLI then exits; the
 * commit never happens).
 *
 * Threads: the map registry is a fixed table of atomics read by the
 * handler without locks (registration takes a mutex); the guard stack is
 * thread-local. The handler is installed at a registration when it is not
 * in place (another handler put in since is chained to).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "store/store_int.h"

#define MAPS_MAX 64u

static struct {
    _Atomic uintptr_t lo; /* first byte of the map (0 = free slot) */
    _Atomic uintptr_t hi; /* one past its last byte */
} g_maps[MAPS_MAX];
static pthread_mutex_t g_maps_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction g_old_bus, g_old_segv; /* dispositions before ours */
static _Thread_local hk_fault_guard *t_guard;  /* innermost armed guard */

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    uintptr_t a = (uintptr_t)si->si_addr;
    hk_fault_guard *g = t_guard;
    if (g != NULL) {
        for (unsigned i = 0; i < MAPS_MAX; i++) {
            uintptr_t lo = atomic_load(&g_maps[i].lo);
            if (lo && a >= lo && a < atomic_load(&g_maps[i].hi)) {
                t_guard = g->prev;
                g->offset = (uint64_t)(a - lo);
                siglongjmp(g->jb, 1);
            }
        }
    }
    /* not ours: the previous disposition handles the fault again */
    sigaction(sig, sig == SIGBUS ? &g_old_bus : &g_old_segv, NULL);
}

/* Installs the handler unless it is in place (caller holds g_maps_mu).
 * Checked at every registration, since a test harness or a library may
 * have put its own handler in meanwhile; that one becomes the previous
 * disposition that faults outside the maps go to. */
static void install_one(int sig, struct sigaction *old)
{
    struct sigaction cur, sa;
    if (sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
        cur.sa_sigaction == on_fault)
        return; /* in place: *old stays what was there before us */
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, old);
}

static void install(void)
{
    install_one(SIGBUS, &g_old_bus);
    install_one(SIGSEGV, &g_old_segv);
}

void hks_fault_map_add(const void *addr, size_t len)
{
    if (addr == NULL || len == 0) return;
    pthread_mutex_lock(&g_maps_mu);
    install();
    for (unsigned i = 0; i < MAPS_MAX; i++)
        if (atomic_load(&g_maps[i].lo) == 0) {
            atomic_store(&g_maps[i].hi, (uintptr_t)addr + len);
            atomic_store(&g_maps[i].lo, (uintptr_t)addr);
            break;
        } /* a full table leaves the map unguarded: faults crash as before */
    pthread_mutex_unlock(&g_maps_mu);
}

void hks_fault_map_remove(const void *addr)
{
    if (addr == NULL) return;
    pthread_mutex_lock(&g_maps_mu);
    for (unsigned i = 0; i < MAPS_MAX; i++)
        if (atomic_load(&g_maps[i].lo) == (uintptr_t)addr) {
            atomic_store(&g_maps[i].lo, 0);
            atomic_store(&g_maps[i].hi, 0);
        }
    pthread_mutex_unlock(&g_maps_mu);
}

void hk_fault_arm(hk_fault_guard *g)
{
    g->offset = 0;
    g->prev = t_guard;
    t_guard = g;
}

void hk_fault_disarm(hk_fault_guard *g)
{
    if (t_guard == g) t_guard = g->prev;
}
