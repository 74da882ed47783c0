public class DeepRecursion {
    static long depth(long n) { return n == 0 ? 0 : 1 + depth(n - 1); }
    public static void main(String[] args) { System.out.println(depth(Long.parseLong(args[0]))); }
}
