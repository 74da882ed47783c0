/* Uses 64 MiB of memory, writes the test mem0.in and says OK; exits 3 when
 * the memory is refused. */
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    size_t size = (size_t)64 << 20;
    volatile char *p = malloc(size);
    if (!p) return 3;
    for (size_t i = 0; i < size; i += 4096) p[i] = 1;
    FILE *f = fopen("mem0.in", "w");
    fputs("1\n", f);
    fclose(f);
    puts("OK");
    return 0;
}
