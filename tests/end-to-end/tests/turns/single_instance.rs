//! Without Redis (`make run`): one instance keeps the same promises in process — resume, stop
//! mid-text and mid-tool, the refund, the cap, another user's turn refused.

use end_to_end::hanging_server::HangingServer;
use stand_ins::anthropic::{Reply, Split};

use super::*;

async fn one_instance(test: &str, extra: &[(&str, &str)], plugins: &[&str]) -> Cluster {
    Cluster::start(test, Shared::InProcess, 1, Backend::Sqlite, extra, Options { plugins, ..Options::default() }).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_a_cut_turn_resumes_on_the_same_instance() {
    let cluster = one_instance("solo_resume", &[], &[]).await;
    cluster.anthropic.push(Reply::text("A long answer about recovery days.").text_split(Split::Every(4)));
    let (user, intruder) = (user("solo_resume"), user("intruder"));
    let whole = cluster.chat(cluster.a(), &user, message("Rest?")).await;
    let turn = turn_of(&whole);
    let rest = cluster.resume(cluster.a(), &user, &turn, &format!("{turn}:2")).await;
    assert_eq!(ids(&rest), ids(&whole)[2..].to_vec());
    assert_eq!(raw_without_pings(&rest), raw_events(&whole, usize::MAX)[raw_events(&whole, 2).len()..].to_vec());
    let (status, _) = read_json(cluster.resume_request(cluster.a(), &intruder, &turn).send().await.unwrap()).await;
    assert_eq!(status.as_u16(), 404);
    let (_, ready) = read_json(cluster.a().client().get(cluster.a().url("/health/ready")).send().await.unwrap()).await;
    assert!(ready["checks"].get("redis").is_none(), "no Redis configured, none reported: {ready}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_a_stop_ends_a_turn_mid_text() {
    let cluster = one_instance("solo_stop_text", &[], &[]).await;
    super::stop::stopping_mid_text_keeps_what_the_user_saw(&cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_a_stop_abandons_a_running_tool_call() {
    let calendar = HangingServer::start().await;
    let url = calendar.url();
    let cluster = one_instance("solo_stop_tool", &[("CALENDAR_API_URL", url.as_str())], &["calendar"]).await;
    super::stop::stopping_mid_tool_abandons_the_call(&cluster, &calendar).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_a_stop_before_any_output_gives_the_unit_back() {
    let cluster = one_instance("solo_stop_early", &[], &[]).await;
    super::stop::stopping_before_anything_reached_the_user_refunds(&cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_the_per_user_cap_holds() {
    let cluster = one_instance("solo_cap", &[("CONCURRENT_TURNS_PER_USER", "1")], &[]).await;
    super::limits::the_cap_holds_across_instances(&cluster).await;
}
