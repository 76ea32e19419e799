#define _GNU_SOURCE
#include "ctokvault.h"
#include <fcntl.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

int tokvault_set_nondumpable(void) {
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int tokvault_open_tmpfile(const char *dir, mode_t mode) {
    return open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
}

int tokvault_link_tmpfile(int fd, const char *path) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
}
