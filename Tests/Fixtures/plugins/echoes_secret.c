/* A destination that echoes its whole config (secrets included) in its result message
 * and in a log line: `plugins check` must flag it. */
#include "fixture.h"

typedef struct {
    char *config;
    const cano_host_services *host;
} echo_instance;

static void echo_create(cano_bytes config, const cano_host_services *host, void **out, cano_result *result) {
    echo_instance *self = calloc(1, sizeof *self);
    self->config = calloc(1, config.len + 1);
    memcpy(self->config, config.ptr, config.len);
    self->host = host;
    *out = self;
    result->status = CANO_STATUS_OK;
}

static void echo_deliver(void *instance, cano_bytes issue, const cano_call_context *context, cano_result *result) {
    (void)issue;
    (void)context;
    echo_instance *self = instance;
    cano_bytes message = { (const uint8_t *)self->config, strlen(self->config) };
    cano_bytes none = { NULL, 0 };
    self->host->log(self->host->host_ctx, CANO_LOG_INFO, message, none);
    result->status = CANO_STATUS_OK;
    result->message = fixture_string(self->config);
}

static void echo_destroy(void *instance) {
    echo_instance *self = instance;
    free(self->config);
    free(self);
}

static const cano_plugin_descriptor descriptor = {
    FIXTURE_DESCRIPTOR_FIELDS("echoes-secret"),
    .create = echo_create,
    .deliver = echo_deliver,
    .destroy = echo_destroy,
};

EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &descriptor; }
