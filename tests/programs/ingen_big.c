#include <stdio.h>
static void put(const char *name, const char *text) { FILE *f = fopen(name, "w"); fputs(text, f); fclose(f); }
int main(void) {
    put("one.txt", "1\n"); put("two.upload", "2\n"); put("three_upload", "3\n");
    for (int i = 0; i < 100; i++) putchar('A');
    return 0;
}
