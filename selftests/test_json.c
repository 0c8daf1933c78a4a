// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* lib/gem_json.c: every string comes out as valid JSON, UTF-8 kept, other
 * bytes as U+FFFD, control characters and quotes escaped.  The expected
 * bytes are written out by hand (RFC 8259, RFC 3629). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <criterion/criterion.h>

#include "gem_json.h"

/* {"s": <val>} as gem_json_print writes it on one line */
static const char *put(const char *val)
{
	static char out[256];
	json_object *o = json_object_new_object();
	FILE *f = fmemopen(out, sizeof(out), "w");
	FILE *saved = stdout;

	cr_assert(o && f);
	gem_json_str(o, "s", val);
	stdout = f;
	cr_assert_eq(gem_json_print(o, false), 0);
	stdout = saved;
	fclose(f);
	out[strcspn(out, "\n")] = 0;
	return out;
}

Test(json, ascii_and_escapes)
{
	cr_assert_str_eq(put("a/b"), "{ \"s\": \"a/b\" }");
	cr_assert_str_eq(put("q\"\\"), "{ \"s\": \"q\\\"\\\\\" }");
	cr_assert_str_eq(put("\x01\n\x1f"), "{ \"s\": \"\\u0001\\n\\u001f\" }");
	cr_assert_str_eq(put(NULL), "{ \"s\": null }");
}

Test(json, valid_utf8_passes)
{
	/* é (2 bytes), € (3), U+1F600 (4) */
	cr_assert_str_eq(put("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
			 "{ \"s\": \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\" }");
}

Test(json, invalid_bytes_become_replacement)
{
	/* lone continuation, Latin-1 é, overlong '/', surrogate D800, > U+10FFFF,
	 * truncated sequence at the end */
	cr_assert_str_eq(put("\x80"), "{ \"s\": \"\xef\xbf\xbd\" }");
	cr_assert_str_eq(put("caf\xe9"), "{ \"s\": \"caf\xef\xbf\xbd\" }");
	cr_assert_str_eq(put("\xc0\xaf"), "{ \"s\": \"\xef\xbf\xbd\xef\xbf\xbd\" }");
	cr_assert_str_eq(put("\xed\xa0\x80"), "{ \"s\": \"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\" }");
	cr_assert_str_eq(put("\xf4\x90\x80\x80"),
			 "{ \"s\": \"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\" }");
	cr_assert_str_eq(put("ok\xe2\x82"), "{ \"s\": \"ok\xef\xbf\xbd\xef\xbf\xbd\" }");
}

/* gemd's replies: gem_json_fprint on the reply stream, one line; an error
 * object; arrays and nested objects through gem_json_add/append, which
 * tolerate a NULL container (out of memory: the value is released). */
Test(json, fprint_error_and_containers)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	json_object *x = json_object_new_object();

	cr_assert(f && o && a && x);
	gem_json_u64(x, "n", 18446744073709551615ull);
	gem_json_append(a, x);
	gem_json_append(a, NULL);
	gem_json_add(o, "rows", a);
	gem_json_add(o, "none", NULL);
	gem_json_append(NULL, json_object_new_string("dropped"));
	gem_json_add(NULL, "k", json_object_new_string("dropped"));
	cr_assert_eq(gem_json_fprint(f, o, false), 0);
	gem_json_ferror(f, "monitor: \x01 bad \xff");
	cr_assert_eq(gem_json_fprint(f, NULL, false), -ENOMEM);
	cr_assert_eq(fclose(f), 0);
	cr_assert_str_eq(buf, "{ \"rows\": [ { \"n\": 18446744073709551615 }, null ], \"none\": null }\n"
			 "{ \"error\": \"monitor: \\u0001 bad \xef\xbf\xbd\" }\n"
			 "{\"error\": \"out of memory\"}\n");
	free(buf);
}
