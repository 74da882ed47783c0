/* Prints OK and the percentage given as the content of the hint file's second line. */
#include <stdio.h>
int main(int argc, char **argv) { char line[64] = {0}; FILE *h = fopen(argv[3], "r");
    if (!h) return 2; fgets(line, sizeof line, h); if (!fgets(line, sizeof line, h)) line[0] = 0;
    printf("OK\n\n%s", line); return 0; }
