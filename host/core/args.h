/* Command-line argument helpers shared by the subcommands (cli/) and the
 * benchmarks (bench/): exit codes from a status, getopt_long with messages
 * of our own, and number parsing with messages that name the option.
 *
 * Each command keeps one static struct option table and its usage text
 * together at the top of its file and parses with
 *
 *     dfl_opt_begin();
 *     const char *name;
 *     int c;
 *     while ((c = dfl_opt_next(argc, argv, k_short, k_options, &name)) != -1)
 *         switch (c) { case OPT_X: ...; default: return DFL_EUSAGE; }
 *
 * after which argv[optind .. argc-1] are the positional arguments
 * (getopt_long moves them behind the options). Long-only options take vals
 * from 256 up (an enum), a long twin of a short option (--K of -K) takes
 * the short option's character: the messages rely on it. */
#ifndef DYNFILL_HOST_CORE_ARGS_H
#define DYNFILL_HOST_CORE_ARGS_H

#include <getopt.h>

/* Exit code for a status: prints "dynfill <cmd>: <message>" on failure. */
int dfl_cli_exit(const char *cmd, int status);

/* Starts a parse: getopt's state fully reset (optind = 0, so a process may
 * parse several argument vectors, as the tests do) and its own messages
 * off. */
void dfl_opt_begin(void);

/* getopt_long over argv[1..]: "--name value", "--name=value", short options
 * and their clusters ("-K 10", "-K10"). Returns the option's val, with *name
 * its spelling for messages ("--steps", "-K") and optarg its value; -1 when
 * the options end. Long names must be spelt out in full: an abbreviation is
 * an unknown option. On an unknown option, a missing value or a value given
 * to a flag it records one message "option --x: ..." (DFL_EUSAGE) and
 * returns '?'. */
int dfl_opt_next(int argc, char **argv, const char *shortopts, const struct option *longopts, const char **name);

/* DFL_OK when argv[optind..] holds at most `max` positional arguments, else
 * a usage error naming the first extra one. */
int dfl_opt_positionals(int argc, char **argv, int max);

/* Parse helpers returning DFL_EUSAGE with a message naming the option. */
int dfl_cli_parse_int(const char *opt, const char *text, long lo, long hi, long *out);
int dfl_cli_parse_float(const char *opt, const char *text, double *out);

#endif
