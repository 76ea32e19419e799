#ifndef TOKVAULT_CSYSTEM_H
#define TOKVAULT_CSYSTEM_H

/// Marks the process non-dumpable (no core file, no ptrace attach by other processes of the
/// same user, /proc/PID/mem unreadable). prctl(2) is variadic, so Swift cannot call it directly.
int tokvault_set_nondumpable(void);

#endif
