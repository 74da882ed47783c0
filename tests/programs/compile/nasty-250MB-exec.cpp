char big[250 << 20] = {1};
int main() { return big[12345]; }
