#include <math.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) { double x = atof(argv[1]);
    printf("%f, %f, %f\n", log(x), sqrt(x), atan(x)); return 0; }
