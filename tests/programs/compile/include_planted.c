#include PLANTED
int main(void) { return 0; }
