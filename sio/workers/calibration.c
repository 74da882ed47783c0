/* The reference workload of node calibration (sio/workers/calibration.py).
 *
 * A fixed chain of xorshift64 steps, each depending on the one before: the
 * same few integer instructions on every compiler and every x86-64 or ARM
 * core, no memory traffic, no system calls but the final write.  It prints
 * the last value, which the caller checks (a run that computed something
 * else is no measurement).  Usage: calibration [STEPS] (default 80000000). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    unsigned long long steps = argc > 1 ? strtoull(argv[1], NULL, 10) : 80000000ULL;
    unsigned long long x = 88172645463325252ULL;
    for (unsigned long long i = 0; i < steps; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    printf("%llu\n", x);
    return 0;
}
