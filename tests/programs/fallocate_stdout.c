/* Reserves disk blocks behind the worker's files without growing them:
 * fallocate(FALLOC_FL_KEEP_SIZE) of argv[1] MiB on stdout and stderr, then
 * prints whether it got them. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    long long mib = argc > 1 ? atoll(argv[1]) : 300;
    int a = fallocate(1, FALLOC_FL_KEEP_SIZE, 0, mib << 20);
    int b = fallocate(2, FALLOC_FL_KEEP_SIZE, 0, mib << 20);
    printf("%s\n", a == 0 || b == 0 ? "reserved" : "refused");
    return 0;
}
