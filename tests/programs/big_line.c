#include <stdio.h>
int main(void) { for (int i = 0; i < (1 << 20); i++) putchar('X'); putchar('\n'); return 0; }
