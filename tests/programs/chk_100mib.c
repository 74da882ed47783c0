/* A sio-protocol checker that touches 100 MiB of memory before it accepts. */
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    size_t size = (size_t)100 << 20;
    volatile char *p = malloc(size);
    if (!p) return 3;
    for (size_t i = 0; i < size; i += 4096) p[i] = 1;
    printf("OK\nchecked with 100 MiB\n");
    return 0;
}
