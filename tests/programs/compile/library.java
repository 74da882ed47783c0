public class library {
    public static String greeting() { return "Hello World"; }
}
