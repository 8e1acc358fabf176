/* core/args.h: dfl_opt_begin / dfl_opt_next / dfl_opt_positionals over
 * getopt_long: both value forms, short options and clusters, repeated
 * options, positionals moved behind the options, "--" ending them, the
 * one-line messages for unknown options, missing values, values given to
 * flags and abbreviations, and a fresh state for every parse in one
 * process (the CLI tests call dfl_cmd_* several times). */
#include <stdio.h>
#include <string.h>

#include "core/args.h"
#include "dfl_test.h"
#include "dynfill/status.h"

enum { OPT_OUT = 256, OPT_SET, OPT_SEED, OPT_STEPS, OPT_JSON };
static const char k_short[] = "hK:";
static const struct option k_options[] = {
    {"out", required_argument, NULL, OPT_OUT},
    {"set", required_argument, NULL, OPT_SET},
    {"seed", required_argument, NULL, OPT_SEED},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"json", no_argument, NULL, OPT_JSON},
    {"K", required_argument, NULL, 'K'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct {
    const char *out;
    const char *sets[8];
    int nsets, json, help, positionals;
    const char *first_positional;
    long K, seed;
    char names[256]; /* the spellings dfl_opt_next reported, space-separated */
    char error[256]; /* the message of a failed parse */
} parsed;

/* Parses a NULL-terminated argument list (args[0] is the command); returns
 * the status of the parse as a command would. */
static dfl_status parse(const char *const *args, parsed *p) {
    char *argv[32];
    int argc = 0;
    while (args[argc]) {
        argv[argc] = (char *)args[argc];
        ++argc;
    }
    argv[argc] = NULL;
    memset(p, 0, sizeof *p);
    dfl_clear_error();
    dfl_status s = DFL_OK;
    const char *name;
    int c;
    dfl_opt_begin();
    while (s == DFL_OK && (c = dfl_opt_next(argc, argv, k_short, k_options, &name)) != -1) {
        strncat(p->names, name, sizeof p->names - strlen(p->names) - 2);
        strcat(p->names, " ");
        switch (c) {
        case 'h': p->help = 1; return DFL_OK; /* as the commands do: usage, nothing else */
        case OPT_OUT: p->out = optarg; break;
        case OPT_SET: p->sets[p->nsets++] = optarg; break;
        case OPT_JSON: p->json = 1; break;
        case 'K': s = dfl_cli_parse_int(name, optarg, 1, 100, &p->K); break;
        case OPT_SEED: s = dfl_cli_parse_int(name, optarg, 0, 1000, &p->seed); break;
        case OPT_STEPS: break;
        default: s = DFL_EUSAGE;
        }
    }
    p->positionals = argc - optind;
    p->first_positional = optind < argc ? argv[optind] : NULL;
    if (s == DFL_OK) s = dfl_opt_positionals(argc, argv, 1);
    if (s != DFL_OK) snprintf(p->error, sizeof p->error, "%s", dfl_last_error());
    return s;
}

#define ARGS(...) ((const char *const[]){"cmd", __VA_ARGS__, NULL})

static void check_error(const char *const *args, const char *want) {
    parsed p;
    dfl_status s = parse(args, &p);
    CHECK_MSG(s == DFL_EUSAGE && strstr(p.error, want), "wanted '%s', got status %d '%s'", want, (int)s, p.error);
}

int main(void) {
    parsed p;
    /* both value forms, short option with separate, attached and long form */
    CHECK(parse(ARGS("--out", "a.h5", "--seed=7", "-K", "3", "--json"), &p) == DFL_OK);
    CHECK(p.out && !strcmp(p.out, "a.h5") && p.seed == 7 && p.K == 3 && p.json == 1 && p.positionals == 0);
    CHECK_MSG(!strcmp(p.names, "--out --seed -K --json "), "names '%s'", p.names);
    CHECK(parse(ARGS("-K7"), &p) == DFL_OK && p.K == 7);
    CHECK(parse(ARGS("--K=9"), &p) == DFL_OK && p.K == 9 && !strcmp(p.names, "--K "));
    CHECK(parse(ARGS("--out="), &p) == DFL_OK && p.out && !strcmp(p.out, ""));
    /* a value that looks like an option is still the value */
    CHECK(parse(ARGS("--out", "--json"), &p) == DFL_OK && !strcmp(p.out, "--json") && !p.json);
    /* repeated options accumulate, in order */
    CHECK(parse(ARGS("--set", "a.b=1", "--set=c.d=2", "--set", "e.f=3"), &p) == DFL_OK);
    CHECK(p.nsets == 3 && !strcmp(p.sets[0], "a.b=1") && !strcmp(p.sets[1], "c.d=2") && !strcmp(p.sets[2], "e.f=3"));
    /* a positional anywhere is moved behind the options; "--" ends them */
    CHECK(parse(ARGS("file.h5", "--json"), &p) == DFL_OK && p.json && p.positionals == 1 &&
          !strcmp(p.first_positional, "file.h5"));
    CHECK(parse(ARGS("--json", "--", "--out"), &p) == DFL_OK && !p.out && !strcmp(p.first_positional, "--out"));
    CHECK(parse(ARGS("-h"), &p) == DFL_OK && p.help);
    CHECK(parse(ARGS("--help"), &p) == DFL_OK && p.help);

    /* errors: one message naming the option */
    check_error(ARGS("--bogus"), "option --bogus: unknown option");
    check_error(ARGS("--bogus=3"), "option --bogus: unknown option");
    check_error(ARGS("-x"), "option -x: unknown option");
    check_error(ARGS("-Jx"), "option -J: unknown option");
    check_error(ARGS("--json", "--out"), "option --out: needs a value");
    check_error(ARGS("-K"), "option -K: needs a value");
    check_error(ARGS("--K"), "option --K: needs a value");
    check_error(ARGS("--json=1"), "option --json: takes no value");
    check_error(ARGS("--help=1"), "option --help: takes no value");
    check_error(ARGS("--seed", "x"), "option --seed: 'x' is not an integer");
    check_error(ARGS("--seed=-1"), "option --seed: -1 is outside [0, 1000]");
    check_error(ARGS("-K", "0"), "option -K: 0 is outside");
    /* getopt_long would take unambiguous abbreviations; long names are spelt out */
    check_error(ARGS("--js"), "option --js: unknown option (did you mean --json?)");
    check_error(ARGS("--ou", "x"), "option --ou: unknown option (did you mean --out?)");
    check_error(ARGS("--ou=x"), "option --ou: unknown option");
    check_error(ARGS("--hel"), "option --hel: unknown option");
    check_error(ARGS("--hel=1"), "option --hel: unknown option");
    check_error(ARGS("--se", "1"), "option --se: unknown option"); /* ambiguous: --set, --seed */
    check_error(ARGS("--o"), "option --o: unknown option");        /* abbreviation without its value */
    check_error(ARGS("a", "b"), "unexpected argument 'b'");

    /* every parse starts afresh, also after one that stopped in the middle
     * of a short-option cluster or before the end of argv */
    CHECK(parse(ARGS("-hK"), &p) == DFL_OK && p.help);
    CHECK(parse(ARGS("--json"), &p) == DFL_OK && p.json && p.K == 0);
    CHECK(parse(ARGS("-xK"), &p) == DFL_EUSAGE);
    CHECK(parse(ARGS("--bogus", "--json"), &p) == DFL_EUSAGE && !p.json);
    CHECK(parse(ARGS("--json"), &p) == DFL_OK && p.json && p.positionals == 0);
    CHECK(parse(ARGS("-K", "5", "x"), &p) == DFL_OK && p.K == 5 && !strcmp(p.first_positional, "x"));
    CHECK(parse(ARGS("-K", "6"), &p) == DFL_OK && p.K == 6 && p.positionals == 0);
    return dfl_test_finish("core_args_test");
}
