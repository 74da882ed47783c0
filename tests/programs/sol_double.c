#include <stdio.h>
int main(void) { long x; if (scanf("%ld", &x) != 1) return 1; printf("%ld\n", 2 * x); fflush(stdout); return 0; }
