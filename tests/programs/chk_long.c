/* Prints WRONG and the program's whole first token (may be 1 MiB). */
#include <stdio.h>
int main(int argc, char **argv) { FILE *o = fopen(argv[2], "r"); int c;
    printf("WRONG\n"); while (o && (c = fgetc(o)) != EOF && c != '\n') putchar(c);
    putchar('\n'); return 0; }
