/* Exits 0 iff ./extra_exec_file holds DEADBEEF. */
#include <stdio.h>
#include <string.h>
int main(void) { char buf[16] = {0}; FILE *f = fopen("extra_exec_file", "r");
    if (!f || !fgets(buf, sizeof buf, f)) return 1; return strcmp(buf, "DEADBEEF\n") != 0; }
