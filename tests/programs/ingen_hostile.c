/* A generator that writes t1.in and then what the file "mode" (an extra execution file) says:
 *   at : t5.in@123 (a name filetracker would read as a version)   ctrl : "t6\001.in"
 *   link TARGET : t2.in, a symbolic link    fifo : t3.in, a FIFO    dir : t4.in, a directory
 *   junk TARGET : a link and a FIFO whose names are not collected     ok : t2.in too */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static void put(const char *name, const char *text) { FILE *f = fopen(name, "w"); if (f) { fputs(text, f); fclose(f); } }
int main(void) {
    char cmd[64] = {0}, target[4096] = {0};
    FILE *m = fopen("mode", "r");
    if (!m || fscanf(m, "%63s %4095s", cmd, target) < 1) return 1;
    put("t1.in", "1\n");
    if (!strcmp(cmd, "at")) put("t5.in@123", "5\n");
    else if (!strcmp(cmd, "ctrl")) put("t6\001.in", "6\n");
    else if (!strcmp(cmd, "link")) symlink(target, "t2.in");
    else if (!strcmp(cmd, "fifo")) mkfifo("t3.in", 0666);
    else if (!strcmp(cmd, "dir")) mkdir("t4.in", 0755);
    else if (!strcmp(cmd, "junk")) { symlink(target, "junk"); mkfifo("fifo", 0666); }
    else if (!strcmp(cmd, "ok")) put("t2.in", "2\n");
    printf("generated %s\n", cmd);
    return 0;
}
