#include "csystem.h"
#include <sys/prctl.h>

int tokvault_set_nondumpable(void) {
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
