/* Command-line argument helpers shared by the subcommands (cli/) and the
 * benchmarks (bench/): exit codes from a status, option matching and
 * number parsing with messages that name the option. */
#ifndef DYNFILL_HOST_CORE_ARGS_H
#define DYNFILL_HOST_CORE_ARGS_H

/* Exit code for a status: prints "dynfill <cmd>: <message>" on failure. */
int dfl_cli_exit(const char *cmd, int status);
/* True when argv[i] is -h or --help anywhere in argv. */
int dfl_cli_wants_help(int argc, char **argv);
/* Parse helpers returning DFL_EUSAGE with a message naming the option. */
int dfl_cli_parse_int(const char *opt, const char *text, long lo, long hi, long *out);
int dfl_cli_parse_float(const char *opt, const char *text, double *out);
/* Option matching: returns 1 when argv[*i] is option `name` (either
 * "--name value" or "--name=value"), storing the value in *value and
 * advancing *i past it; *value is NULL (and an error recorded) when the
 * value is missing. Returns 0 when argv[*i] is another argument. */
int dfl_cli_take(int argc, char **argv, int *i, const char *name, const char **value);

#endif
