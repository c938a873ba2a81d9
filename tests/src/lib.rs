pub mod downstream;
pub mod openai;
