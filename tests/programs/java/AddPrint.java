import java.util.Scanner;

public class AddPrint {
    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        long a = in.nextLong(), b = in.nextLong();
        System.out.println(a + b);
        System.err.println("stderr");
    }
}
