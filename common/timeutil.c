/* common/timeutil.c: time zones, local midnight, RFC 3339. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/errors.h"
#include "common/timeutil.h"

/* glibc keeps one process-wide zone; switching it is serialised here and
 * restored before the lock is released. */
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

int
time_zone_valid(const char *tz)
{
	char path[512];
	struct stat sb;

	if (tz == NULL || tz[0] == '\0' || tz[0] == '/' || tz[0] == ':' ||
	    strstr(tz, "..") != NULL || strlen(tz) > 200)
		return 0;
	if (strcmp(tz, "UTC") == 0)
		return 1;
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int
time_next_midnight(const char *tz, time_t now, time_t *out)
{
	char *saved = NULL;
	const char *old;
	struct tm tm;
	time_t t;
	int r = UK_ERR_CONFIG_VALUE;

	if (tz == NULL)
		tz = UK_DEFAULT_TZ;
	if (!time_zone_valid(tz))
		return UK_ERR_CONFIG_VALUE;
	pthread_mutex_lock(&tz_lock);
	if ((old = getenv("TZ")) != NULL && (saved = strdup(old)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if (setenv("TZ", tz, 1) != 0)
		goto out;
	tzset();
	if (localtime_r(&now, &tm) == NULL)
		goto restore;
	tm.tm_mday += 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	if ((t = mktime(&tm)) == (time_t)-1)
		goto restore;
	*out = t;
	r = 0;
restore:
	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
out:
	pthread_mutex_unlock(&tz_lock);
	free(saved);
	return r;
}

void
time_rfc3339(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (outlen > 0)
			out[0] = '\0';
	}
}

/* Reads exactly n digits at *p into *v. */
static int
digits(const char **p, int n, int *v)
{
	int i, x = 0;

	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		x = x * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = x;
	return 0;
}

int
time_parse_rfc3339(const char *s, time_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	const char *p = s;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) ||
	    *p++ != '-' || digits(&p, 2, &d) || (*p != 'T' && *p != 't'))
		return UK_ERR_INPUT;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) ||
	    *p++ != ':' || digits(&p, 2, &sec))
		return UK_ERR_INPUT;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return UK_ERR_INPUT;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		p++;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) ||
		    oh > 23 || om > 59)
			return UK_ERR_INPUT;
	} else
		return UK_ERR_INPUT;
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return UK_ERR_INPUT;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return UK_ERR_INPUT;
	/* timegm normalises 31 February into March: refuse such dates. */
	if (tm.tm_mday != d || tm.tm_mon != mo - 1)
		return UK_ERR_INPUT;
	*out = t - sign * (time_t)(oh * 3600 + om * 60);
	return 0;
}
