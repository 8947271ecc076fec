#include "czlib.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int cano_gunzip(const uint8_t *in, size_t in_len, size_t max_out, uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    z_stream s;
    memset(&s, 0, sizeof s);
    /* 15 + 32: accept both gzip and zlib headers. */
    if (inflateInit2(&s, 15 + 32) != Z_OK) return -3;
    size_t cap = in_len * 4 + 1024;
    if (cap > max_out) cap = max_out;
    uint8_t *buf = malloc(cap);
    if (!buf) { inflateEnd(&s); return -3; }
    s.next_in = (Bytef *)in;
    s.avail_in = (uInt)in_len;
    size_t used = 0;
    int rc;
    for (;;) {
        if (used == cap) {
            if (cap >= max_out) { free(buf); inflateEnd(&s); return -2; }
            size_t next = cap * 2 > max_out ? max_out : cap * 2;
            uint8_t *grown = realloc(buf, next);
            if (!grown) { free(buf); inflateEnd(&s); return -3; }
            buf = grown;
            cap = next;
        }
        s.next_out = buf + used;
        s.avail_out = (uInt)(cap - used);
        rc = inflate(&s, Z_NO_FLUSH);
        used = cap - s.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc != Z_OK && rc != Z_BUF_ERROR) { free(buf); inflateEnd(&s); return -1; }
        if (rc == Z_BUF_ERROR && s.avail_in == 0 && used < cap) { free(buf); inflateEnd(&s); return -1; }
    }
    inflateEnd(&s);
    *out = buf;
    *out_len = used;
    return 0;
}
