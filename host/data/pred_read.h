/* The files `dynfill eval` and `dynfill plot` read (layout in docs/eval.md):
 * a prediction file (/pred, /mask, optional /std and /members, attributes) and a ground
 * truth file (/truth). Opening checks every shape once, so later reads
 * cannot fail on a mismatch; every problem is DFL_EUSAGE naming the file
 * and dataset or attribute. */
#ifndef DYNFILL_HOST_DATA_PRED_READ_H
#define DYNFILL_HOST_DATA_PRED_READ_H

#include <hdf5.h>

#include "dynfill/status.h"

typedef struct {
    const char *pred_path, *truth_path; /* truth_path NULL when no truth file */
    hid_t pred, truth;                  /* truth < 0 when absent */
    int n, c, h, w;                     /* /pred [n, c, h, w] */
    int mask_channels;                  /* /mask [n, 1|c, h, w] */
    int has_std;                        /* /std present (same shape as /pred) */
    int members;                        /* K of /members [n, K, c, h, w], 0 when absent */
    double *lat;                        /* h latitudes in degrees, or NULL */
    const char *lat_from;               /* the file lat came from */
    char **names;                       /* c channel names (attribute `channels`, else "0", "1", ...) */
    char *method;                       /* attribute `method` of the prediction file, or NULL */
    int samples_per_run; /* the truth's gen_samples_per_run (consecutive samples of one trajectory), else 1 */
} dfl_pred_input;

/* Open and validate. truth_path may be NULL (plot without truth). On
 * failure everything opened so far is closed. */
dfl_status dfl_pred_input_open(const char *pred_path, const char *truth_path, dfl_pred_input *in);
void dfl_pred_input_close(dfl_pred_input *in);

/* Read samples [start, start + rows) of /pred, /truth, /std ([rows, c, h, w]
 * floats) or /mask ([rows, mask_channels, h, w] bytes). */
dfl_status dfl_pred_input_read_pred(const dfl_pred_input *in, int start, int rows, float *out);
dfl_status dfl_pred_input_read_truth(const dfl_pred_input *in, int start, int rows, float *out);
dfl_status dfl_pred_input_read_std(const dfl_pred_input *in, int start, int rows, float *out);
dfl_status dfl_pred_input_read_mask(const dfl_pred_input *in, int start, int rows, unsigned char *out);
/* Samples [start, start + rows) of /members: [rows, members, c, h, w] floats. */
dfl_status dfl_pred_input_read_members(const dfl_pred_input *in, int start, int rows, float *out);

/* Names from a string attribute that is a scalar ("u,v" or "u v" splits on
 * commas/whitespace) or a 1-D array of fixed- or variable-length strings.
 * Returns the number found (0 when absent or not strings), at most max,
 * each malloc'ed. */
int dfl_pred_read_name_list(hid_t obj, const char *attr, char **names, int max);

#endif
