/* 30 MiB of initialised, untouched data (as 30MiB-data.c). */
char big[30 << 20] = {1};
int main(void) { return ((volatile char *)big)[12345]; }
