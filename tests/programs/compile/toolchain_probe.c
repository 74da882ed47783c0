/* Prints which toolchain compiled it: the marker header of a test toolchain
 * sandbox (if the compiler saw one), gcc's major version, and whether the
 * host-only file HOST_ONLY (a -D option) was visible to the compiler. */
#include <math.h>
#include <stdio.h>
#if __has_include(<sio_toolchain_marker.h>)
#include <sio_toolchain_marker.h>
#else
#define SIO_TOOLCHAIN "no-marker"
#endif
#if __has_include(HOST_ONLY)
#define SEEN "host-files-visible"
#else
#define SEEN "host-files-hidden"
#endif
int main(int argc, char **argv) {
    (void)argv;
    printf("%s gcc%d %s %.4f\n", SIO_TOOLCHAIN, __GNUC__, SEEN, sqrt(argc + 1.0));
    return 0;
}
