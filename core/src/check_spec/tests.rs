use super::*;
use crate::ProbeEndpoint;
use crate::parse::from_json;

#[test]
fn a_full_http_spec_parses() {
    let spec: CheckSpec = from_json(
        br#"{"type":"http","url":"https://example.com/health","method":"post",
             "headers":{"X-Token":"abc"},"body":"{}","timeout_ms":5000,
             "expect_status":["200-204",301],
             "assertions":[
               {"type":"body_contains","value":"ok"},
               {"type":"body_regex","pattern":"v\\d+"},
               {"type":"json_path","path":"$.status","equals":"green"},
               {"type":"json_path","path":"$.queue","lt":100},
               {"type":"header","name":"Content-Type","matches":"^application/json"},
               {"type":"max_latency_ms","value":800}],
             "body_limit":{"max_bytes":1000,"on_exceed":"fail"}}"#,
    )
    .unwrap();
    let CheckSpec::Http(http) = &spec else {
        panic!("not http")
    };
    assert_eq!(http.method.as_str(), "POST");
    assert_eq!(http.timeout_ms.as_millis(), 5000);
    assert!(http.expect_status.contains(301) && !http.expect_status.contains(205));
    assert_eq!(http.assertions.len(), 6);
    assert_eq!(http.body_limit.on_exceed(), BodyOverLimit::Fail);
    let back: CheckSpec = from_json(&serde_json::to_vec(&spec).unwrap()).unwrap();
    assert_eq!(back, spec);
}

fn field_error(json: &str) -> crate::parse::FieldError {
    from_json::<ProbeEndpoint>(json.as_bytes()).unwrap_err()
}

#[test]
fn bad_values_name_their_field() {
    let e = field_error(r#"{"id":"a","check":{"type":"http","url":"ftp://x"}}"#);
    assert_eq!(e.path, "check.url");
    assert!(e.message.contains("http or https"), "{e}");

    let e = field_error(r#"{"id":"a","check":{"type":"gopher","url":"http://x"}}"#);
    assert_eq!(e.path, "check");
    assert!(e.message.contains("unknown variant `gopher`"), "{e}");

    let e = field_error(r#"{"id":"a","check":{"type":"http","url":"http://x","timeout_ms":0}}"#);
    assert_eq!(e.path, "check.timeout_ms");
    assert!(e.message.contains("greater than 0"), "{e}");

    let e =
        field_error(r#"{"id":"a","check":{"type":"http","url":"http://x","expect_status":[]}}"#);
    assert_eq!(e.path, "check.expect_status");
    assert!(e.message.contains("must not be empty"), "{e}");

    let e = field_error(
        r#"{"id":"a","check":{"type":"http","url":"http://x","assertions":[{"type":"body_regex","pattern":"("}]}}"#,
    );
    assert_eq!(e.path, "check.assertions[0]");
    assert!(e.message.contains("invalid regex"), "{e}");

    let e = field_error(r#"{"id":"a","check":{"type":"http","url":"http://x","retries":3}}"#);
    assert!(e.message.contains("unknown field `retries`"), "{e}");

    let e = field_error(r#"{"id":"a","check":{"type":"tcp","host":"db.example.com","port":0}}"#);
    assert_eq!(e.path, "check.port");

    let e = field_error(r#"{"id":"a","check":{"type":"dns","name":"bad name"}}"#);
    assert_eq!(e.path, "check.name");

    let e = field_error(r#"{"id":"a","check":{"type":"http","url":"http://u:p@x"}}"#);
    assert!(e.message.contains("credentials"), "{e}");
}

#[test]
fn numeric_ipv4_forms_are_normalised() {
    for (written, ip) in [
        ("http://2130706433/", "127.0.0.1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://0x7f000001/", "127.0.0.1"),
    ] {
        let url = HttpUrl::parse(written).unwrap();
        assert_eq!(url.url().host_str(), Some(ip), "{written}");
    }
    assert_eq!(
        Host::parse("0x7f.0.0.1").unwrap(),
        Host::Ip("127.0.0.1".parse().unwrap())
    );
    assert_eq!(
        Host::parse("[::1]").unwrap(),
        Host::Ip("::1".parse().unwrap())
    );
    assert_eq!(
        Host::parse("Example.COM.").unwrap(),
        Host::Name("example.com".into())
    );
}

#[test]
fn other_kinds_parse_with_defaults() {
    let tls: CheckSpec = from_json(br#"{"type":"tls","host":"example.com"}"#).unwrap();
    let CheckSpec::Tls(tls) = tls else { panic!() };
    assert_eq!(tls.port.get(), 443);
    assert_eq!(tls.cert_expiry.warn_days(), 14);
    let dns: CheckSpec =
        from_json(br#"{"type":"dns","name":"example.com","record_type":"MX","expected":["10 mx.example.com"],"match":"exact"}"#)
            .unwrap();
    let CheckSpec::Dns(dns) = dns else { panic!() };
    assert_eq!(dns.record_type, RecordType::Mx);
    assert_eq!(dns.match_mode, DnsMatch::Exact);
    assert!(
        from_json::<CheckSpec>(
            br#"{"type":"tls","host":"x","cert_expiry":{"warn_days":1,"critical_days":5}}"#
        )
        .is_err()
    );
}
