public class compile_error {
    public static void main(String[] args) { undefined_name = 1; }
}
