#include "library.h"
const char *greeting(void) { return "Hello World"; }
