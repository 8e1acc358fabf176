/* CF time units of `dynfill import` (import/import.h): "<unit> since
 * <date>[ <time>]" to seconds since 1970-01-01 UTC, proleptic Gregorian. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "import.h"

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (the era/day-of-era decomposition: 400-year eras of 146097 days). */
static long days_from_civil(long y, int m, int d) {
    y -= m <= 2;
    const long era = (y >= 0 ? y : y - 399) / 400;
    const long yoe = y - era * 400;
    const long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, long *y, int *m, int *d) {
    z += 719468;
    const long era = (z >= 0 ? z : z - 146096) / 146097;
    const long doe = z - era * 146097;
    const long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

int dfl_import_cf_time_units(const char *units, double *seconds_per_unit, double *epoch) {
    if (!units) return 0;
    char unit[32];
    int used = 0;
    if (sscanf(units, " %31s since %n", unit, &used) != 1 || used == 0) return 0;
    static const struct {
        const char *name;
        double seconds;
    } k_units[] = {{"seconds", 1}, {"second", 1}, {"secs", 1},     {"sec", 1},      {"s", 1},       {"minutes", 60},
                   {"minute", 60}, {"mins", 60},  {"min", 60},     {"hours", 3600}, {"hour", 3600}, {"hrs", 3600},
                   {"hr", 3600},   {"h", 3600},   {"days", 86400}, {"day", 86400},  {"d", 86400}};
    double per = 0;
    for (size_t i = 0; i < sizeof k_units / sizeof k_units[0]; ++i)
        if (!strcasecmp(unit, k_units[i].name)) per = k_units[i].seconds;
    if (per == 0) return 0;
    long y;
    int mo, d, hh = 0, mi = 0;
    double ss = 0;
    const char *date = units + used;
    if (sscanf(date, "%ld-%d-%d", &y, &mo, &d) != 3 || mo < 1 || mo > 12 || d < 1 || d > 31) return 0;
    const char *tpart = strpbrk(date, " T");
    if (tpart) sscanf(tpart + 1, "%d:%d:%lf", &hh, &mi, &ss);
    *seconds_per_unit = per;
    *epoch = (double)days_from_civil(y, mo, d) * 86400.0 + hh * 3600.0 + mi * 60.0 + ss;
    return 1;
}

double dfl_import_civil_seconds(long year, int month, int day, int hour, int minute, double second) {
    return (double)days_from_civil(year, month, day) * 86400.0 + hour * 3600.0 + minute * 60.0 + second;
}

void dfl_import_format_time(double seconds, char *buf, size_t size) {
    const double day = floor(seconds / 86400.0);
    long rem = lround(seconds - day * 86400.0);
    long y;
    int m, d;
    civil_from_days((long)day, &y, &m, &d);
    snprintf(buf, size, "%04ld-%02d-%02dT%02ld:%02ld:%02ld", y, m, d, rem / 3600, rem / 60 % 60, rem % 60);
}
