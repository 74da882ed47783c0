#include <string.h>
static char big[512 << 20];
int main(void) { memset(big, 1, sizeof big); return big[12345] == 1 ? 0 : 1; }
