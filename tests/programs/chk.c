/* A sio-protocol checker: "OK", a message and a percentage, chosen by argv[0]'s hint. */
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    char out[64] = {0}, hint[64] = {0};
    FILE *o = fopen(argv[2], "r"), *h = fopen(argv[3], "r");
    if (!o || !h) return 2;
    if (!fgets(out, sizeof out, o)) out[0] = 0;
    if (!fgets(hint, sizeof hint, h)) hint[0] = 0;
    if (strcmp(out, hint) == 0) printf("OK\nwell done\n42\n");
    else printf("WRONG\nexpected %s", hint);
    return 0;
}
