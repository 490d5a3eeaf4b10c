//! Scoville's notifier: what turns the failure service's decisions into messages people
//! read, exactly once each, without a storm.
//!
//! The failure service puts one [`NotificationJob`] per (notice, alert channel) on the
//! notification queue ([`queue`]: SQS, or in-process). A notifier receives jobs in
//! batches and:
//!
//! 1. looks each job's channel up ([`directory`]);
//! 2. drops duplicates: a dedup key per (incident, transition, channel) is claimed in a
//!    shared store before sending and confirmed after ([`dedup`]), so a job delivered
//!    twice is sent once;
//! 3. groups and paces per channel: many notices for one chat channel become digest
//!    messages, every channel is held to its service's rate ([`dispatch`]);
//! 4. sends through the channel ([`channel`]: Slack, Discord, Teams, webhook, email,
//!    Matrix, Telegram, PagerDuty; one file each behind one trait), retrying with
//!    exponential backoff and full jitter, honouring `Retry-After`, never retrying a
//!    permanent 4xx ([`delivery`]);
//! 5. settles each job with the queue: delete, retry later, or dead-letter.
//!
//! It runs as a server loop ([`worker`], binary `notifier`) or as an SQS-triggered
//! Lambda function reporting partial batch failures ([`lambda`], binary
//! `notifier-lambda`). [`test_notification::send_test`] is the admin API's "send a test
//! notification".
//!
//! Every outbound request goes through [`http::SendContext`]: one pooled client with
//! timeouts, no redirects, and the address guard the probe uses, so a webhook URL cannot
//! reach the operator's private network. User text (endpoint names, targets, server
//! errors) is escaped for each channel's markup ([`escape`]) and never used as a
//! template; secrets (webhook URLs, tokens, keys, passwords) are [`secret::Secret`]s that
//! never reach logs or `Debug` output.
//!
//! [`NotificationJob`]: scoville_core::notice::NotificationJob

pub mod admin_directory;
pub mod channel;
pub mod config;
pub mod dedup;
pub mod delivery;
pub mod directory;
pub mod dispatch;
pub mod escape;
pub mod http;
pub mod lambda;
pub mod metrics;
pub mod queue;
pub mod secret;
pub mod server;
pub mod test_notification;
pub mod worker;
