/* Burns argv[1] ms of CPU time, then prints "42" — or, with argv[2]
 * "varying", the clock's nanoseconds (an output that differs run to run). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv) {
    long ms = argc > 1 ? atol(argv[1]) : 100;
    struct timespec t;
    do clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    while (t.tv_sec * 1000 + t.tv_nsec / 1000000 < ms);
    if (argc > 2 && !strcmp(argv[2], "varying")) {
        clock_gettime(CLOCK_REALTIME, &t);
        printf("%ld\n", t.tv_nsec);
    } else {
        printf("42\n");
    }
    return 0;
}
