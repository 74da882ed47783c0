/* Fills the box's disk: argv[1] "bytes" writes 8 MiB files until writing
 * fails (up to 1.2 GiB), "inodes" creates empty files until that fails (up to
 * 300 000), "shm" writes to /dev/shm.  Prints how much it made. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    static char block[1 << 20];
    memset(block, 'x', sizeof block);
    const char *mode = argc > 1 ? argv[1] : "bytes";
    if (!strcmp(mode, "shm")) {
        int fd = open("/dev/shm/fill", O_WRONLY | O_CREAT, 0600);
        printf("shm:%s\n", fd >= 0 ? "opened" : "refused");
        return fd >= 0 ? 0 : 1;
    }
    if (!strcmp(mode, "inodes")) {
        int n = 0;
        for (; n < 300000; n++) {
            char name[32];
            snprintf(name, sizeof name, "f%d", n);
            int fd = open(name, O_WRONLY | O_CREAT, 0600);
            if (fd < 0) break;
            close(fd);
        }
        printf("files:%d\n", n);
        return n == 300000 ? 0 : 1;
    }
    long mib = 0;
    for (int f = 0; mib < 1229; f++) {
        char name[32];
        snprintf(name, sizeof name, "big%d", f);
        int fd = open(name, O_WRONLY | O_CREAT, 0600);
        if (fd < 0) break;
        int i = 0;
        for (; i < 8; i++, mib++)
            if (write(fd, block, sizeof block) != sizeof block) break;
        close(fd);
        if (i < 8) break;
    }
    printf("mib:%ld\n", mib);
    return mib >= 1229 ? 0 : 1;
}
