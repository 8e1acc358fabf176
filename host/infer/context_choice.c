/* The choice between the trained context rule and pixel contexts
 * (include/dynfill/infer.h, dfl_std_choose_contexts; docs/design.md,
 * "Contexts at imputation"). */
#include <stdlib.h>

#include "dynfill/infer.h"

/* Both rules, each with its own calibration, are scored on the same third set of hidden entries
 * (dfl_std_score_imputer): hidden as pixel contexts hide (scattered entries, then squares as wide as
 * the input's gaps), which thins the input least. The rule with the lower CRPS there (its
 * spline-corrected prediction and calibrated spread as a Gaussian: the error and how well the spread
 * says it) is kept, pixel contexts only where their CRPS is DFL_CONTEXT_PIXEL_MARGIN lower. On MSE alone the rules tied where the spline correction carries the prediction
 * (advection 3-wide swaths, seed 1: equal to four digits), and the choice fell on trained contexts
 * whose spread was 4.9 times too wide on the test. Scored instead on entries the trained (empirical)
 * rule hides, another sample's missing region, the input is thinned to the intersection of two masks
 * and the ranking came out wrong on real swaths (ERA5 t2m: pixel +17 % and +33 % on the score, -36 %
 * and -35 % on the test; benchmarks/study/RESULTS.md, "Contexts at imputation").
 * The margin: pixel calibration fits on the kind of entries the score hides, so the score leans toward
 * pixel contexts, and over seeds and sample sets the score of one model moved by 3.6 points (NS 6-wide
 * swaths: +0.7 % to -2.9 %). Where pixel contexts scored less than 3 % lower they did worse on the
 * test in four of five cases (NS 6-wide swaths, NS blocks: +2.3 % to +3.6 % MSE) and better in one
 * (NS 3-wide swaths, -1.8 %); every model that scored 5 % or more lower with them had the lower test
 * CRPS with them too (ERA5 t2m, advection, NS 3-wide swaths: -2.8 % to -50 %).
 * Only an empirical model is offered the choice. On a block model the pixel-hidden score puts holes
 * inside the blocks a context keeps, a shape a block network never trained on and the test never
 * has: on the study's advection with 5 of 9 blocks missing the score was -18.7 % for pixel contexts
 * and the test +34 % MSE (RESULTS.md, "The context choice at the end of training"). */
dfl_status dfl_std_choose_contexts(dfl_imputer *im, const dfl_dataset *ds, int64_t start, int64_t count, int64_t span,
                                   int K, uint64_t seed, double pixel_ratio, const char *who, dfl_ckpt_calib *cal) {
    const dfl_method_params *trained = dfl_imputer_trained_method(im);
    const char *name = dfl_method_strategy_name(trained->strategy);
    if (trained->strategy != DFL_STRATEGY_EMPIRICAL) {
        dfl_info("%s: context choice: the checkpoint trained on %s contexts, which stay (only empirical "
                 "contexts are scored against pixel ones)",
                 who, name);
        return DFL_OK;
    }
    dfl_info("%s: context choice: calibrating pixel contexts (%.2f of the observed entries), hiding what they query",
             who, pixel_ratio);
    const int c = dfl_dataset_get_info(ds)->c;
    dfl_ckpt_calib alt;
    dfl_ckpt_calib_alloc(&alt, c, cal->spline_weight != NULL, cal->spline3_weight != NULL);
    dfl_imputer_set_pixel_contexts(im, pixel_ratio);
    dfl_status s = dfl_std_calibrate_imputer(im, ds, start, count, span, K, seed, 0, who, &alt);
    dfl_calib_score own, pix;
    if (s == DFL_OK) {
        dfl_info("%s: context choice: scoring both rules, each with its own calibration, on other entries hidden "
                 "as pixel contexts hide",
                 who);
        s = dfl_std_score_imputer(im, ds, start, count, span, K, seed, who, &alt, &pix);
    }
    dfl_imputer_set_pixel_contexts(im, 0.0);
    if (s == DFL_OK) s = dfl_std_score_imputer(im, ds, start, count, span, K, seed, who, cal, &own);
    if (s != DFL_OK) {
        dfl_ckpt_calib_free(&alt);
        return s;
    }
    const int pixel_wins = pix.crps < (1.0 - DFL_CONTEXT_PIXEL_MARGIN) * own.crps;
    dfl_info("%s: context choice: hidden-entry CRPS %.4g (MSE %.4g, spread-skill %.3f, %.0f entries) with %s "
             "contexts (as trained), %.4g (%.4g, %.3f, %.0f entries) with pixel contexts (CRPS %+.1f %%, MSE "
             "%+.1f %%; pixel contexts need %.0f %% lower CRPS): imputing with %s contexts",
             who, own.crps, own.mse, own.spread_skill, own.entries, name, pix.crps, pix.mse, pix.spread_skill,
             pix.entries, own.crps > 0 ? 100.0 * (pix.crps / own.crps - 1.0) : 0.0,
             own.mse > 0 ? 100.0 * (pix.mse / own.mse - 1.0) : 0.0, 100.0 * DFL_CONTEXT_PIXEL_MARGIN,
             pixel_wins ? "pixel" : name);
    if (!pixel_wins) {
        dfl_ckpt_calib_free(&alt);
        return DFL_OK;
    }
    dfl_imputer_set_pixel_contexts(im, pixel_ratio);
    dfl_ckpt_calib_free(cal);
    *cal = alt;
    return DFL_OK;
}
