/* A stop asked for by a signal (SIGTERM, SIGINT, SIGUSR1 in `dynfill train`),
 * readable by long work below the layer that installed the handler (the
 * spread calibration after training), which then stops at its next pass.
 * dfl_stop_signal_set is async-signal-safe: call it from the handler. */
#ifndef DYNFILL_HOST_STOP_SIGNAL_H
#define DYNFILL_HOST_STOP_SIGNAL_H

void dfl_stop_signal_set(int sig);
/* The signal that asked for the stop, or 0. */
int dfl_stop_signal(void);

#endif
