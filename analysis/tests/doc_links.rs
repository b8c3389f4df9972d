//! The hand-written documentation's relative links resolve: every file or directory a link
//! names exists, and every `#anchor` into a Markdown file is one of its headings. Web links
//! are not followed.

mod markdown;

use markdown::{anchor, anchors, code_spans, link_targets, prose_lines, repository_root, without_code_spans};
use std::fs;
use std::path::{Path, PathBuf};

/// The documentation written by hand (the reports under `reports/*/` are generated, and
/// `committed_reports.rs` checks them).
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        ["README.md", "reports/README.md", "analysis/README.md", "benches/README.md", "peers/pytorch/README.md"]
            .iter()
            .map(|f| root.join(f))
            .collect();
    let mut docs: Vec<PathBuf> = fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The links of one Markdown file that do not resolve, as messages naming file and line.
fn broken_links(file: &Path, text: &str, root: &Path) -> Vec<String> {
    let name = file.strip_prefix(root).unwrap_or(file).display().to_string();
    let mut broken = Vec::new();
    for (line, content) in prose_lines(text) {
        for target in link_targets(content) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = target.split_once('#').map_or((target.as_str(), None), |(p, f)| (p, Some(f)));
            let resolved = if path.is_empty() { file.to_path_buf() } else { file.parent().unwrap().join(path) };
            if !resolved.exists() {
                broken.push(format!("{name}:{line}: {target} does not exist"));
                continue;
            }
            let Some(fragment) = fragment else { continue };
            if resolved.extension().is_some_and(|e| e == "md") {
                let headings = anchors(&fs::read_to_string(&resolved).unwrap());
                if !headings.iter().any(|a| *a == fragment) {
                    broken.push(format!("{name}:{line}: {target}: no heading with the anchor #{fragment}"));
                }
            }
        }
    }
    broken
}

#[test]
fn every_relative_link_of_the_documentation_resolves() {
    let root = repository_root();
    let mut broken = Vec::new();
    for file in documents(&root) {
        let text = fs::read_to_string(&file).unwrap_or_else(|_| panic!("{} is missing", file.display()));
        broken.extend(broken_links(&file, &text, &root));
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// The check itself, on made-up files: it must be able to fail.
#[test]
fn a_missing_file_or_heading_fails() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("docs")).unwrap();
    fs::write(dir.path().join("docs/a.md"), "# A\n\n## The branch scale α matters\n").unwrap();
    let readme = dir.path().join("README.md");
    let text = "[ok](docs/a.md#the-branch-scale-α-matters) [dir](docs/) [web](https://example.org/x)\n\
                [gone](docs/b.md) [no heading](docs/a.md#results)\n```\n[code](nowhere.md)\n```\n";
    let broken = broken_links(&readme, text, dir.path());
    assert_eq!(
        broken,
        [
            "README.md:2: docs/b.md does not exist",
            "README.md:2: docs/a.md#results: no heading with the anchor #results"
        ]
    );
}

#[test]
fn markdown_pieces() {
    assert_eq!(prose_lines("a\n```sh\nb\n```\nc"), [(1, "a"), (5, "c")]);
    assert_eq!(code_spans("x `a` y `b c`"), ["a", "b c"]);
    assert_eq!(without_code_spans("x `16` y"), "x   y");
    assert_eq!(link_targets("see [a](docs/a.md#x) and ![b](b.svg), not `[c](c)`"), ["docs/a.md#x", "b.svg"]);
    assert_eq!(markdown::without_link_targets("see [a](x/16.md) now"), "see [a] now");
    assert_eq!(anchor(" The branch scale α matters"), "the-branch-scale-α-matters");
    assert_eq!(anchor("Mechanisms: why plain nets degrade"), "mechanisms-why-plain-nets-degrade");
    assert_eq!(anchors("# T\n## Against PyTorch\n```\n# not\n```\n#nospace"), ["t", "against-pytorch"]);
}
