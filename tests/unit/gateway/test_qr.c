/* tests/unit/gateway/test_qr.c: QR codes as PNG (decoded back with zbarimg) and SVG (well-formed, one square per dark module). */
#include <sys/wait.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <png.h>
#include <qrencode.h>

#include "common/errors.h"
#include "common/rnd.h"
#include "gateway/qr.h"
#include "tests/lib/testdb.h"

static char tmpdir[256];

/* "https://gjj.example.cn/qr/s/<32 hex>" */
static void
ticket_url(char *out, size_t size)
{
	char id[33];

	assert_int_equal(rnd_hex(id, 16), 0);
	snprintf(out, size, "https://gjj.example.cn/qr/s/%s", id);
}

/* Dark modules of text as libqrencode makes them, and the width. */
static int
dark_modules(const char *text, int *width)
{
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	int i, n = 0;

	assert_non_null(qr);
	for (i = 0; i < qr->width * qr->width; i++)
		n += qr->data[i] & 1;
	*width = qr->width;
	QRcode_free(qr);
	return n;
}

/* Runs zbarimg --raw -q path; its output (first line) into out. */
static int
zbarimg(const char *path, char *out, size_t size)
{
	int fds[2], status;
	ssize_t n;
	size_t got = 0;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(fds[1], 1);
		if (null >= 0)
			dup2(null, 2); /* D-Bus complaints */
		close(fds[0]);
		close(fds[1]);
		execlp("zbarimg", "zbarimg", "--raw", "-q", path, (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	close(fds[1]);
	while (
	    got + 1 < size && (n = read(fds[0], out + got, size - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (got > 0 && out[got - 1] == '\n')
		out[got - 1] = '\0';
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
write_file(const char *path, const unsigned char *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, len), (ssize_t)len);
	close(fd);
}

static void
test_png_zbar(void **state)
{
	char url[128], path[512], got[512];
	unsigned char *png = NULL;
	size_t len = 0;
	int scale, rc;

	(void)state;
	for (scale = 2; scale <= 8; scale *= 2) {
		ticket_url(url, sizeof(url));
		assert_int_equal(gw_qr_png(url, scale, &png, &len), 0);
		assert_non_null(png);
		assert_true(len > 8);
		assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
		snprintf(path, sizeof(path), "%s/qr%d.png", tmpdir, scale);
		write_file(path, png, len);
		rc = zbarimg(path, got, sizeof(got));
		if (rc == 127)
			fail_msg("zbarimg missing: apt-get install zbar-tools");
		assert_int_equal(rc, 0);
		assert_string_equal(got, url);
		free(png);
		png = NULL;
	}
}

/* Decodes png to 8-bit grey pixels and checks the picture: side
 * (width + 8) * scale, a white quiet zone of 4 modules, and dark pixels
 * dark * scale^2. */
static void
test_png_pixels(void **state)
{
	char url[128];
	unsigned char *png = NULL, *px;
	png_image img;
	size_t len;
	int width, dark, scale = 3, side, x, y, n = 0;

	(void)state;
	ticket_url(url, sizeof(url));
	dark = dark_modules(url, &width);
	assert_int_equal(gw_qr_png(url, scale, &png, &len), 0);
	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	assert_true(png_image_begin_read_from_memory(&img, png, len));
	img.format = PNG_FORMAT_GRAY;
	side = (width + 2 * GW_QR_QUIET) * scale;
	assert_int_equal(img.width, side);
	assert_int_equal(img.height, side);
	px = malloc(PNG_IMAGE_SIZE(img));
	assert_non_null(px);
	assert_true(png_image_finish_read(&img, NULL, px, 0, NULL));
	for (y = 0; y < side; y++) {
		for (x = 0; x < side; x++) {
			unsigned char v = px[y * side + x];

			assert_true(v == 0 || v == 255);
			if (v == 0) {
				n++;
				/* nothing dark in the quiet zone */
				assert_true(x >= GW_QR_QUIET * scale &&
				    y >= GW_QR_QUIET * scale &&
				    x < side - GW_QR_QUIET * scale &&
				    y < side - GW_QR_QUIET * scale);
			}
		}
	}
	assert_int_equal(n, dark * scale * scale);
	free(px);
	free(png);
}

/* A small XML well-formedness check for what gw_qr_svg writes: one
 * declaration, tags properly nested, attribute values quoted, no stray
 * '<', '>' or '&'. Returns the number of elements, -1 when malformed. */
static int
xml_check(const char *s)
{
	char stack[16][32];
	int depth = 0, elements = 0, roots = 0;
	const char *p = s, *e;
	size_t n;

	if (strncmp(p, "<?xml ", 6) != 0 || (p = strstr(p, "?>")) == NULL)
		return -1;
	p += 2;
	while (*p != '\0') {
		if (*p != '<') {
			if (*p == '>' || *p == '&')
				return -1;
			if (depth == 0 && *p != '\n' && *p != ' ')
				return -1;
			p++;
			continue;
		}
		if (p[1] == '/') { /* end tag */
			e = strchr(p, '>');
			if (e == NULL || depth == 0)
				return -1;
			n = (size_t)(e - p - 2);
			if (strlen(stack[depth - 1]) != n ||
			    strncmp(stack[depth - 1], p + 2, n) != 0)
				return -1;
			depth--;
			p = e + 1;
			continue;
		}
		/* start tag: name, attributes name="value", '>' or '/>' */
		p++;
		n = strspn(p, "abcdefghijklmnopqrstuvwxyz:-");
		if (n == 0 || n >= sizeof(stack[0]) || depth >= 16)
			return -1;
		if (depth == 0 && roots++ > 0)
			return -1;
		elements++;
		memcpy(stack[depth], p, n);
		stack[depth][n] = '\0';
		p += n;
		for (;;) {
			p += strspn(p, " \n");
			if (*p == '>') {
				depth++;
				p++;
				break;
			}
			if (p[0] == '/' && p[1] == '>') {
				p += 2;
				break;
			}
			n = strspn(p,
			    "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ:-");
			if (n == 0 || p[n] != '=' || p[n + 1] != '"')
				return -1;
			p += n + 2;
			if ((e = strchr(p, '"')) == NULL)
				return -1;
			if (memchr(p, '<', (size_t)(e - p)) != NULL ||
			    memchr(p, '&', (size_t)(e - p)) != NULL)
				return -1;
			p = e + 1;
		}
	}
	return depth == 0 && roots == 1 ? elements : -1;
}

static int
count(const char *s, const char *what)
{
	int n = 0;

	while ((s = strstr(s, what)) != NULL) {
		n++;
		s += strlen(what);
	}
	return n;
}

static void
test_svg(void **state)
{
	char url[128], vb[64];
	char *svg = NULL;
	int width, dark;

	(void)state;
	ticket_url(url, sizeof(url));
	dark = dark_modules(url, &width);
	assert_int_equal(gw_qr_svg(url, &svg), 0);
	assert_non_null(svg);
	assert_int_equal(xml_check(svg), 3); /* svg, rect, path */
	assert_int_equal(count(svg, "h1v1h-1z"), dark);
	snprintf(vb, sizeof(vb), "viewBox=\"0 0 %d %d\"",
	    width + 2 * GW_QR_QUIET, width + 2 * GW_QR_QUIET);
	assert_non_null(strstr(svg, vb));
	/* the top-left finder pattern starts after the quiet zone */
	assert_non_null(strstr(svg, "d=\"M4 4h1v1h-1z"));
	/* the checker itself refuses what it should */
	assert_int_equal(xml_check("<?xml x?><svg><a></svg></a>"), -1);
	assert_int_equal(xml_check("<?xml x?><svg a=b/>"), -1);
	free(svg);
}

static void
test_bad_input(void **state)
{
	unsigned char *png = (unsigned char *)"x";
	char *svg = (char *)"x", *big;
	size_t len = 1;

	(void)state;
	assert_int_equal(gw_qr_svg(NULL, &svg), UK_ERR_INPUT);
	assert_null(svg);
	assert_int_equal(gw_qr_svg("", &svg), UK_ERR_INPUT);
	assert_int_equal(gw_qr_png("x", 0, &png, &len), UK_ERR_INPUT);
	assert_null(png);
	assert_int_equal(len, 0);
	assert_int_equal(gw_qr_png("x", GW_QR_SCALE_MAX + 1, &png, &len),
	    UK_ERR_INPUT);
	big = malloc(GW_QR_TEXT_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', GW_QR_TEXT_MAX + 1);
	big[GW_QR_TEXT_MAX + 1] = '\0';
	assert_int_equal(gw_qr_svg(big, &svg), UK_ERR_INPUT);
	big[GW_QR_TEXT_MAX] = '\0'; /* the longest accepted */
	assert_int_equal(gw_qr_png(big, 1, &png, &len), 0);
	free(png);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_png_zbar),
		cmocka_unit_test(test_png_pixels),
		cmocka_unit_test(test_svg),
		cmocka_unit_test(test_bad_input),
	};
	int rc;

	if (testdb_tmpdir("qr", tmpdir, sizeof(tmpdir)) != 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	testdb_rmtree(tmpdir);
	return rc;
}
