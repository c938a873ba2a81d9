//! How an argument type becomes the JSON Schema the model sees: schemars' derivation (draft
//! 2020-12, subschemas inlined, doc comments of fields as descriptions), then tidied to read like a
//! hand-written tool schema. An `Option` field is one the model may leave out, not one it may set
//! to `null`; integer widths (`"format": "int64"`) and `additionalProperties: true` say nothing the
//! model needs; the root's title and description are the Rust type's, not the model's (the
//! function's description tells the model what to do).

use schemars::generate::SchemaSettings;
use schemars::transform::{Transform, transform_subschemas};
use schemars::{JsonSchema, Schema};
use serde_json::Value;

/// The schema of `A` as the model and the host want it.
pub(crate) fn schema_of<A: JsonSchema>() -> Schema {
    let settings = SchemaSettings::draft2020_12().for_deserialize().with(|s| {
        s.inline_subschemas = true;
        s.meta_schema = None;
        s.transforms.push(Box::new(Tidy));
    });
    let mut schema = settings.into_generator().into_root_schema_for::<A>();
    schema.remove("title");
    schema.remove("description");
    schema
}

/// Integer and float widths schemars writes as `format`.
const NUMERIC_FORMATS: [&str; 12] =
    ["int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float", "double"];

/// The tidying of every subschema (see the module's documentation).
#[derive(Clone, Debug)]
struct Tidy;

impl Transform for Tidy {
    fn transform(&mut self, schema: &mut Schema) {
        transform_subschemas(self, schema);
        let Some(obj) = schema.as_object_mut() else { return };
        // `Option<T>` of a schema with subschemas: `{"anyOf": [T, {"type": "null"}], …metadata}`.
        if let Some(Value::Array(any_of)) = obj.get("anyOf")
            && any_of.len() == 2
            && any_of[1] == serde_json::json!({"type": "null"})
            && let Some(Value::Object(inner)) = any_of.first().cloned()
        {
            obj.remove("anyOf");
            for (key, value) in inner {
                obj.entry(key).or_insert(value);
            }
        }
        // `Option<T>` of a simple schema: `"type": [T, "null"]`, and `null` among an enum's values.
        if let Some(Value::Array(types)) = obj.get_mut("type") {
            types.retain(|t| t != "null");
            if types.len() == 1 {
                let only = types.remove(0);
                obj.insert("type".into(), only);
            }
        }
        if let Some(Value::Array(values)) = obj.get_mut("enum") {
            values.retain(|v| !v.is_null());
        }
        if obj.get("format").and_then(Value::as_str).is_some_and(|f| NUMERIC_FORMATS.contains(&f)) {
            obj.remove("format");
        }
        if obj.get("additionalProperties") == Some(&Value::Bool(true)) {
            obj.remove("additionalProperties");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::{Value, json};

    use super::*;

    /// Arguments (this doc comment is not shown to the model).
    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code, reason = "only the schema is looked at")]
    struct Args {
        /// A required text.
        text: String,
        /// An optional count.
        #[schemars(range(min = 1, max = 5))]
        count: Option<i64>,
        /// One of a few words.
        #[schemars(extend("enum" = ["a", "b"]))]
        word: Option<String>,
        /// Anything in an object.
        extra: Option<serde_json::Map<String, Value>>,
        tags: Vec<String>,
    }

    #[test]
    fn derived_schemas_read_like_hand_written_ones() {
        let schema = schema_of::<Args>().to_value();
        assert_eq!(
            schema,
            json!({
                "type": "object",
                "properties": {
                    "text": {"type": "string", "description": "A required text."},
                    "count": {"type": "integer", "minimum": 1, "maximum": 5, "description": "An optional count."},
                    "word": {"type": "string", "enum": ["a", "b"], "description": "One of a few words."},
                    "extra": {"type": "object", "description": "Anything in an object."},
                    "tags": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["text", "tags"]
            })
        );
    }
}
