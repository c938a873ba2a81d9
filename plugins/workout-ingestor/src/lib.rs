//! The tools that create workouts, each in two confirmed steps: a preview first, saved only after
//! the user says yes.
//!
//! - `generate_workout` asks workout-ingestor-api to write a workout from a description and keeps it
//!   as a preview (host state, 15 minutes); `save_and_push_workout` saves that preview to the
//!   library (mapper-api) and optionally schedules it (calendar-api).
//! - `import_from_youtube`, `…_tiktok`, `…_instagram`, `…_pinterest`, `import_workout_from_url` and
//!   `import_from_image` extract a workout with workout-ingestor-api (URLs only from the platforms'
//!   own domains); `save_imported_workout` saves one by its source URL.
//!
//! Requests, results and error messages are the original service's. `save_and_push_workout` lives
//! here rather than with the other mapper-api tools because previews are private to the plugin that
//! made them.

mod generate;
mod image;
mod imports;
mod ingestion;
mod platforms;
mod save_import;

use std::time::Duration;

use amakaflow_tool_sdk::prelude::*;

/// How long a preview waits for the user's confirmation.
pub const PREVIEW_TTL: Duration = Duration::from_secs(15 * 60);

fn ingestor_url() -> Result<String, ToolError> {
    config::required("ingestor_url")
}

fn mapper_url() -> Result<String, ToolError> {
    config::required("mapper_url")
}

fn plugin() -> Plugin {
    Plugin::new()
        .function(
            "generate_workout",
            "Create a custom workout from a description of what the user wants. Returns a preview: nothing is \
             saved yet. When the user has reviewed and confirmed it, call save_and_push_workout with the preview_id.",
            generate::generate_workout,
        )
        .function(
            "save_and_push_workout",
            "Save a workout preview made by generate_workout (by its preview_id) to the user's library, and \
             optionally put it on the calendar.",
            generate::save_and_push_workout,
        )
        .function(
            "import_from_youtube",
            "Extract a workout from a YouTube video: its transcript is analysed for exercises, sets, reps and timing.",
            imports::import_from_youtube,
        )
        .function(
            "import_from_tiktok",
            "Extract a workout from a TikTok video, by audio transcription and/or vision analysis.",
            imports::import_from_tiktok,
        )
        .function(
            "import_from_instagram",
            "Extract a workout from an Instagram post: the image or video is read with OCR and vision.",
            imports::import_from_instagram,
        )
        .function(
            "import_from_pinterest",
            "Extract workouts from a Pinterest pin or board (a board can give several); each image is analysed \
             for exercises.",
            imports::import_from_pinterest,
        )
        .function(
            "import_from_image",
            "Extract a workout from an uploaded image with vision AI: exercises, sets, reps and other details.",
            image::import_from_image,
        )
        .function(
            "save_imported_workout",
            "Save an imported workout to the user's library. Call it after showing the user the preview from \
             import_from_youtube/tiktok/instagram/pinterest/image and getting their confirmation. Only the \
             source_url is needed: the workout data is fetched again from the ingestor's cache.",
            save_import::save_imported_workout,
        )
        .function(
            "import_workout_from_url",
            "Import a workout from any supported URL (YouTube, TikTok, Instagram, Pinterest); the platform is \
             recognised from the URL. Returns a preview with exercises: nothing is saved yet. After the user \
             confirms, call save_imported_workout with the source_url.",
            imports::import_workout_from_url,
        )
}

amakaflow_tool_sdk::export_plugin!(plugin);

#[cfg(test)]
mod tests;
