/* CPU the kernel accounts nowhere else: SIGCHLD ignored, so exited children are
 * reaped by the kernel itself.  Two children burn CPU for ~8 s of wall time
 * (restarting as they exit), the parent sleeps and exits 0. */
#include <signal.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void) {
    signal(SIGCHLD, SIG_IGN);
    double end = now() + 8.0;
    while (now() < end) {
        for (int i = 0; i < 2; i++)
            if (fork() == 0) {
                double stop = now() + 0.1;
                while (now() < stop) {}
                _exit(0);
            }
        usleep(100000);
    }
    return 0;
}
