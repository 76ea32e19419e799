#ifndef CTOKVAULT_KEYRING_H
#define CTOKVAULT_KEYRING_H

#include <stddef.h>
#include <stdint.h>

// The Linux key management syscalls (add_key(2), keyctl(2)), called through syscall(2):
// libkeyutils is not needed at run time, and syscall(2) is variadic, which Swift cannot call.
// Each returns what the kernel returns, or -1 with errno set.

/// add_key(2) of a "user" key into `keyring`; the new key's serial number.
int32_t tokvault_key_add(const char *description, const void *payload, size_t length, int32_t keyring);

/// KEYCTL_GET_KEYRING_ID without creating it: the serial of a special keyring (-3 session,
/// -4 user, -5 user session).
int32_t tokvault_keyring_id(int32_t special);

/// KEYCTL_SEARCH for a "user" key with this description in `keyring` (not linked anywhere).
int32_t tokvault_key_search(int32_t keyring, const char *description);

/// KEYCTL_DESCRIBE: "type;uid;gid;perm;description" into buffer; the full length.
long tokvault_key_describe(int32_t key, char *buffer, size_t length);

/// KEYCTL_READ: the payload (or, for a keyring, its keys' serials) into buffer; the full length.
long tokvault_key_read(int32_t key, void *buffer, size_t length);

/// KEYCTL_SETPERM.
int tokvault_key_setperm(int32_t key, uint32_t permissions);

/// KEYCTL_SET_TIMEOUT, in seconds.
int tokvault_key_set_timeout(int32_t key, unsigned int seconds);

/// KEYCTL_INVALIDATE: the key is gone for every keyring at once.
int tokvault_key_invalidate(int32_t key);

/// KEYCTL_LINK / KEYCTL_UNLINK: 0 or -1 with errno.
int tokvault_key_link(int32_t key, int32_t keyring);
int tokvault_key_unlink(int32_t key, int32_t keyring);

/// KEYCTL_JOIN_SESSION_KEYRING with no name: this process (and what it starts) gets a new,
/// empty, anonymous session keyring.
int32_t tokvault_keyring_join_anonymous_session(void);

#endif
