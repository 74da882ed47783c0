#include <stdio.h>
#include <unistd.h>
int main(void) { char *args[] = {"/bin/sh", "-c", "echo shell", 0}; execv(args[0], args);
    perror("execv"); return 7; }
