/* Leaves a detached grandchild (new session) behind; argv[1] is a marker the test looks for. */
#include <unistd.h>
int main(void) {
    if (fork() == 0) {
        setsid();
        if (fork() == 0) for (;;) pause();
        _exit(0);
    }
    usleep(100000);
    return 0;
}
