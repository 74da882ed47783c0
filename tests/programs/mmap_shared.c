/* Working memory through MAP_SHARED mappings of files in the box (each under
 * the output limit): argv[1] "whole" maps twelve 40 MiB files at once and
 * writes them, "chunks" maps, writes and unmaps one at a time, so the pages
 * belong to the files, not to the process. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const size_t size = 40u << 20;
    int whole = argc > 1 && !strcmp(argv[1], "whole");
    for (int i = 0; i < 12; i++) {
        char name[32];
        snprintf(name, sizeof name, "scratch%d", i);
        int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || ftruncate(fd, size)) { perror(name); return 2; }
        char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) { perror("mmap"); return 1; }
        memset(p, 1, size);
        if (!whole) munmap(p, size);
        close(fd);
    }
    printf("used 480 MiB\n");
    return 0;
}
