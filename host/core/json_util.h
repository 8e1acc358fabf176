/* JSON records built with cJSON: the one place where numbers become JSON
 * text, so every writer (eval --json, metrics.jsonl, bench --json) treats
 * non-finite values alike. JSON has no NaN or Infinity: they are written as
 * null. Allocation failures panic (out of memory is not bad input). */
#ifndef DYNFILL_HOST_JSON_UTIL_H
#define DYNFILL_HOST_JSON_UTIL_H

#include <cJSON.h>
#include <stdio.h>

/* A new empty object (free the root with cJSON_Delete). */
cJSON *dfl_json_object(void);
/* A new empty array added under `key` of `obj`. */
cJSON *dfl_json_add_array(cJSON *obj, const char *key);
/* A new empty object appended to `array`. */
cJSON *dfl_json_append_object(cJSON *array);

/* key: v rounded to `digits` significant digits (0 keeps every digit), or
 * null when v is NaN or infinite. */
void dfl_json_add_number(cJSON *obj, const char *key, double v, int digits);
/* key: v as an exact integer literal (no exponent, no rounding). */
void dfl_json_add_int(cJSON *obj, const char *key, long long v);
/* key: s as a string (escaped by cJSON), or null when s is NULL. */
void dfl_json_add_string(cJSON *obj, const char *key, const char *s);
void dfl_json_add_bool(cJSON *obj, const char *key, int b);

/* Prints `record` unformatted on one line, then a newline, and flushes.
 * Returns 0, or -1 when writing failed (errno says why). */
int dfl_json_write_line(FILE *f, const cJSON *record);

#endif
