// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* JSON output over json-c: see gem_json.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gem_json.h"

static int flags(bool pretty)
{
	return JSON_C_TO_STRING_NOSLASHESCAPE |
	       (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_SPACED);
}

const char *gem_json_text(json_object *o, bool pretty)
{
	return o ? json_object_to_json_string_ext(o, flags(pretty)) : NULL;
}

int gem_json_fprint(FILE *f, json_object *o, bool pretty)
{
	const char *s;
	int r = 0;

	if (!o) {
		fputs("{\"error\": \"out of memory\"}\n", f);
		return -ENOMEM;
	}
	s = gem_json_text(o, pretty);
	if (!s || fputs(s, f) == EOF || fputc('\n', f) == EOF)
		r = -EIO;
	json_object_put(o);
	return r;
}

int gem_json_print(json_object *o, bool pretty)
{
	int r = gem_json_fprint(stdout, o, pretty);

	if (fflush(stdout) == EOF && !r)
		r = -EIO;
	return r;
}

void gem_json_ferror(FILE *f, const char *msg)
{
	json_object *o = json_object_new_object();

	gem_json_str(o, "error", msg);
	gem_json_fprint(f, o, false);
}

void gem_json_error(const char *msg, bool pretty)
{
	json_object *o = json_object_new_object();

	gem_json_str(o, "error", msg);
	gem_json_print(o, pretty);
}

void gem_json_add(json_object *o, const char *key, json_object *v)
{
	if (o)
		json_object_object_add(o, key, v);
	else
		json_object_put(v);
}

void gem_json_append(json_object *a, json_object *v)
{
	if (a)
		json_object_array_add(a, v);
	else
		json_object_put(v);
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0], n, min, cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, min = 0x80, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, min = 0x800, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	for (unsigned i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* val as a JSON string: json-c escapes quotes, backslashes and control
 * characters; bytes that are not UTF-8 (a PKCS#11 label, an interface name)
 * become U+FFFD so the output is always valid JSON. */
void gem_json_str(json_object *o, const char *key, const char *val)
{
	const unsigned char *s = (const unsigned char *)val;
	size_t n, i = 0, k = 0, len;
	char *b;

	if (!val) {
		gem_json_add(o, key, NULL);
		return;
	}
	len = strlen(val);
	for (i = 0; i < len; i += n)
		if (!(n = utf8_len(s + i)))
			break;
	if (i >= len) {
		gem_json_add(o, key, json_object_new_string(val));
		return;
	}
	b = malloc(3 * len + 1);
	if (!b) {
		gem_json_add(o, key, NULL);
		return;
	}
	for (i = 0; i < len; i += n) {
		n = utf8_len(s + i);
		if (n) {
			memcpy(b + k, s + i, n);
			k += n;
		} else {
			memcpy(b + k, "\xef\xbf\xbd", 3);
			k += 3;
			n = 1;
		}
	}
	b[k] = 0;
	gem_json_add(o, key, json_object_new_string_len(b, (int)k));
	free(b);
}

void gem_json_u64(json_object *o, const char *key, uint64_t val)
{
	gem_json_add(o, key, json_object_new_uint64(val));
}

void gem_json_int(json_object *o, const char *key, int64_t val)
{
	gem_json_add(o, key, json_object_new_int64(val));
}

void gem_json_bool(json_object *o, const char *key, bool val)
{
	gem_json_add(o, key, json_object_new_boolean(val));
}

void gem_json_null(json_object *o, const char *key)
{
	gem_json_add(o, key, NULL);
}
