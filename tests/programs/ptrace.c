#include <stdio.h>
#include <sys/ptrace.h>
int main(void) { printf("%ld\n", ptrace(PTRACE_TRACEME, 0, 0, 0)); return 0; }
