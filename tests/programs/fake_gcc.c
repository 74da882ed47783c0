/* Stands in for a toolchain's gcc: writes the output named after -o and says so. */
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "-o") == 0) { FILE *f = fopen(argv[i + 1], "w"); fputs("FAKE", f); fclose(f); }
    printf("fake gcc ran\n");
    return 0;
}
