public class simple_lib {
    public static void main(String[] args) { System.out.println(library.greeting() + " from java-lib"); }
}
