//! Stand-ins for the services the tool plugins call: mapper-api, calendar-api, workout-ingestor-api,
//! and the Strava and Garmin sync services. Each is a real HTTP server on 127.0.0.1 that records every
//! request it receives (method, path, query, headers, body; multipart parts decoded) and answers each
//! route with the JSON the real service gives, from a small in-memory world (a user's workouts,
//! calendar events, completions) that tests seed and the requests change.
//!
//! Per test, replies can be scripted ([`Downstream::script`]): any status with a FastAPI-shaped body,
//! a delay (for timeouts), and [`Downstream::refuse_connections`] / [`refused_url`] for a service that
//! is down. The dev stack (`make run`) serves the same stand-ins, labelled as such.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

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

/// One multipart form part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// A request as the stand-in received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// The query as decoded pairs, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        query_pairs(self.query.as_deref().unwrap_or(""))
    }

    /// The body as JSON, when it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The parts of a `multipart/form-data` body.
    pub fn multipart(&self) -> Option<Vec<Part>> {
        let content_type = self.header("content-type")?;
        let boundary = content_type.split(';').map(str::trim).find_map(|p| p.strip_prefix("boundary="))?;
        parse_multipart(&self.body, boundary.trim_matches('"'))
    }
}

/// A scripted reply.
#[derive(Clone, Debug)]
pub enum Reply {
    /// This status with `{"detail": <reason>}`.
    Status(u16),
    /// This status and body.
    Json(u16, Value),
    /// The normal answer, after this long.
    Delay(Duration),
}

struct Rule {
    method: Method,
    /// Exact path, or a prefix when it ends with `*`.
    path: String,
    reply: Reply,
    remaining: Option<usize>,
}

/// The in-memory world of a stand-in.
struct World {
    service: Service,
    requests: Vec<RecordedRequest>,
    rules: Vec<Rule>,
    /// mapper: workouts (each with `id` and `profile_id`); calendar: events (with `user_id`).
    items: Vec<Value>,
    /// mapper: completions (with `user_id`); strava: activities.
    records: Vec<Value>,
    next_id: u64,
}

impl World {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("00000000-0000-4000-8000-{:012}", self.next_id)
    }
}

/// A running stand-in. Dropping it stops the server.
pub struct Downstream {
    service: Service,
    addr: SocketAddr,
    world: Arc<Mutex<World>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Downstream {
    /// Starts a stand-in for `service` on 127.0.0.1.
    pub async fn start(service: Service) -> Downstream {
        let world = Arc::new(Mutex::new(World {
            service,
            requests: Vec::new(),
            rules: Vec::new(),
            items: Vec::new(),
            records: Vec::new(),
            next_id: 0,
        }));
        if service == Service::Strava {
            world.lock().records = default_strava_activities();
        }
        let app = Router::new().fallback(handle).with_state(world.clone()).layer(DefaultBodyLimit::disable());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding a downstream stand-in");
        let addr = listener.local_addr().expect("stand-in address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Downstream { service, addr, world, stop: Some(stop), task: Some(task) }
    }

    pub fn service(&self) -> Service {
        self.service
    }

    /// The base URL (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.world.lock().requests.clone()
    }

    /// The most recent request.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.world.lock().requests.last().cloned()
    }

    pub fn clear_requests(&self) {
        self.world.lock().requests.clear();
    }

    /// Replies to `method path` (a trailing `*` matches a prefix) with `reply`, always.
    pub fn script(&self, method: &str, path: &str, reply: Reply) {
        self.push_rule(method, path, reply, None);
    }

    /// Like [`Downstream::script`], for the next `times` matching requests only.
    pub fn script_times(&self, method: &str, path: &str, reply: Reply, times: usize) {
        self.push_rule(method, path, reply, Some(times));
    }

    pub fn clear_scripts(&self) {
        self.world.lock().rules.clear();
    }

    fn push_rule(&self, method: &str, path: &str, reply: Reply, remaining: Option<usize>) {
        let method = Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        self.world.lock().rules.push(Rule { method, path: path.to_string(), reply, remaining });
    }

    /// mapper: adds a workout to `user`'s library; returns its id (given, or generated).
    pub fn add_workout(&self, user: &str, mut workout: Value) -> String {
        let mut world = self.world.lock();
        let id = match workout.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => world.new_id(),
        };
        let fields = object(&mut workout);
        fields.insert("id".into(), json!(id));
        fields.insert("profile_id".into(), json!(user));
        fields.entry("created_at").or_insert(json!("2026-01-15T09:30:00+00:00"));
        fields.entry("updated_at").or_insert(json!("2026-01-15T09:30:00+00:00"));
        world.items.push(workout);
        id
    }

    /// calendar: adds an event to `user`'s calendar; returns its id (given, or generated).
    pub fn add_event(&self, user: &str, mut event: Value) -> String {
        let mut world = self.world.lock();
        let id = match event.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => world.new_id(),
        };
        let fields = object(&mut event);
        fields.insert("id".into(), json!(id));
        fields.insert("user_id".into(), json!(user));
        world.items.push(event);
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
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Downstream {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A base URL on 127.0.0.1 where nothing listens (connections are refused).
pub async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding a throwaway port");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{addr}")
}

fn object(value: &mut Value) -> &mut Map<String, Value> {
    if !value.is_object() {
        *value = json!({});
    }
    value.as_object_mut().expect("an object")
}

fn detail_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "Invalid token",
        403 => "Forbidden",
        404 => "Not found",
        422 => "Unprocessable entity",
        429 => "Too many requests",
        _ => "Internal server error",
    }
}

async fn handle(
    State(world): State<Arc<Mutex<World>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers: headers
            .iter()
            .map(|(n, v)| (n.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: body.to_vec(),
    };
    let scripted = {
        let mut w = world.lock();
        w.requests.push(request.clone());
        let rule = w.rules.iter_mut().find(|r| {
            r.method == method
                && r.remaining != Some(0)
                && match r.path.strip_suffix('*') {
                    Some(prefix) => request.path.starts_with(prefix),
                    None => r.path == request.path,
                }
        });
        rule.map(|r| {
            if let Some(n) = r.remaining.as_mut() {
                *n -= 1;
            }
            r.reply.clone()
        })
    };
    match scripted {
        Some(Reply::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, axum::Json(json!({"detail": detail_for(status)}))).into_response();
        }
        Some(Reply::Json(code, body)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
            return (status, axum::Json(body)).into_response();
        }
        Some(Reply::Delay(duration)) => tokio::time::sleep(duration).await,
        None => {}
    }
    let mut w = world.lock();
    let (status, body) = match w.service {
        Service::Mapper => mapper(&mut w, &request),
        Service::Calendar => calendar(&mut w, &request),
        Service::Ingestor => ingestor(&mut w, &request),
        Service::Strava => strava(&w, &request),
        Service::Garmin => garmin(&request),
    };
    (status, axum::Json(body)).into_response()
}

type Answer = (StatusCode, Value);

fn not_found(message: &str) -> Answer {
    (StatusCode::NOT_FOUND, json!({"detail": {"message": message}}))
}

fn caller(request: &RecordedRequest) -> String {
    request.header("x-user-id").unwrap_or("").to_string()
}

/// mapper-api's routes (`api/routers/workouts.py`, `completions.py`, `exports.py`, `programs.py`).
fn mapper(w: &mut World, request: &RecordedRequest) -> Answer {
    let user = caller(request);
    let body = request.json().unwrap_or(Value::Null);
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["workouts", "search"]) => {
            let pairs = request.query_pairs();
            let q = pairs.iter().find(|(k, _)| k == "q").map(|(_, v)| v.to_lowercase()).unwrap_or_default();
            let limit = pairs.iter().find(|(k, _)| k == "limit").and_then(|(_, v)| v.parse().ok()).unwrap_or(10usize);
            if q.is_empty() {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"detail": [{"loc": ["query", "q"], "msg": "Field required"}]}),
                );
            }
            let words: Vec<&str> = q.split_whitespace().collect();
            let results: Vec<Value> = w
                .items
                .iter()
                .filter(|item| item["profile_id"] == json!(user))
                .filter(|item| {
                    let text = format!(
                        "{} {}",
                        item["title"].as_str().unwrap_or(""),
                        item["description"].as_str().unwrap_or("")
                    )
                    .to_lowercase();
                    words.iter().any(|word| text.contains(word))
                })
                .take(limit)
                .map(|item| {
                    json!({
                        "workout_id": item["id"], "title": item["title"], "description": item["description"],
                        "sources": item.get("sources").cloned().unwrap_or(json!([])), "similarity_score": null,
                        "created_at": item["created_at"],
                    })
                })
                .collect();
            let count = results.len();
            (
                StatusCode::OK,
                json!({"success": true, "results": results, "count": count, "query": q, "search_type": "keyword",
                       "query_embedding_time_ms": null, "search_time_ms": 2}),
            )
        }
        ("POST", ["workouts", "save"]) => {
            let id = body.get("workout_id").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| w.new_id());
            let mut workout = body.get("workout_data").cloned().unwrap_or_else(|| body.clone());
            let fields = object(&mut workout);
            if let Some(title) = body.get("title") {
                fields.insert("title".into(), title.clone());
            }
            fields.insert("id".into(), json!(id));
            fields.insert("profile_id".into(), body.get("profile_id").cloned().unwrap_or(json!(user)));
            fields.insert("created_at".into(), json!("2026-02-01T10:00:00+00:00"));
            w.items.push(workout);
            (
                StatusCode::OK,
                json!({"success": true, "workout_id": id, "message": "Workout saved successfully", "is_update": false}),
            )
        }
        ("POST", ["workouts", "complete"]) => {
            let id = w.new_id();
            let mut record = body.clone();
            object(&mut record).insert("id".into(), json!(id));
            object(&mut record).insert("user_id".into(), json!(user));
            w.records.push(record);
            (
                StatusCode::OK,
                json!({"success": true, "id": id, "summary": {"duration_seconds": body.get("duration_minutes").and_then(Value::as_i64).map(|m| m * 60)}}),
            )
        }
        ("GET", ["workouts", "completions"]) => {
            let limit = request
                .query_pairs()
                .iter()
                .find(|(k, _)| k == "limit")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(50usize);
            let mine: Vec<Value> = w.records.iter().filter(|r| r["user_id"] == json!(user)).cloned().collect();
            let total = mine.len();
            (
                StatusCode::OK,
                json!({"success": true, "completions": mine.into_iter().take(limit).collect::<Vec<_>>(), "total": total}),
            )
        }
        ("GET", ["workouts", id]) => {
            match w.items.iter().find(|i| i["id"] == json!(id) && i["profile_id"] == json!(user)) {
                Some(workout) => (StatusCode::OK, json!({"success": true, "workout": workout})),
                None => not_found("Workout not found"),
            }
        }
        ("PATCH", ["workouts", id]) => {
            match w.items.iter().position(|i| i["id"] == json!(id) && i["profile_id"] == json!(user)) {
                Some(at) => {
                    let applied = body.get("operations").and_then(Value::as_array).map_or(0, Vec::len);
                    (StatusCode::OK, json!({"success": true, "workout": w.items[at], "changes_applied": applied}))
                }
                None => not_found("Workout not found"),
            }
        }
        ("GET", ["export", id]) => {
            let format = request
                .query_pairs()
                .into_iter()
                .find(|(k, _)| k == "export_format")
                .map(|(_, v)| v)
                .unwrap_or_default();
            match w.items.iter().find(|i| i["id"] == json!(id)) {
                Some(workout) => {
                    let title = workout["title"].as_str().unwrap_or("Workout");
                    let content = match format.as_str() {
                        "zwo" => format!("<workout_file><name>{title}</name></workout_file>"),
                        "workoutkit" => json!({"displayName": title, "sport": "strengthTraining"}).to_string(),
                        "fit_metadata" => json!({"name": title, "sport": "training"}).to_string(),
                        _ => format!("title: {title}\n"),
                    };
                    (
                        StatusCode::OK,
                        json!({"success": true, "workout_id": id, "export_format": format, "content": content, "download_url": format!("https://files.amakaflow.test/exports/{id}.{format}")}),
                    )
                }
                None => not_found("Workout not found"),
            }
        }
        ("POST", ["programs", "periodization-plan"]) => {
            let weeks = body.get("duration_weeks").and_then(Value::as_u64).unwrap_or(4);
            let plan: Vec<Value> = (1..=weeks)
                .map(|n| {
                    let deload = n % 4 == 0;
                    json!({"week_number": n, "focus": if deload { "deload" } else if n <= weeks / 2 { "hypertrophy" } else { "strength" },
                           "intensity_percent": if deload { 0.6 } else { 0.65 + 0.02 * n as f64 }, "volume_modifier": if deload { 0.6 } else { 1.0 },
                           "is_deload": deload, "notes": if deload { Value::String("Recovery week".into()) } else { Value::Null }})
                })
                .collect();
            (StatusCode::OK, json!({"success": true, "weeks": plan}))
        }
        _ => (StatusCode::NOT_FOUND, json!({"detail": "Not Found"})),
    }
}

/// calendar-api's routes.
fn calendar(w: &mut World, request: &RecordedRequest) -> Answer {
    let user = caller(request);
    let body = request.json().unwrap_or(Value::Null);
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let mine = |item: &Value, id: &str| item["id"] == json!(id) && item["user_id"] == json!(user);
    match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["calendar"]) => {
            let id = w.new_id();
            let event = json!({
                "id": id, "user_id": user, "workout_id": body["workout_id"], "title": "Scheduled workout",
                "scheduled_date": body["scheduled_date"], "scheduled_time": body.get("scheduled_time").cloned().unwrap_or(Value::Null),
                "status": "scheduled",
            });
            w.items.push(event.clone());
            (StatusCode::CREATED, event)
        }
        ("GET", ["calendar"]) => {
            let pairs = request.query_pairs();
            let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
            let (start, end) = (get("start"), get("end"));
            let events: Vec<Value> = w
                .items
                .iter()
                .filter(|e| e["user_id"] == json!(user))
                .filter(|e| e["scheduled_date"].as_str().is_some_and(|d| d >= start.as_str() && d <= end.as_str()))
                .cloned()
                .collect();
            (StatusCode::OK, json!({"events": events}))
        }
        ("GET", ["calendar", id]) => match w.items.iter().find(|e| mine(e, id)) {
            Some(event) => (StatusCode::OK, event.clone()),
            None => not_found("Event not found"),
        },
        ("PUT", ["calendar", id]) => match w.items.iter_mut().find(|e| mine(e, id)) {
            Some(event) => {
                for key in ["scheduled_date", "scheduled_time"] {
                    if let Some(v) = body.get(key) {
                        event[key] = v.clone();
                    }
                }
                (StatusCode::OK, event.clone())
            }
            None => not_found("Event not found"),
        },
        ("DELETE", ["calendar", id]) => match w.items.iter().position(|e| mine(e, id)) {
            Some(at) => {
                w.items.remove(at);
                (StatusCode::OK, json!({"success": true, "message": "Event deleted"}))
            }
            None => not_found("Event not found"),
        },
        _ => (StatusCode::NOT_FOUND, json!({"detail": "Not Found"})),
    }
}

fn exercise(name: &str, sets: u32, reps: u32, muscle: &str) -> Value {
    json!({"name": name, "sets": sets, "reps": reps, "muscle_group": muscle, "notes": null})
}

/// A workout as the ingestor extracts it: title, blocks of exercises, the flattened list.
fn ingested(title: &str) -> Value {
    let exercises = vec![
        exercise("Goblet Squat", 3, 12, "legs"),
        exercise("Push-up", 3, 15, "chest"),
        exercise("Bent-over Row", 3, 10, "back"),
    ];
    json!({
        "title": title,
        "blocks": [{"label": "Main", "structure": "straight", "exercises": exercises}],
        "_provenance": {"mode": "cached", "source": "stand-in"},
    })
}

/// workout-ingestor-api's routes.
fn ingestor(w: &mut World, request: &RecordedRequest) -> Answer {
    let body = request.json().unwrap_or(Value::Null);
    let url = body.get("url").and_then(Value::as_str).unwrap_or("").to_string();
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/workouts/parse-voice") => {
            let text = body.get("transcription").and_then(Value::as_str).unwrap_or("").trim().to_string();
            if text.is_empty() {
                return (
                    StatusCode::OK,
                    json!({"success": false, "error": "Could not understand the workout description"}),
                );
            }
            let name = format!("{} Workout", text.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
            (
                StatusCode::OK,
                json!({"success": true, "workout": {
                    "name": name,
                    "exercises": [exercise("Goblet Squat", 4, 10, "legs"), exercise("Romanian Deadlift", 3, 8, "hamstrings")],
                    "duration_minutes": body.get("duration_minutes").cloned().unwrap_or(json!(30)),
                    "difficulty": body.get("difficulty").cloned().unwrap_or(json!("intermediate")),
                    "equipment": body.get("equipment").cloned().unwrap_or(json!([])),
                }}),
            )
        }
        ("POST", "/ingest/youtube") => (StatusCode::OK, ingested("YouTube Full Body Burn")),
        ("POST", "/ingest/tiktok") => {
            (StatusCode::OK, json!({"success": true, "workout": ingested("TikTok 10 Minute Abs")}))
        }
        ("POST", "/ingest/instagram_test") => (StatusCode::OK, ingested("Instagram Kettlebell Flow")),
        ("POST", "/ingest/pinterest") => {
            if url.contains("/board") || url.trim_end_matches('/').matches('/').count() >= 4 && !url.contains("/pin/") {
                let workouts = vec![ingested("Pinterest Leg Day"), ingested("Pinterest Core Blast")];
                (StatusCode::OK, json!({"success": true, "workouts": workouts, "total": 2}))
            } else {
                (StatusCode::OK, ingested("Pinterest HIIT Card"))
            }
        }
        ("POST", "/ingest/image_vision") => {
            let parts = request.multipart().unwrap_or_default();
            let Some(file) = parts.iter().find(|p| p.name == "file") else {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"detail": [{"loc": ["body", "file"], "msg": "Field required"}]}),
                );
            };
            let title = format!("Workout from {}", file.filename.clone().unwrap_or_else(|| "image".into()));
            w.next_id += 1;
            (StatusCode::OK, ingested(&title))
        }
        _ => (StatusCode::NOT_FOUND, json!({"detail": "Not Found"})),
    }
}

fn default_strava_activities() -> Vec<Value> {
    vec![
        json!({"id": 9001, "name": "Morning Run", "type": "Run", "start_date": "2026-02-20T06:30:00Z", "distance": 8042.5, "elapsed_time": 2730, "distance_km": 8.0425, "duration_minutes": 45}),
        json!({"id": 9002, "name": "Evening Ride", "type": "Ride", "start_date": "2026-02-21T18:05:00Z", "distance": 25400.0, "elapsed_time": 3600, "distance_km": 25.4, "duration_minutes": 60}),
    ]
}

/// The Strava sync service's routes.
fn strava(w: &World, request: &RecordedRequest) -> Answer {
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/strava/sync") => {
            (StatusCode::OK, json!({"success": true, "synced_count": w.records.len(), "activities": w.records}))
        }
        ("GET", "/strava/activities") => {
            let limit = request
                .query_pairs()
                .iter()
                .find(|(k, _)| k == "limit")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(30usize);
            (StatusCode::OK, Value::Array(w.records.iter().take(limit).cloned().collect()))
        }
        _ => (StatusCode::NOT_FOUND, json!({"detail": "Not Found"})),
    }
}

/// The Garmin sync service's routes.
fn garmin(request: &RecordedRequest) -> Answer {
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/garmin/sync") => {
            let count =
                request.json().and_then(|b| b.get("workout_ids").and_then(Value::as_array).map(Vec::len)).unwrap_or(0);
            (StatusCode::OK, json!({"success": true, "synced_count": count}))
        }
        _ => (StatusCode::NOT_FOUND, json!({"detail": "Not Found"})),
    }
}

/// Decoded `application/x-www-form-urlencoded` pairs.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a multipart body at `--boundary` lines; `None` when it is not well formed.
fn parse_multipart(body: &[u8], boundary: &str) -> Option<Vec<Part>> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = body;
    let start = find(rest, &delimiter)?;
    rest = &rest[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let header_end = find(rest, b"\r\n\r\n")?;
        let headers = String::from_utf8_lossy(&rest[..header_end]).into_owned();
        rest = &rest[header_end + 4..];
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(&delimiter);
        let data_end = find(rest, &closing)?;
        let data = rest[..data_end].to_vec();
        rest = &rest[data_end + closing.len()..];
        let (mut name, mut filename, mut content_type) = (String::new(), None, None);
        for line in headers.split("\r\n") {
            let (key, value) = line.split_once(':')?;
            match key.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for param in value.split(';').map(str::trim) {
                        if let Some(v) = param.strip_prefix("name=") {
                            name = v.trim_matches('"').to_string();
                        } else if let Some(v) = param.strip_prefix("filename=") {
                            filename = Some(v.trim_matches('"').to_string());
                        }
                    }
                }
                "content-type" => content_type = Some(value.trim().to_string()),
                _ => {}
            }
        }
        parts.push(Part { name, filename, content_type, data });
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query_pairs() {
        assert_eq!(
            query_pairs("q=leg%20day+plus&limit=5&x=%E2%9C%93&bad=%zz"),
            vec![
                ("q".to_string(), "leg day plus".to_string()),
                ("limit".to_string(), "5".to_string()),
                ("x".to_string(), "✓".to_string()),
                ("bad".to_string(), "%zz".to_string()),
            ]
        );
    }

    #[test]
    fn parses_multipart_bodies() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"w.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--XyZ\r\nContent-Disposition: form-data; name=\"vision_provider\"\r\n\r\nopenai\r\n--XyZ--\r\n";
        let parts = parse_multipart(body, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].filename.as_deref(), Some("w.png"));
        assert_eq!(parts[0].content_type.as_deref(), Some("image/png"));
        assert_eq!(parts[0].data, b"\x89PNG");
        assert_eq!((parts[1].name.as_str(), parts[1].data.as_slice()), ("vision_provider", b"openai".as_slice()));
        assert!(parse_multipart(b"garbage", "XyZ").is_none());
    }
}
