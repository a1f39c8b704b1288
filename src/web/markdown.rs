//! Readme rendering for skill pages (SPEC §3.23): CommonMark to HTML with raw HTML escaped, link targets
//! limited to `http`, `https`, `mailto` and relative, and relative images served by the file-content endpoint.
//! A readme is package content: nothing in it is trusted.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

/// What a link or image destination is allowed to be.
#[derive(Debug, PartialEq, Eq)]
enum Dest {
    /// `http(s)://…` or `mailto:…`, kept as written.
    Absolute,
    /// No scheme: a path relative to the package (or a fragment / query).
    Relative,
    /// Any other scheme (`javascript:`, `data:`, `file:` …) or something that looks like one.
    Refused,
}

fn classify(url: &str) -> Dest {
    let u = url.trim();
    // Browsers ignore ASCII whitespace and control characters inside a scheme (`java\tscript:`).
    let squeezed: String = u
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_ascii_control())
        .collect();
    let lower = squeezed.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("mailto:")
    {
        return Dest::Absolute;
    }
    if lower.starts_with("//") || lower.starts_with("\\\\") || lower.starts_with("/\\") {
        return Dest::Refused; // protocol-relative: another host
    }
    let scheme_end = lower.find(':');
    let path_start = lower.find(['/', '?', '#']);
    match (scheme_end, path_start) {
        (Some(c), Some(p)) if c < p => Dest::Refused,
        (Some(_), None) => Dest::Refused,
        _ => Dest::Relative,
    }
}

/// Percent-encodes one path segment of a file path for the file-content URL.
fn encode_path(path: &str) -> String {
    path.split('/')
        .map(crate::http::skills::encode_component)
        .collect::<Vec<_>>()
        .join("/")
}

/// The text after a leading `---` YAML frontmatter block (SKILL.md metadata is shown elsewhere on the page).
fn strip_frontmatter(text: &str) -> &str {
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return text;
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        offset += line.len();
        if line.trim_end() == "---" {
            return &rest[offset..];
        }
    }
    text
}

/// Renders `markdown` for skill `name` at `version`.
pub fn render(markdown: &str, name: &str, version: &str) -> String {
    let markdown = strip_frontmatter(markdown);
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    let files_base = format!(
        "/api/v1/skills/{}/{}/files/",
        encode_path(name),
        crate::http::skills::encode_component(version)
    );
    let events = Parser::new_ext(markdown, opts).map(|ev| match ev {
        // Raw HTML is shown as text, never interpreted.
        Event::Html(s) | Event::InlineHtml(s) => Event::Text(s),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let dest_url = match classify(&dest_url) {
                Dest::Absolute | Dest::Relative => dest_url,
                Dest::Refused => CowStr::Borrowed("#"),
            };
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            })
        }
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let dest_url = match classify(&dest_url) {
                Dest::Absolute if !dest_url.trim().to_ascii_lowercase().starts_with("mailto:") => {
                    dest_url
                }
                Dest::Relative if !dest_url.starts_with('#') && !dest_url.starts_with('?') => {
                    let path = dest_url
                        .split(['?', '#'])
                        .next()
                        .unwrap_or("")
                        .trim_start_matches("./")
                        .trim_start_matches('/');
                    if path.is_empty() || path.split('/').any(|s| s == ".." || s == ".") {
                        CowStr::Borrowed("")
                    } else {
                        CowStr::from(format!("{files_base}{}", encode_path(path)))
                    }
                }
                _ => CowStr::Borrowed(""),
            };
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            })
        }
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontmatter_is_dropped() {
        assert_eq!(strip_frontmatter("---\nname: a\n---\n# T\n"), "# T\n");
        assert_eq!(strip_frontmatter("---\nunclosed\n"), "---\nunclosed\n");
        assert_eq!(strip_frontmatter("# T\n---\n"), "# T\n---\n");
    }

    #[test]
    fn raw_html_is_escaped() {
        let h = render(
            "<script>alert(1)</script>\n\nHi <img src=x onerror=alert(1)> there\n",
            "a",
            "1.0.0",
        );
        assert!(!h.contains("<script"), "{h}");
        assert!(!h.contains("<img src=x"), "{h}");
        assert!(h.contains("&lt;script&gt;"), "{h}");
    }

    #[test]
    fn links_are_limited() {
        let h = render(
            "[a](javascript:alert(1)) [b](JaVa\tScript:x) [c](https://ok.example/x) [d](mailto:a@b.example) \
             [e](docs/usage.md) [f](data:text/html,x) [g](//evil.example/x) [h](#top)",
            "a",
            "1.0.0",
        );
        assert!(!h.to_ascii_lowercase().contains("javascript"), "{h}");
        assert!(!h.contains("data:"), "{h}");
        assert!(!h.contains("evil.example"), "{h}");
        assert!(h.contains(r#"href="https://ok.example/x""#));
        assert!(h.contains(r#"href="mailto:a@b.example""#));
        assert!(h.contains(r#"href="docs/usage.md""#));
        assert!(h.contains(r##"href="#top""##));
    }

    #[test]
    fn relative_images_use_the_file_endpoint() {
        let h = render(
            "![logo](./img/logo.png) ![up](../x.png) ![abs](https://cdn.example/a.png) ![js](javascript:x)",
            "@acme/tool",
            "1.0.0+b1",
        );
        assert!(
            h.contains(r#"src="/api/v1/skills/%40acme/tool/1.0.0%2Bb1/files/img/logo.png""#),
            "{h}"
        );
        assert!(h.contains(r#"src="https://cdn.example/a.png""#));
        assert!(!h.contains("../x.png"), "{h}");
        assert!(!h.contains("javascript"), "{h}");
    }
}
