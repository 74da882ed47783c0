/* Exits with the code in the hint file's first line, complaining on stderr. */
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) { char line[64] = {0}; FILE *h = fopen(argv[3], "r");
    if (h) fgets(line, sizeof line, h); fprintf(stderr, "checker trouble %d\n", atoi(line));
    return atoi(line); }
