/* Shared argument parsing and exit handling for subcommands (core/args.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "dynfill/status.h"

int dfl_cli_exit(const char *cmd, int status) {
    if (status == DFL_OK) return 0;
    fprintf(stderr, "dynfill %s: %s\n", cmd, dfl_last_error());
    return status == DFL_EUSAGE ? 2 : (status == DFL_EINTERRUPTED ? 0 : 1);
}

int dfl_cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; ++i)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    return 0;
}

int dfl_cli_parse_int(const char *opt, const char *text, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || !end || *end || end == text)
        return dfl_fail(DFL_EUSAGE, "option %s: '%s' is not an integer", opt, text);
    if (v < lo || v > hi) return dfl_fail(DFL_EUSAGE, "option %s: %ld is outside [%ld, %ld]", opt, v, lo, hi);
    *out = v;
    return DFL_OK;
}

int dfl_cli_parse_float(const char *opt, const char *text, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || !end || *end || end == text)
        return dfl_fail(DFL_EUSAGE, "option %s: '%s' is not a number", opt, text);
    *out = v;
    return DFL_OK;
}

int dfl_cli_take(int argc, char **argv, int *i, const char *name, const char **value) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    *value = NULL;
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != 0) return 0;
    if (*i + 1 >= argc) {
        dfl_fail(DFL_EUSAGE, "option %s needs a value", name);
        return 1;
    }
    *i += 1;
    *value = argv[*i];
    return 1;
}
