/* An interactive solution that maps 70 MiB in 1 MiB pieces (each too small for
 * the supervisor's check of large mappings, none touched), answers correctly
 * (2x) and exits by itself: over a 64 MiB limit, but never stopped for it. */
#include <stdio.h>
#include <sys/mman.h>
int main(void) {
    for (int i = 0; i < 70; i++)
        mmap(0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    long x;
    if (scanf("%ld", &x) != 1) return 1;
    printf("%ld\n", 2 * x);
    fflush(stdout);
    return 0;
}
