/* sol_double, holding 40 MiB of touched memory while it waits for its question. */
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    size_t size = (size_t)40 << 20;
    volatile char *p = malloc(size);
    long x;
    if (!p) return 6;
    for (size_t i = 0; i < size; i += 4096) p[i] = 1;
    if (scanf("%ld", &x) != 1) return 1;
    printf("%ld\n", 2 * x + p[4096] - 1);
    fflush(stdout);
    return 0;
}
