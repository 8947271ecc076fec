/*
 * c_file_plugin.c: a complete cano-collector destination plugin in plain C.
 *
 * It appends each Issue's JSON, one per line, to the file named by its config
 * ({"path": "/var/log/issues.jsonl"}), and shows every part of the ABI a destination
 * uses: the descriptor, create/deliver/destroy, results with messages and references,
 * and the host services (log, key-value store, counters).
 *
 * Build:  cc -shared -fPIC -O2 -I ../../Sources/PluginABI/include c_file_plugin.c -o c-file.so
 * Config: destinations: [{name: audit, type: c-file, config: {path: /tmp/issues.jsonl}}]
 *
 * References: the first delivery of a fingerprint returns "line-<n>" (the line it wrote);
 * the host hands that back on later deliveries of the same fingerprint (the resolve), and
 * this plugin echoes it, the way a chat plugin would reply in the original thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cano_plugin.h"

typedef struct instance {
    char *path;
    const cano_host_services *host;
} instance;

/* Every buffer handed to the host is malloc'd here and freed by the host via free_buffer. */
static cano_buffer owned_string(const char *text) {
    cano_buffer b = {0};
    size_t n = strlen(text);
    b.ptr = malloc(n ? n : 1);
    if (b.ptr) {
        memcpy(b.ptr, text, n);
        b.len = n;
    }
    return b;
}

static void set_result(cano_result *r, int32_t status, const char *message) {
    r->status = status;
    r->message = owned_string(message);
}

static cano_bytes borrowed(const char *text) {
    cano_bytes b = {(const uint8_t *)text, strlen(text)};
    return b;
}

static void host_log(const instance *self, int32_t level, const char *message) {
    cano_bytes none = {0};
    if (self->host && self->host->log) self->host->log(self->host->host_ctx, level, borrowed(message), none);
}

/*
 * Finds "key": "value" in a flat JSON object and returns a malloc'd copy of value (with
 * \" and \\ unescaped), or NULL. Enough for this example's one-key config; a real plugin
 * would use a JSON library.
 */
static char *json_string(const uint8_t *json, size_t len, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    size_t plen = strlen(pattern);
    for (size_t i = 0; i + plen <= len; i++) {
        if (memcmp(json + i, pattern, plen) != 0) continue;
        size_t j = i + plen;
        while (j < len && (json[j] == ' ' || json[j] == ':' || json[j] == '\t' || json[j] == '\n')) j++;
        if (j >= len || json[j] != '"') return NULL;
        char *out = malloc(len - j);
        size_t o = 0;
        for (j++; j < len && json[j] != '"'; j++) {
            if (json[j] == '\\' && j + 1 < len) j++;
            out[o++] = (char)json[j];
        }
        if (j >= len) { free(out); return NULL; }
        out[o] = 0;
        return out;
    }
    return NULL;
}

static void plugin_create(cano_bytes config, const cano_host_services *host, void **instance_out, cano_result *result) {
    char *path = json_string(config.ptr, config.len, "path");
    if (!path || !*path) {
        free(path);
        set_result(result, CANO_STATUS_PERMANENT, "config: missing required key \"path\" (a file to append to)");
        return;
    }
    instance *self = calloc(1, sizeof *self);
    self->path = path;
    self->host = host;
    *instance_out = self;
    host_log(self, CANO_LOG_INFO, "c-file destination ready");
    set_result(result, CANO_STATUS_OK, "created");
}

/* Counts lines written across restarts in the host's key-value store. */
static unsigned long next_line(const instance *self) {
    unsigned long n = 0;
    cano_buffer value = {0};
    const cano_host_services *h = self->host;
    if (h->kv_get(h->host_ctx, borrowed("lines"), &value) == 0 && value.ptr) {
        char text[32] = {0};
        memcpy(text, value.ptr, value.len < sizeof text - 1 ? value.len : sizeof text - 1);
        n = strtoul(text, NULL, 10);
    }
    h->free_buffer(h->host_ctx, value.ptr);
    char text[32];
    snprintf(text, sizeof text, "%lu", n + 1);
    cano_bytes v = {(const uint8_t *)text, strlen(text)};
    h->kv_put(h->host_ctx, borrowed("lines"), v);
    return n + 1;
}

static void plugin_deliver(void *opaque, cano_bytes issue_json, const cano_call_context *context, cano_result *result) {
    instance *self = opaque;
    int fd = open(self->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        char message[256];
        snprintf(message, sizeof message, "cannot open the output file: %s", strerror(errno));
        set_result(result, CANO_STATUS_RETRY, message);
        return;
    }
    /* One write per line keeps lines whole even if another process appends too. */
    uint8_t *line = malloc(issue_json.len + 1);
    memcpy(line, issue_json.ptr, issue_json.len);
    line[issue_json.len] = '\n';
    ssize_t written = write(fd, line, issue_json.len + 1);
    int saved = errno;
    free(line);
    close(fd);
    if (written != (ssize_t)(issue_json.len + 1)) {
        char message[256];
        snprintf(message, sizeof message, "write failed: %s", written < 0 ? strerror(saved) : "short write");
        set_result(result, CANO_STATUS_RETRY, message);
        return;
    }
    unsigned long n = next_line(self);
    self->host->counter_add(self->host->host_ctx, borrowed("lines_written"), 1);

    char text[128];
    if (context->reference.len > 0) {
        /* A follow-up (e.g. the resolve): keep pointing at the original line. */
        result->reference.ptr = malloc(context->reference.len);
        memcpy(result->reference.ptr, context->reference.ptr, context->reference.len);
        result->reference.len = context->reference.len;
        snprintf(text, sizeof text, "appended line %lu (follow-up)", n);
    } else {
        char ref[32];
        snprintf(ref, sizeof ref, "line-%lu", n);
        result->reference = owned_string(ref);
        snprintf(text, sizeof text, "appended line %lu", n);
    }
    set_result(result, CANO_STATUS_OK, text);
}

static void plugin_destroy(void *opaque) {
    instance *self = opaque;
    if (!self) return;
    free(self->path);
    free(self);
}

static void plugin_free_buffer(void *ptr) { free(ptr); }

static const cano_plugin_descriptor descriptor = {
    .struct_size = sizeof(cano_plugin_descriptor),
    .abi_major = CANO_ABI_MAJOR,
    .abi_minor = CANO_ABI_MINOR,
    .kind = CANO_KIND_DESTINATION,
    .flags = 0, /* deliver() calls on one instance are serialised by the host */
    .name = "c-file",
    .version = "1.0.0",
    .toolchain = NULL, /* not a Swift plugin */
    .create = plugin_create,
    .deliver = plugin_deliver,
    .enrich = NULL,
    .destroy = plugin_destroy,
    .free_buffer = plugin_free_buffer,
};

__attribute__((visibility("default"))) const cano_plugin_descriptor *cano_plugin_entry(void) { return &descriptor; }
