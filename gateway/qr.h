/* gateway/qr.h: QR codes (libqrencode, ECC level M) as SVG text and PNG bytes, with a quiet zone of 4 modules. */
#ifndef UK_GW_QR_H
#define UK_GW_QR_H

#include <stddef.h>

/* Modules of white border drawn around every code. */
#define GW_QR_QUIET 4

/* Longest text encoded (bytes). */
#define GW_QR_TEXT_MAX 1024

/* Largest PNG scale (pixels per module). */
#define GW_QR_SCALE_MAX 32

/*
 * Encodes text (8-bit mode, ECC level M, the smallest version that holds
 * it) as an SVG document: a viewBox of (width + 8) units, a white
 * background and one path of unit squares, one per dark module. On success
 * *svg is a malloc'd NUL-terminated string the caller frees. Returns 0,
 * UK_ERR_INPUT (empty or longer than GW_QR_TEXT_MAX), UK_ERR_NOMEM or
 * UK_ERR_INTERNAL.
 */
int gw_qr_svg(const char *text, char **svg);

/*
 * Encodes text as gw_qr_svg does into a greyscale 8-bit PNG of
 * (width + 8) * scale pixels square, scale 1..GW_QR_SCALE_MAX. On success
 * *png (malloc'd, caller frees) holds *len bytes. Returns 0, UK_ERR_INPUT,
 * UK_ERR_NOMEM or UK_ERR_INTERNAL.
 */
int gw_qr_png(const char *text, int scale, unsigned char **png, size_t *len);

#endif
