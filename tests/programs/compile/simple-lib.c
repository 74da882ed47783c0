#include <stdio.h>
#include "library.h"
int main(void) { printf("%s from c-lib\n", greeting()); return 0; }
