/* Makes one AF_UNIX socket, as libc does to ask nscd about a user; says how it went. */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
int main(void) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) printf("made\n");
    else printf("refused: %s\n", errno == EACCES ? "EACCES" : "other");
    return 0;
}
