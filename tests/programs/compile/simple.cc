#include <iostream>
int main() { std::cout << "Hello World from cc" << std::endl; }
