//! Links the module with a 1 GiB initial memory: the component asks for it before running a single
//! instruction, and must be refused at load. (Only for wasm: a native test build links as usual.)

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg=--initial-memory=1073741824");
    }
}
