extern "C" const char *greeting(void) { return "Hello World"; }
