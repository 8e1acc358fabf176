/* How much of this process's CPUs other processes take, so that a long CPU
 * run can say when it has more threads than the cores left to it
 * (docs/cpu-backend.md, "Threads on a shared machine").
 *
 * A sample holds the busy time of the CPUs in the process's affinity mask
 * (/proc/stat, clock ticks) and the process's own CPU time (getrusage, all
 * threads). Between two samples, the others' load in CPUs is
 *   (busy time of those CPUs - this process's CPU time) / wall time,
 * with no idle window needed: the run keeps working while it is measured. */
#ifndef DYNFILL_HOST_CPU_SHARE_H
#define DYNFILL_HOST_CPU_SHARE_H

#include <stddef.h>

typedef struct {
    int ok;            /* 0: /proc/stat or the affinity mask could not be read */
    int cpus;          /* CPUs in the affinity mask */
    double wall_s;     /* CLOCK_MONOTONIC */
    double cpu_busy_s; /* busy (not idle, not iowait) time of those CPUs since boot */
    double own_s;      /* this process's user + system time */
} dfl_cpu_share_sample;

/* Takes a sample now; s->ok says whether it could. */
void dfl_cpu_share_sample_now(dfl_cpu_share_sample *s);

/* Busy seconds of the CPUs whose numbers are listed in cpu_ids[0..n) (of
 * /proc/stat's text, `tick_s` seconds per tick): user + nice + system + irq
 * + softirq + steal. Returns -1 when a listed CPU has no line. */
double dfl_cpu_share_busy_seconds(const char *proc_stat, const int *cpu_ids, int n, double tick_s);

/* Other processes' average load on this process's CPUs between samples a
 * and b, in CPUs (clamped to [0, cpus]); -1 when either sample is not ok
 * or less than min_wall_s passed. */
double dfl_cpu_share_others(const dfl_cpu_share_sample *a, const dfl_cpu_share_sample *b, double min_wall_s);

/* The threads that fit the cores the others leave: cpus - others, rounded,
 * at least 1. */
int dfl_cpu_share_fitting_threads(int cpus, double others);

/* A long CPU run's watch: check() at its progress points measures the
 * others' load since the last measure (once at least min_wall_s passed;
 * -1 before) and warns once, naming `who` and the setting (`threads_key`)
 * that fits, when `threads` exceed the cores that load leaves. Every
 * parallel region then waits for threads the system has descheduled
 * (docs/cpu-backend.md, "Threads on a shared machine"). */
typedef struct {
    dfl_cpu_share_sample mark;
    int warned;
} dfl_cpu_share_watch;

void dfl_cpu_share_watch_start(dfl_cpu_share_watch *w);
double dfl_cpu_share_watch_check(dfl_cpu_share_watch *w, double min_wall_s, int threads, const char *who,
                                 const char *threads_key);

#endif
