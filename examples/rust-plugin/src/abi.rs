//! Hand-written `#[repr(C)]` mirror of `Sources/PluginABI/include/cano_plugin.h` (ABI v1).
//!
//! Kept by hand instead of generated with bindgen so the example needs no crates. The
//! layout assertions at the bottom are the same ones `Sources/PluginABI/abi.c` pins on the
//! C side: if either copy drifts, the build fails instead of the plugin corrupting memory.
#![allow(non_camel_case_types, dead_code)]

use core::ffi::{c_char, c_void};

pub const CANO_ABI_MAJOR: u16 = 1;
pub const CANO_ABI_MINOR: u16 = 0;

pub const CANO_KIND_DESTINATION: u32 = 1;
pub const CANO_KIND_ENRICHER: u32 = 2;

pub const CANO_STATUS_OK: i32 = 1;
pub const CANO_STATUS_RETRY: i32 = 2;
pub const CANO_STATUS_PERMANENT: i32 = 3;

pub const CANO_LOG_DEBUG: i32 = 0;
pub const CANO_LOG_INFO: i32 = 1;
pub const CANO_LOG_WARNING: i32 = 2;
pub const CANO_LOG_ERROR: i32 = 3;

pub const CANO_RETRY_AFTER_NONE: i64 = -1;
pub const CANO_FLAG_REENTRANT: u64 = 1 << 0;

/// Borrowed bytes, valid only during the call that receives them.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct cano_bytes {
    pub ptr: *const u8,
    pub len: usize,
}

/// Owned bytes; freed by the allocating side's free function.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct cano_buffer {
    pub ptr: *mut u8,
    pub len: usize,
}

#[repr(C)]
pub struct cano_host_services {
    pub struct_size: u32,
    pub abi_major: u16,
    pub abi_minor: u16,
    pub host_ctx: *mut c_void,
    pub log: Option<unsafe extern "C" fn(*mut c_void, i32, cano_bytes, cano_bytes)>,
    pub kv_get: Option<unsafe extern "C" fn(*mut c_void, cano_bytes, *mut cano_buffer) -> i32>,
    pub kv_put: Option<unsafe extern "C" fn(*mut c_void, cano_bytes, cano_bytes) -> i32>,
    pub kv_delete: Option<unsafe extern "C" fn(*mut c_void, cano_bytes) -> i32>,
    pub counter_add: Option<unsafe extern "C" fn(*mut c_void, cano_bytes, u64)>,
    pub kube_get: Option<unsafe extern "C" fn(*mut c_void, cano_bytes, *mut i32, *mut cano_buffer) -> i32>,
    pub free_buffer: Option<unsafe extern "C" fn(*mut c_void, *mut c_void)>,
}

#[repr(C)]
pub struct cano_call_context {
    pub struct_size: u32,
    pub attempt: u32,
    pub deadline_unix_ms: i64,
    pub idempotency_key: cano_bytes,
    pub reference: cano_bytes,
}

#[repr(C)]
pub struct cano_result {
    pub struct_size: u32,
    pub status: i32,
    pub retry_after_ms: i64,
    pub message: cano_buffer,
    pub reference: cano_buffer,
    pub payload: cano_buffer,
}

pub type CreateFn = unsafe extern "C" fn(cano_bytes, *const cano_host_services, *mut *mut c_void, *mut cano_result);
pub type CallFn = unsafe extern "C" fn(*mut c_void, cano_bytes, *const cano_call_context, *mut cano_result);

#[repr(C)]
pub struct cano_plugin_descriptor {
    pub struct_size: u32,
    pub abi_major: u16,
    pub abi_minor: u16,
    pub kind: u32,
    pub reserved0: u32,
    pub flags: u64,
    pub name: *const c_char,
    pub version: *const c_char,
    pub toolchain: *const c_char,
    pub create: Option<CreateFn>,
    pub deliver: Option<CallFn>,
    pub enrich: Option<CallFn>,
    pub destroy: Option<unsafe extern "C" fn(*mut c_void)>,
    pub free_buffer: Option<unsafe extern "C" fn(*mut c_void)>,
}

/// The descriptor is immutable static data made of pointers to static strings and
/// functions, so sharing it between threads is sound even though raw pointers are not
/// `Sync` by default.
#[repr(transparent)]
pub struct StaticDescriptor(pub cano_plugin_descriptor);
unsafe impl Sync for StaticDescriptor {}

// The C allocator: buffers handed to the host are released through our free_buffer, and
// buffers the host hands us through its own. Declared here rather than via the `libc`
// crate to keep the example dependency-free (every Linux process links libc anyway).
extern "C" {
    pub fn malloc(size: usize) -> *mut c_void;
    pub fn free(ptr: *mut c_void);
}

// Layout pins, identical to Sources/PluginABI/abi.c.
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<usize>() == 8);
    assert!(offset_of!(cano_plugin_descriptor, name) == 24);
    assert!(offset_of!(cano_plugin_descriptor, create) == 48);
    assert!(offset_of!(cano_plugin_descriptor, free_buffer) == 80);
    assert!(size_of::<cano_plugin_descriptor>() == 88);
    assert!(offset_of!(cano_host_services, log) == 16);
    assert!(size_of::<cano_host_services>() == 72);
    assert!(size_of::<cano_call_context>() == 48);
    assert!(size_of::<cano_result>() == 64);
};
