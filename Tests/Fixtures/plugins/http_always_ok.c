/* A destination that POSTs each Issue to the "url" of its config (http://127.0.0.1:PORT/...)
 * over a raw socket, and returns OK whatever the answer: the outcome mapping of
 * `plugins check` must fail it for 429, 500, 400, a hang and a reset. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "fixture.h"

typedef struct { int port; } http_instance;

static void http_create(cano_bytes config, const cano_host_services *host, void **out, cano_result *result) {
    (void)host;
    char text[1024] = {0};
    memcpy(text, config.ptr, config.len < sizeof text - 1 ? config.len : sizeof text - 1);
    const char *at = strstr(text, "127.0.0.1:");
    http_instance *self = calloc(1, sizeof *self);
    self->port = at ? atoi(at + strlen("127.0.0.1:")) : 0;
    if (self->port <= 0) {
        free(self);
        result->status = CANO_STATUS_PERMANENT;
        result->message = fixture_string("config: \"url\" must be http://127.0.0.1:PORT/...");
        return;
    }
    *out = self;
    result->status = CANO_STATUS_OK;
}

static void http_deliver(void *instance, cano_bytes issue, const cano_call_context *context, cano_result *result) {
    http_instance *self = instance;
    struct timeval now;
    gettimeofday(&now, NULL);
    long long left = context->deadline_unix_ms - ((long long)now.tv_sec * 1000 + now.tv_usec / 1000);
    if (left < 1) left = 1;
    struct timeval limit = { left / 1000, (left % 1000) * 1000 };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)self->port) };
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) == 0) {
        char head[256];
        int n = snprintf(head, sizeof head,
                         "POST /capture HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n", issue.len);
        if (write(fd, head, (size_t)n) == n && write(fd, issue.ptr, issue.len) == (ssize_t)issue.len) {
            char answer[4096];
            while (read(fd, answer, sizeof answer) > 0) {}
        }
    }
    close(fd);
    result->status = CANO_STATUS_OK;  /* the bug under test: whatever the answer */
    result->message = fixture_string("sent");
}

static void http_destroy(void *instance) { free(instance); }

static const cano_plugin_descriptor descriptor = {
    FIXTURE_DESCRIPTOR_FIELDS("http-always-ok"),
    .create = http_create,
    .deliver = http_deliver,
    .destroy = http_destroy,
};

EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &descriptor; }
