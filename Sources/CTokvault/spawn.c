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

pid_t tokvault_spawn(const char *path, char *const argv[], char *const envp[], mode_t child_umask,
                     const struct rlimit *core_limit, int isolate_keyring, int *stage, int *error) {
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
        struct sigaction dfl = {0};
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, 0);
        if (isolate_keyring && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, (const char *)0) < 0 &&
            errno != ENOSYS && errno != EPERM) {
            fail(report[1], TOKVAULT_SPAWN_KEYRING);
        }
        if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
            for (int fd = 3; fd < 65536; fd++) {
                int flags = fcntl(fd, F_GETFD);
                if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
            }
        }
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, 0);
        execve(path, argv, envp);
        fail(report[1], TOKVAULT_SPAWN_EXEC);
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
    close(report[0]);
    if (n == (ssize_t)sizeof failure) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        *stage = failure.stage;
        *error = failure.error;
        return -1;
    }
    return pid;
}

static int signal_pipe_write = -1;

static void signal_to_pipe(int sig) {
    int saved = errno;
    unsigned char byte = (unsigned char)sig;
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
    action.sa_handler = signal_to_pipe;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    for (int i = 0; i < count; i++) {
        if (sigaction(signals[i], &action, 0) != 0) return -1;
    }
    return fds[0];
}
