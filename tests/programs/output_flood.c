#include <stdio.h>
#include <string.h>
int main(void) { static char line[1 << 20]; memset(line, 'X', sizeof line);
    for (;;) fwrite(line, 1, sizeof line, stdout); }
