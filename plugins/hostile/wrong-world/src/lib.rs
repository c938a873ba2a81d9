//! Hostile: a component of another world (its `describe` returns a string, and it has no `call`).
//! The host must refuse it when it type-checks the component, before anything runs.

mod bindings {
    wit_bindgen::generate!({
        inline: r#"
            package hostile:other@0.1.0;

            world other {
                export describe: func() -> string;
            }
        "#,
    });
}

struct Other;

impl bindings::Guest for Other {
    fn describe() -> String {
        "I am not a tool".to_string()
    }
}

bindings::export!(Other with_types_in bindings);
