#ifndef CTOKVAULT_SPAWN_H
#define CTOKVAULT_SPAWN_H

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

/// Why tokvault_spawn could not start the program (in *stage), with the errno in *error.
enum {
    TOKVAULT_SPAWN_FORK = 1,
    TOKVAULT_SPAWN_KEYRING = 2,
    TOKVAULT_SPAWN_EXEC = 3,
    TOKVAULT_SPAWN_FDS = 4,
};

/// The most descriptors tokvault_spawn passes on.
#define TOKVAULT_SPAWN_MAX_PASSED 8

/// The signals whose disposition is "ignore" (as nohup(1) or a shell's background job leaves
/// SIGHUP, SIGINT, SIGQUIT): what a program tokvault starts must inherit again.
void tokvault_ignored_signals(sigset_t *ignored);

/// Every signal at its default, except those in `keep_ignored` (may be NULL), which are ignored.
void tokvault_reset_signals(const sigset_t *keep_ignored);

/// Starts `path` as a child process set up the way `exec` sets up the program it replaces
/// itself with: the caller's umask and core-dump limit, every signal at its default (but those
/// in `keep_ignored` ignored) and none blocked, no descriptor above 2 but `pass_fds[i]` as
/// descriptor 3 + i (at most TOKVAULT_SPAWN_MAX_PASSED; everything else is closed on exec), and, when
/// `isolate_keyring`, a new anonymous session keyring (a kernel without keyrings, ENOSYS or
/// EPERM, is no error). The child does nothing between fork and execve but system calls, so a
/// multithreaded parent is safe. Returns the child's pid once execve has succeeded, or -1 with
/// *stage and *error saying what failed (the child, if any, has been reaped).
pid_t tokvault_spawn(const char *path, char *const argv[], char *const envp[], mode_t child_umask,
                     const struct rlimit *core_limit, const sigset_t *keep_ignored, int isolate_keyring,
                     const int *pass_fds, int pass_count, int *stage, int *error);

/// pipe2(fds, O_CLOEXEC), its capacity raised to at least `capacity` bytes when that is more
/// than the default (-1 with errno set if either fails).
int tokvault_pipe(int fds[2], int capacity);

/// Set in a byte of tokvault_signal_pipe when a process sent the signal (kill(2) and the like),
/// clear when the kernel did (a terminal's ^C, a hang-up, a window size change).
#define TOKVAULT_SIGNAL_FROM_PROCESS 0x80

/// Delivers `signals` as bytes (the signal's number, with TOKVAULT_SIGNAL_FROM_PROCESS) on the
/// returned pipe's read end instead of by their default action: the handler only write(2)s.
/// Handlers are process-wide, so whichever thread receives a signal runs it. Both ends are
/// close-on-exec. -1 with errno set (and nothing installed) on failure. Call once per process.
int tokvault_signal_pipe(const int *signals, int count);

#endif
