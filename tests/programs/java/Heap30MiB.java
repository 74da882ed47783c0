public class Heap30MiB {
    public static void main(String[] args) {
        byte[] block = new byte[30 << 20];
        for (int i = 0; i < block.length; i += 4096) block[i] = 1;
        System.out.println(block[4096]);
    }
}
