/* common/json.c: strict JSON intake over jansson, and the API's error body. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/errors.h"
#include "common/json.h"

static void *
wipe_malloc(size_t n)
{
	return malloc(n);
}

static void
wipe_free(void *p)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, malloc_usable_size(p));
	free(p);
}

void
json_wipe_on_free(void)
{
	json_set_alloc_funcs(wipe_malloc, wipe_free);
}

int
json_parse_object(const char *buf, size_t len, size_t maxlen, json_t **out)
{
	json_error_t jerr;
	json_t *j;

	*out = NULL;
	if (len > maxlen)
		return UK_ERR_LIMIT;
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		return UK_ERR_JSON;
	if (!json_is_object(j)) {
		json_decref(j);
		return UK_ERR_JSON;
	}
	*out = j;
	return 0;
}

int
json_get_string(const json_t *obj, const char *key, size_t maxlen,
    const char **out)
{
	json_t *v = json_object_get(obj, key);
	size_t len;

	*out = NULL;
	if (v == NULL)
		return UK_ERR_NOT_FOUND;
	if (!json_is_string(v))
		return UK_ERR_INPUT;
	len = json_string_length(v);
	if (len > maxlen || memchr(json_string_value(v), '\0', len) != NULL)
		return UK_ERR_INPUT;
	*out = json_string_value(v);
	return 0;
}

int
json_only_keys(const json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)obj, key, v)
	{
		int found = 0;
		(void)v;
		for (i = 0; allowed[i] != NULL; i++) {
			if (strcmp(key, allowed[i]) == 0) {
				found = 1;
				break;
			}
		}
		if (!found)
			return UK_ERR_INPUT;
	}
	return 0;
}

char *
json_error_body(int code, const char *lang, const char *event)
{
	const struct uk_error_info *e = uk_error_info(code);
	int zh = lang == NULL || strcmp(lang, "en") != 0;
	json_t *body;
	char *s;

	body = json_pack("{s:{s:s,s:s,s:s*,s:s}}", "error", "code", e->id,
	    "message", zh ? e->zh : e->en, "event", event, "remedy",
	    zh ? e->remedy_zh : e->remedy_en);
	if (body == NULL)
		return NULL;
	s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	return s;
}
