/* A valid enricher: returns one enrichment with a markdown block. */
#include "fixture.h"

static void enrich(void *instance, cano_bytes issue, const cano_call_context *context, cano_result *result) {
    (void)instance;
    (void)issue;
    (void)context;
    result->status = CANO_STATUS_OK;
    result->payload = fixture_string("[{\"type\":\"note\",\"title\":\"Runbook\",\"blocks\":[{\"type\":\"markdown\",\"text\":\"Restart it.\"}]}]");
}

static const cano_plugin_descriptor d = {
    FIXTURE_DESCRIPTOR_FIELDS("note-enricher"), .kind = CANO_KIND_ENRICHER, .deliver = NULL, .enrich = enrich};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &d; }
