/* For the unprotected executor: leave a daemon (carrying the run's marker in
 * its command line) and kill the supervisor that started us. */
#include <signal.h>
#include <unistd.h>

int main(void) {
    pid_t supervisor = getppid();
    if (fork() == 0) {
        setsid();
        if (fork() == 0) { sleep(30); return 0; }
        return 0;
    }
    usleep(100000);
    kill(supervisor, SIGKILL);
    sleep(1);
    return 0;
}
