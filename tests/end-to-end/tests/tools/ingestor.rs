//! The workout-ingestor plugin's imports: import_from_youtube, import_from_tiktok,
//! import_from_instagram, import_from_pinterest (pin and board), import_from_image (multipart, the
//! 10 MB cap), import_workout_from_url, save_imported_workout; and generate_workout's request.

use base64::Engine;
use serde_json::{Value, json};
use stand_ins::downstream::Reply;

use crate::support::*;

/// The stand-in's extracted workout as the plugin passes it on (the stand-in writes keys in
/// alphabetical order, and the plugin keeps the order it received).
const BLOCKS: &str = r#"[{"exercises": [{"muscle_group": "legs", "name": "Goblet Squat", "notes": null, "reps": 12, "sets": 3}, {"muscle_group": "chest", "name": "Push-up", "notes": null, "reps": 15, "sets": 3}, {"muscle_group": "back", "name": "Bent-over Row", "notes": null, "reps": 10, "sets": 3}], "label": "Main", "structure": "straight"}]"#;
const SUMMARY: &str = r#""block_count": 1, "exercise_count": 3, "exercise_names": ["Goblet Squat", "Push-up", "Bent-over Row"], "exercises": [{"name": "Goblet Squat", "sets": 3, "reps": 12, "muscle_group": "legs", "notes": null}, {"name": "Push-up", "sets": 3, "reps": 15, "muscle_group": "chest", "notes": null}, {"name": "Bent-over Row", "sets": 3, "reps": 10, "muscle_group": "back", "notes": null}]"#;
const NEXT_STEP: &str = "Present this workout to the user and ask if they want to save it to their library. If they confirm, call save_imported_workout with the workout_data.";

/// The import result for a workout the ingestor answered at the top level (`_provenance` dropped).
fn imported(source: &str, title: &str, url: &str) -> String {
    format!(
        r#"{{"type": "workout_imported", "success": true, "source": "{source}", "preview_mode": true, "persisted": false, "workout": {{"title": "{title}", "full_workout_data": {{"blocks": {BLOCKS}, "title": "{title}"}}, {SUMMARY}}}, "next_step": "{NEXT_STEP}", "source_url": "{url}"}}"#
    )
}

#[tokio::test]
async fn import_from_youtube_previews_the_extracted_workout() {
    let t = Tools::start().await;
    let text =
        t.ok("import_from_youtube", json!({"url": " https://www.youtube.com/watch?v=abc ", "skip_cache": true})).await;
    assert_eq!(text, imported("YouTube video", "YouTube Full Body Burn", "https://www.youtube.com/watch?v=abc"));
    let request = only_request(&t.ingestor);
    assert_request(&request, "POST", "/ingest/youtube", None);
    assert_eq!(request.json(), json!({"url": "https://www.youtube.com/watch?v=abc", "skip_cache": true}));

    t.ingestor.clear_requests();
    t.ok("import_from_youtube", json!({"url": "https://youtu.be/abc", "skip_cache": false})).await;
    assert_eq!(only_request(&t.ingestor).json(), json!({"url": "https://youtu.be/abc"}));
}

#[tokio::test]
async fn imports_accept_only_each_platforms_own_domains() {
    let t = Tools::start().await;
    let cases = [
        (
            "import_from_youtube",
            "https://youtube.com.evil.example/watch",
            "Invalid YouTube URL. Please provide a valid YouTube link.",
        ),
        (
            "import_from_youtube",
            "http://169.254.169.254/latest",
            "Invalid YouTube URL. Please provide a valid YouTube link.",
        ),
        ("import_from_tiktok", "https://www.youtube.com/x", "Invalid TikTok URL. Please provide a valid TikTok link."),
        ("import_from_instagram", "ftp://instagram.com/p/1", "Invalid URL. Must start with http:// or https://"),
        ("import_from_pinterest", "   ", "URL cannot be empty"),
        (
            "import_workout_from_url",
            "https://vimeo.com/1",
            "Unsupported URL. Supported platforms: YouTube, TikTok, Instagram, Pinterest.",
        ),
    ];
    for (tool, url, expected) in cases {
        assert_eq!(t.fails(tool, json!({"url": url}), "validation_error").await, expected, "{tool} {url}");
    }
    assert!(t.ingestor.requests().is_empty(), "a refused URL is never sent to the ingestor");
}

#[tokio::test]
async fn import_from_tiktok_sends_the_mode_and_reads_a_nested_workout() {
    let t = Tools::start().await;
    let text = t.ok("import_from_tiktok", json!({"url": "https://www.tiktok.com/@coach/video/123"})).await;
    // The ingestor nests this one under `workout`, which is passed on whole (with its provenance).
    let expected = imported("TikTok video", "TikTok 10 Minute Abs", "https://www.tiktok.com/@coach/video/123").replace(
        r#""full_workout_data": {"blocks""#,
        r#""full_workout_data": {"_provenance": {"mode": "cached", "source": "stand-in"}, "blocks""#,
    );
    assert_eq!(text, expected);
    let request = only_request(&t.ingestor);
    assert_request(&request, "POST", "/ingest/tiktok", None);
    assert_eq!(request.json(), json!({"url": "https://www.tiktok.com/@coach/video/123", "mode": "auto"}));

    t.ingestor.clear_requests();
    t.ok("import_from_tiktok", json!({"url": "https://vm.tiktok.com/xyz", "mode": "hybrid"})).await;
    assert_eq!(only_request(&t.ingestor).json(), json!({"url": "https://vm.tiktok.com/xyz", "mode": "hybrid"}));
}

#[tokio::test]
async fn import_from_instagram_posts_to_the_instagram_endpoint() {
    let t = Tools::start().await;
    let text = t.ok("import_from_instagram", json!({"url": "https://www.instagram.com/p/kb-flow/"})).await;
    assert_eq!(text, imported("Instagram post", "Instagram Kettlebell Flow", "https://www.instagram.com/p/kb-flow/"));
    let request = only_request(&t.ingestor);
    assert_request(&request, "POST", "/ingest/instagram_test", None);
    assert_eq!(request.json(), json!({"url": "https://www.instagram.com/p/kb-flow/"}));
}

#[tokio::test]
async fn import_from_pinterest_previews_a_pin_or_every_workout_of_a_board() {
    let t = Tools::start().await;
    let text = t.ok("import_from_pinterest", json!({"url": "https://www.pinterest.com/pin/123/"})).await;
    assert_eq!(text, imported("Pinterest", "Pinterest HIIT Card", "https://www.pinterest.com/pin/123/"));

    let board = "https://www.pinterest.com/coach/leg-day-board/";
    let text = t.ok("import_from_pinterest", json!({"url": board})).await;
    let workout = |title: &str| {
        format!(
            r#"{{"_provenance": {{"mode": "cached", "source": "stand-in"}}, "blocks": {BLOCKS}, "title": "{title}"}}"#
        )
    };
    assert_eq!(
        text,
        format!(
            r#"{{"success": true, "preview_mode": true, "persisted": false, "multiple_workouts": true, "total": 2, "source_url": "{board}", "workouts": [{{"title": "Pinterest Leg Day", "full_workout_data": {}}}, {{"title": "Pinterest Core Blast", "full_workout_data": {}}}], "next_step": "Present these workouts to the user and ask which ones they want to save. Call save_imported_workout for each workout they confirm."}}"#,
            workout("Pinterest Leg Day"),
            workout("Pinterest Core Blast")
        )
    );
    let requests = t.ingestor.requests();
    assert_request(&requests[1], "POST", "/ingest/pinterest", None);
    assert_eq!(requests[1].json(), json!({"url": board}));
}

#[tokio::test]
async fn import_workout_from_url_hands_over_to_the_platform() {
    let t = Tools::start().await;
    let text = t.ok("import_workout_from_url", json!({"url": "https://m.youtube.com/watch?v=abc"})).await;
    assert_eq!(text, imported("YouTube video", "YouTube Full Body Burn", "https://m.youtube.com/watch?v=abc"));
    assert_request(&only_request(&t.ingestor), "POST", "/ingest/youtube", None);
}

#[tokio::test]
async fn a_failed_extraction_is_reported_as_such() {
    let t = Tools::start().await;
    t.ingestor.script(
        "POST",
        "/ingest/instagram_test",
        Reply::Json(200, json!({"success": false, "error": "Post is private"})),
    );
    let message =
        t.fails("import_from_instagram", json!({"url": "https://instagram.com/p/1"}), "ingestion_failed").await;
    assert_eq!(message, "Post is private");
}

fn image_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn import_from_image_uploads_a_multipart_form() {
    let t = Tools::start().await;
    let png = b"\x89PNG\r\n\x1a\nnot really an image".to_vec();
    let text = t.ok("import_from_image", json!({"image_data": image_base64(&png), "filename": "Legs.PNG"})).await;
    assert_eq!(text, imported("image", "Workout from Legs.PNG", "uploaded:Legs.PNG"));
    let request = only_request(&t.ingestor);
    assert_request(&request, "POST", "/ingest/image_vision", None);
    assert!(request.header("content-type").unwrap().starts_with("multipart/form-data; boundary="));
    let parts = request.multipart().expect("a multipart body");
    let fields: Vec<(&str, Option<&str>, Option<&str>)> =
        parts.iter().map(|p| (p.name.as_str(), p.filename.as_deref(), p.content_type.as_deref())).collect();
    assert_eq!(
        fields,
        vec![
            ("vision_provider", None, None),
            ("vision_model", None, None),
            ("file", Some("Legs.PNG"), Some("image/png"))
        ]
    );
    assert_eq!(parts[0].data, b"openai");
    assert_eq!(parts[1].data, b"gpt-4o-mini");
    assert_eq!(parts[2].data, png, "the decoded image, byte for byte");

    t.ingestor.clear_requests();
    t.ok("import_from_image", json!({"image_data": image_base64(b"jpeg")})).await;
    let parts = only_request(&t.ingestor).multipart().expect("multipart");
    assert_eq!(
        (parts[2].filename.as_deref(), parts[2].content_type.as_deref()),
        (Some("workout_image.jpg"), Some("image/jpeg"))
    );
}

#[tokio::test]
async fn import_from_image_refuses_more_than_10_mb_and_bad_base64() {
    let t = Tools::start().await;
    let just_over = vec![7u8; 10 * 1024 * 1024 + 1];
    let message =
        t.fails("import_from_image", json!({"image_data": image_base64(&just_over)}), "validation_error").await;
    assert_eq!(message, "Image too large. Maximum size is 10MB.");
    let far_over = "A".repeat(15 * 1024 * 1024);
    let message = t.fails("import_from_image", json!({"image_data": far_over}), "validation_error").await;
    assert_eq!(message, "Image too large. Maximum size is 10MB.");
    let message = t.fails("import_from_image", json!({"image_data": "abc"}), "validation_error").await;
    assert_eq!(message, "Invalid base64 image data");
    assert!(t.ingestor.requests().is_empty());

    // Exactly 10 MB passes.
    let limit = vec![1u8; 10 * 1024 * 1024];
    t.ok("import_from_image", json!({"image_data": image_base64(&limit), "filename": "big.webp"})).await;
    let parts = only_request(&t.ingestor).multipart().expect("multipart");
    assert_eq!((parts[2].data.len(), parts[2].content_type.as_deref()), (limit.len(), Some("image/webp")));
}

#[tokio::test]
async fn image_upload_failures_have_their_own_messages() {
    let t = Tools::start().await;
    let data = json!({"image_data": image_base64(b"img"), "filename": "a.gif"});
    t.ingestor.script_times("POST", "/ingest/image_vision", Reply::Status(413), 1);
    assert_eq!(t.fails("import_from_image", data.clone(), "execution_error").await, "Image processing failed (413)");
    t.ingestor.script_times("POST", "/ingest/image_vision", Reply::Status(401), 1);
    assert_eq!(
        t.fails("import_from_image", data, "execution_error").await,
        "Authentication error. Please try logging in again."
    );
}

#[tokio::test]
async fn save_imported_workout_fetches_the_import_again_and_saves_it() {
    let t = Tools::start().await;
    let url = "https://www.youtube.com/watch?v=abc";
    let text = t.ok("save_imported_workout", json!({"source_url": url, "title_override": "My Burn"})).await;
    assert_eq!(
        text,
        r#"{"success": true, "persisted": true, "message": "Workout 'My Burn' has been saved to your library!", "workout_id": "00000000-0000-4000-8000-000000000001", "title": "My Burn", "location": "The workout is now available in your 'My Workouts' tab."}"#
    );
    let fetch = only_request(&t.ingestor);
    assert_request(&fetch, "POST", "/ingest/youtube", None);
    assert_eq!(fetch.json(), json!({"url": url}));
    let save = only_request(&t.mapper);
    assert_request(&save, "POST", "/workouts/save", None);
    let blocks: Value = serde_json::from_str(BLOCKS).expect("json");
    assert_eq!(
        save.json(),
        json!({"profile_id": USER, "workout_data": {"blocks": blocks, "title": "YouTube Full Body Burn"},
                    "sources": [url], "device": "web", "title": "My Burn"})
    );

    t.ingestor.clear_requests();
    let text = t.ok("save_imported_workout", json!({"source_url": "https://www.tiktok.com/@c/video/1"})).await;
    assert!(text.contains(r#""title": "TikTok 10 Minute Abs""#), "{text}");
    assert_eq!(only_request(&t.ingestor).json(), json!({"url": "https://www.tiktok.com/@c/video/1", "mode": "auto"}));

    let message =
        t.fails("save_imported_workout", json!({"source_url": "https://www.vimeo.com/1"}), "validation_error").await;
    assert_eq!(message, "Unsupported source URL domain: vimeo.com");
    let message = t.fails("save_imported_workout", json!({"source_url": ""}), "validation_error").await;
    assert_eq!(message, "Missing required field: source_url. Provide the URL the workout was imported from.");
}

#[tokio::test]
async fn an_imported_image_can_be_saved_by_its_upload_source() {
    let t = Tools::start().await;
    let message = t.fails("save_imported_workout", json!({"source_url": "uploaded:legs.png"}), "fetch_failed").await;
    assert_eq!(message, "No workout data found for this upload. Please import the image again.");
    t.ok("import_from_image", json!({"image_data": image_base64(b"img"), "filename": "legs.png"})).await;
    let text = t.ok("save_imported_workout", json!({"source_url": "uploaded:legs.png"})).await;
    assert!(text.contains(r#""title": "Workout from legs.png""#), "{text}");
    assert_eq!(only_request(&t.mapper).json()["sources"], json!(["uploaded:legs.png"]));
    assert_eq!(t.ingestor.requests().len(), 1, "the upload is not sent again");
    // Another user cannot save it.
    let other = t.call_as(OTHER_USER, "save_imported_workout", json!({"source_url": "uploaded:legs.png"})).await;
    fails(&other, "save_imported_workout", "fetch_failed");
}

#[tokio::test]
async fn save_imported_workout_reports_fetch_and_save_failures() {
    let t = Tools::start().await;
    let url = json!({"source_url": "https://youtu.be/abc"});
    t.ingestor.script_times("POST", "/ingest/youtube", Reply::Status(502), 1);
    assert_eq!(
        t.fails("save_imported_workout", url.clone(), "fetch_failed").await,
        "Failed to fetch workout data: Service error (502)"
    );
    t.ingestor.script_times("POST", "/ingest/youtube", Reply::Json(200, json!({"success": true, "workouts": []})), 1);
    assert_eq!(
        t.fails("save_imported_workout", url.clone(), "fetch_failed").await,
        "No workout data found in ingestor response."
    );
    t.mapper.script_times("POST", "/workouts/save", Reply::Status(401), 1);
    assert_eq!(
        t.fails("save_imported_workout", url.clone(), "save_failed").await,
        "Failed to save workout to library: Authentication error. Please try logging in again."
    );
    t.mapper.script_times("POST", "/workouts/save", Reply::Json(200, json!({"success": true})), 1);
    assert_eq!(
        t.fails("save_imported_workout", url, "save_failed").await,
        "Workout was saved but no ID was returned. Please check your library."
    );
}

#[tokio::test]
async fn generate_workout_sends_the_description_and_the_options_given() {
    let t = Tools::start().await;
    t.ok("generate_workout", json!({"description": "leg day with dumbbells", "duration_minutes": 30, "equipment": ["dumbbells"], "difficulty": "beginner"}))
        .await;
    let request = only_request(&t.ingestor);
    assert_request(&request, "POST", "/workouts/parse-voice", None);
    assert_eq!(
        request.json(),
        json!({"transcription": "leg day with dumbbells", "difficulty": "beginner", "duration_minutes": 30, "equipment": ["dumbbells"]})
    );
    t.ingestor.clear_requests();
    t.ok("generate_workout", json!({"description": "core", "equipment": []})).await;
    assert_eq!(only_request(&t.ingestor).json(), json!({"transcription": "core"}));
    let message = t.fails("generate_workout", json!({"description": "  "}), "generation_failed").await;
    assert_eq!(message, "Couldn't generate workout from that description. Please try being more specific.");
}
