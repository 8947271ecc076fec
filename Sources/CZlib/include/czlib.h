/* czlib.h: a one-function zlib shim (gunzip with an output cap) for the Helm release enricher. */
#ifndef CZLIB_H
#define CZLIB_H

#include <stddef.h>
#include <stdint.h>

/**
 * Inflates gzip or zlib data. On success returns 0 and sets *out (malloc'd; free with
 * free()) and *out_len. Returns -1 for corrupt input, -2 when the output would exceed
 * max_out bytes (a gzip bomb), -3 when memory runs out.
 */
int cano_gunzip(const uint8_t *in, size_t in_len, size_t max_out, uint8_t **out, size_t *out_len);

#endif
