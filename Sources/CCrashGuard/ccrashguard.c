#include "ccrashguard.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
#define FATAL_COUNT (sizeof(fatal_signals) / sizeof(fatal_signals[0]))

static int marker_fd = -1;
static struct sigaction previous[FATAL_COUNT];
static __thread int64_t current_delivery = 0;

static void write_all(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        len -= (size_t)n;
    }
}

/* Decimal without snprintf (not async-signal-safe). */
static size_t format_int64(char *out, int64_t value) {
    char digits[24];
    size_t n = 0;
    uint64_t v = value < 0 ? (uint64_t)(-value) : (uint64_t)value;
    do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v > 0);
    size_t len = 0;
    if (value < 0) out[len++] = '-';
    while (n > 0) out[len++] = digits[--n];
    return len;
}

static void on_fatal_signal(int sig, siginfo_t *info, void *context) {
    (void)context;
    int saved_errno = errno;
    int64_t id = current_delivery;
    if (marker_fd >= 0) {
        cano_crash_record record = {CANO_CRASH_MAGIC, sig, id};
        write_all(marker_fd, &record, sizeof record);
    }
    if (id > 0) {
        char line[128];
        size_t len = 0;
        static const char prefix[] = "cano-collector: fatal signal ";
        static const char middle[] = " in a plugin call for delivery ";
        memcpy(line + len, prefix, sizeof prefix - 1); len += sizeof prefix - 1;
        len += format_int64(line + len, sig);
        memcpy(line + len, middle, sizeof middle - 1); len += sizeof middle - 1;
        len += format_int64(line + len, id);
        line[len++] = '\n';
        write_all(STDERR_FILENO, line, len);
    }
    /* Hand over to whoever handled this signal before us (the Swift backtracer, or the
     * default action that ends the process with the signal). */
    for (size_t i = 0; i < FATAL_COUNT; i++) {
        if (fatal_signals[i] == sig) sigaction(sig, &previous[i], NULL);
    }
    errno = saved_errno;
    /* A fault (SEGV from a bad pointer) happens again when the handler returns, now under
     * the previous handler. A signal that was sent (kill, abort's raise) is not repeated
     * by returning: raise it again. */
    if (info == NULL || info->si_code <= 0) raise(sig);
}

int cano_crash_guard_install(int fd) {
    marker_fd = fd;
    /* Once per process: installing again would record our own handler as the "previous"
     * one, and a fault would then loop between them. */
    static int installed = 0;
    if (installed) return 0;
    installed = 1;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fatal_signal;
    /* SA_ONSTACK: Go plugins require it of every handler in the process. */
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < FATAL_COUNT; i++) {
        if (sigaction(fatal_signals[i], &action, &previous[i]) != 0) return -1;
    }
    return 0;
}

void cano_crash_guard_enter(int64_t id) { current_delivery = id; }

void cano_crash_guard_leave(void) { current_delivery = 0; }
