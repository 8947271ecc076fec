/* Crash attribution for in-process plugins.
 *
 * A plugin that segfaults takes the whole collector down; nothing can prevent that in
 * process. What the host can do is know, at the next start, WHICH delivery was in the
 * crashing call, so that only that delivery counts the crash (and is quarantined as a
 * poison Issue after N), not every delivery that happened to be in flight on other threads.
 *
 * Each delivery thread publishes the delivery id it is calling a plugin for in a
 * thread-local. Handlers for the fatal signals write one fixed-size record (the id and the
 * signal) to a file descriptor opened at start, then hand the signal to the handler that
 * was installed before (the Swift runtime's backtracer) or to the default action. Only
 * async-signal-safe calls are made in the handler: write(2), sigaction(2), raise(3). */
#ifndef CANO_CCRASHGUARD_H
#define CANO_CCRASHGUARD_H

#include <stdint.h>

/* One record in the crash marker file, as written by the handler. */
typedef struct {
    uint32_t magic;        /* CANO_CRASH_MAGIC */
    int32_t signal;        /* the fatal signal */
    int64_t delivery_id;   /* the delivery in a plugin call on the crashing thread, or 0 */
} cano_crash_record;

#define CANO_CRASH_MAGIC 0x43524153u /* "CRAS" */

/* Installs the handlers (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) writing to `fd`, which
 * must stay open for the life of the process. Returns 0, or -1 with errno. A second call
 * only switches the file descriptor. */
int cano_crash_guard_install(int fd);

/* The calling thread is about to call a plugin for delivery `id` (> 0). */
void cano_crash_guard_enter(int64_t id);

/* The calling thread's plugin call returned. */
void cano_crash_guard_leave(void);

#endif
