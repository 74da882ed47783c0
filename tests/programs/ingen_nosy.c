/* Reads /etc/passwd (not there in a box: it crashes) and writes myfile.txt. */
#include <stdio.h>
int main(void) { FILE *f = fopen("/etc/passwd", "r"); char line[64];
    fgets(line, sizeof line, f); FILE *o = fopen("myfile.txt", "w"); fputs(line, o); return 0; }
