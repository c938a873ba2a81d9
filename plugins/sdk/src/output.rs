//! What a tool function may return: JSON (a `serde_json::Value` or any `Serialize` type wrapped in
//! [`Json`]) or plain text (`String`), as the original tools returned either.

use serde::Serialize;
use serde_json::Value;

use crate::ToolError;

/// A successful result, turned into the text the model receives.
pub trait ToolOutput {
    fn into_result_text(self) -> Result<String, ToolError>;
}

/// Plain text, handed to the model as is.
impl ToolOutput for String {
    fn into_result_text(self) -> Result<String, ToolError> {
        Ok(self)
    }
}

impl ToolOutput for &str {
    fn into_result_text(self) -> Result<String, ToolError> {
        Ok(self.to_string())
    }
}

/// JSON text.
impl ToolOutput for Value {
    fn into_result_text(self) -> Result<String, ToolError> {
        Ok(self.to_string())
    }
}

/// Any serialisable value, as JSON text: `Ok(Json(my_struct))`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize> ToolOutput for Json<T> {
    fn into_result_text(self) -> Result<String, ToolError> {
        Ok(serde_json::to_string(&self.0)?)
    }
}
