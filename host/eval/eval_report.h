/* Printing `dynfill eval` results as a table or one JSON object
 * (docs/eval.md lists the keys). */
#ifndef DYNFILL_HOST_EVAL_REPORT_H
#define DYNFILL_HOST_EVAL_REPORT_H

#include <stdio.h>

#include "data/pred_read.h"
#include "eval_metrics.h"

typedef struct {
    const dfl_pred_input *in;
    dfl_eval_scores overall;            /* pooled over every channel */
    const dfl_eval_scores *per_channel; /* in->c entries */
    int weighted;                       /* latitude-weighted scores present */
} dfl_eval_report;

void dfl_eval_print_text(FILE *f, const dfl_eval_report *r);
/* One JSON object on one line; scores with 9 significant digits, null for a
 * non-finite score (a set with no entries). DFL_EINTERNAL if writing failed. */
dfl_status dfl_eval_print_json(FILE *f, const dfl_eval_report *r);

#endif
