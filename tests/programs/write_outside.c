/* Tries to write outside its box; prints each attempt that succeeded, exits 0 iff none did. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int escaped = 0;
    for (int i = 1; i < argc; i++) {
        int fd = open(argv[i], O_WRONLY | O_CREAT | O_APPEND, 0666);
        if (fd >= 0 && write(fd, "ESCAPED\n", 8) == 8) { printf("wrote %s\n", argv[i]); escaped = 1; }
    }
    if (mkdir("/escape-dir", 0777) == 0) { printf("mkdir /\n"); escaped = 1; }
    return escaped;
}
