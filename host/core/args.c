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

void dfl_opt_begin(void) {
    optind = 0; /* glibc: full re-initialisation on the next getopt_long call */
    opterr = 0; /* unknown options and missing values are reported by dfl_opt_next */
}

/* The long option spelt exactly name[0..len), or NULL. */
static const struct option *find_long(const struct option *longopts, const char *name, size_t len) {
    for (const struct option *o = longopts; o->name; ++o)
        if (strlen(o->name) == len && !strncmp(o->name, name, len)) return o;
    return NULL;
}

/* True when a long option of value val is spelt name[0..len) or starts so. */
static int names_val(const struct option *longopts, const char *name, size_t len, int val) {
    for (const struct option *o = longopts; o->name; ++o)
        if (o->val == val && strlen(o->name) >= len && !strncmp(o->name, name, len)) return 1;
    return 0;
}

/* "option --name: unknown option", suggesting a long option that starts with name. */
static int unknown_long(const struct option *longopts, const char *name, size_t len) {
    for (const struct option *o = longopts; o->name; ++o)
        if (len > 0 && !strncmp(o->name, name, len))
            return dfl_fail(DFL_EUSAGE, "option --%.*s: unknown option (did you mean --%s?)", (int)len, name, o->name);
    return dfl_fail(DFL_EUSAGE, "option --%.*s: unknown option (see --help)", (int)len, name);
}

/* Records the message for getopt_long's '?'. A long option's error leaves
 * it at argv[optind - 1] with optopt 0 (unknown) or its val (missing value,
 * value given to a flag); a short option's error is optopt itself. Long-only
 * options have vals above 255, so an optopt that is a character is a long
 * option's only when that option is the one at argv[optind - 1]. */
static int report(char **argv, const char *shortopts, const struct option *longopts) {
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    if (arg[0] == '-' && arg[1] == '-' && arg[2]) {
        const char *name = arg + 2;
        size_t len = strcspn(name, "=");
        const struct option *o = find_long(longopts, name, len);
        if (optopt == 0 || optopt > 255 || names_val(longopts, name, len, optopt)) {
            if (!o) return unknown_long(longopts, name, len);
            if (name[len] == '=' && o->has_arg == no_argument)
                return dfl_fail(DFL_EUSAGE, "option --%s: takes no value", o->name);
            return dfl_fail(DFL_EUSAGE, "option --%s: needs a value", o->name);
        }
    }
    const char *s = optopt > 0 && optopt != ':' ? strchr(shortopts, optopt) : NULL;
    if (s && s[1] == ':') return dfl_fail(DFL_EUSAGE, "option -%c: needs a value", optopt);
    return dfl_fail(DFL_EUSAGE, "option -%c: unknown option (see --help)", optopt > 0 ? optopt : '?');
}

int dfl_opt_next(int argc, char **argv, const char *shortopts, const struct option *longopts, const char **name) {
    static char spelling[128];
    int index = -1;
    int c = getopt_long(argc, argv, shortopts, longopts, &index);
    *name = spelling;
    spelling[0] = 0;
    if (c == -1) return -1;
    if (c == '?' || c == ':') {
        report(argv, shortopts, longopts);
        return '?';
    }
    if (index < 0) {
        snprintf(spelling, sizeof spelling, "-%c", c);
        return c;
    }
    /* a long option: its argument is the one before optind, unless its value
     * was the next argument; getopt_long accepts abbreviations, we do not */
    const struct option *o = &longopts[index];
    const char *arg = argv[optind - 1];
    if (o->has_arg != no_argument && optarg == argv[optind - 1] && optind >= 2) arg = argv[optind - 2];
    const char *given = arg + 2;
    size_t len = strcspn(given, "=");
    if (strlen(o->name) != len || strncmp(o->name, given, len)) {
        unknown_long(longopts, given, len);
        return '?';
    }
    snprintf(spelling, sizeof spelling, "--%s", o->name);
    return c;
}

int dfl_opt_positionals(int argc, char **argv, int max) {
    if (argc - optind > max) return dfl_fail(DFL_EUSAGE, "unexpected argument '%s' (see --help)", argv[optind + max]);
    return DFL_OK;
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
    if (errno || !end || *end || end == text) return dfl_fail(DFL_EUSAGE, "option %s: '%s' is not a number", opt, text);
    *out = v;
    return DFL_OK;
}
