//! The admin store's contract, as one suite run against every adapter: [`contract`]
//! calls every method of [`AdminStore`] with its edge cases (conflicts, `must_exist`,
//! expiry, revocation, organization isolation, orders, the generation), and [`races`]
//! has two writers race for one email and for one status-page slug.
//!
//! Ids are prefixed with `tag` so that the suite can share a store with other tests.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::Arc;

use scoville_admin_api::model::{
    AlertChannel, ApiKey, Endpoint, EndpointInput, KeyScope, MaintenanceWindow, Member, Org,
    ProbeToken, Role, StatusPage, User,
};
use scoville_admin_api::store::{AdminStore, StoreError};
use scoville_core::{EndpointId, OrgId};
use serde_json::json;

const NOW: i64 = 1_790_000_000_000;
const EMAIL_TAKEN: StoreError = StoreError::Conflict("a user with this email");
const SLUG_TAKEN: StoreError = StoreError::Conflict("a status page with this slug");

fn org(id: &str, name: &str) -> Org {
    Org {
        id: OrgId::parse(id).unwrap(),
        name: name.into(),
    }
}

fn user(id: &str, email: &str) -> User {
    User {
        id: id.into(),
        email: email.into(),
    }
}

fn endpoint(org: &OrgId, id: &str, name: &str) -> Endpoint {
    let input: EndpointInput = serde_json::from_value(json!({
        "name": name,
        "check": {"type": "http", "url": "https://shop.example.com/health"},
        "regions": ["eu-west-1", "us-east-1"],
        "apdex_t_ms": 300
    }))
    .unwrap();
    input
        .into_endpoint(EndpointId::parse(id).unwrap(), org.clone())
        .unwrap()
}

fn page(id: &str, slug: &str, title: &str) -> StatusPage {
    StatusPage {
        id: id.into(),
        slug: slug.into(),
        title: title.into(),
        endpoint_ids: Vec::new(),
    }
}

fn window(id: &str, from_ms: i64) -> MaintenanceWindow {
    MaintenanceWindow {
        id: id.into(),
        from_ms,
        to_ms: from_ms + 3_600_000,
        endpoint_ids: Vec::new(),
        reason: format!("window {id}"),
    }
}

fn unavailable<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Unavailable(_)))
}

fn ids(endpoints: &[Endpoint]) -> Vec<String> {
    endpoints
        .iter()
        .map(|e| e.id.as_str().to_string())
        .collect()
}

/// Every method of the store, with its edge cases.
pub async fn contract(s: &dyn AdminStore, tag: &str) {
    users_and_members(s, tag).await;
    sessions_and_passwords(s, tag).await;
    invitations(s, tag).await;
    keys_and_probe_tokens(s, tag).await;
    endpoints_and_generation(s, tag).await;
    channels_and_windows(s, tag).await;
    status_pages(s, tag).await;
    hooks(s, tag).await;
}

async fn hooks(s: &dyn AdminStore, t: &str) {
    use scoville_admin_api::hook::StoredHook;
    use scoville_core::hook::HookEvents;
    let (a, b) = (
        OrgId::parse(format!("{t}org_ha")).unwrap(),
        OrgId::parse(format!("{t}org_hb")).unwrap(),
    );
    let hook = |id: &str, name: &str, events| StoredHook {
        id: format!("{t}{id}"),
        name: name.into(),
        url: format!("https://hooks.example/{id}?token=x"),
        events,
        secret: format!("whsec_{id}"),
        created_ms: NOW,
    };
    s.put_hook(&a, &hook("hk_2", "two", HookEvents::All))
        .await
        .unwrap();
    s.put_hook(&a, &hook("hk_1", "one", HookEvents::StateChanges))
        .await
        .unwrap();
    // Replaced, not added.
    s.put_hook(&a, &hook("hk_2", "two again", HookEvents::StateChanges))
        .await
        .unwrap();
    assert_eq!(
        s.hooks(&a).await.unwrap(),
        vec![
            hook("hk_1", "one", HookEvents::StateChanges),
            hook("hk_2", "two again", HookEvents::StateChanges)
        ],
        "by id, secrets and full URLs kept"
    );
    assert_eq!(
        s.hook(&a, &format!("{t}hk_1")).await.unwrap(),
        Some(hook("hk_1", "one", HookEvents::StateChanges))
    );
    assert!(s.hooks(&b).await.unwrap().is_empty());
    assert_eq!(s.hook(&b, &format!("{t}hk_1")).await.unwrap(), None);
    assert!(!s.delete_hook(&b, &format!("{t}hk_1")).await.unwrap());
    assert!(s.delete_hook(&a, &format!("{t}hk_1")).await.unwrap());
    assert!(!s.delete_hook(&a, &format!("{t}hk_1")).await.unwrap());
    assert_eq!(s.hooks(&a).await.unwrap().len(), 1);
    // Hooks are not channels, and channels are not hooks.
    assert!(
        s.channels(&a)
            .await
            .unwrap()
            .iter()
            .all(|c| !c.id.contains("hk_"))
    );
}

async fn users_and_members(s: &dyn AdminStore, t: &str) {
    let (org_a, org_b) = (
        org(&format!("{t}org_a"), "A"),
        org(&format!("{t}org_b"), "B"),
    );
    let alice = user(&format!("{t}usr_alice"), &format!("{t}alice@a.example"));
    let bob = user(&format!("{t}usr_bob"), &format!("{t}bob@b.example"));
    s.create_user_with_org(&alice, "hash-a", &org_a)
        .await
        .unwrap();
    s.create_user_with_org(&bob, "hash-b", &org_b)
        .await
        .unwrap();

    // A taken email is a conflict, and nothing of the refused signup is written.
    let org_c = org(&format!("{t}org_c"), "C");
    let carol = user(&format!("{t}usr_carol"), &alice.email);
    assert_eq!(
        s.create_user_with_org(&carol, "hash-c", &org_c).await,
        Err(EMAIL_TAKEN)
    );
    assert_eq!(s.password_hash(&carol.id).await.unwrap(), None);
    assert!(s.members(&org_c.id).await.unwrap().is_empty());
    assert!(s.memberships(&carol.id).await.unwrap().is_empty());
    // A taken user id fails too (not a conflict: ids are generated), and its email is
    // not left taken.
    let other = user(&alice.id, &format!("{t}other@a.example"));
    assert!(unavailable(
        s.create_user_with_org(&other, "hash-o", &org(&format!("{t}org_d"), "D"))
            .await
    ));
    assert_eq!(s.user_by_email(&other.email).await.unwrap(), None);

    // Lookups.
    assert_eq!(
        s.user_by_email(&alice.email).await.unwrap(),
        Some((alice.clone(), "hash-a".to_string()))
    );
    assert_eq!(
        s.user_by_email(&alice.email.to_uppercase()).await.unwrap(),
        None,
        "emails are matched exactly (the API lower-cases them)"
    );
    assert_eq!(s.user_by_email("nobody@x.example").await.unwrap(), None);
    assert_eq!(
        s.password_hash(&bob.id).await.unwrap().as_deref(),
        Some("hash-b")
    );
    assert_eq!(s.password_hash("usr_nobody").await.unwrap(), None);

    // Members: the owner first.
    assert_eq!(
        s.memberships(&alice.id).await.unwrap(),
        vec![(org_a.clone(), Role::Owner)]
    );
    assert_eq!(
        s.members(&org_a.id).await.unwrap(),
        vec![Member {
            user_id: alice.id.clone(),
            email: alice.email.clone(),
            role: Role::Owner
        }]
    );
    // Added, then their role changed: one membership.
    s.set_member(&org_a.id, &bob.id, Role::Viewer)
        .await
        .unwrap();
    s.set_member(&org_a.id, &bob.id, Role::Admin).await.unwrap();
    assert_eq!(
        s.members(&org_a.id).await.unwrap(),
        vec![
            Member {
                user_id: alice.id.clone(),
                email: alice.email.clone(),
                role: Role::Owner
            },
            Member {
                user_id: bob.id.clone(),
                email: bob.email.clone(),
                role: Role::Admin
            },
        ],
        "by email"
    );
    assert_eq!(
        s.memberships(&bob.id).await.unwrap(),
        vec![(org_a.clone(), Role::Admin), (org_b.clone(), Role::Owner)],
        "by org id"
    );
    // Members are sorted by email, not by id or arrival.
    let aaron = user(&format!("{t}usr_zz_aaron"), &format!("{t}aaron@a.example"));
    s.create_user_with_org(&aaron, "hash-z", &org(&format!("{t}org_z"), "Z"))
        .await
        .unwrap();
    s.set_member(&org_a.id, &aaron.id, Role::Viewer)
        .await
        .unwrap();
    let emails: Vec<String> = s
        .members(&org_a.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.email)
        .collect();
    assert_eq!(
        emails,
        vec![aaron.email.clone(), alice.email.clone(), bob.email.clone()]
    );
    // A member must be a user, of an org that exists.
    assert!(
        s.set_member(&org_a.id, "usr_nobody", Role::Viewer)
            .await
            .is_err()
    );
    assert!(
        s.set_member(
            &OrgId::parse(format!("{t}org_none")).unwrap(),
            &bob.id,
            Role::Viewer
        )
        .await
        .is_err()
    );
    assert!(s.memberships("usr_nobody").await.unwrap().is_empty());

    // Removal, once; not from an org they are not in.
    assert!(s.remove_member(&org_a.id, &bob.id).await.unwrap());
    assert!(!s.remove_member(&org_a.id, &bob.id).await.unwrap());
    assert!(!s.remove_member(&org_b.id, &alice.id).await.unwrap());
    assert_eq!(
        s.memberships(&bob.id).await.unwrap(),
        vec![(org_b.clone(), Role::Owner)]
    );
    assert_eq!(s.members(&org_a.id).await.unwrap().len(), 2);
}

async fn sessions_and_passwords(s: &dyn AdminStore, t: &str) {
    let alice = user(&format!("{t}usr_sam"), &format!("{t}sam@a.example"));
    let bob = user(&format!("{t}usr_sid"), &format!("{t}sid@b.example"));
    s.create_user_with_org(&alice, "old-hash", &org(&format!("{t}org_sam"), "S"))
        .await
        .unwrap();
    s.create_user_with_org(&bob, "hash", &org(&format!("{t}org_sid"), "T"))
        .await
        .unwrap();
    let sess = |n: &str| format!("{t}sess-{n}");
    for n in ["1", "2"] {
        s.create_session(&sess(n), &alice.id, NOW + 1000)
            .await
            .unwrap();
    }
    s.create_session(&sess("old"), &alice.id, NOW - 1)
        .await
        .unwrap();
    s.create_session(&sess("bob"), &bob.id, NOW + 1000)
        .await
        .unwrap();
    assert_eq!(
        s.session_user(&sess("1"), NOW).await.unwrap(),
        Some(alice.clone())
    );
    // Expired: strictly before `expires_ms`.
    assert_eq!(s.session_user(&sess("old"), NOW).await.unwrap(), None);
    assert_eq!(s.session_user(&sess("1"), NOW + 1000).await.unwrap(), None);
    assert_eq!(
        s.session_user(&sess("1"), NOW + 999).await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(s.session_user(&sess("none"), NOW).await.unwrap(), None);
    // A token hash is stored once.
    assert!(unavailable(
        s.create_session(&sess("1"), &bob.id, NOW + 1000).await
    ));
    assert_eq!(
        s.session_user(&sess("1"), NOW).await.unwrap(),
        Some(alice.clone())
    );
    // Ending one session leaves the others.
    s.delete_session(&sess("2")).await.unwrap();
    s.delete_session(&sess("2")).await.unwrap();
    assert_eq!(s.session_user(&sess("2"), NOW).await.unwrap(), None);

    // A new password ends every session of the user, and only theirs.
    s.create_session(&sess("3"), &alice.id, NOW + 1000)
        .await
        .unwrap();
    s.set_password(&alice.id, "new-hash").await.unwrap();
    for n in ["1", "3", "old"] {
        assert_eq!(s.session_user(&sess(n), NOW).await.unwrap(), None, "{n}");
    }
    assert_eq!(
        s.session_user(&sess("bob"), NOW).await.unwrap(),
        Some(bob.clone())
    );
    assert_eq!(
        s.password_hash(&alice.id).await.unwrap().as_deref(),
        Some("new-hash")
    );
    assert_eq!(
        s.user_by_email(&alice.email).await.unwrap(),
        Some((alice.clone(), "new-hash".to_string()))
    );
    // Sessions created afterwards live.
    s.create_session(&sess("4"), &alice.id, NOW + 1000)
        .await
        .unwrap();
    assert_eq!(
        s.session_user(&sess("4"), NOW).await.unwrap(),
        Some(alice.clone())
    );
    // No such user: nothing changes, nothing fails.
    s.set_password("usr_nobody", "x").await.unwrap();
    assert_eq!(s.password_hash("usr_nobody").await.unwrap(), None);
    // A session of no user is nobody's.
    s.create_session(&sess("ghost"), "usr_ghost", NOW + 1000)
        .await
        .unwrap();
    assert_eq!(s.session_user(&sess("ghost"), NOW).await.unwrap(), None);
}

async fn invitations(s: &dyn AdminStore, t: &str) {
    let o = OrgId::parse(format!("{t}org_inv")).unwrap();
    let inv = |n: &str| format!("{t}inv-{n}");
    s.create_invitation(&inv("1"), &o, "dan@a.example", Role::Admin, NOW + 1000)
        .await
        .unwrap();
    s.create_invitation(&inv("old"), &o, "eve@a.example", Role::Viewer, NOW - 1)
        .await
        .unwrap();
    assert!(unavailable(
        s.create_invitation(&inv("1"), &o, "x@a.example", Role::Viewer, NOW + 1000)
            .await
    ));
    let dan = Some((o.clone(), "dan@a.example".to_string(), Role::Admin));
    // Someone else is shown whom it is for, and it stays.
    assert_eq!(
        s.take_invitation(&inv("1"), "mallory@a.example", NOW)
            .await
            .unwrap(),
        dan
    );
    // Taken once, by the invited email.
    assert_eq!(
        s.take_invitation(&inv("1"), "dan@a.example", NOW)
            .await
            .unwrap(),
        dan
    );
    assert_eq!(
        s.take_invitation(&inv("1"), "dan@a.example", NOW)
            .await
            .unwrap(),
        None
    );
    // An expired one is not returned, and is deleted all the same (by anyone).
    assert_eq!(
        s.take_invitation(&inv("old"), "mallory@a.example", NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.take_invitation(&inv("old"), "eve@a.example", NOW - 10_000)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.take_invitation(&inv("none"), "dan@a.example", NOW)
            .await
            .unwrap(),
        None
    );
}

async fn keys_and_probe_tokens(s: &dyn AdminStore, t: &str) {
    let (a, b) = (
        OrgId::parse(format!("{t}org_ka")).unwrap(),
        OrgId::parse(format!("{t}org_kb")).unwrap(),
    );
    let key = |id: &str, scope| ApiKey {
        id: format!("{t}{id}"),
        name: format!("key {id}"),
        scope,
        created_by: None,
    };
    let hash = |h: &str| format!("{t}khash-{h}");
    let (k1, k2, kb) = (
        key("key_1", KeyScope::Read),
        ApiKey {
            created_by: Some("usr_maker".into()),
            ..key("key_2", KeyScope::ReadWrite)
        },
        key("key_b", KeyScope::Read),
    );
    s.create_api_key(&a, &k2, &hash("2")).await.unwrap();
    s.create_api_key(&a, &k1, &hash("1")).await.unwrap();
    s.create_api_key(&b, &kb, &hash("b")).await.unwrap();
    assert_eq!(
        s.api_key(&hash("2")).await.unwrap(),
        Some((a.clone(), k2.clone()))
    );
    assert_eq!(s.api_key(&hash("none")).await.unwrap(), None);
    assert_eq!(
        s.api_keys(&a).await.unwrap(),
        vec![k1.clone(), k2.clone()],
        "by id"
    );
    assert_eq!(s.api_keys(&b).await.unwrap(), vec![kb.clone()]);
    // A hash names one key; the refused key is not half-written.
    let kx = key("key_x", KeyScope::ReadWrite);
    assert!(unavailable(s.create_api_key(&b, &kx, &hash("1")).await));
    assert_eq!(s.api_keys(&b).await.unwrap(), vec![kb.clone()]);
    assert_eq!(
        s.api_key(&hash("1")).await.unwrap(),
        Some((a.clone(), k1.clone()))
    );
    // Deleted by its org only, once.
    assert!(!s.delete_api_key(&b, &k1.id).await.unwrap());
    assert!(s.api_key(&hash("1")).await.unwrap().is_some());
    assert!(s.delete_api_key(&a, &k1.id).await.unwrap());
    assert!(!s.delete_api_key(&a, &k1.id).await.unwrap());
    assert_eq!(s.api_key(&hash("1")).await.unwrap(), None);
    assert_eq!(s.api_keys(&a).await.unwrap(), vec![k2.clone()]);

    let p = |h: &str| format!("{t}phash-{h}");
    s.create_probe_token(&a, &format!("{t}pt_1"), "datacenter", &p("1"))
        .await
        .unwrap();
    assert_eq!(s.probe_token(&p("1")).await.unwrap(), Some(a.clone()));
    assert_eq!(s.probe_token(&p("none")).await.unwrap(), None);
    assert!(unavailable(
        s.create_probe_token(&b, &format!("{t}pt_2"), "other", &p("1"))
            .await
    ));
    assert_eq!(s.probe_token(&p("1")).await.unwrap(), Some(a.clone()));
    // Listed by their org (the refused one is not half-written), deleted by it only.
    s.create_probe_token(&a, &format!("{t}pt_0"), "office", &p("0"))
        .await
        .unwrap();
    let token = |id: &str, name: &str| ProbeToken {
        id: format!("{t}{id}"),
        name: name.into(),
    };
    assert_eq!(
        s.probe_tokens(&a).await.unwrap(),
        vec![token("pt_0", "office"), token("pt_1", "datacenter")]
    );
    assert_eq!(s.probe_tokens(&b).await.unwrap(), vec![]);
    assert!(!s.delete_probe_token(&b, &format!("{t}pt_1")).await.unwrap());
    assert!(s.delete_probe_token(&a, &format!("{t}pt_1")).await.unwrap());
    assert!(!s.delete_probe_token(&a, &format!("{t}pt_1")).await.unwrap());
    assert_eq!(s.probe_token(&p("1")).await.unwrap(), None);
    assert_eq!(s.probe_token(&p("0")).await.unwrap(), Some(a.clone()));
    assert_eq!(
        s.probe_tokens(&a).await.unwrap(),
        vec![token("pt_0", "office")]
    );
}

async fn endpoints_and_generation(s: &dyn AdminStore, t: &str) {
    let (a, b) = (
        OrgId::parse(format!("{t}org_ea")).unwrap(),
        OrgId::parse(format!("{t}org_eb")).unwrap(),
    );
    let id = |n: &str| format!("{t}ep_{n}");
    let g0 = s.generation().await.unwrap();
    let before = ids(&s.all_endpoints(None).await.unwrap());
    for (o, n) in [(&a, "2"), (&a, "1"), (&b, "3")] {
        assert!(
            s.put_endpoint(&endpoint(o, &id(n), n), false)
                .await
                .unwrap()
        );
    }
    assert_eq!(s.generation().await.unwrap(), g0 + 3);
    // Created once, in one org: the id is unique across organizations.
    assert!(unavailable(
        s.put_endpoint(&endpoint(&a, &id("1"), "again"), false)
            .await
    ));
    assert!(unavailable(
        s.put_endpoint(&endpoint(&b, &id("1"), "elsewhere"), false)
            .await
    ));
    assert_eq!(s.generation().await.unwrap(), g0 + 3, "no write, no bump");
    // `must_exist`: nothing written for an unknown id, nor for another org's.
    assert!(
        !s.put_endpoint(&endpoint(&a, &id("9"), "ghost"), true)
            .await
            .unwrap()
    );
    assert_eq!(
        s.endpoint(&a, &EndpointId::parse(id("9")).unwrap())
            .await
            .unwrap(),
        None
    );
    assert!(
        !s.put_endpoint(&endpoint(&b, &id("1"), "hijack"), true)
            .await
            .unwrap()
    );
    assert_eq!(s.generation().await.unwrap(), g0 + 3);
    let e1 = EndpointId::parse(id("1")).unwrap();
    assert_eq!(s.endpoint(&a, &e1).await.unwrap().unwrap().name, "1");
    assert_eq!(s.endpoint(&b, &e1).await.unwrap(), None, "org isolation");
    // Replaced.
    let renamed = endpoint(&a, &id("1"), "renamed");
    assert!(s.put_endpoint(&renamed, true).await.unwrap());
    assert_eq!(s.generation().await.unwrap(), g0 + 4);
    assert_eq!(s.endpoint(&a, &e1).await.unwrap(), Some(renamed.clone()));
    // Lists, by id.
    assert_eq!(ids(&s.endpoints(&a).await.unwrap()), vec![id("1"), id("2")]);
    assert_eq!(ids(&s.endpoints(&b).await.unwrap()), vec![id("3")]);
    assert_eq!(
        s.all_endpoints(Some(&a)).await.unwrap(),
        s.endpoints(&a).await.unwrap()
    );
    let mut expected = before.clone();
    expected.extend([id("1"), id("2"), id("3")]);
    expected.sort();
    let all = s.all_endpoints(None).await.unwrap();
    assert_eq!(ids(&all), expected);
    assert!(all.contains(&renamed));
    // Deleted by its org only, once.
    let e2 = EndpointId::parse(id("2")).unwrap();
    assert!(!s.delete_endpoint(&b, &e2).await.unwrap());
    assert_eq!(s.generation().await.unwrap(), g0 + 4);
    assert!(s.delete_endpoint(&a, &e2).await.unwrap());
    assert!(!s.delete_endpoint(&a, &e2).await.unwrap());
    assert_eq!(s.generation().await.unwrap(), g0 + 5);
    assert_eq!(s.endpoint(&a, &e2).await.unwrap(), None);
    assert_eq!(ids(&s.endpoints(&a).await.unwrap()), vec![id("1")]);
    // A deleted endpoint's id is free again.
    assert!(
        s.put_endpoint(&endpoint(&b, &id("2"), "reborn"), false)
            .await
            .unwrap()
    );
    assert_eq!(s.generation().await.unwrap(), g0 + 6);
    assert_eq!(ids(&s.endpoints(&b).await.unwrap()), vec![id("2"), id("3")]);
}

async fn channels_and_windows(s: &dyn AdminStore, t: &str) {
    let (a, b) = (
        OrgId::parse(format!("{t}org_ca")).unwrap(),
        OrgId::parse(format!("{t}org_cb")).unwrap(),
    );
    let ch = |id: &str, name: &str| AlertChannel {
        id: format!("{t}{id}"),
        name: name.into(),
        kind: "webhook".into(),
    };
    s.put_channel(&a, &ch("ch_2", "two"), r#"{"url":"https://a.example/2"}"#)
        .await
        .unwrap();
    s.put_channel(&a, &ch("ch_1", "one"), r#"{"url":"https://a.example/1"}"#)
        .await
        .unwrap();
    // Replaced, not added.
    s.put_channel(
        &a,
        &ch("ch_2", "two again"),
        r#"{"url":"https://a.example/22"}"#,
    )
    .await
    .unwrap();
    assert_eq!(
        s.channels(&a).await.unwrap(),
        vec![ch("ch_1", "one"), ch("ch_2", "two again")]
    );
    assert_eq!(
        s.channel(&a, &format!("{t}ch_2")).await.unwrap(),
        Some((
            ch("ch_2", "two again"),
            r#"{"url":"https://a.example/22"}"#.to_string()
        ))
    );
    assert!(s.channels(&b).await.unwrap().is_empty());
    assert_eq!(s.channel(&b, &format!("{t}ch_1")).await.unwrap(), None);
    assert!(!s.delete_channel(&b, &format!("{t}ch_1")).await.unwrap());
    assert!(s.delete_channel(&a, &format!("{t}ch_1")).await.unwrap());
    assert!(!s.delete_channel(&a, &format!("{t}ch_1")).await.unwrap());
    assert_eq!(s.channels(&a).await.unwrap(), vec![ch("ch_2", "two again")]);

    let w = |id: &str, from| window(&format!("{t}{id}"), from);
    s.put_window(&a, &w("mw_b", NOW + 100)).await.unwrap();
    s.put_window(&a, &w("mw_a", NOW + 200)).await.unwrap();
    s.put_window(&a, &w("mw_c", NOW + 100)).await.unwrap();
    assert_eq!(
        s.windows(&a).await.unwrap(),
        vec![
            w("mw_b", NOW + 100),
            w("mw_c", NOW + 100),
            w("mw_a", NOW + 200)
        ],
        "by start, then id"
    );
    // Replaced: it moves.
    s.put_window(&a, &w("mw_a", NOW + 50)).await.unwrap();
    assert_eq!(s.windows(&a).await.unwrap()[0], w("mw_a", NOW + 50));
    assert_eq!(s.windows(&a).await.unwrap().len(), 3);
    assert!(s.windows(&b).await.unwrap().is_empty());
    assert!(!s.delete_window(&b, &format!("{t}mw_a")).await.unwrap());
    assert!(s.delete_window(&a, &format!("{t}mw_a")).await.unwrap());
    assert!(!s.delete_window(&a, &format!("{t}mw_a")).await.unwrap());
    assert_eq!(s.windows(&a).await.unwrap().len(), 2);
}

async fn status_pages(s: &dyn AdminStore, t: &str) {
    let (a, b) = (
        OrgId::parse(format!("{t}org_pa")).unwrap(),
        OrgId::parse(format!("{t}org_pb")).unwrap(),
    );
    let slug = |x: &str| format!("{t}{x}");
    let p1 = page("sp_1", &slug("zeta"), "Zeta");
    let p2 = page("sp_2", &slug("alpha"), "Alpha");
    s.put_status_page(&a, &p1).await.unwrap();
    s.put_status_page(&a, &p2).await.unwrap();
    assert_eq!(
        s.status_pages(&a).await.unwrap(),
        vec![p2.clone(), p1.clone()],
        "by slug"
    );
    // A slug is one page's, across organizations; nothing is written on a conflict.
    assert_eq!(
        s.put_status_page(&b, &page("sp_1", &slug("zeta"), "Theirs"))
            .await,
        Err(SLUG_TAKEN)
    );
    assert_eq!(
        s.put_status_page(&a, &page("sp_3", &slug("zeta"), "Mine too"))
            .await,
        Err(SLUG_TAKEN)
    );
    assert_eq!(
        s.put_status_page(&a, &page("sp_2", &slug("zeta"), "Moved onto it"))
            .await,
        Err(SLUG_TAKEN)
    );
    assert!(s.status_pages(&b).await.unwrap().is_empty());
    assert_eq!(
        s.status_pages(&a).await.unwrap(),
        vec![p2.clone(), p1.clone()]
    );
    assert_eq!(
        s.status_page_by_slug(&slug("zeta")).await.unwrap(),
        Some((a.clone(), p1.clone()))
    );
    assert_eq!(s.status_page_by_slug(&slug("none")).await.unwrap(), None);
    // The page may keep its own slug.
    let p1b = page("sp_1", &slug("zeta"), "Zeta, renamed");
    s.put_status_page(&a, &p1b).await.unwrap();
    assert_eq!(
        s.status_page_by_slug(&slug("zeta")).await.unwrap(),
        Some((a.clone(), p1b.clone()))
    );
    // A new slug frees the old one.
    let p1c = page("sp_1", &slug("eta"), "Eta");
    s.put_status_page(&a, &p1c).await.unwrap();
    assert_eq!(s.status_page_by_slug(&slug("zeta")).await.unwrap(), None);
    assert_eq!(
        s.status_page_by_slug(&slug("eta")).await.unwrap(),
        Some((a.clone(), p1c.clone()))
    );
    let theirs = page("sp_1", &slug("zeta"), "Theirs");
    s.put_status_page(&b, &theirs).await.unwrap();
    assert_eq!(
        s.status_page_by_slug(&slug("zeta")).await.unwrap(),
        Some((b.clone(), theirs.clone()))
    );
    assert_eq!(s.status_pages(&b).await.unwrap(), vec![theirs.clone()]);
    assert_eq!(
        s.status_pages(&a).await.unwrap(),
        vec![p2.clone(), p1c.clone()]
    );
    // Deleted by its org only, once; its slug is free again.
    assert!(!s.delete_status_page(&b, "sp_2").await.unwrap());
    assert!(s.delete_status_page(&a, "sp_1").await.unwrap());
    assert!(!s.delete_status_page(&a, "sp_1").await.unwrap());
    assert_eq!(s.status_page_by_slug(&slug("eta")).await.unwrap(), None);
    assert_eq!(
        s.status_page_by_slug(&slug("zeta")).await.unwrap(),
        Some((b.clone(), theirs.clone())),
        "org B's page of the same id is untouched"
    );
    assert_eq!(s.status_pages(&a).await.unwrap(), vec![p2.clone()]);
    let again = page("sp_9", &slug("eta"), "Eta again");
    s.put_status_page(&b, &again).await.unwrap();
    assert_eq!(
        s.status_page_by_slug(&slug("eta")).await.unwrap(),
        Some((b.clone(), again))
    );
}

/// Two writers (`a` and `b`, each on its own connection or client) race, `rounds` times,
/// to sign up with one email and to create a status page with one slug: each time
/// exactly one wins and the other gets `Conflict`.
pub async fn races(a: Arc<dyn AdminStore>, b: Arc<dyn AdminStore>, rounds: usize) {
    for round in 0..rounds {
        let email = format!("race{round}@a.example");
        let mut tasks = Vec::new();
        for (side, store) in [("a", a.clone()), ("b", b.clone())] {
            let u = user(&format!("usr_race{round}{side}"), &email);
            let o = org(&format!("org_race{round}{side}"), side);
            tasks.push(tokio::spawn(async move {
                store.create_user_with_org(&u, "hash", &o).await
            }));
        }
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        assert_eq!(
            outcomes.iter().filter(|r| r.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
        assert_eq!(
            outcomes.iter().filter(|r| **r == Err(EMAIL_TAKEN)).count(),
            1,
            "{outcomes:?}"
        );
        // The winner is the user the email names, and the loser left nothing behind.
        let winner = if outcomes[0].is_ok() { "a" } else { "b" };
        let loser = if winner == "a" { "b" } else { "a" };
        let (found, _) = a.user_by_email(&email).await.unwrap().unwrap();
        assert_eq!(found.id, format!("usr_race{round}{winner}"));
        assert!(
            a.memberships(&format!("usr_race{round}{loser}"))
                .await
                .unwrap()
                .is_empty()
        );
    }
    for round in 0..rounds {
        let slug = format!("race-{round}");
        let mut tasks = Vec::new();
        for (side, store) in [("a", a.clone()), ("b", b.clone())] {
            let o = OrgId::parse(format!("org_slug{side}")).unwrap();
            let p = page(&format!("sp_{round}"), &slug, side);
            tasks.push(tokio::spawn(
                async move { store.put_status_page(&o, &p).await },
            ));
        }
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        assert_eq!(
            outcomes.iter().filter(|r| r.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
        assert_eq!(
            outcomes.iter().filter(|r| **r == Err(SLUG_TAKEN)).count(),
            1,
            "{outcomes:?}"
        );
        let winner = if outcomes[0].is_ok() { "a" } else { "b" };
        let (o, p) = b.status_page_by_slug(&slug).await.unwrap().unwrap();
        assert_eq!(
            (o.as_str(), p.title.as_str()),
            (format!("org_slug{winner}").as_str(), winner)
        );
        let loser =
            OrgId::parse(format!("org_slug{}", if winner == "a" { "b" } else { "a" })).unwrap();
        assert!(
            b.status_pages(&loser)
                .await
                .unwrap()
                .iter()
                .all(|p| p.slug != slug)
        );
    }
}
