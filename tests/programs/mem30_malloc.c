/* 30 MiB allocated, untouched (as 30MiB-malloc.c). */
#include <stdlib.h>
int main(void) { volatile char *p = malloc(30 << 20); return p ? 0 : 1; }
