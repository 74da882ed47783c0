/* A generator of one big test: t1.upload of 60 MiB (more than the executors'
 * default output limit of 50 MiB, which must not apply to generated files). */
#include <stdio.h>
#include <string.h>
int main(void) {
    static char line[1 << 20];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    FILE *f = fopen("t1.upload", "w");
    for (int i = 0; i < 60; i++)
        if (!f || fwrite(line, 1, sizeof line, f) != sizeof line) return 1;
    printf("done\n");
    return fclose(f) != 0;
}
