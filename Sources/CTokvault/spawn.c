#define _GNU_SOURCE
#include "ctokvault_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

struct spawn_failure {
    int stage;
    int error;
};

/// In the child: report and leave without running atexit handlers or flushing stdio.
static void fail(int pipe_fd, int stage) {
    struct spawn_failure failure = {stage, errno};
    ssize_t ignored = write(pipe_fd, &failure, sizeof failure);
    (void)ignored;
    _exit(127);
}

void tokvault_ignored_signals(sigset_t *ignored) {
    sigemptyset(ignored);
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction current;
        if (sigaction(sig, 0, &current) == 0 && !(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN) {
            sigaddset(ignored, sig);
        }
    }
}

void tokvault_reset_signals(const sigset_t *keep_ignored) {
    struct sigaction action = {0};
    sigemptyset(&action.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        action.sa_handler = keep_ignored && sigismember(keep_ignored, sig) == 1 ? SIG_IGN : SIG_DFL;
        sigaction(sig, &action, 0);
    }
}

pid_t tokvault_spawn(const char *path, char *const argv[], char *const envp[], mode_t child_umask,
                     const struct rlimit *core_limit, const sigset_t *keep_ignored, int isolate_keyring,
                     const int *pass_fds, int pass_count, int *stage, int *error) {
    if (pass_count < 0 || pass_count > TOKVAULT_SPAWN_MAX_PASSED || (pass_count > 0 && !pass_fds)) {
        *stage = TOKVAULT_SPAWN_FDS;
        *error = EINVAL;
        return -1;
    }
    // Where close_range is missing (before Linux 5.11): every descriptor the limit allows.
    struct rlimit files;
    int highest_fd = 1 << 20;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY && files.rlim_cur < (1U << 20)) {
        highest_fd = (int)files.rlim_cur;
    }
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        *stage = TOKVAULT_SPAWN_FORK;
        *error = errno;
        return -1;
    }
    // No signal handler may run in the child before the dispositions are reset.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t pid = fork();
    if (pid == 0) {
        close(report[0]);
        umask(child_umask);
        if (core_limit) setrlimit(RLIMIT_CORE, core_limit);
        tokvault_reset_signals(keep_ignored);
        if (isolate_keyring && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, (const char *)0) < 0 &&
            errno != ENOSYS && errno != EPERM) {
            fail(report[1], TOKVAULT_SPAWN_KEYRING);
        }
        // Passed descriptors go to 3, 4, …: first every one (and the report pipe, which may sit
        // there) moves above them, so that placing one cannot close another.
        int report_fd = report[1];
        int first_closed = 3 + pass_count;
        if (pass_count > 0) {
            int moved[TOKVAULT_SPAWN_MAX_PASSED];
            report_fd = fcntl(report[1], F_DUPFD_CLOEXEC, first_closed);
            if (report_fd < 0) fail(report[1], TOKVAULT_SPAWN_FDS);
            for (int i = 0; i < pass_count; i++) {
                moved[i] = fcntl(pass_fds[i], F_DUPFD_CLOEXEC, first_closed);
                if (moved[i] < 0) fail(report_fd, TOKVAULT_SPAWN_FDS);
            }
            // dup2's copy is not close-on-exec; the moved ones are.
            for (int i = 0; i < pass_count; i++) {
                if (dup2(moved[i], 3 + i) < 0) fail(report_fd, TOKVAULT_SPAWN_FDS);
            }
        }
        if (syscall(SYS_close_range, (unsigned)first_closed, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
            for (int fd = first_closed; fd < highest_fd; fd++) {
                int flags = fcntl(fd, F_GETFD);
                if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
            }
        }
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, 0);
        execve(path, argv, envp);
        fail(report_fd, TOKVAULT_SPAWN_EXEC);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &previous, 0);
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        *stage = TOKVAULT_SPAWN_FORK;
        *error = fork_errno;
        return -1;
    }
    // The pipe closes on a successful execve (nothing read) or carries the failure.
    struct spawn_failure failure;
    ssize_t n;
    do {
        n = read(report[0], &failure, sizeof failure);
    } while (n < 0 && errno == EINTR);
    int read_errno = errno;
    close(report[0]);
    if (n == 0) return pid;
    // The child wrote (it failed), or its report cannot be read: either way it does not run.
    if (n < 0) kill(pid, SIGKILL);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (n == (ssize_t)sizeof failure) {
        *stage = failure.stage;
        *error = failure.error;
    } else {
        *stage = TOKVAULT_SPAWN_FORK;
        *error = n < 0 ? read_errno : EIO;
    }
    return -1;
}

static int signal_pipe_write = -1;

static void signal_to_pipe(int sig, siginfo_t *info, void *context) {
    (void)context;
    int saved = errno;
    // si_code <= 0: sent by a process (kill, sigqueue, tgkill); above: by the kernel (a terminal).
    unsigned char byte = (unsigned char)sig | (info && info->si_code <= 0 ? TOKVAULT_SIGNAL_FROM_PROCESS : 0);
    ssize_t ignored = write(signal_pipe_write, &byte, 1);
    (void)ignored;
    errno = saved;
}

int tokvault_signal_pipe(const int *signals, int count) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -1;
    // The read end blocks (one thread waits on it); the write end never does, so a flood of
    // signals cannot stall the thread that receives them.
    int flags = fcntl(fds[0], F_GETFL);
    fcntl(fds[0], F_SETFL, flags & ~O_NONBLOCK);
    signal_pipe_write = fds[1];
    struct sigaction action = {0};
    action.sa_sigaction = signal_to_pipe;
    action.sa_flags = SA_RESTART | SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    for (int i = 0; i < count; i++) {
        if (sigaction(signals[i], &action, 0) != 0) {
            int saved = errno;
            struct sigaction dfl = {0};
            dfl.sa_handler = SIG_DFL;
            for (int j = 0; j < i; j++) sigaction(signals[j], &dfl, 0);
            signal_pipe_write = -1;
            close(fds[0]);
            close(fds[1]);
            errno = saved;
            return -1;
        }
    }
    return fds[0];
}

int tokvault_pipe(int fds[2], int capacity) {
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    if (capacity > 65536 && fcntl(fds[1], F_SETPIPE_SZ, capacity) < 0) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        errno = saved;
        return -1;
    }
    return 0;
}
