/*
 * sio-box launcher: the supervisor that runs inside the box, as its PID 1.
 *
 * bubblewrap builds the namespaces and the file system view; this program
 * then (1) forks the untrusted program with rlimits and a seccomp filter,
 * (2) watches it: total CPU time of every process in the box, wall time, and
 * seccomp notifications for forbidden system calls, (3) kills every process in
 * the box when the program ends or breaks a limit, reaps them all (as PID 1
 * every orphan is its child) and (4) writes one status line to --status-fd:
 *
 *   status=exited|signaled|failed code=N signal=N utime_us=N stime_us=N
 *   maxrss_kib=N wall_us=N tle=0|1 wall_killed=0|1 rv_nr=N rv_name=NAME
 *   execve=N instructions=N error=TEXT
 *
 * With --count-instructions the user-space instructions of the program tree
 * are counted through perf_event_open (a hardware PMU is needed) and
 * --instruction-limit ends it like a time limit.  "launcher --exit-ok" exits
 * at once: a trivial program for probing what a box can do.
 * Usage: launcher [--time-limit-ms N] [--wall-limit-ms N] [--as-kib N]
 *                 [--stack-kib N] [--fsize N] [--nproc N] [--nofile N]
 *                 [--cgroup-fd FD]... [--no-seccomp] [--allow-exec] [--allow-sockets]
 *                 [--count-instructions]
 *                 [--instruction-limit N] --status-fd FD
 *                 -- PROGRAM ARGS...
 *
 * Each --cgroup-fd is an open cgroup.procs file: the program joins those
 * cgroups before it starts, while the launcher itself stays outside them (the
 * OOM killer of a full memory cgroup then never picks the supervisor).
 *
 * Outside a box (not PID 1: the unprotected executor) it puts the program in a
 * process group of its own, becomes a child subreaper, and kills that group
 * and every process reparented to it instead of "everything in the box".
 *
 * Part of sio-ray; compiled on first use by sio.workers.isolation.launcher.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/perf_event.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#define BOX_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define BOX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "sio-box launcher: unsupported architecture"
#endif

struct denied { long nr; const char *name; };

/* System calls an untrusted program never needs; any use is a rule violation (RV). */
static const struct denied DENIED[] = {
#define D(name) {SYS_##name, #name},
#ifdef SYS_ptrace
    D(ptrace)
#endif
    D(process_vm_readv) D(process_vm_writev)
    D(mount) D(umount2) D(pivot_root) D(chroot)
#ifdef SYS_open_tree
    D(open_tree) D(move_mount) D(fsopen) D(fsconfig) D(fsmount) D(fspick)
#endif
#ifdef SYS_mount_setattr
    D(mount_setattr)
#endif
    D(unshare) D(setns)
    D(kexec_load)
#ifdef SYS_kexec_file_load
    D(kexec_file_load)
#endif
    D(reboot) D(init_module) D(finit_module) D(delete_module)
    D(swapon) D(swapoff) D(acct) D(quotactl) D(syslog)
    D(bpf) D(perf_event_open) D(userfaultfd)
    D(keyctl) D(add_key) D(request_key)
#ifdef SYS_iopl
    D(iopl) D(ioperm)
#endif
    D(settimeofday) D(clock_settime) D(clock_adjtime) D(adjtimex)
    D(sethostname) D(setdomainname) D(vhangup)
    D(open_by_handle_at) D(name_to_handle_at)
#ifdef SYS_io_uring_setup
    D(io_uring_setup) D(io_uring_enter) D(io_uring_register)
#endif
    D(personality)
#undef D
};

#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | \
                  CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

static const char *syscall_name(long nr) {
    for (size_t i = 0; i < sizeof(DENIED) / sizeof(DENIED[0]); i++)
        if (DENIED[i].nr == nr) return DENIED[i].name;
    if (nr == SYS_socket) return "socket";
    if (nr == SYS_clone) return "clone";
    if (nr == SYS_execve) return "execve";
    if (nr == SYS_execveat) return "execveat";
    return "unknown";
}

#define MAX_FILTER 256

static int build_filter(struct sock_filter *f, int allow_exec, int allow_sockets) {
    int n = 0;
#define EMIT(x) (f[n++] = (struct sock_filter)x)
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
    EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, BOX_AUDIT_ARCH, 1, 0));
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
#if defined(__x86_64__)
    EMIT(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1)); /* x32 ABI */
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
#endif
    for (size_t i = 0; i < sizeof(DENIED) / sizeof(DENIED[0]); i++) {
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DENIED[i].nr, 0, 1));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
    }
    /* execve/execveat: the supervisor lets the first one (the program itself) through,
     * unless programs may start others (compilers run their passes). */
    if (!allow_exec) {
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_execve, 0, 1));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_execveat, 0, 1));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
    }
    /* clone3 passes its flags in memory the filter cannot read: ENOSYS makes libc use clone. */
#ifdef SYS_clone3
    EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1));
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
#endif
    /* clone: threads and processes yes, new namespaces no. */
    EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 4));
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])));
    EMIT(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, NS_FLAGS, 0, 1));
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    /* socket: only AF_UNIX (any family with --allow-sockets; the box has no network anyway). */
    if (allow_sockets) {
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
        return n;
    }
    EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 4));
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])));
    EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1));
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
#undef EMIT
    return n;
}

#define MAX_CGROUPS 4

struct options {
    long time_limit_ms, wall_limit_ms, as_kib, stack_kib, fsize, nproc, nofile;
    long long instruction_limit;
    int seccomp, status_fd, n_cgroups, count_instructions, allow_exec, allow_sockets;
    int cgroup_fds[MAX_CGROUPS];
    char **argv;
};

static int in_box; /* PID 1 of a PID namespace */
static pid_t program;

static void die_usage(const char *what) {
    fprintf(stderr, "sio-box launcher: %s\n", what);
    exit(120);
}

static void parse(int argc, char **argv, struct options *o) {
    memset(o, 0, sizeof(*o));
    o->seccomp = 1;
    o->status_fd = -1;
    o->nofile = 64;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) { i++; break; }
        if (!strcmp(a, "--no-seccomp")) { o->seccomp = 0; continue; }
        if (!strcmp(a, "--count-instructions")) { o->count_instructions = 1; continue; }
        if (!strcmp(a, "--allow-exec")) { o->allow_exec = 1; continue; }
        if (!strcmp(a, "--allow-sockets")) { o->allow_sockets = 1; continue; }
        if (i + 1 >= argc) die_usage("option needs a value");
        if (!strcmp(a, "--cgroup-fd")) {
            if (o->n_cgroups == MAX_CGROUPS) die_usage("too many cgroups");
            o->cgroup_fds[o->n_cgroups++] = atoi(argv[++i]);
            continue;
        }
        long v = strtol(argv[++i], NULL, 10);
        if (!strcmp(a, "--time-limit-ms")) o->time_limit_ms = v;
        else if (!strcmp(a, "--wall-limit-ms")) o->wall_limit_ms = v;
        else if (!strcmp(a, "--as-kib")) o->as_kib = v;
        else if (!strcmp(a, "--stack-kib")) o->stack_kib = v;
        else if (!strcmp(a, "--fsize")) o->fsize = v;
        else if (!strcmp(a, "--nproc")) o->nproc = v;
        else if (!strcmp(a, "--nofile")) o->nofile = v;
        else if (!strcmp(a, "--status-fd")) o->status_fd = (int)v;
        else if (!strcmp(a, "--instruction-limit")) o->instruction_limit = strtoll(argv[i], NULL, 10);
        else die_usage("unknown option");
    }
    if (i >= argc) die_usage("no program given");
    if (o->status_fd < 0) die_usage("--status-fd is required");
    o->argv = argv + i;
}

static void set_limit(int resource, rlim_t value) {
    struct rlimit r = {value, value};
    setrlimit(resource, &r);
}

static int send_fd(int sock, int fd) {
    char byte = 0;
    struct iovec iov = {&byte, 1};
    char buf[CMSG_SPACE(sizeof(int))];
    memset(buf, 0, sizeof(buf));
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf,
                         .msg_controllen = sizeof(buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock) {
    char byte;
    struct iovec iov = {&byte, 1};
    char buf[CMSG_SPACE(sizeof(int))];
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf,
                         .msg_controllen = sizeof(buf)};
    if (recvmsg(sock, &msg, 0) != 1) return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

/* The program: limits, no new privileges, the filter, then exec. */
static void set_oom_score_adj(const char *value) {
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, value, strlen(value)) < 0) {}
        close(fd);
    }
}

static void child(const struct options *o, int sock, int err_pipe, int go) {
    if (!in_box) setpgid(0, 0);
    for (int i = 0; i < o->n_cgroups; i++) {
        if (write(o->cgroup_fds[i], "0", 1) != 1) goto fail;
        close(o->cgroup_fds[i]);
    }
    set_oom_score_adj("1000"); /* the program is the OOM killer's first choice */
    signal(SIGPIPE, SIG_DFL);
    signal(SIGXFSZ, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    set_limit(RLIMIT_CORE, 0);
    set_limit(RLIMIT_NOFILE, (rlim_t)o->nofile);
    if (o->as_kib > 0) set_limit(RLIMIT_AS, (rlim_t)o->as_kib * 1024);
    set_limit(RLIMIT_STACK, o->stack_kib > 0 ? (rlim_t)o->stack_kib * 1024 : RLIM_INFINITY);
    if (o->fsize > 0) set_limit(RLIMIT_FSIZE, (rlim_t)o->fsize);
    if (o->nproc > 0) set_limit(RLIMIT_NPROC, (rlim_t)o->nproc);
    if (o->time_limit_ms > 0) /* a backstop; the supervisor counts the whole tree */
        set_limit(RLIMIT_CPU, (rlim_t)(o->time_limit_ms / 1000 + 2));
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) goto fail;
    if (o->seccomp) {
        struct sock_filter filter[MAX_FILTER];
        struct sock_fprog prog = {(unsigned short)build_filter(filter, o->allow_exec, o->allow_sockets), filter};
        int listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                                    SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
        if (listener < 0 || send_fd(sock, listener)) goto fail;
        close(listener);
    }
    close(sock);
    if (go >= 0) { /* wait until the supervisor attached the instruction counter */
        char byte;
        if (read(go, &byte, 1) != 1) _exit(126);
        close(go);
    }
    execv(o->argv[0], o->argv); /* one exec: no PATH search */
fail:;
    int e = errno;
    if (write(err_pipe, &e, sizeof(e)) < 0) {}
    _exit(127);
}

static long long now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* Walk the processes of the program: everything but us in a box, else the
 * program's process group and our (reparented) children.  With kill set,
 * SIGKILL them; return their CPU time so far (us). */
static long long scan(int kill_them) {
    static long ticks = 0;
    if (!ticks) ticks = sysconf(_SC_CLK_TCK);
    long long total = 0;
    pid_t self = getpid();
    DIR *d = opendir("/proc");
    if (!d) return 0;
    struct dirent *e;
    char path[64], buf[1024];
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid == self) continue;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t len = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (len <= 0) continue;
        buf[len] = 0;
        char *p = strrchr(buf, ')');
        if (!p) continue;
        int ppid = 0, pgrp = 0;
        unsigned long long ut = 0, st = 0;
        /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
        if (sscanf(p + 2, "%*c %d %d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                   &ppid, &pgrp, &ut, &st) != 4)
            continue;
        if (!in_box && pgrp != program && ppid != self) continue;
        if (kill_them) kill(pid, SIGKILL);
        total += (long long)(ut + st) * 1000000 / ticks;
    }
    closedir(d);
    return total;
}

static void kill_all(void) {
    if (in_box) {
        kill(-1, SIGKILL);
        return;
    }
    kill(-program, SIGKILL);
    scan(1);
}

static long long tv_us(struct timeval t) { return (long long)t.tv_sec * 1000000 + t.tv_usec; }

static int open_counter(pid_t pid) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_HARDWARE;
    attr.config = PERF_COUNT_HW_INSTRUCTIONS;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    attr.inherit = 1;
    return (int)syscall(SYS_perf_event_open, &attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static long long read_counter(int fd) {
    unsigned long long value = 0;
    if (fd < 0 || read(fd, &value, sizeof(value)) != sizeof(value)) return -1;
    return (long long)value;
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "--exit-ok")) return 0;
    struct options o;
    parse(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    in_box = getpid() == 1;
    if (!in_box) prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);

    int sv[2], ep[2], gp[2] = {-1, -1};
    if (o.count_instructions && pipe2(gp, O_CLOEXEC)) {
        dprintf(o.status_fd, "status=failed error=setup\n");
        return 121;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) || pipe2(ep, O_CLOEXEC)) {
        dprintf(o.status_fd, "status=failed error=setup\n");
        return 121;
    }
    long long start = now_us();
    pid_t pid = program = fork();
    if (pid < 0) {
        dprintf(o.status_fd, "status=failed error=fork\n");
        return 121;
    }
    if (pid == 0) {
        program = getpid();
        close(sv[0]);
        close(ep[0]);
        close(sfd);
        close(o.status_fd);
        if (gp[1] >= 0) close(gp[1]);
        child(&o, sv[1], ep[1], gp[0]);
    }
    int counter = -1;
    if (o.count_instructions) {
        close(gp[0]);
        counter = open_counter(pid);
        if (counter < 0) {
            int e = errno;
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            dprintf(o.status_fd, "status=failed error=instruction-counting-unavailable:%s\n",
                    strerror(e));
            return 0;
        }
        if (write(gp[1], "g", 1) != 1) {}
        close(gp[1]);
    }
    close(sv[1]);
    close(ep[1]);
    for (int i = 0; i < o.n_cgroups; i++) close(o.cgroup_fds[i]);
    int listener = o.seccomp ? recv_fd(sv[0]) : -1;
    close(sv[0]);

    int main_status = 0, main_done = 0, tle = 0, wall_killed = 0, killed_all = 0, execs = 0;
    long rv_nr = -1;
    long long deadline_cpu = o.time_limit_ms > 0 ? o.time_limit_ms * 1000LL : 0;
    long long deadline_wall = o.wall_limit_ms > 0 ? start + o.wall_limit_ms * 1000LL : 0;

    for (;;) {
        /* Reap everything that ended; as PID 1 that includes orphans. */
        for (;;) {
            int st;
            pid_t w = waitpid(-1, &st, WNOHANG);
            if (w <= 0) {
                if (w < 0 && errno == ECHILD) goto done;
                break;
            }
            if (w == pid) { main_status = st; main_done = 1; }
        }
        if (main_done && !killed_all) { kill_all(); killed_all = 1; continue; }
        if (killed_all && !in_box) scan(1); /* orphans keep arriving */
        if (!killed_all) {
            long long t = now_us();
            if (deadline_wall && t >= deadline_wall) { wall_killed = 1; }
            else if (o.instruction_limit > 0 && read_counter(counter) > o.instruction_limit) {
                tle = 1;
            }
            else if (deadline_cpu) {
                struct rusage ru;
                getrusage(RUSAGE_CHILDREN, &ru);
                if (tv_us(ru.ru_utime) + tv_us(ru.ru_stime) + scan(0) > deadline_cpu) tle = 1;
            }
            if (wall_killed || tle) { kill_all(); killed_all = 1; }
        }
        struct pollfd fds[2] = {{sfd, POLLIN, 0}, {listener, POLLIN, 0}};
        int timeout = killed_all ? 50 : 10;
        if (deadline_wall && !killed_all) {
            long long left = (deadline_wall - now_us()) / 1000 + 1;
            if (left < timeout) timeout = left < 0 ? 0 : (int)left;
        }
        int r = poll(fds, listener >= 0 ? 2 : 1, timeout);
        if (r > 0 && (fds[0].revents & POLLIN)) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof(si)) == sizeof(si)) {}
        }
        if (r > 0 && listener >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            if (fds[1].revents & POLLIN) {
                struct seccomp_notif req;
                struct seccomp_notif_resp resp;
                memset(&req, 0, sizeof(req));
                if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) == 0) {
                    memset(&resp, 0, sizeof(resp));
                    resp.id = req.id;
                    int nr = req.data.nr;
                    if ((nr == SYS_execve || nr == SYS_execveat) && execs == 0 && !killed_all) {
                        execs++;
                        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
                    } else {
                        if (rv_nr < 0 && !killed_all) rv_nr = nr;
                        if (nr == SYS_execve || nr == SYS_execveat) execs++;
                        resp.error = -EPERM;
                        if (!killed_all) { kill_all(); killed_all = 1; }
                    }
                    ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
                }
            } else {
                close(listener);
                listener = -1;
            }
        }
    }
done:;
    long long wall = now_us() - start;
    int exec_errno = 0;
    if (read(ep[0], &exec_errno, sizeof(exec_errno)) != sizeof(exec_errno)) exec_errno = 0;
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    char status[1024];
    int n;
    if (exec_errno)
        n = snprintf(status, sizeof(status), "status=failed");
    else if (WIFEXITED(main_status))
        n = snprintf(status, sizeof(status), "status=exited code=%d", WEXITSTATUS(main_status));
    else
        n = snprintf(status, sizeof(status), "status=signaled signal=%d", WTERMSIG(main_status));
    n += snprintf(status + n, sizeof(status) - n,
                  " utime_us=%lld stime_us=%lld maxrss_kib=%ld wall_us=%lld tle=%d wall_killed=%d"
                  " execve=%d",
                  tv_us(ru.ru_utime), tv_us(ru.ru_stime), ru.ru_maxrss, wall, tle, wall_killed, execs);
    if (rv_nr >= 0)
        n += snprintf(status + n, sizeof(status) - n, " rv_nr=%ld rv_name=%s", rv_nr,
                      syscall_name(rv_nr));
    if (counter >= 0)
        n += snprintf(status + n, sizeof(status) - n, " instructions=%lld", read_counter(counter));
    if (exec_errno) /* the error text, with its spaces, ends the line */
        n += snprintf(status + n, sizeof(status) - n, " error=%s", strerror(exec_errno));
    status[n++] = '\n';
    if (write(o.status_fd, status, n) < 0) return 122;
    return 0;
}
