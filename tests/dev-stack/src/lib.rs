//! The offline development stack behind `make run`: the real service on `PORT` (default 8005),
//! with local stand-ins for every upstream that is not configured — the Anthropic API (a
//! deterministic scripted model), Clerk's JWKS (with a development token), OpenAI embeddings, and
//! the downstream services the tools call (mapper, calendar, workout ingestor, Strava, Garmin),
//! seeded with a few workouts for the development user. Everything listens on loopback; nothing
//! needs a key or the network. Set `ANTHROPIC_API_KEY`, `CLERK_DOMAIN`, `OPENAI_API_KEY` or a
//! service's URL to use the real upstream instead.
//!
//! Stand-ins say what they are: in the banner, in their logs, and in every text of the model.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use host::app::App;
use host::config::Config;
use serde_json::json;

use stand_ins::anthropic::StandIn;
use stand_ins::clerk::ClerkStandIn;
use stand_ins::downstream::{Downstream, Service};
use stand_ins::openai::OpenAiStandIn;

/// The user the development token is minted for.
pub const DEV_USER: &str = "user_dev_local";

/// A running stack.
pub struct DevStack {
    pub base_url: String,
    /// A Clerk-style bearer token for [`DEV_USER`] (when the Clerk stand-in runs).
    pub token: Option<String>,
    /// What runs as a stand-in, for the banner.
    pub stand_ins: Vec<String>,
    pub app_state: host::api::AppState,
    serve: tokio::task::JoinHandle<anyhow::Result<()>>,
    _anthropic: Option<StandIn>,
    _clerk: Option<ClerkStandIn>,
    _openai: Option<OpenAiStandIn>,
    _services: Vec<Downstream>,
}

/// Workouts the development user finds in the stand-in mapper (and in the semantic index).
fn seed_workouts() -> Vec<serde_json::Value> {
    vec![
        json!({"title": "Leg Day Strength", "description": "Squats, lunges and deadlifts for strong legs",
               "workout_type": "strength", "difficulty_level": "intermediate", "duration_minutes": 45,
               "target_muscle_groups": ["quadriceps", "glutes", "hamstrings"], "equipment": ["barbell", "dumbbells"]}),
        json!({"title": "30-Minute HIIT Cardio", "description": "Intervals of burpees, sprints and jump squats",
               "workout_type": "cardio", "difficulty_level": "advanced", "duration_minutes": 30,
               "target_muscle_groups": ["full body"], "equipment": []}),
        json!({"title": "Upper Body Push", "description": "Bench press, overhead press and dips",
               "workout_type": "strength", "difficulty_level": "beginner", "duration_minutes": 40,
               "target_muscle_groups": ["chest", "shoulders", "triceps"], "equipment": ["barbell", "bench"]}),
        json!({"title": "Mobility and Recovery", "description": "Gentle stretching and foam rolling for rest days",
               "workout_type": "mobility", "difficulty_level": "beginner", "duration_minutes": 20,
               "target_muscle_groups": ["full body"], "equipment": ["foam roller"]}),
    ]
}

impl DevStack {
    /// Starts stand-ins for what `env` leaves unconfigured, then the service on `listen`.
    pub async fn start(env: &dyn Fn(&str) -> Option<String>, listen: std::net::SocketAddr) -> anyhow::Result<DevStack> {
        let mut vars: HashMap<String, String> = HashMap::new();
        let mut stand_ins = Vec::new();

        let anthropic = if env("ANTHROPIC_API_KEY").is_none() {
            let model = StandIn::dev_model().await;
            vars.insert("ANTHROPIC_BASE_URL".into(), model.url());
            vars.insert("ANTHROPIC_API_KEY".into(), "stand-in-no-key".into());
            stand_ins.push(format!("Anthropic API  {} (scripted model, not Claude)", model.url()));
            Some(model)
        } else {
            None
        };

        let clerk = if env("CLERK_DOMAIN").is_none() {
            let clerk = ClerkStandIn::start().await;
            vars.insert("CLERK_DOMAIN".into(), clerk.domain());
            stand_ins.push(format!("Clerk JWKS     {}", clerk.jwks_url()));
            Some(clerk)
        } else {
            None
        };
        let openai = if env("OPENAI_API_KEY").is_none() {
            let openai = OpenAiStandIn::start().await;
            vars.insert("OPENAI_BASE_URL".into(), openai.url());
            vars.insert("OPENAI_API_KEY".into(), openai.api_key());
            stand_ins.push(format!("OpenAI         {} (hashed bag-of-words embeddings)", openai.url()));
            Some(openai)
        } else {
            None
        };

        let mut services = Vec::new();
        for service in [Service::Mapper, Service::Calendar, Service::Ingestor, Service::Strava, Service::Garmin] {
            if env(service.env_var()).is_none() {
                let stand_in = Downstream::start(service).await;
                vars.insert(service.env_var().into(), stand_in.url());
                stand_ins.push(format!("{:<14} {}", format!("{service:?}"), stand_in.url()));
                services.push(stand_in);
            }
        }
        let mut seeded = Vec::new();
        if let Some(mapper) = services.iter().find(|s| s.service() == Service::Mapper) {
            for workout in seed_workouts() {
                let id = mapper.add_workout(DEV_USER, workout.clone());
                let mut indexed = workout;
                indexed["id"] = json!(id);
                indexed["profile_id"] = json!(DEV_USER);
                seeded.push(indexed);
            }
        }

        let token = clerk.as_ref().map(|c| {
            let expires = chrono::Utc::now().timestamp() + 12 * 3600;
            c.mint(DEV_USER, json!({"exp": expires}))
        });
        if let Some(token) = &token {
            vars.insert("DEV_LOGIN_TOKEN".into(), token.clone());
        }
        vars.insert("PORT".into(), listen.port().to_string());

        let lookup = |name: &str| vars.get(name).cloned().or_else(|| env(name));
        let config = Config::from_lookup(&lookup).map_err(|e| anyhow::anyhow!("{e}"))?;
        let app = App::build(config).await.context("starting the service")?;
        let app_state = app.state.clone();
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
        let addr = listener.local_addr()?;
        if !seeded.is_empty() && openai.is_some() {
            // Index the seeded workouts as mapper-api would, so semantic search finds them.
            let report = app_state
                .embeddings
                .pipeline
                .generate(
                    store::embeddings::SourceTable::Workouts,
                    host::embeddings::Workouts::Inline {
                        workouts: seeded.into_iter().filter_map(|w| w.as_object().cloned()).collect(),
                        ids: None,
                    },
                )
                .await;
            if let Err(err) = report {
                tracing::warn!(error = %err, "indexing the development workouts failed");
            }
        }
        let serve = tokio::spawn(app.serve(listener));
        // Plugins compile in the background on the first run (cached afterwards): wait for them so
        // the first message already has its tools.
        if tokio::time::timeout(std::time::Duration::from_secs(120), app_state.tools.wait_ready()).await.is_err() {
            tracing::warn!("the plugins are still loading; the first messages may have no tools");
        }
        Ok(DevStack {
            base_url: format!("http://localhost:{}", addr.port()),
            token,
            stand_ins,
            app_state,
            serve,
            _anthropic: anthropic,
            _clerk: clerk,
            _openai: openai,
            _services: services,
        })
    }

    /// The banner `make run` prints: what is a stand-in, and a ready-to-paste request.
    pub fn banner(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("\namakaflow-chat (development) on {}\n", self.base_url));
        if self.stand_ins.is_empty() {
            out.push_str("All upstreams are real (configured through the environment).\n");
        } else {
            out.push_str("STAND-INS (local fakes, not the real services):\n");
            for s in &self.stand_ins {
                out.push_str(&format!("  - {s}\n"));
            }
        }
        out.push_str(&format!("Chat page: {}/\n", self.base_url));
        if let Some(token) = &self.token {
            out.push_str(&format!(
                "\nTry it:\n  curl -N {}/chat/stream \\\n    -H 'Authorization: Bearer {token}' \\\n    -H 'Content-Type: application/json' \\\n    -d '{{\"message\": \"Find me a leg workout\"}}'\n",
                self.base_url
            ));
        }
        out
    }

    /// Runs until the service stops (SIGTERM / Ctrl-C).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.serve.await.context("serve task")?
    }

    /// The shared state of the running service.
    pub fn state(&self) -> &host::api::AppState {
        &self.app_state
    }
}

/// Convenience for tests: the stack on a free port, with only `overrides` as its environment.
pub async fn start_for_test(overrides: &[(&str, &str)]) -> anyhow::Result<DevStack> {
    let vars: Arc<HashMap<String, String>> =
        Arc::new(overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    let env = move |name: &str| vars.get(name).cloned();
    DevStack::start(&env, "127.0.0.1:0".parse().unwrap()).await
}
