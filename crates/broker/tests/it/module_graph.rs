//! The broker's and the client's modules import each other without a circle: the layering of
//! `docs/architecture.md` holds (components below `state`, the service and tasks above it, the
//! remoting adapter on top). A module is a top-level file or folder of `src/`; its own submodules
//! count as part of it. Test code (`#[cfg(test)] mod tests`) may import anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments and without its unit-test module.
fn code(text: &str) -> String {
    let text = text
        .find("#[cfg(test)]\nmod tests")
        .map_or(text, |at| &text[..at]);
    text.lines()
        .map(|l| l.find("//").map_or(l, |at| &l[..at]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules a piece of code names through `crate::`.
fn imports(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a::b, c}`: the first segment of each top-level item.
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        item_start = false;
                        out.insert(ident(&group[i..]).to_owned());
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest).to_owned());
        }
    }
    out
}

fn module_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let module_of = |path: &Path| -> Option<String> {
        let rel = path.strip_prefix(src).ok()?;
        let first = rel.components().next()?.as_os_str().to_str()?;
        let name = first.strip_suffix(".rs").unwrap_or(first);
        (name != "lib" && name != "main").then(|| name.to_owned())
    };
    let mut graph = Graph::new();
    for path in &files {
        graph
            .entry(module_of(path).unwrap_or_default())
            .or_default();
    }
    for path in &files {
        let Some(from) = module_of(path) else {
            continue;
        };
        let text = std::fs::read_to_string(path).expect("read file");
        for to in imports(&code(&text)) {
            if to != from && graph.contains_key(&to) {
                graph.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    graph.remove("");
    graph
}

/// A circle of imports, if there is one, as the modules along it.
fn find_circle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        graph: &Graph,
        node: &str,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(node.to_owned(), Mark::Open);
        path.push(node.to_owned());
        for next in &graph[node] {
            match marks[next] {
                Mark::Open => {
                    let start = path.iter().position(|n| n == next).unwrap_or(0);
                    let mut circle = path[start..].to_vec();
                    circle.push(next.clone());
                    return Some(circle);
                }
                Mark::New => {
                    if let Some(c) = visit(graph, next, marks, path) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks: BTreeMap<String, Mark> = graph.keys().map(|k| (k.clone(), Mark::New)).collect();
    for node in graph.keys() {
        if marks[node] == Mark::New {
            if let Some(c) = visit(graph, node, &mut marks, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

fn assert_layered(crate_dir: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(crate_dir)
        .join("src");
    let graph = module_graph(&src);
    let edges: usize = graph.values().map(BTreeSet::len).sum();
    assert!(
        graph.len() > 10 && edges > 20,
        "{}: the scan found too little ({} modules, {edges} imports)",
        src.display(),
        graph.len()
    );
    if let Some(circle) = find_circle(&graph) {
        panic!(
            "{}: modules import each other in a circle: {}",
            src.display(),
            circle.join(" -> ")
        );
    }
}

#[test]
fn broker_modules_have_no_import_circle() {
    assert_layered(".");
}

#[test]
fn client_modules_have_no_import_circle() {
    assert_layered("../client");
}

#[test]
fn the_scan_sees_a_circle() {
    let text = "use crate::{a::X, b};\nfn f() { crate::c::g(); }\n// crate::z\n\
                #[cfg(test)]\nmod tests { use crate::y; }\n";
    assert_eq!(
        imports(&code(text)),
        ["a", "b", "c"].map(str::to_owned).into_iter().collect()
    );
    let mut graph = Graph::new();
    for (from, to) in [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")] {
        graph.entry(from.into()).or_default().insert(to.into());
        graph.entry(to.into()).or_default();
    }
    let circle = find_circle(&graph).expect("a circle");
    assert_eq!(circle.first(), circle.last());
    assert_eq!(circle.len(), 4);
    graph.get_mut("c").expect("c").remove("a");
    assert_eq!(find_circle(&graph), None);
}
