/* common/fileio.h: reading bounded files and writing files atomically and durably. */
#ifndef UK_FILEIO_H
#define UK_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* Reads the whole file at path (or standard input for "-"), at most max
 * bytes. *out is malloc'd with a NUL after the data (not counted in *len);
 * caller frees. Returns 0, UK_ERR_IO (with errno kept), UK_ERR_LIMIT. */
int
file_read_all(const char *path, size_t max, unsigned char **out, size_t *len);

/* Writes len bytes to path atomically: a temporary file in the same
 * directory opened O_EXCL with mode, written, fsync'd, renamed over path,
 * then the directory fsync'd. Either the old or the new content survives a
 * crash, never a mix. An existing path that is not a regular file (a
 * device, FIFO, symlink or directory) is refused. Returns 0 or UK_ERR_IO. */
int
file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Creates a new file at path with O_EXCL and mode (failing if it exists),
 * writes, fsyncs and fsyncs the directory. Returns 0, UK_ERR_EXISTS or
 * UK_ERR_IO. For key files. */
int file_write_new(const char *path, const void *data, size_t len, mode_t mode);

#endif
