public class simple {
    public static void main(String[] args) { System.out.println("Hello World from java"); }
}
