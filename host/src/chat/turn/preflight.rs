//! The checks before a turn talks to Claude: the user's running turns, the chat gate (feature
//! flags), the session, the monthly quota and the user message. A failure is the one `error` event
//! the client gets, as the original did; a quota unit already taken is given back.

use store::{NewMessage, Role as StoreRole, Session};

use super::{Conversation, Tally, Turn, TurnDeps, TurnInput, Who, give_back};
use crate::chat::events::{ChatEvent, ErrorEvent};
use crate::chat::history;
use crate::chat::imports::PendingImports;
use crate::chat::sink::EventSink;
use crate::live::event_log::TurnRecord;
use crate::live::lease::LiveTurn;
use crate::live::user_cap::CapSlot;
use crate::quota::{self, Exceeded, Reservation};
use crate::telemetry::turn_metrics::TurnMetrics;

/// Why a turn did not start.
pub(super) enum PreflightFailure {
    /// The user already has as many turns running as they may (the cap).
    TooManyTurns {
        limit: usize,
    },
    ChatDisabled,
    SessionNotFound,
    /// The session could not be read or created.
    SessionUnavailable,
    QuotaExceeded(Exceeded),
    /// The database failed otherwise (logged where it happened).
    Unexpected,
}

impl PreflightFailure {
    /// The event the client gets (the original's type and message).
    pub(super) fn event(&self) -> ChatEvent {
        match self {
            PreflightFailure::TooManyTurns { limit } => ErrorEvent::too_many_turns(*limit),
            PreflightFailure::ChatDisabled => ErrorEvent::feature_disabled(),
            PreflightFailure::SessionNotFound => ErrorEvent::session_not_found(),
            PreflightFailure::SessionUnavailable => ErrorEvent::session_failed(),
            PreflightFailure::QuotaExceeded(e) => ErrorEvent::rate_limit_exceeded(e.usage, e.limit, e.retry_after),
            PreflightFailure::Unexpected => ErrorEvent::unexpected(),
        }
    }

    /// The `reason` label of `chat_turns_failed_total`.
    pub(super) fn metric_reason(&self) -> &'static str {
        match self {
            PreflightFailure::TooManyTurns { .. } => "too_many_turns",
            PreflightFailure::ChatDisabled => "feature_disabled",
            PreflightFailure::SessionNotFound => "session_not_found",
            PreflightFailure::QuotaExceeded(_) => "quota_exceeded",
            PreflightFailure::SessionUnavailable | PreflightFailure::Unexpected => "internal_error",
        }
    }
}

/// The user's running turns, flags, session, quota and the user message, in that order.
pub(super) async fn preflight(
    deps: &TurnDeps,
    input: TurnInput,
    sink: &mut EventSink,
    metrics: &TurnMetrics,
) -> Result<Turn, PreflightFailure> {
    let store = &deps.store;
    let user_id = input.user.user_id.as_str();
    // First, so that a refused turn spends nothing (no quota unit, no row, no database call).
    let slot =
        deps.live.cap.start(user_id).await.ok_or(PreflightFailure::TooManyTurns { limit: deps.live.cap.per_user() })?;
    let flags = store.feature_flags(user_id).await.map_err(unexpected)?;
    if !flags.chat_allowed() {
        return Err(PreflightFailure::ChatDisabled);
    }

    let existing = match input.request.session_id {
        None => None,
        Some(id) => match store.get_session(id, user_id).await {
            Ok(Some(session)) => Some(session),
            Ok(None) => return Err(PreflightFailure::SessionNotFound),
            Err(err) => {
                tracing::error!(error = %err, "session lookup failed");
                return Err(PreflightFailure::SessionUnavailable);
            }
        },
    };

    let reservation = match quota::reserve(store, &deps.config.quota, &flags, user_id, chrono::Utc::now()).await {
        Ok(Ok(reservation)) => reservation,
        Ok(Err(exceeded)) => {
            metrics.quota_rejected();
            return Err(PreflightFailure::QuotaExceeded(exceeded));
        }
        Err(err) => return Err(unexpected(err)),
    };
    match start(deps, &input, existing, &reservation, slot, sink).await {
        Ok((who, live, conversation)) => {
            Ok(Turn { deps: deps.clone(), live, who, reservation, conversation, tally: Tally::default() })
        }
        Err(failure) => {
            give_back(reservation, store).await;
            Err(failure)
        }
    }
}

/// The steps after the quota unit is taken: the session (created for a new chat), the user
/// message (its id is the turn's: the event log, the lease and stops go by it), and the
/// conversation so far.
async fn start(
    deps: &TurnDeps,
    input: &TurnInput,
    existing: Option<Session>,
    reservation: &Reservation,
    slot: CapSlot,
    sink: &mut EventSink,
) -> Result<(Who, LiveTurn, Conversation), PreflightFailure> {
    let store = &deps.store;
    let user_id = input.user.user_id.as_str();
    let session = match existing {
        Some(session) => session,
        None => {
            let title = store::sessions::title_from_message(&input.request.message);
            store.create_session(user_id, &title).await.map_err(|err| {
                tracing::error!(error = %err, "session create failed");
                PreflightFailure::SessionUnavailable
            })?
        }
    };
    let user_message = NewMessage {
        session_id: session.id,
        user_id: user_id.to_string(),
        role: Some(StoreRole::User),
        content: Some(input.request.message.clone()),
        ..Default::default()
    };
    let message_id = store.insert_message(&user_message).await.map_err(unexpected)?;
    let turn_id = message_id.simple().to_string();
    let record = TurnRecord {
        user_id: user_id.to_string(),
        session_id: session.id,
        period: reservation.period.key(),
        done: false,
    };
    sink.log_to(deps.live.log.clone(), &turn_id, &record).await;
    let live = deps.live.begin(&turn_id, slot).await;
    tracing::Span::current().record("session_id", tracing::field::display(session.id));

    let rows = store.message_page(session.id, history::MAX_ROWS, None).await.map_err(unexpected)?.messages;
    let context = input.request.context.clone();
    let conversation = Conversation {
        history: history::build(&rows, deps.config.anthropic.history_token_budget),
        pending: PendingImports::new(context.as_ref().and_then(|c| c.pending_imports.clone())),
        context,
        tool_defs: deps.catalog.definitions(&deps.tools),
        transcript: Vec::new(),
    };
    let who = Who { user: input.user.clone(), request_id: input.request_id.clone(), session_id: session.id };
    Ok((who, live, conversation))
}

/// A database failure the client only hears about as "unexpected"; the log has the cause.
fn unexpected(err: store::StoreError) -> PreflightFailure {
    tracing::error!(error = %err, "turn pre-flight failed");
    PreflightFailure::Unexpected
}
