/* A genuine ABI v1.0 plugin: struct_size stops at free_buffer (88 bytes), abi_minor 0, and
 * the bytes after it are not zero (a v1.0 plugin may put anything there: its own data).
 * The host must load it and must not read those bytes as v1.1's path_keys. */
#include "fixture.h"

static struct {
    cano_plugin_descriptor d;
} block = {
    .d = {FIXTURE_DESCRIPTOR_FIELDS("v1-0"), .struct_size = CANO_DESCRIPTOR_V1_MIN_SIZE, .abi_minor = 0,
          .path_keys = (const char *const *)(uintptr_t)0xdeadbeef},
};
EXPORT const cano_plugin_descriptor *cano_plugin_entry(void) { return &block.d; }
