//! Every relative link in README, CHANGELOG and docs/ points at a file that exists (three
//! had gone stale in docs/design.md before this test).

use std::path::{Path, PathBuf};

/// The relative link targets of markdown `text` (`[label](target)`), without their `#anchor`.
fn relative_links(text: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = &rest[..end];
        let external = target.contains("://") || target.starts_with("mailto:");
        if !external && !target.starts_with('#') && !target.contains(char::is_whitespace) {
            let path = target.split('#').next().unwrap_or(target);
            if !path.is_empty() {
                links.push(path.to_string());
            }
        }
        rest = &rest[end..];
    }
    links
}

#[test]
fn every_relative_link_in_readme_and_docs_exists() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut pages: Vec<PathBuf> = ["README.md", "CHANGELOG.md", "python/README.md"]
        .iter()
        .map(|page| root.join(page))
        .collect();
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/") {
        let path = entry.expect("a docs entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).expect("a page");
        let dir = page.parent().unwrap_or(Path::new("."));
        for link in relative_links(&text) {
            if !dir.join(&link).exists() {
                broken.push(format!("{}: {link}", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(pages.len() > 3, "the docs were found");
}

#[test]
fn links_are_found_and_urls_and_anchors_left_alone() {
    let text = "see [a](docs/a.md#x), [b](https://x.org/y), [c](#here), ![d](docs/d.svg)";
    assert_eq!(relative_links(text), ["docs/a.md", "docs/d.svg"]);
}
