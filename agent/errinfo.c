/* agent/errinfo.c: the agent's error answers: proposed codes, retries-aware messages, event ids, the PIN part. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/errinfo.h"
#include "common/json.h"
#include "common/rnd.h"

const struct uk_error_info *
ag_error_info(int code)
{
	return uk_error_info(code);
}

int
ag_lang_en(const char *lang)
{
	if (lang == NULL)
		return 0;
	while (*lang == ' ')
		lang++;
	return strncasecmp(lang, "en", 2) == 0;
}

void
ag_event_id(char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char b[8];
	size_t i;

	if (rnd_bytes(b, sizeof(b)) != 0)
		memset(b, 0, sizeof(b));
	for (i = 0; i < sizeof(b); i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[16] = '\0';
}

void
ag_error_message(int code, int en, const json_t *pin, char *out, size_t size)
{
	const struct uk_error_info *e = ag_error_info(code);
	json_t *left = pin != NULL ? json_object_get(pin, "retriesLeft") : NULL;
	long long n = json_is_integer(left) ? json_integer_value(left) : -1;

	if (code == UK_ERR_TOKEN_PIN_INCORRECT && n > 0) {
		if (en)
			snprintf(out, size, "Wrong PIN; %lld %s left", n,
			    n == 1 ? "try" : "tries");
		else
			snprintf(out, size, "PIN码错误，还可尝试%lld次", n);
		return;
	}
	snprintf(out, size, "%s", en ? e->en : e->zh);
}

char *
ag_error_body(int code, int en, const char *event, const json_t *pin)
{
	const struct uk_error_info *e = ag_error_info(code);
	json_t *body = NULL, *err, *p;
	char msg[256], *s = NULL, *base = NULL;

	/* The catalogue's body where it knows the code, so that the shape
	 * stays the one every API answers with. */
	if (uk_error_info(code)->code == code &&
	    (base = json_error_body(code, en ? "en" : "zh", event)) != NULL)
		body = json_loads(base, 0, NULL);
	if (body == NULL)
		body = json_pack("{s:{s:s,s:s,s:s*,s:s}}", "error", "code",
		    e->id, "message", en ? e->en : e->zh, "event", event,
		    "remedy", en ? e->remedy_en : e->remedy_zh);
	if (body == NULL || (err = json_object_get(body, "error")) == NULL)
		goto out;
	ag_error_message(code, en, pin, msg, sizeof(msg));
	if (json_object_set_new(err, "message", json_string(msg)) != 0)
		goto out;
	if (pin != NULL) {
		if ((p = json_deep_copy(pin)) == NULL ||
		    json_object_set_new(body, "pin", p) != 0)
			goto out;
	}
	s = json_dumps(body, JSON_COMPACT);
out:
	free(base);
	json_decref(body);
	return s;
}
