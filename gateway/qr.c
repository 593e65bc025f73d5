/* gateway/qr.c: QR codes (libqrencode, ECC level M) as SVG text and PNG bytes, with a quiet zone of 4 modules. */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <qrencode.h>

#include "common/errors.h"
#include "gateway/qr.h"

/* Encodes text; *out owned by the caller (QRcode_free). */
static int
qr_encode(const char *text, QRcode **out)
{
	QRcode *qr;

	*out = NULL;
	if (text == NULL || *text == '\0' || strlen(text) > GW_QR_TEXT_MAX)
		return UK_ERR_INPUT;
	if ((qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1)) ==
	    NULL)
		return UK_ERR_INTERNAL;
	if (qr->width <= 0 || qr->width > 177) {
		QRcode_free(qr);
		return UK_ERR_INTERNAL;
	}
	*out = qr;
	return 0;
}

/* A growing byte buffer. */
struct qr_buf {
	unsigned char *p;
	size_t len, cap;
	int failed;
};

static void
buf_add(struct qr_buf *b, const void *data, size_t len)
{
	unsigned char *t;
	size_t cap;

	if (b->failed)
		return;
	if (b->len + len + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len + 1)
			cap *= 2;
		if ((t = realloc(b->p, cap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = t;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void
buf_str(struct qr_buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

int
gw_qr_svg(const char *text, char **svg)
{
	QRcode *qr = NULL;
	struct qr_buf b = { NULL, 0, 0, 0 };
	char tmp[512];
	int r, x, y, size;

	if (svg != NULL)
		*svg = NULL;
	if (svg == NULL) {
		r = UK_ERR_INPUT;
		goto out;
	}
	if ((r = qr_encode(text, &qr)) != 0)
		goto out;
	size = qr->width + 2 * GW_QR_QUIET;
	snprintf(tmp, sizeof(tmp),
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
	    "viewBox=\"0 0 %d %d\" shape-rendering=\"crispEdges\">\n",
	    size, size);
	buf_str(&b, tmp);
	snprintf(tmp, sizeof(tmp),
	    "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n<path d=\"",
	    size, size);
	buf_str(&b, tmp);
	for (y = 0; y < qr->width; y++) {
		for (x = 0; x < qr->width; x++) {
			if ((qr->data[y * qr->width + x] & 1) == 0)
				continue;
			snprintf(tmp, sizeof(tmp), "M%d %dh1v1h-1z",
			    x + GW_QR_QUIET, y + GW_QR_QUIET);
			buf_str(&b, tmp);
		}
	}
	buf_str(&b, "\" fill=\"#000\"/>\n</svg>\n");
	if (b.failed) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	*svg = (char *)b.p;
	b.p = NULL; /* transferred */
	r = 0;
out:
	free(b.p);
	if (qr != NULL)
		QRcode_free(qr);
	return r;
}

static void
png_write_mem(png_structp png, png_bytep data, png_size_t len)
{
	struct qr_buf *b = png_get_io_ptr(png);

	buf_add(b, data, len);
	if (b->failed)
		png_error(png, "out of memory");
}

static void
png_flush_mem(png_structp png)
{
	(void)png;
}

/* Writes the image of qr (rows of side bytes, prepared in row) into b.
 * Returns 0, or UK_ERR_INTERNAL when libpng failed. */
static int
png_encode(const QRcode *qr, int scale, unsigned char *row, struct qr_buf *b)
{
	png_structp png;
	png_infop info = NULL;
	int side = (qr->width + 2 * GW_QR_QUIET) * scale;
	int x, y, mx, my, dark;

	if ((png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL,
	         NULL)) == NULL)
		return UK_ERR_INTERNAL;
	if ((info = png_create_info_struct(png)) == NULL) {
		png_destroy_write_struct(&png, NULL);
		return UK_ERR_INTERNAL;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		return UK_ERR_INTERNAL;
	}
	png_set_write_fn(png, b, png_write_mem, png_flush_mem);
	png_set_IHDR(png, info, (png_uint_32)side, (png_uint_32)side, 8,
	    PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
	    PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (y = 0; y < side; y++) {
		my = y / scale - GW_QR_QUIET;
		for (x = 0; x < side; x++) {
			mx = x / scale - GW_QR_QUIET;
			dark = mx >= 0 && my >= 0 && mx < qr->width &&
			    my < qr->width &&
			    (qr->data[my * qr->width + mx] & 1);
			row[x] = dark ? 0 : 255;
		}
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	return 0;
}

int
gw_qr_png(const char *text, int scale, unsigned char **png, size_t *len)
{
	QRcode *qr = NULL;
	struct qr_buf b = { NULL, 0, 0, 0 };
	unsigned char *row = NULL;
	int r;

	if (png != NULL)
		*png = NULL;
	if (len != NULL)
		*len = 0;
	if (png == NULL || len == NULL || scale < 1 ||
	    scale > GW_QR_SCALE_MAX) {
		r = UK_ERR_INPUT;
		goto out;
	}
	if ((r = qr_encode(text, &qr)) != 0)
		goto out;
	if ((row = malloc((size_t)(qr->width + 2 * GW_QR_QUIET) *
	         (size_t)scale)) == NULL) {
		r = UK_ERR_NOMEM;
		goto out;
	}
	if ((r = png_encode(qr, scale, row, &b)) != 0) {
		if (b.failed)
			r = UK_ERR_NOMEM;
		goto out;
	}
	*png = b.p;
	*len = b.len;
	b.p = NULL; /* transferred */
	r = 0;
out:
	free(b.p);
	free(row);
	if (qr != NULL)
		QRcode_free(qr);
	return r;
}
