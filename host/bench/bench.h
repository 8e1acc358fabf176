/* `dynfill bench <what>`: each benchmark in the file of its area. Each
 * takes the arguments after "bench" (argv[0] is the benchmark's name) and
 * returns the process exit code. */
#ifndef DYNFILL_HOST_BENCH_H
#define DYNFILL_HOST_BENCH_H

int dfl_bench_train(int argc, char **argv);     /* host/bench/bench_train.c */
int dfl_bench_impute(int argc, char **argv);    /* host/bench/bench_impute.c */
int dfl_bench_kernels(int argc, char **argv);   /* host/bench/bench_kernels.c */
int dfl_bench_allreduce(int argc, char **argv); /* host/bench/bench_allreduce.c */
int dfl_bench_io(int argc, char **argv);        /* host/bench/bench_io.c */

#endif
