/* INI config: defaults, file parsing, --set overrides, errors naming the
 * line, and the text round trip stored in checkpoints. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfl_test.h"
#include "dynfill/backend.h"
#include "dynfill/config.h"
#include "dynfill/optim.h"

static dfl_status load_text(const char *text, dfl_config *cfg) {
    char path[] = "/tmp/dfl_cfg_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    dfl_clear_error();
    dfl_status s = dfl_config_load(path, 0, NULL, cfg);
    remove(path);
    return s;
}

int main(void) {
    dfl_config c;
    dfl_config_defaults(&c);
    CHECK(c.context_ratio == 0.8 && c.query_ratio == 0.7 && c.grid_h == 3 && c.grid_w == 3 && c.hide == 2);
    CHECK(c.infer_K == 10 && c.infer_t_eps == 1e-3 && !strcmp(c.infer_update, "ddim"));
    CHECK(!strcmp(c.infer_context, "auto"));
    /* train.precision: auto by default (each backend resolves it), the four names parse, others fail */
    CHECK(!strcmp(c.precision, "auto"));
    const char *prec_names[4] = {"auto", "fp32", "tf32", "bf16"};
    for (int i = 0; i < 4; ++i) {
        dfl_precision p = DFL_PRECISION_FP32;
        CHECK(dfl_precision_parse("train.precision", prec_names[i], &p) == DFL_OK);
        CHECK_MSG(!strcmp(dfl_precision_name(p), prec_names[i]), "%s parsed to %s", prec_names[i],
                  dfl_precision_name(p));
    }
    dfl_precision unused;
    CHECK(dfl_precision_parse("train.precision", "fp16", &unused) == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), "train.precision: 'fp16' is not auto, fp32, tf32 or bf16") != NULL, "%s",
              dfl_last_error());
    CHECK(load_text("[train]\nprecision = fp16\n", &c) == DFL_EUSAGE);
    dfl_config_defaults(&c);

    CHECK(load_text("[model]\nbase = 16\nmult = 1, 2, 4\n\n[method]\nstrategy = block\ngrid = 4x2\n"
                    "[train]\nsteps = 123\nlr = 2e-4\nseed = 18446744073709551615\n",
                    &c) == DFL_OK);
    CHECK(c.base == 16 && c.levels == 3 && c.mult[2] == 4 && !strcmp(c.strategy, "block"));
    CHECK(c.grid_h == 4 && c.grid_w == 2 && c.steps == 123 && c.lr == 2e-4 && c.seed == 18446744073709551615ull);

    CHECK(load_text("[model]\nbase = 16\n\n[train]\nbogus = 1\n", &c) == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), ":5: unknown key 'bogus' in section [train]") != NULL, "%s", dfl_last_error());
    CHECK(load_text("[nope]\nx = 1\n", &c) == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), ":1: unknown section [nope]") != NULL, "%s", dfl_last_error());
    CHECK(load_text("[train]\n\nbatch = zero\n", &c) == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), ":3: train.batch = 'zero' is not an integer") != NULL, "%s", dfl_last_error());
    CHECK(load_text("[method]\nstrategy = magic\n", &c) == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), ":2: method.strategy = 'magic' is not one of") != NULL, "%s", dfl_last_error());
    CHECK(load_text("[infer]\ncontext = pixels\n", &c) == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), ":2: infer.context = 'pixels' is not one of") != NULL, "%s", dfl_last_error());
    CHECK(load_text("[method]\ncontext_ratio = 1.5\n", &c) == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), "outside") != NULL, "%s", dfl_last_error());
    /* an unknown section is an error at its header line, even with no keys */
    CHECK(load_text("[model]\nbase = 16\n\n[foo]\n", &c) == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), ":4: unknown section [foo]") != NULL, "%s", dfl_last_error());
    CHECK(load_text("[modle]\nbase = 16\n", &c) == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), ":1: unknown section [modle]") != NULL, "%s", dfl_last_error());
    /* method.query accepts auto, the documented default */
    CHECK(load_text("[method]\nquery = auto\n", &c) == DFL_OK && !strcmp(c.query, "auto"));
    CHECK(load_text("[train]\nthis line has no equals sign\n", &c) == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), ":2: malformed line") != NULL, "%s", dfl_last_error());

    dfl_config_defaults(&c);
    CHECK(dfl_config_set(&c, "train.batch=4") == DFL_OK && c.batch == 4);
    /* train.micro_batch: 0 by default (no split), never negative */
    CHECK(c.micro_batch == 0);
    CHECK(dfl_config_set(&c, "train.micro_batch=2") == DFL_OK && c.micro_batch == 2);
    dfl_clear_error();
    CHECK(dfl_config_set(&c, "train.micro_batch=-2") == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), "train.micro_batch = -2 is outside") != NULL, "%s", dfl_last_error());
    CHECK(dfl_config_set(&c, "model.periodic=xy") == DFL_OK && !strcmp(c.periodic, "xy"));
    /* method.strategy: auto by default (train chooses from the masks), a named strategy, nothing else */
    CHECK(!strcmp(c.strategy, "auto"));
    CHECK(dfl_config_set(&c, "method.strategy=empirical") == DFL_OK && !strcmp(c.strategy, "empirical"));
    dfl_clear_error();
    CHECK(dfl_config_set(&c, "method.strategy=swath") == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), "method.strategy = 'swath' is not one of") != NULL, "%s", dfl_last_error());
    dfl_clear_error();
    CHECK(dfl_config_set(&c, "method.strategy=auto") == DFL_OK);
    /* model.channels: auto by default (train chooses), joint or shared; nothing else */
    CHECK(!strcmp(c.channels, "auto"));
    CHECK(dfl_config_set(&c, "model.channels=joint") == DFL_OK && !strcmp(c.channels, "joint"));
    CHECK(dfl_config_set(&c, "model.channels=shared") == DFL_OK && !strcmp(c.channels, "shared"));
    dfl_clear_error();
    CHECK(dfl_config_set(&c, "model.channels=separate") == DFL_EUSAGE);
    CHECK_MSG(strstr(dfl_last_error(), "model.channels = 'separate' is not one of") != NULL, "%s", dfl_last_error());
    dfl_clear_error();
    CHECK(dfl_config_set(&c, "train.nothing=4") == DFL_EUSAGE);
    CHECK(strstr(dfl_last_error(), "unknown key 'nothing'") != NULL);
    dfl_clear_error();
    CHECK(dfl_config_set(&c, "batch=4") == DFL_EUSAGE);

    /* round trip through text */
    CHECK(dfl_config_set(&c, "data.path=/data/x y.h5") == DFL_OK);
    CHECK(dfl_config_set(&c, "model.mult=1,3,3,5") == DFL_OK);
    CHECK(dfl_config_set(&c, "data.val_fraction=0.05") == DFL_OK);
    c.lr = 0.1 + 0.2; /* 0.30000000000000004: a value no one typed, which needs 17 digits */
    char *text = dfl_config_to_text(&c);
    CHECK_MSG(strstr(text, "val_fraction = 0.05\n") != NULL, "a typed value written as typed:\n%s", text);
    dfl_config d;
    dfl_config_defaults(&d);
    CHECK(dfl_config_parse_text(text, "roundtrip", &d) == DFL_OK);
    char *text2 = dfl_config_to_text(&d);
    CHECK(strcmp(text, text2) == 0);
    CHECK(d.lr == c.lr && d.val_fraction == c.val_fraction); /* exact round trip */
    CHECK(d.levels == 4 && d.mult[3] == 5 && !strcmp(d.data_path, "/data/x y.h5") && d.batch == 4 &&
          d.micro_batch == 2 && !strcmp(d.channels, "shared"));
    free(text);
    free(text2);

    /* learning-rate schedule: linear warm-up then cosine to zero */
    dfl_optim_config oc;
    dfl_optim_config_defaults(&oc);
    oc.lr = 1.0;
    oc.warmup = 4;
    oc.total_steps = 104;
    oc.cosine = 1;
    CHECK_CLOSE(dfl_optim_lr_at(&oc, 0), 0.25, 1e-12);
    CHECK_CLOSE(dfl_optim_lr_at(&oc, 3), 1.0, 1e-12);
    CHECK_CLOSE(dfl_optim_lr_at(&oc, 54), 0.5, 1e-12);
    CHECK_CLOSE(dfl_optim_lr_at(&oc, 104), 0.0, 1e-12);
    oc.cosine = 0;
    CHECK_CLOSE(dfl_optim_lr_at(&oc, 90), 1.0, 1e-12);
    /* over a time budget: warm-up in steps times the cosine of the time share */
    oc.cosine = 1;
    CHECK_CLOSE(dfl_optim_lr_at_progress(&oc, 1, 0.0), 0.5, 1e-12);
    CHECK_CLOSE(dfl_optim_lr_at_progress(&oc, 1, 0.5), 0.25, 1e-12);
    CHECK_CLOSE(dfl_optim_lr_at_progress(&oc, 500, 0.5), 0.5, 1e-12);
    CHECK_CLOSE(dfl_optim_lr_at_progress(&oc, 500, 0.25), 0.5 * (1 + cos(M_PI / 4)), 1e-12);
    CHECK_CLOSE(dfl_optim_lr_at_progress(&oc, 500, 1.5), 0.0, 1e-12);
    oc.cosine = 0;
    CHECK_CLOSE(dfl_optim_lr_at_progress(&oc, 500, 0.7), 1.0, 1e-12);

    /* train.time_budget: a duration with a unit (bare: seconds), 0 = off, written back in seconds */
    const char *durations[][2] = {{"20m", "1200"}, {"6h", "21600"},  {"90s", "90"}, {"45", "45"},
                                  {"1.5m", "90"},  {"2d", "172800"}, {"0", "0"}};
    for (size_t k = 0; k < sizeof durations / sizeof durations[0]; ++k) {
        char set[64];
        snprintf(set, sizeof set, "train.time_budget=%s", durations[k][0]);
        dfl_config_defaults(&c);
        CHECK_MSG(dfl_config_set(&c, set) == DFL_OK, "%s", set);
        CHECK_MSG(c.time_budget == atof(durations[k][1]), "%s -> %g", set, c.time_budget);
    }
    dfl_config_defaults(&c);
    CHECK(c.time_budget == 0);
    CHECK(dfl_config_set(&c, "train.time_budget=20m") == DFL_OK);
    char *tb = dfl_config_to_text(&c);
    CHECK_MSG(strstr(tb, "time_budget = 1200s\n") != NULL, "%s", tb);
    dfl_config tc;
    dfl_config_defaults(&tc);
    CHECK(dfl_config_parse_text(tb, "text", &tc) == DFL_OK && tc.time_budget == 1200);
    free(tb);
    const char *bad[] = {"20x", "m", "-5m", "abc", "5 m", "nan"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; ++k) {
        char set[64];
        snprintf(set, sizeof set, "train.time_budget=%s", bad[k]);
        dfl_clear_error();
        CHECK_MSG(dfl_config_set(&c, set) == DFL_EUSAGE, "%s", set);
        CHECK_MSG(strstr(dfl_last_error(), "train.time_budget") != NULL, "%s", dfl_last_error());
    }
    /* every experiment file shipped in configs/ parses */
    const char *src = getenv("DFL_SOURCE_DIR");
    if (src) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/configs", src);
        DIR *d = opendir(dir);
        CHECK(d != NULL);
        int files = 0;
        struct dirent *e;
        while (d && (e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 4, ".ini")) continue;
            char path[1400];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            dfl_clear_error();
            CHECK_MSG(dfl_config_load(path, 0, NULL, &c) == DFL_OK, "%s: %s", path, dfl_last_error());
            files++;
        }
        if (d) closedir(d);
        CHECK(files >= 4);
    }
    return dfl_test_finish("model_config");
}
