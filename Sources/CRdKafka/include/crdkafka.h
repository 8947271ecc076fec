/* librdkafka (Debian librdkafka-dev) for Swift: the producer API and the in-process mock
 * cluster the tests use instead of a broker. Variadic and macro-only parts get small
 * wrappers in crdkafka.c, because Swift cannot call C variadic functions. */
#ifndef CRDKAFKA_H
#define CRDKAFKA_H
#include <stddef.h>
#include <stdint.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* rd_kafka_producev() with a copied key and value, optional headers (ownership passes to
 * librdkafka on success only, as with RD_KAFKA_V_HEADERS) and a per-message opaque that
 * comes back in the delivery report's `_private`. Partition: the configured partitioner. */
rd_kafka_resp_err_t crdkafka_produce(rd_kafka_t *rk, const char *topic,
                                     const void *key, size_t key_len,
                                     const void *value, size_t value_len,
                                     rd_kafka_headers_t *headers, void *msg_opaque);

#endif
