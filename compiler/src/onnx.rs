//! `onnx("…")` models checked against their file when it is there: the graph's input
//! names and element types against the declared `inputs` (typed by `schema`). The file
//! comes through [`FileSystem::read_model`], so the compiler still does no IO, and the
//! editor sees what `mlpc check` sees. Only the few fields needed are decoded, with
//! hand-written prost messages (as `train/src/onnx/` does for export); any bytes give a
//! result or a diagnostic, never a panic.

use crate::ast::{ExprKind, ItemKind};
use crate::check::{Analysis, Trainer};
use crate::diagnostic::{Code, Diagnostic};
use crate::files::{resolve, FileSystem, Module};
use crate::source::{FileId, Span};
use crate::types::Type;
use prost::Message;

/// `ModelProto`: only `graph`.
#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
}

/// `GraphProto`: the initializers' names (older exporters list them among the inputs)
/// and the inputs.
#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<NamedProto>,
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueInfoProto>,
}

/// `TensorProto`, of which only `name` is read.
#[derive(Clone, PartialEq, Message)]
struct NamedProto {
    #[prost(string, tag = "8")]
    name: String,
}

#[derive(Clone, PartialEq, Message)]
struct ValueInfoProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeProto {
    #[prost(message, optional, tag = "1")]
    tensor_type: Option<TensorTypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorTypeProto {
    #[prost(int32, tag = "1")]
    elem_type: i32,
}

/// A graph input: its name and `TensorProto.DataType` (0 when it is not a tensor or
/// the type is not given).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphInput {
    pub name: String,
    pub elem_type: i32,
}

/// The inputs a caller feeds to the model in `bytes`: the graph's inputs that are not
/// initializers. `Err` says why the bytes are not an ONNX model.
pub fn graph_inputs(bytes: &[u8]) -> Result<Vec<GraphInput>, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    let model = ModelProto::decode(bytes).map_err(|e| format!("its bytes do not decode ({e})"))?;
    let graph = model.graph.ok_or("it holds no graph")?;
    let initializers: std::collections::HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    Ok(graph
        .input
        .iter()
        .filter(|i| !initializers.contains(i.name.as_str()))
        .map(|i| GraphInput {
            name: i.name.clone(),
            elem_type: i.r#type.as_ref().and_then(|t| t.tensor_type.as_ref()).map_or(0, |t| t.elem_type),
        })
        .collect())
}

/// `TensorProto.DataType`'s name for an element type.
pub fn elem_name(t: i32) -> &'static str {
    match t {
        1 => "float",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "double",
        12 => "uint32",
        13 => "uint64",
        14 => "complex64",
        15 => "complex128",
        16 => "bfloat16",
        _ => "an unknown type",
    }
}

/// Whether an input of element type `t` can take a column of type `ty`, as the runtime
/// feeds it (`runtime/src/training.rs`, `accepts`): ints as float, double or a 32/64-bit
/// int, floats as float or double, bools as bool, float, double or int64, categories as
/// strings. An unknown element type is not judged.
pub fn accepts(ty: Type, t: i32) -> bool {
    const FLOAT: i32 = 1;
    const INT32: i32 = 6;
    const INT64: i32 = 7;
    const STRING: i32 = 8;
    const BOOL: i32 = 9;
    const DOUBLE: i32 = 11;
    if t == 0 {
        return true;
    }
    match ty {
        Type::Int => matches!(t, FLOAT | DOUBLE | INT64 | INT32),
        Type::Float | Type::Percent | Type::Duration => matches!(t, FLOAT | DOUBLE),
        Type::Bool => matches!(t, BOOL | FLOAT | DOUBLE | INT64),
        Type::Category | Type::String => t == STRING,
        Type::Unknown => true,
        _ => false,
    }
}

/// The element type to export a column of this type with, for the help line.
fn export_as(ty: Type) -> &'static str {
    match ty {
        Type::Int | Type::Float | Type::Percent | Type::Duration | Type::Bool => "float",
        Type::Category | Type::String => "string",
        _ => "a tensor type",
    }
}

/// Checks every `onnx("…")` model of the program against its file, when the file system
/// serves model files: a missing or unreadable file is W0002 (`mlpc run` fails on it),
/// a file that is not ONNX or whose inputs disagree with the declaration is E0023.
/// A model whose declaration already has an error is left alone: its `inputs` may be
/// incomplete.
pub fn check_files(
    modules: &[Module],
    sources: &crate::source::Sources,
    analysis: &Analysis,
    earlier: &[Diagnostic],
    fs: &dyn FileSystem,
) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for m in &analysis.models {
        let Trainer::Onnx { path } = &m.trainer else { continue };
        let file = m.site.file;
        let Some((item, span)) = path_span(modules, file, &m.name) else { continue };
        if earlier.iter().any(|d| {
            d.is_error()
                && d.primary.file == file
                && d.primary.span.start >= item.start
                && d.primary.span.end <= item.end
        }) {
            continue;
        }
        let target = resolve(&sources.get(file).path, path);
        let Some(read) = fs.read_model(&target) else { continue };
        let bytes = match read {
            Ok(b) => b,
            Err(why) => {
                diags.push(
                    Diagnostic::new(Code::W0002, file, span, format!("model `{}`: cannot read `{target}`: {why}", m.name))
                        .label("no model file here")
                        .help("`mlpc run` needs this file; put the exported model there (paths are relative to the .mlp file)"),
                );
                continue;
            }
        };
        let inputs = match graph_inputs(&bytes) {
            Ok(i) => i,
            Err(why) => {
                diags.push(
                    Diagnostic::new(
                        Code::E0023,
                        file,
                        span,
                        format!("model `{}`: `{target}` is not an ONNX model: {why}", m.name),
                    )
                    .label("not an ONNX model")
                    .help("point `onnx(…)` at the `.onnx` file the model was exported to"),
                );
                continue;
            }
        };
        // One error per mismatch, worded as `mlpc run` words them.
        let names: Vec<String> = inputs.iter().map(|i| format!("`{}` ({})", i.name, elem_name(i.elem_type))).collect();
        let listed = if names.is_empty() { "none".to_string() } else { names.join(", ") };
        let mut problems: Vec<(String, String)> = Vec::new();
        for c in &m.inputs {
            match inputs.iter().find(|i| i.name == c.name) {
                None => problems.push((
                    format!("input `{}` ({}) is declared, but the model has no such input", c.name, c.ty),
                    format!(
                        "the file's inputs are {listed}; list those in `inputs`, or export the model with `{}`",
                        c.name
                    ),
                )),
                Some(i) if !accepts(c.ty, i.elem_type) => problems.push((
                    format!("input `{}`: declared {}, the model takes {}", c.name, c.ty, elem_name(i.elem_type)),
                    format!(
                        "export `{}` as {} (how mlpc sends a `{}` column), or declare it so",
                        c.name,
                        export_as(c.ty),
                        c.ty
                    ),
                )),
                Some(_) => {}
            }
        }
        for i in inputs.iter().filter(|i| !m.inputs.iter().any(|c| c.name == i.name)) {
            problems.push((
                format!(
                    "the model's input `{}` ({}) is not among the declared `inputs`",
                    i.name,
                    elem_name(i.elem_type)
                ),
                format!(
                    "add `{}` to `inputs` (a column of the `schema` dataset), or export the model without it",
                    i.name
                ),
            ));
        }
        for (message, help) in problems {
            diags.push(
                Diagnostic::new(Code::E0023, file, span, message)
                    .label(format!("the file of model `{}` does not match its declared inputs", m.name))
                    .help(help),
            );
        }
    }
    diags
}

/// The span of the declaration of model `name` in `file`, and of the path string in its
/// `onnx("…")`.
fn path_span(modules: &[Module], file: FileId, name: &str) -> Option<(Span, Span)> {
    let module = modules.iter().find(|m| m.file == file)?;
    module.ast.items.iter().find_map(|i| match &i.kind {
        ItemKind::Model { name: n, algorithm, .. } if n.name == name && algorithm.func.name == "onnx" => algorithm
            .args
            .first()
            .filter(|a| matches!(a.value.kind, ExprKind::Str { .. }))
            .map(|a| (i.span, a.value.span)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(inputs: &[(&str, i32)], initializers: &[&str]) -> Vec<u8> {
        ModelProto {
            graph: Some(GraphProto {
                initializer: initializers.iter().map(|n| NamedProto { name: n.to_string() }).collect(),
                input: inputs
                    .iter()
                    .map(|(n, t)| ValueInfoProto {
                        name: n.to_string(),
                        r#type: Some(TypeProto { tensor_type: Some(TensorTypeProto { elem_type: *t }) }),
                    })
                    .collect(),
            }),
        }
        .encode_to_vec()
    }

    #[test]
    fn reads_the_inputs_that_are_not_initializers() {
        let bytes = model(&[("amount", 1), ("channel", 8), ("w", 1)], &["w"]);
        let got = graph_inputs(&bytes).unwrap();
        assert_eq!(
            got,
            vec![
                GraphInput { name: "amount".into(), elem_type: 1 },
                GraphInput { name: "channel".into(), elem_type: 8 }
            ]
        );
    }

    #[test]
    fn any_bytes_give_inputs_or_an_error() {
        assert!(graph_inputs(b"").is_err());
        assert!(graph_inputs(b"not a model at all \xff\xfe").is_err());
        assert!(graph_inputs(&[0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        let good = model(&[("a", 1)], &[]);
        for cut in 0..good.len() {
            let _ = graph_inputs(&good[..cut]);
        }
        let mut x: u32 = 7;
        for _ in 0..2000 {
            let bytes: Vec<u8> = (0..(x % 64))
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = graph_inputs(&bytes);
        }
    }

    #[test]
    fn types_follow_the_runtime() {
        assert!(accepts(Type::Int, 1) && accepts(Type::Int, 7) && !accepts(Type::Int, 8));
        assert!(accepts(Type::Category, 8) && !accepts(Type::Category, 1));
        assert!(accepts(Type::Bool, 9) && !accepts(Type::Float, 9));
    }
}
