/* Progress reporter (host/core/progress.h): plain periodic lines when stderr is
 * not a terminal, with label, counts, rate, ETA and a final line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/progress.h"
#include "dfl_test.h"

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
    CHECK(strchr(text, '\r') == NULL && strstr(text, "\033[") == NULL); /* no terminal codes in logs */
    setenv("DFL_PROGRESS", "off", 1);
    p = dfl_progress_begin("quiet", 3, "x");
    dfl_progress_end(p);
    dfl_progress_end(NULL);
    return dfl_test_finish("data_progress_test");
}
