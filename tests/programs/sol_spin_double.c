/* Interactive solution: reads x, burns x ms of CPU time, answers 2x. */
#include <stdio.h>
#include <time.h>
int main(void) {
    long x;
    struct timespec t;
    if (scanf("%ld", &x) != 1) return 1;
    do clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    while (t.tv_sec * 1000 + t.tv_nsec / 1000000 < x);
    printf("%ld\n", 2 * x);
    fflush(stdout);
    return 0;
}
