/* Progress reporter (host/core/progress.h): plain periodic lines when stderr is
 * not a terminal, with label, counts, rate, ETA and a final line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/progress.h"
#include "dfl_test.h"
#include "dynfill/status.h"

int main(void) {
    char path[200];
    snprintf(path, sizeof path, "/tmp/dfl_data_progress_%d.txt", (int)getpid());
    setenv("DFL_PROGRESS", "lines", 1);
    setenv("DFL_PROGRESS_INTERVAL", "0.02", 1);
    fflush(stderr);
    int saved = dup(fileno(stderr));
    if (!freopen(path, "w", stderr)) return 1;
    dfl_progress *p = dfl_progress_begin("gen ns", 10, "samples");
    for (int i = 1; i <= 10; ++i) {
        struct timespec ts = {0, 30 * 1000 * 1000};
        nanosleep(&ts, NULL);
        dfl_progress_note(p, "loss %.2f", 1.0 / i);
        dfl_progress_update(p, i);
    }
    dfl_progress_end(p);
    dfl_progress *q = dfl_progress_begin("scan", 0, "steps"); /* unknown total */
    dfl_progress_add(q, 5);
    dfl_progress_end(q);
    /* a resumed run: the work done before is counted, not in the rate (which
     * was 1e9 units over milliseconds) */
    dfl_progress *r = dfl_progress_begin("resumed", 2000000000LL, "s");
    dfl_progress_start_at(r, 1000000000LL);
    struct timespec pause = {0, 30 * 1000 * 1000};
    nanosleep(&pause, NULL);
    dfl_progress_update(r, 1000000001LL);
    dfl_progress_end(r);
    /* a total known later (the calibration's rounds) */
    dfl_progress *t = dfl_progress_begin("rounds", 4, "samples");
    dfl_progress_add(t, 4);
    dfl_progress_set_total(t, 12);
    dfl_progress_add(t, 8);
    dfl_progress_end(t);
    dfl_set_quiet(1); /* --quiet: no progress either */
    dfl_progress *u = dfl_progress_begin("silenced", 3, "x");
    dfl_progress_update(u, 3);
    dfl_progress_end(u);
    dfl_set_quiet(0);
    fflush(stderr);
    dup2(saved, fileno(stderr));
    FILE *f = fopen(path, "r");
    char text[8192] = {0};
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    unlink(path);
    text[n] = 0;
    fputs(text, stdout);
    int lines = 0;
    for (char *c = text; *c; ++c) lines += *c == '\n';
    CHECK_MSG(lines >= 4, "several periodic lines (%d)", lines);
    CHECK(strstr(text, "gen ns ") != NULL);
    CHECK(strstr(text, "/10 samples") != NULL);
    CHECK(strstr(text, "samples/s") != NULL);
    CHECK(strstr(text, "ETA") != NULL);
    CHECK(strstr(text, "gen ns 10/10 samples") != NULL && strstr(text, "done in") != NULL);
    CHECK(strstr(text, "loss 0.10") != NULL);
    CHECK(strstr(text, "scan 5 steps") != NULL);
    const char *resumed = strstr(text, "resumed 1000000001/2000000000 s  ");
    CHECK_MSG(resumed != NULL, "the resumed run's final line");
    if (resumed) {
        double rate = atof(resumed + strlen("resumed 1000000001/2000000000 s  "));
        CHECK_MSG(rate < 1e3, "the resumed run's rate counts this run's work only (%g s/s)", rate);
    }
    CHECK(strstr(text, "rounds 12/12 samples") != NULL);
    CHECK(strstr(text, "silenced") == NULL);
    CHECK(strchr(text, '\r') == NULL && strstr(text, "\033[") == NULL); /* no terminal codes in logs */
    setenv("DFL_PROGRESS", "off", 1);
    p = dfl_progress_begin("quiet", 3, "x");
    dfl_progress_end(p);
    dfl_progress_end(NULL);
    return dfl_test_finish("data_progress_test");
}
