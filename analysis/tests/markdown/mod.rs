//! The little of Markdown that the documentation tests read: fenced blocks, inline code, link
//! targets and heading anchors. Shared by `readme_numbers.rs`, `report_index.rs` and
//! `doc_links.rs`.
#![allow(dead_code)]

use std::path::PathBuf;

pub fn repository_root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the analysis crate sits in the workspace")
        .to_path_buf()
}

/// The lines outside fenced code blocks (``` or ~~~), numbered from 1; the fences themselves
/// are left out too.
pub fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut in_fence = false;
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_fence = !in_fence;
        } else if !in_fence {
            lines.push((i + 1, line));
        }
    }
    lines
}

/// The contents of a line's inline code spans (`…`).
pub fn code_spans(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

/// The line with its inline code spans removed.
pub fn without_code_spans(line: &str) -> String {
    line.split('`').step_by(2).collect::<Vec<_>>().join(" ")
}

/// The targets of a line's links and images, `[text](target)`, outside inline code.
pub fn link_targets(line: &str) -> Vec<String> {
    let prose = without_code_spans(line);
    let mut targets = Vec::new();
    let mut rest = prose.as_str();
    while let Some(start) = rest.find("](") {
        let after = &rest[start + 2..];
        let Some(end) = after.find(')') else { break };
        targets.push(after[..end].to_string());
        rest = &after[end..];
    }
    targets
}

/// The line with every link target, `](…)`, replaced by `]`: the link text stays.
pub fn without_link_targets(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("](") {
        out.push_str(&rest[..=start]);
        let after = &rest[start + 2..];
        match after.find(')') {
            Some(end) => rest = &after[end + 1..],
            None => {
                rest = after;
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The anchor GitHub gives a heading: lower case, punctuation dropped (letters of any script,
/// digits, `-` and `_` kept), spaces turned into hyphens.
pub fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of every heading in a Markdown file.
pub fn anchors(text: &str) -> Vec<String> {
    prose_lines(text)
        .into_iter()
        .filter_map(|(_, line)| {
            let level = line.chars().take_while(|&c| c == '#').count();
            (level > 0 && line[level..].starts_with(' ')).then(|| anchor(&line[level..]))
        })
        .collect()
}
