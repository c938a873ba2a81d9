//! Stand-ins for the services the tool plugins call: mapper-api, calendar-api, workout-ingestor-api,
//! and the Strava and Garmin sync services. Each runs on the shared [`RecordingServer`] (so every
//! request it receives is recorded, multipart parts decodable) and answers each route with the JSON
//! the real service gives, from a small in-memory world (a user's workouts, calendar events,
//! completions) that tests seed and the requests change. Each service's routes live in their own
//! file; scripted failures in [`script`].
//!
//! Per test, replies can be scripted ([`Downstream::script`]): any status with a FastAPI-shaped body,
//! an answer held until the test releases it (or never, for timeouts), and
//! [`Downstream::refuse_connections`] / [`refused_url`] for a service that is down. The dev stack
//! (`make run`) serves the same stand-ins, labelled as such.

mod calendar;
mod ingestor;
mod mapper;
mod script;
mod sync;
mod world;

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

use crate::recording_server::{RecordedRequest, RecordingServer, runs_on_recording_server};
pub use script::Reply;
use script::{Script, scripted_response};
use world::{World, object};

/// Which service a stand-in plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Mapper,
    Calendar,
    Ingestor,
    Strava,
    Garmin,
}

impl Service {
    /// The environment variable the plugins read the base URL from.
    pub fn env_var(self) -> &'static str {
        match self {
            Service::Mapper => "MAPPER_API_URL",
            Service::Calendar => "CALENDAR_API_URL",
            Service::Ingestor => "WORKOUT_INGESTOR_API_URL",
            Service::Strava => "STRAVA_SYNC_API_URL",
            Service::Garmin => "GARMIN_SYNC_API_URL",
        }
    }
}

/// A running stand-in. Dropping it stops the server.
///
/// It is a [`RecordingServer`] underneath and derefs to it: `url()` (the base URL),
/// `requests()`, `clear_requests()` and the waits come from there.
pub struct Downstream {
    service: Service,
    server: RecordingServer,
    world: Arc<Mutex<World>>,
    script: Arc<Script>,
}

runs_on_recording_server!(Downstream);

impl Downstream {
    /// Starts a stand-in for `service` on 127.0.0.1.
    pub async fn start(service: Service) -> Downstream {
        let mut world = World::default();
        if service == Service::Strava {
            world.records = sync::default_strava_activities();
        }
        let (world, script) = (Arc::new(Mutex::new(world)), Arc::new(Script::default()));
        let (answering, scripted) = (world.clone(), script.clone());
        let server = RecordingServer::start(move |request| {
            let (world, script) = (answering.clone(), scripted.clone());
            async move { answer(service, &world, &script, &request).await }
        })
        .await;
        Downstream { service, server, world, script }
    }

    pub fn service(&self) -> Service {
        self.service
    }

    /// Replies to `method path` (a trailing `*` matches a prefix) with `reply`, always.
    pub fn script(&self, method: &str, path: &str, reply: Reply) {
        self.script.push(method, path, reply, None);
    }

    /// Like [`Downstream::script`], for the next `times` matching requests only.
    pub fn script_times(&self, method: &str, path: &str, reply: Reply, times: usize) {
        self.script.push(method, path, reply, Some(times));
    }

    pub fn clear_scripts(&self) {
        self.script.clear();
    }

    /// mapper: adds a workout to `user`'s library; returns its id (given, or generated).
    pub fn add_workout(&self, user: &str, workout: Value) -> String {
        self.add_item(workout, |fields| {
            fields.insert("profile_id".into(), json!(user));
            fields.entry("created_at").or_insert(json!("2026-01-15T09:30:00+00:00"));
            fields.entry("updated_at").or_insert(json!("2026-01-15T09:30:00+00:00"));
        })
    }

    /// calendar: adds an event to `user`'s calendar; returns its id (given, or generated).
    pub fn add_event(&self, user: &str, event: Value) -> String {
        self.add_item(event, |fields| {
            fields.insert("user_id".into(), json!(user));
        })
    }

    /// Adds `item` (its id given, or generated) to the world's items after `own` filled in its owner.
    fn add_item(&self, mut item: Value, own: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut world = self.world.lock();
        let id = match item.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => world.new_id(),
        };
        let fields = object(&mut item);
        fields.insert("id".into(), json!(id));
        own(fields);
        world.items.push(item);
        id
    }

    /// mapper: adds a completion to `user`'s history.
    pub fn add_completion(&self, user: &str, mut completion: Value) {
        let mut world = self.world.lock();
        let id = world.new_id();
        let fields = object(&mut completion);
        fields.entry("id").or_insert(json!(id));
        fields.insert("user_id".into(), json!(user));
        world.records.push(completion);
    }

    /// strava: replaces the activities the service reports.
    pub fn set_activities(&self, activities: Vec<Value>) {
        self.world.lock().records = activities;
    }

    /// The workouts (mapper) or events (calendar) currently held.
    pub fn items(&self) -> Vec<Value> {
        self.world.lock().items.clone()
    }

    /// Stops the server: from now on its port refuses connections.
    pub async fn refuse_connections(&mut self) {
        self.server.stop().await;
    }
}

/// A base URL on 127.0.0.1 where nothing listens (connections are refused).
pub async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding a throwaway port");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{addr}")
}

/// A scripted reply for the request if there is one, else the service's normal answer.
async fn answer(service: Service, world: &Mutex<World>, script: &Script, request: &RecordedRequest) -> Response {
    if let Some(reply) = script.take(request)
        && let Some(response) = scripted_response(reply).await
    {
        return response;
    }
    let mut world = world.lock();
    let (status, body) = match service {
        Service::Mapper => mapper::answer(&mut world, request),
        Service::Calendar => calendar::answer(&mut world, request),
        Service::Ingestor => ingestor::answer(&mut world, request),
        Service::Strava => sync::strava(&world, request),
        Service::Garmin => sync::garmin(request),
    };
    (status, axum::Json(body)).into_response()
}
