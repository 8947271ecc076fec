/*
 * c_runbook_enricher.c: an example cano-collector ENRICHER plugin in plain C.
 *
 * For every Issue it adds a "Runbook" enrichment: a link to <base_url>/<aggregationKey>
 * (the alert name or detector reason), and for Pod Issues the pod's phase, read through
 * the host's kube_get service, so the plugin never sees cluster credentials.
 *
 * Build:  cc -shared -fPIC -fvisibility=hidden -I Sources/PluginABI/include \
 *            examples/c-enricher/c_runbook_enricher.c -o libc_runbook_enricher.so
 * Config: enrichment: { plugins: [{name: runbook, type: c-runbook, config: {base_url: "https://wiki/runbooks"}}],
 *                       workflows: [{name: runbooks, enrichers: [runbook]}] }
 *
 * The JSON handling is deliberately tiny: the host sends the Issue with sorted keys and
 * no insignificant whitespace (docs/issue.schema.json), and the scanner below walks
 * nested values properly, so it finds the right "name" inside "subject".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cano_plugin.h"

#define EXPORT __attribute__((visibility("default")))

typedef struct {
    char base_url[512];
    const cano_host_services *host;
} instance;

/* ---- a minimal JSON scanner ---------------------------------------------------- */

static size_t skip_ws(const char *s, size_t n, size_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) i++;
    return i;
}

static size_t skip_string(const char *s, size_t n, size_t i) { /* s[i] == '"' */
    for (i++; i < n; i++) {
        if (s[i] == '\\') i++;
        else if (s[i] == '"') return i + 1;
    }
    return n;
}

static size_t skip_value(const char *s, size_t n, size_t i) {
    i = skip_ws(s, n, i);
    if (i >= n) return n;
    if (s[i] == '"') return skip_string(s, n, i);
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        for (; i < n; i++) {
            if (s[i] == '"') { i = skip_string(s, n, i) - 1; continue; }
            if (s[i] == '{' || s[i] == '[') depth++;
            if (s[i] == '}' || s[i] == ']') { if (--depth == 0) return i + 1; }
        }
        return n;
    }
    while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']') i++;
    return i;
}

/* Finds member `key` of the object starting at s[obj]; returns the value's offset or -1. */
static long member(const char *s, size_t n, size_t obj, const char *key) {
    size_t i = skip_ws(s, n, obj), klen = strlen(key);
    if (i >= n || s[i] != '{') return -1;
    i++;
    for (;;) {
        i = skip_ws(s, n, i);
        if (i >= n || s[i] != '"') return -1;
        size_t kstart = i + 1, kend = skip_string(s, n, i) - 1;
        i = skip_ws(s, n, kend + 1);
        if (i >= n || s[i] != ':') return -1;
        i = skip_ws(s, n, i + 1);
        if (kend - kstart == klen && memcmp(s + kstart, key, klen) == 0) return (long)i;
        i = skip_ws(s, n, skip_value(s, n, i));
        if (i >= n || s[i] != ',') return -1;
        i++;
    }
}

/* Copies the string value at s[at] (without unescaping; enough for names) into out. */
static int string_at(const char *s, size_t n, long at, char *out, size_t cap) {
    if (at < 0 || (size_t)at >= n || s[at] != '"') return 0;
    size_t end = skip_string(s, n, (size_t)at) - 1, len = end - (size_t)at - 1;
    if (len >= cap) len = cap - 1;
    memcpy(out, s + at + 1, len);
    out[len] = 0;
    return 1;
}

/* ---- output helpers ------------------------------------------------------------ */

typedef struct { char *p; size_t len, cap; } sbuf;

static void put(sbuf *b, const char *text, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap + n + 1) * 2;
        char *grown = realloc(b->p, cap);
        if (!grown) return;
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->len, text, n);
    b->len += n;
    b->p[b->len] = 0;
}
static void puts_(sbuf *b, const char *text) { put(b, text, strlen(text)); }
static void put_json_string(sbuf *b, const char *text) {
    puts_(b, "\"");
    for (const char *c = text; *c; c++) {
        char esc[8];
        if (*c == '"' || *c == '\\') { esc[0] = '\\'; esc[1] = *c; put(b, esc, 2); }
        else if ((unsigned char)*c < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", *c); puts_(b, esc); }
        else put(b, c, 1);
    }
    puts_(b, "\"");
}

static cano_buffer take(sbuf *b) { cano_buffer out = {(uint8_t *)b->p, b->len}; return out; }
static cano_buffer text_buffer(const char *text) { sbuf b = {0}; puts_(&b, text); return take(&b); }

/* ---- the ABI callbacks --------------------------------------------------------- */

static void create(cano_bytes config, const cano_host_services *host, void **out, cano_result *result) {
    instance *self = calloc(1, sizeof *self);
    if (!self) { result->status = CANO_STATUS_RETRY; return; }
    self->host = host;
    if (!string_at((const char *)config.ptr, config.len, member((const char *)config.ptr, config.len, 0, "base_url"),
                   self->base_url, sizeof self->base_url) || self->base_url[0] == 0) {
        free(self);
        result->status = CANO_STATUS_PERMANENT;
        result->message = text_buffer("config needs base_url (a string)");
        return;
    }
    *out = self;
    result->status = CANO_STATUS_OK;
}

static void enrich(void *raw, cano_bytes issue, const cano_call_context *context, cano_result *result) {
    (void)context;
    instance *self = raw;
    const char *s = (const char *)issue.ptr;
    size_t n = issue.len;
    char key[256] = "", kind[64] = "", name[256] = "", ns[256] = "";
    if (!string_at(s, n, member(s, n, 0, "aggregationKey"), key, sizeof key)) {
        result->status = CANO_STATUS_PERMANENT;
        result->message = text_buffer("issue has no aggregationKey");
        return;
    }
    long subject = member(s, n, 0, "subject");
    if (subject >= 0) {
        string_at(s, n, member(s, n, (size_t)subject, "kind"), kind, sizeof kind);
        string_at(s, n, member(s, n, (size_t)subject, "name"), name, sizeof name);
        string_at(s, n, member(s, n, (size_t)subject, "namespace"), ns, sizeof ns);
    }

    sbuf out = {0};
    char url[1024];
    snprintf(url, sizeof url, "%s/%s", self->base_url, key);
    puts_(&out, "[{\"type\":\"runbook\",\"title\":\"Runbook\",\"blocks\":[{\"type\":\"links\",\"links\":[{\"title\":");
    char title[300];
    snprintf(title, sizeof title, "Runbook for %s", key);
    put_json_string(&out, title);
    puts_(&out, ",\"url\":");
    put_json_string(&out, url);
    puts_(&out, "}]}");

    if (strcmp(kind, "Pod") == 0 && ns[0] && name[0] && self->host->kube_get) {
        char path[700];
        snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", ns, name);
        int32_t status = 0;
        cano_buffer body = {0};
        cano_bytes p = {(const uint8_t *)path, strlen(path)};
        char line[400];
        if (self->host->kube_get(self->host->host_ctx, p, &status, &body) == 0) {
            char phase[64] = "unknown";
            long st = status == 200 ? member((const char *)body.ptr, body.len, 0, "status") : -1;
            if (st >= 0) string_at((const char *)body.ptr, body.len, member((const char *)body.ptr, body.len, (size_t)st, "phase"), phase, sizeof phase);
            snprintf(line, sizeof line, "Pod phase (via kube_get, HTTP %d): %s", status, phase);
            self->host->free_buffer(self->host->host_ctx, body.ptr);
        } else {
            snprintf(line, sizeof line, "Pod phase: the host refused or could not make the read");
        }
        puts_(&out, ",{\"type\":\"markdown\",\"text\":");
        put_json_string(&out, line);
        puts_(&out, "}");
    }
    puts_(&out, "]}]");
    result->status = CANO_STATUS_OK;
    result->payload = take(&out);
}

static void destroy(void *raw) { free(raw); }
static void free_buffer(void *ptr) { free(ptr); }

static const cano_plugin_descriptor descriptor = {
    .struct_size = sizeof(cano_plugin_descriptor),
    .abi_major = CANO_ABI_MAJOR,
    .abi_minor = 0, /* the lowest minor whose fields this plugin uses: v1.0 hosts load it too */
    .kind = CANO_KIND_ENRICHER,
    .flags = CANO_FLAG_REENTRANT,
    .name = "c-runbook",
    .version = "1.0.0",
    .toolchain = NULL,
    .create = create,
    .deliver = NULL,
    .enrich = enrich,
    .destroy = destroy,
    .free_buffer = free_buffer,
};

EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &descriptor; }
