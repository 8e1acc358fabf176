/* Subcommands of the dynfill command line (docs/design.md, "Command line"). Each takes the
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

#endif
