//! OpenAPI schemas (`utoipa::ToSchema`) of the types that cross the admin API, behind the
//! `openapi` feature. Plain structs derive theirs beside their definitions; this file holds
//! the ones written by hand:
//!
//! - validated newtypes (ids, URLs, hosts, limits), which serde reads and writes as a
//!   bare string or number: their schema is that string or number with its limits;
//! - the internally tagged enums [`CheckSpec`], [`Assertion`] and [`Watch`]: each variant's struct
//!   forbids unknown fields, so the usual `allOf` of the struct and the tag would reject
//!   every real value; here the tag is put into each variant's own object instead;
//! - types whose serde form is another type's ([`StatusSet`], [`BodyLimit`],
//!   [`CertExpiry`], [`HeaderAssertion`]).
//!
//! Every schema describes both what is accepted and what is answered: fields with a
//! default are optional, and answers always carry them.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema,
    SchemaFormat, SchemaType, Type,
};
use utoipa::{PartialSchema, ToSchema};

use crate::check_spec::{
    Assertion, BodyLimit, BodyOverLimit, CertExpiry, DnsCheck, DnsName, HeaderAssertion, HttpCheck,
    HttpMethod, HttpUrl, IcmpCheck, JsonPathAssertion, JsonPathExpr, MaxRedirects, Pattern, Port,
    TcpCheck, TimeoutMs, TlsCheck, Watch,
};
use crate::check_spec::{CheckSpec, DomainExpiry, Host};
use crate::{ApdexT, EndpointId, OrgId, Region, RunId, StatusSet};

/// A string of at least `min` characters, with a description. Limits the parser checks
/// after trimming or normalizing are in the description only, so that the schema never
/// calls invalid what the API accepts.
fn string(description: &str, min: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .description(Some(description))
        .min_length(Some(min))
}

/// A string the parser takes exactly as given: length range and pattern.
fn exact_string(description: &str, min: usize, max: usize, pattern: &str) -> ObjectBuilder {
    string(description, min)
        .max_length(Some(max))
        .pattern(Some(pattern))
}

/// An integer in `[min, max]`, with its default if it has one.
fn integer(description: &str, min: i64, max: i64, default: Option<i64>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Integer))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .description(Some(description))
        .minimum(Some(min as f64))
        .maximum(Some(max as f64))
        .default(default.map(Into::into))
}

/// A closed object: `properties` (name, schema, required), nothing else.
fn closed_object(
    title: &str,
    description: &str,
    properties: Vec<(&str, RefOr<Schema>, bool)>,
) -> ObjectBuilder {
    let mut o = ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Object))
        .title(Some(title))
        .description(Some(description))
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
    for (name, schema, required) in properties {
        o = o.property(name, schema);
        if required {
            o = o.required(name);
        }
    }
    o
}

/// A reference to `T`'s named schema.
fn reference<T: ToSchema>() -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(T::name()))
}

/// Adds the required tag property `field: tag` to `schema` (an object, or each object
/// of a `oneOf`), so that a closed object still accepts its tag.
fn tagged(field: &str, tag: &str, title: &str, schema: RefOr<Schema>) -> RefOr<Schema> {
    fn add(field: &str, tag: &str, schema: Schema) -> Schema {
        match schema {
            Schema::Object(mut o) => {
                let tag_schema = ObjectBuilder::new()
                    .schema_type(SchemaType::new(Type::String))
                    .enum_values(Some([tag]))
                    .build();
                o.properties.insert(field.to_string(), tag_schema.into());
                o.required.retain(|r| r != field);
                o.required.insert(0, field.to_string());
                Schema::Object(o)
            }
            Schema::OneOf(mut one) => {
                one.items = one
                    .items
                    .into_iter()
                    .map(|item| match item {
                        RefOr::T(s) => RefOr::T(add(field, tag, s)),
                        r => r,
                    })
                    .collect();
                Schema::OneOf(one)
            }
            other => other,
        }
    }
    match schema {
        RefOr::T(s) => {
            let mut s = add(field, tag, s);
            match &mut s {
                Schema::Object(o) => o.title = Some(title.to_string()),
                Schema::OneOf(o) => o.title = Some(title.to_string()),
                _ => {}
            }
            RefOr::T(s)
        }
        r => r,
    }
}

macro_rules! named {
    ($($ty:ty),* $(,)?) => {
        $(impl ToSchema for $ty {})*
    };
}

named!(
    EndpointId,
    OrgId,
    Region,
    RunId,
    ApdexT,
    TimeoutMs,
    MaxRedirects,
    Port,
    HttpUrl,
    HttpMethod,
    Host,
    DnsName,
    Pattern,
    JsonPathExpr,
    StatusSet,
    CertExpiry,
    DomainExpiry,
);

impl ToSchema for BodyLimit {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((BodyOverLimit::name().into(), BodyOverLimit::schema()));
    }
}

impl ToSchema for HeaderAssertion {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Pattern::name().into(), Pattern::schema()));
    }
}

/// Ids: ASCII letters, digits and `-`, `_`, `.`, `:`.
const ID_PATTERN: &str = "^[A-Za-z0-9._:-]+$";

impl PartialSchema for EndpointId {
    fn schema() -> RefOr<Schema> {
        exact_string("An endpoint's id.", 1, 64, ID_PATTERN).into()
    }
}

impl PartialSchema for OrgId {
    fn schema() -> RefOr<Schema> {
        exact_string("An organization's id.", 1, 64, ID_PATTERN).into()
    }
}

impl PartialSchema for RunId {
    fn schema() -> RefOr<Schema> {
        exact_string("A probe round's id.", 1, 64, ID_PATTERN).into()
    }
}

impl PartialSchema for Region {
    fn schema() -> RefOr<Schema> {
        exact_string(
            "A probe region, such as `eu-west-1`: lower-case letters, digits and `-`.",
            1,
            32,
            "^[a-z0-9-]+$",
        )
        .into()
    }
}

impl PartialSchema for ApdexT {
    fn schema() -> RefOr<Schema> {
        integer("Apdex threshold T in milliseconds.", 1, 60_000, Some(500)).into()
    }
}

impl PartialSchema for TimeoutMs {
    fn schema() -> RefOr<Schema> {
        integer(
            "The check's deadline in milliseconds.",
            1,
            i64::from(TimeoutMs::MAX),
            Some(10_000),
        )
        .into()
    }
}

impl PartialSchema for MaxRedirects {
    fn schema() -> RefOr<Schema> {
        integer("The most redirects followed.", 0, 20, Some(5)).into()
    }
}

impl PartialSchema for Port {
    fn schema() -> RefOr<Schema> {
        integer("A TCP port.", 1, 65_535, None).into()
    }
}

impl PartialSchema for HttpUrl {
    fn schema() -> RefOr<Schema> {
        string(
            "An absolute http or https URL with a host and no credentials (parsed as \
             browsers do, and answered normalized).",
            1,
        )
        .examples(["https://shop.example.com/health"])
        .into()
    }
}

impl PartialSchema for HttpMethod {
    fn schema() -> RefOr<Schema> {
        string(
            "An HTTP method: a token of at most 16 characters, any case (answered \
             upper-cased).",
            1,
        )
        .default(Some("GET".into()))
        .examples(["GET", "HEAD", "POST"])
        .into()
    }
}

impl PartialSchema for Host {
    fn schema() -> RefOr<Schema> {
        string(
            "A DNS name (at most 253 characters) or an IP address (IPv6 optionally in \
             brackets; IPv4 also in the numeric forms browsers accept).",
            1,
        )
        .examples(["shop.example.com", "192.0.2.10"])
        .into()
    }
}

impl PartialSchema for DnsName {
    fn schema() -> RefOr<Schema> {
        string(
            "A DNS name: at most 253 characters of labels (1-63 letters, digits, `-` and \
             `_`) joined by dots; a trailing dot is dropped, and the name lower-cased.",
            1,
        )
        .examples(["example.com"])
        .into()
    }
}

impl PartialSchema for Pattern {
    fn schema() -> RefOr<Schema> {
        string("A regular expression (Rust `regex` syntax).", 0).into()
    }
}

impl PartialSchema for JsonPathExpr {
    fn schema() -> RefOr<Schema> {
        string("A JSON path (RFC 9535), such as `$.status`.", 1)
            .examples(["$.status"])
            .into()
    }
}

impl PartialSchema for StatusSet {
    fn schema() -> RefOr<Schema> {
        let code = || integer("A status code.", 100, 599, None);
        let text = || string("Codes and ranges, such as `200-299` or `200-299,301`.", 1);
        OneOfBuilder::new()
            .description(Some(
                "Accepted status codes: a code, a text of codes and ranges, or a non-empty \
                 list of codes and ranges. Answered as a list of texts (`[\"200-299\"]`).",
            ))
            .item(code())
            .item(text())
            .item(
                ArrayBuilder::new()
                    .min_items(Some(1))
                    .items(OneOfBuilder::new().item(code()).item(text())),
            )
            .into()
    }
}

impl PartialSchema for DomainExpiry {
    fn schema() -> RefOr<Schema> {
        let max = i64::from(DomainExpiry::MAX_DAYS);
        closed_object(
            "DomainExpiry",
            "Opt-in notices of the domain registration's coming expiry (looked up over \
             RDAP about once a day); `critical_days` must not exceed `warn_days`.",
            vec![
                (
                    "warn_days",
                    integer("Days before expiry to notify.", 0, max, Some(30)).into(),
                    false,
                ),
                (
                    "critical_days",
                    integer(
                        "Days before expiry to notify again, marked critical.",
                        0,
                        max,
                        Some(7),
                    )
                    .into(),
                    false,
                ),
            ],
        )
        .into()
    }
}

impl PartialSchema for CertExpiry {
    fn schema() -> RefOr<Schema> {
        closed_object(
            "CertExpiry",
            "When a certificate's coming expiry turns into a warning; `critical_days` must \
             not exceed `warn_days`.",
            vec![
                (
                    "warn_days",
                    integer("Days before expiry to warn.", 0, 65_535, Some(14)).into(),
                    false,
                ),
                (
                    "critical_days",
                    integer(
                        "Days before expiry when the warning is critical.",
                        0,
                        65_535,
                        Some(3),
                    )
                    .into(),
                    false,
                ),
            ],
        )
        .into()
    }
}

impl PartialSchema for BodyLimit {
    fn schema() -> RefOr<Schema> {
        closed_object(
            "BodyLimit",
            "How much of a response body is kept, and what a longer body means.",
            vec![
                (
                    "max_bytes",
                    integer(
                        "Bytes kept.",
                        1,
                        i64::from(BodyLimit::MAX),
                        Some(1024 * 1024),
                    )
                    .into(),
                    false,
                ),
                ("on_exceed", reference::<BodyOverLimit>(), false),
            ],
        )
        .into()
    }
}

impl PartialSchema for HeaderAssertion {
    fn schema() -> RefOr<Schema> {
        let name = || string("The header's name (any case).", 1).into();
        OneOfBuilder::new()
            .description(Some(
                "A response header equals a value or matches a regex (exactly one of \
                 `equals` and `matches`); a missing header fails.",
            ))
            .item(closed_object(
                "HeaderEquals",
                "The header equals a value.",
                vec![("name", name(), true), ("equals", String::schema(), true)],
            ))
            .item(closed_object(
                "HeaderMatches",
                "The header matches a regex.",
                vec![
                    ("name", name(), true),
                    ("matches", reference::<Pattern>(), true),
                ],
            ))
            .into()
    }
}

impl PartialSchema for Assertion {
    fn schema() -> RefOr<Schema> {
        let text = |title: &str, description: &str| {
            tagged(
                "type",
                title,
                title,
                closed_object(title, description, vec![("value", String::schema(), true)]).into(),
            )
        };
        OneOfBuilder::new()
            .description(Some(
                "One assertion on an HTTP response, by `type`; all of a check's assertions \
                 must hold.",
            ))
            .item(text(
                "body_contains",
                "The (kept part of the) body contains this text.",
            ))
            .item(text(
                "body_not_contains",
                "The body does not contain this text.",
            ))
            .item(tagged(
                "type",
                "body_regex",
                "body_regex",
                closed_object(
                    "body_regex",
                    "The body matches this regular expression.",
                    vec![("pattern", reference::<Pattern>(), true)],
                )
                .into(),
            ))
            .item(tagged(
                "type",
                "json_path",
                "json_path",
                JsonPathAssertion::schema(),
            ))
            .item(tagged(
                "type",
                "header",
                "header",
                HeaderAssertion::schema(),
            ))
            .item(tagged(
                "type",
                "max_latency_ms",
                "max_latency_ms",
                closed_object(
                    "max_latency_ms",
                    "The check's total time is at most this many milliseconds.",
                    vec![(
                        "value",
                        integer("The limit, ms.", 0, i64::from(u32::MAX), None).into(),
                        true,
                    )],
                )
                .into(),
            ))
            .into()
    }
}

impl ToSchema for Assertion {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        // JSON path and header variants are inlined (with their tag).
        schemas.push((Pattern::name().into(), Pattern::schema()));
        <JsonPathAssertion as ToSchema>::schemas(schemas);
        <HeaderAssertion as ToSchema>::schemas(schemas);
    }
}

impl PartialSchema for Watch {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .description(Some(
                "What of an HTTP response is watched for changes, by `type`: a change is \
                 notified with a short before / after summary.",
            ))
            .item(tagged(
                "type",
                "body",
                "body",
                closed_object("body", "The (kept part of the) body.", vec![]).into(),
            ))
            .item(tagged(
                "type",
                "json_path",
                "json_path",
                closed_object(
                    "json_path",
                    "The node a JSON path selects (all of them, as an array, when several); \
                     nothing selected is the value `(missing)`.",
                    vec![("path", reference::<JsonPathExpr>(), true)],
                )
                .into(),
            ))
            .item(tagged(
                "type",
                "regex",
                "regex",
                closed_object(
                    "regex",
                    "A regex's first capture group, else its whole match; no match is the \
                     value `(missing)`.",
                    vec![("pattern", reference::<Pattern>(), true)],
                )
                .into(),
            ))
            .into()
    }
}

impl ToSchema for Watch {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Pattern::name().into(), Pattern::schema()));
        schemas.push((JsonPathExpr::name().into(), JsonPathExpr::schema()));
    }
}

/// A heartbeat check's schema (its serde form is a private repr).
fn heartbeat_schema() -> RefOr<Schema> {
    use crate::check_spec::heartbeat::{MAX_GRACE_S, MAX_PERIOD_S, MAX_PAYLOAD_ASSERTIONS};
    closed_object(
        "HeartbeatCheck",
        "A push check: the job calls its ping URL at least every `period_s`; a ping \
         `grace_s` overdue, a `/fail` ping or a payload failing an assertion is a failure.",
        vec![
            (
                "period_s",
                integer("Seconds between pings.", 30, i64::from(MAX_PERIOD_S), None).into(),
                true,
            ),
            (
                "grace_s",
                integer("How late a ping may be, seconds.", 0, i64::from(MAX_GRACE_S), Some(60))
                    .into(),
                false,
            ),
            (
                "payload",
                ArrayBuilder::new()
                    .items(reference::<Assertion>())
                    .max_items(Some(MAX_PAYLOAD_ASSERTIONS))
                    .description(Some(
                        "Assertions on the posted payload: body_contains, body_not_contains, \
                         body_regex, json_path.",
                    ))
                    .into(),
                false,
            ),
        ],
    )
    .into()
}

impl PartialSchema for CheckSpec {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .description(Some(
                "What to check, by `type`: `http`, `tcp`, `tls`, `dns`, `icmp` or `heartbeat` (pushed, not probed). Unknown \
                 kinds and unknown fields are rejected.",
            ))
            .item(tagged("type", "http", "HttpCheck", HttpCheck::schema()))
            .item(tagged("type", "tcp", "TcpCheck", TcpCheck::schema()))
            .item(tagged("type", "tls", "TlsCheck", TlsCheck::schema()))
            .item(tagged("type", "dns", "DnsCheck", DnsCheck::schema()))
            .item(tagged("type", "icmp", "IcmpCheck", IcmpCheck::schema()))
            .item(tagged("type", "heartbeat", "HeartbeatCheck", heartbeat_schema()))
            .into()
    }
}

impl ToSchema for CheckSpec {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CheckSpec")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        // The variants are inlined (with their tag); what they refer to is named.
        <HttpCheck as ToSchema>::schemas(schemas);
        <TcpCheck as ToSchema>::schemas(schemas);
        <TlsCheck as ToSchema>::schemas(schemas);
        <DnsCheck as ToSchema>::schemas(schemas);
        <IcmpCheck as ToSchema>::schemas(schemas);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tags of a tagged `oneOf` schema, each variant checked to require its tag.
    fn tags(schema: RefOr<Schema>) -> Vec<String> {
        let json = serde_json::to_value(schema).expect("schemas serialize");
        let mut tags = Vec::new();
        for variant in json["oneOf"].as_array().expect("a oneOf") {
            // The header assertion is itself a oneOf of closed objects.
            let objects = match variant["oneOf"].as_array() {
                Some(inner) => inner.clone(),
                None => vec![variant.clone()],
            };
            for o in objects {
                assert_eq!(o["required"][0], "type", "{o}");
                assert_eq!(o["additionalProperties"], false, "{o}");
                let tag = o["properties"]["type"]["enum"][0].as_str().expect("a tag");
                if !tags.iter().any(|t| t == tag) {
                    tags.push(tag.to_string());
                }
            }
        }
        tags
    }

    /// Each variant is a closed object that lists and requires its own tag (an `allOf`
    /// of the struct and the tag would reject every real value).
    #[test]
    fn tagged_enums_put_the_tag_in_each_variant() {
        assert_eq!(
            tags(CheckSpec::schema()),
            ["http", "tcp", "tls", "dns", "icmp", "heartbeat"]
        );
        assert_eq!(
            tags(Assertion::schema()),
            [
                "body_contains",
                "body_not_contains",
                "body_regex",
                "json_path",
                "header",
                "max_latency_ms"
            ]
        );
        assert_eq!(tags(Watch::schema()), ["body", "json_path", "regex"]);
    }

    /// What the variants refer to is registered, so that every `$ref` resolves.
    #[test]
    fn referenced_schemas_are_registered() {
        let mut schemas = Vec::new();
        <CheckSpec as ToSchema>::schemas(&mut schemas);
        let names: Vec<&str> = schemas.iter().map(|(n, _)| n.as_str()).collect();
        for name in [
            "HttpUrl",
            "HttpMethod",
            "TimeoutMs",
            "MaxRedirects",
            "CertExpiry",
            "DomainExpiry",
            "StatusSet",
            "Assertion",
            "Pattern",
            "JsonPathExpr",
            "BodyLimit",
            "BodyOverLimit",
            "Host",
            "Port",
            "DnsName",
            "RecordType",
            "DnsMatch",
            "Watch",
        ] {
            assert!(names.contains(&name), "{name} is not registered: {names:?}");
        }
    }
}
