template <typename T> struct L { typedef typename L<L<T>>::type type; };
int main() { L<int>::type x; }
