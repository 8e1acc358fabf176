/* Subcommands of the dynfill command line (DESIGN.md §5). Each takes the
 * arguments after its name (argv[0] is the subcommand) and returns the
 * process exit code: 0 success, 2 bad usage or bad input, 1 internal. */
#ifndef DYNFILL_HOST_CLI_H
#define DYNFILL_HOST_CLI_H

int dfl_cmd_gen(int argc, char **argv);
int dfl_cmd_mask(int argc, char **argv);
int dfl_cmd_import(int argc, char **argv);
int dfl_cmd_info(int argc, char **argv);
int dfl_cmd_coverage(int argc, char **argv);
int dfl_cmd_train(int argc, char **argv);
int dfl_cmd_impute(int argc, char **argv);
int dfl_cmd_eval(int argc, char **argv);
int dfl_cmd_plot(int argc, char **argv);
int dfl_cmd_bench(int argc, char **argv);
int dfl_cmd_forward(int argc, char **argv);

/* `dynfill bench <what>` parts, each in the file of its area. */
int dfl_bench_train(int argc, char **argv);     /* host/bench_train.c */
int dfl_bench_impute(int argc, char **argv);    /* host/bench_impute.c */
int dfl_bench_kernels(int argc, char **argv);   /* host/bench_kernels.c */
int dfl_bench_allreduce(int argc, char **argv); /* host/bench_allreduce.c */
int dfl_bench_io(int argc, char **argv);        /* host/bench_io.c */

/* Helpers for subcommands. */
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
