
pub mod anthropic;
