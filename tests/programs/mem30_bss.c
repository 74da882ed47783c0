/* 30 MiB of untouched bss (the original sioworkers test 30MiB-bss.c). */
char big[30 << 20];
int main(void) { return ((volatile char *)big)[12345]; }
