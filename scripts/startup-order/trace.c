// Which functions of an executable run, in the order they first run: the input of
// scripts/startup-order.sh, which writes Sources/Host/startup.order from it.
//
//   trace SYMBOLS OUT -- EXECUTABLE ARGS...
//
// SYMBOLS has one function per line, "hex-address name", as `nm` prints the executable's
// text symbols. The tracer starts EXECUTABLE under ptrace, writes an int3 over the first
// byte of every listed function, and lets it run. The first time any thread enters a
// function, the tracer appends its name to OUT, puts the byte back and resumes the thread
// at the function's start, so each function traps once and the run goes on at nearly full
// speed. Threads are followed as they are created; signals other than the breakpoints'
// are passed on. It ends when the executable exits (send it SIGTERM).
//
// Why not a profiler: sampling misses functions that run once (most of start-up), valgrind
// 3.19 crashes on the host, and sanitizer coverage skips the compiler's own functions
// (witness tables, metadata accessors, thunks), which are half of what start-up runs.
//
// x86-64 Linux only (the int3 opcode and the instruction pointer register).
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "trace.c handles x86-64 only"
#endif

typedef struct {
    unsigned long address;  // link-time address, then run-time once the base is known
    char *name;
    unsigned char original; // the byte the int3 replaced
    int armed;
} function;

static function *functions;
static size_t count;

// By address, then name: which alias names an address is then the same from run to run.
static int by_address(const void *a, const void *b) {
    const function *x = a, *y = b;
    if (x->address != y->address) return x->address < y->address ? -1 : 1;
    return strcmp(x->name, y->name);
}

static function *find(unsigned long address) {
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (functions[mid].address < address) lo = mid + 1; else hi = mid;
    }
    return lo < count && functions[lo].address == address ? &functions[lo] : NULL;
}

static int set_byte(pid_t pid, unsigned long address, unsigned char byte) {
    errno = 0;
    long word = ptrace(PTRACE_PEEKTEXT, pid, (void *)address, 0);
    if (errno) return -1;
    word = (word & ~0xffL) | byte;
    return (int)ptrace(PTRACE_POKETEXT, pid, (void *)address, (void *)word);
}

static void read_symbols(const char *path) {
    FILE *file = fopen(path, "r");
    if (!file) { perror(path); exit(2); }
    size_t capacity = 1 << 16;
    functions = malloc(capacity * sizeof *functions);
    char line[16384];
    while (fgets(line, sizeof line, file)) {
        char *space = strchr(line, ' ');
        if (!space) continue;
        *space = 0;
        space[1 + strcspn(space + 1, "\n")] = 0;
        if (count == capacity) functions = realloc(functions, (capacity *= 2) * sizeof *functions);
        functions[count++] = (function){strtoul(line, NULL, 16), strdup(space + 1), 0, 0};
    }
    fclose(file);
    qsort(functions, count, sizeof *functions, by_address);
    // Aliases share an address: keep one name per address.
    size_t kept = 0;
    for (size_t i = 0; i < count; i++)
        if (kept == 0 || functions[i].address != functions[kept - 1].address) functions[kept++] = functions[i];
    count = kept;
}

// The executable's load bias: where its first mapping starts, less that mapping's file
// offset (a PIE is linked at 0).
static unsigned long load_bias(pid_t pid, const char *executable) {
    char maps[64], line[PATH_MAX + 128], real[PATH_MAX];
    if (!realpath(executable, real)) return 0;
    snprintf(maps, sizeof maps, "/proc/%d/maps", pid);
    FILE *file = fopen(maps, "r");
    if (!file) return 0;
    unsigned long bias = 0;
    while (fgets(line, sizeof line, file)) {
        unsigned long start, offset;
        char path[PATH_MAX] = "";
        if (sscanf(line, "%lx-%*x %*s %lx %*s %*s %4095s", &start, &offset, path) == 3 && !strcmp(path, real)) {
            bias = start - offset;
            break;
        }
    }
    fclose(file);
    return bias;
}

int main(int argc, char **argv) {
    if (argc < 5 || strcmp(argv[3], "--")) {
        fprintf(stderr, "usage: trace SYMBOLS OUT -- EXECUTABLE ARGS...\n");
        return 2;
    }
    read_symbols(argv[1]);
    FILE *out = fopen(argv[2], "we");
    if (!out) { perror(argv[2]); return 2; }

    pid_t child = fork();
    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        execv(argv[4], argv + 4);
        _exit(127);
    }
    int status;
    if (waitpid(child, &status, 0) < 0 || !WIFSTOPPED(status)) { fprintf(stderr, "trace: %s did not start\n", argv[4]); return 1; }
    // Stopped after exec: the executable is mapped, the dynamic loader has not run yet.
    // Without TRACECLONE a new thread's first breakpoint would kill the program (SIGTRAP).
    if (ptrace(PTRACE_SETOPTIONS, child, 0, PTRACE_O_TRACECLONE | PTRACE_O_EXITKILL) < 0) {
        perror("trace: PTRACE_SETOPTIONS");
        kill(child, SIGKILL);
        return 1;
    }
    unsigned long bias = load_bias(child, argv[4]);
    if (!bias) { fprintf(stderr, "trace: cannot find %s in the child's mappings\n", argv[4]); return 1; }
    size_t armed = 0;
    for (size_t i = 0; i < count; i++) {
        function *f = &functions[i];
        f->address += bias;
        errno = 0;
        long word = ptrace(PTRACE_PEEKTEXT, child, (void *)f->address, 0);
        if (errno) continue;
        f->original = (unsigned char)(word & 0xff);
        if (set_byte(child, f->address, 0xcc) == 0) { f->armed = 1; armed++; }
    }
    fprintf(stderr, "trace: %zu of %zu functions armed\n", armed, count);
    ptrace(PTRACE_CONT, child, 0, 0);

    size_t ran = 0;
    // Every thread seen stopped. A thread's first stop is the SIGSTOP ptrace gives a new
    // thread (it can come before its parent's clone event); a later SIGSTOP is the
    // program's own.
    static pid_t seen[65536];
    size_t nseen = 1;
    seen[0] = child;
    for (;;) {
        pid_t thread = waitpid(-1, &status, __WALL);
        if (thread < 0) break;
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (thread == child) break;
            // Its id may come back as a new thread's.
            for (size_t i = 0; i < nseen; i++) if (seen[i] == thread) { seen[i] = seen[--nseen]; break; }
            continue;
        }
        if (!WIFSTOPPED(status)) continue;
        int signal = WSTOPSIG(status), forward = 0, first = 1;
        for (size_t i = 0; i < nseen; i++) if (seen[i] == thread) { first = 0; break; }
        if (first && nseen < sizeof seen / sizeof *seen) seen[nseen++] = thread;
        if (signal == SIGTRAP && (status >> 16) == 0) {
            struct user_regs_struct registers;
            ptrace(PTRACE_GETREGS, thread, 0, &registers);
            function *f = find(registers.rip - 1);
            if (f) {
                // Another thread may have trapped here before the byte went back: it only
                // needs its instruction pointer moved back too.
                if (f->armed) {
                    set_byte(thread, f->address, f->original);
                    f->armed = 0;
                    fprintf(out, "%s\n", f->name);
                    ran++;
                }
                registers.rip -= 1;
                ptrace(PTRACE_SETREGS, thread, 0, &registers);
            } else {
                forward = signal;
            }
        } else if (signal == SIGTRAP) {
            // A clone event: the tracer's own.
        } else if (!(signal == SIGSTOP && first)) {
            forward = signal;
        }
        ptrace(PTRACE_CONT, thread, 0, (void *)(long)forward);
    }
    fclose(out);
    fprintf(stderr, "trace: %zu functions ran\n", ran);
    return 0;
}
