#include <stdio.h>
int main(void) { for (int i = 0; i < 100; i++) putchar('A'); printf("\nOK\n"); return 0; }
