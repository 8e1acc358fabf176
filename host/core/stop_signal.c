/* A stop asked for by a signal (host/core/stop_signal.h). */
#include "stop_signal.h"

#include <signal.h>

static volatile sig_atomic_t g_stop_signal;

void dfl_stop_signal_set(int sig) { g_stop_signal = sig; }

int dfl_stop_signal(void) { return g_stop_signal; }
