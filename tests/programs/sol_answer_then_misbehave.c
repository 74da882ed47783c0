/* An interactive solution that answers correctly (2x), then misbehaves,
 * chosen by the number it got modulo 4: 0 ptrace, 1 socket(AF_INET),
 * 2 a busy loop (runs out of CPU time), 3 ptrace.  The interactor has its
 * answer before the misbehaviour, so it says OK. */
#include <netinet/in.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
int main(void) {
    long x;
    if (scanf("%ld", &x) != 1) return 1;
    printf("%ld\n", 2 * x);
    fflush(stdout);
    switch (x % 4) {
    case 1: return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : 3;
    case 2: { volatile unsigned long i = 0; for (;;) i++; }
    default: return ptrace(PTRACE_TRACEME, 0, 0, 0) == 0 ? 0 : 2;
    }
}
