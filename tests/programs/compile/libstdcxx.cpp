#include <algorithm>
#include <iostream>
#include <vector>
int main() { std::vector<int> v{10, 3, 7, 5, 9, 5}; std::sort(v.begin(), v.end());
    for (int x : v) std::cout << x << "\n"; }
