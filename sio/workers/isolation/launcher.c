/*
 * sio-box launcher: the supervisor that runs inside the box, as its PID 1.
 *
 * bubblewrap builds the namespaces and the file system view; this program
 * then (1) forks the untrusted program with rlimits and a seccomp filter,
 * (2) watches it: CPU time of the whole run (from the run's cgroup when
 * --cpu-fd is given, else rusage plus a /proc scan), wall time, the
 * address-space peak of every process (sampled, and read at each exit_group),
 * and seccomp notifications for forbidden system calls, (3) kills every
 * process in the box when the program ends or breaks a limit, reaps them all
 * (as PID 1 every orphan is its child) and (4) writes one status line to
 * --status-fd, each key at most once, values without spaces:
 *
 *   status=exited|signaled|failed code=N signal=N cpu_us=N maxrss_kib=N
 *   vm_peak_kib=N wall_us=N tle=0|1 wall_killed=0|1 map_exceeded=0|1 execve=N rv_nr=N
 *   rv_name=NAME instructions=N error=TOKEN errno=N
 *
 * The program cannot reach this supervisor: it is not dumpable (so no
 * /proc/1/mem, no pidfd_getfd, no ptrace of it), the seccomp filter makes
 * every system call that acts on another process's limits or scheduling a
 * rule violation, PID 1 of a PID namespace ignores the signals its own
 * namespace sends, and its descriptors are closed in the program.
 *
 * With --count-instructions the user-space instructions of the program tree
 * are counted through perf_event_open (a hardware PMU is needed) and
 * --instruction-limit ends it like a time limit.  "launcher --exit-ok" exits
 * at once: a trivial program for probing what a box can do.
 * Usage: launcher [--time-limit-ms N] [--wall-limit-ms N] [--as-kib N]
 *                 [--stack-kib N] [--fsize N] [--nproc N] [--nofile N]
 *                 [--cgroup-fd FD]... [--cpu-fd FD --cpu-format ns|stat]
 *                 [--map-limit-kib N] [--rss-limit-kib N]
 *                 [--no-seccomp] [--allow-exec] [--allow-sockets] [--strict-kernel-memory]
 *                 [--count-instructions]
 *                 [--instruction-limit N] --status-fd FD
 *                 -- PROGRAM ARGS...
 *
 * Each --cgroup-fd is an open cgroup.procs file: the program joins those
 * cgroups before it starts, while the launcher itself stays outside them (the
 * OOM killer of a full memory cgroup then never picks the supervisor).
 * --cpu-fd is the run's CPU accounting file (cpuacct.usage in ns, or cpu.stat
 * with usage_usec), read with pread for the live time-limit watch.
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
    /* another process's descriptors, memory or identity */
#ifdef SYS_pidfd_getfd
    D(pidfd_getfd)
#endif
#ifdef SYS_process_madvise
    D(process_madvise)
#endif
#ifdef SYS_process_mrelease
    D(process_mrelease)
#endif
    D(kcmp)
#undef D
};

/* System calls that may act on the caller only: the first argument (a pid)
 * must be 0, or the call is a rule violation (it would reach the supervisor). */
static const struct denied SELF_ONLY[] = {
#define D(name) {SYS_##name, #name},
    D(prlimit64) D(sched_setaffinity) D(sched_setscheduler) D(sched_setparam)
#ifdef SYS_sched_setattr
    D(sched_setattr)
#endif
    D(migrate_pages) D(move_pages)
#undef D
};

/* System calls whose (which, who) pair must be (WHICH, 0): setpriority(PRIO_PROCESS, 0)
 * and ioprio_set(IOPRIO_WHO_PROCESS, 0). */
static const struct { long nr; const char *name; unsigned which; } WHICH_SELF_ONLY[] = {
    {SYS_setpriority, "setpriority", 0 /* PRIO_PROCESS */},
    {SYS_ioprio_set, "ioprio_set", 1 /* IOPRIO_WHO_PROCESS */},
};

#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | \
                  CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *syscall_name(long nr) {
    for (size_t i = 0; i < COUNT(DENIED); i++)
        if (DENIED[i].nr == nr) return DENIED[i].name;
    for (size_t i = 0; i < COUNT(SELF_ONLY); i++)
        if (SELF_ONLY[i].nr == nr) return SELF_ONLY[i].name;
    for (size_t i = 0; i < COUNT(WHICH_SELF_ONLY); i++)
        if (WHICH_SELF_ONLY[i].nr == nr) return WHICH_SELF_ONLY[i].name;
    if (nr == SYS_socket) return "socket";
    if (nr == SYS_socketpair) return "socketpair";
    if (nr == SYS_memfd_create) return "memfd_create";
    if (nr == SYS_clone) return "clone";
    if (nr == SYS_execve) return "execve";
    if (nr == SYS_execveat) return "execveat";
    return "unknown";
}

#define MAX_FILTER 320

/* Mappings at least this large are checked by the supervisor. */
static unsigned long long map_trap_bytes(unsigned long long limit) {
    unsigned long long t = limit / 16;
    return t < (1ULL << 20) ? (1ULL << 20) : t;
}

/* Emit "if (nr == NR && args[ARG] > LIMIT) notify" for a 64-bit length argument. */
static int emit_length_trap(struct sock_filter *f, int n, long nr, int arg, unsigned long long limit) {
#define EMIT(x) (f[n++] = (struct sock_filter)x)
    EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 6));
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[arg]) + 4));
    EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2)); /* high word set: far too big */
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[arg])));
    EMIT(BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (unsigned)limit, 0, 1));
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
#undef EMIT
    return n;
}

static int build_filter(struct sock_filter *f, int allow_exec, int allow_sockets, int watch_exit,
                        unsigned long long map_limit, int strict_kmem) {
    int n = 0;
#define EMIT(x) (f[n++] = (struct sock_filter)x)
#define ARG(i) offsetof(struct seccomp_data, args[i]) /* low 32 bits (little endian) */
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
    EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, BOX_AUDIT_ARCH, 1, 0));
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
#if defined(__x86_64__)
    EMIT(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1)); /* x32 ABI */
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
#endif
    for (size_t i = 0; i < COUNT(DENIED); i++) {
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, DENIED[i].nr, 0, 1));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
    }
    for (size_t i = 0; i < COUNT(SELF_ONLY); i++) { /* nr: pid == 0 ? allow : notify */
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SELF_ONLY[i].nr, 0, 4));
        EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG(0)));
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    }
    for (size_t i = 0; i < COUNT(WHICH_SELF_ONLY); i++) { /* which == W && who == 0 */
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WHICH_SELF_ONLY[i].nr, 0, 6));
        EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG(0)));
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, WHICH_SELF_ONLY[i].which, 0, 2));
        EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG(1)));
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    }
    /* Large mappings go past the supervisor, which makes one that would take
     * the process over its memory limit MLE (as sio2jail does; the address-space
     * limit alone would only make it fail). */
    if (map_limit > 0 && map_limit < (1ULL << 32)) {
        n = emit_length_trap(f, n, SYS_mmap, 1, map_trap_bytes(map_limit));
        n = emit_length_trap(f, n, SYS_mremap, 2, map_trap_bytes(map_limit));
    }
    /* exit_group, exit: the supervisor reads the address-space peak, then lets it go. */
    if (watch_exit) {
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit_group, 0, 1));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_exit, 0, 1));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
    }
    /* Kernel memory that no limit sees where there is no memory cgroup.  An
     * AF_UNIX socket() fails instead (EACCES): libc asks nscd through one when a
     * program looks up a user (Python does at start without $HOME), and with no
     * socket made no buffer can be filled; other families stay violations. */
    if (strict_kmem) {
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_memfd_create, 0, 1));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
        if (!allow_sockets) {
            EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 4));
            EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])));
            EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1));
            EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES));
            EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
            EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socketpair, 0, 1));
            EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
        }
    }
    /* execve/execveat: the supervisor lets the first one (the program itself) through,
     * unless programs may start others (compilers run their passes). */
    if (!allow_exec) {
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_execve, 0, 1));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
        EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_execveat, 0, 1));
        EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
    }
    /* fallocate beyond mode 0 (FALLOC_FL_KEEP_SIZE...) reserves disk that no file
     * size shows, past RLIMIT_FSIZE, on the files the worker gave it: refused. */
    EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_fallocate, 0, 4));
    EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])));
    EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0));
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EOPNOTSUPP));
    EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
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
#undef ARG
#undef EMIT
    return n;
}

#define MAX_CGROUPS 4

struct options {
    long time_limit_ms, wall_limit_ms, as_kib, stack_kib, fsize, nproc, nofile, map_limit_kib;
    long rss_limit_kib; /* sampled: resident memory without a memory cgroup */
    long long instruction_limit;
    int seccomp, status_fd, n_cgroups, count_instructions, allow_exec, allow_sockets;
    int cpu_fd, cpu_stat; /* cpu_stat: cpu.stat (v2, usage_usec) instead of cpuacct.usage (ns) */
    int strict_kmem;      /* no memory cgroup: memfd_create and sockets are violations */
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
    o->cpu_fd = -1;
    o->nofile = 64;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) { i++; break; }
        if (!strcmp(a, "--no-seccomp")) { o->seccomp = 0; continue; }
        if (!strcmp(a, "--count-instructions")) { o->count_instructions = 1; continue; }
        if (!strcmp(a, "--allow-exec")) { o->allow_exec = 1; continue; }
        if (!strcmp(a, "--allow-sockets")) { o->allow_sockets = 1; continue; }
        if (!strcmp(a, "--strict-kernel-memory")) { o->strict_kmem = 1; continue; }
        if (i + 1 >= argc) die_usage("option needs a value");
        if (!strcmp(a, "--cgroup-fd")) {
            if (o->n_cgroups == MAX_CGROUPS) die_usage("too many cgroups");
            o->cgroup_fds[o->n_cgroups++] = atoi(argv[++i]);
            continue;
        }
        if (!strcmp(a, "--cpu-format")) {
            o->cpu_stat = !strcmp(argv[++i], "stat");
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
        else if (!strcmp(a, "--cpu-fd")) o->cpu_fd = (int)v;
        else if (!strcmp(a, "--map-limit-kib")) o->map_limit_kib = v;
        else if (!strcmp(a, "--rss-limit-kib")) o->rss_limit_kib = v;
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

static void child(const struct options *o, int sock, int err_pipe, int go, int ready) {
    if (!in_box) { /* a box dies with its PID 1; outside one, the program goes with us */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() == 1) _exit(126);
    }
    if (o->cpu_fd >= 0) close(o->cpu_fd);
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
    set_limit(RLIMIT_RTPRIO, 0); /* no real-time scheduling, no raised priority */
    set_limit(RLIMIT_NICE, 0);
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
        struct sock_fprog prog = {
            (unsigned short)build_filter(filter, o->allow_exec, o->allow_sockets, in_box,
                                         (unsigned long long)o->map_limit_kib * 1024,
                                         o->strict_kmem), filter};
        int listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                                    SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
        if (listener < 0 || send_fd(sock, listener)) goto fail;
        close(listener);
    }
    close(sock);
    if (go >= 0) { /* wait until the supervisor attached the instruction counter */
        char byte = 'r';
        prctl(PR_SET_DUMPABLE, 1, 0, 0, 0); /* the counter needs it; nothing else runs yet */
        if (write(ready, &byte, 1) != 1 || read(go, &byte, 1) != 1) _exit(126);
        close(go);
        close(ready);
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

/* VmPeak, VmSize and VmRSS (KiB) of one process, from /proc/PID/status; 0 when gone. */
static int vm_of_file(const char *path, long long *peak, long long *size, long long *rss) {
    char buf[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t len = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (len <= 0) return 0;
    buf[len] = 0;
    char *p = strstr(buf, "\nVmPeak:");
    if (!p) return 0; /* a zombie (e.g. a thread-group leader that called exit) */
    *peak = strtoll(p + 8, NULL, 10);
    p = strstr(buf, "\nVmSize:");
    if (p) *size = strtoll(p + 8, NULL, 10);
    p = strstr(buf, "\nVmRSS:");
    if (p) *rss = strtoll(p + 7, NULL, 10);
    return 1;
}

/* VmPeak, VmSize and VmRSS (KiB) of one process, from /proc/PID/status, or
 * from a live thread's when the leader has exited; 0 when gone. */
static void vm_of(pid_t pid, long long *peak, long long *size, long long *rss) {
    char path[96];
    long long ignored;
    if (!rss) rss = &ignored;
    *peak = *size = *rss = 0;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if (vm_of_file(path, peak, size, rss)) return;
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%.16s/status", (int)pid, e->d_name);
        if (vm_of_file(path, peak, size, rss)) break;
    }
    closedir(d);
}

static long long vm_peak_kib; /* the largest address-space peak of one process, or of their sum */
static long long rss_kib;     /* resident memory of the program's processes at the last scan */

/* Without a cgroup, the CPU of processes that ended is remembered from the
 * last scan that saw them alive (the kernel reaps some by itself, and those
 * a process waits for reach its rusage only when it is waited for). */
#define MAX_TRACKED 4096
struct tracked { pid_t pid; unsigned long long start; long long cpu_us; };
static struct tracked seen[2][MAX_TRACKED];
static int n_seen[2], cur;
static long long ended_cpu_us; /* CPU of the processes no longer alive */

/* Walk the processes of the program: everything but us in a box, else the
 * program's process group and our (reparented) children.  With kill set,
 * SIGKILL them; with vm set, update vm_peak_kib; return their CPU time so
 * far (us). */
static long long scan(int kill_them, int vm) {
    static long ticks = 0;
    if (!ticks) ticks = sysconf(_SC_CLK_TCK);
    long long total = 0, vm_sum = 0, rss_sum = 0;
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
        unsigned long long ut = 0, st = 0, started = 0;
        /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
         * utime stime cutime cstime priority nice num_threads itrealvalue starttime */
        if (sscanf(p + 2, "%*c %d %d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu"
                   " %*d %*d %*d %*d %*d %*d %llu", &ppid, &pgrp, &ut, &st, &started) != 5)
            continue;
        if (!in_box && pgrp != program && ppid != self) continue;
        if (kill_them) kill(pid, SIGKILL);
        long long cpu = (long long)(ut + st) * 1000000 / ticks;
        total += cpu;
        if (!kill_them && n_seen[!cur] < MAX_TRACKED)
            seen[!cur][n_seen[!cur]++] = (struct tracked){pid, started, cpu};
        if (vm) {
            long long peak, size, rss;
            vm_of(pid, &peak, &size, &rss);
            if (peak > vm_peak_kib) vm_peak_kib = peak;
            vm_sum += size;
            rss_sum += rss;
        }
    }
    closedir(d);
    if (vm_sum > vm_peak_kib) vm_peak_kib = vm_sum;
    if (vm) rss_kib = rss_sum;
    if (!kill_them) { /* what the previous scan saw and this one did not has ended */
        for (int i = 0; i < n_seen[cur]; i++) {
            int alive = 0;
            for (int j = 0; j < n_seen[!cur] && !alive; j++)
                alive = seen[!cur][j].pid == seen[cur][i].pid &&
                        seen[!cur][j].start == seen[cur][i].start;
            if (!alive) ended_cpu_us += seen[cur][i].cpu_us;
        }
        n_seen[cur] = 0;
        cur = !cur;
    }
    return total + ended_cpu_us;
}

/* CPU time of the run (us) from its cgroup's accounting file. */
static long long cgroup_cpu_us(const struct options *o) {
    char buf[512];
    ssize_t len = pread(o->cpu_fd, buf, sizeof(buf) - 1, 0);
    if (len <= 0) return -1;
    buf[len] = 0;
    if (!o->cpu_stat) return strtoll(buf, NULL, 10) / 1000;
    char *p = strstr(buf, "usage_usec ");
    return p ? strtoll(p + 11, NULL, 10) : -1;
}

static void kill_all(void) {
    if (in_box) {
        kill(-1, SIGKILL);
        return;
    }
    kill(-program, SIGKILL);
    scan(1, 0);
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
    /* First of all: out of the program's reach (no /proc/PID/mem, no pidfd_getfd, no ptrace). */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct options o;
    parse(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    in_box = getpid() == 1;
    if (!in_box) { /* unprotected: die with the worker (bwrap does that for a box) */
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    }
    fcntl(o.status_fd, F_SETFD, FD_CLOEXEC);
    if (o.cpu_fd >= 0) fcntl(o.cpu_fd, F_SETFD, FD_CLOEXEC);
    int watch_vm = 1; /* address-space peaks of the program's processes */

    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);

    int sv[2], ep[2], gp[2] = {-1, -1}, rp[2] = {-1, -1};
    if (o.count_instructions && (pipe2(gp, O_CLOEXEC) || pipe2(rp, O_CLOEXEC))) {
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
        if (rp[0] >= 0) close(rp[0]);
        child(&o, sv[1], ep[1], gp[0], rp[1]);
    }
    int counter = -1;
    if (o.count_instructions) {
        char byte;
        close(gp[0]);
        close(rp[1]);
        counter = read(rp[0], &byte, 1) == 1 ? open_counter(pid) : -1;
        close(rp[0]);
        if (counter < 0) {
            int e = errno;
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            dprintf(o.status_fd, "status=failed error=instruction-counting-unavailable errno=%d\n", e);
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
    if (listener >= 0) fcntl(listener, F_SETFD, FD_CLOEXEC);

    int main_status = 0, main_done = 0, tle = 0, wall_killed = 0, killed_all = 0, execs = 0;
    int map_exceeded = 0;
    long rv_nr = -1;
    long long cpu_us = 0, last_scan = 0;
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
        if (killed_all && !in_box) scan(1, 0); /* orphans keep arriving */
        long long t = now_us();
        if (!killed_all && t - last_scan >= 10000) { /* at most every 10 ms, however often woken */
            last_scan = t;
            long long tree = (deadline_cpu && o.cpu_fd < 0) || watch_vm ? scan(0, watch_vm) : 0;
            if (o.cpu_fd >= 0) {
                long long c = cgroup_cpu_us(&o);
                if (c > cpu_us) cpu_us = c;
            } else { /* the larger of what was reaped (+ the living) and what was seen */
                struct rusage ru;
                getrusage(RUSAGE_CHILDREN, &ru);
                long long c = tv_us(ru.ru_utime) + tv_us(ru.ru_stime) + tree - ended_cpu_us;
                if (tree > c) c = tree;
                if (c > cpu_us) cpu_us = c;
            }
            if (deadline_wall && t >= deadline_wall) { wall_killed = 1; }
            else if (o.instruction_limit > 0 && read_counter(counter) > o.instruction_limit) {
                tle = 1;
            }
            else if (deadline_cpu && cpu_us > deadline_cpu) tle = 1;
            if (o.rss_limit_kib > 0 && rss_kib > o.rss_limit_kib) map_exceeded = 1;
            if (wall_killed || tle || map_exceeded) { kill_all(); killed_all = 1; }
        }
        struct pollfd fds[2] = {{sfd, POLLIN, 0}, {listener, POLLIN, 0}};
        int timeout = killed_all ? 50 : (int)((last_scan + 10000 - now_us()) / 1000) + 1;
        if (timeout < 0) timeout = 0;
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
            /* Answer the pending notifications (a bounded batch) before the clock again. */
            for (int more = fds[1].revents & POLLIN, batch = 0; more && batch < 256; batch++) {
                struct seccomp_notif req;
                struct seccomp_notif_resp resp;
                memset(&req, 0, sizeof(req));
                struct pollfd again = {listener, POLLIN, 0};
                more = 0;
                if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) == 0) {
                    more = poll(&again, 1, 0) == 1 && (again.revents & POLLIN);
                    memset(&resp, 0, sizeof(resp));
                    resp.id = req.id;
                    int nr = req.data.nr;
                    if (nr == SYS_exit_group || nr == SYS_exit) { /* the last address-space peak */
                        long long peak, size;
                        vm_of((pid_t)req.pid, &peak, &size, NULL);
                        if (peak > vm_peak_kib) vm_peak_kib = peak;
                        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
                    } else if (nr == SYS_mmap || nr == SYS_mremap) { /* a large mapping */
                        long long peak, size;
                        vm_of((pid_t)req.pid, &peak, &size, NULL);
                        unsigned long long grow = nr == SYS_mmap ? req.data.args[1]
                            : req.data.args[2] > req.data.args[1] ? req.data.args[2] - req.data.args[1] : 0;
                        long long would = size + (long long)(grow >> 10);
                        if (would > o.map_limit_kib && !killed_all) {
                            if (would > vm_peak_kib) vm_peak_kib = would;
                            map_exceeded = 1;
                            kill_all();
                            killed_all = 1;
                        }
                        if (killed_all) resp.error = -ENOMEM;
                        else resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
                    } else if ((nr == SYS_execve || nr == SYS_execveat) && execs == 0 && !killed_all) {
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
            }
            if (!(fds[1].revents & POLLIN)) { /* hung up: no process of the run is left with it */
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
    long long reaped = tv_us(ru.ru_utime) + tv_us(ru.ru_stime);
    if (o.cpu_fd >= 0) {
        long long c = cgroup_cpu_us(&o);
        if (c > cpu_us) cpu_us = c;
    } else {
        long long tracked = ended_cpu_us;
        for (int i = 0; i < n_seen[cur]; i++) tracked += seen[cur][i].cpu_us;
        if (reaped > cpu_us) cpu_us = reaped;
        if (tracked > cpu_us) cpu_us = tracked;
    }
    char status[1024];
    int n;
    if (exec_errno)
        n = snprintf(status, sizeof(status), "status=failed error=exec errno=%d", exec_errno);
    else if (WIFEXITED(main_status))
        n = snprintf(status, sizeof(status), "status=exited code=%d", WEXITSTATUS(main_status));
    else
        n = snprintf(status, sizeof(status), "status=signaled signal=%d", WTERMSIG(main_status));
    n += snprintf(status + n, sizeof(status) - n,
                  " cpu_us=%lld maxrss_kib=%ld vm_peak_kib=%lld wall_us=%lld tle=%d wall_killed=%d"
                  " map_exceeded=%d execve=%d",
                  cpu_us, ru.ru_maxrss, vm_peak_kib, wall, tle, wall_killed, map_exceeded, execs);
    if (rv_nr >= 0)
        n += snprintf(status + n, sizeof(status) - n, " rv_nr=%ld rv_name=%s", rv_nr,
                      syscall_name(rv_nr));
    if (counter >= 0)
        n += snprintf(status + n, sizeof(status) - n, " instructions=%lld", read_counter(counter));
    status[n++] = '\n';
    if (write(o.status_fd, status, n) < 0) return 122;
    return 0;
}
