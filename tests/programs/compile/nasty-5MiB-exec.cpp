char big[6 << 20] = {1};
int main() { return big[12345]; }
