/* Memory a supervisor might not see, by argv[1]:
 * exit_thread  69 MiB mapped in 3 MiB pieces (under the mapping check), then
 *              the raw exit system call instead of exit_group;
 * zombie_leader  the main thread exits at once; another thread maps 66 MiB in
 *              pieces, computes for half a second and exits the same way;
 * memfd        1000 MiB written into memfds (never mapped);
 * sockets      socket buffers filled as storage.
 * Prints "stored" when it got that far. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

static void map_pieces(int mib, int touched) {
    for (int i = 0; i < mib / 3; i++) {
        char *p = mmap(0, 3 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) break;
        if (i < touched) memset(p, 1, 3 << 20);
    }
}

static void *worker(void *arg) {
    usleep(50000); /* the leader is a zombie by now */
    map_pieces(66, 5);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &t); while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 500);
    printf("stored\n");
    fflush(stdout);
    syscall(SYS_exit, 0);
    return arg;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(mode, "exit_thread")) {
        map_pieces(69, 10);
        printf("stored\n");
        syscall(SYS_exit, 0);
    }
    if (!strcmp(mode, "zombie_leader")) {
        pthread_t t;
        pthread_create(&t, 0, worker, 0);
        syscall(SYS_exit, 0);
    }
    static char block[1 << 20];
    memset(block, 7, sizeof block);
    if (!strcmp(mode, "memfd")) {
        for (int i = 0; i < 20; i++) {
            int fd = (int)syscall(SYS_memfd_create, "m", 0);
            if (fd < 0) return 1;
            for (int j = 0; j < 50; j++)
                if (write(fd, block, sizeof block) != sizeof block) return 1;
        }
        printf("stored\n");
        return 0;
    }
    if (!strcmp(mode, "sockets")) {
        long total = 0;
        for (int i = 0; i < 30; i++) {
            int sv[2];
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv)) return 1;
            int size = 8 << 20;
            setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
            ssize_t n;
            while ((n = write(sv[0], block, sizeof block)) > 0) total += n;
        }
        printf("stored %ld\n", total);
        return 0;
    }
    return 2;
}
