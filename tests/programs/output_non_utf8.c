#include <stdio.h>
int main(void) { for (int i = 0; i < 256; i++) putchar(255 - i % 64); putchar('\n'); return 0; }
