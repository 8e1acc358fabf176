/* core/cpu_share: /proc/stat's busy ticks summed over the listed CPUs only,
 * the others' load from two samples (this process's own time taken off,
 * clamped, refused on too short a window), the threads that fit, two live
 * measures (a busy child process counts as another's load while the parent
 * sleeps, and the parent's own busy time does not), and the watch's one
 * warning. */
#define _GNU_SOURCE
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/cpu_share.h"
#include "dfl_test.h"
#include "dynfill/status.h"

static void test_busy_seconds(void) {
    /* user nice system idle iowait irq softirq steal guest guest_nice; the aggregate "cpu" line is skipped */
    const char *stat = "cpu  900 0 900 900 900 0 0 0 0 0\n"
                       "cpu0 100 10 20 5000 300 1 2 3 50 0\n"
                       "cpu1 200 0 40 4000 0 0 0 0 0 0\n"
                       "cpu12 7 0 0 1 0 0 0 0 0 0\n"
                       "intr 12345 1 2\n"
                       "ctxt 999\n";
    const int both[2] = {0, 1}, second[1] = {1}, twelve[1] = {12}, absent[2] = {0, 2};
    CHECK_CLOSE(dfl_cpu_share_busy_seconds(stat, both, 2, 0.01), (136 + 240) * 0.01, 1e-12);
    CHECK_CLOSE(dfl_cpu_share_busy_seconds(stat, second, 1, 0.01), 240 * 0.01, 1e-12);
    CHECK_CLOSE(dfl_cpu_share_busy_seconds(stat, twelve, 1, 1.0), 7, 1e-12); /* cpu12, not cpu1 */
    CHECK(dfl_cpu_share_busy_seconds(stat, absent, 2, 0.01) == -1);
    /* kernels before 2.6.11 print no steal column */
    CHECK_CLOSE(dfl_cpu_share_busy_seconds("cpu3 1 2 3 4 5 6 7\n", (const int[]){3}, 1, 1.0), 1 + 2 + 3 + 6 + 7, 1e-12);
}

static dfl_cpu_share_sample sample(double wall, double busy, double own) {
    return (dfl_cpu_share_sample){.ok = 1, .cpus = 2, .wall_s = wall, .cpu_busy_s = busy, .own_s = own};
}

static void test_others(void) {
    dfl_cpu_share_sample a = sample(10, 100, 5);
    dfl_cpu_share_sample b = sample(14, 106, 7); /* 6 busy seconds in 4, 2 of them ours */
    CHECK_CLOSE(dfl_cpu_share_others(&a, &b, 2.0), 1.0, 1e-12);
    CHECK(dfl_cpu_share_others(&a, &b, 5.0) == -1); /* a window shorter than asked */
    dfl_cpu_share_sample c = sample(14, 101, 9);    /* ours counted more than the ticks: 0 */
    CHECK(dfl_cpu_share_others(&a, &c, 1.0) == 0);
    dfl_cpu_share_sample d = sample(14, 120, 5); /* 5 CPUs' worth on 2 CPUs: the ticks' noise, clamped */
    CHECK(dfl_cpu_share_others(&a, &d, 1.0) == 2);
    b.ok = 0;
    CHECK(dfl_cpu_share_others(&a, &b, 1.0) == -1);
    CHECK(dfl_cpu_share_fitting_threads(2, 1.02) == 1);
    CHECK(dfl_cpu_share_fitting_threads(2, 0.3) == 2);
    CHECK(dfl_cpu_share_fitting_threads(2, 2.0) == 1);
    CHECK(dfl_cpu_share_fitting_threads(16, 3.4) == 13);
}

static void spin_for(double seconds) {
    volatile double x = 0;
    const double t0 = dfl_clock_seconds();
    while (dfl_clock_seconds() - t0 < seconds) x += 1;
}

/* A child that spins until killed, on this process's CPUs. */
static pid_t busy_child(void) {
    pid_t pid = fork();
    DFL_ASSERT(pid >= 0);
    if (pid == 0)
        for (;;) spin_for(1);
    return pid;
}

static void stop(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void test_live(void) {
    dfl_cpu_share_sample a, b;
    dfl_cpu_share_sample_now(&a);
    CHECK_MSG(a.ok && a.cpus >= 1 && a.cpus <= sysconf(_SC_NPROCESSORS_ONLN), "sample ok %d, cpus %d", a.ok, a.cpus);
    if (!a.ok) return;
    /* the machine's own load, if any, while the parent sleeps alone: the figures below are above it */
    nanosleep(&(struct timespec){0, 500000000}, NULL);
    dfl_cpu_share_sample_now(&b);
    const double base = dfl_cpu_share_others(&a, &b, 0.25);
    /* the parent sleeps while a child spins: about one CPU of others' load */
    pid_t child = busy_child();
    dfl_cpu_share_sample_now(&a);
    nanosleep(&(struct timespec){1, 0}, NULL);
    dfl_cpu_share_sample_now(&b);
    stop(child);
    const double sleeping = dfl_cpu_share_others(&a, &b, 0.5);
    CHECK_MSG(sleeping - base >= 0.5, "a busy child while the parent sleeps: others' load %.2f CPUs (%.2f before)",
              sleeping, base);
    if (a.cpus < 2) return;
    /* the parent spins too: its own second is not the others' */
    child = busy_child();
    dfl_cpu_share_sample_now(&a);
    spin_for(1);
    dfl_cpu_share_sample_now(&b);
    stop(child);
    const double spinning = dfl_cpu_share_others(&a, &b, 0.5);
    CHECK_MSG(spinning - base >= 0.5 && spinning - base <= 1.5,
              "a busy child and a busy parent: others' load %.2f CPUs (%.2f before)", spinning, base);
    printf("others' load: %.2f CPUs before, %.2f (child busy, parent asleep), %.2f (both busy), of %d\n", base,
           sleeping, spinning, b.cpus);
}

/* The watch: nothing before its window, then the load, and one warning for
 * a thread per CPU next to a busy child per CPU (none for one thread). */
static void test_watch(void) {
    dfl_cpu_share_watch w, single;
    dfl_cpu_share_watch_start(&w);
    dfl_cpu_share_watch_start(&single);
    if (!w.mark.ok || w.mark.cpus < 2) return;
    const int cpus = w.mark.cpus;
    CHECK(dfl_cpu_share_watch_check(&w, 60.0, cpus, "test", "threads") == -1 && !w.warned);
    pid_t children[CPU_SETSIZE];
    for (int i = 0; i < cpus; ++i) children[i] = busy_child();
    nanosleep(&(struct timespec){1, 0}, NULL);
    const double others = dfl_cpu_share_watch_check(&w, 0.5, cpus, "test", "threads");
    const double others1 = dfl_cpu_share_watch_check(&single, 0.5, 1, "test", "threads");
    for (int i = 0; i < cpus; ++i) stop(children[i]);
    CHECK_MSG(others >= 0.5 * cpus && w.warned, "%d busy children: others' load %.2f, warned %d", cpus, others,
              w.warned);
    CHECK_MSG(others1 >= 0.5 * cpus && !single.warned, "one thread: others' load %.2f, warned %d", others1,
              single.warned);
}

int main(void) {
    test_busy_seconds();
    test_others();
    test_live();
    test_watch();
    return dfl_test_finish("core_cpu_share");
}
