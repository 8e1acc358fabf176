/* Other processes' share of this process's CPUs (host/core/cpu_share.h). */
#define _GNU_SOURCE
#include "cpu_share.h"

#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"
#include "dynfill/status.h"

/* /proc/stat's text, NUL-terminated (malloc'd; NULL when unreadable). */
static char *read_proc_stat(void) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        len += fread(buf + len, 1, cap - 1 - len, f);
        if (len < cap - 1 || feof(f) || ferror(f)) break;
        char *grown = realloc(buf, cap * 2);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    fclose(f);
    if (buf) buf[len] = '\0';
    return buf;
}

double dfl_cpu_share_busy_seconds(const char *proc_stat, const int *cpu_ids, int n, double tick_s) {
    double busy_ticks = 0;
    int found = 0;
    for (const char *line = proc_stat; line && *line;) {
        int id;
        unsigned long long user, nice, system, idle, iowait, irq, softirq, steal = 0;
        /* "cpuN user nice system idle iowait irq softirq steal guest guest_nice"; guest time is
         * already counted in user and nice */
        if (!strncmp(line, "cpu", 3) && line[3] >= '0' && line[3] <= '9' &&
            sscanf(line + 3, "%d %llu %llu %llu %llu %llu %llu %llu %llu", &id, &user, &nice, &system, &idle, &iowait,
                   &irq, &softirq, &steal) >= 8) {
            for (int i = 0; i < n; ++i)
                if (cpu_ids[i] == id) {
                    busy_ticks += (double)(user + nice + system + irq + softirq + steal);
                    ++found;
                    break;
                }
        }
        line = strchr(line, '\n');
        if (line) ++line;
    }
    return found == n ? busy_ticks * tick_s : -1;
}

void dfl_cpu_share_sample_now(dfl_cpu_share_sample *s) {
    memset(s, 0, sizeof *s);
    s->wall_s = dfl_clock_seconds();
    cpu_set_t mask;
    CPU_ZERO(&mask);
    const long tick_hz = sysconf(_SC_CLK_TCK);
    if (sched_getaffinity(0, sizeof mask, &mask) != 0 || tick_hz <= 0) return;
    int ids[CPU_SETSIZE], n = 0;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &mask)) ids[n++] = c;
    char *text = read_proc_stat();
    if (!text) return;
    s->cpu_busy_s = dfl_cpu_share_busy_seconds(text, ids, n, 1.0 / (double)tick_hz);
    free(text);
    struct rusage ru;
    if (s->cpu_busy_s < 0 || n == 0 || getrusage(RUSAGE_SELF, &ru) != 0) return;
    s->own_s = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
               1e-6 * (double)ru.ru_stime.tv_usec;
    s->cpus = n;
    s->ok = 1;
}

double dfl_cpu_share_others(const dfl_cpu_share_sample *a, const dfl_cpu_share_sample *b, double min_wall_s) {
    const double wall = b->wall_s - a->wall_s;
    if (!a->ok || !b->ok || a->cpus != b->cpus || wall < min_wall_s || wall <= 0) return -1;
    const double others = ((b->cpu_busy_s - a->cpu_busy_s) - (b->own_s - a->own_s)) / wall;
    return others < 0 ? 0 : others > b->cpus ? b->cpus : others;
}

int dfl_cpu_share_fitting_threads(int cpus, double others) {
    const long fit = lround((double)cpus - others);
    return fit < 1 ? 1 : (int)fit;
}

void dfl_cpu_share_watch_start(dfl_cpu_share_watch *w) {
    dfl_cpu_share_sample_now(&w->mark);
    w->warned = 0;
}

double dfl_cpu_share_watch_check(dfl_cpu_share_watch *w, double min_wall_s, int threads, const char *who,
                                 const char *threads_key) {
    /* no /proc/stat read (13.6 us on 2 CPUs, more on large machines) at progress points inside the window */
    if (w->mark.ok && dfl_clock_seconds() - w->mark.wall_s < min_wall_s) return -1;
    dfl_cpu_share_sample now;
    dfl_cpu_share_sample_now(&now);
    const double others = dfl_cpu_share_others(&w->mark, &now, min_wall_s);
    if (others < 0) {
        if (!w->mark.ok) w->mark = now;
        return -1;
    }
    const int fit = dfl_cpu_share_fitting_threads(now.cpus, others);
    if (!w->warned && threads > 1 && threads > fit) {
        dfl_warn("%s: other processes kept %.1f of the %d CPUs this run may use busy over the last %.0f s; with %d "
                 "threads every parallel region waits for threads the system has descheduled (steps measured 1.3-30x "
                 "slower than with the threads that fit, docs/cpu-backend.md); give the run free cores or set %s = %d",
                 who, others, now.cpus, now.wall_s - w->mark.wall_s, threads, threads_key, fit);
        w->warned = 1;
    }
    w->mark = now;
    return others;
}
