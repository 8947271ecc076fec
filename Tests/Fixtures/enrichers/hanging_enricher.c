/* An enricher plugin that hangs: enrich() blocks reading a pipe the test holds (config
 * {"fd": N}) and ignores its deadline, like a plugin stuck on a dead connection. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cano_plugin.h"

typedef struct { int fd; } instance;

static void create(cano_bytes config, const cano_host_services *host, void **out, cano_result *result) {
    (void)host;
    char text[128] = {0};
    memcpy(text, config.ptr, config.len < sizeof text - 1 ? config.len : sizeof text - 1);
    const char *at = strstr(text, "\"fd\":");
    instance *self = calloc(1, sizeof *self);
    if (!at || !self) { free(self); result->status = CANO_STATUS_PERMANENT; return; }
    self->fd = atoi(at + 5);
    *out = self;
    result->status = CANO_STATUS_OK;
}

static void enrich(void *raw, cano_bytes issue, const cano_call_context *context, cano_result *result) {
    (void)issue; (void)context;
    char byte;
    if (read(((instance *)raw)->fd, &byte, 1) < 0) { /* returns when the test writes or closes */ }
    result->status = CANO_STATUS_OK;
    char *payload = malloc(2);
    memcpy(payload, "[]", 2);
    result->payload.ptr = (uint8_t *)payload;
    result->payload.len = 2;
}

static void destroy(void *raw) { free(raw); }
static void free_buffer(void *ptr) { free(ptr); }

static const cano_plugin_descriptor descriptor = {
    .struct_size = sizeof(cano_plugin_descriptor), .abi_major = CANO_ABI_MAJOR, .abi_minor = CANO_ABI_MINOR,
    .kind = CANO_KIND_ENRICHER, .flags = 0, .name = "hanging", .version = "1.0.0", .toolchain = NULL,
    .create = create, .deliver = NULL, .enrich = enrich, .destroy = destroy, .free_buffer = free_buffer,
};

__attribute__((visibility("default"))) const cano_plugin_descriptor *cano_plugin_entry(void) { return &descriptor; }
