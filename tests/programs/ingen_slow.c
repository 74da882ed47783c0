/* A generator that writes a test, then never finishes (runs out of CPU time). */
#include <stdio.h>
int main(void) {
    FILE *f = fopen("slow0.in", "w");
    fputs("1\n", f);
    fclose(f);
    puts("wrote slow0.in");
    fflush(stdout);
    volatile unsigned long i = 0;
    for (;;) i++;
}
