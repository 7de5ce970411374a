//! Host API v1 (see `docs/HOST_API.md`): the functions a contract may import, their prices,
//! and the per-call state they read and write.

use crate::config::host_cost as cost;
use crate::{CallContext, StorageError, StorageReader};
use hyperchain_types::{Event, TrapKind, WriteSet, limits, sha256};
use std::collections::BTreeSet;
use std::sync::Arc;
use wasmtime::{Caller, Linker, Memory, ResourceLimiter};

/// The import module name of this API version.
pub const HOST_MODULE: &str = "hyperchain_v1";

/// Every host function of v1 with its signature, as [`crate::validate`] describes imports.
pub const HOST_FUNCTIONS: &[(&str, &str)] = &[
    ("input_len", "func () -> i32"),
    ("input_read", "func (i32)"),
    ("output_set", "func (i32, i32)"),
    ("storage_read", "func (i32, i32, i32, i32) -> i32"),
    ("storage_write", "func (i32, i32, i32, i32)"),
    ("storage_remove", "func (i32, i32)"),
    ("caller", "func (i32)"),
    ("self_address", "func (i32)"),
    ("block_height", "func () -> i64"),
    ("block_time", "func () -> i64"),
    ("emit_event", "func (i32, i32, i32, i32)"),
    ("abort", "func (i32, i32)"),
    ("sha256", "func (i32, i32, i32)"),
    ("ed25519_verify", "func (i32, i32, i32, i32) -> i32"),
    ("compute_node_active", "func (i32) -> i32"),
];

/// The signature of host function `name`, if v1 has it.
pub fn host_signature(name: &str) -> Option<&'static str> {
    HOST_FUNCTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
}

/// How a host function ended the call early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostExit {
    #[error("reverted: {0}")]
    Revert(String),
    #[error("trap: {0}")]
    Trap(TrapKind),
    #[error("out of fuel")]
    OutOfFuel,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

type HostResult<T> = Result<T, wasmtime::Error>;

fn exit<T>(e: HostExit) -> HostResult<T> {
    Err(wasmtime::Error::new(e))
}

/// Caps linear memory growth and remembers whether a request was refused, so that a trap
/// following a refused growth is reported as `memory limit`.
pub(crate) struct MemoryCap {
    pub max_bytes: usize,
    pub refused: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> HostResult<bool> {
        let ok = desired <= self.max_bytes;
        self.refused |= !ok;
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> HostResult<bool> {
        // The pool's table size already bounds growth; refusal here is reported like memory.
        Ok(true)
    }
}

/// Per-call state behind the store.
pub(crate) struct HostState {
    pub cap: MemoryCap,
    pub memory: Option<Memory>,
    pub ctx: CallContext,
    pub input: Vec<u8>,
    pub output: Vec<u8>,
    pub reader: Arc<dyn StorageReader>,
    pub reads: BTreeSet<Vec<u8>>,
    /// What `reads` counts against [`limits::MAX_READ_BYTES`].
    pub read_bytes: usize,
    pub writes: WriteSet,
    /// What `writes` counts against [`limits::MAX_WRITE_BYTES`].
    pub write_bytes: usize,
    pub events: Vec<Event>,
}

fn charge(caller: &mut Caller<'_, HostState>, fuel: u64) -> HostResult<()> {
    let left = caller.get_fuel()?;
    if left < fuel {
        caller.set_fuel(0)?;
        return exit(HostExit::OutOfFuel);
    }
    caller.set_fuel(left - fuel)
}

fn memory(caller: &Caller<'_, HostState>) -> HostResult<Memory> {
    match caller.data().memory {
        Some(m) => Ok(m),
        None => exit(HostExit::Trap(TrapKind::MemoryOutOfBounds)),
    }
}

fn read_bytes(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> HostResult<Vec<u8>> {
    let mem = memory(caller)?;
    let (ptr, len) = (ptr as u32 as usize, len as u32 as usize);
    let data = mem.data(&caller);
    match ptr.checked_add(len).and_then(|end| data.get(ptr..end)) {
        Some(bytes) => Ok(bytes.to_vec()),
        None => exit(HostExit::Trap(TrapKind::MemoryOutOfBounds)),
    }
}

fn write_bytes(caller: &mut Caller<'_, HostState>, ptr: i32, bytes: &[u8]) -> HostResult<()> {
    let mem = memory(caller)?;
    let ptr = ptr as u32 as usize;
    let data = mem.data_mut(caller);
    match ptr
        .checked_add(bytes.len())
        .and_then(|end| data.get_mut(ptr..end))
    {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            Ok(())
        }
        None => exit(HostExit::Trap(TrapKind::MemoryOutOfBounds)),
    }
}

/// Reads a length-checked argument: the check happens before the copy is paid for or made.
fn read_limited(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    len: i32,
    max: usize,
    over: TrapKind,
) -> HostResult<Vec<u8>> {
    if len as u32 as usize > max {
        return exit(HostExit::Trap(over));
    }
    charge(caller, cost::PER_BYTE * len as u32 as u64)?;
    read_bytes(caller, ptr, len)
}

fn storage_value(caller: &mut Caller<'_, HostState>, key: &[u8]) -> HostResult<Option<Vec<u8>>> {
    let state = caller.data_mut();
    if !state.reads.contains(key) {
        let read_bytes = state.read_bytes + key.len() + limits::ENTRY_OVERHEAD;
        if state.reads.len() >= limits::MAX_READS || read_bytes > limits::MAX_READ_BYTES {
            return exit(HostExit::Trap(TrapKind::StorageLimit));
        }
        state.reads.insert(key.to_vec());
        state.read_bytes = read_bytes;
    }
    if let Some(v) = state.writes.get(key) {
        return Ok(v.clone());
    }
    match state.reader.read(key) {
        Ok(v) => Ok(v),
        Err(e) => exit(HostExit::Storage(e)),
    }
}

fn record_write(
    caller: &mut Caller<'_, HostState>,
    key: Vec<u8>,
    value: Option<Vec<u8>>,
) -> HostResult<()> {
    let state = caller.data_mut();
    let added = hyperchain_types::write_entry_bytes(&key, value.as_deref());
    let replaced = match state.writes.get(&key) {
        Some(old) => hyperchain_types::write_entry_bytes(&key, old.as_deref()),
        None if state.writes.len() >= limits::MAX_WRITES => {
            return exit(HostExit::Trap(TrapKind::StorageLimit));
        }
        None => 0,
    };
    let write_bytes = state.write_bytes - replaced + added;
    if write_bytes > limits::MAX_WRITE_BYTES {
        return exit(HostExit::Trap(TrapKind::StorageLimit));
    }
    state.writes.insert(key, value);
    state.write_bytes = write_bytes;
    Ok(())
}

/// Registers every v1 host function in `linker`.
pub(crate) fn link(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let m = HOST_MODULE;

    linker.func_wrap(
        m,
        "input_len",
        |mut c: Caller<'_, HostState>| -> HostResult<i32> {
            charge(&mut c, cost::HOST_CALL)?;
            Ok(c.data().input.len() as i32)
        },
    )?;

    linker.func_wrap(
        m,
        "input_read",
        |mut c: Caller<'_, HostState>, dst: i32| -> HostResult<()> {
            let len = c.data().input.len() as u64;
            charge(&mut c, cost::HOST_CALL + cost::PER_BYTE * len)?;
            let input = std::mem::take(&mut c.data_mut().input);
            let r = write_bytes(&mut c, dst, &input);
            c.data_mut().input = input;
            r
        },
    )?;

    linker.func_wrap(
        m,
        "output_set",
        |mut c: Caller<'_, HostState>, ptr: i32, len: i32| -> HostResult<()> {
            charge(&mut c, cost::HOST_CALL)?;
            let out = read_limited(
                &mut c,
                ptr,
                len,
                limits::MAX_OUTPUT,
                TrapKind::OutputTooLarge,
            )?;
            c.data_mut().output = out;
            Ok(())
        },
    )?;

    linker.func_wrap(
        m,
        "storage_read",
        |mut c: Caller<'_, HostState>,
         kptr: i32,
         klen: i32,
         dst: i32,
         cap: i32|
         -> HostResult<i32> {
            charge(&mut c, cost::HOST_CALL + cost::STORAGE_READ)?;
            let key = read_limited(&mut c, kptr, klen, limits::MAX_KEY, TrapKind::StorageLimit)?;
            let Some(value) = storage_value(&mut c, &key)? else {
                return Ok(-1);
            };
            let n = value.len().min(cap as u32 as usize);
            charge(&mut c, cost::PER_BYTE * n as u64)?;
            write_bytes(&mut c, dst, &value[..n])?;
            Ok(value.len() as i32)
        },
    )?;

    linker.func_wrap(
        m,
        "storage_write",
        |mut c: Caller<'_, HostState>,
         kptr: i32,
         klen: i32,
         vptr: i32,
         vlen: i32|
         -> HostResult<()> {
            charge(&mut c, cost::HOST_CALL + cost::STORAGE_WRITE)?;
            let key = read_limited(&mut c, kptr, klen, limits::MAX_KEY, TrapKind::StorageLimit)?;
            if vlen as u32 as usize > limits::MAX_VALUE {
                return exit(HostExit::Trap(TrapKind::StorageLimit));
            }
            charge(&mut c, cost::STORAGE_WRITE_PER_BYTE * vlen as u32 as u64)?;
            let value = read_limited(
                &mut c,
                vptr,
                vlen,
                limits::MAX_VALUE,
                TrapKind::StorageLimit,
            )?;
            record_write(&mut c, key, Some(value))
        },
    )?;

    linker.func_wrap(
        m,
        "storage_remove",
        |mut c: Caller<'_, HostState>, kptr: i32, klen: i32| -> HostResult<()> {
            charge(&mut c, cost::HOST_CALL + cost::STORAGE_REMOVE)?;
            let key = read_limited(&mut c, kptr, klen, limits::MAX_KEY, TrapKind::StorageLimit)?;
            record_write(&mut c, key, None)
        },
    )?;

    linker.func_wrap(
        m,
        "caller",
        |mut c: Caller<'_, HostState>, dst: i32| -> HostResult<()> {
            charge(&mut c, cost::HOST_CALL + cost::PER_BYTE * 32)?;
            let addr = c.data().ctx.caller.0;
            write_bytes(&mut c, dst, &addr)
        },
    )?;

    linker.func_wrap(
        m,
        "self_address",
        |mut c: Caller<'_, HostState>, dst: i32| -> HostResult<()> {
            charge(&mut c, cost::HOST_CALL + cost::PER_BYTE * 32)?;
            let addr = c.data().ctx.contract.0;
            write_bytes(&mut c, dst, &addr)
        },
    )?;

    linker.func_wrap(
        m,
        "block_height",
        |mut c: Caller<'_, HostState>| -> HostResult<i64> {
            charge(&mut c, cost::HOST_CALL)?;
            Ok(c.data().ctx.block_height as i64)
        },
    )?;

    linker.func_wrap(
        m,
        "block_time",
        |mut c: Caller<'_, HostState>| -> HostResult<i64> {
            charge(&mut c, cost::HOST_CALL)?;
            Ok(c.data().ctx.block_time_ms as i64)
        },
    )?;

    linker.func_wrap(
        m,
        "emit_event",
        |mut c: Caller<'_, HostState>,
         tptr: i32,
         tlen: i32,
         dptr: i32,
         dlen: i32|
         -> HostResult<()> {
            charge(&mut c, cost::HOST_CALL + cost::EVENT)?;
            if c.data().events.len() >= limits::MAX_EVENTS {
                return exit(HostExit::Trap(TrapKind::EventLimit));
            }
            let topic = read_limited(&mut c, tptr, tlen, limits::MAX_TOPIC, TrapKind::EventLimit)?;
            let data = read_limited(
                &mut c,
                dptr,
                dlen,
                limits::MAX_EVENT_DATA,
                TrapKind::EventLimit,
            )?;
            charge(
                &mut c,
                cost::EVENT_PER_BYTE * (topic.len() + data.len()) as u64,
            )?;
            c.data_mut().events.push(Event { topic, data });
            Ok(())
        },
    )?;

    linker.func_wrap(
        m,
        "abort",
        |mut c: Caller<'_, HostState>, ptr: i32, len: i32| -> HostResult<()> {
            charge(&mut c, cost::HOST_CALL)?;
            // Only the kept prefix is read (and paid for): a huge message cannot cost the host.
            let kept = (len as u32 as usize).min(limits::MAX_REVERT_MESSAGE);
            charge(&mut c, cost::PER_BYTE * kept as u64)?;
            let bytes = read_bytes(&mut c, ptr, kept as i32)?;
            let msg = String::from_utf8_lossy(&bytes);
            // Truncation can split a character; keep the encoded message within the limit.
            let mut msg = msg.into_owned();
            while msg.len() > limits::MAX_REVERT_MESSAGE {
                msg.pop();
            }
            exit(HostExit::Revert(msg))
        },
    )?;

    linker.func_wrap(
        m,
        "sha256",
        |mut c: Caller<'_, HostState>, ptr: i32, len: i32, dst: i32| -> HostResult<()> {
            let n = len as u32 as u64;
            charge(
                &mut c,
                cost::HOST_CALL + cost::SHA256 + (cost::SHA256_PER_BYTE + cost::PER_BYTE) * n,
            )?;
            let data = read_bytes(&mut c, ptr, len)?;
            write_bytes(&mut c, dst, &sha256(&data).0)
        },
    )?;

    linker.func_wrap(
        m,
        "ed25519_verify",
        |mut c: Caller<'_, HostState>,
         pk: i32,
         msg: i32,
         msg_len: i32,
         sig: i32|
         -> HostResult<i32> {
            let n = msg_len as u32 as u64;
            charge(
                &mut c,
                cost::HOST_CALL + cost::ED25519_VERIFY + cost::PER_BYTE * (n + 96),
            )?;
            let pk = read_bytes(&mut c, pk, 32)?;
            let msg = read_bytes(&mut c, msg, msg_len)?;
            let sig = read_bytes(&mut c, sig, 64)?;
            Ok(crate::crypto::ed25519_verify(&pk, &msg, &sig) as i32)
        },
    )?;

    linker.func_wrap(
        m,
        "compute_node_active",
        |mut c: Caller<'_, HostState>, id: i32| -> HostResult<i32> {
            charge(
                &mut c,
                cost::HOST_CALL + cost::STORAGE_READ + cost::PER_BYTE * 32,
            )?;
            let bytes = read_bytes(&mut c, id, 32)?;
            let mut node_id = [0u8; 32];
            node_id.copy_from_slice(&bytes);
            let expiry = match c.data().reader.compute_node_expiry(&node_id) {
                Ok(expiry) => expiry,
                Err(e) => return exit(HostExit::Storage(e)),
            };
            let now = c.data().ctx.block_time_ms;
            Ok(expiry.is_some_and(|e| now < e) as i32)
        },
    )?;

    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_host_function_is_linked_with_its_documented_signature() {
        let engine = wasmtime::Engine::default();
        let mut linker = Linker::<HostState>::new(&engine);
        link(&mut linker).unwrap();
        let state = HostState {
            cap: MemoryCap {
                max_bytes: 0,
                refused: false,
            },
            memory: None,
            ctx: crate::CallContext {
                caller: Default::default(),
                contract: Default::default(),
                block_height: 0,
                block_time_ms: 0,
            },
            input: Vec::new(),
            output: Vec::new(),
            reader: Arc::new(std::collections::BTreeMap::new()),
            reads: BTreeSet::new(),
            read_bytes: 0,
            writes: WriteSet::new(),
            write_bytes: 0,
            events: Vec::new(),
        };
        let mut store = wasmtime::Store::new(&engine, state);
        let externs: Vec<_> = linker.iter(&mut store).collect();
        let mut linked: Vec<_> = externs
            .into_iter()
            .map(|(module, name, ext)| {
                assert_eq!(module, HOST_MODULE);
                let ty = ext.ty(&store);
                let f = ty.func().expect("functions only");
                let params: Vec<_> = f.params().map(|p| p.to_string()).collect();
                let results: Vec<_> = f.results().map(|p| p.to_string()).collect();
                let mut s = format!("func ({})", params.join(", "));
                if !results.is_empty() {
                    s.push_str(&format!(" -> {}", results.join(", ")));
                }
                (name.to_string(), s)
            })
            .collect();
        linked.sort();
        let mut documented: Vec<_> = HOST_FUNCTIONS
            .iter()
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect();
        documented.sort();
        assert_eq!(linked, documented);
    }
}
