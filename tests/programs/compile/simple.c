#include <stdio.h>
int main(void) { printf("Hello World from c\n"); return 0; }
