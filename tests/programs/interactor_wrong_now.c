#include <stdio.h>
int main(void) { printf("WRONG\nno answer needed\n"); return 0; }
