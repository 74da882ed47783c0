// A checker that ends exactly as testlib.h's quitf/quitp do (testlib itself is in no
// package registry): testlib's TResult values, its exit codes (PC_BASE_EXIT_CODE 0, or 50
// when compiled with -DTESTSYS; ENABLE_UNEXPECTED_EOF), its "<outcome> <message>" on
// standard error.  The hint's first line says how to end: ok | wa | pe | dirt | eof | fail |
// points X | pc K, or noisy-points X | noisy-pc K (a debug line on standard error first).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#define OK_EXIT_CODE 0
#define WA_EXIT_CODE 1
#define PE_EXIT_CODE 2
#define FAIL_EXIT_CODE 3
#define DIRT_EXIT_CODE 4
#define POINTS_EXIT_CODE 7
#define UNEXPECTED_EOF_EXIT_CODE 8
#ifndef PC_BASE_EXIT_CODE
#ifdef TESTSYS
#define PC_BASE_EXIT_CODE 50
#else
#define PC_BASE_EXIT_CODE 0
#endif
#endif

enum TResult { _ok = 0, _wa = 1, _pe = 2, _fail = 3, _dirt = 4, _points = 5, _unexpected_eof = 8,
               _partially = 16 };
#define _pc(exitCode) (TResult(_partially + (exitCode)))

static int resultExitCode(TResult r) {
    if (r == _ok) return OK_EXIT_CODE;
    if (r == _wa) return WA_EXIT_CODE;
    if (r == _pe) return PE_EXIT_CODE;
    if (r == _fail) return FAIL_EXIT_CODE;
    if (r == _dirt) return DIRT_EXIT_CODE;
    if (r == _points) return POINTS_EXIT_CODE;
    if (r == _unexpected_eof)
#ifdef ENABLE_UNEXPECTED_EOF
        return UNEXPECTED_EOF_EXIT_CODE;
#else
        return PE_EXIT_CODE;
#endif
    if (r >= _partially) return PC_BASE_EXIT_CODE + (r - _partially);
    return FAIL_EXIT_CODE;
}

[[noreturn]] static void quit(TResult result, const std::string &message) {
#ifndef ENABLE_UNEXPECTED_EOF
    if (result == _unexpected_eof) result = _pe;
#endif
    std::string errorName;
    switch (result) {
        case _ok: errorName = "ok "; break;
        case _wa: errorName = "wrong answer "; break;
        case _pe: errorName = "wrong output format "; break;
        case _fail: errorName = "FAIL "; break;
        case _dirt: errorName = "wrong output format "; result = _pe; break;
        case _points: errorName = "points "; break;
        case _unexpected_eof: errorName = "unexpected eof "; break;
        default:
            if (result >= _partially) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "partially correct (%d) ", int(result - _partially));
                errorName = buf;
            } else
                quit(_fail, "What is the code ??? ");
    }
    std::fprintf(stderr, "%s%s\n", errorName.c_str(), message.c_str());
    std::exit(resultExitCode(result));
}

static std::string removeDoubleTrailingZeroes(std::string value) {
    while (!value.empty() && value[value.length() - 1] == '0' && value.find('.') != std::string::npos)
        value = value.substr(0, value.length() - 1);
    if (!value.empty() && value[value.length() - 1] == '.') return value + '0';
    return value;
}

[[noreturn]] static void quitp(double points, const std::string &message) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.10f", points);
    std::string stringPoints = removeDoubleTrailingZeroes(buf);
    quit(_points, message.empty() ? stringPoints : stringPoints + " " + message);
}

int main(int argc, char **argv) {
    if (argc < 4) quit(_fail, "usage: chk in out hint");
    char command[32] = {0};
    double value = 0;
    FILE *hint = std::fopen(argv[3], "r");
    if (!hint || std::fscanf(hint, "%31s %lf", command, &value) < 1) quit(_fail, "no hint");
    std::string c = command;
    if (c.rfind("noisy-", 0) == 0) {
        std::fprintf(stderr, "debug: read 12 numbers, 3 pairs\n");
        c = c.substr(6);
    }
    if (c == "ok") quit(_ok, "1 number");
    if (c == "wa") quit(_wa, "expected 2, found 3");
    if (c == "pe") quit(_pe, "expected a number");
    if (c == "dirt") quit(_dirt, "Extra information in the output file");
    if (c == "eof") quit(_unexpected_eof, "Unexpected end of file - int32 expected");
    if (c == "points") quitp(value, "for the first subtask");
    if (c == "pc") quit(_pc(int(value)), "some of it");
    quit(_fail, "jury answer broken");
}
