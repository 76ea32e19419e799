#ifndef TOKVAULT_FUZZ_DRIVER_H
#define TOKVAULT_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

// libFuzzer's entry point for programs that have their own main (compiler-rt's
// FuzzerInterface.h). SwiftPM links an executable's main through a renamed symbol, so the
// targets start libFuzzer from their main.swift instead of relying on libFuzzer's main.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
