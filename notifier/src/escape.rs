//! Escaping of user text (endpoint names, targets, server error messages) for each
//! channel's markup, in one place so that every channel escapes the same way and the
//! rules are tested together.
//!
//! User text is always *data*: it is escaped for the format it lands in and never used as
//! a template, so `{{ }}`, `${x}` or `%s` in a name come out as those characters. Every
//! helper here takes plain text and returns text safe to embed in one format:
//!
//! - [`slack_mrkdwn`]: Slack's mrkdwn. `&`, `<`, `>` become entities (Slack's own rule, and
//!   what stops `<!channel>` pings and disguised `<url|text>` links). mrkdwn has no escape
//!   character for `*`, `_`, `~` and `` ` ``, so a zero-width space (U+200B) follows each:
//!   the text reads the same, but no two delimiters enclose a word any more.
//!   [`slack_code`] is for text shown as code (targets, errors), where Slack formats
//!   nothing: entities only, and backticks replaced so the span cannot be closed.
//! - [`markdown`]: Discord's and Teams' Markdown: a backslash before each ASCII
//!   punctuation character that opens emphasis, code, links, quotes, headings or lists
//!   (backslash, backtick, `*`, `_`, `~`, `|`, `<`, `>`, `#`, `-`, `[`, `]`, `(`, `)`).
//!   Discord mentions are also switched off by the message's `allowed_mentions`.
//!   [`code_span`] is for text shown as code on Discord (targets, errors).
//! - [`adaptive_card`]: Teams' Adaptive Card text: [`markdown`], plus `{{` and `${` broken
//!   with a zero-width space, because TextBlocks expand `{{DATE(..)}}` functions and the
//!   templating language expands `${..}`.
//! - [`html`]: HTML text and attribute values (email, Matrix `formatted_body`, Telegram's
//!   `parse_mode: HTML`): `&`, `<`, `>`, `"`, `'` become entities.
//!
//! [`one_line`] and [`truncate`] shape plain text *before* it is escaped, so that a cut
//! never lands inside an entity or after a lone backslash.

/// Zero-width space: invisible, breaks Slack's and Teams' delimiter matching.
const ZWSP: char = '\u{200B}';

/// Escapes plain text for Slack mrkdwn.
pub fn slack_mrkdwn(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '*' | '_' | '~' | '`' => {
                out.push(c);
                out.push(ZWSP);
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes plain text for the inside of a Slack code span or block (targets, errors):
/// formatting is off there, so only `&`, `<`, `>` become entities, and a backtick (which
/// would close the span) becomes the look-alike U+02CB.
pub fn slack_code(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('\u{02CB}'),
            c => out.push(c),
        }
    }
    out
}

/// Escapes plain text for the inside of a Markdown code span or block (Discord targets
/// and errors): Markdown is off there, so only backticks, which would close the span,
/// are replaced (by the look-alike U+02CB).
pub fn code_span(s: &str) -> String {
    s.replace('`', "\u{02CB}")
}

/// Escapes plain text for Markdown (Discord, Teams): a backslash before each character
/// Markdown could read as syntax.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '>' | '<' | '#' | '-' | '[' | ']' | '(' | ')'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escapes plain text for an Adaptive Card TextBlock or Fact (Teams).
pub fn adaptive_card(s: &str) -> String {
    let md = markdown(s);
    let mut out = String::with_capacity(md.len() + 4);
    let mut prev: Option<char> = None;
    for c in md.chars() {
        if c == '{' && matches!(prev, Some('{') | Some('$')) {
            out.push(ZWSP);
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

/// Escapes plain text for HTML element content and attribute values.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One line of plain text: line breaks and tabs become spaces, other control characters
/// are dropped (headers, subjects, titles).
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\n' || c == '\r' || c == '\t' {
            out.push(' ');
        } else if !c.is_control() {
            out.push(c);
        }
    }
    out
}

/// Plain text with control characters other than line breaks and tabs dropped (bodies).
pub fn text_block(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// At most `max` characters, ending in `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `escape(s)` cut to at most `max` characters: when too long, the longest prefix of the
/// *plain* text whose escaped form fits with a trailing `…` (so no entity or escape
/// sequence is ever cut in half).
pub fn fit(s: &str, escape: impl Fn(&str) -> String, max: usize) -> String {
    let full = escape(s);
    if full.chars().count() <= max {
        return full;
    }
    let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
    // Largest k such that escape(first k chars) + "…" fits.
    let (mut lo, mut hi) = (0usize, bounds.len().saturating_sub(1));
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if escape(&s[..bounds[mid]]).chars().count() < max {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let cut = bounds.get(lo).copied().unwrap_or(s.len());
    let mut out = escape(&s[..cut]);
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NASTY: &str = "<script>alert(1)</script> *bold* _it_ & {{ x }} ${x} `c` [l](u) @everyone";

    #[test]
    fn slack_escapes_control_characters_and_breaks_delimiters() {
        let e = slack_mrkdwn(NASTY);
        assert!(e.starts_with("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!e.contains('<') && !e.contains('>'));
        assert!(e.contains("&amp;"));
        assert!(!e.contains("*bold*"), "{e}");
        assert!(e.contains("*\u{200B}bold*\u{200B}"));
        // Entities are not double-escaped into something else, and nothing was dropped.
        assert_eq!(
            e.replace('\u{200B}', "")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&"),
            NASTY
        );
    }

    #[test]
    fn code_spans_cannot_be_closed() {
        assert_eq!(code_span("a`*b*`"), "a\u{02CB}*b*\u{02CB}");
    }

    #[test]
    fn slack_code_cannot_close_its_span() {
        assert_eq!(slack_code("a`b<c>&_*"), "a\u{02CB}b&lt;c&gt;&amp;_*");
    }

    #[test]
    fn markdown_backslashes_syntax() {
        assert_eq!(markdown("*bold*"), "\\*bold\\*");
        assert_eq!(markdown("a_b"), "a\\_b");
        assert_eq!(markdown("[x](http://e)"), "\\[x\\]\\(http://e\\)");
        assert_eq!(markdown("\\*"), "\\\\\\*");
        assert_eq!(markdown("plain words 42"), "plain words 42");
        // Unescaping gives the text back.
        let e = markdown(NASTY);
        let mut back = String::new();
        let mut esc = false;
        for c in e.chars() {
            if c == '\\' && !esc {
                esc = true;
                continue;
            }
            esc = false;
            back.push(c);
        }
        assert_eq!(back, NASTY);
    }

    #[test]
    fn adaptive_card_breaks_template_expressions() {
        let e = adaptive_card("{{DATE(2017-02-14T06:08:39Z, SHORT)}} ${name} {single}");
        assert!(!e.contains("{{"), "{e}");
        assert!(!e.contains("${"), "{e}");
        assert!(e.contains("{\u{200B}{DATE"));
        assert!(e.contains("$\u{200B}{name}"));
        assert!(e.contains("{single}"));
        assert!(adaptive_card("**x**").starts_with("\\*\\*x"));
    }

    #[test]
    fn html_escapes_all_five() {
        assert_eq!(
            html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(html("{{ x }} ${x}"), "{{ x }} ${x}");
    }

    #[test]
    fn one_line_and_truncate() {
        assert_eq!(one_line("a\r\nb\tc\u{7}d"), "a  b cd");
        assert_eq!(text_block("a\nb\u{0}c"), "a\nbc");
        assert_eq!(truncate("héllo", 10), "héllo");
        assert_eq!(truncate("héllo wörld", 5), "héll…");
        assert_eq!(truncate("héllo wörld", 5).chars().count(), 5);
    }

    #[test]
    fn fit_never_cuts_an_escape() {
        assert_eq!(fit("a&b", html, 10), "a&amp;b");
        // "a&amp;" would be 6 + 1: too long for 6, so the cut falls before '&'.
        assert_eq!(fit("a&b&c", html, 6), "a…");
        assert_eq!(fit("a&b&c", html, 7), "a&amp;…");
        let long = "<".repeat(500);
        let f = fit(&long, slack_mrkdwn, 100);
        assert!(f.chars().count() <= 100);
        assert!(f.ends_with("&lt;…"));
        let f = fit(&"*".repeat(50), markdown, 11);
        assert_eq!(f, "\\*\\*\\*\\*\\*…");
        assert_eq!(fit("", html, 0), "");
    }

    proptest::proptest! {
        #[test]
        fn escaped_text_never_carries_markup(s in "\\PC{0,80}") {
            let h = html(&s);
            proptest::prop_assert!(!h.contains('<') && !h.contains('>') && !h.contains('"'));
            let sl = slack_mrkdwn(&s);
            proptest::prop_assert!(!sl.contains('<') && !sl.contains('>'));
            let sc = slack_code(&s);
            proptest::prop_assert!(!sc.contains('`') && !sc.contains('<'));
            let ac = adaptive_card(&s);
            let templated = ac.contains("{{") || ac.contains("${");
            proptest::prop_assert!(!templated, "template syntax left in {:?}", ac);
        }

        #[test]
        fn fit_stays_within_bounds_and_is_a_prefix(s in "[a-z<>&*_{}$ ]{0,120}", max in 1usize..60) {
            for esc in [html, slack_mrkdwn, markdown, adaptive_card] {
                let full = esc(&s);
                let f = fit(&s, esc, max);
                if full.chars().count() <= max {
                    proptest::prop_assert_eq!(&f, &full);
                } else {
                    proptest::prop_assert!(f.chars().count() <= max, "{} > {}", f, max);
                    let body = f.strip_suffix('…').unwrap_or(&f);
                    proptest::prop_assert!(full.starts_with(body));
                }
            }
        }
    }
}
