/* A sio-protocol checker that replaces its copies of the output and the hint with symbolic
 * links to the path in the hint's first line (and a FIFO), then accepts. */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
    char target[4096] = {0};
    FILE *h = fopen(argv[3], "r");
    if (!h || fscanf(h, "%4095s", target) != 1) return 2;
    fclose(h);
    unlink(argv[2]); symlink(target, argv[2]);
    unlink(argv[3]); mkfifo(argv[3], 0666);
    printf("OK\nreplaced\n");
    return 0;
}
