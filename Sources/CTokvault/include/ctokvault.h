#ifndef TOKVAULT_CTOKVAULT_H
#define TOKVAULT_CTOKVAULT_H

#include <sys/types.h>
#include "ctokvault_httpdate.h"
#include "ctokvault_keyring.h"
#include "ctokvault_spawn.h"

/// Marks the process non-dumpable (no core file, no ptrace attach by other processes of the
/// same user, /proc/PID/mem unreadable). prctl(2) is variadic, so Swift cannot call it directly.
int tokvault_set_nondumpable(void);

/// An unnamed file in `dir` (O_TMPFILE), or -1 with errno set. Nothing is visible in the
/// directory until `tokvault_link_tmpfile` gives it a name, so a kill leaves nothing behind.
int tokvault_open_tmpfile(const char *dir, mode_t mode);

/// Gives an O_TMPFILE file its name; fails with EEXIST rather than replace a file.
int tokvault_link_tmpfile(int fd, const char *path);

struct sqlite3;

/// Turns on SQLITE_DBCONFIG_DEFENSIVE and turns off SQLITE_DBCONFIG_TRUSTED_SCHEMA on a
/// connection (sqlite3_db_config(3) is variadic). 0 when both took effect, else -1.
int tokvault_sqlite_harden(struct sqlite3 *db);

/// Reads both settings back: bit 0 set when defensive mode is on, bit 1 when the schema is
/// not trusted; -1 when SQLite refuses the query.
int tokvault_sqlite_hardened(struct sqlite3 *db);

/// Turns on SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE: closing the last connection leaves the WAL for
/// the next writer to checkpoint instead of copying it into the database. 0 when it took effect.
int tokvault_sqlite_no_checkpoint_on_close(struct sqlite3 *db);

#endif
