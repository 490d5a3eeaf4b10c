//! The embedded state store: the same conditional-write contract as DynamoDB's, one
//! record at a time and in chunks, on a real database file.

#![allow(clippy::unwrap_used)]

use scoville_failure_service::store::sqlite::SqliteStore;
use scoville_failure_service::store::{IncidentStore, Record, StoreError};

#[tokio::test]
async fn stale_versions_are_refused_alone_and_in_a_chunk() {
    let dir = std::env::temp_dir().join(format!("scoville-incidents-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("incidents.db");
    let s = SqliteStore::open(&path).unwrap();
    let fresh = s.load("org-1/a").await.unwrap();
    assert_eq!(s.save("org-1/a", &fresh).await, Ok(1));
    assert_eq!(s.save("org-1/a", &fresh).await, Err(StoreError::Conflict));

    let keys = ["org-1/a".to_string(), "org-1/b".to_string()];
    let loaded = s.load_many(&keys).await.unwrap();
    assert_eq!((loaded[0].version, loaded[1].version), (1, 0));
    let stale_a = Record {
        version: 0,
        ..Record::default()
    };
    let outcomes = s
        .save_many(&[
            (keys[0].clone(), stale_a),
            (keys[1].clone(), loaded[1].clone()),
        ])
        .await
        .unwrap();
    assert_eq!(outcomes, vec![Err(StoreError::Conflict), Ok(1)]);

    // It is all on disk.
    drop(s);
    let again = SqliteStore::open(&path).unwrap();
    let loaded = again.load_many(&keys).await.unwrap();
    assert_eq!((loaded[0].version, loaded[1].version), (1, 1));
    std::fs::remove_dir_all(&dir).unwrap();
}
