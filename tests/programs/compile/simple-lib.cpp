#include <iostream>
extern "C" const char *greeting(void);
int main() { std::cout << greeting() << " from cpp-lib" << std::endl; }
