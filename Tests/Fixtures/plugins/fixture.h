/*
 * Shared parts of the deliberately broken test plugins. Each fixture is a small .c file
 * that breaks exactly one rule of cano_plugin.h; the loader and `plugins check` tests
 * compile them at run time with the system C compiler.
 */
#ifndef CANO_FIXTURE_H
#define CANO_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "cano_plugin.h"

#define EXPORT __attribute__((visibility("default")))

static __attribute__((unused)) cano_buffer fixture_string(const char *text) {
    cano_buffer b = {0};
    size_t n = strlen(text);
    b.ptr = malloc(n ? n : 1);
    memcpy(b.ptr, text, n);
    b.len = n;
    return b;
}

static __attribute__((unused)) int fixture_instance_token;

static __attribute__((unused)) void fixture_create(cano_bytes config, const cano_host_services *host, void **out, cano_result *result) {
    (void)config;
    (void)host;
    *out = &fixture_instance_token;
    result->status = CANO_STATUS_OK;
}

static __attribute__((unused)) void fixture_deliver(void *instance, cano_bytes issue, const cano_call_context *context, cano_result *result) {
    (void)instance;
    (void)issue;
    (void)context;
    result->status = CANO_STATUS_OK;
    result->message = fixture_string("delivered");
}

static __attribute__((unused)) void fixture_destroy(void *instance) { (void)instance; }

static __attribute__((unused)) void fixture_free(void *ptr) { free(ptr); }

/* A valid destination descriptor; fixtures override one field after this initialiser. */
#define FIXTURE_DESCRIPTOR_FIELDS(plugin_name)            \
    .struct_size = sizeof(cano_plugin_descriptor),        \
    .abi_major = CANO_ABI_MAJOR, .abi_minor = CANO_ABI_MINOR, \
    .kind = CANO_KIND_DESTINATION, .name = plugin_name,   \
    .version = "0.0.1", .create = fixture_create,         \
    .deliver = fixture_deliver, .destroy = fixture_destroy, \
    .free_buffer = fixture_free

#endif
