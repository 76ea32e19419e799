#define _GNU_SOURCE
#include "ctokvault.h"
#include <fcntl.h>
#include <sqlite3.h>
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

int tokvault_sqlite_harden(struct sqlite3 *db) {
    int defensive = -1, trusted = -1;
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &defensive) != SQLITE_OK) return -1;
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &trusted) != SQLITE_OK) return -1;
    return defensive == 1 && trusted == 0 ? 0 : -1;
}

int tokvault_sqlite_no_checkpoint_on_close(struct sqlite3 *db) {
    int set = -1;
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, &set) != SQLITE_OK) return -1;
    return set == 1 ? 0 : -1;
}

int tokvault_sqlite_hardened(struct sqlite3 *db) {
    int defensive = -1, trusted = -1;
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, -1, &defensive) != SQLITE_OK) return -1;
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, -1, &trusted) != SQLITE_OK) return -1;
    return (defensive == 1 ? 1 : 0) | (trusted == 0 ? 2 : 0);
}
