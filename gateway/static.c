/* gateway/static.c: the gateway's own pages and assets, held in memory, served with ETag, Cache-Control and a strict CSP. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/errors.h"
#include "common/log.h"
#include "gateway/static.h"

struct sfile {
	char *url;           /* "/login", "/assets/app.css" */
	unsigned char *data; /* the file's bytes */
	size_t len;
	const char *type; /* Content-Type (static string) */
	char etag[40];    /* "\"<24 hex>\"" */
	int page;         /* an HTML page: no-cache */
};

static struct sfile *files; /* nfiles of them, read-only once loaded */
static size_t nfiles, total;

static const struct {
	const char *url, *file;
} pages[] = {
	{ "/login", "login.html" },
	{ "/login/reset", "reset.html" },
	{ "/self", "self.html" },
	{ "/counter", "counter.html" },
	{ "/helpdesk", "helpdesk.html" },
	{ "/favicon.ico", "favicon.ico" },
};
#define NPAGES (sizeof(pages) / sizeof(pages[0]))

static const struct {
	const char *ext, *type;
} types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".json", "application/json" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".txt", "text/plain; charset=utf-8" },
	{ ".woff2", "font/woff2" },
};

static const char not_found[] =
    "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
    "<title>页面不存在</title></head><body><h1>页面不存在 / Not found</h1>"
    "<p>UK-1507 检查网址 / Check the address. "
    "<a href=\"/login\">登录 / Log in</a></p></body></html>\n";

const char *
gw_static_type(const char *name)
{
	size_t i, n = strlen(name), e;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		e = strlen(types[i].ext);
		if (n > e && strcmp(name + n - e, types[i].ext) == 0)
			return types[i].type;
	}
	return NULL;
}

/* A path segment we serve: [A-Za-z0-9._-]+, not starting with '.'. */
static int
seg_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		        (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		        ch == '-'))
			return 0;
	}
	return 1;
}

/* 1 when rel ("a/b.css") is made of good segments only. */
static int
rel_ok(const char *rel)
{
	const char *p = rel, *sl;
	int depth = 0;

	for (;;) {
		sl = strchr(p, '/');
		if (!seg_ok(p, sl != NULL ? (size_t)(sl - p) : strlen(p)))
			return 0;
		if (sl == NULL)
			return 1;
		if (++depth > GW_STATIC_DEPTH_MAX)
			return 0;
		p = sl + 1;
	}
}

static void
sfile_clear(struct sfile *f)
{
	free(f->url);
	free(f->data);
	memset(f, 0, sizeof(*f));
}

void
gw_static_free(void)
{
	size_t i;

	for (i = 0; i < nfiles; i++)
		sfile_clear(&files[i]);
	free(files);
	files = NULL;
	nfiles = 0;
	total = 0;
}

/* Reads the regular file name of directory dfd (no symbolic link) into
 * *data, *len. Returns 0, UK_ERR_IO, UK_ERR_LIMIT, UK_ERR_NOMEM, or -1
 * when it is not a regular file (skipped). */
static int
read_at(int dfd, const char *name, unsigned char **data, size_t *len)
{
	struct stat sb;
	unsigned char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, r = UK_ERR_IO;

	*data = NULL;
	*len = 0;
	if ((fd = openat(dfd, name,
	         O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) < 0)
		return errno == ELOOP || errno == ENOENT ? -1 : UK_ERR_IO;
	if (fstat(fd, &sb) != 0)
		goto out;
	if (!S_ISREG(sb.st_mode)) {
		r = -1;
		goto out;
	}
	r = UK_ERR_LIMIT;
	if (sb.st_size > GW_STATIC_FILE_MAX ||
	    total + (size_t)sb.st_size > GW_STATIC_TOTAL_MAX)
		goto out;
	r = UK_ERR_NOMEM;
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL)
		goto out;
	r = UK_ERR_IO;
	while (got < (size_t)sb.st_size) {
		n = read(fd, buf + got, (size_t)sb.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		got += (size_t)n;
	}
	*data = buf;
	*len = got;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

static int
add(const char *url, unsigned char *data, size_t len, const char *type,
    int page)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct sfile *f, *nf;
	size_t i;

	if (nfiles >= GW_STATIC_FILES_MAX)
		return UK_ERR_LIMIT;
	if ((nf = realloc(files, (nfiles + 1) * sizeof(*files))) == NULL)
		return UK_ERR_NOMEM;
	files = nf;
	f = &files[nfiles];
	memset(f, 0, sizeof(*f));
	if ((f->url = strdup(url)) == NULL)
		return UK_ERR_NOMEM;
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen < 12) {
		free(f->url);
		f->url = NULL;
		return UK_ERR_INTERNAL;
	}
	f->etag[0] = '"';
	for (i = 0; i < 12; i++) {
		f->etag[1 + 2 * i] = hex[md[i] >> 4];
		f->etag[2 + 2 * i] = hex[md[i] & 15];
	}
	f->etag[25] = '"';
	f->etag[26] = '\0';
	f->data = data; /* transferred */
	f->len = len;
	f->type = type;
	f->page = page;
	total += len;
	nfiles++;
	return 0;
}

/* Loads every served file under directory dfd (taken: closed here) as
 * URLs prefix/NAME. */
static int
walk(int dfd, const char *prefix, int depth)
{
	char url[512];
	struct dirent *de;
	struct stat sb;
	unsigned char *data;
	const char *type;
	size_t len;
	DIR *d;
	int sub, r = 0;

	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return UK_ERR_IO;
	}
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (!seg_ok(de->d_name, strlen(de->d_name)))
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) !=
		    0)
			continue;
		if ((size_t)snprintf(url, sizeof(url), "%s/%s", prefix,
		        de->d_name) >= sizeof(url))
			continue;
		if (S_ISDIR(sb.st_mode)) {
			if (depth >= GW_STATIC_DEPTH_MAX)
				continue;
			sub = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				r = walk(sub, url, depth + 1);
			continue;
		}
		if (!S_ISREG(sb.st_mode) ||
		    (type = gw_static_type(de->d_name)) == NULL)
			continue;
		if ((r = read_at(dirfd(d), de->d_name, &data, &len)) < 0) {
			r = 0;
			continue;
		}
		if (r == 0 && (r = add(url, data, len, type, 0)) != 0)
			free(data);
		if (r == UK_ERR_LIMIT)
			uk_log_err(r, "web root: %s: over the limits", url);
	}
	closedir(d);
	return r;
}

int
gw_static_init(const char *webroot)
{
	unsigned char *data;
	size_t i, len;
	int root, sub, r;

	gw_static_free();
	if ((root = open(webroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		uk_log_err(UK_ERR_IO, "web root %s: %s", webroot,
		    strerror(errno));
		return UK_ERR_IO;
	}
	for (i = 0; i < NPAGES; i++) {
		if ((r = read_at(root, pages[i].file, &data, &len)) < 0)
			continue; /* not there: 404 */
		if (r == 0 &&
		    (r = add(pages[i].url, data, len,
		         gw_static_type(pages[i].file),
		         strcmp(pages[i].url, "/favicon.ico") != 0)) != 0)
			free(data);
		if (r != 0) {
			uk_log_err(r, "web root %s: %s", webroot,
			    pages[i].file);
			goto fail;
		}
	}
	sub = openat(root, "assets",
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub >= 0 && (r = walk(sub, "/assets", 1)) != 0) {
		uk_log_err(r, "web root %s: assets", webroot);
		goto fail;
	}
	close(root);
	uk_log(UK_LOG_INFO, "web root %s: %zu files, %zu bytes", webroot,
	    nfiles, total);
	return 0;
fail:
	close(root);
	gw_static_free();
	return r;
}

static const struct sfile *
lookup(const char *path)
{
	size_t i;

	if (strncmp(path, "/assets/", 8) == 0 && !rel_ok(path + 8))
		return NULL;
	for (i = 0; i < nfiles; i++)
		if (strcmp(files[i].url, path) == 0)
			return &files[i];
	return NULL;
}

int
gw_static_owns(const char *path)
{
	if (strncmp(path, "/assets/", 8) == 0)
		return 1;
	return lookup(path) != NULL;
}

/* 1 when the If-None-Match value names etag (weak comparison, RFC 9110
 * 13.1.2) or is "*". */
static int
etag_match(const char *inm, const char *etag)
{
	size_t el = strlen(etag), n;
	const char *p = inm, *q;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if (*p == '*')
			return 1;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		q = p;
		while (*q != '\0' && *q != ',' && *q != ' ' && *q != '\t')
			q++;
		n = (size_t)(q - p);
		if (n == el && memcmp(p, etag, el) == 0)
			return 1;
		p = q;
	}
	return 0;
}

static void
headers(struct MHD_Response *r, const struct sfile *f, const char *request_id,
    int hsts)
{
	MHD_add_response_header(r, "Content-Security-Policy", GW_STATIC_CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "same-origin");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	if (request_id != NULL)
		MHD_add_response_header(r, "X-Request-Id", request_id);
	if (hsts)
		MHD_add_response_header(r, "Strict-Transport-Security",
		    "max-age=31536000");
	if (f == NULL) {
		MHD_add_response_header(r, "Cache-Control", "no-store");
		return;
	}
	MHD_add_response_header(r, "ETag", f->etag);
	MHD_add_response_header(r, "Cache-Control",
	    f->page ? "no-cache" : "public, max-age=300");
}

enum MHD_Result
gw_static_serve(struct MHD_Connection *c, const char *path, int head,
    const char *request_id, int hsts, unsigned int *status)
{
	const struct sfile *f = lookup(path);
	const char *inm;
	struct MHD_Response *r;
	unsigned int st;
	enum MHD_Result ret;

	(void)head; /* MHD sends no body for HEAD, keeping Content-Length */
	if (f == NULL) {
		st = MHD_HTTP_NOT_FOUND;
		r = MHD_create_response_from_buffer(sizeof(not_found) - 1,
		    (void *)not_found, MHD_RESPMEM_PERSISTENT);
		if (r != NULL)
			MHD_add_response_header(r, "Content-Type",
			    "text/html; charset=utf-8");
	} else if ((inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                MHD_HTTP_HEADER_IF_NONE_MATCH)) != NULL &&
	    etag_match(inm, f->etag)) {
		st = MHD_HTTP_NOT_MODIFIED;
		r = MHD_create_response_from_buffer(0, (void *)"",
		    MHD_RESPMEM_PERSISTENT);
	} else {
		st = MHD_HTTP_OK;
		r = MHD_create_response_from_buffer(f->len, f->data,
		    MHD_RESPMEM_PERSISTENT);
		if (r != NULL)
			MHD_add_response_header(r, "Content-Type", f->type);
	}
	if (r == NULL)
		return MHD_NO;
	headers(r, f, request_id, hsts);
	ret = MHD_queue_response(c, st, r);
	MHD_destroy_response(r);
	if (status != NULL)
		*status = st;
	return ret;
}
