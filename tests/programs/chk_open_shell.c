/* Prints OK only if it can read /bin/sh (it cannot in a box). */
#include <stdio.h>
int main(void) { FILE *f = fopen("/bin/sh", "r"); if (f) printf("OK\n"); return 0; }
