//! Typed call arguments on the command line, encoded the way the contract SDK decodes them,
//! and typed decoding of call outputs.

use anyhow::{Context, Result, anyhow, bail};
use hyperchain_sdk::{Decode, encode};

/// The argument and output types the CLI understands.
pub const TYPES_HELP: &str = "\
Arguments are TYPE:VALUE, encoded as the contract SDK decodes them:
  u8 u16 u32 u64 u128 i8 i16 i32 i64 i128   little-endian integers       u64:5
  bool                                       one byte                      bool:true
  str                                        u32 length + UTF-8            str:hello
  bytes                                      u32 length + bytes (hex)      bytes:0xdeadbeef
  addr | hash                                32 raw bytes (64 hex digits)  addr:0x01…
  raw                                        raw bytes, no length prefix   raw:0x0102
The arguments are concatenated in order (the SDK decodes a method's arguments as a tuple).";

fn hex_bytes(s: &str) -> Result<Vec<u8>> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s)).with_context(|| format!("`{s}` is not hex"))
}

/// Encodes one `TYPE:VALUE` argument.
pub fn encode_arg(arg: &str) -> Result<Vec<u8>> {
    let (ty, value) = arg
        .split_once(':')
        .ok_or_else(|| anyhow!("argument `{arg}` must be TYPE:VALUE, e.g. u64:5 (see --help)"))?;
    let bad = |e: &dyn std::fmt::Display| anyhow!("argument `{arg}`: {e}");
    Ok(match ty {
        "u8" => encode(&value.parse::<u8>().map_err(|e| bad(&e))?),
        "u16" => encode(&value.parse::<u16>().map_err(|e| bad(&e))?),
        "u32" => encode(&value.parse::<u32>().map_err(|e| bad(&e))?),
        "u64" => encode(&value.parse::<u64>().map_err(|e| bad(&e))?),
        "u128" => encode(&value.parse::<u128>().map_err(|e| bad(&e))?),
        "i8" => encode(&value.parse::<i8>().map_err(|e| bad(&e))?),
        "i16" => encode(&value.parse::<i16>().map_err(|e| bad(&e))?),
        "i32" => encode(&value.parse::<i32>().map_err(|e| bad(&e))?),
        "i64" => encode(&value.parse::<i64>().map_err(|e| bad(&e))?),
        "i128" => encode(&value.parse::<i128>().map_err(|e| bad(&e))?),
        "bool" => encode(&value.parse::<bool>().map_err(|e| bad(&e))?),
        "str" => encode(&value.to_string()),
        "bytes" => encode(&hex_bytes(value)?),
        "raw" => hex_bytes(value)?,
        "addr" | "hash" => {
            let b = hex_bytes(value)?;
            if b.len() != 32 {
                bail!(
                    "argument `{arg}`: expected 32 bytes (64 hex digits), got {}",
                    b.len()
                );
            }
            b
        }
        other => bail!("argument `{arg}`: unknown type `{other}` (see --help for the list)"),
    })
}

/// Encodes a list of arguments as one call input.
pub fn encode_args(args: &[String]) -> Result<Vec<u8>> {
    let mut input = Vec::new();
    for a in args {
        input.extend(encode_arg(a)?);
    }
    Ok(input)
}

fn take<T: Decode + ToString>(buf: &mut &[u8]) -> Result<String> {
    T::decode(buf)
        .map(|v| v.to_string())
        .map_err(|e| anyhow!("{e}"))
}

fn decode_one(ty: &str, buf: &mut &[u8]) -> Result<serde_json::Value> {
    use serde_json::Value;
    if let Some(inner) = ty.strip_prefix('?') {
        let tag = u8::decode(buf).map_err(|e| anyhow!("{e}"))?;
        return match tag {
            0 => Ok(Value::Null),
            1 => decode_one(inner, buf),
            t => bail!("invalid option tag {t}"),
        };
    }
    let num = |s: String| Value::String(s);
    Ok(match ty {
        // Integers as strings: JSON numbers lose precision beyond 2^53.
        "u8" => num(take::<u8>(buf)?),
        "u16" => num(take::<u16>(buf)?),
        "u32" => num(take::<u32>(buf)?),
        "u64" => num(take::<u64>(buf)?),
        "u128" => num(take::<u128>(buf)?),
        "i8" => num(take::<i8>(buf)?),
        "i16" => num(take::<i16>(buf)?),
        "i32" => num(take::<i32>(buf)?),
        "i64" => num(take::<i64>(buf)?),
        "i128" => num(take::<i128>(buf)?),
        "bool" => Value::Bool(bool::decode(buf).map_err(|e| anyhow!("{e}"))?),
        "str" => Value::String(String::decode(buf).map_err(|e| anyhow!("{e}"))?),
        "bytes" => Value::String(format!(
            "0x{}",
            hex::encode(Vec::<u8>::decode(buf).map_err(|e| anyhow!("{e}"))?)
        )),
        "addr" | "hash" => Value::String(format!(
            "0x{}",
            hex::encode(<[u8; 32]>::decode(buf).map_err(|e| anyhow!("{e}"))?)
        )),
        other => {
            bail!("unknown output type `{other}` (use the argument types, `?T` for Option<T>)")
        }
    })
}

/// Decodes `output` as the comma-separated list of types `spec` (e.g. `u64` or `addr,?u64`).
pub fn decode_output(spec: &str, output: &[u8]) -> Result<serde_json::Value> {
    let mut buf = output;
    let mut values = Vec::new();
    for ty in spec.split(',').map(str::trim) {
        values.push(
            decode_one(ty, &mut buf).with_context(|| format!("decoding the output as `{spec}`"))?,
        );
    }
    if !buf.is_empty() {
        bail!(
            "decoding the output as `{spec}`: {} bytes left over",
            buf.len()
        );
    }
    Ok(if values.len() == 1 {
        values.remove(0)
    } else {
        serde_json::Value::Array(values)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_encode_like_the_sdk() {
        assert_eq!(encode_arg("u64:5").unwrap(), 5u64.to_le_bytes());
        assert_eq!(encode_arg("str:hi").unwrap(), [2, 0, 0, 0, b'h', b'i']);
        assert_eq!(encode_arg("bytes:0x0102").unwrap(), [2, 0, 0, 0, 1, 2]);
        assert_eq!(encode_arg("raw:0102").unwrap(), [1, 2]);
        assert_eq!(
            encode_arg(&format!("addr:{}", "ab".repeat(32))).unwrap(),
            [0xab; 32]
        );
        assert_eq!(
            encode_args(&["u32:1".into(), "bool:true".into()]).unwrap(),
            [1, 0, 0, 0, 1]
        );
    }

    #[test]
    fn bad_arguments_say_why() {
        for (arg, msg) in [
            ("5", "must be TYPE:VALUE"),
            ("u8:300", "u8:300"),
            ("float:1.0", "unknown type `float`"),
            ("addr:0x01", "expected 32 bytes"),
            ("bytes:xyz", "not hex"),
        ] {
            let e = format!("{:#}", encode_arg(arg).unwrap_err());
            assert!(e.contains(msg), "{arg}: {e}");
        }
    }

    #[test]
    fn outputs_decode_by_type() {
        assert_eq!(
            decode_output("u64", &7u64.to_le_bytes()).unwrap(),
            serde_json::json!("7")
        );
        let mut two = 1u64.to_le_bytes().to_vec();
        two.extend([1, 9, 0, 0, 0]);
        assert_eq!(
            decode_output("u64, ?u32", &two).unwrap(),
            serde_json::json!(["1", "9"])
        );
        assert!(
            decode_output("u32", &7u64.to_le_bytes())
                .unwrap_err()
                .to_string()
                .contains("left over")
        );
        assert!(decode_output("u64", &[1]).is_err());
    }
}
