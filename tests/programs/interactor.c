/* Interactor: sends N+i to solution i, expects 2(N+i) back; prints OK or WRONG.
 * A solution that went away makes it write until SIGPIPE ends it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int n = atoi(argv[1]), base;
    if (scanf("%d", &base) != 1) return 5;
    for (int i = 0; i < n; i++) {
        FILE *in = fdopen(atoi(argv[2 + 2 * i]), "r"), *out = fdopen(atoi(argv[3 + 2 * i]), "w");
        long answer;
        fprintf(out, "%d\n", base + i); fflush(out);
        if (fscanf(in, "%ld", &answer) != 1) {
            static char junk[65536];
            memset(junk, 'x', sizeof junk);
            for (;;) if (write(fileno(out), junk, sizeof junk) < 0) return 4;
        }
        if (answer != 2L * (base + i)) { printf("WRONG\nexpected %d, got %ld\n", 2 * (base + i), answer); return 0; }
    }
    printf("OK\nall %d correct\n", n);
    return 0;
}
