/* Attacks the box's supervisor (PID 1), then behaves as argv[2] says.
 * argv[1] (the attack): mem (write a forged status through /proc/1/mem),
 * fd (write a forged status into every descriptor of PID 1 via /proc/1/fd),
 * getfd (take PID 1's descriptors with pidfd_getfd), prlimit (blind PID 1:
 * RLIMIT_NOFILE 3), prlimit_cpu (RLIMIT_CPU 0 on PID 1), nice (setpriority
 * of PID 1), nice_user (PRIO_USER), affinity (sched_setaffinity of PID 1),
 * signals (SIGSTOP/SIGTERM/SIGKILL to PID 1), none.
 * argv[2] (then): spin (busy loop forever), segv, exit3, ok.
 * Prints which attacks got through ("GOT:<what>") to standard output. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char forged[] =
    "status=exited code=0 cpu_us=1000 maxrss_kib=1 vm_peak_kib=1 wall_us=1000 tle=0 "
    "wall_killed=0 map_exceeded=0 execve=1\n";

int main(int argc, char **argv) {
    const char *attack = argc > 1 ? argv[1] : "none";
    const char *then = argc > 2 ? argv[2] : "spin";
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(attack, "mem")) {
        int fd = open("/proc/1/mem", O_RDWR);
        if (fd >= 0) printf("GOT:mem\n");
    } else if (!strcmp(attack, "fd")) {
        for (int i = 0; i < 256; i++) {
            char path[64];
            snprintf(path, sizeof path, "/proc/1/fd/%d", i);
            int fd = open(path, O_WRONLY);
            if (fd >= 0 && write(fd, forged, sizeof forged - 1) > 0) printf("GOT:fd%d\n", i);
        }
    } else if (!strcmp(attack, "getfd")) {
        int pidfd = (int)syscall(SYS_pidfd_open, 1, 0);
        for (int i = 0; pidfd >= 0 && i < 64; i++) {
            int fd = (int)syscall(SYS_pidfd_getfd, pidfd, i, 0);
            if (fd >= 0 && write(fd, forged, sizeof forged - 1) > 0) printf("GOT:getfd%d\n", i);
        }
    } else if (!strcmp(attack, "prlimit")) {
        struct rlimit r = {3, 3};
        if (prlimit(1, RLIMIT_NOFILE, &r, NULL) == 0) printf("GOT:prlimit\n");
    } else if (!strcmp(attack, "prlimit_cpu")) {
        struct rlimit r = {0, 0};
        if (prlimit(1, RLIMIT_CPU, &r, NULL) == 0) printf("GOT:prlimit_cpu\n");
    } else if (!strcmp(attack, "nice")) {
        if (setpriority(PRIO_PROCESS, 1, 19) == 0) printf("GOT:nice\n");
    } else if (!strcmp(attack, "nice_user")) {
        if (setpriority(PRIO_USER, 0, 19) == 0) printf("GOT:nice_user\n");
    } else if (!strcmp(attack, "affinity")) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(0, &set);
        if (sched_setaffinity(1, sizeof set, &set) == 0) printf("GOT:affinity\n");
    } else if (!strcmp(attack, "signals")) {
        kill(1, SIGSTOP);
        kill(1, SIGTERM);
        kill(1, SIGKILL);
        kill(1, SIGXCPU);
    }
    if (!strcmp(then, "segv")) raise(SIGSEGV);
    if (!strcmp(then, "exit3")) return 3;
    if (!strcmp(then, "ok")) return 0;
    for (volatile unsigned long i = 0;; i++) {}
}
