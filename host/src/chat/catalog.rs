//! The tool definitions offered to Claude, built once per version of the tool set and shared by
//! every turn and every Claude call (the 27 tools' schemas are about 30 KB).

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use tools::{FunctionInfo, Registry};

use crate::llm::ToolDef;

/// A function list and the definitions built from it.
type Built = (Arc<Vec<FunctionInfo>>, Arc<[ToolDef]>);

/// Caches the definitions of the registry's current functions.
#[derive(Default)]
pub struct ToolCatalog {
    /// The function list the definitions were built from, and the definitions.
    current: ArcSwapOption<Built>,
}

impl ToolCatalog {
    /// The definitions of the registry's functions now; rebuilt only after a reload swapped them.
    pub fn definitions(&self, registry: &Registry) -> Arc<[ToolDef]> {
        let functions = registry.functions();
        if let Some(cached) = self.current.load().as_ref()
            && Arc::ptr_eq(&cached.0, &functions)
        {
            return cached.1.clone();
        }
        let definitions: Arc<[ToolDef]> = functions
            .iter()
            .map(|f| ToolDef {
                name: f.name.clone(),
                description: f.description.clone(),
                input_schema: f.parameters.clone(),
            })
            .collect();
        self.current.store(Some(Arc::new((functions, definitions.clone()))));
        definitions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn definitions_are_shared_until_the_tool_set_changes() {
        let plugins_dir = tempfile::tempdir().unwrap();
        let config = tools::RuntimeConfig { pooling: false, ..tools::RuntimeConfig::new(plugins_dir.path()) };
        let registry = Registry::load(config, tools::HostServices::without_store()).await.unwrap();
        let catalog = ToolCatalog::default();
        let a = catalog.definitions(&registry);
        let b = catalog.definitions(&registry);
        assert!(Arc::ptr_eq(&a, &b));
    }
}
