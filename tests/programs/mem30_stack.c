/* A 30 MiB stack frame, touched only at its far end (as 30MiB-stack.c). */
int use(volatile char *p) { return p[0]; }
int main(void) { volatile char frame[30 << 20]; frame[0] = 0; return use(frame); }
