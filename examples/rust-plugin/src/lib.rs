//! jsonl-rust: an example cano-collector destination plugin in Rust, with no crates.
//!
//! It appends every Issue, as one JSON line, to the file named by its config
//! (`{"path": "/var/lib/cano-collector/issues.jsonl"}`) and returns the byte offset of that
//! line as the delivery reference. Build with `cargo build --release --offline`; the plugin
//! is `target/release/libjsonl_rust.so`.
//!
//! Rules this file follows (docs/plugins.md explains them):
//! - every `extern "C"` function runs its body inside `catch_unwind`: a panic must never
//!   unwind into the host (that is undefined behaviour and would take the collector down);
//! - buffers handed to the host are `malloc`ed and released by our `free_buffer`;
//! - borrowed input (`cano_bytes`) is copied before the call returns if it is kept.

mod abi;

use abi::*;
use core::ffi::{c_char, c_void};
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// One configured destination; the host may create several from this library.
struct Instance {
    path: PathBuf,
    host: *const cano_host_services,
}

/// The outcome of one call before it is written into the host's `cano_result`.
struct Outcome {
    status: i32,
    message: String,
    reference: Option<String>,
}

impl Outcome {
    fn ok(message: &str) -> Self {
        Outcome { status: CANO_STATUS_OK, message: message.into(), reference: None }
    }
    fn retry(message: impl Into<String>) -> Self {
        Outcome { status: CANO_STATUS_RETRY, message: message.into(), reference: None }
    }
    fn permanent(message: impl Into<String>) -> Self {
        Outcome { status: CANO_STATUS_PERMANENT, message: message.into(), reference: None }
    }

    /// Writes into the host's zeroed result; strings become malloc'd buffers.
    unsafe fn write(self, result: *mut cano_result) {
        if result.is_null() {
            return;
        }
        (*result).status = self.status;
        (*result).retry_after_ms = CANO_RETRY_AFTER_NONE;
        (*result).message = malloc_buffer(self.message.as_bytes());
        if let Some(reference) = self.reference {
            (*result).reference = malloc_buffer(reference.as_bytes());
        }
    }
}

/// Copies `bytes` into a malloc'd buffer the host frees with our `free_buffer`.
unsafe fn malloc_buffer(bytes: &[u8]) -> cano_buffer {
    if bytes.is_empty() {
        return cano_buffer { ptr: core::ptr::null_mut(), len: 0 };
    }
    let ptr = malloc(bytes.len()) as *mut u8;
    if ptr.is_null() {
        return cano_buffer { ptr, len: 0 };
    }
    core::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, bytes.len());
    cano_buffer { ptr, len: bytes.len() }
}

/// Views borrowed host bytes; empty when the pointer is null.
unsafe fn borrowed<'a>(bytes: cano_bytes) -> &'a [u8] {
    if bytes.ptr.is_null() || bytes.len == 0 {
        &[]
    } else {
        core::slice::from_raw_parts(bytes.ptr, bytes.len)
    }
}

/// The panic message, for the result the host logs.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("jsonl-rust panicked: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("jsonl-rust panicked: {s}")
    } else {
        "jsonl-rust panicked".into()
    }
}

unsafe fn host_log(host: *const cano_host_services, level: i32, message: &str) {
    if host.is_null() {
        return;
    }
    if let Some(log) = (*host).log {
        let m = cano_bytes { ptr: message.as_ptr(), len: message.len() };
        log((*host).host_ctx, level, m, cano_bytes { ptr: core::ptr::null(), len: 0 });
    }
}

// ---- config: only the top-level string "path" is needed, so a small JSON scanner does.

/// Reads the top-level string member `key` of a JSON object.
/// Ok(None) when absent; Err when the JSON is malformed or the member is not a string.
fn json_get_string(json: &[u8], key: &str) -> Result<Option<String>, &'static str> {
    let mut s = Scanner { b: json, i: 0 };
    s.ws();
    if s.b.is_empty() {
        return Ok(None);
    }
    s.expect(b'{')?;
    s.ws();
    if s.peek() == Some(b'}') {
        return Ok(None);
    }
    loop {
        s.ws();
        let name = s.string()?;
        s.ws();
        s.expect(b':')?;
        s.ws();
        if name == key {
            return if s.peek() == Some(b'"') { s.string().map(Some) } else { Err("not a string") };
        }
        s.skip_value()?;
        s.ws();
        match s.next() {
            Some(b',') => continue,
            Some(b'}') => return Ok(None),
            _ => return Err("malformed JSON object"),
        }
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        self.i += 1;
        c
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }
    fn expect(&mut self, c: u8) -> Result<(), &'static str> {
        if self.next() == Some(c) { Ok(()) } else { Err("malformed JSON") }
    }
    fn string(&mut self) -> Result<String, &'static str> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.next().ok_or("unterminated string")? {
                b'"' => break,
                b'\\' => match self.next().ok_or("unterminated string")? {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'u' => {
                        let hex = self.b.get(self.i..self.i + 4).ok_or("bad \\u escape")?;
                        let code = u32::from_str_radix(std::str::from_utf8(hex).map_err(|_| "bad \\u escape")?, 16)
                            .map_err(|_| "bad \\u escape")?;
                        self.i += 4;
                        let ch = char::from_u32(code).ok_or("unsupported \\u escape (surrogate)")?;
                        out.extend_from_slice(ch.to_string().as_bytes());
                    }
                    other => out.push(other),
                },
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| "string is not UTF-8")
    }
    fn skip_value(&mut self) -> Result<(), &'static str> {
        match self.peek().ok_or("missing value")? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek().ok_or("unterminated value")? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Ok(());
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                while !matches!(self.peek(), None | Some(b',' | b'}' | b']')) {
                    self.i += 1;
                }
                Ok(())
            }
        }
    }
}

// ---- the descriptor's functions

fn create_instance(config: &[u8], host: *const cano_host_services) -> Result<Instance, Outcome> {
    let path = match json_get_string(config, "path") {
        Ok(Some(path)) => PathBuf::from(path),
        Ok(None) => return Err(Outcome::permanent("config: missing required key \"path\" (the file to append Issues to)")),
        Err(why) => return Err(Outcome::permanent(format!("config: \"path\" must be a string in a JSON object ({why})"))),
    };
    if !path.is_absolute() {
        return Err(Outcome::permanent("config: \"path\" must be an absolute file path"));
    }
    // Validate only (no slow I/O in create): the directory must exist.
    if !path.parent().is_some_and(|dir| dir.is_dir()) {
        return Err(Outcome::permanent("config: the directory of \"path\" does not exist"));
    }
    Ok(Instance { path, host })
}

unsafe extern "C" fn plugin_create(
    config_json: cano_bytes,
    host: *const cano_host_services,
    instance_out: *mut *mut c_void,
    result: *mut cano_result,
) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        if instance_out.is_null() {
            return Outcome::permanent("create called without an output pointer");
        }
        match create_instance(borrowed(config_json), host) {
            Ok(instance) => {
                *instance_out = Box::into_raw(Box::new(instance)) as *mut c_void;
                host_log(host, CANO_LOG_INFO, "jsonl-rust destination ready");
                Outcome::ok("created")
            }
            Err(outcome) => outcome,
        }
    }))
    .unwrap_or_else(|payload| Outcome::permanent(panic_message(payload)));
    outcome.write(result);
}

fn deliver(instance: &Instance, issue: &[u8], reference: &[u8]) -> Outcome {
    if issue.first() != Some(&b'{') {
        return Outcome::permanent("the Issue is not a JSON object");
    }
    let mut line = Vec::with_capacity(issue.len() + 1);
    line.extend_from_slice(issue);
    line.push(b'\n');
    // O_APPEND plus a single write: concurrent writers never interleave lines.
    let mut file = match OpenOptions::new().append(true).create(true).open(&instance.path) {
        Ok(file) => file,
        Err(error) => {
            return match error.raw_os_error() {
                // ENOSPC, EINTR, EIO, EMFILE, ENFILE: may pass on a later attempt.
                Some(28 | 4 | 5 | 24 | 23) => Outcome::retry("cannot open the output file (transient)"),
                _ => Outcome::permanent("cannot open the output file"),
            };
        }
    };
    let offset = file.seek(SeekFrom::End(0)).unwrap_or(0);
    if file.write_all(&line).is_err() {
        return Outcome::retry("write failed while appending the Issue");
    }
    // On a resolve the host hands back the first delivery's reference: keep it.
    let reference = if reference.is_empty() {
        format!("offset:{offset}")
    } else {
        String::from_utf8_lossy(reference).into_owned()
    };
    let counted = b"lines_written";
    unsafe {
        if let Some(add) = instance.host.as_ref().and_then(|h| h.counter_add) {
            add((*instance.host).host_ctx, cano_bytes { ptr: counted.as_ptr(), len: counted.len() }, 1);
        }
    }
    Outcome { status: CANO_STATUS_OK, message: "appended".into(), reference: Some(reference) }
}

unsafe extern "C" fn plugin_deliver(
    instance: *mut c_void,
    issue_json: cano_bytes,
    context: *const cano_call_context,
    result: *mut cano_result,
) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let Some(instance) = (instance as *const Instance).as_ref() else {
            return Outcome::permanent("deliver called without an instance");
        };
        let reference = context.as_ref().map(|c| borrowed(c.reference)).unwrap_or(&[]);
        deliver(instance, borrowed(issue_json), reference)
    }))
    .unwrap_or_else(|payload| Outcome::retry(panic_message(payload)));
    outcome.write(result);
}

unsafe extern "C" fn plugin_destroy(instance: *mut c_void) {
    // Dropping can't realistically panic here, but the rule is: no unwinding across the ABI.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if !instance.is_null() {
            drop(Box::from_raw(instance as *mut Instance));
        }
    }));
}

unsafe extern "C" fn plugin_free_buffer(ptr: *mut c_void) {
    free(ptr);
}

static DESCRIPTOR: StaticDescriptor = StaticDescriptor(cano_plugin_descriptor {
    struct_size: core::mem::size_of::<cano_plugin_descriptor>() as u32,
    abi_major: CANO_ABI_MAJOR,
    abi_minor: CANO_ABI_MINOR,
    kind: CANO_KIND_DESTINATION,
    reserved0: 0,
    flags: 0, // the host serialises calls on one instance
    name: b"jsonl-rust\0".as_ptr() as *const c_char,
    version: concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char,
    toolchain: core::ptr::null(), // only Swift plugins name a toolchain
    create: Some(plugin_create),
    deliver: Some(plugin_deliver),
    enrich: None,
    destroy: Some(plugin_destroy),
    free_buffer: Some(plugin_free_buffer),
});

/// The one exported symbol. Returning a pointer to static data cannot panic, so no
/// unwind barrier is needed here.
#[no_mangle]
pub extern "C" fn cano_plugin_entry() -> *const cano_plugin_descriptor {
    &DESCRIPTOR.0
}
