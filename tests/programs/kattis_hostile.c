/* A Kattis-protocol checker (chk in hint feedback/ < out) that plants what the hint's
 * first line says where the supervisor reads its feedback, then exits 42 (43 with "wa"):
 *   message-link TARGET | score-link TARGET | feedback-link TARGET : a symbolic link
 *   message-fifo | score-fifo : a FIFO          big-message : 10 MiB of message
 *   sparse-score : a 40 MiB score.txt of nothing  | ok : a message and score 42 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static void put(const char *name, const char *text) { FILE *f = fopen(name, "w"); if (f) { fputs(text, f); fclose(f); } }
int main(int argc, char **argv) {
    char cmd[64] = {0}, target[4096] = {0}, path[4200];
    FILE *h = fopen(argv[2], "r");
    if (!h || fscanf(h, "%63s %4095s", cmd, target) < 1) return 1;
    const char *fb = argv[3];
    if (!strcmp(cmd, "message-link")) { snprintf(path, sizeof path, "%s/judgemessage.txt", fb); symlink(target, path); }
    else if (!strcmp(cmd, "score-link")) { snprintf(path, sizeof path, "%s/judgemessage.txt", fb); put(path, "fine\n");
        snprintf(path, sizeof path, "%s/score.txt", fb); symlink(target, path); }
    else if (!strcmp(cmd, "feedback-link")) { rmdir("feedback"); symlink(target, "feedback"); }
    else if (!strcmp(cmd, "message-fifo")) { snprintf(path, sizeof path, "%s/judgemessage.txt", fb); mkfifo(path, 0666); }
    else if (!strcmp(cmd, "score-fifo")) { snprintf(path, sizeof path, "%s/score.txt", fb); mkfifo(path, 0666); }
    else if (!strcmp(cmd, "big-message")) { snprintf(path, sizeof path, "%s/judgemessage.txt", fb);
        FILE *f = fopen(path, "w"); static char line[1024]; memset(line, 'x', sizeof line - 1);
        for (int i = 0; i < 10240; i++) fputs(line, f);
        fclose(f); }
    else if (!strcmp(cmd, "sparse-score")) { snprintf(path, sizeof path, "%s/score.txt", fb); FILE *f = fopen(path, "w");
        if (f) { ftruncate(fileno(f), 40 << 20); fclose(f); } }
    else if (!strcmp(cmd, "ok")) { snprintf(path, sizeof path, "%s/judgemessage.txt", fb); put(path, "fine\n");
        snprintf(path, sizeof path, "%s/score.txt", fb); put(path, "42\n"); }
    return strcmp(cmd, "wa") ? 42 : 43;
}
