//! `scoville up`: every part of Scoville in one process on the embedded defaults — the
//! admin API, the receiver and its worker, the failure service and its notifier, and a
//! probe loop — over one SQLite file and in-process queues, so that a first run needs
//! no cloud and no database server.
//!
//! - [`up`] starts the parts and wires them together ([`up::Running`]).
//! - [`first_run`] creates the first user, org and API key of an empty installation.
//! - [`as_code`] reconciles endpoints and alert channels declared in a TOML file
//!   (monitoring as code, as Gatus does with its YAML).

pub mod as_code;
pub mod first_run;
pub mod up;
