#include <iostream>
int main() { std::cout << "Hello World from cpp" << std::endl; }
