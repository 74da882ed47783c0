/* Interactor with knobs, read from the test input after the base number:
 * "BASE CPU_MS SLEEP_MS MEM_MIB PERCENTAGE".  Talks to each solution as
 * interactor.c does, then burns CPU_MS of CPU time, sleeps SLEEP_MS, touches
 * MEM_MIB MiB, and prints OK (or WRONG), a message and PERCENTAGE ("-": no
 * third line). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int n = atoi(argv[1]), base, cpu_ms, sleep_ms, mem_mib, ok = 1;
    char percentage[64];
    if (scanf("%d %d %d %d %63s", &base, &cpu_ms, &sleep_ms, &mem_mib, percentage) != 5) return 5;
    for (int i = 0; i < n; i++) {
        FILE *in = fdopen(atoi(argv[2 + 2 * i]), "r"), *out = fdopen(atoi(argv[3 + 2 * i]), "w");
        long answer;
        fprintf(out, "%d\n", base + i); fflush(out);
        if (fscanf(in, "%ld", &answer) != 1 || answer != 2L * (base + i)) ok = 0;
    }
    while (clock() < (clock_t)cpu_ms * (CLOCKS_PER_SEC / 1000)) {}
    usleep(sleep_ms * 1000);
    if (mem_mib) {
        volatile char *p = malloc((size_t)mem_mib << 20);
        if (!p) return 6;
        for (size_t i = 0; i < (size_t)mem_mib << 20; i += 4096) p[i] = 1;
    }
    printf("%s\nknobs %d %d %d\n", ok ? "OK" : "WRONG", cpu_ms, sleep_ms, mem_mib);
    if (strcmp(percentage, "-")) printf("%s\n", percentage);
    return 0;
}
