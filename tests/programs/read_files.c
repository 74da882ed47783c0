/* Prints whatever it manages to read from the files named on the command line. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    char buf[4096];
    for (int i = 1; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY);
        if (fd < 0) { printf("cannot open %s\n", argv[i]); continue; }
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) { printf("read %s: ", argv[i]); fwrite(buf, 1, n, stdout); }
        close(fd);
    }
    return 0;
}
