/* A fixed amount of work: argv[1] million steps of arithmetic and random
 * reads and writes over a 4 MiB table; prints a checksum (the same every run).
 * Its CPU time is what the node's noise makes of it. */
#include <stdio.h>
#include <stdlib.h>
static unsigned table[1 << 20];
int main(int argc, char **argv) {
    long steps = (argc > 1 ? atol(argv[1]) : 10) * 1000000L;
    unsigned x = 1, sum = 0;
    for (long i = 0; i < steps; i++) {
        x = x * 1103515245u + 12345u;
        sum += table[(x >> 8) & ((1 << 20) - 1)]++;
    }
    printf("%u\n", sum);
    return 0;
}
