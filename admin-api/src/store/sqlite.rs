//! The embedded admin store on SQLite (rusqlite, bundled): one connection behind a
//! mutex on tokio's blocking pool, WAL. Endpoints are stored as JSON documents keyed by
//! (org_id, id); every query of org data names the org.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use scoville_core::{EndpointId, OrgId};

use super::{AdminStore, Result, StoreError};
use crate::hook::StoredHook;
use crate::model::{
    AlertChannel, ApiKey, Endpoint, KeyScope, MaintenanceWindow, Member, Org, ProbeToken, Role,
    StatusPage, User,
};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA busy_timeout = 5000;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS orgs (id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS memberships (
    org_id TEXT NOT NULL REFERENCES orgs(id), user_id TEXT NOT NULL REFERENCES users(id), role TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id));
CREATE INDEX IF NOT EXISTS memberships_user ON memberships(user_id);
CREATE TABLE IF NOT EXISTS sessions (token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);
CREATE TABLE IF NOT EXISTS invitations (
    token_hash TEXT PRIMARY KEY, org_id TEXT NOT NULL, email TEXT NOT NULL, role TEXT NOT NULL, expires_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL, name TEXT NOT NULL, scope TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE,
    created_by TEXT);
CREATE TABLE IF NOT EXISTS probe_tokens (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS endpoints (
    org_id TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (org_id, id)) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS endpoints_id ON endpoints(id);
CREATE TABLE IF NOT EXISTS channels (
    org_id TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, config TEXT NOT NULL,
    PRIMARY KEY (org_id, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS maintenance (
    org_id TEXT NOT NULL, id TEXT NOT NULL, from_ms INTEGER NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (org_id, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status_pages (
    org_id TEXT NOT NULL, id TEXT NOT NULL, slug TEXT NOT NULL UNIQUE, doc TEXT NOT NULL,
    PRIMARY KEY (org_id, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS hooks (
    org_id TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (org_id, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS generation (one INTEGER PRIMARY KEY CHECK (one = 1), n INTEGER NOT NULL);
INSERT OR IGNORE INTO generation VALUES (1, 0);
";

/// The SQLite admin store.
#[derive(Debug, Clone)]
pub struct SqliteAdmin {
    conn: Arc<Mutex<Connection>>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn scope_str(s: KeyScope) -> &'static str {
    match s {
        KeyScope::Read => "read",
        KeyScope::ReadWrite => "read_write",
    }
}

fn scope_of(s: &str) -> KeyScope {
    if s == "read_write" {
        KeyScope::ReadWrite
    } else {
        KeyScope::Read
    }
}

fn role_of(s: &str) -> Role {
    Role::parse(s).unwrap_or(Role::Viewer)
}

fn org_id(s: String) -> rusqlite::Result<OrgId> {
    OrgId::parse(s)
        .map_err(|e| rusqlite::Error::InvalidColumnType(0, e, rusqlite::types::Type::Text))
}

fn endpoint_of(doc: &str) -> Result<Endpoint> {
    serde_json::from_str(doc).map_err(|e| unavailable(format!("unreadable endpoint: {e}")))
}

/// Columns added after a table was first created: databases made by an older version
/// get them on open.
fn add_missing_columns(conn: &Connection) -> Result<()> {
    const ADDED: &[(&str, &str, &str)] = &[("api_keys", "created_by", "TEXT")];
    for (table, column, decl) in ADDED {
        let present: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
                params![table, column],
                |r| r.get(0),
            )
            .map_err(unavailable)?;
        if !present {
            conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))
                .map_err(unavailable)?;
        }
    }
    Ok(())
}

impl SqliteAdmin {
    /// Opens (creating) the database at `path`; `:memory:` for tests.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(unavailable)?;
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        add_missing_columns(&conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        on_blocking_pool(&self.conn, f).await
    }
}

/// `f` on the connection behind `conn`, on tokio's blocking pool (the heartbeat store
/// shares it).
pub(crate) async fn on_blocking_pool<T: Send + 'static>(
    conn: &Arc<Mutex<Connection>>,
    f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
) -> Result<T> {
    let conn = conn.clone();
    tokio::task::spawn_blocking(move || f(&mut conn.lock().unwrap_or_else(|p| p.into_inner())))
        .await
        .map_err(unavailable)?
}

#[async_trait::async_trait]
impl AdminStore for SqliteAdmin {
    async fn create_user_with_org(
        &self,
        user: &User,
        password_hash: &str,
        org: &Org,
    ) -> Result<()> {
        let (user, hash, org) = (user.clone(), password_hash.to_string(), org.clone());
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            let taken: bool = tx
                .query_row(
                    "SELECT 1 FROM users WHERE email = ?1",
                    params![user.email],
                    |_| Ok(true),
                )
                .optional()
                .map_err(unavailable)?
                .unwrap_or(false);
            if taken {
                return Err(StoreError::Conflict("a user with this email"));
            }
            tx.execute(
                "INSERT INTO users (id, email, password_hash) VALUES (?1, ?2, ?3)",
                params![user.id, user.email, hash],
            )
            .map_err(unavailable)?;
            tx.execute(
                "INSERT INTO orgs (id, name) VALUES (?1, ?2)",
                params![org.id.as_str(), org.name],
            )
            .map_err(unavailable)?;
            tx.execute(
                "INSERT INTO memberships (org_id, user_id, role) VALUES (?1, ?2, 'owner')",
                params![org.id.as_str(), user.id],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>> {
        let email = email.to_string();
        self.run(move |c| {
            c.query_row(
                "SELECT id, email, password_hash FROM users WHERE email = ?1",
                params![email],
                |r| {
                    Ok((
                        User {
                            id: r.get(0)?,
                            email: r.get(1)?,
                        },
                        r.get(2)?,
                    ))
                },
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn password_hash(&self, user_id: &str) -> Result<Option<String>> {
        let id = user_id.to_string();
        self.run(move |c| {
            c.query_row(
                "SELECT password_hash FROM users WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn set_password(&self, user_id: &str, password_hash: &str) -> Result<()> {
        let (id, hash) = (user_id.to_string(), password_hash.to_string());
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            tx.execute(
                "UPDATE users SET password_hash = ?2 WHERE id = ?1",
                params![id, hash],
            )
            .map_err(unavailable)?;
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", params![id])
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn create_session(&self, token_hash: &str, user_id: &str, expires_ms: i64) -> Result<()> {
        let (t, u) = (token_hash.to_string(), user_id.to_string());
        self.run(move |c| {
            c.execute(
                "INSERT INTO sessions (token_hash, user_id, expires_ms) VALUES (?1, ?2, ?3)",
                params![t, u, expires_ms],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn session_user(&self, token_hash: &str, now_ms: i64) -> Result<Option<User>> {
        let t = token_hash.to_string();
        self.run(move |c| {
            c.query_row(
                "SELECT u.id, u.email FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1 AND s.expires_ms > ?2",
                params![t, now_ms],
                |r| Ok(User { id: r.get(0)?, email: r.get(1)? }),
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        let t = token_hash.to_string();
        self.run(move |c| {
            c.execute("DELETE FROM sessions WHERE token_hash = ?1", params![t])
                .map(|_| ())
                .map_err(unavailable)
        })
        .await
    }

    async fn memberships(&self, user_id: &str) -> Result<Vec<(Org, Role)>> {
        let u = user_id.to_string();
        self.run(move |c| {
            let mut q = c
                .prepare_cached("SELECT o.id, o.name, m.role FROM memberships m JOIN orgs o ON o.id = m.org_id WHERE m.user_id = ?1 ORDER BY o.id")
                .map_err(unavailable)?;
            let rows = q
                .query_map(params![u], |r| {
                    Ok((Org { id: org_id(r.get(0)?)?, name: r.get(1)? }, role_of(&r.get::<_, String>(2)?)))
                })
                .map_err(unavailable)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(unavailable)
        })
        .await
    }

    async fn members(&self, org: &OrgId) -> Result<Vec<Member>> {
        let o = org.as_str().to_string();
        self.run(move |c| {
            let mut q = c
                .prepare_cached("SELECT u.id, u.email, m.role FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = ?1 ORDER BY u.email")
                .map_err(unavailable)?;
            let rows = q
                .query_map(params![o], |r| {
                    Ok(Member { user_id: r.get(0)?, email: r.get(1)?, role: role_of(&r.get::<_, String>(2)?) })
                })
                .map_err(unavailable)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(unavailable)
        })
        .await
    }

    async fn set_member(&self, org: &OrgId, user_id: &str, role: Role) -> Result<()> {
        let (o, u) = (org.as_str().to_string(), user_id.to_string());
        self.run(move |c| {
            c.execute(
                "INSERT INTO memberships (org_id, user_id, role) VALUES (?1, ?2, ?3) ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
                params![o, u, role.as_str()],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn remove_member(&self, org: &OrgId, user_id: &str) -> Result<bool> {
        let (o, u) = (org.as_str().to_string(), user_id.to_string());
        self.run(move |c| {
            c.execute(
                "DELETE FROM memberships WHERE org_id = ?1 AND user_id = ?2",
                params![o, u],
            )
            .map(|n| n > 0)
            .map_err(unavailable)
        })
        .await
    }

    async fn create_invitation(
        &self,
        token_hash: &str,
        org: &OrgId,
        email: &str,
        role: Role,
        expires_ms: i64,
    ) -> Result<()> {
        let (t, o, e) = (
            token_hash.to_string(),
            org.as_str().to_string(),
            email.to_string(),
        );
        self.run(move |c| {
            c.execute(
                "INSERT INTO invitations (token_hash, org_id, email, role, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![t, o, e, role.as_str(), expires_ms],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn take_invitation(
        &self,
        token_hash: &str,
        email: &str,
        now_ms: i64,
    ) -> Result<Option<(OrgId, String, Role)>> {
        let (t, e) = (token_hash.to_string(), email.to_string());
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            let found = tx
                .query_row(
                    "SELECT org_id, email, role FROM invitations WHERE token_hash = ?1 AND expires_ms > ?2",
                    params![t, now_ms],
                    |r| Ok((org_id(r.get(0)?)?, r.get::<_, String>(1)?, role_of(&r.get::<_, String>(2)?))),
                )
                .optional()
                .map_err(unavailable)?;
            // Expired ones go too; a live one for another email stays.
            tx.execute(
                "DELETE FROM invitations WHERE token_hash = ?1 AND (email = ?2 OR expires_ms <= ?3)",
                params![t, e, now_ms],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(found)
        })
        .await
    }

    async fn create_api_key(&self, org: &OrgId, key: &ApiKey, key_hash: &str) -> Result<()> {
        let (o, k, h) = (org.as_str().to_string(), key.clone(), key_hash.to_string());
        self.run(move |c| {
            c.execute(
                "INSERT INTO api_keys (id, org_id, name, scope, key_hash, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![k.id, o, k.name, scope_str(k.scope), h, k.created_by],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn api_key(&self, key_hash: &str) -> Result<Option<(OrgId, ApiKey)>> {
        let h = key_hash.to_string();
        self.run(move |c| {
            c.query_row(
                "SELECT org_id, id, name, scope, created_by FROM api_keys WHERE key_hash = ?1",
                params![h],
                |r| {
                    Ok((
                        org_id(r.get(0)?)?,
                        ApiKey {
                            id: r.get(1)?,
                            name: r.get(2)?,
                            scope: scope_of(&r.get::<_, String>(3)?),
                            created_by: r.get(4)?,
                        },
                    ))
                },
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn api_keys(&self, org: &OrgId) -> Result<Vec<ApiKey>> {
        let o = org.as_str().to_string();
        self.run(move |c| {
            let mut q = c
                .prepare_cached(
                    "SELECT id, name, scope, created_by FROM api_keys WHERE org_id = ?1 ORDER BY id",
                )
                .map_err(unavailable)?;
            let rows = q
                .query_map(params![o], |r| {
                    Ok(ApiKey {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        scope: scope_of(&r.get::<_, String>(2)?),
                        created_by: r.get(3)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(unavailable)
        })
        .await
    }

    async fn delete_api_key(&self, org: &OrgId, id: &str) -> Result<bool> {
        let (o, i) = (org.as_str().to_string(), id.to_string());
        self.run(move |c| {
            c.execute(
                "DELETE FROM api_keys WHERE org_id = ?1 AND id = ?2",
                params![o, i],
            )
            .map(|n| n > 0)
            .map_err(unavailable)
        })
        .await
    }

    async fn create_probe_token(
        &self,
        org: &OrgId,
        id: &str,
        name: &str,
        token_hash: &str,
    ) -> Result<()> {
        let (o, i, n, h) = (
            org.as_str().to_string(),
            id.to_string(),
            name.to_string(),
            token_hash.to_string(),
        );
        self.run(move |c| {
            c.execute(
                "INSERT INTO probe_tokens (id, org_id, name, token_hash) VALUES (?1, ?2, ?3, ?4)",
                params![i, o, n, h],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn probe_token(&self, token_hash: &str) -> Result<Option<OrgId>> {
        let h = token_hash.to_string();
        self.run(move |c| {
            c.query_row(
                "SELECT org_id FROM probe_tokens WHERE token_hash = ?1",
                params![h],
                |r| org_id(r.get(0)?),
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn probe_tokens(&self, org: &OrgId) -> Result<Vec<ProbeToken>> {
        let o = org.as_str().to_string();
        self.run(move |c| {
            let mut q = c
                .prepare_cached("SELECT id, name FROM probe_tokens WHERE org_id = ?1 ORDER BY id")
                .map_err(unavailable)?;
            let rows = q
                .query_map(params![o], |r| {
                    Ok(ProbeToken {
                        id: r.get(0)?,
                        name: r.get(1)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(unavailable)
        })
        .await
    }

    async fn delete_probe_token(&self, org: &OrgId, id: &str) -> Result<bool> {
        let (o, i) = (org.as_str().to_string(), id.to_string());
        self.run(move |c| {
            c.execute(
                "DELETE FROM probe_tokens WHERE org_id = ?1 AND id = ?2",
                params![o, i],
            )
            .map(|n| n > 0)
            .map_err(unavailable)
        })
        .await
    }

    async fn put_endpoint(&self, endpoint: &Endpoint, must_exist: bool) -> Result<bool> {
        let e = endpoint.clone();
        let doc = serde_json::to_string(endpoint).map_err(unavailable)?;
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            let n = if must_exist {
                tx.execute(
                    "UPDATE endpoints SET doc = ?3 WHERE org_id = ?1 AND id = ?2",
                    params![e.org_id.as_str(), e.id.as_str(), doc],
                )
            } else {
                tx.execute(
                    "INSERT INTO endpoints (org_id, id, doc) VALUES (?1, ?2, ?3)",
                    params![e.org_id.as_str(), e.id.as_str(), doc],
                )
            }
            .map_err(unavailable)?;
            if n > 0 {
                tx.execute("UPDATE generation SET n = n + 1", [])
                    .map_err(unavailable)?;
            }
            tx.commit().map_err(unavailable)?;
            Ok(n > 0)
        })
        .await
    }

    async fn endpoint(&self, org: &OrgId, id: &EndpointId) -> Result<Option<Endpoint>> {
        let (o, i) = (org.as_str().to_string(), id.as_str().to_string());
        self.run(move |c| {
            let doc: Option<String> = c
                .query_row(
                    "SELECT doc FROM endpoints WHERE org_id = ?1 AND id = ?2",
                    params![o, i],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            doc.map(|d| endpoint_of(&d)).transpose()
        })
        .await
    }

    async fn endpoints(&self, org: &OrgId) -> Result<Vec<Endpoint>> {
        self.all_endpoints(Some(org)).await
    }

    async fn delete_endpoint(&self, org: &OrgId, id: &EndpointId) -> Result<bool> {
        let (o, i) = (org.as_str().to_string(), id.as_str().to_string());
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            let n = tx
                .execute(
                    "DELETE FROM endpoints WHERE org_id = ?1 AND id = ?2",
                    params![o, i],
                )
                .map_err(unavailable)?;
            if n > 0 {
                tx.execute("UPDATE generation SET n = n + 1", [])
                    .map_err(unavailable)?;
            }
            tx.commit().map_err(unavailable)?;
            Ok(n > 0)
        })
        .await
    }

    async fn all_endpoint_docs(&self) -> Result<Vec<String>> {
        self.run(|c| {
            let mut q = c
                .prepare_cached("SELECT doc FROM endpoints ORDER BY id")
                .map_err(unavailable)?;
            let rows = q.query_map([], |r| r.get(0)).map_err(unavailable)?;
            rows.collect::<rusqlite::Result<_>>().map_err(unavailable)
        })
        .await
    }

    async fn all_endpoints(&self, org: Option<&OrgId>) -> Result<Vec<Endpoint>> {
        let o = org.map(|o| o.as_str().to_string());
        self.run(move |c| {
            let docs: Vec<String> = match &o {
                Some(o) => {
                    let mut q = c
                        .prepare_cached("SELECT doc FROM endpoints WHERE org_id = ?1 ORDER BY id")
                        .map_err(unavailable)?;
                    let rows = q.query_map(params![o], |r| r.get(0)).map_err(unavailable)?;
                    rows.collect::<rusqlite::Result<_>>().map_err(unavailable)?
                }
                None => {
                    let mut q = c
                        .prepare_cached("SELECT doc FROM endpoints ORDER BY id")
                        .map_err(unavailable)?;
                    let rows = q.query_map([], |r| r.get(0)).map_err(unavailable)?;
                    rows.collect::<rusqlite::Result<_>>().map_err(unavailable)?
                }
            };
            docs.iter().map(|d| endpoint_of(d)).collect()
        })
        .await
    }

    async fn put_channel(
        &self,
        org: &OrgId,
        channel: &AlertChannel,
        config_json: &str,
    ) -> Result<()> {
        let (o, ch, cfg) = (
            org.as_str().to_string(),
            channel.clone(),
            config_json.to_string(),
        );
        self.run(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO channels (org_id, id, name, kind, config) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![o, ch.id, ch.name, ch.kind, cfg],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn channels(&self, org: &OrgId) -> Result<Vec<AlertChannel>> {
        let o = org.as_str().to_string();
        self.run(move |c| {
            let mut q = c
                .prepare_cached("SELECT id, name, kind FROM channels WHERE org_id = ?1 ORDER BY id")
                .map_err(unavailable)?;
            let rows = q
                .query_map(params![o], |r| {
                    Ok(AlertChannel {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        kind: r.get(2)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(unavailable)
        })
        .await
    }

    async fn channel(&self, org: &OrgId, id: &str) -> Result<Option<(AlertChannel, String)>> {
        let (o, i) = (org.as_str().to_string(), id.to_string());
        self.run(move |c| {
            c.query_row(
                "SELECT id, name, kind, config FROM channels WHERE org_id = ?1 AND id = ?2",
                params![o, i],
                |r| {
                    Ok((
                        AlertChannel {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            kind: r.get(2)?,
                        },
                        r.get(3)?,
                    ))
                },
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn delete_channel(&self, org: &OrgId, id: &str) -> Result<bool> {
        let (o, i) = (org.as_str().to_string(), id.to_string());
        self.run(move |c| {
            c.execute(
                "DELETE FROM channels WHERE org_id = ?1 AND id = ?2",
                params![o, i],
            )
            .map(|n| n > 0)
            .map_err(unavailable)
        })
        .await
    }

    async fn put_window(&self, org: &OrgId, window: &MaintenanceWindow) -> Result<()> {
        let (o, w) = (org.as_str().to_string(), window.clone());
        let doc = serde_json::to_string(window).map_err(unavailable)?;
        self.run(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO maintenance (org_id, id, from_ms, doc) VALUES (?1, ?2, ?3, ?4)",
                params![o, w.id, w.from_ms, doc],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn windows(&self, org: &OrgId) -> Result<Vec<MaintenanceWindow>> {
        let o = org.as_str().to_string();
        self.run(move |c| {
            let mut q = c
                .prepare_cached(
                    "SELECT doc FROM maintenance WHERE org_id = ?1 ORDER BY from_ms, id",
                )
                .map_err(unavailable)?;
            let docs = q
                .query_map(params![o], |r| r.get::<_, String>(0))
                .map_err(unavailable)?;
            docs.map(|d| {
                let d = d.map_err(unavailable)?;
                serde_json::from_str(&d).map_err(|e| unavailable(format!("unreadable window: {e}")))
            })
            .collect()
        })
        .await
    }

    async fn delete_window(&self, org: &OrgId, id: &str) -> Result<bool> {
        let (o, i) = (org.as_str().to_string(), id.to_string());
        self.run(move |c| {
            c.execute(
                "DELETE FROM maintenance WHERE org_id = ?1 AND id = ?2",
                params![o, i],
            )
            .map(|n| n > 0)
            .map_err(unavailable)
        })
        .await
    }

    async fn put_status_page(&self, org: &OrgId, page: &StatusPage) -> Result<()> {
        let (o, p) = (org.as_str().to_string(), page.clone());
        let doc = serde_json::to_string(page).map_err(unavailable)?;
        self.run(move |c| {
            let taken: bool = c
                .query_row(
                    "SELECT 1 FROM status_pages WHERE slug = ?1 AND NOT (org_id = ?2 AND id = ?3)",
                    params![p.slug, o, p.id],
                    |_| Ok(true),
                )
                .optional()
                .map_err(unavailable)?
                .unwrap_or(false);
            if taken {
                return Err(StoreError::Conflict("a status page with this slug"));
            }
            c.execute(
                "INSERT OR REPLACE INTO status_pages (org_id, id, slug, doc) VALUES (?1, ?2, ?3, ?4)",
                params![o, p.id, p.slug, doc],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn status_pages(&self, org: &OrgId) -> Result<Vec<StatusPage>> {
        let o = org.as_str().to_string();
        self.run(move |c| {
            let mut q = c
                .prepare_cached("SELECT doc FROM status_pages WHERE org_id = ?1 ORDER BY slug")
                .map_err(unavailable)?;
            let docs = q
                .query_map(params![o], |r| r.get::<_, String>(0))
                .map_err(unavailable)?;
            docs.map(|d| {
                let d = d.map_err(unavailable)?;
                serde_json::from_str(&d)
                    .map_err(|e| unavailable(format!("unreadable status page: {e}")))
            })
            .collect()
        })
        .await
    }

    async fn status_page_by_slug(&self, slug: &str) -> Result<Option<(OrgId, StatusPage)>> {
        let s = slug.to_string();
        self.run(move |c| {
            let row: Option<(String, String)> = c
                .query_row(
                    "SELECT org_id, doc FROM status_pages WHERE slug = ?1",
                    params![s],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(unavailable)?;
            row.map(|(o, d)| {
                let org = OrgId::parse(o).map_err(unavailable)?;
                let page = serde_json::from_str(&d)
                    .map_err(|e| unavailable(format!("unreadable status page: {e}")))?;
                Ok((org, page))
            })
            .transpose()
        })
        .await
    }

    async fn delete_status_page(&self, org: &OrgId, id: &str) -> Result<bool> {
        let (o, i) = (org.as_str().to_string(), id.to_string());
        self.run(move |c| {
            c.execute(
                "DELETE FROM status_pages WHERE org_id = ?1 AND id = ?2",
                params![o, i],
            )
            .map(|n| n > 0)
            .map_err(unavailable)
        })
        .await
    }

    async fn put_hook(&self, org: &OrgId, hook: &StoredHook) -> Result<()> {
        let doc = serde_json::to_string(hook).map_err(unavailable)?;
        let (o, i) = (org.as_str().to_string(), hook.id.clone());
        self.run(move |c| {
            c.execute(
                "INSERT OR REPLACE INTO hooks (org_id, id, doc) VALUES (?1, ?2, ?3)",
                params![o, i, doc],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn hooks(&self, org: &OrgId) -> Result<Vec<StoredHook>> {
        let o = org.as_str().to_string();
        let docs: Vec<String> = self
            .run(move |c| {
                let mut q = c
                    .prepare_cached("SELECT doc FROM hooks WHERE org_id = ?1 ORDER BY id")
                    .map_err(unavailable)?;
                let rows = q.query_map(params![o], |r| r.get(0)).map_err(unavailable)?;
                rows.collect::<rusqlite::Result<Vec<String>>>()
                    .map_err(unavailable)
            })
            .await?;
        docs.iter()
            .map(|d| serde_json::from_str(d).map_err(unavailable))
            .collect()
    }

    async fn hook(&self, org: &OrgId, id: &str) -> Result<Option<StoredHook>> {
        let (o, i) = (org.as_str().to_string(), id.to_string());
        let doc: Option<String> = self
            .run(move |c| {
                c.query_row(
                    "SELECT doc FROM hooks WHERE org_id = ?1 AND id = ?2",
                    params![o, i],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)
            })
            .await?;
        doc.map(|d| serde_json::from_str(&d).map_err(unavailable))
            .transpose()
    }

    async fn delete_hook(&self, org: &OrgId, id: &str) -> Result<bool> {
        let (o, i) = (org.as_str().to_string(), id.to_string());
        self.run(move |c| {
            c.execute(
                "DELETE FROM hooks WHERE org_id = ?1 AND id = ?2",
                params![o, i],
            )
            .map(|n| n > 0)
            .map_err(unavailable)
        })
        .await
    }

    async fn generation(&self) -> Result<u64> {
        self.run(|c| {
            c.query_row("SELECT n FROM generation", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(unavailable)
        })
        .await
    }
}
