// Every contract is a valid module that uses only allowed WASM features, imports only from
// `hyperchain_v1` (with the right signatures), and exports `memory` and its methods.

use hyperchain_contracts::{ALL, by_name};
use wasmparser::{
    CompositeInnerType, ExternalKind, FuncType, Parser, Payload, TypeRef, ValType, Validator,
    WasmFeatures,
};

/// What the engine accepts: WebAssembly 2.0 without SIMD (and so without threads either).
fn allowed_features() -> WasmFeatures {
    WasmFeatures::WASM2.difference(WasmFeatures::SIMD)
}

/// Post-MVP features rustc may use: name, the flags to switch off, the flags to keep on.
/// `reference-types` and `bulk-memory` are split: LLVM writes every `call_indirect` table
/// index as a 5-byte LEB once reference types are enabled (`call-indirect-overlong`), and
/// `memory.copy`/`memory.fill` are the `bulk-memory-opt` subset.
const OPTIONAL_FEATURES: &[(&str, WasmFeatures, WasmFeatures)] = &[
    (
        "mutable-global",
        WasmFeatures::MUTABLE_GLOBAL,
        WasmFeatures::empty(),
    ),
    (
        "nontrapping-fptoint",
        WasmFeatures::SATURATING_FLOAT_TO_INT,
        WasmFeatures::empty(),
    ),
    (
        "sign-ext",
        WasmFeatures::SIGN_EXTENSION,
        WasmFeatures::empty(),
    ),
    (
        "multivalue",
        WasmFeatures::MULTI_VALUE,
        WasmFeatures::empty(),
    ),
    (
        "call-indirect-overlong",
        WasmFeatures::REFERENCE_TYPES,
        WasmFeatures::empty(),
    ),
    (
        "reference-types",
        WasmFeatures::REFERENCE_TYPES,
        WasmFeatures::CALL_INDIRECT_OVERLONG,
    ),
    (
        "bulk-memory-opt",
        WasmFeatures::BULK_MEMORY,
        WasmFeatures::empty(),
    ),
    (
        "bulk-memory",
        WasmFeatures::BULK_MEMORY,
        WasmFeatures::BULK_MEMORY_OPT,
    ),
];

fn host_function(name: &str) -> Option<(&'static [ValType], &'static [ValType])> {
    use ValType::{I32, I64};
    Some(match name {
        "input_len" => (&[], &[I32]),
        "input_read" => (&[I32], &[]),
        "output_set" => (&[I32, I32], &[]),
        "storage_read" => (&[I32, I32, I32, I32], &[I32]),
        "storage_write" => (&[I32, I32, I32, I32], &[]),
        "storage_remove" => (&[I32, I32], &[]),
        "caller" | "self_address" => (&[I32], &[]),
        "block_height" | "block_time" => (&[], &[I64]),
        "emit_event" => (&[I32, I32, I32, I32], &[]),
        "abort" => (&[I32, I32], &[]),
        "sha256" => (&[I32, I32, I32], &[]),
        "ed25519_verify" => (&[I32, I32, I32, I32], &[I32]),
        "compute_node_active" => (&[I32], &[I32]),
        _ => return None,
    })
}

fn expected_methods(contract: &str) -> &'static [&'static str] {
    match contract {
        "counter" => &["increment", "get", "reset"],
        "token" => &[
            "init",
            "mint",
            "transfer",
            "balance_of",
            "total_supply",
            "owner",
        ],
        "heavy" => &[
            "sha256_chain",
            "sha256_chain_host",
            "matmul",
            "sort",
            "sha256_chain_store",
            "matmul_store",
            "sort_store",
            "last",
        ],
        "nan" => &[
            "f64_zero_div_zero",
            "f64_sqrt_neg_one",
            "f64_inf_sub_inf",
            "f64_zero_mul_inf",
            "f64_nan_add_nan",
            "f32_zero_div_zero",
            "f32_sqrt_neg_one",
            "f32_inf_sub_inf",
            "f32_zero_mul_inf",
            "f32_nan_add_nan",
            "f64_promote_nan",
            "f32_demote_nan",
            "f64_op",
            "f32_op",
            "store_nans",
        ],
        "adversarial" => &[
            "infinite_loop",
            "infinite_host_loop",
            "memory_bomb",
            "alloc_bomb",
            "memory_grow",
            "deep_recursion",
            "big_output",
            "big_value",
            "big_key",
            "storage_spam",
            "write_set_bomb",
            "read_spam",
            "event_spam",
            "panic_msg",
            "trap_unreachable",
            "div_by_zero",
            "host_oob_read",
            "host_oob_write",
            "host_wrapping_range",
        ],
        "hostcalls" => &[
            "echo",
            "input_len",
            "read",
            "has",
            "write",
            "remove",
            "read_after_write",
            "read_after_remove",
            "write_pattern",
            "read_len",
            "write_then_abort",
            "caller",
            "self_address",
            "block",
            "context",
            "emit",
            "emit_many",
            "sha256",
            "ed25519_verify",
            "compute_node_active",
            "abort",
            "output_twice",
        ],
        "noop" => &["noop"],
        "template" => &["greet", "set_greeting"],
        other => panic!("no expected methods for {other}"),
    }
}

#[derive(Debug, Default)]
struct Module {
    types: Vec<FuncType>,
    /// Type index of every function, imports first.
    functions: Vec<u32>,
    imports: Vec<(String, String, u32)>,
    exports: Vec<(String, ExternalKind, u32)>,
}

fn parse(code: &[u8]) -> Module {
    let mut module = Module::default();
    for payload in Parser::new(0).parse_all(code) {
        match payload.expect("parse") {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for ty in group.expect("type").into_types() {
                        match ty.composite_type.inner {
                            CompositeInnerType::Func(f) => module.types.push(f),
                            other => panic!("unexpected type {other:?}"),
                        }
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.expect("import");
                    let TypeRef::Func(ty) = import.ty else {
                        panic!("non-function import {}.{}", import.module, import.name);
                    };
                    module
                        .imports
                        .push((import.module.to_string(), import.name.to_string(), ty));
                    module.functions.push(ty);
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    module.functions.push(ty.expect("function"));
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.expect("export");
                    module
                        .exports
                        .push((export.name.to_string(), export.kind, export.index));
                }
            }
            _ => {}
        }
    }
    module
}

#[test]
fn all_contracts_are_listed() {
    let names: Vec<_> = ALL.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "counter",
            "token",
            "heavy",
            "nan",
            "adversarial",
            "hostcalls",
            "noop",
            "template"
        ]
    );
    for (name, code) in ALL {
        assert_eq!(by_name(name), Some(*code));
        assert!(code.starts_with(b"\0asm"), "{name} is not a wasm module");
    }
    assert_eq!(by_name("missing"), None);
}

#[test]
fn contracts_validate_with_the_allowed_features() {
    for (name, code) in ALL {
        Validator::new_with_features(allowed_features())
            .validate_all(code)
            .unwrap_or_else(|err| panic!("{name} is invalid: {err}"));
    }
}

#[test]
fn report_features_and_sizes() {
    for (name, code) in ALL {
        let used: Vec<_> = OPTIONAL_FEATURES
            .iter()
            .filter(|(_, off, keep)| {
                let features = allowed_features().difference(*off).union(*keep);
                Validator::new_with_features(features)
                    .validate_all(code)
                    .is_err()
            })
            .map(|(feature, _, _)| *feature)
            .collect();
        eprintln!(
            "{name}: {} bytes, post-MVP features used: {used:?}",
            code.len()
        );
    }
}

#[test]
fn contracts_import_only_host_api_v1() {
    for (name, code) in ALL {
        let module = parse(code);
        for (import_module, field, ty) in &module.imports {
            assert_eq!(
                import_module, "hyperchain_v1",
                "{name} imports {import_module}.{field}"
            );
            let (params, results) = host_function(field)
                .unwrap_or_else(|| panic!("{name} imports unknown host function {field}"));
            let ty = &module.types[*ty as usize];
            assert_eq!(ty.params(), params, "{name}: parameters of {field}");
            assert_eq!(ty.results(), results, "{name}: results of {field}");
        }
    }
}

#[test]
fn contracts_export_memory_and_their_methods() {
    for (name, code) in ALL {
        let module = parse(code);
        assert!(
            module
                .exports
                .iter()
                .any(|(export, kind, _)| export == "memory" && *kind == ExternalKind::Memory),
            "{name} does not export memory"
        );
        let methods: Vec<&str> = module
            .exports
            .iter()
            .filter(|(_, kind, _)| *kind == ExternalKind::Func)
            .map(|(export, _, _)| export.as_str())
            .collect();
        let mut expected = expected_methods(name).to_vec();
        let mut actual = methods.clone();
        expected.sort_unstable();
        actual.sort_unstable();
        assert_eq!(actual, expected, "{name}: exported methods");
        for (export, kind, index) in &module.exports {
            match kind {
                ExternalKind::Func => {
                    let ty = &module.types[module.functions[*index as usize] as usize];
                    assert!(
                        ty.params().is_empty() && ty.results().is_empty(),
                        "{name}.{export} is not () -> ()"
                    );
                }
                ExternalKind::Memory => assert_eq!(export, "memory"),
                // The linker's `__data_end`/`__heap_base` globals; reserved names, not methods.
                _ => assert!(export.starts_with("__"), "{name} exports {export}"),
            }
        }
    }
}

#[test]
fn noop_imports_nothing() {
    let module = parse(by_name("noop").unwrap());
    assert!(module.imports.is_empty());
}
