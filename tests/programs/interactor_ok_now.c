/* Says OK at once, whatever the solution does (as a careless interactor might). */
#include <stdio.h>
int main(void) { printf("OK\nno answer checked\n"); return 0; }
