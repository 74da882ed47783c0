#include "nasty-self-include.cpp"
int main() {}
