// Saved by the compile job as <problem_short_name>.java: its public class
// must be called after the problem, whatever the submitted file's name.
public class abc {
    public static void main(String[] args) { System.out.println("Hello World from abc"); }
}
