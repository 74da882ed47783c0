#warning flood of warnings
#include __FILE__
int main() {}
