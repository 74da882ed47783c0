/* Accepts 0 <= n <= 1000; with an argument, also requires it to be "inwer_ok". */
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    int n; if (scanf("%d", &n) != 1 || n < 0 || n > 1000) { printf("WRONG\n"); return 1; }
    if (argc > 1 && strcmp(argv[1], "inwer_ok") != 0) { printf("WRONG name\n"); return 1; }
    printf("OK n=%d\n", n); return 0;
}
