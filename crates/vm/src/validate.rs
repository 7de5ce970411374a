//! Deploy-time validation: decide whether a module may become a contract, and say why not.

use crate::config::{EngineLimits, allowed_features};
use crate::host::{HOST_MODULE, host_signature};
use serde::Serialize;
use wasmtime::wasmparser::{
    self, ExternalKind, FuncType, Payload, TypeRef, ValType, Validator, WasmFeatures,
};

/// Why a module cannot be deployed. Each message names the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// Not a valid WebAssembly module at all.
    #[error("malformed module: {0}")]
    Malformed(String),
    /// Valid WebAssembly, but it uses a feature hyperchain disables.
    #[error("uses a disabled WebAssembly feature: {0}")]
    DisabledFeature(String),
    /// It imports something the host API does not offer.
    #[error("forbidden import {module}::{name}: {reason}")]
    ForbiddenImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A size limit is exceeded.
    #[error("{what} exceeds the limit: {actual} > {limit}")]
    LimitExceeded {
        /// What was measured.
        what: &'static str,
        /// The measured value.
        actual: u64,
        /// The limit.
        limit: u64,
    },
    /// Something the contract model requires or forbids.
    #[error("not a contract: {0}")]
    NotAContract(String),
}

/// An import of the module.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ImportInfo {
    /// Import module.
    pub module: String,
    /// Import name.
    pub name: String,
    /// `func (i32, i32) -> i32` style description.
    pub kind: String,
}

/// An export of the module.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ExportInfo {
    /// Export name.
    pub name: String,
    /// `func`, `memory`, `table`, `global`.
    pub kind: String,
    /// For functions, the signature.
    pub signature: Option<String>,
    /// Whether a call may name it (a `() -> ()` function not starting with `__`).
    pub callable: bool,
}

/// What a module contains, as far as deployment is concerned.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, Default)]
pub struct ModuleInfo {
    /// Size in bytes.
    pub size: usize,
    /// Imports in order.
    pub imports: Vec<ImportInfo>,
    /// Exports in order.
    pub exports: Vec<ExportInfo>,
    /// Callable method names, sorted.
    pub methods: Vec<String>,
    /// Functions (imported + defined).
    pub functions: u32,
    /// Globals (imported + defined).
    pub globals: u32,
    /// Tables.
    pub tables: u32,
    /// Initial memory pages, if the module has a memory.
    pub memory_initial_pages: Option<u64>,
    /// Declared maximum memory pages, if any.
    pub memory_max_pages: Option<u64>,
}

/// Parses `code` and returns what it contains, without judging it. Fails only if it is not
/// well-formed WebAssembly (with every feature enabled).
pub fn inspect(code: &[u8]) -> Result<ModuleInfo, ValidationError> {
    Validator::new_with_features(WasmFeatures::all())
        .validate_all(code)
        .map_err(|e| ValidationError::Malformed(e.to_string()))?;
    collect_info(code).map_err(|e| ValidationError::Malformed(e.to_string()))
}

/// Full deploy-time validation against `limits`. On success returns the module's info.
pub fn validate(code: &[u8], limits: &EngineLimits) -> Result<ModuleInfo, ValidationError> {
    check_limit(
        "code size (bytes)",
        code.len() as u64,
        limits.max_code_size as u64,
    )?;
    let info = inspect(code)?;
    Validator::new_with_features(allowed_features())
        .validate_all(code)
        .map_err(|e| ValidationError::DisabledFeature(e.message().to_string()))?;
    check_imports(&info)?;
    check_limit(
        "functions",
        info.functions as u64,
        limits.max_functions as u64,
    )?;
    check_limit("globals", info.globals as u64, limits.max_globals as u64)?;
    check_limit("tables", info.tables as u64, limits.max_tables as u64)?;
    check_limit(
        "exports",
        info.exports.len() as u64,
        limits.max_exports as u64,
    )?;
    if let Some(initial) = info.memory_initial_pages {
        check_limit(
            "initial memory (pages)",
            initial,
            limits.max_memory_pages as u64,
        )?;
    }
    check_sections(code, limits)?;
    if !info.imports.is_empty()
        && !info
            .exports
            .iter()
            .any(|e| e.name == "memory" && e.kind == "memory")
    {
        return Err(ValidationError::NotAContract(
            "it imports host functions but does not export its memory as `memory`".into(),
        ));
    }
    if info.methods.is_empty() {
        return Err(ValidationError::NotAContract(
            "it exports no callable method (a `() -> ()` function)".into(),
        ));
    }
    Ok(info)
}

fn check_limit(what: &'static str, actual: u64, limit: u64) -> Result<(), ValidationError> {
    if actual > limit {
        Err(ValidationError::LimitExceeded {
            what,
            actual,
            limit,
        })
    } else {
        Ok(())
    }
}

fn check_imports(info: &ModuleInfo) -> Result<(), ValidationError> {
    for imp in &info.imports {
        let forbid = |reason: String| ValidationError::ForbiddenImport {
            module: imp.module.clone(),
            name: imp.name.clone(),
            reason,
        };
        if imp.module != HOST_MODULE {
            return Err(forbid(format!(
                "only `{HOST_MODULE}` functions may be imported"
            )));
        }
        let Some(expected) = host_signature(&imp.name) else {
            return Err(forbid("no such host function in this API version".into()));
        };
        if imp.kind != expected {
            return Err(forbid(format!(
                "expected `{expected}`, found `{}`",
                imp.kind
            )));
        }
    }
    Ok(())
}

/// Limits that need a look inside sections: locals per function, segment counts, table sizes.
fn check_sections(code: &[u8], limits: &EngineLimits) -> Result<(), ValidationError> {
    let malformed = |e: wasmparser::BinaryReaderError| ValidationError::Malformed(e.to_string());
    for payload in wasmparser::Parser::new(0).parse_all(code) {
        match payload.map_err(malformed)? {
            Payload::DataSection(r) => check_limit(
                "data segments",
                r.count() as u64,
                limits.max_data_segments as u64,
            )?,
            Payload::ElementSection(r) => check_limit(
                "element segments",
                r.count() as u64,
                limits.max_element_segments as u64,
            )?,
            Payload::TableSection(r) => {
                for t in r {
                    let t = t.map_err(malformed)?;
                    check_limit(
                        "table size (elements)",
                        t.ty.initial,
                        limits.max_table_elements as u64,
                    )?;
                }
            }
            Payload::StartSection { .. } => {
                return Err(ValidationError::NotAContract(
                    "a start function is not allowed (do set-up in a method)".into(),
                ));
            }
            Payload::CodeSectionEntry(body) => {
                let mut locals = 0u64;
                for l in body.get_locals_reader().map_err(malformed)? {
                    locals += l.map_err(malformed)?.0 as u64;
                }
                check_limit(
                    "locals in one function",
                    locals,
                    limits.max_locals_per_function as u64,
                )?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn collect_info(code: &[u8]) -> Result<ModuleInfo, wasmparser::BinaryReaderError> {
    let mut info = ModuleInfo {
        size: code.len(),
        ..Default::default()
    };
    let mut types: Vec<Option<FuncType>> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new();
    let mut exports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(code) {
        match payload? {
            Payload::TypeSection(r) => {
                for ty in r.into_iter_err_on_gc_types() {
                    types.push(Some(ty?));
                }
            }
            Payload::ImportSection(r) => {
                for imp in r.into_imports() {
                    let imp = imp?;
                    let kind = match imp.ty {
                        TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                            func_types.push(t);
                            describe_func(types.get(t as usize).and_then(|t| t.as_ref()))
                        }
                        TypeRef::Memory(_) => "memory".to_string(),
                        TypeRef::Table(_) => {
                            info.tables += 1;
                            "table".to_string()
                        }
                        TypeRef::Global(_) => {
                            info.globals += 1;
                            "global".to_string()
                        }
                        TypeRef::Tag(_) => "tag".to_string(),
                    };
                    info.imports.push(ImportInfo {
                        module: imp.module.to_string(),
                        name: imp.name.to_string(),
                        kind,
                    });
                }
            }
            Payload::FunctionSection(r) => {
                for t in r {
                    func_types.push(t?);
                }
            }
            Payload::TableSection(r) => info.tables += r.count(),
            Payload::GlobalSection(r) => info.globals += r.count(),
            Payload::MemorySection(r) => {
                for m in r {
                    let m = m?;
                    info.memory_initial_pages.get_or_insert(m.initial);
                    if let Some(max) = m.maximum {
                        info.memory_max_pages.get_or_insert(max);
                    }
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    exports.push(e?);
                }
            }
            _ => {}
        }
    }
    info.functions = func_types.len() as u32;
    for e in exports {
        let (kind, signature, callable) = match e.kind {
            ExternalKind::Func | ExternalKind::FuncExact => {
                let ty = func_types
                    .get(e.index as usize)
                    .and_then(|t| types.get(*t as usize))
                    .and_then(|t| t.as_ref());
                let callable = !e.name.starts_with("__")
                    && ty.is_some_and(|t| t.params().is_empty() && t.results().is_empty());
                ("func", Some(describe_func(ty)), callable)
            }
            ExternalKind::Memory => ("memory", None, false),
            ExternalKind::Table => ("table", None, false),
            ExternalKind::Global => ("global", None, false),
            ExternalKind::Tag => ("tag", None, false),
        };
        if callable {
            info.methods.push(e.name.to_string());
        }
        info.exports.push(ExportInfo {
            name: e.name.to_string(),
            kind: kind.to_string(),
            signature,
            callable,
        });
    }
    info.methods.sort();
    Ok(info)
}

fn val(t: &ValType) -> String {
    match t {
        ValType::I32 => "i32".into(),
        ValType::I64 => "i64".into(),
        ValType::F32 => "f32".into(),
        ValType::F64 => "f64".into(),
        ValType::V128 => "v128".into(),
        ValType::Ref(r) => format!("{r}"),
    }
}

/// `func (i32, i32) -> i32`.
pub(crate) fn describe_func(ty: Option<&FuncType>) -> String {
    let Some(ty) = ty else {
        return "func (non-function type)".into();
    };
    let params: Vec<_> = ty.params().iter().map(val).collect();
    let results: Vec<_> = ty.results().iter().map(val).collect();
    let mut s = format!("func ({})", params.join(", "));
    match results.len() {
        0 => {}
        1 => s.push_str(&format!(" -> {}", results[0])),
        _ => s.push_str(&format!(" -> ({})", results.join(", "))),
    }
    s
}
