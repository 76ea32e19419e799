#define _GNU_SOURCE
#include "ctokvault_keyring.h"
#include <linux/keyctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int32_t tokvault_key_add(const char *description, const void *payload, size_t length, int32_t keyring) {
    return (int32_t)syscall(SYS_add_key, "user", description, payload, length, keyring);
}

int32_t tokvault_keyring_id(int32_t special) {
    return (int32_t)syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, special, 0);
}

int32_t tokvault_key_search(int32_t keyring, const char *description) {
    return (int32_t)syscall(SYS_keyctl, KEYCTL_SEARCH, keyring, "user", description, 0);
}

long tokvault_key_describe(int32_t key, char *buffer, size_t length) {
    return syscall(SYS_keyctl, KEYCTL_DESCRIBE, key, buffer, length);
}

long tokvault_key_read(int32_t key, void *buffer, size_t length) {
    return syscall(SYS_keyctl, KEYCTL_READ, key, buffer, length);
}

int tokvault_key_setperm(int32_t key, uint32_t permissions) {
    return (int)syscall(SYS_keyctl, KEYCTL_SETPERM, key, permissions);
}

int tokvault_key_set_timeout(int32_t key, unsigned int seconds) {
    return (int)syscall(SYS_keyctl, KEYCTL_SET_TIMEOUT, key, seconds);
}

int tokvault_key_invalidate(int32_t key) {
    return (int)syscall(SYS_keyctl, KEYCTL_INVALIDATE, key);
}

int tokvault_key_link(int32_t key, int32_t keyring) {
    return (int)syscall(SYS_keyctl, KEYCTL_LINK, key, keyring);
}

int tokvault_key_unlink(int32_t key, int32_t keyring) {
    return (int)syscall(SYS_keyctl, KEYCTL_UNLINK, key, keyring);
}

int32_t tokvault_keyring_join_anonymous_session(void) {
    return (int32_t)syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, (const char *)0);
}
